//! Swap files: create, enable, persist, resize and remove.

mod proc_swaps;

pub use proc_swaps::{SwapEntry, parse_proc_swaps, unescape_octal};

use crate::doctor::{Diagnosis, DoctorOptions};
use crate::error::{Classify, ErrorKind, Result};
use crate::host::Host;

/// Errors of the swap operations.
#[derive(Debug, thiserror::Error)]
pub enum SwapError {}

impl Classify for SwapError {
    fn kind(&self) -> ErrorKind {
        match *self {}
    }
}

/// The active swap areas (`/proc/swaps`).
///
/// # Errors
/// [`crate::Error::Io`] or [`crate::Error::Parse`].
pub fn active_swaps(host: &Host) -> Result<Vec<SwapEntry>> {
    parse_proc_swaps(&host.read("/proc/swaps")?)
}

/// Adds the swap files' health to a diagnosis (the memory and swap totals come from
/// [`crate::resources`]).
pub fn diagnose(host: &Host, _opts: &DoctorOptions, d: &mut Diagnosis) {
    match active_swaps(host) {
        Ok(v) => d.fact("swaps", &v),
        Err(e) => d.unseen(format!("active swap areas: {e}")),
    }
}
