//! `hostfix doctor --since DUR` on the command line: the window reaches the kernel log's
//! report, and a bad or too long duration is bad input (exit 2, one JSON object).

use std::process::Command;

fn doctor(args: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_hostfix"))
        .arg("doctor")
        .args(args)
        .args([
            "--json",
            "--port",
            "1",
            "--state-dir",
            "/nonexistent/hostfix-state",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), v)
}

#[test]
fn since_bounds_the_window_and_bad_durations_are_bad_input() {
    let (code, v) = doctor(&["--since", "90m"]);
    assert_eq!(code, 0, "{v:#}");
    let ev = &v["facts"]["evidence"];
    assert!(
        ev["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "kernel-log")
    );
    // Readable (root) or not, the window asked for is the one used.
    if !ev["kernel"].is_null() {
        assert_eq!(ev["kernel"]["window_s"], 5400);
    } else {
        assert!(
            v["unseen"]
                .as_array()
                .unwrap()
                .iter()
                .any(|u| u.as_str().unwrap().starts_with("kernel-log: ")),
            "{v:#}"
        );
    }
    for bad in ["5 parsecs", "367d", "-1h", ""] {
        let (code, v) = doctor(&[&format!("--since={bad}")]);
        assert_eq!(code, 2, "{bad:?}: {v:#}");
        assert_eq!(v["outcome"], "bad-input");
        assert!(v["error"].as_str().unwrap().contains("duration"), "{v:#}");
    }
}
