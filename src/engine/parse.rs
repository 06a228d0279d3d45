//! Pure parsers of what the `docker` CLI prints: `container inspect` and `ps -a` as
//! `--format '{{json .}}'`, `info`'s `LiveRestoreEnabled`, and the host ports an engine
//! error names as taken.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What state the engine says a container is in (`State.Status`, `docker ps` `State`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Created, never started (or its start failed).
    Created,
    /// Running.
    Running,
    /// Frozen by `docker pause`.
    Paused,
    /// Being restarted by its restart policy.
    Restarting,
    /// Being removed.
    Removing,
    /// Exited.
    Exited,
    /// Dead: the engine tried to remove or stop it and failed half way.
    Dead,
    /// A state this version of hostfix does not know.
    Other(String),
}

impl Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Status {
    /// Parses the engine's word for a state. Podman's own words map to the state
    /// hostfix acts on: `stopped` (exited, not yet cleaned up) is exited, `configured`
    /// and `initialized` (never started) are created, `stopping` is still running.
    pub fn parse(s: &str) -> Status {
        match s.trim().to_ascii_lowercase().as_str() {
            "created" | "configured" | "initialized" => Status::Created,
            "running" | "up" | "stopping" => Status::Running,
            "stopped" => Status::Exited,
            "paused" => Status::Paused,
            "restarting" => Status::Restarting,
            "removing" => Status::Removing,
            "exited" => Status::Exited,
            "dead" => Status::Dead,
            other => Status::Other(other.to_string()),
        }
    }

    /// The engine's word for it.
    pub fn as_str(&self) -> &str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
            Status::Other(s) => s,
        }
    }

    /// Whether the engine thinks the container may have a live process (running, paused,
    /// restarting, being removed): stopping it means signalling that process.
    pub fn is_live(&self) -> bool {
        matches!(
            self,
            Status::Running | Status::Paused | Status::Restarting | Status::Removing
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A host port a container publishes (`HostConfig.PortBindings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishedPort {
    /// The host address (`0.0.0.0`, `127.0.0.1`; empty means every address).
    pub host_ip: String,
    /// The host port.
    pub host_port: u16,
    /// The container's port (`80`).
    pub container_port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub proto: String,
}

impl fmt::Display for PublishedPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ip = if self.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &self.host_ip
        };
        write!(
            f,
            "{ip}:{}->{}/{}",
            self.host_port, self.container_port, self.proto
        )
    }
}

/// One container as `docker container inspect` describes it (the fields hostfix uses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerInfo {
    /// The full id (64 hex digits).
    pub id: String,
    /// The name, without the leading `/`.
    pub name: String,
    /// `State.Status`.
    pub status: Status,
    /// `State.Running`.
    pub running: bool,
    /// `State.Paused`.
    pub paused: bool,
    /// `State.Restarting`.
    pub restarting: bool,
    /// `State.Dead`.
    pub dead: bool,
    /// `State.Pid` on the host (0 when none).
    pub pid: i32,
    /// `State.ConmonPid`: the host pid of the container's `conmon` (Podman only; 0 when
    /// none or under Docker).
    pub conmon_pid: i32,
    /// `State.ExitCode`.
    pub exit_code: i64,
    /// `State.Error`: why the engine could not start or stop it, in its own words.
    pub error: String,
    /// `State.OOMKilled`: its last run ended with the kernel's OOM killer.
    pub oom_killed: bool,
    /// `State.FinishedAt`: when its last run ended (RFC 3339; empty or the zero time when
    /// it never ended).
    pub finished_at: String,
    /// `RestartCount`.
    pub restart_count: u64,
    /// `HostConfig.RestartPolicy.Name` (`no`, `always`, `unless-stopped`, `on-failure`).
    pub restart_policy: String,
    /// `HostConfig.PortBindings`: host ports it publishes.
    pub published: Vec<PublishedPort>,
}

impl ContainerInfo {
    /// What `docker ps` alone tells of a container (when an inspect of it hangs).
    pub fn from_ps(e: &PsEntry) -> ContainerInfo {
        ContainerInfo {
            id: e.id.clone(),
            name: e.name().to_string(),
            running: e.state.is_live(),
            paused: e.state == Status::Paused,
            restarting: e.state == Status::Restarting,
            dead: e.state == Status::Dead,
            status: e.state.clone(),
            pid: 0,
            conmon_pid: 0,
            exit_code: 0,
            error: String::new(),
            oom_killed: false,
            finished_at: String::new(),
            restart_count: 0,
            restart_policy: String::new(),
            published: Vec::new(),
        }
    }

    /// The first 12 hex digits of the id, as `docker ps` shows it.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))] // used by hostfix::testing
    pub fn short_id(&self) -> &str {
        short_id(&self.id)
    }
}

/// The first 12 characters of a container id.
pub fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

#[derive(Deserialize)]
struct WireInspect {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Name", default)]
    name: String,
    #[serde(rename = "State", default)]
    state: WireState,
    #[serde(rename = "RestartCount", default)]
    restart_count: u64,
    #[serde(rename = "HostConfig", default)]
    host_config: WireHostConfig,
}

#[derive(Deserialize, Default)]
struct WireState {
    #[serde(rename = "Status", default)]
    status: String,
    #[serde(rename = "Running", default)]
    running: bool,
    #[serde(rename = "Paused", default)]
    paused: bool,
    #[serde(rename = "Restarting", default)]
    restarting: bool,
    #[serde(rename = "Dead", default)]
    dead: bool,
    #[serde(rename = "Pid", default)]
    pid: i64,
    #[serde(rename = "ConmonPid", default)]
    conmon_pid: i64,
    #[serde(rename = "ExitCode", default)]
    exit_code: i64,
    #[serde(rename = "Error", default)]
    error: String,
    #[serde(rename = "OOMKilled", default)]
    oom_killed: bool,
    #[serde(rename = "FinishedAt", default)]
    finished_at: String,
}

#[derive(Deserialize, Default)]
struct WireHostConfig {
    #[serde(rename = "PortBindings", default)]
    port_bindings: Option<BTreeMap<String, Option<Vec<WireBinding>>>>,
    #[serde(rename = "RestartPolicy", default)]
    restart_policy: Option<WireRestartPolicy>,
}

#[derive(Deserialize)]
struct WireBinding {
    #[serde(rename = "HostIp", default)]
    host_ip: String,
    #[serde(rename = "HostPort", default)]
    host_port: String,
}

#[derive(Deserialize)]
struct WireRestartPolicy {
    #[serde(rename = "Name", default)]
    name: String,
}

/// Parses `docker container inspect --format '{{json .}}'`: one JSON object per line, one
/// line per container asked for. A bare JSON array (`docker inspect` without `--format`,
/// and `podman container inspect`, whose objects have the same shape plus
/// `State.ConmonPid`) is read too.
///
/// # Errors
/// [`Error::Parse`] naming the line that is not a container object.
pub fn parse_inspect(text: &str) -> Result<Vec<ContainerInfo>> {
    let t = text.trim();
    if t.starts_with('[') {
        let all: Vec<WireInspect> = serde_json::from_str(t)
            .map_err(|e| Error::parse("docker container inspect output", e.to_string()))?;
        return all.into_iter().map(from_wire).collect();
    }
    t.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, line)| {
            let w: WireInspect = serde_json::from_str(line).map_err(|e| {
                Error::parse(
                    format!("docker container inspect output line {}", i + 1),
                    e.to_string(),
                )
            })?;
            from_wire(w)
        })
        .collect()
}

fn from_wire(w: WireInspect) -> Result<ContainerInfo> {
    if !is_full_id(&w.id) {
        return Err(Error::parse(
            "docker container inspect output",
            format!("Id {:?} is not a 64-digit hex id", w.id),
        ));
    }
    let mut published = Vec::new();
    for (key, bindings) in w.host_config.port_bindings.unwrap_or_default() {
        let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        // A range ("8000-8010/tcp") publishes each port; hostfix reports the first.
        let container_port = port.split('-').next().and_then(|p| p.parse().ok());
        for b in bindings.unwrap_or_default() {
            let host_port = b.host_port.split('-').next().and_then(|p| p.parse().ok());
            if let (Some(host_port), Some(container_port)) = (host_port, container_port) {
                published.push(PublishedPort {
                    host_ip: b.host_ip,
                    host_port,
                    container_port,
                    proto: proto.to_string(),
                });
            }
        }
    }
    Ok(ContainerInfo {
        name: w.name.trim_start_matches('/').to_string(),
        status: Status::parse(&w.state.status),
        running: w.state.running,
        paused: w.state.paused,
        restarting: w.state.restarting,
        dead: w.state.dead,
        pid: i32::try_from(w.state.pid).unwrap_or(0),
        conmon_pid: i32::try_from(w.state.conmon_pid).unwrap_or(0),
        exit_code: w.state.exit_code,
        error: w.state.error,
        oom_killed: w.state.oom_killed,
        finished_at: w.state.finished_at,
        restart_count: w.restart_count,
        restart_policy: w
            .host_config
            .restart_policy
            .map(|p| p.name)
            .unwrap_or_default(),
        published,
        id: w.id,
    })
}

/// One line of `docker ps -a --no-trunc --format '{{json .}}'`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PsEntry {
    /// The full id (with `--no-trunc`).
    pub id: String,
    /// The names, comma-separated by the engine; the first is the container's own.
    pub names: Vec<String>,
    /// The image.
    pub image: String,
    /// The state (`State`).
    pub state: Status,
    /// The engine's status text (`Up 2 minutes`, `Removal In Progress`, `Restarting (1) 5
    /// seconds ago`).
    pub status: String,
    /// The published ports as the engine prints them.
    pub ports: String,
}

impl PsEntry {
    /// The container's name (the first of its names).
    pub fn name(&self) -> &str {
        self.names.first().map_or(self.id.as_str(), String::as_str)
    }
}

#[derive(Deserialize)]
struct WirePs {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "Names", default)]
    names: String,
    #[serde(rename = "Image", default)]
    image: String,
    #[serde(rename = "State", default)]
    state: String,
    #[serde(rename = "Status", default)]
    status: String,
    #[serde(rename = "Ports", default)]
    ports: String,
}

/// Parses `docker ps -a --no-trunc --format '{{json .}}'` (one JSON object per line).
///
/// Engines before 20.10 print no `State` field; the state is then taken from the status
/// text (`Up ...` → running, `Exited ...`, `Created`, `Dead`, `Removal In Progress`,
/// `Restarting ...`, `... (Paused)`).
///
/// # Errors
/// [`Error::Parse`] naming the line that is not a container object.
pub fn parse_ps(text: &str) -> Result<Vec<PsEntry>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, line)| {
            let w: WirePs = serde_json::from_str(line).map_err(|e| {
                Error::parse(format!("docker ps output line {}", i + 1), e.to_string())
            })?;
            let state = if w.state.is_empty() {
                state_from_status_text(&w.status)
            } else {
                Status::parse(&w.state)
            };
            Ok(PsEntry {
                id: w.id,
                names: w
                    .names
                    .split(',')
                    .map(|n| n.trim().trim_start_matches('/').to_string())
                    .filter(|n| !n.is_empty())
                    .collect(),
                image: w.image,
                state,
                status: w.status,
                ports: w.ports,
            })
        })
        .collect()
}

/// The state named by a `docker ps` status text.
pub fn state_from_status_text(status: &str) -> Status {
    let s = status.trim();
    if s.ends_with("(Paused)") {
        Status::Paused
    } else if s.starts_with("Up") {
        Status::Running
    } else if s.starts_with("Restarting") {
        Status::Restarting
    } else if s.starts_with("Removal In Progress") {
        Status::Removing
    } else if s.starts_with("Exited") {
        Status::Exited
    } else if s.starts_with("Created") {
        Status::Created
    } else if s.starts_with("Dead") {
        Status::Dead
    } else {
        Status::Other(s.to_string())
    }
}

/// Parses `docker info --format '{{json .LiveRestoreEnabled}}'`.
pub fn parse_live_restore(text: &str) -> Option<bool> {
    match text.trim() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// Whether `s` is a full container id (64 lowercase or uppercase hex digits).
pub fn is_full_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The host ports an engine error names as taken: `listen tcp4 0.0.0.0:80: bind: address
/// already in use` → 80; `Bind for 0.0.0.0:8080 failed: port is already allocated` → 8080.
/// Empty when the error is not about a taken port.
pub fn ports_in_use_from_error(error: &str) -> Vec<u16> {
    let lower = error.to_ascii_lowercase();
    if !(lower.contains("address already in use") || lower.contains("port is already allocated")) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut after_listen = false;
    for token in error.split_whitespace() {
        // Podman's rootful bind error names no address: `listen tcp4 :80: bind: ...`.
        let any_addr_ok = after_listen;
        after_listen = matches!(token, "tcp" | "tcp4" | "tcp6" | "udp" | "udp4" | "udp6");
        let t = token.trim_end_matches([':', ',', '.', ')']);
        let Some((addr, port)) = t.rsplit_once(':') else {
            continue;
        };
        let addr = addr.trim_start_matches('[').trim_end_matches(']');
        let is_addr = (addr.is_empty() && any_addr_ok)
            || (!addr.is_empty()
                && (addr.parse::<std::net::IpAddr>().is_ok() || addr == "localhost"));
        if let (true, Ok(p)) = (is_addr, port.parse::<u16>()) {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_words() {
        assert_eq!(Status::parse("running"), Status::Running);
        assert_eq!(Status::parse("Dead"), Status::Dead);
        assert_eq!(Status::parse("weird"), Status::Other("weird".into()));
        assert!(Status::Paused.is_live());
        assert!(!Status::Exited.is_live());
        assert_eq!(
            state_from_status_text("Up 3 hours (Paused)"),
            Status::Paused
        );
        assert_eq!(
            state_from_status_text("Removal In Progress"),
            Status::Removing
        );
        assert_eq!(
            state_from_status_text("Restarting (1) 5 seconds ago"),
            Status::Restarting
        );
    }

    #[test]
    fn ports_named_by_bind_errors() {
        let e = "driver failed programming external connectivity on endpoint web (b05d): \
                 Error starting userland proxy: listen tcp4 0.0.0.0:80: bind: address already in use";
        assert_eq!(ports_in_use_from_error(e), vec![80]);
        let e = "Bind for 0.0.0.0:8080 failed: port is already allocated";
        assert_eq!(ports_in_use_from_error(e), vec![8080]);
        let e = "listen tcp6 [::]:443: bind: address already in use";
        assert_eq!(ports_in_use_from_error(e), vec![443]);
        assert!(ports_in_use_from_error("OCI runtime create failed: 0.0.0.0:80").is_empty());
        let e = "cannot listen on the TCP port: listen tcp4 :8080: bind: address already in use";
        assert_eq!(ports_in_use_from_error(e), vec![8080]);
        assert!(ports_in_use_from_error("bind :80: address already in use").is_empty());
    }
}
