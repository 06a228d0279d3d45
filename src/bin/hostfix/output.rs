//! Printing reports: one JSON document with `--json`, human text otherwise.

use std::fmt::Write as _;

use hostfix::{Report, StepStatus};
use serde::Serialize;

use crate::Global;

/// Prints a report and returns the exit code.
///
/// `summary` renders the operation's own result for people; the steps and the error are
/// rendered here, the same for every command.
pub fn emit<T: Serialize>(
    g: &Global,
    report: &Report<T>,
    summary: impl FnOnce(&T) -> String,
) -> i32 {
    if g.json {
        match serde_json::to_string_pretty(report) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("hostfix: cannot encode the report as JSON: {e}");
                return 1;
            }
        }
    } else {
        print!("{}", human(report, summary));
    }
    report.exit_code()
}

/// The human rendering of a report.
pub fn human<T>(report: &Report<T>, summary: impl FnOnce(&T) -> String) -> String {
    let mut s = String::new();
    let state = match (report.outcome(), report.changed, report.dry_run) {
        ("ok", true, true) => "would change the host",
        ("ok", false, true) => "nothing to do",
        ("ok", true, false) => "changed",
        ("ok", false, false) => "ok, nothing changed",
        ("refused", ..) => "refused",
        ("bad-input", ..) => "bad input",
        _ => "FAILED",
    };
    let _ = writeln!(
        s,
        "{}: {state}{}",
        report.operation,
        if report.dry_run { " (dry run)" } else { "" }
    );
    let body = summary(&report.result);
    if !body.is_empty() {
        for line in body.lines() {
            let _ = writeln!(s, "  {line}");
        }
    }
    let shown: Vec<_> = report
        .steps
        .iter()
        .filter(|st| st.status != StepStatus::Done || st.risk > hostfix::Risk::ReadOnly)
        .collect();
    if !shown.is_empty() {
        let _ = writeln!(s, "steps:");
        for st in shown {
            let status = format!("{:?}", st.status).to_lowercase();
            let _ = writeln!(s, "  [{status:<7}] {:<11} {}", st.risk.as_str(), st.action);
            if !st.detail.is_empty() && st.status != StepStatus::Planned {
                let _ = writeln!(s, "             {}", st.detail);
            }
        }
    }
    if let Some(e) = &report.error {
        let _ = writeln!(s, "{}: {e}", report.outcome());
    }
    s
}
