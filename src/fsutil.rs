//! Small file helpers every operation shares: atomic replacement of a file.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
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

#[cfg(test)]
mod tests {
    use super::*;

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
