//! What the filesystem can do for a swap file, and the low-level file work: filesystem
//! type from `statfs` magic, btrfs device count and NOCOW, allocation (`fallocate`, or
//! zeros in large blocks), hole detection, and reading a file's head.
//!
//! The classification functions are pure; the file functions are thin wrappers over one
//! syscall each and return the errno.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Instant;

use nix::errno::Errno;
use serde::Serialize;

use super::header::PROBE_BYTES;

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
        super::Fiemap
    );
}
use ioctl::{btrfs_ioc_fs_info, fs_ioc_fiemap, fs_ioc_getflags, fs_ioc_setflags};

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

/// `FS_NOCOW_FL`: btrfs must not copy-on-write the file (needed for swap).
pub const FS_NOCOW_FL: i32 = 0x0080_0000;
/// `FS_COMPR_FL`: compress the file (btrfs cannot swap to a compressed file).
pub const FS_COMPR_FL: i32 = 0x0000_0004;

/// The inode flags (`lsattr`) of an open file.
///
/// # Errors
/// The errno (`ENOTTY` where the filesystem has none).
pub fn get_flags(file: &File) -> Result<i32, Errno> {
    let mut flags: libc::c_int = 0;
    // SAFETY: a valid fd and a pointer to an int the kernel writes once.
    unsafe { fs_ioc_getflags(file.as_raw_fd(), &mut flags) }?;
    Ok(flags)
}

/// Sets `FS_NOCOW_FL` (and clears `FS_COMPR_FL`) on an open, still empty file, then reads
/// the flags back to check it holds.
///
/// # Errors
/// The errno of the ioctls; `EINVAL` when the flag did not stick.
pub fn set_nocow(file: &File) -> Result<(), Errno> {
    let flags = (get_flags(file)? | FS_NOCOW_FL) & !FS_COMPR_FL;
    // SAFETY: a valid fd and a pointer to an int the kernel reads once.
    unsafe { fs_ioc_setflags(file.as_raw_fd(), &flags) }?;
    if get_flags(file)? & FS_NOCOW_FL == 0 {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// `fallocate(fd, 0, 0, len)`: allocates every block up to `len` (existing data kept).
///
/// # Errors
/// The errno (`EOPNOTSUPP` where the filesystem cannot).
pub fn fallocate(file: &File, len: u64) -> Result<(), Errno> {
    let len = libc::off_t::try_from(len).map_err(|_| Errno::EFBIG)?;
    nix::fcntl::fallocate(file, nix::fcntl::FallocateFlags::empty(), 0, len)
}

const FIEMAP_EXTENTS: usize = 128;
const FIEMAP_FLAG_SYNC: u32 = 0x1;
const FIEMAP_EXTENT_LAST: u32 = 0x1;
const FIEMAP_EXTENT_UNWRITTEN: u32 = 0x800;

/// `struct fiemap_extent`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct FiemapExtent {
    fe_logical: u64,
    fe_physical: u64,
    fe_length: u64,
    fe_reserved64: [u64; 2],
    fe_flags: u32,
    fe_reserved: [u32; 3],
}

/// `struct fiemap` with room for [`FIEMAP_EXTENTS`] extents.
#[repr(C)]
struct Fiemap {
    fm_start: u64,
    fm_length: u64,
    fm_flags: u32,
    fm_mapped_extents: u32,
    fm_extent_count: u32,
    fm_reserved: u32,
    fm_extents: [FiemapExtent; FIEMAP_EXTENTS],
}

/// How a file's first bytes are mapped to disk (from `FIEMAP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Mapping {
    /// Whether some byte before the size lies in no extent (a hole).
    pub gap_before_size: bool,
    /// Bytes in unwritten (preallocated, never written) extents.
    pub unwritten_bytes: u64,
    /// Extents seen.
    pub extents: u64,
}

/// Maps the first `size` bytes of a file with `FIEMAP` (syncing delayed allocation first).
///
/// # Errors
/// The errno (`EOPNOTSUPP` where the filesystem has no FIEMAP).
pub fn map_extents(file: &File, size: u64) -> Result<Mapping, Errno> {
    let mut m = Mapping::default();
    let mut covered: u64 = 0;
    let mut start: u64 = 0;
    loop {
        let mut fm = Fiemap {
            fm_start: start,
            fm_length: size.saturating_sub(start),
            fm_flags: FIEMAP_FLAG_SYNC,
            fm_mapped_extents: 0,
            fm_extent_count: FIEMAP_EXTENTS as u32,
            fm_reserved: 0,
            fm_extents: [FiemapExtent::default(); FIEMAP_EXTENTS],
        };
        // SAFETY: a valid fd and a struct fiemap whose fm_extent_count matches the array
        // that follows its header; the kernel writes at most that many extents.
        unsafe { fs_ioc_fiemap(file.as_raw_fd(), &mut fm) }?;
        let n = (fm.fm_mapped_extents as usize).min(FIEMAP_EXTENTS);
        if n == 0 {
            break;
        }
        let mut last = false;
        for e in &fm.fm_extents[..n] {
            m.extents += 1;
            if e.fe_logical > covered && covered < size {
                m.gap_before_size = true;
            }
            covered = covered.max(e.fe_logical + e.fe_length);
            if e.fe_flags & FIEMAP_EXTENT_UNWRITTEN != 0 {
                m.unwritten_bytes += e.fe_length;
            }
            last |= e.fe_flags & FIEMAP_EXTENT_LAST != 0;
        }
        if last || covered >= size || m.gap_before_size {
            break;
        }
        start = covered;
    }
    if covered < size {
        m.gap_before_size = true;
    }
    Ok(m)
}

/// Whether the first `size` bytes of a file have a hole: fewer blocks than bytes
/// (`st_blocks * 512 < size`), or a gap in its extent map (`FIEMAP`, where the
/// filesystem has it). Unwritten extents from `fallocate` are not holes.
///
/// # Errors
/// The errno of `fstat` or `FIEMAP`.
pub fn has_holes(file: &File, size: u64) -> Result<bool, Errno> {
    let meta = file
        .metadata()
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))?;
    if meta.blocks().saturating_mul(512) < size {
        return Ok(true);
    }
    if size == 0 {
        return Ok(false);
    }
    match map_extents(file, size) {
        Ok(m) => Ok(m.gap_before_size),
        // No FIEMAP here: the block count above is all there is.
        Err(Errno::EOPNOTSUPP) | Err(Errno::ENOTTY) | Err(Errno::EINVAL) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Block size for writing zeros.
pub const ZERO_BLOCK: usize = 4 << 20;
/// How often the zero fill flushes to disk, so a host short of memory does not gather
/// gigabytes of dirty pages.
const FLUSH_EVERY: u64 = 256 << 20;

/// Writes zeros over bytes `from..size` in [`ZERO_BLOCK`] blocks, flushing every 256
/// MiB and at the end, and logs progress every tenth.
///
/// # Errors
/// The I/O error (`ENOSPC` when the disk fills up).
pub fn zero_fill(file: &mut File, from: u64, size: u64, what: &str) -> std::io::Result<()> {
    let block = vec![0u8; ZERO_BLOCK];
    let started = Instant::now();
    file.seek(SeekFrom::Start(from))?;
    let mut done: u64 = from.min(size);
    let mut next_report = 10;
    let mut since_flush: u64 = 0;
    while done < size {
        let n = (size - done).min(ZERO_BLOCK as u64) as usize;
        file.write_all(&block[..n])?;
        done += n as u64;
        since_flush += n as u64;
        if since_flush >= FLUSH_EVERY {
            file.sync_data()?;
            since_flush = 0;
        }
        let pct = done * 100 / size.max(1);
        if pct >= next_report {
            log::info!(
                "swap: writing zeros to {what}: {pct}% ({} of {} MiB, {:.1}s)",
                done >> 20,
                size >> 20,
                started.elapsed().as_secs_f64()
            );
            next_report = (pct / 10 + 1) * 10;
        }
    }
    file.sync_all()
}

/// Reads the first [`PROBE_BYTES`] of a file (fewer when it is shorter).
///
/// # Errors
/// The I/O error.
pub fn read_head(file: &mut File) -> std::io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(0))?;
    let mut buf = Vec::with_capacity(PROBE_BYTES);
    file.take(PROBE_BYTES as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Whether every byte of the file is zero. Holes are skipped (`SEEK_DATA`), data is read
/// in 1 MiB blocks and the scan stops at the first non-zero byte.
///
/// # Errors
/// The I/O error.
pub fn is_all_zeros(file: &mut File) -> std::io::Result<bool> {
    let size = file.metadata()?.len();
    let mut buf = vec![0u8; 1 << 20];
    let mut pos: u64 = 0;
    while pos < size {
        // Jump over holes where the filesystem can tell them.
        let data =
            match nix::unistd::lseek(&*file, pos as libc::off_t, nix::unistd::Whence::SeekData) {
                Ok(off) => off as u64,
                Err(Errno::ENXIO) => return Ok(true),
                Err(_) => pos,
            };
        let hole =
            match nix::unistd::lseek(&*file, data as libc::off_t, nix::unistd::Whence::SeekHole) {
                Ok(off) => (off as u64).min(size),
                Err(_) => size,
            };
        file.seek(SeekFrom::Start(data))?;
        let mut left = hole.saturating_sub(data);
        while left > 0 {
            let want = left.min(buf.len() as u64) as usize;
            let n = file.read(&mut buf[..want])?;
            if n == 0 {
                return Ok(true);
            }
            if buf[..n].iter().any(|b| *b != 0) {
                return Ok(false);
            }
            left -= n as u64;
        }
        pos = hole.max(data + 1);
    }
    Ok(true)
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

    #[test]
    fn zeros_holes_and_heads() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&p)
            .unwrap();
        f.set_len(8 << 20).unwrap();
        assert!(has_holes(&f, 8 << 20).unwrap());
        assert!(is_all_zeros(&mut f).unwrap());
        fallocate(&f, 8 << 20).unwrap();
        assert!(!has_holes(&f, 8 << 20).unwrap());
        let m = map_extents(&f, 8 << 20).unwrap();
        assert!(!m.gap_before_size);
        assert!(m.extents >= 1);
        f.seek(SeekFrom::Start(5 << 20)).unwrap();
        f.write_all(b"x").unwrap();
        assert!(!is_all_zeros(&mut f).unwrap());
        f.seek(SeekFrom::Start(0)).unwrap();
        f.write_all(b"head").unwrap();
        zero_fill(&mut f, 4096, 8 << 20, "test").unwrap();
        assert_eq!(
            &read_head(&mut f).unwrap()[..4],
            b"head",
            "the first page is kept"
        );
        zero_fill(&mut f, 0, 8 << 20, "test").unwrap();
        assert!(is_all_zeros(&mut f).unwrap());
        assert_eq!(read_head(&mut f).unwrap().len(), PROBE_BYTES);
    }
}
