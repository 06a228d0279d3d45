//! The command line's edges, case by case (issue 12): every error path exits 2 and, with
//! `--json`, prints exactly one JSON object with the contract's fields; nothing panics;
//! overflowing numbers and durations, `check` of nothing and thresholds on pseudo
//! filesystems are bad input naming the input and what is accepted.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use hostfix::container::RemoveOptions;
use hostfix::port::FreeSpec;
use hostfix::reboot::{RebootSpec, Rules};
use hostfix::swap::{SwapSize, SwapSpec};
use hostfix::testing::with;
use serde_json::Value;

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary. Unless the case gives `--dry-run` itself, it goes first (a global
/// flag before the subcommand): a case that a regression let through the parser must
/// still change nothing on this machine.
fn run(args: &[OsString]) -> Out {
    let safe = !args.iter().any(|a| a == "--dry-run");
    let out = Command::new(env!("CARGO_BIN_EXE_hostfix"))
        .args(safe.then_some("--dry-run"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run hostfix");
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn os(words: &[&str]) -> Vec<OsString> {
    words.iter().map(OsString::from).collect()
}

/// A word with raw bytes (not UTF-8).
fn raw(bytes: &[u8]) -> OsString {
    OsString::from_vec(bytes.to_vec())
}

/// Parses stdout as exactly one JSON object with the contract's fields.
fn one_object(o: &Out) -> Value {
    let mut docs = serde_json::Deserializer::from_str(&o.stdout).into_iter::<Value>();
    let v = match docs.next() {
        Some(Ok(v)) => v,
        other => panic!(
            "stdout is not a JSON object ({other:?}): {}\n{}",
            o.stdout, o.stderr
        ),
    };
    assert!(
        docs.next().is_none(),
        "more than one JSON document: {}",
        o.stdout
    );
    for k in [
        "operation",
        "changed",
        "dry_run",
        "steps",
        "outcome",
        "exit_code",
        "error",
    ] {
        assert!(v.get(k).is_some(), "missing {k}: {v}");
    }
    assert!(v.is_object());
    v
}

/// Asserts bad input: exit 2, one JSON object saying so, the error naming `needles`.
fn assert_bad_input(args: &[OsString], needles: &[&str]) -> Value {
    let o = run(args);
    assert!(!o.stderr.contains("panicked"), "{args:?}: {}", o.stderr);
    assert_eq!(o.code, Some(2), "{args:?}: {}{}", o.stdout, o.stderr);
    let v = one_object(&o);
    assert_eq!(v["exit_code"], 2, "{args:?}: {v}");
    assert_eq!(v["outcome"], "bad-input", "{args:?}: {v}");
    assert_eq!(v["changed"], false, "{args:?}: {v}");
    assert_eq!(v["steps"], serde_json::json!([]), "{args:?}: {v}");
    let err = v["error"].as_str().unwrap_or_default();
    for n in needles {
        assert!(err.contains(n), "{args:?}: {n:?} not in {err}");
    }
    v
}

#[test]
fn parse_errors_print_one_json_object_with_json_anywhere() {
    let cases: &[(&[&str], &[&str], &str)] = &[
        (&["bogus", "--json"], &["bogus"], "hostfix"),
        (&["--json", "bogus"], &["bogus"], "hostfix"),
        (&["--json"], &["doctor", "check", "swap"], "hostfix"),
        (&["swap", "--json"], &["ensure", "remove"], "swap"),
        (
            &["swap", "ensure", "--size", "foo", "--json", "--dry-run"],
            &["--size", "foo", "512M"],
            "swap ensure",
        ),
        (&["check", "--size", "foo", "--json"], &["--size"], "check"),
        (
            &["port", "who", "70000", "--json"],
            &["70000", "1..=65535"],
            "port who",
        ),
        (&["port", "free", "--json"], &["PORT"], "port free"),
        (
            &["--json", "--max-risk", "huge", "doctor"],
            &["huge", "read-only"],
            "doctor",
        ),
        (&["doctor", "--json", "--json"], &["--json"], "doctor"),
        (&["reboot", "--json", "--max-attempts", "-1"], &[], "reboot"),
    ];
    for (args, needles, op) in cases {
        let v = assert_bad_input(&os(args), needles);
        assert_eq!(v["operation"], *op, "{args:?}: {v}");
    }
    let v = assert_bad_input(
        &os(&["swap", "ensure", "--size", "foo", "--json", "--dry-run"]),
        &[],
    );
    assert_eq!(v["dry_run"], true);
    // Without --json: the message on stderr, nothing on stdout, still exit 2.
    let o = run(&os(&["swap", "ensure", "--size", "foo"]));
    assert_eq!(o.code, Some(2));
    assert!(o.stdout.is_empty(), "{}", o.stdout);
    assert!(o.stderr.contains("foo"), "{}", o.stderr);
}

#[test]
fn help_and_version_exit_0() {
    for args in [
        &["--help"][..],
        &["--version"],
        &["swap", "ensure", "--help"],
        &["help"],
    ] {
        let o = run(&os(args));
        assert_eq!(o.code, Some(0), "{args:?}: {}", o.stderr);
        assert!(!o.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn non_utf8_arguments_never_panic() {
    let state = tempfile::tempdir().unwrap();
    let sd = state.path().join("state");
    // Paths may be any bytes: doctor runs with a state dir no one made.
    let o = run(&[
        "doctor".into(),
        "--json".into(),
        "--state-dir".into(),
        raw(b"/x/\xff"),
    ]);
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    assert!(matches!(o.code, Some(0..=3)), "{:?} {}", o.code, o.stderr);
    one_object(&o);
    // Everything else that is not UTF-8 is bad input naming its flag.
    let cases: Vec<(Vec<OsString>, &str)> = vec![
        (
            vec!["reboot".into(), "--reason".into(), raw(b"\xff")],
            "--reason",
        ),
        (
            vec!["reboot".into(), "--once".into(), raw(b"k\xfe")],
            "--once",
        ),
        (
            vec![
                "swap".into(),
                "ensure".into(),
                "--size".into(),
                raw(b"1G\xff"),
            ],
            "--size",
        ),
        (
            vec![
                "swap".into(),
                "ensure".into(),
                "--size".into(),
                "1G".into(),
                "--label".into(),
                raw(b"\xc3\x28"),
            ],
            "--label",
        ),
        (
            vec!["container".into(), "rm".into(), raw(b"web\xff")],
            "NAME|ID",
        ),
        (vec!["port".into(), "who".into(), raw(b"8\xff0")], "PORT"),
        (
            vec!["check".into(), "--mem-available".into(), raw(b"10\xff%")],
            "--mem-available",
        ),
        (
            vec!["check".into(), "--disk-free".into(), raw(b"/=1\xffG")],
            "--disk-free",
        ),
        (
            vec!["--max-risk".into(), raw(b"\xff"), "doctor".into()],
            "--max-risk",
        ),
        (vec![raw(b"\xff\xfe")], ""),
    ];
    for (mut args, needle) in cases {
        args.extend(os(&["--json", "--dry-run", "--state-dir"]));
        args.push(sd.clone().into_os_string());
        assert_bad_input(&args, &[needle]);
    }
    // A non-UTF-8 path that exists is measured; JSON cannot carry the path, so the one
    // object keeps the contract's fields and says why the result is missing.
    let mut odd = state.path().as_os_str().to_os_string().into_vec();
    odd.extend_from_slice(b"/odd\xff");
    std::fs::create_dir(OsString::from_vec(odd.clone())).unwrap();
    odd.extend_from_slice(b"=1");
    let o = run(&[
        "check".into(),
        "--disk-free".into(),
        OsString::from_vec(odd),
        "--json".into(),
    ]);
    assert_eq!(o.code, Some(0), "{}{}", o.stdout, o.stderr);
    let v = one_object(&o);
    assert_eq!(v["outcome"], "ok");
    assert!(v["result_unavailable"].is_string(), "{v}");
    // A non-UTF-8 path to measure is a path: it does not exist, which is bad input too.
    let mut args = vec![
        "check".into(),
        "--disk-free".into(),
        raw(b"/nonexistent\xff=1G"),
    ];
    args.extend(os(&["--json"]));
    assert_bad_input(&args, &["does not exist"]);
}

/// Overflowing sizes, and durations above their ceiling, per flag.
#[test]
fn overflowing_numbers_and_durations_are_bad_input() {
    let state = tempfile::tempdir().unwrap();
    let sd = state.path().join("state");
    let sd = sd.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["swap", "ensure", "--size", "99999999999T"],
            "99999999999T",
        ),
        (&["swap", "ensure", "--size", "1e400G"], "1e400G"),
        (
            &["swap", "ensure", "--size", "1G", "--auto-max", "16384P"],
            "16384P",
        ),
        (&["check", "--mem-available", "nan%"], "nan%"),
        (&["check", "--mem-available", "inf%"], "inf%"),
        (&["check", "--disk-free", "/=1e400%"], "1e400%"),
        (
            &["check", "--inodes-free", "/=18446744073709551616"],
            "18446744073709551616",
        ),
        (
            &[
                "swap",
                "ensure",
                "--size",
                "1G",
                "--lock-wait",
                "18446744073709551615",
            ],
            "--lock-wait",
        ),
        (
            &["swap", "ensure", "--size", "1G", "--lock-wait", "25h"],
            "--lock-wait",
        ),
        (&["swap", "remove", "--lock-wait", "2d"], "--lock-wait"),
        (
            &["port", "free", "80", "--timeout", "99999999999d"],
            "--timeout",
        ),
        (&["port", "free", "80", "--timeout", "24h1s"], "--timeout"),
        (&["reboot", "--window", "367d"], "--window"),
        (
            &["reboot", "--min-uptime", "99999999999999999999"],
            "--min-uptime",
        ),
        (&["reboot", "--delay", "2d"], "--delay"),
        (
            &["reboot", "--max-attempts", "4294967296"],
            "--max-attempts",
        ),
        (
            &["container", "rm", "web", "--timeout", "1000000h"],
            "--timeout",
        ),
        (
            &["container", "rm", "web", "--command-timeout", "25h"],
            "--command-timeout",
        ),
        (
            &[
                "swap",
                "ensure",
                "--size",
                "1G",
                "--priority",
                "99999999999",
            ],
            "--priority",
        ),
    ];
    for (args, needle) in cases {
        let mut v = args.to_vec();
        v.extend([
            "--json",
            "--dry-run",
            "--max-risk",
            "read-only",
            "--state-dir",
            sd,
        ]);
        assert_bad_input(&os(&v), &[needle]);
    }
}

/// The ceilings are in the library too, for callers that build specs by hand.
#[test]
fn library_specs_refuse_durations_above_their_ceiling() {
    let mut s = SwapSpec::new(SwapSize::Bytes(64 << 20));
    s.validate().unwrap();
    s.lock_wait = Duration::MAX;
    assert!(
        s.validate()
            .unwrap_err()
            .to_string()
            .contains("--lock-wait")
    );
    let f = with(FreeSpec::tcp(80), |it| {
        it.timeout = Duration::from_secs(u64::MAX);
    });
    assert!(f.validate().unwrap_err().to_string().contains("--timeout"));
    FreeSpec::tcp(80).validate().unwrap();
    let mut o = RemoveOptions::new("web");
    assert_eq!(o.validate().unwrap(), "web");
    o.stop_grace = Duration::MAX;
    assert!(o.validate().unwrap_err().to_string().contains("--timeout"));
    let ok = with(RebootSpec::default(), |it| {
        it.rules = with(Rules::default(), |it| {
            it.max_attempts = 3;
            it.window = Duration::from_secs(3600);
        });
    });
    ok.validate().unwrap();
    for (bad, flag) in [
        (
            with(ok.clone(), |it| {
                it.rules = with(ok.rules.clone(), |it| {
                    it.window = Duration::MAX;
                });
            }),
            "--window",
        ),
        (
            with(ok.clone(), |it| {
                it.rules = with(ok.rules.clone(), |it| {
                    it.min_uptime = Some(Duration::MAX);
                });
            }),
            "--min-uptime",
        ),
        (
            with(ok.clone(), |it| {
                it.delay = Duration::from_secs(2 * 86400);
            }),
            "--delay",
        ),
    ] {
        assert!(
            bad.validate().unwrap_err().to_string().contains(flag),
            "{flag}"
        );
    }
}

#[test]
fn check_of_nothing_is_bad_input() {
    let v = assert_bad_input(
        &os(&["check", "--json"]),
        &["--mem-available", "--disk-free", "--inodes-free"],
    );
    assert_eq!(v["operation"], "check");
    let o = run(&os(&["check"]));
    assert_eq!(o.code, Some(2), "{}{}", o.stdout, o.stderr);
}

#[test]
fn thresholds_on_pseudo_filesystems_are_bad_input() {
    for (arg, fs) in [
        ("/proc=1%", "proc"),
        ("/sys=1%", "sysfs"),
        ("/dev/pts=1", "devpts"),
        ("/var/../proc/self=1", "proc"),
        ("/proc/./1/..=1%", "proc"),
    ] {
        let flag = if arg.ends_with('%') {
            "--disk-free"
        } else {
            "--inodes-free"
        };
        let v = assert_bad_input(&os(&["check", flag, arg, "--json"]), &[flag, fs]);
        assert_eq!(v["operation"], "check");
    }
    // tmpfs is storage (in memory): allowed.
    let o = run(&os(&["check", "--disk-free", "/dev/shm=1", "--json"]));
    assert_eq!(o.code, Some(0), "{}{}", o.stdout, o.stderr);
}

#[test]
fn a_global_flag_given_twice_with_different_values_is_bad_input() {
    assert_bad_input(
        &os(&[
            "--max-risk",
            "read-only",
            "doctor",
            "--max-risk",
            "reboot",
            "--json",
        ]),
        &["--max-risk", "read-only", "reboot"],
    );
    assert_bad_input(
        &os(&["--state-dir=/a", "doctor", "--state-dir", "/b", "--json"]),
        &["--state-dir"],
    );
    let o = run(&os(&[
        "--max-risk",
        "read-only",
        "check",
        "--max-risk=read-only",
        "--mem-available",
        "1",
    ]));
    assert_eq!(
        o.code,
        Some(0),
        "the same value twice is fine: {}",
        o.stderr
    );
}

/// A closed stdout (a pipe whose reader went away, a read-only descriptor) must not turn
/// into a panic (exit 101): the exit code still tells the outcome.
#[test]
fn an_unwritable_stdout_does_not_panic() {
    for (args, want) in [
        (&["check", "--mem-available", "1", "--json"][..], 0),
        (&["check", "--mem-available", "100%"], 1),
        (&["check", "--json"], 2),
        (&["bogus", "--json"], 2),
        (&["--help"], 0),
    ] {
        let ro = std::fs::File::open("/dev/null").unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_hostfix"))
            .args(args)
            .stdout(Stdio::from(ro))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(want), "{args:?}: {err}");
    }
}
