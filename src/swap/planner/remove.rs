//! Planning `swap remove`.

use std::path::PathBuf;

use super::{Action, PlanRefusal, PlannedStep, Role, memory_guard, other_swap_free};
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

/// Plans `swap remove` (pure): swapoff (memory guard), unpersist, delete (only a verified
/// swap area), and retire a leftover swap-over area.
///
/// # Errors
/// The refusal, when the file is not a swap area or memory cannot take its pages.
pub fn plan_remove(r: &RemoveSpec, o: &Observation) -> Result<Vec<PlannedStep>, PlanRefusal> {
    let mut steps = Vec::new();
    let what = format!("delete {}", r.path.display());
    let refuse = |why: String| PlanRefusal {
        action: what.clone(),
        risk: Risk::Destructive,
        refusal: Refusal::Unsafe {
            target: r.path.display().to_string(),
            why,
        },
    };
    let mut add = |action, risk, reason: &str| {
        steps.push(PlannedStep {
            action,
            risk,
            reason: reason.to_string(),
            optional: false,
        })
    };
    let avail = o.memory.as_ref().map_or(0, |m| m.mem_available);
    let file = match &o.target {
        Target::Missing => None,
        Target::File(f) => Some(f),
        Target::Symlink { to } => {
            return Err(refuse(format!(
                "it is a symbolic link (to {to}); hostfix never follows one"
            )));
        }
        Target::Directory | Target::Device | Target::Special => {
            return Err(refuse("it is not a regular file".into()));
        }
    };
    if let Some(f) = file {
        if !f.content.is_swap() {
            return Err(refuse(match &f.content {
                Content::Hibernation { magic } => {
                    format!("it holds a hibernation image ({magic})")
                }
                Content::Zeros => "it is not a swap area (only zeros): hostfix deletes only files it verified are swap areas".into(),
                _ => "it is not a swap area: hostfix deletes only files it verified are swap areas".into(),
            }));
        }
    }
    if o.unit.content.is_some() && !o.unit.ours {
        return Err(PlanRefusal {
            action: format!("disable and delete the .swap unit {}", o.unit.name),
            risk: Risk::Disruptive,
            refusal: Refusal::Protected {
                target: format!("{}/{}", crate::swap::unit::UNIT_DIR, o.unit.name),
                why: "the unit was not written by hostfix; disable it yourself".into(),
            },
        });
    }
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
        add(
            Action::Swapoff { role: Role::Target },
            Risk::Disruptive,
            "the swap file is active",
        );
    }
    if !o.fstab.lines.is_empty() {
        add(
            Action::UnpersistFstab,
            Risk::Disruptive,
            "fstab would bring it back at boot",
        );
    }
    if o.unit.ours {
        add(
            Action::UnpersistUnit,
            Risk::Disruptive,
            "the .swap unit would bring it back at boot",
        );
    }
    if file.is_some() {
        add(
            Action::Delete { role: Role::Target },
            Risk::Destructive,
            "a verified swap area, no longer active",
        );
    }
    if let Some(t) = &o.temp {
        if let Some(tf) = t.target.file() {
            if tf.content.is_swap() || tf.content == Content::Zeros {
                if let Some(entry) = &t.active {
                    let others = other_swap_free(&o.swaps, &[entry]);
                    if memory_guard(avail, others, entry.used_bytes, r.memory_margin).is_ok() {
                        add(
                            Action::Swapoff { role: Role::Temp },
                            Risk::Disruptive,
                            "a leftover swap-over area of an interrupted resize",
                        );
                    }
                }
                if t.active.is_none()
                    || steps
                        .iter()
                        .any(|s| s.action == Action::Swapoff { role: Role::Temp })
                {
                    steps.push(PlannedStep {
                        action: Action::Delete { role: Role::Temp },
                        risk: Risk::Destructive,
                        reason: "a leftover swap-over area of an interrupted resize".into(),
                        optional: false,
                    });
                }
            }
        }
    }
    if !steps.is_empty() {
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
