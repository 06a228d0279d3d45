//! Remove a stuck container the way a provisioning tool would, before it recreates it.
//!
//! ```text
//! cargo run --example remove_stuck_container -- web            # cap: disruptive
//! cargo run --example remove_stuck_container -- web destructive # allow the shim kill
//! cargo run --example remove_stuck_container -- web reboot      # and a guarded reboot
//! ```
//!
//! The ladder stops at the cap and says which rung it would need; the caller decides
//! whether to allow it (here: the second argument), page someone, or replace the host.

use std::process::ExitCode;

use hostfix::container::{self, GuardedReboot, RemoveOptions};
use hostfix::{Host, Policy, Risk};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(target) = args.next() else {
        eprintln!(
            "usage: remove_stuck_container NAME|ID [read-only|disruptive|destructive|reboot]"
        );
        return ExitCode::from(2);
    };
    let cap = match args.next().map(|s| s.parse::<Risk>()) {
        None => Risk::Disruptive,
        Some(Ok(r)) => r,
        Some(Err(e)) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };

    let report = container::remove(
        &Host::live(),
        &RemoveOptions::new(&target),
        &Policy::new(cap),
        // The reboot rung goes through hostfix's reboot guard (one reboot per container,
        // ever). A caller with its own guard passes any `RebootGate`; `NoRebootGate`
        // refuses every reboot.
        &GuardedReboot::default(),
    );

    for step in &report.steps {
        println!("{:<8} {:<11} {}", step.status, step.risk, step.action);
    }
    let r = &report.result;
    if r.already_gone {
        println!("{target}: already gone");
    } else if let Some(rung) = r.removed_by {
        println!("{target}: removed by rung {rung}: safe to recreate it");
    } else if let Some(next) = &r.next {
        println!(
            "{target}: still there; the next rung is {} (risk {}): {}",
            next.rung, next.risk, next.action
        );
        if let Some(f) = &r.futility {
            println!("why signals cannot work: {}", f.why());
        }
        if !r.engine_restart_hits.is_empty() {
            println!(
                "an engine restart would interrupt: {}",
                r.engine_restart_hits.join(", ")
            );
        }
    }
    if let Some(e) = &report.error {
        eprintln!("{}: {e}", report.outcome());
    }
    ExitCode::from(u8::try_from(report.exit_code()).unwrap_or(1))
}
