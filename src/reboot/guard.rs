//! The guard: the rules that decide whether a reboot may start, each with its verdict.
//!
//! Rules, in the order they are reported (the first that refuses names the refusal):
//! `ledger` (the ledger must be readable: fail closed), `lock` (no other hostfix run holds
//! the host lock), `once` (at most one reboot per `--once` key, ever: a completed,
//! pending or requested-but-never-happened reboot uses the key; a failed request or a run
//! killed before it asked does not), `pending` (no
//! reboot already underway in this boot), `max-attempts` (at most N reboots started in the
//! window) and `min-uptime` (the host has been up at least that long). Evaluation is a
//! pure function of the ledger, the lock, the clock and the uptime, so every combination
//! is tested as a table.
//!
//! A dry run by a user who is not root cannot read the ledger or probe the lock: the
//! rules that need them say `unknown` (and why) instead of refusing, so the plan is still
//! shown whole. A real run never decides on an `unknown`: it needs root first.

use std::time::Duration;

use serde::Serialize;

use super::ledger::{EntryState, EntryStatus, Ledger, LedgerEntry, Now, format_utc};
use crate::error::Refusal;
use crate::size::format_duration;

/// A rule's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum GuardVerdict {
    /// The rule allows the reboot.
    Allow,
    /// The rule refuses it.
    Refuse,
    /// The rule was not asked for (no `--once`, no `--min-uptime`).
    Off,
    /// The rule cannot be checked by this process (a dry run without root): the detail
    /// says why. A real run never decides on it.
    Unknown,
}

impl GuardVerdict {
    /// The verdict as JSON spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            GuardVerdict::Allow => "allow",
            GuardVerdict::Refuse => "refuse",
            GuardVerdict::Off => "off",
            GuardVerdict::Unknown => "unknown",
        }
    }
}

/// One rule's verdict and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RuleVerdict {
    /// The rule's name, as its flag is spelled (`once`, `max-attempts`, ...).
    pub rule: String,
    /// Its verdict.
    pub verdict: GuardVerdict,
    /// Why.
    pub detail: String,
}

impl RuleVerdict {
    fn new(rule: &str, verdict: GuardVerdict, detail: impl Into<String>) -> Self {
        RuleVerdict {
            rule: rule.into(),
            verdict,
            detail: detail.into(),
        }
    }
}

/// The reboot guard's rules (every field optional in a config).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Rules {
    /// At most one reboot ever for this key (`--once`). Default none.
    pub once: Option<String>,
    /// At most this many reboots started in `window` (at least 1). Default 3.
    pub max_attempts: u32,
    /// The window `max_attempts` counts in (at most 366 days). Default 1 hour.
    #[serde(deserialize_with = "crate::de::duration")]
    pub window: Duration,
    /// Refuse while the host has been up less than this (at most 366 days). Default
    /// none.
    #[serde(deserialize_with = "crate::de::opt_duration")]
    pub min_uptime: Option<Duration>,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            once: None,
            max_attempts: 3,
            window: Duration::from_secs(3600),
            min_uptime: None,
        }
    }
}

/// The host lock, as the guard sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockState {
    /// This run holds it.
    Held,
    /// Nobody holds it (a dry run probes it without taking it).
    Free,
    /// Another run holds it.
    Busy(String),
    /// It could not be taken or probed for another reason.
    Error(String),
    /// This process may not probe it (a dry run without root).
    NeedsRoot(String),
}

/// The ledger, as the guard sees it.
#[derive(Debug, Clone, Copy)]
pub enum LedgerInput<'a> {
    /// Read.
    Read(&'a Ledger),
    /// It cannot be used (unreadable, corrupt, not a regular file): why, with the reset
    /// step. The guard fails closed.
    Unusable(&'a str),
    /// This process may not read it (a dry run without root): why.
    NeedsRoot(&'a str),
}

impl<'a> LedgerInput<'a> {
    fn ledger(&self) -> Option<&'a Ledger> {
        match self {
            LedgerInput::Read(l) => Some(l),
            _ => None,
        }
    }
}

/// Everything the rules look at.
#[derive(Debug, Clone, Copy)]
pub struct GuardInput<'a> {
    /// The ledger, or why it cannot be read.
    pub ledger: LedgerInput<'a>,
    /// The host lock.
    pub lock: &'a LockState,
    /// The current boot, machine and time.
    pub now: Now<'a>,
    /// How long the host has been up, or why that is unknown.
    pub uptime: Result<Duration, &'a str>,
}

/// Evaluates every rule (pure). The result always has one verdict per rule, in order.
pub fn evaluate(input: &GuardInput<'_>, rules: &Rules) -> Vec<RuleVerdict> {
    let now = &input.now;
    // Entries recorded on another machine (a ledger baked into an image) do not count.
    let entries: Vec<&LedgerEntry> = match input.ledger.ledger() {
        Some(l) => l
            .entries
            .iter()
            .filter(|e| e.status(now) != EntryStatus::Foreign)
            .collect(),
        None => Vec::new(),
    };
    vec![
        ledger_rule(input),
        lock_rule(input.lock),
        once_rule(input, rules, &entries),
        pending_rule(input, &entries),
        max_attempts_rule(input, rules, &entries),
        min_uptime_rule(rules, input.uptime),
    ]
}

/// What a rule that needs the ledger says when there is none to look at.
fn unread(input: &GuardInput<'_>, rule: &str) -> RuleVerdict {
    match input.ledger {
        LedgerInput::NeedsRoot(_) => RuleVerdict::new(
            rule,
            GuardVerdict::Unknown,
            "cannot be checked without root: the ledger is readable only by root",
        ),
        _ => RuleVerdict::new(
            rule,
            GuardVerdict::Refuse,
            "cannot be checked: the ledger cannot be read",
        ),
    }
}

/// `ledger`: the ledger can be read.
fn ledger_rule(input: &GuardInput<'_>) -> RuleVerdict {
    use GuardVerdict::*;
    match input.ledger {
        LedgerInput::Read(l) => RuleVerdict::new(
            "ledger",
            Allow,
            match l.entries.len() {
                1 => "readable, 1 entry".to_string(),
                n => format!("readable, {n} entries"),
            },
        ),
        LedgerInput::Unusable(why) => RuleVerdict::new("ledger", Refuse, why),
        LedgerInput::NeedsRoot(why) => RuleVerdict::new("ledger", Unknown, why),
    }
}

/// `lock`: this run holds the host lock (or, in a dry run, nobody does).
fn lock_rule(lock: &LockState) -> RuleVerdict {
    use GuardVerdict::*;
    match lock {
        LockState::Held => RuleVerdict::new("lock", Allow, "taken by this run"),
        LockState::Free => RuleVerdict::new("lock", Allow, "free (a dry run does not take it)"),
        LockState::Busy(why) | LockState::Error(why) => RuleVerdict::new("lock", Refuse, why),
        LockState::NeedsRoot(why) => RuleVerdict::new("lock", Unknown, why),
    }
}

/// `once`: the `--once` key has not been used by a reboot yet.
fn once_rule(input: &GuardInput<'_>, rules: &Rules, entries: &[&LedgerEntry]) -> RuleVerdict {
    use GuardVerdict::*;
    let now = &input.now;
    match (&rules.once, input.ledger.ledger()) {
        (None, _) => RuleVerdict::new("once", Off, "no --once key"),
        (Some(_), None) => unread(input, "once"),
        (Some(key), Some(_)) => {
            // A failed request used nothing; nor did a run killed between recording and
            // requesting (same boot, long past due, never requested): the key is free
            // again, so an interrupted run converges on the next one.
            let used = |e: &&&LedgerEntry| {
                e.key.as_deref() == Some(key.as_str())
                    && e.state != EntryState::Failed
                    && !(e.status(now) == EntryStatus::NeverHappened && e.requested_at.is_none())
            };
            match entries.iter().find(used) {
                Some(e) => RuleVerdict::new(
                    "once",
                    Refuse,
                    format!(
                        "key {key:?} was already used by reboot {}; a key allows one \
                         reboot, ever (use a new key for a new reboot)",
                        e.brief(now)
                    ),
                ),
                None => RuleVerdict::new("once", Allow, format!("key {key:?} not used yet")),
            }
        }
    }
}

/// `pending`: no reboot is underway in this boot.
fn pending_rule(input: &GuardInput<'_>, entries: &[&LedgerEntry]) -> RuleVerdict {
    use GuardVerdict::*;
    let now = &input.now;
    match input.ledger.ledger() {
        None => unread(input, "pending"),
        Some(_) => match entries
            .iter()
            .find(|e| e.status(now) == EntryStatus::Pending)
        {
            Some(e) => RuleVerdict::new(
                "pending",
                Refuse,
                format!(
                    "a reboot is already underway in this boot: {}",
                    e.brief(now)
                ),
            ),
            None => RuleVerdict::new("pending", Allow, "no reboot underway in this boot"),
        },
    }
}

/// `max-attempts`: fewer than the allowed reboots started in the window.
fn max_attempts_rule(
    input: &GuardInput<'_>,
    rules: &Rules,
    entries: &[&LedgerEntry],
) -> RuleVerdict {
    use GuardVerdict::*;
    let now = &input.now;
    if input.ledger.ledger().is_none() {
        return unread(input, "max-attempts");
    }
    let since = now.time.saturating_sub(rules.window.as_secs());
    // Entries from the future (the clock went back) count too: the guard would
    // rather wait than loop.
    let recent: Vec<_> = entries.iter().filter(|e| e.started_at > since).collect();
    let window = format_duration(rules.window);
    let ids = recent
        .iter()
        .map(|e| format!("#{} at {}", e.id, format_utc(e.started_at)))
        .collect::<Vec<_>>()
        .join(", ");
    if recent.len() as u64 >= u64::from(rules.max_attempts) {
        RuleVerdict::new(
            "max-attempts",
            Refuse,
            format!(
                "{} reboots started in the last {window} ({ids}); at most {} allowed",
                recent.len(),
                rules.max_attempts
            ),
        )
    } else {
        RuleVerdict::new(
            "max-attempts",
            Allow,
            format!(
                "{} of at most {} reboots started in the last {window}{}",
                recent.len(),
                rules.max_attempts,
                if ids.is_empty() {
                    String::new()
                } else {
                    format!(" ({ids})")
                }
            ),
        )
    }
}

/// `min-uptime`: the host has been up at least `--min-uptime`.
fn min_uptime_rule(rules: &Rules, uptime: Result<Duration, &str>) -> RuleVerdict {
    use GuardVerdict::*;
    match (rules.min_uptime, uptime) {
        (None, _) => RuleVerdict::new("min-uptime", Off, "no --min-uptime"),
        (Some(_), Err(why)) => RuleVerdict::new(
            "min-uptime",
            Refuse,
            format!("the uptime cannot be read: {why}"),
        ),
        (Some(min), Ok(up)) if up < min => RuleVerdict::new(
            "min-uptime",
            Refuse,
            format!(
                "up {}, less than the {} required",
                format_duration(up),
                format_duration(min)
            ),
        ),
        (Some(min), Ok(up)) => RuleVerdict::new(
            "min-uptime",
            Allow,
            format!(
                "up {}, at least the {} required",
                format_duration(up),
                format_duration(min)
            ),
        ),
    }
}

/// The refusal of the first rule that refuses, naming the others that refuse too.
pub fn refusal(verdicts: &[RuleVerdict]) -> Option<Refusal> {
    let mut refusing = verdicts
        .iter()
        .filter(|v| v.verdict == GuardVerdict::Refuse);
    let first = refusing.next()?;
    let others: Vec<&str> = refusing.map(|v| v.rule.as_str()).collect();
    let detail = if others.is_empty() {
        first.detail.clone()
    } else {
        format!("{} (also refusing: {})", first.detail, others.join(", "))
    };
    Some(Refusal::Guard {
        rule: first.rule.clone(),
        detail,
    })
}
