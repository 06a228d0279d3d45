//! Disk: space and inodes free on the filesystem holding a path, as `df` shows them.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::percent;
use crate::error::{Error, InputError, Result};
use crate::host::Host;

/// Space and inodes on the filesystem holding a path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Disk {
    /// The path asked about (a host path).
    pub path: PathBuf,
    /// Size of the filesystem (`f_blocks * f_frsize`).
    pub total_bytes: u64,
    /// Free to unprivileged users (`f_bavail * f_frsize`), as `df` shows.
    pub free_bytes: u64,
    /// Inodes on the filesystem (`f_files`; 0 when it has no fixed inode table).
    pub inodes_total: u64,
    /// Inodes free to unprivileged users (`f_favail`).
    pub inodes_free: u64,
}

impl Disk {
    /// From the `statvfs` fields (pure, for tests).
    pub fn from_statvfs(
        path: PathBuf,
        frsize: u64,
        blocks: u64,
        bavail: u64,
        files: u64,
        favail: u64,
    ) -> Disk {
        Disk {
            path,
            total_bytes: blocks.saturating_mul(frsize),
            free_bytes: bavail.saturating_mul(frsize),
            inodes_total: files,
            inodes_free: favail,
        }
    }

    /// Free bytes as a percentage of the total.
    pub fn free_percent(&self) -> f64 {
        percent(self.free_bytes, self.total_bytes)
    }

    /// Free inodes as a percentage of the total (100 when the filesystem has no limit).
    pub fn inodes_free_percent(&self) -> f64 {
        if self.inodes_total == 0 {
            100.0
        } else {
            percent(self.inodes_free, self.inodes_total)
        }
    }
}

/// Reads space and inodes for a host path with `statvfs`.
///
/// # Errors
/// [`Error::Input`] when the path does not exist; [`Error::Sys`] for other failures.
pub fn read_disk(host: &Host, path: &Path) -> Result<Disk> {
    let real = host.path(path);
    match nix::sys::statvfs::statvfs(&real) {
        Ok(s) => Ok(Disk::from_statvfs(
            path.to_path_buf(),
            s.fragment_size(),
            s.blocks(),
            s.blocks_available(),
            s.files(),
            s.files_available(),
        )),
        Err(nix::errno::Errno::ENOENT) | Err(nix::errno::Errno::ENOTDIR) => Err(InputError::new(
            "path",
            path.display().to_string(),
            "does not exist",
            "an existing path on the filesystem to measure",
        )
        .into()),
        Err(e) => Err(Error::sys("statvfs", path.display().to_string(), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_percentages() {
        let d = Disk::from_statvfs("/".into(), 4096, 1000, 100, 0, 0);
        assert_eq!(d.total_bytes, 4_096_000);
        assert_eq!(d.free_bytes, 409_600);
        assert_eq!(d.free_percent(), 10.0);
        assert_eq!(d.inodes_free_percent(), 100.0);
    }
}
