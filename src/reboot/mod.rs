//! Reboot with a guard: only when needed, never in a loop.
//!
//! [`reboot`] observes the host (boot id, uptime, init system), detects the reboot need
//! from every source ([`need`]), takes the host lock, reads the guard ledger
//! ([`ledger`]), confirms the reboots earlier runs started (their boot id is not the
//! current one any more), and evaluates every guard rule ([`guard`]). Only when it is
//! needed (or not gated by `--if-needed`) and every rule allows it, it records the reboot
//! in the ledger (atomically, fsynced) and only then requests it: `sync`, then the orderly
//! way (`systemctl reboot`, or `systemd-run --on-active=Ns systemctl reboot` for a delay
//! in seconds, `shutdown -r now` without systemd), and `reboot(2)` only when asked to
//! (`--method syscall`) or when the orderly way fails and `--method auto` allows it.
//!
//! A requested reboot is not a done reboot: the report says "requested", and the ledger
//! entry stays `started` until a run in the next boot confirms it. A run in the same boot
//! long after the due time reports it as "never happened" (so does `doctor`).
//!
//! The host lock ([`crate::state::HostLock`]) is held only while the ledger is written and the reboot
//! requested, never while hostfix itself waits out a `--delay` (without systemd, or
//! before `reboot(2)`): it is let go before the wait and taken again for the ledger's
//! next update. A dry run only probes it.

mod diagnose;
pub mod guard;
pub mod kernel;
pub mod ledger;
pub mod need;
pub mod request;
mod store;

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

pub use diagnose::{RebootFacts, diagnose_in};
pub use guard::{GuardInput, LedgerInput, LockState, RuleVerdict, Rules, Verdict};
pub use kernel::{InstalledKernel, KernelStatus};
pub use ledger::{EntryState, EntryStatus, EntryView, Ledger, LedgerEntry, Now};
pub use need::{NeedCheck, NeedReason, NeedSource, NeedVerdict, RebootNeed, detect_need};
pub use request::RebootMethod;
pub use store::{check_state_dir, probe_lock};

pub use crate::error::RebootError;
use crate::error::{Error, InputError, Refusal, Result};
use crate::finding::{Diagnosis, DoctorOptions};
use crate::host::{Host, InitSystem};
use crate::plan::{Exec, Policy, Report, Risk, Runner};
use crate::size::format_duration;
use crate::state;

/// How long a reboot waits for another run's host lock before its guard refuses.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

/// What `hostfix reboot` is asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RebootSpec {
    /// Reboot only when a need source gives a reason.
    pub if_needed: bool,
    /// Why, recorded in the ledger (default: the reasons found, or "requested").
    pub reason: Option<String>,
    /// The guard rules.
    pub rules: Rules,
    /// Wait this long before rebooting (seconds are kept, never rounded to minutes).
    pub delay: Duration,
    /// The caller's condition: a shell command whose exit 0 means "reboot needed".
    /// Giving one implies `if_needed`.
    pub when: Option<String>,
    /// A message for logged-in users (`wall`) and the journal.
    pub message: Option<String>,
    /// How the reboot is requested.
    pub method: RebootMethod,
}

impl RebootSpec {
    /// Checks the spec.
    ///
    /// # Errors
    /// [`InputError`] for an empty or odd `--once` key, `--max-attempts 0`, an empty
    /// window, a window or minimum uptime above [`crate::size::MAX_SPAN`], a delay above
    /// [`crate::size::MAX_WAIT`], an empty condition or message.
    pub fn validate(&self) -> std::result::Result<(), InputError> {
        if let Some(k) = &self.rules.once {
            if k.is_empty()
                || k.len() > 200
                || k.chars().any(|c| c.is_control() || c.is_whitespace())
            {
                return Err(InputError::new(
                    "--once key",
                    k,
                    "empty, too long, or holds spaces or control characters",
                    "a short name without spaces, such as kernel-2024-05 or first-boot",
                ));
            }
        }
        if self.rules.max_attempts == 0 {
            return Err(InputError::new(
                "--max-attempts",
                "0",
                "zero would never allow a reboot",
                "a number of reboots of at least 1 (default 3)",
            ));
        }
        if self.rules.window.is_zero() {
            return Err(InputError::new(
                "--window",
                "0s",
                "an empty window counts nothing",
                "a duration such as 1h (the default) or 1d",
            ));
        }
        use crate::size::{MAX_SPAN, MAX_WAIT, check_duration};
        check_duration("--window", self.rules.window, MAX_SPAN)?;
        if let Some(u) = self.rules.min_uptime {
            check_duration("--min-uptime", u, MAX_SPAN)?;
        }
        check_duration("--delay", self.delay, MAX_WAIT)?;
        if self.when.as_deref().is_some_and(|w| w.trim().is_empty()) {
            return Err(InputError::new(
                "--when",
                "",
                "empty command",
                "a shell command whose exit 0 means a reboot is needed",
            ));
        }
        if self.message.as_deref().is_some_and(|m| m.trim().is_empty()) {
            return Err(InputError::new(
                "--message",
                "",
                "empty message",
                "a short text for logged-in users",
            ));
        }
        Ok(())
    }

    /// Whether the reboot is gated on the need (`--if-needed`, or a `--when` condition).
    pub fn gated(&self) -> bool {
        self.if_needed || self.when.is_some()
    }
}

/// What was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// Nothing was decided (the run stopped earlier: bad input, unreadable host).
    #[default]
    Undecided,
    /// Reboot (requested; or planned, in a dry run).
    Reboot,
    /// No reboot: `--if-needed` and no reason found.
    NotNeeded,
    /// No reboot: a guard rule or the risk cap said no.
    Refused,
}

/// The result of `hostfix reboot`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RebootResult {
    /// What was decided.
    pub decision: Decision,
    /// Why, in one sentence.
    pub why: String,
    /// Whether the reboot was requested (it is underway, not done: a run in the next boot
    /// confirms it).
    pub requested: bool,
    /// The reboot need, with every reason and every source's verdict.
    pub need: RebootNeed,
    /// Every guard rule's verdict.
    pub guard: Vec<RuleVerdict>,
    /// How the reboot is (or would be) requested.
    pub method: Option<String>,
    /// The ledger entry recorded for this reboot (or planned, in a dry run).
    pub entry: Option<LedgerEntry>,
    /// The ledger entries confirmed by this run (their boot id is not the current one).
    pub confirmed: Vec<u64>,
    /// The ledger file (host path).
    pub ledger: String,
    /// The last reboots in the ledger before this run's entry, newest first, with their
    /// status now.
    pub history: Vec<EntryView>,
    /// The current boot id.
    pub boot_id: String,
    /// How long the host has been up, in seconds, when known.
    pub uptime_secs: Option<u64>,
}

/// How many ledger entries reports and `doctor` show.
pub const HISTORY_SHOWN: usize = 5;

/// Reboots the host when needed and when the guard allows.
///
/// The report's error is an [`InputError`] for a bad spec or a state directory that does
/// not survive a reboot (exit 2), a [`Refusal::Guard`] naming the first rule that refused
/// (exit 3), [`Refusal::RiskAboveCap`] when the policy caps below `reboot` (exit 3), or a
/// [`RebootError`] when the request failed (exit 1). On success the reboot was
/// *requested*; it has not happened yet.
pub fn reboot(host: &Host, spec: &RebootSpec, policy: &Policy) -> Report<RebootResult> {
    let mut run = Runner::new("reboot", host, policy);
    let mut out = RebootResult::default();
    let res = reboot_inner(host, spec, &mut run, &mut out);
    if let Err(e) = &res {
        if out.why.is_empty() {
            out.why = e.to_string();
        }
    }
    run.finish_with(out, res.err())
}

fn reboot_inner(
    host: &Host,
    spec: &RebootSpec,
    run: &mut Runner<'_>,
    out: &mut RebootResult,
) -> Result<()> {
    spec.validate()?;
    let state_dir = state::state_dir(&run.policy().state_dir)?;
    check_state_dir(host, &state_dir)?;
    let ledger_file = ledger::ledger_path(host, &state_dir);
    out.ledger = host.host_path(&ledger_file).display().to_string();
    let seen = observe(host, run, out)?;
    let now = seen.now();

    let need = detect_need(host, spec.when.as_deref());
    for c in &need.checks {
        run.observe(
            format!("reboot need: {}", c.source.as_str()),
            format!("{}: {}", c.verdict.as_str(), c.detail),
        );
    }
    out.need = need.clone();
    if let Some(c) = need.check(NeedSource::Caller) {
        if c.verdict == NeedVerdict::Unknown {
            return Err(RebootError::Condition {
                detail: c.detail.clone(),
            }
            .into());
        }
    }
    let wanted = !spec.gated() || need.needed;

    let (lock, lock_state, mut ledger_res) = store::lock_and_read(run, &state_dir, wanted, &now)?;
    if let Ok(l) = &mut ledger_res {
        store::confirm_started(run, &ledger_file, l, &now, &lock_state, out)?;
        out.history = l.recent(HISTORY_SHOWN, &now);
    }
    let verdicts = judge(spec, &ledger_res, &lock_state, &seen, out);

    if !wanted {
        out.decision = Decision::NotNeeded;
        out.why = "no need source gives a reason to reboot".into();
        run.skip(
            "reboot",
            Risk::Reboot,
            if spec.when.is_some() {
                "--when given: reboot only when needed"
            } else {
                "--if-needed: reboot only when needed"
            },
            format!("not needed: {}", need.summary()),
        );
        return Ok(());
    }
    if let Some(refusal) = guard::refusal(&verdicts) {
        return Err(refuse(run, out, "reboot", Risk::Reboot, refusal));
    }
    if !run.dry_run() {
        // A real run decides on every rule; one it cannot check needs root.
        if let Some(v) = verdicts.iter().find(|v| v.verdict == Verdict::Unknown) {
            let refusal = Refusal::NeedsRoot {
                action: format!("check the guard rule {} ({})", v.rule, v.detail),
            };
            return Err(refuse(run, out, "reboot", Risk::Reboot, refusal));
        }
    }
    // The ledger rule allowed (or, in a dry run without root, could not look), so the
    // ledger is readable here, or unknown.
    let (ledger, known) = match ledger_res {
        Ok(l) => (l, true),
        Err(Error::Refused(Refusal::NeedsRoot { .. })) if run.dry_run() => {
            (Ledger::default(), false)
        }
        Err(e) => return Err(e),
    };
    let reason = match (&spec.reason, spec.gated()) {
        (Some(r), _) => r.clone(),
        (None, true) => need.summary(),
        (None, false) if need.needed => format!("requested; also needed: {}", need.summary()),
        (None, false) => "requested by the caller".to_string(),
    };
    let writer = request::LedgerWriter::new(host, &state_dir, ledger, lock);
    record_and_request(run, spec, &seen, writer, known, reason, out)
}

/// What a reboot run reads of the host before it decides.
struct Seen {
    boot_id: String,
    machine_id: Option<String>,
    time: u64,
    uptime: std::result::Result<Duration, String>,
    init: InitSystem,
}

impl Seen {
    fn now(&self) -> Now<'_> {
        Now {
            boot_id: &self.boot_id,
            machine_id: self.machine_id.as_deref(),
            time: self.time,
        }
    }
}

/// Reads the boot id (required: without it no reboot can be confirmed), the machine id,
/// the clock, the uptime and the init system, recording each observation.
fn observe(host: &Host, run: &mut Runner<'_>, out: &mut RebootResult) -> Result<Seen> {
    let boot_id = host
        .boot_id()
        .map_err(|e| RebootError::BootId(Box::new(e)))?;
    run.observe("read /proc/sys/kernel/random/boot_id", boot_id.clone());
    out.boot_id = boot_id.clone();
    let uptime = read_uptime(host);
    match &uptime {
        Ok(d) => {
            out.uptime_secs = Some(d.as_secs());
            run.observe("read /proc/uptime", format!("up {}", format_duration(*d)));
        }
        Err(e) => run.observe("read /proc/uptime", format!("unknown: {e}")),
    }
    let init = host.init_system();
    run.observe(
        "detect the init system",
        match init {
            InitSystem::Systemd => "systemd (/run/systemd/system exists)".to_string(),
            InitSystem::Other => "not systemd (/run/systemd/system absent)".to_string(),
        },
    );
    if let Some(c) = host.container() {
        run.observe(
            "detect a container",
            format!("running in a {c} container: a reboot restarts the container, not the machine"),
        );
    }
    Ok(Seen {
        boot_id,
        machine_id: read_machine_id(host),
        time: ledger::unix_secs(host.system().now()),
        uptime,
        init,
    })
}

/// Every guard rule's verdict, logged and kept in the result.
fn judge(
    spec: &RebootSpec,
    ledger_res: &Result<Ledger>,
    lock_state: &LockState,
    seen: &Seen,
    out: &mut RebootResult,
) -> Vec<RuleVerdict> {
    let ledger_why = ledger_res.as_ref().err().map(ToString::to_string);
    let ledger = match (ledger_res, ledger_why.as_deref()) {
        (Ok(l), _) => LedgerInput::Read(l),
        (Err(Error::Refused(Refusal::NeedsRoot { .. })), Some(why)) => LedgerInput::NeedsRoot(why),
        (Err(_), why) => LedgerInput::Unusable(why.unwrap_or("the ledger cannot be read")),
    };
    let verdicts = guard::evaluate(
        &GuardInput {
            ledger,
            lock: lock_state,
            now: seen.now(),
            uptime: seen.uptime.as_ref().map(|d| *d).map_err(String::as_str),
        },
        &spec.rules,
    );
    for v in &verdicts {
        log::info!(
            "reboot: guard rule {}: {}: {}",
            v.rule,
            v.verdict.as_str(),
            v.detail
        );
    }
    out.guard = verdicts.clone();
    verdicts
}

/// Records a refusal in the result and the runner; the error to return.
fn refuse(
    run: &mut Runner<'_>,
    out: &mut RebootResult,
    action: &str,
    risk: Risk,
    refusal: Refusal,
) -> Error {
    out.decision = Decision::Refused;
    out.why = refusal.to_string();
    run.refuse(action, risk, refusal)
}

/// Records the reboot in the ledger (before anything is asked for), then requests it.
fn record_and_request(
    run: &mut Runner<'_>,
    spec: &RebootSpec,
    seen: &Seen,
    mut writer: request::LedgerWriter<'_>,
    known: bool,
    reason: String,
    out: &mut RebootResult,
) -> Result<()> {
    let shown_ledger = out.ledger.clone();
    let Some(id) = writer.ledger().next_id() else {
        let refusal = ledger::corrupt(
            Path::new(&shown_ledger),
            "its largest id is 18446744073709551615: no id is left for a new entry",
        );
        return Err(refuse(
            run,
            out,
            "record the reboot",
            Risk::Additive,
            refusal,
        ));
    };
    let plan = request::plan_request(seen.init, spec, id);
    out.method = Some(plan.label.clone());
    if !run.allows(Risk::Reboot) {
        // Refused before anything is recorded: the ledger holds only reboots started.
        let refusal = Refusal::RiskAboveCap {
            action: plan.label.clone(),
            needed: Risk::Reboot,
            cap: run.policy().max_risk,
        };
        return Err(refuse(run, out, &plan.label, Risk::Reboot, refusal));
    }
    let entry = LedgerEntry {
        id,
        key: spec.rules.once.clone(),
        reason: reason.clone(),
        boot_id: seen.boot_id.clone(),
        machine_id: seen.machine_id.clone(),
        started_at: seen.time,
        delay_secs: spec.delay.as_secs(),
        method: plan.label.clone(),
        state: EntryState::Started,
        requested_at: None,
        confirmed_at: None,
        confirmed_boot_id: None,
        error: None,
    };
    if known {
        out.entry = Some(entry.clone());
    }
    out.decision = Decision::Reboot;
    let record = if known {
        format!("record reboot #{id} in {shown_ledger}")
    } else {
        format!("record the reboot in {shown_ledger}")
    };
    run.step(
        record,
        Risk::Additive,
        "the guard records every reboot before it starts",
        |_| {
            writer.start(entry)?;
            Ok(format!("entry #{id} written and fsynced (state started)"))
        },
    )?;
    let exec = run.step(plan.label.clone(), Risk::Reboot, reason, |h| {
        request::send_request(h, &plan, writer, id)
    });
    match exec {
        Ok(Exec::Done) => {
            out.requested = true;
            out.why = format!(
                "reboot requested ({}); it has not happened yet: ledger entry #{id} stays \
                 `started` until a run in the next boot confirms it",
                plan.label
            );
            Ok(())
        }
        Ok(Exec::Planned) => {
            let what = if known {
                format!("entry #{id}")
            } else {
                "the reboot".to_string()
            };
            out.why = format!("dry run: would record {what} and reboot ({})", plan.label);
            Ok(())
        }
        Err(e) => {
            out.why = e.to_string();
            Err(e)
        }
    }
}

/// The first field of `/proc/uptime` (pure).
///
/// # Errors
/// What is wrong with the text.
pub fn parse_uptime(text: &str) -> std::result::Result<Duration, String> {
    let first = text.split_whitespace().next().ok_or("empty")?;
    let secs: f64 = first
        .parse()
        .map_err(|_| format!("not a number: {first:?}"))?;
    // try_from: more seconds than a Duration holds (1e20) is an error, not a panic.
    Duration::try_from_secs_f64(secs).map_err(|_| format!("not a duration: {first:?}"))
}

/// How long the host has been up (`/proc/uptime`).
///
/// # Errors
/// Why it cannot be read, in words.
pub fn read_uptime(host: &Host) -> std::result::Result<Duration, String> {
    let text = host.read("/proc/uptime").map_err(|e| e.to_string())?;
    parse_uptime(&text).map_err(|e| format!("/proc/uptime: {e}"))
}

fn read_machine_id(host: &Host) -> Option<String> {
    match host.read_opt("/etc/machine-id") {
        Ok(Some(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Ok(_) => None,
        Err(e) => {
            log::debug!("reboot: /etc/machine-id: {e}");
            None
        }
    }
}

/// Adds the reboot need and the reboots hostfix started to a diagnosis, reading the
/// ledger in the default state directory.
pub fn diagnose(host: &Host, opts: &DoctorOptions, d: &mut Diagnosis) {
    diagnose_in(host, &opts.state_dir, d);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_parses() {
        assert_eq!(
            parse_uptime("1039.03 1853.79\n"),
            Ok(Duration::from_secs_f64(1039.03))
        );
        assert!(parse_uptime("").is_err());
        assert!(parse_uptime("abc 1").is_err());
        assert!(parse_uptime("-5 1").is_err());
    }
}
