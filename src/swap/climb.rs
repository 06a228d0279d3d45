//! The swap plan on the ladder: each planned step a [`Rung`] of a [`Mode::Sequence`]
//! climb, so the runner, not swap, decides what is taken, planned, skipped or refused.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use super::apply::Applier;
use super::observe::{Observation, observe};
use super::planner::{Action, PlannedStep};
use crate::error::Result;
use crate::host::Host;
use crate::plan::{Climb, Goal, Mode, Need, Risk, Rung, Runner, Verdict};

/// One planned step with the applier that takes it.
struct BoundRung<'a, 'h> {
    step: &'a PlannedStep,
    app: &'a RefCell<Applier<'h>>,
    target: &'a Path,
    temp: &'a Path,
}

impl Rung<Observation> for BoundRung<'_, '_> {
    fn risk(&self) -> Risk {
        self.step.risk
    }

    fn need(&self) -> Need {
        if self.step.cleanup {
            Need::Cleanup
        } else {
            Need::IfUnmet
        }
    }

    fn bookkeeping(&self) -> bool {
        self.step.action.is_bookkeeping()
    }

    fn action(&self, _o: &Observation) -> String {
        self.step.action.describe(self.target, self.temp)
    }

    fn reason(&self, _o: &Observation) -> String {
        self.step.reason.clone()
    }

    fn decide(&self, _o: &Observation) -> Verdict {
        match &self.step.action {
            Action::LeaveAlone { why, .. } => Verdict::Skip(why.clone()),
            _ => Verdict::Take,
        }
    }

    fn act(&self, _host: &Host, _o: &Observation) -> Result<String> {
        self.app.borrow_mut().apply(&self.step.action)
    }
}

/// The goal of the swap climb: the swap file observed again after the plan.
struct SwapGoal<'a> {
    path: &'a Path,
    state_dir: &'a Path,
}

impl Goal<Observation> for SwapGoal<'_> {
    fn observe(&mut self, host: &Host) -> Result<Observation> {
        observe(host, self.path, self.state_dir)
    }

    /// The caller judges the outcome with its own checks (they name what is unmet).
    fn reached(&self, _o: &Observation) -> bool {
        false
    }
}

/// Walks the planned steps as a sequence from the observation `o`; returns the climb,
/// whose last observation is the host after the steps (on a real run).
pub(super) fn walk(
    run: &mut Runner<'_>,
    app: Applier<'_>,
    steps: &[PlannedStep],
    o: Observation,
    state_dir: &Path,
) -> Climb<Observation> {
    let (target, temp): (PathBuf, PathBuf) = (o.path.clone(), o.temp_path());
    let app = RefCell::new(app);
    let rungs: Vec<BoundRung<'_, '_>> = steps
        .iter()
        .map(|step| BoundRung {
            step,
            app: &app,
            target: &target,
            temp: &temp,
        })
        .collect();
    let refs: Vec<&dyn Rung<Observation>> =
        rungs.iter().map(|r| r as &dyn Rung<Observation>).collect();
    let mut goal = SwapGoal {
        path: &target,
        state_dir,
    };
    run.climb(Mode::Sequence, &refs, &mut goal, o)
}
