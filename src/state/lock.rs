//! The machine-wide host lock: one `flock` for every edit of the host, whatever the
//! state directory.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use super::{denied, ensure_private_dir, file_kind, not_regular, owned_by_other, process_euid};
use crate::error::{Error, Refusal, Result};
use crate::host::Host;

/// The machine-wide lock file (a host path). `/run/hostfix` is created `0700` by root, so
/// no other user can plant the lock or hold it.
pub const HOST_LOCK: &str = "/run/hostfix/lock";

/// How often a run waiting for the host lock tries again.
const LOCK_TICK: Duration = Duration::from_millis(50);

/// The shortest wait for the host lock, whatever the caller asked: a probe
/// ([`HostLock::probe`]) holds it for an instant.
const MIN_LOCK_WAIT: Duration = Duration::from_millis(250);

/// The machine-wide lock: an exclusive `flock` on [`HOST_LOCK`] (under the host's root),
/// released on drop or when the process dies, so a killed run never leaves the host
/// locked.
#[derive(Debug)]
pub struct HostLock {
    _lock: Flock<File>,
    #[cfg_attr(not(feature = "testing"), allow(dead_code))] // used by hostfix::testing
    path: PathBuf,
}

impl HostLock {
    /// Takes the lock, waiting up to `wait` (at least a quarter second) for another run
    /// to release it (the wait is slept through the host's seam, so a recording host
    /// does not wait).
    ///
    /// # Errors
    /// [`Refusal::Locked`] when another run holds it past `wait`;
    /// [`Refusal::NeedsRoot`] when the lock's directory cannot be created for lack of
    /// privilege; [`Refusal::NotRegularFile`] / [`Refusal::Unsafe`] when something else
    /// sits where the lock belongs; [`Error::Io`] otherwise.
    pub fn acquire(host: &Host, wait: Duration) -> Result<HostLock> {
        let path = host.path(HOST_LOCK);
        let dir = path
            .parent()
            .map_or_else(|| host.path("/run"), Path::to_path_buf);
        let me = process_euid();
        if let Err(e) = ensure_private_dir(&dir, host.owner().0) {
            // Not root: /run/hostfix cannot be made, or it is root's.
            if me != 0 && (denied(&e) || owned_by_other(&dir, me)) {
                return Err(Refusal::NeedsRoot {
                    action: format!("take the host lock {HOST_LOCK}"),
                }
                .into());
            }
            return Err(e);
        }
        if me != 0 && owned_by_other(&dir, me) {
            // Root's lock directory: this process could not open the lock in it.
            return Err(Refusal::NeedsRoot {
                action: format!("take the host lock {HOST_LOCK}"),
            }
            .into());
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&path);
        let mut file = match file {
            Ok(f) => f,
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(not_regular(&path, "a symbolic link"));
            }
            Err(e) => return Err(Error::io("opening lock", &path, e)),
        };
        let m = file
            .metadata()
            .map_err(|e| Error::io("opening lock", &path, e))?;
        if !m.file_type().is_file() {
            return Err(not_regular(&path, file_kind(m.file_type())));
        }
        // The wait is counted in tries of LOCK_TICK slept through the seam, not read off
        // a clock: a seam whose clock stands still (a recording host) still ends, and a
        // huge wait cannot overflow an instant. A probe holds the lock for an instant, so
        // there are always a few tries.
        let tries = wait.max(MIN_LOCK_WAIT).as_millis() / LOCK_TICK.as_millis();
        let mut tried: u128 = 0;
        loop {
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => {
                    log::debug!("lock: took {}", path.display());
                    return Ok(HostLock { _lock: lock, path });
                }
                Err((f, Errno::EWOULDBLOCK)) => {
                    if tried >= tries {
                        return Err(Refusal::Locked {
                            path: host.host_path(&path),
                        }
                        .into());
                    }
                    if tried == 0 {
                        log::info!("lock: another hostfix run holds {HOST_LOCK}; waiting");
                    }
                    tried += 1;
                    file = f;
                    host.system().sleep(LOCK_TICK);
                }
                Err((_, e)) => return Err(Error::sys("flock", path.display().to_string(), e)),
            }
        }
    }

    /// The lock for a run about to edit the host: [`HostLock::acquire`], then the temp
    /// files of writers that are gone swept from every directory hostfix writes into
    /// ([`super::sweep_leftovers`]: the state directory `state_dir` and its
    /// subdirectories, `/etc`, the systemd unit directory, `/etc/sysctl.d`). Every
    /// operation takes the lock through this; the sweep is best effort.
    ///
    /// # Errors
    /// As [`HostLock::acquire`].
    pub fn for_edits(host: &Host, state_dir: &Path, wait: Duration) -> Result<HostLock> {
        let lock = HostLock::acquire(host, wait)?;
        let removed = super::sweep_leftovers(host, state_dir);
        if !removed.is_empty() {
            log::debug!("lock: swept {} leftover temp file(s)", removed.len());
        }
        Ok(lock)
    }

    /// The lock file (joined to the host's root).
    #[cfg_attr(not(feature = "testing"), allow(dead_code))] // used by hostfix::testing
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether another run holds the lock, without taking it for longer than a probe
    /// and without creating anything (a dry run and `doctor` use this).
    pub fn probe(host: &Host) -> LockProbe {
        let path = host.path(HOST_LOCK);
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
            .open(&path);
        let file = match file {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return LockProbe::Free,
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return LockProbe::Error(format!("{HOST_LOCK} is a symbolic link"));
            }
            Err(e)
                if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM))
                    && process_euid() != 0 =>
            {
                return LockProbe::NeedsRoot;
            }
            Err(e) => return LockProbe::Error(format!("opening {HOST_LOCK}: {e}")),
        };
        match file.metadata() {
            Ok(m) if m.file_type().is_file() => {}
            Ok(m) => {
                return LockProbe::Error(format!(
                    "{HOST_LOCK} is {}, not a lock file",
                    file_kind(m.file_type())
                ));
            }
            Err(e) => return LockProbe::Error(format!("inspecting {HOST_LOCK}: {e}")),
        }
        // A shared lock for an instant: it fails only while a run holds the lock.
        match Flock::lock(file, FlockArg::LockSharedNonblock) {
            Ok(_released_on_drop) => LockProbe::Free,
            Err((_, Errno::EWOULDBLOCK)) => LockProbe::Busy,
            Err((_, e)) => LockProbe::Error(format!("flock {HOST_LOCK}: {e}")),
        }
    }
}

/// What [`HostLock::probe`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockProbe {
    /// No run holds the lock (or it was never made).
    Free,
    /// Another run holds it.
    Busy,
    /// This process may not open it (not root).
    NeedsRoot,
    /// Something else is wrong, in words.
    Error(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn a_huge_wait_is_no_overflow() {
        let d = tempfile::tempdir().unwrap();
        let host = Host::fake(d.path());
        HostLock::acquire(&host, Duration::MAX).unwrap();
    }

    #[test]
    fn the_probe_creates_nothing_and_sees_a_holder() {
        let d = tempfile::tempdir().unwrap();
        let host = Host::fake(d.path());
        assert_eq!(HostLock::probe(&host), LockProbe::Free);
        assert!(!host.path("/run").exists());
        let held = HostLock::acquire(&host, Duration::ZERO).unwrap();
        assert_eq!(HostLock::probe(&host), LockProbe::Busy);
        drop(held);
        assert_eq!(HostLock::probe(&host), LockProbe::Free);
        fs::remove_file(host.path(HOST_LOCK)).unwrap();
        mkfifo_at(&host.path(HOST_LOCK));
        assert!(matches!(HostLock::probe(&host), LockProbe::Error(e) if e.contains("a FIFO")));
    }

    fn mkfifo_at(p: &Path) {
        nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    }

    #[test]
    fn host_lock_is_exclusive_and_refuses_a_planted_link() {
        let d = tempfile::tempdir().unwrap();
        let rec = std::sync::Arc::new(crate::host::RecordingSystem::with_euid(
            nix::unistd::geteuid().as_raw(),
        ));
        // The recorder's clock moves only by its sleeps, so the wait ends at once.
        rec.set_now(std::time::SystemTime::now());
        let host = Host::with_system(d.path(), rec);
        let a = HostLock::acquire(&host, Duration::ZERO).unwrap();
        let e = HostLock::acquire(&host, Duration::from_millis(200)).unwrap_err();
        assert_eq!(e.exit_code(), 3, "{e}");
        assert!(e.to_string().contains(HOST_LOCK), "{e}");
        drop(a);
        HostLock::acquire(&host, Duration::ZERO).unwrap();

        let p = host.path(HOST_LOCK);
        fs::remove_file(&p).unwrap();
        let elsewhere = d.path().join("elsewhere");
        std::os::unix::fs::symlink(&elsewhere, &p).unwrap();
        let e = HostLock::acquire(&host, Duration::ZERO).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(!elsewhere.exists(), "the link's target was created");
    }
}
