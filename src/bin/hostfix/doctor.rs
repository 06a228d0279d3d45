//! `hostfix doctor`.

use clap::Args;
use hostfix::doctor::{self, DoctorOptions};

use crate::Global;
use crate::args::{self, Utf8};

/// `hostfix doctor`: a read-only report, in the order a request meets the host.
#[derive(Debug, Args)]
pub struct DoctorArgs {
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
    if !a.ports.is_empty() {
        opts.ports = a.ports;
    }
    let report = doctor::diagnose(&g.host(), &opts, &g.policy(opts.default_cap()));
    crate::output::emit(g, &report)
}
