//! Which container engine hostfix talks to: Docker or Podman, and how it is picked when
//! the caller does not say (pure). A leaf: [`crate::finding::op`] names it in fixes.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A container engine hostfix knows, by its CLI.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum EngineKind {
    /// Docker: the `docker` CLI talking to `dockerd` (and containerd, with a
    /// `containerd-shim` per container).
    #[default]
    Docker,
    /// Podman: the daemonless `podman` CLI, a `conmon` per container, containers in
    /// `libpod-<id>.scope` cgroups. There is no engine daemon to restart.
    Podman,
}

impl EngineKind {
    /// Every engine, in the order automatic detection prefers them.
    pub const ALL: [EngineKind; 2] = [EngineKind::Docker, EngineKind::Podman];

    /// Its CLI program and the `--engine` value: `docker`, `podman`.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Docker => "docker",
            EngineKind::Podman => "podman",
        }
    }

    /// Whether a daemon runs the containers (Docker: `dockerd` and containerd, which the
    /// ladder may restart); Podman has none.
    pub fn has_daemon(self) -> bool {
        self == EngineKind::Docker
    }

    /// The process that watches one container and reports its exit to the engine:
    /// `containerd shim` (Docker), `conmon` (Podman).
    pub fn monitor(self) -> &'static str {
        match self {
            EngineKind::Docker => "containerd shim",
            EngineKind::Podman => "conmon",
        }
    }

    /// Parses an `--engine` value (`docker`, `podman`; case-insensitive).
    ///
    /// # Errors
    /// A sentence naming the value and the accepted ones.
    pub fn parse(s: &str) -> Result<EngineKind, String> {
        let t = s.trim().to_ascii_lowercase();
        EngineKind::ALL
            .into_iter()
            .find(|k| k.as_str() == t)
            .ok_or_else(|| format!("unknown container engine {s:?}; expected docker or podman"))
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the host offers, for [`pick`]: which CLIs exist and whether Docker's daemon
/// socket does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Offer {
    /// A `docker` program exists.
    pub docker: bool,
    /// A `podman` program exists.
    pub podman: bool,
    /// `/run/docker.sock` (or `/var/run/docker.sock`) exists: a Docker daemon can answer.
    pub docker_socket: bool,
}

/// Picks the engine (pure). A `choice` must be installed. Without one: the only engine
/// installed; when both are, Docker if its daemon socket exists (a daemon that can
/// answer), else Podman (a `docker` program without a daemon is often Podman's own
/// `podman-docker` wrapper). `None` when no engine the caller accepts is installed.
pub(crate) fn pick(offer: Offer, choice: Option<EngineKind>) -> Option<EngineKind> {
    match choice {
        Some(EngineKind::Docker) => offer.docker.then_some(EngineKind::Docker),
        Some(EngineKind::Podman) => offer.podman.then_some(EngineKind::Podman),
        None => match (offer.docker, offer.podman) {
            (true, false) => Some(EngineKind::Docker),
            (false, true) => Some(EngineKind::Podman),
            (true, true) if offer.docker_socket => Some(EngineKind::Docker),
            (true, true) => Some(EngineKind::Podman),
            (false, false) => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(EngineKind::parse("podman"), Ok(EngineKind::Podman));
        assert_eq!(EngineKind::parse(" Docker"), Ok(EngineKind::Docker));
        let e = EngineKind::parse("cri-o").unwrap_err();
        assert!(
            e.contains("\"cri-o\"") && e.contains("docker or podman"),
            "{e}"
        );
        assert!(!EngineKind::Podman.has_daemon());
    }

    #[test]
    fn detection() {
        let o = |docker, podman, docker_socket| Offer {
            docker,
            podman,
            docker_socket,
        };
        assert_eq!(pick(o(true, false, false), None), Some(EngineKind::Docker));
        assert_eq!(pick(o(false, true, false), None), Some(EngineKind::Podman));
        assert_eq!(pick(o(true, true, true), None), Some(EngineKind::Docker));
        assert_eq!(pick(o(true, true, false), None), Some(EngineKind::Podman));
        assert_eq!(pick(o(false, false, true), None), None);
        assert_eq!(
            pick(o(true, true, true), Some(EngineKind::Podman)),
            Some(EngineKind::Podman)
        );
        assert_eq!(pick(o(true, false, true), Some(EngineKind::Podman)), None);
    }
}
