//! Whether a swap path can be trusted: every directory on the way to it belongs to root
//! (or the host's owner) and no one else can write to it, none is a symbolic link, and
//! nothing is mounted over the file. Another user who can write to any directory on the
//! way can swap the file, or a directory, for a link between two of hostfix's steps.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::host::Host;

/// Why a directory is an unsafe place on the way to a swap file, or `None`.
pub fn dir_problem(meta: &std::fs::Metadata, dir: &Path, owner: (u32, u32)) -> Option<String> {
    let mode = meta.mode() & 0o7777;
    if meta.file_type().is_symlink() {
        return Some(format!(
            "{} is a symbolic link: hostfix takes a swap path only without links (give the \
             path the link points to)",
            dir.display()
        ));
    }
    if !meta.is_dir() {
        return Some(format!("{} is not a directory", dir.display()));
    }
    if meta.uid() != 0 && meta.uid() != owner.0 {
        return Some(format!(
            "the directory {} belongs to uid {}, not root: that user could replace the swap \
             file or a directory on the way (pick a path under directories only root can write)",
            dir.display(),
            meta.uid()
        ));
    }
    if mode & 0o002 != 0 {
        return Some(format!(
            "the directory {} is writable by every user (mode {mode:04o}): any of them could \
             plant a file or link there (pick a path under directories only root can write)",
            dir.display()
        ));
    }
    if mode & 0o020 != 0 && meta.gid() != 0 && meta.gid() != owner.1 {
        return Some(format!(
            "the directory {} is writable by group {} (mode {mode:04o}): its members could \
             plant a file or link there (pick a path under directories only root can write)",
            dir.display(),
            meta.gid()
        ));
    }
    None
}

/// The first problem on the way to a host path: every existing directory from the host's
/// root down to the file's parent is checked with [`dir_problem`] (missing ones are
/// created by hostfix, mode 0755).
pub fn path_problem(host: &Host, path: &Path) -> Option<String> {
    let mut dirs: Vec<PathBuf> = path.ancestors().skip(1).map(Path::to_path_buf).collect();
    dirs.reverse();
    for dir in dirs {
        let real = host.path(&dir);
        match std::fs::symlink_metadata(&real) {
            Ok(m) => {
                if let Some(p) = dir_problem(&m, &dir, host.owner()) {
                    return Some(p);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => return Some(format!("{}: {e}", dir.display())),
        }
    }
    None
}

/// The mount points in the text of `/proc/self/mountinfo` (field 5, octal escapes
/// decoded). Pure.
pub fn mount_points(mountinfo: &str) -> Vec<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(super::super::unescape_octal(m)))
        .collect()
}

/// Whether something is mounted on this live path (a file bind-mounted over the swap
/// path). `false` when the mount table cannot be read (logged).
pub fn is_mount_point(real: &Path) -> bool {
    let canon = match (real.parent(), real.file_name()) {
        (Some(dir), Some(name)) => match std::fs::canonicalize(dir) {
            Ok(d) => d.join(name),
            Err(_) => return false,
        },
        _ => return false,
    };
    // The mounts of the namespace hostfix runs in: the live paths it works on.
    match std::fs::read_to_string("/proc/self/mountinfo") {
        Ok(t) => mount_points(&t).contains(&canon),
        Err(e) => {
            log::warn!("swap: /proc/self/mountinfo: {e}; cannot tell bind mounts");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_decode_escapes() {
        let t = "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n\
                 95 22 8:1 /home/a/data /swap\\040file rw - ext4 /dev/sda1 rw\n";
        assert_eq!(
            mount_points(t),
            vec![PathBuf::from("/"), PathBuf::from("/swap file")]
        );
    }

    #[test]
    fn planted_components_are_named() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let host = Host::fake(d.path());
        std::fs::create_dir_all(d.path().join("var/swap")).unwrap();
        assert_eq!(path_problem(&host, Path::new("/var/swap/file")), None);
        std::fs::set_permissions(d.path().join("var"), std::fs::Permissions::from_mode(0o777))
            .unwrap();
        let p = path_problem(&host, Path::new("/var/swap/file")).unwrap();
        assert!(p.contains("/var is writable by every user"), "{p}");
        std::fs::set_permissions(d.path().join("var"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::os::unix::fs::symlink("var", d.path().join("link")).unwrap();
        let p = path_problem(&host, Path::new("/link/swap/file")).unwrap();
        assert!(p.contains("/link is a symbolic link"), "{p}");
        assert_eq!(path_problem(&host, Path::new("/missing/dir/file")), None);
        // A directory another group can write to; another user's directory.
        if nix::unistd::geteuid().is_root() {
            let var = d.path().join("var");
            std::fs::set_permissions(&var, std::fs::Permissions::from_mode(0o775)).unwrap();
            nix::unistd::chown(&var, None, Some(12345.into())).unwrap();
            let p = path_problem(&host, Path::new("/var/swap/file")).unwrap();
            assert!(p.contains("writable by group 12345"), "{p}");
            nix::unistd::chown(&var, Some(12345.into()), Some(0.into())).unwrap();
            let p = path_problem(&host, Path::new("/var/swap/file")).unwrap();
            assert!(p.contains("belongs to uid 12345"), "{p}");
        } else {
            eprintln!("part skipped: another group's or user's directory needs root (chown)");
        }
    }
}
