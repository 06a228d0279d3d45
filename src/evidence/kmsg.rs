//! The kernel's ring buffer through `/dev/kmsg`: a pure parser of its records and a
//! reader that never blocks.
//!
//! Each `read(2)` of `/dev/kmsg` returns one record, `PRIO,SEQ,USEC,FLAGS[,...];TEXT`,
//! then continuation lines (` KEY=VALUE`, skipped); unprintable bytes in `TEXT` come
//! escaped as `\xNN`. The file is opened with `O_NONBLOCK` and read until `EAGAIN` (the
//! end of the buffer), so hostfix never waits for the next message; `EPIPE` means records
//! were overwritten while reading (counted, reading goes on). A regular file (a fake
//! root's fixture, or one bind-mounted over `/dev/kmsg`) is read the same way, to its end.
//! As non-root the open or the read fails with `EACCES`/`EPERM` (`dmesg_restrict`); the
//! caller says so and falls back to the journal.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::Instant;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::stat::{Mode, SFlag, fstat, major, minor};

/// One record of the kernel's ring buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// The syslog level (0 emerg .. 7 debug).
    pub level: u8,
    /// The sequence number.
    pub seq: u64,
    /// Microseconds since boot (the monotonic clock) when it was logged.
    pub usec: u64,
    /// The message.
    pub text: &'a str,
}

/// Parses one line of `/dev/kmsg` (pure); `None` for a continuation line (` KEY=VALUE`)
/// or anything that is not a record.
pub fn parse_record(line: &str) -> Option<Record<'_>> {
    if line.starts_with(' ') {
        return None;
    }
    let (head, text) = line.split_once(';')?;
    let mut f = head.split(',');
    let prio: u32 = f.next()?.trim().parse().ok()?;
    let seq = f.next()?.trim().parse().ok()?;
    let usec = f.next()?.trim().parse().ok()?;
    Some(Record {
        level: (prio & 7) as u8,
        seq,
        usec,
        text: text.trim_end_matches(['\n', '\r']),
    })
}

/// Why `/dev/kmsg` could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KmsgError {
    /// It does not exist.
    Missing,
    /// `EACCES`/`EPERM`: not root, or `kernel.dmesg_restrict`, or a container's seccomp.
    Denied(Errno),
    /// It is not the kernel's log device nor a regular file (a link to the console, a FIFO).
    NotKmsg(String),
    /// Any other error.
    Io(Errno),
}

impl std::fmt::Display for KmsgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KmsgError::Missing => f.write_str("it does not exist"),
            KmsgError::Denied(e) => write!(
                f,
                "permission denied ({e}): reading the kernel log needs root (or \
                 kernel.dmesg_restrict=0)"
            ),
            KmsgError::NotKmsg(what) => write!(f, "not the kernel log device: {what}"),
            KmsgError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// How a read of the ring buffer went.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct KmsgStats {
    /// Records read.
    pub records: u64,
    /// Records overwritten by the kernel while reading (`EPIPE`).
    pub lost: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Why reading stopped before the end, if it did (the deadline, the size limit).
    pub stopped: Option<String>,
}

/// Opens `path` without following a link or blocking, and checks it is `/dev/kmsg`
/// (character device 1:11) or a regular file.
fn open_kmsg(path: &Path) -> Result<OwnedFd, KmsgError> {
    let flags = OFlag::O_RDONLY
        | OFlag::O_NONBLOCK
        | OFlag::O_NOFOLLOW
        | OFlag::O_CLOEXEC
        | OFlag::O_NOCTTY;
    let fd = open(path, flags, Mode::empty()).map_err(|e| match e {
        Errno::ENOENT => KmsgError::Missing,
        Errno::EACCES | Errno::EPERM => KmsgError::Denied(e),
        Errno::ELOOP => KmsgError::NotKmsg("a symbolic link".into()),
        e => KmsgError::Io(e),
    })?;
    let st = fstat(&fd).map_err(KmsgError::Io)?;
    let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    if kind == SFlag::S_IFCHR {
        let (ma, mi) = (major(st.st_rdev), minor(st.st_rdev));
        if (ma, mi) != (1, 11) {
            return Err(KmsgError::NotKmsg(format!("character device {ma}:{mi}")));
        }
    } else if kind != SFlag::S_IFREG {
        return Err(KmsgError::NotKmsg(format!("file type {:o}", kind.bits())));
    }
    Ok(fd)
}

/// Reads the ring buffer at `path` (the host's `/dev/kmsg`), handing each complete line
/// to `each`, until its end, `deadline`, or `max_bytes`.
///
/// # Errors
/// [`KmsgError`] when it cannot be opened or the first read fails.
pub fn read(
    path: &Path,
    deadline: Instant,
    max_bytes: u64,
    mut each: impl FnMut(&str),
) -> Result<KmsgStats, KmsgError> {
    let fd = open_kmsg(path)?;
    let mut stats = KmsgStats::default();
    // A record is at most ~8 KiB (the kernel refuses a smaller buffer with EINVAL); a
    // regular file is read in chunks and split into lines.
    let mut buf = vec![0u8; 64 * 1024];
    let mut partial: Vec<u8> = Vec::new();
    loop {
        if Instant::now() >= deadline {
            stats.stopped = Some("its deadline passed".into());
            break;
        }
        if stats.bytes >= max_bytes {
            stats.stopped = Some(format!("{max_bytes} bytes were read"));
            break;
        }
        let n = match nix::unistd::read(&fd, &mut buf) {
            Ok(n) => n,
            Err(e) => match e {
                Errno::EINTR => continue,
                Errno::EPIPE => {
                    stats.lost += 1;
                    continue;
                }
                Errno::EAGAIN => break,
                e @ (Errno::EACCES | Errno::EPERM) if stats.bytes == 0 => {
                    return Err(KmsgError::Denied(e));
                }
                e if stats.bytes == 0 => return Err(KmsgError::Io(e)),
                e => {
                    stats.stopped = Some(format!("a read failed: {e}"));
                    break;
                }
            },
        };
        if n == 0 {
            break;
        }
        stats.bytes += n as u64;
        partial.extend_from_slice(&buf[..n]);
        let mut start = 0;
        while let Some(i) = partial[start..].iter().position(|b| *b == b'\n') {
            let line = &partial[start..start + i];
            if line.first() != Some(&b' ') {
                stats.records += 1;
                each(&String::from_utf8_lossy(line));
            }
            start += i + 1;
        }
        partial.drain(..start);
    }
    if !partial.is_empty() && partial.first() != Some(&b' ') {
        stats.records += 1;
        each(&String::from_utf8_lossy(&partial));
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_parse() {
        let r = parse_record("6,2443,11163925639,-;Adding 16372k swap on /swapfile.\n").unwrap();
        assert_eq!(
            r,
            Record {
                level: 6,
                seq: 2443,
                usec: 11_163_925_639,
                text: "Adding 16372k swap on /swapfile."
            }
        );
        // Facility bits, a caller field, an empty text.
        let r = parse_record("27,7,100,c,caller=T1;x").unwrap();
        assert_eq!((r.level, r.seq, r.usec, r.text), (3, 7, 100, "x"));
        assert_eq!(parse_record(" SUBSYSTEM=pci"), None);
        assert_eq!(parse_record("no record"), None);
        assert_eq!(parse_record("a,b,c;x"), None);
        assert_eq!(parse_record(""), None);
    }

    #[test]
    fn a_regular_file_is_read_in_chunks_and_split_into_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("kmsg");
        let mut text = String::new();
        for i in 0..5000 {
            text.push_str(&format!("6,{i},{},-;line {i}\n SUBSYSTEM=x\n", i * 1000));
        }
        text.push_str("6,5000,1,-;no newline at the end");
        std::fs::write(&p, &text).unwrap();
        let mut seen = Vec::new();
        let far = Instant::now() + std::time::Duration::from_secs(60);
        let st = read(&p, far, u64::MAX, |l| seen.push(l.to_string())).unwrap();
        assert_eq!(st.records, 5001);
        assert_eq!(seen[4999], "6,4999,4999000,-;line 4999");
        assert_eq!(seen[5000], "6,5000,1,-;no newline at the end");
        // The size bound stops it.
        let st = read(&p, far, 10, |_| {}).unwrap();
        assert!(st.stopped.is_some());
    }

    #[test]
    fn links_fifos_and_missing_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let far = Instant::now() + std::time::Duration::from_secs(60);
        let missing = dir.path().join("none");
        assert_eq!(read(&missing, far, 1, |_| {}), Err(KmsgError::Missing));
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/dev/console", &link).unwrap();
        assert!(matches!(
            read(&link, far, 1, |_| {}),
            Err(KmsgError::NotKmsg(_))
        ));
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600)).unwrap();
        // Opened without blocking, then refused.
        assert!(matches!(
            read(&fifo, far, 1, |_| {}),
            Err(KmsgError::NotKmsg(_))
        ));
    }
}
