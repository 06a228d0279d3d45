//! The errors of each operation, gathered here below every module so that the error
//! type is a leaf: `error` imports nothing above it, and each operation re-exports its
//! own enum (`hostfix::swap::SwapError` is this module's [`SwapError`]).

use std::path::PathBuf;

use nix::errno::Errno;

use super::{Classify, Error, ErrorKind};
use crate::net::Proto;

/// Errors of the swap operations (failures of the host, not of the input: exit 1).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SwapError {
    /// `swapon` returned success but `/proc/swaps` does not list the file.
    #[error("swapon {path}: returned success but /proc/swaps does not list it")]
    NotListed {
        /// The swap file.
        path: PathBuf,
    },
    /// `swapoff` returned success but `/proc/swaps` still lists the file.
    #[error("swapoff {path}: returned success but /proc/swaps still lists it")]
    StillListed {
        /// The swap file.
        path: PathBuf,
    },
    /// A postcondition did not hold (the header did not read back, holes remain).
    #[error("{path}: {detail}")]
    Verify {
        /// The file.
        path: PathBuf,
        /// What did not hold.
        detail: String,
    },
    /// The file changed between observation and action.
    #[error("{path} changed while hostfix worked on it: {detail}")]
    Changed {
        /// The file.
        path: PathBuf,
        /// What changed.
        detail: String,
    },
}

impl Classify for SwapError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Failed
    }
}

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PortError {
    /// Every allowed step was taken and the port still does not bind.
    #[error("port {port}/{proto} is still held after every allowed step: {holders}")]
    StillHeld {
        /// The port.
        port: u16,
        /// The protocol.
        proto: Proto,
        /// Who still holds it, or what bind said.
        holders: String,
    },
    /// The bind probe failed for another reason than the port being in use.
    #[error("cannot probe {addr}/{proto}: {errno}{}", .hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
    Probe {
        /// The address probed.
        addr: std::net::SocketAddr,
        /// The protocol.
        proto: Proto,
        /// The errno of `bind`.
        errno: Errno,
        /// The likely cause.
        hint: Option<String>,
    },
    /// The port does not bind but no process holds a socket on it.
    #[error("port {port}/{proto} is in use but no process could be found holding it: {detail}")]
    NoOwner {
        /// The port.
        port: u16,
        /// The protocol.
        proto: Proto,
        /// What was seen.
        detail: String,
    },
}

impl Classify for PortError {
    fn kind(&self) -> ErrorKind {
        match self {
            PortError::StillHeld { .. } | PortError::Probe { .. } | PortError::NoOwner { .. } => {
                ErrorKind::Failed
            }
        }
    }
}

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackageError {
    /// No package database of a supported manager was found.
    #[error(
        "no supported package manager under {root} (looked for the dpkg, rpm, apk and \
         pacman databases)"
    )]
    NoManager {
        /// The host root that was searched.
        root: PathBuf,
    },
    /// A package the operation relies on is not installed.
    #[error("{manager}: package {package} is not installed")]
    NotInstalled {
        /// The manager (`dpkg`, `rpm`, ...).
        manager: String,
        /// The package.
        package: String,
    },
    /// A simulated removal failed or could not be understood.
    #[error("{manager}: simulated removal of {packages}: {detail}")]
    Simulation {
        /// The manager.
        manager: String,
        /// The packages whose removal was simulated.
        packages: String,
        /// What went wrong.
        detail: String,
    },
}

impl Classify for PackageError {
    fn kind(&self) -> ErrorKind {
        match self {
            PackageError::NoManager { .. }
            | PackageError::NotInstalled { .. }
            | PackageError::Simulation { .. } => ErrorKind::Failed,
        }
    }
}

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RebootError {
    /// The orderly request (`systemctl reboot`, ...) failed, and no fallback was allowed.
    #[error(
        "requesting the reboot with `{command}` failed: {cause} (the host is still up; \
         --method auto would fall back to reboot(2))"
    )]
    Request {
        /// The command.
        command: String,
        /// Its failure (exit status and stderr, or why it could not start).
        #[source]
        cause: Box<Error>,
    },
    /// `reboot(2)` returned.
    #[error("reboot(2) failed: {errno}{}", orderly_note(.orderly))]
    Syscall {
        /// The errno (`EPERM` without `CAP_SYS_BOOT`).
        errno: Errno,
        /// Why the orderly way failed first, when it was tried.
        orderly: Option<String>,
    },
    /// The caller's condition could not be run, so the need cannot be judged.
    #[error("the condition given with --when could not be judged: {detail}")]
    Condition {
        /// What happened.
        detail: String,
    },
    /// The boot id could not be read: without it no reboot can be confirmed.
    #[error("reading the boot id: {0}")]
    BootId(#[source] Box<Error>),
}

impl Classify for RebootError {
    fn kind(&self) -> ErrorKind {
        match self {
            RebootError::Request { .. }
            | RebootError::Syscall { .. }
            | RebootError::Condition { .. }
            | RebootError::BootId(_) => ErrorKind::Failed,
        }
    }
}

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContainerError {
    /// `systemctl restart` of containerd or docker failed.
    #[error("restarting {unit} failed: {message}")]
    Restart {
        /// The unit.
        unit: String,
        /// systemd's message.
        message: String,
    },
    /// Every rung was tried or skipped and the container remains.
    #[error("no rung removed container {name}")]
    Exhausted {
        /// The container.
        name: String,
    },
    /// The reboot rung started a reboot; the container is gone only after it.
    #[error(
        "the host is rebooting to clear container {name}: run the same command after the \
         boot to confirm it is gone"
    )]
    RebootPending {
        /// The container.
        name: String,
    },
    /// A container to start is not running: unknown to the engine, kept from a host port
    /// still held, or not running after `docker start`.
    #[error("container {name} was not started: {why}")]
    NotStarted {
        /// The container.
        name: String,
        /// Why.
        why: String,
    },
}

impl Classify for ContainerError {
    fn kind(&self) -> ErrorKind {
        match self {
            ContainerError::Restart { .. }
            | ContainerError::Exhausted { .. }
            | ContainerError::RebootPending { .. }
            | ContainerError::NotStarted { .. } => ErrorKind::Failed,
        }
    }
}

/// Errors of the engine client: no engine, an engine that does not answer or refuses us,
/// a failed or hung engine command. Each keeps the engine's own message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// There is no `docker` or `podman` program on the host.
    #[error("no container engine CLI found: neither `docker` nor `podman` is in PATH")]
    NoEngine,
    /// The engine asked for (`--engine`) is not installed.
    #[error(
        "the container engine {engine} was asked for (--engine {engine}) but `{engine}` is not in PATH"
    )]
    NotInstalled {
        /// The engine asked for.
        engine: crate::engine::EngineKind,
    },
    /// The engine's daemon does not answer.
    #[error("the container engine does not answer: {message}")]
    Unreachable {
        /// The engine's message.
        message: String,
    },
    /// The engine's socket refused the caller.
    #[error("the container engine refused the connection: {message} (run as root)")]
    Permission {
        /// The engine's message.
        message: String,
    },
    /// An engine command failed.
    #[error("{command}: {message}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: Option<i32>,
        /// The engine's message.
        message: String,
    },
    /// An engine command ran past its time limit and was stopped.
    #[error("{command}: no answer in time, stopped waiting")]
    Hung {
        /// The command line.
        command: String,
    },
}

impl Classify for EngineError {
    fn kind(&self) -> ErrorKind {
        match self {
            EngineError::NoEngine
            | EngineError::NotInstalled { .. }
            | EngineError::Unreachable { .. }
            | EngineError::Permission { .. }
            | EngineError::Command { .. }
            | EngineError::Hung { .. } => ErrorKind::Failed,
        }
    }
}

fn orderly_note(o: &Option<String>) -> String {
    match o {
        Some(s) => format!(" (after the orderly way failed: {s})"),
        None => String::new(),
    }
}
