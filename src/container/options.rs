//! What `container rm` is asked to do, and the check of its target.

use std::time::Duration;

use crate::engine::{EngineKind, Limits};
use crate::error::InputError;
use crate::risk::Risk;

use super::procs::Sampling;

/// What `container rm` is asked to do: [`RemoveOptions::new`] with the target, then the
/// fields. Every duration is at most a day.
///
/// Read from a config (`serde`), only `target` is required, durations as the CLI
/// writes them: `{"target": "web", "stop_grace": "20s"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RemoveOptions {
    /// The container: a name, or an id (full, or a unique prefix). Required.
    pub target: String,
    /// How long `docker stop` lets it shut down before SIGKILL (`--timeout`). Default
    /// 10 s.
    #[serde(default = "stop_grace", deserialize_with = "crate::de::duration")]
    pub stop_grace: Duration,
    /// How long any other engine command may run before it counts as hung
    /// (`--command-timeout`). Default 30 s.
    #[serde(default = "command_timeout", deserialize_with = "crate::de::duration")]
    pub command_timeout: Duration,
    /// How long `systemctl restart` of containerd or docker may run. Default 120 s.
    #[serde(default = "restart_timeout", deserialize_with = "crate::de::duration")]
    pub restart_timeout: Duration,
    /// How long to wait for the container to be gone after a rung that acts
    /// asynchronously (the shim kill, the engine restart), or for its processes to exit.
    /// Default 10 s.
    #[serde(default = "ten_seconds", deserialize_with = "crate::de::duration")]
    pub settle: Duration,
    /// How processes in `D` are sampled before they count as stuck. Default three
    /// samples 300 ms apart.
    #[serde(default)]
    pub sampling: Sampling,
    /// How long to wait for another hostfix run's host lock. Default 10 s.
    #[serde(default = "ten_seconds", deserialize_with = "crate::de::duration")]
    pub lock_wait: Duration,
    /// The engine (`--engine`): `None` detects it (the one installed; both: Docker when
    /// its daemon socket exists, else Podman). Under Podman the ladder has no engine
    /// restart rung and kills the container's `conmon` instead of a containerd shim.
    #[serde(default)]
    pub engine: Option<EngineKind>,
}

fn stop_grace() -> Duration {
    Limits::default().stop_grace
}

fn command_timeout() -> Duration {
    Limits::default().command
}

fn restart_timeout() -> Duration {
    Limits::default().restart
}

fn ten_seconds() -> Duration {
    Duration::from_secs(10)
}

impl RemoveOptions {
    /// The risk cap `hostfix container rm` runs under unless `--max-risk` says
    /// otherwise: [`Risk::Disruptive`] (`docker stop`, `kill`, `rm -f`). Killing the shim
    /// and restarting the engine need [`Risk::Destructive`]; the reboot rung needs
    /// [`Risk::Reboot`] and passes the reboot guard.
    pub fn default_cap(&self) -> Risk {
        Risk::Disruptive
    }

    /// The defaults for a target: 10 s stop grace, 30 s per command, 120 s per restart,
    /// 10 s to settle, three `D` samples 300 ms apart, 10 s for the host lock.
    pub fn new(target: impl Into<String>) -> Self {
        RemoveOptions {
            target: target.into(),
            stop_grace: stop_grace(),
            command_timeout: command_timeout(),
            restart_timeout: restart_timeout(),
            settle: ten_seconds(),
            sampling: Sampling::default(),
            lock_wait: ten_seconds(),
            engine: None,
        }
    }
}

impl RemoveOptions {
    /// Checks the options: the target is a name (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`, with the
    /// engine's optional leading `/`) or a hex id, and every
    /// timeout is at most [`crate::size::MAX_WAIT`]. Returns the target as the engine
    /// spells it.
    ///
    /// # Errors
    /// [`InputError`] naming the field and what it accepts.
    pub fn validate(&self) -> std::result::Result<String, InputError> {
        use crate::size::{MAX_WAIT, check_duration};
        let target = validate_target(&self.target)?;
        check_duration("--timeout", self.stop_grace, MAX_WAIT)?;
        check_duration("--command-timeout", self.command_timeout, MAX_WAIT)?;
        check_duration("restart timeout", self.restart_timeout, MAX_WAIT)?;
        check_duration("settle time", self.settle, MAX_WAIT)?;
        check_duration("lock wait", self.lock_wait, MAX_WAIT)?;
        Ok(target)
    }
}

/// Checks a container name or id as given on the command line.
///
/// # Errors
/// [`InputError`] unless it is a name (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`, optionally with the
/// engine's leading `/`) or a hex id.
pub fn validate_target(s: &str) -> std::result::Result<String, InputError> {
    let t = s.trim().trim_start_matches('/');
    let ok = t.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && t.len() <= 253;
    if ok {
        Ok(t.to_string())
    } else {
        Err(InputError::new(
            "container",
            s,
            "not a container name or id",
            "a name ([a-zA-Z0-9][a-zA-Z0-9_.-]*) or an id (hex digits, a unique prefix)",
        ))
    }
}
