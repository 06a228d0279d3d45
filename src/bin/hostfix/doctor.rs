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
}

/// Runs `doctor`.
pub fn run(g: &Global, a: DoctorArgs) -> i32 {
    let mut opts = DoctorOptions::default();
    opts.state_dir = g.state_dir.clone();
    if !a.ports.is_empty() {
        opts.ports = a.ports;
    }
    let report = doctor::diagnose(&g.host(), &opts, &g.policy(opts.default_cap()));
    crate::output::emit(g, &report)
}
