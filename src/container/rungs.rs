//! Taking one rung and verifying it: the engine commands, the shim kill through a
//! pidfd, the engine restart, and the check that the container is gone.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::Signal;

use crate::engine::{
    ContainerInfo, Engine, EngineError, EngineFailure, EngineKind, Status, run_wrapped, short_id,
};
use crate::error::{Error, Refusal, Result};
use crate::host::Host;
use crate::plan::{Goal, Risk, Rung, Verdict};
use crate::state::HostLock;
use crate::{program, protect};

use super::ContainerError;
use super::ladder::{
    ContainerRung, LadderEnv, Names, Observation, RungDecision, action, decide, reason,
};
use super::options::RemoveOptions;
use super::procs;

/// How long to watch for the container to go after a rung.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Settle {
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

/// One container being removed: the host, the engine, the options, its full id.
pub(super) struct Ctx<'a> {
    pub(super) host: &'a Host,
    pub(super) engine: Engine,
    pub(super) opts: &'a RemoveOptions,
    /// The state directory (its leftover temp files are swept when the lock is taken).
    pub(super) state_dir: &'a std::path::Path,
    pub(super) id: String,
    /// An inspect of this container hung in this run: the engine is stuck on it, and
    /// asking again only waits out the time limit once more; `docker ps` tells the state.
    pub(super) inspect_hung: Cell<bool>,
    /// The observation the last rung ended with, for the ladder's goal.
    pub(super) latest: RefCell<Option<Observation>>,
    /// The host lock, taken before the first change (so a run that only plans or is
    /// refused at once creates nothing) and let go before the reboot guard takes it.
    pub(super) lock: RefCell<Option<HostLock>>,
}

impl Ctx<'_> {
    /// Takes the machine-wide host lock unless this run holds it already.
    pub(super) fn take_lock(&self) -> Result<()> {
        if self.lock.borrow().is_some() {
            return Ok(());
        }
        let l = HostLock::for_edits(self.host, self.state_dir, self.opts.lock_wait)?;
        self.lock.replace(Some(l));
        Ok(())
    }

    /// Observes the container once.
    pub(super) fn observe(&self) -> Result<Observation> {
        let list = self.engine.list(self.host)?;
        let listed = list.iter().any(|e| e.id == self.id);
        let others_running = list
            .iter()
            .filter(|e| e.id != self.id && e.state.is_live())
            .map(|e| e.name().to_string())
            .collect();
        let info = match list.iter().find(|e| e.id == self.id) {
            None => None,
            Some(entry) if self.inspect_hung.get() => Some(ContainerInfo::from_ps(entry)),
            Some(entry) => match self.engine.inspect(self.host, &self.id) {
                Ok(i) => i,
                // An engine stuck on this container may answer its list but not an
                // inspect of it: go on with what the list says.
                Err(Error::Engine(EngineError::Hung { command })) => {
                    log::warn!("container: {command} hung; using docker ps's view from now on");
                    self.inspect_hung.set(true);
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
    pub(super) fn settle(&self, how: Settle) -> Result<Observation> {
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
                Err(Error::Engine(
                    e @ (EngineError::Unreachable { .. } | EngineError::Hung { .. }),
                )) if tolerate => last_err = Some(Error::Engine(e)),
                Err(e) => return Err(e),
            }
        }
        match last_err {
            Some(e) => Err(e),
            None => self.observe(),
        }
    }

    fn docker(&self, args: &[&str], limit: Duration) -> Result<crate::engine::EngineOutput> {
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
    fn act(&self, rung: ContainerRung, o: &Observation) -> Result<Vec<String>> {
        let id = self.id.as_str();
        let cmd_limit = self.opts.command_timeout;
        let mut notes = Vec::new();
        match rung {
            ContainerRung::Unpause => {
                notes.push(self.docker(&["unpause", id], cmd_limit)?.summary());
            }
            ContainerRung::Stop => {
                if o.live() {
                    let secs = self.opts.stop_grace.as_secs().to_string();
                    let limit = self.opts.stop_grace.saturating_add(cmd_limit);
                    let stop = self.docker(&["stop", "-t", &secs, id], limit)?;
                    notes.push(stop.summary());
                    if stop.failure == Some(EngineFailure::Hung) {
                        notes.push(hung_follow_up(self.engine.kind, "stop"));
                        return Ok(notes);
                    }
                }
                notes.push(self.docker(&["rm", id], cmd_limit)?.summary());
            }
            ContainerRung::Kill => {
                let kill = self.docker(&["kill", id], cmd_limit)?;
                notes.push(kill.summary());
                if kill.failure == Some(EngineFailure::Hung) {
                    notes.push(hung_follow_up(self.engine.kind, "kill"));
                    return Ok(notes);
                }
                notes.push(self.docker(&["rm", id], cmd_limit)?.summary());
            }
            ContainerRung::RmForce => {
                notes.push(self.docker(&["rm", "-f", id], cmd_limit)?.summary());
            }
            ContainerRung::KillShim => self.kill_shim(o, &mut notes)?,
            ContainerRung::RestartEngine => self.restart_engine(&mut notes)?,
            ContainerRung::Reboot => {}
        }
        Ok(notes)
    }

    /// The shim rung: SIGKILL to the container's shims, and to its leftover processes when
    /// the engine no longer lists it; else `docker rm -f` once containerd had a moment.
    fn kill_shim(&self, o: &Observation, notes: &mut Vec<String>) -> Result<()> {
        let id = self.id.as_str();
        let cmd_limit = self.opts.command_timeout;
        let protected = protect::caller(self.host);
        let what = match self.engine.kind {
            EngineKind::Podman => "conmon",
            _ => "shim",
        };
        for s in &o.shims {
            notes.push(self.kill(s.pid, s.start_time, &s.comm, what, &protected)?);
        }
        if !o.listed {
            for p in &o.processes {
                notes.push(self.kill(p.pid, p.start_time, &p.comm, "process", &protected)?);
            }
        } else {
            // containerd notices the shim's death and cleans up the task.
            self.host.system().sleep(Duration::from_secs(1));
            let rm = self.docker(&["rm", "-f", id], cmd_limit)?;
            notes.push(rm.summary());
            if self.engine.kind == EngineKind::Podman && conmon_gone_noticed(&rm) {
                // Seen on Podman 5: the first removal after conmon's death fails while
                // it records the exit ("conmon exited prematurely"); the next one removes.
                notes.push(self.docker(&["rm", "-f", id], cmd_limit)?.summary());
            }
        }
        Ok(())
    }

    /// The engine rung: `systemctl restart` containerd, then docker; then `docker rm -f`
    /// once the engine answers again, if it still lists the container.
    fn restart_engine(&self, notes: &mut Vec<String>) -> Result<()> {
        if !self.engine.kind.has_daemon() {
            // Never planned (the rung is absent); said, should it be reached.
            notes.push(format!("{}: no engine daemon to restart", self.engine.kind));
            return Ok(());
        }
        let id = self.id.as_str();
        let cmd_limit = self.opts.command_timeout;
        let systemctl = program::find(self.host.root(), "systemctl")
            .map_or_else(|| "systemctl".into(), |p| p.run_path());
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
        Ok(())
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
        if let Some(why) = protect::signal_target(pid, protected) {
            return Err(Refusal::Protected {
                target: format!("pid {pid} ({comm})"),
                why: why.into(),
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

    /// Takes a rung and observes the container after it (the observation is kept for
    /// the ladder's [`Gone`] goal). The ladder judges whether it was enough.
    fn run_rung(&self, rung: ContainerRung, o: &Observation) -> Result<String> {
        let notes = self.act(rung, o)?.join("; ");
        let after = match rung {
            // Unpausing removes nothing: it thaws the cgroup so the next rungs' signals
            // can work.
            ContainerRung::Unpause => self.observe()?,
            ContainerRung::KillShim | ContainerRung::RestartEngine => {
                self.settle(Settle::Patient)?
            }
            _ => self.settle(Settle::Quick)?,
        };
        let detail = if after.gone() {
            format!("{notes}; verified: not listed, no process, no shim")
        } else if rung == ContainerRung::Unpause && !after.engine_paused() {
            format!("{notes}; verified: no longer paused")
        } else {
            notes
        };
        self.latest.replace(Some(after));
        Ok(detail)
    }
}

/// The ladder's goal: the container is gone (not listed, no process, no shim).
pub(super) struct Gone<'a> {
    pub(super) ctx: &'a Ctx<'a>,
}

impl Goal<Observation> for Gone<'_> {
    fn observe(&mut self, _host: &Host) -> Result<Observation> {
        match self.ctx.latest.take() {
            Some(o) => Ok(o),
            None => self.ctx.observe(),
        }
    }

    fn reached(&self, o: &Observation) -> bool {
        o.gone()
    }

    fn remains(&self, o: &Observation) -> String {
        o.remains()
    }
}

/// A rung of the container ladder, with what it needs to act.
pub(super) struct BoundRung<'a> {
    pub(super) rung: ContainerRung,
    pub(super) ctx: &'a Ctx<'a>,
    pub(super) env: &'a LadderEnv,
    pub(super) names: &'a Names,
    /// The reboot rung's way to the guard.
    pub(super) reboot: &'a dyn Fn(&Host, &Observation, bool) -> Result<String>,
}

impl Rung<Observation> for BoundRung<'_> {
    fn risk(&self) -> Risk {
        self.rung.risk()
    }

    fn action(&self, o: &Observation) -> String {
        action(self.rung, o, self.names)
    }

    fn reason(&self, o: &Observation) -> String {
        reason(self.rung, o, self.env)
    }

    fn decide(&self, o: &Observation) -> Verdict {
        match decide(self.rung, o, self.env) {
            RungDecision::Try => Verdict::Take,
            // The plan lists an absent rung with its reason; the climb has no such rung.
            RungDecision::NotApplicable | RungDecision::Absent(_) => Verdict::Inapplicable,
            RungDecision::Skip(why) if o.futility.as_ref().is_some_and(|f| f.blocks(self.rung)) => {
                Verdict::Futile(why)
            }
            RungDecision::Skip(why) => Verdict::Skip(why),
        }
    }

    fn check(&self, host: &Host, o: &Observation) -> Result<()> {
        match self.rung {
            ContainerRung::Reboot => (self.reboot)(host, o, false).map(drop),
            _ => Ok(()),
        }
    }

    fn verify(&self, after: &Observation) -> Option<bool> {
        match self.rung {
            ContainerRung::Unpause => Some(!after.engine_paused()),
            // Its postcondition is the request; the boot clears the container.
            ContainerRung::Reboot => Some(true),
            _ => None,
        }
    }

    fn act(&self, host: &Host, o: &Observation) -> Result<String> {
        if self.rung == ContainerRung::Reboot {
            let done = (self.reboot)(host, o, true)?;
            // Nothing to observe before the boot.
            self.ctx.latest.replace(Some(o.clone()));
            return Ok(done);
        }
        self.ctx.take_lock()?;
        self.ctx.run_rung(self.rung, o)
    }
}

/// Whether a failed `podman rm -f` says the container's conmon died: Podman has recorded
/// the exit, and a second removal works.
fn conmon_gone_noticed(rm: &crate::engine::EngineOutput) -> bool {
    !rm.ok() && rm.message().to_ascii_lowercase().contains("conmon exited")
}

/// Why a rung's `docker rm` is not run after its signal command hung: the engine is stuck
/// on the container, so a plain removal (which needs it stopped) would only hang too.
fn hung_follow_up(k: EngineKind, what: &str) -> String {
    format!("{k} rm not tried: the engine hung on {k} {what}, the container is not stopped")
}
