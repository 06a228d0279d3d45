//! A guarded reboot as a provisioning step would run it: reboot only when the host needs
//! it, at most once for this provisioning round, never on a host up less than five
//! minutes, and with half a minute's notice.
//!
//! ```text
//! cargo run --example guarded_reboot                  # dry run: decide and print, change nothing
//! cargo run --example guarded_reboot -- --apply KEY   # really request the reboot (as root)
//! ```
//!
//! Exit codes are hostfix's: 0 rebooting or not needed, 1 the request failed, 2 bad input,
//! 3 refused by the guard (the rule is named).

use std::time::Duration;

use hostfix::reboot::{self, RebootDecision, RebootSpec};
use hostfix::{Host, Policy, Risk};

fn main() {
    let mut apply = false;
    let mut key = "provision-1".to_string();
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--apply" => apply = true,
            k => key = k.to_string(),
        }
    }
    let mut spec = RebootSpec::default();
    spec.if_needed = true;
    spec.rules.once = Some(key);
    spec.rules.min_uptime = Some(Duration::from_secs(300));
    spec.delay = Duration::from_secs(30);
    spec.message = Some("provisioning: rebooting in 30 seconds".into());
    // The caller's consent to reboot is the cap; without --apply it is only a plan.
    let policy = Policy::new(Risk::Reboot).dry_run(!apply);
    let report = reboot::reboot(&Host::live(), &spec, &policy);

    let r = &report.result;
    println!("need: {}", r.need.summary());
    for v in &r.guard {
        println!("  {:<12} {:<6} {}", v.rule, v.verdict.as_str(), v.detail);
    }
    match (r.decision, report.dry_run) {
        (RebootDecision::Reboot, true) => {
            println!("would reboot via {}", r.method.as_deref().unwrap_or("?"))
        }
        (RebootDecision::Reboot, false) if r.requested => {
            println!("reboot requested; a run after the reboot confirms it")
        }
        (RebootDecision::NotNeeded, _) => println!("no reboot needed"),
        _ => {}
    }
    if let Some(e) = &report.error {
        eprintln!("{}: {e}", report.outcome());
    }
    std::process::exit(report.exit_code());
}
