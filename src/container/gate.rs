//! The reboot rung's gate onto the reboot guard ([`crate::reboot`]).

use std::time::Duration;

use crate::error::{Error, Result};
use crate::host::Host;
use crate::plan::Policy;
use crate::reboot::{self, GuardVerdict, RebootMethod, RebootSpec, Rules};

use super::ladder::{RebootGate, RebootRequest};

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
