//! Containers: stuck containers, and the escalation ladder that removes them.
//!
//! The incident's last fault was a container `docker rm -f` could not remove ("did not
//! receive an exit event"), that survived `pkill` and restarts of docker and containerd,
//! and went away only with a reboot. [`remove`] is that escalation done safely: each rung
//! least risky first, each verified before the next, futile rungs skipped with the
//! reason, the reboot only through the reboot guard ([`GuardedReboot`], or any
//! [`RebootGate`]).
//!
//! [`crate::doctor::diagnose`] reports, from this module: containers that are dead,
//! stuck in removal, restarting in a loop, not started because their host port is taken,
//! processes of a container the engine no longer lists, and processes that no signal can
//! reach.
//!
//! The engine is reached through one client, the one `port` uses too (`docker` found on
//! the host's `PATH` or its standard directories, under coreutils `timeout`); errors keep
//! the engine's own message.
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
pub(crate) mod ladder;
pub(crate) mod options;
pub(crate) mod procs;
pub(crate) mod record;
mod remove;
mod render;
mod resolve;
mod rungs;
mod start;

pub use crate::error::ContainerError;

pub use crate::engine::Status;
pub(crate) use diag::{blocked_ports, diagnose};
pub use gate::{GuardedReboot, NoRebootGate, RebootGate, RebootRequest};
pub use ladder::{ContainerRung, RungDecision, RungPlan};
pub use procs::{ContainerProcess, Futility, Sampling, Shim};
pub use record::RebootEvidence;
pub use remove::{NextContainerRung, Removal, RemoveOptions, remove};
pub use start::{StartSpec, Started, start};
