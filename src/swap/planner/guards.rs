//! The guards that keep a swap change from hurting the host: free disk, memory for a
//! swapoff, and the sizes they are computed from (pure).

use crate::resources::Disk;
use crate::size::{ByteSize, Threshold};
use crate::swap::proc_swaps::SwapEntry;

/// The disk guard: taking `extra` bytes must leave at least the largest `keep` amount.
///
/// # Errors
/// Why not, in words.
pub fn disk_guard(disk: &Disk, keep: &[Threshold], extra: u64) -> Result<(), String> {
    if extra == 0 {
        return Ok(());
    }
    let required = keep
        .iter()
        .map(|t| t.required(disk.total_bytes))
        .max()
        .unwrap_or(0);
    let after = disk.free_bytes.checked_sub(extra);
    match after {
        Some(a) if a >= required => Ok(()),
        _ => Err(format!(
            "taking {} would leave {} free on the filesystem of {} (of {}), below the guard \
             of {} (--keep-free {})",
            ByteSize(extra),
            ByteSize(after.unwrap_or(0)),
            disk.path.display(),
            ByteSize(disk.total_bytes),
            ByteSize(required),
            keep.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" --keep-free ")
        )),
    }
}

/// The memory guard before a `swapoff`: the pages in use on the area must fit in
/// `MemAvailable` plus the free space of the other swap areas, with `margin` to spare.
/// The host's `MemAvailable`, not a cgroup's headroom: swapped-in pages are charged to
/// the cgroups that own them, not to hostfix's.
///
/// # Errors
/// Why not, in words.
pub fn memory_guard(
    available: u64,
    other_swap_free: u64,
    used: u64,
    margin: u64,
) -> Result<(), String> {
    if available.saturating_add(other_swap_free) >= used.saturating_add(margin) {
        Ok(())
    } else {
        Err(format!(
            "swapoff would move {} back into memory, but MemAvailable is {} and the other swap \
             areas have {} free: less than that plus the {} margin",
            ByteSize(used),
            ByteSize(available),
            ByteSize(other_swap_free),
            ByteSize(margin)
        ))
    }
}

/// Free space on every active swap area except `except`.
pub fn other_swap_free(swaps: &[SwapEntry], except: &[&SwapEntry]) -> u64 {
    swaps
        .iter()
        .filter(|s| {
            !except
                .iter()
                .any(|e| e.path == s.path && e.deleted == s.deleted)
        })
        .map(|s| s.size_bytes.saturating_sub(s.used_bytes))
        .fold(0, u64::saturating_add)
}

/// The smallest temporary area a swap-over uses.
pub const TEMP_MIN: u64 = 32 * ByteSize::MIB;

/// The size of a swap-over's temporary area: what the old area holds plus a quarter,
/// at least [`TEMP_MIN`], in whole MiB.
pub fn temp_size(used: u64, page: u64) -> u64 {
    // Saturating: a number of bytes near 2^64 (from /proc/swaps) gives a size the disk
    // guard refuses, not an overflow.
    let want = used.saturating_add(used / 4).max(TEMP_MIN);
    let mib = want.div_ceil(ByteSize::MIB).saturating_mul(ByteSize::MIB);
    mib / page.max(1) * page.max(1)
}

/// Whether the kernel's view of an active area (`/proc/swaps`: KiB, without the header
/// page) fits a file of `file_size`. The kernel counts only pages whose blocks line up,
/// so it may report less than the file holds (a 1 KiB-block ext2 loses about 5%); more
/// than the file, or less than half of it, means the area is not this file as it is now.
/// The file cannot change while active (the kernel refuses writes and truncation), so
/// this is a sanity check, not the size comparison: that is done on the file itself.
pub fn kernel_size_matches(entry_bytes: u64, file_size: u64, page: u64) -> bool {
    let usable = file_size.saturating_sub(page);
    entry_bytes <= usable && entry_bytes >= usable / 2
}
