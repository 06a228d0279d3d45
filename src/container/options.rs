//! What `container rm` is asked to do, and the check of its target.

use std::time::Duration;

use crate::engine::Limits;
use crate::error::InputError;

use super::procs::Sampling;

/// What `container rm` is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveOptions {
    /// The container: a name, or an id (full, or a unique prefix).
    pub target: String,
    /// How long `docker stop` lets it shut down before SIGKILL (`--timeout`).
    pub stop_grace: Duration,
    /// How long any other engine command may run before it counts as hung.
    pub command_timeout: Duration,
    /// How long `systemctl restart` of containerd or docker may run.
    pub restart_timeout: Duration,
    /// How long to wait for the container to be gone after a rung that acts
    /// asynchronously (the shim kill, the engine restart), or for its processes to exit.
    pub settle: Duration,
    /// How processes in `D` are sampled before they count as stuck.
    pub sampling: Sampling,
    /// How long to wait for another hostfix run's host lock.
    pub lock_wait: Duration,
}

impl RemoveOptions {
    /// The defaults for a target: 10 s stop grace, 30 s per command, 120 s per restart,
    /// 10 s to settle, three `D` samples 300 ms apart, 10 s for the host lock.
    pub fn new(target: impl Into<String>) -> Self {
        let l = Limits::default();
        RemoveOptions {
            target: target.into(),
            stop_grace: l.stop_grace,
            command_timeout: l.command,
            restart_timeout: l.restart,
            settle: Duration::from_secs(10),
            sampling: Sampling::default(),
            lock_wait: Duration::from_secs(10),
        }
    }
}

impl RemoveOptions {
    /// Checks the options: the target is a name or id ([`validate_target`]), and every
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
