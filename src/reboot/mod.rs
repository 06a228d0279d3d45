//! Reboot with a guard: only when needed, never in a loop.
//!
//! [`reboot`] observes the host (boot id, uptime, init system), detects the reboot need
//! from every source ([`RebootNeed`]), takes the host lock, reads the guard ledger
//! (`STATE_DIR/reboot-ledger.json`), confirms the reboots earlier runs started (their
//! boot id is not the current one any more), and evaluates every guard rule ([`Rules`],
//! [`RuleVerdict`]). Only when it is
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
//! The host lock (`/run/hostfix/lock`) is held only while the ledger is written and the reboot
//! requested, never while hostfix itself waits out a `--delay` (without systemd, or
//! before `reboot(2)`): it is let go before the wait and taken again for the ledger's
//! next update. A dry run only probes it.

pub(crate) mod diagnose;
mod flow;
pub(crate) mod guard;
pub(crate) mod kernel;
pub(crate) mod ledger;
pub(crate) mod need;
mod render;
pub(crate) mod request;
pub(crate) mod store;

use std::time::Duration;

use serde::Serialize;

pub(crate) use diagnose::diagnose;
pub use guard::{GuardVerdict, RuleVerdict, Rules};
pub use ledger::{EntryState, EntryStatus, EntryView, LedgerEntry};
pub use need::{NeedCheck, NeedReason, NeedSource, NeedVerdict, RebootNeed};
pub use request::RebootMethod;
pub(crate) use store::{check_state_dir, probe_lock};

use crate::error::InputError;
pub use crate::error::RebootError;
use crate::host::Host;
use crate::plan::{Policy, Report, Risk, Runner};

/// How long a reboot waits for another run's host lock before its guard refuses.
pub(crate) const LOCK_WAIT: Duration = Duration::from_secs(10);

/// What `hostfix reboot` is asked to do: [`RebootSpec::default`], then the fields.
///
/// Read from a config (`serde`), every field is optional:
/// `{"if_needed": true, "rules": {"once": "kernel-2024-05"}, "delay": "90s"}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RebootSpec {
    /// Reboot only when a need source gives a reason. Default `false`: reboot.
    pub if_needed: bool,
    /// Why, recorded in the ledger. Default: the reasons found, or "requested".
    pub reason: Option<String>,
    /// The guard rules. Default: [`Rules::default`].
    pub rules: Rules,
    /// Wait this long before rebooting (seconds are kept, never rounded to minutes; at
    /// most a day). Default 0.
    #[serde(deserialize_with = "crate::de::duration")]
    pub delay: Duration,
    /// The caller's condition: a shell command whose exit 0 means "reboot needed".
    /// Giving one implies `if_needed`. Default none.
    pub when: Option<String>,
    /// A message for logged-in users (`wall`) and the journal. Default none.
    pub message: Option<String>,
    /// How the reboot is requested. Default [`RebootMethod::Orderly`].
    pub method: RebootMethod,
}

impl RebootSpec {
    /// The risk cap `hostfix reboot` runs under unless `--max-risk` says otherwise:
    /// [`Risk::Reboot`] (the command is the consent; the guard still decides).
    pub fn default_cap(&self) -> Risk {
        Risk::Reboot
    }

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
#[non_exhaustive]
pub enum RebootDecision {
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
#[non_exhaustive]
pub struct RebootResult {
    /// What was decided.
    pub decision: RebootDecision,
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
pub(crate) const HISTORY_SHOWN: usize = 5;

/// Reboots the host when needed and when the guard allows (`hostfix reboot`; its cap is
/// [`RebootSpec::default_cap`], `reboot`: the call is the consent, the guard decides).
///
/// The report's error is an [`InputError`] for a bad spec or a state directory that does
/// not survive a reboot (exit 2), a [`Refusal::Guard`](crate::error::Refusal::Guard)
/// naming the first rule that refused (exit 3),
/// [`Refusal::RiskAboveCap`](crate::error::Refusal::RiskAboveCap) when the policy caps
/// below `reboot` (exit 3), or a [`RebootError`] when the request failed (exit 1). On
/// success the reboot was *requested*; it has not happened yet.
///
/// # Example
///
/// A fake systemd host that says it needs a reboot (`/run/reboot-required`): the reboot
/// is requested once for the key, and the guard refuses a second request.
///
/// ```
/// use hostfix::reboot::{reboot, RebootDecision, RebootSpec};
/// use hostfix::testing::FakeRoot;
/// use hostfix::{Outcome, Policy};
///
/// let root = FakeRoot::new();
/// root.systemd()
///     .boot_id("0f5e7a4c-1b2d-4e8f-9a6b-3c2d1e0f9a8b")
///     .uptime(86_400)
///     .write("/etc/machine-id", "5d3c0e2f4a6b48c9a1e7f0b2c4d6e8f0\n")
///     .write("/run/reboot-required", "");
/// let (host, rec) = root.host();
///
/// let mut spec = RebootSpec::default();
/// spec.if_needed = true;
/// spec.rules.once = Some("kernel-2024-05".into());
/// let policy = Policy::new(spec.default_cap());
///
/// let plan = reboot(&host, &spec, &policy.clone().dry_run(true));
/// assert_eq!(plan.result.decision, RebootDecision::Reboot);
/// assert!(rec.commands().is_empty());
///
/// let report = reboot(&host, &spec, &policy);
/// assert!(report.is_ok() && report.result.requested, "{report}");
/// assert_eq!(rec.commands(), ["systemctl reboot"]);
///
/// // The same key again, in the same boot: the guard refuses (exit 3).
/// let again = reboot(&host, &spec, &policy);
/// assert_eq!(again.outcome(), Outcome::Refused);
/// assert_eq!(rec.commands().len(), 1);
/// ```
pub fn reboot(host: &Host, spec: &RebootSpec, policy: &Policy) -> Report<RebootResult> {
    let mut run = Runner::new("reboot", host, policy);
    let mut out = RebootResult::default();
    let res = flow::reboot_inner(host, spec, &mut run, &mut out);
    if let Err(e) = &res {
        if out.why.is_empty() {
            out.why = e.to_string();
        }
    }
    run.finish_with(out, res.err())
}

/// The first field of `/proc/uptime` (pure).
///
/// # Errors
/// What is wrong with the text.
pub(crate) fn parse_uptime(text: &str) -> std::result::Result<Duration, String> {
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
pub(crate) fn read_uptime(host: &Host) -> std::result::Result<Duration, String> {
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
