//! One process's open files: the wanted socket inodes among the links in `/proc/PID/fd`,
//! read with as few system calls as the kernel allows (the inner loop of the owner
//! lookup, [`super::scan`]).

use std::ffi::CStr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

/// What reading one process's open files gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Probe {
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
pub(crate) fn probe(proc_fd: &OwnedFd, pid: i32, wanted: &[u64], path: &mut Vec<u8>) -> Probe {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
