//! Processes as `/proc` shows them: pure parsers of `stat`, `status`, `cmdline` and
//! `cgroup`, and thin readers joined to the host's root: [`proc_text`] and the readers
//! on it ([`stat()`], [`cgroup`], [`cmdline`], [`children`], [`Process::read`]). Besides
//! these, only the port fd walk (`openat` on `fd/`, for speed) and the host's container
//! detection (PID 1's environment) read `/proc/PID`. `stat` is parsed in
//! [`crate::host::proc_stat`] only, below the host, whose live signal check uses it too.
//!
//! Processes come and go while they are read: every reader returns `None` for a process
//! that vanished or cannot be read, and callers skip it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::host::Host;

pub use crate::host::proc_stat::ProcStat;
#[cfg(any(test, feature = "testing"))]
pub use crate::host::proc_stat::{PF_KTHREAD, parse_stat};

/// The text of `/proc/PID/NAME` under the host's root; `None` when the process vanished
/// or the file cannot be read.
pub fn proc_text(host: &Host, pid: i32, name: &str) -> Option<String> {
    std::fs::read_to_string(host.path(format!("/proc/{pid}/{name}"))).ok()
}

/// `/proc/PID/stat`, parsed; `None` when the process vanished or the file is not a stat
/// line.
pub fn stat(host: &Host, pid: i32) -> Option<ProcStat> {
    crate::host::proc_stat::read_under(host.root(), pid)
}

/// The cgroup path of a process (`/proc/PID/cgroup`, see [`parse_cgroup`]).
pub fn cgroup(host: &Host, pid: i32) -> Option<String> {
    proc_text(host, pid, "cgroup").and_then(|t| parse_cgroup(&t))
}

/// The command line of a process (`/proc/PID/cmdline`); `None` when it cannot be read.
pub fn cmdline(host: &Host, pid: i32) -> Option<Vec<String>> {
    std::fs::read(host.path(format!("/proc/{pid}/cmdline")))
        .ok()
        .map(|b| parse_cmdline(&b))
}

/// Splits a NUL-separated `/proc/PID/cmdline`.
pub fn parse_cmdline(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// The effective uid from the `Uid:` line of `/proc/PID/status`.
pub fn parse_status_uid(text: &str) -> Option<u32> {
    text.lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// The cgroup v2 path from the text of `/proc/PID/cgroup` or `/proc/self/cgroup` (the
/// `0::` line).
pub fn parse_cgroup_v2_path(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(|p| p.trim().to_string())
}

/// The cgroup v2 path of a process from `/proc/PID/cgroup` (the `0::` line); on a
/// cgroup v1 host, the `name=systemd` line's path.
pub fn parse_cgroup(text: &str) -> Option<String> {
    parse_cgroup_v2_path(text).or_else(|| {
        text.lines().find_map(|l| {
            l.split_once(":name=systemd:")
                .map(|(_, p)| p.trim().to_string())
        })
    })
}

/// The systemd unit a cgroup path belongs to: the last `.service`, `.socket` or `.scope`
/// component (`/system.slice/nginx.service` → `nginx.service`). Units under
/// `user@UID.service` are reported as that user manager's units.
pub fn unit_from_cgroup(path: &str) -> Option<String> {
    path.split('/')
        .rev()
        .find(|c| c.ends_with(".service") || c.ends_with(".socket") || c.ends_with(".scope"))
        .map(str::to_string)
}

/// The container id (64 hex digits) in a cgroup path: `docker-<id>.scope` (systemd
/// driver), `/docker/<id>` (cgroupfs driver), `libpod-<id>.scope`, `cri-containerd-<id>`.
pub fn container_id_from_cgroup(path: &str) -> Option<String> {
    path.split('/').rev().find_map(|c| {
        let c = c.strip_suffix(".scope").unwrap_or(c);
        let id = c.rsplit(['-', ':']).next().unwrap_or(c);
        (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_string())
    })
}

/// One process, read from `/proc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Process {
    /// `/proc/PID/stat`.
    pub stat: ProcStat,
    /// The executable (`/proc/PID/exe`), with a trailing ` (deleted)` removed.
    pub exe: Option<PathBuf>,
    /// Whether the executable was deleted or replaced since the process started.
    pub exe_deleted: bool,
    /// The command line.
    pub cmdline: Vec<String>,
    /// The effective uid.
    pub uid: Option<u32>,
    /// The cgroup path.
    pub cgroup: Option<String>,
}

impl Process {
    /// Reads a process; `None` when it vanished or its `stat` cannot be read.
    pub fn read(host: &Host, pid: i32) -> Option<Process> {
        let stat = stat(host, pid)?;
        let (exe, exe_deleted) = match std::fs::read_link(host.path(format!("/proc/{pid}/exe"))) {
            Ok(p) => {
                let s = p.to_string_lossy();
                match s.strip_suffix(" (deleted)") {
                    Some(stripped) => (Some(PathBuf::from(stripped)), true),
                    None => (Some(p), false),
                }
            }
            // Kernel threads have no exe; other users' processes need root.
            Err(_) => (None, false),
        };
        Some(Process {
            exe,
            exe_deleted,
            cmdline: cmdline(host, pid).unwrap_or_default(),
            uid: proc_text(host, pid, "status").and_then(|t| parse_status_uid(&t)),
            cgroup: cgroup(host, pid),
            stat,
        })
    }

    /// The pid.
    pub fn pid(&self) -> i32 {
        self.stat.pid
    }
}

/// Every pid in the host's `/proc`.
pub fn pids(host: &Host) -> Vec<i32> {
    let Ok(rd) = std::fs::read_dir(host.path("/proc")) else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// The children of `pid` from `/proc/PID/task/*/children`; `None` when the kernel does
/// not provide that file.
pub fn children(host: &Host, pid: i32) -> Option<Vec<i32>> {
    let tasks = std::fs::read_dir(host.path(format!("/proc/{pid}/task"))).ok()?;
    let mut out = Vec::new();
    let mut any = false;
    for t in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(t.path().join("children")) {
            any = true;
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    any.then_some(out)
}

/// parent → children, from every process's `stat` (when `children` files are missing).
pub fn children_by_parent(host: &Host) -> BTreeMap<i32, Vec<i32>> {
    let mut m: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for pid in pids(host) {
        if let Some(s) = stat(host, pid) {
            m.entry(s.ppid).or_default().push(pid);
        }
    }
    m
}

/// `pid` and its ancestors up to PID 1, from the host's `/proc`.
pub fn ancestry(host: &Host, pid: i32) -> Vec<i32> {
    let mut out = vec![pid];
    let mut cur = pid;
    while cur > 1 && out.len() < 4096 {
        let Some(stat) = stat(host, cur) else {
            break;
        };
        if stat.ppid <= 0 || out.contains(&stat.ppid) {
            break;
        }
        out.push(stat.ppid);
        cur = stat.ppid;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_and_status() {
        assert_eq!(
            parse_cmdline(b"nginx: master process /usr/sbin/nginx\0-g\0daemon on;\0"),
            vec!["nginx: master process /usr/sbin/nginx", "-g", "daemon on;"]
        );
        assert_eq!(parse_status_uid("Name:\tx\nUid:\t33\t0\t33\t33\n"), Some(0));
    }

    #[test]
    fn cgroups_to_units_and_containers() {
        let id = "3f4e5a6b7c8d9e0f3f4e5a6b7c8d9e0f3f4e5a6b7c8d9e0f3f4e5a6b7c8d9e0f";
        assert_eq!(
            parse_cgroup("0::/system.slice/nginx.service\n"),
            Some("/system.slice/nginx.service".into())
        );
        assert_eq!(
            parse_cgroup("12:pids:/x\n1:name=systemd:/system.slice/ssh.service\n"),
            Some("/system.slice/ssh.service".into())
        );
        assert_eq!(
            unit_from_cgroup("/system.slice/nginx.service"),
            Some("nginx.service".into())
        );
        assert_eq!(
            unit_from_cgroup("/user.slice/user-1000.slice/user@1000.service/app.slice/x.service"),
            Some("x.service".into())
        );
        assert_eq!(unit_from_cgroup("/"), None);
        let scope = format!("/system.slice/docker-{id}.scope");
        assert_eq!(container_id_from_cgroup(&scope), Some(id.to_string()));
        assert_eq!(
            container_id_from_cgroup(&format!("/docker/{id}")),
            Some(id.to_string())
        );
        assert_eq!(
            container_id_from_cgroup(&format!("/kubepods/pod1/cri-containerd-{id}.scope")),
            Some(id.to_string())
        );
        assert_eq!(
            container_id_from_cgroup("/system.slice/nginx.service"),
            None
        );
    }

    fn put(root: &std::path::Path, rel: &str, bytes: &[u8]) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    fn stat_line(pid: i32, ppid: i32) -> String {
        format!("{pid} (p{pid}) S {ppid} 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 9 1 1\n")
    }

    #[test]
    fn readers_take_the_hosts_root() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        put(r, "proc/10/stat", stat_line(10, 1).as_bytes());
        put(r, "proc/10/cmdline", b"nginx\0-g\0daemon off;\0");
        put(r, "proc/10/cgroup", b"0::/system.slice/nginx.service\n");
        put(r, "proc/10/status", b"Name:\tnginx\nUid:\t0\t33\t0\t0\n");
        put(r, "proc/11/stat", stat_line(11, 10).as_bytes());
        put(r, "proc/12/stat", stat_line(12, 10).as_bytes());
        put(r, "proc/13/stat", b"not a stat line");
        let host = Host::fake(r);
        assert_eq!(stat(&host, 11).map(|s| s.ppid), Some(10));
        assert_eq!(stat(&host, 13), None, "an unparsable stat");
        assert_eq!(stat(&host, 99), None, "a vanished process");
        assert_eq!(
            cmdline(&host, 10),
            Some(vec!["nginx".into(), "-g".into(), "daemon off;".into()])
        );
        assert_eq!(cmdline(&host, 99), None);
        assert_eq!(
            cgroup(&host, 10).as_deref(),
            Some("/system.slice/nginx.service")
        );
        let p = Process::read(&host, 10).unwrap();
        assert_eq!((p.uid, p.exe.as_deref()), (Some(33), None));
        assert_eq!(ancestry(&host, 12), vec![12, 10, 1]);
        // Without `children` files, from every process's stat.
        assert_eq!(children(&host, 10), None);
        let by_parent = children_by_parent(&host);
        assert_eq!(by_parent.get(&10).map(|v| v.len()), Some(2));
        assert_eq!(by_parent.get(&1), Some(&vec![10]));
        // With them: every task's list.
        put(r, "proc/10/task/10/children", b"11 ");
        put(r, "proc/10/task/14/children", b"12\n");
        let mut kids = children(&host, 10).unwrap();
        kids.sort_unstable();
        assert_eq!(kids, vec![11, 12]);
    }

    #[test]
    fn live_self_is_readable() {
        let host = Host::live();
        let me = Process::read(&host, std::process::id() as i32).unwrap();
        assert_eq!(me.pid(), std::process::id() as i32);
        assert!(me.exe.is_some());
        let anc = ancestry(&host, me.pid());
        assert_eq!(anc[0], me.pid());
        assert_eq!(anc.get(1), Some(&me.stat.ppid));
        assert!(pids(&host).contains(&(std::process::id() as i32)));
    }
}
