//! After an early stop: the other holders of an inherited socket, found among the
//! relatives of the holders already found (step 3 of [`super::scan`]).

use std::collections::{BTreeMap, HashSet};

use super::cgroup::Cgroup2;
use super::scan::{Lookup, Probe, probe};
use crate::host::Host;
use crate::process;

/// The most peers read from one service's cgroup.
const PEERS_MAX: usize = 4096;

/// The other processes of a system service's cgroup: through the cgroup2 mount when
/// there is one, else the `name=systemd` hierarchy of cgroup v1 under the host's root.
fn cgroup_peers(host: &Host, cg2: Option<&Cgroup2>, pid: i32) -> Vec<i32> {
    let Some(cg) = process::cgroup(host, pid) else {
        return Vec::new();
    };
    if !process::unit_from_cgroup(&cg).is_some_and(|u| u.ends_with(".service")) {
        return Vec::new();
    }
    if let Some(procs) = cg2
        .and_then(|c| c.by_path(&cg))
        .and_then(|d| d.procs().ok())
    {
        return procs.into_iter().take(PEERS_MAX).collect();
    }
    for base in ["/sys/fs/cgroup", "/sys/fs/cgroup/systemd"] {
        let p = host.path(format!("{base}{cg}/cgroup.procs"));
        if let Ok(text) = std::fs::read(p) {
            return super::cgroup::parse_procs(&text)
                .into_iter()
                .take(PEERS_MAX)
                .collect();
        }
    }
    Vec::new()
}

/// Checks one process (once); whether it holds a wanted socket.
fn check(l: &mut Lookup<'_>, pid: i32, path: &mut Vec<u8>) -> bool {
    if !l.checked.insert(pid) {
        return l.out.holders.contains_key(&pid);
    }
    l.out.stats.relatives_checked += 1;
    match probe(&l.proc_fd, pid, l.wanted, path) {
        Probe::Holds(v) => {
            l.out.holders.insert(pid, v);
            true
        }
        Probe::Miss => false,
        Probe::Denied => {
            l.out.stats.denied += 1;
            false
        }
        Probe::Vanished => {
            l.out.stats.vanished += 1;
            false
        }
    }
}

/// Checks the relatives of every holder, which is where the other holders of an
/// inherited socket live: the parent chain while it holds the socket, every descendant
/// of the topmost holder, the other processes of a service's cgroup. PID 1 is never
/// expanded (its descendants are every process).
pub(crate) fn complete_relatives(host: &Host, l: &mut Lookup<'_>, cg2: Option<&Cgroup2>) {
    // The walk path opens no cgroup2 mount; the peers are read the same way either way.
    let opened;
    let cg2 = match cg2 {
        Some(c) => Some(c),
        None => {
            opened = Cgroup2::open(host);
            opened.as_ref()
        }
    };
    let mut path = Vec::new();
    let mut ppid_map: Option<BTreeMap<i32, Vec<i32>>> = None;
    let mut queue: Vec<i32> = l.out.holders.keys().copied().filter(|&p| p > 1).collect();
    let mut expanded: HashSet<i32> = HashSet::new();
    // Every process whose children were listed: a `children` file that lists an
    // ancestor (a hostile fake root, a recycled pid) cannot make this loop.
    let mut descended: HashSet<i32> = HashSet::new();
    while let Some(pid) = queue.pop() {
        if !expanded.insert(pid) {
            continue;
        }
        // Up: the parent chain, while it holds the socket too (stop below PID 1).
        let mut top = pid;
        let mut chain = vec![pid];
        while let Some(parent) = parent_of(host, top) {
            if parent <= 1 || chain.contains(&parent) || !check(l, parent, &mut path) {
                break;
            }
            chain.push(parent);
            top = parent;
            queue.push(parent);
        }
        // Down: every descendant of the topmost holder.
        let mut stack = vec![top];
        while let Some(p) = stack.pop() {
            if !descended.insert(p) {
                continue;
            }
            let kids = match process::children(host, p) {
                Some(k) => k,
                None => ppid_map
                    .get_or_insert_with(|| process::children_by_parent(host))
                    .get(&p)
                    .cloned()
                    .unwrap_or_default(),
            };
            for k in kids {
                if check(l, k, &mut path) {
                    queue.push(k);
                }
                stack.push(k);
            }
        }
        // Sideways: the other processes of the same service.
        for peer in cgroup_peers(host, cg2, pid) {
            if peer > 1 && check(l, peer, &mut path) {
                queue.push(peer);
            }
        }
    }
}

/// The parent pid from `/proc/PID/stat`.
fn parent_of(host: &Host, pid: i32) -> Option<i32> {
    process::stat(host, pid).map(|s| s.ppid)
}
