//! Printing reports: one JSON document with `--json`, human text otherwise; and the
//! bad-input report for arguments that never reached a command.
//!
//! Every write here tolerates a closed stdout or stderr (`hostfix check | head -0`): the
//! exit code still tells the outcome, and nothing panics.

use std::ffi::OsString;
use std::io::Write as _;

use clap::CommandFactory;
use clap::error::ErrorKind;
use hostfix::Report;
use serde::Serialize;
use serde_json::{Value, json};

use crate::Global;

/// Writes text to stdout; a failure (a closed pipe) is said once on stderr.
pub fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    if let Err(e) = o.write_all(text.as_bytes()).and_then(|()| o.flush()) {
        err(&format!("hostfix: cannot write the output: {e}\n"));
    }
}

/// Writes text to stderr; a failure is ignored (there is nowhere left to say it).
pub fn err(text: &str) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(text.as_bytes()).and_then(|()| e.flush());
}

/// Prints a report (its JSON, or its human rendering: the library's `Display`) and
/// returns the exit code.
pub fn emit<T: Serialize + std::fmt::Display>(g: &Global, report: &Report<T>) -> i32 {
    if g.json {
        out(&format!("{}\n", to_json(report)));
    } else {
        out(&report.to_string());
    }
    report.exit_code()
}

/// The report as one JSON document. When the result cannot be encoded (a path that is
/// not UTF-8 has no JSON form), the document keeps the contract's fields and says why the
/// result is missing, instead of printing nothing.
fn to_json<T: Serialize>(report: &Report<T>) -> String {
    if let Ok(s) = serde_json::to_string_pretty(report) {
        return s;
    }
    let why = serde_json::to_value(&report.result)
        .err()
        .map_or_else(|| "unknown".to_string(), |e| e.to_string());
    let doc = json!({
        "operation": report.operation,
        "changed": report.changed,
        "dry_run": report.dry_run,
        "max_risk": report.max_risk,
        "outcome": report.outcome(),
        "exit_code": report.exit_code(),
        "error": report.error.as_ref().map(ToString::to_string),
        "steps": serde_json::to_value(&report.steps).unwrap_or_else(|_| json!([])),
        "result_unavailable": format!(
            "the result cannot be written as JSON ({why}); run without --json to see it"
        ),
    });
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| doc.to_string())
}

/// Reports a command line clap could not parse: `--help` and `--version` print and exit
/// 0; every other error is bad input (exit 2), one JSON object on stdout when `--json`
/// is anywhere in the arguments.
pub fn usage_error(argv: &[OsString], e: &clap::Error) -> i32 {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            out(&e.render().to_string());
            0
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let (operation, commands) = walk(argv);
            let why = format!(
                "{operation}: a command is missing; expected one of: {}",
                commands.join(", ")
            );
            if wants_json(argv) {
                bad_input(argv, &why)
            } else {
                err(&e.render().to_string());
                2
            }
        }
        _ if wants_json(argv) => bad_input(argv, &clap_message(e)),
        _ => {
            err(&e.render().to_string());
            2
        }
    }
}

/// Reports bad input found before any command ran: exit 2, with `--json` one JSON object
/// with the contract's fields.
pub fn bad_input(argv: &[OsString], why: &str) -> i32 {
    if wants_json(argv) {
        out(&format!("{}\n", bad_input_json(argv, why)));
    } else {
        err(&format!("hostfix: bad input: {why}\n"));
    }
    2
}

/// The JSON document for bad input found before any command ran.
pub fn bad_input_json(argv: &[OsString], why: &str) -> Value {
    json!({
        "operation": walk(argv).0,
        "changed": false,
        "dry_run": argv.iter().skip(1).any(|a| a == "--dry-run"),
        "outcome": "bad-input",
        "exit_code": 2,
        "error": why,
        "steps": [],
    })
}

/// Whether `--json` is anywhere in the arguments.
pub fn wants_json(argv: &[OsString]) -> bool {
    argv.iter().skip(1).any(|a| a == "--json")
}

/// clap's message without its `error: ` prefix and hints, with the usage line (what is
/// accepted) after it.
fn clap_message(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut paragraphs = text.split("\n\n").map(str::trim);
    let first = paragraphs.next().unwrap_or("");
    let first = first
        .strip_prefix("error: ")
        .unwrap_or(first)
        .replace('\n', " ");
    let usage = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Usage: "))
        .map(|u| format!("; usage: {u}"))
        .unwrap_or_default();
    format!("{first}{usage}")
}

/// The operation the arguments name (`swap ensure`, or `hostfix` when none) and the
/// subcommands the last named command takes.
fn walk(argv: &[OsString]) -> (String, Vec<String>) {
    let mut cmd = crate::Cli::command();
    let mut words: Vec<String> = Vec::new();
    for a in argv.iter().skip(1) {
        let Some(a) = a.to_str() else { continue };
        let Some(sub) = cmd.find_subcommand(a).cloned() else {
            continue;
        };
        words.push(sub.get_name().to_string());
        cmd = sub;
    }
    let names = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    let operation = if words.is_empty() {
        "hostfix".to_string()
    } else {
        words.join(" ")
    };
    (operation, names)
}
