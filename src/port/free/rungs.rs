//! The rungs of `port free` and the pure decisions behind them.
//!
//! 1. record the planned package removal in the ledger (bookkeeping, with
//!    `--remove-package`), so a run killed after the next rung finishes the removal;
//! 2. stop and disable the owners' systemd units and their `.socket` units, or on a host
//!    without systemd their init scripts' services;
//! 3. remove the distro package (with `--remove-package`; `destructive`, required);
//! 4. SIGTERM to the remaining owners, wait; 5. SIGKILL, wait.

use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::Signal;

use super::FreeSpec;
use super::observe::{FreeObservation, wait_free};
use crate::error::{Error, Refusal, Result};
use crate::host::{Cmd, Host};
use crate::package::PackageManager;
use crate::plan::{Need, Risk, Rung, Verdict};
use crate::port::initd;
use crate::port::owner::{OwnerKind, PortOwner};
use crate::port::removal::{self, RemovalPlan};
use crate::size::format_duration;

/// One rung of `port free`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreeRung {
    /// Write the removal plan to the ledger before anything changes.
    RecordRemoval,
    /// `systemctl disable` then `stop` the owners' units; without systemd, disable then
    /// stop the init scripts' services tied to them.
    StopUnits,
    /// Remove the holder's distro package.
    RemovePackage,
    /// SIGTERM to the owners, then wait.
    Term,
    /// SIGKILL to the owners, then wait.
    Kill,
}

impl FreeRung {
    /// The ladder, in order.
    pub const LADDER: [FreeRung; 5] = [
        FreeRung::RecordRemoval,
        FreeRung::StopUnits,
        FreeRung::RemovePackage,
        FreeRung::Term,
        FreeRung::Kill,
    ];
}

/// The refusal a protected owner in `o` calls for (pure). A `.socket` unit's socket
/// held by PID 1 is left to the unit rung until the units were stopped.
pub fn protected_refusal(o: &FreeObservation) -> Option<Refusal> {
    o.targets.iter().find_map(|t| {
        let why = t.protected.as_ref()?;
        let by_unit =
            t.kind == OwnerKind::SocketActivated && !t.socket_units.is_empty() && !o.after_units;
        (!by_unit).then(|| Refusal::Protected {
            target: match &t.container {
                Some(c) => format!("container {} (pid {} {})", c.label(), t.pid, t.name),
                None => format!("pid {} {}", t.pid, t.name),
            },
            why: why.clone(),
        })
    })
}

/// The owners a signal rung signals (pure): every target hostfix may touch.
pub fn signalled(o: &FreeObservation) -> Vec<&PortOwner> {
    o.targets.iter().filter(|t| t.protected.is_none()).collect()
}

fn pid_list(owners: &[&PortOwner]) -> String {
    owners
        .iter()
        .map(|o| format!("{} {}", o.pid, o.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn planned(o: &FreeObservation) -> Option<&RemovalPlan> {
    o.removal.as_ref().and_then(|r| r.as_ref().ok())
}

/// A rung with what it needs to act.
pub(super) struct BoundRung<'a> {
    pub rung: FreeRung,
    pub spec: &'a FreeSpec,
    pub pm: Option<&'a dyn PackageManager>,
    pub ledger: &'a dyn Fn(&Host, Option<&RemovalPlan>) -> Result<()>,
    /// Where the record of disabled services is kept.
    pub state_dir: &'a std::path::Path,
}

/// The services to stop and disable, with their commands: `/etc/init.d/nginx
/// (update-rc.d nginx disable; service nginx stop)`.
fn services_shown(o: &FreeObservation) -> String {
    o.services
        .iter()
        .map(|s| format!("/etc/init.d/{} ({})", s.name, s.commands.join("; ")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether to take `rung` given `o` (pure).
pub fn decide(rung: FreeRung, spec: &FreeSpec, o: &FreeObservation) -> Verdict {
    match rung {
        FreeRung::RecordRemoval => match planned(o) {
            Some(_) if !o.resumed && !o.packages_left.is_empty() => Verdict::Take,
            _ => Verdict::Inapplicable,
        },
        FreeRung::StopUnits if o.blocked.is_empty() => Verdict::Inapplicable,
        FreeRung::StopUnits if !o.systemd => match (&o.uncertain, o.services.is_empty()) {
            (Some(r), _) => Verdict::Refuse(r.clone()),
            (None, false) => Verdict::Take,
            (None, true) if o.units.is_empty() => Verdict::Inapplicable,
            (None, true) => Verdict::Skip(
                "systemd is not running this host (no /run/systemd/system): signals follow".into(),
            ),
        },
        FreeRung::StopUnits if o.units.is_empty() => Verdict::Inapplicable,
        FreeRung::StopUnits => Verdict::Take,
        FreeRung::RemovePackage => match &o.removal {
            None => Verdict::Inapplicable,
            Some(Err(r)) => Verdict::Refuse(r.clone()),
            Some(Ok(_)) if o.packages_left.is_empty() => Verdict::Inapplicable,
            Some(Ok(_)) => Verdict::Take,
        },
        FreeRung::Term | FreeRung::Kill => {
            if o.blocked.is_empty() {
                return Verdict::Inapplicable;
            }
            if let Some(r) = protected_refusal(o) {
                return Verdict::Refuse(r);
            }
            if signalled(o).is_empty() {
                return Verdict::Skip(format!(
                    "no process hostfix may signal holds port {}",
                    spec.port
                ));
            }
            Verdict::Take
        }
    }
}

impl Rung<FreeObservation> for BoundRung<'_> {
    fn risk(&self) -> Risk {
        match self.rung {
            FreeRung::RecordRemoval => Risk::Additive,
            FreeRung::StopUnits | FreeRung::Term | FreeRung::Kill => Risk::Disruptive,
            FreeRung::RemovePackage => Risk::Destructive,
        }
    }

    fn need(&self) -> Need {
        match self.rung {
            // Asked for explicitly: checked against the cap before anything is stopped.
            FreeRung::RecordRemoval | FreeRung::RemovePackage => Need::Required,
            _ => Need::IfUnmet,
        }
    }

    fn bookkeeping(&self) -> bool {
        self.rung == FreeRung::RecordRemoval
    }

    fn action(&self, o: &FreeObservation) -> String {
        let packages = || planned(o).map_or_else(String::new, |p| p.packages.join(" "));
        match self.rung {
            FreeRung::RecordRemoval => {
                format!("record the removal of {} in the ledger", packages())
            }
            FreeRung::StopUnits if !o.systemd && !o.services.is_empty() => {
                format!("stop and disable {}", services_shown(o))
            }
            FreeRung::StopUnits => format!("stop and disable {}", o.units.join(" ")),
            FreeRung::RemovePackage => match planned(o) {
                Some(p) => format!("remove {} ({})", p.packages.join(" "), p.command),
                None => "remove the package holding the port".into(),
            },
            FreeRung::Term => format!("SIGTERM {}", pid_list(&signalled(o))),
            FreeRung::Kill => format!("SIGKILL {}", pid_list(&signalled(o))),
        }
    }

    fn reason(&self, o: &FreeObservation) -> String {
        let port = self.spec.port;
        match self.rung {
            FreeRung::RecordRemoval => {
                "a run killed after the unit is stopped finishes the removal next time".into()
            }
            FreeRung::StopUnits if !o.systemd && !o.services.is_empty() => format!(
                "{} holds port {port} ({}): an enabled init script starts it again at boot",
                o.services
                    .iter()
                    .map(|s| format!("/etc/init.d/{}", s.name))
                    .collect::<Vec<_>>()
                    .join(" "),
                o.services
                    .iter()
                    .flat_map(|s| s.evidence.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            FreeRung::StopUnits => format!(
                "{} holds port {port}: a killed process of a Restart= unit comes straight back, \
                 and an enabled unit comes back at boot",
                o.units.join(" ")
            ),
            FreeRung::RemovePackage => format!(
                "--remove-package: no distro package may hold port {port}; the simulation \
                 removes only {}",
                planned(o).map_or_else(String::new, |p| p.removes.join(", "))
            ),
            FreeRung::Term => format!("they hold port {port}: ask them to exit"),
            FreeRung::Kill => format!(
                "they still hold port {port} {} after SIGTERM",
                format_duration(self.spec.timeout)
            ),
        }
    }

    fn decide(&self, o: &FreeObservation) -> Verdict {
        decide(self.rung, self.spec, o)
    }

    fn act(&self, host: &Host, o: &FreeObservation) -> Result<String> {
        match self.rung {
            FreeRung::RecordRemoval => {
                (self.ledger)(host, planned(o))?;
                Ok("recorded".into())
            }
            FreeRung::StopUnits if !o.systemd => {
                initd::stop_services(host, self.spec, self.state_dir, &o.services, &wait_free)
            }
            FreeRung::StopUnits => stop_units(host, self.spec, &o.units),
            FreeRung::RemovePackage => {
                let (Some(pm), Some(plan)) = (self.pm, planned(o)) else {
                    return Err(Error::Unmet("no removal was planned".into()));
                };
                let done = removal::remove_packages(host, pm, plan)?;
                (self.ledger)(host, None)?;
                Ok(done)
            }
            FreeRung::Term => signal(host, self.spec, o, Signal::SIGTERM),
            FreeRung::Kill => signal(host, self.spec, o, Signal::SIGKILL),
        }
    }
}

fn stop_units(host: &Host, spec: &FreeSpec, units: &[String]) -> Result<String> {
    let mut notes = Vec::new();
    let mut args = vec!["disable".to_string()];
    args.extend(units.iter().cloned());
    let out = host.system().run(&Cmd::new("systemctl", args))?;
    if !out.success() {
        // A transient or generated unit cannot be disabled; it does not come back at boot
        // either.
        notes.push(format!("disable: {}", out.stderr.trim()));
    }
    let mut args = vec!["stop".to_string()];
    args.extend(units.iter().cloned());
    host.run_ok(&Cmd::new("systemctl", args))?;
    let ok = wait_free(host, spec, Duration::from_secs(2))?;
    notes.push(if ok { "port free" } else { "port still held" }.into());
    Ok(format!("stopped and disabled; {}", notes.join("; ")))
}

fn signal(host: &Host, spec: &FreeSpec, o: &FreeObservation, sig: Signal) -> Result<String> {
    let who = signalled(o);
    for t in &who {
        match host.system().signal(t.pid, Some(t.start_time), sig) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => return Err(Error::sys(sig.as_str(), format!("pid {}", t.pid), e)),
        }
    }
    let mut d = if wait_free(host, spec, spec.timeout)? {
        "port free".to_string()
    } else {
        format!("port still held after {}", format_duration(spec.timeout))
    };
    for t in who.iter().filter(|t| t.state == 'D') {
        d.push_str(&format!(
            "; pid {} is in D state (uninterruptible I/O): it dies when the I/O ends",
            t.pid
        ));
    }
    Ok(d)
}
