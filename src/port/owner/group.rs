//! Owners grouped by process tree, and the one line that says who a group is.

use std::collections::BTreeMap;

use super::{OwnerGroup, OwnerKind, PortOwner};

/// Groups owners by process tree: an owner whose parent also holds the port belongs to
/// its parent's group (PID 1 always stands alone). Groups come in leader pid order.
pub fn group_owners(owners: &[PortOwner]) -> Vec<OwnerGroup> {
    let by_pid: BTreeMap<i32, &PortOwner> = owners.iter().map(|o| (o.pid, o)).collect();
    let top = |mut pid: i32| {
        let mut hops = 0;
        while let Some(o) = by_pid.get(&pid) {
            if o.pid == 1 || o.ppid <= 1 || !by_pid.contains_key(&o.ppid) || hops > 4096 {
                break;
            }
            pid = o.ppid;
            hops += 1;
        }
        pid
    };
    let mut groups: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for o in owners {
        groups.entry(top(o.pid)).or_default().push(o.pid);
    }
    groups
        .into_iter()
        .map(|(leader, mut pids)| {
            pids.sort_by_key(|p| (*p != leader, *p));
            let summary = by_pid
                .get(&leader)
                .map(|l| describe_group(l, pids.len() - 1))
                .unwrap_or_default();
            OwnerGroup {
                leader,
                pids,
                summary,
            }
        })
        .collect()
}

/// `pid 812 nginx (master) and 3 workers, unit nginx.service, package nginx-light`; on
/// Debian 12, where `nginx-light` is a metapackage, `..., package nginx (installed for
/// nginx-light)`.
pub fn describe_group(leader: &PortOwner, workers: usize) -> String {
    let mut s = format!("pid {} {}", leader.pid, leader.name);
    match workers {
        0 => {}
        1 => s.push_str(" (master) and 1 worker"),
        n => s.push_str(&format!(" (master) and {n} workers")),
    }
    match leader.kind {
        OwnerKind::Service => {
            if let Some(u) = &leader.unit {
                s.push_str(&format!(", unit {u}"));
            }
        }
        OwnerKind::SocketActivated | OwnerKind::Init => {}
        OwnerKind::Container | OwnerKind::Process => {
            if let Some(u) = leader
                .unit
                .as_deref()
                .filter(|u| !u.starts_with("session-"))
            {
                s.push_str(&format!(", unit {u}"));
            }
        }
    }
    if !leader.socket_units.is_empty() {
        s.push_str(&format!(", socket {}", leader.socket_units.join(", ")));
    } else if leader.kind == OwnerKind::SocketActivated {
        s.push_str(", socket-activated");
    }
    if let Some(c) = &leader.container {
        s.push_str(&format!(", container {}", c.label()));
        if c.via == "docker-proxy" {
            s.push_str(" (docker-proxy)");
        }
    }
    if let Some(p) = &leader.package {
        s.push_str(&format!(", package {}", p.name));
        if !p.required_by.is_empty() {
            s.push_str(&format!(" (installed for {})", p.required_by.join(", ")));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::PackageInfo;

    fn owner(pid: i32, ppid: i32) -> PortOwner {
        PortOwner {
            pid,
            ppid,
            name: "nginx".into(),
            exe: None,
            exe_deleted: false,
            cmdline: vec![],
            uid: None,
            user: None,
            start_time: 0,
            started_at: None,
            state: 'S',
            cgroup: None,
            sockets: vec![],
            inodes: vec![],
            kind: OwnerKind::Service,
            unit: Some("nginx.service".into()),
            socket_units: vec![],
            container: None,
            package: Some(PackageInfo {
                name: "nginx-light".into(),
                version: None,
                source: "nginx".into(),
                ..Default::default()
            }),
            protected: None,
        }
    }

    #[test]
    fn groups_by_process_tree() {
        let owners = vec![
            owner(812, 1),
            owner(813, 812),
            owner(814, 812),
            owner(815, 812),
            owner(900, 1),
        ];
        let g = group_owners(&owners);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].leader, 812);
        assert_eq!(g[0].pids, vec![812, 813, 814, 815]);
        assert_eq!(
            g[0].summary,
            "pid 812 nginx (master) and 3 workers, unit nginx.service, package nginx-light"
        );
        assert_eq!(g[1].pids, vec![900]);
        assert_eq!(
            g[1].summary,
            "pid 900 nginx, unit nginx.service, package nginx-light"
        );
    }
}
