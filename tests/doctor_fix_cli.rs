//! `hostfix doctor --fix` on the command line, always as a dry run on a fake root (the
//! binary's system calls would act on this machine): the JSON contract, the exit code at
//! the cap, and the consent flag's rules.

use std::path::Path;
use std::process::Command;

/// A root without swap and 6% of 32 MiB available: doctor names `swap ensure`.
fn short_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let w = |rel: &str, text: &str| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    w(
        "proc/meminfo",
        "MemTotal:          32768 kB\nMemFree:            1024 kB\nMemAvailable:       2048 kB\n\
         Buffers:             100 kB\nCached:             1000 kB\nSwapTotal:             0 kB\n\
         SwapFree:              0 kB\n",
    );
    w(
        "proc/swaps",
        "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n",
    );
    w("etc/fstab", "# fstab\n");
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    dir
}

fn hostfix(root: &Path, args: &[&str]) -> (i32, serde_json::Value) {
    let state = root.join("state");
    let out = Command::new(env!("CARGO_BIN_EXE_hostfix"))
        .args(["--dry-run", "--json", "--root"])
        .arg(root)
        .arg("--state-dir")
        .arg(&state)
        .arg("doctor")
        .args(args)
        .args(["--port", "1"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), v)
}

#[test]
fn a_dry_run_plans_the_swap_fix_and_changes_nothing() {
    let root = short_root();
    let fstab = std::fs::read_to_string(root.path().join("etc/fstab")).unwrap();
    let (code, v) = hostfix(root.path(), &["--fix"]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["operation"], "doctor --fix");
    assert_eq!(
        (v["dry_run"].as_bool(), v["max_risk"].as_str()),
        (Some(true), Some("additive"))
    );
    let fixes = v["fixes"].as_array().unwrap();
    assert_eq!(
        fixes[0]["command"], "hostfix swap ensure --size auto",
        "{v:#}"
    );
    assert_eq!(fixes[0]["op"]["kind"], "ensure-swap");
    assert_eq!(fixes[0]["report"]["operation"], "swap ensure");
    let steps = v["steps"].as_array().unwrap();
    assert!(steps.iter().all(|s| s["status"] == "planned"), "{v:#}");
    assert!(v["after"].is_null() && v["before"]["findings"].is_array());
    assert!(!root.path().join("swapfile").exists());
    assert_eq!(
        std::fs::read_to_string(root.path().join("etc/fstab")).unwrap(),
        fstab
    );
}

#[test]
fn a_fix_above_the_cap_is_exit_3_naming_it_and_the_cap_it_needs() {
    let root = short_root();
    let (code, v) = hostfix(root.path(), &["--fix", "--max-risk", "read-only"]);
    assert_eq!(code, 3, "{v:#}");
    assert_eq!(v["outcome"], "refused");
    assert_eq!(
        v["error"],
        "hostfix swap ensure --size auto: needs --max-risk additive (the cap is read-only)"
    );
    assert_eq!(v["next"]["command"], "hostfix swap ensure --size auto");
    assert_eq!(v["next"]["risk"], "additive");
}

#[test]
fn the_plain_report_keeps_its_fix_command_and_adds_the_typed_op() {
    let root = short_root();
    let (code, v) = hostfix(root.path(), &[]);
    assert_eq!(code, 0, "{v:#}");
    let fix = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|f| f["fix"].as_object())
        .unwrap();
    assert_eq!(fix["command"], "hostfix swap ensure --size auto");
    assert_eq!(fix["risk"], "additive");
    assert_eq!(fix["op"]["kind"], "ensure-swap");
    assert_eq!(fix["op"]["path"], "/swapfile");
    assert!(fix["op"]["size"].is_null());
}

#[test]
fn remove_package_needs_fix() {
    let root = short_root();
    let (code, v) = hostfix(root.path(), &["--remove-package"]);
    assert_eq!(code, 2, "{v:#}");
    assert_eq!(v["outcome"], "bad-input");
}
