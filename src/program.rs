//! Finding the programs hostfix runs by path (`docker`, `timeout`, `systemctl`,
//! `needs-restarting`): one rule for every caller, with the `which` crate's check of an
//! executable file.
//!
//! Where: on the live root, the absolute entries of `PATH`, then the standard directories
//! (a unit or cloud-init may start hostfix with a short `PATH`); under another root (a
//! fixture tree, a mounted image), the standard directories below that root, never the
//! caller's `PATH`, which names the live system's directories. Relative `PATH` entries
//! (`.`, `bin`, empty) are never searched: hostfix runs as root, and a program picked up
//! from the working directory would be a hijack. What: an executable regular file (a link
//! to one counts) named exactly as asked; a name with a `/` is not a program name.
//!
//! A leaf: it takes the host's root (`host.root()`), not the host.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// The standard program directories, searched in this order.
pub const STANDARD_DIRS: [&str; 6] = [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// A program found on a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// Where it is on the host (`/usr/bin/docker`).
    pub host_path: PathBuf,
    /// The same file as this process reaches it: the host path joined to the host's root
    /// (the host path itself on the live root).
    pub path: PathBuf,
}

impl Program {
    /// The path this process runs it by ([`Program::path`]), as a command's program.
    pub fn run_path(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }

    /// Its path on the host ([`Program::host_path`]), as a command's program.
    pub fn host_name(&self) -> String {
        self.host_path.to_string_lossy().into_owned()
    }
}

/// The host directories searched for a program, in order, each once (pure). `path_env`
/// is the caller's `PATH`; it counts only on the live root, and only its absolute entries.
pub fn search_dirs(live_root: bool, path_env: Option<&OsStr>) -> Vec<PathBuf> {
    let from_env = path_env
        .filter(|_| live_root)
        .map(|p| std::env::split_paths(p).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut out: Vec<PathBuf> = Vec::new();
    for dir in from_env
        .into_iter()
        .filter(|d| d.is_absolute())
        .chain(STANDARD_DIRS.iter().map(PathBuf::from))
    {
        if !out.contains(&dir) {
            out.push(dir);
        }
    }
    out
}

/// Whether `name` can name a program in a directory: not empty, not `.` or `..`, no `/`,
/// no NUL.
pub fn is_program_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

/// Finds a program on the host whose root is `root` (see the module's rule); `None`
/// when there is none.
pub fn find(root: &Path, name: &str) -> Option<Program> {
    if !is_program_name(name) {
        return None;
    }
    let live = root == Path::new("/");
    let env = if live { std::env::var_os("PATH") } else { None };
    // As `Host::path` joins: every search directory is absolute.
    let under_root = |host_path: &Path| root.join(host_path.strip_prefix("/").unwrap_or(host_path));
    let found = search_dirs(live, env.as_deref())
        .into_iter()
        .map(|dir| dir.join(name))
        .find(|host_path| is_executable(&under_root(host_path)))
        .map(|host_path| Program {
            path: under_root(&host_path),
            host_path,
        });
    log::debug!("program: {name} -> {found:?}");
    found
}

/// Whether `path` is an executable regular file for this process. `which` given an
/// absolute name checks that one file (links followed) and searches nothing else.
fn is_executable(path: &Path) -> bool {
    path.is_absolute()
        && which::which_in_global(path, None::<&OsStr>).is_ok_and(|mut hits| hits.next().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn put(root: &Path, host_path: &str, mode: u32) {
        let p = root.join(host_path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn search_dirs_keep_absolute_path_entries_then_the_standard_ones() {
        let env = OsStr::new("/opt/tools/bin:.:bin::/usr/bin:/sbin");
        let dirs = search_dirs(true, Some(env));
        let want: Vec<PathBuf> = [
            "/opt/tools/bin",
            "/usr/bin",
            "/sbin",
            "/usr/local/sbin",
            "/usr/local/bin",
            "/usr/sbin",
            "/bin",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(dirs, want);
        // Under another root the caller's PATH names the wrong system's directories.
        let fake: Vec<PathBuf> = STANDARD_DIRS.iter().map(PathBuf::from).collect();
        assert_eq!(search_dirs(false, Some(env)), fake);
        assert_eq!(search_dirs(true, None), fake);
    }

    #[test]
    fn a_fake_root_is_searched_below_its_root_in_order() {
        let d = tempfile::tempdir().unwrap();
        put(d.path(), "/usr/bin/tool", 0o755);
        put(d.path(), "/bin/tool", 0o755);
        let p = find(d.path(), "tool").unwrap();
        assert_eq!(p.host_path, PathBuf::from("/usr/bin/tool"));
        assert_eq!(p.path, d.path().join("usr/bin/tool"));
        assert_eq!(p.host_name(), "/usr/bin/tool");
        assert_eq!(
            p.run_path(),
            d.path().join("usr/bin/tool").to_string_lossy()
        );
        // /usr/local/sbin comes first.
        put(d.path(), "/usr/local/sbin/tool", 0o700);
        assert_eq!(
            find(d.path(), "tool").unwrap().host_path,
            PathBuf::from("/usr/local/sbin/tool")
        );
    }

    #[test]
    fn only_executable_regular_files_count() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        put(root, "/usr/bin/plain", 0o644);
        assert_eq!(find(root, "plain"), None, "not executable");
        std::fs::create_dir_all(d.path().join("usr/sbin/adir")).unwrap();
        assert_eq!(find(root, "adir"), None, "a directory");
        put(d.path(), "/usr/bin/real", 0o755);
        std::os::unix::fs::symlink("real", d.path().join("usr/bin/linked")).unwrap();
        assert_eq!(
            find(root, "linked").unwrap().host_path,
            PathBuf::from("/usr/bin/linked"),
            "a link to an executable counts"
        );
        std::os::unix::fs::symlink("nowhere", d.path().join("usr/bin/dangling")).unwrap();
        assert_eq!(find(root, "dangling"), None);
        assert_eq!(find(root, "missing"), None);
    }

    #[test]
    fn names_with_a_slash_are_not_programs() {
        let d = tempfile::tempdir().unwrap();
        put(d.path(), "/usr/bin/x/y", 0o755);
        put(d.path(), "/usr/bin/ok", 0o755);
        let root = d.path();
        for bad in ["x/y", "../bin/ok", "/usr/bin/ok", "", ".", "..", "a\0b"] {
            assert!(!is_program_name(bad), "{bad:?}");
            assert_eq!(find(root, bad), None, "{bad:?}");
        }
        assert!(find(root, "ok").is_some());
    }

    #[test]
    fn the_live_root_finds_sh() {
        // Every Linux host has an executable `sh` in a standard directory.
        let p = find(Path::new("/"), "sh").unwrap();
        assert_eq!(p.path, p.host_path);
        assert!(p.host_path.ends_with("sh"));
        assert!(p.host_path.is_absolute());
    }
}
