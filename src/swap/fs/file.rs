//! The low-level file work for a swap file: inode flags (NOCOW), allocation
//! (`fallocate`, or zeros in large blocks), hole detection (`FIEMAP`), and reading a
//! file's head. Thin wrappers over one syscall each that return the errno.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::time::Instant;

use nix::errno::Errno;
use serde::Serialize;

use super::ioctl::{fs_ioc_fiemap, fs_ioc_getflags, fs_ioc_setflags};
use crate::swap::header::PROBE_BYTES;

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
pub(super) struct Fiemap {
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
