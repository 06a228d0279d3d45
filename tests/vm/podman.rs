//! Scenario: Podman as the engine, on the trixie-podman guest (`scenarios/podman.sh`): the
//! container ladder's faults made for real (a SIGTERM-ignoring container, a stopped
//! `conmon`, a process in `D` on a frozen filesystem), a Podman container holding a port
//! named by `port who` and refused by `port free`, and doctor under Podman.
//!
//! One boot, no reboot: the reboot rung through the guard is proved by the Docker scenario
//! (`container.rs`); here it is planned, and refused below the cap.

use std::time::Duration;

use serde_json::Value;

use crate::container::{step_status, steps};
use crate::guest::BootOpts;
use crate::image::Flavour;
use crate::results::Results;
use crate::{assert_clean_single_boot, finding_text, findings, fix_command, scenario_on};

/// A report's JSON, with its exit code checked; the trail in every failure message.
#[track_caller]
fn report(r: &Results, name: &str, exit: i32) -> (Value, String) {
    let doc = r.json(name);
    let ctx = format!(
        "{name} (took {} s): {}\n--- trail ---\n{}",
        r.get(&format!("{name}.seconds")).unwrap_or("?"),
        serde_json::to_string_pretty(&doc).unwrap_or_default(),
        r.stderr(name)
    );
    assert_eq!(r.exit(name), exit, "exit code of {ctx}");
    assert_eq!(doc["exit_code"], exit, "exit_code in {ctx}");
    (doc, ctx)
}

/// The planned ladder's restart-engine entry is absent, with its reason.
#[track_caller]
fn assert_restart_absent(doc: &Value, ctx: &str) {
    let restart = doc["ladder"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["rung"] == "restart-engine")
        .unwrap_or_else(|| panic!("no restart-engine entry in the plan: {ctx}"));
    assert_eq!(restart["decision"], "absent", "{ctx}");
    assert!(
        restart["why"]
            .as_str()
            .is_some_and(|w| w.contains("no engine daemon")),
        "{ctx}"
    );
    assert!(
        !steps(doc).iter().any(|s| s.0.contains("systemctl")),
        "an engine restart under podman: {ctx}"
    );
}

#[test]
fn podman_ladder_ports_and_doctor() {
    let Some((mut g, _slot, _t)) = scenario_on(
        Flavour::TrixiePodman,
        "podman::podman_ladder_ports_and_doctor",
        "podman",
    ) else {
        return;
    };
    g.boot(BootOpts::once(Duration::from_secs(600)));
    assert_clean_single_boot(&g);
    check(g.last());
}

fn check(r: &Results) {
    assert_eq!(r.value("engine.docker"), "", "the guest has docker");

    // --- PID 1 ignores SIGTERM: podman stop's SIGKILL after the grace ends it.
    assert_ne!(
        r.value("term.pids-before"),
        "",
        "the container had no process"
    );
    let (doc, ctx) = report(r, "term-rm", 0);
    assert_eq!(doc["removed_by"], "stop", "{ctx}");
    assert_eq!(doc["engine"], "podman", "{ctx}");
    assert_eq!(
        step_status(&doc, "podman stop -t 3").as_deref(),
        Some("done"),
        "{ctx}"
    );
    assert_eq!(r.value("term.listed-after"), "");
    assert_eq!(
        r.value("term.pids-after").trim(),
        "",
        "its processes remain"
    );

    // --- A stopped conmon: capped below the conmon kill, then that conmon is killed.
    assert_eq!(r.value("conmon-state"), "T", "conmon is not stopped");
    let cpid = r.value("conmon.pid").to_string();
    let (doc, ctx) = report(r, "conmon-rm-capped", 3);
    assert_eq!(doc["next"]["rung"], "kill-shim", "{ctx}");
    assert_eq!(doc["next"]["risk"], "destructive", "{ctx}");
    assert_eq!(r.value("conmon.alive-after-capped"), "yes");
    assert_restart_absent(&doc, &ctx);
    let (doc, ctx) = report(r, "conmon-rm", 0);
    assert_eq!(doc["removed_by"], "kill-shim", "{ctx}");
    let kill = steps(&doc)
        .into_iter()
        .find(|s| s.0.starts_with("SIGKILL conmon"))
        .unwrap_or_else(|| panic!("no conmon kill: {ctx}"));
    assert_eq!(kill.2, "done", "{ctx}");
    assert!(
        kill.0.starts_with(&format!("SIGKILL conmon pid {cpid} ")),
        "{ctx}"
    );
    assert!(
        kill.3
            .contains(&format!("SIGKILL conmon pid {cpid} (conmon): sent")),
        "{ctx}"
    );
    assert_eq!(r.value("conmon.alive-after"), "no");
    assert_eq!(r.value("conmon.listed-after"), "");
    assert_eq!(r.value("conmon.pids-after").trim(), "");

    // --- A podman container holding :8080: named, and refused with its stop command.
    let pub_id = r.value("pub.id").to_string();
    assert_ne!(pub_id, "", "the pub container did not start");
    let (doc, ctx) = report(r, "pub-who", 0);
    let owners = doc["owners"].as_array().cloned().unwrap_or_default();
    let c = owners
        .iter()
        .find_map(|o| o["container"].as_object().cloned())
        .unwrap_or_else(|| panic!("no container among the holders: {ctx}"));
    let via = if r.value("pub.mode") == "publish" {
        "conmon"
    } else {
        "cgroup"
    };
    assert_eq!(c["via"], via, "{ctx}");
    assert_eq!(c["engine"], "podman", "{ctx}");
    assert_eq!(c["name"], "pub", "{ctx}");
    assert_eq!(c["id"], pub_id.as_str(), "{ctx}");
    assert_eq!(c["stop_command"], "podman stop pub", "{ctx}");
    let (doc, ctx) = report(r, "pub-free", 3);
    assert!(
        doc["error"]
            .as_str()
            .is_some_and(|e| e.contains("podman stop pub")),
        "{ctx}"
    );
    assert_eq!(
        r.value("pub.state-after"),
        "running",
        "port free touched it"
    );

    // --- doctor: which engine, no daemon, the stuck container, the one kept from :80.
    let (doc, ctx) = report(r, "doctor", 0);
    assert_eq!(doc["facts"]["containers"]["kind"], "podman", "{ctx}");
    assert_eq!(doc["facts"]["containers"]["daemon"], false, "{ctx}");
    let fs = findings(&doc);
    assert!(
        fs.iter().any(|f| {
            let t = f["title"].as_str().unwrap_or_default();
            t.starts_with("containers: podman") && t.ends_with("no engine daemon to restart")
        }),
        "doctor does not say the engine: {ctx}"
    );
    let stuck = fs
        .iter()
        .find(|f| f["title"] == "container stuck-d: no signal can end its processes")
        .unwrap_or_else(|| panic!("no stuck-d finding: {ctx}"));
    assert_eq!(
        fix_command(stuck),
        "hostfix --engine podman container rm stuck-d --max-risk reboot",
        "{ctx}"
    );
    // The container kept from :80 needs a container network to publish a port.
    if r.value("pub.mode") != "publish" {
        crate::loud(
            "podman: no container network in the guest (netavark): the port-taken chain is not checked",
        );
    } else {
        check_web(r, &fs);
    }
    check_d(r);
}

/// doctor's finding for the container kept from :80 by nginx.
fn check_web(r: &Results, fs: &[Value]) {
    assert_eq!(r.value("web-state"), "created", "{}", r.value("web-error"));
    let web = fs
        .iter()
        .find(|f| finding_text(f).starts_with("container web is created"))
        .unwrap_or_else(|| panic!("no finding for web: {fs:#?}"));
    let text = finding_text(web);
    assert!(text.contains("port 80") && text.contains("nginx"), "{text}");
    assert!(text.contains("podman start web"), "{text}");
}

fn check_d(r: &Results) {
    // --- A process in D: every signal rung futile, no engine restart, the reboot next.
    assert_eq!(r.value("d-state"), "D", "the writer is not in D");
    for name in ["d-rm", "d-rm-destructive"] {
        let (doc, ctx) = report(r, name, 3);
        assert_eq!(doc["futility"]["kind"], "uninterruptible", "{ctx}");
        assert_eq!(doc["next"]["rung"], "reboot", "{ctx}");
        for rung in [
            "podman stop",
            "podman kill",
            "podman rm -f",
            "SIGKILL conmon",
        ] {
            let s = steps(&doc)
                .into_iter()
                .find(|s| s.0.starts_with(rung) || s.0.contains(rung))
                .unwrap_or_else(|| panic!("no {rung} step: {ctx}"));
            assert_eq!(s.2, "skipped", "{rung}: {ctx}");
            assert!(s.3.contains("uninterruptible"), "{rung}: {ctx}");
        }
        assert_restart_absent(&doc, &ctx);
    }
    let doc = r.json("d-plan");
    assert_eq!(doc["dry_run"], true);
    assert_restart_absent(&doc, "d-plan");
    // Docker asked for where only podman exists: the error names it.
    let (doc, ctx) = report(r, "bad-engine", 1);
    assert!(
        doc["error"]
            .as_str()
            .is_some_and(|e| e.contains("--engine docker")),
        "{ctx}"
    );
    // Thawed, it goes the ordinary way.
    let (doc, ctx) = report(r, "d-after-thaw", 0);
    assert_eq!(doc["gone"], true, "{ctx}");
    assert_eq!(r.value("d.listed-after"), "");
}

/// Replays the assertions on a kept guest run's results (`HOSTFIX_VM_KEEP=1`):
/// `HOSTFIX_VM_REPLAY=DIR cargo test --test vm podman_replay -- --ignored`.
#[test]
#[ignore = "replays a kept guest run named by HOSTFIX_VM_REPLAY"]
fn podman_replay() {
    if let Some((r, restarts, powered_off)) = crate::kept_run("HOSTFIX_VM_REPLAY") {
        let _ = (restarts, powered_off);
        check(&r);
    }
}
