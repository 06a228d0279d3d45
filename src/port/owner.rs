//! The processes holding a port: who they are, what runs them (a systemd unit, a socket
//! unit, a container, a distro package), whether hostfix may touch them, and how they
//! group into process trees.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::docker::{self, ContainerRef};
use super::scan::FdScan;
use super::table::{Listener, Proto};
use crate::engine::PsEntry;
use crate::host::{Cmd, Host, InitSystem};
use crate::package::{self, PackageInfo, PackageManager};
use crate::process::{self, Process};
use crate::protect;

/// What runs a port's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OwnerKind {
    /// PID 1 on a host whose init is not systemd.
    Init,
    /// PID 1 (systemd) holds the socket for a `.socket` unit.
    SocketActivated,
    /// A process of a system service (`/system.slice/nginx.service`).
    Service,
    /// A container's process, or the `docker-proxy` publishing a container's port.
    Container,
    /// Any other process (started by hand, from a login session, a user unit).
    Process,
}

/// A process holding a port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortOwner {
    /// Its pid.
    pub pid: i32,
    /// Its parent's pid.
    pub ppid: i32,
    /// Its name (`comm`).
    pub name: String,
    /// Its executable (` (deleted)` stripped).
    pub exe: Option<PathBuf>,
    /// Whether the executable was deleted or replaced (an upgrade since it started).
    pub exe_deleted: bool,
    /// Its command line.
    pub cmdline: Vec<String>,
    /// Its effective uid.
    pub uid: Option<u32>,
    /// That uid's name.
    pub user: Option<String>,
    /// Its start time in clock ticks since boot (with the pid, identifies the process).
    pub start_time: u64,
    /// Its start time in seconds since the epoch, when the boot time is known.
    pub started_at: Option<u64>,
    /// Its state letter (`S`, `R`, `D`, ...).
    pub state: char,
    /// Its cgroup.
    pub cgroup: Option<String>,
    /// The sockets of the port it holds (`0.0.0.0:80/tcp`).
    pub sockets: Vec<String>,
    /// Their inodes.
    pub inodes: Vec<u64>,
    /// What runs it.
    pub kind: OwnerKind,
    /// The systemd unit its cgroup belongs to (a user unit or a session scope too).
    pub unit: Option<String>,
    /// The `.socket` units that hand it this port (or that PID 1 holds it for).
    pub socket_units: Vec<String>,
    /// The container, for a container's process or `docker-proxy`.
    pub container: Option<ContainerRef>,
    /// The distro package its executable belongs to.
    pub package: Option<PackageInfo>,
    /// Why hostfix never signals it, when it never does.
    pub protected: Option<String>,
}

/// Owners in one process tree: an nginx master and its workers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnerGroup {
    /// The topmost owner of the tree.
    pub leader: i32,
    /// Every owner in it, the leader first.
    pub pids: Vec<i32>,
    /// One line: `pid 812 nginx (master) and 3 workers, unit nginx.service, package
    /// nginx-light`.
    pub summary: String,
}

/// A line of `systemctl list-sockets --show-types`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SocketUnit {
    /// What it listens on (`[::]:80`, `0.0.0.0:80`, `/run/x.sock`).
    pub listen: String,
    /// `Stream`, `Datagram`, ... when shown.
    pub socket_type: Option<String>,
    /// The `.socket` unit.
    pub unit: String,
    /// The units it activates.
    pub activates: Vec<String>,
}

impl SocketUnit {
    /// The port it listens on, for an IP listener.
    pub fn port(&self) -> Option<u16> {
        if self.listen.starts_with(['/', '@']) {
            return None;
        }
        self.listen.rsplit(':').next()?.parse().ok()
    }

    /// Whether it listens on `port`/`proto`.
    pub fn matches(&self, port: u16, proto: Proto) -> bool {
        let type_ok = match (self.socket_type.as_deref(), proto) {
            (None, _) => true,
            (Some(t), Proto::Tcp) => t == "Stream",
            (Some(t), Proto::Udp) => t == "Datagram",
        };
        type_ok && self.port() == Some(port)
    }
}

/// The arguments of the `systemctl list-sockets` hostfix runs.
pub const LIST_SOCKETS_ARGS: [&str; 6] = [
    "list-sockets",
    "--all",
    "--full",
    "--no-legend",
    "--no-pager",
    "--show-types",
];

/// Parses `systemctl list-sockets --all --full --no-legend --show-types` (pure; the TYPE
/// column may be absent).
pub fn parse_list_sockets(stdout: &str) -> Vec<SocketUnit> {
    stdout
        .lines()
        .filter_map(|l| {
            let toks: Vec<&str> = l.split_whitespace().collect();
            let ui = toks.iter().position(|t| t.ends_with(".socket"))?;
            if ui == 0 {
                return None;
            }
            Some(SocketUnit {
                listen: toks[0].to_string(),
                socket_type: (ui == 2).then(|| toks[1].to_string()),
                unit: toks[ui].to_string(),
                activates: toks[ui + 1..]
                    .iter()
                    .map(|t| t.trim_end_matches(',').to_string())
                    .filter(|t| !t.is_empty())
                    .collect(),
            })
        })
        .collect()
}

/// uid → name from `/etc/passwd` (pure).
pub fn parse_passwd(text: &str) -> HashMap<u32, String> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let uid = f.nth(1)?.parse().ok()?;
            Some((uid, name.to_string()))
        })
        .collect()
}

/// `btime` (boot time, seconds since the epoch) from `/proc/stat` (pure).
pub fn parse_btime(stat: &str) -> Option<u64> {
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

fn base_name(p: &Path) -> &str {
    p.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

/// Whether a process is `docker-proxy`.
pub fn is_docker_proxy(name: &str, exe: Option<&Path>) -> bool {
    name == "docker-proxy" || exe.is_some_and(|e| base_name(e) == "docker-proxy")
}

/// What classification needs to know about the host (gathered once per lookup).
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The port and protocol looked up.
    pub port: u16,
    /// The protocol.
    pub proto: Option<Proto>,
    /// Whether systemd runs the host.
    pub systemd: bool,
    /// The calling process and its ancestors.
    pub caller: Vec<i32>,
    /// `systemctl list-sockets`, when systemd runs the host.
    pub socket_units: Vec<SocketUnit>,
    /// The engine's containers (`docker ps -a`), when docker runs.
    pub containers: Option<Vec<PsEntry>>,
}

/// Classifies a process holding the port (pure): what runs it, its unit, its socket
/// units, its container, and why it is protected ([`protect::port_holder`]).
pub fn classify(
    p: &Process,
    ctx: &Context,
) -> (
    OwnerKind,
    Option<String>,
    Vec<String>,
    Option<ContainerRef>,
    Option<String>,
) {
    let proto = ctx.proto.unwrap_or(Proto::Tcp);
    let pid = p.pid();
    let name = p.stat.comm.as_str();
    let exe = p.exe.as_deref();
    let cg = p.cgroup.as_deref().unwrap_or("");
    let unit = p.cgroup.as_deref().and_then(process::unit_from_cgroup);
    let user_unit = cg.contains("/user@") || cg.starts_with("/user.slice");
    let mut socket_units: Vec<String> = Vec::new();
    let mut container = None;
    let kind = if pid == 1 {
        if ctx.systemd {
            socket_units = ctx
                .socket_units
                .iter()
                .filter(|s| s.matches(ctx.port, proto))
                .map(|s| s.unit.clone())
                .collect();
            OwnerKind::SocketActivated
        } else {
            OwnerKind::Init
        }
    } else if is_docker_proxy(name, exe) {
        container = Some(docker::from_proxy(
            &p.cmdline,
            ctx.port,
            proto,
            ctx.containers.as_deref(),
        ));
        OwnerKind::Container
    } else if let Some(id) = process::container_id_from_cgroup(cg) {
        container = Some(docker::from_cgroup(&id, cg, ctx.containers.as_deref()));
        OwnerKind::Container
    } else if !user_unit && unit.as_deref().is_some_and(|u| u.ends_with(".service")) {
        let u = unit.clone().unwrap_or_default();
        socket_units = ctx
            .socket_units
            .iter()
            .filter(|s| s.activates.contains(&u) && s.matches(ctx.port, proto))
            .map(|s| s.unit.clone())
            .collect();
        OwnerKind::Service
    } else {
        OwnerKind::Process
    };
    let protected = protect::port_holder(
        &protect::PortHolder {
            pid,
            name,
            exe,
            unit: unit.as_deref(),
            kernel_thread: p.stat.is_kernel_thread(),
            container: container.as_ref().map(|c| protect::ContainerHold {
                via_proxy: c.via == "docker-proxy",
                label: c.label(),
                stop_command: &c.stop_command,
            }),
        },
        &ctx.caller,
    );
    (kind, unit, socket_units, container, protected)
}

/// Whether a distro package may have installed `exe`: the FHS places packaged programs
/// under `/usr` (never `/usr/local`), `/bin`, `/sbin`, `/lib*`, `/opt`, `/etc`, `/srv` or
/// `/var/lib`; a program anywhere else (a home, a build tree, `/tmp`) is not looked up,
/// which spares a full read of the package database.
pub fn may_be_packaged(exe: &Path) -> bool {
    let under = |p: &str| exe.starts_with(p);
    !under("/usr/local")
        && [
            "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt", "/etc", "/srv",
            "/var/lib",
        ]
        .iter()
        .any(|p| under(p))
}

/// Builds the owners of the sockets a walk found, classified.
pub fn build_owners(
    host: &Host,
    listeners: &[Listener],
    scan: &FdScan,
    port: u16,
    proto: Proto,
    with_packages: bool,
) -> Vec<PortOwner> {
    let procs: Vec<(Process, Vec<u64>)> = scan
        .holders
        .iter()
        .filter_map(|(pid, inodes)| Some((Process::read(host, *pid)?, inodes.clone())))
        .collect();
    if procs.is_empty() {
        return Vec::new();
    }
    let systemd = host.init_system() == InitSystem::Systemd;
    let mut ctx = Context {
        port,
        proto: Some(proto),
        systemd,
        // Under another root the fixture's pids are not this process's relatives.
        caller: if host.is_live_root() {
            protect::caller(host)
        } else {
            Vec::new()
        },
        ..Context::default()
    };
    let wants_units = procs.iter().any(|(p, _)| {
        p.pid() == 1
            || p.cgroup
                .as_deref()
                .and_then(process::unit_from_cgroup)
                .is_some_and(|u| u.ends_with(".service"))
    });
    if systemd && wants_units {
        match host.system().run(&Cmd::new("systemctl", LIST_SOCKETS_ARGS)) {
            Ok(out) if out.success() => ctx.socket_units = parse_list_sockets(&out.stdout),
            Ok(out) => log::info!("port: systemctl list-sockets: {}", out.stderr.trim()),
            Err(e) => log::info!("port: systemctl list-sockets: {e}"),
        }
    }
    let wants_docker = procs.iter().any(|(p, _)| {
        is_docker_proxy(&p.stat.comm, p.exe.as_deref())
            || p.cgroup
                .as_deref()
                .and_then(process::container_id_from_cgroup)
                .is_some()
    });
    if wants_docker {
        ctx.containers = docker::docker_ps(host);
    }
    let users = host
        .read_opt("/etc/passwd")
        .ok()
        .flatten()
        .map(|t| parse_passwd(&t))
        .unwrap_or_default();
    let btime = host
        .read_opt("/proc/stat")
        .ok()
        .flatten()
        .and_then(|t| parse_btime(&t));
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)
        .map(|t| t as u64);
    let pm: Option<Box<dyn PackageManager>> = if with_packages {
        package::detect(host).ok()
    } else {
        None
    };
    let mut packages: HashMap<PathBuf, Option<PackageInfo>> = HashMap::new();
    let mut out = Vec::new();
    for (p, inodes) in procs {
        let (kind, unit, socket_units, container, protected) = classify(&p, &ctx);
        let package = match (&pm, &p.exe) {
            (Some(pm), Some(exe)) if may_be_packaged(exe) && kind != OwnerKind::Container => {
                packages
                    .entry(exe.clone())
                    .or_insert_with(|| lookup_package(host, pm.as_ref(), exe))
                    .clone()
            }
            _ => None,
        };
        let sockets = listeners
            .iter()
            .filter(|l| inodes.contains(&l.inode))
            .map(Listener::describe)
            .collect();
        out.push(PortOwner {
            pid: p.pid(),
            ppid: p.stat.ppid,
            name: p.stat.comm.clone(),
            exe_deleted: p.exe_deleted,
            cmdline: p.cmdline.clone(),
            uid: p.uid,
            user: p.uid.and_then(|u| users.get(&u).cloned()),
            start_time: p.stat.start_time,
            started_at: match (btime, ticks) {
                (Some(b), Some(t)) => b.checked_add(p.stat.start_time / t),
                _ => None,
            },
            state: p.stat.state,
            cgroup: p.cgroup.clone(),
            sockets,
            inodes,
            kind,
            unit,
            socket_units,
            container,
            package,
            protected,
            exe: p.exe,
        });
    }
    out
}

/// The package owning `exe`, with its details; `None` when none does or the lookup fails
/// (logged).
pub fn lookup_package(host: &Host, pm: &dyn PackageManager, exe: &Path) -> Option<PackageInfo> {
    let name = match pm.owner(host, exe) {
        Ok(Some(n)) => n,
        Ok(None) => return None,
        Err(e) => {
            log::info!("port: {} owner of {}: {e}", pm.name(), exe.display());
            return None;
        }
    };
    match pm.info(host, &name) {
        Ok(Some(i)) => Some(i),
        Ok(None) => None,
        Err(e) => {
            log::info!("port: {} info {name}: {e}", pm.name());
            None
        }
    }
}

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
    use crate::process::ProcStat;

    fn proc_(pid: i32, ppid: i32, comm: &str, exe: &str, cgroup: &str) -> Process {
        Process {
            stat: ProcStat {
                pid,
                comm: comm.into(),
                state: 'S',
                ppid,
                start_time: 100,
                flags: 0,
            },
            exe: Some(exe.into()),
            exe_deleted: false,
            cmdline: vec![exe.into()],
            uid: Some(0),
            cgroup: Some(cgroup.into()),
        }
    }

    fn ctx(systemd: bool) -> Context {
        Context {
            port: 80,
            proto: Some(Proto::Tcp),
            systemd,
            caller: vec![4000, 3999],
            socket_units: parse_list_sockets(
                "[::]:80 Stream web.socket web.service\n/run/x.sock Stream x.socket x.service\n",
            ),
            containers: None,
        }
    }

    #[test]
    fn list_sockets_with_and_without_types() {
        let v = parse_list_sockets(
            "[::]:22  Stream  ssh.socket  ssh.service\n\
             /run/dbus/system_bus_socket dbus.socket dbus.service\n\
             0.0.0.0:53 Datagram dns.socket dns.service, dns2.service\n",
        );
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].port(), Some(22));
        assert!(v[0].matches(22, Proto::Tcp));
        assert_eq!(v[1].socket_type, None);
        assert_eq!(v[1].port(), None);
        assert!(v[2].matches(53, Proto::Udp) && !v[2].matches(53, Proto::Tcp));
        assert_eq!(v[2].activates, vec!["dns.service", "dns2.service"]);
    }

    #[test]
    fn classification() {
        let c = ctx(true);
        let (k, u, s, _, p) = classify(
            &proc_(
                812,
                1,
                "nginx",
                "/usr/sbin/nginx",
                "/system.slice/nginx.service",
            ),
            &c,
        );
        assert_eq!(k, OwnerKind::Service);
        assert_eq!(u.as_deref(), Some("nginx.service"));
        assert!(s.is_empty() && p.is_none());

        let (k, _, s, _, p) = classify(
            &proc_(1, 0, "systemd", "/usr/lib/systemd/systemd", "/init.scope"),
            &c,
        );
        assert_eq!(k, OwnerKind::SocketActivated);
        assert_eq!(s, vec!["web.socket"]);
        assert!(p.unwrap().contains("PID 1"));
        let (k, ..) = classify(&proc_(1, 0, "init", "/sbin/init", "/"), &ctx(false));
        assert_eq!(k, OwnerKind::Init);

        let (k, _, s, _, _) = classify(
            &proc_(900, 1, "web", "/usr/bin/web", "/system.slice/web.service"),
            &c,
        );
        assert_eq!(k, OwnerKind::Service);
        assert_eq!(s, vec!["web.socket"]);

        let (k, u, ..) = classify(
            &proc_(
                901,
                800,
                "python3",
                "/usr/bin/python3.11",
                "/user.slice/user-0.slice/session-3.scope",
            ),
            &c,
        );
        assert_eq!(k, OwnerKind::Process);
        assert_eq!(u.as_deref(), Some("session-3.scope"));
        let (k, ..) = classify(
            &proc_(
                902,
                800,
                "app",
                "/usr/bin/app",
                "/user.slice/user-1000.slice/user@1000.service/app.slice/app.service",
            ),
            &c,
        );
        assert_eq!(k, OwnerKind::Process, "a user unit is not a system service");

        let (_, _, _, _, p) = classify(&proc_(3999, 1, "bash", "/usr/bin/bash", "/"), &c);
        assert!(p.unwrap().contains("caller"));
        let (_, _, _, _, p) = classify(
            &proc_(
                700,
                1,
                "sshd",
                "/usr/sbin/sshd",
                "/system.slice/ssh.service",
            ),
            &c,
        );
        assert!(p.unwrap().contains("sshd"));
        let (_, _, _, _, p) = classify(
            &proc_(
                701,
                1,
                "dockerd",
                "/usr/bin/dockerd",
                "/system.slice/docker.service",
            ),
            &c,
        );
        assert!(p.unwrap().contains("container engine"));

        let mut dp = proc_(
            702,
            701,
            "docker-proxy",
            "/usr/bin/docker-proxy",
            "/system.slice/docker.service",
        );
        dp.cmdline = "docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 80 -container-ip 172.17.0.2 -container-port 80"
            .split(' ')
            .map(String::from)
            .collect();
        let mut c2 = c.clone();
        c2.containers = Some(
            crate::engine::parse_ps(
                r#"{"ID":"abc","Names":"web","State":"running","Status":"Up","Ports":"0.0.0.0:80->80/tcp"}"#,
            )
            .unwrap(),
        );
        let (k, _, _, cont, p) = classify(&dp, &c2);
        assert_eq!(k, OwnerKind::Container);
        assert_eq!(cont.unwrap().stop_command, "docker stop web");
        assert!(p.unwrap().contains("docker stop web"));

        let id = "3f4e5a6b7c8d9e0f3f4e5a6b7c8d9e0f3f4e5a6b7c8d9e0f3f4e5a6b7c8d9e0f";
        let (k, _, _, cont, _) = classify(
            &proc_(
                703,
                702,
                "nginx",
                "/usr/sbin/nginx",
                &format!("/system.slice/docker-{id}.scope"),
            ),
            &c,
        );
        assert_eq!(k, OwnerKind::Container);
        assert_eq!(cont.unwrap().id.as_deref(), Some(id));

        let mut kt = proc_(50, 2, "kworker", "/", "/");
        kt.stat.flags = crate::process::PF_KTHREAD;
        assert!(classify(&kt, &c).4.unwrap().contains("kernel thread"));
    }

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

    #[test]
    fn passwd_and_btime() {
        let p = parse_passwd(
            "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\n",
        );
        assert_eq!(p.get(&33).map(String::as_str), Some("www-data"));
        assert_eq!(
            parse_btime("cpu 1 2\nbtime 1700000000\n"),
            Some(1_700_000_000)
        );
        assert!(!may_be_packaged(Path::new("/usr/local/bin/x")));
        assert!(!may_be_packaged(Path::new("/home/u/bin/x")));
        assert!(!may_be_packaged(Path::new("/work/target/release/x")));
        assert!(may_be_packaged(Path::new("/usr/sbin/nginx")));
        assert!(may_be_packaged(Path::new("/opt/vendor/bin/tool")));
        assert!(!may_be_packaged(Path::new("/library/x")));
    }
}
