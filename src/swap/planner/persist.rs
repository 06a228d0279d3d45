//! Planning what is not the file itself: persistence (only hostfix's own lines and unit),
//! swappiness, the record's bookkeeping, and the clean-up of an interrupted resize.

use std::path::Path;

use super::{Action, Own, Planner, Role, sysctl_content};
use crate::plan::Risk;
use crate::swap::fstab::swap_line;
use crate::swap::observe::FstabMatch;
use crate::swap::spec::Persist;
use crate::swap::unit::{render_unit, unit_priority};

/// The fstab line hostfix writes for a path (with its newline).
pub fn wanted_line(path: &Path, priority: Option<i32>) -> String {
    swap_line(&path.to_string_lossy(), priority)
}

/// The unit hostfix writes for a path.
pub fn wanted_unit(path: &Path, priority: Option<i32>) -> String {
    render_unit(&path.to_string_lossy(), priority)
}

impl Planner<'_> {
    fn own_lines(&self) -> Vec<&FstabMatch> {
        self.o
            .fstab
            .lines
            .iter()
            .filter(|m| self.own.own_lines.contains(&m.number))
            .collect()
    }

    /// Persistence through hostfix's own line or unit. Without `--priority`, the priority
    /// hostfix's own line or unit already has is kept.
    pub(super) fn plan_persistence(&mut self) {
        let d = self.d;
        let o = self.o;
        let own_lines = self.own_lines();
        let prio = d
            .priority
            .or_else(|| own_lines.first().and_then(|m| m.entry.priority()));
        let line = wanted_line(&d.path, prio);
        let fstab_ok = own_lines.len() == 1 && own_lines[0].raw == line.trim_end();
        let line_count = own_lines.len();
        let unit_own = self.own.unit.as_ref().is_some_and(Own::is_ours);
        let unit_prio = d.priority.or_else(|| {
            o.unit
                .content
                .as_deref()
                .filter(|_| unit_own)
                .and_then(unit_priority)
        });
        let unit_ok = unit_own
            && o.unit.content.as_deref() == Some(wanted_unit(&d.path, unit_prio).as_str())
            && o.unit.enabled;
        match d.persist {
            Persist::Fstab => {
                if !fstab_ok {
                    let why = match line_count {
                        0 => "no fstab line: the swap would be gone after a reboot".to_string(),
                        1 => "hostfix's fstab line has another priority".to_string(),
                        n => format!("hostfix's line is in fstab {n} times: make it one"),
                    };
                    self.add(Action::PersistFstab { priority: prio }, Risk::Additive, why);
                }
                if unit_own || (o.unit.enabled && o.unit.content.is_none()) {
                    self.add(
                        Action::UnpersistUnit,
                        Risk::Additive,
                        "persistence moves to fstab: hostfix's .swap unit would duplicate it",
                    );
                }
            }
            Persist::Systemd => {
                if !unit_ok {
                    self.add(
                        Action::PersistUnit {
                            priority: unit_prio,
                        },
                        Risk::Additive,
                        if o.unit.content.is_none() {
                            "no .swap unit: the swap would be gone after a reboot"
                        } else {
                            "hostfix's .swap unit differs or is not enabled"
                        },
                    );
                }
                if line_count > 0 {
                    self.add(
                        Action::UnpersistFstab,
                        Risk::Additive,
                        "persistence moves to the .swap unit: hostfix's fstab line would \
                         duplicate it",
                    );
                }
            }
            Persist::None => {}
        }
    }

    pub(super) fn plan_swappiness(&mut self) {
        if let Some(v) = self.d.swappiness {
            if self.o.swappiness != Some(v) {
                self.add(
                    Action::SetSwappiness { value: v },
                    Risk::Additive,
                    format!(
                        "vm.swappiness is {}",
                        self.o
                            .swappiness
                            .map_or("unknown".to_string(), |s| s.to_string())
                    ),
                );
            }
            if self.o.sysctl_file.as_deref() != Some(sysctl_content(v).as_str()) {
                self.add(
                    Action::WriteSysctl { value: v },
                    Risk::Additive,
                    "so the value holds after a reboot",
                );
            }
        }
    }

    /// Records what hostfix recognised as its own before anything else is done with it:
    /// an earlier hostfix's setup, a file a killed run created, and forgets a swap-over
    /// area the record names that is gone.
    pub(super) fn plan_bookkeeping(&mut self) {
        let o = self.o;
        match &self.own.file {
            Some(Own::Legacy) => {
                let lines = self.own_lines().iter().map(|m| m.raw.clone()).collect();
                self.add(
                    Action::Record {
                        role: Role::Target,
                        lines,
                        unit: o.unit.content.clone(),
                    },
                    Risk::Additive,
                    "an earlier hostfix made it and kept no record: a root-owned 0600 swap \
                     area persisted by exactly the line or unit that version wrote",
                );
            }
            Some(Own::HalfMade) => self.add(
                Action::Record {
                    role: Role::Target,
                    lines: Vec::new(),
                    unit: None,
                },
                Risk::Additive,
                "a run was killed after creating the file and before recording it",
            ),
            _ => {}
        }
        let recorded_temp = o.record.record().is_some_and(|r| r.temp.is_some());
        if recorded_temp && o.temp.is_none() {
            self.cleanup(
                Action::Forget { role: Role::Temp },
                Risk::Additive,
                "the record names a swap-over area that is gone",
            );
        }
    }

    /// A leftover swap-over area of an interrupted resize, when the plan has not already
    /// dealt with it. hostfix's own (recorded) area is retired: swapoff when active
    /// (disruptive), then delete. The delete is `additive`: the file is hostfix's own
    /// (its record names the device, inode and header UUID), inactive, so it holds no
    /// page of any process, and deleting it only undoes hostfix's own additive step.
    /// Anything else there is left alone.
    pub(super) fn plan_leftover(&mut self) {
        let Some(t) = &self.o.temp else {
            return;
        };
        if self
            .steps
            .iter()
            .any(|s| matches!(s.action, Action::Delete { role: Role::Temp }))
        {
            return;
        }
        let what = t.path.display().to_string();
        match &self.own.temp {
            None => self.add(
                Action::LeaveAlone {
                    what,
                    why: "it is not a regular file: not hostfix's".into(),
                },
                Risk::ReadOnly,
                "a file named like hostfix's swap-over area",
            ),
            Some(Own::Foreign { why }) => {
                let why = why.clone();
                self.add(
                    Action::LeaveAlone { what, why },
                    Risk::ReadOnly,
                    "a file named like hostfix's swap-over area",
                );
            }
            Some(_) => {
                if t.active.is_some() {
                    self.cleanup(
                        Action::Swapoff { role: Role::Temp },
                        Risk::Disruptive,
                        "hostfix's swap-over area of an interrupted resize is still active",
                    );
                }
                self.cleanup(
                    Action::Delete { role: Role::Temp },
                    Risk::Additive,
                    "hostfix's own swap-over area of an interrupted resize (recorded, \
                     inactive: it holds no page of any process)",
                );
            }
        }
    }
}
