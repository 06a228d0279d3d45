//! Memory: `/proc/meminfo`, pressure (PSI) and a cgroup v2 limit, combined into what is
//! available (see the module documentation of [`super`]).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::percent;
use crate::error::{Error, Result};
use crate::host::Host;

/// The fields of `/proc/meminfo` hostfix uses, in bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MemInfo {
    /// `MemTotal`.
    pub mem_total: u64,
    /// `MemFree`.
    pub mem_free: u64,
    /// `MemAvailable`, when the kernel reports it (3.14 and later).
    pub mem_available: Option<u64>,
    /// `Buffers`.
    pub buffers: u64,
    /// `Cached`.
    pub cached: u64,
    /// `SReclaimable`.
    pub sreclaimable: u64,
    /// `Shmem`.
    pub shmem: u64,
    /// `SwapTotal`.
    pub swap_total: u64,
    /// `SwapFree`.
    pub swap_free: u64,
}

impl MemInfo {
    /// Parses the text of `/proc/meminfo`.
    ///
    /// # Errors
    /// [`Error::Parse`] when `MemTotal` or `MemFree` is missing or a value is not a number.
    pub fn parse(text: &str) -> Result<MemInfo> {
        let mut m = MemInfo::default();
        let mut seen_total = false;
        let mut seen_free = false;
        for (n, line) in text.lines().enumerate() {
            let Some((key, rest)) = line.split_once(':') else {
                continue;
            };
            let mut parts = rest.split_whitespace();
            let Some(value) = parts.next() else { continue };
            let bad = |why: &str| {
                Error::parse(
                    format!("/proc/meminfo line {}", n + 1),
                    format!("{key}: {value:?} {why}"),
                )
            };
            let number: u64 = value.parse().map_err(|_| bad("is not a number"))?;
            let bytes = match parts.next() {
                Some("kB") => number
                    .checked_mul(1024)
                    .ok_or_else(|| bad("kB is more than 2^64 bytes"))?,
                _ => number,
            };
            match key.trim() {
                "MemTotal" => {
                    m.mem_total = bytes;
                    seen_total = true;
                }
                "MemFree" => {
                    m.mem_free = bytes;
                    seen_free = true;
                }
                "MemAvailable" => m.mem_available = Some(bytes),
                "Buffers" => m.buffers = bytes,
                "Cached" => m.cached = bytes,
                "SReclaimable" => m.sreclaimable = bytes,
                "Shmem" => m.shmem = bytes,
                "SwapTotal" => m.swap_total = bytes,
                "SwapFree" => m.swap_free = bytes,
                _ => {}
            }
        }
        if !seen_total || !seen_free {
            return Err(Error::parse(
                "/proc/meminfo",
                "MemTotal or MemFree is missing",
            ));
        }
        Ok(m)
    }

    /// `MemAvailable`, or on kernels without it an estimate: free memory plus the page
    /// cache and reclaimable slab that can be dropped (shared memory cannot), never above
    /// `MemTotal`. The bool says whether it is an estimate.
    pub fn available(&self) -> (u64, bool) {
        match self.mem_available {
            Some(a) => (a, false),
            None => {
                let est = [self.buffers, self.cached, self.sreclaimable]
                    .iter()
                    .fold(self.mem_free, |sum, v| sum.saturating_add(*v))
                    .saturating_sub(self.shmem)
                    .min(self.mem_total);
                (est, true)
            }
        }
    }
}

/// Pressure stall information for one resource (`/proc/pressure/memory`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Pressure {
    /// Share of time some task stalled, averaged over 10 s (percent).
    pub some_avg10: f64,
    /// ... over 60 s.
    pub some_avg60: f64,
    /// ... over 300 s.
    pub some_avg300: f64,
    /// Share of time all tasks stalled, averaged over 10 s (percent).
    pub full_avg10: f64,
}

impl Pressure {
    /// Parses the text of a `/proc/pressure/*` file.
    ///
    /// # Errors
    /// [`Error::Parse`] when the `some` line is missing or malformed.
    pub fn parse(text: &str) -> Result<Pressure> {
        let mut p = Pressure::default();
        let mut seen = false;
        for line in text.lines() {
            let mut words = line.split_whitespace();
            let kind = words.next();
            for w in words {
                let Some((k, v)) = w.split_once('=') else {
                    continue;
                };
                // A share of time: a finite number, not negative (NaN would compare false
                // against every threshold and hide the pressure).
                let v: f64 = match k {
                    "avg10" | "avg60" | "avg300" => v
                        .parse()
                        .ok()
                        .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                        .ok_or_else(|| Error::parse("pressure", format!("{w:?}")))?,
                    _ => continue,
                };
                match (kind, k) {
                    (Some("some"), "avg10") => {
                        p.some_avg10 = v;
                        seen = true;
                    }
                    (Some("some"), "avg60") => p.some_avg60 = v,
                    (Some("some"), "avg300") => p.some_avg300 = v,
                    (Some("full"), "avg10") => p.full_avg10 = v,
                    _ => {}
                }
            }
        }
        if !seen {
            return Err(Error::parse("pressure", "no \"some avg10=\" field"));
        }
        Ok(p)
    }
}

/// A cgroup v2 memory limit that applies to hostfix's own cgroup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CgroupMemory {
    /// The cgroup (as in `/proc/self/cgroup`) whose limit is the tightest.
    pub cgroup: String,
    /// Its `memory.max`.
    pub max: u64,
    /// Its `memory.current`.
    pub current: u64,
    /// `inactive_file` from its `memory.stat` (page cache that can be reclaimed).
    pub inactive_file: u64,
}

impl CgroupMemory {
    /// What can still be used under the limit: `max - (current - inactive_file)`.
    pub fn available(&self) -> u64 {
        self.max
            .saturating_sub(self.current.saturating_sub(self.inactive_file))
    }
}

pub use crate::process::parse_cgroup_v2_path;

/// A `memory.max` value: a number of bytes, or `None` for `max` (no limit).
pub fn parse_memory_max(text: &str) -> Option<u64> {
    match text.trim() {
        "max" => None,
        v => v.parse().ok(),
    }
}

/// The `inactive_file` field of a `memory.stat` file.
pub fn parse_inactive_file(text: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix("inactive_file "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Memory as hostfix sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Memory {
    /// RAM, or the cgroup limit when it is lower (bytes).
    pub total: u64,
    /// Memory that can be had without swapping: `MemAvailable`, or the cgroup's headroom
    /// when that is lower (bytes).
    pub available: u64,
    /// Whether `available` is an estimate (the kernel has no `MemAvailable`).
    pub available_estimated: bool,
    /// `MemTotal` (bytes).
    pub mem_total: u64,
    /// `MemAvailable` or its estimate (bytes).
    pub mem_available: u64,
    /// `SwapTotal` (bytes).
    pub swap_total: u64,
    /// `SwapFree` (bytes).
    pub swap_free: u64,
    /// Memory pressure, when the kernel has PSI.
    pub pressure: Option<Pressure>,
    /// The cgroup v2 limit that applies, when there is one below RAM.
    pub cgroup: Option<CgroupMemory>,
}

impl Memory {
    /// `available` as a percentage of `total`.
    pub fn available_percent(&self) -> f64 {
        percent(self.available, self.total)
    }

    /// Swap in use (bytes).
    pub fn swap_used(&self) -> u64 {
        self.swap_total.saturating_sub(self.swap_free)
    }
}

/// Reads memory from the host's `/proc` and `/sys/fs/cgroup`.
///
/// # Errors
/// [`Error::Io`] or [`Error::Parse`] when `/proc/meminfo` cannot be read or parsed; missing
/// pressure and cgroup files are not errors.
pub fn read_memory(host: &Host) -> Result<Memory> {
    let info = MemInfo::parse(&host.read("/proc/meminfo")?)?;
    let pressure = match host.read_opt("/proc/pressure/memory") {
        Ok(Some(t)) => Pressure::parse(&t).ok(),
        // PSI off (`psi=0`) makes the file unreadable with EOPNOTSUPP: no pressure then.
        Ok(None) | Err(_) => None,
    };
    let cgroup = read_cgroup_limit(host);
    Ok(combine(&info, pressure, cgroup))
}

/// Combines the readings into [`Memory`] (pure, for tests).
pub fn combine(info: &MemInfo, pressure: Option<Pressure>, cgroup: Option<CgroupMemory>) -> Memory {
    let (mem_available, estimated) = info.available();
    let cgroup = cgroup.filter(|c| c.max < info.mem_total);
    let (total, available) = match &cgroup {
        Some(c) => (c.max, c.available().min(mem_available)),
        None => (info.mem_total, mem_available),
    };
    Memory {
        total,
        available,
        available_estimated: estimated,
        mem_total: info.mem_total,
        mem_available,
        swap_total: info.swap_total,
        swap_free: info.swap_free,
        pressure,
        cgroup,
    }
}

/// The tightest cgroup v2 memory limit on the path from hostfix's cgroup to the root.
fn read_cgroup_limit(host: &Host) -> Option<CgroupMemory> {
    let own = parse_cgroup_v2_path(&host.read_opt("/proc/self/cgroup").ok()??)?;
    let mut best: Option<CgroupMemory> = None;
    let mut level = PathBuf::from(&own);
    loop {
        let dir = Path::new("/sys/fs/cgroup").join(level.strip_prefix("/").unwrap_or(&level));
        let max = host
            .read_opt(dir.join("memory.max"))
            .ok()
            .flatten()
            .and_then(|t| parse_memory_max(&t));
        if let Some(max) = max {
            let current = host
                .read_opt(dir.join("memory.current"))
                .ok()
                .flatten()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0);
            let inactive_file = host
                .read_opt(dir.join("memory.stat"))
                .ok()
                .flatten()
                .map_or(0, |t| parse_inactive_file(&t));
            let c = CgroupMemory {
                cgroup: level.display().to_string(),
                max,
                current,
                inactive_file,
            };
            if best.as_ref().is_none_or(|b| c.available() < b.available()) {
                best = Some(c);
            }
        }
        if !level.pop() {
            break;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODERN: &str = include_str!("../../tests/fixtures/meminfo/modern");
    const OLD: &str = include_str!("../../tests/fixtures/meminfo/no-memavailable");

    #[test]
    fn modern_meminfo() {
        let m = MemInfo::parse(MODERN).unwrap();
        assert_eq!(m.mem_total, 1_001_520 * 1024);
        assert_eq!(m.mem_available, Some(94_112 * 1024));
        assert_eq!(m.swap_total, 0);
        assert_eq!(m.available(), (94_112 * 1024, false));
    }

    #[test]
    fn old_kernel_estimates_available() {
        let m = MemInfo::parse(OLD).unwrap();
        assert_eq!(m.mem_available, None);
        let (a, est) = m.available();
        assert!(est);
        // MemFree + Buffers + Cached + SReclaimable - Shmem
        assert_eq!(a, (120_000 + 20_000 + 300_000 + 10_000 - 5_000) * 1024);
    }

    #[test]
    fn meminfo_errors() {
        assert!(MemInfo::parse("").is_err());
        assert!(MemInfo::parse("MemTotal: x kB\nMemFree: 1 kB\n").is_err());
    }

    #[test]
    fn pressure_parses() {
        let p = Pressure::parse(
            "some avg10=1.50 avg60=0.20 avg300=0.00 total=123\nfull avg10=0.75 avg60=0.00 avg300=0.00 total=5\n",
        )
        .unwrap();
        assert_eq!(p.some_avg10, 1.5);
        assert_eq!(p.full_avg10, 0.75);
        assert!(Pressure::parse("garbage").is_err());
    }

    #[test]
    fn cgroup_limit_is_the_ceiling() {
        let info = MemInfo::parse(MODERN).unwrap();
        let c = CgroupMemory {
            cgroup: "/docker/abc".into(),
            max: 256 << 20,
            current: 200 << 20,
            inactive_file: 50 << 20,
        };
        let m = combine(&info, None, Some(c));
        assert_eq!(m.total, 256 << 20);
        assert_eq!(
            m.available,
            94_112 * 1024u64,
            "host MemAvailable is the tighter bound here"
        );
        // A limit above RAM does not apply.
        let big = CgroupMemory {
            cgroup: "/".into(),
            max: u64::MAX / 2,
            current: 0,
            inactive_file: 0,
        };
        assert!(combine(&info, None, Some(big)).cgroup.is_none());
        assert_eq!(
            parse_cgroup_v2_path("0::/user.slice/x.scope\n"),
            Some("/user.slice/x.scope".into())
        );
        assert_eq!(parse_cgroup_v2_path("12:memory:/x\n"), None);
        assert_eq!(parse_memory_max("max\n"), None);
        assert_eq!(parse_memory_max("268435456\n"), Some(268435456));
        assert_eq!(parse_inactive_file("anon 5\ninactive_file 77\n"), 77);
    }

    #[test]
    fn container_fixture_root() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/roots/container");
        let host = Host::fake(&root);
        let m = read_memory(&host).unwrap();
        let c = m.cgroup.clone().expect("limit found");
        assert_eq!(c.cgroup, "/");
        assert_eq!(m.total, 536_870_912);
        assert_eq!(m.available, 536_870_912 - (400_000_000 - 100_000_000));
        assert!(m.pressure.is_some());
    }
}
