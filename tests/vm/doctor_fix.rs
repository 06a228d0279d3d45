//! `doctor --fix` on the incident host, broken all at once (`scenarios/doctor-fix.sh`):
//! the distro nginx on :80 and a container `web` kept from it, 512 MiB of RAM with no swap
//! and a memory hog the OOM killer killed, and a container `stuck-d` with its process in
//! `D`. doctor names each with its evidence; the fixes are taken least risky first within
//! the cap; the reboot rung reboots the guest once through the guard, the run after the
//! boot finishes the job, and the next run changes nothing.

use std::time::Duration;

use serde_json::Value;

use crate::guest::BootOpts;
use crate::results::{End, Results};
use crate::{assert_report, finding_text, findings, fix_command, scenario, swaps};

/// The commands of the fixes a `doctor --fix` report took (or planned), in order.
fn fix_commands(doc: &Value) -> Vec<String> {
    doc["fixes"]
        .as_array()
        .unwrap_or_else(|| panic!("a doctor --fix report without fixes: {doc}"))
        .iter()
        .map(|f| f["command"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The first finding whose text contains every one of `words`.
#[track_caller]
fn finding_with<'a>(f: &'a [Value], words: &[&str]) -> &'a Value {
    f.iter()
        .find(|x| {
            let t = finding_text(x);
            words.iter().all(|w| t.contains(w))
        })
        .unwrap_or_else(|| panic!("no finding with {words:?}: {f:#?}"))
}

/// A finding's proof lines, as one text.
fn proof_text(f: &Value) -> String {
    f["proofs"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["lines"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn doctor_fix_repairs_the_incident_host_within_the_cap() {
    let Some((mut g, _slot, _t)) = scenario(
        "doctor_fix_repairs_the_incident_host_within_the_cap",
        "doctor-fix",
    ) else {
        return;
    };
    let run = g.boot(BootOpts::with_reboots(Duration::from_secs(1200)));
    check(&run.results, run.kernel_restarts(), run.powered_off());
}

/// Replays the assertions on a kept work folder (`HOSTFIX_VM_KEEP=1`):
/// `HOSTFIX_VM_REPLAY_FIX=DIR cargo test --test vm replay_doctor_fix -- --ignored`.
#[test]
#[ignore = "replays a kept guest run named by HOSTFIX_VM_REPLAY_FIX"]
fn replay_doctor_fix() {
    if let Some((r, restarts, powered_off)) = crate::kept_run("HOSTFIX_VM_REPLAY_FIX") {
        check(&r, restarts, powered_off);
    }
}

/// The assertions on what the guest reported.
fn check(r: &Results, restarts: usize, powered_off: bool) {
    check_boots(r, restarts, powered_off);
    check_doctor(r);
    check_fix_below_reboot(r);
    check_reboot(r);
    check_after_boot(r);
}

/// Exactly one reboot: two boots, two boot ids, one kernel restart; the first boot was
/// ended by hostfix's reboot (not the runner's), the second by the runner's poweroff.
fn check_boots(r: &Results, restarts: usize, powered_off: bool) {
    let boots: Vec<_> = r
        .boots
        .iter()
        .map(|b| (b.n, b.scenario_rc, b.end))
        .collect();
    assert_eq!(r.boots.len(), 2, "boots: {boots:?}");
    assert!(
        !matches!(r.boots[0].end, Some(End::Poweroff) | Some(End::Reboot)),
        "the runner ended the first boot, not hostfix's reboot: {boots:?}"
    );
    assert_eq!(r.boots[1].scenario_rc, Some(0), "{boots:?}");
    assert_eq!(r.boots[1].end, Some(End::Poweroff), "{boots:?}");
    assert_ne!(r.boots[0].id, r.boots[1].id, "the boot id did not change");
    assert_eq!(restarts, 1, "guest kernel restarts");
    assert!(powered_off, "the guest did not power off at the end");
    let journal = r.block("journal-boots");
    assert_eq!(
        journal.lines().count(),
        2,
        "journalctl --list-boots:\n{journal}"
    );
}

/// doctor on the broken host: each problem, with the lines that prove it.
fn check_doctor(r: &Results) {
    assert_eq!(
        r.value("web-state-before"),
        "created",
        "web started beside nginx"
    );
    assert!(
        r.stderr("web-run").contains("address already in use"),
        "{}",
        r.stderr("web-run")
    );
    assert!(swaps(r.block("swaps-before")).is_empty());
    assert_eq!(r.value("d-state"), "D", "the writer is not in D");
    assert_eq!(r.block("hog-wait"), "137", "the hog was not killed");
    let kmsg = r.block("oom-kmsg");
    assert!(
        kmsg.contains("(busybox)") || kmsg.contains("(dd)"),
        "{kmsg}"
    );

    let doc = assert_report(r, "doctor-before", 0, false);
    let f = findings(&doc);
    // The OOM kill: victim, its container and the time, from the kernel log.
    let hog_id = r.value("hog.id");
    let oom = finding_with(&f, &["the OOM killer killed", "in container hog"]);
    assert_eq!(oom["area"], "memory", "{oom:#}");
    let ev = finding_text(oom);
    let victim = if kmsg.contains("(dd)") {
        "dd"
    } else {
        "busybox"
    };
    assert!(
        ev.contains(&format!("{victim} (pid ")),
        "no victim in {oom:#}"
    );
    assert!(
        ev.contains("s after boot") || ev.contains(':'),
        "no time in {oom:#}"
    );
    assert!(ev.contains("the host ran out of memory"), "{oom:#}");
    let proofs = proof_text(oom);
    assert!(proofs.contains("Killed process"), "{oom:#}");
    assert!(
        proofs.contains(&hog_id[..12]),
        "the proof does not name the hog's cgroup: {oom:#}"
    );
    assert!(
        oom["subjects"].to_string().contains(hog_id),
        "the OOM finding is not about the hog container: {oom:#}"
    );

    // The stuck container: state D, the ladder's reboot rung as its fix.
    let stuck = finding_with(&f, &["container stuck-d: no signal can end"]);
    assert!(
        finding_text(stuck).contains("(D)") || finding_text(stuck).contains(" D"),
        "{stuck:#}"
    );
    assert_eq!(
        fix_command(stuck),
        "hostfix container rm stuck-d --max-risk reboot"
    );
    assert_eq!(stuck["fix"]["risk"], "reboot");
    // The kernel's hung-task report, tied to it, when the kernel made one.
    if r.value("hung-report") == "yes" {
        let hung = finding_with(&f, &["blocked for more than", "in container stuck-d"]);
        assert_eq!(hung["area"], "containers", "{hung:#}");
        assert!(finding_text(hung).contains("(D)"), "{hung:#}");
        // One task, however often the kernel reported it.
        let title = hung["title"].as_str().unwrap_or_default();
        assert!(title.contains(" 1 task blocked "), "{hung:#}");
        assert!(
            title.contains(&format!("(sh:{})", r.value("d.pid"))),
            "{hung:#}"
        );
    }

    // The port: nginx answers where web wants to, and web names it.
    let request = finding_with(
        &f,
        &[
            "requests to :80 reach nginx.service (Server: nginx/",
            "not container web",
        ],
    );
    assert_eq!(request["severity"], "problem", "{request:#}");
    let web = f
        .iter()
        .find(|x| {
            x["area"] == "containers"
                && x["title"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("container web is created"))
        })
        .unwrap_or_else(|| panic!("no finding for web: {f:#?}"));
    let at = |x: &Value| f.iter().position(|y| y == x);
    assert!(at(request) < at(web), "not in the request's order: {f:#?}");
    assert!(
        fix_command(web).starts_with("hostfix port free 80"),
        "{web:#}"
    );
    assert!(finding_text(web).contains("nginx.service"), "{web:#}");
    let mem = finding_with(&f, &["no swap and MemAvailable"]);
    assert!(fix_command(mem).contains("swap ensure"), "{mem:#}");

    // The text report says the same, for a person.
    let text = r.block("doctor-text");
    for want in [
        "the OOM killer killed",
        "container hog",
        "container stuck-d: no signal can end",
        "nginx",
        "fix: hostfix container rm stuck-d --max-risk reboot",
    ] {
        assert!(
            text.contains(want),
            "{want:?} not in the text report:\n{text}"
        );
    }
}

/// doctor --fix below the reboot cap: swap at the default cap, then the port, web and a
/// stop at the stuck container naming the reboot rung.
fn check_fix_below_reboot(r: &Results) {
    // At the default cap: swap made, then a stop at the port naming the cap it needs.
    let additive = assert_report(r, "fix-additive", 3, true);
    let done = fix_commands(&additive);
    assert!(
        done.len() == 1 && done[0].starts_with("hostfix swap ensure"),
        "{done:?}"
    );
    let next = additive["next"]["command"].as_str().unwrap_or_default();
    assert!(next.starts_with("hostfix port free 80"), "next: {next:?}");
    assert!(
        additive["error"]
            .as_str()
            .unwrap_or_default()
            .contains("--max-risk disruptive"),
        "{additive:#}"
    );
    assert_eq!(swaps(r.block("swaps-additive")).len(), 1);

    // The dry run shows the rest up to the stuck container and takes none of it.
    let dry = r.json("fix-dry");
    assert_eq!(r.exit("fix-dry"), 3, "{dry:#}\n{}", r.stderr("fix-dry"));
    assert_eq!(dry["dry_run"], true);
    let planned = fix_commands(&dry);
    assert!(
        planned.len() == 2
            && planned[0].starts_with("hostfix port free 80 --remove-package")
            && planned[1] == "docker start web",
        "{planned:?}"
    );
    assert_eq!(
        dry["next"]["command"], "hostfix container rm stuck-d --max-risk reboot",
        "{dry:#}"
    );
    assert_eq!(r.value("nginx-active-after-dry"), "active");

    // Taken: the port freed (the package removed), web started and reached; a stop at
    // the stuck container.
    assert_eq!(r.exit("fix-text"), 3, "{}", r.block("fix-text"));
    let text = r.block("fix-text");
    for want in [
        "fix 1: hostfix port free 80 --remove-package (risk destructive)",
        "fix 2: docker start web (risk additive)",
        "request: 127.0.0.1:80: HTTP/1.1 200 OK, reached container web",
        "next fix: hostfix container rm stuck-d --max-risk reboot needs --max-risk reboot",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }
    assert_ne!(r.value("nginx-active"), "active");
    assert_eq!(r.value("web-state"), "running");
    assert_eq!(r.block("web-http"), r.value("token"));
    let removed: Vec<&str> = r.block("packages-removed").lines().collect();
    assert!(removed.contains(&"nginx-light"), "{removed:?}");
    assert!(removed.iter().all(|p| p.contains("nginx")), "{removed:?}");
    assert_eq!(swaps(r.block("swaps-after")).len(), 1);

    // The same run again: nothing below the cap; the stop names the fix and the cap.
    let stop = assert_report(r, "fix-stop", 3, false);
    assert!(fix_commands(&stop).is_empty(), "{stop:#}");
    assert_eq!(
        stop["next"]["command"], "hostfix container rm stuck-d --max-risk reboot",
        "{stop:#}"
    );
    assert_eq!(stop["next"]["risk"], "reboot", "{stop:#}");
    assert_eq!(
        stop["error"],
        "hostfix container rm stuck-d --max-risk reboot: needs --max-risk reboot (the cap is \
         destructive)",
        "{stop:#}"
    );
    // doctor's request now reaches web, not nginx.
    let before = findings(&stop["before"]);
    let request = finding_with(&before, &["requests to :80 reach container web"]);
    assert_eq!(request["severity"], "ok", "{request:#}");
    assert!(
        !before
            .iter()
            .any(|f| finding_text(f).contains("nginx.service")),
        "{before:#?}"
    );
}

/// The reboot: asked of the guard, which recorded it in its ledger, once.
fn check_reboot(r: &Results) {
    let d_id = r.value("d.id");
    let ledger: Value = serde_json::from_str(r.block("guard-ledger"))
        .unwrap_or_else(|e| panic!("the guard's ledger: {e}: {}", r.block("guard-ledger")));
    let entries: Vec<&Value> = ledger["entries"].as_array().into_iter().flatten().collect();
    assert_eq!(entries.len(), 1, "one reboot in the ledger: {ledger:#}");
    assert_eq!(entries[0]["key"], format!("container-rm-{d_id}").as_str());
    assert_eq!(entries[0]["boot_id"], r.boots[0].id, "{ledger:#}");
    assert_eq!(r.block("guard-ledger-final"), r.block("guard-ledger"));
    // Its report, when the shutdown let it be written whole.
    let text = r.get_block("fix-reboot").unwrap_or_default();
    if text.is_empty() {
        crate::loud("hostfix VM tests: doctor-fix: the reboot run's report was not kept");
        return;
    }
    let doc: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("fix-reboot: {e}: {text}\n{}", r.block("fix-reboot.trail")));
    assert_eq!(
        fix_commands(&doc),
        vec!["hostfix container rm stuck-d --max-risk reboot"],
        "{doc:#}"
    );
    assert!(
        doc["error"]
            .as_str()
            .unwrap_or_default()
            .contains("rebooting"),
        "{doc:#}"
    );
    assert!(
        doc["after"].is_null(),
        "diagnosed while shutting down: {doc:#}"
    );
}

/// After the boot: swap and web back; the removal finished; then nothing to do.
fn check_after_boot(r: &Results) {
    let swaps2 = swaps(r.block("swaps-boot2"));
    assert_eq!(swaps2.len(), 1, "the swap did not come back: {swaps2:?}");
    assert_eq!(r.value("web-state-boot2"), "running");
    assert_eq!(r.value("d-state-boot2"), "exited");

    let after = assert_report(r, "fix-after-boot", 0, true);
    let taken = fix_commands(&after);
    assert_eq!(taken, vec!["hostfix container rm stuck-d"], "{after:#}");
    let removal = &after["fixes"][0]["report"];
    assert_eq!(removal["result"]["gone"], true, "{removal:#}");
    assert_eq!(removal["result"]["removed_by"], "stop", "{removal:#}");
    assert_eq!(
        removal["result"]["reboot"]["confirmed"], true,
        "{removal:#}"
    );
    assert_eq!(r.value("d-listed-after"), "");
    assert_eq!(r.block("records-after"), "");
    assert_eq!(r.block("web-http-boot2"), r.value("token"));
    assert_eq!(swaps(r.block("swaps-final")), swaps2);

    let again = assert_report(r, "fix-again", 0, false);
    assert_eq!(again["nothing_to_fix"], true, "{again:#}");
    assert!(fix_commands(&again).is_empty());
}
