//! The human rendering of `check`'s result: what the CLI prints without `--json`.

use std::fmt;

use super::CheckResult;
use super::check::show_amount;

/// The human rendering of a [`CheckResult`] (`hostfix check`): one line per threshold,
/// `[ok]` or `[BELOW]`, with the amount available and the amount needed.
impl fmt::Display for CheckResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            writeln!(
                f,
                "[{}] {}: {} available, needs {} ({} of {})",
                if c.holds { "ok" } else { "BELOW" },
                c.subject(),
                show_amount(&c.check, c.actual),
                c.threshold,
                show_amount(&c.check, c.required),
                show_amount(&c.check, c.total),
            )?;
        }
        Ok(())
    }
}
