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
//! Each rung counts as done only when the container is gone: the engine no longer lists
//! its full id, no process's cgroup holds the id, and no shim runs with `-id <id>`. The
//! ladder moves to the next rung only when that check failed. Rungs that cannot work
//! are skipped with the reason: signals cannot end a process in uninterruptible sleep
//! (`D`) or in a frozen cgroup ([`Futility`]); an engine restart needs systemd.
//!
//! The decisions are pure functions of an [`Observation`] ([`decide`], [`plan_ladder`]),
//! tested from every state; [`remove`] walks them through a [`Runner`].

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use nix::errno::Errno;
use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};

use crate::error::{Error, InputError, Refusal, Result};
use crate::host::{Host, InitSystem};
use crate::lock::{StateLock, Wait};
use crate::plan::{Exec, Policy, Report, Risk, Runner};
use crate::process;

use super::ContainerError;
use super::engine::{ContainerInfo, Engine, EngineFailure, Limits, Status, run_wrapped, short_id};
use super::procs::{self, ContainerProcess, Futility, Sampling, Shim};

/// One rung of the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rung {
    /// `docker unpause`: only for a container the engine paused (its cgroup is frozen).
    Unpause,
    /// `docker stop` with a grace period, then `docker rm` (just `docker rm` when the
    /// container is not running).
    Stop,
    /// `docker kill` (SIGKILL), then `docker rm`.
    Kill,
    /// `docker rm -f`.
    RmForce,
    /// SIGKILL to the container's containerd shim (and, when the engine no longer lists
    /// the container, to its leftover processes), then `docker rm -f`.
    KillShim,
    /// `systemctl restart containerd`, then `docker`, then `docker rm -f`.
    RestartEngine,
    /// A reboot through the reboot guard.
    Reboot,
}

impl Rung {
    /// Every rung, in the order the ladder tries them.
    pub const LADDER: [Rung; 7] = [
        Rung::Unpause,
        Rung::Stop,
        Rung::Kill,
        Rung::RmForce,
        Rung::KillShim,
        Rung::RestartEngine,
        Rung::Reboot,
    ];

    /// How risky the rung is.
    pub fn risk(self) -> Risk {
        match self {
            Rung::Unpause | Rung::Stop | Rung::Kill | Rung::RmForce => Risk::Disruptive,
            Rung::KillShim | Rung::RestartEngine => Risk::Destructive,
            Rung::Reboot => Risk::Reboot,
        }
    }

    /// Its name in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Rung::Unpause => "unpause",
            Rung::Stop => "stop",
            Rung::Kill => "kill",
            Rung::RmForce => "rm-force",
            Rung::KillShim => "kill-shim",
            Rung::RestartEngine => "restart-engine",
            Rung::Reboot => "reboot",
        }
    }

    /// Whether the rung works by signalling the container's processes (directly or
    /// through the engine), so [`Futility`] can make it pointless.
    pub fn signals(self) -> bool {
        matches!(
            self,
            Rung::Stop | Rung::Kill | Rung::RmForce | Rung::KillShim | Rung::RestartEngine
        )
    }
}

impl std::fmt::Display for Rung {
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
    pub fn blocks(&self, rung: Rung) -> bool {
        match self {
            Futility::Uninterruptible { .. } => rung.signals(),
            Futility::Frozen { cgroup_version, .. } => match rung {
                Rung::Stop => true,
                Rung::Kill | Rung::RmForce | Rung::KillShim => *cgroup_version == 1,
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

    fn live(&self) -> bool {
        self.info
            .as_ref()
            .is_some_and(|i| i.status.is_live() || i.running)
    }

    fn engine_paused(&self) -> bool {
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
}

/// What the ladder does with a rung, given what it sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", content = "why", rename_all = "kebab-case")]
pub enum Decision {
    /// Take it.
    Try,
    /// Skip it: it cannot work here (the reason says why).
    Skip(String),
    /// It does not apply (unpause of a container that is not paused).
    NotApplicable,
}

/// Decides what to do with `rung` given an observation (pure).
pub fn decide(rung: Rung, o: &Observation, env: &LadderEnv) -> Decision {
    let blocked = o.futility.as_ref().filter(|f| f.blocks(rung));
    let not_listed = || {
        Decision::Skip("the engine no longer lists the container: only its processes remain".into())
    };
    match rung {
        Rung::Unpause => {
            if o.listed && o.engine_paused() {
                Decision::Try
            } else {
                Decision::NotApplicable
            }
        }
        Rung::Stop => match (o.listed, blocked) {
            (false, _) => not_listed(),
            // Not running: this rung is a plain `docker rm`, no signal involved.
            (true, Some(f)) if o.live() => Decision::Skip(f.why()),
            _ => Decision::Try,
        },
        Rung::Kill => match (o.listed, blocked) {
            (false, _) => not_listed(),
            (true, _) if !o.live() => Decision::Skip(format!(
                "the engine says it is {}: docker kill has nothing to signal",
                o.status().map_or("not running".into(), ToString::to_string)
            )),
            (true, Some(f)) => Decision::Skip(f.why()),
            _ => Decision::Try,
        },
        Rung::RmForce => match (o.listed, blocked) {
            (false, _) => not_listed(),
            (true, Some(f)) => Decision::Skip(f.why()),
            _ => Decision::Try,
        },
        Rung::KillShim => {
            if let Some(f) = blocked {
                Decision::Skip(format!(
                    "{}; killing the shim would only orphan them",
                    f.why()
                ))
            } else if o.shims.is_empty() && (o.listed || o.processes.is_empty()) {
                Decision::Skip(format!(
                    "no containerd shim runs with -id {}",
                    short_id(&o.id)
                ))
            } else {
                Decision::Try
            }
        }
        Rung::RestartEngine => {
            if !env.systemd {
                Decision::Skip(
                    "not a systemd host: hostfix restarts the engine only through systemctl; \
                     restart containerd and docker with the host's own init"
                        .into(),
                )
            } else if let Some(f) = blocked {
                Decision::Skip(f.why())
            } else {
                Decision::Try
            }
        }
        Rung::Reboot => Decision::Try,
    }
}

/// One rung as planned from an observation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RungPlan {
    /// The rung.
    pub rung: Rung,
    /// Its risk.
    pub risk: Risk,
    /// What it would do.
    pub action: String,
    /// What the ladder does with it.
    #[serde(flatten)]
    pub decision: Decision,
    /// Whether the cap allows it.
    pub allowed: bool,
}

/// The whole ladder as planned from one observation (pure): every applicable rung with
/// its risk, action and decision.
pub fn plan_ladder(o: &Observation, env: &LadderEnv, names: &Names, cap: Risk) -> Vec<RungPlan> {
    Rung::LADDER
        .iter()
        .map(|&rung| RungPlan {
            rung,
            risk: rung.risk(),
            action: action(rung, o, names),
            decision: decide(rung, o, env),
            allowed: rung.risk() <= cap,
        })
        .filter(|p| p.decision != Decision::NotApplicable)
        .collect()
}

/// The rung that would be tried after `after` (pure), if `after` did not remove it.
pub fn next_rung(after: Rung, o: &Observation, env: &LadderEnv) -> Option<Rung> {
    Rung::LADDER
        .iter()
        .copied()
        .filter(|r| *r > after)
        .find(|r| decide(*r, o, env) == Decision::Try)
}

/// How the container is named in actions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    /// The name (or the short id when it has none).
    pub name: String,
    /// The stop grace period.
    pub stop_grace: Duration,
}

/// The step action for a rung (pure).
pub fn action(rung: Rung, o: &Observation, n: &Names) -> String {
    let name = &n.name;
    match rung {
        Rung::Unpause => format!("docker unpause {name}"),
        Rung::Stop if o.live() => format!(
            "docker stop -t {} {name}, then docker rm {name}",
            n.stop_grace.as_secs()
        ),
        Rung::Stop => format!("docker rm {name}"),
        Rung::Kill => format!("docker kill {name}, then docker rm {name}"),
        Rung::RmForce => format!("docker rm -f {name}"),
        Rung::KillShim => {
            let mut what = if o.shims.is_empty() {
                "kill the containerd shim".to_string()
            } else {
                format!(
                    "SIGKILL containerd shim {}",
                    o.shims
                        .iter()
                        .map(|s| format!("pid {}", s.pid))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            what.push_str(&format!(" of {name} (-id {})", short_id(&o.id)));
            if !o.listed && !o.processes.is_empty() {
                what.push_str(" and its leftover processes");
            } else {
                what.push_str(&format!(", then docker rm -f {name}"));
            }
            what
        }
        Rung::RestartEngine => format!(
            "systemctl restart containerd, then systemctl restart docker, then docker rm -f {name}"
        ),
        Rung::Reboot => format!("reboot the host through the reboot guard to clear {name}"),
    }
}

/// Why a rung is taken, with what it costs (pure).
pub fn reason(rung: Rung, o: &Observation, env: &LadderEnv) -> String {
    match rung {
        Rung::Unpause => "the engine paused it: a frozen container handles no signal".into(),
        Rung::Stop => "the gentlest removal: let it shut down, then remove it".into(),
        Rung::Kill => "it did not stop: SIGKILL through the engine".into(),
        Rung::RmForce => "the engine could not remove it: force the removal".into(),
        Rung::KillShim => "the engine gets no exit event: kill the shim that should send it; \
                           containerd then cleans up the task"
            .into(),
        Rung::RestartEngine => format!(
            "the engine itself is stuck on it; {}",
            restart_impact(o, env)
        ),
        Rung::Reboot => "nothing short of a reboot clears it".into(),
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
    if env.live_restore == Some(true) {
        Vec::new()
    } else {
        o.others_running.clone()
    }
}

/// What the ladder asks of the reboot guard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RebootRequest {
    /// A key for the guard's once-only rule: one reboot per container
    /// (`container-rm-<full id>`).
    pub key: String,
    /// Why, for the guard's ledger and the journal.
    pub reason: String,
}

/// The one function the reboot rung calls: a reboot through the reboot guard.
///
/// The guard decides (loops, attempts per window, minimum uptime); the ladder only asks.
/// A closure `Fn(&Host, &Policy, &RebootRequest) -> Result<String>` is a gate whose check
/// always passes.
pub trait RebootGate {
    /// Whether the guard would allow this reboot now; read-only.
    ///
    /// # Errors
    /// [`Error::Refused`] with the guard's [`Refusal`] when it would not.
    fn check(&self, _host: &Host, _policy: &Policy, _req: &RebootRequest) -> Result<()> {
        Ok(())
    }

    /// Reboots through the guard; returns what was done (an orderly reboot returns once
    /// it is queued; `reboot(2)` never returns).
    ///
    /// # Errors
    /// The guard's refusal or the reboot's failure.
    fn reboot(&self, host: &Host, policy: &Policy, req: &RebootRequest) -> Result<String>;
}

impl<F> RebootGate for F
where
    F: Fn(&Host, &Policy, &RebootRequest) -> Result<String>,
{
    fn reboot(&self, host: &Host, policy: &Policy, req: &RebootRequest) -> Result<String> {
        self(host, policy, req)
    }
}

/// A gate that refuses every reboot: for builds and callers without the reboot guard.
/// The reboot rung is then planned and refused, never faked.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRebootGate;

impl NoRebootGate {
    fn refusal() -> Refusal {
        Refusal::Guard {
            rule: "reboot-guard".into(),
            detail: "no reboot guard is wired to the container ladder in this build: \
                     reboot the host yourself, then run the same command again"
                .into(),
        }
    }
}

impl RebootGate for NoRebootGate {
    fn check(&self, _host: &Host, _policy: &Policy, _req: &RebootRequest) -> Result<()> {
        Err(Self::refusal().into())
    }
    fn reboot(&self, _host: &Host, _policy: &Policy, _req: &RebootRequest) -> Result<String> {
        Err(Self::refusal().into())
    }
}

/// What the ladder writes before it asks for a reboot, so the run after the boot can
/// confirm the reboot happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebootRecord {
    /// The container's full id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The boot the reboot was asked for in (`/proc/sys/kernel/random/boot_id`).
    pub boot_id: String,
    /// When, in seconds since the epoch.
    pub requested_at: u64,
    /// Why.
    pub reason: String,
}

/// What the ladder knows of an earlier reboot it asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RebootEvidence {
    /// The boot the reboot was asked in.
    pub requested_in_boot: String,
    /// When, in seconds since the epoch.
    pub requested_at: u64,
    /// The current boot, when readable.
    pub current_boot: Option<String>,
    /// Whether the host booted since (the boot id changed).
    pub confirmed: bool,
}

fn record_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("container")
}

fn record_path(state_dir: &Path, id: &str) -> PathBuf {
    record_dir(state_dir).join(format!("{id}.reboot.json"))
}

/// Reads the reboot record for a container id, or (when `id` is unknown) the one whose
/// name or id matches `target`.
fn read_record(
    host: &Host,
    state_dir: &Path,
    id: Option<&str>,
    target: &str,
) -> Option<RebootRecord> {
    if let Some(id) = id {
        let text = host.read_opt(record_path(state_dir, id)).ok().flatten()?;
        return serde_json::from_str(&text)
            .map_err(|e| log::warn!("container: unreadable reboot record for {id}: {e}"))
            .ok();
    }
    let rd = std::fs::read_dir(host.path(record_dir(state_dir))).ok()?;
    rd.filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|t| serde_json::from_str::<RebootRecord>(&t).ok())
        .find(|r| r.name == target || r.id.starts_with(target))
}

fn write_record(host: &Host, state_dir: &Path, rec: &RebootRecord) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = host.path(record_dir(state_dir));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| Error::io("creating", &dir, e))?;
    let json =
        serde_json::to_vec_pretty(rec).map_err(|e| Error::parse("reboot record", e.to_string()))?;
    crate::fsutil::write_atomic(
        &host.path(record_path(state_dir, &rec.id)),
        &json,
        Some(0o600),
    )
}

fn remove_record(host: &Host, state_dir: &Path, id: &str) {
    let p = host.path(record_path(state_dir, id));
    match std::fs::remove_file(&p) {
        Ok(()) => log::info!("container: removed reboot record {}", p.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        // The record only serves the report of a later run; a stale one says "confirmed"
        // once more, which is still true.
        Err(e) => log::warn!("container: cannot remove {}: {e}", p.display()),
    }
}

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
    /// How long to wait for another hostfix run's state lock.
    pub lock_wait: Duration,
}

impl RemoveOptions {
    /// The defaults for a target: 10 s stop grace, 30 s per command, 120 s per restart,
    /// 10 s to settle, three `D` samples 300 ms apart, 10 s for the state lock.
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

/// The next rung, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NextRung {
    /// The rung.
    pub rung: Rung,
    /// Its risk.
    pub risk: Risk,
    /// What it would do.
    pub action: String,
}

/// What `container rm` found and did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Removal {
    /// The container as asked for.
    pub target: String,
    /// Its full id, when known.
    pub id: Option<String>,
    /// Its name, when known.
    pub name: Option<String>,
    /// The engine's status when the ladder started.
    pub status: Option<Status>,
    /// Its processes when the ladder started.
    pub processes: Vec<ContainerProcess>,
    /// Its shims when the ladder started.
    pub shims: Vec<Shim>,
    /// Whether it is gone now (under `--dry-run`: whether it was already).
    pub gone: bool,
    /// Whether it was gone before anything was done.
    pub already_gone: bool,
    /// The rung that removed it.
    pub removed_by: Option<Rung>,
    /// The rung that would come next: after the planned one (dry run), or the one the
    /// cap or the guard refused.
    pub next: Option<NextRung>,
    /// Why signals cannot end its processes, when they cannot (the last observation).
    pub futility: Option<Futility>,
    /// The ladder as planned from the first observation.
    pub ladder: Vec<RungPlan>,
    /// Whether the engine keeps containers across its restart; `None` when unknown.
    pub live_restore: Option<bool>,
    /// The containers an engine restart would interrupt.
    pub engine_restart_hits: Vec<String>,
    /// An earlier reboot this ladder asked for, or the one it just asked for.
    pub reboot: Option<RebootEvidence>,
    /// What remains of it, when it is not gone.
    pub remains: Option<String>,
}

/// How long to watch for the container to go after a rung.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settle {
    /// After synchronous engine commands: a container the engine still lists (and is not
    /// removing) stays; only its processes and shim exiting are waited for.
    Quick,
    /// After killing the shim or restarting the engine: the engine finishes removals it
    /// had hung on by itself, shortly after; wait the whole settle time, through an
    /// engine that does not answer yet.
    Patient,
    /// Until the engine answers again after its restart.
    EngineBack,
}

struct Ctx<'a> {
    host: &'a Host,
    engine: Engine,
    opts: &'a RemoveOptions,
    id: String,
}

impl Ctx<'_> {
    /// Observes the container once.
    fn observe(&self) -> Result<Observation> {
        let list = self.engine.list(self.host)?;
        let listed = list.iter().any(|e| e.id == self.id);
        let others_running = list
            .iter()
            .filter(|e| e.id != self.id && e.state.is_live())
            .map(|e| e.name().to_string())
            .collect();
        let info = match list.iter().find(|e| e.id == self.id) {
            None => None,
            Some(entry) => match self.engine.inspect(self.host, &self.id) {
                Ok(i) => i,
                // An engine stuck on this container may answer its list but not an
                // inspect of it: go on with what the list says.
                Err(Error::Container(ContainerError::Hung { command })) => {
                    log::warn!("container: {command} hung; using docker ps's view");
                    Some(ContainerInfo::from_ps(entry))
                }
                Err(e) => return Err(e),
            },
        };
        let table = procs::scan(self.host);
        let processes = table.processes_of(&self.id);
        let shims = table.shims_of(&self.id);
        let paused = info
            .as_ref()
            .is_some_and(|i: &ContainerInfo| i.paused || i.status == Status::Paused);
        let futility = procs::futility(self.host, &processes, paused, self.opts.sampling);
        Ok(Observation {
            id: self.id.clone(),
            listed: listed || info.is_some(),
            info,
            processes,
            shims,
            futility,
            others_running,
        })
    }

    /// Observes until the container is gone or `settle` has passed, as `how` says.
    fn settle(&self, how: Settle) -> Result<Observation> {
        let interval = Duration::from_millis(500);
        let tries = (self.opts.settle.as_millis() / interval.as_millis()).max(1) as u32;
        let tolerate = matches!(how, Settle::EngineBack | Settle::Patient);
        let mut last_err = None;
        for i in 0..tries {
            if i > 0 {
                self.host.system().sleep(interval);
            }
            match self.observe() {
                Ok(o) => {
                    let removing = o.status() == Some(&Status::Removing);
                    let done = o.gone()
                        || i + 1 == tries
                        || how == Settle::EngineBack
                        || (how == Settle::Quick && o.listed && !removing);
                    if done {
                        return Ok(o);
                    }
                    last_err = None;
                }
                Err(Error::Container(
                    e @ (ContainerError::EngineUnreachable { .. } | ContainerError::Hung { .. }),
                )) if tolerate => last_err = Some(Error::Container(e)),
                Err(e) => return Err(e),
            }
        }
        match last_err {
            Some(e) => Err(e),
            None => self.observe(),
        }
    }

    fn docker(&self, args: &[&str], limit: Duration) -> Result<super::engine::EngineOutput> {
        let mut out = self.engine.run(self.host, args, limit)?;
        // The command runs on the full id; the report shows the short one.
        out.command = out.command.replace(&self.id, short_id(&self.id));
        match out.failure {
            // The engine is gone or refuses us: no later rung can be verified.
            Some(EngineFailure::Unreachable | EngineFailure::PermissionDenied) => {
                Err(out.to_error().into())
            }
            _ => Ok(out),
        }
    }

    /// Takes a rung's actions; returns what each did. The caller verifies.
    fn act(&self, rung: Rung, o: &Observation) -> Result<Vec<String>> {
        let id = self.id.as_str();
        let cmd_limit = self.opts.command_timeout;
        let mut notes = Vec::new();
        match rung {
            Rung::Unpause => {
                notes.push(self.docker(&["unpause", id], cmd_limit)?.summary());
            }
            Rung::Stop => {
                if o.live() {
                    let secs = self.opts.stop_grace.as_secs().to_string();
                    let limit = self.opts.stop_grace + cmd_limit;
                    notes.push(self.docker(&["stop", "-t", &secs, id], limit)?.summary());
                }
                notes.push(self.docker(&["rm", id], cmd_limit)?.summary());
            }
            Rung::Kill => {
                notes.push(self.docker(&["kill", id], cmd_limit)?.summary());
                notes.push(self.docker(&["rm", id], cmd_limit)?.summary());
            }
            Rung::RmForce => {
                notes.push(self.docker(&["rm", "-f", id], cmd_limit)?.summary());
            }
            Rung::KillShim => {
                let protected = process::caller_ancestry(self.host);
                for s in &o.shims {
                    notes.push(self.kill(s.pid, s.start_time, &s.comm, "shim", &protected)?);
                }
                if !o.listed {
                    for p in &o.processes {
                        notes.push(self.kill(
                            p.pid,
                            p.start_time,
                            &p.comm,
                            "process",
                            &protected,
                        )?);
                    }
                } else {
                    // containerd notices the shim's death and cleans up the task.
                    self.host.system().sleep(Duration::from_secs(1));
                    notes.push(self.docker(&["rm", "-f", id], cmd_limit)?.summary());
                }
            }
            Rung::RestartEngine => {
                let systemctl = super::engine::locate_program(self.host, "systemctl")
                    .unwrap_or_else(|| "systemctl".into());
                for unit in ["containerd.service", "docker.service"] {
                    let out = run_wrapped(
                        self.host,
                        &self.engine.timeout,
                        &systemctl,
                        &["restart", unit],
                        self.opts.restart_timeout,
                    )?;
                    let msg = out.message().to_ascii_lowercase();
                    if out.ok() {
                        notes.push(out.summary());
                    } else if unit == "containerd.service"
                        && (msg.contains("not found") || msg.contains("not loaded"))
                    {
                        notes.push(format!(
                            "{}: no such unit (docker runs its own containerd)",
                            out.command
                        ));
                    } else {
                        // The engine may now be down: stop and say so, with systemd's
                        // own words.
                        return Err(ContainerError::Restart {
                            unit: unit.into(),
                            message: out.summary(),
                        }
                        .into());
                    }
                }
                let after = self.settle(Settle::EngineBack)?;
                if after.listed {
                    notes.push(self.docker(&["rm", "-f", id], cmd_limit)?.summary());
                }
            }
            Rung::Reboot => {}
        }
        Ok(notes)
    }

    /// SIGKILL to one process through a pidfd, after the protection checks.
    fn kill(
        &self,
        pid: i32,
        start_time: u64,
        comm: &str,
        what: &str,
        protected: &[i32],
    ) -> Result<String> {
        if pid <= 1 || protected.contains(&pid) {
            return Err(Refusal::Protected {
                target: format!("pid {pid} ({comm})"),
                why: "PID 1 and hostfix's own ancestry are never signalled".into(),
            }
            .into());
        }
        match self
            .host
            .system()
            .signal(pid, Some(start_time), Signal::SIGKILL)
        {
            Ok(()) => Ok(format!("SIGKILL {what} pid {pid} ({comm}): sent")),
            Err(Errno::ESRCH) => Ok(format!("{what} pid {pid} ({comm}): already gone")),
            Err(e) => Err(Error::Sys {
                call: "pidfd_send_signal SIGKILL".into(),
                target: format!("{what} pid {pid} ({comm})"),
                errno: e,
                hint: (e == Errno::EPERM).then(|| "hostfix must run as root".into()),
            }),
        }
    }

    /// Takes a rung and verifies it: `Ok(detail)` when the container is gone, else
    /// [`ContainerError::NotGone`] (the ladder escalates) or another error (it stops).
    fn run_rung(
        &self,
        rung: Rung,
        o: &Observation,
        latest: &mut Option<Observation>,
    ) -> Result<String> {
        let notes = self.act(rung, o)?;
        if rung == Rung::Unpause {
            // Unpausing removes nothing: it thaws the cgroup so the next rungs' signals
            // can work.
            let after = self.observe()?;
            let paused = after.engine_paused();
            let remains = after.remains();
            *latest = Some(after);
            return if paused {
                Err(ContainerError::NotGone {
                    rung,
                    remains,
                    said: notes.join("; "),
                }
                .into())
            } else {
                Ok(format!("{}; verified: no longer paused", notes.join("; ")))
            };
        }
        let how = match rung {
            Rung::KillShim | Rung::RestartEngine => Settle::Patient,
            _ => Settle::Quick,
        };
        let after = self.settle(how)?;
        let gone = after.gone();
        let remains = after.remains();
        *latest = Some(after);
        if gone {
            Ok(format!(
                "{}; verified: not listed, no process, no shim",
                notes.join("; ")
            ))
        } else {
            Err(ContainerError::NotGone {
                rung,
                remains,
                said: notes.join("; "),
            }
            .into())
        }
    }
}

/// Resolves the target to a full id and name; `None` when nothing of it exists.
fn resolve(
    host: &Host,
    engine: &Engine,
    target: &str,
    record: Option<&RebootRecord>,
) -> Result<Option<(String, String)>> {
    let out = engine.run(
        host,
        &["container", "inspect", "--format", "{{json .}}", target],
        engine.limits.command,
    )?;
    match out.failure {
        None => {
            let info = super::engine::parse_inspect(&out.output.stdout)?
                .into_iter()
                .next()
                .ok_or_else(|| Error::parse("docker container inspect output", "empty"))?;
            return Ok(Some((info.id.clone(), info.name)));
        }
        Some(EngineFailure::NotFound) => {}
        // An engine stuck on this container may not answer an inspect of it; its list
        // still tells the id.
        Some(EngineFailure::Hung) => {
            let list = engine.list(host)?;
            let t = target.to_ascii_lowercase();
            let by_name: Vec<&super::engine::PsEntry> = list
                .iter()
                .filter(|e| e.names.iter().any(|n| n == target))
                .collect();
            let found = if by_name.is_empty() {
                list.iter().filter(|e| e.id.starts_with(&t)).collect()
            } else {
                by_name
            };
            match found.as_slice() {
                [one] => return Ok(Some((one.id.clone(), one.name().to_string()))),
                [] => {}
                _ => return Err(out.to_error().into()),
            }
        }
        Some(EngineFailure::Other) if out.message().to_ascii_lowercase().contains("multiple") => {
            return Err(InputError::new(
                "container",
                target,
                out.message(),
                "a name or an id prefix that matches one container",
            )
            .into());
        }
        Some(_) => return Err(out.to_error().into()),
    }
    // The engine does not know it. Its processes or shim may still run: look for them by
    // id (a 12+ digit prefix), or by the id an earlier run recorded for this name.
    if let Some(r) = record {
        return Ok(Some((r.id.clone(), r.name.clone())));
    }
    if target.len() >= 12 && target.bytes().all(|b| b.is_ascii_hexdigit()) {
        let t = target.to_ascii_lowercase();
        let ids: Vec<String> = procs::scan(host)
            .ids()
            .into_iter()
            .filter(|id| id.starts_with(&t))
            .collect();
        match ids.as_slice() {
            [one] => return Ok(Some((one.clone(), short_id(one).to_string()))),
            [] => {}
            many => {
                return Err(InputError::new(
                    "container",
                    target,
                    format!("the prefix matches {} containers' processes", many.len()),
                    "a longer id prefix",
                )
                .into());
            }
        }
    }
    Ok(None)
}

/// Removes a stuck container by the ladder, verifying after each rung.
///
/// The report's result says which rung removed it, or which rung would come next and
/// its risk. Exit codes through [`Report::exit_code`]: 0 gone (already gone:
/// `changed: false`), 3 the next rung is above the cap or the guard refused it, 1 a rung
/// failed in a way that stops the ladder (the engine does not answer, a restart failed,
/// not root), or the host is rebooting to clear it.
pub fn remove(
    host: &Host,
    opts: &RemoveOptions,
    policy: &Policy,
    gate: &dyn RebootGate,
) -> Report<Removal> {
    let mut run = Runner::new("container rm", host, policy);
    let mut out = Removal {
        target: opts.target.clone(),
        ..Removal::default()
    };
    let res = walk(&mut run, opts, gate, &mut out);
    run.finish_with(out, res.err())
}

fn walk(
    run: &mut Runner<'_>,
    opts: &RemoveOptions,
    gate: &dyn RebootGate,
    out: &mut Removal,
) -> Result<()> {
    let host = run.host();
    let policy = run.policy().clone();
    let target = validate_target(&opts.target)?;
    let mut engine = Engine::locate(host)?;
    engine.limits = Limits {
        command: opts.command_timeout,
        stop_grace: opts.stop_grace,
        restart: opts.restart_timeout,
    };
    run.observe(
        "find the container engine",
        format!(
            "{} (commands guarded by {})",
            engine.program,
            engine
                .timeout
                .as_deref()
                .unwrap_or("nothing: no timeout program, a hung command hangs hostfix")
        ),
    );

    let boot_id = host.boot_id().ok();
    let early_record = read_record(host, &policy.state_dir, None, &target);
    let Some((id, name)) = resolve(host, &engine, &target, early_record.as_ref())? else {
        out.gone = true;
        out.already_gone = true;
        run.observe(
            format!("look up {target}"),
            "the engine knows no such container and no process of it runs: nothing to do",
        );
        return Ok(());
    };
    out.id = Some(id.clone());
    out.name = Some(name.clone());
    let record = read_record(host, &policy.state_dir, Some(&id), &target).or(early_record);
    if let Some(r) = &record {
        let confirmed = boot_id.as_deref().is_some_and(|b| b != r.boot_id);
        run.observe(
            "earlier reboot for this container",
            if confirmed {
                format!(
                    "confirmed: asked in boot {}, this is boot {}",
                    r.boot_id,
                    boot_id.as_deref().unwrap_or("?")
                )
            } else {
                format!(
                    "asked in boot {} and the host has not rebooted since",
                    r.boot_id
                )
            },
        );
        out.reboot = Some(RebootEvidence {
            requested_in_boot: r.boot_id.clone(),
            requested_at: r.requested_at,
            current_boot: boot_id.clone(),
            confirmed,
        });
    }

    let ctx = Ctx {
        host,
        engine,
        opts,
        id: id.clone(),
    };
    let mut obs = ctx.observe()?;
    out.status = obs.status().cloned();
    out.processes = obs.processes.clone();
    out.shims = obs.shims.clone();
    out.futility = obs.futility.clone();
    run.observe(format!("observe {name} ({})", short_id(&id)), obs.remains());
    if let Some(f) = &obs.futility {
        run.observe("can signals end its processes", format!("no: {}", f.why()));
    }
    if obs.gone() {
        out.gone = true;
        out.already_gone = true;
        if !policy.dry_run && record.is_some() {
            remove_record(host, &policy.state_dir, &id);
        }
        return Ok(());
    }

    // Never remove the container hostfix itself runs in.
    for pid in process::caller_ancestry(host) {
        let cg = std::fs::read_to_string(host.path(format!("/proc/{pid}/cgroup")))
            .ok()
            .and_then(|t| process::parse_cgroup(&t));
        if cg
            .as_deref()
            .and_then(process::container_id_from_cgroup)
            .as_deref()
            == Some(&id)
        {
            return Err(run.refuse(
                format!("remove container {name}"),
                Risk::Disruptive,
                Refusal::Protected {
                    target: format!("container {name}"),
                    why: format!("hostfix runs inside it (pid {pid})"),
                },
            ));
        }
    }

    let env = LadderEnv {
        systemd: host.init_system() == InitSystem::Systemd,
        live_restore: ctx.engine.live_restore(host),
    };
    out.live_restore = env.live_restore;
    out.engine_restart_hits = restart_hits(&obs, &env);
    let names = Names {
        name: name.clone(),
        stop_grace: opts.stop_grace,
    };
    out.ladder = plan_ladder(&obs, &env, &names, policy.max_risk);

    let mut lock = if policy.dry_run {
        None
    } else {
        let wait = if opts.lock_wait.is_zero() {
            Wait::No
        } else {
            Wait::Up(opts.lock_wait)
        };
        Some(StateLock::acquire(host, &policy.state_dir, wait)?)
    };

    for rung in Rung::LADDER {
        let act = action(rung, &obs, &names);
        let why = reason(rung, &obs, &env);
        match decide(rung, &obs, &env) {
            Decision::NotApplicable => continue,
            Decision::Skip(reason) => {
                run.skip(act, rung.risk(), why, reason);
                continue;
            }
            Decision::Try => {}
        }
        let next_of = |r: Rung, o: &Observation| NextRung {
            rung: r,
            risk: r.risk(),
            action: action(r, o, &names),
        };
        if rung == Rung::Reboot {
            return reboot_rung(
                run, &ctx, &obs, gate, &mut lock, out, &act, &why, &name, boot_id,
            );
        }
        let mut latest = None;
        match run.step(act, rung.risk(), why, |_| {
            ctx.run_rung(rung, &obs, &mut latest)
        }) {
            Ok(Exec::Planned) => {
                out.next = next_rung(rung, &obs, &env).map(|r| next_of(r, &obs));
                return Ok(());
            }
            Ok(Exec::Done) if rung == Rung::Unpause => {
                if let Some(o) = latest {
                    obs = o;
                }
            }
            Ok(Exec::Done) => {
                out.gone = true;
                out.removed_by = Some(rung);
                if let Some(o) = latest {
                    out.futility = o.futility;
                }
                if record.is_some() {
                    remove_record(host, &policy.state_dir, &id);
                }
                return Ok(());
            }
            Err(Error::Refused(r)) => {
                out.next = Some(next_of(rung, &obs));
                out.remains = Some(obs.remains());
                return Err(Error::Refused(r));
            }
            Err(Error::Container(e @ ContainerError::NotGone { .. })) => {
                if let Some(o) = latest {
                    obs = o;
                }
                log::info!("container rm: {e}; escalating");
                out.futility = obs.futility.clone();
                out.engine_restart_hits = restart_hits(&obs, &env);
                out.remains = Some(obs.remains());
            }
            Err(e) => {
                if let Some(o) = latest {
                    out.remains = Some(o.remains());
                }
                return Err(e);
            }
        }
    }
    Err(ContainerError::Exhausted { name }.into())
}

#[allow(clippy::too_many_arguments)]
fn reboot_rung(
    run: &mut Runner<'_>,
    ctx: &Ctx<'_>,
    obs: &Observation,
    gate: &dyn RebootGate,
    lock: &mut Option<StateLock>,
    out: &mut Removal,
    act: &str,
    why: &str,
    name: &str,
    boot_id: Option<String>,
) -> Result<()> {
    let host = ctx.host;
    let policy = run.policy().clone();
    out.next = Some(NextRung {
        rung: Rung::Reboot,
        risk: Risk::Reboot,
        action: act.to_string(),
    });
    out.remains = Some(obs.remains());
    if !run.allows(Risk::Reboot) {
        // Records the refusal (RiskAboveCap) without running anything.
        return run
            .step(act, Risk::Reboot, why, |_| Ok(String::new()))
            .map(|_| ());
    }
    let req = RebootRequest {
        key: format!("container-rm-{}", ctx.id),
        reason: format!(
            "container {name} ({}) cannot be removed: {}",
            short_id(&ctx.id),
            obs.futility
                .as_ref()
                .map_or_else(|| obs.remains(), Futility::why)
        ),
    };
    if let Err(e) = gate.check(host, &policy, &req) {
        return Err(match e {
            Error::Refused(r) => run.refuse(act, Risk::Reboot, r),
            other => other,
        });
    }
    let record = RebootRecord {
        id: ctx.id.clone(),
        name: name.to_string(),
        boot_id: boot_id.clone().unwrap_or_default(),
        requested_at: host
            .system()
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        reason: req.reason.clone(),
    };
    let state_dir = policy.state_dir.clone();
    let exec = run.step(act, Risk::Reboot, why, |h| {
        write_record(h, &state_dir, &record)?;
        // The guard takes the state lock itself.
        drop(lock.take());
        gate.reboot(h, &policy, &req).inspect_err(|_| {
            remove_record(h, &state_dir, &record.id);
        })
    })?;
    if exec == Exec::Planned {
        return Ok(());
    }
    out.reboot = Some(RebootEvidence {
        requested_in_boot: record.boot_id,
        requested_at: record.requested_at,
        current_boot: boot_id,
        confirmed: false,
    });
    Err(ContainerError::RebootPending {
        name: name.to_string(),
    }
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(validate_target("/web").unwrap(), "web");
        assert_eq!(validate_target("web_1.a-b").unwrap(), "web_1.a-b");
        assert!(validate_target("").is_err());
        assert!(validate_target("-rf").is_err());
        assert!(validate_target("a b").is_err());
        assert!(validate_target("x;rm").is_err());
    }

    #[test]
    fn rung_risks_are_ordered() {
        let risks: Vec<Risk> = Rung::LADDER.iter().map(|r| r.risk()).collect();
        assert!(risks.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(Rung::KillShim.risk(), Risk::Destructive);
        assert_eq!(Rung::RestartEngine.risk(), Risk::Destructive);
        assert_eq!(Rung::Reboot.risk(), Risk::Reboot);
    }
}
