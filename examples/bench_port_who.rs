//! Benchmark: `hostfix port who` against `ss -ltnp` and `lsof` on a busy process table,
//! as the tools are used and like for like, in one run.
//!
//! Run as root after a release build:
//!
//! ```text
//! cargo build --release --bins --examples
//! sudo target/release/examples/bench_port_who [--procs 5000] [--fds 20] [--runs 7]
//! ```
//!
//! It enters a private network namespace (for the ports), PID namespace (pids given in
//! creation order, no wrap-around) and mount namespace (its own `/proc`, which hostfix,
//! ss and lsof all walk), creates cgroups under the cgroup2 mount
//! (`hostfix-bench-PID/{shared,own-*,made}`), moves itself into `shared` and forks
//! `--procs` idle processes holding `--fds` open files each there. Seven holders listen,
//! each on its own port: in their own cgroup (a service's, a container's) started
//! first, in the middle and last; in the shared cgroup first, middle and last; and one,
//! started last, that made its socket in the cgroup `made` and then moved to `shared`
//! (no holder where the kernel says the socket was made: the walk has to answer).
//!
//! Figures, each the median of `--runs` interleaved runs, wall and CPU time from
//! `wait4`:
//!
//! 1. **as used**, on every CPU: `hostfix port who PORT`, `ss -ltnp`, `lsof -nP
//!    -iTCP:PORT -sTCP:LISTEN`;
//! 2. **like for like**: all three under `taskset -c 0`, hostfix with `--exhaustive`
//!    (one thread, every process read, no cgroup shortcut, as ss and lsof do), ss given
//!    the same port filter (`ss -ltnp 'sport = :PORT'`);
//! 3. **worst case**: the holder whose cgroup does not hold it, started last, all three
//!    under `taskset -c 0`, hostfix as used.
//!
//! Every run checks that hostfix, ss and lsof name the same owner, the holder the
//! benchmark started, and that hostfix says the path expected (`cgroup` for the
//! holders in a cgroup, `walk` otherwise). Exit status 0 when the targets hold: with the
//! holder in its own cgroup, hostfix under 5 ms and at least 20x faster than `ss -ltnp`;
//! in the worst case no slower than ss; peak RSS under 8 MB. `--smoke` (small sizes, one
//! run; `tests/bench_port_who_smoke.rs`) checks the owners and paths only.
//!
//! Everything it forks lives in its PID namespace and dies with it (and with
//! `PR_SET_PDEATHSIG`); its cgroups are removed when it ends; it signals nothing else.
//! `--hold SECONDS` pauses after the setup and prints the `nsenter` line to look inside.
//! `HOSTFIX_BIN` overrides the binary.

#[path = "support/bench.rs"]
mod common;
use common::{Kids, idle_forever, median, ms, private_root_and_proc, run, spawn_idle};

use std::net::TcpListener;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::{OFlag, open};
use nix::sched::{CloneFlags, unshare};
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, pipe, read, write};

/// What to run.
#[derive(Debug, Clone)]
pub struct Opts {
    /// Idle processes.
    pub procs: usize,
    /// Open files each.
    pub fds: usize,
    /// Runs per case (the median is reported).
    pub runs: usize,
    /// Seconds to pause after the setup.
    pub hold: u64,
    /// Owners and paths only: no targets.
    pub smoke: bool,
}

impl Opts {
    fn from_args() -> Opts {
        let a: Vec<String> = std::env::args().collect();
        let num = |name: &str, default: usize| {
            a.iter()
                .position(|x| x == name)
                .and_then(|i| a.get(i + 1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        Opts {
            procs: num("--procs", 5000),
            fds: num("--fds", 20),
            runs: num("--runs", 7).max(1),
            hold: num("--hold", 0) as u64,
            smoke: a.iter().any(|x| x == "--smoke"),
        }
    }
}

/// Moves the calling process into a cgroup.
fn join(cg: &Path) -> std::io::Result<()> {
    std::fs::write(cg.join("cgroup.procs"), "0")
}

/// Forks a holder of `port` that makes its socket in cgroup `made_in` (if any), then
/// moves to `lives_in` (if any); waits until it listens.
fn spawn_holder(port: u16, made_in: Option<&Path>, lives_in: Option<&Path>) -> Pid {
    let (r, w) = pipe().expect("pipe");
    // SAFETY: single-threaded while forking; the child moves itself between cgroups,
    // creates its socket, writes to the pipe and pauses.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
            drop(r);
            if let Some(cg) = made_in {
                join(cg).expect("join the cgroup the socket is made in");
            }
            let l = TcpListener::bind(("0.0.0.0", port)).expect("bind the holder's port");
            if let Some(cg) = lives_in {
                join(cg).expect("join the holder's cgroup");
            }
            let _ = write(&w, b"x");
            let _keep = l;
            idle_forever()
        }
        ForkResult::Parent { child } => {
            drop(w);
            let mut b = [0u8; 1];
            let _ = read(&r, &mut b);
            child
        }
    }
}

/// One run of a tool.
/// The owners hostfix names and the path it says answered.
fn hostfix_answer(json: &str) -> (Vec<i32>, String) {
    let v: serde_json::Value = serde_json::from_str(json).expect("hostfix JSON");
    let mut p: Vec<i32> = v["owners"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|o| o["pid"].as_i64())
                .map(|p| p as i32)
                .collect()
        })
        .unwrap_or_default();
    p.sort();
    (p, v["scan"]["path"].as_str().unwrap_or("?").to_string())
}

fn pids_ss(text: &str, port: u16) -> Vec<i32> {
    let mut p: Vec<i32> = text
        .lines()
        .filter(|l| l.contains(&format!(":{port} ")))
        .flat_map(|l| {
            l.split("pid=")
                .skip(1)
                .filter_map(|s| s.split(',').next()?.parse().ok())
        })
        .collect();
    p.sort();
    p.dedup();
    p
}

fn pids_lsof(text: &str) -> Vec<i32> {
    let mut p: Vec<i32> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect();
    p.sort();
    p.dedup();
    p
}

/// How the three tools are run in a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Figure {
    AsUsed,
    LikeForLike,
    WorstCase,
}

/// One holder to look up.
struct Case {
    name: String,
    port: u16,
    holder: Pid,
    path: &'static str,
}

/// Medians of one case: wall and CPU of hostfix, ss, lsof.
struct Row {
    name: String,
    wall: [Duration; 3],
    cpu: [Duration; 3],
    rss_kb: i64,
    path: String,
}

fn argvs(mode: Figure, hostfix: &str, port: u16) -> [Vec<String>; 3] {
    let p = port.to_string();
    let mut hf = vec![
        hostfix.to_string(),
        "port".into(),
        "who".into(),
        p,
        "--json".into(),
    ];
    let mut ss: Vec<String> = vec!["ss".into(), "-ltnp".into()];
    let mut lsof: Vec<String> = ["lsof", "-nP", &format!("-iTCP:{port}"), "-sTCP:LISTEN"]
        .map(String::from)
        .to_vec();
    if mode == Figure::LikeForLike {
        hf.push("--exhaustive".into());
        ss.push(format!("sport = :{port}"));
    }
    let mut out = [hf, ss, std::mem::take(&mut lsof)];
    if mode != Figure::AsUsed {
        for a in &mut out {
            a.splice(0..0, ["taskset", "-c", "0"].map(String::from));
        }
    }
    out
}

fn measure(c: &Case, mode: Figure, hostfix: &str, runs: usize, lsof: bool) -> Row {
    let argv = argvs(mode, hostfix, c.port);
    let mut wall: [Vec<Duration>; 3] = Default::default();
    let mut cpu: [Vec<Duration>; 3] = Default::default();
    let mut rss = 0;
    let want = vec![c.holder.as_raw()];
    let path = if mode == Figure::LikeForLike {
        "walk"
    } else {
        c.path
    };
    for _ in 0..runs {
        let h = run(&argv[0], Stdio::null());
        let (owners, got_path) = hostfix_answer(&h.stdout);
        assert_eq!(owners, want, "{}: hostfix owners", c.name);
        assert_eq!(got_path, path, "{}: the path that answered", c.name);
        let s = run(&argv[1], Stdio::null());
        assert_eq!(pids_ss(&s.stdout, c.port), want, "{}: ss owners", c.name);
        rss = rss.max(h.maxrss_kb);
        let mut runs = vec![h, s];
        if lsof {
            let l = run(&argv[2], Stdio::null());
            assert_eq!(pids_lsof(&l.stdout), want, "{}: lsof owners", c.name);
            runs.push(l);
        }
        for (i, r) in runs.iter().enumerate() {
            wall[i].push(r.wall);
            cpu[i].push(r.cpu);
        }
    }
    let med = |v: &mut [Vec<Duration>; 3], i: usize| {
        if v[i].is_empty() {
            Duration::ZERO
        } else {
            median(&mut v[i])
        }
    };
    Row {
        name: c.name.clone(),
        wall: [0, 1, 2].map(|i| med(&mut wall, i)),
        cpu: [0, 1, 2].map(|i| med(&mut cpu, i)),
        rss_kb: rss,
        path: path.to_string(),
    }
}

fn print_rows(title: &str, rows: &[Row]) {
    println!("\n{title}");
    println!(
        "| holder | hostfix wall / cpu | ss wall / cpu | lsof wall / cpu | ss / hostfix | lsof / hostfix | path |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for r in rows {
        let ratio = |i: usize| r.wall[i].as_secs_f64() / r.wall[0].as_secs_f64().max(1e-9);
        println!(
            "| {} | {:.1} / {:.1} ms | {:.0} / {:.0} ms | {:.0} / {:.0} ms | {:.1}x | {:.1}x | {} |",
            r.name,
            ms(r.wall[0]),
            ms(r.cpu[0]),
            ms(r.wall[1]),
            ms(r.cpu[1]),
            ms(r.wall[2]),
            ms(r.cpu[2]),
            ratio(1),
            ratio(2),
            r.path
        );
    }
}

fn proc_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn hostfix_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HOSTFIX_BIN") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.join("hostfix"))
}

fn main() -> ExitCode {
    let Some(hostfix) = hostfix_path().filter(|p| p.is_file()) else {
        eprintln!(
            "bench_port_who: the hostfix binary is missing: cargo build --release first (or set HOSTFIX_BIN)"
        );
        return ExitCode::from(2);
    };
    ExitCode::from(run_bench(
        &Opts::from_args(),
        &hostfix.display().to_string(),
    ))
}

/// Runs the benchmark (as root); the exit status: 0 pass, 1 a target missed, 2 cannot
/// run here.
pub fn run_bench(o: &Opts, hostfix: &str) -> u8 {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("bench_port_who: run as root (it creates namespaces and cgroups)");
        return 2;
    }
    for tool in ["ss", "taskset"] {
        if which::which(tool).is_err() {
            eprintln!("bench_port_who: {tool} is needed");
            return 2;
        }
    }
    let Some(cg2) = hostfix::testing::port::cgroup::Cgroup2::open(&hostfix::Host::live()) else {
        eprintln!("bench_port_who: no cgroup2 filesystem is mounted (cgroup v1 only)");
        return 2;
    };
    let base = cg2
        .mount_point()
        .join(format!("hostfix-bench-{}", std::process::id()));
    let names = ["shared", "own-first", "own-mid", "own-last", "made"];
    if let Err(e) = std::fs::create_dir(&base) {
        eprintln!("bench_port_who: mkdir {}: {e}", base.display());
        return 2;
    }
    for n in names {
        std::fs::create_dir(base.join(n)).expect("create a benchmark cgroup");
    }
    unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS)
        .expect("unshare(CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWNS)");
    // SAFETY: still single-threaded; the child runs the benchmark as PID 1 of the new
    // namespace and exits, the parent only waits for it.
    let code = match unsafe { fork() }.expect("fork") {
        ForkResult::Parent { child } => {
            if o.hold > 0 {
                println!("to look inside: nsenter -t {child} -n -m -p {hostfix} port who 18082");
            }
            match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, code)) => code as u8,
                other => {
                    eprintln!("bench_port_who: benchmark process ended: {other:?}");
                    1
                }
            }
        }
        ForkResult::Child => std::process::exit(i32::from(bench(o, hostfix, &base))),
    };
    // Everything in the namespace died with its first process; the cgroups are empty.
    for dir in names.iter().map(|n| base.join(n)).chain([base.clone()]) {
        let mut tries = 0;
        while std::fs::remove_dir(&dir).is_err() && tries < 100 {
            std::thread::sleep(Duration::from_millis(20));
            tries += 1;
        }
    }
    code
}

/// The host inside the namespaces: mounts, processes, holders; then the figures.
fn bench(o: &Opts, hostfix: &str, base: &Path) -> u8 {
    private_root_and_proc();
    let shared = base.join("shared");
    join(&shared).expect("join the shared cgroup");
    let cg = |n: &str| base.join(n);

    // Open files the idle processes inherit (and keep after we close ours).
    let fds: Vec<OwnedFd> = (0..o.fds)
        .map(|_| open("/dev/null", OFlag::O_RDONLY, Mode::empty()).expect("open /dev/null"))
        .collect();
    let t0 = Instant::now();
    let mut kids = Kids(Vec::with_capacity(o.procs + 8));
    let holder = |kids: &mut Kids, port, made: Option<PathBuf>, lives: Option<PathBuf>| {
        let p = spawn_holder(port, made.as_deref(), lives.as_deref());
        kids.0.push(p);
        p
    };
    let own_first = holder(&mut kids, 18081, Some(cg("own-first")), None);
    let shared_first = holder(&mut kids, 18084, None, None);
    for _ in 0..o.procs / 2 {
        kids.0.push(spawn_idle());
    }
    let own_mid = holder(&mut kids, 18082, Some(cg("own-mid")), None);
    let shared_mid = holder(&mut kids, 18085, None, None);
    for _ in o.procs / 2..o.procs {
        kids.0.push(spawn_idle());
    }
    let own_last = holder(&mut kids, 18083, Some(cg("own-last")), None);
    let shared_last = holder(&mut kids, 18086, None, None);
    let made_last = holder(&mut kids, 18087, Some(cg("made")), Some(shared.clone()));
    drop(fds);
    println!(
        "setup: {} processes x {} open files (+3 stdio) forked in {:.1} s, in cgroups under {}",
        o.procs,
        o.fds,
        t0.elapsed().as_secs_f64(),
        base.display()
    );
    settle();
    let rank = |pid: Pid| proc_pids().iter().filter(|p| **p < pid.as_raw()).count() + 1;
    let total = proc_pids().len();
    let case = |name: &str, port, holder: Pid, path| Case {
        name: format!("{name} ({} of {total})", rank(holder)),
        port,
        holder,
        path,
    };
    let cases = [
        case("own cgroup, first", 18081, own_first, "cgroup"),
        case("own cgroup, middle", 18082, own_mid, "cgroup"),
        case("own cgroup, last", 18083, own_last, "cgroup"),
        case("shared cgroup, first", 18084, shared_first, "cgroup"),
        case("shared cgroup, middle", 18085, shared_mid, "cgroup"),
        case("shared cgroup, last", 18086, shared_last, "cgroup"),
    ];
    let worst = case("made in another cgroup, last", 18087, made_last, "walk");
    println!(
        "processes on the host: {total}; runs per case: {} (median)",
        o.runs
    );
    println!("load average before: {}", load());
    if o.hold > 0 {
        println!("holding for {} s (see the line above for nsenter)", o.hold);
        std::thread::sleep(Duration::from_secs(o.hold));
    }
    let lsof = which::which("lsof").is_ok();
    let figure = |mode| -> Vec<Row> {
        cases
            .iter()
            .map(|c| measure(c, mode, hostfix, o.runs, lsof))
            .collect()
    };
    let used = figure(Figure::AsUsed);
    let like = figure(Figure::LikeForLike);
    let worst_rows = [
        measure(&worst, Figure::AsUsed, hostfix, o.runs, lsof),
        measure(&worst, Figure::WorstCase, hostfix, o.runs, lsof),
    ];
    let load_after = load();
    drop(kids);
    report(o, &used, &like, &worst_rows, &load_after, lsof)
}

/// Lets the new processes reach pause() before anything is timed.
fn settle() {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let running = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| {
                l.split_whitespace()
                    .nth(3)?
                    .split('/')
                    .next()?
                    .parse::<u32>()
                    .ok()
            })
            .unwrap_or(0);
        if running <= 8 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
}

fn report(o: &Opts, used: &[Row], like: &[Row], worst: &[Row], load_after: &str, lsof: bool) -> u8 {
    println!("load average after: {load_after}");
    if !lsof {
        println!("lsof is not installed: its columns are 0");
    }
    print_rows(
        "Like for like: one CPU for each tool (taskset -c 0), one thread, every process read, \
         the same port filter (hostfix port who PORT --exhaustive; ss -ltnp 'sport = :PORT'; \
         lsof -nP -iTCP:PORT -sTCP:LISTEN):",
        like,
    );
    print_rows(
        "As used: every CPU (hostfix port who PORT; ss -ltnp; lsof -nP -iTCP:PORT -sTCP:LISTEN):",
        used,
    );
    print_rows(
        "Worst case: the socket made in a cgroup that no longer holds it, holder last \
         (hostfix as used; first row every CPU, second taskset -c 0 for all three):",
        worst,
    );
    let rss = used
        .iter()
        .chain(like)
        .chain(worst)
        .map(|r| r.rss_kb)
        .max()
        .unwrap_or(0);
    println!("\nhostfix peak RSS: {:.1} MB", rss as f64 / 1024.0);
    if o.smoke {
        println!("smoke run: owners and paths agree; no targets checked");
        return 0;
    }
    let mut ok = true;
    for r in &used[..3] {
        let (hf, ss) = (ms(r.wall[0]), ms(r.wall[1]));
        let pass = hf < 5.0 && ss / hf >= 20.0;
        println!(
            "target {}: hostfix {hf:.1} ms < 5 ms and ss {:.1}x >= 20x: {}",
            r.name,
            ss / hf,
            if pass { "met" } else { "MISSED" }
        );
        ok &= pass;
    }
    let w = &worst[1];
    let pass = w.wall[0] <= w.wall[1];
    println!(
        "target worst case, one CPU: hostfix {:.1} ms <= ss {:.1} ms: {}",
        ms(w.wall[0]),
        ms(w.wall[1]),
        if pass { "met" } else { "MISSED" }
    );
    ok &= pass;
    let pass = rss < 8 * 1024;
    println!(
        "target peak RSS {:.1} MB < 8 MB: {}",
        rss as f64 / 1024.0,
        if pass { "met" } else { "MISSED" }
    );
    ok &= pass;
    println!("{}", if ok { "PASS" } else { "FAIL" });
    if ok { 0 } else { 1 }
}
