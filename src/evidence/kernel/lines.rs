//! The OOM killer's, the hung-task detector's and the filesystems' lines, one at a time
//! (pure). See the parent module for the formats across kernel versions.

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
pub(super) fn pid_and_name(s: &str) -> Option<(i32, &str, &str)> {
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
}
