//! What is wrong with a swap file (pure given the observation): its mode, content and
//! holes, its persistence, what is not hostfix's, and hostfix's own leftovers.

use super::ensure_cmd;
use crate::finding::Severity;
use crate::size::ByteSize;
use crate::swap::observe::{Content, FileFacts, Observation, Target};
use crate::swap::planner::{Own, Ownership};

/// What is wrong with the file and its persistence, whoever made them.
pub(super) fn file_problems(o: &Observation) -> Vec<(Severity, String)> {
    let mut problems: Vec<(Severity, String)> = Vec::new();
    match &o.target {
        Target::Missing => problems.push((
            Severity::Warning,
            "persisted but the file does not exist (nofail hides it at boot)".into(),
        )),
        Target::File(f) => problems.extend(content_problems(o, f)),
        other => problems.push((
            Severity::Problem,
            format!("persisted as swap but the path is {other:?}").to_lowercase(),
        )),
    }
    if o.active.is_none() && o.target.file().is_some() {
        problems.push((Severity::Warning, "persisted but not active".into()));
    }
    problems.extend(persistence_problems(o));
    problems
}

/// What is wrong with the file itself: its owner and mode, its content, its holes.
fn content_problems(o: &Observation, f: &FileFacts) -> Vec<(Severity, String)> {
    let mut problems: Vec<(Severity, String)> = Vec::new();
    if f.readable_by_others(o.owner) {
        problems.push((
            Severity::Problem,
            format!(
                "mode {:04o}, owner {}:{}: readable by other users, a leak of memory contents",
                f.mode, f.uid, f.gid
            ),
        ));
    } else if !f.owner_mode_ok(o.owner) {
        problems.push((
            Severity::Warning,
            format!(
                "mode {:04o}, owner {}:{}; swap wants {}:{} 0600",
                f.mode, f.uid, f.gid, o.owner.0, o.owner.1
            ),
        ));
    }
    match &f.content {
        Content::Swap(h) if !h.fits(o.page_size, f.size) => problems.push((
            Severity::Warning,
            format!(
                "the header describes {}, the file is {}",
                ByteSize(h.area_bytes()),
                ByteSize(f.size)
            ),
        )),
        Content::Swap(_) => {}
        Content::OldSwap => problems.push((Severity::Warning, "an old (v0) swap header".into())),
        Content::Hibernation { magic } => problems.push((
            Severity::Info,
            format!("holds a hibernation image ({magic})"),
        )),
        Content::Zeros => problems.push((
            Severity::Warning,
            "only zeros, no swap header (an interrupted create?)".into(),
        )),
        Content::Data => problems.push((
            Severity::Problem,
            "persisted as swap but holds other data".into(),
        )),
    }
    if o.active.is_none() && f.holes {
        problems.push((Severity::Warning, "has holes: swapon will refuse it".into()));
    }
    problems
}

/// What is wrong with its persistence: none while active, several lines, no `nofail`,
/// a UUID or LABEL boot cannot resolve for a file.
fn persistence_problems(o: &Observation) -> Vec<(Severity, String)> {
    let mut problems: Vec<(Severity, String)> = Vec::new();
    let persisted = o.fstab.lines.len() + usize::from(o.unit.content.is_some() && o.unit.enabled);
    if o.active.is_some() && persisted == 0 {
        problems.push((
            Severity::Warning,
            "active but not persisted: gone after the next reboot".into(),
        ));
    }
    if o.fstab.lines.len() > 1 {
        problems.push((
            Severity::Warning,
            format!("{} fstab lines name it", o.fstab.lines.len()),
        ));
    }
    for l in &o.fstab.lines {
        if !l.entry.has_option("nofail") {
            problems.push((
                Severity::Info,
                format!(
                    "fstab line {} lacks nofail: a missing file fails the boot",
                    l.number
                ),
            ));
        }
    }
    if !o.fstab.by_uuid_or_label.is_empty() {
        problems.push((
            Severity::Warning,
            format!(
                "fstab line(s) {:?} name it by UUID or LABEL, which boot cannot resolve for a file",
                o.fstab.by_uuid_or_label
            ),
        ));
    }
    problems
}

/// What is not hostfix's (and so what it will not fix), and hostfix's own leftovers.
pub(super) fn ownership_problems(o: &Observation, own: &Ownership) -> Vec<(Severity, String)> {
    let mut out = Vec::new();
    if let Some(why) = &own.unreadable {
        out.push((
            Severity::Problem,
            format!("hostfix's record cannot be used: {why}"),
        ));
    }
    if let Some(why) = &own.unseen {
        out.push((
            Severity::Info,
            format!(
                "whether hostfix made it is unknown: its record could not be read ({why}); \
                 run doctor as root to see the fix"
            ),
        ));
        return out;
    }
    if let Some(Own::Foreign { why }) = &own.file {
        out.push((
            Severity::Info,
            format!(
                "not created by hostfix ({why}): hostfix leaves it alone; to let hostfix \
                 manage swap here, remove it (swapoff, delete, drop its fstab line) and run \
                 {}",
                ensure_cmd(&o.path, o.target.file().map(|f| f.size))
            ),
        ));
    }
    for m in o
        .fstab
        .lines
        .iter()
        .filter(|m| own.foreign_lines.contains(&m.number))
    {
        out.push((
            Severity::Info,
            format!(
                "fstab line {} `{}` was not written by hostfix: hostfix leaves it alone and \
                 will not work on this path while it is there",
                m.number, m.raw
            ),
        ));
    }
    if let Some(Own::Foreign { why }) = &own.unit {
        out.push((
            Severity::Info,
            format!("the unit {} is not hostfix's ({why})", o.unit.name),
        ));
    }
    for p in &own.foreign_unit_parts {
        out.push((
            Severity::Info,
            format!("{p} is not hostfix's: hostfix will not work on this path"),
        ));
    }
    out.extend(leftover_problem(o, own));
    out
}

/// A swap-over area beside the file: hostfix's leftover of an interrupted resize, or a
/// file named like one that hostfix did not make.
fn leftover_problem(o: &Observation, own: &Ownership) -> Option<(Severity, String)> {
    let t = o.temp.as_ref()?;
    let state = if t.active.is_some() {
        "active"
    } else {
        "inactive"
    };
    Some(match &own.temp {
        Some(x) if x.is_ours() => (
            Severity::Warning,
            format!(
                "hostfix's swap-over area {} ({state}) is left from an interrupted resize",
                t.path.display()
            ),
        ),
        _ => (
            Severity::Info,
            format!(
                "{} ({state}) is named like hostfix's swap-over area but hostfix did not \
                 make it: remove it yourself if nothing uses it",
                t.path.display()
            ),
        ),
    })
}
