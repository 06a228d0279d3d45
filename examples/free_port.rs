//! Free a port the way a provisioning tool or a setup binary would, before starting a
//! container that publishes it.
//!
//! ```text
//! cargo run --example free_port -- 80                     # who holds it, then free it
//! cargo run --example free_port -- 80 --remove-package    # and remove the distro package
//! cargo run --example free_port -- 80 --dry-run           # show the plan only
//! ```
//!
//! It prints who holds the port, frees it by the least risky ladder (stop and disable the
//! unit → SIGTERM → SIGKILL, each rung verified by binding 0.0.0.0 and ::), and exits with
//! hostfix's exit code: 0 the port binds, 1 it does not, 2 bad input, 3 refused (a
//! protected owner such as sshd or a container, or a step above the risk cap).

use std::process::ExitCode;

use hostfix::port::{self, FreeSpec, WhoSpec};
use hostfix::{Host, Policy};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(port) = args.first().and_then(|p| p.parse::<u16>().ok()) else {
        eprintln!("usage: free_port PORT [--remove-package] [--dry-run]");
        return ExitCode::from(2);
    };
    let remove_package = args.iter().any(|a| a == "--remove-package");
    let dry_run = args.iter().any(|a| a == "--dry-run");
    let host = Host::live();

    // Who holds it? (read-only, milliseconds)
    match port::find_holders(&host, &WhoSpec::tcp(port)) {
        Ok(h) => print!("{h}"),
        Err(e) => {
            eprintln!("free_port: {e}");
            return ExitCode::from(e.exit_code() as u8);
        }
    }

    // Free it. Removing a package is destructive: the flag is the consent.
    let mut spec = FreeSpec::tcp(port);
    spec.remove_package = remove_package;
    // The flag raises the cap to destructive, as `hostfix port free --remove-package`.
    let cap = spec.default_cap();
    let report = port::free_port(&host, &spec, &Policy::new(cap).dry_run(dry_run));
    for step in &report.steps {
        println!(
            "[{:?}] {} ({}): {}",
            step.status, step.action, step.risk, step.detail
        );
    }
    if let Some(plan) = &report.result.removal {
        println!(
            "package removal: {} (removes {})",
            plan.command,
            plan.removes.join(", ")
        );
    }
    match &report.error {
        None => {
            println!(
                "port {port}: {}",
                if report.changed {
                    "freed"
                } else {
                    "already free"
                }
            );
            ExitCode::SUCCESS
        }
        Some(e) => {
            eprintln!("free_port: {e}");
            ExitCode::from(report.exit_code() as u8)
        }
    }
}
