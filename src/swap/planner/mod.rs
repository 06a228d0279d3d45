//! The planner: from an [`Observation`] and the desired state, the steps to take, least
//! risky first, or the refusal that protects the host. Pure: every decision here is a
//! function of its arguments, and tested as such.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::fs::{FsKind, KernelVersion, SwapSupport, swap_support};
use super::observe::{Content, FileFacts, Observation, Target, needs_nocow};
use super::spec::{AutoSize, MIN_SIZE, Persist, SwapSize, SwapSpec, auto_size, auto_size_accepts};
use crate::error::{Error, Refusal};
use crate::plan::Risk;
use crate::size::{ByteSize, Threshold};

mod action;
mod checks;
mod existing;
mod guards;
pub mod ownership;
mod persist;
mod remove;
mod resize;

pub use action::{Action, PlanRefusal, PlannedStep, Role};
pub use checks::describe_file;
#[cfg(any(test, feature = "testing"))]
pub use guards::TEMP_MIN;
pub use guards::{disk_guard, kernel_size_matches, memory_guard, other_swap_free, temp_size};
pub use ownership::{Own, Ownership, ownership};
pub use persist::{wanted_line, wanted_unit};
pub use remove::{RemoveSpec, plan_remove};

/// The desired state with `auto` resolved and sizes in whole pages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Desired {
    /// The swap file's host path.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// How `auto` decided, when it did.
    pub auto: Option<AutoSize>,
    /// Persistence.
    pub persist: Persist,
    /// Priority.
    pub priority: Option<i32>,
    /// Swappiness.
    pub swappiness: Option<u32>,
    /// Label for a new header.
    pub label: Option<String>,
    /// The disk guard.
    pub keep_free: Vec<Threshold>,
    /// The memory margin for swapoff.
    pub memory_margin: u64,
}

/// The sysctl.d file content for a swappiness.
pub fn sysctl_content(value: u32) -> String {
    format!("# Written by hostfix (hostfix swap ensure --swappiness).\nvm.swappiness = {value}\n")
}

/// Resolves the spec against the host: `auto` sized, sizes rounded down to whole pages.
///
/// # Errors
/// [`Error::Unmet`] when `auto` cannot read memory or disk; [`Refusal::Guard`] when
/// `auto` leaves less than the minimum size.
pub fn resolve(spec: &SwapSpec, o: &Observation) -> Result<Desired, Error> {
    let page = o.page_size.max(1);
    let (size, auto) = match spec.size {
        SwapSize::Bytes(b) => (b / page * page, None),
        SwapSize::Auto => {
            let mem = o
                .memory
                .as_ref()
                .ok_or_else(|| Error::Unmet("size auto: /proc/meminfo could not be read".into()))?;
            let disk = o.disk.as_ref().ok_or_else(|| {
                Error::Unmet("size auto: the free disk space could not be read".into())
            })?;
            // Space the file (and a leftover temp) already hold counts as free for it, so
            // the size does not shrink because the file exists.
            let own = |t: &Target| {
                t.file()
                    .filter(|f| !matches!(f.content, Content::Data | Content::Hibernation { .. }))
                    .map_or(0, |f| f.allocated)
            };
            let held = own(&o.target).saturating_add(o.temp.as_ref().map_or(0, |t| own(&t.target)));
            let a = auto_size(
                mem.mem_total,
                spec.auto_max,
                spec.auto_disk_share,
                disk.free_bytes.saturating_add(held),
            );
            if a.bytes < MIN_SIZE {
                return Err(Refusal::Guard {
                    rule: "auto-size".into(),
                    detail: format!(
                        "size auto found room for only {} ({}); free disk space or give --size",
                        ByteSize(a.bytes),
                        a.reason
                    ),
                }
                .into());
            }
            let keep = o.target.file().filter(|f| {
                f.content.header().is_some_and(|h| h.fits(page, f.size))
                    && auto_size_accepts(f.size, a.bytes)
            });
            let size = keep.map_or(a.bytes / page * page, |f| f.size);
            (size, Some(a))
        }
    };
    Ok(Desired {
        path: o.path.clone(),
        size,
        auto,
        persist: spec.persist,
        priority: spec.priority,
        swappiness: spec.swappiness,
        label: spec.label.clone(),
        keep_free: spec.keep_free.clone(),
        memory_margin: spec.memory_margin,
    })
}

struct Planner<'a> {
    d: &'a Desired,
    o: &'a Observation,
    own: Ownership,
    steps: Vec<PlannedStep>,
}

impl Planner<'_> {
    fn add(&mut self, action: Action, risk: Risk, reason: impl Into<String>) {
        self.steps.push(PlannedStep {
            action,
            risk,
            reason: reason.into(),
            cleanup: false,
        });
    }

    fn cleanup(&mut self, action: Action, risk: Risk, reason: impl Into<String>) {
        self.steps.push(PlannedStep {
            action,
            risk,
            reason: reason.into(),
            cleanup: true,
        });
    }

    fn refuse(&self, action: &str, risk: Risk, why: String) -> PlanRefusal {
        PlanRefusal {
            action: action.to_string(),
            risk,
            refusal: Refusal::Unsafe {
                target: self.d.path.display().to_string(),
                why,
            },
        }
    }

    fn guard(&self, action: &str, risk: Risk, rule: &str, detail: String) -> PlanRefusal {
        PlanRefusal {
            action: action.to_string(),
            risk,
            refusal: Refusal::Guard {
                rule: rule.to_string(),
                detail,
            },
        }
    }

    fn check_disk(&self, action: &str, extra: u64) -> Result<(), PlanRefusal> {
        match &self.o.disk {
            Some(disk) => disk_guard(disk, &self.d.keep_free, extra)
                .map_err(|why| self.guard(action, Risk::Additive, "keep-free", why)),
            None if extra == 0 || self.d.keep_free.is_empty() => Ok(()),
            None => Err(self.guard(
                action,
                Risk::Additive,
                "keep-free",
                "the free disk space could not be read".into(),
            )),
        }
    }

    fn btrfs(&self) -> bool {
        needs_nocow(self.o.fs.as_ref())
    }

    fn zeros(&self) -> bool {
        // XFS before 4.18 leaves unwritten extents that swapon rejects.
        self.o.fs.as_ref().is_some_and(|f| f.kind == FsKind::Xfs)
            && self.o.kernel.is_some_and(|k| k < KernelVersion(4, 18, 0))
    }

    fn alloc_reason(&self) -> &'static str {
        if self.zeros() {
            "swap needs every block allocated; fallocate on XFS before Linux 4.18 leaves extents swapon rejects"
        } else {
            "swap needs every block allocated (fallocate, verified to leave no holes; zeros otherwise)"
        }
    }

    /// Steps that make a new, inactive, complete swap area of `size` for `role`.
    fn build(&mut self, role: Role, size: u64, reason: &str) {
        self.add(Action::Create { role }, Risk::Additive, reason.to_string());
        if self.btrfs() {
            self.add(
                Action::SetNocow { role },
                Risk::Additive,
                "btrfs swaps only to NOCOW files, and the flag takes only on an empty file",
            );
        }
        self.add(
            Action::Allocate {
                role,
                size,
                zeros: self.zeros(),
            },
            Risk::Additive,
            self.alloc_reason(),
        );
        self.add(
            Action::WriteHeader {
                role,
                size,
                keep_uuid: None,
                label: self.d.label.clone(),
            },
            Risk::Additive,
            "a swap area needs its header (written in Rust, as mkswap would)",
        );
    }

    /// Steps that make an existing inactive file a complete area of `size`, keeping its
    /// UUID.
    fn rebuild(&mut self, role: Role, f: &FileFacts, size: u64, risk: Risk, why: &str) {
        let keep_uuid = f.content.header().map(|h| h.uuid.clone());
        let label = self.d.label.clone().or_else(|| {
            f.content
                .header()
                .map(|h| h.label.clone())
                .filter(|l| !l.is_empty())
        });
        if self.btrfs() && f.nocow == Some(false) {
            self.add(
                Action::Empty { role },
                risk,
                "btrfs cannot swap to a copy-on-write file and NOCOW takes only on an empty file \
                 (the file holds no data: zeros or an inactive swap area)",
            );
            self.add(
                Action::SetNocow { role },
                risk,
                "btrfs swaps only to NOCOW files",
            );
        }
        self.add(
            Action::Allocate {
                role,
                size,
                zeros: self.zeros(),
            },
            risk,
            format!("{why}; {}", self.alloc_reason()),
        );
        self.add(
            Action::WriteHeader {
                role,
                size,
                keep_uuid,
                label,
            },
            risk,
            format!("{why}: the header must describe {}", ByteSize(size)),
        );
    }

    fn plan(mut self) -> Result<Vec<PlannedStep>, PlanRefusal> {
        let d = self.d;
        let o = self.o;
        let what = format!("swap file {}", d.path.display());
        let file = self.check_target(&what)?;
        self.check_ownership()?;
        if o.active.is_none() {
            match o.fs.as_ref().map(|fs| swap_support(fs, o.kernel)) {
                Some(SwapSupport::No(why)) => {
                    return Err(self.refuse(&what, Risk::Additive, why));
                }
                Some(SwapSupport::Unknown) => log::info!(
                    "swap: unknown filesystem (magic {:#x}): trying, swapon decides",
                    o.fs.as_ref().map_or(0, |f| f.magic)
                ),
                _ => {}
            }
        }
        self.plan_bookkeeping();
        match file {
            None => {
                self.check_disk(&format!("create {}", d.path.display()), d.size)?;
                if !o.parent_exists {
                    self.add(
                        Action::CreateDirs,
                        Risk::Additive,
                        "the swap file's directory does not exist",
                    );
                }
                self.build(Role::Target, d.size, "no swap file yet");
                self.add(
                    Action::Swapon {
                        role: Role::Target,
                        priority: d.priority,
                    },
                    Risk::Additive,
                    "the swap file is not active",
                );
            }
            Some(f) => self.plan_existing(f)?,
        }
        self.plan_persistence();
        self.plan_swappiness();
        self.plan_leftover();

        let changes = self
            .steps
            .iter()
            .any(|s| !matches!(s.action, Action::LeaveAlone { .. }));
        if changes {
            let first = self
                .steps
                .iter()
                .find(|s| !matches!(s.action, Action::LeaveAlone { .. }))
                .map(|s| s.action.describe(&d.path, &o.temp_path()))
                .unwrap_or_default();
            if let Some(c) = &o.container {
                return Err(self.refuse(
                    &first,
                    Risk::Additive,
                    format!(
                        "swapon is not permitted here (running in a container: {c}); swap \
                         belongs to the host, create it there"
                    ),
                ));
            }
        }
        Ok(self.steps)
    }
}

/// The refusal of a run without root that would change something (swapon needs
/// `CAP_SYS_ADMIN`, and the files are root's), naming its first change; `None` when it
/// is root or changes nothing (pure). Only a real run asks: a dry run shows the whole plan
/// instead, each step marked as needing root.
pub fn root_refusal(path: &Path, o: &Observation, steps: &[PlannedStep]) -> Option<PlanRefusal> {
    if o.is_root {
        return None;
    }
    let first = steps
        .iter()
        .find(|s| !matches!(s.action, Action::LeaveAlone { .. }))?
        .action
        .describe(path, &o.temp_path());
    Some(PlanRefusal {
        action: first.clone(),
        risk: Risk::Additive,
        refusal: Refusal::NeedsRoot {
            action: format!("{first} (swapon and swapoff need CAP_SYS_ADMIN)"),
        },
    })
}

/// Plans `swap ensure` (pure).
///
/// # Errors
/// The refusal, when a needed step would lose data or break the host.
pub fn plan_ensure(d: &Desired, o: &Observation) -> Result<Vec<PlannedStep>, PlanRefusal> {
    Planner {
        d,
        o,
        own: ownership(o),
        steps: Vec::new(),
    }
    .plan()
}
