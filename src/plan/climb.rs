//! The climb: how the [`Runner`] walks a ladder's rungs towards a goal (see
//! [`super::ladder`]): needed rungs checked before anything is taken, each rung decided,
//! taken, planned, skipped or refused, and the host observed again after each one an
//! escalation takes.

use crate::error::{Error, Refusal, Result};
use crate::plan::{
    Climb, Exec, Goal, Mode, Need, NextRung, Risk, Rung, Runner, StepStatus, Verdict,
};

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
    #[cfg_attr(not(feature = "testing"), allow(dead_code))] // used by hostfix::testing
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
