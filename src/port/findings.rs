//! `port`'s findings for `doctor`: who holds each port a request arrives at.

use super::{Holders, Listener, OwnerGroup, OwnerKind, PortOwner, Proto, WhoSpec, find_holders};
use crate::finding::{Area, Diagnosis, DoctorOptions, Finding, FixOp, Severity};
use crate::host::Host;
use crate::risk::Risk;

/// The doctor findings for one port's holders (pure).
pub fn port_findings(h: &Holders) -> Vec<Finding> {
    let port = h.port;
    if h.listeners.is_empty() {
        return vec![Finding::new(
            Area::Ports,
            Severity::Ok,
            format!("port {port}/{}: free", h.proto),
        )];
    }
    let mut out = Vec::new();
    let addrs = h
        .listeners
        .iter()
        .map(Listener::describe)
        .collect::<Vec<_>>()
        .join(", ");
    for g in &h.groups {
        out.extend(group_finding(h, g, &addrs));
    }
    if !h.unowned.is_empty() {
        let mut f = Finding::new(
            Area::Ports,
            Severity::Info,
            format!(
                "port {port}/{}: held by sockets of no visible process",
                h.proto
            ),
        );
        for u in &h.unowned {
            f = f.evidence(u.clone());
        }
        out.push(f);
    }
    out
}

/// The finding for one process tree holding the port: who it is, and the fix (none for a
/// container's or a protected process, the socket unit's for PID 1).
fn group_finding(h: &Holders, g: &OwnerGroup, addrs: &str) -> Option<Finding> {
    let port = h.port;
    let leader = h.owners.iter().find(|o| o.pid == g.leader)?;
    let members: Vec<&PortOwner> = h
        .owners
        .iter()
        .filter(|o| g.pids.contains(&o.pid))
        .collect();
    let mut f = Finding::new(
        Area::Ports,
        Severity::Info,
        format!("port {port}/{}: {}", h.proto, g.summary),
    )
    .evidence(format!("listening on {addrs}"));
    for m in &members {
        f = f.evidence(format!(
            "pid {} {} ({})",
            m.pid,
            m.name,
            m.exe
                .as_ref()
                .map(|e| e.display().to_string())
                .unwrap_or_else(|| "no exe".into())
        ));
    }
    let udp = if h.proto == Proto::Udp { " --udp" } else { "" };
    if let Some(c) = &leader.container {
        f.severity = Severity::Ok;
        f = f.evidence(format!(
            "a container publishes it; to free the port: {}",
            c.stop_command
        ));
    } else if let Some(p) = members.iter().find_map(|m| m.protected.as_ref()) {
        if leader.kind == OwnerKind::SocketActivated && !leader.socket_units.is_empty() {
            f = f.fix(free_op(h), Risk::Disruptive);
        } else {
            f = f.evidence(format!("protected, hostfix will not free it: {p}"));
        }
    } else {
        f = f.fix(free_op(h), Risk::Disruptive);
        if let Some(pkg) = &leader.package {
            f = f.evidence(format!(
                "if {} is not wanted on this host: hostfix port free {port}{udp} --remove-package (risk destructive)",
                pkg.name
            ));
        }
    }
    Some(f)
}

/// The fix that frees the port `h` is about.
fn free_op(h: &Holders) -> FixOp {
    FixOp::FreePort {
        port: h.port,
        proto: h.proto,
        remove_package: false,
    }
}

/// Adds this module's findings to a diagnosis: the holders of each port asked about.
/// Returns them, for the requests doctor sends next.
pub fn diagnose(host: &Host, opts: &DoctorOptions, d: &mut Diagnosis) -> Vec<Holders> {
    let mut all = Vec::new();
    for &port in &opts.ports {
        let mut who = WhoSpec::tcp(port);
        who.engine = opts.engine;
        match find_holders(host, &who) {
            Ok(h) => {
                for f in port_findings(&h) {
                    d.add(f);
                }
                for n in &h.notes {
                    d.unseen(format!("port {port}: {n}"));
                }
                all.push(h);
            }
            Err(e) => d.unseen(format!("port {port}: {e}")),
        }
    }
    d.fact("ports", &all);
    all
}
