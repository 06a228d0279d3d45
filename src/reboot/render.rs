//! The human rendering of `reboot`'s result: what the CLI prints without `--json`.

use std::fmt;
use std::time::Duration;

use super::{GuardVerdict, NeedVerdict, RebootDecision, RebootResult};
use crate::size::format_duration;

/// The human rendering of a [`RebootResult`] (`hostfix reboot`): the decision and why,
/// every need source's verdict, every guard rule's verdict, the ledger entry, the
/// confirmed reboots and the last reboots.
impl fmt::Display for RebootResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self;
        let decision = match r.decision {
            RebootDecision::Undecided => "undecided",
            RebootDecision::Reboot if r.requested => "reboot requested (not done yet)",
            RebootDecision::Reboot => "reboot",
            RebootDecision::NotNeeded => "no reboot: not needed",
            RebootDecision::Refused => "no reboot: refused",
        };
        writeln!(f, "decision: {decision}")?;
        if !r.why.is_empty() {
            writeln!(f, "  {}", r.why)?;
        }
        if !r.need.checks.is_empty() {
            writeln!(
                f,
                "need: {}",
                if r.need.needed {
                    "a reboot is needed"
                } else {
                    "no reason found"
                }
            )?;
            for c in &r.need.checks {
                let v = match c.verdict {
                    NeedVerdict::Needed => "needed",
                    NeedVerdict::NotNeeded => "no",
                    NeedVerdict::Unknown => "unknown",
                    NeedVerdict::Absent => "absent",
                };
                writeln!(f, "  [{v:<7}] {}: {}", c.source.as_str(), c.detail)?;
            }
        }
        if !r.guard.is_empty() {
            writeln!(f, "guard:")?;
            for v in &r.guard {
                let mark = match v.verdict {
                    GuardVerdict::Allow => "allow",
                    GuardVerdict::Refuse => "REFUSE",
                    GuardVerdict::Off => "off",
                    GuardVerdict::Unknown => "unknown",
                };
                writeln!(f, "  [{mark:<6}] {}: {}", v.rule, v.detail)?;
            }
        }
        if let Some(e) = &r.entry {
            writeln!(
                f,
                "ledger: entry #{} in {} (delay {})",
                e.id,
                r.ledger,
                format_duration(Duration::from_secs(e.delay_secs))
            )?;
        }
        if !r.confirmed.is_empty() {
            let ids: Vec<String> = r.confirmed.iter().map(|i| format!("#{i}")).collect();
            writeln!(f, "confirmed completed reboots: {}", ids.join(", "))?;
        }
        if !r.history.is_empty() {
            writeln!(f, "last reboots:")?;
            for h in &r.history {
                writeln!(f, "  {}", h.summary)?;
            }
        }
        Ok(())
    }
}
