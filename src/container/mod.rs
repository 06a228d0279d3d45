//! Containers: stuck containers, and the escalation ladder that removes them.
//!
//! The incident's last fault was a container `docker rm -f` could not remove ("did not
//! receive an exit event"), that survived `pkill` and restarts of docker and containerd,
//! and went away only with a reboot. [`remove`] is that escalation done safely: each rung
//! least risky first, each verified before the next, futile rungs skipped with the
//! reason, the reboot only through the reboot guard ([`GuardedReboot`], or any
//! [`RebootGate`]).
//!
//! [`diagnose`] adds `doctor`'s findings: containers that are dead, stuck in removal,
//! restarting in a loop, not started because their host port is taken, processes of a
//! container the engine no longer lists, and processes that no signal can reach.
//!
//! The engine is reached through [`crate::engine`], the client `port` uses too (`docker`
//! found by [`crate::program`], under coreutils `timeout`); errors keep the engine's own
//! message.
//!
//! ```no_run
//! use hostfix::container::{self, GuardedReboot, RemoveOptions};
//! use hostfix::{Host, Policy, Risk};
//!
//! let report = container::remove(
//!     &Host::live(),
//!     &RemoveOptions::new("web"),
//!     &Policy::new(Risk::Disruptive),
//!     &GuardedReboot::default(),
//! );
//! match (&report.result.removed_by, &report.result.next) {
//!     (Some(rung), _) => println!("removed by {rung}"),
//!     (None, Some(next)) => println!("next rung: {} ({})", next.rung, next.risk),
//!     _ => {}
//! }
//! ```

pub(crate) mod diag;
mod gate;
pub mod ladder;
mod options;
pub mod procs;
pub(crate) mod record;
mod remove;
mod rungs;

pub use crate::error::ContainerError;

pub use crate::engine::{ContainerInfo, Engine, PsEntry, PublishedPort, Status};
pub use diag::{
    ContainerFacts, ContainerSummary, PortHolder, PortHolders, blocked_ports, diagnose, findings,
    findings_with_holders, port_holders,
};
pub use gate::GuardedReboot;
pub use ladder::{
    Decision, LadderEnv, NoRebootGate, Observation, RebootGate, RebootRequest, Rung, RungPlan,
    decide, plan_ladder,
};
pub use procs::{ContainerProcess, Futility, Shim};
pub use record::{RebootEvidence, RebootRecord};
pub use remove::{NextRung, Removal, RemoveOptions, remove, validate_target};
