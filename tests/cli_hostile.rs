//! Property tests over the command line: arbitrary argument vectors (every subcommand and
//! flag name, values at and past every limit, and arbitrary bytes that are not UTF-8) run
//! through the real binary. Whatever the arguments:
//!
//! - it never panics (exit 101) and is never killed by a signal;
//! - it exits 0, 1, 2 or 3;
//! - with `--json`, stdout is exactly one JSON object with the contract's fields, and its
//!   `exit_code` is the process's exit code (`--help`/`--version` aside).
//!
//! Nothing on the machine can change: every vector starts with `--dry-run --max-risk
//! read-only --state-dir <tempdir> --root <fake root>` (before the subcommand, so no `--`
//! in the junk can turn them into positionals; a junk value that contradicts one of them
//! is bad input), `--when` (a shell
//! command, evaluated even in a dry run) is never generated, and vectors of one argument
//! (Ansible's module form) are tested separately without any subcommand name.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::process::{Command, Stdio};

use proptest::prelude::*;
use serde_json::Value;

/// Subcommand names, every flag, and values at and past the limits.
const WORDS: &[&str] = &[
    "doctor",
    "check",
    "swap",
    "ensure",
    "remove",
    "port",
    "who",
    "free",
    "reboot",
    "container",
    "rm",
    "help",
    "--json",
    "--dry-run",
    "--max-risk",
    "--state-dir",
    "--root",
    "-v",
    "-vv",
    "--verbose",
    "--port",
    "--mem-available",
    "--disk-free",
    "--inodes-free",
    "--size",
    "--path",
    "--persist",
    "--priority",
    "--swappiness",
    "--label",
    "--keep-free",
    "--auto-max",
    "--memory-margin",
    "--lock-wait",
    "--udp",
    "--exhaustive",
    "--remove-package",
    "--address",
    "--timeout",
    "--if-needed",
    "--once",
    "--reason",
    "--max-attempts",
    "--window",
    "--min-uptime",
    "--delay",
    "--message",
    "--method",
    "--command-timeout",
    "--",
    "-",
    "=",
    "",
    " ",
    "auto",
    "1G",
    "512M",
    "1.5GiB",
    "0",
    "-1G",
    "99999999999T",
    "1e400G",
    "16384P",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999999999",
    "-9223372036854775809",
    "4294967296",
    "10%",
    "100%",
    "101%",
    "0%",
    "nan%",
    "inf%",
    "NaN",
    "-inf",
    "1e400%",
    "/=1",
    "/=1G",
    "/proc=1%",
    "/sys=1",
    "/dev/shm=1",
    "/nonexistent=1",
    "x=y",
    "=1G",
    "/",
    "/proc",
    "/swapfile",
    "/tmp/x y",
    "fstab",
    "systemd",
    "none",
    "orderly",
    "syscall",
    "read-only",
    "additive",
    "disruptive",
    "destructive",
    "reboot",
    "huge",
    "80",
    "443",
    "65535",
    "65536",
    "1..",
    "::",
    "0.0.0.0",
    "256.0.0.1",
    "5m",
    "90s",
    "1h30m",
    "24h",
    "24h1s",
    "366d",
    "367d",
    "99999999999d",
    "1.5h",
    "web",
    "-rf",
    "a;b",
    "$(id)",
    "é",
    "\u{202e}",
    "\t",
];

/// One argument: a word, a `--flag=value` pair, or arbitrary bytes (no NUL: an argument
/// cannot hold one).
fn word() -> impl Strategy<Value = OsString> {
    let known = prop::sample::select(WORDS).prop_map(OsString::from);
    let pair = (prop::sample::select(WORDS), prop::sample::select(WORDS))
        .prop_filter("a flag", |(f, _)| f.starts_with("--") && f.len() > 2)
        .prop_map(|(f, v)| OsString::from(format!("{f}={v}")));
    let bytes = prop::collection::vec(1u8..=255, 0..24).prop_map(OsString::from_vec);
    prop_oneof![5 => known, 2 => pair, 3 => bytes]
}

const SIZES: &[&str] = &[
    "1G", "512M", "auto", "2048MiB", "1M", "16383P", "0", "1.5GiB",
];
const DURS: &[&str] = &["0s", "90s", "5m", "1h30m", "24h", "1", "86400"];
const SPANS: &[&str] = &["1h", "1d", "366d", "60"];
const PORTS: &[&str] = &["1", "80", "443", "65535"];

/// The flags of each command with values it accepts (and some at the edge), and the
/// positional values, so that most vectors get past the parser into the commands.
fn grammar(
    cmd: &str,
) -> (
    &'static [(&'static str, &'static [&'static str])],
    &'static [&'static str],
) {
    match cmd {
        "doctor" => (&[("--port", PORTS)], &[]),
        "check" => (
            &[
                (
                    "--mem-available",
                    &["1", "10%", "100%", "0.5%", "1G", "16383P"],
                ),
                (
                    "--disk-free",
                    &["/=1", "/=10%", "/=100%", "/dev/shm=1", "/=1G", "/proc/..=1"],
                ),
                ("--inodes-free", &["/=1", "/=5%", "/=18446744073709551615"]),
            ],
            &[],
        ),
        "swap ensure" => (
            &[
                ("--path", &["/swapfile", "/var/swap", "/x/../y", "/tmp/a b"]),
                ("--persist", &["fstab", "systemd", "none"]),
                ("--priority", &["0", "5", "32767", "-1"]),
                ("--swappiness", &["0", "10", "200", "201"]),
                ("--label", &["swap", "0123456789abcdefg"]),
                ("--keep-free", &["none", "10%", "1G", "0%"]),
                ("--auto-max", SIZES),
                ("--memory-margin", SIZES),
                ("--lock-wait", DURS),
            ],
            &[
                "--size=1G",
                "--size=auto",
                "--size=512M",
                "--size=16383P",
                "--size=1M",
            ],
        ),
        "swap remove" => (
            &[
                ("--path", &["/swapfile", "/nonexistent"]),
                ("--memory-margin", SIZES),
                ("--lock-wait", DURS),
            ],
            &[],
        ),
        "port who" => (&[("--udp", &[]), ("--exhaustive", &[])], PORTS),
        "port free" => (
            &[
                ("--udp", &[]),
                ("--remove-package", &[]),
                ("--address", &["0.0.0.0", "::", "127.0.0.1", "192.0.2.1"]),
                ("--timeout", DURS),
            ],
            PORTS,
        ),
        "reboot" => (
            &[
                ("--if-needed", &[]),
                ("--once", &["first-boot", "k"]),
                ("--reason", &["test", "é"]),
                ("--max-attempts", &["1", "3", "0", "4294967295"]),
                ("--window", SPANS),
                ("--min-uptime", SPANS),
                ("--delay", DURS),
                ("--message", &["bye"]),
                ("--method", &["orderly", "auto", "syscall"]),
            ],
            &[],
        ),
        "container rm" => (
            &[("--timeout", DURS), ("--command-timeout", DURS)],
            &["web", "0123abcd", "/web"],
        ),
        _ => (&[], &[]),
    }
}

/// A command path, then mostly well-formed flags and values of that command, some junk.
fn command() -> impl Strategy<Value = Vec<OsString>> {
    const CMDS: &[&str] = &[
        "doctor",
        "check",
        "swap ensure",
        "swap remove",
        "port who",
        "port free",
        "reboot",
        "container rm",
        "",
    ];
    (
        prop::sample::select(CMDS),
        prop::collection::vec(
            (any::<prop::sample::Index>(), any::<prop::sample::Index>()),
            0..5,
        ),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(cmd, picks, pos)| {
            let (flags, positional) = grammar(cmd);
            let mut argv: Vec<OsString> = cmd.split_whitespace().map(OsString::from).collect();
            if !positional.is_empty() {
                argv.push(pos.get(positional).into());
            }
            if !flags.is_empty() {
                for (f, v) in picks {
                    let (flag, values) = f.get(flags);
                    argv.push(flag.into());
                    if !values.is_empty() {
                        argv.push(v.get(values).into());
                    }
                }
            }
            argv
        })
}

/// Never generate what would run a command of the caller's (`--when`).
fn harmless(argv: &[OsString]) -> bool {
    !argv.iter().any(|a| a.as_bytes().starts_with(b"--when"))
}

/// Whether the vector may ask for help or the version (printed as text, exit 0).
fn may_ask_help(argv: &[OsString]) -> bool {
    argv.iter().any(|a| {
        let b = a.as_bytes();
        b == b"help"
            || b.starts_with(b"--help")
            || b.starts_with(b"--version")
            || (b.starts_with(b"-")
                && !b.starts_with(b"--")
                && b.iter().any(|c| *c == b'h' || *c == b'V'))
    })
}

struct Lab {
    _dir: tempfile::TempDir,
    state: OsString,
    root: OsString,
}

/// A temp state directory and a fake root with the files the commands read, in the
/// target's temp folder (not /tmp, which the reboot guard refuses as volatile, unless the
/// checkout itself is there).
fn lab() -> Lab {
    let dir = tempfile::Builder::new()
        .prefix("cli-hostile-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let root = dir.path().join("root");
    let files: &[(&str, &str)] = &[
        ("proc/meminfo", include_str!("fixtures/meminfo/modern")),
        ("proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n"),
        ("proc/uptime", "12345.67 23456.78\n"),
        (
            "proc/sys/kernel/random/boot_id",
            "0b7a3f7e-5b9c-4d55-9a8e-3c1f2e4d5a6b\n",
        ),
        ("proc/self/cgroup", "0::/\n"),
        ("proc/net/tcp", "  sl  local_address rem_address   st\n"),
        ("proc/net/tcp6", "  sl  local_address rem_address   st\n"),
        ("etc/fstab", "# empty\n"),
        ("etc/os-release", "ID=debian\nVERSION_ID=12\n"),
    ];
    for (p, text) in files {
        let p = root.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
    }
    std::fs::create_dir_all(root.join("run")).unwrap();
    Lab {
        state: dir.path().join("state").into_os_string(),
        root: root.into_os_string(),
        _dir: dir,
    }
}

struct Run {
    code: Option<i32>,
    signal: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

fn run_in(argv: &[OsString], cwd: &Path) -> Run {
    use std::os::unix::process::ExitStatusExt;
    let out = Command::new(env!("CARGO_BIN_EXE_hostfix"))
        .args(argv)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .expect("run hostfix");
    Run {
        code: out.status.code(),
        signal: out.status.signal(),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The contract every run keeps, whatever its arguments.
fn check_contract(argv: &[OsString], r: &Run) -> Result<(), TestCaseError> {
    prop_assert!(
        r.signal.is_none(),
        "killed by signal {:?}: {argv:?}",
        r.signal
    );
    prop_assert!(
        !r.stderr.contains("panicked"),
        "panic: {argv:?}\n{}",
        r.stderr
    );
    let code = r.code.unwrap_or(-1);
    prop_assert!(
        (0..=3).contains(&code),
        "exit {code}: {argv:?}\n{}",
        r.stderr
    );
    let json = argv.iter().any(|a| a == "--json");
    if !json || may_ask_help(argv) {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&r.stdout);
    let mut docs = serde_json::Deserializer::from_str(&text).into_iter::<Value>();
    let v = match docs.next() {
        Some(Ok(v)) => v,
        other => {
            return Err(TestCaseError::fail(format!(
                "stdout is not JSON ({other:?}) for {argv:?}: {text}\n{}",
                r.stderr
            )));
        }
    };
    prop_assert!(
        docs.next().is_none(),
        "two JSON documents: {argv:?}: {text}"
    );
    prop_assert!(v.is_object(), "not an object: {v}");
    for k in [
        "operation",
        "changed",
        "dry_run",
        "steps",
        "outcome",
        "exit_code",
        "error",
    ] {
        prop_assert!(v.get(k).is_some(), "missing {k} for {argv:?}: {v}");
    }
    prop_assert_eq!(
        v["exit_code"].as_i64(),
        Some(i64::from(code)),
        "{:?}: {}",
        argv,
        v
    );
    let outcome = ["ok", "failed", "bad-input", "refused"][code as usize];
    prop_assert_eq!(v["outcome"].as_str(), Some(outcome), "{:?}: {}", argv, v);
    if code == 2 {
        prop_assert!(
            v["error"].as_str().is_some_and(|e| !e.is_empty()),
            "no reason: {v}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Arbitrary vectors, with the safety flags first.
    #[test]
    fn any_argument_vector_keeps_the_contract(
        cmd in command(),
        junk in prop::option::weighted(0.5, prop::collection::vec(word(), 1..4))
            .prop_filter("no --when", |w| w.as_deref().is_none_or(harmless)),
        json in prop::bool::weighted(0.85),
    ) {
        let lab = lab();
        // The safety flags come first, before the subcommand: a `--` in the junk would
        // turn flags after it into positionals, and the command would then run for real
        // on this machine (a reboot with the real state directory). A junk flag that
        // contradicts one of them is bad input (exit 2), never a winner.
        let mut argv: Vec<OsString> = ["--dry-run", "--max-risk", "read-only"]
            .map(OsString::from)
            .to_vec();
        argv.extend([OsString::from("--state-dir"), lab.state.clone()]);
        argv.extend([OsString::from("--root"), lab.root.clone()]);
        argv.extend(cmd);
        argv.extend(junk.unwrap_or_default());
        if json {
            argv.push("--json".into());
        }
        let r = run_in(&argv, Path::new(&lab.root));
        // HOSTFIX_CLI_HOSTILE_TRACE=1 shows every vector and its exit code (--nocapture).
        if std::env::var_os("HOSTFIX_CLI_HOSTILE_TRACE").is_some() {
            eprintln!("exit {:?}: {argv:?}", r.code);
        }
        check_contract(&argv, &r)?;
    }

    /// One argument that is not a subcommand name: Ansible's module form. In an empty
    /// directory nothing is a module-arguments file hostfix trusts, so it is bad input
    /// (exit 2) or an unknown subcommand (exit 2): one JSON object when stdout has any.
    #[test]
    fn one_argument_is_never_run_as_module_arguments_from_junk(
        arg in prop::collection::vec(1u8..=255, 0..24).prop_map(OsString::from_vec),
    ) {
        let names = ["doctor", "check", "swap", "port", "reboot", "container", "help"];
        prop_assume!(!names.iter().any(|n| arg == *n));
        prop_assume!(!arg.as_bytes().starts_with(b"-"));
        let dir = tempfile::tempdir().unwrap();
        let argv = vec![arg];
        let r = run_in(&argv, dir.path());
        prop_assert!(r.signal.is_none() && !r.stderr.contains("panicked"), "{argv:?}: {}", r.stderr);
        prop_assert_eq!(r.code, Some(2), "{:?}: {}", argv, r.stderr);
        if !r.stdout.is_empty() {
            let v: Value = serde_json::from_slice(&r.stdout)
                .map_err(|e| TestCaseError::fail(format!("{argv:?}: {e}")))?;
            prop_assert_eq!(&v["outcome"], "bad-input");
            prop_assert_eq!(&v["failed"], true);
        }
    }
}
