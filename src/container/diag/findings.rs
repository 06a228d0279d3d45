//! `doctor`'s container findings from what the engine and `/proc` show (pure): dead,
//! stuck in removal, restarting in a loop, paused, kept from a taken host port (with who
//! holds it), processes no signal can end, and processes of containers the engine no
//! longer lists.

use std::collections::BTreeMap;

use crate::engine::{ContainerInfo, EngineKind, PsEntry, Status, short_id};
use crate::finding::{Area, Finding, FixOp, Severity, Subject};
use crate::plan::Risk;

use super::super::procs::{Futility, ProcTable};
use super::super::record::RebootRecord;
use super::{PortHolders, blocked_ports};

/// The findings for what the engine and `/proc` show (pure), without port holders.
///
/// `inspected` holds the containers worth a closer look (not running, or restarting);
/// `stuck` the containers whose processes no signal can end.
#[cfg_attr(not(feature = "testing"), allow(dead_code))] // used by hostfix::testing
pub fn findings(
    list: &[PsEntry],
    inspected: &[ContainerInfo],
    table: &ProcTable,
    stuck: &BTreeMap<String, Futility>,
) -> Vec<Finding> {
    findings_with_holders(list, inspected, table, stuck, &PortHolders::new())
}

/// The findings (pure), with the holders of the host ports containers could not get, so
/// a container that could not start names the process in its way and the fix; under
/// Docker ([`findings_for`] for another engine).
pub fn findings_with_holders(
    list: &[PsEntry],
    inspected: &[ContainerInfo],
    table: &ProcTable,
    stuck: &BTreeMap<String, Futility>,
    holders: &PortHolders,
) -> Vec<Finding> {
    findings_for(EngineKind::Docker, list, inspected, table, stuck, holders)
}

/// As [`findings_with_holders`], for the containers of engine `k`: its commands in the
/// evidence (`podman logs`, `podman start`), and fixes that carry it.
pub fn findings_for(
    k: EngineKind,
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
        // Each finding names its container, for the evidence (and a fix) to find it.
        let subject = Subject::Container {
            id: e.id.clone(),
            name: name.to_string(),
        };
        let first = out.len();
        if let Some(i) = info {
            let ports = blocked_ports(i);
            if !ports.is_empty() && !matches!(e.state, Status::Running) {
                let f = blocked_finding(k, (name, e), i, &ports, holders);
                blocked.push(f.about(subject));
                continue;
            }
        }
        out.extend(state_finding(k, e, info, table));
        if let Some(f) = stuck.get(&e.id) {
            out.push(
                Finding::new(
                    Area::Containers,
                    Severity::Problem,
                    format!("container {name}: no signal can end its processes"),
                )
                .evidence(f.why())
                .evidence(match k {
                    EngineKind::Podman => {
                        "stop, kill, rm -f and killing its conmon cannot remove it; a reboot can"
                    }
                    _ => "stop, kill, rm -f and an engine restart cannot remove it; a reboot can",
                })
                .fix(rm_op(k, name), Risk::Reboot),
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
        out.push(leftover_finding(k, &id, table, stuck));
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

/// The finding a container's state calls for, when it calls for one: dead, stuck in
/// removal, restarting in a loop, restarted often, paused.
fn state_finding(
    k: EngineKind,
    e: &PsEntry,
    info: Option<&ContainerInfo>,
    table: &ProcTable,
) -> Option<Finding> {
    let name = e.name();
    match &e.state {
        Status::Dead => Some(
            Finding::new(
                Area::Containers,
                Severity::Problem,
                format!("container {name} is dead: the engine failed to stop or remove it"),
            )
            .evidence(engine_words(e, info))
            .fix(rm_op(k, name), Risk::Disruptive),
        ),
        Status::Removing => Some(
            Finding::new(
                Area::Containers,
                Severity::Problem,
                format!("container {name} is stuck in removal"),
            )
            .evidence(engine_words(e, info))
            .evidence(remains(
                table.processes_of(&e.id).len(),
                table.shims_of(&e.id).len(),
            ))
            .evidence(
                "the ladder stops at its cap and names the next rung; \
                 raise --max-risk to allow it",
            )
            .fix(rm_op(k, name), Risk::Disruptive),
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
            Some(f.evidence(format!("its log: {k} logs --tail 50 {name}")))
        }
        Status::Running => info.filter(|i| i.restart_count >= 3).map(|i| {
            Finding::new(
                Area::Containers,
                Severity::Warning,
                format!("container {name} has restarted {} times", i.restart_count),
            )
            .evidence(format!("its log: {k} logs --tail 50 {name}"))
        }),
        Status::Paused => Some(
            Finding::new(
                Area::Containers,
                Severity::Info,
                format!("container {name} is paused"),
            )
            .evidence(format!("resume it: {k} unpause {name}")),
        ),
        _ => None,
    }
}

/// Processes of a container the engine no longer lists, with the fix: the ladder up to
/// the shim kill, or up to a reboot when no signal can end them.
fn leftover_finding(
    k: EngineKind,
    id: &str,
    table: &ProcTable,
    stuck: &BTreeMap<String, Futility>,
) -> Finding {
    let procs = table.processes_of(id);
    let shims = table.shims_of(id);
    let mut f = Finding::new(
        Area::Containers,
        Severity::Problem,
        format!(
            "processes of container {} run, but the engine no longer lists it",
            short_id(id)
        ),
    )
    .evidence(remains(procs.len(), shims.len()));
    for p in procs.iter().take(5) {
        f = f.evidence(format!("pid {} ({}) state {}", p.pid, p.comm, p.state));
    }
    for s in &shims {
        f = f.evidence(format!("{} pid {} state {}", k.monitor(), s.pid, s.state));
    }
    let risk = match stuck.get(id) {
        Some(why) => {
            f = f.evidence(why.why());
            Risk::Reboot
        }
        None => Risk::Destructive,
    };
    f.fix(rm_op(k, id), risk)
}

/// A container that could not start because a host port was taken: the engine's words,
/// then who holds the port now (the port module's lookup) and the fix that frees it.
fn blocked_finding(
    k: EngineKind,
    (name, e): (&str, &PsEntry),
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
    blocked_fix(k, f, (name, e), ports, holders)
}

/// The fix of a container kept from its ports: free the first port still taken (unless
/// another container publishes it), or, when every port is free now, start it.
fn blocked_fix(
    k: EngineKind,
    mut f: Finding,
    (name, e): (&str, &PsEntry),
    ports: &[u16],
    holders: &PortHolders,
) -> Finding {
    let taken = ports
        .iter()
        .find(|p| holders.get(p).is_none_or(|h| !h.is_empty()));
    let Some(p) = taken else {
        let list_ports = ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        return f
            .evidence(format!("port {list_ports} is free now: {k} start {name}"))
            .fix(
                FixOp::StartContainer {
                    id: e.id.clone(),
                    name: name.to_string(),
                    ports: ports.to_vec(),
                    engine: k,
                },
                Risk::Additive,
            );
    };
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
        f = f.fix(
            FixOp::FreePort {
                port: *p,
                proto: crate::net::Proto::Tcp,
                remove_package: false,
            },
            Risk::Disruptive,
        );
    }
    f.evidence(format!("once the port is free: {k} start {name}"))
}

/// A container hostfix rebooted the host to remove (its ladder's record, `record`) and
/// that the engine still lists after the boot (pure): the removal the reboot was for is
/// not finished, and with no process left in `D` the ladder's first rung finishes it.
/// `None` in the boot the reboot was asked in (the stuck finding says what is left), when
/// the boot id is unknown, and for a container that runs again (a restart policy brought
/// it back: it is not stuck, and removing it is the user's call).
pub fn removal_after_reboot(
    k: EngineKind,
    e: &PsEntry,
    record: &RebootRecord,
    boot_id: Option<&str>,
) -> Option<Finding> {
    let now = boot_id.filter(|b| *b != record.boot_id)?;
    if e.id != record.id {
        return None;
    }
    let name = e.name();
    let asked = format!(
        "hostfix asked for a reboot to remove it in boot {}; this is boot {now}",
        record.boot_id
    );
    if e.state == Status::Running {
        return Some(
            Finding::new(
                Area::Containers,
                Severity::Info,
                format!("container {name} runs again after the reboot hostfix asked to remove it"),
            )
            .evidence(asked)
            .evidence(format!("the engine: {}", e.status))
            .evidence(format!(
                "to remove it after all: {}",
                rm_op(k, name).command(Risk::Disruptive)
            )),
        );
    }
    Some(
        Finding::new(
            Area::Containers,
            Severity::Warning,
            format!("container {name}: the removal hostfix rebooted for is not finished"),
        )
        .evidence(asked)
        .evidence(format!("the engine: {}", e.status))
        .evidence(format!("why it was stuck: {}", record.reason))
        .evidence(
            "after the boot no process of it is left in D: the ladder's first rung removes it",
        )
        .fix(rm_op(k, name), Risk::Disruptive),
    )
}

/// The fix that removes a container.
fn rm_op(k: EngineKind, target: &str) -> FixOp {
    FixOp::RemoveContainer {
        target: target.to_string(),
        engine: k,
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

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e";

    fn entry(state: Status, status: &str) -> PsEntry {
        PsEntry {
            id: ID.into(),
            names: vec!["stuck-d".into()],
            image: "busybox".into(),
            state,
            status: status.into(),
            ports: String::new(),
        }
    }

    fn record() -> RebootRecord {
        RebootRecord {
            version: 1,
            id: ID.into(),
            name: "stuck-d".into(),
            boot_id: "boot-a".into(),
            requested_at: 1_700_000_000,
            reason: "its process is in uninterruptible sleep (D)".into(),
        }
    }

    #[test]
    fn after_the_reboot_the_removal_it_was_for_is_the_fix() {
        let exited = entry(Status::Exited, "Exited (255) 1 minute ago");
        let f =
            removal_after_reboot(EngineKind::Docker, &exited, &record(), Some("boot-b")).unwrap();
        assert_eq!(f.severity, Severity::Warning);
        assert!(f.title.contains("container stuck-d"), "{}", f.title);
        let fix = f.fix.as_ref().unwrap();
        assert_eq!(
            (fix.command.as_str(), fix.risk),
            ("hostfix container rm stuck-d", Risk::Disruptive)
        );
        assert!(
            f.evidence
                .iter()
                .any(|e| e.contains("boot-a") && e.contains("boot-b"))
        );
    }

    #[test]
    fn no_fix_before_the_boot_for_another_container_or_when_it_runs_again() {
        let exited = entry(Status::Exited, "Exited (255) 1 minute ago");
        // The boot the reboot was asked in: the stuck finding says what is left.
        assert!(
            removal_after_reboot(EngineKind::Docker, &exited, &record(), Some("boot-a")).is_none()
        );
        assert!(removal_after_reboot(EngineKind::Docker, &exited, &record(), None).is_none());
        let mut other = exited.clone();
        other.id = ID.replace('3', "4");
        assert!(
            removal_after_reboot(EngineKind::Docker, &other, &record(), Some("boot-b")).is_none()
        );
        // A restart policy brought it back: said, not removed.
        let running = entry(Status::Running, "Up 1 minute");
        let f =
            removal_after_reboot(EngineKind::Docker, &running, &record(), Some("boot-b")).unwrap();
        assert!(f.fix.is_none(), "{f:?}");
        assert_eq!(f.severity, Severity::Info);
    }
}
