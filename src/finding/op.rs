//! A finding's fix as a typed value: the operation and what it acts on, its risk, and the
//! command line it renders to. A leaf like [`crate::finding`]: it names its targets with
//! plain values (a port, a path, a container), and [`crate::fix`], above the operations,
//! turns them into the operations' specs and applies them.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::engine::kind::EngineKind;
use crate::net::Proto;
use crate::risk::Risk;

/// The default swap file path, as `swap ensure` has it (`crate::swap::spec::DEFAULT_PATH`,
/// named here so this leaf imports nothing above it; a test keeps the two equal).
pub(crate) const SWAP_DEFAULT_PATH: &str = "/swapfile";

/// The operation that fixes a finding, with what it acts on.
///
/// Serialized under a finding's `fix` as `"op": {"kind": "free-port", "port": 80, ...}`.
/// [`Fix::apply`](crate::doctor::Fix::apply) applies it through the operation and its
/// guards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum FixOp {
    /// [`crate::swap::ensure_swap_file`]: the swap file exists, has its size, is active
    /// and persisted.
    EnsureSwap {
        /// The swap file (a host path).
        path: PathBuf,
        /// Its size in bytes; `None`: `auto`.
        size: Option<u64>,
        /// Persisted by a systemd `.swap` unit instead of an fstab line.
        persist_systemd: bool,
    },
    /// [`crate::port::free_port`]: the port binds.
    FreePort {
        /// The port.
        port: u16,
        /// Its protocol.
        proto: Proto,
        /// Also remove the distro package holding it (`--remove-package`, risk
        /// destructive): the consent, as [`FreeSpec::remove_package`](crate::port::FreeSpec::remove_package).
        /// Doctor's findings never set it; `doctor --fix` does only when asked to.
        remove_package: bool,
    },
    /// [`crate::container::remove`]: a stuck container is gone.
    RemoveContainer {
        /// The container's name or id.
        target: String,
        /// The engine that lists it: the fix runs under it (`hostfix --engine podman
        /// container rm web`).
        engine: EngineKind,
    },
    /// [`crate::container::start`]: a container that could not start only because its
    /// host port was taken is started, once the port is free.
    StartContainer {
        /// Its full id.
        id: String,
        /// Its name.
        name: String,
        /// The host ports it publishes, which must be free first.
        ports: Vec<u16>,
        /// The engine that lists it (`docker start`, `podman start`).
        engine: EngineKind,
    },
    /// [`crate::reboot::reboot`] with `if_needed`: the host reboots when it needs to,
    /// through the guard.
    Reboot,
}

impl FixOp {
    /// The cap the operation's command runs under by default (its spec's
    /// `default_cap()`): a fix of a higher risk renders with `--max-risk`.
    pub fn default_cap(&self) -> Risk {
        match self {
            FixOp::EnsureSwap { .. } | FixOp::StartContainer { .. } => Risk::Additive,
            FixOp::FreePort {
                remove_package: true,
                ..
            } => Risk::Destructive,
            FixOp::FreePort { .. } | FixOp::RemoveContainer { .. } => Risk::Disruptive,
            FixOp::Reboot => Risk::Reboot,
        }
    }

    /// The command line that applies it at `risk`, as `doctor` shows it
    /// (`hostfix port free 80`, `hostfix swap ensure --size auto`, `docker start web`).
    pub fn command(&self, risk: Risk) -> String {
        let mut c = match self {
            FixOp::EnsureSwap {
                path,
                size,
                persist_systemd,
            } => {
                let mut c = ensure_cmd(path, *size);
                if *persist_systemd {
                    c.push_str(" --persist systemd");
                }
                c
            }
            FixOp::FreePort {
                port,
                proto,
                remove_package,
            } => {
                let mut c = format!("hostfix port free {port}");
                if *proto == Proto::Udp {
                    c.push_str(" --udp");
                }
                if *remove_package {
                    c.push_str(" --remove-package");
                }
                c
            }
            FixOp::RemoveContainer { target, engine } => format!(
                "hostfix {}container rm {}",
                engine_flag(*engine),
                shell_quote(target)
            ),
            FixOp::StartContainer { name, engine, .. } => {
                return format!("{engine} start {}", shell_quote(name));
            }
            FixOp::Reboot => "hostfix reboot --if-needed".to_string(),
        };
        if risk > self.default_cap() {
            c.push_str(&format!(" --max-risk {risk}"));
        }
        c
    }
}

/// A fix: the operation, the riskiest step it may take, and its command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Fix {
    /// The command line ([`FixOp::command`]).
    pub command: String,
    /// The riskiest step it may take.
    pub risk: Risk,
    /// The operation, typed.
    pub op: FixOp,
}

impl Fix {
    /// The fix `op` at `risk`, with its command line.
    pub fn new(op: FixOp, risk: Risk) -> Self {
        Fix {
            command: op.command(risk),
            risk,
            op,
        }
    }
}

/// The global flag that picks a non-default engine, before the subcommand: Docker's
/// fixes render as they always have; Podman's name it (`--engine podman `), so the fix
/// runs under the engine that listed the container even where both are installed.
fn engine_flag(engine: EngineKind) -> String {
    match engine {
        EngineKind::Docker => String::new(),
        e => format!("--engine {e} "),
    }
}

/// A size as the CLI takes it: `2G`, `512M`, or bytes.
pub(crate) fn size_arg(bytes: u64) -> String {
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    if bytes >= GIB && bytes % GIB == 0 {
        format!("{}G", bytes / GIB)
    } else if bytes % MIB == 0 && bytes > 0 {
        format!("{}M", bytes / MIB)
    } else {
        bytes.to_string()
    }
}

/// A word as a shell reads it back: bare when safe, else single-quoted.
pub(crate) fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:=".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn ensure_cmd(path: &Path, size: Option<u64>) -> String {
    let mut c = format!(
        "hostfix swap ensure --size {}",
        size.map_or("auto".to_string(), size_arg)
    );
    if path != Path::new(SWAP_DEFAULT_PATH) {
        c.push_str(&format!(" --path {}", shell_quote(&path.to_string_lossy())));
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_render_as_doctor_has_always_shown_them() {
        let swap = |path: &str, size, persist_systemd| FixOp::EnsureSwap {
            path: path.into(),
            size,
            persist_systemd,
        };
        let cases = [
            (
                swap("/swapfile", None, false),
                Risk::Additive,
                "hostfix swap ensure --size auto",
            ),
            (
                swap("/var/my swap", Some(1 << 30), true),
                Risk::Disruptive,
                "hostfix swap ensure --size 1G --path '/var/my swap' --persist systemd --max-risk disruptive",
            ),
            (
                FixOp::FreePort {
                    port: 80,
                    proto: Proto::Tcp,
                    remove_package: false,
                },
                Risk::Disruptive,
                "hostfix port free 80",
            ),
            (
                FixOp::FreePort {
                    port: 53,
                    proto: Proto::Udp,
                    remove_package: false,
                },
                Risk::Disruptive,
                "hostfix port free 53 --udp",
            ),
            (
                FixOp::FreePort {
                    port: 80,
                    proto: Proto::Tcp,
                    remove_package: true,
                },
                Risk::Destructive,
                "hostfix port free 80 --remove-package",
            ),
            (
                FixOp::RemoveContainer {
                    target: "web".into(),
                    engine: EngineKind::Docker,
                },
                Risk::Disruptive,
                "hostfix container rm web",
            ),
            (
                FixOp::RemoveContainer {
                    target: "web".into(),
                    engine: EngineKind::Docker,
                },
                Risk::Reboot,
                "hostfix container rm web --max-risk reboot",
            ),
            (
                FixOp::RemoveContainer {
                    target: "3f4e".into(),
                    engine: EngineKind::Docker,
                },
                Risk::Destructive,
                "hostfix container rm 3f4e --max-risk destructive",
            ),
            (FixOp::Reboot, Risk::Reboot, "hostfix reboot --if-needed"),
            (
                FixOp::StartContainer {
                    id: "7c2d".into(),
                    name: "web".into(),
                    ports: vec![80],
                    engine: EngineKind::Docker,
                },
                Risk::Additive,
                "docker start web",
            ),
        ];
        for (op, risk, want) in cases {
            assert_eq!(Fix::new(op, risk).command, want);
        }
    }

    #[test]
    fn container_fixes_name_a_podman_engine() {
        let rm = FixOp::RemoveContainer {
            target: "web".into(),
            engine: EngineKind::Podman,
        };
        assert_eq!(
            Fix::new(rm, Risk::Destructive).command,
            "hostfix --engine podman container rm web --max-risk destructive"
        );
        let start = FixOp::StartContainer {
            id: "7c2d".into(),
            name: "web".into(),
            ports: vec![80],
            engine: EngineKind::Podman,
        };
        assert_eq!(Fix::new(start, Risk::Additive).command, "podman start web");
    }

    #[test]
    fn the_default_swap_path_is_swap_ensures() {
        assert_eq!(SWAP_DEFAULT_PATH, crate::swap::SwapSpec::DEFAULT_PATH);
    }

    #[test]
    fn odd_words_are_quoted() {
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(size_arg(512 << 20), "512M");
        assert_eq!(size_arg(1000), "1000");
    }
}
