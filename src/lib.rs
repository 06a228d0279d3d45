//! # hostfix
//!
//! Idempotent, risk-ranked fixes for Linux hosts: swap files, port holders (up to removing
//! the distro package behind them), memory and disk thresholds, stuck containers, and
//! reboots behind a guard, as a library with a thin CLI. [`doctor`] is the read-only
//! diagnosis that names the fix for each finding.
//!
//! ## The operations
//!
//! Every operation has the shape `op(&Host, &Spec, &Policy) -> Report<Result>`; its spec
//! names the cap the `hostfix` command uses by default (`spec.default_cap()`).
//!
//! | operation | does | default cap |
//! | --- | --- | --- |
//! | [`swap::ensure_swap_file`] | the swap file exists, has its size, is active and persisted | additive |
//! | [`swap::remove_swap_file`] | swapoff, unpersist, delete (only a verified swap area) | destructive |
//! | [`port::who`], [`port::find_holders`] | every process holding a port, classified | read-only |
//! | [`port::free_port`] | the port binds: stop the unit (or init script) → (remove the package) → SIGTERM → SIGKILL | disruptive, destructive with [`port::FreeSpec::remove_package`] |
//! | [`resources::check`] | memory, disk and inode thresholds hold | read-only |
//! | [`reboot::reboot`] | reboot when needed and the guard allows | reboot |
//! | [`container::remove`] | a stuck container is gone: stop → kill → rm -f → kill the shim → restart the engine → guarded reboot (Podman, [`EngineKind`]: stop → kill → rm -f → kill its `conmon` → guarded reboot) | disruptive |
//! | [`doctor::diagnose`] | findings along a request's path, each with its fix | read-only |
//! | [`container::start`] | a container kept from its port runs, once the port is free | additive |
//! | [`doctor::fix`] | the findings' typed fixes ([`doctor::Fix::apply`]) within the cap, least risky first, diagnosing again after each | additive |
//!
//! Specs are built in code (`SwapSpec::new(size)`, then the fields) or read from a
//! provisioning config (`serde::Deserialize`, with the CLI's syntax for sizes, durations
//! and thresholds), and checked by `validate()`. Reports carry the steps, whether the
//! host changed, the typed [`Error`] and the operation's result; they serialize to the
//! CLI's JSON and display as its human summary.
//!
//! ## The risk model
//!
//! Every operation observes the host, then walks a plan of [`Step`]s, each ranked by
//! [`Risk`], least risky first:
//!
//! | risk | what it may do |
//! | --- | --- |
//! | `read-only` | read `/proc`, `/sys`, files and logs, run read-only queries, send a `HEAD /` to loopback |
//! | `additive` | create something new: a swap file, an fstab line, a ledger entry |
//! | `disruptive` | interrupt something running: stop a unit, signal a process, swapoff |
//! | `destructive` | what cannot be put back exactly: remove a package, delete a file |
//! | `reboot` | reboot the host |
//!
//! A [`Policy`] caps the risk. A step above the cap is not taken: the operation stops
//! and reports what it would have needed ([`error::Refusal::RiskAboveCap`], exit code 3).
//! Under `dry_run` the same code path runs and records each step as `planned` instead of
//! taking it. Each step counts as done when its postcondition holds (the port binds,
//! `/proc/swaps` lists the file), and an escalation moves to the next rung only when the
//! last one was verified not to be enough. Running an operation on a host already in the
//! desired state changes nothing and reports `changed: false`. A [`Report`] that is not
//! read is a compiler warning (`#[must_use]`): check [`Report::is_ok`] or
//! [`Report::outcome`].
//!
//! ## What hostfix never touches
//!
//! PID 1, the calling process and its ancestors, kernel threads, sshd, the container
//! engine (except `container rm`'s restart rung, at `destructive`, which names the
//! containers it would interrupt), containers that hold a port (`port free` prints the
//! command that would stop them), essential or required packages, packages of another
//! source than the one holding a port (but for add-ons its own packages pulled in), and
//! files it did not create or cannot verify (a swap file is deleted only when it carries
//! a swap signature). Edits to system files (fstab) are atomic and keep every other byte;
//! every edit of the host (fstab, swap areas, units, packages, the reboot ledger) is
//! serialised by one machine-wide lock, whatever the state directory
//! (`/run/hostfix/lock`). hostfix's own state files are regular files or refused
//! ([`error::Refusal::NotRegularFile`]).
//!
//! ## The host is a value
//!
//! Every reader takes a [`Host`]: [`Host::live`], or with the `testing` feature a fake
//! root in a temporary directory whose system calls and commands are recorded and given
//! behaviours by the test (`hostfix::testing::FakeRoot`, `RecordingSystem`; the module
//! documents which files each operation reads). The library never prints: it logs its
//! trail through the `log` facade and returns typed reports.
//!
//! ```no_run
//! use hostfix::resources::{check, CheckSpec};
//! use hostfix::size::Threshold;
//! use hostfix::{Host, Policy};
//!
//! let mut spec = CheckSpec::default();
//! spec.mem_available.push(Threshold::parse_size("10%")?);
//! let report = check(&Host::live(), &spec, &Policy::new(spec.default_cap()));
//! if !report.is_ok() {
//!     eprint!("{report}");
//!     std::process::exit(report.exit_code());
//! }
//! # Ok::<(), hostfix::Error>(())
//! ```
//!
//! ## Examples
//!
//! `examples/` in the source holds one program per operation, as a provisioning tool
//! would write it (`cargo run --example NAME`):
//!
//! - `setup_host.rs`: the incident's fixes as one setup binary (2 GiB of swap, port 80
//!   freed with the distro package removed, a guarded reboot when needed), in dry run
//!   and applied, with its tests on a fake host;
//! - `ensure_swap.rs`, `free_port.rs`, `check_resources.rs`, `guarded_reboot.rs`,
//!   `remove_stuck_container.rs`: one operation each;
//! - `bench_swap.rs`, `bench_port_who.rs`: timings against the shell recipes;
//! - `cloud-init/` and `ansible/`: the CLI from cloud-init and an Ansible role.
//!
//! ## Features
//!
//! - `cli` (default): the `hostfix` binary (clap). A library user turns it off:
//!   `hostfix = { version = "0.1", default-features = false }`.
//! - `testing`: `hostfix::testing`, the fake host and the internals hostfix's own tests
//!   use, for a caller's tests (`[dev-dependencies]`).

#![warn(missing_docs)]
#![warn(unnameable_types)]

pub mod container;
mod de;
pub mod doctor;
mod engine;
pub mod error;
mod evidence;
mod finding;
mod fix;
mod fsutil;
pub mod host;
mod input;
mod net;
mod package;
pub mod plan;
pub mod port;
mod process;
mod program;
mod protect;
pub mod reboot;
pub mod resources;
mod risk;
pub mod size;
mod state;
pub mod swap;
mod testhook;
#[cfg(feature = "testing")]
pub mod testing;

#[cfg(test)]
mod proptests;

/// The `serde_json` of [`doctor::Diagnosis::facts`], so a caller names the same version.
pub use serde_json;

pub use engine::EngineKind;
pub use error::{Error, ErrorKind, Result};
pub use host::Host;
pub use plan::{Outcome, Policy, Report, Risk, Step, StepStatus};
