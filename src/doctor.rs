//! `doctor`: a read-only diagnosis, ordered along the path a request takes.
//!
//! A request reaches a host port first (doctor sends one to the loopback addresses and
//! says who answered: the container, or a distro service in its way), then who listens
//! there, then the container engine and the containers behind it, then the memory, swap
//! and disk the application needs, and last whether the host waits for a reboot. Findings
//! come in that order, each with its evidence, the log lines that prove it
//! (the container's log, the unit's journal, the kernel's OOM kills
//! and hung tasks) and, where hostfix can fix it, the command that would and that
//! command's risk. Nothing is changed; the only thing sent is a `HEAD /` to loopback.

use crate::host::Host;
use crate::plan::{Policy, Report, Risk, Runner};
use crate::resources::{self, Disk, Memory};
use crate::size::ByteSize;

pub use crate::finding::{
    Area, Diagnosis, DoctorOptions, Finding, Fix, FixOp, Proof, Severity, Source, Subject,
};
pub use crate::fix::{Applied, Consent};
pub use plan::Candidate;
pub use repair::{FixRun, Repair, fix};

mod init;
pub(crate) mod plan;
mod repair;

/// The human rendering of a [`Diagnosis`] (`hostfix doctor`): the findings by area,
/// each with its mark (`ok`, `info`, `WARN`, `PROBLEM`), evidence and fix, then what
/// could not be seen.
impl std::fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut area = None;
        for finding in &self.findings {
            if area != Some(finding.area) {
                writeln!(f, "{}:", finding.area)?;
                area = Some(finding.area);
            }
            let mark = match finding.severity {
                Severity::Ok => "ok",
                Severity::Info => "info",
                Severity::Warning => "WARN",
                Severity::Problem => "PROBLEM",
            };
            writeln!(f, "  [{mark}] {}", finding.title)?;
            for e in &finding.evidence {
                writeln!(f, "      {e}")?;
            }
            for p in &finding.proofs {
                writeln!(f, "      from {}:", p.from)?;
                for l in &p.lines {
                    writeln!(f, "        | {l}")?;
                }
            }
            if let Some(fix) = &finding.fix {
                writeln!(f, "      fix: {}   (risk: {})", fix.command, fix.risk)?;
            }
        }
        for u in &self.unseen {
            writeln!(f, "not seen: {u}")?;
        }
        Ok(())
    }
}

/// Runs the read-only diagnosis ([`DoctorOptions::default_cap`]).
///
/// Never fails as a whole: what cannot be read is listed in [`Diagnosis::unseen`].
///
/// # Example
///
/// The incident's host: no swap, and 5% of memory available.
///
/// ```
/// use hostfix::doctor::{diagnose, Area, DoctorOptions, Severity};
/// use hostfix::testing::FakeRoot;
/// use hostfix::{Policy, Risk};
///
/// let root = FakeRoot::new();
/// root.meminfo(1 << 30, 50 << 20).no_swap();
/// let (host, _) = root.host();
/// let mut opts = DoctorOptions::default();
/// opts.ports.clear();
/// let report = diagnose(&host, &opts, &Policy::new(opts.default_cap()));
/// assert!(report.is_ok() && !report.changed);
/// let memory = report.result.findings.iter().find(|f| f.area == Area::Memory).unwrap();
/// assert_eq!(memory.severity, Severity::Problem);
/// let fix = memory.fix.as_ref().unwrap();
/// assert_eq!((fix.command.as_str(), fix.risk), ("hostfix swap ensure --size auto", Risk::Additive));
/// ```
pub fn diagnose(host: &Host, opts: &DoctorOptions, policy: &Policy) -> Report<Diagnosis> {
    let policy = Policy {
        max_risk: Risk::ReadOnly,
        ..policy.clone()
    };
    let run = Runner::new("doctor", host, &policy);
    let mut d = Diagnosis::default();
    if !host.is_root() {
        d.unseen("processes of other users (not root): port holders may be missing");
    }
    let mut timings = Timings::default();
    let holders = timings.time("ports", || crate::port::diagnose(host, opts, &mut d));
    let containers = timings.time("containers", || {
        crate::container::diagnose(host, opts, &mut d)
    });
    timings.time("memory", || diagnose_memory(host, &mut d));
    timings.time("swap", || crate::swap::diagnose(host, opts, &mut d));
    timings.time("disks", || diagnose_disks(host, opts, &mut d));
    timings.time("packages", || {
        crate::port::removal::diagnose_dpkg(host, &opts.state_dir, &mut d)
    });
    timings.time("reboot", || crate::reboot::diagnose(host, opts, &mut d));
    timings.time("init", || init::diagnose(host, &mut d));
    // Last: the request follows the ports and containers found, and its logs' proofs
    // join the findings already there.
    let ctx = crate::evidence::Context {
        ports: &opts.ports,
        holders: &holders,
        containers: &containers,
        engine: opts.engine,
    };
    timings.time("evidence", || {
        crate::evidence::diagnose(host, opts, &ctx, &mut d)
    });
    d.fact("timings_ms", &timings.0);
    // Stable: within an area, modules add findings in their own order.
    d.findings.sort_by_key(|f| f.area);
    run.finish(Ok(d))
}

/// Wall time of each pass (ms), in the order they ran.
#[derive(Default)]
struct Timings(serde_json::Map<String, serde_json::Value>);

impl Timings {
    fn time<T>(&mut self, name: &str, f: impl FnOnce() -> T) -> T {
        let t = std::time::Instant::now();
        let out = f();
        let ms = (t.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0;
        self.0.insert(name.to_string(), ms.into());
        out
    }
}

/// Below this share of RAM available, memory is short.
const MEM_SHORT_PERCENT: f64 = 10.0;
/// Below this share, memory is getting tight.
const MEM_TIGHT_PERCENT: f64 = 20.0;

fn diagnose_memory(host: &Host, d: &mut Diagnosis) {
    let m = match resources::read_memory(host) {
        Ok(m) => m,
        Err(e) => {
            d.unseen(format!("memory: {e}"));
            return;
        }
    };
    for f in memory_findings(&m, host.container().as_deref()) {
        d.add(f);
    }
    d.fact("memory", &m);
}

/// The findings for a memory reading (pure). Inside a container (`container` names it) swap
/// is the host's to give, so no swap fix is offered there.
pub(crate) fn memory_findings(m: &Memory, container: Option<&str>) -> Vec<Finding> {
    let pct = m.available_percent();
    let severity = if pct < MEM_SHORT_PERCENT {
        Severity::Problem
    } else if pct < MEM_TIGHT_PERCENT {
        Severity::Warning
    } else {
        Severity::Ok
    };
    let mut out = vec![memory_finding(m, severity, container)];
    out.extend(pressure_finding(m));
    out.extend(swap_use_finding(m, severity, container));
    out
}

/// The swap fix: offered on a host, only explained inside a container.
fn swap_fix(f: Finding, container: Option<&str>) -> Finding {
    match container {
        None => f.fix(
            FixOp::EnsureSwap {
                path: crate::swap::SwapSpec::DEFAULT_PATH.into(),
                size: None,
                persist_systemd: false,
            },
            Risk::Additive,
        ),
        Some(c) => f.evidence(format!(
            "inside a {c} container: swap can only be added on the host that runs it"
        )),
    }
}

/// The swap in use, in words.
fn swap_text(m: &Memory) -> String {
    if m.swap_total == 0 {
        "no swap".to_string()
    } else {
        format!(
            "swap {} used of {}",
            ByteSize(m.swap_used()),
            ByteSize(m.swap_total)
        )
    }
}

/// How much memory is available, with the cgroup limit and the pressure as evidence.
fn memory_finding(m: &Memory, severity: Severity, container: Option<&str>) -> Finding {
    let pct = m.available_percent();
    let avail = format!(
        "available {} of {} ({pct:.0}%){}",
        ByteSize(m.available),
        ByteSize(m.total),
        if m.available_estimated {
            ", estimated: the kernel has no MemAvailable"
        } else {
            ""
        }
    );
    let mut f = if m.swap_total == 0 && severity > Severity::Ok {
        swap_fix(
            Finding::new(
                Area::Memory,
                severity,
                format!("no swap and MemAvailable is {pct:.0}% of RAM"),
            ),
            container,
        )
    } else if severity > Severity::Ok {
        Finding::new(
            Area::Memory,
            severity,
            format!("memory is short: {pct:.0}% available"),
        )
    } else {
        Finding::new(
            Area::Memory,
            Severity::Ok,
            format!("{pct:.0}% of memory available"),
        )
    };
    f = f.evidence(avail).evidence(swap_text(m));
    if let Some(c) = &m.cgroup {
        f = f.evidence(format!(
            "cgroup {} limits memory to {} (working set {})",
            c.cgroup,
            ByteSize(c.max),
            ByteSize(c.current.saturating_sub(c.inactive_file))
        ));
    }
    if let Some(p) = &m.pressure {
        f = f.evidence(format!(
            "pressure: some avg10={:.2}% avg60={:.2}%, full avg10={:.2}%",
            p.some_avg10, p.some_avg60, p.full_avg10
        ));
    }
    f
}

/// Tasks stalling on memory (PSI), when they do.
fn pressure_finding(m: &Memory) -> Option<Finding> {
    let p = m.pressure.as_ref()?;
    (p.some_avg60 >= 10.0 || p.full_avg10 >= 5.0).then(|| {
        Finding::new(
            Area::Memory,
            Severity::Warning,
            "tasks are stalling on memory (PSI)",
        )
        .evidence(format!(
            "some avg60={:.2}%, full avg10={:.2}%",
            p.some_avg60, p.full_avg10
        ))
    })
}

/// How full the swap is; or, with memory fine, that there is none.
fn swap_use_finding(m: &Memory, severity: Severity, container: Option<&str>) -> Option<Finding> {
    if m.swap_total > 0 {
        let used_pct = m.swap_used() as f64 * 100.0 / m.swap_total as f64;
        let sev = if used_pct >= 90.0 {
            Severity::Problem
        } else if used_pct >= 75.0 {
            Severity::Warning
        } else {
            Severity::Ok
        };
        Some(
            Finding::new(Area::Swap, sev, format!("swap {used_pct:.0}% used"))
                .evidence(swap_text(m)),
        )
    } else if severity == Severity::Ok {
        Some(swap_fix(
            Finding::new(Area::Swap, Severity::Info, "no swap")
                .evidence("a memory spike will reach the OOM killer with nothing to fall back on"),
            container,
        ))
    } else {
        None
    }
}

fn diagnose_disks(host: &Host, opts: &DoctorOptions, d: &mut Diagnosis) {
    use std::os::unix::fs::MetadataExt;
    let mut seen_devs = Vec::new();
    let mut disks: Vec<Disk> = Vec::new();
    for p in &opts.disk_paths {
        let real = host.path(p);
        let Ok(meta) = std::fs::metadata(&real) else {
            continue;
        };
        if seen_devs.contains(&meta.dev()) {
            continue;
        }
        seen_devs.push(meta.dev());
        match resources::read_disk(host, p) {
            Ok(disk) => {
                for f in disk_findings(&disk) {
                    d.add(f);
                }
                disks.push(disk);
            }
            Err(e) => d.unseen(format!("disk {}: {e}", p.display())),
        }
    }
    d.fact("disks", &disks);
}

/// The findings for one filesystem (pure).
pub(crate) fn disk_findings(disk: &Disk) -> Vec<Finding> {
    let mut out = Vec::new();
    let pct = disk.free_percent();
    // The absolute floors (256 MiB, 1 GiB) hold for filesystems far larger than them; a
    // small one (Debian 13's /tmp, a tmpfs of half the RAM: 232 MiB on a 512 MiB host) is
    // judged against a quarter and a half of its size instead, so an empty one is not a
    // problem.
    let problem_floor = (256 * ByteSize::MIB).min(disk.total_bytes / 4);
    let warning_floor = ByteSize::GIB.min(disk.total_bytes / 2);
    let sev = if pct < 5.0 || disk.free_bytes < problem_floor {
        Severity::Problem
    } else if pct < 10.0 || disk.free_bytes < warning_floor {
        Severity::Warning
    } else {
        Severity::Ok
    };
    out.push(
        Finding::new(
            Area::Disk,
            sev,
            format!(
                "{}: {} free ({pct:.0}%)",
                disk.path.display(),
                ByteSize(disk.free_bytes)
            ),
        )
        .evidence(format!(
            "{} free of {} for unprivileged users (f_bavail)",
            ByteSize(disk.free_bytes),
            ByteSize(disk.total_bytes)
        )),
    );
    if disk.inodes_total > 0 {
        let ipct = disk.inodes_free_percent();
        let isev = if ipct < 5.0 {
            Severity::Problem
        } else if ipct < 10.0 {
            Severity::Warning
        } else {
            Severity::Ok
        };
        if isev > Severity::Ok {
            out.push(
                Finding::new(
                    Area::Disk,
                    isev,
                    format!("{}: only {ipct:.1}% of inodes free", disk.path.display()),
                )
                .evidence(format!(
                    "{} of {} inodes free (f_favail)",
                    disk.inodes_free, disk.inodes_total
                )),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::memory::{MemInfo, combine};

    #[test]
    fn incident_memory_reads_as_a_problem_with_its_fix() {
        let info = MemInfo::parse(include_str!("../tests/fixtures/meminfo/modern")).unwrap();
        let m = combine(&info, None, None);
        let f = memory_findings(&m, None);
        assert_eq!(f[0].severity, Severity::Problem);
        assert_eq!(f[0].title, "no swap and MemAvailable is 9% of RAM");
        let fix = f[0].fix.as_ref().unwrap();
        assert_eq!(fix.command, "hostfix swap ensure --size auto");
        assert_eq!(fix.risk, Risk::Additive);
        let f = memory_findings(&m, Some("lxc"));
        assert!(f[0].fix.is_none());
        assert!(f[0].evidence.iter().any(|e| e.contains("lxc container")));
    }

    #[test]
    fn healthy_memory_without_swap_is_info() {
        let info =
            MemInfo::parse(include_str!("../tests/fixtures/meminfo/no-memavailable")).unwrap();
        let m = combine(&info, None, None);
        let f = memory_findings(&m, None);
        assert_eq!(f[0].severity, Severity::Ok);
        assert!(f[0].evidence[0].contains("estimated"));
        assert_eq!(f[1].area, Area::Swap);
        assert_eq!(f[1].severity, Severity::Ok);
    }

    #[test]
    fn full_disk_and_inodes() {
        let d = Disk::from_statvfs("/".into(), 4096, 1_000_000, 10_000, 100_000, 1_000);
        let f = disk_findings(&d);
        assert_eq!(f[0].severity, Severity::Problem);
        assert_eq!(f[1].severity, Severity::Problem);
        assert!(f[1].title.contains("inodes"));
        let ok = Disk::from_statvfs("/".into(), 4096, 10_000_000, 5_000_000, 0, 0);
        assert_eq!(disk_findings(&ok).len(), 1);
        assert_eq!(disk_findings(&ok)[0].severity, Severity::Ok);
    }

    #[test]
    fn a_small_empty_filesystem_is_no_problem() {
        // Debian 13's /tmp on the 512 MiB VM guest (tmpfs, half the RAM), as its doctor
        // reported it: "/tmp: 232.2 MiB free (100%)", once judged a problem.
        let tmp = Disk::from_statvfs("/tmp".into(), 4096, 59_443, 59_440, 118_886, 118_880);
        let f = disk_findings(&tmp);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Ok, "{}", f[0].title);
        assert_eq!(f[0].title, "/tmp: 232.2 MiB free (100%)");
        // Filled to a fifth of it: a problem; to 40% free: a warning.
        let full = Disk::from_statvfs("/tmp".into(), 4096, 59_443, 11_000, 0, 0);
        assert_eq!(disk_findings(&full)[0].severity, Severity::Problem);
        let half = Disk::from_statvfs("/tmp".into(), 4096, 59_443, 24_000, 0, 0);
        assert_eq!(disk_findings(&half)[0].severity, Severity::Warning);
        // A large filesystem keeps the absolute floors: 200 MiB free of 100 GiB (0.2%) is
        // a problem, 800 MiB free of 8 GiB (10%) a warning.
        let big = Disk::from_statvfs("/".into(), 4096, 26_214_400, 51_200, 0, 0);
        assert_eq!(disk_findings(&big)[0].severity, Severity::Problem);
        let mid = Disk::from_statvfs("/".into(), 4096, 2_097_152, 204_800, 0, 0);
        assert_eq!(disk_findings(&mid)[0].severity, Severity::Warning);
    }

    #[test]
    fn findings_come_in_request_order() {
        assert!(Area::Request < Area::Ports);
        assert!(Area::Ports < Area::Containers);
        assert!(Area::Containers < Area::Memory);
        assert!(Area::Disk < Area::Reboot);
    }
}
