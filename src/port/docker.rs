//! The container behind a port: `docker-proxy`'s arguments, Podman's `rootlessport` and
//! `conmon` (rootful Podman keeps a published port open in the container's `conmon`),
//! container ids in cgroup paths, and the engine's list of containers.
//!
//! The engine is reached through the one client hostfix has for it, [`crate::engine`]
//! (`docker ps -a` under `timeout`, parsed there); this file only matches what it lists to
//! the port: which container publishes it, its name, and the command that would stop it.

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use super::table::Proto;
use crate::engine::{Engine, EngineKind, PsEntry};
use crate::host::Host;

/// What `docker-proxy` was started with (`-proto tcp -host-ip 0.0.0.0 -host-port 8080
/// -container-ip 172.17.0.2 -container-port 80`; Go flags: `-f v`, `-f=v`, `--f v`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyArgs {
    /// `-proto`.
    pub proto: Option<String>,
    /// `-host-ip`.
    pub host_ip: Option<IpAddr>,
    /// `-host-port`.
    pub host_port: Option<u16>,
    /// `-container-ip`.
    pub container_ip: Option<IpAddr>,
    /// `-container-port`.
    pub container_port: Option<u16>,
}

/// Parses a `docker-proxy` command line (pure).
pub fn parse_proxy_args(cmdline: &[String]) -> ProxyArgs {
    let mut out = ProxyArgs::default();
    let mut it = cmdline.iter().skip(1).peekable();
    while let Some(a) = it.next() {
        let Some(flag) = a.strip_prefix("--").or_else(|| a.strip_prefix('-')) else {
            continue;
        };
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (flag, None),
        };
        let value = match value {
            Some(v) => v,
            None => match it.peek() {
                Some(v) if !v.starts_with('-') => it.next().cloned().unwrap_or_default(),
                _ => continue,
            },
        };
        match name {
            "proto" => out.proto = Some(value),
            "host-ip" => out.host_ip = value.parse().ok(),
            "host-port" => out.host_port = value.parse().ok(),
            "container-ip" => out.container_ip = value.parse().ok(),
            "container-port" => out.container_port = value.parse().ok(),
            _ => {}
        }
    }
    out
}

/// Whether a `docker ps` ports column publishes `port`/`proto` on the host
/// (`0.0.0.0:8080->80/tcp`, `:::8080->80/tcp`, `0.0.0.0:8000-8010->8000-8010/tcp`).
pub fn publishes(ports: &str, port: u16, proto: Proto) -> bool {
    ports.split(',').map(str::trim).any(|p| {
        let Some((host, container)) = p.split_once("->") else {
            return false;
        };
        let Some((_, pr)) = container.rsplit_once('/') else {
            return false;
        };
        if pr != proto.as_str() {
            return false;
        }
        let Some((_, range)) = host.rsplit_once(':') else {
            return false;
        };
        let (lo, hi) = range.split_once('-').unwrap_or((range, range));
        match (lo.parse::<u16>(), hi.parse::<u16>()) {
            (Ok(lo), Ok(hi)) => lo <= port && port <= hi,
            _ => false,
        }
    })
}

/// The container engine a container cgroup path belongs to.
pub fn engine_from_cgroup(cgroup: &str) -> &'static str {
    if cgroup.contains("libpod") {
        "podman"
    } else if cgroup.contains("kubepods") || cgroup.contains("crio") || cgroup.contains("cri-") {
        "crictl"
    } else {
        "docker"
    }
}

/// The container that holds a port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ContainerRef {
    /// The engine's CLI (`docker`, `podman`, `crictl`).
    pub engine: String,
    /// The full container id, when known.
    pub id: Option<String>,
    /// The container's name, when known.
    pub name: Option<String>,
    /// How it was found: `docker-proxy` (the proxy publishing its port) or `cgroup` (a
    /// process in the container's cgroup).
    pub via: String,
    /// Where the proxy forwards to (`172.17.0.2:80`).
    pub forwards_to: Option<String>,
    /// The command that would stop it.
    pub stop_command: String,
}

impl ContainerRef {
    /// `web (3f4e5a6b7c8d)`, `3f4e5a6b7c8d`, or `unknown container`.
    pub fn label(&self) -> String {
        let short = self.id.as_deref().map(crate::engine::short_id);
        match (&self.name, short) {
            (Some(n), Some(i)) => format!("{n} ({i})"),
            (Some(n), None) => n.clone(),
            (None, Some(i)) => i.to_string(),
            (None, None) => "unknown container".into(),
        }
    }
}

/// Builds the reference for a `docker-proxy` process from its arguments and the engine's
/// list (`docker ps -a`): the live container that publishes the port.
pub fn from_proxy(
    cmdline: &[String],
    port: u16,
    proto: Proto,
    ps: Option<&[PsEntry]>,
) -> ContainerRef {
    let args = parse_proxy_args(cmdline);
    let hit = ps.and_then(|rows| {
        rows.iter()
            .find(|r| r.state.is_live() && publishes(&r.ports, port, proto))
    });
    let forwards_to = match (args.container_ip, args.container_port) {
        (Some(ip), Some(p)) => Some(std::net::SocketAddr::new(ip, p).to_string()),
        _ => None,
    };
    let stop_command = match hit {
        Some(r) => format!("docker stop {}", r.name()),
        None => format!("docker stop $(docker ps -q --filter publish={port}/{proto})"),
    };
    ContainerRef {
        engine: "docker".into(),
        id: hit.map(|r| r.id.clone()),
        name: hit.map(|r| r.name().to_string()),
        via: "docker-proxy".into(),
        forwards_to,
        stop_command,
    }
}

/// Whether a process is Podman's `rootlessport`, which publishes a rootless container's
/// ports on the host.
pub fn is_rootlessport(name: &str, exe: Option<&std::path::Path>) -> bool {
    name.starts_with("rootlessport")
        || exe.is_some_and(|e| e.file_name().is_some_and(|n| n == "rootlessport"))
}

/// Builds the reference for Podman's `rootlessport` holding a port: the live container
/// `podman ps` says publishes it.
pub fn from_rootlessport(port: u16, proto: Proto, ps: Option<&[PsEntry]>) -> ContainerRef {
    let hit = ps.and_then(|rows| {
        rows.iter()
            .find(|r| r.state.is_live() && publishes(&r.ports, port, proto))
    });
    ContainerRef {
        engine: "podman".into(),
        id: hit.map(|r| r.id.clone()),
        name: hit.map(|r| r.name().to_string()),
        via: "rootlessport".into(),
        forwards_to: None,
        stop_command: match hit {
            Some(r) => format!("podman stop {}", r.name()),
            None => format!("podman stop $(podman ps -q --filter publish={port}/{proto})"),
        },
    }
}

/// Builds the reference for a container's `conmon` holding a port (rootful Podman keeps
/// each published port open there), from the id on its command line.
pub fn from_conmon(id: &str, ps: Option<&[PsEntry]>) -> ContainerRef {
    let mut r = from_cgroup(id, "libpod", ps);
    r.via = "conmon".into();
    r
}

/// Builds the reference for a process in a container's cgroup; `ps` is the list of the
/// engine the cgroup names (its names are used only when it lists the id).
pub fn from_cgroup(id: &str, cgroup: &str, ps: Option<&[PsEntry]>) -> ContainerRef {
    let engine = engine_from_cgroup(cgroup);
    let name = ps
        .and_then(|rows| rows.iter().find(|r| r.id == id))
        .map(|r| r.name().to_string());
    let short = crate::engine::short_id(id);
    ContainerRef {
        engine: engine.into(),
        id: Some(id.to_string()),
        stop_command: format!("{engine} stop {}", name.as_deref().unwrap_or(short)),
        name,
        via: "cgroup".into(),
        forwards_to: None,
    }
}

/// How long the engine's list may take before the lookup goes on without names.
const LIST_LIMIT: Duration = Duration::from_secs(10);

/// The engine's containers (`docker ps -a` or `podman ps -a` through [`Engine::list`])
/// and which engine listed them: the `choice`, or the engine detected. Docker is asked
/// only when its daemon socket exists. `None` when there is no engine, or it does not
/// answer (the reference then carries the id only; why is logged, in the engine's
/// words). Podman lists the containers of the user hostfix runs as: run as root, a
/// rootless user's containers are named by id only.
pub fn engine_ps(host: &Host, choice: Option<EngineKind>) -> Option<(EngineKind, Vec<PsEntry>)> {
    let mut engine = match Engine::locate(host, choice) {
        Ok(e) => e,
        Err(e) => {
            log::info!("port: {e}");
            return None;
        }
    };
    if engine.kind == EngineKind::Docker
        && !host.path("/run/docker.sock").exists()
        && !host.path("/var/run/docker.sock").exists()
    {
        return None;
    }
    engine.limits.command = LIST_LIMIT;
    match engine.list(host) {
        Ok(list) => Some((engine.kind, list)),
        Err(e) => {
            log::info!("port: the container engine's list: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    /// `docker ps -a --no-trunc --format '{{json .}}'` lines: (id, name, state, ports).
    fn ps(rows: &[(&str, &str, &str, &str)]) -> Vec<PsEntry> {
        let text: String = rows
            .iter()
            .map(|(id, name, state, ports)| {
                format!(
                    "{}\n",
                    serde_json::json!({"ID": id, "Names": name, "Image": "busybox",
                        "State": state, "Status": "", "Ports": ports})
                )
            })
            .collect();
        crate::engine::parse_ps(&text).unwrap()
    }

    #[test]
    fn proxy_args_all_spellings() {
        let a = parse_proxy_args(&v(
            "/usr/bin/docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 8080 \
             -container-ip 172.17.0.2 -container-port 80 -use-listen-fd",
        ));
        assert_eq!(a.proto.as_deref(), Some("tcp"));
        assert_eq!(a.host_port, Some(8080));
        assert_eq!(a.container_ip, Some("172.17.0.2".parse().unwrap()));
        assert_eq!(a.container_port, Some(80));
        let b = parse_proxy_args(&v("docker-proxy --host-port=443 -container-port=8443"));
        assert_eq!((b.host_port, b.container_port), (Some(443), Some(8443)));
    }

    #[test]
    fn ps_rows_and_published_ports() {
        let all = ps(&[
            // Only a live container can be the one docker-proxy forwards to.
            ("5c5c", "web-old", "exited", "0.0.0.0:8080->80/tcp"),
            (
                "3f4e",
                "web",
                "running",
                "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp",
            ),
            ("9a9a", "db", "running", "5432/tcp"),
            (
                "7b7b",
                "range",
                "running",
                "0.0.0.0:8000-8010->8000-8010/udp",
            ),
        ]);
        let rows = &all[1..];
        assert_eq!(rows.len(), 3);
        assert!(publishes(&rows[0].ports, 8080, Proto::Tcp));
        assert!(!publishes(&rows[0].ports, 8080, Proto::Udp));
        assert!(!publishes(&rows[1].ports, 5432, Proto::Tcp));
        assert!(publishes(&rows[2].ports, 8005, Proto::Udp));
        assert!(publishes(":::8080->80/tcp", 8080, Proto::Tcp));
        let c = from_proxy(
            &v(
                "docker-proxy -proto tcp -host-port 8080 -container-ip 172.17.0.2 -container-port 80",
            ),
            8080,
            Proto::Tcp,
            Some(&all),
        );
        assert_eq!(c.name.as_deref(), Some("web"));
        assert_eq!(c.stop_command, "docker stop web");
        assert_eq!(c.forwards_to.as_deref(), Some("172.17.0.2:80"));
        let unknown = from_proxy(&v("docker-proxy -host-port 81"), 81, Proto::Tcp, None);
        assert_eq!(
            unknown.stop_command,
            "docker stop $(docker ps -q --filter publish=81/tcp)"
        );
        assert_eq!(unknown.label(), "unknown container");
    }

    #[test]
    fn cgroup_containers() {
        let id = "3f4e5a6b7c8d9e0f3f4e5a6b7c8d9e0f3f4e5a6b7c8d9e0f3f4e5a6b7c8d9e0f";
        let rows = ps(&[(id, "web", "running", "")]);
        let c = from_cgroup(id, &format!("/system.slice/docker-{id}.scope"), Some(&rows));
        assert_eq!(c.stop_command, "docker stop web");
        assert_eq!(c.label(), "web (3f4e5a6b7c8d)");
        let p = from_cgroup(id, &format!("/machine.slice/libpod-{id}.scope"), None);
        assert_eq!(p.stop_command, "podman stop 3f4e5a6b7c8d");
        let p = from_conmon(id, Some(&rows));
        assert_eq!((p.engine.as_str(), p.via.as_str()), ("podman", "conmon"));
        assert_eq!(p.stop_command, "podman stop web");
    }

    #[test]
    fn rootlessport_names_the_publishing_container() {
        let rows = ps(&[
            ("aa", "old", "exited", "0.0.0.0:8080->80/tcp"),
            ("bb", "web", "running", "0.0.0.0:8080->80/tcp"),
        ]);
        let r = from_rootlessport(8080, Proto::Tcp, Some(&rows));
        assert_eq!(r.label(), "web (bb)");
        assert_eq!(r.stop_command, "podman stop web");
        assert!(is_rootlessport("rootlessport", None));
        assert!(is_rootlessport(
            "exe",
            Some(std::path::Path::new("/usr/libexec/podman/rootlessport"))
        ));
        let none = from_rootlessport(81, Proto::Tcp, Some(&rows));
        assert_eq!(
            none.stop_command,
            "podman stop $(podman ps -q --filter publish=81/tcp)"
        );
    }
}
