//! Port holders: who holds a port, and freeing it by the least risky ladder.
//!
//! [`who`] answers "what holds port 80?" in milliseconds: the kernel's socket table
//! (netlink sock_diag, filtered on state and port in the kernel, with each socket's
//! cgroup; `/proc/net/*` as the fallback), then the open files of the processes in those
//! cgroups, or where that does not find them a parallel walk over `/proc/*/fd` that stops
//! at the last wanted socket ([`scan`]), then each owner classified ([`owner`]): a
//! systemd service, a socket unit
//! PID 1 holds the socket for, a container (`docker-proxy` or a process in a container's
//! cgroup), the distro package of its executable, or a bare process.
//!
//! [`free_port`] makes the port bindable with the softest fix that works, verifying each
//! rung by binding the exact addresses the caller needs: stop and disable the unit (and
//! its `.socket`) → SIGTERM, wait → SIGKILL; with [`FreeSpec::remove_package`], the
//! distro package holding the port is removed after a simulated removal shows nothing
//! else would go.
//!
//! Never touched: PID 1, the caller and its ancestors, kernel threads, sshd, the
//! container engine and containers (reported with the command that would stop them),
//! essential or required packages.
//!
//! ```no_run
//! use hostfix::port::{self, FreeSpec, WhoSpec};
//! use hostfix::{Host, Policy, Risk};
//!
//! let host = Host::live();
//! // "pid 812 nginx (master) and 3 workers, unit nginx.service, package nginx-light"
//! for g in port::find_holders(&host, &WhoSpec::tcp(80))?.groups {
//!     println!("{}", g.summary);
//! }
//! let spec = FreeSpec { remove_package: true, ..FreeSpec::tcp(80) };
//! let report = port::free_port(&host, &spec, &Policy::new(Risk::Destructive));
//! if let Some(e) = &report.error {
//!     eprintln!("port 80 not freed (exit {}): {e}", report.exit_code());
//! }
//! # Ok::<(), hostfix::Error>(())
//! ```

pub mod cgroup;
pub mod diag;
pub mod docker;
mod fds;
mod free;
pub mod owner;
mod relatives;
mod removal;
pub mod scan;
pub mod table;

use std::fmt::Write as _;

use serde::Serialize;

pub use free::{
    FreeObservation, FreeResult, FreeRung, FreeSpec, RemovalPlan, decide as decide_free, free_port,
    protected_refusal, signalled, targets, units_of,
};
pub use owner::{OwnerGroup, OwnerKind, PortOwner};
pub use removal::tied_to_family;
pub use scan::{CgroupLook, ScanPath, ScanStats};
pub use table::{Listener, Proto, TableSource};

pub use crate::error::PortError;
use crate::error::{InputError, Result};
use crate::finding::{Area, Diagnosis, DoctorOptions, Finding, Severity};
use crate::host::Host;
use crate::plan::{Policy, Report, Risk, Runner};

/// What [`who`] looks up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhoSpec {
    /// The port.
    pub port: u16,
    /// The protocol.
    pub proto: Proto,
    /// Walk every process instead of stopping at the last wanted socket (finds owners
    /// that received the socket from outside their process tree and service).
    pub exhaustive: bool,
    /// Look up the distro package of each owner's executable.
    pub packages: bool,
    /// Look among the processes of each socket's cgroup before walking every process
    /// (live host, cgroup v2; the owners found are the same either way, see [`scan`]).
    pub cgroups: bool,
}

impl WhoSpec {
    /// A TCP lookup with package names, stopping early.
    pub fn tcp(port: u16) -> Self {
        WhoSpec {
            port,
            proto: Proto::Tcp,
            exhaustive: false,
            packages: true,
            cgroups: true,
        }
    }

    /// A UDP lookup with package names, stopping early.
    pub fn udp(port: u16) -> Self {
        WhoSpec {
            proto: Proto::Udp,
            ..Self::tcp(port)
        }
    }
}

/// Who holds a port.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Holders {
    /// The port.
    pub port: u16,
    /// The protocol.
    pub proto: Proto,
    /// The sockets holding it.
    pub listeners: Vec<Listener>,
    /// The processes holding those sockets.
    pub owners: Vec<PortOwner>,
    /// The owners grouped by process tree, with a one-line summary each.
    pub groups: Vec<OwnerGroup>,
    /// Sockets no process was found for (a kernel socket, or a process hostfix could not
    /// read).
    pub unowned: Vec<String>,
    /// Where the socket table came from.
    pub source: Option<TableSource>,
    /// How the walk over `/proc/*/fd` went.
    pub scan: ScanStats,
    /// What the caller should know (missing permissions).
    pub notes: Vec<String>,
}

impl Holders {
    /// Whether nothing holds the port.
    pub fn is_free(&self) -> bool {
        self.listeners.is_empty()
    }
}

/// Port 0 is a bad input: nothing is ever held on it.
pub(crate) fn check_port(port: u16) -> Result<()> {
    if port == 0 {
        return Err(InputError::new(
            "port",
            "0",
            "port 0 is never held",
            "a port from 1 to 65535",
        )
        .into());
    }
    Ok(())
}

/// Finds the sockets holding a port and the processes holding them, classified.
///
/// # Errors
/// [`InputError`] for port 0; [`crate::Error::Io`] or [`crate::Error::Parse`] when
/// neither netlink nor `/proc/net` can be read.
pub fn find_holders(host: &Host, spec: &WhoSpec) -> Result<Holders> {
    check_port(spec.port)?;
    let t0 = std::time::Instant::now();
    let (listeners, source) = read_listeners(host, spec.proto, spec.port)?;
    log::debug!(
        "port: {} socket(s) on {}/{} from {source:?} in {:?}",
        listeners.len(),
        spec.port,
        spec.proto,
        t0.elapsed()
    );
    let mut h = Holders {
        port: spec.port,
        proto: spec.proto,
        source: Some(source),
        ..Holders::default()
    };
    if listeners.is_empty() {
        h.listeners = listeners;
        return Ok(h);
    }
    let t1 = std::time::Instant::now();
    let opts = scan::ScanOptions {
        exhaustive: spec.exhaustive,
        cgroups: spec.cgroups,
    };
    let scan = scan::scan_sockets(host, &listeners, opts);
    log::info!(
        "port: holders found by {} in {:?}: {}",
        scan.stats.path.as_str(),
        t1.elapsed(),
        scan_summary(&scan.stats)
    );
    let t2 = std::time::Instant::now();
    h.owners = owner::build_owners(
        host,
        &listeners,
        &scan,
        spec.port,
        spec.proto,
        spec.packages,
    );
    log::debug!("port: owners read and classified in {:?}", t2.elapsed());
    h.groups = owner::group_owners(&h.owners);
    h.unowned = listeners
        .iter()
        .filter(|l| !h.owners.iter().any(|o| o.inodes.contains(&l.inode)))
        .map(|l| format!("{} (inode {}, uid {})", l.describe(), l.inode, l.uid))
        .collect();
    if scan.stats.denied > 0 {
        h.notes.push(format!(
            "not root: the open files of {} processes could not be read; owners among them are missing",
            scan.stats.denied
        ));
    }
    h.listeners = listeners;
    h.scan = scan.stats;
    Ok(h)
}

/// `hostfix port who`: every process holding the port, with its unit, package or
/// container. Read-only.
pub fn who(host: &Host, spec: &WhoSpec, policy: &Policy) -> Report<Holders> {
    let policy = Policy {
        max_risk: Risk::ReadOnly,
        ..policy.clone()
    };
    let mut run = Runner::new("port who", host, &policy);
    let res = find_holders(host, spec);
    if let Ok(h) = &res {
        run.observe(
            format!("read the {} socket table", h.proto),
            format!(
                "{} socket(s) on port {}{}",
                h.listeners.len(),
                h.port,
                match h.source {
                    Some(TableSource::SockDiag) => " (sock_diag)",
                    Some(TableSource::ProcNet) => " (/proc/net)",
                    None => "",
                }
            ),
        );
        if !h.listeners.is_empty() {
            run.observe(
                format!("find the sockets' processes ({})", h.scan.path.as_str()),
                format!(
                    "{} owner(s) in {} process(es) read: {}",
                    h.owners.len(),
                    h.scan.processes,
                    scan_summary(&h.scan)
                ),
            );
        }
    }
    run.finish(res)
}

/// Which way the holders were found, in words: the cgroups read and why the walk ran.
pub fn scan_summary(s: &ScanStats) -> String {
    let cgroups: Vec<String> = s
        .cgroups
        .iter()
        .map(|c| {
            format!(
                "cgroup {} ({} process(es){})",
                c.path.clone().unwrap_or_else(|| format!("id {}", c.id)),
                c.processes,
                match (&c.error, c.answered) {
                    (Some(e), _) => format!(": {e}"),
                    (None, true) => ", holds its sockets".to_string(),
                    (None, false) => ", not all its sockets".to_string(),
                }
            )
        })
        .collect();
    let mut parts = Vec::new();
    if !cgroups.is_empty() {
        parts.push(format!("read {}", cgroups.join(", ")));
    }
    match s.path {
        ScanPath::Cgroup => parts.push("no walk over /proc needed".into()),
        ScanPath::Walk | ScanPath::CgroupAndWalk => parts.push(format!(
            "walked /proc ({}{})",
            s.walk_reasons.join("; "),
            if s.stopped_early {
                ", stopped at the last socket"
            } else {
                ""
            }
        )),
        ScanPath::None => {}
    }
    parts.join("; ")
}

/// A human rendering of [`Holders`].
pub fn describe_holders(h: &Holders) -> String {
    let mut s = String::new();
    if h.listeners.is_empty() {
        let _ = writeln!(s, "{} port {}: free (nothing holds it)", h.proto, h.port);
        return s;
    }
    let _ = writeln!(
        s,
        "{} port {}: {}",
        h.proto,
        h.port,
        h.listeners
            .iter()
            .map(Listener::describe)
            .collect::<Vec<_>>()
            .join(", ")
    );
    for g in &h.groups {
        let _ = writeln!(s, "{}", g.summary);
        for pid in &g.pids {
            if let Some(o) = h.owners.iter().find(|o| o.pid == *pid) {
                let _ = writeln!(
                    s,
                    "  {:>7} {:<10} {}",
                    o.pid,
                    o.user
                        .clone()
                        .or(o.uid.map(|u| u.to_string()))
                        .unwrap_or_default(),
                    one_line(if o.cmdline.is_empty() {
                        o.name.clone()
                    } else {
                        o.cmdline.join(" ")
                    })
                );
            }
        }
        if let Some(l) = g
            .pids
            .first()
            .and_then(|p| h.owners.iter().find(|o| o.pid == *p))
        {
            if let Some(c) = &l.container {
                let _ = writeln!(s, "  stop it with: {}", c.stop_command);
            } else if let Some(p) = &l.protected {
                let _ = writeln!(s, "  protected: {p}");
            }
        }
    }
    for u in &h.unowned {
        let _ = writeln!(s, "no process found for {u}");
    }
    for n in &h.notes {
        let _ = writeln!(s, "note: {n}");
    }
    s
}

/// A command line on one line of at most 120 characters.
fn one_line(s: String) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 120 {
        format!("{}...", flat.chars().take(117).collect::<String>())
    } else {
        flat
    }
}

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
            f = f.fix(format!("hostfix port free {port}{udp}"), Risk::Disruptive);
        } else {
            f = f.evidence(format!("protected, hostfix will not free it: {p}"));
        }
    } else {
        f = f.fix(format!("hostfix port free {port}{udp}"), Risk::Disruptive);
        if let Some(pkg) = &leader.package {
            f = f.evidence(format!(
                "if {} is not wanted on this host: hostfix port free {port}{udp} --remove-package (risk destructive)",
                pkg.name
            ));
        }
    }
    Some(f)
}

/// Adds this module's findings to a diagnosis: the holders of each port asked about.
/// Returns them, for the requests doctor sends next.
pub fn diagnose(host: &Host, opts: &DoctorOptions, d: &mut Diagnosis) -> Vec<Holders> {
    let mut all = Vec::new();
    for &port in &opts.ports {
        match find_holders(host, &WhoSpec::tcp(port)) {
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
/// The sockets holding `port`: netlink sock_diag on a live host (the kernel filters on
/// state and port), `/proc/net` when netlink is refused or the host is a fake root.
///
/// # Errors
/// As [`table::read_proc_net`] when the fallback fails too.
pub(crate) fn read_listeners(
    host: &Host,
    proto: Proto,
    port: u16,
) -> Result<(Vec<Listener>, TableSource)> {
    if host.is_live_root() {
        match diag::sock_diag(proto, port) {
            Ok(v) => return Ok((v, TableSource::SockDiag)),
            Err(e) => log::info!("port: sock_diag: {e}; reading /proc/net instead"),
        }
    }
    Ok((
        table::read_proc_net(host, proto, port)?,
        TableSource::ProcNet,
    ))
}
