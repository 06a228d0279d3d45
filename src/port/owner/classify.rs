//! What runs a process holding a port (pure): init, a socket unit, a service, a
//! container, any other process, and why it is protected.

use std::path::Path;

use super::OwnerKind;
use super::sockets::SocketUnit;
use crate::engine::{EngineKind, PsEntry, conmon_container_id};
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
    /// The engine's containers (`docker ps -a`, `podman ps -a`), when it answers.
    pub containers: Option<Vec<PsEntry>>,
    /// The engine that listed [`Context::containers`] (`None`: Docker).
    pub engine: Option<EngineKind>,
}

impl Context {
    /// The containers listed by `engine` (`docker`, `podman`), if that engine listed them.
    fn listed_by(&self, engine: &str) -> Option<&[PsEntry]> {
        self.containers
            .as_deref()
            .filter(|_| self.engine.unwrap_or_default().as_str() == engine)
    }
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
            ctx.listed_by("docker"),
        ));
        OwnerKind::Container
    } else if docker::is_rootlessport(name, exe) {
        let ps = ctx.listed_by("podman");
        container = Some(docker::from_rootlessport(ctx.port, proto, ps));
        OwnerKind::Container
    } else if let Some(id) = conmon_container_id(&p.cmdline) {
        container = Some(docker::from_conmon(&id, ctx.listed_by("podman")));
        OwnerKind::Container
    } else if let Some(id) = process::container_id_from_cgroup(cg) {
        let ps = ctx.listed_by(docker::engine_from_cgroup(cg));
        container = Some(docker::from_cgroup(&id, cg, ps));
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
                via_proxy: c.via != "cgroup",
                via: &c.via,
                engine: &c.engine,
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
            engine: None,
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
    fn podman_holders_name_their_container() {
        let id = "6a1b9c0d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b";
        let mut c = ctx(true);
        c.engine = Some(EngineKind::Podman);
        c.containers = Some(
            crate::engine::parse_podman_ps(&format!(
                r#"[{{"Id":"{id}","Names":["web"],"State":"running","Ports":[{{"host_ip":"","container_port":80,"host_port":80,"range":1,"protocol":"tcp"}}]}}]"#
            ))
            .unwrap(),
        );
        // Rootful: conmon keeps the published port open, in its libpod-conmon scope.
        let mut conmon = proc_(
            900,
            1,
            "conmon",
            "/usr/bin/conmon",
            &format!("/machine.slice/libpod-conmon-{id}.scope"),
        );
        conmon.cmdline = format!("/usr/bin/conmon --api-version 1 -c {id} -u {id} -n web")
            .split(' ')
            .map(String::from)
            .collect();
        let (k, _, _, cont, p) = classify(&conmon, &c);
        assert_eq!(k, OwnerKind::Container);
        let cont = cont.unwrap();
        assert_eq!(
            (cont.engine.as_str(), cont.via.as_str()),
            ("podman", "conmon")
        );
        assert_eq!(cont.name.as_deref(), Some("web"));
        let p = p.unwrap();
        assert!(
            p.contains("(podman)") && p.ends_with("podman stop web"),
            "{p}"
        );
        // Rootless: rootlessport holds it.
        let rp = proc_(
            901,
            1,
            "rootlessport",
            "/usr/libexec/podman/rootlessport",
            "/user.slice",
        );
        let (_, _, _, cont, p) = classify(&rp, &c);
        assert_eq!(cont.unwrap().stop_command, "podman stop web");
        assert!(p.unwrap().contains("rootlessport publishes the port"));
        // Docker's list never names a podman container.
        let mut d = c.clone();
        d.engine = Some(EngineKind::Docker);
        let (_, _, _, cont, _) = classify(&conmon, &d);
        assert_eq!(cont.unwrap().stop_command, "podman stop 6a1b9c0d8e7f");
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
