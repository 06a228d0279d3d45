//! Memory and disk readings, and thresholds checked against them.
//!
//! Memory follows the kubelet's eviction signals: `MemAvailable` (not `MemFree`), swap,
//! pressure (PSI), and inside a cgroup v2 limit the limit minus the working set
//! (`memory.current - inactive_file`). Disk follows `df`: bytes free to unprivileged users
//! (`f_bavail * f_frsize`) and inodes free (`f_favail`), per path.

mod check;
pub(crate) mod disk;
pub(crate) mod memory;
mod render;

pub use check::{CheckItem, CheckResult, CheckSpec, check};
pub use disk::Disk;
pub(crate) use disk::read_disk;
pub(crate) use memory::MemInfo;
pub(crate) use memory::read_memory;
pub use memory::{CgroupMemory, Memory, Pressure};

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}
