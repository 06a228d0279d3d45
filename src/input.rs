//! Bad input from the user: the leaf every parser of user input returns (re-exported as
//! [`crate::error::InputError`]).

/// Bad input: the value, what it was for, and what would be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {input:?}: {reason}; expected {expected}")]
#[non_exhaustive]
pub struct InputError {
    /// What the input was for ("size", "duration", "threshold", "--max-risk").
    pub what: String,
    /// The input as given.
    pub input: String,
    /// Why it was rejected.
    pub reason: String,
    /// What would have been accepted.
    pub expected: String,
}

impl InputError {
    /// Builds an input error.
    pub fn new(
        what: impl Into<String>,
        input: impl Into<String>,
        reason: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        InputError {
            what: what.into(),
            input: input.into(),
            reason: reason.into(),
            expected: expected.into(),
        }
    }
}
