//! hostfix's state files: opened without following a link or blocking on a FIFO, a
//! regular file or an error naming what is there, at most [`MAX_STATE_FILE`] bytes, and
//! removed without following a link.

use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use super::{denied, process_euid};
use crate::error::{Error, Refusal, Result};
use crate::host::Host;

/// The largest state file hostfix reads (a ledger keeps a bounded number of entries; a
/// bigger file was not written by hostfix).
pub const MAX_STATE_FILE: u64 = 4 * 1024 * 1024;

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

pub(super) fn not_regular(path: &Path, found: &str) -> Error {
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
        return Err(Refusal::StateFile {
            path: path.to_path_buf(),
            why: format!("it is larger than {MAX_STATE_FILE} bytes: not a file hostfix wrote"),
            reset: move_aside_hint(path),
        }
        .into());
    }
    Ok(Some(buf))
}

/// How to reset a state file hostfix cannot use, for messages: inspect it, then move it
/// aside (never deleted for the user: it may be evidence).
pub fn move_aside_hint(path: &Path) -> String {
    format!(
        "inspect it, then move it aside: mv {p} {p}.broken",
        p = path.display()
    )
}

/// Reads a state file as text: a regular file (no link followed, no FIFO blocked on), at
/// most [`MAX_STATE_FILE`] bytes, UTF-8. `Ok(None)` when it does not exist. Every error
/// names the file as a host path; `reset` is the step that resets it (see
/// [`move_aside_hint`]).
///
/// # Errors
/// [`Refusal::NeedsRoot`] when this process is not root and the file or its directory
/// is not readable to it; [`Refusal::NotRegularFile`] for a link, FIFO, device, socket or
/// directory; [`Refusal::StateFile`] for a file too large or not UTF-8;
/// [`Error::Io`] otherwise.
pub fn read_state_file(host: &Host, path: &Path, reset: &str) -> Result<Option<String>> {
    let shown = host.host_path(path);
    let bytes = match read_regular(path) {
        Ok(Some(b)) => b,
        Ok(None) => return Ok(None),
        Err(e) if denied(&e) && process_euid() != 0 => {
            return Err(Refusal::NeedsRoot {
                action: format!("read {}", shown.display()),
            }
            .into());
        }
        Err(Error::Refused(Refusal::NotRegularFile { found, .. })) => {
            return Err(Refusal::NotRegularFile { path: shown, found }.into());
        }
        Err(Error::Refused(Refusal::StateFile { why, .. })) => {
            return Err(Refusal::StateFile {
                path: shown,
                why,
                reset: reset.to_string(),
            }
            .into());
        }
        Err(Error::Io {
            context, source, ..
        }) => {
            return Err(Error::Io {
                context,
                path: shown,
                source,
            });
        }
        Err(e) => return Err(e),
    };
    String::from_utf8(bytes).map(Some).map_err(|_| {
        Refusal::StateFile {
            path: shown,
            why: "it is not UTF-8 text: not a file hostfix wrote".into(),
            reset: reset.to_string(),
        }
        .into()
    })
}

/// A message from a hostile file, cut to a readable length (at most 200 characters).
pub fn clip(text: &str) -> String {
    const MAX: usize = 200;
    let mut out: String = text.chars().take(MAX).collect();
    if text.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
