//! The whole `reboot` operation on fake hosts: the guard, the ledger written before the
//! request, the request itself through the recorded seam (never a real reboot), dry runs,
//! confirmation in the next boot, refusals and failures.

mod reboot_common;

use std::path::Path;
use std::time::Duration;

use hostfix::error::{Error, Refusal};
use hostfix::reboot::{
    self, EntryState, EntryStatus, LedgerEntry, RebootDecision, RebootMethod, RebootSpec, Rules,
};
use hostfix::testing::reboot::Ledger;
use hostfix::testing::state::HostLock;
use hostfix::testing::with;
use hostfix::testing::{Call, CmdOutput, RecordingSystem};
use hostfix::{Policy, Risk, StepStatus};
use nix::errno::Errno;
use reboot_common::{BOOT_ID, MACHINE_ID, NOW, at, copy_root, host, ledger_file, read_ledger};

fn policy() -> Policy {
    Policy::new(Risk::Reboot)
}

fn systemd(root: &Path) {
    std::fs::create_dir_all(root.join("run/systemd/system")).unwrap();
}

fn reboot_calls(rec: &RecordingSystem) -> Vec<Call> {
    rec.calls()
        .into_iter()
        .filter(|c| {
            matches!(c, Call::Sync | Call::Reboot | Call::Sleep(_))
                || matches!(c, Call::Run(s) if !s.contains("needs-restarting"))
        })
        .collect()
}

fn refused_rule(e: &Option<Error>) -> String {
    match e {
        Some(Error::Refused(Refusal::Guard { rule, .. })) => rule.clone(),
        other => panic!("expected a guard refusal, got {other:?}"),
    }
}

#[test]
fn systemd_reboot_is_recorded_before_it_is_requested() {
    let d = copy_root("none");
    systemd(d.path());
    let (h, rec) = host(d.path());
    let spec = with(RebootSpec::default(), |it| {
        it.reason = Some("kernel 6.1.0-18".into());
        it.message = Some("rebooting for the kernel".into());
    });
    let rep = reboot::reboot(&h, &spec, &policy());
    assert_eq!(rep.exit_code(), 0, "{:?}", rep.error);
    assert!(rep.changed && !rep.dry_run);
    assert_eq!(rep.result.decision, RebootDecision::Reboot);
    assert!(rep.result.requested);
    assert!(
        rep.result.why.contains("has not happened yet"),
        "{}",
        rep.result.why
    );
    assert_eq!(
        reboot_calls(&rec),
        vec![
            // The message goes on stdin: wall would read a file named by its argument.
            Call::Run("wall".into()),
            Call::Sync,
            Call::Run("systemctl reboot '--message=rebooting for the kernel'".into()),
        ]
    );
    let l = read_ledger(d.path());
    assert_eq!(l.entries.len(), 1);
    let e = &l.entries[0];
    assert_eq!(e.id, 1);
    assert_eq!(e.boot_id, BOOT_ID);
    assert_eq!(e.machine_id.as_deref(), Some(MACHINE_ID));
    assert_eq!(e.reason, "kernel 6.1.0-18");
    assert_eq!(e.started_at, NOW);
    assert_eq!(e.requested_at, Some(NOW));
    // Requested, not done: stays `started` until a run in another boot confirms it.
    assert_eq!(e.state, EntryState::Started);
    let steps: Vec<(Risk, StepStatus)> = rep
        .steps
        .iter()
        .filter(|s| s.risk > Risk::ReadOnly)
        .map(|s| (s.risk, s.status))
        .collect();
    assert_eq!(
        steps,
        vec![
            (Risk::Additive, StepStatus::Done),
            (Risk::Reboot, StepStatus::Done)
        ]
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(ledger_file(d.path()))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn delays_stay_in_seconds() {
    // systemd: a transient timer to the second; hostfix does not wait.
    let d = copy_root("none");
    systemd(d.path());
    let (h, rec) = host(d.path());
    let spec = with(RebootSpec::default(), |it| {
        it.delay = Duration::from_secs(90);
    });
    let rep = reboot::reboot(&h, &spec, &policy());
    assert_eq!(rep.exit_code(), 0, "{:?}", rep.error);
    assert_eq!(
        reboot_calls(&rec),
        vec![
            Call::Sync,
            Call::Run(
                "systemd-run --unit=hostfix-reboot-1 '--description=hostfix reboot #1' \
                 --on-active=90s --timer-property=AccuracySec=1s systemctl reboot"
                    .into()
            ),
        ]
    );
    assert_eq!(read_ledger(d.path()).entries[0].delay_secs, 90);

    // Without systemd: hostfix waits 90 s itself, then asks shutdown.
    let d = copy_root("none");
    let (h, rec) = host(d.path());
    let rep = reboot::reboot(&h, &spec, &policy());
    assert_eq!(rep.exit_code(), 0, "{:?}", rep.error);
    assert_eq!(
        reboot_calls(&rec),
        vec![
            Call::Sleep(Duration::from_secs(90)),
            Call::Sync,
            Call::Run("shutdown -r now".into()),
        ]
    );
}

#[test]
fn orderly_failure_without_fallback_fails_and_is_recorded() {
    let d = copy_root("none");
    systemd(d.path());
    let (h, rec) = host(d.path());
    rec.respond(
        "systemctl reboot",
        CmdOutput::failed(1, "Failed to reboot system via logind: Access denied"),
    );
    let rep = reboot::reboot(&h, &RebootSpec::default(), &policy());
    assert_eq!(rep.exit_code(), 1);
    let msg = rep.error.as_ref().unwrap().to_string();
    assert!(
        msg.contains("Access denied") && msg.contains("--method auto"),
        "{msg}"
    );
    assert!(!reboot_calls(&rec).contains(&Call::Reboot));
    let e = &read_ledger(d.path()).entries[0];
    assert_eq!(e.state, EntryState::Failed);
    assert!(e.error.as_deref().unwrap().contains("Access denied"));
    assert_eq!(rep.steps.last().unwrap().status, StepStatus::Failed);
}

#[test]
fn auto_falls_back_to_the_syscall_after_sync() {
    let d = copy_root("none");
    systemd(d.path());
    let (h, rec) = host(d.path());
    rec.respond("systemctl reboot", CmdOutput::failed(1, "Access denied"));
    let spec = with(RebootSpec::default(), |it| {
        it.method = RebootMethod::Auto;
    });
    let rep = reboot::reboot(&h, &spec, &policy());
    assert_eq!(rep.exit_code(), 0, "{:?}", rep.error);
    assert_eq!(
        reboot_calls(&rec),
        vec![
            Call::Sync,
            Call::Run("systemctl reboot".into()),
            Call::Sync,
            Call::Reboot
        ]
    );
    let e = &read_ledger(d.path()).entries[0];
    assert_eq!(e.state, EntryState::Started);
    assert!(e.requested_at.is_some());

    // And when reboot(2) fails too: exit 1, both causes kept, the entry failed.
    let d = copy_root("none");
    systemd(d.path());
    let (h, rec) = host(d.path());
    rec.respond("systemctl reboot", CmdOutput::failed(1, "Access denied"));
    rec.fail_next("reboot", Errno::EPERM);
    let rep = reboot::reboot(&h, &spec, &policy());
    assert_eq!(rep.exit_code(), 1);
    let msg = rep.error.as_ref().unwrap().to_string();
    assert!(
        msg.contains("EPERM") && msg.contains("Access denied"),
        "{msg}"
    );
    assert_eq!(read_ledger(d.path()).entries[0].state, EntryState::Failed);
}

#[test]
fn forced_syscall_never_asks_the_init_system() {
    let d = copy_root("none");
    systemd(d.path());
    let (h, rec) = host(d.path());
    let spec = with(RebootSpec::default(), |it| {
        it.method = RebootMethod::Syscall;
    });
    let rep = reboot::reboot(&h, &spec, &policy());
    assert_eq!(rep.exit_code(), 0, "{:?}", rep.error);
    assert_eq!(reboot_calls(&rec), vec![Call::Sync, Call::Reboot]);
    assert_eq!(rep.result.method.as_deref(), Some("sync, reboot(2)"));
}

#[test]
fn dry_run_decides_and_changes_nothing() {
    let d = copy_root("reboot-required");
    systemd(d.path());
    let (h, rec) = host(d.path());
    let spec = with(RebootSpec::default(), |it| {
        it.if_needed = true;
        it.rules = with(Rules::default(), |it| {
            it.once = Some("k".into());
            it.min_uptime = Some(Duration::from_secs(60));
        });
    });
    let rep = reboot::reboot(&h, &spec, &policy().dry_run(true));
    assert_eq!(rep.exit_code(), 0, "{:?}", rep.error);
    assert!(rep.dry_run && rep.changed);
    assert_eq!(rep.result.decision, RebootDecision::Reboot);
    assert!(!rep.result.requested);
    assert!(reboot_calls(&rec).is_empty(), "{:?}", rec.calls());
    assert!(
        !d.path().join("var/lib/hostfix").exists(),
        "nothing created"
    );
    // Every rule's verdict is in the report.
    let json = serde_json::to_value(&rep).unwrap();
    let rules: Vec<(&str, &str)> = json["guard"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["rule"].as_str().unwrap(), v["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(
        rules,
        [
            ("ledger", "allow"),
            ("lock", "allow"),
            ("once", "allow"),
            ("pending", "allow"),
            ("max-attempts", "allow"),
            ("min-uptime", "allow"),
        ]
    );
    assert_eq!(json["decision"], "reboot");
    assert_eq!(json["need"]["reasons"][0]["source"], "reboot-required");
    let planned: Vec<&str> = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "planned")
        .map(|s| s["risk"].as_str().unwrap())
        .collect();
    assert_eq!(planned, ["additive", "reboot"]);

    // A dry run that the guard would refuse says so, with the same exit code.
    let spec = with(RebootSpec::default(), |it| {
        it.rules = with(Rules::default(), |it| {
            it.min_uptime = Some(Duration::from_secs(3600));
        });
    });
    let rep = reboot::reboot(&h, &spec, &policy().dry_run(true));
    assert_eq!(rep.exit_code(), 3);
    assert_eq!(refused_rule(&rep.error), "min-uptime");
    assert!(!d.path().join("var/lib/hostfix").exists());
}

#[test]
fn if_needed_without_a_reason_does_nothing() {
    let d = copy_root("none");
    systemd(d.path());
    let (h, rec) = host(d.path());
    let spec = with(RebootSpec::default(), |it| {
        it.if_needed = true;
    });
    let rep = reboot::reboot(&h, &spec, &policy());
    assert_eq!(rep.exit_code(), 0);
    assert!(!rep.changed);
    assert_eq!(rep.result.decision, RebootDecision::NotNeeded);
    assert!(reboot_calls(&rec).is_empty());
    assert!(!d.path().join("var/lib/hostfix").exists());
    assert_eq!(rep.steps.last().unwrap().status, StepStatus::Skipped);
}

#[test]
fn if_needed_reboots_for_the_reasons_found() {
    let d = copy_root("reboot-required");
    systemd(d.path());
    let (h, rec) = host(d.path());
    let spec = with(RebootSpec::default(), |it| {
        it.if_needed = true;
    });
    let rep = reboot::reboot(&h, &spec, &policy());
    assert_eq!(rep.exit_code(), 0, "{:?}", rep.error);
    assert!(rec.commands().contains(&"systemctl reboot".to_string()));
    let e = &read_ledger(d.path()).entries[0];
    assert!(e.reason.contains("/run/reboot-required"), "{}", e.reason);
    assert!(e.reason.contains("libc6"), "{}", e.reason);
}

#[test]
fn when_condition_gates_the_reboot() {
    let d = copy_root("none");
    systemd(d.path());
    let (h, rec) = host(d.path());
    rec.respond_once("sh -c", CmdOutput::failed(1, ""));
    let spec = with(RebootSpec::default(), |it| {
        it.when = Some("test -e /var/lib/app/upgraded".into());
    });
    let rep = reboot::reboot(&h, &spec, &policy());
    assert_eq!(rep.exit_code(), 0);
    assert_eq!(rep.result.decision, RebootDecision::NotNeeded);
    assert!(!rec.commands().contains(&"systemctl reboot".to_string()));

    rec.respond_once("sh -c", CmdOutput::ok(""));
    let rep = reboot::reboot(&h, &spec, &policy());
    assert_eq!(rep.exit_code(), 0, "{:?}", rep.error);
    assert_eq!(rep.result.decision, RebootDecision::Reboot);
    assert!(rec.commands().contains(&"systemctl reboot".to_string()));

    // A condition that cannot run is a failure, never a reboot.
    let d = copy_root("none");
    systemd(d.path());
    let (h, rec) = host(d.path());
    rec.respond_once("sh -c", CmdOutput::failed(127, "sh: 1: nosuch: not found"));
    let spec = with(RebootSpec::default(), |it| {
        it.when = Some("nosuch".into());
    });
    let rep = reboot::reboot(&h, &spec, &policy());
    assert_eq!(rep.exit_code(), 1);
    assert!(!rec.commands().contains(&"systemctl reboot".to_string()));
    assert!(!ledger_file(d.path()).exists());
}

#[test]
fn the_next_boot_confirms_the_reboot() {
    let d = copy_root("none");
    systemd(d.path());
    let (h, _) = host(d.path());
    let spec = with(RebootSpec::default(), |it| {
        it.if_needed = true;
    });
    // A reboot started in an earlier boot, an hour ago.
    let mut l = Ledger::default();
    l.entries.push(with(LedgerEntry::default(), |it| {
        it.id = 1;
        it.key = Some("kernel".into());
        it.reason = "kernel".into();
        it.boot_id = "11111111-2222-3333-4444-555555555555".into();
        it.machine_id = Some(MACHINE_ID.into());
        it.started_at = NOW - 3600;
        it.delay_secs = 0;
        it.method = "sync, systemctl reboot".into();
        it.state = EntryState::Started;
        it.requested_at = Some(NOW - 3600);
        it.confirmed_at = None;
        it.confirmed_boot_id = None;
        it.error = None;
    }));
    reboot_common::write_ledger(d.path(), &l);
    let rep = reboot::reboot(&h, &spec, &policy());
    assert_eq!(rep.exit_code(), 0, "{:?}", rep.error);
    assert_eq!(rep.result.confirmed, vec![1]);
    assert_eq!(rep.result.history[0].status, EntryStatus::Completed);
    // The confirmation is hostfix's own record, not a change of the host: an Ansible
    // recap after the reboot shows changed=0.
    assert!(!rep.changed, "{:#?}", rep.steps);
    assert!(
        rep.steps
            .iter()
            .any(|s| s.action == "confirm reboot #1 in the ledger" && s.status == StepStatus::Done)
    );
    let e = &read_ledger(d.path()).entries[0];
    assert_eq!(e.state, EntryState::Confirmed);
    assert_eq!(e.confirmed_boot_id.as_deref(), Some(BOOT_ID));
    assert_eq!(e.confirmed_at, Some(NOW));
    // The second run has nothing left to confirm: unchanged.
    let rep = reboot::reboot(&h, &spec, &policy());
    assert!(rep.result.confirmed.is_empty());
    assert!(!rep.changed);
}

#[test]
fn once_refuses_the_second_reboot() {
    let d = copy_root("none");
    systemd(d.path());
    let (h, rec) = host(d.path());
    let spec = with(RebootSpec::default(), |it| {
        it.rules = with(Rules::default(), |it| {
            it.once = Some("first-boot".into());
        });
    });
    assert_eq!(reboot::reboot(&h, &spec, &policy()).exit_code(), 0);
    // Even much later, and in another boot: once means ever.
    std::fs::write(
        d.path().join("proc/sys/kernel/random/boot_id"),
        "99999999-8888-7777-6666-555555555555\n",
    )
    .unwrap();
    rec.set_now(at(NOW + 30 * 86400));
    let rep = reboot::reboot(&h, &spec, &policy());
    assert_eq!(rep.exit_code(), 3);
    assert_eq!(refused_rule(&rep.error), "once");
    assert_eq!(rep.result.decision, RebootDecision::Refused);
    let l = read_ledger(d.path());
    assert_eq!(l.entries.len(), 1, "no entry for a refused reboot");
    // The first one was confirmed by the same run.
    assert_eq!(l.entries[0].state, EntryState::Confirmed);
    assert_eq!(
        rec.commands()
            .iter()
            .filter(|c| *c == "systemctl reboot")
            .count(),
        1
    );
}

#[test]
fn max_attempts_stops_a_loop() {
    // A script that reboots on every run, and every reboot "fails" to happen: the
    // fourth attempt within the hour is refused.
    let d = copy_root("none");
    systemd(d.path());
    let (h, rec) = host(d.path());
    for i in 0..3u64 {
        rec.set_now(at(NOW + i * 20 * 60));
        let rep = reboot::reboot(&h, &RebootSpec::default(), &policy());
        assert_eq!(rep.exit_code(), 0, "attempt {i}: {:?}", rep.error);
    }
    rec.set_now(at(NOW + 59 * 60));
    let rep = reboot::reboot(&h, &RebootSpec::default(), &policy());
    assert_eq!(rep.exit_code(), 3);
    assert_eq!(refused_rule(&rep.error), "max-attempts");
    assert_eq!(read_ledger(d.path()).entries.len(), 3);
    // The earlier ones are reported as never happened (same boot, long past due).
    assert!(
        rep.result
            .history
            .iter()
            .skip(1)
            .all(|v| v.status == EntryStatus::NeverHappened)
    );
    // An hour after the first, the window has room again.
    rec.set_now(at(NOW + 61 * 60));
    assert_eq!(
        reboot::reboot(&h, &RebootSpec::default(), &policy()).exit_code(),
        0
    );
}

#[test]
fn pending_reboot_is_not_requested_twice() {
    let d = copy_root("none");
    systemd(d.path());
    let (h, rec) = host(d.path());
    let spec = with(RebootSpec::default(), |it| {
        it.delay = Duration::from_secs(300);
    });
    assert_eq!(reboot::reboot(&h, &spec, &policy()).exit_code(), 0);
    rec.set_now(at(NOW + 60));
    let rep = reboot::reboot(&h, &spec, &policy());
    assert_eq!(rep.exit_code(), 3);
    assert_eq!(refused_rule(&rep.error), "pending");
}

#[test]
fn min_uptime_refuses_a_fresh_boot() {
    // The fixture has been up 120 s.
    let d = copy_root("none");
    systemd(d.path());
    let (h, rec) = host(d.path());
    let spec = with(RebootSpec::default(), |it| {
        it.rules = with(Rules::default(), |it| {
            it.min_uptime = Some(Duration::from_secs(600));
        });
    });
    let rep = reboot::reboot(&h, &spec, &policy());
    assert_eq!(rep.exit_code(), 3);
    assert_eq!(refused_rule(&rep.error), "min-uptime");
    assert!(rep.error.unwrap().to_string().contains("up 2m"));
    assert!(reboot_calls(&rec).is_empty());
    assert!(!ledger_file(d.path()).exists());
}

#[test]
fn another_run_holding_the_lock_refuses() {
    let d = copy_root("none");
    systemd(d.path());
    let (h, rec) = host(d.path());
    let _held = HostLock::acquire(&h, std::time::Duration::ZERO).unwrap();
    let rep = reboot::reboot(&h, &RebootSpec::default(), &policy());
    assert_eq!(rep.exit_code(), 3);
    assert_eq!(refused_rule(&rep.error), "lock");
    // It waited for the lock (sleeps), and asked for nothing.
    assert!(
        reboot_calls(&rec)
            .iter()
            .all(|c| matches!(c, Call::Sleep(d) if *d < Duration::from_secs(1))),
        "{:?}",
        rec.calls()
    );
    assert!(!ledger_file(d.path()).exists());
    // The dry run probes the lock and predicts the same refusal.
    let rep = reboot::reboot(&h, &RebootSpec::default(), &policy().dry_run(true));
    assert_eq!(rep.exit_code(), 3);
    assert_eq!(refused_rule(&rep.error), "lock");
}

#[test]
fn a_cap_below_reboot_refuses_before_recording() {
    let d = copy_root("none");
    systemd(d.path());
    let (h, rec) = host(d.path());
    let rep = reboot::reboot(&h, &RebootSpec::default(), &Policy::new(Risk::Destructive));
    assert_eq!(rep.exit_code(), 3);
    assert!(matches!(
        rep.error,
        Some(Error::Refused(Refusal::RiskAboveCap {
            needed: Risk::Reboot,
            ..
        }))
    ));
    assert!(reboot_calls(&rec).is_empty());
    assert!(
        !ledger_file(d.path()).exists(),
        "no entry for a reboot not taken"
    );
}

#[test]
fn bad_input_changes_nothing() {
    let d = copy_root("none");
    let (h, rec) = host(d.path());
    let cases = [
        with(RebootSpec::default(), |it| {
            it.rules = with(Rules::default(), |it| {
                it.max_attempts = 0;
            });
        }),
        with(RebootSpec::default(), |it| {
            it.rules = with(Rules::default(), |it| {
                it.once = Some("two words".into());
            });
        }),
        with(RebootSpec::default(), |it| {
            it.rules = with(Rules::default(), |it| {
                it.window = Duration::ZERO;
            });
        }),
        with(RebootSpec::default(), |it| {
            it.when = Some("  ".into());
        }),
    ];
    for spec in cases {
        let rep = reboot::reboot(&h, &spec, &policy());
        assert_eq!(rep.exit_code(), 2, "{spec:?}");
    }
    for dir in ["/tmp/hostfix", "/run/hostfix", "var/lib/hostfix"] {
        let rep = reboot::reboot(&h, &RebootSpec::default(), &policy().state_dir(dir));
        assert_eq!(rep.exit_code(), 2, "{dir}");
        assert!(rep.error.unwrap().to_string().contains("--state-dir"));
    }
    assert!(rec.calls().is_empty());
    assert!(!d.path().join("var/lib/hostfix").exists());
}

#[test]
fn a_run_killed_between_recording_and_requesting_converges() {
    // kill -9 after the entry was written, before the request: the entry is `started`
    // with no `requested_at`, in the same boot.
    let d = copy_root("none");
    systemd(d.path());
    let (h, rec) = host(d.path());
    let mut l = Ledger::default();
    l.entries.push(with(LedgerEntry::default(), |it| {
        it.id = 1;
        it.key = Some("first-boot".into());
        it.reason = "requested by the caller".into();
        it.boot_id = BOOT_ID.into();
        it.machine_id = Some(MACHINE_ID.into());
        it.started_at = NOW;
        it.delay_secs = 0;
        it.method = "sync, systemctl reboot".into();
        it.state = EntryState::Started;
        it.requested_at = None;
        it.confirmed_at = None;
        it.confirmed_boot_id = None;
        it.error = None;
    }));
    reboot_common::write_ledger(d.path(), &l);
    let spec = with(RebootSpec::default(), |it| {
        it.rules = with(Rules::default(), |it| {
            it.once = Some("first-boot".into());
        });
    });
    // Right away it may still be underway: refused (the key is in use, it is pending).
    rec.set_now(at(NOW + 60));
    let rep = reboot::reboot(&h, &spec, &policy());
    assert_eq!(rep.exit_code(), 3);
    let refusing: Vec<&str> = rep
        .result
        .guard
        .iter()
        .filter(|v| v.verdict == hostfix::reboot::GuardVerdict::Refuse)
        .map(|v| v.rule.as_str())
        .collect();
    assert_eq!(refusing, ["once", "pending"]);
    // Past the grace period it never happened and was never asked for: the next run
    // reboots, and the key counts as used from then on.
    rec.set_now(at(NOW + 20 * 60));
    let rep = reboot::reboot(&h, &spec, &policy());
    assert_eq!(rep.exit_code(), 0, "{:?}", rep.error);
    assert_eq!(
        rep.result.history[0].status,
        EntryStatus::NeverHappened,
        "the interrupted run is reported"
    );
    assert!(rep.result.history[0].summary.contains("interrupted"));
    assert_eq!(read_ledger(d.path()).entries.len(), 2);
    rec.set_now(at(NOW + 40 * 60));
    let rep = reboot::reboot(&h, &spec, &policy());
    assert_eq!(refused_rule(&rep.error), "once");
}
