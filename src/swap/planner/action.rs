//! The steps a plan is made of: what, on which file, how risky, why.

use std::path::Path;

use serde::Serialize;

use crate::error::Refusal;
use crate::plan::Risk;
use crate::size::ByteSize;

/// Which file a step works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The swap file itself.
    Target,
    /// The temporary area a resize swaps over to (`.NAME.hostfix-swapover`).
    Temp,
}

/// One thing to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "do", rename_all = "kebab-case")]
pub enum Action {
    /// Create the missing parent directories (0755).
    CreateDirs,
    /// Create the file with `O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600, owner root.
    Create {
        /// Which file.
        role: Role,
    },
    /// Set owner root:root and mode 0600.
    FixOwnerMode {
        /// Which file.
        role: Role,
    },
    /// Truncate an inactive swap area or zero file to nothing (so btrfs can mark it NOCOW).
    Empty {
        /// Which file.
        role: Role,
    },
    /// Set btrfs `FS_NOCOW_FL` on the empty file.
    SetNocow {
        /// Which file.
        role: Role,
    },
    /// Allocate every block up to `size` (fallocate, verified; zeros as the fallback).
    Allocate {
        /// Which file.
        role: Role,
        /// The size in bytes.
        size: u64,
        /// Write zeros without trying fallocate (the filesystem's fallocate is known to
        /// leave extents swapon rejects).
        zeros: bool,
    },
    /// Write the swap header.
    WriteHeader {
        /// Which file.
        role: Role,
        /// The area's size in bytes.
        size: u64,
        /// Keep this UUID (an existing area keeps its identity).
        keep_uuid: Option<String>,
        /// The label.
        label: Option<String>,
    },
    /// `swapon`.
    Swapon {
        /// Which file.
        role: Role,
        /// The priority.
        priority: Option<i32>,
    },
    /// `swapoff`, after checking memory can take the pages back.
    Swapoff {
        /// Which file.
        role: Role,
    },
    /// Delete the file, after checking again that it is an inactive swap area.
    Delete {
        /// Which file.
        role: Role,
    },
    /// Make hostfix's own fstab lines for the file exactly one line, with this priority.
    PersistFstab {
        /// The line's `pri=`.
        priority: Option<i32>,
    },
    /// Remove hostfix's own fstab lines for the file.
    UnpersistFstab,
    /// Write and enable the `.swap` unit, with this priority.
    PersistUnit {
        /// The unit's `Priority=`.
        priority: Option<i32>,
    },
    /// Disable and delete hostfix's `.swap` unit.
    UnpersistUnit,
    /// Write `/proc/sys/vm/swappiness`.
    SetSwappiness {
        /// The value.
        value: u32,
    },
    /// Write hostfix's `sysctl.d` file.
    WriteSysctl {
        /// The value.
        value: u32,
    },
    /// Record a file as hostfix's in its state directory: a half-made file's device and
    /// inode, or the setup of an earlier hostfix version that kept no record (the file,
    /// with the fstab lines and unit that version wrote). Bookkeeping: it does not change
    /// the host.
    Record {
        /// Which file.
        role: Role,
        /// fstab lines (byte for byte, without the newline) adopted with the file.
        lines: Vec<String>,
        /// A unit adopted with the file.
        unit: Option<String>,
    },
    /// Forget a file the record names but that is gone (bookkeeping).
    Forget {
        /// Which file.
        role: Role,
    },
    /// Leave something that is not hostfix's alone: reported as skipped, never taken.
    LeaveAlone {
        /// What (`/etc/fstab line 3`).
        what: String,
        /// Why it is not hostfix's.
        why: String,
    },
}

impl Action {
    /// The step's name for people (`swapon /swapfile`).
    pub fn describe(&self, target: &Path, temp: &Path) -> String {
        let p = |r: &Role| match r {
            Role::Target => target.display().to_string(),
            Role::Temp => temp.display().to_string(),
        };
        match self {
            Action::CreateDirs => format!(
                "create directory {}",
                target.parent().unwrap_or(Path::new("/")).display()
            ),
            Action::Create { role } => format!("create {} (mode 0600, exclusive)", p(role)),
            Action::FixOwnerMode { role } => format!("chown root:root, chmod 0600 {}", p(role)),
            Action::Empty { role } => format!("truncate {} to 0 bytes", p(role)),
            Action::SetNocow { role } => format!("set NOCOW (chattr +C) on {}", p(role)),
            Action::Allocate { role, size, zeros } => format!(
                "allocate {} for {}{}",
                ByteSize(*size),
                p(role),
                if *zeros { " (zeros)" } else { "" }
            ),
            Action::WriteHeader { role, size, .. } => {
                format!("write swap header ({}) to {}", ByteSize(*size), p(role))
            }
            Action::Swapon { role, priority } => match priority {
                Some(n) => format!("swapon {} (priority {n})", p(role)),
                None => format!("swapon {}", p(role)),
            },
            Action::Swapoff { role } => format!("swapoff {}", p(role)),
            Action::Delete { role } => format!("delete {}", p(role)),
            Action::PersistFstab { .. } => {
                format!("persist {} in /etc/fstab", target.display())
            }
            Action::UnpersistFstab => format!("remove {} from /etc/fstab", target.display()),
            Action::PersistUnit { .. } => {
                format!("write and enable the .swap unit for {}", target.display())
            }
            Action::UnpersistUnit => {
                format!("disable and delete the .swap unit for {}", target.display())
            }
            Action::SetSwappiness { value } => format!("set vm.swappiness = {value}"),
            Action::WriteSysctl { value } => {
                format!(
                    "persist vm.swappiness = {value} in {}",
                    crate::swap::observe::SYSCTL_FILE
                )
            }
            Action::Record { role, .. } => format!("record {} as hostfix's", p(role)),
            Action::Forget { role } => format!("forget {} in hostfix's record", p(role)),
            Action::LeaveAlone { what, .. } => format!("leave {what} alone"),
        }
    }

    /// Whether the step only writes hostfix's own record (it does not change the host).
    pub fn is_bookkeeping(&self) -> bool {
        matches!(self, Action::Record { .. } | Action::Forget { .. })
    }
}

/// A planned step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedStep {
    /// What.
    pub action: Action,
    /// How risky.
    pub risk: Risk,
    /// Why it is needed.
    pub reason: String,
    /// Clean-up of hostfix's own leftovers (an interrupted resize's swap-over area): taken
    /// when the cap allows it even if a later needed step is refused; when it is itself
    /// above the cap, the other steps are still taken and the operation then ends refused,
    /// naming the risk the clean-up needs.
    pub cleanup: bool,
}

/// A needed step that must not be taken, with the refusal to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRefusal {
    /// The step.
    pub action: String,
    /// Its risk.
    pub risk: Risk,
    /// Why not.
    pub refusal: Refusal,
}
