//! The report every operation returns: its steps, whether it changed the host, its
//! outcome and exit code, and its own result; serialized, the CLI's JSON document.

use serde::Serialize;

use crate::error::Error;

use super::{Outcome, Risk, Step};

/// What an operation did and found.
///
/// Serialized, it is the CLI's JSON document: `operation`, `changed`, `dry_run`,
/// `max_risk`, `outcome` (`ok|failed|bad-input|refused`), `exit_code`, `error` (a message or
/// null), `steps`, and the operation's own result fields at the top level. Displayed
/// (`{report}`), it is the CLI's human summary: the outcome, the result, the steps that
/// changed or would change something, and the error.
///
/// A report whose [`error`](Report::error) is set is a failure, refusal or bad input:
/// check [`Report::is_ok`] or [`Report::outcome`]. Dropping a report unread is a
/// warning (`#[must_use]`), an error under `#![deny(unused_must_use)]`:
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// # use hostfix::resources::{check, CheckSpec};
/// # use hostfix::{Host, Policy, Risk};
/// check(&Host::live(), &CheckSpec::default(), &Policy::new(Risk::ReadOnly));
/// ```
#[derive(Debug)]
#[must_use = "a report may hold an error: check is_ok(), outcome() or into_result()"]
#[non_exhaustive]
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

    /// [`Outcome::Ok`], or the kind of the error.
    pub fn outcome(&self) -> Outcome {
        self.error
            .as_ref()
            .map_or(Outcome::Ok, |e| Outcome::from(e.kind()))
    }

    /// The CLI exit code: 0 ok, 1 failed, 2 bad input, 3 refused.
    pub fn exit_code(&self) -> i32 {
        self.error.as_ref().map_or(0, Error::exit_code)
    }

    /// The same report with its result turned into another.
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> Report<U> {
        Report {
            operation: self.operation,
            changed: self.changed,
            dry_run: self.dry_run,
            max_risk: self.max_risk,
            steps: self.steps,
            error: self.error,
            result: f(self.result),
        }
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
            outcome: Outcome,
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
