//! Who a request reached (pure): the listening socket a connect to a loopback address
//! lands on, the holder of that socket as `port who` found it (a unit, a container, a
//! bare process), and the containers that publish or want the port. When a container
//! wants a port and something else answers there, that is the first problem of the
//! diagnosis and says so in one line.

use std::net::IpAddr;

use serde::Serialize;

use super::journal::{JournalLine, UnitState};
use super::probe::{Outcome, Probe};
use crate::engine::ContainerInfo;
use crate::finding::{Area, Finding, Proof, Severity, Source, Subject};
use crate::net::Proto;
use crate::port::{Holders, Listener, OwnerKind};

/// A container that publishes a host port, or wants it (it is not running, or it could
/// not start because the port was taken).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Interest {
    /// The host port.
    pub port: u16,
    /// The port inside the container, when published.
    pub container_port: Option<u16>,
    /// The container's full id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Whether it runs.
    pub running: bool,
    /// The engine's word for its state.
    pub state: String,
}

/// The TCP host ports containers publish or want (pure).
pub fn interests(containers: &[ContainerInfo]) -> Vec<Interest> {
    let mut out: Vec<Interest> = Vec::new();
    for c in containers {
        let mut add = |port: u16, container_port: Option<u16>| {
            if !out.iter().any(|i| i.port == port && i.id == c.id) {
                out.push(Interest {
                    port,
                    container_port,
                    id: c.id.clone(),
                    name: c.name.clone(),
                    running: c.running,
                    state: c.status.to_string(),
                });
            }
        };
        for p in c.published.iter().filter(|p| p.proto == "tcp") {
            add(p.host_port, Some(p.container_port));
        }
        for p in crate::container::blocked_ports(c) {
            add(p, None);
        }
    }
    out
}

/// Who answered a request: the holder of the socket it reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answerer {
    /// The pid of the holder (the leader of its process tree).
    pub pid: i32,
    /// How the finding names it: `nginx.service`, `container web`, `pid 812 python3`.
    pub name: String,
    /// `port who`'s one line for it.
    pub summary: String,
    /// Its systemd unit, when a service.
    pub unit: Option<String>,
    /// The container's id and name, when a container's.
    pub container_id: Option<String>,
    /// The container's name, when known.
    pub container_name: Option<String>,
    /// Its distro package.
    pub package: Option<String>,
}

impl Answerer {
    /// Whether it is the container an interest names.
    pub fn is(&self, i: &Interest) -> bool {
        self.container_id.as_deref() == Some(i.id.as_str())
            || self.container_name.as_deref() == Some(i.name.as_str())
    }
}

/// How well a listener's address takes a connect to `ip`: 2 exactly, 1 as a wildcard, 0
/// not at all (the kernel gives a connection to the most specific).
fn takes(l: &Listener, ip: IpAddr) -> u8 {
    let mapped = match l.address {
        IpAddr::V6(a) => a.to_ipv4_mapped().map(IpAddr::V4),
        IpAddr::V4(_) => None,
    };
    if l.address == ip || mapped == Some(ip) {
        2
    } else if l.address.is_unspecified()
        && (l.address.is_ipv4() == ip.is_ipv4() || (ip.is_ipv4() && l.v6only != Some(true)))
    {
        1
    } else {
        0
    }
}

/// Programs that start a process for each connection they accept.
const SPAWNERS: [&str; 2] = ["inetd", "xinetd"];

/// Whether a request to `ip` may be sent, given who holds the port (pure): a connection
/// must not change the host, and one accepted by PID 1 for a socket unit (or by inetd)
/// starts a service. It may when no listener takes the address (the connect is refused,
/// or a NAT rule forwards it), or when a running process other than those holds the
/// socket it lands on.
///
/// # Errors
/// Why not, in a sentence.
pub fn may_send(h: Option<&Holders>, ip: IpAddr) -> Result<(), String> {
    let Some(h) = h else {
        return Err(
            "who holds the port could not be read, and a connection could start a \
                    socket-activated service"
                .into(),
        );
    };
    let best = h.listeners.iter().map(|l| takes(l, ip)).max().unwrap_or(0);
    if best == 0 {
        return Ok(());
    }
    let inodes: Vec<u64> = h
        .listeners
        .iter()
        .filter(|l| takes(l, ip) == best)
        .map(|l| l.inode)
        .collect();
    let holders: Vec<&crate::port::PortOwner> = h
        .owners
        .iter()
        .filter(|o| o.inodes.iter().any(|i| inodes.contains(i)))
        .collect();
    if holders
        .iter()
        .any(|o| o.pid != 1 && !SPAWNERS.contains(&o.name.as_str()))
    {
        return Ok(());
    }
    Err(match holders.first() {
        Some(o) if o.pid == 1 => format!(
            "only PID 1 holds the socket ({}): a connection would start its service",
            if o.socket_units.is_empty() {
                "a socket unit".to_string()
            } else {
                o.socket_units.join(", ")
            }
        ),
        Some(o) => format!("{} starts a process for each connection", o.name),
        None => "its holder is not visible (not root), and a connection could start a \
                 socket-activated service"
            .into(),
    })
}

/// Who holds the socket a connect to `ip` lands on (pure).
pub fn answerers(h: &Holders, ip: IpAddr) -> Vec<Answerer> {
    let best = h.listeners.iter().map(|l| takes(l, ip)).max().unwrap_or(0);
    if best == 0 {
        return Vec::new();
    }
    let inodes: Vec<u64> = h
        .listeners
        .iter()
        .filter(|l| takes(l, ip) == best)
        .map(|l| l.inode)
        .collect();
    let mut out: Vec<Answerer> = Vec::new();
    for g in &h.groups {
        let holds = h
            .owners
            .iter()
            .filter(|o| g.pids.contains(&o.pid))
            .any(|o| o.inodes.iter().any(|i| inodes.contains(i)));
        let Some(leader) = h.owners.iter().find(|o| o.pid == g.leader) else {
            continue;
        };
        if !holds {
            continue;
        }
        let unit = match leader.kind {
            OwnerKind::Service => leader.unit.clone(),
            OwnerKind::SocketActivated => leader.socket_units.first().cloned(),
            _ => None,
        };
        let name = match (&leader.container, &unit) {
            (Some(c), _) => format!("container {}", c.name.clone().unwrap_or_else(|| c.label())),
            (None, Some(u)) => u.clone(),
            (None, None) => format!("pid {} {}", leader.pid, leader.name),
        };
        out.push(Answerer {
            pid: leader.pid,
            name,
            summary: g.summary.clone(),
            unit,
            container_id: leader.container.as_ref().and_then(|c| c.id.clone()),
            container_name: leader.container.as_ref().and_then(|c| c.name.clone()),
            package: leader.package.as_ref().map(|p| p.name.clone()),
        });
    }
    out
}

/// The state and journal of the unit that answered, read when something is wrong there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UnitEvidence {
    /// The unit.
    pub unit: String,
    /// Its state.
    pub state: Option<UnitState>,
    /// Its last journal lines.
    pub journal: Vec<JournalLine>,
    /// The command that printed them.
    pub journal_command: String,
    /// What could not be read, said plainly.
    pub unseen: Vec<String>,
}

/// The requests sent to one port and who they reached.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PortRequest {
    /// The port.
    pub port: u16,
    /// Whether a `HEAD /` was sent.
    pub http: bool,
    /// One request per loopback address.
    pub probes: Vec<Probe>,
    /// Who each connected request reached, by the probe's index.
    pub answerers: Vec<Vec<Answerer>>,
    /// The containers that publish or want the port.
    pub interest: Vec<Interest>,
    /// The unit that answered, when its state and journal were read.
    pub unit: Option<UnitEvidence>,
}

impl PortRequest {
    /// Whether an answer came from something no container wanting the port is: the
    /// request does not reach the container meant to serve it.
    pub fn misrouted(&self) -> bool {
        !self.interest.is_empty()
            && self.probes.iter().zip(&self.answerers).any(|(p, a)| {
                p.outcome.connected()
                    && !a.is_empty()
                    && !a.iter().any(|x| self.interest.iter().any(|i| x.is(i)))
            })
    }

    /// Whether the unit that answered is worth its state and journal: the request is
    /// misrouted, or the answer was bad.
    pub fn wants_unit_log(&self) -> bool {
        self.misrouted()
            || self.probes.iter().any(|p| {
                p.outcome.misbehaved()
                    || matches!(p.outcome, Outcome::Http { code: Some(c), .. } if c >= 500)
            })
    }
}

fn who(a: &[Answerer], not_root: bool) -> String {
    if a.is_empty() {
        return if not_root {
            "a process hostfix cannot see (not root)".into()
        } else {
            "no listening socket of the host's (a NAT rule forwards it)".into()
        };
    }
    a.iter()
        .map(|x| x.name.as_str())
        .collect::<Vec<_>>()
        .join(" and ")
}

fn via(o: &Outcome) -> Option<String> {
    match o {
        Outcome::Http {
            server: Some(s), ..
        } => Some(format!("Server: {s}")),
        Outcome::Http { status_line, .. } => Some(status_line.clone()),
        _ => None,
    }
}

fn containers(interest: &[Interest]) -> String {
    let mut names: Vec<&str> = interest.iter().map(|i| i.name.as_str()).collect();
    names.dedup();
    format!("container {}", names.join(" or container "))
}

/// The title and severity for one port's requests (pure).
fn headline(r: &PortRequest, not_root: bool) -> (Severity, String) {
    let port = r.port;
    let connected = r
        .probes
        .iter()
        .zip(&r.answerers)
        .find(|(p, _)| p.outcome.connected());
    let Some((p, a)) = connected else {
        return unanswered(r);
    };
    let mut whom = who(a, not_root);
    if let Some(v) = via(&p.outcome) {
        whom.push_str(&format!(" ({v})"));
    }
    if r.misrouted() {
        return (
            Severity::Problem,
            format!(
                "requests to :{port} reach {whom}, not {}",
                containers(&r.interest)
            ),
        );
    }
    if p.outcome.misbehaved() {
        return (
            Severity::Warning,
            format!(
                "requests to :{port} reach {} but get no proper answer: {}",
                who(a, not_root),
                p.outcome.describe()
            ),
        );
    }
    match &p.outcome {
        Outcome::Http {
            code: Some(c),
            status_line,
            ..
        } if *c >= 500 => (
            Severity::Warning,
            format!(
                "requests to :{port} reach {}: {status_line}",
                who(a, not_root)
            ),
        ),
        _ => (Severity::Ok, format!("requests to :{port} reach {whom}")),
    }
}

/// The headline when no probe connected: not sent, cannot be sent (no refusal and no
/// timeout: the loopback is down), refused or timed out (naming the containers that
/// publish or want the port).
fn unanswered(r: &PortRequest) -> (Severity, String) {
    let port = r.port;
    if let Some(Outcome::NotSent { why }) = r.probes.first().map(|p| &p.outcome) {
        return (
            Severity::Info,
            format!("requests to :{port} were not sent: {why}"),
        );
    }
    let timeout = r
        .probes
        .iter()
        .any(|p| matches!(p.outcome, Outcome::ConnectTimeout { .. }));
    let refused = r.probes.iter().any(|p| p.outcome == Outcome::Refused);
    if !timeout && !refused {
        // No address answered at all, not even with a refusal: the loopback is down,
        // or every connect failed otherwise. Not "nothing listens".
        let how = r
            .probes
            .iter()
            .map(|p| format!("{}: {}", p.addr, p.outcome.describe()))
            .collect::<Vec<_>>()
            .join("; ");
        return (
            Severity::Warning,
            format!("requests to :{port} cannot be sent ({how}); is the loopback interface up?"),
        );
    }
    let what = if timeout {
        "get no connection"
    } else {
        "are refused"
    };
    match r.interest.first() {
        Some(i) => (
            Severity::Problem,
            format!(
                "requests to :{port} {what}: {} {} it but is {}",
                containers(&r.interest),
                if i.running { "publishes" } else { "wants" },
                i.state
            ),
        ),
        None if timeout => (Severity::Warning, format!("requests to :{port} {what}")),
        None => (
            Severity::Ok,
            format!("requests to :{port} are refused: nothing listens"),
        ),
    }
}

/// The finding for one port's requests (pure): where they went, with the answer's words
/// as proof and, when something is wrong there, the answering unit's state and journal.
pub fn request_finding(r: &PortRequest, not_root: bool) -> Finding {
    let (severity, title) = headline(r, not_root);
    let mut f = Finding::new(Area::Request, severity, title).about(Subject::Port {
        port: r.port,
        proto: Proto::Tcp,
    });
    for (p, a) in r.probes.iter().zip(&r.answerers) {
        let mut line = format!(
            "{} {}: {} ({} ms)",
            if p.http { "HEAD / to" } else { "connect to" },
            p.addr,
            p.outcome.describe(),
            p.elapsed_ms
        );
        if p.outcome.connected() {
            line.push_str(&format!(", reached {}", who(a, not_root)));
        }
        f = f.evidence(line);
        if let Outcome::Http {
            status_line,
            server,
            ..
        } = &p.outcome
        {
            let mut lines = vec![status_line.clone()];
            lines.extend(server.as_ref().map(|s| format!("Server: {s}")));
            f = f.proof(Proof {
                source: Source::Request,
                from: format!("HEAD / HTTP/1.0 to {}", p.addr),
                lines,
            });
        }
        for x in a {
            if x.summary != x.name {
                f = f.evidence(format!("{}: {}", x.name, x.summary));
            }
            f = f.about(match (&x.container_id, &x.container_name, &x.unit) {
                (Some(id), name, _) => Subject::Container {
                    id: id.clone(),
                    name: name.clone().unwrap_or_default(),
                },
                (None, _, Some(u)) => Subject::Unit { name: u.clone() },
                _ => Subject::Process {
                    pid: x.pid,
                    name: x.name.clone(),
                },
            });
        }
    }
    for i in &r.interest {
        f = f
            .evidence(format!(
                "container {} {} port {}{} ({})",
                i.name,
                if i.running { "publishes" } else { "wants" },
                i.port,
                i.container_port
                    .map_or(String::new(), |c| format!(" -> {c}")),
                i.state
            ))
            .about(Subject::Container {
                id: i.id.clone(),
                name: i.name.clone(),
            });
    }
    if let Some(u) = &r.unit {
        f = with_unit(f, u);
    }
    f
}

/// Adds a unit's state and journal lines to a finding.
pub fn with_unit(mut f: Finding, u: &UnitEvidence) -> Finding {
    if let Some(s) = &u.state {
        f = f.evidence(s.describe()).proof(Proof {
            source: Source::Unit,
            from: format!("systemctl show {}", u.unit),
            lines: vec![s.describe()],
        });
    }
    for un in &u.unseen {
        f = f.evidence(format!("{}: {un}", u.unit));
    }
    f.proof(Proof {
        source: Source::Journal,
        from: u.journal_command.clone(),
        lines: u
            .journal
            .iter()
            .map(|l| format!("{} {}: {}", l.time, l.ident, l.text))
            .collect(),
    })
}
