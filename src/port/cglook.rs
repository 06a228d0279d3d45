//! The cgroup stage of finding a port's holders: which cgroups sock_diag named for the
//! sockets, their processes, and whether those held every socket made there.

use std::collections::BTreeMap;

use nix::errno::Errno;
use serde::Serialize;

use super::cgroup::{Cgroup2, WALK_MAX_DIRS};
use super::table::Listener;

/// A cgroup sock_diag named for some of the sockets, and what reading it gave.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CgroupLook {
    /// Its id (the inode of its directory in the cgroup2 filesystem).
    pub id: u64,
    /// Its path under the cgroup2 mount (`/system.slice/nginx.service`), when found.
    pub path: Option<String>,
    /// The sockets (inodes) made in it.
    pub sockets: Vec<u64>,
    /// How many processes it lists.
    pub processes: usize,
    /// Whether every socket made in it was found held by a process read there.
    pub answered: bool,
    /// Why it could not be read, when it could not.
    pub error: Option<String>,
}

/// The sockets grouped by the cgroup they were made in, and why the walk is needed for
/// those with no cgroup (pure).
pub(crate) fn by_cgroup(listeners: &[Listener]) -> (BTreeMap<u64, Vec<u64>>, Option<String>) {
    let mut by_id: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let mut no_id = Vec::new();
    for s in listeners {
        match s.cgroup_id {
            Some(id) => by_id.entry(id).or_default().push(s.inode),
            None => no_id.push(s.inode),
        }
    }
    let reason = (!no_id.is_empty()).then(|| {
        format!(
            "the socket table names no cgroup for socket inode(s) {no_id:?} (read from \
             /proc/net, or a kernel before 5.7)"
        )
    });
    (by_id, reason)
}

/// Reads each cgroup's processes: the looks, and every process listed (sorted, once).
pub(crate) fn read_cgroups(
    cg2: &Cgroup2,
    by_id: BTreeMap<u64, Vec<u64>>,
) -> (Vec<CgroupLook>, Vec<i32>) {
    let mut looks = Vec::new();
    let mut candidates = Vec::new();
    for (id, mut sockets) in by_id {
        sockets.sort_unstable();
        sockets.dedup();
        let mut look = CgroupLook {
            id,
            sockets,
            ..CgroupLook::default()
        };
        match cg2.by_id(id).and_then(|d| {
            look.path = Some(d.path.clone());
            d.procs()
        }) {
            Ok(pids) => {
                look.processes = pids.len();
                candidates.extend(pids);
            }
            Err(e) => look.error = Some(read_error(e, look.path.is_some())),
        }
        looks.push(look);
    }
    candidates.sort_unstable();
    candidates.dedup();
    (looks, candidates)
}

/// Why a cgroup could not be read: finding it (`found` false) or its `cgroup.procs`.
fn read_error(e: Errno, found: bool) -> String {
    match (e, found) {
        (Errno::ENOENT, false) => {
            "no such cgroup (removed, or outside this cgroup namespace)".into()
        }
        (Errno::E2BIG, false) => format!("not found within {WALK_MAX_DIRS} cgroup directories"),
        (e, false) => format!("opening it: {e}"),
        (e, true) => format!("reading cgroup.procs: {e}"),
    }
}

/// Marks each look answered when its processes held every socket made there (`found`:
/// the socket inodes seen held); whether any socket was found, the looks, and why the
/// walk is still needed for the sockets not found (pure).
pub(crate) fn judge(
    mut looks: Vec<CgroupLook>,
    found: &[u64],
) -> (bool, Vec<CgroupLook>, Vec<String>) {
    let mut any = false;
    let mut reasons = Vec::new();
    for look in &mut looks {
        look.answered = look.error.is_none() && look.sockets.iter().all(|i| found.contains(i));
        any |= look.sockets.iter().any(|i| found.contains(i));
        let missing: Vec<u64> = look
            .sockets
            .iter()
            .copied()
            .filter(|i| !found.contains(i))
            .collect();
        if missing.is_empty() {
            continue;
        }
        let name = look
            .path
            .clone()
            .unwrap_or_else(|| format!("id {}", look.id));
        reasons.push(match &look.error {
            Some(e) => format!("cgroup {name}: {e}"),
            None => format!(
                "no process of cgroup {name} ({} listed) holds socket inode(s) {missing:?}: \
                 passed to another cgroup, or its maker exited",
                look.processes
            ),
        });
    }
    (any, looks, reasons)
}
