//! The human rendering of `container rm`'s result: what the CLI prints without `--json`.

use std::fmt;

use super::{Removal, RungDecision};

/// The human rendering of a [`Removal`] (`hostfix container rm`): the container and
/// what became of it, why signals cannot work, the reboot asked for, what remains, the
/// next rung; in a dry run, the ladder as planned.
impl fmt::Display for Removal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self;
        let who = match (&r.name, &r.id) {
            (Some(n), Some(id)) => format!("{n} ({})", id.get(..12).unwrap_or(id)),
            _ => r.target.clone(),
        };
        if r.already_gone {
            writeln!(f, "{who}: already gone (not listed, no process, no shim)")?;
        } else if let Some(rung) = r.removed_by {
            writeln!(f, "{who}: removed by rung {rung}")?;
        } else if let Some(st) = &r.status {
            writeln!(
                f,
                "{who}: {st}, {} process(es), {} shim(s)",
                r.processes.len(),
                r.shims.len()
            )?;
        }
        if let Some(k) = r.engine.filter(|k| !k.has_daemon()) {
            writeln!(
                f,
                "engine: {k} (no engine daemon: no engine restart rung; its {} is killed instead)",
                k.monitor()
            )?;
        }
        if let Some(fu) = &r.futility {
            writeln!(f, "signals cannot work: {}", fu.why())?;
        }
        if let Some(rb) = &r.reboot {
            writeln!(
                f,
                "reboot: asked in boot {}{}",
                rb.requested_in_boot,
                if rb.confirmed {
                    ", confirmed: the host booted since"
                } else {
                    ", not happened yet"
                }
            )?;
        }
        if let Some(rem) = &r.remains {
            if !r.gone {
                writeln!(f, "remains: {rem}")?;
            }
        }
        if let Some(n) = &r.next {
            writeln!(f, "next rung: {} (risk {}): {}", n.rung, n.risk, n.action)?;
        }
        if r.dry_run && !r.ladder.is_empty() {
            writeln!(f, "ladder:")?;
            for p in &r.ladder {
                let what = match &p.decision {
                    RungDecision::Try if p.allowed => "try".to_string(),
                    RungDecision::Try => "above --max-risk".to_string(),
                    RungDecision::Skip(why) => format!("skip: {why}"),
                    RungDecision::Absent(why) => format!("absent: {why}"),
                    RungDecision::NotApplicable => continue,
                };
                writeln!(
                    f,
                    "  {:<14} {:<11} {what}",
                    p.rung.as_str(),
                    p.risk.as_str()
                )?;
            }
        }
        if !r.engine_restart_hits.is_empty() && r.removed_by.is_none() {
            writeln!(
                f,
                "an engine restart would interrupt: {}",
                r.engine_restart_hits.join(", ")
            )?;
        }
        Ok(())
    }
}
