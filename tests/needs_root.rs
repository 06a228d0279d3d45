//! Run as a user who is not root, hostfix says "needs root", never "corrupt": `doctor`
//! lists the root-only reboot ledger as unseen, `reboot` refuses with
//! `Refusal::NeedsRoot` (exit 3), and a dry run still shows the whole plan, marking the
//! steps that need root. The root tier drops to `nobody` for each run (so it runs as
//! root only: skipped loudly otherwise, a failure under `HOSTFIX_REQUIRE_ROOT=1`).

mod reboot_common;
#[path = "support/tiers.rs"]
mod tiers;

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use hostfix::reboot::{EntryState, LedgerEntry};
use hostfix::testing::reboot::Ledger;
use hostfix::testing::with;
use reboot_common::{MACHINE_ID, NOW, copy_root};
use serial_test::serial;

const NOBODY: u32 = 65534;

/// Whether this runs as root (the test drops to `nobody` from root); skips loudly when
/// not (a failure under `HOSTFIX_REQUIRE_ROOT=1`).
#[track_caller]
fn root_tier() -> bool {
    tiers::root("dropping to uid 65534 for each run")
}

/// A fake root any user can walk through, with root's private state directory holding a
/// good ledger; and a copy of the binary any user can run.
struct Setup {
    root: hostfix::testing::FakeRoot,
    bin_dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let root = copy_root("none");
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut l = Ledger::default();
        l.entries.push(with(LedgerEntry::default(), |it| {
            it.id = 1;
            it.key = None;
            it.reason = "kernel".into();
            it.boot_id = "an-earlier-boot".into();
            it.machine_id = Some(MACHINE_ID.into());
            it.started_at = NOW - 86_400;
            it.delay_secs = 0;
            it.method = "sync, systemctl reboot".into();
            it.state = EntryState::Confirmed;
            it.requested_at = Some(NOW - 86_400);
            it.confirmed_at = Some(NOW - 86_000);
            it.confirmed_boot_id = None;
            it.error = None;
        }));
        reboot_common::write_ledger(root.path(), &l);
        let state = root.path().join("var/lib/hostfix");
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
        // The host lock as root's runs leave it: /run/hostfix is root's, 0700.
        let run = root.path().join("run/hostfix");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(run.join("lock"), b"").unwrap();
        let bin_dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(bin_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::copy(
            env!("CARGO_BIN_EXE_hostfix"),
            bin_dir.path().join("hostfix"),
        )
        .unwrap();
        Setup { root, bin_dir }
    }

    fn bin(&self) -> PathBuf {
        self.bin_dir.path().join("hostfix")
    }

    /// Runs hostfix as `nobody` with `--root`, no PATH (nothing it could start), and
    /// returns the exit code and the JSON report.
    fn as_nobody(&self, args: &[&str]) -> (i32, serde_json::Value, String) {
        let out = Command::new(self.bin())
            .arg("--root")
            .arg(self.root.path())
            .arg("--json")
            .args(args)
            .env_clear()
            .env("PATH", "/nonexistent")
            .current_dir("/")
            .uid(NOBODY)
            .gid(NOBODY)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let j = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}{stderr}"));
        (out.status.code().unwrap_or(-1), j, stdout)
    }

    fn path(&self, p: &str) -> PathBuf {
        self.root.path().join(p)
    }
}

/// No message may blame the ledger or tell the user to move it: it is fine, only
/// unreadable to this user.
fn never_blames_the_ledger(out: &str) {
    for bad in ["corrupt", "broken", "mv /", "fix its permissions"] {
        assert!(!out.contains(bad), "{bad:?} in {out}");
    }
}

#[test]
#[serial]
fn doctor_as_non_root_says_the_ledger_needs_root() {
    if !root_tier() {
        return;
    }
    let s = Setup::new();
    let (code, j, out) = s.as_nobody(&["doctor", "--port", "1"]);
    assert_eq!(code, 0, "{out}");
    never_blames_the_ledger(&out);
    let unseen: Vec<&str> = j["unseen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert!(
        unseen
            .iter()
            .any(|u| u.contains("reboot-ledger.json") && u.contains("readable only by root")),
        "{unseen:#?}"
    );
}

#[test]
#[serial]
fn reboot_as_non_root_refuses_with_needs_root() {
    if !root_tier() {
        return;
    }
    let s = Setup::new();
    // The cap below `reboot` is a second guard: even a broken build asks for nothing.
    let (code, j, out) = s.as_nobody(&["reboot", "--max-risk", "additive"]);
    assert_eq!(code, 3, "{out}");
    assert_eq!(j["outcome"], "refused");
    never_blames_the_ledger(&out);
    let e = j["error"].as_str().unwrap();
    assert!(e.contains("needs root"), "{e}");
    let refused = j["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["status"] == "refused")
        .unwrap_or_else(|| panic!("no refused step: {out}"));
    assert_eq!(refused["needs_root"], true, "{out}");
    assert_eq!(std::fs::read_dir(s.path("run/hostfix")).unwrap().count(), 1);
}

#[test]
#[serial]
fn a_dry_run_as_non_root_shows_the_whole_plan_and_marks_what_needs_root() {
    if !root_tier() {
        return;
    }
    let s = Setup::new();
    let (code, j, out) = s.as_nobody(&["reboot", "--dry-run"]);
    assert_eq!(code, 0, "{out}");
    never_blames_the_ledger(&out);
    let guard = j["guard"].as_array().unwrap();
    for rule in ["ledger", "lock", "pending", "max-attempts"] {
        let v = guard.iter().find(|v| v["rule"] == rule).unwrap();
        assert_eq!(v["verdict"], "unknown", "{rule}: {out}");
        assert!(
            v["detail"].as_str().unwrap().contains("root"),
            "{rule}: {out}"
        );
    }
    let planned: Vec<&serde_json::Value> = j["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "planned")
        .collect();
    let actions: Vec<&str> = planned
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(planned.len(), 2, "{out}");
    assert!(
        actions[0].starts_with("record the reboot in"),
        "{actions:?}"
    );
    // No systemd under this root: the orderly way is `shutdown -r now`.
    assert_eq!(actions[1], "sync, shutdown -r now", "{actions:?}");
    for p in planned {
        assert_eq!(p["needs_root"], true, "{out}");
        assert!(
            p["detail"].as_str().unwrap().contains("needs root"),
            "{out}"
        );
    }
    assert_eq!(std::fs::read_dir(s.path("run/hostfix")).unwrap().count(), 1);
}

/// Gives a tree to `nobody`, links not followed.
fn give_to_nobody(p: &Path) {
    std::os::unix::fs::lchown(p, Some(NOBODY), Some(NOBODY)).unwrap();
    if std::fs::symlink_metadata(p).unwrap().is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            give_to_nobody(&e.unwrap().path());
        }
    }
}

/// Runs the binary of `s` as `nobody` with `args` (no `--root` added), returning the exit
/// code and the JSON report.
fn run_as_nobody(s: &Setup, args: &[OsString]) -> (i32, serde_json::Value, String) {
    let out = Command::new(s.bin())
        .arg("--json")
        .args(args)
        .env_clear()
        .env("PATH", "/nonexistent")
        .current_dir("/")
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let j = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (out.status.code().unwrap_or(-1), j, stdout)
}

/// The planned steps of a report; each must say it needs root.
fn planned_need_root(j: &serde_json::Value, out: &str) -> Vec<String> {
    let planned: Vec<&serde_json::Value> = j["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "planned")
        .collect();
    for p in &planned {
        assert_eq!(p["needs_root"], true, "{out}");
        assert!(
            p["detail"].as_str().unwrap().contains("needs root"),
            "{out}"
        );
    }
    planned
        .iter()
        .map(|p| p["action"].as_str().unwrap().to_string())
        .collect()
}

#[test]
#[serial]
fn a_swap_dry_run_as_non_root_shows_the_whole_plan() {
    if !root_tier() {
        return;
    }
    let s = Setup::new();
    // A host of the user's own: a swap-ready fake root and state directory owned by nobody.
    let root = hostfix::testing::FakeRoot::for_swap();
    let state = tempfile::tempdir().unwrap();
    give_to_nobody(root.path());
    give_to_nobody(state.path());
    let fstab = root.read("/etc/fstab");
    let st = state.path().join("st");
    let on_fake = |extra: &[&str]| {
        let mut a: Vec<OsString> = extra.iter().map(OsString::from).collect();
        a.extend([
            "--root".into(),
            root.path().into(),
            "--state-dir".into(),
            st.clone().into(),
        ]);
        a.extend(["swap", "ensure", "--size", "1G", "--path", "/swapfile"].map(OsString::from));
        run_as_nobody(&s, &a)
    };
    let (code, j, out) = on_fake(&["--dry-run"]);
    assert_eq!(code, 0, "{out}");
    let actions = planned_need_root(&j, &out);
    for want in [
        "create /swapfile",
        "write swap header",
        "swapon /swapfile",
        "persist /swapfile",
    ] {
        assert!(
            actions.iter().any(|a| a.starts_with(want)),
            "{want}: {actions:?}"
        );
    }
    assert!(!root.join("/swapfile").exists());
    assert_eq!(root.read("/etc/fstab"), fstab);
    // A real run as that user is refused before its first change.
    let (code, j, out) = on_fake(&[]);
    assert_eq!(code, 3, "{out}");
    assert!(j["error"].as_str().unwrap().contains("needs root"), "{out}");
    assert!(!root.join("/swapfile").exists());
    assert_eq!(root.read("/etc/fstab"), fstab);

    // The real host, read only: a path that does not exist, a state directory of its own.
    let path = format!("/hostfix-dry-run-{}.swap", std::process::id());
    let mut args: Vec<OsString> = vec!["--dry-run".into(), "--state-dir".into(), st.into()];
    args.extend(["swap", "ensure", "--size", "1G", "--path", &path].map(OsString::from));
    let (code, j, out) = run_as_nobody(&s, &args);
    assert_eq!(code, 0, "{out}");
    let actions = planned_need_root(&j, &out);
    assert!(
        actions.iter().any(|a| a.starts_with("swapon")),
        "{actions:?}"
    );
    assert!(!Path::new(&path).exists());
}
