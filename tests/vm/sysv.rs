//! A host without systemd (Debian 12 with sysvinit-core, no journal), with a real reboot:
//! `port free` stops and disables nginx through its init script and it stays off after the
//! reboot; `swap ensure` persists through fstab; `reboot` goes through the host's own
//! `shutdown` and the first run of the next boot confirms it; `doctor` names the init and
//! says there is no journal.

use std::time::Duration;

use serde_json::Value;

use crate::guest::BootOpts;
use crate::results::{End, Results};
use crate::{Flavour, assert_report, findings, fstab_lines_for, scenario_on, swaps};

/// The step of a report whose action starts with `prefix`.
fn step<'a>(doc: &'a Value, prefix: &str) -> Option<&'a Value> {
    doc["steps"]
        .as_array()?
        .iter()
        .find(|s| s["action"].as_str().is_some_and(|a| a.starts_with(prefix)))
}

fn holds_80(listeners: &str) -> bool {
    listeners.lines().any(|l| {
        l.split_whitespace()
            .next()
            .is_some_and(|a| a.ends_with(":80"))
    })
}

/// Start (`S`) and stop (`K`) links of nginx in runlevels 2-5.
fn links_2_to_5(block: &str, kind: char) -> usize {
    block
        .lines()
        .filter(|l| {
            ["/etc/rc2.d/", "/etc/rc3.d/", "/etc/rc4.d/", "/etc/rc5.d/"]
                .iter()
                .any(|d| l.starts_with(d))
        })
        .filter(|l| l.rsplit('/').next().is_some_and(|n| n.starts_with(kind)))
        .count()
}

fn assert_doctor_names_sysvinit(r: &Results, name: &str) {
    let doc = assert_report(r, name, 0, false);
    let host: Vec<Value> = findings(&doc)
        .into_iter()
        .filter(|f| f["area"] == "host")
        .collect();
    assert_eq!(host.len(), 1, "{name}: {host:#?}");
    assert_eq!(
        host[0]["title"], "init: sysvinit (not systemd), no journal",
        "{name}"
    );
    assert_eq!(doc["facts"]["init"]["system"], "sysvinit", "{name}");
    assert_eq!(doc["facts"]["init"]["journal"], false, "{name}");
    let unseen: Vec<&str> = doc["unseen"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        unseen
            .iter()
            .any(|u| u.starts_with("the journal: no journal on this host")),
        "{name}: {unseen:?}"
    );
}

#[test]
fn sysvinit_host_port_swap_reboot_and_doctor() {
    let Some((mut g, _slot, _t)) = scenario_on(
        Flavour::BookwormSysv,
        "sysvinit_host_port_swap_reboot_and_doctor",
        "sysv",
    ) else {
        return;
    };
    let run = g.boot(BootOpts::with_reboots(Duration::from_secs(600)));
    let r = &run.results;
    assert_eq!(
        r.boots.len(),
        2,
        "boots: {:?}\n{}",
        r.boots,
        r.failure_text()
    );
    // Boot 1 ended in hostfix's reboot, not the runner's: the shutdown stopped the
    // runner, or the runner saw it under way.
    assert!(
        matches!(r.boots[0].end, None | Some(End::ShutdownInProgress)),
        "boot 1: {:?}",
        r.boots[0]
    );
    assert_eq!(
        (r.boots[1].scenario_rc, r.boots[1].end),
        (Some(0), Some(End::Poweroff))
    );
    assert_ne!(r.boots[0].id, r.boots[1].id, "the boot id did not change");
    assert_eq!(run.kernel_restarts(), 1);

    // The guest: sysvinit as PID 1, no journal, nginx from its init script on :80.
    assert_eq!(r.value("pid1"), "init");
    assert_eq!(r.value("init"), "sysv");
    assert_eq!(r.value("journal-dirs"), "");
    assert_eq!(r.value("nginx-1"), "active");
    assert!(
        holds_80(r.block("listeners-1")),
        "{}",
        r.block("listeners-1")
    );
    assert_eq!(
        links_2_to_5(r.block("rc-links-1"), 'S'),
        4,
        "{}",
        r.block("rc-links-1")
    );

    // port who names the init script, what ties nginx to it, and what port free would run.
    let who = assert_report(r, "port-who", 0, false);
    let svc = &who["services"][0];
    assert_eq!(svc["name"], "nginx", "{who:#}");
    assert_eq!(svc["init"], "sysvinit", "{who:#}");
    assert_eq!(
        svc["commands"],
        serde_json::json!(["update-rc.d nginx disable", "service nginx stop"]),
        "{who:#}"
    );
    let text = r.block("port-who-text");
    assert!(
        text.contains(
            "service nginx (sysvinit: /etc/init.d/nginx, starts at boot in runlevels 2 3 4 5)"
        ),
        "{text}"
    );

    // The dry run shows the commands and changes nothing.
    let dry = r.json("port-free-dry");
    assert_eq!(dry["dry_run"], true);
    let planned = step(&dry, "stop and disable").unwrap_or_else(|| panic!("{dry:#}"));
    assert_eq!(planned["status"], "planned");
    assert_eq!(
        planned["action"],
        "stop and disable /etc/init.d/nginx (update-rc.d nginx disable; service nginx stop)"
    );
    assert!(holds_80(r.block("listeners-dry")));

    // port free: disabled, then stopped through the init script; verified by binding.
    let doc = assert_report(r, "port-free", 0, true);
    let done = step(&doc, "stop and disable").unwrap_or_else(|| panic!("{doc:#}"));
    assert_eq!(
        (done["status"].as_str(), done["risk"].as_str()),
        (Some("done"), Some("disruptive"))
    );
    assert!(
        done["detail"]
            .as_str()
            .unwrap_or_default()
            .ends_with("port free"),
        "{done:#}"
    );
    assert!(
        step(&doc, "SIGTERM").is_none_or(|s| s["status"] != "done"),
        "{doc:#}"
    );
    assert_eq!(doc["free"], true);
    let svc = &doc["services"][0];
    assert_eq!(svc["name"], "nginx");
    assert_eq!(svc["init"], "sysvinit");
    assert_eq!(svc["enabled_in"], serde_json::json!(["2", "3", "4", "5"]));
    assert!(
        !holds_80(r.block("listeners-2")),
        "{}",
        r.block("listeners-2")
    );
    assert_eq!(r.value("nginx-2"), "inactive");
    assert_eq!(
        links_2_to_5(r.block("rc-links-2"), 'S'),
        0,
        "{}",
        r.block("rc-links-2")
    );
    assert_eq!(
        links_2_to_5(r.block("rc-links-2"), 'K'),
        4,
        "{}",
        r.block("rc-links-2")
    );
    let record: Value = serde_json::from_str(r.block("disabled-record")).unwrap();
    assert_eq!(record["services"][0]["name"], "nginx");
    assert_eq!(
        record["services"][0]["command"][0],
        "update-rc.d nginx disable"
    );
    assert_report(r, "port-free-again", 0, false);

    // swap ensure: active, one fstab line.
    assert_report(r, "swap-ensure", 0, true);
    assert!(swaps(r.block("swaps-1")).iter().any(|s| s.0 == "/swapfile"));
    let fstab1 = r.block("fstab-1");
    assert_eq!(fstab_lines_for(fstab1, "/swapfile").len(), 1, "{fstab1}");

    // doctor names the init and says there is no journal, in JSON and text.
    assert_doctor_names_sysvinit(r, "doctor-1");
    assert!(
        r.block("doctor-text")
            .contains("[info] init: sysvinit (not systemd), no journal")
    );

    // The reboot: through shutdown (its report, when written before the shutdown ended
    // the script, says so; the next boot's ledger says so in any case).
    if let Some(text) = r.get_block("reboot").filter(|t| !t.is_empty()) {
        let doc: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(doc["requested"], true, "{doc:#}");
        assert_eq!(doc["method"], "sync, shutdown -r now", "{doc:#}");
        let init = step(&doc, "detect the init system").unwrap();
        assert!(
            init["detail"]
                .as_str()
                .unwrap_or_default()
                .starts_with("sysvinit"),
            "{init}"
        );
    }

    // Boot 2, before hostfix ran: the port still free, nginx still off at boot, the swap
    // file active from fstab.
    assert!(
        !holds_80(r.block("listeners-3")),
        "{}",
        r.block("listeners-3")
    );
    assert_eq!(r.value("nginx-3"), "inactive");
    assert_eq!(r.block("rc-links-3"), r.block("rc-links-2"));
    let after = swaps(r.block("swaps-2"));
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].0, "/swapfile");
    assert_eq!(r.value("hostfix-on-root-disk"), "");

    // The guard confirms the reboot in the first run of the new boot.
    let confirm = assert_report(r, "reboot-confirm", 0, false);
    assert_eq!(confirm["confirmed"], serde_json::json!([1]), "{confirm:#}");
    let first = &confirm["history"][0];
    assert_eq!(first["status"], "completed", "{confirm:#}");
    assert_eq!(first["method"], "sync, shutdown -r now", "{confirm:#}");

    // And nothing changes on a second look.
    assert_report(r, "port-free-boot2", 0, false);
    assert_report(r, "swap-ensure-again", 0, false);
    assert_eq!(r.block("fstab-2"), fstab1);
    assert_doctor_names_sysvinit(r, "doctor-2");
}
