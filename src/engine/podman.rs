//! Pure parsers of what Podman prints and runs: `podman ps --all --format json` (one JSON
//! array; `podman container inspect` shares Docker's shape and `parse_inspect`), and the
//! container id on a `conmon` command line.

use serde::Deserialize;

use super::parse::{PsEntry, Status};
use crate::error::{Error, Result};

#[derive(Deserialize)]
struct WirePodmanPs {
    #[serde(rename = "Id", alias = "ID")]
    id: String,
    #[serde(rename = "Names", default)]
    names: Option<Vec<String>>,
    #[serde(rename = "Image", default)]
    image: String,
    /// A word (`running`); very old Podman printed a number.
    #[serde(rename = "State", default)]
    state: serde_json::Value,
    #[serde(rename = "Status", default)]
    status: String,
    #[serde(rename = "Ports", default)]
    ports: Option<Vec<WirePort>>,
}

/// One published port: `host_ip`, `host_port`, `container_port`, `range`, `protocol`
/// (Podman 4 and later); Podman 3 spelled them `hostIP`, `hostPort`, `containerPort`.
#[derive(Deserialize)]
struct WirePort {
    #[serde(default, alias = "hostIP")]
    host_ip: String,
    #[serde(default, alias = "hostPort")]
    host_port: u16,
    #[serde(default, alias = "containerPort")]
    container_port: u16,
    #[serde(default)]
    range: u16,
    #[serde(default)]
    protocol: String,
}

impl WirePort {
    /// As `docker ps` prints a port (`0.0.0.0:8080->80/tcp`, a range
    /// `0.0.0.0:8000-8002->80-82/tcp`), so one matcher reads both engines; `None` for a
    /// port published on no host port.
    fn docker_text(&self) -> Option<String> {
        if self.host_port == 0 {
            return None;
        }
        let ip = if self.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &self.host_ip
        };
        let ip = if ip.contains(':') {
            format!("[{ip}]")
        } else {
            ip.to_string()
        };
        let proto = if self.protocol.is_empty() {
            "tcp"
        } else {
            &self.protocol
        };
        let span = u32::from(self.range.max(1)) - 1;
        let end = |p: u16| u16::try_from(u32::from(p) + span).unwrap_or(u16::MAX);
        Some(if span == 0 {
            format!("{ip}:{}->{}/{proto}", self.host_port, self.container_port)
        } else {
            format!(
                "{ip}:{}-{}->{}-{}/{proto}",
                self.host_port,
                end(self.host_port),
                self.container_port,
                end(self.container_port)
            )
        })
    }
}

/// The state of a Podman container ([`Status::parse`] knows Podman's words).
fn podman_state(v: &serde_json::Value) -> Status {
    match v.as_str() {
        Some(s) => Status::parse(s),
        None => Status::Other(v.to_string()),
    }
}

/// Parses `podman ps --all --format json`: one JSON array of containers (`[]`, or
/// `null` from some versions, when there are none). Ports are given back as `docker ps`
/// prints them.
///
/// # Errors
/// [`Error::Parse`] when the text is not such an array, or a container has no id.
pub fn parse_podman_ps(text: &str) -> Result<Vec<PsEntry>> {
    let t = text.trim();
    if t.is_empty() || t == "null" {
        return Ok(Vec::new());
    }
    let rows: Vec<WirePodmanPs> = serde_json::from_str(t)
        .map_err(|e| Error::parse("podman ps --format json output", e.to_string()))?;
    rows.into_iter()
        .enumerate()
        .map(|(i, w)| {
            if w.id.trim().is_empty() {
                return Err(Error::parse(
                    format!("podman ps --format json output, container {}", i + 1),
                    "no Id",
                ));
            }
            let ports: Vec<String> = w
                .ports
                .unwrap_or_default()
                .iter()
                .filter_map(WirePort::docker_text)
                .collect();
            Ok(PsEntry {
                id: w.id,
                names: w
                    .names
                    .unwrap_or_default()
                    .into_iter()
                    .map(|n| n.trim().to_string())
                    .filter(|n| !n.is_empty())
                    .collect(),
                image: w.image,
                state: podman_state(&w.state),
                status: w.status,
                ports: ports.join(", "),
            })
        })
        .collect()
}

/// The container a `conmon` process monitors, from its command line: `-c <id>` (also
/// `--cid <id>`, `--cid=<id>`), else `-u`/`--cuuid`. Only a full id counts (any user
/// can start a process named `conmon`; the id goes to the engine's commands).
pub fn conmon_container_id(cmdline: &[String]) -> Option<String> {
    let prog = cmdline.first()?;
    if prog.rsplit('/').next() != Some("conmon") {
        return None;
    }
    let mut cid = None;
    let mut uuid = None;
    let mut it = cmdline.iter().skip(1);
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if a.starts_with("--") => (f, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let slot = match flag {
            "-c" | "--cid" => &mut cid,
            "-u" | "--cuuid" => &mut uuid,
            _ => continue,
        };
        let v = match inline {
            Some(v) => v,
            None => it.next()?.clone(),
        };
        slot.get_or_insert(v);
    }
    cid.into_iter().chain(uuid).find(|id| super::is_full_id(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "6a1b9c0d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b";

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn conmon_ids() {
        let c = v(&format!(
            "/usr/bin/conmon --api-version 1 -c {ID} -u {ID} -r /usr/bin/crun -n web"
        ));
        assert_eq!(conmon_container_id(&c).as_deref(), Some(ID));
        let c = v(&format!("/usr/libexec/podman/conmon --cid={ID}"));
        assert_eq!(conmon_container_id(&c).as_deref(), Some(ID));
        assert_eq!(conmon_container_id(&v("conmon -c web")), None);
        assert_eq!(
            conmon_container_id(&v(&format!("/usr/bin/sleep -c {ID}"))),
            None
        );
    }

    #[test]
    fn ports_as_docker_prints_them() {
        let p = |host_ip: &str, host_port, container_port, range| WirePort {
            host_ip: host_ip.into(),
            host_port,
            container_port,
            range,
            protocol: "tcp".into(),
        };
        assert_eq!(
            p("", 8080, 80, 1).docker_text().as_deref(),
            Some("0.0.0.0:8080->80/tcp")
        );
        assert_eq!(
            p("::1", 8000, 80, 3).docker_text().as_deref(),
            Some("[::1]:8000-8002->80-82/tcp")
        );
        assert_eq!(p("", 0, 80, 1).docker_text(), None);
    }
}
