//! The port benchmark (`examples/bench_port_who.rs`) at small sizes, as part of
//! `cargo test`: 300 processes, one run per case, every case of the full benchmark. It
//! checks what the full run checks on every run (hostfix, ss and lsof name the same
//! owner, the holder the benchmark started; hostfix says the path expected: `cgroup`
//! for a holder in a cgroup, `walk` like for like and where the socket's cgroup does not
//! hold it), and no timing.
//!
//! A test without the libtest harness (`harness = false` in `Cargo.toml`): the
//! benchmark forks and enters namespaces, which needs a single-threaded process. As
//! root with cgroup v2 only: skipped loudly otherwise, and a failure under
//! `HOSTFIX_REQUIRE_ROOT=1`.

#[path = "../examples/bench_port_who.rs"]
#[allow(dead_code)]
mod bench;

use std::process::ExitCode;

const NAME: &str = "bench_port_who_smoke";

fn skip(why: &str) -> ExitCode {
    if std::env::var_os("HOSTFIX_REQUIRE_ROOT").is_some_and(|v| v == "1") {
        eprintln!("HOSTFIX_REQUIRE_ROOT=1 but the root test {NAME} cannot run: {why}");
        return ExitCode::FAILURE;
    }
    eprintln!("\n## SKIPPED root test {NAME}: {why}. It did NOT run.\n");
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("{NAME}: test");
        return ExitCode::SUCCESS;
    }
    // `cargo test FILTER` passes the filter to every test binary: run only when it
    // names this one (or there is none).
    if let Some(f) = args.iter().find(|a| !a.starts_with('-')) {
        if !NAME.contains(f.as_str()) {
            return ExitCode::SUCCESS;
        }
    }
    if !nix::unistd::geteuid().is_root() {
        return skip("not root (the benchmark creates namespaces and cgroups)");
    }
    let opts = bench::Opts {
        procs: 300,
        fds: 3,
        runs: 1,
        hold: 0,
        smoke: true,
    };
    match bench::run_bench(&opts, env!("CARGO_BIN_EXE_hostfix")) {
        0 => {
            println!("test {NAME} ... ok");
            ExitCode::SUCCESS
        }
        2 => skip("the benchmark cannot run here (see above)"),
        code => {
            eprintln!("test {NAME} ... FAILED (exit {code})");
            ExitCode::FAILURE
        }
    }
}
