//! The risk model, steps, policies and reports every operation shares.
//!
//! An operation observes the host, then walks its steps through the crate's plan
//! runner, the one place that decides, for each step, whether it is taken (`done`), only shown
//! (`planned`, under `--dry-run`), or refused (riskier than the [`Policy`] allows). A dry
//! run therefore walks exactly the code path an apply walks, minus the changes.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::error::ErrorKind;

pub use crate::risk::Risk;

mod climb;
pub(crate) mod ladder;
mod render;
mod report;
mod runner;

pub(crate) use ladder::{Climb, Goal, Mode, Need, NextRung, Rung, Verdict};
pub use report::Report;
pub(crate) use runner::{Exec, Runner};

/// What became of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
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

impl StepStatus {
    /// The status as the JSON and the CLI spell it: `planned`, `done`, `skipped`,
    /// `refused` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Planned => "planned",
            StepStatus::Done => "done",
            StepStatus::Skipped => "skipped",
            StepStatus::Refused => "refused",
            StepStatus::Failed => "failed",
        }
    }
}

impl fmt::Display for StepStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an operation ended: the report's `outcome`, and the CLI's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Outcome {
    /// The desired state holds (exit 0).
    Ok,
    /// It does not: a step or a check failed (exit 1).
    Failed,
    /// The input was unusable (exit 2).
    BadInput,
    /// A needed step was not taken: above the cap, a protected target, a guard (exit 3).
    Refused,
}

impl Outcome {
    /// The outcome as the JSON spells it: `ok`, `failed`, `bad-input` or `refused`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::BadInput => "bad-input",
            Outcome::Refused => "refused",
        }
    }

    /// The `hostfix` exit code: 0, 1, 2 or 3.
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Ok => 0,
            Outcome::Failed => ErrorKind::Failed.exit_code(),
            Outcome::BadInput => ErrorKind::BadInput.exit_code(),
            Outcome::Refused => ErrorKind::Refused.exit_code(),
        }
    }
}

impl From<ErrorKind> for Outcome {
    fn from(k: ErrorKind) -> Self {
        match k {
            ErrorKind::Failed => Outcome::Failed,
            ErrorKind::BadInput => Outcome::BadInput,
            ErrorKind::Refused => Outcome::Refused,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of an operation: what, how risky, why, and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
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
///
/// Each operation's spec names the cap its command uses by default
/// ([`SwapSpec::default_cap`](crate::swap::SwapSpec::default_cap),
/// [`FreeSpec::default_cap`](crate::port::FreeSpec::default_cap), ...).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// The riskiest step the operation may take (given to [`Policy::new`]; each spec's
    /// `default_cap()` is the one its command uses).
    pub max_risk: Risk,
    /// Plan only: observe, decide, and take no step that changes the host. Default
    /// `false`.
    pub dry_run: bool,
    /// Where hostfix keeps its ledgers and records (a path on the host; `..` is resolved
    /// before use). Default `/var/lib/hostfix` ([`Policy::DEFAULT_STATE_DIR`]). The host
    /// lock is not here: it is the machine's (`/run/hostfix/lock`).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, Refusal};
    use crate::host::Host;

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
        assert_eq!(rep.outcome(), Outcome::Refused);
        assert_eq!(rep.outcome().to_string(), "refused");
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
