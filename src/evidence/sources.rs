//! The thin I/O of each source: files read under the host's root, commands run through
//! the host's seam under `timeout`. Each source reports how it went ([`SourceReport`]);
//! none blocks past its deadline.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::engine_log::{self, LogLine};
use super::journal;
use super::kernel::{At, KernelEvents, Scanner};
use super::kmsg::{self, KmsgError, KmsgStats};
use super::pressure::{self, Psi};
use super::request::UnitEvidence;
use super::{Limits, text};
use crate::engine::{ContainerInfo, Engine, EngineFailure};
use crate::host::{CmdOutput, Host, InitSystem};
use crate::program;

/// How a source went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceStatus {
    /// Read.
    Read,
    /// Not there on this host.
    Missing,
    /// Not readable by this user.
    Denied,
    /// It did not answer within its deadline.
    TimedOut,
    /// It failed otherwise.
    Failed,
}

/// One source, how it went and how long it took.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceReport {
    /// Its name (`request`, `kernel-log`, `container-logs`, `units`, `pressure`, `vmstat`).
    pub name: String,
    /// How it went.
    pub status: SourceStatus,
    /// What happened, when not simply read.
    pub detail: Option<String>,
    /// Wall time spent (ms).
    pub elapsed_ms: f64,
}

impl SourceReport {
    /// A report for `name`, timed from `start`.
    pub fn new(name: &str, start: Instant, status: SourceStatus, detail: Option<String>) -> Self {
        SourceReport {
            name: name.into(),
            status,
            detail,
            elapsed_ms: start.elapsed().as_secs_f64() * 1000.0,
        }
    }
}

/// A failed source: its status and a sentence.
pub type Failure = (SourceStatus, String);

/// Runs `program` with `args` under coreutils `timeout` through the host's seam.
///
/// # Errors
/// Without `timeout` or the program (`Missing`: nothing runs unbounded), when it cannot
/// start (`Failed`), or when it ran out of time (`TimedOut`).
pub fn run_bounded(
    host: &Host,
    program: &str,
    args: &[String],
    limit: Duration,
) -> Result<CmdOutput, Failure> {
    let Some(timeout) = program::find(host.root(), "timeout") else {
        return Err((
            SourceStatus::Missing,
            format!("no `timeout` program: {program} is not run unbounded"),
        ));
    };
    let Some(prog) = program::find(host.root(), program) else {
        return Err((SourceStatus::Missing, format!("no `{program}` program")));
    };
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let cmd = crate::engine::wrap(&Some(timeout.run_path()), &prog.run_path(), &a, limit);
    let out = host
        .system()
        .run(&cmd)
        .map_err(|e| (SourceStatus::Failed, e.to_string()))?;
    if matches!(out.status, Some(124) | Some(137)) {
        return Err((
            SourceStatus::TimedOut,
            format!("{program} gave no answer in {} s", limit.as_secs().max(1)),
        ));
    }
    Ok(out)
}

/// The kernel's log, and what was read of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KernelLog {
    /// Where it was read (`/dev/kmsg`, or the `journalctl -k` command).
    pub from: String,
    /// The window asked for (s), `None` for since boot.
    pub window_s: Option<u64>,
    /// The host's uptime when read (s).
    pub uptime_s: Option<f64>,
    /// How the ring buffer read went (`/dev/kmsg` only).
    pub stats: Option<KmsgStats>,
    /// The oldest record the ring buffer still held (s after boot), when it had lost
    /// earlier ones.
    pub oldest_s: Option<f64>,
    /// The same, as a wall-clock time (UTC), when the boot time is known.
    pub oldest_time: Option<String>,
    /// What it held.
    pub events: KernelEvents,
    /// What became of the hung tasks it names: by pid, the cgroup and state of that pid
    /// now, when it is still the same process.
    pub hung_now: BTreeMap<i32, HungNow>,
}

/// A hung task's process as it is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HungNow {
    /// Its cgroup.
    pub cgroup: Option<String>,
    /// Its state letter (`D` when still blocked).
    pub state: char,
}

/// The uptime in seconds from `/proc/uptime` text (pure).
pub fn parse_uptime(text: &str) -> Option<f64> {
    text.split_whitespace()
        .next()?
        .parse::<f64>()
        .ok()
        .filter(|u| u.is_finite() && *u >= 0.0)
}

/// When the host booted, in seconds since the epoch (pure): the kernel's `btime` from
/// `/proc/stat`, the same in every run of this boot, so an event's time does not move
/// by a second between two reports; else the time now less the uptime.
pub fn boot_epoch(stat: Option<&str>, now: f64, uptime: Option<f64>) -> Option<f64> {
    match stat.and_then(crate::port::owner::parse_btime) {
        Some(b) => Some(b as f64),
        None => uptime.map(|u| now - u),
    }
}

/// Reads the kernel's log: `/dev/kmsg`, else the journal's kernel messages.
pub fn kernel_log(
    host: &Host,
    since: Option<Duration>,
    l: &Limits,
) -> (Option<KernelLog>, SourceReport) {
    let start = Instant::now();
    let uptime = host
        .read("/proc/uptime")
        .ok()
        .and_then(|t| parse_uptime(&t));
    let now = crate::reboot::ledger::unix_secs(host.system().now()) as f64;
    let stat = host.read("/proc/stat").ok();
    let boot_epoch = boot_epoch(stat.as_deref(), now, uptime);
    let mut log = KernelLog {
        window_s: since.map(|d| d.as_secs()),
        uptime_s: uptime,
        ..KernelLog::default()
    };
    let mut scanner = Scanner::new(l.keep, boot_epoch);
    let min_usec = match (since, uptime) {
        (Some(d), Some(u)) => ((u - d.as_secs_f64()).max(0.0) * 1e6) as u64,
        _ => 0,
    };
    let mut first: Option<(u64, u64)> = None;
    let deadline = start + l.kmsg;
    let read = kmsg::read(
        &host.path("/dev/kmsg"),
        deadline,
        l.kmsg_max_bytes,
        |line| {
            if let Some(r) = kmsg::parse_record(line) {
                first.get_or_insert((r.seq, r.usec));
                if r.usec >= min_usec {
                    let at = At {
                        seq: Some(r.seq),
                        usec: Some(r.usec),
                        wall: None,
                    };
                    scanner.push(at, r.text);
                }
            }
        },
    );
    match read {
        Ok(stats) => {
            log.from = "/dev/kmsg".into();
            log.oldest_s = first
                .filter(|(seq, _)| *seq > 0)
                .map(|(_, u)| u as f64 / 1e6);
            log.oldest_time = log
                .oldest_s
                .zip(boot_epoch)
                .map(|(s, b)| crate::reboot::ledger::format_utc((b + s).max(0.0) as u64));
            let stopped = stats.stopped.clone();
            log.stats = Some(stats);
            log.events = scanner.finish();
            log.hung_now = hung_now(host, &log.events);
            let (status, detail) = match stopped {
                Some(why) => (
                    SourceStatus::TimedOut,
                    Some(format!(
                        "/dev/kmsg: stopped reading because {why}; later messages are not shown"
                    )),
                ),
                None => (SourceStatus::Read, None),
            };
            (
                Some(log),
                SourceReport::new("kernel-log", start, status, detail),
            )
        }
        Err(e) => kernel_journal(host, since, l, e, log, scanner, start),
    }
}

/// The kernel's messages from the journal, when `/dev/kmsg` could not be read.
fn kernel_journal(
    host: &Host,
    since: Option<Duration>,
    l: &Limits,
    kmsg_err: KmsgError,
    mut log: KernelLog,
    mut scanner: Scanner,
    start: Instant,
) -> (Option<KernelLog>, SourceReport) {
    let why = format!("/dev/kmsg: {kmsg_err}");
    let status = match kmsg_err {
        KmsgError::Denied(_) => SourceStatus::Denied,
        KmsgError::Missing => SourceStatus::Missing,
        _ => SourceStatus::Failed,
    };
    if let Err(j) = journal::journal_present(host) {
        let detail = format!("{why}; the journal cannot stand in: {j}");
        return (
            None,
            SourceReport::new("kernel-log", start, status, Some(detail)),
        );
    }
    let args = journal::kernel_journal_args(l.kernel_journal_lines, since);
    match run_bounded(host, "journalctl", &args, l.command) {
        Ok(out) if out.success() => {
            for (time, ident, msg) in out.stdout.lines().filter_map(journal::parse_journal_line) {
                if ident == "kernel" {
                    scanner.push(
                        At {
                            wall: Some(time),
                            ..At::default()
                        },
                        msg,
                    );
                }
            }
            log.from = format!("journalctl {}", args.join(" "));
            log.events = scanner.finish();
            log.hung_now = hung_now(host, &log.events);
            let mut detail = format!("{why}; read the journal's kernel messages instead");
            if !host.is_root() {
                detail.push_str(" (as non-root, only what this user may read of it)");
            }
            (
                Some(log),
                SourceReport::new("kernel-log", start, SourceStatus::Read, Some(detail)),
            )
        }
        Ok(out) => {
            let detail = format!(
                "{why}; journalctl -k: {}",
                text::clean(out.stderr.trim(), 200)
            );
            (
                None,
                SourceReport::new("kernel-log", start, status, Some(detail)),
            )
        }
        Err((s, e)) => (
            None,
            SourceReport::new("kernel-log", start, s, Some(format!("{why}; {e}"))),
        ),
    }
}

/// The processes of the hung-task reports as they are now: only when the pid still runs
/// a process of the reported name (a reused pid is someone else).
fn hung_now(host: &Host, e: &KernelEvents) -> BTreeMap<i32, HungNow> {
    let mut out = BTreeMap::new();
    for h in &e.hung_tasks {
        let Some(st) = crate::process::stat(host, h.pid) else {
            continue;
        };
        if st.comm != h.name {
            continue;
        }
        out.insert(
            h.pid,
            HungNow {
                cgroup: crate::process::cgroup(host, h.pid),
                state: st.state,
            },
        );
    }
    out
}

/// A container's state, log and memory pressure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerEvidence {
    /// Its full id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// What the engine says of it.
    pub info: ContainerInfo,
    /// The log lines that matter.
    pub log: Vec<LogLine>,
    /// The command that printed them.
    pub log_command: String,
    /// Its cgroup's memory pressure, when it runs on cgroup v2.
    pub pressure: Option<Psi>,
    /// Its cgroup's `memory.pressure` file (host path).
    pub pressure_from: Option<String>,
    /// What could not be read.
    pub unseen: Vec<String>,
}

/// Whether a container is worth its log: not running and it failed (an error, a
/// non-zero exit, killed for memory), restarting, or restarted often (pure).
pub fn worth_a_look(i: &ContainerInfo) -> bool {
    let failed = !i.error.trim().is_empty() || i.exit_code != 0 || i.oom_killed;
    (!i.running && failed) || i.restarting || i.restart_count >= 3
}

/// Reads one container's log and its cgroup's memory pressure.
pub fn container_evidence(
    host: &Host,
    engine: &Engine,
    i: &ContainerInfo,
    since: Option<Duration>,
    l: &Limits,
) -> ContainerEvidence {
    // A name the engine would take for a flag is never passed: the id is.
    let target = if engine_log::is_plain_name(&i.name) {
        &i.name
    } else {
        &i.id
    };
    let args = engine_log::logs_args(target, l.log_lines, since);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut c = ContainerEvidence {
        id: i.id.clone(),
        name: i.name.clone(),
        info: i.clone(),
        log: Vec::new(),
        log_command: format!("{} {}", engine.kind, args.join(" ")),
        pressure: None,
        pressure_from: None,
        unseen: Vec::new(),
    };
    if engine.timeout.is_none() {
        c.unseen
            .push("its log: no `timeout` program, `docker logs` is not run unbounded".into());
    } else {
        match engine.run(host, &a, l.command) {
            Ok(out) if out.ok() => {
                let all = engine_log::parse_logs(&out.output.stdout, &out.output.stderr);
                c.log = engine_log::significant(&all, l.keep);
            }
            Ok(out) if out.failure == Some(EngineFailure::Hung) => c.unseen.push(format!(
                "its log: {} gave no answer in {} s",
                c.log_command,
                l.command.as_secs()
            )),
            Ok(out) => c
                .unseen
                .push(format!("its log: {}", text::clean(&out.summary(), 300))),
            Err(e) => c.unseen.push(format!("its log: {e}")),
        }
    }
    if i.running && i.pid > 0 {
        if let Some(cg) = crate::process::cgroup(host, i.pid).filter(|p| p != "/") {
            let file = format!("/sys/fs/cgroup{cg}/memory.pressure");
            if let Ok(t) = host.read(&file) {
                c.pressure = pressure::parse_psi(&t);
                c.pressure_from = c.pressure.map(|_| file);
            }
        }
    }
    c
}

/// Reads a unit's state and last journal lines.
pub fn unit_evidence(host: &Host, unit: &str, since: Option<Duration>, l: &Limits) -> UnitEvidence {
    let args = journal::unit_journal_args(unit, l.journal_lines, since);
    let mut u = UnitEvidence {
        unit: unit.to_string(),
        journal_command: format!("journalctl {}", args.join(" ")),
        ..UnitEvidence::default()
    };
    if host.init_system() == InitSystem::Systemd {
        match run_bounded(host, "systemctl", &journal::unit_show_args(unit), l.command) {
            Ok(out) if out.success() => u.state = journal::parse_unit_show(unit, &out.stdout),
            Ok(out) => u.unseen.push(format!(
                "systemctl show: {}",
                text::clean(out.stderr.trim(), 200)
            )),
            Err((_, e)) => u.unseen.push(format!("its state: {e}")),
        }
    } else {
        u.unseen
            .push("its state: systemd does not run this host".into());
    }
    match journal::journal_present(host) {
        Err(why) => u.unseen.push(format!("its journal: {why}")),
        Ok(()) => match run_bounded(host, "journalctl", &args, l.command) {
            Ok(out) if out.success() => u.journal = journal::parse_journal(&out.stdout),
            Ok(out) => u.unseen.push(format!(
                "journalctl: {}",
                text::clean(out.stderr.trim(), 200)
            )),
            Err((_, e)) => u.unseen.push(format!("its journal: {e}")),
        },
    }
    u
}

/// The host's memory pressure, or why it cannot be read.
pub fn host_pressure(host: &Host) -> (Option<Psi>, SourceReport) {
    let start = Instant::now();
    match host.read_opt("/proc/pressure/memory") {
        Ok(Some(t)) => match pressure::parse_psi(&t) {
            Some(p) => (
                Some(p),
                SourceReport::new("pressure", start, SourceStatus::Read, None),
            ),
            None => {
                let d = "/proc/pressure/memory: not the PSI format".to_string();
                (
                    None,
                    SourceReport::new("pressure", start, SourceStatus::Failed, Some(d)),
                )
            }
        },
        Ok(None) => {
            let d = "/proc/pressure/memory is missing (a kernel without PSI)".to_string();
            (
                None,
                SourceReport::new("pressure", start, SourceStatus::Missing, Some(d)),
            )
        }
        Err(e) => {
            let d = format!("{e} (PSI is off: psi=0 on the kernel command line?)");
            (
                None,
                SourceReport::new("pressure", start, SourceStatus::Failed, Some(d)),
            )
        }
    }
}

#[cfg(test)]
mod boot_epoch_tests {
    use super::boot_epoch;

    #[test]
    fn btime_is_the_boot_time_else_now_less_the_uptime() {
        let stat = "cpu  1 2 3 4\nbtime 1764583900\nprocesses 7\n";
        // Two runs a moment apart: the same boot time from btime.
        assert_eq!(
            boot_epoch(Some(stat), 1_764_584_000.0, Some(100.4)),
            Some(1_764_583_900.0)
        );
        assert_eq!(
            boot_epoch(Some(stat), 1_764_584_001.0, Some(100.9)),
            Some(1_764_583_900.0)
        );
        assert_eq!(
            boot_epoch(Some("cpu 1\n"), 1_000.0, Some(100.0)),
            Some(900.0)
        );
        assert_eq!(boot_epoch(None, 1_000.0, Some(100.0)), Some(900.0));
        assert_eq!(boot_epoch(None, 1_000.0, None), None);
    }
}
