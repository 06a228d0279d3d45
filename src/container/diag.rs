//! `doctor`'s container findings: containers in bad states, and the link from a container
//! that could not start to the port holder in its way.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::engine::{
    ContainerInfo, Engine, EngineError, PsEntry, PublishedPort, Status, ports_in_use_from_error,
    short_id,
};
use crate::error::Error;
use crate::finding::{Area, Diagnosis, DoctorOptions, Finding, Severity, Subject};
use crate::host::Host;
use crate::plan::Risk;

use super::procs::{self, Futility, ProcTable, Sampling};

/// One container, as `doctor` reports it in its facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerSummary {
    /// Full id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The engine's state.
    pub state: Status,
    /// The engine's status text.
    pub status: String,
    /// The image.
    pub image: String,
    /// Host ports it publishes (from inspect, for the containers inspected).
    pub published: Vec<PublishedPort>,
    /// Host ports the engine said were taken when it tried to start it: the link to
    /// `hostfix port who PORT`.
    pub blocked_ports: Vec<u16>,
    /// `State.Error`, in the engine's words.
    pub error: String,
    /// `RestartCount`.
    pub restart_count: u64,
    /// Its processes on the host.
    pub processes: usize,
    /// Why signals cannot end them, when they cannot.
    pub stuck: Option<Futility>,
}

/// What `doctor` records about containers under the fact `containers`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ContainerFacts {
    /// The engine CLI, when there is one.
    pub engine: Option<String>,
    /// Whether the engine answered.
    pub reachable: bool,
    /// Every container the engine lists.
    pub containers: Vec<ContainerSummary>,
    /// Ids whose processes or shims run although the engine does not list them.
    pub leftovers: Vec<String>,
    /// Who holds the host ports containers could not get, by port.
    pub port_holders: PortHolders,
}

/// The host ports a container could not get: the ones its error names, else the ones it
/// publishes when the error is about a taken port (pure).
pub fn blocked_ports(info: &ContainerInfo) -> Vec<u16> {
    let named = ports_in_use_from_error(&info.error);
    if !named.is_empty() {
        return named;
    }
    let e = info.error.to_ascii_lowercase();
    if e.contains("address already in use") || e.contains("port is already allocated") {
        let mut ports: Vec<u16> = info.published.iter().map(|p| p.host_port).collect();
        ports.dedup();
        return ports;
    }
    Vec::new()
}

/// Who holds a host port a container could not get, as the port module found it
/// ([`crate::port::find_holders`]): the link from the container to the process in its way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PortHolder {
    /// One line, as `hostfix port who` says it: `pid 812 nginx (master) and 1 worker,
    /// unit nginx.service, package nginx (installed for nginx-light)`.
    pub summary: String,
    /// The distro package of its program, when it has one.
    pub package: Option<String>,
    /// Whether it is a container's (another container publishes the port).
    pub container: bool,
}

/// The holders of each host port, by port; a port with an empty list is free now.
pub type PortHolders = BTreeMap<u16, Vec<PortHolder>>;

/// The holders of a TCP port, as `hostfix port who PORT` finds them; `None` when the
/// lookup failed (logged).
pub fn port_holders(host: &Host, port: u16) -> Option<Vec<PortHolder>> {
    let h = match crate::port::find_holders(host, &crate::port::WhoSpec::tcp(port)) {
        Ok(h) => h,
        Err(e) => {
            log::warn!("container: who holds port {port}: {e}");
            return None;
        }
    };
    let mut out: Vec<PortHolder> = h
        .groups
        .iter()
        .map(|g| {
            let leader = h.owners.iter().find(|o| o.pid == g.leader);
            PortHolder {
                summary: g.summary.clone(),
                package: leader.and_then(|o| o.package.as_ref().map(|p| p.name.clone())),
                container: leader.is_some_and(|o| o.container.is_some()),
            }
        })
        .collect();
    if out.is_empty() && !h.listeners.is_empty() {
        out.push(PortHolder {
            summary: "sockets of no visible process".into(),
            ..PortHolder::default()
        });
    }
    Some(out)
}

/// The findings for what the engine and `/proc` show (pure), without port holders.
///
/// `inspected` holds the containers worth a closer look (not running, or restarting);
/// `stuck` the containers whose processes no signal can end.
pub fn findings(
    list: &[PsEntry],
    inspected: &[ContainerInfo],
    table: &ProcTable,
    stuck: &BTreeMap<String, Futility>,
) -> Vec<Finding> {
    findings_with_holders(list, inspected, table, stuck, &PortHolders::new())
}

/// The findings (pure), with the holders of the host ports containers could not get, so
/// a container that could not start names the process in its way and the fix.
pub fn findings_with_holders(
    list: &[PsEntry],
    inspected: &[ContainerInfo],
    table: &ProcTable,
    stuck: &BTreeMap<String, Futility>,
    holders: &PortHolders,
) -> Vec<Finding> {
    let mut out = Vec::new();
    // Containers kept from their port come first: they continue the ports findings
    // before them (the holder in their way), so the request's path reads as one chain.
    let mut blocked = Vec::new();
    let by_id: BTreeMap<&str, &ContainerInfo> =
        inspected.iter().map(|i| (i.id.as_str(), i)).collect();
    for e in list {
        let name = e.name();
        let info = by_id.get(e.id.as_str()).copied();
        let procs = table.processes_of(&e.id);
        let shims = table.shims_of(&e.id);
        let rm = format!("hostfix container rm {name}");
        // Each finding names its container, for the evidence (and a fix) to find it.
        let subject = Subject::Container {
            id: e.id.clone(),
            name: name.to_string(),
        };
        let first = out.len();
        if let Some(i) = info {
            let ports = blocked_ports(i);
            if !ports.is_empty() && !matches!(e.state, Status::Running) {
                blocked.push(blocked_finding(name, e, i, &ports, holders).about(subject));
                continue;
            }
        }
        match &e.state {
            Status::Dead => out.push(
                Finding::new(
                    Area::Containers,
                    Severity::Problem,
                    format!("container {name} is dead: the engine failed to stop or remove it"),
                )
                .evidence(engine_words(e, info))
                .fix(rm.clone(), Risk::Disruptive),
            ),
            Status::Removing => out.push(
                Finding::new(
                    Area::Containers,
                    Severity::Problem,
                    format!("container {name} is stuck in removal"),
                )
                .evidence(engine_words(e, info))
                .evidence(remains(procs.len(), shims.len()))
                .evidence(
                    "the ladder stops at its cap and names the next rung; \
                     raise --max-risk to allow it",
                )
                .fix(rm.clone(), Risk::Disruptive),
            ),
            Status::Restarting => {
                let mut f = Finding::new(
                    Area::Containers,
                    Severity::Problem,
                    format!(
                        "container {name} is restarting in a loop ({} restarts)",
                        info.map_or(0, |i| i.restart_count)
                    ),
                )
                .evidence(engine_words(e, info));
                if let Some(i) = info {
                    f = f.evidence(format!(
                        "last exit code {}, restart policy {}",
                        i.exit_code,
                        if i.restart_policy.is_empty() {
                            "?"
                        } else {
                            &i.restart_policy
                        }
                    ));
                }
                out.push(f.evidence(format!("its log: docker logs --tail 50 {name}")));
            }
            Status::Running => {
                if let Some(i) = info.filter(|i| i.restart_count >= 3) {
                    out.push(
                        Finding::new(
                            Area::Containers,
                            Severity::Warning,
                            format!("container {name} has restarted {} times", i.restart_count),
                        )
                        .evidence(format!("its log: docker logs --tail 50 {name}")),
                    );
                }
            }
            Status::Paused => out.push(
                Finding::new(
                    Area::Containers,
                    Severity::Info,
                    format!("container {name} is paused"),
                )
                .evidence("resume it: docker unpause ".to_string() + name),
            ),
            _ => {}
        }
        if let Some(f) = stuck.get(&e.id) {
            out.push(
                Finding::new(
                    Area::Containers,
                    Severity::Problem,
                    format!("container {name}: no signal can end its processes"),
                )
                .evidence(f.why())
                .evidence("stop, kill, rm -f and an engine restart cannot remove it; a reboot can")
                .fix(format!("{rm} --max-risk reboot"), Risk::Reboot),
            );
        }
        for f in &mut out[first..] {
            f.subjects.push(subject.clone());
        }
    }
    for id in table.ids() {
        if list.iter().any(|e| e.id == id) {
            continue;
        }
        let procs = table.processes_of(&id);
        let shims = table.shims_of(&id);
        let mut f = Finding::new(
            Area::Containers,
            Severity::Problem,
            format!(
                "processes of container {} run, but the engine no longer lists it",
                short_id(&id)
            ),
        )
        .evidence(remains(procs.len(), shims.len()));
        for p in procs.iter().take(5) {
            f = f.evidence(format!("pid {} ({}) state {}", p.pid, p.comm, p.state));
        }
        for s in &shims {
            f = f.evidence(format!("shim pid {} state {}", s.pid, s.state));
        }
        let fix = match stuck.get(&id) {
            Some(why) => {
                f = f.evidence(why.why());
                (
                    format!("hostfix container rm {id} --max-risk reboot"),
                    Risk::Reboot,
                )
            }
            None => (
                format!("hostfix container rm {id} --max-risk destructive"),
                Risk::Destructive,
            ),
        };
        out.push(f.fix(fix.0, fix.1));
    }
    blocked.append(&mut out);
    let mut out = blocked;
    if out.is_empty() {
        let running = list.iter().filter(|e| e.state == Status::Running).count();
        out.push(Finding::new(
            Area::Containers,
            Severity::Ok,
            format!(
                "{} container{}, {running} running, none stuck",
                list.len(),
                if list.len() == 1 { "" } else { "s" }
            ),
        ));
    }
    out
}

/// A container that could not start because a host port was taken: the engine's words,
/// then who holds the port now (the port module's lookup) and the fix that frees it.
fn blocked_finding(
    name: &str,
    e: &PsEntry,
    i: &ContainerInfo,
    ports: &[u16],
    holders: &PortHolders,
) -> Finding {
    let list_ports = ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let held: Vec<String> = ports
        .iter()
        .filter_map(|p| Some((p, holders.get(p)?)))
        .filter(|(_, h)| !h.is_empty())
        .map(|(p, h)| {
            format!(
                "port {p} is held by {}",
                h.iter()
                    .map(|x| x.summary.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })
        .collect();
    let mut title = format!(
        "container {name} is {}: host port {list_ports} was taken when it started",
        e.state
    );
    if let Some(first) = held.first() {
        title.push_str(&format!("; {first}"));
    }
    let mut f = Finding::new(Area::Containers, Severity::Problem, title)
        .evidence(format!("the engine: {}", i.error.trim()));
    if !i.published.is_empty() {
        f = f.evidence(format!(
            "it publishes {}",
            i.published
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for h in held.iter().skip(1) {
        f = f.evidence(h.clone());
    }
    for p in ports {
        f = f.evidence(format!("who holds port {p}: hostfix port who {p}"));
    }
    // The first port still taken is the one to free; when every port is free now, only
    // a start is left.
    let taken = ports
        .iter()
        .find(|p| holders.get(p).is_none_or(|h| !h.is_empty()));
    match taken {
        Some(p) => {
            let hs = holders.get(p).map(Vec::as_slice).unwrap_or_default();
            if hs.iter().any(|h| h.container) {
                f = f.evidence(format!(
                    "another container publishes port {p}: hostfix will not stop it; \
                     stop that container or publish {name} elsewhere"
                ));
            } else {
                for pkg in hs.iter().filter_map(|h| h.package.as_deref()) {
                    f = f.evidence(format!(
                        "if {pkg} is not wanted on this host: hostfix port free {p} \
                         --remove-package (risk destructive)"
                    ));
                }
                f = f.fix(format!("hostfix port free {p}"), Risk::Disruptive);
            }
            f.evidence(format!("once the port is free: docker start {name}"))
        }
        None => f.evidence(format!(
            "port {list_ports} is free now: docker start {name}"
        )),
    }
}

fn engine_words(e: &PsEntry, info: Option<&ContainerInfo>) -> String {
    match info.map(|i| i.error.trim()).filter(|s| !s.is_empty()) {
        Some(err) => format!("the engine: {} ({err})", e.status),
        None => format!("the engine: {}", e.status),
    }
}

fn remains(procs: usize, shims: usize) -> String {
    format!(
        "{procs} process{} and {shims} shim{} on the host",
        if procs == 1 { "" } else { "es" },
        if shims == 1 { "" } else { "s" }
    )
}

/// The most containers inspected one by one in a diagnosis.
const INSPECT_MAX: usize = 200;

/// Adds this module's findings to a diagnosis; returns what the engine said of the
/// containers it inspected, for the evidence doctor reads next.
///
/// Without a `docker` program there is nothing to say; an engine that does not answer
/// is a finding (a warning when its socket exists), a refused socket is "unseen".
pub fn diagnose(host: &Host, _opts: &DoctorOptions, d: &mut Diagnosis) -> Vec<ContainerInfo> {
    let Ok(mut engine) = Engine::locate(host) else {
        d.fact("containers", &ContainerFacts::default());
        return Vec::new();
    };
    engine.limits.command = Duration::from_secs(20);
    let mut facts = ContainerFacts {
        engine: Some(engine.program.clone()),
        ..ContainerFacts::default()
    };
    let list = match engine.list(host) {
        Ok(l) => l,
        Err(Error::Engine(EngineError::Permission { message })) => {
            d.unseen(format!("containers: {message}"));
            d.fact("containers", &facts);
            return Vec::new();
        }
        Err(e) => {
            let socket = ["/var/run/docker.sock", "/run/docker.sock"]
                .iter()
                .any(|s| host.path(s).exists());
            let f = if socket {
                Finding::new(
                    Area::Containers,
                    Severity::Warning,
                    "the docker engine does not answer",
                )
                .evidence(e.to_string())
                .evidence("its state: systemctl status docker containerd")
            } else {
                Finding::new(
                    Area::Containers,
                    Severity::Info,
                    "the docker CLI is installed but no engine runs here",
                )
                .evidence(e.to_string())
            };
            d.add(f);
            d.fact("containers", &facts);
            return Vec::new();
        }
    };
    facts.reachable = true;
    let worth: Vec<&str> = list
        .iter()
        .filter(|e| e.state != Status::Running || e.status.contains("Restarting"))
        .map(|e| e.id.as_str())
        .take(INSPECT_MAX)
        .collect();
    // Running containers are inspected too when few: a restart count shows a flapping one.
    let mut ids: Vec<&str> = worth;
    if list.len() <= INSPECT_MAX {
        ids = list.iter().map(|e| e.id.as_str()).collect();
    }
    let inspected = match engine.inspect_many(host, &ids) {
        Ok(i) => i,
        Err(e) => {
            d.unseen(format!("container details (docker container inspect): {e}"));
            Vec::new()
        }
    };
    let table = procs::scan_by_cgroup(host);
    let mut stuck = BTreeMap::new();
    for id in table.ids() {
        let procs = table.processes_of(&id);
        let paused = list.iter().any(|e| e.id == id && e.state == Status::Paused);
        if let Some(f) = procs::futility(host, &procs, paused, Sampling::default()) {
            stuck.insert(id, f);
        }
    }
    // Who holds the ports containers could not get: the same lookup as `port who`.
    let mut holders = PortHolders::new();
    for i in &inspected {
        let state = list.iter().find(|e| e.id == i.id).map(|e| &e.state);
        if state == Some(&Status::Running) {
            continue;
        }
        for p in blocked_ports(i) {
            if let std::collections::btree_map::Entry::Vacant(slot) = holders.entry(p) {
                if let Some(h) = port_holders(host, p) {
                    slot.insert(h);
                }
            }
        }
    }
    for f in findings_with_holders(&list, &inspected, &table, &stuck, &holders) {
        d.add(f);
    }
    let by_id: BTreeMap<&str, &ContainerInfo> =
        inspected.iter().map(|i| (i.id.as_str(), i)).collect();
    facts.containers = list
        .iter()
        .map(|e| {
            let info = by_id.get(e.id.as_str()).copied();
            ContainerSummary {
                id: e.id.clone(),
                name: e.name().to_string(),
                state: e.state.clone(),
                status: e.status.clone(),
                image: e.image.clone(),
                published: info.map(|i| i.published.clone()).unwrap_or_default(),
                blocked_ports: info.map(blocked_ports).unwrap_or_default(),
                error: info.map(|i| i.error.clone()).unwrap_or_default(),
                restart_count: info.map_or(0, |i| i.restart_count),
                processes: table.processes_of(&e.id).len(),
                stuck: stuck.get(&e.id).cloned(),
            }
        })
        .collect();
    facts.port_holders = holders;
    facts.leftovers = table
        .ids()
        .into_iter()
        .filter(|id| !list.iter().any(|e| &e.id == id))
        .collect();
    d.fact("containers", &facts);
    inspected
}
