//! Planning `swap remove`: only what hostfix made goes (its file, its fstab line, its
//! unit, its swap-over area); everything else at the path is left alone, and said so.

use std::path::PathBuf;

use super::checks::{foreign_file, foreign_persistence};
use super::{
    Action, Own, PlanRefusal, PlannedStep, Role, memory_guard, other_swap_free, ownership,
};
use crate::error::Refusal;
use crate::plan::Risk;
use crate::swap::observe::{Content, Observation, Target};

/// What `swap remove` needs to know besides the observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveSpec {
    /// The swap file's host path.
    pub path: PathBuf,
    /// The memory margin for swapoff.
    pub memory_margin: u64,
}

fn step(action: Action, risk: Risk, reason: &str) -> PlannedStep {
    PlannedStep {
        action,
        risk,
        reason: reason.to_string(),
        cleanup: false,
    }
}

/// Plans `swap remove` (pure): swapoff (memory guard), unpersist hostfix's own line and
/// unit, delete hostfix's own file, and retire its swap-over area. A file hostfix did not
/// make is refused; so is deleting hostfix's file while a line or unit hostfix did not
/// write still names it (the boot would look for it). When there is no file, lines and
/// units that are not hostfix's are left alone.
///
/// # Errors
/// The refusal, when something in the way is not hostfix's or memory cannot take the
/// pages.
pub fn plan_remove(r: &RemoveSpec, o: &Observation) -> Result<Vec<PlannedStep>, PlanRefusal> {
    let own = ownership(o);
    let what = format!("delete {}", r.path.display());
    let refuse = |refusal: Refusal| PlanRefusal {
        action: what.clone(),
        risk: Risk::Destructive,
        refusal,
    };
    let unsafe_ = |why: String| {
        refuse(Refusal::Unsafe {
            target: r.path.display().to_string(),
            why,
        })
    };
    let file = match &o.target {
        Target::Missing => None,
        Target::File(f) => Some(f),
        Target::Symlink { to } => {
            return Err(unsafe_(format!(
                "it is a symbolic link (to {to}); hostfix never follows one"
            )));
        }
        Target::Directory | Target::Device | Target::Special => {
            return Err(unsafe_("it is not a regular file".into()));
        }
    };
    if let Some(why) = &own.unreadable {
        return Err(refuse(Refusal::Protected {
            target: o.record_path.display().to_string(),
            why: format!("hostfix's record cannot be used: {why}"),
        }));
    }
    if let Some(why) = &o.parent_problem {
        return Err(unsafe_(why.clone()));
    }
    if let Some(why) = &own.unseen {
        return Err(refuse(Refusal::NeedsRoot {
            action: format!(
                "read hostfix's record {} to tell its own files from others' ({why})",
                o.record_path.display()
            ),
        }));
    }
    let mut steps = Vec::new();
    if let Some(f) = file {
        if let Some(Own::Foreign { why }) = &own.file {
            return Err(refuse(foreign_file(o, f, why)));
        }
        if let Some(refusal) = foreign_persistence(o, &own) {
            return Err(refuse(refusal));
        }
        if !f.content.is_swap() && f.content != Content::Zeros {
            return Err(unsafe_(
                "it is not a swap area: hostfix deletes only files it verified are swap areas"
                    .into(),
            ));
        }
        record_recognised(o, &own, &mut steps);
    } else {
        leave_foreign_alone(o, &own, &mut steps);
    }
    plan_remove_steps(r, o, &own, file.is_some(), &mut steps)?;
    if steps
        .iter()
        .any(|s| !matches!(s.action, Action::LeaveAlone { .. }))
    {
        if let Some(c) = &o.container {
            return Err(PlanRefusal {
                action: steps[0].action.describe(&r.path, &o.temp_path()),
                risk: steps[0].risk,
                refusal: Refusal::Unsafe {
                    target: r.path.display().to_string(),
                    why: format!("swapoff is not permitted here (running in a container: {c})"),
                },
            });
        }
    }
    Ok(steps)
}

/// Records a file recognised as hostfix's (an earlier version's setup, a killed run's
/// file) before removing it, so a run killed during the removal converges.
fn record_recognised(o: &Observation, own: &super::Ownership, steps: &mut Vec<PlannedStep>) {
    if !matches!(own.file, Some(Own::Legacy | Own::HalfMade)) {
        return;
    }
    let lines = o
        .fstab
        .lines
        .iter()
        .filter(|m| own.own_lines.contains(&m.number))
        .map(|m| m.raw.clone())
        .collect();
    steps.push(step(
        Action::Record {
            role: Role::Target,
            lines,
            unit: o.unit.content.clone().filter(|_| own.legacy),
        },
        Risk::Additive,
        "recognised as hostfix's (an earlier version's setup, or a killed run's file)",
    ));
}

/// With no file at the path: lines and unit parts that are not hostfix's stay, and the
/// report says so.
fn leave_foreign_alone(o: &Observation, own: &super::Ownership, steps: &mut Vec<PlannedStep>) {
    let reason = "it names the path, but hostfix did not write it";
    for m in o
        .fstab
        .lines
        .iter()
        .filter(|m| own.foreign_lines.contains(&m.number))
    {
        steps.push(step(
            Action::LeaveAlone {
                what: format!("/etc/fstab line {} `{}`", m.number, m.raw),
                why: "not written by hostfix".into(),
            },
            Risk::ReadOnly,
            reason,
        ));
    }
    if let Some(Own::Foreign { why }) = &own.unit {
        steps.push(step(
            Action::LeaveAlone {
                what: format!("{}/{}", crate::swap::unit::UNIT_DIR, o.unit.name),
                why: why.clone(),
            },
            Risk::ReadOnly,
            reason,
        ));
    }
    for p in &own.foreign_unit_parts {
        steps.push(step(
            Action::LeaveAlone {
                what: p.clone(),
                why: "not written by hostfix".into(),
            },
            Risk::ReadOnly,
            reason,
        ));
    }
}

fn plan_remove_steps(
    r: &RemoveSpec,
    o: &Observation,
    own: &super::Ownership,
    file: bool,
    steps: &mut Vec<PlannedStep>,
) -> Result<(), PlanRefusal> {
    let avail = o.memory.as_ref().map_or(0, |m| m.mem_available);
    if let Some(entry) = &o.active {
        let others = other_swap_free(&o.swaps, &[entry]);
        memory_guard(avail, others, entry.used_bytes, r.memory_margin).map_err(|why| {
            PlanRefusal {
                action: format!("swapoff {}", r.path.display()),
                risk: Risk::Disruptive,
                refusal: Refusal::Guard {
                    rule: "memory".into(),
                    detail: why,
                },
            }
        })?;
        steps.push(step(
            Action::Swapoff { role: Role::Target },
            Risk::Disruptive,
            "the swap file is active",
        ));
    }
    if !own.own_lines.is_empty() {
        steps.push(step(
            Action::UnpersistFstab,
            Risk::Disruptive,
            "hostfix's fstab line would bring it back at boot",
        ));
    }
    let unit_own = own.unit.as_ref().is_some_and(Own::is_ours);
    if unit_own || (o.unit.enabled && o.unit.content.is_none() && own.foreign_unit_parts.is_empty())
    {
        steps.push(step(
            Action::UnpersistUnit,
            Risk::Disruptive,
            "hostfix's .swap unit would bring it back at boot",
        ));
    }
    if file {
        steps.push(step(
            Action::Delete { role: Role::Target },
            Risk::Destructive,
            "hostfix's own swap file, verified, no longer active",
        ));
    } else if o.record.record().is_some_and(|rec| rec.file.is_some()) {
        steps.push(step(
            Action::Forget { role: Role::Target },
            Risk::Additive,
            "the record names a swap file that is gone",
        ));
    }
    plan_remove_temp(o, own, steps);
    Ok(())
}

fn plan_remove_temp(o: &Observation, own: &super::Ownership, steps: &mut Vec<PlannedStep>) {
    let Some(t) = &o.temp else {
        if o.record.record().is_some_and(|rec| rec.temp.is_some()) {
            steps.push(step(
                Action::Forget { role: Role::Temp },
                Risk::Additive,
                "the record names a swap-over area that is gone",
            ));
        }
        return;
    };
    match &own.temp {
        Some(Own::Foreign { why }) => steps.push(step(
            Action::LeaveAlone {
                what: t.path.display().to_string(),
                why: why.clone(),
            },
            Risk::ReadOnly,
            "a file named like hostfix's swap-over area",
        )),
        None => steps.push(step(
            Action::LeaveAlone {
                what: t.path.display().to_string(),
                why: "not a regular file".into(),
            },
            Risk::ReadOnly,
            "a file named like hostfix's swap-over area",
        )),
        Some(_) => {
            if t.active.is_some() {
                steps.push(step(
                    Action::Swapoff { role: Role::Temp },
                    Risk::Disruptive,
                    "hostfix's swap-over area of an interrupted resize is active",
                ));
            }
            steps.push(step(
                Action::Delete { role: Role::Temp },
                Risk::Additive,
                "hostfix's own swap-over area of an interrupted resize (recorded, inactive)",
            ));
        }
    }
}
