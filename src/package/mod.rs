//! Distro package managers (dpkg/apt, rpm/dnf, apk, pacman) behind one trait.

use crate::error::{Classify, ErrorKind};

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {}

impl Classify for PackageError {
    fn kind(&self) -> ErrorKind {
        match *self {}
    }
}
