//! `hostfix check`.

use std::path::PathBuf;

use clap::Args;
use hostfix::resources::{self, CheckSpec};
use hostfix::size::Threshold;

use crate::Global;
use crate::args::{PathThreshold, Utf8};

/// `hostfix check`: exit 0 when every threshold holds, 1 otherwise.
///
/// Examples: `hostfix check --mem-available 10% --disk-free /=2G --inodes-free /=5%`
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Memory available (MemAvailable, or the cgroup's headroom) must be at least this:
    /// a size (512M) or a share of RAM (10%). May repeat.
    #[arg(long, value_name = "SIZE|PCT", value_parser = Utf8(parse_size_threshold), allow_hyphen_values = true)]
    mem_available: Vec<Threshold>,
    /// Free bytes on the filesystem holding PATH must be at least this (f_bavail, as df).
    /// May repeat. PATH may not be on a pseudo filesystem (/proc, /sys, cgroups, ...).
    #[arg(long, value_name = "PATH=SIZE|PCT", value_parser = PathThreshold(parse_disk))]
    disk_free: Vec<(PathBuf, Threshold)>,
    /// Free inodes on the filesystem holding PATH must be at least this. May repeat.
    #[arg(long, value_name = "PATH=N|PCT", value_parser = PathThreshold(parse_inodes))]
    inodes_free: Vec<(PathBuf, Threshold)>,
}

fn parse_size_threshold(s: &str) -> Result<Threshold, String> {
    Threshold::parse_size(s).map_err(|e| e.to_string())
}

fn parse_disk(s: &str) -> Result<(PathBuf, Threshold), String> {
    CheckSpec::parse_path_threshold(s, false).map_err(|e| e.to_string())
}

fn parse_inodes(s: &str) -> Result<(PathBuf, Threshold), String> {
    CheckSpec::parse_path_threshold(s, true).map_err(|e| e.to_string())
}

/// A path made absolute against the working directory; the library normalises it and
/// refuses what is not there or not storage.
fn absolute((p, t): (PathBuf, Threshold)) -> (PathBuf, Threshold) {
    if p.is_absolute() {
        return (p, t);
    }
    match std::env::current_dir() {
        Ok(cwd) => (cwd.join(p), t),
        // Left relative: the library says it is not an absolute path (bad input).
        Err(_) => (p, t),
    }
}

/// Runs `check`. With no threshold at all it is bad input (exit 2): a check of nothing
/// would always pass.
pub fn run(g: &Global, a: CheckArgs) -> i32 {
    let mut spec = CheckSpec::default();
    spec.mem_available = a.mem_available;
    spec.disk_free = a.disk_free.into_iter().map(absolute).collect();
    spec.inodes_free = a.inodes_free.into_iter().map(absolute).collect();
    let report = resources::check(&g.host(), &spec, &g.policy(spec.default_cap()));
    crate::output::emit(g, &report)
}
