//! Processes as `/proc` shows them: pure parsers of `stat`, `status`, `cmdline` and
//! `cgroup`, and thin readers joined to the host's root.
//!
//! Processes come and go while they are read: every reader returns `None` for a process
//! that vanished or cannot be read, and callers skip it.

use std::path::PathBuf;

use serde::Serialize;

use crate::host::Host;

/// The fields of `/proc/PID/stat` hostfix uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcStat {
    /// Process id.
    pub pid: i32,
    /// The command name (field 2, without parentheses; at most 15 bytes).
    pub comm: String,
    /// The state letter: `R`, `S`, `D` (uninterruptible), `Z`, `T`, `t`, `I`, ...
    pub state: char,
    /// Parent process id.
    pub ppid: i32,
    /// Start time in clock ticks since boot (identifies the process with its pid).
    pub start_time: u64,
    /// Flags (`PF_KTHREAD` = 0x00200000 marks kernel threads).
    pub flags: u64,
}

/// `PF_KTHREAD` in `/proc/PID/stat` flags.
pub const PF_KTHREAD: u64 = 0x0020_0000;

impl ProcStat {
    /// Whether this is a kernel thread.
    pub fn is_kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0 || self.pid == 2 || self.ppid == 2
    }
}

/// Parses a `/proc/PID/stat` line. The name may hold spaces and parentheses: it runs
/// from the first `(` to the last `)`.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    // Only a positive pid names one process: 0, -1 or -PGID given to kill(2) reach a
    // process group or every process.
    let pid = text[..open].trim().parse().ok().filter(|p: &i32| *p > 0)?;
    let comm = text.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // rest[0] is field 3 (state); field N is rest[N - 3].
    Some(ProcStat {
        pid,
        comm,
        state: rest.first()?.chars().next()?,
        ppid: rest.get(1)?.parse().ok()?,
        flags: rest.get(6)?.parse().ok()?,
        start_time: rest.get(19)?.parse().ok()?,
    })
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

/// The cgroup v2 path of a process from `/proc/PID/cgroup` (the `0::` line); on a
/// cgroup v1 host, the `name=systemd` line's path.
pub fn parse_cgroup(text: &str) -> Option<String> {
    crate::resources::parse_cgroup_v2_path(text).or_else(|| {
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
        let dir = host.path(format!("/proc/{pid}"));
        let stat = parse_stat(&std::fs::read_to_string(dir.join("stat")).ok()?)?;
        let (exe, exe_deleted) = match std::fs::read_link(dir.join("exe")) {
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
            cmdline: std::fs::read(dir.join("cmdline"))
                .map(|b| parse_cmdline(&b))
                .unwrap_or_default(),
            uid: std::fs::read_to_string(dir.join("status"))
                .ok()
                .and_then(|t| parse_status_uid(&t)),
            cgroup: std::fs::read_to_string(dir.join("cgroup"))
                .ok()
                .and_then(|t| parse_cgroup(&t)),
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

/// `pid` and its ancestors up to PID 1, from the host's `/proc`.
pub fn ancestry(host: &Host, pid: i32) -> Vec<i32> {
    let mut out = vec![pid];
    let mut cur = pid;
    while cur > 1 && out.len() < 4096 {
        let Some(stat) = std::fs::read_to_string(host.path(format!("/proc/{cur}/stat")))
            .ok()
            .and_then(|t| parse_stat(&t))
        else {
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

/// The calling process and its ancestors: processes hostfix never signals.
pub fn caller_ancestry(host: &Host) -> Vec<i32> {
    ancestry(host, std::process::id() as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_names() {
        let s = parse_stat(
            "812 (nginx: (master)) S 1 812 812 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 4242 1000 10",
        )
        .unwrap();
        assert_eq!(s.pid, 812);
        assert_eq!(s.comm, "nginx: (master)");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 1);
        assert_eq!(s.start_time, 4242);
        assert!(!s.is_kernel_thread());
        let k =
            parse_stat("17 (kworker/0:1) I 2 0 0 0 -1 69238880 0 0 0 0 0 0 0 0 20 0 1 0 30 0 0")
                .unwrap();
        assert!(k.is_kernel_thread());
        assert!(parse_stat("garbage").is_none());
        assert!(parse_stat("1 (x) S").is_none());
    }

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

    #[test]
    fn live_self_is_readable() {
        let host = Host::live();
        let me = Process::read(&host, std::process::id() as i32).unwrap();
        assert_eq!(me.pid(), std::process::id() as i32);
        assert!(me.exe.is_some());
        let anc = caller_ancestry(&host);
        assert_eq!(anc[0], std::process::id() as i32);
        assert!(pids(&host).contains(&(std::process::id() as i32)));
    }
}
