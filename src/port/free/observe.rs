//! What `port free` sees: which addresses do not bind, who holds them, the units behind
//! them, and the removal `--remove-package` would make. The I/O lives here; the decisions
//! on it are pure ([`super::rungs`]).

use std::net::SocketAddr;
use std::time::Duration;

use nix::errno::Errno;

use super::FreeSpec;
use crate::error::Refusal;
use crate::error::{InputError, Result};
use crate::host::{Host, InitSystem};
use crate::package::PackageManager;
use crate::plan::Goal;
use crate::port::initd::{self, InitService};
use crate::port::owner::{OwnerKind, PortOwner};
use crate::port::removal::{self, RemovalPlan};
use crate::port::{Holders, PortError, Proto, WhoSpec, find_holders};

/// What `port free` sees of the host at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FreeObservation {
    /// The addresses that do not bind (empty: the port is free).
    pub blocked: Vec<SocketAddr>,
    /// Who holds the port, when it is held.
    pub holders: Option<Holders>,
    /// The owners whose sockets keep a blocked address from binding.
    pub targets: Vec<PortOwner>,
    /// Their systemd units to stop and disable, `.socket` units first.
    pub units: Vec<String>,
    /// Whether systemd runs the host.
    pub systemd: bool,
    /// The init system running the host.
    pub init: InitSystem,
    /// On a host without systemd: the init scripts' services running the owners, to
    /// stop and disable.
    pub services: Vec<InitService>,
    /// On a host without systemd: why the owners cannot be tied to their services for
    /// certain (the operation refuses).
    pub uncertain: Option<Refusal>,
    /// Whether this observation was made after a rung was taken (the units were
    /// already stopped).
    pub after_units: bool,
    /// With `--remove-package`: the checked removal, or why it is refused.
    pub removal: Option<std::result::Result<RemovalPlan, Refusal>>,
    /// The removal's packages still installed.
    pub packages_left: Vec<String>,
    /// An earlier run's removal plan found in the ledger.
    pub resumed: bool,
}

impl FreeObservation {
    /// Whether the port binds and no planned removal is left to do.
    pub fn done(&self) -> bool {
        self.blocked.is_empty() && self.packages_left.is_empty()
    }
}

/// The addresses that do not bind; an error for any failure other than `EADDRINUSE`.
pub(super) fn blocked(host: &Host, spec: &FreeSpec) -> Result<Vec<SocketAddr>> {
    let mut out = Vec::new();
    for addr in spec.endpoints() {
        match host.system().try_bind(addr, spec.proto == Proto::Udp) {
            Ok(()) => {}
            Err(Errno::EADDRINUSE) => out.push(addr),
            Err(Errno::EADDRNOTAVAIL) => {
                return Err(InputError::new(
                    "--address",
                    addr.ip().to_string(),
                    "no interface of this host has that address",
                    "0.0.0.0, ::, or an address of this host",
                )
                .into());
            }
            Err(errno) => {
                return Err(PortError::Probe {
                    addr,
                    proto: spec.proto,
                    errno,
                    hint: matches!(errno, Errno::EACCES | Errno::EPERM).then(|| {
                        "binding a port below 1024 needs root or CAP_NET_BIND_SERVICE".to_string()
                    }),
                }
                .into());
            }
        }
    }
    Ok(out)
}

/// Polls until every address binds, up to `max`.
pub(super) fn wait_free(host: &Host, spec: &FreeSpec, max: Duration) -> Result<bool> {
    const TICK: Duration = Duration::from_millis(50);
    let ticks = (max.as_millis() / TICK.as_millis()).max(1);
    for i in 0..=ticks {
        if blocked(host, spec)?.is_empty() {
            return Ok(true);
        }
        if i < ticks {
            host.system().sleep(TICK);
        }
    }
    Ok(false)
}

/// The owners whose sockets keep one of the `blocked` addresses from binding (all owners
/// when the rules find none: the bind is the judge).
pub fn targets(h: &Holders, blocked: &[SocketAddr], v6only_default: bool) -> Vec<PortOwner> {
    let inodes: Vec<u64> = h
        .listeners
        .iter()
        .filter(|l| blocked.iter().any(|b| l.blocks(*b, v6only_default)))
        .map(|l| l.inode)
        .collect();
    let t: Vec<PortOwner> = h
        .owners
        .iter()
        .filter(|o| o.inodes.iter().any(|i| inodes.contains(i)))
        .cloned()
        .collect();
    if t.is_empty() { h.owners.clone() } else { t }
}

/// The units to stop and disable: the owners' services and the socket units that hand
/// them the port, socket units first (so they cannot start the service again).
pub fn units_of(t: &[PortOwner]) -> Vec<String> {
    let mut sockets: Vec<String> = Vec::new();
    let mut services: Vec<String> = Vec::new();
    for o in t {
        for s in &o.socket_units {
            if !sockets.contains(s) {
                sockets.push(s.clone());
            }
        }
        if o.kind == OwnerKind::Service {
            if let Some(u) = o.unit.as_ref().filter(|u| !services.contains(u)) {
                services.push(u.clone());
            }
        }
    }
    sockets.extend(services);
    sockets
}

/// Observes the port (and, with `--remove-package`, the removal) for the ladder.
pub(super) struct FreeGoal<'a> {
    pub spec: &'a FreeSpec,
    pub pm: Option<&'a dyn PackageManager>,
    /// The removal, checked once on the first observation and kept.
    pub removal: Option<std::result::Result<RemovalPlan, Refusal>>,
    pub resumed: bool,
    pub rounds: u32,
}

impl FreeGoal<'_> {
    /// Reads the host: bind probes first; the owner lookup only while the port is held.
    pub fn look(&mut self, host: &Host) -> Result<FreeObservation> {
        let spec = self.spec;
        let blocked = blocked(host, spec)?;
        let init = host.init_system();
        let mut o = FreeObservation {
            systemd: init == InitSystem::Systemd,
            init,
            after_units: self.rounds > 0,
            removal: self.removal.clone(),
            resumed: self.resumed,
            ..FreeObservation::default()
        };
        self.rounds += 1;
        if !blocked.is_empty() {
            let h = find_holders(
                host,
                &WhoSpec {
                    port: spec.port,
                    proto: spec.proto,
                    exhaustive: true,
                    packages: true,
                    cgroups: true,
                    engine: spec.engine,
                },
            )?;
            // A `::` probe is dual-stack unless net.ipv6.bindv6only says otherwise.
            let v6only = host
                .read_opt("/proc/sys/net/ipv6/bindv6only")
                .ok()
                .flatten()
                .is_some_and(|v| v.trim() == "1");
            o.targets = targets(&h, &blocked, v6only);
            o.units = units_of(&o.targets);
            if init.has_init_scripts() {
                match initd::services_of(host, init, &o.targets) {
                    Ok(s) => o.services = s,
                    Err(r) => o.uncertain = Some(r),
                }
            }
            o.holders = Some(h);
        }
        o.blocked = blocked;
        if let (Some(pm), Some(Ok(plan))) = (self.pm, &o.removal) {
            o.packages_left = removal::installed(host, pm, &plan.packages);
        }
        Ok(o)
    }
}

impl Goal<FreeObservation> for FreeGoal<'_> {
    fn observe(&mut self, host: &Host) -> Result<FreeObservation> {
        self.look(host)
    }

    fn reached(&self, o: &FreeObservation) -> bool {
        o.done()
    }

    fn remains(&self, o: &FreeObservation) -> String {
        let mut parts = Vec::new();
        if let Some(h) = &o.holders {
            let held = h
                .groups
                .iter()
                .map(|g| g.summary.as_str())
                .collect::<Vec<_>>();
            parts.push(format!(
                "port {} held by {}",
                self.spec.port,
                held.join("; ")
            ));
        } else if !o.blocked.is_empty() {
            parts.push(format!("port {} still held", self.spec.port));
        }
        if !o.packages_left.is_empty() {
            parts.push(format!("still installed: {}", o.packages_left.join(", ")));
        }
        parts.join("; ")
    }
}
