//! The `hostfix check` and `doctor` command-line contract: exit codes, JSON fields, and
//! readings that match what `/proc/meminfo` and `df` say at the same moment.

use std::process::Command;

fn hostfix(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hostfix"))
        .args(args)
        .output()
        .expect("run hostfix");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(args: &[&str]) -> (i32, serde_json::Value) {
    let (code, out, err) = hostfix(args);
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}\n{err}"));
    (code, v)
}

fn meminfo_kib(key: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

fn within(a: u64, b: u64, pct: f64) -> bool {
    let (a, b) = (a as f64, b as f64);
    (a - b).abs() <= b.max(1.0) * pct / 100.0
}

#[test]
fn all_thresholds_met_exits_0_with_every_field() {
    let (code, v) = json(&[
        "check",
        "--json",
        "--mem-available",
        "1",
        "--disk-free",
        "/=1",
        "--inodes-free",
        "/=1",
    ]);
    assert_eq!(code, 0, "{v}");
    for k in [
        "operation",
        "changed",
        "dry_run",
        "steps",
        "checks",
        "outcome",
    ] {
        assert!(v.get(k).is_some(), "missing {k}: {v}");
    }
    assert_eq!(v["operation"], "check");
    assert_eq!(v["changed"], false);
    assert_eq!(v["dry_run"], false);
    assert_eq!(v["checks"].as_array().unwrap().len(), 3);
    for s in v["steps"].as_array().unwrap() {
        for k in ["action", "risk", "status", "detail"] {
            assert!(s.get(k).is_some(), "step lacks {k}: {s}");
        }
        assert_eq!(s["risk"], "read-only");
    }
}

#[test]
fn readings_match_proc_meminfo_and_df() {
    let (code, v) = json(&[
        "--json",
        "check",
        "--mem-available",
        "1",
        "--disk-free",
        "/=1",
    ]);
    assert_eq!(code, 0);
    let cgroup_limited = !v["memory"]["cgroup"].is_null();
    let avail = v["memory"]["mem_available"].as_u64().unwrap();
    assert!(
        within(avail, meminfo_kib("MemAvailable") * 1024, 2.0),
        "MemAvailable {avail} vs /proc/meminfo"
    );
    if !cgroup_limited {
        assert_eq!(v["checks"][0]["actual"].as_u64().unwrap(), avail);
    }
    let df = Command::new("df")
        .args(["-B1", "--output=avail,size", "/"])
        .output()
        .unwrap();
    let df = String::from_utf8_lossy(&df.stdout);
    let nums: Vec<u64> = df
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    let free = v["checks"][1]["actual"].as_u64().unwrap();
    let total = v["checks"][1]["total"].as_u64().unwrap();
    assert!(within(free, nums[0], 2.0), "free {free} vs df {}", nums[0]);
    assert!(
        within(total, nums[1], 2.0),
        "total {total} vs df {}",
        nums[1]
    );
}

#[test]
fn a_threshold_below_exits_1_and_shows_every_reading() {
    let (code, v) = json(&[
        "check",
        "--mem-available",
        "100%",
        "--disk-free",
        "/=1",
        "--json",
    ]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["outcome"], "failed");
    assert_eq!(v["checks"][0]["holds"], false);
    assert_eq!(v["checks"][1]["holds"], true);
    assert!(v["error"].as_str().unwrap().contains("mem-available"));
    let (code, out, _) = hostfix(&["check", "--mem-available", "100%"]);
    assert_eq!(code, 1);
    assert!(out.contains("BELOW"), "{out}");
}

#[test]
fn bad_input_exits_2_and_says_why() {
    for (args, needle) in [
        (vec!["check", "--disk-free", "/=bogus"], "bogus"),
        (vec!["check", "--mem-available", "101%"], "101%"),
        (vec!["check", "--mem-available", "-1G"], "-1G"),
        (vec!["check", "--disk-free", "/"], "no '='"),
        (vec!["check", "--inodes-free", "/=1.5"], "1.5"),
        (vec!["check", "--max-risk", "huge"], "read-only"),
        (
            vec!["check", "--disk-free", "/no/such/dir=1G"],
            "does not exist",
        ),
        (
            vec!["swap", "ensure", "--size", "-1G", "--dry-run"],
            "cannot be negative",
        ),
        (vec!["swap", "ensure", "--size", "10X", "--dry-run"], "10X"),
        (vec!["doctor", "--port", "0"], "1..=65535"),
        (vec!["port", "who", "70000"], "1..=65535"),
        (
            vec!["reboot", "--dry-run", "--delay", "5 parsecs"],
            "5 parsecs",
        ),
    ] {
        let (code, out, err) = hostfix(&args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(
            format!("{out}{err}").contains(needle),
            "{args:?}: {out}{err}"
        );
    }
}

#[test]
fn global_flags_go_before_or_after_the_subcommand() {
    let (a, va) = json(&["--json", "check", "--mem-available", "1"]);
    let (b, vb) = json(&["check", "--mem-available", "1", "--json"]);
    assert_eq!((a, b), (0, 0));
    assert_eq!(va["operation"], vb["operation"]);
}

#[test]
fn doctor_is_read_only_and_reports_memory_and_disk() {
    let (code, v) = json(&["doctor", "--json"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["operation"], "doctor");
    assert_eq!(v["changed"], false);
    let avail = v["facts"]["memory"]["mem_available"].as_u64().unwrap();
    assert!(within(avail, meminfo_kib("MemAvailable") * 1024, 2.0));
    assert!(
        v["facts"]["disks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["path"] == "/")
    );
    let areas: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["area"].as_str().unwrap())
        .collect();
    let order = [
        "request",
        "ports",
        "containers",
        "memory",
        "swap",
        "disk",
        "reboot",
        "host",
    ];
    let idx: Vec<usize> = areas
        .iter()
        .map(|a| order.iter().position(|o| o == a).unwrap())
        .collect();
    assert!(
        idx.windows(2).all(|w| w[0] <= w[1]),
        "findings out of request order: {areas:?}"
    );
    for s in v["steps"].as_array().unwrap() {
        assert_eq!(s["risk"], "read-only");
    }
    let (code, out, _) = hostfix(&["doctor"]);
    assert_eq!(code, 0);
    assert!(out.contains("memory:"), "{out}");
}

#[test]
fn doctor_without_root_works_and_says_what_it_could_not_see() {
    use std::os::unix::process::CommandExt;
    if !nix::unistd::geteuid().is_root() {
        // Already unprivileged: the plain run is the test.
        let (code, v) = json(&["doctor", "--json"]);
        assert_eq!(code, 0);
        assert!(!v["unseen"].as_array().unwrap().is_empty());
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_hostfix"))
        .args(["doctor", "--json"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(out.status.code(), Some(0));
    let unseen = v["unseen"].as_array().unwrap();
    assert!(
        unseen
            .iter()
            .any(|u| u.as_str().unwrap().contains("not root")),
        "{unseen:?}"
    );
    assert!(v["facts"]["memory"]["mem_total"].as_u64().unwrap() > 0);
}
