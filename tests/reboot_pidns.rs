//! As root: the real reboot path, run as PID 1 of a new PID namespace.
//!
//! `reboot(2)` called by the init of a non-initial PID namespace ends that namespace (its
//! init is killed with SIGHUP) instead of the machine. So the built `hostfix` binary runs
//! under `unshare --pid --fork --mount --mount-proc`, with the syscall method forced and an
//! empty tmpfs on `/run` (no systemctl or D-Bus call can reach the real init), after a
//! shell has checked that it is PID 1 of a PID namespace other than the test's. Any other
//! situation exits 95..99 before hostfix starts, and the test aborts.
//!
//! No test here can reboot the machine it runs on: the only process that calls
//! `reboot(2)` is PID 1 of a namespace the test just created.

mod reboot_common;
#[path = "support/tiers.rs"]
mod tiers;

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use hostfix::Host;
use hostfix::reboot::EntryState;
use hostfix::testing::reboot::Ledger;
use tiers::Tier;

const HOSTFIX: &str = env!("CARGO_BIN_EXE_hostfix");

/// Runs before anything in the namespace; exits 95..99 unless it is safe to go on.
const SAFETY: &str = r#"
[ "$$" = 1 ] || exit 99
[ "$(readlink /proc/self/ns/pid)" != "$HOSTFIX_TEST_PARENT_PIDNS" ] || exit 98
mount -t tmpfs -o size=1m,mode=0755 hostfix-test-run /run || exit 97
[ -z "$(ls -A /run)" ] || exit 96
[ ! -e /run/systemd/system ] || exit 95
exec "$@"
"#;

fn safety_failure(code: i32) -> Option<&'static str> {
    match code {
        99 => Some("not PID 1 of the new namespace"),
        98 => Some("still in the test's PID namespace"),
        97 => Some("could not mount a tmpfs on /run"),
        96 => Some("/run is not empty"),
        95 => Some("/run/systemd/system is visible"),
        _ => None,
    }
}

/// Why this machine cannot run these tests, if it cannot.
fn cannot_run() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not root (reboot(2) in a PID namespace needs root)".into());
    }
    for tool in ["unshare", "mount", "sh"] {
        if which::which(tool).is_err() {
            return Some(format!("{tool} is not installed"));
        }
    }
    let probe = Command::new("unshare")
        .args(["--pid", "--fork", "--mount", "--mount-proc", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match probe {
        Ok(s) if s.success() => None,
        Ok(s) => Some(format!("unshare --pid --mount does not work here ({s})")),
        Err(e) => Some(format!("unshare: {e}")),
    }
}

struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `hostfix ARGS` as PID 1 of a new PID and mount namespace.
fn hostfix_in_pidns(args: &[&str]) -> Run {
    let parent_ns = std::fs::read_link("/proc/self/ns/pid").unwrap();
    let mut child = Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "--kill-child",
            "--mount",
            "--propagation",
            "private",
            "--mount-proc",
            "sh",
            "-c",
            SAFETY,
            "sh",
            HOSTFIX,
        ])
        .args(args)
        .env("HOSTFIX_TEST_PARENT_PIDNS", parent_ns)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            // --kill-child takes the namespace down with unshare.
            let _ = child.kill();
            let _ = child.wait();
            panic!("hostfix in the PID namespace did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let run = Run {
        status,
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    };
    if let Some(why) = run.status.code().and_then(safety_failure) {
        panic!(
            "safety check failed, hostfix was not started: {why}\n{}",
            run.stderr
        );
    }
    run
}

/// A state directory that survives a reboot, as hostfix's own rule
/// (`reboot::check_state_dir`) judges it: cargo's target folder first, then (when the
/// checkout is under /tmp) a temporary folder in /var/lib, removed with the test (it runs
/// as root).
fn state_dir() -> Option<tempfile::TempDir> {
    for base in [env!("CARGO_TARGET_TMPDIR"), "/var/lib"] {
        let base = Path::new(base);
        if !base.is_dir() || hostfix::testing::reboot::check_state_dir(&Host::live(), base).is_err()
        {
            continue;
        }
        if let Ok(d) = tempfile::Builder::new()
            .prefix("hostfix-pidns-")
            .tempdir_in(base)
        {
            return Some(d);
        }
    }
    tiers::skip(
        Tier::Root,
        "no directory that survives a reboot to hold the ledger (the target folder and \
         /var/lib are volatile or on a tmpfs)",
    );
    None
}

fn ledger(dir: &Path) -> Option<Ledger> {
    let p = dir.join("reboot-ledger.json");
    if !p.exists() {
        return None;
    }
    Some(Ledger::parse(&std::fs::read_to_string(p).unwrap()).unwrap())
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .unwrap()
        .trim()
        .to_string()
}

#[test]
#[serial_test::serial]
fn allowed_reboot_ends_the_namespace_and_the_key_then_refuses() {
    if let Some(why) = cannot_run() {
        tiers::skip(Tier::Root, &why);
        return;
    }
    let Some(dir) = state_dir() else { return };
    let sd = dir.path().to_str().unwrap();
    let args = [
        "reboot",
        "--method",
        "syscall",
        "--once",
        "pidns-test",
        "--reason",
        "pid namespace test",
        "--state-dir",
        sd,
        "--json",
        "-v",
    ];
    let run = hostfix_in_pidns(&args);
    assert_eq!(
        run.status.signal(),
        Some(libc::SIGHUP),
        "reboot(2) must end the namespace's init with SIGHUP; got {:?}\nstdout:\n{}\nstderr:\n{}",
        run.status,
        run.stdout,
        run.stderr
    );
    assert!(
        run.stderr.contains("calling reboot(2)"),
        "the trail shows the syscall: {}",
        run.stderr
    );
    let l = ledger(dir.path()).expect("the entry is written before the reboot");
    assert_eq!(l.entries.len(), 1);
    let e = &l.entries[0];
    assert_eq!(e.key.as_deref(), Some("pidns-test"));
    assert_eq!(e.reason, "pid namespace test");
    assert_eq!(e.boot_id, boot_id());
    assert_eq!(e.method, "sync, reboot(2)");
    assert_eq!(e.state, EntryState::Started);
    assert!(e.requested_at.is_some());

    // The same key again: refused by `once` (and `pending`), exit 3, the namespace lives.
    let run = hostfix_in_pidns(&args);
    assert_eq!(
        run.status.code(),
        Some(3),
        "{:?}\n{}\n{}",
        run.status,
        run.stdout,
        run.stderr
    );
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["outcome"], "refused");
    assert_eq!(json["decision"], "refused");
    assert!(
        json["error"]
            .as_str()
            .unwrap()
            .starts_with("guard rule once:"),
        "{}",
        json["error"]
    );
    assert_eq!(
        ledger(dir.path()).unwrap().entries.len(),
        1,
        "nothing added"
    );
}

#[test]
#[serial_test::serial]
fn refused_reboot_leaves_the_namespace_running() {
    if let Some(why) = cannot_run() {
        tiers::skip(Tier::Root, &why);
        return;
    }
    let Some(dir) = state_dir() else { return };
    let sd = dir.path().to_str().unwrap();
    // The host has not been up for 300 days: min-uptime refuses.
    let run = hostfix_in_pidns(&[
        "reboot",
        "--method",
        "syscall",
        "--min-uptime",
        "300d",
        "--state-dir",
        sd,
        "--json",
    ]);
    assert_eq!(
        run.status.code(),
        Some(3),
        "{:?}\n{}\n{}",
        run.status,
        run.stdout,
        run.stderr
    );
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(
        json["error"]
            .as_str()
            .unwrap()
            .starts_with("guard rule min-uptime:"),
        "{}",
        json["error"]
    );
    let min_uptime = json["guard"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["rule"] == "min-uptime")
        .unwrap();
    assert_eq!(min_uptime["verdict"], "refuse");
    assert!(
        ledger(dir.path()).is_none(),
        "no entry for a refused reboot"
    );

    // A cap below `reboot`: refused before anything is recorded.
    let run = hostfix_in_pidns(&[
        "reboot",
        "--method",
        "syscall",
        "--max-risk",
        "destructive",
        "--state-dir",
        sd,
    ]);
    assert_eq!(
        run.status.code(),
        Some(3),
        "{:?}\n{}",
        run.status,
        run.stdout
    );
    assert!(
        run.stdout.contains("needs --max-risk reboot"),
        "{}",
        run.stdout
    );
    assert!(ledger(dir.path()).is_none());

    // A dry run decides, prints every rule, and changes nothing.
    let run = hostfix_in_pidns(&[
        "reboot",
        "--method",
        "syscall",
        "--dry-run",
        "--state-dir",
        sd,
    ]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{:?}\n{}",
        run.status,
        run.stderr
    );
    for rule in [
        "ledger",
        "lock",
        "once",
        "pending",
        "max-attempts",
        "min-uptime",
    ] {
        assert!(
            run.stdout.contains(&format!("] {rule}: ")),
            "{rule}: {}",
            run.stdout
        );
    }
    assert!(ledger(dir.path()).is_none());
}
