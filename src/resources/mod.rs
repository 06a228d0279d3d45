//! Memory and disk readings, and thresholds checked against them.
//!
//! Memory follows the kubelet's eviction signals: `MemAvailable` (not `MemFree`), swap,
//! pressure (PSI), and inside a cgroup v2 limit the limit minus the working set
//! (`memory.current - inactive_file`). Disk follows `df`: bytes free to unprivileged users
//! (`f_bavail * f_frsize`) and inodes free (`f_favail`), per path.

mod check;
mod disk;
mod memory;

pub use check::{CheckItem, CheckResult, CheckSpec, check, pseudo_filesystem, show_amount};
pub use disk::{Disk, read_disk};
pub use memory::{
    CgroupMemory, MemInfo, Memory, Pressure, combine, parse_cgroup_v2_path, parse_inactive_file,
    parse_memory_max, read_memory,
};

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}
