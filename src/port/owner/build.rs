//! Builds the owners of the sockets a walk found: reads each holding process, gathers
//! what classification needs once (socket units, containers, users, boot time), and
//! looks up the package of each executable.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::classify::{Context, classify, is_docker_proxy};
use super::sockets::{LIST_SOCKETS_ARGS, parse_list_sockets};
use super::{OwnerKind, PortOwner};
use crate::engine::EngineKind;
use crate::host::{Cmd, Host, InitSystem};
use crate::package::{self, PackageInfo, PackageManager};
use crate::port::docker;
use crate::port::scan::FdScan;
use crate::port::table::{Listener, Proto};
use crate::process::{self, Process};
use crate::protect;

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
    engine: Option<EngineKind>,
) -> Vec<PortOwner> {
    let procs: Vec<(Process, Vec<u64>)> = scan
        .holders
        .iter()
        .filter_map(|(pid, inodes)| Some((Process::read(host, *pid)?, inodes.clone())))
        .collect();
    if procs.is_empty() {
        return Vec::new();
    }
    let ctx = lookup_context(host, &procs, (port, proto), engine);
    let facts = HostFacts::read(host);
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
            user: p.uid.and_then(|u| facts.users.get(&u).cloned()),
            start_time: p.stat.start_time,
            started_at: facts.started_at(p.stat.start_time),
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

/// What classification needs to know about the host, gathered once for the processes
/// holding the port: `systemctl list-sockets` only when one may be a service or PID 1,
/// `docker ps` only when one may be a container's.
fn lookup_context(
    host: &Host,
    procs: &[(Process, Vec<u64>)],
    (port, proto): (u16, Proto),
    engine: Option<EngineKind>,
) -> Context {
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
            || docker::is_rootlessport(&p.stat.comm, p.exe.as_deref())
            || crate::engine::conmon_container_id(&p.cmdline).is_some()
            || p.cgroup
                .as_deref()
                .and_then(process::container_id_from_cgroup)
                .is_some()
    });
    if wants_docker {
        if let Some((kind, list)) = docker::engine_ps(host, engine) {
            ctx.engine = Some(kind);
            ctx.containers = Some(list);
        }
    }
    ctx
}

/// The host facts an owner's user and start time are read with; each missing one leaves
/// its field unknown.
struct HostFacts {
    /// uid → name from `/etc/passwd`.
    users: HashMap<u32, String>,
    /// The boot time from `/proc/stat`.
    btime: Option<u64>,
    /// Clock ticks per second.
    ticks: Option<u64>,
}

impl HostFacts {
    fn read(host: &Host) -> Self {
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
        HostFacts {
            users,
            btime,
            ticks,
        }
    }

    /// A start time in clock ticks since boot, in seconds since the epoch.
    fn started_at(&self, start_time: u64) -> Option<u64> {
        match (self.btime, self.ticks) {
            (Some(b), Some(t)) => b.checked_add(start_time / t),
            _ => None,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
