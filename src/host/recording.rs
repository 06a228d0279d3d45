//! A [`System`] for tests: records every call and answers from a script.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use nix::errno::Errno;
use nix::sys::signal::Signal;

use super::{Cmd, CmdOutput, System};
use crate::error::Result;

/// One call seen by a [`RecordingSystem`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// A command, as its display string.
    Run(String),
    /// `swapon` of a path with a priority.
    Swapon(PathBuf, Option<i32>),
    /// `swapoff` of a path.
    Swapoff(PathBuf),
    /// A signal to a pid.
    Signal(i32, Signal),
    /// A bind probe.
    Bind(SocketAddr, bool),
    /// `sync`.
    Sync,
    /// `reboot(2)`.
    Reboot,
    /// A sleep.
    Sleep(Duration),
}

/// A [`System`] for tests: records every call and answers from a script.
///
/// Commands are answered by the first scripted response whose prefix matches the command
/// line (consumed when scripted with [`RecordingSystem::respond_once`]); unmatched commands
/// succeed with empty output. Syscalls succeed unless an errno was scripted for them.
#[derive(Debug, Default)]
pub struct RecordingSystem {
    calls: Mutex<Vec<Call>>,
    responses: Mutex<Vec<(String, CmdOutput, bool)>>,
    errnos: Mutex<VecDeque<(String, Errno)>>,
    now: Mutex<Option<SystemTime>>,
    euid: u32,
}

impl RecordingSystem {
    /// A recorder that pretends to run as root.
    pub fn new() -> Self {
        Self::default()
    }

    /// A recorder that pretends to run as `euid`.
    pub fn with_euid(euid: u32) -> Self {
        RecordingSystem {
            euid,
            ..Self::default()
        }
    }

    /// Answers every command starting with `prefix` with `out`.
    pub fn respond(&self, prefix: impl Into<String>, out: CmdOutput) -> &Self {
        lock(&self.responses).push((prefix.into(), out, false));
        self
    }

    /// Answers the next command starting with `prefix` with `out`, once.
    pub fn respond_once(&self, prefix: impl Into<String>, out: CmdOutput) -> &Self {
        lock(&self.responses).push((prefix.into(), out, true));
        self
    }

    /// Makes the next syscall named `call` (`swapon`, `swapoff`, `signal`, `bind`,
    /// `reboot`) fail with `errno`.
    pub fn fail_next(&self, call: impl Into<String>, errno: Errno) -> &Self {
        lock(&self.errnos).push_back((call.into(), errno));
        self
    }

    /// Fixes the clock.
    pub fn set_now(&self, t: SystemTime) {
        *lock(&self.now) = Some(t);
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.calls).clone()
    }

    /// The command lines run so far.
    pub fn commands(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Run(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    fn record(&self, call: Call) {
        lock(&self.calls).push(call);
    }

    fn scripted_errno(&self, name: &str) -> std::result::Result<(), Errno> {
        let mut q = lock(&self.errnos);
        if let Some(i) = q.iter().position(|(n, _)| n == name) {
            if let Some((_, e)) = q.remove(i) {
                return Err(e);
            }
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic in another test thread must not hide this thread's calls.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl System for RecordingSystem {
    fn run(&self, cmd: &Cmd) -> Result<CmdOutput> {
        let line = cmd.display();
        self.record(Call::Run(line.clone()));
        let mut rs = lock(&self.responses);
        if let Some(i) = rs.iter().position(|(p, _, _)| line.starts_with(p.as_str())) {
            let out = rs[i].1.clone();
            if rs[i].2 {
                rs.remove(i);
            }
            return Ok(out);
        }
        Ok(CmdOutput::ok(""))
    }
    fn swapon(&self, path: &Path, priority: Option<i32>) -> std::result::Result<(), Errno> {
        self.record(Call::Swapon(path.to_path_buf(), priority));
        self.scripted_errno("swapon")
    }
    fn swapoff(&self, path: &Path) -> std::result::Result<(), Errno> {
        self.record(Call::Swapoff(path.to_path_buf()));
        self.scripted_errno("swapoff")
    }
    fn signal(&self, pid: i32, _start: Option<u64>, sig: Signal) -> std::result::Result<(), Errno> {
        self.record(Call::Signal(pid, sig));
        self.scripted_errno("signal")
    }
    fn try_bind(&self, addr: SocketAddr, udp: bool) -> std::result::Result<(), Errno> {
        self.record(Call::Bind(addr, udp));
        self.scripted_errno("bind")
    }
    fn sync(&self) {
        self.record(Call::Sync);
    }
    fn reboot_syscall(&self) -> std::result::Result<(), Errno> {
        self.record(Call::Reboot);
        self.scripted_errno("reboot")
    }
    fn sleep(&self, d: Duration) {
        self.record(Call::Sleep(d));
        let mut now = lock(&self.now);
        if let Some(t) = now.as_mut() {
            *t += d;
        }
    }
    fn now(&self) -> SystemTime {
        lock(&self.now).unwrap_or_else(SystemTime::now)
    }
    fn euid(&self) -> u32 {
        self.euid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorder_scripts_commands_and_errnos() {
        let rec = RecordingSystem::new();
        rec.respond_once("dpkg -S", CmdOutput::ok("nginx-light: /usr/sbin/nginx\n"));
        rec.fail_next("swapon", Errno::EPERM);
        let c = Cmd::new("dpkg", ["-S", "/usr/sbin/nginx"]);
        assert_eq!(
            rec.run(&c).unwrap().stdout,
            "nginx-light: /usr/sbin/nginx\n"
        );
        assert_eq!(rec.run(&c).unwrap().stdout, "");
        assert_eq!(rec.swapon(Path::new("/s"), None), Err(Errno::EPERM));
        assert_eq!(rec.swapon(Path::new("/s"), None), Ok(()));
        assert_eq!(rec.commands().len(), 2);
        assert_eq!(Cmd::new("echo", ["a b", ""]).display(), "echo 'a b' ''");
    }
}
