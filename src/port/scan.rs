//! Socket inode → processes: the walk over `/proc/*/fd`.
//!
//! The cost of finding a port's owners is one `readlink` per open file of every process.
//! The walk here keeps it small:
//!
//! - per process it opens `/proc/PID/fd` and reads the links relative to that directory
//!   into a stack buffer, and nothing else (no `stat`, no `cmdline`: a miss needs none);
//! - it walks the pid list on every core (up to four threads) in ascending pid order,
//!   handing out small chunks;
//! - it stops as soon as every wanted inode has been seen, then completes the owners of
//!   an inherited socket (an nginx master's workers, a service's other processes) by
//!   checking the holders' relatives only: their parent chain while it holds the socket,
//!   their descendants (`/proc/PID/task/TID/children`) and the other processes of a
//!   service's cgroup. An exhaustive walk (`exhaustive: true`) checks every process.
//!
//! Processes that exit mid-walk are counted as vanished and skipped; those whose fds
//! cannot be read (another user's, when not root) are counted as denied.

use std::collections::{BTreeMap, HashSet};
use std::ffi::CStr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use serde::Serialize;

use crate::host::Host;
use crate::process;

/// How the walk went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScanStats {
    /// Processes whose open files were read.
    pub processes: usize,
    /// Processes whose open files could not be read (permission denied).
    pub denied: usize,
    /// Processes that exited while the walk ran.
    pub vanished: usize,
    /// Whether the walk stopped before the last process because every wanted socket was
    /// found.
    pub stopped_early: bool,
    /// Relatives of the holders checked after an early stop.
    pub relatives_checked: usize,
    /// Threads that walked.
    pub threads: usize,
}

/// What the walk found: each holding process and the wanted inodes it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FdScan {
    /// pid → the wanted socket inodes among its open files.
    pub holders: BTreeMap<i32, Vec<u64>>,
    /// How the walk went.
    pub stats: ScanStats,
}

/// What reading one process's open files gave.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Probe {
    Holds(Vec<u64>),
    Miss,
    Denied,
    Vanished,
}

/// The inode in a `socket:[INODE]` link target.
pub fn socket_inode(link: &[u8]) -> Option<u64> {
    let digits = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, d| {
        d.is_ascii_digit()
            .then(|| acc.checked_mul(10)?.checked_add(u64::from(d - b'0')))
            .flatten()
    })
}

/// `readlinkat(2)` into a stack buffer; `None` when the link is gone.
fn readlink_at<'b>(dirfd: RawFd, name: &CStr, buf: &'b mut [u8; 64]) -> Option<&'b [u8]> {
    // SAFETY: the caller keeps `dirfd` open for the call, `name` is NUL-terminated, and
    // `buf` is valid for `buf.len()` bytes, of which readlinkat writes at most that many
    // and returns how many (or -1).
    let n = unsafe { libc::readlinkat(dirfd, name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    usize::try_from(n).ok().map(|n| &buf[..n.min(buf.len())])
}

/// `getdents64(2)` into `buf`: how many bytes of `linux_dirent64` records it wrote.
fn getdents(dirfd: RawFd, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is valid for `buf.len()` bytes, of which the kernel writes at most
    // that many (whole records) and returns how many, or -1; the fd is the caller's.
    let n = unsafe { libc::syscall(libc::SYS_getdents64, dirfd, buf.as_mut_ptr(), buf.len()) };
    usize::try_from(n).map_err(|_| Errno::last())
}

/// The names in a buffer of `linux_dirent64` records (`d_ino` u64, `d_off` i64,
/// `d_reclen` u16, `d_type` u8, `d_name` NUL-terminated), skipping `.` and `..`.
pub(crate) fn dirent_names(buf: &[u8]) -> impl Iterator<Item = &CStr> {
    let mut off = 0;
    std::iter::from_fn(move || {
        loop {
            let reclen = u16::from_ne_bytes(buf.get(off + 16..off + 18)?.try_into().ok()?) as usize;
            if reclen < 20 || off + reclen > buf.len() {
                return None;
            }
            let name = CStr::from_bytes_until_nul(&buf[off + 19..off + reclen]).ok();
            off += reclen;
            match name {
                Some(n) if n.to_bytes().first() != Some(&b'.') => return Some(n),
                _ => continue,
            }
        }
    })
}

/// `PID/fd` into `path` (no allocation).
fn fd_dir_path(pid: i32, path: &mut Vec<u8>) {
    path.clear();
    let mut digits = [0u8; 12];
    let mut n = pid.unsigned_abs();
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    path.extend_from_slice(&digits[i..]);
    path.extend_from_slice(b"/fd");
}

/// The longest `linux_dirent64` record of an fd directory: 19 bytes of header, a name of
/// at most 10 digits and its NUL, aligned to 8.
const FD_DIRENT_MAX: usize = 32;

/// Reads the open files of one process (relative to an open `/proc`) and returns the
/// wanted inodes among them.
fn probe(proc_fd: &OwnedFd, pid: i32, wanted: &[u64], path: &mut Vec<u8>) -> Probe {
    fd_dir_path(pid, path);
    let dir = match nix::fcntl::openat(
        proc_fd,
        &path[..],
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::EACCES | Errno::EPERM) => return Probe::Denied,
        Err(_) => return Probe::Vanished,
    };
    let dirfd = dir.as_raw_fd();
    let mut names: Vec<u64> = Vec::new();
    let mut link = [0u8; 64];
    let mut ents = [0u8; 4096];
    loop {
        let n = match getdents(dirfd, &mut ents) {
            Ok(0) => break,
            Ok(n) => n,
            // The process exited while its fd directory was read.
            Err(_) if names.is_empty() => return Probe::Vanished,
            Err(_) => break,
        };
        for name in dirent_names(&ents[..n]) {
            if let Some(ino) = readlink_at(dirfd, name, &mut link).and_then(socket_inode) {
                if wanted.contains(&ino) && !names.contains(&ino) {
                    names.push(ino);
                }
            }
        }
        // procfs fills the buffer while entries fit: room for one more record means
        // there was none, and the call that would return 0 can be saved.
        if n + FD_DIRENT_MAX <= ents.len() {
            break;
        }
    }
    if names.is_empty() {
        Probe::Miss
    } else {
        Probe::Holds(names)
    }
}

/// Every pid in `/proc`, ascending (the order the kernel lists them; a fake root's
/// directory may list them in another).
fn list_pids(host: &Host) -> Vec<i32> {
    let mut v = process::pids(host);
    v.sort_unstable();
    v
}

#[derive(Default)]
struct Local {
    holders: Vec<(i32, Vec<u64>)>,
    checked: Vec<i32>,
    processes: usize,
    denied: usize,
    vanished: usize,
}

impl Local {
    fn count(&mut self, pid: i32, p: Probe) -> Option<Vec<u64>> {
        self.checked.push(pid);
        match p {
            Probe::Holds(v) => {
                self.processes += 1;
                self.holders.push((pid, v.clone()));
                Some(v)
            }
            Probe::Miss => {
                self.processes += 1;
                None
            }
            Probe::Denied => {
                self.denied += 1;
                None
            }
            Probe::Vanished => {
                self.vanished += 1;
                None
            }
        }
    }
}

/// Finds the processes holding the `wanted` socket inodes.
///
/// Never fails: processes that vanish or deny access are counted in the stats.
pub fn scan_fds(host: &Host, wanted: &[u64], exhaustive: bool) -> FdScan {
    let mut out = FdScan::default();
    if wanted.is_empty() {
        return out;
    }
    let proc_path = host.path("/proc");
    let proc_fd = match nix::fcntl::open(
        &proc_path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => {
            log::warn!("port: cannot open {}: {e}", proc_path.display());
            return out;
        }
    };
    let pids = list_pids(host);
    let threads = if pids.len() < 256 {
        1
    } else {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 4)
    };
    const CHUNK: usize = 8;
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let found: Mutex<Vec<u64>> = Mutex::new(Vec::new());
    let walk = || {
        let mut local = Local::default();
        let mut path = Vec::with_capacity(24);
        while !stop.load(Ordering::Relaxed) {
            let start = next.fetch_add(CHUNK, Ordering::Relaxed);
            if start >= pids.len() {
                break;
            }
            for &pid in &pids[start..(start + CHUNK).min(pids.len())] {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let Some(inodes) = local.count(pid, probe(&proc_fd, pid, wanted, &mut path)) else {
                    continue;
                };
                if exhaustive {
                    continue;
                }
                let mut f = found
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for i in inodes {
                    if !f.contains(&i) {
                        f.push(i);
                    }
                }
                if f.len() >= wanted.len() {
                    stop.store(true, Ordering::Relaxed);
                }
            }
        }
        local
    };
    let locals: Vec<Local> = if threads == 1 {
        vec![walk()]
    } else {
        std::thread::scope(|s| {
            // This thread walks too.
            let handles: Vec<_> = (1..threads).map(|_| s.spawn(walk)).collect();
            let mut v = vec![walk()];
            v.extend(handles.into_iter().filter_map(|h| h.join().ok()));
            v
        })
    };
    let mut checked: HashSet<i32> = HashSet::new();
    for l in locals {
        out.stats.processes += l.processes;
        out.stats.denied += l.denied;
        out.stats.vanished += l.vanished;
        checked.extend(l.checked);
        for (pid, inodes) in l.holders {
            out.holders.insert(pid, inodes);
        }
    }
    out.stats.threads = threads;
    out.stats.stopped_early = checked.len() < pids.len();
    if out.stats.stopped_early {
        complete_relatives(host, &proc_fd, wanted, &mut out, &mut checked);
    }
    log::debug!(
        "port: fd walk: {} holders, {:?}",
        out.holders.len(),
        out.stats
    );
    out
}

/// The other processes of a system service's cgroup.
fn cgroup_peers(host: &Host, pid: i32) -> Vec<i32> {
    let Some(cg) = process::cgroup(host, pid) else {
        return Vec::new();
    };
    if !process::unit_from_cgroup(&cg).is_some_and(|u| u.ends_with(".service")) {
        return Vec::new();
    }
    for base in ["/sys/fs/cgroup", "/sys/fs/cgroup/systemd"] {
        let p = host.path(format!("{base}{cg}/cgroup.procs"));
        if let Ok(text) = std::fs::read_to_string(p) {
            return text
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .take(4096)
                .collect();
        }
    }
    Vec::new()
}

/// After an early stop: checks the relatives of every holder, which is where the other
/// holders of an inherited socket live.
fn complete_relatives(
    host: &Host,
    proc_fd: &OwnedFd,
    wanted: &[u64],
    out: &mut FdScan,
    checked: &mut HashSet<i32>,
) {
    let mut path = Vec::new();
    let mut check = |pid: i32, out: &mut FdScan, checked: &mut HashSet<i32>| -> bool {
        if !checked.insert(pid) {
            return out.holders.contains_key(&pid);
        }
        out.stats.relatives_checked += 1;
        match probe(proc_fd, pid, wanted, &mut path) {
            Probe::Holds(v) => {
                out.holders.insert(pid, v);
                true
            }
            Probe::Miss => false,
            Probe::Denied => {
                out.stats.denied += 1;
                false
            }
            Probe::Vanished => {
                out.stats.vanished += 1;
                false
            }
        }
    };
    let mut ppid_map: Option<BTreeMap<i32, Vec<i32>>> = None;
    let mut queue: Vec<i32> = out.holders.keys().copied().filter(|&p| p > 1).collect();
    let mut expanded: HashSet<i32> = HashSet::new();
    while let Some(pid) = queue.pop() {
        if !expanded.insert(pid) {
            continue;
        }
        // Up: the parent chain, while it holds the socket too (stop below PID 1).
        let mut top = pid;
        while let Some(parent) = parent_of(host, top) {
            if parent <= 1 || !check(parent, out, checked) {
                break;
            }
            top = parent;
            queue.push(parent);
        }
        // Down: every descendant of the topmost holder.
        let mut stack = vec![top];
        while let Some(p) = stack.pop() {
            let kids = match process::children(host, p) {
                Some(k) => k,
                None => ppid_map
                    .get_or_insert_with(|| process::children_by_parent(host))
                    .get(&p)
                    .cloned()
                    .unwrap_or_default(),
            };
            for k in kids {
                if check(k, out, checked) {
                    queue.push(k);
                }
                stack.push(k);
            }
        }
        // Sideways: the other processes of the same service.
        for peer in cgroup_peers(host, pid) {
            if peer > 1 && check(peer, out, checked) {
                queue.push(peer);
            }
        }
    }
}

/// The parent pid from `/proc/PID/stat`.
fn parent_of(host: &Host, pid: i32) -> Option<i32> {
    process::stat(host, pid).map(|s| s.ppid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn fd_dir_paths() {
        let mut p = Vec::new();
        fd_dir_path(0, &mut p);
        assert_eq!(p, b"0/fd");
        fd_dir_path(4_194_304, &mut p);
        assert_eq!(p, b"4194304/fd");
    }

    #[test]
    fn socket_links() {
        assert_eq!(socket_inode(b"socket:[12345]"), Some(12345));
        assert_eq!(socket_inode(b"socket:[]"), None);
        assert_eq!(socket_inode(b"pipe:[12345]"), None);
        assert_eq!(socket_inode(b"/dev/null"), None);
        assert_eq!(socket_inode(b"socket:[99999999999999999999999]"), None);
    }

    #[test]
    fn own_socket_is_found_live() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let fd = l.as_raw_fd();
        let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
        let ino = socket_inode(link.as_os_str().as_bytes()).unwrap();
        let host = Host::live();
        let me = std::process::id() as i32;
        for exhaustive in [false, true] {
            let s = scan_fds(&host, &[ino], exhaustive);
            assert_eq!(s.holders.get(&me), Some(&vec![ino]), "{s:?}");
            assert!(s.stats.processes > 0);
        }
    }
}
