//! hostfix as an Ansible binary module: one argument, a JSON file of module arguments.

use std::process::Command;

fn module(args: serde_json::Value) -> (i32, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("args");
    std::fs::write(&p, args.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hostfix"))
        .arg(&p)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap(), v)
}

#[test]
fn a_passing_check_is_ok_and_unchanged() {
    let (code, v) =
        module(serde_json::json!({"command": "check", "mem_available": "1", "disk_free": ["/=1"]}));
    assert_eq!(code, 0);
    assert_eq!(v["failed"], false);
    assert_eq!(v["changed"], false);
    assert_eq!(v["checks"].as_array().unwrap().len(), 2);
    assert_eq!(v["msg"], "check: ok");
}

#[test]
fn a_failing_check_fails_with_the_reason() {
    let (code, v) = module(serde_json::json!({"command": "check", "mem_available": "100%"}));
    assert_eq!(code, 0, "Ansible reads failure from the JSON");
    assert_eq!(v["failed"], true);
    assert_eq!(v["rc"], 1);
    assert!(v["msg"].as_str().unwrap().contains("below 100%"), "{v}");
}

#[test]
fn check_mode_becomes_a_dry_run_and_bad_arguments_fail() {
    let (_, v) = module(serde_json::json!({"command": "doctor", "_ansible_check_mode": true}));
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["failed"], false);
    let (_, v) = module(serde_json::json!({"mem_available": "10%"}));
    assert_eq!(v["failed"], true);
    assert!(v["msg"].as_str().unwrap().contains("command"));
    let (_, v) = module(serde_json::json!({"command": "check", "disk_free": "/=bogus"}));
    assert_eq!(v["failed"], true);
    assert_eq!(v["rc"], 2);
}
