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
//!   directory, whatever `--state-dir` says, and hold it only while editing: not across
//!   a reboot's `--delay`, not during a dry run (which only [probes](HostLock::probe)
//!   it). There is no second, per-state-directory lock: every state file is written by
//!   a run that holds the host lock, so the host lock serialises those writes too.
//!
//! State files are written with [`crate::fsutil::write_atomic`] (temp file, fsync,
//! rename) into a directory made by [`ensure_state_dir`]. The temp files of a run killed
//! mid-write (or cut by the power) carry their writer's pid, start time and boot, so the
//! next run can tell that writer is gone even after a reboot; they are swept by every
//! run that takes the host lock ([`HostLock::for_edits`], [`sweep_leftovers`]) and by
//! the next write in their directory.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;

use crate::error::{Error, InputError, Refusal, Result};
use crate::host::Host;

mod file;
mod lock;
mod temps;

use file::not_regular;
#[cfg_attr(not(feature = "testing"), allow(unused_imports))] // used by hostfix::testing
pub use file::{
    MAX_STATE_FILE, clip, file_kind, move_aside_hint, open_regular, read_regular, read_state_file,
    remove_regular,
};
pub use lock::{HOST_LOCK, HostLock, LockProbe};
#[cfg_attr(not(feature = "testing"), allow(unused_imports))] // used by hostfix::testing
pub use temps::{
    Now as TempNow, SYSTEM_DIRS, TempWriter, boot_tag, has_leftovers, parse_temp_name, sweep_dir,
    sweep_leftovers, this_writer, writer_gone,
};

/// The effective uid of this process: the owner of every file and directory it creates
/// (the host seam's uid may pretend otherwise; the filesystem does not).
fn process_euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Whether an error is the kernel saying "permission denied".
fn denied(e: &Error) -> bool {
    matches!(e.errno(), Some(Errno::EACCES | Errno::EPERM))
}

/// Whether `path` is a directory owned by someone other than `uid`.
fn owned_by_other(path: &Path, uid: u32) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_dir() && m.uid() != uid)
}

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

/// The state directory as every check and every path uses it: absolute, with `.` and
/// `..` resolved ([`normalize`]), so `/var/lib/../../run/x` is judged as `/run/x`.
///
/// # Errors
/// [`InputError`] for `--state-dir` when it is not absolute or holds a NUL.
pub fn state_dir(dir: &Path) -> std::result::Result<PathBuf, InputError> {
    normalize("--state-dir", dir)
}

/// Creates (when missing) and checks the directory `sub` of the state directory
/// (`sub` empty: the state directory itself), private to the host's owner
/// ([`Host::owner`]: root on the live system), sweeps
/// the temp files of writers that died there, and returns its path joined to the
/// host's root. Called by a run that is about to write a state file.
///
/// # Errors
/// [`InputError`] for a bad `--state-dir`; [`Refusal::NeedsRoot`] when this process is
/// not root and may not create it or it belongs to another user (root);
/// [`Refusal::Unsafe`] / [`Refusal::NotRegularFile`] when root finds it owned by another
/// user, writable by others, or not a directory; [`Error::Io`] otherwise.
pub fn ensure_state_dir(host: &Host, dir: &Path, sub: &str) -> Result<PathBuf> {
    let dir = state_dir(dir)?;
    let host_dir = if sub.is_empty() { dir } else { dir.join(sub) };
    let real = host.path(&host_dir);
    let me = process_euid();
    let needs_root = || -> Error {
        Refusal::NeedsRoot {
            action: format!("write hostfix's state in {}", host_dir.display()),
        }
        .into()
    };
    match ensure_private_dir(&real, host.owner().0) {
        Ok(()) if me != 0 && owned_by_other(&real, me) => return Err(needs_root()),
        Ok(()) => {}
        Err(e) if me != 0 && (denied(&e) || owned_by_other(&real, me)) => {
            return Err(needs_root());
        }
        Err(e) => return Err(e),
    }
    sweep_dir(&real, None);
    Ok(real)
}

/// Checks the directory `sub` of the state directory before reading from it, and
/// returns its path joined to the host's root, or `None` when it does not exist (nothing
/// was recorded). A directory owned by root or by the host's owner ([`Host::owner`]),
/// writable by no one else, is trusted; anything else was not made by hostfix and is refused, so no
/// planted ledger is believed.
///
/// # Errors
/// As [`ensure_state_dir`], without creating anything.
pub fn readable_state_dir(host: &Host, dir: &Path, sub: &str) -> Result<Option<PathBuf>> {
    let dir = state_dir(dir)?;
    let host_dir = if sub.is_empty() { dir } else { dir.join(sub) };
    let real = host.path(&host_dir);
    let m = match fs::symlink_metadata(&real) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)) => {
            if process_euid() != 0 {
                return Err(Refusal::NeedsRoot {
                    action: format!("read hostfix's state in {}", host_dir.display()),
                }
                .into());
            }
            return Err(Error::io("inspecting", &host_dir, e));
        }
        Err(e) => return Err(Error::io("inspecting", &host_dir, e)),
    };
    // Root's directory is as trusted as the one the host expects.
    let owner = if m.is_dir() && m.uid() == 0 {
        0
    } else {
        host.owner().0
    };
    check_private_dir(&real, owner).map_err(|e| match e {
        Error::Refused(Refusal::NotRegularFile { found, .. }) => Refusal::NotRegularFile {
            path: host_dir.clone(),
            found,
        }
        .into(),
        other => other,
    })?;
    Ok(Some(real))
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
}
