//! An existing swap file: its owner and mode, its priority when it is active and of the
//! right size, a rebuild when it is inactive and incomplete, and the resize of an
//! active one ([`super::resize`]).

use super::{
    Action, PlanRefusal, Planner, Role, kernel_size_matches, memory_guard, other_swap_free,
};
use crate::plan::Risk;
use crate::size::ByteSize;
use crate::swap::observe::{Content, FileFacts};
use crate::swap::proc_swaps::SwapEntry;

impl Planner<'_> {
    pub(super) fn plan_existing(&mut self, f: &FileFacts) -> Result<(), PlanRefusal> {
        let d = self.d;
        let o = self.o;
        if !f.owner_mode_ok(o.owner) {
            self.plan_owner_mode(f);
        }
        let header_ok = f
            .content
            .header()
            .is_some_and(|h| h.fits(o.page_size, d.size))
            && f.size == d.size;
        match &o.active {
            Some(entry) => {
                let kernel_ok = kernel_size_matches(entry.size_bytes, f.size, o.page_size);
                if header_ok && kernel_ok {
                    if d.priority.is_some_and(|p| p != entry.priority) {
                        self.plan_priority(entry)?;
                    }
                } else {
                    self.plan_resize_active(f, entry)?;
                }
            }
            None => self.plan_inactive(f, header_ok)?,
        }
        Ok(())
    }

    /// The owner and mode a swap file needs (`root:root 0600`).
    fn plan_owner_mode(&mut self, f: &FileFacts) {
        let o = self.o;
        let why = if f.readable_by_others(o.owner) {
            format!(
                "mode {:04o}, owner {}:{}: a swap file readable by others leaks memory contents",
                f.mode, f.uid, f.gid
            )
        } else {
            format!(
                "mode {:04o}, owner {}:{}; swap needs {}:{} 0600",
                f.mode, f.uid, f.gid, o.owner.0, o.owner.1
            )
        };
        self.add(
            Action::FixOwnerMode { role: Role::Target },
            Risk::Additive,
            why,
        );
    }

    /// Another priority: only swapoff and swapon change it, so memory must take the pages.
    fn plan_priority(&mut self, entry: &SwapEntry) -> Result<(), PlanRefusal> {
        let d = self.d;
        let o = self.o;
        let used = entry.used_bytes;
        let action = format!("swapoff {}", d.path.display());
        let others = other_swap_free(&o.swaps, &[entry]);
        let avail = o.memory.as_ref().map_or(0, |m| m.mem_available);
        memory_guard(avail, others, used, d.memory_margin)
            .map_err(|why| self.guard(&action, Risk::Disruptive, "memory", why))?;
        self.add(
            Action::Swapoff { role: Role::Target },
            Risk::Disruptive,
            format!(
                "the priority is {}, wanted {}: only swapoff and swapon change it",
                entry.priority,
                d.priority.unwrap_or_default()
            ),
        );
        self.add(
            Action::Swapon {
                role: Role::Target,
                priority: d.priority,
            },
            Risk::Disruptive,
            "back on with the wanted priority",
        );
        Ok(())
    }

    /// An inactive file: rebuilt when incomplete (zeros, a header of another size, holes,
    /// not NOCOW on btrfs), then swapped on.
    fn plan_inactive(&mut self, f: &FileFacts, header_ok: bool) -> Result<(), PlanRefusal> {
        let d = self.d;
        let complete = header_ok && !f.holes && f.allocated >= d.size;
        let nocow_bad = self.btrfs() && f.nocow == Some(false);
        if !complete || nocow_bad {
            let growth = d.size.saturating_sub(f.allocated);
            self.check_disk(&format!("allocate {}", d.path.display()), growth)?;
            let why = match (&f.content, header_ok) {
                (Content::Zeros, _) => {
                    "the file holds only zeros (an interrupted create?)".to_string()
                }
                (_, false) => format!(
                    "the inactive swap area is {} but should be {}",
                    ByteSize(
                        f.content
                            .header()
                            .map_or(f.size, |h| h.area_bytes().min(f.size))
                    ),
                    ByteSize(d.size)
                ),
                _ if nocow_bad => "the file is not NOCOW on btrfs".to_string(),
                _ => "the swap area has holes swapon rejects".to_string(),
            };
            self.rebuild(Role::Target, f, d.size, Risk::Additive, &why);
        }
        self.add(
            Action::Swapon {
                role: Role::Target,
                priority: d.priority,
            },
            Risk::Additive,
            "the swap file is not active",
        );
        Ok(())
    }
}
