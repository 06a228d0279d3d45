//! hostfix's own state files (the reboot ledger, the container reboot records, the
//! port-free removal ledger) are regular files or refused, whatever sits in their place:
//! no link followed, no FIFO blocked on, nothing hostile believed. Ledger ids never wrap;
//! a `..` in `--state-dir` never walks out of the volatile-directory check; the host lock
//! is held only while editing. Any user (fake roots; the CLI runs with `--root`).

mod reboot_common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hostfix::error::{Error, Refusal};
use hostfix::reboot::{self, EntryState, LedgerEntry, RebootSpec};
use hostfix::testing::reboot::Ledger;
use hostfix::testing::state::{HOST_LOCK, HostLock, MAX_STATE_FILE};
use hostfix::testing::with;
use hostfix::testing::{Call, RecordingSystem};
use hostfix::{Host, Policy, Risk};
use reboot_common::{BOOT_ID, MACHINE_ID, NOW, at, copy_root, host, ledger_file};

/// Runs `hostfix --root ROOT ARGS`, killing it (by its pid) and failing when it has not
/// exited within `limit`: a state file must never make hostfix hang.
fn hostfix_within(root: &Path, args: &[&str], limit: Duration) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hostfix"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env("PATH", "/nonexistent")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "hostfix {} hung for {limit:?}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn private_dir(p: &Path) {
    std::fs::create_dir_all(p).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700)).unwrap();
}

fn mkfifo(p: &Path) {
    nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
}

fn entry(id: u64, boot: &str, state: EntryState) -> LedgerEntry {
    with(LedgerEntry::default(), |it| {
        it.id = id;
        it.key = None;
        it.reason = format!("reason {id}");
        it.boot_id = boot.into();
        it.machine_id = Some(MACHINE_ID.into());
        it.started_at = NOW - 86_400;
        it.delay_secs = 0;
        it.method = "sync, systemctl reboot".into();
        it.state = state;
        it.requested_at = Some(NOW - 86_400);
        it.confirmed_at = None;
        it.confirmed_boot_id = None;
        it.error = None;
    })
}

#[test]
fn a_fifo_as_the_reboot_ledger_is_refused_without_hanging() {
    let d = copy_root("none");
    private_dir(&d.path().join("var/lib/hostfix"));
    mkfifo(&ledger_file(d.path()));
    let limit = Duration::from_secs(60);

    let (code, out, err) = hostfix_within(d.path(), &["--json", "doctor", "--port", "1"], limit);
    assert_eq!(code, 0, "{out}{err}");
    let j = json(&out);
    let ledger = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["title"].as_str().unwrap().contains("reboot ledger"))
        .unwrap_or_else(|| panic!("no ledger finding: {j:#}"));
    let evidence = ledger["evidence"][0].as_str().unwrap();
    assert!(evidence.contains("a FIFO"), "{evidence}");
    assert!(
        evidence.contains("/var/lib/hostfix/reboot-ledger.json"),
        "{evidence}"
    );

    let (code, out, err) = hostfix_within(d.path(), &["--json", "reboot", "--dry-run"], limit);
    assert_eq!(code, 3, "{out}{err}");
    let j = json(&out);
    let e = j["error"].as_str().unwrap();
    assert!(
        e.contains("guard rule ledger") && e.contains("a FIFO"),
        "{e}"
    );
    // Still a FIFO: never replaced, never read.
    let m = std::fs::symlink_metadata(ledger_file(d.path())).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&m.file_type()));
}

/// A `docker` under the root that knows no container (every inspect: no such container).
const NO_CONTAINERS: &str = r#"#!/bin/sh
case "$1" in
container) echo "Error response from daemon: No such container: $5" >&2; exit 1 ;;
ps) exit 0 ;;
info) echo false ;;
*) echo "fake docker: $*" >&2; exit 2 ;;
esac
"#;

#[test]
fn unusable_container_records_are_reported_and_never_block_a_run() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    std::fs::create_dir_all(r.join("usr/bin")).unwrap();
    std::fs::create_dir_all(r.join("proc/sys/kernel/random")).unwrap();
    std::fs::write(
        r.join("proc/sys/kernel/random/boot_id"),
        format!("{BOOT_ID}\n"),
    )
    .unwrap();
    let docker = r.join("usr/bin/docker");
    std::fs::write(&docker, NO_CONTAINERS).unwrap();
    std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).unwrap();
    let records = r.join("var/lib/hostfix/container");
    private_dir(&r.join("var/lib/hostfix"));
    private_dir(&records);
    let id = |c: char| std::iter::repeat_n(c, 64).collect::<String>();
    // A FIFO, a torn write, a record of another version, a dead writer's temp file.
    mkfifo(&records.join(format!("{}.reboot.json", id('a'))));
    std::fs::write(
        records.join(format!("{}.reboot.json", id('b'))),
        format!(
            r#"{{"id":"{}","name":"web","boot_id":"x","requested"#,
            id('b')
        ),
    )
    .unwrap();
    std::fs::write(
        records.join(format!("{}.reboot.json", id('c'))),
        format!(
            r#"{{"version":9,"id":"{}","name":"web","boot_id":"x","requested_at":1,"reason":"r"}}"#,
            id('c')
        ),
    )
    .unwrap();

    let (code, out, err) = hostfix_within(
        r,
        &["--json", "container", "rm", "web"],
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "{out}{err}");
    let j = json(&out);
    assert_eq!(j["already_gone"], true, "{j:#}");
    let notes: Vec<&str> = j["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] == "read hostfix's reboot record")
        .map(|s| s["detail"].as_str().unwrap())
        .collect();
    assert_eq!(notes.len(), 3, "{j:#}");
    assert!(notes.iter().any(|n| n.contains("a FIFO")), "{notes:?}");
    assert!(
        notes
            .iter()
            .any(|n| n.contains("corrupt") && n.contains(".broken")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.contains("format version 9")),
        "{notes:?}"
    );
    // Reported, not deleted: hostfix does not remove what it cannot read.
    assert_eq!(std::fs::read_dir(&records).unwrap().count(), 3);
}

#[test]
fn dotdot_cannot_walk_out_of_the_volatile_state_dir_check() {
    let h = Host::fake("/nonexistent-root");
    for sneaky in ["/var/lib/../../run/x", "/var/lib/hostfix/../../../tmp/h"] {
        let e = hostfix::testing::reboot::check_state_dir(&h, Path::new(sneaky)).unwrap_err();
        assert!(e.to_string().contains("emptied at boot"), "{sneaky}: {e}");
    }
    let d = copy_root("none");
    let (code, out, err) = hostfix_within(
        d.path(),
        &[
            "--json",
            "--state-dir",
            "/var/lib/../../run/x",
            "reboot",
            "--dry-run",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        json(&out)["error"].as_str().unwrap().contains("/run"),
        "{out}"
    );
}

#[test]
fn ledger_ids_never_wrap() {
    let d = copy_root("none");
    std::fs::create_dir_all(d.path().join("run/systemd/system")).unwrap();
    let (h, rec) = host(d.path());
    let mut l = Ledger::default();
    l.entries
        .push(entry(u64::MAX, "an-earlier-boot", EntryState::Confirmed));
    reboot_common::write_ledger(d.path(), &l);
    let before = std::fs::read(ledger_file(d.path())).unwrap();

    let rep = reboot::reboot(&h, &RebootSpec::default(), &Policy::new(Risk::Reboot));
    assert_eq!(rep.exit_code(), 3, "{:?}", rep.error);
    match &rep.error {
        Some(Error::Refused(Refusal::StateFile { path, why, reset })) => {
            assert_eq!(path, Path::new("/var/lib/hostfix/reboot-ledger.json"));
            assert!(why.contains("no id is left"), "{why}");
            assert!(
                reset.contains("mv /var/lib/hostfix/reboot-ledger.json"),
                "{reset}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read(ledger_file(d.path())).unwrap(), before);
    assert!(
        !rec.calls()
            .iter()
            .any(|c| matches!(c, Call::Reboot | Call::Sync))
    );
}

#[test]
fn hostile_ledgers_are_typed_errors_naming_the_file_and_the_reset() {
    let big = {
        let mut v = br#"{"version":1,"entries":[],"pad":""#.to_vec();
        v.resize(MAX_STATE_FILE as usize + 10, b'a');
        v.extend_from_slice(b"\"}");
        v
    };
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("too large", big, "larger than"),
        ("newer version", br#"{"version":7,"shape":"new"}"#.to_vec(), "format version 7"),
        ("version as text", br#"{"version":"1","entries":[]}"#.to_vec(), "format version"),
        ("huge version", br#"{"version":1e999,"entries":[]}"#.to_vec(), "not valid"),
        ("deep nesting", deep, "not valid"),
        (
            "id as text",
            br#"{"version":1,"entries":[{"id":"1","reason":"r","boot_id":"b","started_at":1,"method":"m","state":"started"}]}"#.to_vec(),
            "not valid",
        ),
        (
            "negative time",
            br#"{"version":1,"entries":[{"id":1,"reason":"r","boot_id":"b","started_at":-1,"method":"m","state":"started"}]}"#.to_vec(),
            "not valid",
        ),
    ];
    for (name, bytes, why) in cases {
        let d = copy_root("none");
        let (h, _) = host(d.path());
        let f = ledger_file(d.path());
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, &bytes).unwrap();
        let e = hostfix::testing::reboot::ledger::read_ledger(&h, Path::new("/var/lib/hostfix"))
            .unwrap_err();
        match &e {
            Error::Refused(Refusal::StateFile {
                path,
                why: w,
                reset,
            }) => {
                assert_eq!(
                    path,
                    Path::new("/var/lib/hostfix/reboot-ledger.json"),
                    "{name}"
                );
                assert!(w.contains(why), "{name}: {w}");
                assert!(w.len() < 600, "{name}: the message quotes the file: {w}");
                assert!(reset.contains(".broken"), "{name}: {reset}");
            }
            other => panic!("{name}: {other:?}"),
        }
        assert_eq!(e.exit_code(), 3, "{name}");
    }
}

#[test]
fn links_and_special_files_in_place_of_a_ledger_are_refused() {
    let d = copy_root("none");
    let (h, _) = host(d.path());
    let dir = d.path().join("var/lib/hostfix");
    private_dir(&dir);
    let target = d.path().join("elsewhere.json");
    std::fs::write(&target, Ledger::default().to_bytes()).unwrap();
    std::os::unix::fs::symlink(&target, ledger_file(d.path())).unwrap();
    let e = hostfix::testing::reboot::ledger::read_ledger(&h, Path::new("/var/lib/hostfix"))
        .unwrap_err();
    assert!(e.to_string().contains("a symbolic link"), "{e}");
    std::fs::remove_file(ledger_file(d.path())).unwrap();
    std::fs::create_dir(ledger_file(d.path())).unwrap();
    let e = hostfix::testing::reboot::ledger::read_ledger(&h, Path::new("/var/lib/hostfix"))
        .unwrap_err();
    assert!(e.to_string().contains("a directory"), "{e}");
    // A state directory anyone can write to holds nothing to believe.
    std::fs::remove_dir(ledger_file(d.path())).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let e = hostfix::testing::reboot::ledger::read_ledger(&h, Path::new("/var/lib/hostfix"))
        .unwrap_err();
    assert!(e.to_string().contains("no one else can write"), "{e}");
}

#[test]
fn a_dead_writers_temp_file_is_swept_by_the_next_write() {
    let d = copy_root("none");
    std::fs::create_dir_all(d.path().join("run/systemd/system")).unwrap();
    let (h, _) = host(d.path());
    let dir = d.path().join("var/lib/hostfix");
    private_dir(&dir);
    // Left by a run killed between writing its temp file and renaming it.
    let dead = dir.join(".reboot-ledger.json.hostfix-2000000000.tmp");
    std::fs::write(&dead, b"{\"version\":1,\"entr").unwrap();
    let rep = reboot::reboot(&h, &RebootSpec::default(), &Policy::new(Risk::Reboot));
    assert_eq!(rep.exit_code(), 0, "{:?}", rep.error);
    assert!(!dead.exists());
    assert_eq!(reboot_common::read_ledger(d.path()).entries.len(), 1);
}

/// A power cut between a write's fsynced temp file and its rename leaves the temp file;
/// after the reboot its pid may be a live process's. The next run that may edit the host
/// (even a `reboot --if-needed` with nothing to do) removes it, and the temp files of
/// `/etc`, the unit directory and `/etc/sysctl.d`, but nothing of a live writer's and
/// nothing that is not exactly hostfix's.
#[test]
fn temp_files_of_writers_gone_are_swept_even_across_a_reboot() {
    let d = copy_root("none");
    std::fs::create_dir_all(d.path().join("run/systemd/system")).unwrap();
    let (h, _) = host(d.path());
    let state = d.path().join("var/lib/hostfix");
    private_dir(&state);
    private_dir(&state.join("swap"));
    for dir in ["etc/systemd/system", "etc/sysctl.d"] {
        std::fs::create_dir_all(d.path().join(dir)).unwrap();
    }
    let me = hostfix::testing::state::this_writer();
    let (start, boot) = me.run.clone().expect("start time and boot id from /proc");
    let other_boot = if boot == "000000000000" {
        "111111111111"
    } else {
        "000000000000"
    };
    let tag = |pid: i32, boot: &str| {
        hostfix::testing::state::TempWriter {
            pid,
            run: Some((start, boot.to_string())),
        }
        .suffix()
    };
    // The earlier boot's writer had this very pid: it is alive now, but another process.
    let gone = [
        state.join(format!(".reboot-ledger.json{}", tag(me.pid, other_boot))),
        state.join(format!(".x.json{}", tag(2_000_000_000, &boot))),
        d.path()
            .join(format!("etc/.fstab{}", tag(me.pid, other_boot))),
        d.path().join(format!(
            "etc/systemd/system/.a.swap{}",
            tag(me.pid, other_boot)
        )),
        d.path().join(format!(
            "etc/sysctl.d/.90-hostfix-swap.conf{}",
            tag(2_000_000_000, &boot)
        )),
    ];
    let kept = [
        // A live writer: this process.
        state.join(format!(".reboot-ledger.json{}", me.suffix())),
        // Look-alikes.
        state.join(format!("reboot-ledger.json{}", tag(2_000_000_000, &boot))),
        d.path()
            .join(format!("etc/.fstab{}~", tag(2_000_000_000, &boot))),
        d.path()
            .join("etc/.fstab.hostfix-2000000000-1-notaboottag.tmp"),
    ];
    for f in gone.iter().chain(&kept) {
        std::fs::write(f, b"{\"version\":1,\"entr").unwrap();
    }
    // A dry run changes nothing.
    let spec = with(RebootSpec::default(), |s| s.if_needed = true);
    let dry = reboot::reboot(&h, &spec, &Policy::new(Risk::Reboot).dry_run(true));
    assert_eq!(dry.exit_code(), 0, "{:?}", dry.error);
    assert!(gone.iter().all(|f| f.exists()));
    // No reboot is needed and no ledger entry waits: the run still takes the lock to
    // sweep.
    let rep = reboot::reboot(&h, &spec, &Policy::new(Risk::Reboot));
    assert_eq!(rep.exit_code(), 0, "{:?}", rep.error);
    assert!(!rep.changed, "a sweep is not a change of the host's state");
    for f in &gone {
        assert!(!f.exists(), "{} was left", f.display());
    }
    for f in &kept {
        assert!(f.exists(), "{} was removed", f.display());
    }
    assert!(!ledger_file(d.path()).exists(), "no ledger written");
}

#[test]
fn the_host_lock_is_not_held_while_a_reboot_waits_out_its_delay() {
    // No systemd: hostfix itself waits out the delay, then asks `shutdown -r now`.
    let d = copy_root("none");
    // When asked to wait a second or more, the recorder checks whether another process
    // could take the host lock now.
    let rec = Arc::new(RecordingSystem::new());
    rec.set_now(at(NOW));
    let lock = d.path().join(HOST_LOCK.trim_start_matches('/'));
    let free_during_waits = Arc::new(Mutex::new(Vec::new()));
    let seen = free_during_waits.clone();
    rec.on_sleep(move |d| {
        if d >= Duration::from_secs(1) {
            // A separate open file description: flock conflicts with our own lock too.
            let f = std::fs::File::open(&lock).unwrap();
            let free =
                nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock).is_ok();
            seen.lock().unwrap().push(free);
        }
    });
    let h = Host::with_system(d.path(), rec.clone());
    let spec = with(RebootSpec::default(), |it| {
        it.delay = Duration::from_secs(90);
    });
    let rep = reboot::reboot(&h, &spec, &Policy::new(Risk::Reboot));
    assert_eq!(rep.exit_code(), 0, "{:?}", rep.error);
    assert_eq!(*free_during_waits.lock().unwrap(), vec![true]);
    assert!(rec.calls().contains(&Call::Sleep(Duration::from_secs(90))));
    assert!(rec.commands().iter().any(|c| c == "shutdown -r now"));
    // The lock was taken again for the ledger's update after the wait.
    let l = reboot_common::read_ledger(d.path());
    assert_eq!(l.entries[0].requested_at, Some(NOW + 90));
}

#[test]
fn a_dry_run_takes_no_lock_and_creates_nothing() {
    let d = copy_root("none");
    std::fs::create_dir_all(d.path().join("run/systemd/system")).unwrap();
    let (h, _) = host(d.path());
    let rep = reboot::reboot(
        &h,
        &RebootSpec::default(),
        &Policy::new(Risk::Reboot).dry_run(true),
    );
    assert_eq!(rep.exit_code(), 0, "{:?}", rep.error);
    assert!(!d.path().join("run/hostfix").exists());
    assert!(!d.path().join("var/lib/hostfix").exists());
    // And while another run holds it, the probe predicts the refusal without waiting.
    let _held = HostLock::acquire(&h, Duration::ZERO).unwrap();
    let rep = reboot::reboot(
        &h,
        &RebootSpec::default(),
        &Policy::new(Risk::Reboot).dry_run(true),
    );
    assert_eq!(rep.exit_code(), 3);
    assert!(
        rep.error
            .unwrap()
            .to_string()
            .contains("holds the host lock /run/hostfix/lock")
    );
}

#[test]
fn doctor_names_a_run_holding_the_host_lock_without_taking_it() {
    let d = copy_root("none");
    let (h, _) = host(d.path());
    let editing = |diag: &hostfix::doctor::Diagnosis| {
        diag.findings
            .iter()
            .find(|f| f.title.contains("editing the host"))
            .cloned()
    };
    let mut diag = hostfix::doctor::Diagnosis::default();
    hostfix::testing::reboot::diagnose_in(&h, Path::new("/var/lib/hostfix"), &mut diag);
    assert!(editing(&diag).is_none(), "{diag:#?}");
    assert!(
        !d.path().join("run/hostfix").exists(),
        "the probe made something"
    );
    let held = HostLock::acquire(&h, Duration::ZERO).unwrap();
    let mut diag = hostfix::doctor::Diagnosis::default();
    hostfix::testing::reboot::diagnose_in(&h, Path::new("/var/lib/hostfix"), &mut diag);
    let f = editing(&diag).unwrap_or_else(|| panic!("{diag:#?}"));
    assert!(f.evidence[0].contains(HOST_LOCK), "{f:?}");
    // The probe let go at once: the holder still holds, and after it, anyone may take it.
    drop(held);
    HostLock::acquire(&h, Duration::ZERO).unwrap();
}

#[test]
fn unusable_removal_ledgers_are_reported_never_acted_on() {
    let good_but = |packages: &str| {
        format!(
            r#"{{"manager":"dpkg","packages":{packages},"sources":["nginx"],"removes":["nginx"],"command":"apt-get remove"}}"#
        )
    };
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("a FIFO", None, "a FIFO"),
        ("torn", Some(r#"{"manager":"dpkg","packages":["ngi"#.into()), "corrupt"),
        (
            "an option for a name",
            Some(good_but(r#"["-oAPT::Update::Pre-Invoke::=touch /tmp/pwned"]"#)),
            "is not a package name",
        ),
        ("a path for a name", Some(good_but(r#"["../../bin/sh"]"#)), "is not a package name"),
        ("no package", Some(good_but("[]")), "names no package"),
        (
            "another manager's",
            Some(good_but(r#"["nginx"]"#).replace("\"dpkg\"", "\"rpm\"")),
            "planned for rpm",
        ),
        (
            "another version",
            Some(r#"{"version":3,"manager":"dpkg","packages":["nginx"],"sources":[],"removes":[],"command":""}"#.into()),
            "format version 3",
        ),
    ];
    for (name, text, why) in cases {
        let d = tempfile::tempdir().unwrap();
        // A Debian host (an empty dpkg database) whose port 80 is free.
        std::fs::create_dir_all(d.path().join("var/lib/dpkg")).unwrap();
        std::fs::write(d.path().join("var/lib/dpkg/status"), "").unwrap();
        let dir = d.path().join("var/lib/hostfix");
        private_dir(&dir);
        let f = dir.join("port-free-tcp-80.json");
        match &text {
            Some(t) => std::fs::write(&f, t).unwrap(),
            None => mkfifo(&f),
        }
        let rec = Arc::new(RecordingSystem::new());
        let h = Host::with_system(d.path(), rec.clone());
        let spec = with(hostfix::port::FreeSpec::tcp(80), |it| {
            it.remove_package = true;
        });
        // On its own thread: a FIFO must not hang the run (the test fails instead).
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rep = hostfix::port::free_port(&h, &spec, &Policy::new(Risk::Destructive));
            let _ = tx.send((rep.exit_code(), rep.steps));
        });
        let (code, steps) = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("{name}: port free hung"));
        assert_eq!(code, 0, "{name}: {steps:#?}");
        let note = steps
            .iter()
            .find(|s| s.action == "an earlier run's removal")
            .unwrap_or_else(|| panic!("{name}: not reported: {steps:#?}"));
        assert!(
            note.detail.contains("not resumed"),
            "{name}: {}",
            note.detail
        );
        assert!(note.detail.contains(why), "{name}: {}", note.detail);
        assert!(
            note.detail
                .contains("/var/lib/hostfix/port-free-tcp-80.json"),
            "{name}: {}",
            note.detail
        );
        assert!(rec.commands().is_empty(), "{name}: {:?}", rec.commands());
        assert!(std::fs::symlink_metadata(&f).is_ok(), "{name}: removed");
    }
}
