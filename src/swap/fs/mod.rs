//! What the filesystem can do for a swap file, and the low-level file work: filesystem
//! type from `statfs` magic, btrfs device count and NOCOW, allocation (`fallocate`, or
//! zeros in large blocks), hole detection, and reading a file's head.
//!
//! The classification functions are pure; the file functions (`fs/file.rs`) are thin
//! wrappers over one syscall each and return the errno.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

use nix::errno::Errno;
use serde::Serialize;

mod file;

#[cfg_attr(not(feature = "testing"), allow(unused_imports))] // used by hostfix::testing
pub use file::{
    FS_COMPR_FL, FS_NOCOW_FL, Mapping, ZERO_BLOCK, fallocate, get_flags, has_holes, is_all_zeros,
    map_extents, read_head, set_nocow, zero_fill,
};

/// The filesystems hostfix tells apart by their `statfs` magic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FsKind {
    /// ext2, ext3 or ext4 (one magic).
    Ext4,
    /// XFS.
    Xfs,
    /// btrfs.
    Btrfs,
    /// F2FS.
    F2fs,
    /// FAT.
    Vfat,
    /// tmpfs (shmem).
    Tmpfs,
    /// ramfs.
    Ramfs,
    /// overlayfs (a container's root, usually).
    Overlay,
    /// NFS.
    Nfs,
    /// CIFS/SMB.
    Cifs,
    /// ZFS.
    Zfs,
    /// FUSE (including virtiofs).
    Fuse,
    /// squashfs (read-only).
    Squashfs,
    /// EROFS (read-only).
    Erofs,
    /// bcachefs.
    Bcachefs,
    /// 9p (VM shares).
    V9fs,
    /// Anything else.
    Other,
}

impl FsKind {
    /// The kind for a `statfs` `f_type` magic.
    pub fn from_magic(magic: u64) -> FsKind {
        match magic {
            0xEF53 => FsKind::Ext4,
            0x5846_5342 => FsKind::Xfs,
            0x9123_683E => FsKind::Btrfs,
            0xF2F5_2010 => FsKind::F2fs,
            0x4d44 => FsKind::Vfat,
            0x0102_1994 => FsKind::Tmpfs,
            0x8584_58f6 => FsKind::Ramfs,
            0x794c_7630 => FsKind::Overlay,
            0x6969 => FsKind::Nfs,
            0xFF53_4D42 | 0xFE53_4D42 => FsKind::Cifs,
            0x2fc1_2fc1 => FsKind::Zfs,
            0x6573_5546 => FsKind::Fuse,
            0x7371_7368 => FsKind::Squashfs,
            0xE0F5_E1E2 => FsKind::Erofs,
            0xca45_1a4e => FsKind::Bcachefs,
            0x0102_1997 => FsKind::V9fs,
            _ => FsKind::Other,
        }
    }

    /// The name used in messages and JSON.
    pub fn name(self) -> &'static str {
        match self {
            FsKind::Ext4 => "ext4",
            FsKind::Xfs => "xfs",
            FsKind::Btrfs => "btrfs",
            FsKind::F2fs => "f2fs",
            FsKind::Vfat => "vfat",
            FsKind::Tmpfs => "tmpfs",
            FsKind::Ramfs => "ramfs",
            FsKind::Overlay => "overlay",
            FsKind::Nfs => "nfs",
            FsKind::Cifs => "cifs",
            FsKind::Zfs => "zfs",
            FsKind::Fuse => "fuse",
            FsKind::Squashfs => "squashfs",
            FsKind::Erofs => "erofs",
            FsKind::Bcachefs => "bcachefs",
            FsKind::V9fs => "9p",
            FsKind::Other => "other",
        }
    }
}

/// A kernel version (`major.minor.patch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct KernelVersion(pub u32, pub u32, pub u32);

impl KernelVersion {
    /// Parses the start of a release string (`6.1.0-18-amd64`, `4.18.0-553.el8.x86_64`).
    pub fn parse(release: &str) -> Option<KernelVersion> {
        let mut nums = release
            .trim()
            .split(|c: char| !c.is_ascii_digit())
            .map(str::parse::<u32>);
        let major = nums.next()?.ok()?;
        let minor = nums.next()?.ok()?;
        let patch = nums.next().and_then(Result::ok).unwrap_or(0);
        Some(KernelVersion(major, minor, patch))
    }
}

/// The filesystem holding a swap file, as observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FsInfo {
    /// The kind.
    pub kind: FsKind,
    /// The raw `f_type` magic.
    pub magic: u64,
    /// For btrfs: how many devices it spans (from `BTRFS_IOC_FS_INFO`).
    pub btrfs_devices: Option<u64>,
    /// For btrfs: its fsid.
    pub btrfs_fsid: Option<String>,
}

/// Whether a filesystem can hold a swap file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "support", content = "why", rename_all = "lowercase")]
pub enum SwapSupport {
    /// It can.
    Yes,
    /// It cannot, and why.
    No(String),
    /// Unknown filesystem: try, and let `swapon` decide.
    Unknown,
}

/// Decides whether a filesystem can hold a swap file on this kernel (pure).
pub fn swap_support(fs: &FsInfo, kernel: Option<KernelVersion>) -> SwapSupport {
    let no = |s: &str| SwapSupport::No(s.to_string());
    match fs.kind {
        FsKind::Ext4 | FsKind::Xfs => SwapSupport::Yes,
        FsKind::Btrfs => {
            if kernel.is_some_and(|k| k < KernelVersion(5, 0, 0)) {
                no("btrfs can hold a swap file only from Linux 5.0 on")
            } else if fs.btrfs_devices.is_some_and(|n| n > 1) {
                SwapSupport::No(format!(
                    "btrfs spanning {} devices cannot hold a swap file (single-device only)",
                    fs.btrfs_devices.unwrap_or(0)
                ))
            } else {
                SwapSupport::Yes
            }
        }
        FsKind::Tmpfs | FsKind::Ramfs => no(
            "tmpfs/ramfs lives in memory: swap there cannot free memory and the kernel refuses it",
        ),
        FsKind::Overlay => no("overlayfs cannot hold a swap file (is this a container's root?)"),
        FsKind::Nfs | FsKind::Cifs | FsKind::V9fs | FsKind::Fuse => {
            no("a network or FUSE filesystem cannot hold a swap file safely")
        }
        FsKind::Zfs => no("ZFS does not support swap files (use a zvol instead)"),
        FsKind::Squashfs | FsKind::Erofs => no("the filesystem is read-only"),
        FsKind::Bcachefs => no("bcachefs does not support swap files"),
        FsKind::F2fs | FsKind::Vfat | FsKind::Other => SwapSupport::Unknown,
    }
}

/// Reads the filesystem type (and for btrfs its device count) of the filesystem holding
/// `path` (an existing directory or file on the live system).
///
/// # Errors
/// The errno of `statfs`.
pub fn read_fs_info(path: &Path) -> Result<FsInfo, Errno> {
    let st = nix::sys::statfs::statfs(path)?;
    #[allow(clippy::unnecessary_cast)]
    let magic = st.filesystem_type().0 as u64;
    let kind = FsKind::from_magic(magic);
    let (btrfs_devices, btrfs_fsid) = if kind == FsKind::Btrfs {
        match btrfs_fs_info(path) {
            Ok((n, fsid)) => (Some(n), Some(fsid)),
            Err(e) => {
                log::warn!(
                    "swap: BTRFS_IOC_FS_INFO on {}: {e}; device count unknown",
                    path.display()
                );
                (None, None)
            }
        }
    } else {
        (None, None)
    };
    Ok(FsInfo {
        kind,
        magic,
        btrfs_devices,
        btrfs_fsid,
    })
}

/// `struct btrfs_ioctl_fs_info_args` (1024 bytes; only the device count and the fsid
/// are read, the rest is there for the size the ioctl number encodes).
#[repr(C)]
#[allow(dead_code)]
struct BtrfsFsInfoArgs {
    max_id: u64,
    num_devices: u64,
    fsid: [u8; 16],
    rest: [u8; 992],
}

/// The raw ioctl wrappers (generated by nix; private).
mod ioctl {
    use super::BtrfsFsInfoArgs;

    nix::ioctl_read!(btrfs_ioc_fs_info, 0x94, 31, BtrfsFsInfoArgs);
    // FS_IOC_GETFLAGS/SETFLAGS are declared with `long` but the kernel reads and writes
    // an `int`; pass an int with the `long`-sized request number, as chattr does.
    nix::ioctl_read_bad!(
        fs_ioc_getflags,
        nix::request_code_read!(b'f', 1, std::mem::size_of::<libc::c_long>()),
        libc::c_int
    );
    nix::ioctl_write_ptr_bad!(
        fs_ioc_setflags,
        nix::request_code_write!(b'f', 2, std::mem::size_of::<libc::c_long>()),
        libc::c_int
    );
    // FS_IOC_FIEMAP is _IOWR('f', 11, struct fiemap): the size is the 32-byte header.
    nix::ioctl_readwrite_bad!(
        fs_ioc_fiemap,
        nix::request_code_readwrite!(b'f', 11, 32),
        super::file::Fiemap
    );
}
use ioctl::btrfs_ioc_fs_info;

fn btrfs_fs_info(path: &Path) -> Result<(u64, String), Errno> {
    let f = File::open(path).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))?;
    let mut args = BtrfsFsInfoArgs {
        max_id: 0,
        num_devices: 0,
        fsid: [0; 16],
        rest: [0; 992],
    };
    // SAFETY: the fd is open for the call's duration and `args` is a zeroed struct of the
    // exact size and layout the ioctl number encodes (1024 bytes); the kernel writes into
    // it and keeps no reference.
    unsafe { btrfs_ioc_fs_info(f.as_raw_fd(), &mut args) }?;
    Ok((args.num_devices, super::header::format_uuid(&args.fsid)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magics() {
        assert_eq!(FsKind::from_magic(0xEF53), FsKind::Ext4);
        assert_eq!(FsKind::from_magic(0x58465342), FsKind::Xfs);
        assert_eq!(FsKind::from_magic(0x9123683E), FsKind::Btrfs);
        assert_eq!(FsKind::from_magic(0x01021994), FsKind::Tmpfs);
        assert_eq!(FsKind::from_magic(0x794c7630), FsKind::Overlay);
        assert_eq!(FsKind::from_magic(0x6969), FsKind::Nfs);
        assert_eq!(FsKind::from_magic(0x2fc12fc1), FsKind::Zfs);
        assert_eq!(FsKind::from_magic(0x1234), FsKind::Other);
    }

    fn fs(kind: FsKind, devices: Option<u64>) -> FsInfo {
        FsInfo {
            kind,
            magic: 0,
            btrfs_devices: devices,
            btrfs_fsid: None,
        }
    }

    #[test]
    fn support_decisions() {
        let k6 = KernelVersion::parse("6.1.0-18-amd64");
        assert_eq!(k6, Some(KernelVersion(6, 1, 0)));
        assert_eq!(swap_support(&fs(FsKind::Ext4, None), k6), SwapSupport::Yes);
        assert_eq!(swap_support(&fs(FsKind::Xfs, None), k6), SwapSupport::Yes);
        assert_eq!(
            swap_support(&fs(FsKind::Btrfs, Some(1)), k6),
            SwapSupport::Yes
        );
        for kind in [FsKind::Tmpfs, FsKind::Overlay, FsKind::Nfs, FsKind::Zfs] {
            assert!(
                matches!(swap_support(&fs(kind, None), k6), SwapSupport::No(_)),
                "{kind:?}"
            );
        }
        let SwapSupport::No(why) = swap_support(&fs(FsKind::Btrfs, Some(2)), k6) else {
            panic!()
        };
        assert!(why.contains("2 devices"), "{why}");
        assert!(matches!(
            swap_support(&fs(FsKind::Btrfs, Some(1)), KernelVersion::parse("4.19.0")),
            SwapSupport::No(_)
        ));
        assert_eq!(
            swap_support(&fs(FsKind::Other, None), k6),
            SwapSupport::Unknown
        );
    }

    #[test]
    fn kernel_versions() {
        assert_eq!(
            KernelVersion::parse("4.18.0-553.el8.x86_64"),
            Some(KernelVersion(4, 18, 0))
        );
        assert_eq!(KernelVersion::parse("6.18"), Some(KernelVersion(6, 18, 0)));
        assert_eq!(KernelVersion::parse("garbage"), None);
        assert!(KernelVersion(4, 17, 9) < KernelVersion(4, 18, 0));
    }
}
