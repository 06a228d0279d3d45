//! `hostfix reboot`.

use std::time::Duration;

use clap::Args;
use hostfix::reboot::{self, RebootMethod, RebootSpec};

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
    let mut spec = RebootSpec::default();
    spec.if_needed = a.if_needed;
    spec.reason = a.reason;
    spec.rules.once = a.once;
    spec.rules.max_attempts = a.max_attempts;
    spec.rules.window = a.window;
    spec.rules.min_uptime = a.min_uptime;
    spec.delay = a.delay;
    spec.when = a.when;
    spec.message = a.message;
    spec.method = a.method;
    let report = reboot::reboot(&g.host(), &spec, &g.policy(spec.default_cap()));
    crate::output::emit(g, &report)
}
