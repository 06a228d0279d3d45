//! `port free`: the least risky ladder that makes a port bindable, each rung verified by
//! binding the exact addresses the caller needs.
//!
//! 1. stop and disable the owners' systemd units and their `.socket` units (a killed
//!    process of a `Restart=` unit comes straight back, and an enabled one comes back at
//!    boot; disable runs first, so a crash between the two leaves the unit disabled and
//!    the next run stops it); on a host without systemd, the init scripts tied to the
//!    owners for certain, the same way (`update-rc.d NAME disable`, `service NAME stop`;
//!    OpenRC: `rc-update del`, `rc-service stop`), and an owner that cannot be tied for
//!    certain refuses the operation ([`super::initd`]);
//! 2. with `--remove-package`: remove the distro package holding the port, after a
//!    simulated removal showed nothing else would go (checked before anything is done);
//! 3. SIGTERM to the remaining owners through pidfds, wait;
//! 4. SIGKILL, wait.
//!
//! Each rung runs only when the port is still held after the last one. Protected owners
//! (PID 1, the caller's tree, sshd, the container engine, containers) refuse the whole
//! operation before anything is done.
//!
//! The decisions are pure functions of a [`FreeObservation`] ([`decide`]); the ladder is
//! walked by [`Runner::climb`](crate::plan::Runner::climb).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use serde::Serialize;

mod observe;
mod rungs;

pub use observe::FreeObservation;
#[cfg(any(test, feature = "testing"))]
pub use observe::{targets, units_of};
pub use rungs::{FreeRung, protected_refusal};
#[cfg(any(test, feature = "testing"))]
pub use rungs::{decide, signalled};

use super::owner::{OwnerGroup, PortOwner};
pub use super::removal::RemovalPlan;
use super::removal::{self as rm, drop_ledger, write_ledger};
use super::{Holders, PortError, Proto};
use crate::error::{Error, Result};
use crate::host::Host;
use crate::package::{self, PackageManager};
use crate::plan::{Mode, Policy, Report, Risk, Rung, Runner};
use crate::state::HostLock;
use observe::FreeGoal;
use rungs::BoundRung;

/// What [`free_port`] frees: [`FreeSpec::tcp`], then the fields.
///
/// Read from a config (`serde`), only `port` is required:
/// `{"port": 80, "remove_package": true, "timeout": "20s"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FreeSpec {
    /// The port (1-65535; required).
    pub port: u16,
    /// The protocol. Default `tcp`.
    #[serde(default)]
    pub proto: Proto,
    /// The addresses that must bind. Default `0.0.0.0` and `::` (empty means the
    /// default too).
    #[serde(default = "FreeSpec::default_addresses")]
    pub addresses: Vec<IpAddr>,
    /// Also remove the distro package holding the port (risk `destructive`): the
    /// consent [`FreeSpec::default_cap`] follows. Default `false`.
    #[serde(default)]
    pub remove_package: bool,
    /// How long to wait for the owners to exit after each signal (at most a day).
    /// Default 10 s.
    #[serde(default = "default_timeout", deserialize_with = "crate::de::duration")]
    pub timeout: Duration,
    /// The container engine asked to name a container holding the port (`--engine`);
    /// `None` detects it.
    #[serde(default)]
    pub engine: Option<crate::engine::EngineKind>,
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

impl FreeSpec {
    /// The risk cap `hostfix port free` runs under unless `--max-risk` says otherwise,
    /// and its consent rule: [`Risk::Disruptive`] (stop units, signal processes), or
    /// [`Risk::Destructive`] with [`FreeSpec::remove_package`], which is the consent to
    /// remove the package holding the port. A package is never removed without
    /// `remove_package`, whatever the cap.
    pub fn default_cap(&self) -> Risk {
        if self.remove_package {
            Risk::Destructive
        } else {
            Risk::Disruptive
        }
    }

    /// Frees a TCP port on `0.0.0.0` and `::`, waiting up to 10 s per signal.
    pub fn tcp(port: u16) -> Self {
        FreeSpec {
            port,
            proto: Proto::Tcp,
            addresses: Self::default_addresses(),
            remove_package: false,
            timeout: default_timeout(),
            engine: None,
        }
    }

    /// `0.0.0.0` and `::`.
    pub fn default_addresses() -> Vec<IpAddr> {
        vec![
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        ]
    }

    /// Checks the spec: the port is not 0, and the timeout is at most
    /// [`crate::size::MAX_WAIT`] (a longer one never escalates in practice).
    ///
    /// # Errors
    /// [`Error::Input`] naming the field and what it accepts.
    pub fn validate(&self) -> Result<()> {
        super::check_port(self.port)?;
        crate::size::check_duration("--timeout", self.timeout, crate::size::MAX_WAIT)?;
        Ok(())
    }

    /// The key of its removal ledger.
    pub(crate) fn key(&self) -> rm::Key {
        rm::Key {
            proto: self.proto,
            port: self.port,
        }
    }

    pub(crate) fn endpoints(&self) -> Vec<SocketAddr> {
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

    pub(crate) fn shown(&self) -> String {
        self.endpoints()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" and ")
    }
}

/// What `port free` did and found.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
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
    /// On a host without systemd: the init scripts' services found running the holders
    /// (stopped and disabled unless this is a dry run).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<crate::port::initd::InitService>,
}

/// Frees a port by the least risky ladder: stop and disable the owners' units, remove
/// the package (with [`FreeSpec::remove_package`]), SIGTERM, SIGKILL, each rung taken
/// only while the port is still held and verified by binding the addresses. The cap
/// `hostfix port free` uses is [`FreeSpec::default_cap`].
///
/// The report's error is a [`Refusal`](crate::error::Refusal) (exit 3) for a protected
/// owner, a removal that would take more than the holder's source package, or a rung
/// above `--max-risk`; [`PortError::StillHeld`] when every allowed rung was taken and the
/// port still does not bind; an [`InputError`](crate::error::InputError) for port 0 or an
/// address not on this host.
///
/// # Example
///
/// A fake host where a bare process holds port 80 until it gets SIGTERM: the recorder's
/// hooks are the kernel (the bind probe fails with `EADDRINUSE` while the port is held).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use hostfix::host::{Errno, Signal};
/// use hostfix::port::{free_port, FreeSpec};
/// use hostfix::testing::{FakeProcess, FakeRoot};
/// use hostfix::Policy;
///
/// let root = FakeRoot::new();
/// root.write(
///     "/proc/net/tcp",
///     "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   \
///      0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242\n",
/// );
/// root.init().add(
///     &FakeProcess::new(900, "python3", "/usr/bin/python3")
///         .cmdline(&["python3", "-m", "http.server", "80"])
///         .sockets(&[4242]),
/// );
/// let (host, rec) = root.host();
/// let held = Arc::new(Mutex::new(true));
/// let h = held.clone();
/// rec.on_signal(move |_pid, _start, sig| {
///     if sig == Signal::SIGTERM {
///         *h.lock().unwrap() = false;
///     }
///     Ok(())
/// });
/// rec.on_bind(move |_, _| if *held.lock().unwrap() { Err(Errno::EADDRINUSE) } else { Ok(()) });
///
/// let mut spec = FreeSpec::tcp(80);
/// spec.timeout = Duration::from_millis(200);
/// let report = free_port(&host, &spec, &Policy::new(spec.default_cap()));
/// assert!(report.is_ok() && report.result.free, "{report}");
/// assert_eq!(rec.signals(), vec![(900, Signal::SIGTERM)]);
/// ```
pub fn free_port(host: &Host, spec: &FreeSpec, policy: &Policy) -> Report<FreeResult> {
    let mut run = Runner::new("port free", host, policy);
    let mut res = FreeResult {
        port: spec.port,
        proto: spec.proto,
        addresses: spec.endpoints(),
        ..FreeResult::default()
    };
    let r = free(&mut run, spec, &mut res);
    run.finish_with(res, r.err())
}

fn free(run: &mut Runner<'_>, spec: &FreeSpec, res: &mut FreeResult) -> Result<()> {
    let host = run.host();
    spec.validate()?;
    // The machine-wide host lock (units and packages are the host's); a dry run edits
    // nothing and takes none.
    let _lock = if run.dry_run() {
        None
    } else {
        Some(HostLock::for_edits(
            host,
            &run.policy().state_dir,
            Duration::from_secs(30),
        )?)
    };
    let pm = match spec.remove_package {
        true => Some(package::detect(host)?),
        false => None,
    };
    let mut goal = FreeGoal {
        spec,
        pm: pm.as_deref(),
        removal: None,
        resumed: false,
        rounds: 0,
    };
    let mut o = goal.look(host)?;
    record_first_look(run, spec, &o, res)?;
    if let Some(r) = protected_refusal(&o) {
        let action = format!("free port {}/{}", spec.port, spec.proto);
        return Err(run.refuse(action, Risk::Disruptive, r));
    }
    // An owner that cannot be tied to its init script for certain: nothing is stopped.
    if let Some(r) = o.uncertain.clone() {
        let action = format!("free port {}/{}", spec.port, spec.proto);
        return Err(run.refuse(action, Risk::Disruptive, r));
    }
    res.services = o.services.clone();
    if let Some(pm) = pm.as_deref() {
        plan_removal(run, spec, pm, &mut goal, &mut o)?;
    }
    res.removal = o.removal.clone().and_then(|r| r.ok());
    let policy = run.policy().clone();
    let ledger = |h: &Host, plan: Option<&RemovalPlan>| match plan {
        Some(p) => write_ledger(h, &policy, spec.key(), p),
        None => {
            drop_ledger(h, &policy, spec.key());
            Ok(())
        }
    };
    let steps: Vec<BoundRung<'_>> = FreeRung::LADDER
        .iter()
        .map(|&rung| BoundRung {
            rung,
            spec,
            pm: pm.as_deref(),
            ledger: &ledger,
            state_dir: &policy.state_dir,
        })
        .collect();
    let rungs: Vec<&dyn Rung<FreeObservation>> = steps
        .iter()
        .map(|s| s as &dyn Rung<FreeObservation>)
        .collect();
    let climb = run.climb(Mode::Escalate, &rungs, &mut goal, o);
    res.free = climb.reached && climb.last.blocked.is_empty();
    if let Some(e) = climb.error {
        return Err(e);
    }
    if run.dry_run() || climb.reached {
        return Ok(());
    }
    Err(still_held(spec, &climb.last))
}

/// Records the first look at the port; an error when it is held and no process is
/// found holding it.
fn record_first_look(
    run: &mut Runner<'_>,
    spec: &FreeSpec,
    o: &FreeObservation,
    res: &mut FreeResult,
) -> Result<()> {
    let shown = spec.shown();
    let what = format!("bind {shown} ({})", spec.proto);
    let Some(h) = &o.holders else {
        run.observe(what, "free");
        return Ok(());
    };
    let held: Vec<String> = o.blocked.iter().map(ToString::to_string).collect();
    run.observe(what, format!("in use: {}", held.join(", ")));
    run.observe(
        format!("find who holds port {}/{}", spec.port, spec.proto),
        group_summaries(h).unwrap_or_else(|| "no process".to_string()),
    );
    res.holders = h.owners.clone();
    res.groups = h.groups.clone();
    if !h.owners.is_empty() {
        return Ok(());
    }
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
    Err(PortError::NoOwner {
        port: spec.port,
        proto: spec.proto,
        detail,
    }
    .into())
}

/// With `--remove-package`: the removal to make, checked now (read-only) so a removal
/// hostfix would refuse refuses before anything is stopped. An earlier run's removal
/// found in the ledger is finished once the port is free.
fn plan_removal(
    run: &mut Runner<'_>,
    spec: &FreeSpec,
    pm: &dyn PackageManager,
    goal: &mut FreeGoal<'_>,
    o: &mut FreeObservation,
) -> Result<()> {
    // A removal dpkg was cut off in is finished (or refused) before anything else.
    if rm::settle_dpkg(run, pm)? {
        return Ok(());
    }
    let host = run.host();
    let policy = run.policy().clone();
    let earlier = rm::earlier_removal(run, spec.key(), pm).filter(|_| o.blocked.is_empty());
    let (packages, sources) = match earlier {
        Some(plan) => {
            let left = rm::installed(host, pm, &plan.packages);
            if left.is_empty() {
                let gone = format!("{} already gone", plan.packages.join(" "));
                run.observe("an earlier run's removal", gone);
                run.bookkeeping("forget the finished removal", "the ledger is done", |h| {
                    drop_ledger(h, &policy, spec.key());
                    Ok("forgotten".into())
                })?;
                return Ok(());
            }
            let what = format!("stopped before removing {}: finishing it", left.join(" "));
            run.observe("an earlier run's removal", what);
            goal.resumed = true;
            (left, plan.sources)
        }
        None if o.blocked.is_empty() => return Ok(()),
        None => rm::holder_packages(host, pm, &o.targets, &o.units),
    };
    if packages.is_empty() {
        run.observe(
            "find the package holding the port",
            "no distro package holds it (the owners' programs belong to none)",
        );
        return Ok(());
    }
    // Check again even when resuming: the host may have changed since.
    let check = rm::check_removal(host, pm, &packages, &sources, policy.dry_run)?;
    for (what, found) in &check.notes {
        run.observe(what.clone(), found.clone());
    }
    goal.removal = Some(rm::to_plan(host, pm, packages, sources, &check));
    o.removal = goal.removal.clone();
    o.resumed = goal.resumed;
    if let Some(Ok(plan)) = &o.removal {
        o.packages_left = rm::installed(host, pm, &plan.packages);
    }
    Ok(())
}

/// The error of a ladder that took every allowed rung and left the port held.
fn still_held(spec: &FreeSpec, o: &FreeObservation) -> Error {
    if o.blocked.is_empty() {
        return Error::Unmet(format!("still installed: {}", o.packages_left.join(", ")));
    }
    PortError::StillHeld {
        port: spec.port,
        proto: spec.proto,
        holders: o
            .holders
            .as_ref()
            .and_then(group_summaries)
            .unwrap_or_else(|| {
                o.blocked
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
    }
    .into()
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
