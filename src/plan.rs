//! The risk model, steps, policies and reports every operation shares.
//!
//! An operation observes the host, then walks its steps through a [`Runner`]. The runner
//! is the one place that decides, for each step, whether it is taken (`done`), only shown
//! (`planned`, under `--dry-run`), or refused (riskier than the [`Policy`] allows). A dry
//! run therefore walks exactly the code path an apply walks, minus the changes.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, ErrorKind, Refusal};
use crate::host::Host;
pub use crate::risk::Risk;

mod ladder;

pub use ladder::{Climb, Goal, Mode, Need, NextRung, Rung, Verdict};

/// What became of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// Would be taken (dry run).
    Planned,
    /// Taken, and its postcondition holds (or it was an observation).
    Done,
    /// Not needed, or known not to work here (the detail says why).
    Skipped,
    /// Needed but not taken: above the risk cap, or a protected target.
    Refused,
    /// Taken, and it failed.
    Failed,
}

/// One step of an operation: what, how risky, why, and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// What the step does ("swapon /swapfile").
    pub action: String,
    /// How risky it is.
    pub risk: Risk,
    /// What became of it.
    pub status: StepStatus,
    /// Why it is needed.
    pub reason: String,
    /// What happened (or would happen, or why it was refused).
    pub detail: String,
    /// The step changes the host and this process is not root: planned in a dry run (the
    /// plan is still shown whole), refused in a real run. In JSON only when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub needs_root: bool,
}

/// What the caller allows an operation to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The riskiest step the operation may take.
    pub max_risk: Risk,
    /// Plan only: observe, decide, and take no step that changes the host.
    pub dry_run: bool,
    /// Where hostfix keeps its ledgers and records (a path on the host, default
    /// `/var/lib/hostfix`; `..` is resolved before use). The host lock is not here: it
    /// is the machine's ([`crate::state::HostLock`]).
    pub state_dir: PathBuf,
}

impl Policy {
    /// The default state directory.
    pub const DEFAULT_STATE_DIR: &'static str = "/var/lib/hostfix";

    /// A policy with this cap, applying for real, with the default state directory.
    pub fn new(max_risk: Risk) -> Self {
        Policy {
            max_risk,
            dry_run: false,
            state_dir: PathBuf::from(Self::DEFAULT_STATE_DIR),
        }
    }

    /// The same policy as a dry run.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// The same policy with another state directory.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = dir.into();
        self
    }
}

/// How a step went when it was handed to the [`Runner`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exec {
    /// The step ran and succeeded.
    Done,
    /// Dry run: the step was recorded as planned and not run.
    Planned,
}

/// Walks an operation's steps under a policy and records them.
#[derive(Debug)]
pub struct Runner<'h> {
    operation: String,
    host: &'h Host,
    policy: Policy,
    steps: Vec<Step>,
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
            let refusal = Refusal::RiskAboveCap {
                action: action.clone(),
                needed: risk,
                cap: self.policy.max_risk,
            };
            let step = Step {
                action,
                risk,
                status: StepStatus::Refused,
                reason,
                detail: refusal.to_string(),
                needs_root: false,
            };
            log::warn!(
                "{}: refused {}: {}",
                self.operation,
                step.action,
                step.detail
            );
            self.steps.push(step);
            return Err(Error::Refused(refusal));
        }
        if risk > Risk::ReadOnly {
            self.changed = true;
        }
        if self.policy.dry_run {
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
            return Ok(Exec::Planned);
        }
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

    /// Marks the host as changed by something recorded outside [`Runner::step`].
    pub fn mark_changed(&mut self) {
        self.changed = true;
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

/// What an operation did and found.
///
/// Serialized, it is the CLI's JSON document: `operation`, `changed`, `dry_run`,
/// `max_risk`, `outcome` (`ok|failed|bad-input|refused`), `exit_code`, `error` (a message or
/// null), `steps`, and the operation's own result fields at the top level.
#[derive(Debug)]
pub struct Report<T> {
    /// The operation's name (`"swap ensure"`).
    pub operation: String,
    /// Whether the host was changed (under `--dry-run`: would be).
    pub changed: bool,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// The cap the operation ran under.
    pub max_risk: Risk,
    /// Every step, in order.
    pub steps: Vec<Step>,
    /// Why the desired state does not hold, when it does not.
    pub error: Option<Error>,
    /// The operation's own result.
    pub result: T,
}

impl<T> Report<T> {
    /// Whether the desired state holds.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }

    /// `ok`, or the kind of the error.
    pub fn outcome(&self) -> &'static str {
        match self.error.as_ref().map(Error::kind) {
            None => "ok",
            Some(ErrorKind::Failed) => "failed",
            Some(ErrorKind::BadInput) => "bad-input",
            Some(ErrorKind::Refused) => "refused",
        }
    }

    /// The CLI exit code: 0 ok, 1 failed, 2 bad input, 3 refused.
    pub fn exit_code(&self) -> i32 {
        self.error.as_ref().map_or(0, Error::exit_code)
    }

    /// The result when the desired state holds, the error otherwise.
    ///
    /// # Errors
    /// The report's error, when it has one.
    pub fn into_result(self) -> Result<T, Error> {
        match self.error {
            None => Ok(self.result),
            Some(e) => Err(e),
        }
    }
}

impl<T: Serialize> Serialize for Report<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a, T> {
            operation: &'a str,
            changed: bool,
            dry_run: bool,
            max_risk: Risk,
            outcome: &'static str,
            exit_code: i32,
            error: Option<String>,
            steps: &'a [Step],
            #[serde(flatten)]
            result: &'a T,
        }
        Wire {
            operation: &self.operation,
            changed: self.changed,
            dry_run: self.dry_run,
            max_risk: self.max_risk,
            outcome: self.outcome(),
            exit_code: self.exit_code(),
            error: self.error.as_ref().map(ToString::to_string),
            steps: &self.steps,
            result: &self.result,
        }
        .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Serialize)]
    struct Out {
        value: u32,
    }

    #[test]
    fn risk_order_and_names() {
        assert!(Risk::ReadOnly < Risk::Additive);
        assert!(Risk::Destructive < Risk::Reboot);
        for r in Risk::ALL {
            assert_eq!(r.as_str().parse::<Risk>(), Ok(r));
        }
        let e = "bogus".parse::<Risk>().unwrap_err();
        assert!(e.to_string().contains("read-only, additive"));
    }

    #[test]
    fn dry_run_plans_and_never_applies() {
        let host = Host::fake(std::env::temp_dir());
        let policy = Policy::new(Risk::Disruptive).dry_run(true);
        let mut r = Runner::new("test", &host, &policy);
        let mut ran = false;
        let exec = r
            .step("create", Risk::Additive, "missing", |_| {
                ran = true;
                Ok("created".into())
            })
            .unwrap();
        assert_eq!(exec, Exec::Planned);
        assert!(!ran);
        let rep = r.finish(Ok(Out { value: 1 }));
        assert!(rep.changed && rep.dry_run && rep.is_ok());
        assert_eq!(rep.steps[0].status, StepStatus::Planned);
    }

    #[test]
    fn steps_above_the_cap_are_refused() {
        let host = Host::fake(std::env::temp_dir());
        let policy = Policy::new(Risk::Additive);
        let mut r = Runner::new("test", &host, &policy);
        r.step("create", Risk::Additive, "missing", |_| Ok("ok".into()))
            .unwrap();
        let e = r
            .step("kill", Risk::Disruptive, "holds the port", |_| {
                panic!("must not run")
            })
            .unwrap_err();
        assert_eq!(e.exit_code(), 3);
        let rep: Report<Out> = r.finish(Err(e));
        assert_eq!(rep.exit_code(), 3);
        assert_eq!(rep.outcome(), "refused");
        assert_eq!(rep.steps[1].status, StepStatus::Refused);
        let json = serde_json::to_value(&rep).unwrap();
        assert_eq!(json["operation"], "test");
        assert_eq!(json["changed"], true);
        assert_eq!(json["dry_run"], false);
        assert_eq!(json["steps"][1]["risk"], "disruptive");
        assert_eq!(json["steps"][1]["status"], "refused");
        assert_eq!(json["value"], 0);
        assert!(
            json["error"]
                .as_str()
                .unwrap()
                .contains("--max-risk disruptive")
        );
    }

    #[test]
    fn failures_are_recorded_with_their_cause() {
        let host = Host::fake(std::env::temp_dir());
        let policy = Policy::new(Risk::Additive);
        let mut r = Runner::new("test", &host, &policy);
        let e = r
            .step("write", Risk::Additive, "x", |_| {
                Err(Error::Unmet("disk full".into()))
            })
            .unwrap_err();
        let rep: Report<Out> = r.finish(Err(e));
        assert_eq!(rep.steps[0].status, StepStatus::Failed);
        assert_eq!(rep.steps[0].detail, "disk full");
        assert_eq!(rep.exit_code(), 1);
    }

    #[test]
    fn bookkeeping_is_a_step_but_not_a_change() {
        let host = Host::fake(std::env::temp_dir());
        let policy = Policy::new(Risk::Additive);
        let mut r = Runner::new("test", &host, &policy);
        let mut ran = false;
        r.bookkeeping("confirm", "x", |_| {
            ran = true;
            Ok("1 confirmed".into())
        })
        .unwrap();
        assert!(ran);
        let rep: Report<Out> = r.finish(Ok(Out::default()));
        assert!(!rep.changed);
        assert_eq!(
            (rep.steps[0].status, rep.steps[0].risk),
            (StepStatus::Done, Risk::Additive)
        );
        // Still capped like any additive step.
        let ro = Policy::new(Risk::ReadOnly);
        let mut r = Runner::new("test", &host, &ro);
        assert!(
            r.bookkeeping("confirm", "x", |_| Ok(String::new()))
                .is_err()
        );
        // And a real change before it still counts.
        let mut r = Runner::new("test", &host, &policy);
        r.step("make", Risk::Additive, "x", |_| Ok(String::new()))
            .unwrap();
        r.bookkeeping("confirm", "x", |_| Ok(String::new()))
            .unwrap();
        let rep: Report<Out> = r.finish(Ok(Out::default()));
        assert!(rep.changed);
    }

    #[test]
    fn a_dry_run_without_root_shows_every_step_and_marks_them() {
        let rec = std::sync::Arc::new(crate::host::RecordingSystem::with_euid(1000));
        let host = Host::with_system(std::env::temp_dir(), rec);
        let policy = Policy::new(Risk::Disruptive).dry_run(true);
        let mut r = Runner::new("test", &host, &policy);
        r.observe("read /proc/swaps", "no swap");
        for (a, risk) in [("create", Risk::Additive), ("swapoff", Risk::Disruptive)] {
            let exec = r.step(a, risk, "x", |_| panic!("must not run")).unwrap();
            assert_eq!(exec, Exec::Planned);
        }
        let rep: Report<Out> = r.finish(Ok(Out::default()));
        assert_eq!(rep.exit_code(), 0);
        let json = serde_json::to_value(&rep).unwrap();
        assert!(json["steps"][0].get("needs_root").is_none(), "{json}");
        for i in [1, 2] {
            assert_eq!(json["steps"][i]["status"], "planned");
            assert_eq!(json["steps"][i]["needs_root"], true);
            assert!(
                json["steps"][i]["detail"]
                    .as_str()
                    .unwrap()
                    .contains("needs root")
            );
        }
        // As root, nothing is marked.
        let root = Host::fake(std::env::temp_dir());
        let mut r = Runner::new("test", &root, &policy);
        r.step("create", Risk::Additive, "x", |_| Ok(String::new()))
            .unwrap();
        let json = serde_json::to_value(r.finish(Ok(Out::default()))).unwrap();
        assert!(json["steps"][0].get("needs_root").is_none(), "{json}");
    }

    #[test]
    fn a_step_refused_for_lack_of_root_is_refused_not_failed() {
        let host = Host::fake(std::env::temp_dir());
        let mut r = Runner::new("test", &host, &Policy::new(Risk::Additive));
        let e = r
            .step("write", Risk::Additive, "x", |_| {
                Err(Refusal::NeedsRoot {
                    action: "take the host lock".into(),
                }
                .into())
            })
            .unwrap_err();
        assert_eq!(e.exit_code(), 3);
        assert_eq!(r.steps()[0].status, StepStatus::Refused);
        assert!(r.steps()[0].needs_root);
    }

    #[test]
    fn observations_do_not_count_as_changes() {
        let host = Host::fake(std::env::temp_dir());
        let policy = Policy::new(Risk::ReadOnly);
        let mut r = Runner::new("test", &host, &policy);
        r.observe("read /proc/swaps", "no swap");
        r.skip("swapon", Risk::Disruptive, "x", "already active");
        let rep = r.finish(Ok(Out::default()));
        assert!(!rep.changed);
        assert_eq!(rep.exit_code(), 0);
    }
}
