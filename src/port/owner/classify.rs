//! What runs a process holding a port (pure): init, a socket unit, a service, a
//! container, any other process, and why it is protected.

use std::path::Path;

use super::OwnerKind;
use super::sockets::SocketUnit;
use crate::engine::PsEntry;
use crate::port::docker::{self, ContainerRef};
use crate::port::table::Proto;
use crate::process::{self, Process};
use crate::protect;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::owner::parse_list_sockets;
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
    fn classification_of_units() {
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
    }

    #[test]
    fn classification_protects() {
        let c = ctx(true);
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

        let mut kt = proc_(50, 2, "kworker", "/", "/");
        kt.stat.flags = crate::process::PF_KTHREAD;
        assert!(classify(&kt, &c).4.unwrap().contains("kernel thread"));
    }

    #[test]
    fn classification_of_containers() {
        let c = ctx(true);
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
    }
}
