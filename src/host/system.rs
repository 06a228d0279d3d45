//! The seam: every call that changes the live system or runs a program, and the real
//! system behind it.

use std::fmt;
use std::io::Write;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use nix::errno::Errno;
use nix::sys::signal::Signal;

use crate::error::{Error, Result};

/// A command to run: program, arguments, extra environment, optional stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    /// The program (a name looked up in `PATH`, or a path).
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Bytes fed to stdin (none: stdin is `/dev/null`).
    pub stdin: Option<Vec<u8>>,
}

impl Cmd {
    /// A command with arguments.
    pub fn new<I, S>(program: impl Into<String>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Cmd {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            stdin: None,
        }
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The command line, for logs and plans.
    pub fn display(&self) -> String {
        let mut s = self.program.clone();
        for a in &self.args {
            s.push(' ');
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '\'') {
                s.push_str(&format!("'{}'", a.replace('\'', "'\\''")));
            } else {
                s.push_str(a);
            }
        }
        s
    }
}

/// What a command printed and how it exited.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CmdOutput {
    /// The exit status (`None` when killed by a signal).
    pub status: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl CmdOutput {
    /// A successful run that printed `stdout`.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))] // used by hostfix::testing
    pub fn ok(stdout: impl Into<String>) -> Self {
        CmdOutput {
            status: Some(0),
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }

    /// A run that exited with `status` and printed `stderr`.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))] // used by hostfix::testing
    pub fn failed(status: i32, stderr: impl Into<String>) -> Self {
        CmdOutput {
            status: Some(status),
            stdout: String::new(),
            stderr: stderr.into(),
        }
    }

    /// Whether it exited 0.
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    /// This output as an error of `cmd`, for a non-zero exit.
    pub fn to_error(&self, cmd: &Cmd) -> Error {
        Error::Command {
            program: cmd.program.clone(),
            args: cmd.args.clone(),
            status: self.status,
            stderr: self.stderr.trim().to_string(),
            spawn_error: None,
        }
    }
}

/// The seam: every call that changes the live system or runs a program.
///
/// Paths handed to these methods are paths on the live system (already joined to the
/// host's root by the caller).
pub trait System: fmt::Debug + Send + Sync {
    /// Runs a command to completion and returns its output, whatever its exit status.
    ///
    /// # Errors
    /// [`Error::Command`] when the program cannot be started.
    fn run(&self, cmd: &Cmd) -> Result<CmdOutput>;

    /// `swapon(2)` with an optional priority.
    ///
    /// # Errors
    /// The errno.
    fn swapon(&self, path: &Path, priority: Option<i32>) -> std::result::Result<(), Errno>;

    /// `swapoff(2)`.
    ///
    /// # Errors
    /// The errno.
    fn swapoff(&self, path: &Path) -> std::result::Result<(), Errno>;

    /// Sends a signal through a pidfd, after checking that `pid` is still the process that
    /// started at `start_time` (clock ticks since boot, field 22 of `/proc/PID/stat`), so a
    /// recycled PID is never hit.
    ///
    /// # Errors
    /// `ESRCH` when the process is gone or is another process now, or the errno.
    fn signal(
        &self,
        pid: i32,
        start_time: Option<u64>,
        sig: Signal,
    ) -> std::result::Result<(), Errno>;

    /// Binds (and immediately closes) a socket on `addr`: the proof that a port is free.
    ///
    /// # Errors
    /// The errno of `bind` (`EADDRINUSE` when held).
    fn try_bind(&self, addr: SocketAddr, udp: bool) -> std::result::Result<(), Errno>;

    /// `sync(2)`.
    fn sync(&self);

    /// `reboot(2)` with `RB_AUTOBOOT`. Only returns on failure.
    ///
    /// # Errors
    /// The errno.
    fn reboot_syscall(&self) -> std::result::Result<(), Errno>;

    /// Sleeps (a recording system returns at once).
    fn sleep(&self, d: Duration);

    /// The current time.
    fn now(&self) -> SystemTime;

    /// The effective user id.
    fn euid(&self) -> u32;
}

// From <linux/swap.h>; libc does not export them.
const SWAP_FLAG_PREFER: i32 = 0x8000;
const SWAP_FLAG_PRIO_MASK: i32 = 0x7fff;

/// The real system.
#[derive(Debug, Default, Clone, Copy)]
pub struct LiveSystem;

fn path_cstring(path: &Path) -> std::result::Result<std::ffi::CString, Errno> {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)
}

impl System for LiveSystem {
    fn run(&self, cmd: &Cmd) -> Result<CmdOutput> {
        let spawn_err = |e: std::io::Error| Error::Command {
            program: cmd.program.clone(),
            args: cmd.args.clone(),
            status: None,
            stderr: String::new(),
            spawn_error: Some(e.to_string()),
        };
        let mut c = Command::new(&cmd.program);
        c.args(&cmd.args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if cmd.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        for (k, v) in &cmd.env {
            c.env(k, v);
        }
        log::debug!("run: {}", cmd.display());
        let mut child = c.spawn().map_err(spawn_err)?;
        if let (Some(input), Some(mut stdin)) = (&cmd.stdin, child.stdin.take()) {
            // A child that exits without reading its input is not an error here; its
            // exit status tells.
            if let Err(e) = stdin.write_all(input) {
                log::debug!("run: {}: writing stdin: {e}", cmd.program);
            }
        }
        let out = child.wait_with_output().map_err(spawn_err)?;
        let out = CmdOutput {
            status: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        log::debug!("run: {} -> {:?}", cmd.program, out.status);
        Ok(out)
    }

    fn swapon(&self, path: &Path, priority: Option<i32>) -> std::result::Result<(), Errno> {
        let c = path_cstring(path)?;
        let flags = match priority {
            Some(p) => SWAP_FLAG_PREFER | (p.clamp(0, SWAP_FLAG_PRIO_MASK) & SWAP_FLAG_PRIO_MASK),
            None => 0,
        };
        // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
        let rc = unsafe { libc::swapon(c.as_ptr(), flags) };
        if rc == 0 { Ok(()) } else { Err(Errno::last()) }
    }

    fn swapoff(&self, path: &Path) -> std::result::Result<(), Errno> {
        let c = path_cstring(path)?;
        // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
        let rc = unsafe { libc::swapoff(c.as_ptr()) };
        if rc == 0 { Ok(()) } else { Err(Errno::last()) }
    }

    fn signal(
        &self,
        pid: i32,
        start_time: Option<u64>,
        sig: Signal,
    ) -> std::result::Result<(), Errno> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; no memory
        // is shared with the kernel.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            return Err(Errno::last());
        }
        // SAFETY: the syscall returned a fresh fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        // The pidfd now pins the process; check it is the one we were asked to signal.
        if let Some(want) = start_time {
            let stat = super::proc_stat::read_under(Path::new("/"), pid);
            if stat.map(|s| s.start_time) != Some(want) {
                return Err(Errno::ESRCH);
            }
        }
        // SAFETY: a valid pidfd, a signal number, a null siginfo and zero flags, as
        // pidfd_send_signal(2) documents.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                fd.as_raw_fd(),
                sig as i32,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if rc == 0 { Ok(()) } else { Err(Errno::last()) }
    }

    fn try_bind(&self, addr: SocketAddr, udp: bool) -> std::result::Result<(), Errno> {
        let res = if udp {
            std::net::UdpSocket::bind(addr).map(drop)
        } else {
            std::net::TcpListener::bind(addr).map(drop)
        };
        res.map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
    }

    fn sync(&self) {
        nix::unistd::sync();
    }

    fn reboot_syscall(&self) -> std::result::Result<(), Errno> {
        nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_AUTOBOOT).map(|_| ())
    }

    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }

    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn euid(&self) -> u32 {
        nix::unistd::geteuid().as_raw()
    }
}
