//! The host as a value: the root every reader starts from, and the one seam through which
//! every change and every command goes.
//!
//! Readers take the host's root, so tests point a [`Host`] at a tempdir of fixture files
//! (`proc/meminfo`, `etc/fstab`, ...). Everything that changes the live system or runs a
//! command goes through the [`System`] trait: [`LiveSystem`] does it for real,
//! [`RecordingSystem`] records what would have run and answers from a script.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
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
    pub fn ok(stdout: impl Into<String>) -> Self {
        CmdOutput {
            status: Some(0),
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }

    /// A run that exited with `status` and printed `stderr`.
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
            let stat = crate::process::stat::read_under(Path::new("/"), pid);
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

/// The init system running the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InitSystem {
    /// systemd is PID 1 (`/run/systemd/system` exists).
    Systemd,
    /// Something else, or unknown.
    Other,
}

/// A host: the root its files are read from, the seam its changes go through, and the
/// owner its system files (a swap file, hostfix's state) belong to.
#[derive(Clone)]
pub struct Host {
    root: PathBuf,
    system: Arc<dyn System>,
    owner: (u32, u32),
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Host")
            .field("root", &self.root)
            .field("system", &self.system)
            .field("owner", &self.owner)
            .finish()
    }
}

/// The owner a host's system files are expected to have: root on the live system; on a
/// root elsewhere (a fake root, an image being prepared), whoever runs hostfix, since
/// that is who owns the files it makes there.
fn default_owner(root: &Path) -> (u32, u32) {
    if root == Path::new("/") {
        (0, 0)
    } else {
        (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    }
}

impl Host {
    /// The machine this runs on: root `/`, real syscalls and commands.
    pub fn live() -> Self {
        Host {
            root: PathBuf::from("/"),
            system: Arc::new(LiveSystem),
            owner: (0, 0),
        }
    }

    /// A fake host: files read under `root`, calls recorded by a fresh
    /// [`RecordingSystem`]; its files are expected to belong to the running user.
    pub fn fake(root: impl Into<PathBuf>) -> Self {
        Host::with_system(root, Arc::new(RecordingSystem::new()))
    }

    /// A host with this root and this system. Its files are expected to belong to root
    /// when `root` is `/`, and to the running user otherwise ([`Host::with_owner`]
    /// changes that).
    pub fn with_system(root: impl Into<PathBuf>, system: Arc<dyn System>) -> Self {
        let root = root.into();
        let owner = default_owner(&root);
        Host {
            root,
            system,
            owner,
        }
    }

    /// The same host, with its system files expected to belong to `uid`:`gid`.
    pub fn with_owner(mut self, uid: u32, gid: u32) -> Self {
        self.owner = (uid, gid);
        self
    }

    /// The owner (`uid`, `gid`) the host's system files are expected to have: what
    /// hostfix checks a swap file or its state directory against, and gives the files it
    /// creates. `(0, 0)` on the live system.
    pub fn owner(&self) -> (u32, u32) {
        self.owner
    }

    /// The host's root (`/` on a live host).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether this host's root is the real `/`.
    pub fn is_live_root(&self) -> bool {
        self.root == Path::new("/")
    }

    /// The seam for changes and commands.
    pub fn system(&self) -> &dyn System {
        self.system.as_ref()
    }

    /// A host path (`/etc/fstab`) joined to the root.
    pub fn path(&self, host_path: impl AsRef<Path>) -> PathBuf {
        let p = host_path.as_ref();
        let rel = p.strip_prefix("/").unwrap_or(p);
        if rel.as_os_str().is_empty() {
            return self.root.clone();
        }
        self.root.join(rel)
    }

    /// The host path for a path under the root (the inverse of [`Host::path`]).
    pub fn host_path(&self, real: &Path) -> PathBuf {
        match real.strip_prefix(&self.root) {
            Ok(rel) => Path::new("/").join(rel),
            Err(_) => real.to_path_buf(),
        }
    }

    /// Reads a host file as text.
    ///
    /// # Errors
    /// [`Error::Io`] with the host path.
    pub fn read(&self, host_path: impl AsRef<Path>) -> Result<String> {
        let p = host_path.as_ref();
        std::fs::read_to_string(self.path(p)).map_err(|e| Error::io("reading", p, e))
    }

    /// Reads a host file as text; `None` when it does not exist.
    ///
    /// # Errors
    /// [`Error::Io`] for any failure other than "not found".
    pub fn read_opt(&self, host_path: impl AsRef<Path>) -> Result<Option<String>> {
        match self.read(host_path) {
            Ok(s) => Ok(Some(s)),
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Runs a command through the seam and returns its output when it exits 0.
    ///
    /// # Errors
    /// [`Error::Command`] with the exit status and stderr otherwise.
    pub fn run_ok(&self, cmd: &Cmd) -> Result<CmdOutput> {
        let out = self.system.run(cmd)?;
        if out.success() {
            Ok(out)
        } else {
            Err(out.to_error(cmd))
        }
    }

    /// Whether hostfix runs as root.
    pub fn is_root(&self) -> bool {
        self.system.euid() == 0
    }

    /// The running kernel's release (`/proc/sys/kernel/osrelease`).
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be read.
    pub fn kernel_release(&self) -> Result<String> {
        Ok(self.read("/proc/sys/kernel/osrelease")?.trim().to_string())
    }

    /// The current boot's id (`/proc/sys/kernel/random/boot_id`).
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be read.
    pub fn boot_id(&self) -> Result<String> {
        Ok(self
            .read("/proc/sys/kernel/random/boot_id")?
            .trim()
            .to_string())
    }

    /// The init system.
    pub fn init_system(&self) -> InitSystem {
        if self.path("/run/systemd/system").is_dir() {
            InitSystem::Systemd
        } else {
            InitSystem::Other
        }
    }

    /// The container technology hostfix runs in, if any (`docker`, `lxc`, `podman`, ...).
    ///
    /// Reads `/run/systemd/container`, the `container=` variable of PID 1's environment,
    /// `/run/.containerenv`, and `/.dockerenv`. `/.dockerenv` alone is weak evidence (VM
    /// images built with Docker keep it), so it counts only when the root filesystem is an
    /// overlay as Docker mounts it, or PID 1's cgroup names Docker.
    pub fn container(&self) -> Option<String> {
        if let Ok(Some(s)) = self.read_opt("/run/systemd/container") {
            let s = s.trim();
            if !s.is_empty() {
                return Some(s.to_string());
            }
        }
        if let Ok(env) = std::fs::read(self.path("/proc/1/environ")) {
            if let Some(c) = container_from_environ(&env) {
                return Some(c);
            }
        }
        if self.path("/run/.containerenv").exists() {
            return Some("podman".into());
        }
        if self.path("/.dockerenv").exists() {
            let overlay_root = self
                .read_opt("/proc/self/mounts")
                .ok()
                .flatten()
                .and_then(|m| root_fs_type(&m))
                .is_some_and(|t| matches!(t.as_str(), "overlay" | "aufs" | "fuse-overlayfs"));
            let docker_cgroup = self
                .read_opt("/proc/1/cgroup")
                .ok()
                .flatten()
                .is_some_and(|c| c.contains("/docker"));
            if overlay_root || docker_cgroup {
                return Some("docker".into());
            }
        }
        None
    }
}

/// The type of the filesystem mounted on `/`, from the text of `/proc/self/mounts` (the
/// last mount on `/` wins, as the kernel stacks them).
pub fn root_fs_type(mounts: &str) -> Option<String> {
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_dev, mnt, ty) = (f.next()?, f.next()?, f.next()?);
            (mnt == "/").then(|| ty.to_string())
        })
        .next_back()
}

/// The value of `container=` in a NUL-separated environment block.
pub fn container_from_environ(env: &[u8]) -> Option<String> {
    env.split(|b| *b == 0)
        .filter_map(|kv| kv.strip_prefix(b"container="))
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .find(|v| !v.is_empty())
}

/// `OsString` of a path, for command arguments.
pub fn arg(path: &Path) -> String {
    OsString::from(path).to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_the_root() {
        let h = Host::fake("/tmp/fake");
        assert_eq!(h.path("/etc/fstab"), PathBuf::from("/tmp/fake/etc/fstab"));
        assert_eq!(h.path("/"), PathBuf::from("/tmp/fake"));
        assert_eq!(
            h.host_path(Path::new("/tmp/fake/etc/fstab")),
            PathBuf::from("/etc/fstab")
        );
        assert_eq!(Host::live().path("/etc"), PathBuf::from("/etc"));
    }

    #[test]
    fn the_expected_owner_is_root_live_and_the_runner_on_a_fake_root() {
        assert_eq!(Host::live().owner(), (0, 0));
        let me = (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
        assert_eq!(Host::fake("/tmp/fake").owner(), me);
        assert_eq!(Host::fake("/tmp/fake").with_owner(7, 8).owner(), (7, 8));
        let live = Host::with_system("/", Arc::new(LiveSystem));
        assert_eq!(live.owner(), (0, 0));
    }

    #[test]
    fn a_stale_dockerenv_is_not_a_container() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(".dockerenv"), "").unwrap();
        std::fs::create_dir_all(d.path().join("proc/self")).unwrap();
        std::fs::write(
            d.path().join("proc/self/mounts"),
            "/dev/vda / ext4 rw,relatime 0 0\nproc /proc proc rw 0 0\n",
        )
        .unwrap();
        let h = Host::fake(d.path());
        assert_eq!(h.container(), None);
        std::fs::write(
            d.path().join("proc/self/mounts"),
            "overlay / overlay rw,lowerdir=/x 0 0\n",
        )
        .unwrap();
        assert_eq!(h.container(), Some("docker".into()));
        std::fs::remove_file(d.path().join(".dockerenv")).unwrap();
        std::fs::create_dir_all(d.path().join("run/systemd")).unwrap();
        std::fs::write(d.path().join("run/systemd/container"), "lxc\n").unwrap();
        assert_eq!(h.container(), Some("lxc".into()));
    }

    #[test]
    fn container_detection_from_environ() {
        assert_eq!(
            container_from_environ(b"PATH=/bin\0container=lxc\0"),
            Some("lxc".into())
        );
        assert_eq!(container_from_environ(b"PATH=/bin\0"), None);
    }

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
