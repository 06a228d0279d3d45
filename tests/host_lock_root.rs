//! Root tests on the real kernel: one host lock serialises every edit of the host,
//! whatever `--state-dir` says. Eight real `hostfix swap ensure` processes on eight paths
//! with eight state directories all succeed and leave eight active swap files and eight
//! fstab lines; an `ensure` racing a `remove` of the same path with different state
//! directories ends in one consistent state (the file, its swap area and its fstab line
//! all there or all gone), and their exit codes and reports say which.
//!
//! Files live under a fake root (`--root`: `ROOT/mnt` is a loop-mounted ext4 image,
//! `ROOT/etc/fstab` a temp copy, `ROOT/proc` links to the real `/proc`); system calls are
//! real. The loop filesystem's guard swaps off everything under it, unmounts and detaches
//! even when a test fails. As root only: skipped loudly otherwise, and a failure under
//! `HOSTFIX_REQUIRE_ROOT=1`.

mod swap_support;

use std::process::{Child, Command, Stdio};

use serial_test::serial;
use swap_support::{FakeRoot, LoopFs, live_root, real_swaps_under};

/// Whether the root tier can run here; skips loudly when not (a failure under
/// `HOSTFIX_REQUIRE_ROOT=1`).
#[track_caller]
fn root_tier() -> bool {
    swap_support::root_or_skip(&["mkfs.ext4", "losetup", "mount"])
}

fn spawn_args(root: &FakeRoot, state_dir: &str, args: &[String]) -> Child {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    spawn(root, state_dir, &a)
}

fn spawn(root: &FakeRoot, state_dir: &str, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_hostfix"))
        .arg("--root")
        .arg(root.path())
        .args(["--state-dir", state_dir, "--json"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for a run; its exit code and JSON report.
fn finish(c: Child) -> (i32, serde_json::Value, String) {
    let out = c.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let j = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    (
        out.status.code().unwrap_or(-1),
        j,
        format!("{stdout}\n{stderr}"),
    )
}

/// The fstab lines whose first field is `path`.
fn fstab_lines_for(root: &FakeRoot, path: &str) -> usize {
    root.read("/etc/fstab")
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(path))
        .count()
}

#[test]
#[serial]
fn eight_runs_with_eight_state_dirs_keep_every_swap_and_every_fstab_line() {
    if !root_tier() {
        return;
    }
    let root = live_root();
    let fs = LoopFs::ext4(&root.join("/mnt"));
    let before = root.read("/etc/fstab");
    let children: Vec<(String, Child)> = (0..8)
        .map(|n| {
            let path = format!("/mnt/s{n}");
            let state = format!("/state{n}");
            let c = spawn(
                &root,
                &state,
                &[
                    "swap",
                    "ensure",
                    "--size",
                    "16M",
                    "--path",
                    &path,
                    "--persist",
                    "fstab",
                    "--keep-free",
                    "8M",
                ],
            );
            (path, c)
        })
        .collect();
    for (path, c) in children {
        let (code, j, all) = finish(c);
        assert_eq!(code, 0, "{path}: {all}");
        assert_eq!(j["active"], true, "{path}: {all}");
    }
    let active = real_swaps_under(&fs.mount);
    assert_eq!(active.len(), 8, "{active:#?}");
    let fstab = root.read("/etc/fstab");
    for n in 0..8 {
        let path = format!("/mnt/s{n}");
        assert!(
            active.iter().any(|e| e.path == root.join(&path)),
            "{path} not active: {active:#?}"
        );
        assert_eq!(fstab_lines_for(&root, &path), 1, "{path}:\n{fstab}");
    }
    // Every line that was there is still there, in order, first.
    assert!(fstab.starts_with(&before), "{fstab}");
    assert_eq!(fstab.lines().count(), before.lines().count() + 8, "{fstab}");
}

/// What a race of `ensure` and `remove` of one path left, checked for consistency: the
/// file, its `/proc/swaps` entry and its fstab line are all there or all gone, and no
/// deleted file is still swapped on.
fn settled(root: &FakeRoot, fs: &LoopFs, path: &str) -> bool {
    let real = root.join(path);
    let active = real_swaps_under(&fs.mount);
    assert!(
        active
            .iter()
            .all(|e| e.path.exists() && !e.path.to_string_lossy().contains("(deleted)")),
        "a deleted file is still swapped on: {active:#?}"
    );
    let listed = active.iter().any(|e| e.path == real);
    let lines = fstab_lines_for(root, path);
    let exists = std::fs::symlink_metadata(&real).is_ok();
    assert!(
        (listed && exists && lines == 1) || (!listed && !exists && lines == 0),
        "inconsistent: listed {listed}, exists {exists}, fstab lines {lines}\n{}",
        root.read("/etc/fstab")
    );
    listed
}

fn ensure_args(path: &str) -> Vec<String> {
    [
        "swap",
        "ensure",
        "--size",
        "16M",
        "--path",
        path,
        "--persist",
        "fstab",
        "--keep-free",
        "8M",
    ]
    .map(String::from)
    .to_vec()
}

fn remove_args(path: &str) -> Vec<String> {
    ["swap", "remove", "--path", path]
        .map(String::from)
        .to_vec()
}

fn run(root: &FakeRoot, state_dir: &str, args: &[String]) -> (i32, serde_json::Value, String) {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    finish(spawn(root, state_dir, &a))
}

#[test]
#[serial]
fn ensure_racing_remove_with_other_state_dirs_ends_consistently() {
    if !root_tier() {
        return;
    }
    let root = live_root();
    let fs = LoopFs::ext4(&root.join("/mnt"));
    let (ensure_dir, remove_dir) = ("/state-ensure", "/state-remove");
    let mut outcomes = Vec::new();
    for round in 0..18 {
        // A path per round, so no round meets an earlier one's records. Before the race
        // the file is missing, or made by the remover's state dir, or by the ensurer's.
        let path = format!("/mnt/swap{round}");
        let maker = [None, Some(remove_dir), Some(ensure_dir)][round % 3];
        if let Some(dir) = maker {
            let (code, _, all) = run(&root, dir, &ensure_args(&path));
            assert_eq!(code, 0, "setup: {all}");
        }
        assert_eq!(
            settled(&root, &fs, &path),
            maker.is_some(),
            "round {round} setup"
        );
        let (e, r) = if round % 2 == 0 {
            let e = spawn_args(&root, ensure_dir, &ensure_args(&path));
            (e, spawn_args(&root, remove_dir, &remove_args(&path)))
        } else {
            let r = spawn_args(&root, remove_dir, &remove_args(&path));
            (spawn_args(&root, ensure_dir, &ensure_args(&path)), r)
        };
        let (ecode, ej, eall) = finish(e);
        let (rcode, rj, rall) = finish(r);
        let both = format!("round {round}\nensure: {eall}\nremove: {rall}");
        // Each run either did its job or refused before touching anything: never a
        // failure half-way (exit 1), and its report agrees with its exit code.
        for (code, j) in [(ecode, &ej), (rcode, &rj)] {
            assert!(code == 0 || code == 3, "{both}");
            assert_eq!(j["exit_code"], code, "{both}");
        }
        let active = settled(&root, &fs, &path);
        if active {
            // The ensure ran last, or the remove refused: the ensure says so.
            assert_eq!(ecode, 0, "{both}");
            assert_eq!(ej["active"], true, "{both}");
            assert!(
                rcode == 3 || rj["existed"] == false || ej["changed"] == true,
                "{both}"
            );
        } else {
            // The remove ran last and removed the file (the ensure, if it succeeded, ran
            // before it).
            assert_eq!(rcode, 0, "{both}");
            assert_eq!(
                (&rj["existed"], &rj["gone"]),
                (&true.into(), &true.into()),
                "{both}"
            );
        }
        outcomes.push((maker.unwrap_or("-"), ecode, rcode, active));
        // Back to nothing: the run whose records made the file removes it.
        if active {
            let gone = [ensure_dir, remove_dir]
                .iter()
                .any(|d| run(&root, d, &remove_args(&path)).0 == 0 && !settled(&root, &fs, &path));
            assert!(gone, "round {round}: no state dir could remove {path}");
        }
    }
    eprintln!("(made by, ensure exit, remove exit, active at the end): {outcomes:?}");
}
