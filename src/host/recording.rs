//! A [`System`] for tests: records every call, answers from a script, and lets a test
//! give any call a behaviour (a hook), so no test writes its own `impl System`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use nix::errno::Errno;
use nix::sys::signal::Signal;

use super::{Cmd, CmdOutput, LiveSystem, System};
use crate::error::Result;

/// One call seen by a [`RecordingSystem`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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

type RunHook = dyn Fn(&Cmd) -> Option<CmdOutput> + Send + Sync;
type AfterRunHook = dyn Fn(&Cmd, &CmdOutput) + Send + Sync;
type SwaponHook = dyn Fn(&Path, Option<i32>) -> std::result::Result<(), Errno> + Send + Sync;
type PathHook = dyn Fn(&Path) -> std::result::Result<(), Errno> + Send + Sync;
type SignalHook = dyn Fn(i32, Option<u64>, Signal) -> std::result::Result<(), Errno> + Send + Sync;
type BindHook = dyn Fn(SocketAddr, bool) -> std::result::Result<(), Errno> + Send + Sync;
type RebootHook = dyn Fn() -> std::result::Result<(), Errno> + Send + Sync;
type SleepHook = dyn Fn(Duration) + Send + Sync;

/// The behaviours a test gave the calls. Each is kept behind an `Arc` so a call clones it
/// out and runs it without holding a lock: a hook may call back into the recorder (read
/// its calls, set another hook) without deadlocking.
#[derive(Default)]
struct Hooks {
    run: Option<Arc<RunHook>>,
    after_run: Option<Arc<AfterRunHook>>,
    swapon: Option<Arc<SwaponHook>>,
    swapoff: Option<Arc<PathHook>>,
    signal: Option<Arc<SignalHook>>,
    bind: Option<Arc<BindHook>>,
    reboot: Option<Arc<RebootHook>>,
    sleep: Option<Arc<SleepHook>>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("run", &self.run.is_some())
            .field("after_run", &self.after_run.is_some())
            .field("swapon", &self.swapon.is_some())
            .field("swapoff", &self.swapoff.is_some())
            .field("signal", &self.signal.is_some())
            .field("bind", &self.bind.is_some())
            .field("reboot", &self.reboot.is_some())
            .field("sleep", &self.sleep.is_some())
            .finish()
    }
}

/// A [`System`] for tests: records every call, answers from a script, and runs the
/// behaviours a test gives it.
///
/// Each call is recorded first ([`RecordingSystem::calls`]), then answered by, in order:
///
/// 1. an errno scripted for that call with [`RecordingSystem::fail_next`] (consumed);
/// 2. a hook the test set for that call ([`RecordingSystem::on_run`],
///    [`on_swapon`](RecordingSystem::on_swapon), [`on_signal`](RecordingSystem::on_signal),
///    ...): a closure that may keep state, change the fake root, or fail with an errno;
///    [`on_run`](RecordingSystem::on_run) may decline a command (`None`) to leave it to
///    the next rule;
/// 3. for commands, the first response scripted with [`RecordingSystem::respond`] or
///    [`RecordingSystem::respond_once`] whose prefix matches the command line;
/// 4. the default: success with empty output and no effect, or, for a recorder made
///    with [`RecordingSystem::live`], the real system (except `reboot(2)`, which is never
///    passed through and fails with `EPERM`).
///
/// After a command's output is known, [`RecordingSystem::after_run`] lets a fake react
/// to it (`apt-get remove` marks the package removed in the fake root).
///
/// Its clock stands still at the time set with [`RecordingSystem::set_now`] and moves
/// only by the sleeps it records (the real clock when none was set); it pretends to run
/// as root unless made with [`RecordingSystem::with_euid`].
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use hostfix::host::{Errno, Signal};
/// use hostfix::testing::{Call, Cmd, CmdOutput, RecordingSystem, System};
///
/// let rec = RecordingSystem::new();
/// rec.respond("dpkg -S", CmdOutput::ok("nginx-light: /usr/sbin/nginx\n"));
/// // The port is held until the holder gets SIGTERM.
/// let held = Arc::new(Mutex::new(true));
/// let h = held.clone();
/// rec.on_signal(move |_pid, _start, sig| {
///     if sig == Signal::SIGTERM {
///         *h.lock().unwrap() = false;
///     }
///     Ok(())
/// });
/// let h = held.clone();
/// rec.on_bind(move |_, _| if *h.lock().unwrap() { Err(Errno::EADDRINUSE) } else { Ok(()) });
///
/// let addr = "0.0.0.0:80".parse().unwrap();
/// assert_eq!(rec.try_bind(addr, false), Err(Errno::EADDRINUSE));
/// rec.signal(4242, None, Signal::SIGTERM).unwrap();
/// assert_eq!(rec.try_bind(addr, false), Ok(()));
/// let out = rec.run(&Cmd::new("dpkg", ["-S", "/usr/sbin/nginx"])).unwrap();
/// assert_eq!(out.stdout, "nginx-light: /usr/sbin/nginx\n");
/// assert_eq!(rec.calls()[1], Call::Signal(4242, Signal::SIGTERM));
/// ```
#[derive(Debug, Default)]
pub struct RecordingSystem {
    calls: Mutex<Vec<Call>>,
    responses: Mutex<Vec<(String, CmdOutput, bool)>>,
    errnos: Mutex<VecDeque<(String, Errno)>>,
    hooks: Mutex<Hooks>,
    now: Mutex<Option<SystemTime>>,
    euid: u32,
    live: bool,
}

impl RecordingSystem {
    /// A recorder that pretends to run as root; unscripted calls succeed and do nothing.
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

    /// A recorder in front of the real system: it records every call, applies the
    /// scripts and hooks a test sets, and passes every other call to the running kernel
    /// (commands really run, `swapon(2)` really swaps on, sleeps really sleep, the clock
    /// and the euid are the real ones). `reboot(2)` is never passed through: unscripted,
    /// it fails with `EPERM`. For tests as root on loop filesystems and namespaces.
    pub fn live() -> Self {
        RecordingSystem {
            euid: nix::unistd::geteuid().as_raw(),
            live: true,
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

    /// Answers commands with `hook`: `Some(output)` is the command's output, `None`
    /// leaves the command to the scripted responses (and then the default). Replaces an
    /// earlier run hook.
    pub fn on_run(
        &self,
        hook: impl Fn(&Cmd) -> Option<CmdOutput> + Send + Sync + 'static,
    ) -> &Self {
        lock(&self.hooks).run = Some(Arc::new(hook));
        self
    }

    /// Runs `hook` after every command with the output it got (from a hook, a script or
    /// the default): a fake that reacts to what ran (a `systemctl stop` that frees the
    /// port, an `apt-get remove` that edits the fake package database). Replaces an
    /// earlier one.
    pub fn after_run(&self, hook: impl Fn(&Cmd, &CmdOutput) + Send + Sync + 'static) -> &Self {
        lock(&self.hooks).after_run = Some(Arc::new(hook));
        self
    }

    /// Gives `swapon(2)` a behaviour: `hook` gets the path and priority and returns what
    /// the call returns (a fake kernel lists the file in the fake `/proc/swaps`).
    pub fn on_swapon(
        &self,
        hook: impl Fn(&Path, Option<i32>) -> std::result::Result<(), Errno> + Send + Sync + 'static,
    ) -> &Self {
        lock(&self.hooks).swapon = Some(Arc::new(hook));
        self
    }

    /// Gives `swapoff(2)` a behaviour.
    pub fn on_swapoff(
        &self,
        hook: impl Fn(&Path) -> std::result::Result<(), Errno> + Send + Sync + 'static,
    ) -> &Self {
        lock(&self.hooks).swapoff = Some(Arc::new(hook));
        self
    }

    /// Gives signals a behaviour: `hook` gets the pid, the start time hostfix checked it
    /// against, and the signal (a test frees a port on SIGTERM, or signals for real).
    pub fn on_signal(
        &self,
        hook: impl Fn(i32, Option<u64>, Signal) -> std::result::Result<(), Errno>
        + Send
        + Sync
        + 'static,
    ) -> &Self {
        lock(&self.hooks).signal = Some(Arc::new(hook));
        self
    }

    /// Gives bind probes a behaviour: `hook` gets the address and whether it is UDP
    /// (`Err(Errno::EADDRINUSE)` while the port is held).
    pub fn on_bind(
        &self,
        hook: impl Fn(SocketAddr, bool) -> std::result::Result<(), Errno> + Send + Sync + 'static,
    ) -> &Self {
        lock(&self.hooks).bind = Some(Arc::new(hook));
        self
    }

    /// Gives `reboot(2)` a behaviour.
    pub fn on_reboot(
        &self,
        hook: impl Fn() -> std::result::Result<(), Errno> + Send + Sync + 'static,
    ) -> &Self {
        lock(&self.hooks).reboot = Some(Arc::new(hook));
        self
    }

    /// Runs `hook` on every sleep, before the recorder's clock moves by it (a test
    /// checks what holds while hostfix waits).
    pub fn on_sleep(&self, hook: impl Fn(Duration) + Send + Sync + 'static) -> &Self {
        lock(&self.hooks).sleep = Some(Arc::new(hook));
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

    /// The signals sent so far, as (pid, signal).
    pub fn signals(&self) -> Vec<(i32, Signal)> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Signal(p, s) => Some((p, s)),
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

    fn hook<H: ?Sized>(&self, pick: impl FnOnce(&Hooks) -> Option<Arc<H>>) -> Option<Arc<H>> {
        pick(&lock(&self.hooks))
    }

    fn scripted_response(&self, line: &str) -> Option<CmdOutput> {
        let mut rs = lock(&self.responses);
        let i = rs
            .iter()
            .position(|(p, _, _)| line.starts_with(p.as_str()))?;
        let out = rs[i].1.clone();
        if rs[i].2 {
            rs.remove(i);
        }
        Some(out)
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
        let out = if let Some(out) = self.hook(|h| h.run.clone()).and_then(|f| f(cmd)) {
            out
        } else if let Some(out) = self.scripted_response(&line) {
            out
        } else if self.live {
            LiveSystem.run(cmd)?
        } else {
            CmdOutput::ok("")
        };
        if let Some(f) = self.hook(|h| h.after_run.clone()) {
            f(cmd, &out);
        }
        Ok(out)
    }
    fn swapon(&self, path: &Path, priority: Option<i32>) -> std::result::Result<(), Errno> {
        self.record(Call::Swapon(path.to_path_buf(), priority));
        self.scripted_errno("swapon")?;
        match self.hook(|h| h.swapon.clone()) {
            Some(f) => f(path, priority),
            None if self.live => LiveSystem.swapon(path, priority),
            None => Ok(()),
        }
    }
    fn swapoff(&self, path: &Path) -> std::result::Result<(), Errno> {
        self.record(Call::Swapoff(path.to_path_buf()));
        self.scripted_errno("swapoff")?;
        match self.hook(|h| h.swapoff.clone()) {
            Some(f) => f(path),
            None if self.live => LiveSystem.swapoff(path),
            None => Ok(()),
        }
    }
    fn signal(&self, pid: i32, start: Option<u64>, sig: Signal) -> std::result::Result<(), Errno> {
        self.record(Call::Signal(pid, sig));
        self.scripted_errno("signal")?;
        match self.hook(|h| h.signal.clone()) {
            Some(f) => f(pid, start, sig),
            None if self.live => LiveSystem.signal(pid, start, sig),
            None => Ok(()),
        }
    }
    fn try_bind(&self, addr: SocketAddr, udp: bool) -> std::result::Result<(), Errno> {
        self.record(Call::Bind(addr, udp));
        self.scripted_errno("bind")?;
        match self.hook(|h| h.bind.clone()) {
            Some(f) => f(addr, udp),
            None if self.live => LiveSystem.try_bind(addr, udp),
            None => Ok(()),
        }
    }
    fn sync(&self) {
        self.record(Call::Sync);
    }
    fn reboot_syscall(&self) -> std::result::Result<(), Errno> {
        self.record(Call::Reboot);
        self.scripted_errno("reboot")?;
        match self.hook(|h| h.reboot.clone()) {
            Some(f) => f(),
            // Never the real reboot(2), whatever the mode.
            None if self.live => Err(Errno::EPERM),
            None => Ok(()),
        }
    }
    fn sleep(&self, d: Duration) {
        self.record(Call::Sleep(d));
        if let Some(f) = self.hook(|h| h.sleep.clone()) {
            f(d);
        }
        let mut now = lock(&self.now);
        if let Some(t) = now.as_mut() {
            *t += d;
        } else if self.live {
            drop(now);
            std::thread::sleep(d);
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

    #[test]
    fn hooks_answer_after_scripted_errnos_and_before_responses() {
        let rec = Arc::new(RecordingSystem::new());
        rec.respond("docker ps", CmdOutput::ok("scripted"));
        rec.on_run(|c| {
            (c.args.first().map(String::as_str) == Some("ps")).then(|| CmdOutput::ok("hooked"))
        });
        assert_eq!(
            rec.run(&Cmd::new("docker", ["ps"])).unwrap().stdout,
            "hooked"
        );
        assert_eq!(rec.run(&Cmd::new("docker", ["info"])).unwrap().stdout, "");
        // A hook may call back into the recorder.
        let r2 = rec.clone();
        rec.on_swapoff(move |_| {
            if r2.calls().len() > 3 {
                Ok(())
            } else {
                Err(Errno::EBUSY)
            }
        });
        assert_eq!(rec.swapoff(Path::new("/s")), Err(Errno::EBUSY));
        assert_eq!(rec.swapoff(Path::new("/s")), Ok(()));
        rec.fail_next("swapoff", Errno::EINVAL);
        assert_eq!(rec.swapoff(Path::new("/s")), Err(Errno::EINVAL));
        rec.on_sleep(|d| assert_eq!(d, Duration::from_secs(2)));
        rec.set_now(SystemTime::UNIX_EPOCH);
        rec.sleep(Duration::from_secs(2));
        assert_eq!(rec.now(), SystemTime::UNIX_EPOCH + Duration::from_secs(2));
    }

    #[test]
    fn a_live_recorder_never_reboots() {
        let rec = RecordingSystem::live();
        assert_eq!(rec.reboot_syscall(), Err(Errno::EPERM));
        assert_eq!(rec.calls(), vec![Call::Reboot]);
        assert_eq!(
            rec.run(&Cmd::new("true", Vec::<String>::new()))
                .unwrap()
                .status,
            Some(0)
        );
    }
}
