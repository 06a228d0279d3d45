//! The files hostfix reads under `/etc` for swap (fstab, its own sysctl file) never hang
//! or mislead a run: a FIFO, device or directory in their place is refused (exit 3) with
//! the path named, and `doctor` lists it as unseen. Fake roots, dry runs, any user.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hostfix::testing::FakeRoot;

/// Runs `hostfix --root ROOT --state-dir STATE --json ARGS`, killing it (by its pid)
/// and failing when it has not exited within 20 s.
fn hostfix(root: &Path, state: &Path, args: &[&str]) -> (i32, serde_json::Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hostfix"))
        .arg("--root")
        .arg(root)
        .arg("--state-dir")
        .arg(state)
        .arg("--json")
        .args(args)
        .env("PATH", "/nonexistent")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            let _ = child.wait();
            panic!("hostfix {} hung", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let j = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (out.status.code().unwrap_or(-1), j)
}

fn mkfifo(p: &Path) {
    nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
}

#[test]
fn a_fifo_as_fstab_or_the_sysctl_file_is_refused_without_hanging() {
    for (file, what) in [
        ("/etc/fstab", "/etc/fstab"),
        ("/etc/sysctl.d/90-hostfix-swap.conf", "90-hostfix-swap.conf"),
    ] {
        let root = FakeRoot::for_swap();
        let state = tempfile::tempdir().unwrap();
        let st = state.path().join("st");
        let real = root.join(file);
        std::fs::create_dir_all(real.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(&real);
        mkfifo(&real);
        let (code, j) = hostfix(
            root.path(),
            &st,
            &[
                "--dry-run",
                "swap",
                "ensure",
                "--size",
                "64M",
                "--path",
                "/swapfile",
            ],
        );
        assert_eq!(code, 3, "{file}: {j}");
        let e = j["error"].as_str().unwrap();
        assert!(e.contains(what) && e.contains("FIFO"), "{file}: {e}");
    }
}

#[test]
fn doctor_lists_a_fifo_as_fstab_as_unseen() {
    let root = FakeRoot::for_swap();
    let state = tempfile::tempdir().unwrap();
    let real = root.join("/etc/fstab");
    std::fs::remove_file(&real).unwrap();
    mkfifo(&real);
    let (code, j) = hostfix(
        root.path(),
        &state.path().join("st"),
        &["doctor", "--port", "1"],
    );
    assert_eq!(code, 0, "{j}");
    let unseen = j["unseen"].to_string();
    assert!(unseen.contains("/etc/fstab"), "{unseen}");
}
