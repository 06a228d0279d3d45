//! `hostfix reboot`.

use std::fmt::Write as _;
use std::time::Duration;

use clap::Args;
use hostfix::Risk;
use hostfix::reboot::{
    self, Decision, NeedVerdict, RebootMethod, RebootResult, RebootSpec, Rules, Verdict,
};
use hostfix::size::format_duration;

use crate::Global;
use crate::args::{self, Utf8};

/// `hostfix reboot`: reboot only when needed and when the guard allows.
///
/// Every reboot is recorded in the ledger (STATE_DIR/reboot-ledger.json) before it is
/// requested; the guard refuses (exit 3, naming the rule) when a rule says no. The reboot
/// is requested, not awaited: a run in the next boot confirms it.
///
/// Examples:
///   hostfix reboot --if-needed --once kernel-2024-05 --delay 90s
///   hostfix reboot --when 'test -e /var/run/app-upgraded' --min-uptime 10m
///   hostfix reboot --if-needed --dry-run
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  hostfix reboot --if-needed --once kernel-2024-05 --delay 90s
  hostfix reboot --when 'test -e /var/lib/app/upgraded' --min-uptime 10m
  hostfix reboot --if-needed --dry-run

Exit codes: 0 reboot requested, or not needed; 1 the request failed; 2 bad input;
3 refused (a guard rule, named in the output, or --max-risk below reboot).")]
pub struct RebootArgs {
    /// Reboot only when a source says a reboot is needed (/run/reboot-required,
    /// needs-restarting -r, a newer installed kernel, --when).
    #[arg(long)]
    if_needed: bool,
    /// At most one reboot for this key, ever (for example: first-boot, kernel-2024-05).
    #[arg(long, value_name = "KEY", value_parser = Utf8(args::text))]
    once: Option<String>,
    /// Why, recorded in the ledger (default: the reasons found).
    #[arg(long, value_name = "TEXT", value_parser = Utf8(args::text))]
    reason: Option<String>,
    /// At most N reboots started by hostfix within --window.
    #[arg(long, value_name = "N", default_value = "3", value_parser = Utf8(args::count))]
    max_attempts: u32,
    /// The window --max-attempts counts in (at most 366d).
    #[arg(long, value_name = "DUR", default_value = "1h", value_parser = Utf8(args::span))]
    window: Duration,
    /// Refuse while the host has been up less than this (at most 366d).
    #[arg(long, value_name = "DUR", value_parser = Utf8(args::span))]
    min_uptime: Option<Duration>,
    /// Wait this long before rebooting (90s stays 90 seconds; a plain number is seconds;
    /// at most 1d).
    #[arg(long, value_name = "DUR", default_value = "0s", value_parser = Utf8(args::wait))]
    delay: Duration,
    /// A shell command whose exit 0 means a reboot is needed; implies --if-needed.
    #[arg(long, value_name = "COMMAND", value_parser = Utf8(args::text))]
    when: Option<String>,
    /// A message for logged-in users (wall) and the journal.
    #[arg(long, value_name = "TEXT", value_parser = Utf8(args::text))]
    message: Option<String>,
    /// orderly (the init system's reboot), auto (orderly, then reboot(2) if that fails)
    /// or syscall (sync, then reboot(2): services are not stopped).
    #[arg(long, value_name = "METHOD", default_value = "orderly", value_parser = Utf8(parse_method))]
    method: RebootMethod,
}

fn parse_method(s: &str) -> Result<RebootMethod, String> {
    s.parse()
        .map_err(|e: hostfix::error::InputError| e.to_string())
}

/// Runs `reboot`. The command is the consent: its default cap is `reboot`.
pub fn run(g: &Global, a: RebootArgs) -> i32 {
    let spec = RebootSpec {
        if_needed: a.if_needed,
        reason: a.reason,
        rules: Rules {
            once: a.once,
            max_attempts: a.max_attempts,
            window: a.window,
            min_uptime: a.min_uptime,
        },
        delay: a.delay,
        when: a.when,
        message: a.message,
        method: a.method,
    };
    let report = reboot::reboot(&g.host(), &spec, &g.policy(Risk::Reboot));
    crate::output::emit(g, &report, summary)
}

fn summary(r: &RebootResult) -> String {
    let mut s = String::new();
    let decision = match r.decision {
        Decision::Undecided => "undecided",
        Decision::Reboot if r.requested => "reboot requested (not done yet)",
        Decision::Reboot => "reboot",
        Decision::NotNeeded => "no reboot: not needed",
        Decision::Refused => "no reboot: refused",
    };
    let _ = writeln!(s, "decision: {decision}");
    if !r.why.is_empty() {
        let _ = writeln!(s, "  {}", r.why);
    }
    if !r.need.checks.is_empty() {
        let _ = writeln!(
            s,
            "need: {}",
            if r.need.needed {
                "a reboot is needed"
            } else {
                "no reason found"
            }
        );
        for c in &r.need.checks {
            let v = match c.verdict {
                NeedVerdict::Needed => "needed",
                NeedVerdict::NotNeeded => "no",
                NeedVerdict::Unknown => "unknown",
                NeedVerdict::Absent => "absent",
            };
            let _ = writeln!(s, "  [{v:<7}] {}: {}", c.source.as_str(), c.detail);
        }
    }
    if !r.guard.is_empty() {
        let _ = writeln!(s, "guard:");
        for v in &r.guard {
            let mark = match v.verdict {
                Verdict::Allow => "allow",
                Verdict::Refuse => "REFUSE",
                Verdict::Off => "off",
                Verdict::Unknown => "unknown",
            };
            let _ = writeln!(s, "  [{mark:<6}] {}: {}", v.rule, v.detail);
        }
    }
    if let Some(e) = &r.entry {
        let _ = writeln!(
            s,
            "ledger: entry #{} in {} (delay {})",
            e.id,
            r.ledger,
            format_duration(Duration::from_secs(e.delay_secs))
        );
    }
    if !r.confirmed.is_empty() {
        let ids: Vec<String> = r.confirmed.iter().map(|i| format!("#{i}")).collect();
        let _ = writeln!(s, "confirmed completed reboots: {}", ids.join(", "));
    }
    if !r.history.is_empty() {
        let _ = writeln!(s, "last reboots:");
        for h in &r.history {
            let _ = writeln!(s, "  {}", h.summary);
        }
    }
    s
}
