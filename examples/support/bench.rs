//! What the benchmark examples share (each `bench_*.rs` includes this file with
//! `#[path]`): forked idle processes reaped on drop, and one child process timed with its
//! rusage from `wait4`. Benchmarks are standalone programs run by hand as root: a failed
//! fork or spawn ends them with a message.

// Each benchmark uses its own part of this file.
#![allow(dead_code)]

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid, fork};

/// The processes a benchmark forked; killed and reaped on drop.
pub struct Kids(pub Vec<Pid>);

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

/// Waits for signals forever (a forked child's idle loop).
pub fn idle_forever() -> ! {
    loop {
        // SAFETY: pause(2) has no arguments and only returns on a signal.
        unsafe { libc::pause() };
    }
}

/// Forks an idle process that dies with us.
pub fn spawn_idle() -> Pid {
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

/// One child process's wall and CPU time (user + system, its children's included), peak
/// RSS, stdout and wait status.
pub struct Run {
    pub wall: Duration,
    pub cpu: Duration,
    pub maxrss_kb: i64,
    pub stdout: String,
    pub status: i32,
}

impl Run {
    /// Whether it exited with status 0.
    pub fn succeeded(&self) -> bool {
        libc::WIFEXITED(self.status) && libc::WEXITSTATUS(self.status) == 0
    }
}

/// Runs `argv`, its stdout captured and its stderr as given, and reaps it with `wait4`
/// for its rusage.
// The child is reaped by wait4, not by Child::wait.
#[allow(clippy::zombie_processes)]
pub fn run<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(argv: &[S], stderr: Stdio) -> Run {
    let start = Instant::now();
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("{:?}: {e}", argv[0]));
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
    let wall = start.elapsed();
    assert!(rc > 0, "wait4 {:?}", argv[0]);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Run {
        wall,
        cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
        maxrss_kb: ru.ru_maxrss,
        stdout,
        status,
    }
}

/// The median of a non-empty series.
pub fn median<T: Copy + PartialOrd>(v: &mut [T]) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[v.len() / 2]
}

/// A duration in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// In fresh mount and PID namespaces: `/` made private (nothing mounted here reaches the
/// host) and a `/proc` of the new PID namespace.
pub fn private_root_and_proc() {
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
}
