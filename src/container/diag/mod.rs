//! `doctor`'s container findings: containers in bad states, and the link from a container
//! that could not start to the port holder in its way.
//!
//! The findings themselves are pure ([`findings()`]); this file gathers what they are
//! made from (the engine's list and inspect, `/proc`, the port lookup) and the facts.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::engine::{
    ContainerInfo, Engine, EngineError, EngineKind, PsEntry, PublishedPort, Status,
    ports_in_use_from_error,
};
use crate::error::Error;
use crate::finding::{Area, Diagnosis, DoctorOptions, Finding, Severity};
use crate::host::Host;

use super::procs::{self, Futility, ProcTable, Sampling};

mod findings;

#[cfg_attr(not(feature = "testing"), allow(unused_imports))] // used by hostfix::testing
pub use findings::{findings, findings_for, findings_with_holders, removal_after_reboot};

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
    /// The engine CLI, when there is one (a host path).
    pub engine: Option<String>,
    /// Which engine doctor used (`docker`, `podman`), when there is one.
    pub kind: Option<EngineKind>,
    /// Whether the engine has a daemon hostfix may restart (`false` under Podman: the
    /// removal ladder has no engine restart rung there).
    pub daemon: Option<bool>,
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
pub struct PortHolderSummary {
    /// One line, as `hostfix port who` says it: `pid 812 nginx (master) and 1 worker,
    /// unit nginx.service, package nginx (installed for nginx-light)`.
    pub summary: String,
    /// The distro package of its program, when it has one.
    pub package: Option<String>,
    /// Whether it is a container's (another container publishes the port).
    pub container: bool,
}

/// The holders of each host port, by port; a port with an empty list is free now.
pub type PortHolders = BTreeMap<u16, Vec<PortHolderSummary>>;

/// The holders of a TCP port, as `hostfix port who PORT` finds them; `None` when the
/// lookup failed (logged).
pub fn port_holders(
    host: &Host,
    port: u16,
    engine: Option<crate::engine::EngineKind>,
) -> Option<Vec<PortHolderSummary>> {
    let mut who = crate::port::WhoSpec::tcp(port);
    who.engine = engine;
    let h = match crate::port::find_holders(host, &who) {
        Ok(h) => h,
        Err(e) => {
            log::warn!("container: who holds port {port}: {e}");
            return None;
        }
    };
    let mut out: Vec<PortHolderSummary> = h
        .groups
        .iter()
        .map(|g| {
            let leader = h.owners.iter().find(|o| o.pid == g.leader);
            PortHolderSummary {
                summary: g.summary.clone(),
                package: leader.and_then(|o| o.package.as_ref().map(|p| p.name.clone())),
                container: leader.is_some_and(|o| o.container.is_some()),
            }
        })
        .collect();
    if out.is_empty() && !h.listeners.is_empty() {
        out.push(PortHolderSummary {
            summary: "sockets of no visible process".into(),
            ..PortHolderSummary::default()
        });
    }
    Some(out)
}

/// The most containers inspected one by one in a diagnosis.
const INSPECT_MAX: usize = 200;

/// Adds this module's findings to a diagnosis; returns what the engine said of the
/// containers it inspected, for the evidence doctor reads next.
///
/// Without a `docker` program there is nothing to say; an engine that does not answer
/// is a finding (a warning when its socket exists), a refused socket is "unseen".
pub fn diagnose(host: &Host, opts: &DoctorOptions, d: &mut Diagnosis) -> Vec<ContainerInfo> {
    let mut engine = match Engine::locate(host, opts.engine) {
        Ok(e) => e,
        Err(e) => {
            if opts.engine.is_some() {
                d.unseen(format!("containers: {e}"));
            }
            d.fact("containers", &ContainerFacts::default());
            return Vec::new();
        }
    };
    engine.limits.command = Duration::from_secs(20);
    let k = engine.kind;
    let mut facts = ContainerFacts {
        engine: Some(engine.program.clone()),
        kind: Some(k),
        daemon: Some(k.has_daemon()),
        ..ContainerFacts::default()
    };
    if !k.has_daemon() {
        d.add(no_daemon(&engine));
    }
    let list = match engine.list(host) {
        Ok(l) => l,
        Err(Error::Engine(EngineError::Permission { message })) => {
            d.unseen(format!("containers: {message}"));
            d.fact("containers", &facts);
            return Vec::new();
        }
        Err(e) => {
            d.add(engine_silent(host, k, &e));
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
            d.unseen(format!("container details ({k} container inspect): {e}"));
            Vec::new()
        }
    };
    let table = procs::scan_by_cgroup(host);
    let stuck = stuck_containers(host, &list, &table);
    let holders = blocked_port_holders(host, (&list, &inspected), opts.engine);
    for f in findings_for(k, &list, &inspected, &table, &stuck, &holders) {
        d.add(f);
    }
    for f in after_reboot(host, opts, k, &list, &stuck) {
        d.add(f);
    }
    facts.containers = summaries(&list, &inspected, &table, &stuck);
    facts.port_holders = holders;
    facts.leftovers = table
        .ids()
        .into_iter()
        .filter(|id| !list.iter().any(|e| &e.id == id))
        .collect();
    d.fact("containers", &facts);
    inspected
}

/// The containers the ladder rebooted the host to remove and the engine still lists
/// after the boot ([`removal_after_reboot`]), from the ladder's records in the state
/// directory. A record that cannot be read is left to `container rm` to report.
fn after_reboot(
    host: &Host,
    opts: &DoctorOptions,
    k: EngineKind,
    list: &[PsEntry],
    stuck: &BTreeMap<String, Futility>,
) -> Vec<Finding> {
    let boot_id = host.boot_id().ok();
    list.iter()
        .filter(|e| !stuck.contains_key(&e.id))
        .filter_map(|e| {
            let found = super::record::read_record(host, &opts.state_dir, Some(&e.id), e.name());
            for u in &found.unusable {
                log::warn!("doctor: container {}: {u}", e.name());
            }
            removal_after_reboot(k, e, &found.record?, boot_id.as_deref())
        })
        .collect()
}

/// Which engine doctor used, under an engine without a daemon (Podman): said, so the
/// missing engine restart is stated rather than silently absent.
fn no_daemon(engine: &Engine) -> Finding {
    Finding::new(
        Area::Containers,
        Severity::Info,
        format!(
            "containers: {} ({}), no engine daemon to restart",
            engine.kind, engine.program
        ),
    )
    .evidence(format!(
        "each container has its own {}; container rm kills it (the container's own pid) \
         where Docker's ladder would restart the engine",
        engine.kind.monitor()
    ))
    .evidence(
        "run as root, podman lists root's containers only: a rootless user's containers \
         are seen by their processes",
    )
}

/// An engine that does not answer: a warning when its socket exists, else a note that
/// only the CLI is installed.
fn engine_silent(host: &Host, k: EngineKind, e: &Error) -> Finding {
    if k == EngineKind::Podman {
        return Finding::new(
            Area::Containers,
            Severity::Warning,
            "podman does not answer",
        )
        .evidence(e.to_string());
    }
    let socket = ["/var/run/docker.sock", "/run/docker.sock"]
        .iter()
        .any(|s| host.path(s).exists());
    if socket {
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
    }
}

/// The containers whose processes no signal can end, by id.
fn stuck_containers(
    host: &Host,
    list: &[PsEntry],
    table: &ProcTable,
) -> BTreeMap<String, Futility> {
    let mut stuck = BTreeMap::new();
    for id in table.ids() {
        let procs = table.processes_of(&id);
        let paused = list.iter().any(|e| e.id == id && e.state == Status::Paused);
        if let Some(f) = procs::futility(host, &procs, paused, Sampling::default()) {
            stuck.insert(id, f);
        }
    }
    stuck
}

/// Who holds the ports containers could not get: the same lookup as `port who`.
fn blocked_port_holders(
    host: &Host,
    (list, inspected): (&[PsEntry], &[ContainerInfo]),
    engine: Option<EngineKind>,
) -> PortHolders {
    let mut holders = PortHolders::new();
    for i in inspected {
        let state = list.iter().find(|e| e.id == i.id).map(|e| &e.state);
        if state == Some(&Status::Running) {
            continue;
        }
        for p in blocked_ports(i) {
            if let std::collections::btree_map::Entry::Vacant(slot) = holders.entry(p) {
                if let Some(h) = port_holders(host, p, engine) {
                    slot.insert(h);
                }
            }
        }
    }
    holders
}

/// Every container the engine lists, as the facts show it.
fn summaries(
    list: &[PsEntry],
    inspected: &[ContainerInfo],
    table: &ProcTable,
    stuck: &BTreeMap<String, Futility>,
) -> Vec<ContainerSummary> {
    let by_id: BTreeMap<&str, &ContainerInfo> =
        inspected.iter().map(|i| (i.id.as_str(), i)).collect();
    list.iter()
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
        .collect()
}
