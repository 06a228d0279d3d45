//! Benchmark: `hostfix port who` against `ss -ltnp` and `lsof` on a busy process table.
//!
//! Run as root after a release build:
//!
//! ```text
//! cargo build --release --bins --examples
//! sudo target/release/examples/bench_port_who [--procs 5000] [--fds 20] [--runs 7]
//! ```
//!
//! It enters a private network namespace (for the port), PID namespace (pids given in
//! creation order, no wrap-around) and mount namespace (its own `/proc`, which hostfix,
//! ss and lsof all walk), forks `--procs` idle processes holding `--fds` open files each,
//! with the holder of TCP port 18080 started when half of them exist; then it times
//! `hostfix port who 18080 --json`, `ss -ltnp` and `lsof -nP -iTCP:18080 -sTCP:LISTEN`
//! (median of `--runs`, interleaved), checks they name the same owner, and reads wall
//! time, CPU time and peak RSS of each from `wait4`. It then restarts the holder so it is
//! the last process (the worst case for a walk that stops early) and measures again.
//! Every process it forks lives in its PID namespace and dies with it (and with
//! `PR_SET_PDEATHSIG`); it signals nothing else. `--hold SECONDS` pauses after the setup
//! and prints the `nsenter` line to look inside. `HOSTFIX_BIN` overrides the binary.
//!
//! Exit status 0 when hostfix is ≥4× faster than ss and ≥8× faster than lsof with the
//! holder in the middle, no slower than ss with it last, and under 10 MB of peak RSS.

use std::io::Read;
use std::net::TcpListener;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::{OFlag, open};
use nix::sched::{CloneFlags, unshare};
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid, fork, pipe, read, write};

const PORT: u16 = 18080;

/// The processes this benchmark forked; killed and reaped on drop.
struct Kids(Vec<Pid>);

impl Drop for Kids {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = kill(*p, Signal::SIGKILL);
        }
        for p in &self.0 {
            let _ = waitpid(*p, None);
        }
    }
}

fn idle_forever() -> ! {
    loop {
        // SAFETY: pause(2) has no arguments and only returns on a signal.
        unsafe { libc::pause() };
    }
}

/// Forks an idle process that dies with us.
fn spawn_idle() -> Pid {
    // SAFETY: this process is single-threaded while it forks; the child only calls
    // async-signal-safe functions (prctl, pause).
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
            idle_forever()
        }
        ForkResult::Parent { child } => child,
    }
}

/// Forks the holder of PORT and waits until it listens.
fn spawn_holder() -> Pid {
    let (r, w) = pipe().expect("pipe");
    // SAFETY: single-threaded while forking; the child creates its socket and then only
    // writes to the pipe and pauses.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
            drop(r);
            let l = TcpListener::bind(("0.0.0.0", PORT)).expect("bind the holder's port");
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

struct Run {
    wall: Duration,
    cpu: Duration,
    maxrss_kb: i64,
    stdout: String,
}

// The child is reaped by wait4, which also gives its rusage (peak RSS).
#[allow(clippy::zombie_processes)]
fn run(prog: &str, args: &[&str]) -> Run {
    let start = Instant::now();
    let mut child = Command::new(prog)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{prog}: {e}"));
    let mut stdout = String::new();
    let _ = child
        .stdout
        .take()
        .map(|mut o| o.read_to_string(&mut stdout));
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid value for wait4 to overwrite.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child; the pointers are valid for the call.
    let rc = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut ru) };
    assert!(rc > 0, "wait4 {prog}");
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Run {
        wall: start.elapsed(),
        cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
        maxrss_kb: ru.ru_maxrss,
        stdout,
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn pids_hostfix(json: &str) -> Vec<i32> {
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
    p
}

fn pids_ss(text: &str) -> Vec<i32> {
    let mut p: Vec<i32> = text
        .lines()
        .filter(|l| l.contains(&format!(":{PORT} ")))
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

struct Scenario {
    hostfix: Duration,
    ss: Duration,
    lsof: Option<Duration>,
    cpu: [Duration; 3],
    rss_kb: i64,
}

fn measure(name: &str, hostfix: &str, runs: usize, holder: Pid, lsof: bool) -> Scenario {
    let port = PORT.to_string();
    let lsof_arg = format!("-iTCP:{PORT}");
    let (mut th, mut ts, mut tl) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ch, mut cs, mut cl) = (Vec::new(), Vec::new(), Vec::new());
    let mut rss = 0;
    for i in 0..runs {
        let h = run(hostfix, &["port", "who", &port, "--json"]);
        let s = run("ss", &["-ltnp"]);
        rss = rss.max(h.maxrss_kb);
        let (ph, ps) = (pids_hostfix(&h.stdout), pids_ss(&s.stdout));
        assert_eq!(ph, vec![holder.as_raw()], "hostfix owners");
        assert_eq!(ph, ps, "hostfix and ss disagree");
        th.push(h.wall);
        ts.push(s.wall);
        ch.push(h.cpu);
        cs.push(s.cpu);
        if lsof {
            let l = run("lsof", &["-nP", &lsof_arg, "-sTCP:LISTEN"]);
            assert_eq!(pids_lsof(&l.stdout), ph, "hostfix and lsof disagree");
            tl.push(l.wall);
            cl.push(l.cpu);
        }
        if i == 0 {
            println!(
                "  {name}: owners agree: hostfix {ph:?} = ss {ps:?}{}",
                if lsof { " = lsof" } else { "" }
            );
        }
    }
    if std::env::var_os("BENCH_TRACE").is_some() {
        let v = run(hostfix, &["--version"]);
        println!(
            "  (spawn and wait of `hostfix --version`: {:.1} ms)",
            ms(v.wall)
        );
        let out = Command::new(hostfix)
            .args(["port", "who", &port, "-vv"])
            .output()
            .expect("hostfix -vv");
        print!("{}", String::from_utf8_lossy(&out.stderr));
    }
    Scenario {
        hostfix: median(th),
        ss: median(ts),
        lsof: (!tl.is_empty()).then(|| median(tl)),
        cpu: [
            median(ch),
            median(cs),
            if cl.is_empty() {
                Duration::ZERO
            } else {
                median(cl)
            },
        ],
        rss_kb: rss,
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

fn arg(name: &str, default: usize) -> usize {
    let a: Vec<String> = std::env::args().collect();
    a.iter()
        .position(|x| x == name)
        .and_then(|i| a.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> ExitCode {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("bench_port_who: run as root (it creates a network namespace)");
        return ExitCode::from(2);
    }
    let procs = arg("--procs", 5000);
    let nfds = arg("--fds", 20);
    let runs = arg("--runs", 7).max(1);
    let hostfix = std::env::var("HOSTFIX_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            let exe = std::env::current_exe().expect("current_exe");
            exe.parent()
                .and_then(|p| p.parent())
                .map(|p| p.join("hostfix"))
                .expect("target dir")
        });
    if !hostfix.is_file() {
        eprintln!(
            "bench_port_who: {} missing: cargo build --release first (or set HOSTFIX_BIN)",
            hostfix.display()
        );
        return ExitCode::from(2);
    }
    let hostfix = hostfix.display().to_string();
    let hostfix = hostfix.as_str();
    let have_lsof = which::which("lsof").is_ok();
    if which::which("ss").is_err() {
        eprintln!("bench_port_who: ss (iproute2) is needed");
        return ExitCode::from(2);
    }
    // A private network namespace (the port), PID namespace (pids in creation order,
    // no wrap-around; everything in it dies with its first process) and mount namespace
    // (its own /proc, which hostfix, ss and lsof all walk).
    unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS)
        .expect("unshare(CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWNS)");
    // SAFETY: still single-threaded; the child runs the benchmark as PID 1 of the new
    // namespace and exits, the parent only waits for it.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Parent { child } => match announce_and_wait(child, hostfix) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => ExitCode::from(code as u8),
            other => {
                eprintln!("bench_port_who: benchmark process ended: {other:?}");
                ExitCode::FAILURE
            }
        },
        ForkResult::Child => {
            let code = bench(hostfix, procs, nfds, runs, have_lsof);
            std::process::exit(code)
        }
    }
}

fn announce_and_wait(child: Pid, hostfix: &str) -> nix::Result<nix::sys::wait::WaitStatus> {
    if arg("--hold", 0) > 0 {
        println!("to look inside: nsenter -t {child} -n -m -p {hostfix} port who {PORT}");
    }
    waitpid(child, None)
}

fn bench(hostfix: &str, procs: usize, nfds: usize, runs: usize, have_lsof: bool) -> i32 {
    use nix::mount::{MsFlags, mount};
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .expect("make / private in the new mount namespace");
    mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .expect("mount /proc for the new PID namespace");

    // Open files the idle processes inherit (and keep after we close ours).
    let fds: Vec<OwnedFd> = (0..nfds)
        .map(|_| open("/dev/null", OFlag::O_RDONLY, Mode::empty()).expect("open /dev/null"))
        .collect();
    let t0 = Instant::now();
    let mut kids = Kids(Vec::with_capacity(procs + 2));
    for _ in 0..procs / 2 {
        kids.0.push(spawn_idle());
    }
    let holder = spawn_holder();
    kids.0.push(holder);
    for _ in procs / 2..procs {
        kids.0.push(spawn_idle());
    }
    drop(fds);
    println!(
        "setup: {procs} processes x {nfds} open files (+3 stdio) forked in {:.1} s; holder of tcp/{PORT}: pid {holder} (in the middle: pids {}..{})",
        t0.elapsed().as_secs_f64(),
        kids.0[0],
        kids.0[kids.0.len() - 1]
    );
    // Let the new processes reach pause() before anything is timed.
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_secs(10) {
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
    let total_procs = proc_pids().len();
    println!("processes on the host: {total_procs}; runs per tool: {runs} (median)");
    if let Ok(l) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average: {}", l.trim());
    }

    let hold = arg("--hold", 0);
    if hold > 0 {
        println!("holding for {hold} s (see the line above for nsenter)");
        std::thread::sleep(Duration::from_secs(hold as u64));
    }
    let rank = |pid: Pid| {
        let pids = proc_pids();
        (
            pids.iter().filter(|p| **p < pid.as_raw()).count() + 1,
            pids.len(),
        )
    };
    let (r, n) = rank(holder);
    println!("holder is process {r} of {n} in /proc order");
    let mid = measure("holder in the middle", hostfix, runs, holder, have_lsof);

    // Worst case: the holder is the newest process.
    let _ = kill(holder, Signal::SIGKILL);
    let _ = waitpid(holder, None);
    kids.0.retain(|p| *p != holder);
    let last_holder = spawn_holder();
    kids.0.push(last_holder);
    let (r, n) = rank(last_holder);
    println!("new holder is process {r} of {n} in /proc order");
    let last = measure("holder last", hostfix, runs, last_holder, false);
    drop(kids);

    let r_ss = mid.ss.as_secs_f64() / mid.hostfix.as_secs_f64();
    println!();
    println!("holder in the middle:");
    println!(
        "  hostfix port who  {:8.1} ms   peak RSS {:.1} MB",
        ms(mid.hostfix),
        mid.rss_kb as f64 / 1024.0
    );
    println!(
        "  ss -ltnp          {:8.1} ms   {:.1}x hostfix (need >= 4x)",
        ms(mid.ss),
        r_ss
    );
    let mut ok = r_ss >= 4.0;
    if let Some(l) = mid.lsof {
        let r = l.as_secs_f64() / mid.hostfix.as_secs_f64();
        println!(
            "  lsof -iTCP:{PORT}   {:8.1} ms   {:.1}x hostfix (need >= 8x)",
            ms(l),
            r
        );
        ok &= r >= 8.0;
    } else {
        println!("  lsof: not installed, not measured");
    }
    println!(
        "  cpu (user+sys): hostfix {:.1} ms, ss {:.1} ms, lsof {:.1} ms",
        ms(mid.cpu[0]),
        ms(mid.cpu[1]),
        ms(mid.cpu[2])
    );
    let r_last = last.ss.as_secs_f64() / last.hostfix.as_secs_f64();
    println!("holder last (worst case):");
    println!(
        "  hostfix port who  {:8.1} ms   peak RSS {:.1} MB",
        ms(last.hostfix),
        last.rss_kb as f64 / 1024.0
    );
    println!(
        "  ss -ltnp          {:8.1} ms   {:.2}x hostfix (need >= 1x)",
        ms(last.ss),
        r_last
    );
    println!(
        "  cpu (user+sys): hostfix {:.1} ms, ss {:.1} ms",
        ms(last.cpu[0]),
        ms(last.cpu[1])
    );
    ok &= r_last >= 1.0;
    let rss = mid.rss_kb.max(last.rss_kb);
    ok &= rss < 10 * 1024;
    println!("peak RSS {:.1} MB (need < 10 MB)", rss as f64 / 1024.0);
    println!("{}", if ok { "PASS" } else { "FAIL" });
    if ok { 0 } else { 1 }
}
