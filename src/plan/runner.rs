//! The runner: the one place that decides whether a step is taken, planned or refused,
//! and records it.

use crate::error::{Error, ErrorKind, Refusal};
use crate::host::Host;

use super::{Policy, Report, Risk, Step, StepStatus};

/// How a step went when it was handed to the [`Runner`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exec {
    /// The step ran and succeeded.
    Done,
    /// Dry run: the step was recorded as planned and not run.
    Planned,
}

/// Walks an operation's steps under a policy and records them.
#[derive(Debug)]
pub(crate) struct Runner<'h> {
    // `pub(super)`: the ladder (`plan/ladder.rs`) amends the last step it recorded.
    pub(super) operation: String,
    host: &'h Host,
    policy: Policy,
    pub(super) steps: Vec<Step>,
    changed: bool,
}

impl<'h> Runner<'h> {
    /// Starts an operation (`"swap ensure"`, `"port free"`, ...).
    pub fn new(operation: impl Into<String>, host: &'h Host, policy: &Policy) -> Self {
        let operation = operation.into();
        log::info!(
            "{operation}: start (max risk {}, {})",
            policy.max_risk,
            if policy.dry_run { "dry run" } else { "apply" }
        );
        Runner {
            operation,
            host,
            policy: policy.clone(),
            steps: Vec::new(),
            changed: false,
        }
    }

    /// The host being worked on.
    pub fn host(&self) -> &'h Host {
        self.host
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Whether this is a dry run.
    pub fn dry_run(&self) -> bool {
        self.policy.dry_run
    }

    /// Whether a step of this risk is allowed.
    pub fn allows(&self, risk: Risk) -> bool {
        risk <= self.policy.max_risk
    }

    /// The steps recorded so far.
    #[cfg(test)]
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Records an observation (a read-only step that is always `done`).
    pub fn observe(&mut self, action: impl Into<String>, detail: impl Into<String>) {
        let step = Step {
            action: action.into(),
            risk: Risk::ReadOnly,
            status: StepStatus::Done,
            reason: "observe the host".into(),
            detail: detail.into(),
            needs_root: false,
        };
        log::info!(
            "{}: observed {}: {}",
            self.operation,
            step.action,
            step.detail
        );
        self.steps.push(step);
    }

    /// Records a step that is not taken (not needed, or futile here).
    pub fn skip(
        &mut self,
        action: impl Into<String>,
        risk: Risk,
        reason: impl Into<String>,
        detail: impl Into<String>,
    ) {
        let step = Step {
            action: action.into(),
            risk,
            status: StepStatus::Skipped,
            reason: reason.into(),
            detail: detail.into(),
            needs_root: false,
        };
        log::info!("{}: skip {}: {}", self.operation, step.action, step.detail);
        self.steps.push(step);
    }

    /// Records a refusal of a step for a reason other than the risk cap (a protected
    /// target, a guard) and returns the error to propagate.
    pub fn refuse(&mut self, action: impl Into<String>, risk: Risk, refusal: Refusal) -> Error {
        self.refuse_step(action, risk, "needed to reach the desired state", refusal)
    }

    /// [`Runner::refuse`] with the step's own reason.
    pub fn refuse_step(
        &mut self,
        action: impl Into<String>,
        risk: Risk,
        reason: impl Into<String>,
        refusal: Refusal,
    ) -> Error {
        let step = Step {
            action: action.into(),
            risk,
            status: StepStatus::Refused,
            reason: reason.into(),
            detail: refusal.to_string(),
            needs_root: matches!(refusal, Refusal::NeedsRoot { .. }),
        };
        log::warn!(
            "{}: refused {}: {}",
            self.operation,
            step.action,
            step.detail
        );
        self.steps.push(step);
        Error::Refused(refusal)
    }

    /// Takes a step that changes the host, or plans it under `--dry-run`.
    ///
    /// `apply` runs only when the policy allows `risk` and this is not a dry run; the
    /// string it returns becomes the step's detail. A step above the cap is recorded as
    /// `refused` and its refusal returned; a failing step is recorded as `failed`.
    ///
    /// # Errors
    /// [`Refusal::RiskAboveCap`] when the step is above the cap, or whatever `apply`
    /// returns.
    pub fn step(
        &mut self,
        action: impl Into<String>,
        risk: Risk,
        reason: impl Into<String>,
        apply: impl FnOnce(&Host) -> Result<String, Error>,
    ) -> Result<Exec, Error> {
        let action = action.into();
        let reason = reason.into();
        if !self.allows(risk) {
            return Err(self.refuse_above_cap(action, risk, reason));
        }
        if risk > Risk::ReadOnly {
            self.changed = true;
        }
        if self.policy.dry_run {
            self.plan_step(action, risk, reason);
            return Ok(Exec::Planned);
        }
        self.take_step(action, risk, reason, apply)
    }

    /// Records a step above the cap as refused and returns its refusal.
    fn refuse_above_cap(&mut self, action: String, risk: Risk, reason: String) -> Error {
        let refusal = Refusal::RiskAboveCap {
            action: action.clone(),
            needed: risk,
            cap: self.policy.max_risk,
        };
        self.refuse_step(action, risk, reason, refusal)
    }

    /// Records a step as planned (dry run).
    fn plan_step(&mut self, action: String, risk: Risk, reason: String) {
        // The whole plan is shown to anyone; the steps a real run would need root for
        // say so.
        let needs_root = risk > Risk::ReadOnly && !self.host.is_root();
        log::info!("{}: plan {action} ({risk}): {reason}", self.operation);
        self.steps.push(Step {
            action,
            risk,
            status: StepStatus::Planned,
            reason,
            detail: if needs_root {
                format!(
                    "dry run: not taken; needs root (this run is uid {})",
                    self.host.system().euid()
                )
            } else {
                "dry run: not taken".into()
            },
            needs_root,
        });
    }

    /// Takes a step and records it as done, refused or failed.
    fn take_step(
        &mut self,
        action: String,
        risk: Risk,
        reason: String,
        apply: impl FnOnce(&Host) -> Result<String, Error>,
    ) -> Result<Exec, Error> {
        log::info!("{}: do {action} ({risk}): {reason}", self.operation);
        crate::testhook::point(|| format!("before {}: {action}", self.operation));
        let applied = apply(self.host);
        crate::testhook::point(|| format!("after {}: {action}", self.operation));
        match applied {
            Ok(detail) => {
                log::info!("{}: done {action}: {detail}", self.operation);
                self.steps.push(Step {
                    action,
                    risk,
                    status: StepStatus::Done,
                    reason,
                    detail,
                    needs_root: false,
                });
                Ok(Exec::Done)
            }
            Err(e) => {
                let needs_root = matches!(e, Error::Refused(Refusal::NeedsRoot { .. }));
                // A step that found it must not go on (a guard, a protected target, no
                // root) was refused, not failed.
                let status = match e.kind() {
                    ErrorKind::Refused => {
                        log::warn!("{}: refused {action}: {e}", self.operation);
                        StepStatus::Refused
                    }
                    _ => {
                        log::error!("{}: failed {action}: {e}", self.operation);
                        StepStatus::Failed
                    }
                };
                self.steps.push(Step {
                    action,
                    risk,
                    status,
                    reason,
                    detail: e.to_string(),
                    needs_root,
                });
                Err(e)
            }
        }
    }

    /// Takes an `additive` step that only writes hostfix's own records in its state
    /// directory (the reboot ledger's confirmation of a completed reboot). It is listed,
    /// capped and planned like any other step, but does not count as a change of the
    /// host: a converged host still reports `changed: false` (and a playbook's recap
    /// `changed=0`).
    ///
    /// # Errors
    /// As [`Runner::step`].
    pub fn bookkeeping(
        &mut self,
        action: impl Into<String>,
        reason: impl Into<String>,
        apply: impl FnOnce(&Host) -> Result<String, Error>,
    ) -> Result<Exec, Error> {
        let before = self.changed;
        let r = self.step(action, Risk::Additive, reason, apply);
        self.changed = before;
        r
    }

    /// Ends the operation and builds its report.
    pub fn finish<T: Default>(self, result: Result<T, Error>) -> Report<T> {
        match result {
            Ok(r) => self.finish_with(r, None),
            Err(e) => self.finish_with(T::default(), Some(e)),
        }
    }

    /// Ends the operation with a result that is reported even when the desired state
    /// does not hold (a check keeps its readings when a threshold fails).
    pub fn finish_with<T>(self, result: T, error: Option<Error>) -> Report<T> {
        match &error {
            None => log::info!("{}: ok (changed: {})", self.operation, self.changed),
            Some(e) => log::info!("{}: {:?}: {e}", self.operation, e.kind()),
        }
        Report {
            operation: self.operation,
            changed: self.changed,
            dry_run: self.policy.dry_run,
            max_risk: self.policy.max_risk,
            steps: self.steps,
            error,
            result,
        }
    }
}
