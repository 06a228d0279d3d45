//! Memory and disk readings, and thresholds checked against them.
//!
//! Memory follows the kubelet's eviction signals: `MemAvailable` (not `MemFree`), swap,
//! pressure (PSI), and inside a cgroup v2 limit the limit minus the working set
//! (`memory.current - inactive_file`). Disk follows `df`: bytes free to unprivileged users
//! (`f_bavail * f_frsize`) and inodes free (`f_favail`), per path.

mod check;
pub(crate) mod readings;
mod render;

pub use check::{CheckItem, CheckResult, CheckSpec, check};
pub use readings::{CgroupMemory, Disk, Memory, Pressure};
pub(crate) use readings::{read_disk, read_memory};
