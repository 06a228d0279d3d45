//! Small file helpers every operation shares: atomic replacement of a file, and a bounded
//! read of a small file others may write.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::error::{Error, Result};

/// Replaces `path` with `contents` atomically: a temp file in the same directory, written,
/// fsynced, renamed over `path`, then the directory fsynced. A crash leaves either the old
/// file or the new one, never a torn one.
///
/// The new file gets `mode`, or the old file's mode when `mode` is `None` and the file
/// exists (0644 otherwise). Missing parent directories are not created.
///
/// # Errors
/// [`Error::Io`] naming the file for any failure; the temp file is removed.
pub fn write_atomic(path: &Path, contents: &[u8], mode: Option<u32>) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let mode = match mode {
        Some(m) => m,
        None => match fs::metadata(path) {
            Ok(m) => m.permissions().mode() & 0o7777,
            Err(_) => 0o644,
        },
    };
    // The temp file's name says who wrote it (pid, start time, boot), so a later run can
    // tell its writer is gone even after a reboot ([`crate::state::sweep_dir`]).
    let tmp = dir.join(format!(".{name}{}", crate::state::this_writer().suffix()));
    let result = (|| -> std::io::Result<()> {
        // A leftover of an earlier write of this very process (one whose removal
        // failed) goes first; the temp file is then created exclusively, so nothing
        // planted at its name (a link, a hard link to another file) is ever opened or
        // truncated.
        match fs::remove_file(&tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(contents)?;
        crate::testhook::point(|| format!("written {}", path.display()));
        f.sync_all()?;
        crate::testhook::point(|| format!("synced {}", path.display()));
        fs::rename(&tmp, path)?;
        crate::testhook::point(|| format!("renamed {}", path.display()));
        File::open(dir)?.sync_all()
    })();
    result.map_err(|e| {
        // The temp file may not exist (the open failed); nothing to report then.
        let _ = fs::remove_file(&tmp);
        Error::io("writing", path, e)
    })?;
    crate::state::sweep_dir(dir, Some(&name));
    Ok(())
}

/// Reads a small file that someone other than root may have written (a service's
/// pidfile): the last component is not followed, a FIFO is not blocked on, anything but a
/// regular file is an error, and at most `max` bytes are read (more is an error). Returns
/// the text (lossy UTF-8) and the file's owner; `Ok(None)` when it does not exist.
///
/// # Errors
/// The I/O error; `InvalidData` for a file that is not regular or is over `max` bytes.
pub(crate) fn read_small_untrusted(
    path: &Path,
    max: u64,
) -> std::io::Result<Option<(String, u32)>> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path);
    let f = match f {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let m = f.metadata()?;
    if !m.file_type().is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not a regular file",
        ));
    }
    let mut buf = Vec::new();
    f.take(max + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {max} bytes"),
        ));
    }
    Ok(Some((String::from_utf8_lossy(&buf).into_owned(), m.uid())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_small_files_are_read_bounded_without_links_or_fifos() -> std::io::Result<()> {
        let d = tempfile::tempdir()?;
        let p = d.path().join("app.pid");
        assert!(read_small_untrusted(&p, 64)?.is_none());
        fs::write(&p, "812\n")?;
        let read = read_small_untrusted(&p, 64)?;
        assert_eq!(
            read,
            Some(("812\n".to_string(), nix::unistd::geteuid().as_raw()))
        );
        fs::write(&p, "1".repeat(65))?;
        let e = read_small_untrusted(&p, 64).err();
        assert!(format!("{e:?}").contains("larger than 64 bytes"), "{e:?}");
        // A link is not followed, even to a good file.
        let good = d.path().join("good.pid");
        fs::write(&good, "812\n")?;
        let link = d.path().join("link.pid");
        std::os::unix::fs::symlink(&good, &link)?;
        assert!(read_small_untrusted(&link, 64).is_err());
        // A FIFO nobody writes to: an error at once, never a hang.
        let fifo = d.path().join("fifo.pid");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))?;
        let t = std::time::Instant::now();
        let e = read_small_untrusted(&fifo, 64).err();
        assert!(format!("{e:?}").contains("not a regular file"), "{e:?}");
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
        // A directory and a device.
        assert!(read_small_untrusted(d.path(), 64).is_err());
        assert!(read_small_untrusted(Path::new("/dev/zero"), 64).is_err());
        Ok(())
    }

    #[test]
    fn a_dead_runs_temp_file_goes_and_a_live_ones_stays() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("fstab");
        let me = crate::state::this_writer();
        let Some((start, boot)) = me.run.clone() else {
            panic!("this process's start time and boot id cannot be read from /proc");
        };
        let writer = |pid: i32| crate::state::TempWriter {
            pid,
            run: Some((start, boot.clone())),
        };
        let dead = d
            .path()
            .join(format!(".fstab{}", writer(2_000_000_000).suffix()));
        let old_form = d.path().join(".fstab.hostfix-2000000000.tmp");
        let other = d
            .path()
            .join(format!(".hosts{}", writer(2_000_000_000).suffix()));
        for f in [&dead, &old_form, &other] {
            fs::write(f, "half").unwrap();
        }
        write_atomic(&p, b"x\n", None).unwrap();
        assert!(!dead.exists() && !old_form.exists());
        assert!(
            other.exists(),
            "another file's temp is left to the lock's sweep"
        );
        assert_eq!(fs::read_to_string(&p).unwrap(), "x\n");
    }

    #[test]
    fn replaces_and_keeps_mode() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("fstab");
        fs::write(&p, "old\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&p, b"new\n", None).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "new\n");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
        write_atomic(&p, b"x", Some(0o600)).unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::read_dir(d.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn missing_dir_is_an_error_naming_the_file() {
        let e = write_atomic(Path::new("/nonexistent/dir/f"), b"x", None).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/dir/f"), "{e}");
    }
}
