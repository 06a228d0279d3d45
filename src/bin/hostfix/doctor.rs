//! `hostfix doctor`.

use std::fmt::Write as _;

use clap::Args;
use hostfix::doctor::{self, Diagnosis, DoctorOptions, Severity};

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
    let mut opts = DoctorOptions {
        state_dir: g.state_dir.clone(),
        since: a.since,
        ..DoctorOptions::default()
    };
    if !a.ports.is_empty() {
        opts.ports = a.ports;
    }
    let report = doctor::diagnose(&g.host(), &opts, &g.policy(hostfix::Risk::ReadOnly));
    crate::output::emit(g, &report, summary)
}

fn summary(d: &Diagnosis) -> String {
    let mut s = String::new();
    let mut area = None;
    for f in &d.findings {
        if area != Some(f.area) {
            let _ = writeln!(s, "{}:", format!("{:?}", f.area).to_lowercase());
            area = Some(f.area);
        }
        let mark = match f.severity {
            Severity::Ok => "ok",
            Severity::Info => "info",
            Severity::Warning => "WARN",
            Severity::Problem => "PROBLEM",
        };
        let _ = writeln!(s, "  [{mark}] {}", f.title);
        for e in &f.evidence {
            let _ = writeln!(s, "      {e}");
        }
        for p in &f.proofs {
            let _ = writeln!(s, "      from {}:", p.from);
            for l in &p.lines {
                let _ = writeln!(s, "        | {l}");
            }
        }
        if let Some(fix) = &f.fix {
            let _ = writeln!(s, "      fix: {}   (risk: {})", fix.command, fix.risk);
        }
    }
    for u in &d.unseen {
        let _ = writeln!(s, "not seen: {u}");
    }
    s
}
