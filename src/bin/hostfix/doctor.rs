//! `hostfix doctor`.

use clap::Args;
use hostfix::doctor::{self, Consent, DoctorOptions};

use crate::Global;
use crate::args::{self, Utf8};

/// `hostfix doctor`: a read-only report, in the order a request meets the host; with
/// `--fix`, the findings' fixes applied within `--max-risk`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Apply the findings' fixes that fit --max-risk (default additive), least risky
    /// first, each through its own command's operation and guards, diagnosing again after
    /// each; a container kept from its port is started once the port is free. Ends with
    /// the findings before and after; exit 3 names the next fix above the cap.
    #[arg(long)]
    fix: bool,
    /// With --fix: a port fix may also remove the distro package holding the port (as
    /// `port free --remove-package`). Taken only with --max-risk destructive or higher;
    /// this flag does not raise the cap.
    #[arg(long, requires = "fix")]
    remove_package: bool,
    /// A port a request arrives at; may repeat (default 80 and 443).
    #[arg(long = "port", value_name = "PORT", value_parser = Utf8(args::port))]
    ports: Vec<u16>,
    /// How far back the kernel's log, the journal and container logs are read (`1h`,
    /// `30m`; at most 366d; default: since boot, or as far as each log goes).
    #[arg(long, value_name = "DUR", value_parser = Utf8(args::span))]
    since: Option<std::time::Duration>,
}

/// Runs `doctor`.
pub fn run(g: &Global, a: DoctorArgs) -> i32 {
    let mut opts = DoctorOptions::default();
    opts.state_dir = g.state_dir.clone();
    opts.since = a.since;
    opts.engine = g.engine;
    if !a.ports.is_empty() {
        opts.ports = a.ports;
    }
    if a.fix {
        let mut consent = Consent::default();
        consent.remove_package = a.remove_package;
        let report = doctor::fix(&g.host(), &opts, &consent, &g.policy(opts.fix_cap()));
        return crate::output::emit(g, &report);
    }
    let report = doctor::diagnose(&g.host(), &opts, &g.policy(opts.default_cap()));
    crate::output::emit(g, &report)
}
