//! The escalation ladder that removes a stuck container, least risky rung first.
//!
//! ```text
//! unpause (only when the engine paused it)         disruptive
//! stop: docker stop -t N, then docker rm           disruptive
//! kill: docker kill, then docker rm                disruptive
//! rm-force: docker rm -f                           disruptive
//! kill-shim: SIGKILL its containerd shim           destructive
//! restart-engine: systemctl restart containerd, docker   destructive
//! reboot: through the reboot guard                 reboot
//! ```
//!
//! Under Podman ([`EngineKind::Podman`]) the same rungs run `podman`; the shim rung
//! SIGKILLs the container's `conmon` (by its pid and start time, only that one), and the
//! engine restart rung is absent: Podman has no daemon. The plan lists it as
//! [`RungDecision::Absent`] with the reason, and the climb goes from the conmon kill to
//! the reboot.
//!
//! Each rung counts as done only when the container is gone: the engine no longer lists
//! its full id, no process's cgroup holds the id, and no shim runs with `-id <id>`. The
//! ladder moves to the next rung only when that check failed. Rungs that cannot work
//! are skipped with the reason: signals cannot end a process in uninterruptible sleep
//! (`D`) or in a frozen cgroup ([`Futility`]); an engine restart needs systemd.
//!
//! The decisions are pure functions of an [`Observation`] ([`decide`], [`plan_ladder`]),
//! tested from every state; [`remove`](super::remove()) walks them through a
//! [`Runner`](crate::plan::Runner).

use std::time::Duration;

use serde::Serialize;

use crate::engine::{ContainerInfo, EngineKind, Status, short_id};
use crate::plan::Risk;

#[cfg_attr(not(feature = "testing"), allow(unused_imports))] // used by hostfix::testing
pub use super::gate::{NoRebootGate, RebootGate, RebootRequest};
use super::procs::{ContainerProcess, Futility, Shim};

/// One rung of the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ContainerRung {
    /// `docker unpause`: only for a container the engine paused (its cgroup is frozen).
    Unpause,
    /// `docker stop` with a grace period, then `docker rm` (just `docker rm` when the
    /// container is not running).
    Stop,
    /// `docker kill` (SIGKILL), then `docker rm`.
    Kill,
    /// `docker rm -f`.
    RmForce,
    /// SIGKILL to the container's containerd shim (Podman: its `conmon`) (and, when the
    /// engine no longer lists the container, to its leftover processes), then `docker rm
    /// -f`.
    KillShim,
    /// `systemctl restart containerd`, then `docker`, then `docker rm -f`. Absent under
    /// Podman (no daemon).
    RestartEngine,
    /// A reboot through the reboot guard.
    Reboot,
}

impl ContainerRung {
    /// Every rung, in the order the ladder tries them.
    pub const LADDER: [ContainerRung; 7] = [
        ContainerRung::Unpause,
        ContainerRung::Stop,
        ContainerRung::Kill,
        ContainerRung::RmForce,
        ContainerRung::KillShim,
        ContainerRung::RestartEngine,
        ContainerRung::Reboot,
    ];

    /// How risky the rung is.
    pub fn risk(self) -> Risk {
        match self {
            ContainerRung::Unpause
            | ContainerRung::Stop
            | ContainerRung::Kill
            | ContainerRung::RmForce => Risk::Disruptive,
            ContainerRung::KillShim | ContainerRung::RestartEngine => Risk::Destructive,
            ContainerRung::Reboot => Risk::Reboot,
        }
    }

    /// Its name in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerRung::Unpause => "unpause",
            ContainerRung::Stop => "stop",
            ContainerRung::Kill => "kill",
            ContainerRung::RmForce => "rm-force",
            ContainerRung::KillShim => "kill-shim",
            ContainerRung::RestartEngine => "restart-engine",
            ContainerRung::Reboot => "reboot",
        }
    }

    /// Whether the rung works by signalling the container's processes (directly or
    /// through the engine), so [`Futility`] can make it pointless.
    pub fn signals(self) -> bool {
        matches!(
            self,
            ContainerRung::Stop
                | ContainerRung::Kill
                | ContainerRung::RmForce
                | ContainerRung::KillShim
                | ContainerRung::RestartEngine
        )
    }
}

impl std::fmt::Display for ContainerRung {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Futility {
    /// Whether this makes `rung` pointless.
    ///
    /// A process in `D` takes no signal at all, and an engine restart only signals it
    /// again: every rung but the reboot is skipped. In a frozen cgroup SIGTERM is never
    /// handled (the stop rung is skipped); on cgroup v1 SIGKILL waits for a thaw too, so
    /// every signal rung is skipped, while on cgroup v2 a fatal signal still ends frozen
    /// tasks (kernel cgroup-v2 documentation), so the SIGKILL rungs are tried.
    pub fn blocks(&self, rung: ContainerRung) -> bool {
        match self {
            Futility::Uninterruptible { .. } => rung.signals(),
            Futility::Frozen { cgroup_version, .. } => match rung {
                ContainerRung::Stop => true,
                ContainerRung::Kill | ContainerRung::RmForce | ContainerRung::KillShim => {
                    *cgroup_version == 1
                }
                _ => false,
            },
        }
    }
}

/// What the host shows of one container at one moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Observation {
    /// Its full id.
    pub id: String,
    /// Whether `docker ps -a` lists it.
    pub listed: bool,
    /// The engine's view, when it lists it.
    pub info: Option<ContainerInfo>,
    /// Processes whose cgroup holds its id.
    pub processes: Vec<ContainerProcess>,
    /// Shims running with `-id <id>`.
    pub shims: Vec<Shim>,
    /// Why signals cannot end its processes, when they cannot.
    pub futility: Option<Futility>,
    /// Other running containers (by name): the ones an engine restart interrupts.
    pub others_running: Vec<String>,
}

impl Observation {
    /// Gone: not listed, no process, no shim.
    pub fn gone(&self) -> bool {
        !self.listed && self.processes.is_empty() && self.shims.is_empty()
    }

    /// The engine's status, when it lists the container.
    pub fn status(&self) -> Option<&Status> {
        self.info.as_ref().map(|i| &i.status)
    }

    pub(super) fn live(&self) -> bool {
        self.info
            .as_ref()
            .is_some_and(|i| i.status.is_live() || i.running)
    }

    pub(super) fn engine_paused(&self) -> bool {
        self.info
            .as_ref()
            .is_some_and(|i| i.paused || i.status == Status::Paused)
    }

    /// What remains of the container, in words.
    pub fn remains(&self) -> String {
        let mut parts = Vec::new();
        match (&self.info, self.listed) {
            (Some(i), _) => parts.push(format!("the engine lists it as {}", i.status)),
            (None, true) => parts.push("the engine lists it".to_string()),
            (None, false) => {}
        }
        if !self.processes.is_empty() {
            parts.push(format!(
                "{} process{} remain{} ({})",
                self.processes.len(),
                if self.processes.len() == 1 { "" } else { "es" },
                if self.processes.len() == 1 { "s" } else { "" },
                self.processes
                    .iter()
                    .take(5)
                    .map(|p| format!("pid {} {} {}", p.pid, p.comm, p.state))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for s in &self.shims {
            parts.push(format!("shim pid {} ({}) runs", s.pid, s.state));
        }
        if parts.is_empty() {
            "nothing".into()
        } else {
            parts.join("; ")
        }
    }
}

/// Facts about the host the decisions need besides the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LadderEnv {
    /// Whether systemd runs the host (the engine restart uses `systemctl`).
    pub systemd: bool,
    /// Whether the engine keeps containers running across its restart; `None` unknown.
    pub live_restore: Option<bool>,
    /// The engine (Docker by default).
    pub engine: EngineKind,
}

/// What the ladder does with a rung, given what it sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", content = "why", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RungDecision {
    /// Take it.
    Try,
    /// Skip it: it cannot work here (the reason says why).
    Skip(String),
    /// It does not apply (unpause of a container that is not paused).
    NotApplicable,
    /// The engine has no such rung (the engine restart under Podman, which has no
    /// daemon): listed with the reason, never taken.
    Absent(String),
}

/// Decides what to do with `rung` given an observation (pure).
pub fn decide(rung: ContainerRung, o: &Observation, env: &LadderEnv) -> RungDecision {
    let blocked = o.futility.as_ref().filter(|f| f.blocks(rung));
    let cli = env.engine.as_str();
    let not_listed = || {
        RungDecision::Skip(
            "the engine no longer lists the container: only its processes remain".into(),
        )
    };
    match rung {
        ContainerRung::Unpause => {
            if o.listed && o.engine_paused() {
                RungDecision::Try
            } else {
                RungDecision::NotApplicable
            }
        }
        ContainerRung::Stop => match (o.listed, blocked) {
            (false, _) => not_listed(),
            // Not running: this rung is a plain `docker rm`, no signal involved.
            (true, Some(f)) if o.live() => RungDecision::Skip(f.why()),
            _ => RungDecision::Try,
        },
        ContainerRung::Kill => match (o.listed, blocked) {
            (false, _) => not_listed(),
            (true, _) if !o.live() => RungDecision::Skip(format!(
                "the engine says it is {}: {cli} kill has nothing to signal",
                o.status().map_or("not running".into(), ToString::to_string)
            )),
            (true, Some(f)) => RungDecision::Skip(f.why()),
            _ => RungDecision::Try,
        },
        ContainerRung::RmForce => match (o.listed, blocked) {
            (false, _) => not_listed(),
            (true, Some(f)) => RungDecision::Skip(f.why()),
            _ => RungDecision::Try,
        },
        ContainerRung::KillShim => {
            if let Some(f) = blocked {
                RungDecision::Skip(format!(
                    "{}; killing the shim would only orphan them",
                    f.why()
                ))
            } else if o.shims.is_empty() && (o.listed || o.processes.is_empty()) {
                RungDecision::Skip(match env.engine {
                    EngineKind::Podman => format!("no conmon runs for {}", short_id(&o.id)),
                    _ => format!("no containerd shim runs with -id {}", short_id(&o.id)),
                })
            } else {
                RungDecision::Try
            }
        }
        ContainerRung::RestartEngine => {
            if !env.engine.has_daemon() {
                RungDecision::Absent(format!(
                    "{} has no engine daemon: there is no engine to restart; after \
                     its conmon is killed only a reboot is left",
                    env.engine
                ))
            } else if !env.systemd {
                RungDecision::Skip(
                    "not a systemd host: hostfix restarts the engine only through systemctl; \
                     restart containerd and docker with the host's own init"
                        .into(),
                )
            } else if let Some(f) = blocked {
                RungDecision::Skip(f.why())
            } else {
                RungDecision::Try
            }
        }
        ContainerRung::Reboot => RungDecision::Try,
    }
}

/// One rung as planned from an observation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RungPlan {
    /// The rung.
    pub rung: ContainerRung,
    /// Its risk.
    pub risk: Risk,
    /// What it would do.
    pub action: String,
    /// What the ladder does with it.
    #[serde(flatten)]
    pub decision: RungDecision,
    /// Whether the cap allows it.
    pub allowed: bool,
}

/// The whole ladder as planned from one observation (pure): every applicable rung with
/// its risk, action and decision.
pub fn plan_ladder(o: &Observation, env: &LadderEnv, names: &Names, cap: Risk) -> Vec<RungPlan> {
    ContainerRung::LADDER
        .iter()
        .map(|&rung| RungPlan {
            rung,
            risk: rung.risk(),
            action: action(rung, o, names),
            decision: decide(rung, o, env),
            allowed: rung.risk() <= cap,
        })
        .filter(|p| p.decision != RungDecision::NotApplicable)
        .collect()
}

/// The rung that would be tried after `after` (pure), if `after` did not remove it.
#[cfg_attr(not(feature = "testing"), allow(dead_code))] // used by hostfix::testing
pub fn next_rung(after: ContainerRung, o: &Observation, env: &LadderEnv) -> Option<ContainerRung> {
    ContainerRung::LADDER
        .iter()
        .copied()
        .filter(|r| *r > after)
        .find(|r| decide(*r, o, env) == RungDecision::Try)
}

/// How the container is named in actions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    /// The name (or the short id when it has none).
    pub name: String,
    /// The stop grace period.
    pub stop_grace: Duration,
    /// The engine whose commands the actions name.
    pub engine: EngineKind,
}

/// The step action for a rung (pure).
pub fn action(rung: ContainerRung, o: &Observation, n: &Names) -> String {
    let name = &n.name;
    let cli = n.engine.as_str();
    let monitor = n.engine.monitor();
    match rung {
        ContainerRung::Unpause => format!("{cli} unpause {name}"),
        ContainerRung::Stop if o.live() => format!(
            "{cli} stop -t {} {name}, then {cli} rm {name}",
            n.stop_grace.as_secs()
        ),
        ContainerRung::Stop => format!("{cli} rm {name}"),
        ContainerRung::Kill => format!("{cli} kill {name}, then {cli} rm {name}"),
        ContainerRung::RmForce => format!("{cli} rm -f {name}"),
        ContainerRung::KillShim => {
            let mut what = if o.shims.is_empty() {
                format!("kill the {monitor}")
            } else {
                format!(
                    "SIGKILL {monitor} {}",
                    o.shims
                        .iter()
                        .map(|s| format!("pid {}", s.pid))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            match n.engine {
                EngineKind::Podman => what.push_str(&format!(" of {name}")),
                _ => what.push_str(&format!(" of {name} (-id {})", short_id(&o.id))),
            }
            if !o.listed && !o.processes.is_empty() {
                what.push_str(" and its leftover processes");
            } else {
                what.push_str(&format!(", then {cli} rm -f {name}"));
            }
            what
        }
        ContainerRung::RestartEngine if !n.engine.has_daemon() => {
            format!("none: {cli} has no engine daemon to restart")
        }
        ContainerRung::RestartEngine => format!(
            "systemctl restart containerd, then systemctl restart docker, then docker rm -f {name}"
        ),
        ContainerRung::Reboot => {
            format!("reboot the host through the reboot guard to clear {name}")
        }
    }
}

/// Why a rung is taken, with what it costs (pure).
pub fn reason(rung: ContainerRung, o: &Observation, env: &LadderEnv) -> String {
    match rung {
        ContainerRung::Unpause => {
            "the engine paused it: a frozen container handles no signal".into()
        }
        ContainerRung::Stop => "the gentlest removal: let it shut down, then remove it".into(),
        ContainerRung::Kill => "it did not stop: SIGKILL through the engine".into(),
        ContainerRung::RmForce => "the engine could not remove it: force the removal".into(),
        ContainerRung::KillShim if env.engine == EngineKind::Podman => {
            "podman gets no exit event: kill the conmon that should report it; \
             podman rm -f then cleans up"
                .into()
        }
        ContainerRung::KillShim => {
            "the engine gets no exit event: kill the shim that should send it; \
                           containerd then cleans up the task"
                .into()
        }
        ContainerRung::RestartEngine => format!(
            "the engine itself is stuck on it; {}",
            restart_impact(o, env)
        ),
        ContainerRung::Reboot => "nothing short of a reboot clears it".into(),
    }
}

/// Which containers an engine restart interrupts, in words (pure).
pub fn restart_impact(o: &Observation, env: &LadderEnv) -> String {
    match env.live_restore {
        Some(true) => "live-restore is on: running containers keep running".into(),
        lr => {
            let why = if lr.is_none() {
                "live-restore unknown"
            } else {
                "live-restore is off"
            };
            if o.others_running.is_empty() {
                format!("interrupts every running container ({why}); no other is running")
            } else {
                format!(
                    "interrupts every running container ({why}): {}",
                    o.others_running.join(", ")
                )
            }
        }
    }
}

/// The containers an engine restart would interrupt (pure).
pub fn restart_hits(o: &Observation, env: &LadderEnv) -> Vec<String> {
    if env.live_restore == Some(true) || !env.engine.has_daemon() {
        Vec::new()
    } else {
        o.others_running.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rung_risks_are_ordered() {
        let risks: Vec<Risk> = ContainerRung::LADDER.iter().map(|r| r.risk()).collect();
        assert!(risks.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(ContainerRung::KillShim.risk(), Risk::Destructive);
        assert_eq!(ContainerRung::RestartEngine.risk(), Risk::Destructive);
        assert_eq!(ContainerRung::Reboot.risk(), Risk::Reboot);
    }
}
