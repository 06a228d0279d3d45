//! What the kernel's log says happened (pure): OOM kills, hung tasks, filesystem and
//! I/O errors. Lines are fed one at a time ([`Scanner::push`]) from `/dev/kmsg` or the
//! journal and only the events are kept, the latest [`Scanner::new`]'s `keep` of each
//! kind (with a total count), so a log of any size reads in bounded memory.
//!
//! The OOM killer's words changed over kernel versions; all of these are read:
//! - `Out of memory: Kill process N (NAME) score S or sacrifice child` then `Killed
//!   process N (NAME) total-vm:...` (up to 4.19; RHEL 7 writes `Killed process N (NAME),
//!   UID U, total-vm:...`); a cgroup v1 limit adds `Task in /A killed as a result of
//!   limit of /B` and says `Memory cgroup out of memory: Kill process ...`;
//! - `Out of memory: Killed process N (NAME) total-vm:..., UID:U pgtables:...` and
//!   `Memory cgroup out of memory: Killed process ...` (4.19+), after the summary
//!   `oom-kill:constraint=C,nodemask=...,cpuset=...,mems_allowed=...,oom_memcg=/B,
//!   task_memcg=/A,task=NAME,pid=N,uid=U` (`global_oom` instead of `oom_memcg=` for a
//!   host-wide OOM). Early 4.19 kernels split that summary at `,oom_memcg=`/`,global_oom`
//!   into two records; they are joined again here.

mod lines;

use serde::Serialize;

use lines::pid_and_name;
pub use lines::{
    Killed, Summary, parse_fs_error, parse_hung, parse_invoked, parse_killed, parse_summary,
    parse_task_in,
};

use super::text;

/// When a kernel message was logged.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct When {
    /// Its sequence number in the ring buffer (`/dev/kmsg` only).
    pub seq: Option<u64>,
    /// Seconds since boot (`/dev/kmsg` only).
    pub since_boot: Option<f64>,
    /// The wall-clock time (UTC from `/dev/kmsg` and the boot time; the journal's own
    /// timestamp otherwise).
    pub time: Option<String>,
}

impl When {
    /// `2024-05-01T10:00:00Z`, or `1234.5 s after boot`, or `?`.
    pub fn show(&self) -> String {
        match (&self.time, self.since_boot) {
            (Some(t), _) => t.clone(),
            (None, Some(s)) => format!("{s:.1} s after boot"),
            (None, None) => "?".into(),
        }
    }
}

/// Where a line sits in its log: cheap to pass for every line; turned into a [`When`] only
/// for the lines that make an event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct At<'a> {
    /// The ring buffer's sequence number.
    pub seq: Option<u64>,
    /// Microseconds since boot.
    pub usec: Option<u64>,
    /// The journal's timestamp text.
    pub wall: Option<&'a str>,
}

/// A process the OOM killer killed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OomKill {
    /// Its pid.
    pub pid: i32,
    /// Its name (`comm`).
    pub name: String,
    /// Its memory cgroup (`task_memcg=`, or cgroup v1's `Task in A`), when the log names it.
    pub cgroup: Option<String>,
    /// The cgroup whose limit was hit (`oom_memcg=`, or `limit of B`); `None` for a
    /// host-wide OOM or when the log does not say.
    pub limit_cgroup: Option<String>,
    /// Whether the whole host ran out of memory (`Out of memory:`, `global_oom`) rather
    /// than a cgroup its limit; `None` when the log does not say.
    pub host_wide: Option<bool>,
    /// `constraint=` (`CONSTRAINT_NONE`, `CONSTRAINT_MEMCG`, ...).
    pub constraint: Option<String>,
    /// Its uid.
    pub uid: Option<u32>,
    /// Its anonymous memory when killed (KiB).
    pub anon_rss_kb: Option<u64>,
    /// Its virtual size when killed (KiB).
    pub total_vm_kb: Option<u64>,
    /// The process whose allocation invoked the OOM killer.
    pub invoked_by: Option<String>,
    /// When.
    pub when: When,
    /// The log lines that prove it.
    pub lines: Vec<String>,
}

/// A task the kernel reported blocked (state `D`) for too long.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HungTask {
    /// Its name.
    pub name: String,
    /// Its pid.
    pub pid: i32,
    /// How long it had been blocked (s).
    pub seconds: u64,
    /// When.
    pub when: When,
    /// The line.
    pub line: String,
}

/// A filesystem or block-device error, or a full filesystem.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FsError {
    /// `ext4`, `xfs`, `btrfs`, `jbd2`, `io` (block layer), `no-space`.
    pub kind: String,
    /// The device named, when one is.
    pub device: Option<String>,
    /// When.
    pub when: When,
    /// The line.
    pub line: String,
}

/// What the kernel log held.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KernelEvents {
    /// Lines read.
    pub lines: u64,
    /// The latest OOM kills.
    pub oom_kills: Vec<OomKill>,
    /// All OOM kills seen.
    pub oom_kills_total: u64,
    /// The latest hung-task reports.
    pub hung_tasks: Vec<HungTask>,
    /// All hung-task reports seen.
    pub hung_tasks_total: u64,
    /// The latest filesystem and I/O errors.
    pub fs_errors: Vec<FsError>,
    /// All filesystem and I/O errors seen.
    pub fs_errors_total: u64,
}

/// The OOM episode being read: from `invoked oom-killer` to the next one.
#[derive(Debug, Default)]
struct Episode {
    invoked_by: Option<String>,
    summary: Option<Summary>,
    task_in: Option<(String, String)>,
    /// Whether the old `... Kill process N (NAME) score S or sacrifice child` line that
    /// chose the victim said `Memory cgroup out of memory`.
    chosen_in_memcg: Option<bool>,
    lines: Vec<String>,
}

/// Reads kernel log lines one at a time and keeps the events.
#[derive(Debug)]
pub struct Scanner {
    keep: usize,
    boot_epoch: Option<f64>,
    events: KernelEvents,
    episode: Episode,
}

/// The most lines kept as the proof of one OOM kill (a log repeating a summary line
/// without end must not grow memory).
const EPISODE_LINES: usize = 8;

/// The words worth a closer look; any other line is passed over at once.
const KEYS: [&str; 13] = [
    "oom",
    "Out of memory",
    "out of memory",
    "Killed process",
    "Task in ",
    "blocked for more than",
    "EXT",
    "XFS",
    "BTRFS",
    "Aborting journal",
    "I/O error",
    "medium error",
    "No space left",
];

impl Scanner {
    /// A scanner keeping the latest `keep` events of each kind; `boot_epoch` (seconds
    /// since the epoch at boot) turns ring-buffer times into wall-clock times.
    pub fn new(keep: usize, boot_epoch: Option<f64>) -> Self {
        Scanner {
            keep: keep.max(1),
            boot_epoch,
            events: KernelEvents::default(),
            episode: Episode::default(),
        }
    }

    fn when(&self, at: At<'_>) -> When {
        let since_boot = at.usec.map(|u| u as f64 / 1e6);
        let time = match (at.wall, since_boot, self.boot_epoch) {
            (Some(w), _, _) => Some(w.to_string()),
            (None, Some(s), Some(b)) if b + s >= 0.0 => {
                Some(crate::reboot::ledger::format_utc((b + s) as u64))
            }
            _ => None,
        };
        When {
            seq: at.seq,
            since_boot,
            time,
        }
    }

    fn proof_line(&self, at: At<'_>, text: &str) -> String {
        text::line(&format!("[{}] {text}", self.when(at).show()))
    }

    /// Reads one line's message.
    pub fn push(&mut self, at: At<'_>, text: &str) {
        self.events.lines += 1;
        if !KEYS.iter().any(|k| text.contains(k)) || self.oom_line(at, text) {
            return;
        }
        if let Some((name, pid, seconds)) = parse_hung(text) {
            self.events.hung_tasks_total += 1;
            let h = HungTask {
                name: text::clean(&name, 64),
                pid,
                seconds,
                when: self.when(at),
                line: self.proof_line(at, text),
            };
            push_bounded(&mut self.events.hung_tasks, h, self.keep);
        } else if let Some((kind, device)) = parse_fs_error(text) {
            self.events.fs_errors_total += 1;
            let e = FsError {
                kind: kind.to_string(),
                device: device.map(|d| text::clean(&d, 64)),
                when: self.when(at),
                line: self.proof_line(at, text),
            };
            push_bounded(&mut self.events.fs_errors, e, self.keep);
        }
    }

    /// Reads a line of an OOM episode; false when it is none.
    fn oom_line(&mut self, at: At<'_>, text: &str) -> bool {
        if let Some(who) = parse_invoked(text) {
            self.episode = Episode {
                invoked_by: Some(text::clean(who, 64)),
                ..Episode::default()
            };
        } else if let Some(s) = parse_summary(text) {
            self.summary(s);
        } else if let Some(t) = parse_task_in(text) {
            self.episode.task_in = Some(t);
        } else if text.contains("Kill process ") && text.contains("sacrifice child") {
            self.episode.chosen_in_memcg = Some(text.starts_with("Memory cgroup out of memory"));
        } else if let Some(k) = parse_killed(text) {
            self.killed(at, text, k);
            return true;
        } else if let Some(rest) = text.strip_prefix("oom_reaper: reaped process ") {
            let l = self.proof_line(at, text);
            let pid = pid_and_name(rest).map(|p| p.0);
            let last = self.events.oom_kills.last_mut();
            if let Some(last) =
                last.filter(|k| Some(k.pid) == pid && k.lines.len() <= EPISODE_LINES)
            {
                last.lines.push(l);
            }
            return true;
        } else {
            return false;
        }
        if self.episode.lines.len() < EPISODE_LINES {
            let l = self.proof_line(at, text);
            self.episode.lines.push(l);
        }
        true
    }

    fn summary(&mut self, s: Summary) {
        match &mut self.episode.summary {
            // The second half of a summary split in two records.
            Some(first) if first.task.is_none() && s.constraint.is_none() => {
                first.limit_cgroup = s.limit_cgroup;
                first.global |= s.global;
                first.cgroup = s.cgroup;
                first.task = s.task;
                first.pid = s.pid;
                first.uid = s.uid;
            }
            _ => self.episode.summary = Some(s),
        }
    }

    fn killed(&mut self, at: At<'_>, text: &str, k: Killed) {
        self.events.oom_kills_total += 1;
        let ep = &self.episode;
        let sum = ep.summary.as_ref();
        // The summary names its victim; the other members of an OOM group killed with it
        // share only the limit.
        let own = sum.filter(|s| s.pid == Some(k.pid));
        let cgroup = own
            .and_then(|s| s.cgroup.clone())
            .or_else(|| ep.task_in.as_ref().map(|t| t.0.clone()));
        let limit_cgroup = sum
            .and_then(|s| s.limit_cgroup.clone())
            .or_else(|| ep.task_in.as_ref().map(|t| t.1.clone()));
        let host_wide = match (k.memcg.or(ep.chosen_in_memcg), sum) {
            (Some(m), _) => Some(!m),
            (None, Some(s)) => Some(s.global),
            (None, None) => ep.task_in.as_ref().map(|_| false),
        };
        let mut lines = ep.lines.clone();
        lines.push(self.proof_line(at, text));
        let kill = OomKill {
            pid: k.pid,
            name: text::clean(&k.name, 64),
            cgroup: cgroup.map(|c| text::clean(&c, 256)),
            limit_cgroup: limit_cgroup.map(|c| text::clean(&c, 256)),
            host_wide,
            constraint: sum.and_then(|s| s.constraint.clone()),
            uid: k.uid.or(own.and_then(|s| s.uid)),
            anon_rss_kb: k.anon_rss_kb,
            total_vm_kb: k.total_vm_kb,
            invoked_by: ep.invoked_by.clone(),
            when: self.when(at),
            lines,
        };
        push_bounded(&mut self.events.oom_kills, kill, self.keep);
    }

    /// The events read.
    pub fn finish(self) -> KernelEvents {
        self.events
    }
}

fn push_bounded<T>(v: &mut Vec<T>, item: T, keep: usize) {
    if v.len() >= keep {
        v.remove(0);
    }
    v.push(item);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_episode_joins_the_summary_split_in_two_records() {
        let mut s = Scanner::new(10, Some(1_700_000_000.0));
        let at = |seq: u64| At {
            seq: Some(seq),
            usec: Some(seq * 1_000_000),
            wall: None,
        };
        s.push(
            at(1),
            "stress invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
        );
        s.push(
            at(2),
            "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0",
        );
        s.push(
            at(3),
            ",oom_memcg=/t,task_memcg=/t/leaf,task=stress,pid=77,uid=0",
        );
        s.push(
            at(4),
            "Memory cgroup out of memory: Killed process 77 (stress) total-vm:9kB, anon-rss:8kB",
        );
        s.push(
            at(5),
            "oom_reaper: reaped process 77 (stress), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB",
        );
        let e = s.finish();
        assert_eq!(e.oom_kills_total, 1);
        let k = &e.oom_kills[0];
        assert_eq!(k.cgroup.as_deref(), Some("/t/leaf"));
        assert_eq!(k.limit_cgroup.as_deref(), Some("/t"));
        assert_eq!(k.host_wide, Some(false));
        assert_eq!(k.invoked_by.as_deref(), Some("stress"));
        assert_eq!(k.when.time.as_deref(), Some("2023-11-14T22:13:24Z"));
        assert_eq!(k.lines.len(), 5);
        assert!(k.lines[4].contains("oom_reaper"));
    }

    #[test]
    fn a_log_repeating_itself_does_not_grow_memory() {
        let mut s = Scanner::new(3, None);
        let at = At::default();
        s.push(
            at,
            "x invoked oom-killer: gfp_mask=0x0, order=0, oom_score_adj=0",
        );
        for _ in 0..100_000 {
            s.push(
                at,
                "oom-kill:constraint=CONSTRAINT_NONE,global_oom,task_memcg=/,task=x,pid=1,uid=0",
            );
        }
        for i in 0..1000 {
            s.push(
                at,
                &format!("Out of memory: Killed process {i} (x) total-vm:1kB"),
            );
            s.push(
                at,
                &format!("oom_reaper: reaped process {i} (x), now anon-rss:0kB"),
            );
            s.push(
                at,
                &format!("oom_reaper: reaped process {i} (x), now anon-rss:0kB"),
            );
        }
        let e = s.finish();
        assert_eq!(e.oom_kills_total, 1000);
        assert_eq!(e.oom_kills.len(), 3);
        assert!(
            e.oom_kills
                .iter()
                .all(|k| k.lines.len() <= EPISODE_LINES + 2)
        );
        assert_eq!(e.oom_kills[2].pid, 999);
    }
}
