//! The ladder: the one shape every operation that changes the host has.
//!
//! A [`Rung`] is a risk, a pure decision from an observation ([`Verdict`]), an act and a
//! description. [`Runner::climb`] walks a list of rungs towards a [`Goal`]; it alone
//! decides what is taken, planned (dry run), skipped or refused, so an operation has no
//! `dry_run` branch of its own:
//!
//! - **Escalate** (`port free`, `container rm`): rungs are tried least risky first, and
//!   after each one taken the host is observed again; the climb stops at the first rung
//!   after which the goal holds, and moves on only when it verifiably does not.
//! - **Sequence** (`swap ensure`, `swap remove`): every rung is needed, in order; the goal
//!   is checked once at the end.
//!
//! Before anything is taken, every [`Need::Required`] rung (all of a sequence; the rungs
//! the caller asked for explicitly in an escalation) is checked against the cap and its
//! verdict: one that would be refused refuses the whole climb, so a plan hostfix cannot
//! finish never starts by changing something.

use crate::error::{Error, Refusal, Result};
use crate::host::Host;
use crate::plan::{Exec, Risk, Runner, StepStatus};

/// What a rung's pure decision says about one observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Take the rung.
    Take,
    /// The rung does not apply here and is not reported (unpause of a container that is
    /// not paused).
    Inapplicable,
    /// Not needed here; reported as skipped with the reason.
    Skip(String),
    /// It cannot work here (signals do not end a process in `D`); reported as skipped
    /// with the reason, and the climb goes on to the rungs that can.
    Futile(String),
    /// It must not be taken (a protected target, a guard): the climb stops, refused.
    Refuse(Refusal),
}

/// How much a rung is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The desired state cannot hold without it: checked against the cap and its verdict
    /// before anything is taken.
    Required,
    /// Taken only while the goal does not hold (an escalation's next rung).
    IfUnmet,
    /// Nice to have: above the cap it is skipped and left for a later run.
    Optional,
    /// Cleans up hostfix's own leftovers (a temporary swap-over area): taken whenever the
    /// cap allows, even when a needed rung is above the cap; above the cap itself it is
    /// refused without stopping the climb, later clean-ups are left, and its refusal is
    /// reported at the end ([`Climb::deferred`]).
    Cleanup,
}

/// How a climb moves between rungs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Stop at the first rung after which the goal holds.
    Escalate,
    /// Take every rung in order; check the goal at the end.
    Sequence,
}

/// One rung of a ladder over observations of type `O`.
pub trait Rung<O> {
    /// How risky the rung is.
    fn risk(&self) -> Risk;
    /// How much it is needed.
    fn need(&self) -> Need {
        Need::IfUnmet
    }
    /// Whether it only writes hostfix's own records (a step, but not a change of the
    /// host; see [`Runner::bookkeeping`]).
    fn bookkeeping(&self) -> bool {
        false
    }
    /// What it does, in words ("stop and disable nginx.service").
    fn action(&self, o: &O) -> String;
    /// Why it is needed.
    fn reason(&self, o: &O) -> String;
    /// Whether to take it, given what the host shows (pure).
    fn decide(&self, o: &O) -> Verdict;
    /// A read-only check right before the rung is taken or planned, for what a pure
    /// decision cannot see (the reboot guard's ledger). A [`Refusal`] refuses the rung.
    ///
    /// # Errors
    /// The refusal, or the failure to check.
    fn check(&self, _host: &Host, _o: &O) -> Result<()> {
        Ok(())
    }
    /// Its own postcondition, when it has one other than the goal: `Some(true)` when it
    /// held in the observation after it (an unpause: no longer paused; a reboot: asked
    /// for), `None` when only the goal tells.
    fn verify(&self, _after: &O) -> Option<bool> {
        None
    }
    /// Takes it; the string is the step's detail. Only called when the policy allows the
    /// rung and this is not a dry run.
    ///
    /// # Errors
    /// Whatever the change fails with; the climb stops there.
    fn act(&self, host: &Host, o: &O) -> Result<String>;
}

/// What a climb works towards.
pub trait Goal<O> {
    /// Observes the host again (after a rung was taken).
    ///
    /// # Errors
    /// When the host cannot be read; the climb stops there.
    fn observe(&mut self, host: &Host) -> Result<O>;
    /// Whether the desired state holds in `o`.
    fn reached(&self, o: &O) -> bool;
    /// What is still short of the goal in `o`, in words (for the step a rung was not
    /// enough for).
    fn remains(&self, _o: &O) -> String {
        "the desired state does not hold yet".into()
    }
}

/// The next rung a climb would need, when it stopped below it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NextRung {
    /// What it would do.
    pub action: String,
    /// Its risk: the `--max-risk` it needs.
    pub risk: Risk,
}

/// How a climb ended.
#[derive(Debug)]
#[must_use]
pub struct Climb<O> {
    /// The last observation.
    pub last: O,
    /// Whether the goal holds in it (unknown, so `false`, after a dry run that would
    /// have changed something).
    pub reached: bool,
    /// The index of the rung after which the goal held.
    pub reached_by: Option<usize>,
    /// The indices of the rungs taken (or planned), in order.
    pub taken: Vec<usize>,
    /// The rung the climb would need next, when it stopped below the goal.
    pub next: Option<NextRung>,
    /// Its index.
    pub next_index: Option<usize>,
    /// Why the climb stopped short, when it did.
    pub error: Option<Error>,
    /// A clean-up refused at the cap that did not stop the climb: the caller reports it
    /// once it has checked the goal.
    pub deferred: Option<Error>,
}

impl<O> Climb<O> {
    fn new(last: O, reached: bool) -> Self {
        Climb {
            last,
            reached,
            reached_by: None,
            taken: Vec::new(),
            next: None,
            next_index: None,
            error: None,
            deferred: None,
        }
    }

    /// The climb's error, if any.
    ///
    /// # Errors
    /// The error that stopped the climb.
    pub fn into_result(self) -> Result<(O, Option<usize>)> {
        match self.error {
            Some(e) => Err(e),
            None => Ok((self.last, self.reached_by)),
        }
    }
}

impl Runner<'_> {
    /// Climbs `rungs` towards `goal` from the observation `first`; see the module
    /// documentation. Every step is recorded in the report.
    pub fn climb<O>(
        &mut self,
        mode: Mode,
        rungs: &[&dyn Rung<O>],
        goal: &mut dyn Goal<O>,
        first: O,
    ) -> Climb<O> {
        let reached = goal.reached(&first);
        let mut c = Climb::new(first, reached);
        if reached && mode == Mode::Escalate {
            return c;
        }
        if let Some((blocker, refusal)) = self.blocker(mode, rungs, &c.last) {
            c.error = Some(self.blocked(mode, rungs, blocker, refusal, &c.last));
            return c;
        }
        let mut cleanup_refused: Option<Risk> = None;
        for (i, rung) in rungs.iter().enumerate() {
            if let (Some(risk), Need::Cleanup) = (cleanup_refused, rung.need()) {
                let (o, why) = (
                    &c.last,
                    format!("not taken: an earlier clean-up step needs --max-risk {risk}"),
                );
                self.skip(rung.action(o), rung.risk(), rung.reason(o), why);
                continue;
            }
            match self.rung(mode, *rung, &c.last) {
                Outcome::Taken(Exec::Done) if mode == Mode::Escalate => {
                    c.taken.push(i);
                    if let Err(e) = self.after_rung(*rung, i, goal, &mut c) {
                        c.error = Some(e);
                        return c;
                    }
                    if c.reached {
                        return c;
                    }
                }
                Outcome::Taken(_) => c.taken.push(i),
                Outcome::Passed => {}
                Outcome::Stopped(stop) if rung.need() == Need::Cleanup && stop.next.is_some() => {
                    cleanup_refused = Some(rung.risk());
                    c.deferred = stop.error;
                }
                Outcome::Stopped(stop) => {
                    c.error = stop.error;
                    c.next_index = stop.next.as_ref().map(|_| i);
                    c.next = stop.next;
                    return c;
                }
            }
        }
        self.finish_climb(mode, goal, c)
    }

    /// Observes the host after an escalation's rung: the goal reached, or the rung
    /// marked not enough unless its own postcondition held.
    fn after_rung<O>(
        &mut self,
        rung: &dyn Rung<O>,
        i: usize,
        goal: &mut dyn Goal<O>,
        c: &mut Climb<O>,
    ) -> Result<()> {
        c.last = goal.observe(self.host())?;
        if goal.reached(&c.last) {
            c.reached = true;
            c.reached_by = Some(i);
        } else if rung.verify(&c.last) != Some(true) {
            self.not_enough(goal.remains(&c.last));
        }
        Ok(())
    }

    /// Marks the last step as taken but verified not to be enough: the ladder escalates.
    fn not_enough(&mut self, remains: String) {
        let op = self.operation.clone();
        if let Some(step) = self.steps.last_mut() {
            log::info!(
                "{op}: {} was not enough ({remains}): escalating",
                step.action
            );
            step.status = StepStatus::Failed;
            step.detail = format!("{}; not enough: {remains}", step.detail);
        }
    }

    /// The end of a climb that walked every rung.
    fn finish_climb<O>(&mut self, mode: Mode, goal: &mut dyn Goal<O>, mut c: Climb<O>) -> Climb<O> {
        if self.dry_run() {
            c.reached = c.taken.is_empty() && c.reached;
            return c;
        }
        if mode == Mode::Sequence {
            match goal.observe(self.host()) {
                Ok(o) => c.last = o,
                Err(e) => {
                    c.error = Some(e);
                    return c;
                }
            }
            c.reached = goal.reached(&c.last);
            c.reached_by = c.taken.last().copied().filter(|_| c.reached);
        }
        c
    }

    /// Whether `r` must be taken for the goal to hold (so it is checked before any rung
    /// is taken).
    fn needed<O>(mode: Mode, r: &dyn Rung<O>) -> bool {
        match r.need() {
            Need::Required => true,
            Need::IfUnmet => mode == Mode::Sequence,
            Need::Optional | Need::Cleanup => false,
        }
    }

    /// The first needed rung the climb cannot take (refused, or above the cap), with the
    /// refusal.
    fn blocker<O>(&self, mode: Mode, rungs: &[&dyn Rung<O>], o: &O) -> Option<(usize, Refusal)> {
        rungs.iter().enumerate().find_map(|(i, r)| {
            if !Self::needed(mode, *r) {
                return None;
            }
            match r.decide(o) {
                Verdict::Refuse(refusal) => Some((i, refusal)),
                Verdict::Take if !self.allows(r.risk()) => Some((
                    i,
                    Refusal::RiskAboveCap {
                        // A sequence's step says why the desired state needs it.
                        action: match mode {
                            Mode::Sequence => format!("{} ({})", r.action(o), r.reason(o)),
                            Mode::Escalate => r.action(o),
                        },
                        needed: r.risk(),
                        cap: self.policy().max_risk,
                    },
                )),
                _ => None,
            }
        })
    }

    /// A climb a needed rung blocks: nothing needed is taken (the needed rungs the cap
    /// allows are recorded as not taken), clean-ups of hostfix's own leftovers the cap
    /// allows still are, and the blocking rung is recorded as refused.
    fn blocked<O>(
        &mut self,
        mode: Mode,
        rungs: &[&dyn Rung<O>],
        blocker: usize,
        refusal: Refusal,
        o: &O,
    ) -> Error {
        let later = format!("not taken: {refusal}");
        for (i, r) in rungs.iter().enumerate() {
            let shown = i < blocker || mode == Mode::Sequence;
            if i == blocker || r.decide(o) != Verdict::Take || !self.allows(r.risk()) || !shown {
                continue;
            }
            if r.need() == Need::Cleanup {
                // A clean-up that fails is the error to report, before the refusal.
                if let Outcome::Stopped(stop) = self.rung(mode, *r, o) {
                    if let Some(e) = stop.error {
                        return e;
                    }
                }
            } else {
                self.skip(r.action(o), r.risk(), r.reason(o), later.clone());
            }
        }
        let r = rungs[blocker];
        self.refuse_step(r.action(o), r.risk(), r.reason(o), refusal)
    }

    /// Decides and takes (or plans, skips, refuses) one rung.
    fn rung<O>(&mut self, mode: Mode, r: &dyn Rung<O>, o: &O) -> Outcome {
        let (action, reason) = (r.action(o), r.reason(o));
        match r.decide(o) {
            Verdict::Inapplicable => return Outcome::Passed,
            Verdict::Skip(why) | Verdict::Futile(why) => {
                self.skip(action, r.risk(), reason, why);
                return Outcome::Passed;
            }
            Verdict::Refuse(refusal) => {
                let e = self.refuse_step(action, r.risk(), reason, refusal);
                return Outcome::Stopped(Box::new(Stop {
                    error: Some(e),
                    next: None,
                }));
            }
            Verdict::Take => {}
        }
        let next = NextRung {
            action: action.clone(),
            risk: r.risk(),
        };
        if !self.allows(r.risk()) {
            if r.need() == Need::Optional {
                let why = format!("needs --max-risk {}; left for a later run", r.risk());
                self.skip(action, r.risk(), reason, why);
                return Outcome::Passed;
            }
            if self.dry_run() && mode == Mode::Escalate {
                // Not known to be needed: the rungs before it may be enough.
                return Outcome::Stopped(Box::new(Stop {
                    error: None,
                    next: Some(next),
                }));
            }
        }
        if self.allows(r.risk()) {
            if let Err(e) = r.check(self.host(), o) {
                let e = match e {
                    Error::Refused(refusal) => self.refuse_step(action, r.risk(), reason, refusal),
                    other => other,
                };
                return Outcome::Stopped(Box::new(Stop {
                    error: Some(e),
                    next: Some(next),
                }));
            }
        }
        let taken = if r.bookkeeping() {
            self.bookkeeping(action, reason, |h| r.act(h, o))
        } else {
            self.step(action, r.risk(), reason, |h| r.act(h, o))
        };
        match taken {
            Ok(exec) => Outcome::Taken(exec),
            Err(e @ Error::Refused(Refusal::RiskAboveCap { .. })) => {
                Outcome::Stopped(Box::new(Stop {
                    error: Some(e),
                    next: Some(next),
                }))
            }
            Err(e) => Outcome::Stopped(Box::new(Stop {
                error: Some(e),
                next: None,
            })),
        }
    }
}

/// What became of one rung.
enum Outcome {
    /// Taken or planned.
    Taken(Exec),
    /// Not applicable, skipped or futile: the climb goes on.
    Passed,
    /// The climb stops here.
    Stopped(Box<Stop>),
}

/// Why a rung stopped the climb: an error (a refusal, a failure), the rung above the cap
/// it stopped below, or both (a real run refused at the cap).
struct Stop {
    error: Option<Error>,
    next: Option<NextRung>,
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};

    use super::*;
    use crate::plan::Policy;

    /// The host as the tests see it: a counter that each rung lowers by its strength.
    struct Counter {
        left: Cell<u32>,
    }

    struct Fake<'a> {
        name: &'static str,
        risk: Risk,
        need: Need,
        verdict: Verdict,
        strength: u32,
        counter: &'a Counter,
        acted: &'a RefCell<Vec<&'static str>>,
    }

    impl Rung<u32> for Fake<'_> {
        fn risk(&self) -> Risk {
            self.risk
        }
        fn need(&self) -> Need {
            self.need
        }
        fn action(&self, _: &u32) -> String {
            self.name.into()
        }
        fn reason(&self, o: &u32) -> String {
            format!("{o} left")
        }
        fn decide(&self, _: &u32) -> Verdict {
            self.verdict.clone()
        }
        fn act(&self, _: &Host, _: &u32) -> Result<String> {
            self.acted.borrow_mut().push(self.name);
            let l = self.counter.left.get();
            self.counter.left.set(l.saturating_sub(self.strength));
            Ok(format!("{} left", self.counter.left.get()))
        }
    }

    impl Goal<u32> for &Counter {
        fn observe(&mut self, _: &Host) -> Result<u32> {
            Ok(self.left.get())
        }
        fn reached(&self, o: &u32) -> bool {
            *o == 0
        }
    }

    fn rung<'a>(
        name: &'static str,
        risk: Risk,
        strength: u32,
        c: &'a Counter,
        acted: &'a RefCell<Vec<&'static str>>,
    ) -> Fake<'a> {
        Fake {
            name,
            risk,
            need: Need::IfUnmet,
            verdict: Verdict::Take,
            strength,
            counter: c,
            acted,
        }
    }

    fn host() -> Host {
        Host::fake(std::env::temp_dir())
    }

    #[test]
    fn escalation_stops_at_the_first_rung_that_reaches_the_goal() {
        let (c, acted) = (Counter { left: Cell::new(2) }, RefCell::new(Vec::new()));
        let soft = rung("soft", Risk::Disruptive, 1, &c, &acted);
        let mut futile = rung("futile", Risk::Disruptive, 5, &c, &acted);
        futile.verdict = Verdict::Futile("process in D".into());
        let hard = rung("hard", Risk::Disruptive, 1, &c, &acted);
        let harder = rung("harder", Risk::Disruptive, 1, &c, &acted);
        let h = host();
        let mut run = Runner::new("t", &h, &Policy::new(Risk::Disruptive));
        let mut g = &c;
        let climb = run.climb(Mode::Escalate, &[&soft, &futile, &hard, &harder], &mut g, 2);
        assert!(climb.reached && climb.error.is_none());
        assert_eq!(climb.reached_by, Some(2));
        assert_eq!(*acted.borrow(), ["soft", "hard"]);
        let st: Vec<StepStatus> = run.steps().iter().map(|s| s.status).collect();
        assert_eq!(
            st,
            [StepStatus::Failed, StepStatus::Skipped, StepStatus::Done]
        );
        assert!(run.steps()[1].detail.contains("process in D"));
    }

    #[test]
    fn a_goal_already_reached_takes_nothing() {
        let (c, acted) = (Counter { left: Cell::new(0) }, RefCell::new(Vec::new()));
        let soft = rung("soft", Risk::Disruptive, 1, &c, &acted);
        let h = host();
        let mut run = Runner::new("t", &h, &Policy::new(Risk::Disruptive));
        let mut g = &c;
        let climb = run.climb(Mode::Escalate, &[&soft], &mut g, 0);
        assert!(climb.reached && acted.borrow().is_empty() && run.steps().is_empty());
        let rep = run.finish(Ok(()));
        assert!(!rep.changed);
    }

    #[test]
    fn a_real_run_refuses_at_the_cap_and_names_the_next_rung() {
        let (c, acted) = (Counter { left: Cell::new(5) }, RefCell::new(Vec::new()));
        let soft = rung("soft", Risk::Disruptive, 1, &c, &acted);
        let hard = rung("hard", Risk::Destructive, 9, &c, &acted);
        let h = host();
        let mut run = Runner::new("t", &h, &Policy::new(Risk::Disruptive));
        let mut g = &c;
        let climb = run.climb(Mode::Escalate, &[&soft, &hard], &mut g, 5);
        assert_eq!(*acted.borrow(), ["soft"]);
        assert_eq!(climb.next.as_ref().map(|n| n.risk), Some(Risk::Destructive));
        let e = climb.error.expect("refused");
        assert_eq!(e.exit_code(), 3);
        assert!(e.to_string().contains("--max-risk destructive"), "{e}");
        assert_eq!(run.steps()[1].status, StepStatus::Refused);
    }

    #[test]
    fn a_dry_run_plans_every_rung_under_the_cap_and_names_the_next() {
        let (c, acted) = (Counter { left: Cell::new(5) }, RefCell::new(Vec::new()));
        let soft = rung("soft", Risk::Disruptive, 1, &c, &acted);
        let hard = rung("hard", Risk::Disruptive, 1, &c, &acted);
        let reboot = rung("reboot", Risk::Reboot, 9, &c, &acted);
        let h = host();
        let policy = Policy::new(Risk::Disruptive).dry_run(true);
        let mut run = Runner::new("t", &h, &policy);
        let mut g = &c;
        let climb = run.climb(Mode::Escalate, &[&soft, &hard, &reboot], &mut g, 5);
        assert!(acted.borrow().is_empty(), "a dry run acts");
        assert!(climb.error.is_none() && !climb.reached);
        assert_eq!(climb.taken, [0, 1]);
        assert_eq!(climb.next.map(|n| n.action), Some("reboot".to_string()));
        assert!(run.steps().iter().all(|s| s.status == StepStatus::Planned));
    }

    #[test]
    fn a_required_rung_above_the_cap_refuses_before_anything_is_taken() {
        let (c, acted) = (Counter { left: Cell::new(5) }, RefCell::new(Vec::new()));
        let stop = rung("stop unit", Risk::Disruptive, 1, &c, &acted);
        let mut remove = rung("remove package", Risk::Destructive, 9, &c, &acted);
        remove.need = Need::Required;
        let h = host();
        let mut run = Runner::new("t", &h, &Policy::new(Risk::Disruptive));
        let mut g = &c;
        let climb = run.climb(Mode::Escalate, &[&stop, &remove], &mut g, 5);
        assert!(acted.borrow().is_empty());
        assert_eq!(climb.error.map(|e| e.exit_code()), Some(3));
        let st: Vec<StepStatus> = run.steps().iter().map(|s| s.status).collect();
        assert_eq!(st, [StepStatus::Skipped, StepStatus::Refused]);
    }

    #[test]
    fn a_refusing_verdict_stops_the_climb() {
        let (c, acted) = (Counter { left: Cell::new(5) }, RefCell::new(Vec::new()));
        let soft = rung("soft", Risk::Disruptive, 1, &c, &acted);
        let mut pid1 = rung("kill pid 1", Risk::Disruptive, 9, &c, &acted);
        pid1.verdict = Verdict::Refuse(Refusal::Protected {
            target: "pid 1".into(),
            why: "init".into(),
        });
        let h = host();
        let mut run = Runner::new("t", &h, &Policy::new(Risk::Reboot));
        let mut g = &c;
        let climb = run.climb(Mode::Escalate, &[&soft, &pid1], &mut g, 5);
        assert_eq!(*acted.borrow(), ["soft"]);
        assert!(
            climb
                .error
                .is_some_and(|e| e.to_string().contains("pid 1 is protected"))
        );
    }

    #[test]
    fn a_sequence_takes_every_rung_skips_optional_ones_and_checks_the_goal_once() {
        let (c, acted) = (Counter { left: Cell::new(2) }, RefCell::new(Vec::new()));
        let a = rung("create", Risk::Additive, 1, &c, &acted);
        let b = rung("enable", Risk::Additive, 1, &c, &acted);
        let mut opt = rung("swappiness", Risk::Disruptive, 0, &c, &acted);
        opt.need = Need::Optional;
        let h = host();
        let mut run = Runner::new("t", &h, &Policy::new(Risk::Additive));
        let mut g = &c;
        let climb = run.climb(Mode::Sequence, &[&a, &b, &opt], &mut g, 2);
        assert!(climb.reached && climb.error.is_none());
        assert_eq!(*acted.borrow(), ["create", "enable"]);
        assert_eq!(run.steps()[2].status, StepStatus::Skipped);
        assert!(run.steps()[2].detail.contains("later run"));
    }

    #[test]
    fn a_sequence_with_a_step_above_the_cap_changes_nothing() {
        let (c, acted) = (Counter { left: Cell::new(2) }, RefCell::new(Vec::new()));
        let a = rung("create", Risk::Additive, 1, &c, &acted);
        let b = rung("swapoff", Risk::Disruptive, 1, &c, &acted);
        let h = host();
        let mut run = Runner::new("t", &h, &Policy::new(Risk::Additive));
        let mut g = &c;
        let climb = run.climb(Mode::Sequence, &[&a, &b], &mut g, 2);
        assert!(acted.borrow().is_empty());
        assert!(climb.error.is_some_and(|e| e.exit_code() == 3));
        let st: Vec<StepStatus> = run.steps().iter().map(|s| s.status).collect();
        assert_eq!(st, [StepStatus::Skipped, StepStatus::Refused]);
    }

    #[test]
    fn a_blocked_sequence_still_cleans_up_its_own_leftovers() {
        let (c, acted) = (Counter { left: Cell::new(3) }, RefCell::new(Vec::new()));
        let mut clean = rung("delete leftover", Risk::Additive, 0, &c, &acted);
        clean.need = Need::Cleanup;
        let a = rung("create", Risk::Additive, 1, &c, &acted);
        let b = rung("swapoff", Risk::Disruptive, 1, &c, &acted);
        let h = host();
        let mut run = Runner::new("t", &h, &Policy::new(Risk::Additive));
        let mut g = &c;
        let climb = run.climb(Mode::Sequence, &[&clean, &a, &b], &mut g, 3);
        assert_eq!(*acted.borrow(), ["delete leftover"]);
        let e = climb.error.expect("refused");
        assert!(
            e.to_string()
                .contains("swapoff (3 left): needs --max-risk disruptive"),
            "{e}"
        );
        let st: Vec<StepStatus> = run.steps().iter().map(|s| s.status).collect();
        assert_eq!(
            st,
            [StepStatus::Done, StepStatus::Skipped, StepStatus::Refused]
        );
    }

    #[test]
    fn a_clean_up_above_the_cap_is_deferred_and_the_rest_goes_on() {
        let (c, acted) = (Counter { left: Cell::new(1) }, RefCell::new(Vec::new()));
        let mut off = rung("swapoff leftover", Risk::Disruptive, 0, &c, &acted);
        off.need = Need::Cleanup;
        let mut rm = rung("delete leftover", Risk::Additive, 0, &c, &acted);
        rm.need = Need::Cleanup;
        let a = rung("create", Risk::Additive, 1, &c, &acted);
        let h = host();
        let mut run = Runner::new("t", &h, &Policy::new(Risk::Additive));
        let mut g = &c;
        let climb = run.climb(Mode::Sequence, &[&off, &rm, &a], &mut g, 1);
        assert_eq!(*acted.borrow(), ["create"]);
        assert!(climb.error.is_none() && climb.reached);
        assert!(climb.deferred.is_some_and(|e| e.exit_code() == 3));
        let st: Vec<StepStatus> = run.steps().iter().map(|s| s.status).collect();
        assert_eq!(
            st,
            [StepStatus::Refused, StepStatus::Skipped, StepStatus::Done]
        );
        assert!(run.steps()[1].detail.contains("earlier clean-up step"));
    }
}
