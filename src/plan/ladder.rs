//! The ladder: the one shape every operation that changes the host has.
//!
//! A [`Rung`] is a risk, a pure decision from an observation ([`Verdict`]), an act and a
//! description. [`Runner::climb`](crate::plan::Runner::climb) walks a list of rungs towards a [`Goal`]; it alone
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
use crate::plan::Risk;

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
    /// host; see `Runner::bookkeeping`).
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

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};

    use super::*;
    use crate::plan::{Policy, Runner, StepStatus};

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
