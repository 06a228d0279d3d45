//! Reboot with a guard: only when needed, never in a loop.

use crate::doctor::{Diagnosis, DoctorOptions};
use crate::error::{Classify, ErrorKind};
use crate::host::Host;

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
pub enum RebootError {}

impl Classify for RebootError {
    fn kind(&self) -> ErrorKind {
        match *self {}
    }
}

/// Adds this module's findings to a diagnosis.
pub fn diagnose(_host: &Host, _opts: &DoctorOptions, _d: &mut Diagnosis) {}
