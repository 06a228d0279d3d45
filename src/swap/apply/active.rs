//! The steps that switch a swap area: swapon (rebuilding an area the kernel rejects
//! when it is hostfix's own), and swapoff guarded by memory.

use std::path::Path;
use std::time::Instant;

use nix::errno::Errno;

use super::{Applier, Role};
use crate::error::{Error, Refusal, Result};
use crate::size::ByteSize;
use crate::swap::fs as swapfs;
use crate::swap::header::{Signature, read_signature};
use crate::swap::planner::{memory_guard, other_swap_free};
use crate::swap::{SwapError, swapoff_cause, swapon_cause};

impl Applier<'_> {
    fn swapon_once(&self, role: Role, priority: Option<i32>) -> std::result::Result<(), Errno> {
        self.host.system().swapon(&self.real(role), priority)
    }

    pub(super) fn swapon(&mut self, role: Role, priority: Option<i32>) -> Result<String> {
        let hp = self.host_path(role).to_path_buf();
        // Right before the kernel reads it: the same inode, still a swap area.
        {
            let mut f = self.open(role, false)?;
            let head = swapfs::read_head(&mut f).map_err(|e| Error::io("reading", &hp, e))?;
            if !matches!(read_signature(&head), Signature::Swap(_)) {
                return Err(SwapError::Verify {
                    path: hp,
                    detail: "no swap header".into(),
                }
                .into());
            }
        }
        let mut note = String::new();
        match self.swapon_once(role, priority) {
            Ok(()) => {}
            Err(Errno::EBUSY) if self.entry(role)?.is_some() => {
                note = " (it was already active)".into();
            }
            Err(Errno::EINVAL) => {
                // Unwritten extents some kernels reject: write real zeros, then the header
                // again (same UUID and label), and try once more.
                log::warn!(
                    "swap: swapon {} refused the allocated file (EINVAL); writing zeros and retrying",
                    hp.display()
                );
                let header = {
                    let mut f = self.open(role, false)?;
                    let head =
                        swapfs::read_head(&mut f).map_err(|e| Error::io("reading", &hp, e))?;
                    match read_signature(&head) {
                        Signature::Swap(h) => h,
                        _ => {
                            return Err(SwapError::Verify {
                                path: hp,
                                detail: "no swap header".into(),
                            }
                            .into());
                        }
                    }
                };
                let size = self
                    .open(role, false)?
                    .metadata()
                    .map_err(|e| Error::io("examining", &hp, e))?
                    .len();
                self.allocate(role, size, true)?;
                let label = (!header.label.is_empty()).then_some(header.label.as_str());
                self.write_header(role, size, Some(&header.uuid), label)?;
                self.swapon_once(role, priority)
                    .map_err(|e| swapon_error(&hp, e))?;
                note = " (after swapon refused the fallocated file: rewritten with zeros)".into();
            }
            Err(e) => return Err(swapon_error(&hp, e)),
        }
        match self.entry(role)? {
            Some(e) => Ok(format!(
                "/proc/swaps lists it: {} usable, priority {}{note}",
                ByteSize(e.size_bytes),
                e.priority
            )),
            None => Err(SwapError::NotListed { path: hp }.into()),
        }
    }

    pub(super) fn swapoff(&self, role: Role) -> Result<String> {
        let hp = self.host_path(role).to_path_buf();
        let Some(entry) = self.entry(role)? else {
            return Ok("not active (nothing to do)".into());
        };
        // The memory guard, again, with fresh numbers.
        let mem = crate::resources::read_memory(self.host)?;
        let swaps = crate::swap::active_swaps(self.host)?;
        let others = other_swap_free(&swaps, &[&entry]);
        if let Err(why) = memory_guard(
            mem.mem_available,
            others,
            entry.used_bytes,
            self.ctx.memory_margin,
        ) {
            return Err(Refusal::Guard {
                rule: "memory".into(),
                detail: why,
            }
            .into());
        }
        let started = Instant::now();
        self.host
            .system()
            .swapoff(&self.real(role))
            .map_err(|e| Error::Sys {
                call: "swapoff".into(),
                target: hp.display().to_string(),
                errno: e,
                hint: swapoff_cause(e).map(str::to_string),
            })?;
        if self.entry(role)?.is_some() {
            return Err(SwapError::StillListed { path: hp }.into());
        }
        Ok(format!(
            "{} in use moved out in {:.2}s; /proc/swaps no longer lists it",
            ByteSize(entry.used_bytes),
            started.elapsed().as_secs_f64()
        ))
    }
}

fn swapon_error(hp: &Path, e: Errno) -> Error {
    Error::Sys {
        call: "swapon".into(),
        target: hp.display().to_string(),
        errno: e,
        hint: swapon_cause(e).map(str::to_string),
    }
}
