//! hostfix's own state on the host: the state directory, its record files, and the
//! machine-wide lock that serialises every edit of the host.
//!
//! Three rules hold for everything here, because hostfix runs as root in directories and
//! on hosts where another user may have planted something:
//!
//! - **Paths are normalised before any check.** A state directory is absolute, and `.`
//!   and `..` are resolved lexically first, so `/var/lib/../../run/x` is judged as
//!   `/run/x`.
//! - **State files are regular files or refused.** They are opened with `O_NOFOLLOW`
//!   and `O_NONBLOCK` and checked with `fstat` on the open descriptor: a symlink, FIFO,
//!   socket, device or directory in their place is an error naming what was found, never
//!   followed, never blocked on, never read.
//! - **One lock for the whole machine.** Host edits (fstab, swap areas, units, packages,
//!   the reboot ledger) take [`HostLock`], a `flock` on [`HOST_LOCK`] in a root-only
//!   directory, whatever `--state-dir` says, and hold it only while editing.

use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::error::{Error, InputError, Refusal, Result};
use crate::host::Host;

/// The machine-wide lock file (a host path). `/run/hostfix` is created `0700` by root, so
/// no other user can plant the lock or hold it.
pub const HOST_LOCK: &str = "/run/hostfix/lock";

/// The largest state file hostfix reads (a ledger keeps a bounded number of entries; a
/// bigger file was not written by hostfix).
pub const MAX_STATE_FILE: u64 = 4 * 1024 * 1024;

/// Resolves `.` and `..` in an absolute path without touching the filesystem.
///
/// # Errors
/// [`InputError`] naming `what` when the path is not absolute, is empty, or holds a NUL.
pub fn normalize(what: &str, path: &Path) -> std::result::Result<PathBuf, InputError> {
    let bad = |why: &str| {
        InputError::new(
            what,
            path.display().to_string(),
            why,
            "an absolute path such as /var/lib/hostfix",
        )
    };
    if !path.is_absolute() {
        return Err(bad("not an absolute path"));
    }
    if path.as_os_str().as_encoded_bytes().contains(&0) {
        return Err(bad("holds a NUL byte"));
    }
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
        }
    }
    Ok(out)
}

/// What was found where a regular file was expected, in words.
pub fn file_kind(ft: fs::FileType) -> &'static str {
    if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_file() {
        "a regular file"
    } else {
        "an unknown kind of file"
    }
}

fn not_regular(path: &Path, found: &str) -> Error {
    Refusal::NotRegularFile {
        path: path.to_path_buf(),
        found: found.to_string(),
    }
    .into()
}

/// Opens a state file for reading: no link followed, no blocking on a FIFO, a regular
/// file or an error naming what is there. `Ok(None)` when nothing is there.
///
/// # Errors
/// [`Refusal::NotRegularFile`] for a symlink, FIFO, device, socket or directory;
/// [`Error::Io`] for other failures.
pub fn open_regular(path: &Path) -> Result<Option<File>> {
    // Look before opening: opening some devices has side effects (a tape rewinds).
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("inspecting", path, e)),
        Ok(m) if !m.file_type().is_file() => {
            return Err(not_regular(path, file_kind(m.file_type())));
        }
        Ok(_) => {}
    }
    // Then open without following or blocking, and judge the descriptor itself: the
    // name may have been swapped in between.
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path);
    let f = match f {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        // O_NOFOLLOW on a symlink fails with ELOOP.
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(not_regular(path, "a symbolic link"));
        }
        Err(e) => {
            // A directory opens read-only on Linux; anything else is a real failure.
            return match fs::symlink_metadata(path) {
                Ok(m) if !m.file_type().is_file() => {
                    Err(not_regular(path, file_kind(m.file_type())))
                }
                _ => Err(Error::io("opening", path, e)),
            };
        }
    };
    let m = f.metadata().map_err(|e| Error::io("reading", path, e))?;
    if !m.file_type().is_file() {
        return Err(not_regular(path, file_kind(m.file_type())));
    }
    Ok(Some(f))
}

/// Reads a state file whole (at most [`MAX_STATE_FILE`] bytes); `Ok(None)` when it does
/// not exist.
///
/// # Errors
/// As [`open_regular`], and [`Error::Io`] when it is larger than [`MAX_STATE_FILE`].
pub fn read_regular(path: &Path) -> Result<Option<Vec<u8>>> {
    let Some(f) = open_regular(path)? else {
        return Ok(None);
    };
    let mut buf = Vec::new();
    f.take(MAX_STATE_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io("reading", path, e))?;
    if buf.len() as u64 > MAX_STATE_FILE {
        return Err(Error::io(
            "reading",
            path,
            std::io::Error::other(format!(
                "larger than {MAX_STATE_FILE} bytes: not a file hostfix wrote"
            )),
        ));
    }
    Ok(Some(buf))
}

/// Removes a state file if it is there. Unlinking never follows a link; a directory in
/// its place is refused.
///
/// # Errors
/// [`Refusal::NotRegularFile`] for a directory; [`Error::Io`] otherwise.
pub fn remove_regular(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("removing", path, e)),
        Ok(m) if m.file_type().is_dir() => return Err(not_regular(path, "a directory")),
        Ok(_) => {}
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("removing", path, e)),
    }
}

/// Checks that a directory hostfix keeps state in is safe to trust: a real directory (not
/// a link), owned by `uid`, writable by nobody else.
///
/// # Errors
/// [`Refusal::NotRegularFile`] when it is not a directory; [`Refusal::Unsafe`] when another
/// user owns it or can write to it.
pub fn check_private_dir(path: &Path, uid: u32) -> Result<()> {
    let m = fs::symlink_metadata(path).map_err(|e| Error::io("inspecting", path, e))?;
    if !m.file_type().is_dir() {
        return Err(Refusal::NotRegularFile {
            path: path.to_path_buf(),
            found: format!("{} where a directory belongs", file_kind(m.file_type())),
        }
        .into());
    }
    if m.uid() != uid || m.mode() & 0o022 != 0 {
        return Err(Refusal::Unsafe {
            target: path.display().to_string(),
            why: format!(
                "it is owned by uid {} with mode {:04o}; hostfix keeps its state only in a \
                 directory owned by uid {uid} that no one else can write to (chown {uid} and \
                 chmod 0700 it, or pick another --state-dir)",
                m.uid(),
                m.mode() & 0o7777
            ),
        }
        .into());
    }
    Ok(())
}

/// Creates a private directory (`0700`) and its missing parents, then checks it with
/// [`check_private_dir`].
///
/// # Errors
/// As [`check_private_dir`], and [`Error::Io`] when it cannot be created.
pub fn ensure_private_dir(path: &Path, uid: u32) -> Result<()> {
    match fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
    {
        Ok(()) => {}
        Err(e) => return Err(Error::io("creating", path, e)),
    }
    check_private_dir(path, uid)
}

/// The machine-wide lock: an exclusive `flock` on [`HOST_LOCK`] (under the host's root),
/// released on drop or when the process dies, so a killed run never leaves the host
/// locked.
#[derive(Debug)]
pub struct HostLock {
    _lock: Flock<File>,
    path: PathBuf,
}

impl HostLock {
    /// Takes the lock, waiting up to `wait` for another run to release it (the wait is
    /// measured and slept through the host's seam, so a recording host does not wait).
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
        let uid = host.owner().0;
        if let Err(e) = ensure_private_dir(&dir, uid) {
            if e.errno() == Some(Errno::EACCES) || e.errno() == Some(Errno::EPERM) {
                return Err(Refusal::NeedsRoot {
                    action: format!("take the host lock {HOST_LOCK}"),
                }
                .into());
            }
            return Err(e);
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
        let start = host.system().now();
        loop {
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => {
                    log::debug!("lock: took {}", path.display());
                    return Ok(HostLock { _lock: lock, path });
                }
                Err((f, Errno::EWOULDBLOCK)) => {
                    let waited = host
                        .system()
                        .now()
                        .duration_since(start)
                        .unwrap_or(Duration::ZERO);
                    if waited >= wait {
                        return Err(Refusal::Locked {
                            path: host.host_path(&path),
                        }
                        .into());
                    }
                    file = f;
                    host.system().sleep(Duration::from_millis(50));
                }
                Err((_, e)) => return Err(Error::sys("flock", path.display().to_string(), e)),
            }
        }
    }

    /// The lock file (joined to the host's root).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn normalize_resolves_dots_lexically() {
        let n = |s: &str| normalize("--state-dir", Path::new(s));
        assert_eq!(
            n("/var/lib/hostfix").unwrap(),
            Path::new("/var/lib/hostfix")
        );
        assert_eq!(n("/var/lib/../../run/x").unwrap(), Path::new("/run/x"));
        assert_eq!(n("/../../..").unwrap(), Path::new("/"));
        assert_eq!(n("/a/./b/").unwrap(), Path::new("/a/b"));
        assert!(n("var/lib").is_err());
        assert!(n("").is_err());
    }

    #[test]
    fn special_files_are_refused_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let e = read_regular(&fifo).unwrap_err();
        assert!(e.to_string().contains("a FIFO"), "{e}");
        assert_eq!(e.exit_code(), 3);

        let target = d.path().join("target");
        fs::write(&target, "secret").unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = read_regular(&link).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");

        let e = read_regular(d.path()).unwrap_err();
        assert!(e.to_string().contains("directory"), "{e}");
        assert!(read_regular(&d.path().join("missing")).unwrap().is_none());
        assert_eq!(read_regular(&target).unwrap().unwrap(), b"secret");
    }

    #[test]
    fn remove_regular_never_follows_and_refuses_directories() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("target");
        fs::write(&target, "keep").unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        remove_regular(&link).unwrap();
        assert!(target.exists() && !link.exists());
        assert!(remove_regular(d.path()).is_err());
        remove_regular(&d.path().join("missing")).unwrap();
    }

    #[test]
    fn private_dirs_refuse_other_owners_and_writers() {
        let d = tempfile::tempdir().unwrap();
        let me = nix::unistd::geteuid().as_raw();
        let p = d.path().join("state");
        ensure_private_dir(&p, me).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o777)).unwrap();
        assert!(check_private_dir(&p, me).is_err());
        fs::set_permissions(&p, fs::Permissions::from_mode(0o700)).unwrap();
        check_private_dir(&p, me).unwrap();
        assert!(check_private_dir(&p, me.wrapping_add(1)).is_err());
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&p, &link).unwrap();
        assert!(check_private_dir(&link, me).is_err());
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
