//! `container rm`: resolving the target, observing it, and walking the ladder through a
//! [`Runner`], verifying each rung; the reboot rung through a [`RebootGate`].

use std::cell::{Cell, RefCell};
use std::time::UNIX_EPOCH;

use serde::Serialize;

use crate::engine::{Engine, EngineKind, Limits, Status, short_id};
use crate::error::{Error, Refusal, Result};
use crate::host::{Host, InitSystem};
use crate::plan::{Climb, Mode, Policy, Report, Risk, Rung, Runner};
use crate::protect;

use super::ContainerError;
use super::ladder::{
    ContainerRung, LadderEnv, Names, Observation, RebootGate, RebootRequest, RungDecision,
    RungPlan, plan_ladder, restart_hits,
};
pub use super::options::RemoveOptions;
use super::procs::{ContainerProcess, Futility, Shim};
use super::record::{RebootEvidence, RebootRecord, read_record, remove_record, write_record};
use super::resolve::{Resolved, resolve};
use super::rungs::{BoundRung, Ctx, Gone};

/// The next rung, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct NextContainerRung {
    /// The rung.
    pub rung: ContainerRung,
    /// Its risk.
    pub risk: Risk,
    /// What it would do.
    pub action: String,
}

/// What `container rm` found and did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Removal {
    /// The container as asked for.
    pub target: String,
    /// Its full id, when known.
    pub id: Option<String>,
    /// Its name, when known.
    pub name: Option<String>,
    /// The engine that lists it (`docker`, `podman`), once found.
    pub engine: Option<EngineKind>,
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
    pub removed_by: Option<ContainerRung>,
    /// The rung that would come next: after the planned one (dry run), or the one the
    /// cap or the guard refused.
    pub next: Option<NextContainerRung>,
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
    /// Whether this was a dry run (its rendering then shows the planned ladder). Not in
    /// the JSON: the report's `dry_run` says it.
    #[serde(skip)]
    pub(crate) dry_run: bool,
}

/// Removes a stuck container by the ladder, verifying after each rung (`hostfix
/// container rm`; its cap is [`RemoveOptions::default_cap`], disruptive). The reboot
/// rung goes through `gate`: [`GuardedReboot`](super::GuardedReboot) (the reboot guard:
/// one reboot per container, ever), [`NoRebootGate`](super::NoRebootGate), or a
/// caller's own [`RebootGate`].
///
/// The report's result says which rung removed it, or which rung would come next and
/// its risk. Exit codes through [`Report::exit_code`]: 0 gone (already gone:
/// `changed: false`), 3 the next rung is above the cap or the guard refused it, 1 a rung
/// failed in a way that stops the ladder (the engine does not answer, a restart failed,
/// not root), or the host is rebooting to clear it.
///
/// # Example
///
/// A fake engine (the recorder's run hook answers `docker`) where `docker stop` works:
/// the first rung removes the container, verified gone.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use hostfix::container::{remove, NoRebootGate, RemoveOptions, ContainerRung};
/// use hostfix::testing::{CmdOutput, FakeRoot};
/// use hostfix::Policy;
///
/// const ID: &str = "4c01db0b339c8b7f9e1e6d2f7a3b5c9d0e8f1a2b3c4d5e6f7a8b9c0d1e2f3a4b";
/// let root = FakeRoot::new();
/// root.program("/usr/bin/docker");
/// let (host, rec) = root.host();
/// let running = Arc::new(Mutex::new(true));
/// let up = running.clone();
/// rec.on_run(move |cmd| {
///     let listed = *up.lock().unwrap();
///     let out = match cmd.args.first().map(String::as_str)? {
///         "ps" if listed => format!(r#"{{"ID":"{ID}","Names":"web","State":"running"}}"#),
///         "ps" => String::new(),
///         "container" if listed => format!(
///             r#"{{"Id":"{ID}","Name":"/web","State":{{"Status":"running","Running":true}}}}"#
///         ),
///         "container" => return Some(CmdOutput::failed(1, "No such container: web")),
///         "stop" => {
///             *up.lock().unwrap() = false;
///             "web".into()
///         }
///         _ => return None, // docker rm, docker info: success, no output
///     };
///     Some(CmdOutput::ok(out + "\n"))
/// });
///
/// let opts = RemoveOptions::new("web");
/// let policy = Policy::new(opts.default_cap()).state_dir("/state");
/// let report = remove(&host, &opts, &policy, &NoRebootGate);
/// assert!(report.is_ok(), "{report}");
/// assert_eq!(report.result.removed_by, Some(ContainerRung::Stop));
/// assert!(report.result.gone);
/// ```
pub fn remove(
    host: &Host,
    opts: &RemoveOptions,
    policy: &Policy,
    gate: &dyn RebootGate,
) -> Report<Removal> {
    let mut run = Runner::new("container rm", host, policy);
    let mut out = Removal {
        target: opts.target.clone(),
        dry_run: policy.dry_run,
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
    let target = opts.validate()?;
    let engine = locate_engine(run, opts)?;
    out.engine = Some(engine.kind);

    let boot_id = host.boot_id().ok();
    let early = read_record(host, &policy.state_dir, None, &target);
    report_unusable(run, &early.unusable);
    let early_record = early.record;
    let Some(Resolved {
        id,
        name,
        inspect_hung,
    }) = resolve(host, &engine, &target, early_record.as_ref())?
    else {
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
    let by_id = read_record(host, &policy.state_dir, Some(&id), &target);
    report_unusable(run, &by_id.unusable);
    let record = by_id.record.or(early_record);
    if let Some(r) = &record {
        out.reboot = Some(earlier_reboot(run, r, boot_id.as_deref()));
    }

    let ctx = Ctx {
        host,
        engine,
        opts,
        state_dir: &policy.state_dir,
        id: id.clone(),
        inspect_hung: Cell::new(inspect_hung),
        latest: RefCell::new(None),
        lock: RefCell::new(None),
    };
    let obs = ctx.observe()?;
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
        if record.is_some() {
            run.bookkeeping("forget the reboot record", "the container is gone", |h| {
                // hostfix's state changes under the host lock.
                ctx.take_lock()?;
                remove_record(h, &policy.state_dir, &id);
                Ok("forgotten".into())
            })?;
        }
        return Ok(());
    }
    refuse_own_container(run, &id, &name)?;
    let who = Who {
        ctx: &ctx,
        name: &name,
        boot_id: boot_id.as_deref(),
    };
    escalate(run, &who, obs, gate, record.is_some(), out)
}

/// Finds the container engine and sets its time limits from the options.
fn locate_engine(run: &mut Runner<'_>, opts: &RemoveOptions) -> Result<Engine> {
    let mut engine = Engine::locate(run.host(), opts.engine)?;
    engine.limits = Limits {
        command: opts.command_timeout,
        stop_grace: opts.stop_grace,
        restart: opts.restart_timeout,
    };
    run.observe(
        "find the container engine",
        format!(
            "{} at {}{} (commands guarded by {})",
            engine.kind,
            engine.program,
            if engine.kind.has_daemon() {
                ""
            } else {
                ", no engine daemon"
            },
            engine
                .timeout
                .as_deref()
                .unwrap_or("nothing: no timeout program, a hung command hangs hostfix")
        ),
    );
    Ok(engine)
}

/// Reports the reboot an earlier run asked for this container: confirmed when the host
/// has booted since.
fn earlier_reboot(run: &mut Runner<'_>, r: &RebootRecord, boot_id: Option<&str>) -> RebootEvidence {
    let confirmed = boot_id.is_some_and(|b| b != r.boot_id);
    run.observe(
        "earlier reboot for this container",
        if confirmed {
            format!(
                "confirmed: asked in boot {}, this is boot {}",
                r.boot_id,
                boot_id.unwrap_or("?")
            )
        } else {
            format!(
                "asked in boot {} and the host has not rebooted since",
                r.boot_id
            )
        },
    );
    RebootEvidence {
        requested_in_boot: r.boot_id.clone(),
        requested_at: r.requested_at,
        current_boot: boot_id.map(str::to_string),
        confirmed,
    }
}

/// Climbs the ladder from the first observation of a container that is not gone, and
/// reports how the climb ended.
fn escalate(
    run: &mut Runner<'_>,
    who: &Who<'_>,
    obs: Observation,
    gate: &dyn RebootGate,
    had_record: bool,
    out: &mut Removal,
) -> Result<()> {
    let (host, ctx) = (run.host(), who.ctx);
    let policy = run.policy().clone();
    let env = LadderEnv {
        systemd: host.init_system() == InitSystem::Systemd,
        live_restore: ctx.engine.live_restore(host),
        engine: ctx.engine.kind,
    };
    out.live_restore = env.live_restore;
    out.engine_restart_hits = restart_hits(&obs, &env);
    let names = Names {
        name: who.name.to_string(),
        stop_grace: ctx.opts.stop_grace,
        engine: ctx.engine.kind,
    };
    out.ladder = plan_ladder(&obs, &env, &names, policy.max_risk);
    for p in &out.ladder {
        if let RungDecision::Absent(why) = &p.decision {
            run.observe(format!("rung {}", p.rung), format!("absent: {why}"));
        }
    }
    let reboot = |h: &Host, o: &Observation, go: bool| -> Result<String> {
        reboot_rung(h, who, o, gate, &policy, go)
    };
    let steps: Vec<BoundRung<'_>> = ContainerRung::LADDER
        .iter()
        .map(|&rung| BoundRung {
            rung,
            ctx,
            env: &env,
            names: &names,
            reboot: &reboot,
        })
        .collect();
    let rungs: Vec<&dyn Rung<Observation>> =
        steps.iter().map(|s| s as &dyn Rung<Observation>).collect();
    let climb = run.climb(Mode::Escalate, &rungs, &mut Gone { ctx }, obs);
    drop(ctx.lock.take());
    out.futility = climb.last.futility.clone();
    out.engine_restart_hits = restart_hits(&climb.last, &env);
    conclude(run, who, climb, had_record, out)
}

/// How the climb ended, in the report: gone (the record of an earlier reboot forgotten),
/// stopped below the next rung, or not removed (a reboot pending, or the ladder
/// exhausted).
fn conclude(
    run: &mut Runner<'_>,
    who: &Who<'_>,
    climb: Climb<Observation>,
    had_record: bool,
    out: &mut Removal,
) -> Result<()> {
    let (host, id, name) = (run.host(), &who.ctx.id, who.name.to_string());
    if climb.reached {
        out.gone = true;
        out.removed_by = climb.reached_by.map(|i| ContainerRung::LADDER[i]);
        if had_record {
            remove_record(host, &run.policy().state_dir, id);
        }
        return Ok(());
    }
    out.next = climb
        .next_index
        .zip(climb.next.as_ref())
        .map(|(i, n)| NextContainerRung {
            rung: ContainerRung::LADDER[i],
            risk: n.risk,
            action: n.action.clone(),
        });
    if run.dry_run() && climb.error.is_none() {
        return Ok(());
    }
    out.remains = Some(climb.last.remains());
    if let Some(e) = climb.error {
        return Err(e);
    }
    if climb
        .taken
        .iter()
        .any(|&i| ContainerRung::LADDER[i] == ContainerRung::Reboot)
    {
        let boot_id = who.boot_id.map(str::to_string);
        out.reboot = Some(RebootEvidence {
            requested_in_boot: boot_id.clone().unwrap_or_default(),
            requested_at: unix_now(host),
            current_boot: boot_id,
            confirmed: false,
        });
        return Err(ContainerError::RebootPending { name }.into());
    }
    Err(ContainerError::Exhausted { name }.into())
}

/// Never remove the container hostfix itself runs in.
fn refuse_own_container(run: &mut Runner<'_>, id: &str, name: &str) -> Result<()> {
    match protect::own_container(run.host(), id) {
        Some(why) => Err(run.refuse(
            format!("remove container {name}"),
            Risk::Disruptive,
            Refusal::Protected {
                target: format!("container {name}"),
                why,
            },
        )),
        None => Ok(()),
    }
}

fn unix_now(host: &Host) -> u64 {
    host.system()
        .now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The container the reboot rung is for.
struct Who<'a> {
    ctx: &'a Ctx<'a>,
    name: &'a str,
    boot_id: Option<&'a str>,
}

/// The reboot rung: with `go` false, whether the guard would allow it (read-only); with
/// `go`, the reboot itself, recorded first so the run after the boot can confirm it.
fn reboot_rung(
    host: &Host,
    who: &Who<'_>,
    obs: &Observation,
    gate: &dyn RebootGate,
    policy: &Policy,
    go: bool,
) -> Result<String> {
    let (id, name) = (&who.ctx.id, who.name);
    let req = RebootRequest {
        key: format!("container-rm-{id}"),
        message: format!(
            "hostfix: rebooting to clear stuck container {name} ({})",
            short_id(id)
        ),
        reason: format!(
            "container {name} ({}) cannot be removed: {}",
            short_id(id),
            obs.futility
                .as_ref()
                .map_or_else(|| obs.remains(), Futility::why)
        ),
    };
    if !go {
        return gate.check(host, policy, &req).map(|()| String::new());
    }
    let record = RebootRecord {
        version: super::record::RECORD_VERSION,
        id: id.clone(),
        name: name.to_string(),
        boot_id: who.boot_id.unwrap_or_default().to_string(),
        requested_at: unix_now(host),
        reason: req.reason.clone(),
    };
    // The record is written under the host lock (the ladder's, or taken now); then the
    // lock is let go: the guard takes it itself.
    who.ctx.take_lock()?;
    write_record(host, &policy.state_dir, &record)?;
    drop(who.ctx.lock.take());
    gate.reboot(host, policy, &req)
        .inspect_err(|_| remove_record(host, &policy.state_dir, &record.id))
}

/// Reports the reboot records that could not be used, each naming its file and how to
/// reset it: the run goes on without them (they only serve its report).
fn report_unusable(run: &mut Runner<'_>, unusable: &[Error]) {
    for e in unusable {
        log::warn!("container rm: {e}");
        run.observe("read hostfix's reboot record", format!("ignored: {e}"));
    }
}

#[cfg(test)]
mod tests {
    use super::super::options::validate_target;

    #[test]
    fn targets() {
        assert_eq!(validate_target("/web").unwrap(), "web");
        assert_eq!(validate_target("web_1.a-b").unwrap(), "web_1.a-b");
        assert!(validate_target("").is_err());
        assert!(validate_target("-rf").is_err());
        assert!(validate_target("a b").is_err());
        assert!(validate_target("x;rm").is_err());
    }
}
