//! Socket inode → processes: which processes hold the sockets of a port.
//!
//! The cost of finding a port's owners is one `readlink` per open file of every process
//! looked at, so the lookup looks at as few as it can:
//!
//! 1. **The sockets' cgroups.** sock_diag names the cgroup v2 each socket was made in
//!    ([`super::cgroup`]); on a systemd host that is the service's or the container's
//!    own cgroup, and its `cgroup.procs` lists the few processes to read. No walk over
//!    `/proc` is needed when they hold every socket, whatever the size of the process
//!    table.
//! 2. **The walk**, for what step 1 did not find (no cgroup id: `/proc/net`, cgroup v1
//!    only, a kernel before 5.7; a socket passed to a process of another cgroup, or whose
//!    creator exited): every pid in `/proc`, on up to four threads in ascending pid order,
//!    stopping as soon as every wanted socket has been seen.
//! 3. **Relatives.** After either, the owners of an inherited socket are completed by
//!    checking the holders' relatives only: their parent chain while it holds the
//!    socket, every descendant of the topmost holder (`/proc/PID/task/TID/children`) and
//!    the other processes of a service's cgroup.
//!
//! Both ways give the same owners: each finds at least one holder of every socket, and
//! the owners of one socket are completed from there by the same rule (step 3). A
//! holder neither related to another holder nor in the socket's cgroup (a socket sent
//! over a unix socket to an unrelated process while its sender keeps it) is found only
//! by an exhaustive lookup (`exhaustive: true`), which reads every process and skips
//! steps 1 and 3.
//!
//! Per process the walk opens `/proc/PID/fd` and reads the links relative to that
//! directory into a stack buffer, and nothing else (no `stat`, no `cmdline`: a miss
//! needs none). Processes that exit mid-walk are counted as vanished and skipped; those
//! whose fds cannot be read (another user's, when not root) are counted as denied.

use std::collections::{BTreeMap, HashSet};
use std::os::fd::OwnedFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use serde::Serialize;

#[cfg(test)]
pub(crate) use super::fds::dirent_names;
#[cfg_attr(not(any(test, feature = "testing")), allow(unused_imports))]
// proptests, hostfix::testing
pub use super::fds::socket_inode;
pub(crate) use super::fds::{Probe, probe};

pub use super::cglook::CgroupLook;
use super::cglook::{by_cgroup, judge, read_cgroups};
use super::cgroup::Cgroup2;
use super::relatives::complete_relatives;
use super::table::Listener;
use crate::host::Host;
use crate::process;

/// Which way the holders of a port's sockets were found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScanPath {
    /// There was no socket to look for.
    #[default]
    None,
    /// Through the sockets' cgroups alone: no walk over `/proc`.
    Cgroup,
    /// The walk over every process.
    Walk,
    /// Some sockets through their cgroups, the rest by the walk.
    CgroupAndWalk,
}

impl ScanPath {
    /// `cgroup`, `walk`, `cgroup-and-walk`, `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScanPath::None => "none",
            ScanPath::Cgroup => "cgroup",
            ScanPath::Walk => "walk",
            ScanPath::CgroupAndWalk => "cgroup-and-walk",
        }
    }
}

/// How the lookup went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ScanStats {
    /// Processes whose open files were read.
    pub processes: usize,
    /// Processes whose open files could not be read (permission denied).
    pub denied: usize,
    /// Processes that exited while the walk ran.
    pub vanished: usize,
    /// Whether the lookup ended before reading every process because every wanted
    /// socket was found (through the cgroups, or by a walk that stopped early).
    pub stopped_early: bool,
    /// Relatives of the holders checked after an early stop.
    pub relatives_checked: usize,
    /// Threads that walked.
    pub threads: usize,
    /// Which way the holders were found: `cgroup`, `walk` or `cgroup-and-walk`.
    pub path: ScanPath,
    /// The sockets' cgroups, as read.
    pub cgroups: Vec<CgroupLook>,
    /// Why the walk over every process ran, when it did.
    pub walk_reasons: Vec<String>,
}

/// How to look for the holders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanOptions {
    /// Read every process (no cgroup shortcut, no early stop, no relatives step).
    pub exhaustive: bool,
    /// Look among the processes of the sockets' cgroups first (live host only).
    pub cgroups: bool,
}

/// What the walk found: each holding process and the wanted inodes it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FdScan {
    /// pid → the wanted socket inodes among its open files.
    pub holders: BTreeMap<i32, Vec<u64>>,
    /// How the walk went.
    pub stats: ScanStats,
}

/// Every pid in `/proc`, ascending (the order the kernel lists them; a fake root's
/// directory may list them in another).
fn list_pids(host: &Host) -> Vec<i32> {
    let mut v = process::pids(host);
    v.sort_unstable();
    v
}

#[derive(Default)]
struct Local {
    holders: Vec<(i32, Vec<u64>)>,
    checked: Vec<i32>,
    processes: usize,
    denied: usize,
    vanished: usize,
}

impl Local {
    fn count(&mut self, pid: i32, p: Probe) -> Option<Vec<u64>> {
        self.checked.push(pid);
        match p {
            Probe::Holds(v) => {
                self.processes += 1;
                self.holders.push((pid, v.clone()));
                Some(v)
            }
            Probe::Miss => {
                self.processes += 1;
                None
            }
            Probe::Denied => {
                self.denied += 1;
                None
            }
            Probe::Vanished => {
                self.vanished += 1;
                None
            }
        }
    }
}

/// The state of one lookup: `/proc`, what was found and what was read.
pub(crate) struct Lookup<'a> {
    pub(crate) proc_fd: OwnedFd,
    pub(crate) wanted: &'a [u64],
    /// Wanted inodes seen held so far.
    found: Vec<u64>,
    pub(crate) checked: HashSet<i32>,
    pub(crate) out: FdScan,
}

impl<'a> Lookup<'a> {
    fn new(host: &Host, wanted: &'a [u64]) -> Option<Lookup<'a>> {
        let proc_path = host.path("/proc");
        match nix::fcntl::open(
            &proc_path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(proc_fd) => Some(Lookup {
                proc_fd,
                wanted,
                found: Vec::new(),
                checked: HashSet::new(),
                out: FdScan::default(),
            }),
            Err(e) => {
                log::warn!("port: cannot open {}: {e}", proc_path.display());
                None
            }
        }
    }

    fn missing(&self) -> Vec<u64> {
        self.wanted
            .iter()
            .copied()
            .filter(|i| !self.found.contains(i))
            .collect()
    }

    /// Reads the open files of `pids` (those not read yet) on up to four threads in the
    /// order given; unless `exhaustive`, stops once every wanted inode has been seen.
    fn walk(&mut self, pids: &[i32], exhaustive: bool) {
        let pids: Vec<i32> = pids
            .iter()
            .copied()
            .filter(|p| !self.checked.contains(p))
            .collect();
        if pids.is_empty() || (!exhaustive && self.found.len() >= self.wanted.len()) {
            return;
        }
        let threads = if pids.len() < 256 {
            1
        } else {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .clamp(1, 4)
        };
        const CHUNK: usize = 8;
        let next = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let found = Mutex::new(std::mem::take(&mut self.found));
        let (proc_fd, wanted) = (&self.proc_fd, self.wanted);
        let walk = || {
            let mut local = Local::default();
            let mut path = Vec::with_capacity(24);
            while !stop.load(Ordering::Relaxed) {
                let start = next.fetch_add(CHUNK, Ordering::Relaxed);
                if start >= pids.len() {
                    break;
                }
                for &pid in &pids[start..(start + CHUNK).min(pids.len())] {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let probe = probe(proc_fd, pid, wanted, &mut path);
                    let Some(inodes) = local.count(pid, probe) else {
                        continue;
                    };
                    let mut f = found
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    for i in inodes {
                        if !f.contains(&i) {
                            f.push(i);
                        }
                    }
                    if !exhaustive && f.len() >= wanted.len() {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            }
            local
        };
        let locals: Vec<Local> = if threads == 1 {
            vec![walk()]
        } else {
            std::thread::scope(|s| {
                // This thread walks too.
                let handles: Vec<_> = (1..threads).map(|_| s.spawn(walk)).collect();
                let mut v = vec![walk()];
                v.extend(handles.into_iter().filter_map(|h| h.join().ok()));
                v
            })
        };
        self.found = found
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let st = &mut self.out.stats;
        st.threads = st.threads.max(threads);
        for l in locals {
            st.processes += l.processes;
            st.denied += l.denied;
            st.vanished += l.vanished;
            self.checked.extend(l.checked);
            for (pid, inodes) in l.holders {
                self.out.holders.insert(pid, inodes);
            }
        }
    }
}

/// Finds the processes holding the `wanted` socket inodes by the walk over `/proc`
/// alone (no cgroup shortcut): [`scan_sockets`] for sockets without a cgroup.
///
/// Never fails: processes that vanish or deny access are counted in the stats.
#[cfg_attr(not(any(test, feature = "testing")), allow(dead_code))] // tests, benchmarks
pub fn scan_fds(host: &Host, wanted: &[u64], exhaustive: bool) -> FdScan {
    let mut wanted = wanted.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let Some(mut l) = Lookup::new(host, &wanted) else {
        return FdScan::default();
    };
    if wanted.is_empty() {
        return l.out;
    }
    l.out.stats.walk_reasons.push(if exhaustive {
        "exhaustive: every process is read".into()
    } else {
        "no cgroup was looked up".into()
    });
    finish(host, l, false, exhaustive, None)
}

/// Finds the processes holding the sockets of `listeners`: through each socket's cgroup
/// first (when `opts.cgroups` and the host is live), then the walk over `/proc` for
/// what that did not find, then the holders' relatives (see the module doc).
///
/// Never fails: processes that vanish or deny access are counted in the stats, and a
/// cgroup that cannot be read sends its sockets to the walk.
pub fn scan_sockets(host: &Host, listeners: &[Listener], opts: ScanOptions) -> FdScan {
    let mut wanted: Vec<u64> = listeners.iter().map(|l| l.inode).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let Some(mut l) = Lookup::new(host, &wanted) else {
        return FdScan::default();
    };
    if wanted.is_empty() {
        return l.out;
    }
    let mut cg2 = None;
    let mut by_cgroup = false;
    if opts.exhaustive {
        l.out
            .stats
            .walk_reasons
            .push("exhaustive: every process is read".into());
    } else if !opts.cgroups || !host.is_live_root() {
        l.out.stats.walk_reasons.push(
            if opts.cgroups {
                "not the live host: its cgroups cannot be read"
            } else {
                "the cgroup lookup is off"
            }
            .into(),
        );
    } else {
        cg2 = Cgroup2::open(host);
        by_cgroup = cgroup_stage(&mut l, cg2.as_ref(), listeners);
    }
    finish(host, l, by_cgroup, opts.exhaustive, cg2.as_ref())
}

/// The walk for what is still missing, then the relatives; sets the path taken.
fn finish(
    host: &Host,
    mut l: Lookup<'_>,
    by_cgroup: bool,
    exhaustive: bool,
    cg2: Option<&Cgroup2>,
) -> FdScan {
    let mut walked_all = false;
    let walked = exhaustive || !l.missing().is_empty();
    if walked {
        let pids = list_pids(host);
        l.walk(&pids, exhaustive);
        walked_all = pids.iter().all(|p| l.checked.contains(p));
    }
    l.out.stats.path = match (by_cgroup, walked) {
        (true, false) => ScanPath::Cgroup,
        (true, true) => ScanPath::CgroupAndWalk,
        (false, _) => ScanPath::Walk,
    };
    l.out.stats.stopped_early = !walked_all;
    if !exhaustive && l.out.stats.stopped_early {
        complete_relatives(host, &mut l, cg2);
    }
    log::debug!(
        "port: holders {:?}, {:?}",
        l.out.holders.keys().collect::<Vec<_>>(),
        l.out.stats
    );
    l.out
}

/// Reads the processes of the cgroups sock_diag named for the sockets; whether that
/// found a holder of any socket. Records why the rest need the walk.
fn cgroup_stage(l: &mut Lookup<'_>, cg2: Option<&Cgroup2>, listeners: &[Listener]) -> bool {
    let (by_id, reason) = by_cgroup(listeners);
    l.out.stats.walk_reasons.extend(reason);
    if by_id.is_empty() {
        return false;
    }
    let Some(cg2) = cg2 else {
        l.out
            .stats
            .walk_reasons
            .push("no cgroup2 filesystem is mounted (cgroup v1 only)".into());
        return false;
    };
    let (looks, candidates) = read_cgroups(cg2, by_id);
    l.walk(&candidates, false);
    let (any, looks, reasons) = judge(looks, &l.found);
    l.out.stats.cgroups.extend(looks);
    l.out.stats.walk_reasons.extend(reasons);
    any
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn own_socket_is_found_live_both_ways() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let fd = l.as_raw_fd();
        let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
        let ino = socket_inode(link.as_os_str().as_bytes()).unwrap();
        let host = Host::live();
        let me = std::process::id() as i32;
        for exhaustive in [false, true] {
            let s = scan_fds(&host, &[ino], exhaustive);
            assert_eq!(s.holders.get(&me), Some(&vec![ino]), "{s:?}");
            assert!(s.stats.processes > 0);
            assert_eq!(s.stats.path, ScanPath::Walk);
        }
        let Ok(listeners) = super::super::diag::sock_diag(super::super::Proto::Tcp, port) else {
            eprintln!("sock_diag refused here: the cgroup half of this test did not run");
            return;
        };
        assert_eq!(listeners.iter().map(|l| l.inode).collect::<Vec<_>>(), [ino]);
        let opts = ScanOptions {
            exhaustive: false,
            cgroups: true,
        };
        let s = scan_sockets(&host, &listeners, opts);
        assert_eq!(s.holders.get(&me), Some(&vec![ino]), "{s:?}");
        let cgroup_v2 = Cgroup2::open(&host).is_some();
        if cgroup_v2 && listeners[0].cgroup_id.is_some() {
            assert_eq!(s.stats.path, ScanPath::Cgroup, "{:?}", s.stats);
            assert!(s.stats.cgroups[0].answered);
        } else {
            assert_eq!(s.stats.path, ScanPath::Walk, "{:?}", s.stats);
            assert!(!s.stats.walk_reasons.is_empty());
        }
    }
}
