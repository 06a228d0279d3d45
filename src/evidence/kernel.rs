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

use serde::Serialize;

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

/// The `oom-kill:` summary line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// `constraint=`.
    pub constraint: Option<String>,
    /// `oom_memcg=`.
    pub limit_cgroup: Option<String>,
    /// `global_oom`.
    pub global: bool,
    /// `task_memcg=`.
    pub cgroup: Option<String>,
    /// `task=`.
    pub task: Option<String>,
    /// `pid=`.
    pub pid: Option<i32>,
    /// `uid=`.
    pub uid: Option<u32>,
}

/// Parses the `oom-kill:` summary, or the second half of one split in two records
/// (`,oom_memcg=...` / `,global_oom...`) (pure).
pub fn parse_summary(text: &str) -> Option<Summary> {
    let body = text
        .strip_prefix("oom-kill:")
        .or_else(|| text.starts_with(",oom_memcg=").then_some(text))
        .or_else(|| text.starts_with(",global_oom").then_some(text))?;
    let mut s = Summary::default();
    // `task=` is the comm (any characters): take `uid=` and `pid=` from the end first.
    let mut rest = body;
    if let Some((r, uid)) = rest.rsplit_once(",uid=") {
        s.uid = uid.trim().parse().ok();
        rest = r;
    }
    if let Some((r, pid)) = rest.rsplit_once(",pid=") {
        s.pid = pid.trim().parse().ok();
        rest = r;
    }
    if let Some((r, task)) = rest.rsplit_once(",task=") {
        s.task = Some(task.to_string());
        rest = r;
    }
    if let Some((r, memcg)) = rest.rsplit_once(",task_memcg=") {
        s.cgroup = Some(memcg.to_string());
        rest = r;
    }
    if let Some((r, memcg)) = rest.rsplit_once(",oom_memcg=") {
        s.limit_cgroup = Some(memcg.to_string());
        rest = r;
    }
    s.global = rest.split(',').any(|f| f == "global_oom");
    s.constraint = rest
        .split(',')
        .find_map(|f| f.strip_prefix("constraint="))
        .map(str::to_string);
    Some(s)
}

/// A `Killed process` line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Killed {
    /// The pid.
    pub pid: i32,
    /// The name.
    pub name: String,
    /// `Some(true)` after `Memory cgroup out of memory:`, `Some(false)` after `Out of
    /// memory:`, `None` for a bare `Killed process` line.
    pub memcg: Option<bool>,
    /// `UID:U` or `UID U`.
    pub uid: Option<u32>,
    /// `anon-rss:NkB`.
    pub anon_rss_kb: Option<u64>,
    /// `total-vm:NkB`.
    pub total_vm_kb: Option<u64>,
}

/// What follows a process's `(NAME)` in the OOM killer's lines.
const AFTER_NAME: [&str; 6] = [" total-vm", " vsz", " score", " UID", ",", "."];

/// `N (NAME)` at the start of `s`, and what follows; NAME may hold spaces and
/// parentheses: it ends at the first `)` followed by the end of the line or by what the
/// kernel writes after it ([`AFTER_NAME`]).
fn pid_and_name(s: &str) -> Option<(i32, &str, &str)> {
    let (pid, rest) = s.split_once(' ')?;
    let pid: i32 = pid.parse().ok()?;
    let rest = rest.strip_prefix('(')?;
    let end = rest.char_indices().find_map(|(i, c)| {
        let after = &rest[i + 1..];
        (c == ')' && (after.is_empty() || AFTER_NAME.iter().any(|a| after.starts_with(a))))
            .then_some(i)
    })?;
    Some((pid, &rest[..end], &rest[end + 1..]))
}

fn kb_field(rest: &str, key: &str) -> Option<u64> {
    let v = &rest[rest.find(key)? + key.len()..];
    let digits = v.bytes().take_while(u8::is_ascii_digit).count();
    v[..digits].parse().ok()
}

/// Parses a `... Killed process N (NAME) ...` line (pure); `None` for anything else
/// (the old `Kill process N (NAME) score S or sacrifice child` only names the choice).
pub fn parse_killed(text: &str) -> Option<Killed> {
    let at = text.find("Killed process ")?;
    let prefix = &text[..at];
    let memcg = if prefix.starts_with("Memory cgroup out of memory") {
        Some(true)
    } else if prefix.to_ascii_lowercase().starts_with("out of memory") {
        Some(false)
    } else if prefix.is_empty() {
        None
    } else {
        return None;
    };
    let (pid, name, rest) = pid_and_name(&text[at + "Killed process ".len()..])?;
    let uid = rest.find("UID").and_then(|i| {
        let v = rest[i + 3..].trim_start_matches([':', ' ']);
        let d = v.bytes().take_while(u8::is_ascii_digit).count();
        v[..d].parse().ok()
    });
    Some(Killed {
        pid,
        name: name.to_string(),
        memcg,
        uid,
        anon_rss_kb: kb_field(rest, "anon-rss:"),
        total_vm_kb: kb_field(rest, "total-vm:"),
    })
}

/// `Task in /A killed as a result of limit of /B` (cgroup v1, before 4.19) → (A, B).
pub fn parse_task_in(text: &str) -> Option<(String, String)> {
    let rest = text.strip_prefix("Task in ")?;
    let (task, limit) = rest.split_once(" killed as a result of limit of ")?;
    Some((task.to_string(), limit.trim().to_string()))
}

/// `NAME invoked oom-killer: ...` → NAME.
pub fn parse_invoked(text: &str) -> Option<&str> {
    text.split_once(" invoked oom-killer:").map(|(n, _)| n)
}

/// `INFO: task NAME:PID blocked for more than N seconds.` → (NAME, PID, N) (pure; NAME
/// may hold `:`, as `kworker/u8:2` does).
pub fn parse_hung(text: &str) -> Option<(String, i32, u64)> {
    let at = text.find("task ")?;
    if !text[..at].trim().is_empty() && !text[..at].trim_end().ends_with("INFO:") {
        return None;
    }
    let (who, rest) = text[at + 5..].split_once(" blocked for more than ")?;
    let (name, pid) = who.rsplit_once(':')?;
    let secs = rest.split_whitespace().next()?.parse().ok()?;
    Some((name.to_string(), pid.parse().ok()?, secs))
}

fn device_in(text: &str, open: &str) -> Option<String> {
    let rest = &text[text.find(open)? + open.len()..];
    let end = rest.find([')', ',', ' ', ':'])?;
    (end > 0).then(|| rest[..end].to_string())
}

/// A filesystem or block-layer error line → (kind, device) (pure).
pub fn parse_fs_error(text: &str) -> Option<(&'static str, Option<String>)> {
    let lower = text.to_ascii_lowercase();
    if text.starts_with("EXT4-fs") || text.starts_with("EXT3-fs") || text.starts_with("EXT2-fs") {
        let bad = [
            "error",
            "remounting filesystem read-only",
            "index full",
            "abort",
        ];
        if bad.iter().any(|b| lower.contains(b)) {
            let dev = device_in(text, "(device ").or_else(|| device_in(text, "-fs ("));
            return Some(("ext4", dev));
        }
        return None;
    }
    if let Some(rest) = text.strip_prefix("XFS (") {
        let bad = ["error", "corrupt", "shut", "metadata i/o"];
        if bad.iter().any(|b| lower.contains(b)) {
            return Some(("xfs", rest.split(')').next().map(str::to_string)));
        }
        return None;
    }
    if text.starts_with("BTRFS") && (lower.contains("error") || lower.contains("corrupt")) {
        return Some(("btrfs", device_in(text, "(device ")));
    }
    if text.starts_with("Aborting journal on device ") {
        return Some((
            "jbd2",
            text.split_whitespace()
                .nth(4)
                .map(|d| d.trim_end_matches('.').to_string()),
        ));
    }
    if text.starts_with("Buffer I/O error on dev") {
        return Some(("io", device_in(text, "on dev ")));
    }
    if lower.contains("i/o error, dev ") || lower.contains("critical medium error, dev ") {
        return Some(("io", device_in(text, "dev ")));
    }
    if lower.contains("no space left on device") {
        return Some(("no-space", None));
    }
    None
}

/// The OOM episode being read: from `invoked oom-killer` to the next one.
#[derive(Debug, Default)]
struct Episode {
    invoked_by: Option<String>,
    summary: Option<Summary>,
    task_in: Option<(String, String)>,
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
        if !KEYS.iter().any(|k| text.contains(k)) {
            return;
        }
        if let Some(who) = parse_invoked(text) {
            self.episode = Episode {
                invoked_by: Some(text::clean(who, 64)),
                ..Episode::default()
            };
            let l = self.proof_line(at, text);
            self.episode.lines.push(l);
        } else if let Some(s) = parse_summary(text) {
            self.summary(s);
            let l = self.proof_line(at, text);
            self.episode.lines.push(l);
        } else if let Some(t) = parse_task_in(text) {
            self.episode.task_in = Some(t);
            let l = self.proof_line(at, text);
            self.episode.lines.push(l);
        } else if text.contains("Kill process ") && text.contains("sacrifice child") {
            let l = self.proof_line(at, text);
            self.episode.lines.push(l);
        } else if let Some(k) = parse_killed(text) {
            self.killed(at, text, k);
        } else if text.starts_with("oom_reaper: reaped process ") {
            let l = self.proof_line(at, text);
            let pid = pid_and_name(&text["oom_reaper: reaped process ".len()..]).map(|p| p.0);
            if let Some(last) = self
                .events
                .oom_kills
                .last_mut()
                .filter(|k| Some(k.pid) == pid)
            {
                last.lines.push(l);
            }
        } else if let Some((name, pid, seconds)) = parse_hung(text) {
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
        let host_wide = match (k.memcg, sum) {
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
    fn summaries_of_cgroup_v2_v1_and_host_wide_ooms() {
        let s = parse_summary(
            "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,\
             oom_memcg=/system.slice/docker-ab.scope,task_memcg=/system.slice/docker-ab.scope,\
             task=node,pid=4242,uid=1000",
        )
        .unwrap();
        assert_eq!(s.constraint.as_deref(), Some("CONSTRAINT_MEMCG"));
        assert_eq!(
            s.limit_cgroup.as_deref(),
            Some("/system.slice/docker-ab.scope")
        );
        assert_eq!(s.cgroup.as_deref(), Some("/system.slice/docker-ab.scope"));
        assert_eq!(
            (s.task.as_deref(), s.pid, s.uid),
            (Some("node"), Some(4242), Some(1000))
        );
        assert!(!s.global);
        let s = parse_summary(
            "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=docker-x.scope,\
             mems_allowed=0,global_oom,task_memcg=/docker/x,task=a,b=c,pid=7,uid=0",
        )
        .unwrap();
        assert!(s.global);
        assert_eq!(s.limit_cgroup, None);
        assert_eq!(s.task.as_deref(), Some("a,b=c"));
        assert_eq!(s.cgroup.as_deref(), Some("/docker/x"));
        assert!(parse_summary("oom-killer was here").is_none());
    }

    #[test]
    fn killed_lines_of_several_kernel_versions() {
        let k = parse_killed(
            "Out of memory: Killed process 1234 (java) total-vm:4000kB, anon-rss:3000kB, \
             file-rss:0kB, shmem-rss:0kB, UID:33 pgtables:100kB oom_score_adj:0",
        )
        .unwrap();
        assert_eq!(
            k,
            Killed {
                pid: 1234,
                name: "java".into(),
                memcg: Some(false),
                uid: Some(33),
                anon_rss_kb: Some(3000),
                total_vm_kb: Some(4000)
            }
        );
        let k = parse_killed(
            "Killed process 21945 (tidb-server), UID 1000, total-vm:33027492kB, \
             anon-rss:31303276kB, file-rss:0kB, shmem-rss:0kB",
        )
        .unwrap();
        assert_eq!(
            (k.pid, k.name.as_str(), k.uid, k.memcg),
            (21945, "tidb-server", Some(1000), None)
        );
        let k = parse_killed("Memory cgroup out of memory: Killed process 9 (a) b)) total-vm:1kB")
            .unwrap();
        assert_eq!((k.name.as_str(), k.memcg), ("a) b)", Some(true)));
        let k = parse_killed("Out of Memory: Killed process 2592 (mysql).").unwrap();
        assert_eq!((k.pid, k.name.as_str()), (2592, "mysql"));
        assert!(
            parse_killed("Out of memory: Kill process 1 (x) score 9 or sacrifice child").is_none()
        );
        assert!(parse_killed("myapp: Killed process 12 (x)").is_none());
        assert!(parse_killed("Killed process x (y)").is_none());
    }

    #[test]
    fn hung_tasks_and_fs_errors() {
        assert_eq!(
            parse_hung("INFO: task kworker/u8:2:123 blocked for more than 122 seconds."),
            Some(("kworker/u8:2".into(), 123, 122))
        );
        assert_eq!(
            parse_hung("app: my task x:1 blocked for more than 2 seconds"),
            None
        );
        assert_eq!(
            parse_fs_error(
                "EXT4-fs error (device sda1): ext4_find_entry:1455: inode #2: comm ls: reading directory lblock 0"
            ),
            Some(("ext4", Some("sda1".into())))
        );
        assert_eq!(
            parse_fs_error("EXT4-fs (vda1): Remounting filesystem read-only"),
            Some(("ext4", Some("vda1".into())))
        );
        assert_eq!(
            parse_fs_error("EXT4-fs (vda1): mounted filesystem with ordered data mode"),
            None
        );
        assert_eq!(
            parse_fs_error("XFS (dm-0): Corruption detected. Unmount and run xfs_repair"),
            Some(("xfs", Some("dm-0".into())))
        );
        assert_eq!(parse_fs_error("XFS (sdb): Mounting V5 Filesystem"), None);
        assert_eq!(
            parse_fs_error("blk_update_request: I/O error, dev sdb, sector 2048 op 0x1:(WRITE)"),
            Some(("io", Some("sdb".into())))
        );
        assert_eq!(
            parse_fs_error("Aborting journal on device sda1-8."),
            Some(("jbd2", Some("sda1-8".into())))
        );
    }

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
}
