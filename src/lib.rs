//! # hostfix
//!
//! Idempotent, risk-ranked fixes for Linux hosts: swap files, port holders (up to removing
//! the distro package behind them), memory and disk thresholds, stuck containers, and
//! reboots behind a guard, as a library with a thin CLI. [`doctor`] is the read-only
//! diagnosis that names the fix for each finding.
//!
//! ## The risk model
//!
//! Every operation observes the host, then walks a plan of [`plan::Step`]s, each ranked by
//! [`plan::Risk`], least risky first:
//!
//! | risk | what it may do |
//! | --- | --- |
//! | `read-only` | read `/proc`, `/sys`, files and logs, run read-only queries, send a `HEAD /` to loopback |
//! | `additive` | create something new: a swap file, an fstab line, a ledger entry |
//! | `disruptive` | interrupt something running: stop a unit, signal a process, swapoff |
//! | `destructive` | what cannot be put back exactly: remove a package, delete a file |
//! | `reboot` | reboot the host |
//!
//! A [`plan::Policy`] caps the risk. A step above the cap is not taken: the operation stops
//! and reports what it would have needed ([`error::Refusal::RiskAboveCap`], exit code 3).
//! Under `dry_run` the same code path runs and records each step as `planned` instead of
//! taking it. Each step counts as done when its postcondition holds (the port binds,
//! `/proc/swaps` lists the file), and an escalation moves to the next rung only when the
//! last one was verified not to be enough. Running an operation on a host already in the
//! desired state changes nothing and reports `changed: false`.
//!
//! ## What hostfix never touches
//!
//! PID 1, the calling process and its ancestors, kernel threads, sshd, the container
//! engine (except `container rm`'s restart rung, at `destructive`, which names the
//! containers it would interrupt), containers that hold a port (`port free` prints the
//! command that would stop them), essential or required packages, packages of another
//! source than the one holding a port (but for add-ons its own packages pulled in), and
//! files it did not create or cannot verify (a swap file is deleted only when it carries
//! a swap signature). The rules for processes, packages and containers, and their
//! wording, live in [`protect`]. Edits to system
//! files (fstab) are atomic and keep every other byte; every edit of the host (fstab, swap
//! areas, units, packages, the reboot ledger) is serialised by one machine-wide lock,
//! whatever the state directory ([`state::HostLock`], `/run/hostfix/lock`). hostfix's own
//! state files are regular files or refused ([`state`]).
//!
//! ## The host is a value
//!
//! Every reader takes a [`host::Host`], whose root tests point at a tempdir of fixtures;
//! every change and command goes through its [`host::System`] seam. The library never
//! prints: it logs its trail through the `log` facade and returns typed reports.
//!
//! ```no_run
//! use hostfix::{Host, Policy, Risk};
//! use hostfix::resources::{check, CheckSpec};
//! use hostfix::size::Threshold;
//!
//! let host = Host::live();
//! let spec = CheckSpec {
//!     mem_available: vec![Threshold::parse_size("10%")?],
//!     ..CheckSpec::default()
//! };
//! let report = check(&host, &spec, &Policy::new(Risk::ReadOnly));
//! if !report.is_ok() {
//!     eprintln!("host below thresholds: {:?}", report.error);
//! }
//! # Ok::<(), hostfix::Error>(())
//! ```

#![warn(missing_docs)]

pub mod container;
pub mod doctor;
pub mod engine;
pub mod error;
pub mod evidence;
pub mod finding;
pub mod fsutil;
pub mod host;
pub mod input;
pub mod net;
pub mod package;
pub mod plan;
pub mod port;
pub mod process;
pub mod program;
pub mod protect;
pub mod reboot;
pub mod resources;
pub mod risk;
pub mod size;
pub mod state;
pub mod swap;

#[cfg(test)]
mod proptests;

pub use error::{Error, ErrorKind, Result};
pub use host::Host;
pub use plan::{Policy, Report, Risk, Step, StepStatus};
