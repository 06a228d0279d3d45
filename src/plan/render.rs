//! The human rendering of a [`Report`]: what the CLI prints without `--json`.

use std::fmt;

use super::{Outcome, Report, StepStatus};
use crate::risk::Risk;

/// The CLI's human summary: a first line with the operation and its outcome, the
/// operation's result (its own `Display`) indented, the steps that changed or would
/// change something (observations that went as planned are left out), and the error.
///
/// ```text
/// swap ensure: changed
///   /swapfile: 2.0 GiB
///   active: yes, 0 B used, priority -2
/// steps:
///   [done   ] additive    create /swapfile (2.0 GiB)
///              created
/// ```
impl<T: fmt::Display> fmt::Display for Report<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match (self.outcome(), self.changed, self.dry_run) {
            (Outcome::Ok, true, true) => "would change the host",
            (Outcome::Ok, false, true) => "nothing to do",
            (Outcome::Ok, true, false) => "changed",
            (Outcome::Ok, false, false) => "ok, nothing changed",
            (Outcome::Refused, ..) => "refused",
            (Outcome::BadInput, ..) => "bad input",
            _ => "FAILED",
        };
        writeln!(
            f,
            "{}: {state}{}",
            self.operation,
            if self.dry_run { " (dry run)" } else { "" }
        )?;
        let body = self.result.to_string();
        for line in body.lines() {
            writeln!(f, "  {line}")?;
        }
        let shown: Vec<_> = self
            .steps
            .iter()
            .filter(|st| st.status != StepStatus::Done || st.risk > Risk::ReadOnly)
            .collect();
        if !shown.is_empty() {
            writeln!(f, "steps:")?;
            for st in shown {
                let status = st.status.as_str();
                writeln!(f, "  [{status:<7}] {:<11} {}", st.risk.as_str(), st.action)?;
                if !st.detail.is_empty() && st.status != StepStatus::Planned {
                    writeln!(f, "             {}", st.detail)?;
                }
            }
        }
        if let Some(e) = &self.error {
            writeln!(f, "{}: {e}", self.outcome())?;
        }
        Ok(())
    }
}
