//! The error type: every failure keeps its cause (errno, exit status, stderr).
//!
//! Each operation module has its own error enum; they are gathered here into [`Error`]
//! with `#[from]`. Every error has an [`ErrorKind`] that says whether the caller gave bad
//! input, the host refused a step (policy, protected target, guard), or a step failed; the
//! CLI maps the kind to its exit code (2, 3, 1).

use std::path::PathBuf;

use crate::risk::Risk;

mod ops;

pub use crate::input::InputError;

pub use ops::{ContainerError, EngineError, PackageError, PortError, RebootError, SwapError};

/// What kind of failure an error is; decides the CLI's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The desired state does not hold: a step or a check failed (exit 1).
    Failed,
    /// The input is unusable: unparsable size, impossible request (exit 2).
    BadInput,
    /// A step was not taken: above `--max-risk`, a protected target, a guard (exit 3).
    Refused,
}

impl ErrorKind {
    /// The `hostfix` exit code for this kind of failure.
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::Failed => 1,
            ErrorKind::BadInput => 2,
            ErrorKind::Refused => 3,
        }
    }
}

/// Why a step was not taken although it was needed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The next step is riskier than the policy allows.
    #[error("{action}: needs --max-risk {needed} (the cap is {cap})")]
    RiskAboveCap {
        /// The step that would have been taken.
        action: String,
        /// The risk that step carries.
        needed: Risk,
        /// The cap in force.
        cap: Risk,
    },
    /// The next step needs a consent the caller did not give (a package removal needs
    /// `--remove-package`), whatever the cap.
    #[error("{action}: needs {consent} (a consent the risk cap does not give)")]
    NeedsConsent {
        /// The step that would have been taken.
        action: String,
        /// The flag that gives the consent (`--remove-package`).
        consent: String,
    },
    /// The target is one hostfix never touches (PID 1, sshd, an essential package, ...).
    #[error("{target} is protected: {why}")]
    Protected {
        /// What would have been touched.
        target: String,
        /// Why it is never touched.
        why: String,
    },
    /// Going on would lose data or leave the host worse (a file with data, a full disk, ...).
    #[error("refusing to touch {target}: {why}")]
    Unsafe {
        /// What would have been touched.
        target: String,
        /// What would have been lost or broken.
        why: String,
    },
    /// A guard rule (the reboot guard, for instance) said no.
    #[error("guard rule {rule}: {detail}")]
    Guard {
        /// The rule's name, as the CLI spells its flag (`once`, `max-attempts`, ...).
        rule: String,
        /// What the rule found.
        detail: String,
    },
    /// The step needs privileges this process does not have (root, or a capability).
    #[error("{action}: needs root (run hostfix as root, e.g. with sudo)")]
    NeedsRoot {
        /// What would have been done.
        action: String,
    },
    /// Something other than a regular file sits where hostfix keeps a state file (a
    /// symlink, FIFO, device, directory): it is neither followed nor read.
    #[error("refusing to use {path}: it is {found}, not a file hostfix wrote; move it aside")]
    NotRegularFile {
        /// The path.
        path: PathBuf,
        /// What is there.
        found: String,
    },
    /// A state file hostfix keeps (a ledger, a record) is not what hostfix writes: torn,
    /// of another format version, too large, or inconsistent. It is never guessed around.
    #[error("refusing to use {path}: {why}; {reset}")]
    StateFile {
        /// The file (a host path).
        path: PathBuf,
        /// What is wrong with it.
        why: String,
        /// How to reset it, as a command the user can run after inspecting the file.
        reset: String,
    },
    /// dpkg was stopped half-way (a power cut, a kill) in a change hostfix did not record
    /// making: only the operator can settle it (`dpkg --configure -a`), and until then
    /// no package can be removed.
    #[error(
        "dpkg was interrupted and left {} half-way ({}); hostfix finishes only removals it \
         recorded making: check what dpkg will do, run `dpkg --configure -a`, then run \
         hostfix again",
        interrupted_names(.packages), .why.join("; ")
    )]
    DpkgInterrupted {
        /// The packages dpkg left half-way (empty when only its journal is unfinished).
        packages: Vec<String>,
        /// Why hostfix does not finish it, package by package.
        why: Vec<String>,
    },
    /// A process holding a port looks run by an init script (`/etc/init.d/NAME`), but
    /// which one is not certain: hostfix stops and disables only a service it can tie to
    /// the process (its pidfile names it, or its `DAEMON` is the process's executable),
    /// and signals no process whose service would start it again at boot.
    #[error(
        "{target} may be run by an init script, but hostfix cannot tell which for certain: \
         {found}; stop and disable the right one by hand"
    )]
    UncertainService {
        /// The process (`pid 812 nginx (/usr/local/sbin/nginx)`).
        target: String,
        /// What was found, script by script.
        found: String,
    },
    /// Another hostfix run holds the host lock.
    #[error("another hostfix run holds the lock {path}")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
}

/// Every error hostfix returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is unusable.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A needed step was refused.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// Reading or writing a file failed.
    #[error("{context} {path}: {source}")]
    Io {
        /// What was being done ("reading", "writing", ...).
        context: String,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A system call failed; the errno is kept.
    #[error("{call} {target}: {errno}{}", hint_suffix(.hint))]
    Sys {
        /// The call (`swapon`, `pidfd_open`, ...).
        call: String,
        /// What it was called on.
        target: String,
        /// The errno.
        errno: nix::errno::Errno,
        /// The likely cause in words, when known.
        hint: Option<String>,
    },
    /// An external command could not be started or exited non-zero.
    #[error("{program} {}: {}", .args.join(" "), command_failure(.status, .stderr, .spawn_error))]
    Command {
        /// The program.
        program: String,
        /// Its arguments.
        args: Vec<String>,
        /// The exit status, when it ran (`None` when killed by a signal or never started).
        status: Option<i32>,
        /// What it wrote to stderr (trimmed).
        stderr: String,
        /// Why it could not be started, when it could not.
        spawn_error: Option<String>,
    },
    /// Something the host reported could not be parsed.
    #[error("parsing {what}: {detail}")]
    Parse {
        /// What was parsed (`/proc/meminfo`, `/etc/fstab line 3`, ...).
        what: String,
        /// What was wrong.
        detail: String,
    },
    /// The steps ran but the desired state does not hold (a verification or a check failed).
    #[error("{0}")]
    Unmet(String),
    /// A swap-file error.
    #[error(transparent)]
    Swap(#[from] SwapError),
    /// A port error.
    #[error(transparent)]
    Port(#[from] PortError),
    /// A package-manager error.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// A reboot error.
    #[error(transparent)]
    Reboot(#[from] RebootError),
    /// A container error.
    #[error(transparent)]
    Container(#[from] ContainerError),
    /// A container-engine error.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

fn interrupted_names(packages: &[String]) -> String {
    if packages.is_empty() {
        "its database".to_string()
    } else {
        packages.join(", ")
    }
}

fn hint_suffix(hint: &Option<String>) -> String {
    match hint {
        Some(h) => format!(" ({h})"),
        None => String::new(),
    }
}

fn command_failure(status: &Option<i32>, stderr: &str, spawn: &Option<String>) -> String {
    if let Some(e) = spawn {
        return format!("could not start: {e}");
    }
    let st = match status {
        Some(c) => format!("exited with status {c}"),
        None => "killed by a signal".to_string(),
    };
    if stderr.is_empty() {
        st
    } else {
        format!("{st}: {stderr}")
    }
}

/// Classifies a module error for the exit code.
pub(crate) trait Classify {
    /// The kind of failure.
    fn kind(&self) -> ErrorKind;
}

impl Error {
    /// The kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Input(_) => ErrorKind::BadInput,
            Error::Refused(_) => ErrorKind::Refused,
            Error::Io { .. }
            | Error::Sys { .. }
            | Error::Command { .. }
            | Error::Parse { .. }
            | Error::Unmet(_) => ErrorKind::Failed,
            Error::Swap(e) => e.kind(),
            Error::Port(e) => e.kind(),
            Error::Package(e) => e.kind(),
            Error::Reboot(e) => e.kind(),
            Error::Container(e) => e.kind(),
            Error::Engine(e) => e.kind(),
        }
    }

    /// The CLI exit code for this error (1, 2 or 3).
    pub fn exit_code(&self) -> i32 {
        self.kind().exit_code()
    }

    /// An I/O error with what was being done and to which path.
    pub fn io(
        context: impl Into<String>,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            context: context.into(),
            path: path.into(),
            source,
        }
    }

    /// A failed system call with its errno.
    pub fn sys(
        call: impl Into<String>,
        target: impl Into<String>,
        errno: nix::errno::Errno,
    ) -> Self {
        Error::Sys {
            call: call.into(),
            target: target.into(),
            errno,
            hint: None,
        }
    }

    /// A parse error.
    pub fn parse(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::Parse {
            what: what.into(),
            detail: detail.into(),
        }
    }

    /// The errno, when this error carries one.
    pub fn errno(&self) -> Option<nix::errno::Errno> {
        match self {
            Error::Sys { errno, .. } => Some(*errno),
            Error::Io { source, .. } => source.raw_os_error().map(nix::errno::Errno::from_raw),
            _ => None,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_exit_codes() {
        let e: Error = InputError::new("size", "10X", "unknown unit", "512M").into();
        assert_eq!(e.exit_code(), 2);
        let e: Error = Refusal::Protected {
            target: "pid 1".into(),
            why: "init".into(),
        }
        .into();
        assert_eq!(e.exit_code(), 3);
        assert_eq!(Error::Unmet("x".into()).exit_code(), 1);
    }

    #[test]
    fn messages_keep_the_cause() {
        let e = Error::Sys {
            call: "swapon".into(),
            target: "/swapfile".into(),
            errno: nix::errno::Errno::EINVAL,
            hint: Some("file has holes".into()),
        };
        assert_eq!(
            e.to_string(),
            "swapon /swapfile: EINVAL: Invalid argument (file has holes)"
        );
        let e = Error::Command {
            program: "apt-get".into(),
            args: vec!["remove".into(), "nginx".into()],
            status: Some(100),
            stderr: "E: locked".into(),
            spawn_error: None,
        };
        assert_eq!(
            e.to_string(),
            "apt-get remove nginx: exited with status 100: E: locked"
        );
        assert_eq!(e.exit_code(), 1);
    }
}
