//! A container's processes as the kernel sees them, whatever the engine says: the
//! processes whose cgroup holds the container's id, its containerd shim (found by
//! `-id <full id>` on its command line), and whether signals can reach them at all
//! (uninterruptible sleep, frozen cgroup).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::host::Host;
use crate::port::cgroup::Cgroup2;
use crate::process;

/// A process that belongs to a container (its cgroup holds the container's id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ContainerProcess {
    /// Host pid.
    pub pid: i32,
    /// Command name.
    pub comm: String,
    /// State letter from `/proc/PID/stat` (`D` = uninterruptible sleep).
    pub state: char,
    /// Start time (clock ticks since boot), to signal exactly this process.
    pub start_time: u64,
    /// The cgroup v2 path (or the `name=systemd` path on cgroup v1).
    pub cgroup: String,
    /// The cgroup v1 `freezer` hierarchy path, when the host has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freezer_v1: Option<String>,
}

/// The process that monitors a container for its engine: a containerd shim (Docker), or
/// `conmon` (Podman).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Shim {
    /// Host pid.
    pub pid: i32,
    /// Command name (`containerd-shim`, truncated by the kernel to 15 bytes; `conmon`).
    pub comm: String,
    /// State letter (`T` when stopped, as in the incident's reproduction).
    pub state: char,
    /// Start time, to signal exactly this process.
    pub start_time: u64,
    /// The container id from its `-id` argument (conmon: `-c`).
    pub container_id: String,
}

/// Every container process and shim on the host, by container id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProcTable {
    /// Processes whose cgroup holds a container id, by that id.
    pub processes: BTreeMap<String, Vec<ContainerProcess>>,
    /// Shims, by the id they serve.
    pub shims: BTreeMap<String, Vec<Shim>>,
}

impl ProcTable {
    /// The processes of one container.
    pub fn processes_of(&self, id: &str) -> Vec<ContainerProcess> {
        self.processes.get(id).cloned().unwrap_or_default()
    }

    /// The shims of one container.
    pub fn shims_of(&self, id: &str) -> Vec<Shim> {
        self.shims.get(id).cloned().unwrap_or_default()
    }

    /// Every container id that has processes or a shim.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .processes
            .keys()
            .chain(self.shims.keys())
            .cloned()
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

/// The container id a shim serves, from its command line: `-id <id>` (also `--id`,
/// `-id=<id>`), or the last component of a v1 shim's `-workdir`. Only a full id counts:
/// any user can start a process named `containerd-shim`, and the id goes to the
/// engine's commands and names the container's record file.
pub fn shim_container_id(cmdline: &[String]) -> Option<String> {
    let full = |id: String| Some(id).filter(|id| crate::engine::is_full_id(id));
    let prog = cmdline.first()?;
    let base = prog.rsplit('/').next().unwrap_or(prog);
    if !base.starts_with("containerd-shim") {
        return None;
    }
    let mut it = cmdline.iter().skip(1);
    let mut workdir = None;
    while let Some(a) = it.next() {
        let flag = a.trim_start_matches('-');
        if a.starts_with('-') && (flag == "id" || flag == "workdir") {
            let v = it.next()?;
            if flag == "id" {
                return full(v.clone());
            }
            workdir = Some(v.clone());
        } else if let Some(v) = flag.strip_prefix("id=").filter(|_| a.starts_with('-')) {
            return full(v.to_string());
        } else if let Some(v) = flag.strip_prefix("workdir=").filter(|_| a.starts_with('-')) {
            workdir = Some(v.to_string());
        }
    }
    workdir
        .and_then(|w| {
            w.trim_end_matches('/')
                .rsplit('/')
                .next()
                .map(str::to_string)
        })
        .filter(|id| crate::engine::is_full_id(id))
}

/// The cgroup v1 `freezer` path from `/proc/PID/cgroup` (`4:freezer:/docker/<id>`).
pub fn parse_freezer_v1(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let _num = parts.next()?;
        let ctrls = parts.next()?;
        let path = parts.next()?;
        ctrls
            .split(',')
            .any(|c| c == "freezer")
            .then(|| path.trim().to_string())
    })
}

/// Reads every process and shim of every container from the host's `/proc`.
///
/// Processes that vanish mid-scan are skipped.
pub fn scan(host: &Host) -> ProcTable {
    scan_pids(host, process::pids(host))
}

/// As [`scan`], reading only the processes that can be a container's or a shim on a
/// cgroup v2 host ([`candidates`]): the way `port who` reads only the processes of a
/// socket's cgroup. Every process where the tree does not say (cgroup v1 or hybrid, not
/// the live host, a tree too large).
pub fn scan_by_cgroup(host: &Host) -> ProcTable {
    let cg = Cgroup2::open(host).filter(|c| !c.hybrid());
    match cg.as_ref().and_then(|c| candidates(host, c)) {
        Some(pids) => scan_pids(host, pids),
        None => scan(host),
    }
}

/// Whether a cgroup path can hold a container's processes or its engine's shims: a
/// container's own cgroup (its id in the path), or an engine's (`containerd`,
/// `docker`, `libpod`, `crio`, `kubepods`).
fn engine_or_container(path: &str) -> bool {
    process::container_id_from_cgroup(path).is_some()
        || ["containerd", "docker", "libpod", "crio", "kubepods"]
            .iter()
            .any(|e| path.contains(e))
}

/// The pids [`scan`] would record on a cgroup v2 host: the processes of container
/// cgroups, of the engines' cgroups and of the root cgroup (where an engine without a
/// cgroup of its own runs its shims), and the parents of container processes (a shim
/// started elsewhere). `None` when the tree cannot be read whole.
pub fn candidates(host: &Host, cg: &Cgroup2) -> Option<Vec<i32>> {
    let groups = match cg.procs_where(engine_or_container) {
        Ok(g) => g,
        Err(e) => {
            log::info!("container: reading the cgroup tree: {e}; reading every process");
            return None;
        }
    };
    let mut pids = Vec::new();
    for (path, procs) in groups {
        if process::container_id_from_cgroup(&path).is_some() {
            pids.extend(
                procs
                    .iter()
                    .filter_map(|p| process::stat(host, *p))
                    .map(|s| s.ppid),
            );
        }
        pids.extend(procs);
    }
    pids.retain(|p| *p > 0);
    pids.sort_unstable();
    pids.dedup();
    Some(pids)
}

/// As [`scan`], among `pids` only.
pub fn scan_pids(host: &Host, pids: Vec<i32>) -> ProcTable {
    let mut t = ProcTable::default();
    for pid in pids {
        let Some(stat) = process::stat(host, pid) else {
            continue;
        };
        if stat.is_kernel_thread() {
            continue;
        }
        if stat.comm.starts_with("containerd-shim") || stat.comm == "conmon" {
            let cmdline = process::cmdline(host, pid).unwrap_or_default();
            let id = shim_container_id(&cmdline)
                .or_else(|| crate::engine::conmon_container_id(&cmdline));
            if let Some(id) = id {
                t.shims.entry(id.clone()).or_default().push(Shim {
                    pid,
                    comm: stat.comm.clone(),
                    state: stat.state,
                    start_time: stat.start_time,
                    container_id: id,
                });
                // A shim lives in the engine's cgroup, not the container's (conmon in
                // `libpod-conmon-<id>.scope`, which names the id too: never a container
                // process).
                continue;
            }
        }
        let Some(cg_text) = process::proc_text(host, pid, "cgroup") else {
            continue;
        };
        let Some(cgroup) = process::parse_cgroup(&cg_text) else {
            continue;
        };
        let freezer_v1 = parse_freezer_v1(&cg_text);
        let id = process::container_id_from_cgroup(&cgroup).or_else(|| {
            freezer_v1
                .as_deref()
                .and_then(process::container_id_from_cgroup)
        });
        if let Some(id) = id {
            t.processes.entry(id).or_default().push(ContainerProcess {
                pid,
                comm: stat.comm,
                state: stat.state,
                start_time: stat.start_time,
                cgroup,
                freezer_v1,
            });
        }
    }
    t
}

/// Why signals cannot end a container's processes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Futility {
    /// Processes stayed in uninterruptible sleep (`D`) in every sample: they take no
    /// signal, SIGKILL included, until their I/O returns.
    Uninterruptible {
        /// The stuck processes, as `pid (comm)`.
        processes: Vec<String>,
        /// How many samples saw them in `D`.
        samples: u32,
        /// Over how long.
        over_ms: u64,
    },
    /// The container's cgroup is frozen, and the engine does not say it paused it.
    Frozen {
        /// The frozen cgroup.
        cgroup: String,
        /// What said so (`cgroup.events`, `cgroup.freeze`, `freezer.state`).
        evidence: String,
        /// 1 or 2: on cgroup v2 a fatal signal still ends frozen tasks, on v1 it does
        /// not until the cgroup is thawed.
        cgroup_version: u8,
    },
}

impl Futility {
    /// The reason, in words, for a skipped step.
    pub fn why(&self) -> String {
        match self {
            Futility::Uninterruptible {
                processes,
                samples,
                over_ms,
            } => format!(
                "{} in uninterruptible sleep (D) in all {samples} samples over {:.1}s: \
                 it takes no signal, SIGKILL included, until its I/O returns",
                processes.join(", "),
                *over_ms as f64 / 1000.0
            ),
            Futility::Frozen {
                cgroup,
                evidence,
                cgroup_version,
            } => format!(
                "cgroup {cgroup} is frozen ({evidence}) and the engine did not pause it: \
                 its processes cannot handle SIGTERM{}",
                if *cgroup_version == 1 {
                    ", and on cgroup v1 not even SIGKILL ends them until it is thawed"
                } else {
                    ""
                }
            ),
        }
    }
}

/// Whether a cgroup v2 `cgroup.events` file says `frozen 1`.
pub fn parse_events_frozen(text: &str) -> bool {
    text.lines()
        .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["frozen", "1"])
}

/// Whether a cgroup v2 `cgroup.freeze` file holds `1`.
pub fn parse_freeze(text: &str) -> bool {
    text.trim() == "1"
}

/// Whether a cgroup v1 `freezer.state` file says `FROZEN` or `FREEZING`.
pub fn parse_freezer_state(text: &str) -> bool {
    matches!(text.trim(), "FROZEN" | "FREEZING")
}

/// The frozen cgroup of a container's processes, if any.
pub fn frozen(host: &Host, procs: &[ContainerProcess]) -> Option<Futility> {
    let mut seen: Vec<&str> = Vec::new();
    for p in procs {
        if !seen.contains(&p.cgroup.as_str()) {
            seen.push(&p.cgroup);
            // The v2 hierarchy is at /sys/fs/cgroup, or at /sys/fs/cgroup/unified on a
            // hybrid host.
            for mount in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
                let base = format!("{mount}{}", p.cgroup.trim_end_matches('/'));
                // cgroup.events reports the effective state, including a frozen ancestor.
                let events = host
                    .read_opt(format!("{base}/cgroup.events"))
                    .ok()
                    .flatten();
                let freeze = host
                    .read_opt(format!("{base}/cgroup.freeze"))
                    .ok()
                    .flatten();
                let evidence = if events.as_deref().is_some_and(parse_events_frozen) {
                    "cgroup.events: frozen 1"
                } else if freeze.as_deref().is_some_and(parse_freeze) {
                    "cgroup.freeze = 1"
                } else if events.is_some() || freeze.is_some() {
                    // This hierarchy has the cgroup and it is not frozen.
                    break;
                } else {
                    continue;
                };
                return Some(Futility::Frozen {
                    cgroup: p.cgroup.clone(),
                    evidence: evidence.into(),
                    cgroup_version: 2,
                });
            }
        }
        if let Some(f) = &p.freezer_v1 {
            let path = format!("/sys/fs/cgroup/freezer{f}/freezer.state");
            if let Ok(Some(state)) = host.read_opt(&path) {
                if parse_freezer_state(&state) {
                    return Some(Futility::Frozen {
                        cgroup: f.clone(),
                        evidence: format!("freezer.state = {}", state.trim()),
                        cgroup_version: 1,
                    });
                }
            }
        }
    }
    None
}

/// How many times, and how far apart, processes are sampled before `D` counts as stuck.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Sampling {
    /// Samples taken (the first is the scan itself). Default 3.
    pub samples: u32,
    /// Time between samples. Default 300 ms.
    #[serde(deserialize_with = "crate::de::duration")]
    pub interval: Duration,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            samples: 3,
            interval: Duration::from_millis(300),
        }
    }
}

/// The processes that stay in `D` through every sample. A single `D` reading is normal
/// (a process waiting for a disk read); `D` in every sample is a stuck process.
pub fn persistently_uninterruptible(
    host: &Host,
    procs: &[ContainerProcess],
    sampling: Sampling,
) -> Option<Futility> {
    let mut stuck: Vec<&ContainerProcess> = procs.iter().filter(|p| p.state == 'D').collect();
    if stuck.is_empty() {
        return None;
    }
    for _ in 1..sampling.samples {
        host.system().sleep(sampling.interval);
        stuck.retain(|p| {
            process::stat(host, p.pid)
                .is_some_and(|s| s.state == 'D' && s.start_time == p.start_time)
        });
        if stuck.is_empty() {
            return None;
        }
    }
    let over = sampling
        .interval
        .saturating_mul(sampling.samples.saturating_sub(1));
    Some(Futility::Uninterruptible {
        processes: stuck
            .iter()
            .map(|p| format!("pid {} ({})", p.pid, p.comm))
            .collect(),
        samples: sampling.samples.max(1),
        over_ms: u64::try_from(over.as_millis()).unwrap_or(u64::MAX),
    })
}

/// Why signal rungs cannot work on these processes, if they cannot: a frozen cgroup
/// (unless `engine_paused`: then `docker unpause` thaws it), else persistent `D`.
pub fn futility(
    host: &Host,
    procs: &[ContainerProcess],
    engine_paused: bool,
    sampling: Sampling,
) -> Option<Futility> {
    if !engine_paused {
        if let Some(f) = frozen(host, procs) {
            return Some(f);
        }
    }
    persistently_uninterruptible(host, procs, sampling)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn shim_ids() {
        let id = "a".repeat(64);
        assert_eq!(
            shim_container_id(&v(&[
                "/usr/bin/containerd-shim-runc-v2",
                "-namespace",
                "moby",
                "-id",
                &id,
                "-address",
                "/run/containerd/containerd.sock"
            ])),
            Some(id.clone())
        );
        assert_eq!(
            shim_container_id(&v(&["containerd-shim-runc-v2", &format!("--id={id}")])),
            Some(id.clone())
        );
        let wd = format!("/var/lib/containerd/io.containerd.runtime.v1.linux/moby/{id}");
        assert_eq!(
            shim_container_id(&v(&[
                "containerd-shim",
                "-namespace",
                "moby",
                "-workdir",
                &wd
            ])),
            Some(id.clone())
        );
        assert_eq!(
            shim_container_id(&v(&["/usr/bin/containerd", "-id", &id])),
            None
        );
        assert_eq!(
            shim_container_id(&v(&["containerd-shim-runc-v2", "-id"])),
            None
        );
    }

    #[test]
    fn freezer_lines() {
        assert_eq!(
            parse_freezer_v1("12:pids:/x\n7:freezer:/docker/abc\n1:name=systemd:/y\n"),
            Some("/docker/abc".into())
        );
        assert_eq!(parse_freezer_v1("0::/system.slice/x.service\n"), None);
        assert!(parse_events_frozen("populated 1\nfrozen 1\n"));
        assert!(!parse_events_frozen("populated 1\nfrozen 0\n"));
        assert!(parse_freeze("1\n"));
        assert!(!parse_freeze("0\n"));
        assert!(parse_freezer_state("FROZEN\n"));
        assert!(!parse_freezer_state("THAWED\n"));
    }
}
