//! Resizing an active swap file: swap over to a temporary area so there is never a
//! moment without swap, or in place when the disk has no room and memory can take the
//! pages.

use super::{
    Action, Own, PlanRefusal, Planner, Role, disk_guard, memory_guard, other_swap_free, temp_size,
};
use crate::plan::Risk;
use crate::size::ByteSize;
use crate::swap::observe::FileFacts;
use crate::swap::proc_swaps::SwapEntry;

impl Planner<'_> {
    /// An active area of the wrong size: swap over to a temporary area so there is never a
    /// moment without swap; in place when the disk has no room for that and memory can
    /// take the pages; refuse otherwise.
    pub(super) fn plan_resize_active(
        &mut self,
        f: &FileFacts,
        entry: &SwapEntry,
    ) -> Result<(), PlanRefusal> {
        let d = self.d;
        let o = self.o;
        let page = o.page_size;
        let used = entry.used_bytes;
        let avail = o.memory.as_ref().map_or(0, |m| m.mem_available);
        let growth = d.size.saturating_sub(f.allocated);
        let why = format!(
            "resize the active swap file from {} to {}",
            ByteSize(f.size),
            ByteSize(d.size)
        );
        let action = format!("swapoff {} ({why})", d.path.display());
        let temp = o.temp.as_ref();
        let temp_active = temp.and_then(|t| t.active.as_ref());
        let temp_file = temp.and_then(|t| t.target.file());
        if temp.is_some() {
            self.refuse_foreign_temp(&action)?;
        }
        let tsize = match (temp_active, temp_file) {
            (Some(_), Some(tf)) => tf.size,
            _ => temp_size(used, page),
        };
        let temp_new = if temp_active.is_some() {
            0
        } else {
            tsize.saturating_sub(temp_file.map_or(0, |t| t.allocated))
        };
        let others = other_swap_free(&o.swaps, &[entry]);
        let swap_over_disk = o
            .disk
            .as_ref()
            .map(|disk| disk_guard(disk, &d.keep_free, temp_new.saturating_add(growth)));
        let over_mem = memory_guard(
            avail,
            others.saturating_add(if temp_active.is_some() { 0 } else { tsize }),
            used,
            d.memory_margin,
        );
        if matches!(swap_over_disk, Some(Ok(()))) && over_mem.is_ok() {
            self.plan_swap_over(f, tsize, &why);
            return Ok(());
        }
        // In place: a moment without this area, so memory must take what it holds.
        let disk_in_place = match &o.disk {
            Some(disk) => disk_guard(disk, &d.keep_free, growth),
            None => Ok(()),
        };
        if let Err(why) = disk_in_place {
            return Err(self.guard(&action, Risk::Disruptive, "keep-free", why));
        }
        memory_guard(avail, others, used, d.memory_margin).map_err(|why| {
            self.guard(
                &action,
                Risk::Disruptive,
                "memory",
                format!(
                    "{why}; and the disk has no room for a temporary swap-over area ({})",
                    swap_over_disk
                        .and_then(Result::err)
                        .or(over_mem.err())
                        .unwrap_or_default()
                ),
            )
        })?;
        self.plan_in_place(f, &why);
        Ok(())
    }

    /// Refuses a swap-over when the temporary area's path holds something that is not
    /// hostfix's.
    fn refuse_foreign_temp(&mut self, action: &str) -> Result<(), PlanRefusal> {
        let why = match &self.own.temp {
            None => Some("it is not a regular file".to_string()),
            Some(Own::Foreign { why }) => Some(why.clone()),
            Some(_) => None,
        };
        match why {
            Some(why) => Err(self.refuse(
                action,
                Risk::Disruptive,
                format!(
                    "{} is in the way of the swap-over and is not hostfix's ({why}): \
                     remove it yourself",
                    self.o.temp_path().display()
                ),
            )),
            None => Ok(()),
        }
    }

    /// The swap-over: a temporary area of `tsize` takes the pages while the file is
    /// rebuilt, then goes (a leftover inactive one of an interrupted resize first).
    fn plan_swap_over(&mut self, f: &FileFacts, tsize: u64, why: &str) {
        let d = self.d;
        let temp = self.o.temp.as_ref();
        let temp_active = temp.and_then(|t| t.active.as_ref());
        if let Some(t) = temp {
            if t.active.is_none() {
                self.cleanup(
                    Action::Delete { role: Role::Temp },
                    Risk::Additive,
                    "hostfix's own swap-over area of an interrupted resize (recorded, \
                     inactive: it holds no page of any process)",
                );
            }
        }
        if temp_active.is_none() {
            self.build(
                Role::Temp,
                tsize,
                "swap over: a temporary area keeps swap available while the file is resized",
            );
            self.add(
                Action::Swapon {
                    role: Role::Temp,
                    priority: None,
                },
                Risk::Additive,
                "the temporary area takes the pages of the old one",
            );
        }
        self.add(
            Action::Swapoff { role: Role::Target },
            Risk::Disruptive,
            why.to_string(),
        );
        self.rebuild(Role::Target, f, d.size, Risk::Disruptive, why);
        self.add(
            Action::Swapon {
                role: Role::Target,
                priority: d.priority,
            },
            Risk::Disruptive,
            "the resized swap file goes back on",
        );
        self.add(
            Action::Swapoff { role: Role::Temp },
            Risk::Disruptive,
            "the temporary area is no longer needed",
        );
        self.add(
            Action::Delete { role: Role::Temp },
            Risk::Additive,
            "the temporary area is no longer needed (hostfix's own, inactive)",
        );
    }

    /// In place: swapoff, rebuild, swapon (memory takes the pages meanwhile).
    fn plan_in_place(&mut self, f: &FileFacts, why: &str) {
        let d = self.d;
        self.add(
            Action::Swapoff { role: Role::Target },
            Risk::Disruptive,
            format!("{why} in place (no room for a swap-over area; memory covers the pages)"),
        );
        self.rebuild(Role::Target, f, d.size, Risk::Disruptive, why);
        self.add(
            Action::Swapon {
                role: Role::Target,
                priority: d.priority,
            },
            Risk::Disruptive,
            "the resized swap file goes back on",
        );
    }
}
