//! Cgroup v2 by id: the cgroup the kernel names for a socket, and the processes in it.
//!
//! sock_diag reports with each socket the id of the cgroup v2 its creator was in when it
//! called `socket(2)` (`INET_DIAG_CGROUP_ID`, Linux 5.7+; what `ss --cgroup` prints). A
//! cgroup v2 id is the inode number of the cgroup's directory in the cgroup2 filesystem,
//! which kernfs also accepts as a file handle. So the directory is opened the way the
//! kernel offers: `open_by_handle_at(2)` on the cgroup2 mount with the id as a
//! `FILEID_KERNFS` handle (one system call; it needs `CAP_DAC_READ_SEARCH`). Without that
//! privilege the mount's directories are walked for the one whose inode is the id
//! (bounded by [`WALK_MAX_DIRS`]). Its `cgroup.procs` then lists the processes to look at.
//!
//! Nothing here writes: every file is opened read-only, without following links or
//! blocking.

use std::collections::VecDeque;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{DirEntryExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::host::Host;

/// `FILEID_KERNFS`: a kernfs file handle is the node's 64-bit id (Linux 5.7+).
const FILEID_KERNFS: i32 = 0xfe;

/// The most directories the unprivileged lookup walks before giving up.
pub const WALK_MAX_DIRS: usize = 65_536;

/// The most pids read from one `cgroup.procs` (the kernel's largest `pid_max`).
const PROCS_MAX: usize = 1 << 22;

/// The cgroup2 filesystem, opened at its mount point.
#[derive(Debug)]
pub struct Cgroup2 {
    mount: OwnedFd,
    point: PathBuf,
    /// Whether cgroup v1 hierarchies are mounted too (a hybrid host).
    v1_too: bool,
}

/// One cgroup directory, opened.
#[derive(Debug)]
pub struct CgroupDir {
    fd: OwnedFd,
    /// Its path under the cgroup2 mount (`/system.slice/nginx.service`; `/` for the root).
    pub path: String,
}

/// The mount points of cgroup2 filesystems in the text of `/proc/self/mountinfo`, those
/// mounted from the filesystem's root first (pure). A mount point with an escaped
/// character (`\040`) is left out.
pub fn cgroup2_mount_points(mountinfo: &str) -> Vec<PathBuf> {
    let mut whole = Vec::new();
    let mut parts = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        if right.split_whitespace().next() != Some("cgroup2") {
            continue;
        }
        let f: Vec<&str> = left.split_whitespace().collect();
        let (Some(root), Some(point)) = (f.get(3), f.get(4)) else {
            continue;
        };
        if !point.starts_with('/') || point.contains('\\') {
            continue;
        }
        if *root == "/" {
            whole.push(PathBuf::from(point));
        } else {
            parts.push(PathBuf::from(point));
        }
    }
    whole.extend(parts);
    whole
}

/// Whether a cgroup v1 hierarchy is mounted, from the text of `/proc/self/mountinfo`
/// (pure): then a process's place in the cgroup2 tree says nothing about its
/// containers, whose engine uses the v1 hierarchies.
pub fn cgroup_v1_mounted(mountinfo: &str) -> bool {
    mountinfo.lines().any(|l| {
        l.split_once(" - ")
            .is_some_and(|(_, r)| r.split_whitespace().next() == Some("cgroup"))
    })
}

/// Parses the text of a `cgroup.procs` file: one pid a line; `0` (a process outside this
/// PID namespace) and anything that is not a pid are left out (pure).
pub fn parse_procs(text: &[u8]) -> Vec<i32> {
    text.split(|b| *b == b'\n')
        .filter_map(|l| std::str::from_utf8(l).ok()?.trim().parse::<i32>().ok())
        .filter(|p| *p > 0)
        .take(PROCS_MAX)
        .collect()
}

fn open_dir_at(dirfd: &OwnedFd, name: &Path) -> Result<OwnedFd, Errno> {
    nix::fcntl::openat(
        dirfd,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

impl Cgroup2 {
    /// The live host's cgroup2 mount; `None` under another root, on a host with cgroup v1
    /// only, or when it cannot be opened (logged).
    pub fn open(host: &Host) -> Option<Cgroup2> {
        if !host.is_live_root() {
            return None;
        }
        let text = match std::fs::read_to_string("/proc/self/mountinfo") {
            Ok(t) => t,
            Err(e) => {
                log::info!("port: /proc/self/mountinfo: {e}");
                return None;
            }
        };
        for point in cgroup2_mount_points(&text) {
            match nix::fcntl::open(
                &point,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            ) {
                Ok(mount) => {
                    return Some(Cgroup2 {
                        mount,
                        point,
                        v1_too: cgroup_v1_mounted(&text),
                    });
                }
                Err(e) => log::info!("port: cgroup2 mount {}: {e}", point.display()),
            }
        }
        None
    }

    /// Where it is mounted.
    #[cfg_attr(not(any(test, feature = "testing")), allow(dead_code))] // tests, benchmarks
    pub fn mount_point(&self) -> &Path {
        &self.point
    }

    /// Opens the cgroup whose id is `id`: by file handle, or by walking the mount when
    /// that is not permitted.
    ///
    /// # Errors
    /// `ENOENT` when no cgroup has that id in this mount (removed, or outside this cgroup
    /// namespace), `E2BIG` when the walk gave up, or the errno of the open.
    pub fn by_id(&self, id: u64) -> Result<CgroupDir, Errno> {
        if id == 0 {
            return Err(Errno::ENOENT);
        }
        match self.by_handle(id) {
            Ok(fd) => {
                let path = self
                    .path_of(&fd)
                    .unwrap_or_else(|| format!("(cgroup id {id})"));
                Ok(CgroupDir { fd, path })
            }
            // An id no cgroup has (any more).
            Err(Errno::ESTALE | Errno::ENOENT) => Err(Errno::ENOENT),
            Err(e) => {
                log::debug!("port: open_by_handle_at(cgroup {id}): {e}; walking the mount");
                self.by_walk(id)
            }
        }
    }

    /// `open_by_handle_at(2)` with the id as a kernfs handle.
    fn by_handle(&self, id: u64) -> Result<OwnedFd, Errno> {
        #[repr(C)]
        struct KernfsHandle {
            handle_bytes: u32,
            handle_type: i32,
            id: [u8; 8],
        }
        let mut h = KernfsHandle {
            handle_bytes: 8,
            handle_type: FILEID_KERNFS,
            id: id.to_ne_bytes(),
        };
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
        // SAFETY: `h` is a `struct file_handle` with 8 bytes of handle, valid for the
        // call; the mount fd is open for the life of `self`. The kernel returns a new fd
        // or -1.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_open_by_handle_at,
                self.mount.as_raw_fd(),
                std::ptr::addr_of_mut!(h),
                flags,
            )
        };
        let fd = i32::try_from(fd).map_err(|_| Errno::EBADF)?;
        if fd < 0 {
            return Err(Errno::last());
        }
        // SAFETY: the kernel just returned this fd, and nothing else owns it.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// The path under the mount of an opened cgroup directory, from `/proc/self/fd`.
    fn path_of(&self, fd: &OwnedFd) -> Option<String> {
        let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
        let rel = link.strip_prefix(&self.point).ok()?;
        Some(format!("/{}", rel.display()))
    }

    /// Whether this host has cgroup v1 hierarchies mounted besides this one (hybrid).
    pub fn hybrid(&self) -> bool {
        self.v1_too
    }

    /// Calls `visit` with the path under the mount (`/system.slice/x.service`) and inode
    /// of every cgroup below the root, breadth first, until it returns `true`.
    ///
    /// # Errors
    /// `E2BIG` after [`WALK_MAX_DIRS`] directories. Directories that vanish or cannot be
    /// listed are skipped.
    fn walk_tree(&self, mut visit: impl FnMut(&str, u64) -> bool) -> Result<(), Errno> {
        let mut queue: VecDeque<PathBuf> = VecDeque::from([PathBuf::new()]);
        let mut seen = 0usize;
        while let Some(rel) = queue.pop_front() {
            let Ok(rd) = std::fs::read_dir(self.point.join(&rel)) else {
                continue;
            };
            for e in rd.flatten() {
                if !e.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                seen += 1;
                if seen > WALK_MAX_DIRS {
                    return Err(Errno::E2BIG);
                }
                let child = rel.join(e.file_name());
                if visit(&format!("/{}", child.display()), e.ino()) {
                    return Ok(());
                }
                queue.push_back(child);
            }
        }
        Ok(())
    }

    /// Walks the mount for the directory whose inode number is `id`.
    pub(crate) fn by_walk(&self, id: u64) -> Result<CgroupDir, Errno> {
        if std::fs::metadata(&self.point).is_ok_and(|m| MetadataExt::ino(&m) == id) {
            return self.by_path("/").ok_or(Errno::ENOENT);
        }
        let mut found = None;
        self.walk_tree(|path, ino| {
            if ino == id {
                found = Some(path.to_string());
            }
            found.is_some()
        })?;
        found.and_then(|p| self.by_path(&p)).ok_or(Errno::ENOENT)
    }

    /// The processes of the root cgroup and of every cgroup whose path `wanted` accepts,
    /// with that path; a cgroup removed during the walk is left out.
    ///
    /// # Errors
    /// `E2BIG` when the tree has more than [`WALK_MAX_DIRS`] cgroups; the errno of a
    /// `cgroup.procs` that exists but cannot be read.
    pub fn procs_where(
        &self,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<Vec<(String, Vec<i32>)>, Errno> {
        let mut paths = vec!["/".to_string()];
        self.walk_tree(|path, _| {
            if wanted(path) {
                paths.push(path.to_string());
            }
            false
        })?;
        let mut out = Vec::with_capacity(paths.len());
        for p in paths {
            let Some(dir) = self.by_path(&p) else {
                continue;
            };
            match dir.procs() {
                Ok(pids) => out.push((p, pids)),
                Err(Errno::ENOENT | Errno::ENODEV) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Opens a cgroup by its path under the mount (`/system.slice/nginx.service`), as
    /// `/proc/PID/cgroup` names it; `None` when it is not there.
    pub fn by_path(&self, path: &str) -> Option<CgroupDir> {
        let rel = path.trim_start_matches('/');
        if rel.split('/').any(|c| c == "..") {
            return None;
        }
        let fd = open_dir_at(
            &self.mount,
            Path::new(if rel.is_empty() { "." } else { rel }),
        )
        .ok()?;
        Some(CgroupDir {
            fd,
            path: format!("/{rel}"),
        })
    }
}

impl CgroupDir {
    /// The processes in this cgroup (its `cgroup.procs`, pids in this PID namespace).
    ///
    /// # Errors
    /// The errno of opening or reading `cgroup.procs`.
    pub fn procs(&self) -> Result<Vec<i32>, Errno> {
        let fd = nix::fcntl::openat(
            &self.fd,
            "cgroup.procs",
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let mut f = std::fs::File::from(fd);
        let mut text = Vec::with_capacity(4096);
        // At most PROCS_MAX lines of a pid and a newline.
        f.by_ref()
            .take((PROCS_MAX * 8) as u64)
            .read_to_end(&mut text)
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
        Ok(parse_procs(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_from_mountinfo() {
        let text = "\
24 30 0:22 / /sys rw,nosuid - sysfs sysfs rw
29 24 0:26 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
31 24 0:27 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd
40 30 0:26 /docker/abc /run/inner rw - cgroup2 cgroup2 rw
41 30 0:26 / /run/with\\040space rw - cgroup2 cgroup2 rw
42 30 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw
bad line
";
        assert_eq!(
            cgroup2_mount_points(text),
            vec![
                PathBuf::from("/sys/fs/cgroup/unified"),
                PathBuf::from("/sys/fs/cgroup"),
                PathBuf::from("/run/inner"),
            ]
        );
        assert!(cgroup2_mount_points("").is_empty());
        assert!(cgroup_v1_mounted(text));
        let v2_only: String = text
            .lines()
            .filter(|l| !l.contains(" - cgroup "))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(!cgroup_v1_mounted(&v2_only));
    }

    #[test]
    fn procs_text() {
        assert_eq!(parse_procs(b"1\n812\n0\n 13 \nx\n-4\n\n"), vec![1, 812, 13]);
        assert!(parse_procs(b"").is_empty());
        assert!(parse_procs(&[0xff, b'\n', b'9', b'9']).contains(&99));
    }

    #[test]
    fn paths_never_climb() {
        let Some(cg) = Cgroup2::open(&Host::live()) else {
            eprintln!("no cgroup2 mount here: the live part of this test did not run");
            return;
        };
        assert!(cg.by_path("/../etc").is_none());
        assert!(cg.by_path("/a/../../etc").is_none());
        assert_eq!(cg.by_path("/").map(|d| d.path), Some("/".to_string()));
    }

    #[test]
    fn the_walk_and_the_handle_find_the_same_cgroup() {
        let host = Host::live();
        let Some(cg) = Cgroup2::open(&host) else {
            eprintln!("no cgroup2 mount here: this test did not run");
            return;
        };
        let mine = crate::process::proc_text(&host, std::process::id() as i32, "cgroup")
            .and_then(|t| crate::process::parse_cgroup_v2_path(&t))
            .expect("our own cgroup v2 path");
        let ino = std::fs::metadata(cg.mount_point().join(mine.trim_start_matches('/')))
            .expect("our cgroup's directory")
            .ino();
        let walked = cg.by_walk(ino).expect("the walk finds our cgroup");
        assert_eq!(
            walked.path.trim_end_matches('/'),
            mine.trim_end_matches('/')
        );
        assert!(
            walked
                .procs()
                .expect("cgroup.procs")
                .contains(&(std::process::id() as i32))
        );
        if nix::unistd::geteuid().is_root() {
            let opened = cg.by_id(ino).expect("open_by_handle_at as root");
            assert_eq!(
                opened.path.trim_end_matches('/'),
                mine.trim_end_matches('/')
            );
        }
        assert_eq!(cg.by_id(u64::MAX - 7).err(), Some(Errno::ENOENT));
    }
}
