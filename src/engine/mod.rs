//! The container engine, through its CLI: the one client hostfix has for it, used by
//! `port` (which container publishes a port) and `container` (the removal ladder and
//! `doctor`'s findings). It runs `docker` or `podman` ([`EngineKind`], detected or
//! chosen with `--engine`) through the host's [`System`](crate::host::System) seam; the
//! parsers of what they print live in `parse.rs` (Docker) and `podman.rs` (Podman) and
//! are re-exported here.
//!
//! Every engine command runs under coreutils `timeout`, so an engine that never answers
//! (the incident's `docker rm -f` on a container whose shim is stopped) ends as a failed
//! command with [`EngineFailure::Hung`], never as a hung hostfix. Errors keep the engine's
//! own message ("Error response from daemon: ...").

pub(crate) mod kind;
mod parse;
mod podman;

use std::path::Path;
use std::time::Duration;

pub use crate::error::EngineError;
use crate::error::Result;
use crate::host::{Cmd, CmdOutput, Host};
use crate::program;

pub use kind::EngineKind;
#[cfg(any(test, feature = "testing"))]
pub use parse::state_from_status_text;
pub use parse::{
    ContainerInfo, PsEntry, PublishedPort, Status, is_full_id, parse_inspect, parse_live_restore,
    parse_ps, ports_in_use_from_error, short_id,
};
pub use podman::{conmon_container_id, parse_podman_ps};

/// Why an engine command did not succeed, read from its exit status and stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineFailure {
    /// The container does not exist (`No such container`; Podman: `no container with
    /// name or ID "web" found: no such container`).
    NotFound,
    /// The daemon does not answer (`Cannot connect to the Docker daemon`; a remote
    /// Podman: `Cannot connect to Podman`).
    Unreachable,
    /// The socket refused us (`permission denied while trying to connect`).
    PermissionDenied,
    /// The command ran past its time limit and was killed by `timeout`.
    Hung,
    /// Any other failure; the engine's message says what.
    Other,
}

/// Classifies a failed engine command. `guarded` says whether it ran under `timeout`
/// (whose exit status 124, or 137 after `-k`, means it ran out of time).
pub fn classify_failure(out: &CmdOutput, guarded: bool) -> EngineFailure {
    let e = out.stderr.to_ascii_lowercase();
    if guarded && matches!(out.status, Some(124) | Some(137)) {
        EngineFailure::Hung
    } else if e.contains("no such container")
        || e.contains("no such object")
        || e.contains("no container with name or id")
    {
        EngineFailure::NotFound
    } else if e.contains("permission denied") && e.contains("docker daemon socket") {
        EngineFailure::PermissionDenied
    } else if e.contains("cannot connect to the docker daemon")
        || e.contains("is the docker daemon running")
        || e.contains("cannot connect to podman")
    {
        EngineFailure::Unreachable
    } else {
        EngineFailure::Other
    }
}

/// How long engine commands may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Reads (`ps`, `inspect`, `info`) and `kill`, `rm`, `unpause`.
    pub command: Duration,
    /// `docker stop`: the grace period the container gets before SIGKILL.
    pub stop_grace: Duration,
    /// `systemctl restart` of containerd or docker.
    pub restart: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            command: Duration::from_secs(30),
            stop_grace: Duration::from_secs(10),
            restart: Duration::from_secs(120),
        }
    }
}

/// The engine's CLI, found on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Engine {
    /// Which engine it is.
    pub kind: EngineKind,
    /// The `docker` or `podman` program (a host path).
    pub program: String,
    /// coreutils `timeout`, when found; without it commands run unguarded.
    pub timeout: Option<String>,
    /// Time limits.
    pub limits: Limits,
}

/// What an engine command printed, and why it failed when it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineOutput {
    /// The command line that ran (without the `timeout` wrapper).
    pub command: String,
    /// Its output.
    pub output: CmdOutput,
    /// `None` when it exited 0.
    pub failure: Option<EngineFailure>,
}

impl EngineOutput {
    /// Whether it exited 0.
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }

    /// The engine's message: its stderr, trimmed (stdout when stderr is empty).
    pub fn message(&self) -> String {
        let e = self.output.stderr.trim();
        if e.is_empty() {
            self.output.stdout.trim().to_string()
        } else {
            e.to_string()
        }
    }

    /// One line for a step's detail: `docker rm -f web: ok` or the failure.
    pub fn summary(&self) -> String {
        match &self.failure {
            None => format!("{}: ok", self.command),
            Some(EngineFailure::Hung) => format!(
                "{}: no answer in time, stopped waiting{}",
                self.command,
                match self.message() {
                    m if m.is_empty() => String::new(),
                    m => format!(" ({m})"),
                }
            ),
            Some(_) => format!(
                "{}: {}",
                self.command,
                match self.message() {
                    m if m.is_empty() => format!("exited with status {:?}", self.output.status),
                    m => m,
                }
            ),
        }
    }

    /// This failure as an error that keeps the engine's message.
    pub fn to_error(&self) -> EngineError {
        match self.failure {
            Some(EngineFailure::Unreachable) => EngineError::Unreachable {
                message: self.message(),
            },
            Some(EngineFailure::PermissionDenied) => EngineError::Permission {
                message: self.message(),
            },
            Some(EngineFailure::Hung) => EngineError::Hung {
                command: self.command.clone(),
            },
            _ => EngineError::Command {
                command: self.command.clone(),
                status: self.output.status,
                message: self.message(),
            },
        }
    }
}

impl Engine {
    /// Finds the engine's CLI (and coreutils `timeout`) on the host: the `choice`
    /// (`--engine`), or without one the engine installed (both: Docker when its daemon
    /// socket exists, else Podman).
    ///
    /// # Errors
    /// [`EngineError::NoEngine`] when neither `docker` nor `podman` is installed;
    /// [`EngineError::NotInstalled`] when the chosen one is not.
    pub fn locate(
        host: &Host,
        choice: Option<EngineKind>,
    ) -> std::result::Result<Engine, EngineError> {
        let found = |k: EngineKind| program::find(host.root(), k.as_str());
        let offer = kind::Offer {
            docker: found(EngineKind::Docker).is_some(),
            podman: found(EngineKind::Podman).is_some(),
            docker_socket: host.path("/run/docker.sock").exists()
                || host.path("/var/run/docker.sock").exists(),
        };
        let kind = kind::pick(offer, choice).ok_or(match choice {
            Some(engine) => EngineError::NotInstalled { engine },
            None => EngineError::NoEngine,
        })?;
        let program = found(kind)
            .ok_or(EngineError::NotInstalled { engine: kind })?
            .run_path();
        let timeout = program::find(host.root(), "timeout").map(|p| p.run_path());
        if timeout.is_none() {
            log::warn!("engine: no `timeout` program: engine commands run unguarded");
        }
        Ok(Engine {
            kind,
            program,
            timeout,
            limits: Limits::default(),
        })
    }

    /// The command that runs `args` with the given time limit.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))] // used by hostfix::testing
    pub fn cmd(&self, args: &[&str], limit: Duration) -> Cmd {
        wrap(&self.timeout, &self.program, args, limit)
    }

    /// Runs an engine command; a non-zero exit is classified, not an error.
    ///
    /// # Errors
    /// [`Error::Command`](crate::Error::Command) when the program cannot be started.
    pub fn run(&self, host: &Host, args: &[&str], limit: Duration) -> Result<EngineOutput> {
        run_wrapped(host, &self.timeout, &self.program, args, limit)
    }

    /// Runs a read command and returns its stdout.
    fn read(&self, host: &Host, args: &[&str]) -> Result<String> {
        let out = self.run(host, args, self.limits.command)?;
        match out.failure {
            None => Ok(out.output.stdout),
            Some(_) => Err(out.to_error().into()),
        }
    }

    /// Every container the engine knows (`docker ps -a --no-trunc`, `podman ps -a
    /// --format json`).
    ///
    /// # Errors
    /// [`EngineError::Unreachable`] and friends with the engine's message;
    /// [`Error::Parse`](crate::Error::Parse) when its output is not what `--format '{{json .}}'` prints.
    pub fn list(&self, host: &Host) -> Result<Vec<PsEntry>> {
        match self.kind {
            EngineKind::Docker => parse_ps(&self.read(
                host,
                &["ps", "--all", "--no-trunc", "--format", "{{json .}}"],
            )?),
            EngineKind::Podman => {
                parse_podman_ps(&self.read(host, &["ps", "--all", "--format", "json"])?)
            }
        }
    }

    /// Inspects one container; `None` when the engine knows no such container.
    ///
    /// # Errors
    /// The engine's error for anything but "no such container"; [`Error::Parse`](crate::Error::Parse).
    pub fn inspect(&self, host: &Host, target: &str) -> Result<Option<ContainerInfo>> {
        Ok(self.inspect_many(host, &[target])?.into_iter().next())
    }

    /// Inspects several containers at once; the ones the engine no longer knows are left
    /// out.
    ///
    /// # Errors
    /// The engine's error for anything but "no such container"; [`Error::Parse`](crate::Error::Parse).
    pub fn inspect_many(&self, host: &Host, targets: &[&str]) -> Result<Vec<ContainerInfo>> {
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let args = self.inspect_args(targets);
        let out = self.run(host, &args, self.limits.command)?;
        match out.failure {
            // With several targets the engine prints the ones it found and fails for the
            // rest.
            None | Some(EngineFailure::NotFound) => parse_inspect(&out.output.stdout),
            Some(_) => Err(out.to_error().into()),
        }
    }

    /// The arguments of an inspect of `targets`: Docker prints one JSON object a line
    /// with `--format '{{json .}}'`; Podman's plain output is a JSON array, read by the
    /// same parser.
    pub(crate) fn inspect_args<'a>(&self, targets: &[&'a str]) -> Vec<&'a str> {
        let mut args = match self.kind {
            EngineKind::Docker => vec!["container", "inspect", "--format", "{{json .}}"],
            EngineKind::Podman => vec!["container", "inspect"],
        };
        args.extend_from_slice(targets);
        args
    }

    /// Whether the engine restores running containers across its own restart
    /// (`LiveRestoreEnabled`); `None` when it cannot tell. Podman has no daemon and no
    /// such setting: `None` without asking.
    pub fn live_restore(&self, host: &Host) -> Option<bool> {
        if self.kind == EngineKind::Podman {
            return None;
        }
        match self.read(host, &["info", "--format", "{{json .LiveRestoreEnabled}}"]) {
            Ok(s) => parse_live_restore(&s),
            Err(e) => {
                log::warn!("engine: docker info: {e}");
                None
            }
        }
    }
}

/// `timeout -k 5 SECS PROGRAM ARGS...`, or the bare command when there is no `timeout`.
pub fn wrap(timeout: &Option<String>, program: &str, args: &[&str], limit: Duration) -> Cmd {
    match timeout {
        Some(t) => {
            let secs = limit.as_secs().max(1).to_string();
            let mut a: Vec<String> = vec!["-k".into(), "5".into(), secs, program.into()];
            a.extend(args.iter().map(|s| s.to_string()));
            Cmd::new(t.clone(), a)
        }
        None => Cmd::new(program, args.iter().copied()),
    }
}

/// Runs a command under `timeout` and classifies a failure.
///
/// # Errors
/// [`Error::Command`](crate::Error::Command) when the program cannot be started.
pub fn run_wrapped(
    host: &Host,
    timeout: &Option<String>,
    program: &str,
    args: &[&str],
    limit: Duration,
) -> Result<EngineOutput> {
    let cmd = wrap(timeout, program, args, limit);
    let bare = Cmd::new(
        Path::new(program)
            .file_name()
            .map_or(program.to_string(), |n| n.to_string_lossy().into_owned()),
        args.iter().copied(),
    )
    .display();
    let output = host.system().run(&cmd)?;
    let failure = (!output.success()).then(|| classify_failure(&output, timeout.is_some()));
    log::debug!("engine: {bare} -> {:?} {:?}", output.status, failure);
    Ok(EngineOutput {
        command: bare,
        output,
        failure,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_classified() {
        let f = |status, e: &str| classify_failure(&CmdOutput::failed(status, e), true);
        assert_eq!(
            f(1, "Error response from daemon: No such container: web"),
            EngineFailure::NotFound
        );
        assert_eq!(
            f(
                1,
                "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"
            ),
            EngineFailure::Unreachable
        );
        assert_eq!(
            f(
                1,
                "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock"
            ),
            EngineFailure::PermissionDenied
        );
        assert_eq!(f(124, ""), EngineFailure::Hung);
        assert_eq!(
            f(
                125,
                "Error: no container with name or ID \"web\" found: no such container"
            ),
            EngineFailure::NotFound
        );
        assert_eq!(
            classify_failure(&CmdOutput::failed(124, ""), false),
            EngineFailure::Other
        );
    }

    #[test]
    fn commands_are_guarded() {
        let c = wrap(
            &Some("/usr/bin/timeout".into()),
            "/usr/bin/docker",
            &["rm", "-f", "web"],
            Duration::from_secs(30),
        );
        assert_eq!(
            c.display(),
            "/usr/bin/timeout -k 5 30 /usr/bin/docker rm -f web"
        );
        let c = wrap(&None, "docker", &["ps"], Duration::from_secs(30));
        assert_eq!(c.display(), "docker ps");
    }
}
