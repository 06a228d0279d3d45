//! The state lock: one hostfix run at a time changes a host.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::error::{Error, Refusal, Result};
use crate::host::Host;

/// How long to wait for the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Refuse at once when another run holds it.
    No,
    /// Wait up to this long, then refuse.
    Up(Duration),
}

/// An exclusive `flock` on `STATE_DIR/lock`, released on drop (or when the process dies,
/// so a killed run never leaves the host locked).
#[derive(Debug)]
pub struct StateLock {
    _lock: Flock<File>,
    path: PathBuf,
}

impl StateLock {
    /// Takes the lock in `state_dir` (a host path, joined to the host's root), creating the
    /// directory (0700) when needed.
    ///
    /// # Errors
    /// [`Refusal::Locked`] when another run holds it past `wait`; [`Error::Io`] when the
    /// directory or file cannot be created.
    pub fn acquire(host: &Host, state_dir: &Path, wait: Wait) -> Result<StateLock> {
        let dir = host.path(state_dir);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| Error::io("creating state directory", &dir, e))?;
        let path = dir.join("lock");
        // Time waited is compared with the limit, never added to an instant: any
        // Duration is a limit, none overflows.
        let started = Instant::now();
        let limit = match wait {
            Wait::No => Duration::ZERO,
            Wait::Up(d) => d,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::io("opening lock", &path, e))?;
        loop {
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => {
                    log::debug!("lock: took {}", path.display());
                    return Ok(StateLock { _lock: lock, path });
                }
                Err((f, Errno::EWOULDBLOCK)) => {
                    if started.elapsed() >= limit {
                        return Err(Refusal::Locked { path }.into());
                    }
                    file = f;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err((_, e)) => return Err(Error::sys("flock", path.display().to_string(), e)),
            }
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_taker_is_refused_then_gets_it() {
        let d = tempfile::tempdir().unwrap();
        let host = Host::fake(d.path());
        let a = StateLock::acquire(&host, Path::new("/var/lib/hostfix"), Wait::No).unwrap();
        let e = StateLock::acquire(&host, Path::new("/var/lib/hostfix"), Wait::No).unwrap_err();
        assert_eq!(e.exit_code(), 3);
        let e = StateLock::acquire(
            &host,
            Path::new("/var/lib/hostfix"),
            Wait::Up(Duration::from_millis(120)),
        )
        .unwrap_err();
        assert!(e.to_string().contains("lock"));
        drop(a);
        StateLock::acquire(&host, Path::new("/var/lib/hostfix"), Wait::No).unwrap();
    }
}
