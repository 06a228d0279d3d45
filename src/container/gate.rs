//! The reboot rung's gate: what the ladder asks ([`RebootRequest`]), the gate it asks
//! ([`RebootGate`]), and the gates it ships: onto the reboot guard ([`crate::reboot`]),
//! or refusing every reboot.

use std::time::Duration;

use serde::Serialize;

use crate::error::{Error, Refusal, Result};
use crate::host::Host;
use crate::plan::Policy;
use crate::reboot::{self, GuardVerdict, RebootMethod, RebootSpec, Rules};

/// What the ladder asks of the reboot guard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RebootRequest {
    /// A key for the guard's once-only rule: one reboot per container
    /// (`container-rm-<full id>`).
    pub key: String,
    /// Why, for the guard's ledger and the journal.
    pub reason: String,
    /// One short line for logged-in users.
    pub message: String,
}

/// The one function the reboot rung calls: a reboot through the reboot guard.
///
/// The guard decides (loops, attempts per window, minimum uptime); the ladder only asks.
/// A closure `Fn(&Host, &Policy, &RebootRequest) -> Result<String>` is a gate whose check
/// always passes.
pub trait RebootGate {
    /// Whether the guard would allow this reboot now; read-only.
    ///
    /// # Errors
    /// [`Error::Refused`](crate::Error::Refused) with the guard's [`Refusal`] when it would not.
    fn check(&self, _host: &Host, _policy: &Policy, _req: &RebootRequest) -> Result<()> {
        Ok(())
    }

    /// Reboots through the guard; returns what was done (an orderly reboot returns once
    /// it is queued; `reboot(2)` never returns).
    ///
    /// # Errors
    /// The guard's refusal or the reboot's failure.
    fn reboot(&self, host: &Host, policy: &Policy, req: &RebootRequest) -> Result<String>;
}

impl<F> RebootGate for F
where
    F: Fn(&Host, &Policy, &RebootRequest) -> Result<String>,
{
    fn reboot(&self, host: &Host, policy: &Policy, req: &RebootRequest) -> Result<String> {
        self(host, policy, req)
    }
}

/// A gate that refuses every reboot: for builds and callers without the reboot guard.
/// The reboot rung is then planned and refused, never faked.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRebootGate;

impl NoRebootGate {
    fn refusal() -> Refusal {
        Refusal::Guard {
            rule: "reboot-guard".into(),
            detail: "no reboot guard is wired to the container ladder in this build: \
                     reboot the host yourself, then run the same command again"
                .into(),
        }
    }
}

impl RebootGate for NoRebootGate {
    fn check(&self, _host: &Host, _policy: &Policy, _req: &RebootRequest) -> Result<()> {
        Err(Self::refusal().into())
    }
    fn reboot(&self, _host: &Host, _policy: &Policy, _req: &RebootRequest) -> Result<String> {
        Err(Self::refusal().into())
    }
}

/// Reboots through `hostfix reboot`'s guard: the ledger, one reboot per container ever
/// (`--once container-rm-<id>`), at most `max_attempts` reboots per `window` in all, and
/// the orderly reboot (`systemctl reboot`).
///
/// The reboot is recorded in the guard's ledger before it is requested; the ladder's
/// next run after the boot finds the boot id changed and reports the reboot confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardedReboot {
    /// The guard's rules; `once` is set per container from the request's key.
    pub rules: Rules,
    /// How the reboot is requested.
    pub method: RebootMethod,
    /// Wait this long before rebooting.
    pub delay: Duration,
}

impl Default for GuardedReboot {
    fn default() -> Self {
        GuardedReboot {
            rules: Rules::default(),
            method: RebootMethod::Orderly,
            delay: Duration::ZERO,
        }
    }
}

impl GuardedReboot {
    fn spec(&self, req: &RebootRequest) -> RebootSpec {
        RebootSpec {
            if_needed: false,
            reason: Some(req.reason.clone()),
            rules: Rules {
                once: Some(req.key.clone()),
                ..self.rules.clone()
            },
            delay: self.delay,
            when: None,
            message: Some(req.message.clone()),
            method: self.method,
        }
    }
}

fn verdicts(r: &reboot::RebootResult) -> String {
    r.guard
        .iter()
        .filter(|v| v.verdict != GuardVerdict::Off)
        .map(|v| format!("{} {}", v.rule, v.verdict.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl RebootGate for GuardedReboot {
    fn check(&self, host: &Host, policy: &Policy, req: &RebootRequest) -> Result<()> {
        let report = reboot::reboot(host, &self.spec(req), &policy.clone().dry_run(true));
        match report.error {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    fn reboot(&self, host: &Host, policy: &Policy, req: &RebootRequest) -> Result<String> {
        let report = reboot::reboot(host, &self.spec(req), policy);
        let guard = verdicts(&report.result);
        let detail = report
            .steps
            .iter()
            .rev()
            .find(|s| s.risk == crate::plan::Risk::Reboot)
            .map(|s| s.detail.clone())
            .unwrap_or_default();
        match report.error {
            None if report.result.requested => Ok(format!("{detail}; guard: {guard}")),
            None => Err(Error::Unmet(format!(
                "the reboot guard did not request a reboot: {}",
                report.result.why
            ))),
            Some(e) => Err(e),
        }
    }
}
