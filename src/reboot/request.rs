//! The reboot itself: `sync`, then the orderly way, and `reboot(2)` only when forced or
//! when the orderly way failed and the method allows it.
//!
//! With systemd, `systemctl reboot` (and `--message`); a delay becomes a transient timer in
//! PID 1 (`systemd-run --on-active=Ns`, accuracy one second), so seconds stay seconds and
//! the caller is not kept waiting. Without systemd, `shutdown -r now` (or `reboot`), after
//! hostfix itself waited out the delay. The ledger entry is updated around the request:
//! `requested_at` once it was accepted (before `reboot(2)`, which does not return), or
//! `failed` with the cause. The host lock is let go before hostfix waits out a delay and
//! taken again for the next update of the ledger.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;

use super::RebootError;
use super::RebootSpec;
use super::ledger::{self, EntryState, Ledger, LedgerEntry};
use crate::error::{Error, InputError, Result};
use crate::host::{Cmd, Host, InitSystem};
use crate::size::format_duration;
use crate::state::HostLock;

/// How long an update of the ledger after a wait may wait for another run's host lock.
const RELOCK_WAIT: Duration = Duration::from_secs(60);

/// How the reboot is requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum RebootMethod {
    /// The init system's orderly reboot only (systemd/logind, or `shutdown`).
    #[default]
    Orderly,
    /// The orderly reboot, and `reboot(2)` after `sync` when it fails.
    Auto,
    /// `sync`, then `reboot(2)` directly: no service is stopped cleanly.
    Syscall,
}

impl RebootMethod {
    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            RebootMethod::Orderly => "orderly",
            RebootMethod::Auto => "auto",
            RebootMethod::Syscall => "syscall",
        }
    }
}

impl FromStr for RebootMethod {
    type Err = InputError;
    fn from_str(s: &str) -> std::result::Result<Self, InputError> {
        match s.trim() {
            "orderly" => Ok(RebootMethod::Orderly),
            "auto" => Ok(RebootMethod::Auto),
            "syscall" => Ok(RebootMethod::Syscall),
            _ => Err(InputError::new(
                "reboot method",
                s,
                "unknown method",
                "orderly (the init system's reboot), auto (orderly, then reboot(2) if that \
                 fails) or syscall (sync, then reboot(2))",
            )),
        }
    }
}

/// How a reboot will be requested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RequestPlan {
    pub(super) method: RebootMethod,
    /// The orderly commands, tried in order while they cannot be started.
    pub(super) orderly: Vec<Cmd>,
    pub(super) delay: Duration,
    /// Sleep before the orderly request (no systemd timer to wait for us).
    pub(super) sleep_first: bool,
    pub(super) message: Option<String>,
    pub(super) label: String,
}

pub(super) fn plan_request(init: InitSystem, spec: &RebootSpec, id: u64) -> RequestPlan {
    let secs = spec.delay.as_secs();
    let mut systemctl = vec!["reboot".to_string()];
    if let Some(m) = &spec.message {
        systemctl.push(format!("--message={m}"));
    }
    let (orderly, sleep_first) = match init {
        InitSystem::Systemd if secs == 0 => (vec![Cmd::new("systemctl", systemctl)], false),
        InitSystem::Systemd => {
            // A transient timer in PID 1: the delay is kept to the second (AccuracySec
            // defaults to a minute), and it survives this process exiting.
            let mut args = vec![
                format!("--unit=hostfix-reboot-{id}"),
                format!("--description=hostfix reboot #{id}"),
                format!("--on-active={secs}s"),
                "--timer-property=AccuracySec=1s".to_string(),
                "systemctl".to_string(),
            ];
            args.extend(systemctl);
            (vec![Cmd::new("systemd-run", args)], false)
        }
        // sysvinit, OpenRC or an init hostfix cannot tell: the host's own `shutdown`
        // (sysvinit's runs the rc scripts of runlevel 6; OpenRC's, or busybox's `reboot`
        // where there is no `shutdown`, do the same for theirs).
        InitSystem::OpenRc | InitSystem::Sysvinit | InitSystem::Unknown => (
            vec![
                Cmd::new("shutdown", ["-r", "now"]),
                Cmd::new("reboot", Vec::<String>::new()),
            ],
            secs > 0,
        ),
    };
    let orderly_label = {
        let mut l = orderly[0].display();
        if sleep_first {
            l = format!("sleep {secs}s, then {l}");
        }
        l
    };
    let syscall_label = if secs > 0 {
        format!("sleep {secs}s, sync, reboot(2)")
    } else {
        "sync, reboot(2)".to_string()
    };
    let label = match spec.method {
        RebootMethod::Orderly => format!("sync, {orderly_label}"),
        RebootMethod::Auto => format!("sync, {orderly_label} (reboot(2) if that fails)"),
        RebootMethod::Syscall => syscall_label,
    };
    RequestPlan {
        method: spec.method,
        orderly,
        delay: spec.delay,
        sleep_first,
        message: spec.message.clone(),
        label,
    }
}

/// The ledger as the request updates it, written under the host lock. The lock is let
/// go while hostfix waits out a delay ([`LedgerWriter::release`]) and taken again for the
/// next update, which then starts from the file as it is (another run may have written
/// it meanwhile).
pub(super) struct LedgerWriter<'h> {
    host: &'h Host,
    state_dir: PathBuf,
    ledger: Ledger,
    lock: Option<HostLock>,
}

impl<'h> LedgerWriter<'h> {
    pub(super) fn new(
        host: &'h Host,
        state_dir: &Path,
        ledger: Ledger,
        lock: Option<HostLock>,
    ) -> Self {
        LedgerWriter {
            host,
            state_dir: state_dir.to_path_buf(),
            ledger,
            lock,
        }
    }

    /// The ledger as it will be written.
    pub(super) fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Adds a started entry and writes the ledger (creating the private state directory
    /// when needed), under the lock the run holds.
    ///
    /// # Errors
    /// As [`crate::state::ensure_state_dir`] and [`ledger::write_ledger`].
    pub(super) fn start(&mut self, entry: LedgerEntry) -> Result<()> {
        self.ledger.entries.push(entry);
        self.ledger.prune();
        crate::state::ensure_state_dir(self.host, &self.state_dir, "")?;
        ledger::write_ledger(
            &ledger::ledger_path(self.host, &self.state_dir),
            &self.ledger,
        )
    }

    /// Lets go of the host lock (before a wait that edits nothing).
    fn release(&mut self) {
        if self.lock.take().is_some() {
            log::debug!("reboot: host lock released for the wait");
        }
    }

    /// Takes the lock again (when released) and re-reads the ledger under it.
    fn relock(&mut self) -> Result<()> {
        if self.lock.is_some() {
            return Ok(());
        }
        let lock = HostLock::for_edits(self.host, &self.state_dir, RELOCK_WAIT)?;
        self.ledger = ledger::read_ledger(self.host, &self.state_dir)?;
        self.lock = Some(lock);
        Ok(())
    }

    /// Updates the entry and writes the ledger; a failure is logged, not returned (the
    /// reboot is already underway, or already failed for a better-known reason).
    fn mark(&mut self, id: u64, f: impl FnOnce(&mut LedgerEntry)) {
        let file = ledger::ledger_path(self.host, &self.state_dir);
        let res = self.relock().and_then(|()| {
            if let Some(e) = self.ledger.entry_mut(id) {
                f(e);
            }
            ledger::write_ledger(&file, &self.ledger)
        });
        if let Err(e) = res {
            log::warn!("reboot: updating ledger entry #{id}: {e}");
        }
    }
}

pub(super) fn send_request(
    host: &Host,
    plan: &RequestPlan,
    mut ledger: LedgerWriter<'_>,
    id: u64,
) -> Result<String> {
    let sys = host.system();
    let mut notes: Vec<String> = Vec::new();
    if let Some(m) = &plan.message {
        notes.push(send_wall(host, m));
    }
    let mut slept = false;
    let mut orderly_failure: Option<String> = None;
    if plan.method != RebootMethod::Syscall {
        if plan.sleep_first && !plan.delay.is_zero() {
            log::info!(
                "reboot: waiting {} before the request",
                format_duration(plan.delay)
            );
            ledger.release();
            sys.sleep(plan.delay);
            slept = true;
        }
        sys.sync();
        let (command, cause) = match run_orderly(host, plan, &mut ledger, id) {
            Orderly::Accepted(accepted) => {
                notes.insert(0, format!("sync done; `{accepted}` accepted the request"));
                notes.push(format!(
                    "the reboot is underway, not done: entry #{id} stays started until a \
                     run in the next boot confirms it"
                ));
                return Ok(notes.join("; "));
            }
            Orderly::Failed { command, cause } => (command, cause),
        };
        if plan.method == RebootMethod::Orderly {
            let msg = cause.to_string();
            ledger.mark(id, |e| {
                e.state = EntryState::Failed;
                e.error = Some(msg);
            });
            return Err(RebootError::Request {
                command,
                cause: Box::new(cause),
            }
            .into());
        }
        log::warn!("reboot: `{command}` failed ({cause}); falling back to reboot(2)");
        orderly_failure = Some(format!("`{command}`: {cause}"));
    }
    if !slept && !plan.delay.is_zero() {
        log::info!(
            "reboot: waiting {} before reboot(2)",
            format_duration(plan.delay)
        );
        ledger.release();
        sys.sleep(plan.delay);
    }
    call_reboot(host, &mut ledger, id, orderly_failure, notes)
}

/// Sends the message to logged-in users; returns the note for the step.
fn send_wall(host: &Host, message: &str) -> String {
    // On stdin, not as an argument: wall reads a file when its argument names one.
    let mut wall = Cmd::new("wall", Vec::<String>::new());
    wall.stdin = Some(format!("{message}\n").into_bytes());
    match host.system().run(&wall) {
        Ok(o) if o.success() => "wall message sent".into(),
        Ok(o) => format!("wall message not sent: {}", o.to_error(&wall)),
        Err(e) => format!("wall message not sent: {e}"),
    }
}

/// How the orderly reboot commands went.
enum Orderly {
    /// This command accepted the request.
    Accepted(String),
    /// None did: the first that ran and failed, else the last that could not be started.
    Failed { command: String, cause: Error },
}

/// Runs the orderly reboot commands in turn until one accepts the request (recorded in
/// the entry).
fn run_orderly(host: &Host, plan: &RequestPlan, ledger: &mut LedgerWriter<'_>, id: u64) -> Orderly {
    let mut failure: Option<(String, Error)> = None;
    for cmd in &plan.orderly {
        match host.system().run(cmd) {
            Ok(o) if o.success() => {
                let t = ledger::unix_secs(host.system().now());
                ledger.mark(id, |e| e.requested_at = Some(t));
                return Orderly::Accepted(cmd.display());
            }
            Ok(o) => {
                failure = Some((cmd.display(), o.to_error(cmd)));
                break;
            }
            Err(e) => {
                // Could not be started (not installed): try the next way.
                log::info!("reboot: {}: {e}", cmd.display());
                failure = Some((cmd.display(), e));
            }
        }
    }
    let (command, cause) = failure.unwrap_or_else(|| {
        (
            "orderly reboot".to_string(),
            Error::Unmet("no orderly reboot command".into()),
        )
    });
    Orderly::Failed { command, cause }
}

/// Calls reboot(2), recording the request first (it does not return when it works).
fn call_reboot(
    host: &Host,
    ledger: &mut LedgerWriter<'_>,
    id: u64,
    orderly_failure: Option<String>,
    mut notes: Vec<String>,
) -> Result<String> {
    let sys = host.system();
    // reboot(2) does not return when it works: record the request first.
    let t = ledger::unix_secs(sys.now());
    ledger.mark(id, |e| e.requested_at = Some(t));
    sys.sync();
    log::warn!("reboot: calling reboot(2)");
    match sys.reboot_syscall() {
        Ok(()) => {
            notes.insert(0, "sync done; reboot(2) called".into());
            Ok(notes.join("; "))
        }
        Err(errno) => {
            let err = RebootError::Syscall {
                errno,
                orderly: orderly_failure,
            };
            let msg = err.to_string();
            ledger.mark(id, |e| {
                e.state = EntryState::Failed;
                e.error = Some(msg);
            });
            Err(err.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_parse() {
        assert_eq!("auto".parse::<RebootMethod>(), Ok(RebootMethod::Auto));
        let e = "kexec".parse::<RebootMethod>().unwrap_err();
        assert!(e.to_string().contains("orderly"));
    }

    #[test]
    fn delays_keep_their_seconds() {
        let spec = RebootSpec {
            delay: Duration::from_secs(90),
            message: Some("kernel update".into()),
            ..RebootSpec::default()
        };
        let p = plan_request(InitSystem::Systemd, &spec, 7);
        assert_eq!(
            p.orderly[0].display(),
            "systemd-run --unit=hostfix-reboot-7 '--description=hostfix reboot #7' \
             --on-active=90s --timer-property=AccuracySec=1s systemctl reboot \
             '--message=kernel update'"
        );
        let p = plan_request(InitSystem::Sysvinit, &spec, 7);
        assert!(p.sleep_first);
        assert_eq!(p.label, "sync, sleep 90s, then shutdown -r now");
        let p = plan_request(InitSystem::Systemd, &RebootSpec::default(), 1);
        assert_eq!(p.orderly[0].display(), "systemctl reboot");
        assert_eq!(p.label, "sync, systemctl reboot");
    }
}
