//! Port holders: who holds a port, and freeing it by the least risky ladder.

use crate::doctor::{Diagnosis, DoctorOptions};
use crate::error::{Classify, ErrorKind};
use crate::host::Host;

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
pub enum PortError {}

impl Classify for PortError {
    fn kind(&self) -> ErrorKind {
        match *self {}
    }
}

/// Adds this module's findings to a diagnosis.
pub fn diagnose(_host: &Host, _opts: &DoctorOptions, _d: &mut Diagnosis) {}
