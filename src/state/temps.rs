//! The temp files of [`crate::fsutil::write_atomic`]: their names, and the sweep that
//! removes those whose writer is gone.
//!
//! A temp file is named `.NAME.hostfix-PID-START-BOOT.tmp`: the writer's pid, its start
//! time (clock ticks since boot, `/proc/self/stat`) and the first 12 hex digits of the
//! boot id (`/proc/sys/kernel/random/boot_id`). Pids repeat, across boots and within
//! one, so the pid alone cannot say whether the writer is gone; the three together can:
//! the writer is gone when the boot is another one, or when no process has the pid, or
//! when the process that has it started at another time. A name without the start and
//! boot (`.NAME.hostfix-PID.tmp`, written by earlier releases, or when `/proc` cannot
//! be read) is judged by its pid alone, and only a pid no process has is gone.
//!
//! A run that takes the host lock sweeps every directory hostfix writes files into
//! ([`sweep_leftovers`]): the state directory and its subdirectories, and the system
//! directories of [`SYSTEM_DIRS`]. Only regular files owned by this process's user whose
//! whole name has the pattern above are ever removed.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use nix::errno::Errno;

use crate::host::Host;

/// The system directories hostfix replaces files in with
/// [`crate::fsutil::write_atomic`]: `/etc` (fstab), the systemd unit directory (swap
/// units) and `/etc/sysctl.d` (the swappiness file).
pub const SYSTEM_DIRS: [&str; 3] = ["/etc", "/etc/systemd/system", "/etc/sysctl.d"];

/// Who wrote a temp file, as its name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TempWriter {
    /// The writer's pid.
    pub pid: i32,
    /// Its start time (clock ticks since boot) and the first 12 hex digits of its boot's
    /// id; `None` in a name of the earlier form (`.NAME.hostfix-PID.tmp`).
    pub run: Option<(u64, String)>,
}

impl TempWriter {
    /// The suffix of a temp file name: `.hostfix-PID-START-BOOT.tmp`, or
    /// `.hostfix-PID.tmp` without a start and boot.
    pub fn suffix(&self) -> String {
        match &self.run {
            Some((start, boot)) => format!(".hostfix-{}-{start}-{boot}.tmp", self.pid),
            None => format!(".hostfix-{}.tmp", self.pid),
        }
    }
}

/// What is known now about the writers of temp files: this boot's tag, and a way to ask
/// whether a pid is in use and since when.
pub struct Now<'a> {
    /// The first 12 hex digits of this boot's id, when it can be read.
    pub boot: Option<String>,
    /// `None` when no process has the pid (ESRCH), `Some(start)` when one has (its start
    /// time, when it can be read).
    pub process: &'a dyn Fn(i32) -> Option<Option<u64>>,
}

/// The first 12 hex digits of a boot id (`7e3f…-…` → `7e3f…`), or `None` when the text
/// is not a boot id.
pub fn boot_tag(boot_id: &str) -> Option<String> {
    let hex: String = boot_id.trim().chars().filter(|c| *c != '-').collect();
    (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex[..12].to_ascii_lowercase())
}

/// Parses a temp file's name (pure): the name of the file it was to replace, and its
/// writer. `None` for any name that is not exactly hostfix's pattern.
pub fn parse_temp_name(file_name: &str) -> Option<(&str, TempWriter)> {
    let rest = file_name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (target, tag) = rest.rsplit_once(".hostfix-")?;
    if target.is_empty() {
        return None;
    }
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let mut parts = tag.split('-');
    let pid = number(parts.next()?)
        .and_then(|p| i32::try_from(p).ok())
        .filter(|p| *p > 0)?;
    let run = match (parts.next(), parts.next(), parts.next()) {
        (None, _, _) => None,
        (Some(start), Some(boot), None) => {
            let boot_ok = boot.len() == 12
                && boot
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if !boot_ok {
                return None;
            }
            Some((number(start)?, boot.to_string()))
        }
        _ => return None,
    };
    Some((target, TempWriter { pid, run }))
}

/// Whether a temp file's writer is gone (pure, given `now`): another boot's, a pid no
/// process has, or a pid a process that started at another time has now.
pub fn writer_gone(w: &TempWriter, now: &Now<'_>) -> bool {
    if let (Some((_, boot)), Some(this_boot)) = (&w.run, &now.boot) {
        if boot != this_boot {
            return true;
        }
    }
    match (now.process)(w.pid) {
        None => true,
        Some(started) => match (&w.run, started) {
            (Some((start, _)), Some(now_start)) => *start != now_start,
            // An earlier-form name, or a start that cannot be read: the pid is in use,
            // and may be the writer.
            _ => false,
        },
    }
}

/// This boot's tag, read once.
fn this_boot() -> Option<String> {
    static BOOT: OnceLock<Option<String>> = OnceLock::new();
    BOOT.get_or_init(|| {
        fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .ok()
            .and_then(|t| boot_tag(&t))
    })
    .clone()
}

/// This process as the writer of a temp file (its start time and boot read once).
pub fn this_writer() -> TempWriter {
    static RUN: OnceLock<Option<(u64, String)>> = OnceLock::new();
    let pid = std::process::id() as i32;
    let run = RUN
        .get_or_init(|| {
            let start = crate::host::proc_stat::read_under(Path::new("/"), pid)?.start_time;
            Some((start, this_boot()?))
        })
        .clone();
    TempWriter { pid, run }
}

/// Whether a process has `pid` on the running kernel, and since when.
fn live_process(pid: i32) -> Option<Option<u64>> {
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Err(Errno::ESRCH) => None,
        _ => Some(crate::host::proc_stat::read_under(Path::new("/"), pid).map(|s| s.start_time)),
    }
}

/// Removes from `dir` the temp files whose writer is gone, of every file (`target`
/// `None`) or of one. Only regular files owned by this process's user, with exactly
/// hostfix's temp name, are touched. Best effort: returns what was removed.
pub fn sweep_dir(dir: &Path, target: Option<&str>) -> Vec<PathBuf> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let now = Now {
        boot: this_boot(),
        process: &live_process,
    };
    let mut removed = Vec::new();
    for e in rd.flatten() {
        if !is_stale(&e, target, &now) {
            continue;
        }
        let path = e.path();
        match fs::remove_file(&path) {
            Ok(()) => {
                log::info!("removed {}, left by a run that died", path.display());
                removed.push(path);
            }
            Err(err) => log::warn!("removing {}: {err}", path.display()),
        }
    }
    removed
}

/// Whether a directory entry is a temp file of hostfix's (of `target`, when given) whose
/// writer is gone: exactly hostfix's temp name, a regular file (not followed: a link or
/// a directory is not a temp file hostfix wrote), owned by this process's user.
fn is_stale(e: &fs::DirEntry, target: Option<&str>, now: &Now<'_>) -> bool {
    let name = e.file_name();
    let Some((of, writer)) = name.to_str().and_then(parse_temp_name) else {
        return false;
    };
    if target.is_some_and(|t| t != of) {
        return false;
    }
    let me = super::process_euid();
    fs::symlink_metadata(e.path()).is_ok_and(|m| m.is_file() && m.uid() == me)
        && writer_gone(&writer, now)
}

/// Sweeps every directory hostfix writes files into ([`SYSTEM_DIRS`], the state
/// directory and its subdirectories, all under the host's root) of the temp files of
/// writers that are gone. Called by a run that holds the host lock; best effort (a
/// directory that cannot be read is skipped). Returns what was removed.
pub fn sweep_leftovers(host: &Host, state_dir: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for dir in leftover_dirs(host, state_dir) {
        removed.extend(sweep_dir(&dir, None));
    }
    removed
}

/// Whether any directory [`sweep_leftovers`] sweeps holds a temp file it would remove
/// (read-only): a run with nothing else to write takes the host lock for this.
pub fn has_leftovers(host: &Host, state_dir: &Path) -> bool {
    let now = Now {
        boot: this_boot(),
        process: &live_process,
    };
    leftover_dirs(host, state_dir).iter().any(|dir| {
        fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| is_stale(&e, None, &now))
    })
}

/// The directories [`sweep_leftovers`] sweeps, joined to the host's root: the system
/// directories, the state directory and its subdirectories (not links).
fn leftover_dirs(host: &Host, state_dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = SYSTEM_DIRS.iter().map(|d| host.path(d)).collect();
    if let Ok(state) = super::state_dir(state_dir) {
        let real = host.path(&state);
        if fs::symlink_metadata(&real).is_ok_and(|m| m.is_dir()) {
            for e in fs::read_dir(&real).into_iter().flatten().flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    dirs.push(e.path());
                }
            }
            dirs.push(real);
        }
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOT: &str = "0123456789ab";

    fn w(pid: i32, start: u64, boot: &str) -> TempWriter {
        TempWriter {
            pid,
            run: Some((start, boot.to_string())),
        }
    }

    #[test]
    fn names_round_trip_and_only_the_exact_pattern_parses() {
        let me = w(4242, 987_654, BOOT);
        let name = format!(".reboot-ledger.json{}", me.suffix());
        assert_eq!(
            name,
            ".reboot-ledger.json.hostfix-4242-987654-0123456789ab.tmp"
        );
        assert_eq!(parse_temp_name(&name), Some(("reboot-ledger.json", me)));
        let old = TempWriter { pid: 42, run: None };
        assert_eq!(
            parse_temp_name(".fstab.hostfix-42.tmp"),
            Some(("fstab", old))
        );
        // A dotted name keeps its dots; the last `.hostfix-` starts the tag.
        assert_eq!(
            parse_temp_name(".a.hostfix-b.hostfix-7.tmp").map(|(t, _)| t),
            Some("a.hostfix-b")
        );
        for bad in [
            "fstab.hostfix-42.tmp",
            ".fstab.hostfix-42.tmp.bak",
            ".fstab.hostfix-42.TMP",
            ".fstab.hostfix-0.tmp",
            ".fstab.hostfix--1.tmp",
            ".fstab.hostfix-99999999999.tmp",
            ".fstab.hostfix-12ab.tmp",
            ".fstab.hostfix-42-1.tmp",
            ".fstab.hostfix-42-1-0123456789AB.tmp",
            ".fstab.hostfix-42-1-0123456789a.tmp",
            ".fstab.hostfix-42-1-0123456789abc.tmp",
            ".fstab.hostfix-42--0123456789ab.tmp",
            ".fstab.hostfix-42-1-0123456789ab-9.tmp",
            ".fstab.hostfix-+42.tmp",
            "..hostfix-42.tmp",
            ".fstab.hostfix-.tmp",
            ".fstab.tmp",
        ] {
            assert_eq!(parse_temp_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn boot_tags() {
        assert_eq!(
            boot_tag("7E3F0C1A-9B2D-4C8E-8F00-112233445566\n").as_deref(),
            Some("7e3f0c1a9b2d")
        );
        assert_eq!(boot_tag("not a boot id"), None);
        assert_eq!(boot_tag(""), None);
    }

    #[test]
    fn a_writer_is_gone_by_boot_pid_or_start_time() {
        // pid 100 runs since tick 5000; no other pid is in use.
        let process = |pid: i32| (pid == 100).then_some(Some(5000));
        let now = Now {
            boot: Some(BOOT.into()),
            process: &process,
        };
        // This boot, the writer alive: kept.
        assert!(!writer_gone(&w(100, 5000, BOOT), &now));
        // This boot, the pid in no use: gone.
        assert!(writer_gone(&w(101, 5000, BOOT), &now));
        // This boot, the pid reused by a process that started later: gone.
        assert!(writer_gone(&w(100, 4000, BOOT), &now));
        // Another boot, the pid (and even the start time) in use now: gone.
        assert!(writer_gone(&w(100, 5000, "ba9876543210"), &now));
        // The earlier form: by the pid alone.
        assert!(!writer_gone(
            &TempWriter {
                pid: 100,
                run: None
            },
            &now
        ));
        assert!(writer_gone(
            &TempWriter {
                pid: 101,
                run: None
            },
            &now
        ));
        // This boot's id unknown: the pid and start time still decide.
        let blind = Now {
            boot: None,
            process: &process,
        };
        assert!(!writer_gone(&w(100, 5000, "ba9876543210"), &blind));
        assert!(writer_gone(&w(100, 4000, BOOT), &blind));
        // A start time that cannot be read: the pid in use may be the writer.
        let unreadable = |pid: i32| (pid == 100).then_some(None);
        let now = Now {
            boot: Some(BOOT.into()),
            process: &unreadable,
        };
        assert!(!writer_gone(&w(100, 5000, BOOT), &now));
    }

    #[test]
    fn the_sweep_takes_only_dead_writers_temp_files_of_ours() {
        let me = this_writer();
        let Some((start, boot)) = me.run.clone() else {
            panic!("this process's start time and boot id cannot be read from /proc");
        };
        let other_boot = if boot == "000000000000" {
            "111111111111"
        } else {
            "000000000000"
        };
        let d = tempfile::tempdir().unwrap();
        let at = |name: String| d.path().join(name);
        // This boot, a pid no process has (above any pid_max).
        let dead = at(format!(".fstab{}", w(2_000_000_000, start, &boot).suffix()));
        // Another boot's writer whose pid (this very process's) is alive now.
        let reused = at(format!(".fstab{}", w(me.pid, start, other_boot).suffix()));
        // This boot, this pid, but another start time: the pid was reused.
        let restarted = at(format!(".fstab{}", w(me.pid, start + 1, &boot).suffix()));
        // A live writer: this process.
        let live = at(format!(".fstab{}", me.suffix()));
        // Look-alikes that are not hostfix's temp files.
        let lookalikes = [
            at(format!("fstab{}", w(2_000_000_000, start, &boot).suffix())),
            at(format!(
                ".fstab{}.bak",
                w(2_000_000_000, start, &boot).suffix()
            )),
            at(".fstab.hostfix-2000000000-1-XYZ.tmp".into()),
            at(".fstab.hostfix-2000000000-1.tmp".into()),
        ];
        for f in [&dead, &reused, &restarted, &live]
            .into_iter()
            .chain(&lookalikes)
        {
            fs::write(f, "half").unwrap();
        }
        // The dead pattern on a directory and on a link is not a file hostfix wrote.
        let dir = at(format!(".hosts{}", w(2_000_000_000, start, &boot).suffix()));
        fs::create_dir(&dir).unwrap();
        let link = at(format!(
            ".passwd{}",
            w(2_000_000_001, start, &boot).suffix()
        ));
        std::os::unix::fs::symlink(&live, &link).unwrap();

        assert!(sweep_dir(d.path(), Some("hosts")).is_empty());
        let mut removed = sweep_dir(d.path(), None);
        removed.sort();
        let mut want = vec![dead.clone(), reused.clone(), restarted.clone()];
        want.sort();
        assert_eq!(removed, want);
        assert!(live.exists());
        for f in lookalikes.iter().chain([&dir, &link]) {
            assert!(
                fs::symlink_metadata(f).is_ok(),
                "{} was removed",
                f.display()
            );
        }
    }
}
