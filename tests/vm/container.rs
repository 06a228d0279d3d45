//! Scenario: `hostfix container rm`, the escalation ladder, against the incident's zombie
//! container made for real in a guest (`scenarios/container_ladder.sh`), and `doctor`'s
//! chain from a container that cannot start to the distro nginx holding its port.
//!
//! One guest, one reboot, every case:
//! - a container whose PID 1 ignores SIGTERM: removed at the `stop` rung;
//! - a container whose containerd shim is stopped (SIGSTOP), so the engine never gets the
//!   exit event: refused at the default cap naming `kill-shim` (destructive), then removed
//!   at `kill-shim` with the cap raised;
//! - a container created but not started because nginx holds :80: doctor names it and the
//!   holder (pid, unit, package) in one finding;
//! - a container whose process is in `D` on a frozen ext4: `docker rm -f` fails with the
//!   incident's message; every signal rung and the engine restart are skipped as futile;
//!   below `reboot` the ladder stops naming the reboot rung; at `reboot` the guest reboots
//!   once through the guard, and after the boot the same command removes it at the first
//!   rung and reports the confirmed reboot.

use std::time::Duration;

use serde_json::Value;

use crate::guest::BootOpts;
use crate::results::{End, Results};
use crate::{finding_text, findings, fix_command, scenario};

/// A hostfix report: its exit code (as the shell saw it and as the report says), its
/// outcome, and its JSON; with the trail in every failure message.
#[track_caller]
fn report(r: &Results, name: &str, exit: i32) -> Value {
    let doc = r.json(name);
    let ctx = context(r, name, &doc);
    assert_eq!(r.exit(name), exit, "exit code of {ctx}");
    assert_eq!(doc["exit_code"], exit, "exit_code in {ctx}");
    let outcome = match exit {
        0 => "ok",
        1 => "failed",
        2 => "bad-input",
        _ => "refused",
    };
    assert_eq!(doc["outcome"], outcome, "outcome in {ctx}");
    assert_eq!(doc["dry_run"], false, "{ctx}");
    doc
}

fn context(r: &Results, name: &str, doc: &Value) -> String {
    format!(
        "{name} (took {} s): {}\n--- trail ---\n{}",
        r.get(&format!("{name}.seconds")).unwrap_or("?"),
        serde_json::to_string_pretty(doc).unwrap_or_default(),
        r.stderr(name)
    )
}

/// The steps of a report: (action, risk, status, detail).
pub(crate) fn steps(doc: &Value) -> Vec<(String, String, String, String)> {
    doc["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let f = |k: &str| s[k].as_str().unwrap_or_default().to_string();
            (f("action"), f("risk"), f("status"), f("detail"))
        })
        .collect()
}

/// The status of the first step whose action starts with `prefix`.
pub(crate) fn step_status(doc: &Value, prefix: &str) -> Option<String> {
    steps(doc)
        .into_iter()
        .find(|s| s.0.starts_with(prefix))
        .map(|s| s.2)
}

/// Asserts a run that the cap stopped: exit 3, nothing removed, the next rung named.
#[track_caller]
fn assert_stopped_at(r: &Results, name: &str, next: &str, risk: &str) -> Value {
    let doc = report(r, name, 3);
    let ctx = context(r, name, &doc);
    assert_eq!(doc["gone"], false, "{ctx}");
    assert!(doc["removed_by"].is_null(), "{ctx}");
    assert_eq!(doc["next"]["rung"], next, "next rung in {ctx}");
    assert_eq!(doc["next"]["risk"], risk, "next risk in {ctx}");
    // The refused step is the last one, at that risk.
    let last = steps(&doc).pop().unwrap_or_default();
    assert_eq!(
        (last.1.as_str(), last.2.as_str()),
        (risk, "refused"),
        "{ctx}"
    );
    doc
}

/// Asserts a container removed by `rung` in this run.
#[track_caller]
fn assert_removed_by(r: &Results, name: &str, rung: &str) -> Value {
    let doc = report(r, name, 0);
    let ctx = context(r, name, &doc);
    assert_eq!(doc["changed"], true, "{ctx}");
    assert_eq!(doc["gone"], true, "{ctx}");
    assert_eq!(doc["already_gone"], false, "{ctx}");
    assert_eq!(doc["removed_by"], rung, "{ctx}");
    doc
}

/// Asserts a second run on a removed container: nothing to do.
#[track_caller]
fn assert_already_gone(r: &Results, name: &str) {
    let doc = report(r, name, 0);
    let ctx = context(r, name, &doc);
    assert_eq!(doc["changed"], false, "{ctx}");
    assert_eq!(doc["already_gone"], true, "{ctx}");
    assert!(
        steps(&doc)
            .iter()
            .all(|s| s.1 == "read-only" || s.2 != "done"),
        "a change was made: {ctx}"
    );
}

/// Asserts the engine no longer lists the container and none of its pids remain.
#[track_caller]
fn assert_really_gone(r: &Results, case: &str, listed: &str, pids: &str) {
    assert_ne!(
        r.value(&format!("{case}.id")),
        "",
        "{case}: no container id"
    );
    assert_eq!(
        r.value(listed),
        "",
        "{case}: docker ps -a still lists the container"
    );
    assert_eq!(r.value(pids).trim(), "", "{case}: its processes remain");
}

#[test]
fn ladder_removes_real_stuck_containers() {
    let Some((mut g, _slot, _t)) = scenario(
        "container::ladder_removes_real_stuck_containers",
        "container_ladder",
    ) else {
        return;
    };
    let run = g.boot(BootOpts::with_reboots(Duration::from_secs(900)));
    check(&run.results, run.kernel_restarts(), run.powered_off());
}

/// Replays the assertions on a kept work folder's results (`HOSTFIX_VM_KEEP=1`):
/// `HOSTFIX_VM_REPLAY=DIR cargo test --test vm replay -- --ignored`.
#[test]
#[ignore = "replays a kept guest run named by HOSTFIX_VM_REPLAY"]
fn replay() {
    if let Some((r, restarts, powered_off)) = crate::kept_run("HOSTFIX_VM_REPLAY") {
        check(&r, restarts, powered_off);
    }
}

/// The assertions on what the guest reported.
fn check(r: &Results, restarts: usize, powered_off: bool) {
    let r = r.clone();

    // The reboot rung was requested. The script says so only when the shutdown lets it
    // (usually it stops the script first); when the rung was not requested it says
    // `refused` or `other (exit N)`, and the guest powers off after one boot.
    if let Some(d) = r.get("d.reboot").filter(|d| *d != "requested") {
        panic!(
            "the reboot rung was not requested: {d}\n--- its report ---\n{}",
            r.get_block("d-rm-reboot").unwrap_or("(none)")
        );
    }
    // Exactly one reboot: two boots, two boot ids, one kernel restart; the first boot was
    // ended by hostfix's reboot (not the runner's), the second by the runner's poweroff.
    let boots: Vec<_> = r.boots.iter().map(|b| (b.n, b.end)).collect();
    assert_eq!(r.boots.len(), 2, "boots: {boots:?}");
    assert!(
        !matches!(r.boots[0].end, Some(End::Poweroff) | Some(End::Reboot)),
        "the runner ended the first boot, not hostfix's reboot: {boots:?}"
    );
    assert_eq!(
        r.boots[1].scenario_rc,
        Some(0),
        "the second boot's scenario"
    );
    assert_eq!(r.boots[1].end, Some(End::Poweroff));
    assert_ne!(r.boots[0].id, r.boots[1].id, "the boot id did not change");
    assert_eq!(restarts, 1, "guest kernel restarts");
    assert!(powered_off, "the guest did not power off at the end");
    let journal = r.block("journal-boots");
    assert_eq!(
        journal.lines().count(),
        2,
        "journalctl --list-boots:\n{journal}"
    );

    // --- A PID 1 that ignores SIGTERM: docker stop's SIGKILL after the grace ends it.
    assert_eq!(r.value("term.state-before"), "running");
    assert_ne!(
        r.value("term.pids-before"),
        "",
        "the container had no process"
    );
    let doc = assert_removed_by(&r, "term-rm", "stop");
    assert_eq!(
        step_status(&doc, "docker stop -t 3").as_deref(),
        Some("done")
    );
    assert_really_gone(&r, "term", "term.listed-after", "term.pids-after");
    assert_already_gone(&r, "term-again");

    // --- The stopped shim: the engine never gets the exit event.
    assert_eq!(r.value("shim-state"), "T", "the shim is not stopped");
    let doc = assert_stopped_at(&r, "shim-rm-capped", "kill-shim", "destructive");
    for rung in ["docker stop", "docker kill", "docker rm -f"] {
        assert_eq!(
            step_status(&doc, rung).as_deref(),
            Some("failed"),
            "{rung} in {}",
            context(&r, "shim-rm-capped", &doc)
        );
    }
    assert_eq!(r.value("shim.alive-after-capped"), "yes");
    assert_ne!(r.value("shim.listed-after-capped"), "");
    let doc = assert_removed_by(&r, "shim-rm", "kill-shim");
    let ctx = context(&r, "shim-rm", &doc);
    let spid = r.value("shim.pid");
    assert!(
        steps(&doc)
            .iter()
            .any(|s| s.0.starts_with("SIGKILL containerd shim") && s.0.contains(spid)),
        "the shim pid {spid} is not the one killed: {ctx}"
    );
    assert_eq!(r.value("shim.alive-after"), "no");
    assert_really_gone(&r, "shim", "shim.listed-after", "shim.pids-after");

    // --- The stuck writer: in D on a frozen filesystem.
    assert_eq!(r.value("d-state"), "D", "the writer is not in D");
    assert_ne!(r.exit("d-manual-rm"), 0, "docker rm -f removed it");
    assert!(
        r.stderr("d-manual-rm")
            .contains("did not receive an exit event"),
        "docker rm -f failed otherwise: {}",
        r.stderr("d-manual-rm")
    );
    for name in ["d-rm", "d-rm-destructive"] {
        let doc = assert_stopped_at(&r, name, "reboot", "reboot");
        let ctx = context(&r, name, &doc);
        assert_eq!(doc["futility"]["kind"], "uninterruptible", "{ctx}");
        assert_eq!(doc["changed"], false, "{ctx}");
        for rung in [
            "docker stop",
            "docker kill",
            "docker rm -f",
            "SIGKILL containerd shim",
            "systemctl restart containerd",
        ] {
            let s = steps(&doc)
                .into_iter()
                .find(|s| s.0.starts_with(rung))
                .unwrap_or_else(|| panic!("no step {rung}: {ctx}"));
            assert_eq!(s.2, "skipped", "{rung}: {ctx}");
            assert!(
                s.3.contains("uninterruptible"),
                "{rung} skipped without saying why: {ctx}"
            );
        }
    }
    // The reboot: asked of the guard, which recorded it in its ledger before rebooting:
    // one entry for this container, from the first boot. (The ladder's own record too.)
    let key = format!("container-rm-{}", r.value("d.id"));
    let ledger: Value = serde_json::from_str(r.block("d-guard-ledger"))
        .unwrap_or_else(|e| panic!("the guard's ledger: {e}: {}", r.block("d-ledger")));
    let entries: Vec<&Value> = ledger["entries"].as_array().into_iter().flatten().collect();
    assert_eq!(entries.len(), 1, "one reboot in the ledger: {ledger:#}");
    assert_eq!(entries[0]["key"], key.as_str(), "{ledger:#}");
    assert_eq!(entries[0]["boot_id"], r.boots[0].id, "{ledger:#}");
    let record: Value = serde_json::from_str(r.block("d-reboot-record"))
        .unwrap_or_else(|e| panic!("the ladder's record: {e}: {}", r.block("d-ledger")));
    assert_eq!(record["name"], "stuck-d", "{record:#}");
    assert_eq!(record["boot_id"], r.boots[0].id, "{record:#}");
    // Its report, kept on the root disk (hostfix ignores the shutdown's SIGTERM so that
    // it is whole; when the shutdown still won the race, the ledger above is the proof).
    let text = r.block("d-rm-reboot-saved");
    if text.is_empty() {
        crate::loud("hostfix VM tests: container: the reboot run's report was not kept");
    } else {
        let saved: Value = serde_json::from_str(text).unwrap_or_else(|e| {
            panic!(
                "d-rm-reboot: {e}: {text}\n--- trail ---\n{}",
                r.block("d-rm-reboot-saved-trail")
            )
        });
        assert_eq!(saved["exit_code"], 1, "{saved:#}");
        assert!(
            saved["error"]
                .as_str()
                .unwrap_or_default()
                .contains("rebooting"),
            "{saved:#}"
        );
        let last = steps(&saved).pop().unwrap_or_default();
        assert_eq!(
            (last.1.as_str(), last.2.as_str()),
            ("reboot", "done"),
            "{saved:#}"
        );
        assert!(
            last.3.contains("once allow"),
            "the guard's verdict: {saved:#}"
        );
        assert_eq!(saved["reboot"]["requested_in_boot"], r.boots[0].id);
    }

    // After the boot: the first rung removes it, and the reboot is confirmed.
    assert_eq!(r.value("d.boot-changed"), "yes");
    let doc = assert_removed_by(&r, "d-after-boot", "stop");
    let ctx = context(&r, "d-after-boot", &doc);
    assert_eq!(doc["reboot"]["confirmed"], true, "{ctx}");
    assert_eq!(doc["reboot"]["requested_in_boot"], r.boots[0].id, "{ctx}");
    assert_eq!(doc["reboot"]["current_boot"], r.boots[1].id, "{ctx}");
    assert!(
        steps(&doc).iter().all(|s| s.1 != "reboot"),
        "a reboot step after the boot: {ctx}"
    );
    assert_really_gone(&r, "d", "d.listed-after", "d.pids-after");
    assert_already_gone(&r, "d-again");
    // --- doctor, with the D writer and the container nginx keeps off :80.
    assert_eq!(r.value("port-web-state"), "created");
    let doc = report(&r, "doctor-chain", 0);
    let f = findings(&doc);
    let web = f
        .iter()
        .find(|f| f["area"] == "containers" && finding_text(f).contains("container web "))
        .unwrap_or_else(|| panic!("no finding for the container web: {f:#?}"));
    let text = finding_text(web);
    for want in ["port 80", "nginx", "nginx.service", "package nginx"] {
        assert!(
            text.contains(want),
            "{want:?} not in the web finding: {web:#}"
        );
    }
    assert!(
        fix_command(web).starts_with("hostfix port free 80"),
        "{web:#}"
    );
    // One chain: the holder the container names is the one the ports finding before it
    // reports (the same pid, unit and package).
    let held = text
        .split("port 80 is held by ")
        .nth(1)
        .and_then(|t| t.split(" | ").next())
        .unwrap_or_else(|| panic!("the web finding does not say who holds :80: {web:#}"));
    let port = f
        .iter()
        .position(|f| {
            f["area"] == "ports" && f["title"].as_str() == Some(&format!("port 80/tcp: {held}"))
        })
        .unwrap_or_else(|| panic!("no ports finding for the holder {held:?}: {f:#?}"));
    let web_at = f.iter().position(|x| x == web).unwrap();
    assert!(
        port < web_at,
        "the holder is not reported before the container: {f:#?}"
    );
    assert_eq!(
        f.iter().position(|x| x["area"] == "containers"),
        Some(web_at),
        "the container kept from its port is not the first container finding: {f:#?}"
    );
    let stuck = f
        .iter()
        .find(|f| finding_text(f).contains("container stuck-d: no signal can end"))
        .unwrap_or_else(|| panic!("no finding for stuck-d: {f:#?}"));
    assert_eq!(
        fix_command(stuck),
        "hostfix container rm stuck-d --max-risk reboot"
    );
    assert_eq!(stuck["fix"]["risk"], "reboot");
}
