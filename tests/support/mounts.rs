//! Mounts the root tiers make, through `sys-mount` (mount(2) and umount2(2), no `mount`
//! program): a tmpfs, a bind mount, a block device. Each returns a guard that detaches the
//! mount when dropped, even when the test panics.

#![allow(dead_code)] // each test binary uses a subset

use std::path::Path;

use sys_mount::{Mount, MountFlags, UnmountDrop, UnmountFlags};

/// A mount that is detached (`MNT_DETACH`) when dropped.
pub type Mounted = UnmountDrop<Mount>;

/// Mounts a tmpfs at `target` with `options` (`size=64M,mode=0755`).
pub fn tmpfs(target: &Path, options: &str) -> Mounted {
    Mount::builder()
        .fstype("tmpfs")
        .data(options)
        .mount_autodrop("hostfix-test", target, UnmountFlags::DETACH)
        .unwrap_or_else(|e| panic!("mounting a tmpfs at {}: {e}", target.display()))
}

/// Bind-mounts `source` over `target`.
pub fn bind(source: &Path, target: &Path) -> Mounted {
    Mount::builder()
        .flags(MountFlags::BIND)
        .mount_autodrop(source, target, UnmountFlags::DETACH)
        .unwrap_or_else(|e| {
            panic!(
                "bind-mounting {} over {}: {e}",
                source.display(),
                target.display()
            )
        })
}

/// Mounts the filesystem on `device` at `target` (its type found by the kernel's list of
/// supported filesystems).
pub fn device(device: &Path, target: &Path) -> Mounted {
    Mount::builder()
        .mount_autodrop(device, target, UnmountFlags::DETACH)
        .unwrap_or_else(|e| panic!("mounting {} at {}: {e}", device.display(), target.display()))
}
