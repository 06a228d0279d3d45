//! The refusals that come before any step: what is at the path (never a link, directory
//! or device), the way to it, and anything there that hostfix did not make.

use super::{Own, PlanRefusal, Planner};
use crate::error::Refusal;
use crate::plan::Risk;
use crate::size::ByteSize;
use crate::swap::observe::{Content, FileFacts, Observation, Target};

/// What a file is, in words (`a 16 MiB file, mode 0644, owner 1000:1000, holding zeros`).
pub fn describe_file(f: &FileFacts) -> String {
    let content = match &f.content {
        Content::Swap(h) => format!("a swap area (UUID {})", h.uuid),
        Content::OldSwap => "an old (v0) swap area".into(),
        Content::Hibernation { magic } => format!("a hibernation image ({magic})"),
        Content::Zeros => "only zeros".into(),
        Content::Data => "data".into(),
    };
    format!(
        "a {} file, mode {:04o}, owner {}:{}, holding {content}",
        ByteSize(f.size),
        f.mode,
        f.uid,
        f.gid
    )
}

/// The refusal for a file at the path that hostfix did not make.
pub(super) fn foreign_file(o: &Observation, f: &FileFacts, why: &str) -> Refusal {
    Refusal::Protected {
        target: o.path.display().to_string(),
        why: format!(
            "hostfix did not create it ({why}; its record: {}). Found {}{}. hostfix never \
             adopts, changes or deletes a file it did not create: if nothing needs it, remove \
             it yourself ({}swapoff it, delete it, and drop its fstab line or unit), or pick \
             another --path",
            o.record_path.display(),
            describe_file(f),
            if o.active.is_some() { ", active" } else { "" },
            if o.active.is_some() {
                ""
            } else {
                "if active, "
            },
        ),
    }
}

/// The refusals for fstab lines and unit parts that name the path and are not hostfix's.
pub(super) fn foreign_persistence(o: &Observation, own: &super::Ownership) -> Option<Refusal> {
    if let Some(m) = o
        .fstab
        .lines
        .iter()
        .find(|m| own.foreign_lines.contains(&m.number))
    {
        let hostfix_line = super::wanted_line(&o.path, m.entry.priority());
        let whose = if m.raw == hostfix_line.trim_end() {
            format!(
                "it reads like the line hostfix writes, but hostfix has no record of writing \
                 it (its record: {}) and no swap file an earlier hostfix made is beside it",
                o.record_path.display()
            )
        } else {
            format!(
                "hostfix did not write it (it writes `{}`)",
                hostfix_line.trim_end()
            )
        };
        return Some(Refusal::Protected {
            target: format!("/etc/fstab line {}", m.number),
            why: format!(
                "`{}` names {}; {whose}. hostfix never changes or removes a line it did not \
                 write: remove or change that line yourself, or pick another --path",
                m.raw,
                o.path.display(),
            ),
        });
    }
    if let Some(Own::Foreign { why }) = &own.unit {
        return Some(Refusal::Protected {
            target: format!("{}/{}", crate::swap::unit::UNIT_DIR, o.unit.name),
            why: format!(
                "a .swap unit for {}: {why}. hostfix never changes or removes a unit it did \
                 not write: disable and remove it yourself (systemctl disable --now {}), or \
                 pick another --path",
                o.path.display(),
                o.unit.name
            ),
        });
    }
    own.foreign_unit_parts.first().map(|p| Refusal::Protected {
        target: p.clone(),
        why: format!(
            "systemd reads it for {} and hostfix did not write it: remove it yourself, or \
             pick another --path",
            o.unit.name
        ),
    })
}

impl<'a> Planner<'a> {
    /// What is at the path, and the way to it: a regular file or nothing.
    pub(super) fn check_target(&self, what: &str) -> Result<Option<&'a FileFacts>, PlanRefusal> {
        let o: &'a Observation = self.o;
        let file = match &o.target {
            Target::Symlink { to } => {
                return Err(self.refuse(
                    what,
                    Risk::Additive,
                    format!("it is a symbolic link (to {to}); hostfix never follows one"),
                ));
            }
            Target::Directory => {
                return Err(self.refuse(what, Risk::Additive, "it is a directory".into()));
            }
            Target::Device => {
                return Err(self.refuse(
                    what,
                    Risk::Additive,
                    "it is a device; hostfix manages swap files, not partitions".into(),
                ));
            }
            Target::Special => {
                return Err(self.refuse(what, Risk::Additive, "it is a FIFO or socket".into()));
            }
            Target::Missing => None,
            Target::File(f) => Some(f),
        };
        if let Some(why) = &o.parent_problem {
            return Err(self.refuse(what, Risk::Additive, why.clone()));
        }
        Ok(file)
    }

    /// Refuses when the record cannot be used, or when the file, an fstab line or the
    /// unit for the path is not hostfix's; then when hostfix's own file holds data.
    pub(super) fn check_ownership(&self) -> Result<(), PlanRefusal> {
        let o = self.o;
        let what = format!("swap file {}", o.path.display());
        let protect = |refusal: Refusal| PlanRefusal {
            action: what.clone(),
            risk: Risk::Additive,
            refusal,
        };
        if let Some(why) = &self.own.unreadable {
            return Err(protect(Refusal::Protected {
                target: o.record_path.display().to_string(),
                why: format!("hostfix's record cannot be used: {why}"),
            }));
        }
        let something_there = o.target != Target::Missing
            || !o.fstab.lines.is_empty()
            || o.unit.content.is_some()
            || o.temp.is_some();
        if let (Some(why), true) = (&self.own.unseen, something_there) {
            return Err(protect(Refusal::NeedsRoot {
                action: format!(
                    "read hostfix's record {} to tell its own files from others' ({why})",
                    o.record_path.display()
                ),
            }));
        }
        if let (Some(f), Some(Own::Foreign { why })) = (o.target.file(), &self.own.file) {
            return Err(protect(foreign_file(o, f, why)));
        }
        if let Some(r) = foreign_persistence(o, &self.own) {
            return Err(protect(r));
        }
        match o.target.file().map(|f| &f.content) {
            Some(Content::Data) => Err(self.refuse(
                &what,
                Risk::Additive,
                "it holds data that is neither a swap area nor zeros".into(),
            )),
            Some(Content::Hibernation { magic }) => Err(self.refuse(
                &what,
                Risk::Additive,
                format!("it holds a hibernation image ({magic}): a suspended system"),
            )),
            _ => Ok(()),
        }
    }
}
