//! `port free`: the least risky ladder that makes a port bindable, each rung verified by
//! binding the exact addresses the caller needs.
//!
//! 1. stop and disable the owners' systemd units and their `.socket` units (a killed
//!    process of a `Restart=` unit comes straight back, and an enabled one comes back at
//!    boot; disable runs first, so a crash between the two leaves the unit disabled and
//!    the next run stops it);
//! 2. with `--remove-package`: remove the distro package holding the port, after a
//!    simulated removal showed nothing else would go (checked before anything is done);
//! 3. SIGTERM to the remaining owners through pidfds, wait;
//! 4. SIGKILL, wait.
//!
//! Each rung runs only when the port is still held after the last one. Protected owners
//! (PID 1, the caller's tree, sshd, the container engine, containers) refuse the whole
//! operation before anything is done.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::Signal;
use serde::Serialize;

use super::owner::{OwnerGroup, OwnerKind, PortOwner};
pub use super::removal::RemovalPlan;
use super::removal::{drop_ledger, plan_removal, remove_packages, resume_removal, write_ledger};
use super::{Holders, PortError, Proto, WhoSpec, find_holders};
use crate::error::{Error, InputError, Refusal, Result};
use crate::host::{Cmd, Host, InitSystem};
use crate::package::{self, PackageManager};
use crate::plan::{Exec, Policy, Report, Risk, Runner};
use crate::state::HostLock;

/// What [`free_port`] frees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeSpec {
    /// The port.
    pub port: u16,
    /// The protocol.
    pub proto: Proto,
    /// The addresses that must bind (default `0.0.0.0` and `::`).
    pub addresses: Vec<IpAddr>,
    /// Also remove the distro package holding the port (risk `destructive`).
    pub remove_package: bool,
    /// How long to wait for the owners to exit after each signal.
    pub timeout: Duration,
}

impl FreeSpec {
    /// Frees a TCP port on `0.0.0.0` and `::`, waiting up to 10 s per signal.
    pub fn tcp(port: u16) -> Self {
        FreeSpec {
            port,
            proto: Proto::Tcp,
            addresses: Self::default_addresses(),
            remove_package: false,
            timeout: Duration::from_secs(10),
        }
    }

    /// `0.0.0.0` and `::`.
    pub fn default_addresses() -> Vec<IpAddr> {
        vec![
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        ]
    }

    fn endpoints(&self) -> Vec<SocketAddr> {
        let addrs = if self.addresses.is_empty() {
            Self::default_addresses()
        } else {
            self.addresses.clone()
        };
        addrs
            .into_iter()
            .map(|a| SocketAddr::new(a, self.port))
            .collect()
    }

    fn shown(&self) -> String {
        self.endpoints()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" and ")
    }
}

/// What `port free` did and found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FreeResult {
    /// The port.
    pub port: u16,
    /// The protocol.
    pub proto: Proto,
    /// The addresses verified by binding.
    pub addresses: Vec<SocketAddr>,
    /// Whether every address binds at the end (unknown, so `false`, on a dry run that
    /// would have changed something).
    pub free: bool,
    /// The owners as first found.
    pub holders: Vec<PortOwner>,
    /// They, grouped by process tree.
    pub groups: Vec<OwnerGroup>,
    /// The package removal, with `--remove-package`.
    pub removal: Option<RemovalPlan>,
}

/// Frees a port by the least risky ladder; see the module documentation.
///
/// The report's error is a [`Refusal`] (exit 3) for a protected owner, a removal that
/// would take more than the holder's source package, or a rung above `--max-risk`;
/// [`PortError::StillHeld`] when every allowed rung was taken and the port still does
/// not bind; [`InputError`] for port 0 or an address not on this host.
pub fn free_port(host: &Host, spec: &FreeSpec, policy: &Policy) -> Report<FreeResult> {
    let mut run = Runner::new("port free", host, policy);
    let mut res = FreeResult {
        port: spec.port,
        proto: spec.proto,
        addresses: spec.endpoints(),
        ..FreeResult::default()
    };
    let r = ladder(&mut run, spec, &mut res);
    run.finish_with(res, r.err())
}

/// The addresses that do not bind; an error for any failure other than `EADDRINUSE`.
fn blocked(host: &Host, spec: &FreeSpec) -> Result<Vec<SocketAddr>> {
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
fn wait_free(host: &Host, spec: &FreeSpec, max: Duration) -> Result<bool> {
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

fn holders(host: &Host, spec: &FreeSpec) -> Result<Holders> {
    find_holders(
        host,
        &WhoSpec {
            port: spec.port,
            proto: spec.proto,
            exhaustive: true,
            packages: true,
        },
    )
}

/// The owners whose sockets keep one of the `blocked` addresses from binding (all owners
/// when the rules find none: the bind is the judge).
fn targets(host: &Host, h: &Holders, blocked: &[SocketAddr]) -> Vec<PortOwner> {
    // A `::` probe is dual-stack unless net.ipv6.bindv6only says otherwise.
    let v6only_default = host
        .read_opt("/proc/sys/net/ipv6/bindv6only")
        .ok()
        .flatten()
        .is_some_and(|v| v.trim() == "1");
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

fn pid_list(owners: &[&PortOwner]) -> String {
    owners
        .iter()
        .map(|o| format!("{} {}", o.pid, o.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Refuses the operation when a target is protected (PID 1 holding a socket unit's socket
/// is handled by stopping the unit, and is only refused if it still holds it after).
fn refuse_protected(
    run: &mut Runner<'_>,
    spec: &FreeSpec,
    t: &[PortOwner],
    units_done: bool,
) -> Result<()> {
    for o in t {
        let Some(why) = &o.protected else { continue };
        let by_unit =
            o.kind == OwnerKind::SocketActivated && !o.socket_units.is_empty() && !units_done;
        if by_unit {
            continue;
        }
        let target = match &o.container {
            Some(c) => format!("container {} (pid {} {})", c.label(), o.pid, o.name),
            None => format!("pid {} {}", o.pid, o.name),
        };
        return Err(run.refuse(
            format!("free port {}/{}", spec.port, spec.proto),
            Risk::Disruptive,
            Refusal::Protected {
                target,
                why: why.clone(),
            },
        ));
    }
    Ok(())
}

/// The units to stop and disable: the owners' services and the socket units that hand
/// them the port, socket units first (so they cannot start the service again).
fn units_of(t: &[PortOwner]) -> Vec<String> {
    let mut sockets: Vec<String> = Vec::new();
    let mut services: Vec<String> = Vec::new();
    for o in t {
        for s in &o.socket_units {
            if !sockets.contains(s) {
                sockets.push(s.clone());
            }
        }
        if o.kind == OwnerKind::Service {
            if let Some(u) = &o.unit {
                if !services.contains(u) {
                    services.push(u.clone());
                }
            }
        }
    }
    sockets.extend(services);
    sockets
}

fn ladder(run: &mut Runner<'_>, spec: &FreeSpec, res: &mut FreeResult) -> Result<()> {
    let host = run.host();
    super::check_port(spec.port)?;
    // The machine-wide host lock (units and packages are the host's); a dry run edits
    // nothing and takes none.
    let _lock = if run.dry_run() {
        None
    } else {
        Some(HostLock::acquire(host, Duration::from_secs(30))?)
    };
    let shown = spec.shown();
    let held = blocked(host, spec)?;
    if held.is_empty() {
        run.observe(format!("bind {shown} ({})", spec.proto), "free");
        res.free = true;
        if spec.remove_package {
            resume_removal(run, spec)?;
        }
        return Ok(());
    }
    run.observe(
        format!("bind {shown} ({})", spec.proto),
        format!(
            "in use: {}",
            held.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    let h = holders(host, spec)?;
    run.observe(
        format!("find who holds port {}/{}", spec.port, spec.proto),
        group_summaries(&h).unwrap_or_else(|| "no process".to_string()),
    );
    res.holders = h.owners.clone();
    res.groups = h.groups.clone();
    if h.owners.is_empty() {
        let mut detail = if h.unowned.is_empty() {
            "no listening socket is visible (a socket bound without listening, or another \
             network namespace's)"
                .to_string()
        } else {
            format!(
                "sockets without a visible process: {}",
                h.unowned.join(", ")
            )
        };
        for n in &h.notes {
            detail.push_str("; ");
            detail.push_str(n);
        }
        return Err(PortError::NoOwner {
            port: spec.port,
            proto: spec.proto,
            detail,
        }
        .into());
    }
    let t = targets(host, &h, &held);
    refuse_protected(run, spec, &t, false)?;
    let units = units_of(&t);
    let systemd = host.init_system() == InitSystem::Systemd;

    // Plan the removal first: a removal hostfix would refuse must not start by stopping
    // anything.
    let mut pm_plan: Option<(Box<dyn PackageManager>, RemovalPlan)> = None;
    if spec.remove_package {
        let pm = package::detect(host)?;
        if let Some(plan) = plan_removal(run, pm.as_ref(), &t, &units)? {
            if !run.allows(Risk::Destructive) {
                // Records the refusal with the risk it needs, and returns it.
                run.step(
                    format!("remove {}", plan.packages.join(" ")),
                    Risk::Destructive,
                    "--remove-package",
                    |_| Ok(String::new()),
                )?;
            }
            if !run.dry_run() {
                write_ledger(host, run.policy(), spec, &plan)?;
            }
            res.removal = Some(plan.clone());
            pm_plan = Some((pm, plan));
        }
    }

    let mut free = false;
    // Rung 1: the units.
    if !units.is_empty() {
        if systemd {
            let list = units.join(" ");
            let s2 = spec.clone();
            let exec = run.step(
                format!("stop and disable {list}"),
                Risk::Disruptive,
                format!(
                    "{list} holds port {}: a killed process of a Restart= unit comes straight back, \
                     and an enabled unit comes back at boot",
                    spec.port
                ),
                |host| {
                    let mut notes = Vec::new();
                    let mut args = vec!["disable".to_string()];
                    args.extend(units.iter().cloned());
                    let disable = Cmd::new("systemctl", args);
                    let out = host.system().run(&disable)?;
                    if !out.success() {
                        // A transient or generated unit cannot be disabled; it does not
                        // come back at boot either.
                        notes.push(format!("disable: {}", out.stderr.trim()));
                    }
                    let mut args = vec!["stop".to_string()];
                    args.extend(units.iter().cloned());
                    host.run_ok(&Cmd::new("systemctl", args))?;
                    let ok = wait_free(host, &s2, Duration::from_secs(2))?;
                    notes.push(if ok { "port free".into() } else { "port still held".into() });
                    Ok(format!("stopped and disabled; {}", notes.join("; ")))
                },
            )?;
            free = exec == Exec::Done && blocked(host, spec)?.is_empty();
        } else {
            run.skip(
                format!("stop and disable {}", units.join(" ")),
                Risk::Disruptive,
                "the owners belong to systemd units",
                "systemd is not running this host (no /run/systemd/system): signals follow",
            );
        }
    }

    // The package, after its unit was stopped gently.
    if let Some((pm, plan)) = &pm_plan {
        if remove_packages(run, pm.as_ref(), plan, spec.port)? == Exec::Done {
            drop_ledger(host, run.policy(), spec);
        }
        free = !run.dry_run() && blocked(host, spec)?.is_empty();
    }

    if free {
        res.free = true;
        return Ok(());
    }

    // Rungs 3 and 4: signals.
    for sig in [Signal::SIGTERM, Signal::SIGKILL] {
        if run.dry_run() {
            let pids: Vec<&PortOwner> = t.iter().filter(|o| o.protected.is_none()).collect();
            if pids.is_empty() {
                continue;
            }
            run.step(
                format!("{} {}", sig.as_str(), pid_list(&pids)),
                Risk::Disruptive,
                "if the port is still held after the last rung",
                |_| Ok(String::new()),
            )?;
            continue;
        }
        let held = blocked(host, spec)?;
        if held.is_empty() {
            res.free = true;
            return Ok(());
        }
        let h = holders(host, spec)?;
        let now = targets(host, &h, &held);
        refuse_protected(run, spec, &now, true)?;
        if now.is_empty() {
            break;
        }
        let who: Vec<&PortOwner> = now.iter().collect();
        let stuck: Vec<String> = now
            .iter()
            .filter(|o| o.state == 'D')
            .map(|o| {
                format!(
                    "pid {} is in D state (uninterruptible I/O): it dies when the I/O ends",
                    o.pid
                )
            })
            .collect();
        let s2 = spec.clone();
        run.step(
            format!("{} {}", sig.as_str(), pid_list(&who)),
            Risk::Disruptive,
            if sig == Signal::SIGTERM {
                format!("they hold port {}: ask them to exit", spec.port)
            } else {
                format!(
                    "they still hold port {} {} after SIGTERM",
                    spec.port,
                    crate::size::format_duration(spec.timeout)
                )
            },
            |host| {
                for o in &now {
                    match host.system().signal(o.pid, Some(o.start_time), sig) {
                        Ok(()) | Err(Errno::ESRCH) => {}
                        Err(e) => {
                            return Err(Error::sys(sig.as_str(), format!("pid {}", o.pid), e));
                        }
                    }
                }
                let ok = wait_free(host, &s2, s2.timeout)?;
                let mut d = if ok {
                    "port free".to_string()
                } else {
                    format!(
                        "port still held after {}",
                        crate::size::format_duration(s2.timeout)
                    )
                };
                for s in &stuck {
                    d.push_str("; ");
                    d.push_str(s);
                }
                Ok(d)
            },
        )?;
    }
    if run.dry_run() {
        return Ok(());
    }
    let held = blocked(host, spec)?;
    if held.is_empty() {
        res.free = true;
        return Ok(());
    }
    let h = holders(host, spec)?;
    Err(PortError::StillHeld {
        port: spec.port,
        proto: spec.proto,
        holders: group_summaries(&h).unwrap_or_else(|| {
            held.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        }),
    }
    .into())
}

/// The owner groups' one-line summaries, `; `-separated, or `None` when no process holds
/// the port.
fn group_summaries(h: &Holders) -> Option<String> {
    (!h.groups.is_empty()).then(|| {
        h.groups
            .iter()
            .map(|g| g.summary.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    })
}
