//! `/proc/PID/stat`: the one parser of it, and the one reader, under a root. A leaf: the
//! live system's signal check (`host`) reads a pid's start time through it, and
//! [`crate::process::stat()`] reads it under a host's root.
//!
//! The `procfs` crate's parser (procfs-core 0.18 `Stat::from_read`) is not used: it
//! slices the line at `(` - 1 and `)` + 2 unchecked, which panics on hostile text (a
//! fixture, a `--root` tree: `") 1 ("`), and it wants the first 37 fields split on single
//! spaces, where hostfix needs six.

use std::path::Path;

use serde::Serialize;

/// The fields of `/proc/PID/stat` hostfix uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcStat {
    /// Process id.
    pub pid: i32,
    /// The command name (field 2, without parentheses; at most 15 bytes).
    pub comm: String,
    /// The state letter: `R`, `S`, `D` (uninterruptible), `Z`, `T`, `t`, `I`, ...
    pub state: char,
    /// Parent process id.
    pub ppid: i32,
    /// Start time in clock ticks since boot (identifies the process with its pid).
    pub start_time: u64,
    /// Flags (`PF_KTHREAD` = 0x00200000 marks kernel threads).
    pub flags: u64,
}

/// `PF_KTHREAD` in `/proc/PID/stat` flags.
pub const PF_KTHREAD: u64 = 0x0020_0000;

impl ProcStat {
    /// Whether this is a kernel thread.
    pub fn is_kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0 || self.pid == 2 || self.ppid == 2
    }
}

/// Parses a `/proc/PID/stat` line. The name may hold spaces and parentheses: it runs
/// from the first `(` to the last `)`.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    // Only a positive pid names one process: 0, -1 or -PGID given to kill(2) reach a
    // process group or every process.
    let pid = text[..open].trim().parse().ok().filter(|p: &i32| *p > 0)?;
    let comm = text.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // rest[0] is field 3 (state); field N is rest[N - 3].
    Some(ProcStat {
        pid,
        comm,
        state: rest.first()?.chars().next()?,
        ppid: rest.get(1)?.parse().ok()?,
        flags: rest.get(6)?.parse().ok()?,
        start_time: rest.get(19)?.parse().ok()?,
    })
}

/// Reads and parses `ROOT/proc/PID/stat`; `None` when the process vanished, the file
/// cannot be read, or it is not a stat line.
pub fn read_under(root: &Path, pid: i32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(root.join(format!("proc/{pid}/stat"))).ok()?;
    parse_stat(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_names() {
        let s = parse_stat(
            "812 (nginx: (master)) S 1 812 812 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 4242 1000 10",
        )
        .unwrap();
        assert_eq!(s.pid, 812);
        assert_eq!(s.comm, "nginx: (master)");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 1);
        assert_eq!(s.start_time, 4242);
        assert!(!s.is_kernel_thread());
        let k =
            parse_stat("17 (kworker/0:1) I 2 0 0 0 -1 69238880 0 0 0 0 0 0 0 0 20 0 1 0 30 0 0")
                .unwrap();
        assert!(k.is_kernel_thread());
        assert!(parse_stat("garbage").is_none());
        assert!(parse_stat("1 (x) S").is_none());
    }

    #[test]
    fn start_time_survives_odd_names() {
        let s = parse_stat(
            "812 (ngi) nx (x)) S 1 812 812 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 4242 1000 10",
        )
        .unwrap();
        assert_eq!((s.comm.as_str(), s.start_time), ("ngi) nx (x)", 4242));
        assert!(parse_stat(") 1 (").is_none());
        assert!(parse_stat("(").is_none());
    }

    #[test]
    fn reads_under_a_root() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("proc/42")).unwrap();
        std::fs::write(
            d.path().join("proc/42/stat"),
            "42 (web) D 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 777 1 1\n",
        )
        .unwrap();
        let s = read_under(d.path(), 42).unwrap();
        assert_eq!((s.pid, s.ppid, s.state, s.start_time), (42, 7, 'D', 777));
        assert_eq!(read_under(d.path(), 43), None);
        let me = std::process::id() as i32;
        assert_eq!(read_under(Path::new("/"), me).map(|s| s.pid), Some(me));
    }
}
