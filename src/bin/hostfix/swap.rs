//! `hostfix swap`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use hostfix::size::{ByteSize, Threshold};
use hostfix::swap::{self, Persist, RemoveOptions, SwapSize, SwapSpec};

use crate::Global;
use crate::args::{self, AnyPath, Utf8};

/// `hostfix swap ...`
#[derive(Debug, Subcommand)]
pub enum SwapCmd {
    /// Make the swap file exist with this size, active and persisted (default risk:
    /// additive; resizing an active file needs --max-risk disruptive).
    ///
    /// Example: `hostfix swap ensure --size 2G`, `hostfix swap ensure --size auto
    /// --swappiness 10 --persist systemd`
    Ensure(EnsureArgs),
    /// Swap off (when memory can take the pages), unpersist, and delete the swap file,
    /// only when it is verifiably a swap area (default risk: destructive).
    Remove(RemoveArgs),
}

/// `hostfix swap ensure`.
#[derive(Debug, Args)]
pub struct EnsureArgs {
    /// The size: 512M, 2G, 1.5GiB, bytes, or `auto` (from RAM as cloud-init's size: auto,
    /// capped by --auto-max and a quarter of the free disk).
    #[arg(long, value_name = "SIZE|auto", value_parser = Utf8(parse_swap_size), allow_hyphen_values = true)]
    size: SwapSize,
    /// The swap file.
    #[arg(long, value_name = "P", default_value = SwapSpec::DEFAULT_PATH, value_parser = AnyPath)]
    path: PathBuf,
    /// How it comes back after a reboot: fstab (a line with nofail), systemd (a .swap unit)
    /// or none.
    #[arg(long, value_name = "fstab|systemd|none", default_value = "fstab", value_parser = Utf8(parse_persist))]
    persist: Persist,
    /// Swap priority, 0 to 32767 (default: the kernel's).
    #[arg(long, value_name = "N", value_parser = Utf8(args::signed), allow_hyphen_values = true)]
    priority: Option<i32>,
    /// Also set vm.swappiness (0-200) now and in /etc/sysctl.d.
    #[arg(long, value_name = "N", value_parser = Utf8(args::count))]
    swappiness: Option<u32>,
    /// A label for a new swap header (at most 16 bytes).
    #[arg(long, value_name = "LABEL", value_parser = Utf8(args::text))]
    label: Option<String>,
    /// Disk that must stay free after the file is made: a size or a share of the
    /// filesystem; may repeat, the largest wins (default 10% and 1G); `none` disables it.
    #[arg(long, value_name = "SIZE|PCT|none", value_parser = Utf8(parse_keep_free))]
    keep_free: Vec<Option<Threshold>>,
    /// The largest size `--size auto` picks.
    #[arg(long, value_name = "SIZE", default_value = "8G", value_parser = Utf8(parse_bytes))]
    auto_max: u64,
    /// Memory that must stay available, on top of the pages moved back, before a swapoff.
    #[arg(long, value_name = "SIZE", default_value = "256M", value_parser = Utf8(parse_bytes))]
    memory_margin: u64,
    /// How long to wait for another hostfix run's lock (at most 1d).
    #[arg(long, value_name = "DUR", default_value = "5m", value_parser = Utf8(args::wait))]
    lock_wait: std::time::Duration,
}

/// `hostfix swap remove`.
#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The swap file.
    #[arg(long, value_name = "P", default_value = SwapSpec::DEFAULT_PATH, value_parser = AnyPath)]
    path: PathBuf,
    /// Memory that must stay available, on top of the pages moved back, before swapoff.
    #[arg(long, value_name = "SIZE", default_value = "256M", value_parser = Utf8(parse_bytes))]
    memory_margin: u64,
    /// How long to wait for another hostfix run's lock (at most 1d).
    #[arg(long, value_name = "DUR", default_value = "5m", value_parser = Utf8(args::wait))]
    lock_wait: std::time::Duration,
}

fn parse_swap_size(s: &str) -> Result<SwapSize, String> {
    s.parse()
        .map_err(|e: hostfix::error::InputError| e.to_string())
}

fn parse_persist(s: &str) -> Result<Persist, String> {
    s.parse()
        .map_err(|e: hostfix::error::InputError| e.to_string())
}

fn parse_bytes(s: &str) -> Result<u64, String> {
    ByteSize::parse(s).map(|b| b.0).map_err(|e| e.to_string())
}

fn parse_keep_free(s: &str) -> Result<Option<Threshold>, String> {
    if matches!(s.trim(), "none" | "0" | "0%") {
        return Ok(None);
    }
    Threshold::parse_size(s)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Runs a swap subcommand.
pub fn run(g: &Global, c: SwapCmd) -> i32 {
    match c {
        SwapCmd::Ensure(a) => {
            let mut spec = SwapSpec::new(a.size);
            spec.path = a.path;
            spec.persist = a.persist;
            spec.priority = a.priority;
            spec.swappiness = a.swappiness;
            spec.label = a.label;
            if !a.keep_free.is_empty() {
                spec.keep_free = a.keep_free.into_iter().flatten().collect();
            }
            spec.auto_max = a.auto_max;
            spec.memory_margin = a.memory_margin;
            spec.lock_wait = a.lock_wait;
            let report = swap::ensure_swap_file(&g.host(), &spec, &g.policy(spec.default_cap()));
            crate::output::emit(g, &report)
        }
        SwapCmd::Remove(a) => {
            let mut opts = RemoveOptions::default();
            opts.path = a.path;
            opts.memory_margin = a.memory_margin;
            opts.lock_wait = a.lock_wait;
            let report = swap::remove_swap_file(&g.host(), &opts, &g.policy(opts.default_cap()));
            crate::output::emit(g, &report)
        }
    }
}
