//! Which of the things at a swap path hostfix made (pure): the file, the temporary
//! swap-over area, each fstab line and the `.swap` unit, judged against hostfix's record
//! (`swap::record`). What hostfix did not make is never adopted, changed or
//! deleted.
//!
//! - A file is hostfix's when the record names its inode and birth time (its device and
//!   inode where the filesystem keeps no birth time) and its header carries the UUID
//!   hostfix wrote (or no header yet: an allocation under way), it has one name, and
//!   nothing is mounted over it.
//! - A file the record says hostfix was *about* to create (no device and inode yet: the
//!   run was killed between creating it and confirming it) is hostfix's half-made file
//!   when it is owned by the host's owner, mode 0600, has one name, holds zeros or
//!   hostfix's header, and changed after the intent was recorded.
//! - Without any record, a file is one an earlier hostfix version made (it kept no record)
//!   when it is the host owner's, mode 0600, one name, a complete swap area, and what
//!   persists it is byte for byte what that version wrote: its fstab line
//!   (`PATH none swap sw,nofail[,pri=N] 0 0`) or its marked `.swap` unit. The next run
//!   records it (adopts it) before doing anything else.
//! - A line or unit is hostfix's when the record holds it byte for byte (or it is the
//!   earlier version's, next to such a file).

use serde::Serialize;

use crate::swap::fstab::swap_line;
use crate::swap::observe::{Content, FileFacts, FstabMatch, Observation};
use crate::swap::record::{MadeFile, RecordFacts, SwapRecord};
use crate::swap::unit::{render_unit, unit_priority};

/// How much older than its intent record a half-made file may look (a clock stepped back
/// between the two, as NTP does early at boot).
pub const CLOCK_SLACK_SECS: i64 = 300;

/// Whose a file, line or unit is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "is", rename_all = "kebab-case")]
pub enum Own {
    /// hostfix made it, and its record says so.
    Ours,
    /// hostfix was making it when it was interrupted; the record does not name its device
    /// and inode yet.
    HalfMade,
    /// An earlier hostfix version made it and kept no record.
    Legacy,
    /// Not hostfix's.
    Foreign {
        /// Why not, in words.
        why: String,
    },
}

impl Own {
    /// Whether hostfix may work on it.
    pub fn is_ours(&self) -> bool {
        !matches!(self, Own::Foreign { .. })
    }
}

/// Whose everything at a swap path is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ownership {
    /// The file at the path (`None`: no regular file there).
    pub file: Option<Own>,
    /// The swap-over area beside it (`None`: no regular file there).
    pub temp: Option<Own>,
    /// fstab lines naming the path that hostfix wrote (line numbers).
    pub own_lines: Vec<usize>,
    /// fstab lines naming the path that hostfix did not write.
    pub foreign_lines: Vec<usize>,
    /// The unit in `/etc/systemd/system` (`None`: there is none).
    pub unit: Option<Own>,
    /// Things systemd reads for the unit that hostfix did not write: a unit of that name
    /// elsewhere, a drop-in folder, a `swap.target.wants` entry pointing elsewhere.
    pub foreign_unit_parts: Vec<String>,
    /// Why the record cannot be used, when it cannot.
    pub unreadable: Option<String>,
    /// Why the record could not be looked at (no permission), when it could not: then
    /// nothing here is known to be hostfix's.
    pub unseen: Option<String>,
    /// Whether this is an earlier hostfix's setup to adopt (no record yet).
    pub legacy: bool,
}

/// Whether a file looks like one an earlier hostfix made (owner, mode, one name, a
/// complete swap area).
pub fn legacy_file(f: &FileFacts, page_size: u64, owner: (u32, u32)) -> bool {
    f.owner_mode_ok(owner)
        && f.nlink == 1
        && !f.mount_point
        && f.content
            .header()
            .is_some_and(|h| h.fits(page_size, f.size))
}

/// Whose a file is, by the record's entry for it (`None`: the record names no such file).
pub fn classify_file(made: Option<&MadeFile>, f: &FileFacts, owner: (u32, u32)) -> Own {
    let foreign = |why: String| Own::Foreign { why };
    if f.mount_point {
        return foreign("something is mounted over it (a bind mount)".into());
    }
    if f.nlink != 1 {
        return foreign(format!(
            "it has {} names (hard links); a file hostfix made has one",
            f.nlink
        ));
    }
    let Some(m) = made else {
        return foreign("hostfix has no record of creating it".into());
    };
    let signed = match &f.content {
        Content::Swap(h) => h.uuid == m.uuid,
        Content::Zeros => true,
        _ => false,
    };
    let found_uuid = f
        .content
        .header()
        .map_or("no swap header".to_string(), |h| format!("UUID {}", h.uuid));
    // The same file: the same inode born at the same moment. A device number is not
    // kept across boots (LVM and btrfs hand them out as they come), so it decides only
    // where the filesystem keeps no birth time.
    let same_file = |dev: u64, ino: u64| {
        ino == f.ino
            && match (m.born, f.born) {
                (Some(a), Some(b)) => a == b,
                _ => dev == f.dev,
            }
    };
    match m.identity() {
        Some((dev, ino)) if same_file(dev, ino) => {
            if signed {
                Own::Ours
            } else {
                foreign(format!(
                    "it is the file hostfix made, but its content was rewritten by someone \
                     else ({found_uuid}; hostfix wrote UUID {})",
                    m.uuid
                ))
            }
        }
        Some((dev, ino)) if ino == f.ino && dev == f.dev => foreign(
            "it has the inode number of the file hostfix made, but was created later: that \
             file was deleted and this one took its number"
                .into(),
        ),
        Some((dev, ino)) => foreign(format!(
            "hostfix's record names device {dev} inode {ino}, this is device {} inode {}: \
             another file was put in its place",
            f.dev, f.ino
        )),
        None => {
            let fresh = f.ctime.saturating_add(CLOCK_SLACK_SECS)
                >= i64::try_from(m.intent_at).unwrap_or(i64::MAX);
            if signed && fresh && f.owner_mode_ok(owner) {
                Own::HalfMade
            } else {
                foreign(format!(
                    "hostfix was about to create a file here when it was interrupted, but this \
                     one is not it (mode {:04o}, owner {}:{}, {found_uuid}, changed {} s before \
                     the intent was recorded)",
                    f.mode,
                    f.uid,
                    f.gid,
                    i64::try_from(m.intent_at)
                        .unwrap_or(i64::MAX)
                        .saturating_sub(f.ctime)
                        .max(0)
                ))
            }
        }
    }
}

/// The fstab line an earlier hostfix wrote for the path, with the priority this line has.
fn legacy_line(path: &str, m: &FstabMatch) -> bool {
    m.raw == swap_line(path, m.entry.priority()).trim_end()
}

/// The unit an earlier hostfix wrote for the path.
fn legacy_unit(path: &str, content: &str) -> bool {
    content == render_unit(path, unit_priority(content))
}

fn recorded_line(rec: Option<&SwapRecord>, raw: &str) -> bool {
    rec.is_some_and(|r| r.fstab_lines.iter().any(|l| l == raw))
}

fn recorded_unit(rec: Option<&SwapRecord>, content: &str) -> bool {
    rec.is_some_and(|r| r.units.iter().any(|u| u == content))
}

/// Whose everything at the observed path is (pure).
pub fn ownership(o: &Observation) -> Ownership {
    let rec = o.record.record();
    let path = o.path.to_string_lossy();
    let unreadable = match &o.record {
        RecordFacts::Unreadable { why } => Some(why.clone()),
        _ => None,
    };
    let unseen = match &o.record {
        RecordFacts::Unseen { why } => Some(why.clone()),
        _ => None,
    };
    let link_ok = |l: &str| l == format!("../{}", o.unit.name);
    let legacy = matches!(o.record, RecordFacts::Absent)
        && o.target
            .file()
            .is_some_and(|f| legacy_file(f, o.page_size, o.owner))
        && (!o.fstab.lines.is_empty() || o.unit.content.is_some())
        && o.fstab.lines.iter().all(|m| legacy_line(&path, m))
        && o.unit
            .content
            .as_deref()
            .is_none_or(|c| legacy_unit(&path, c))
        && o.unit.link.as_deref().is_none_or(link_ok)
        && o.unit.elsewhere.is_empty();
    let file = o.target.file().map(|f| {
        if legacy {
            Own::Legacy
        } else {
            classify_file(rec.and_then(|r| r.file.as_ref()), f, o.owner)
        }
    });
    let temp = o
        .temp
        .as_ref()
        .and_then(|t| t.target.file())
        .map(|f| classify_file(rec.and_then(|r| r.temp.as_ref()), f, o.owner));
    let (own_lines, foreign_lines) = o.fstab.lines.iter().partition::<Vec<&FstabMatch>, _>(|m| {
        recorded_line(rec, &m.raw) || (legacy && legacy_line(&path, m))
    });
    let unit_ours = |c: &str| recorded_unit(rec, c) || (legacy && legacy_unit(&path, c));
    let unit = o.unit.content.as_deref().map(|c| {
        if unit_ours(c) {
            Own::Ours
        } else {
            Own::Foreign {
                why: "hostfix did not write it (or it was edited since)".into(),
            }
        }
    });
    let mut foreign_unit_parts = o.unit.elsewhere.clone();
    if let Some(l) = &o.unit.link {
        let unit_is_ours = unit.as_ref().is_some_and(Own::is_ours)
            || (unit.is_none() && rec.is_some_and(|r| !r.units.is_empty()));
        if !(link_ok(l) && unit_is_ours) {
            foreign_unit_parts.push(format!(
                "{}/{} (-> {l})",
                crate::swap::unit::WANTS_DIR,
                o.unit.name
            ));
        }
    }
    Ownership {
        file,
        temp,
        own_lines: own_lines.iter().map(|m| m.number).collect(),
        foreign_lines: foreign_lines.iter().map(|m| m.number).collect(),
        unit,
        foreign_unit_parts,
        unreadable,
        unseen,
        legacy,
    }
}
