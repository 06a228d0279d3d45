//! The steps that build a swap file: empty it (only when it holds no data), set NOCOW,
//! allocate it without holes, and write and verify its header.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::time::Instant;

use nix::errno::Errno;

use super::{Applier, Role};
use crate::error::{Error, Refusal, Result};
use crate::size::ByteSize;
use crate::swap::SwapError;
use crate::swap::fs as swapfs;
use crate::swap::header::{
    Signature, build_header, format_uuid, parse_uuid, read_signature, uuid_v4,
};

impl Applier<'_> {
    pub(super) fn empty(&self, role: Role) -> Result<String> {
        self.ensure_inactive(role)?;
        let mut f = self.open(role, true)?;
        let hp = self.host_path(role);
        self.check_no_data(&mut f, role)?;
        f.set_len(0).map_err(|e| Error::io("truncating", hp, e))?;
        f.sync_all().map_err(|e| Error::io("fsync", hp, e))?;
        Ok("truncated to 0 bytes".into())
    }

    /// Refuses to overwrite anything but a swap area or zeros (checked again right before
    /// a destructive write, not only at observation).
    fn check_no_data(&self, f: &mut File, role: Role) -> Result<()> {
        let hp = self.host_path(role);
        let head = swapfs::read_head(f).map_err(|e| Error::io("reading", hp, e))?;
        let ok = match read_signature(&head) {
            Signature::Swap(_) | Signature::SwapV0 { .. } => true,
            Signature::Hibernation { .. } => false,
            Signature::None => swapfs::is_all_zeros(f).map_err(|e| Error::io("reading", hp, e))?,
        };
        if ok {
            Ok(())
        } else {
            Err(Refusal::Unsafe {
                target: hp.display().to_string(),
                why: "it now holds data that is neither a swap area nor zeros".into(),
            }
            .into())
        }
    }

    pub(super) fn set_nocow(&self, role: Role) -> Result<String> {
        let f = self.open(role, true)?;
        let hp = self.host_path(role);
        let len = f
            .metadata()
            .map_err(|e| Error::io("examining", hp, e))?
            .len();
        if len != 0 {
            return Err(SwapError::Changed {
                path: hp.to_path_buf(),
                detail: format!("NOCOW takes only on an empty file; it has {len} bytes"),
            }
            .into());
        }
        swapfs::set_nocow(&f).map_err(|e| Error::Sys {
            call: "FS_IOC_SETFLAGS".into(),
            target: hp.display().to_string(),
            errno: e,
            hint: Some("cannot mark the file NOCOW".into()),
        })?;
        Ok("FS_NOCOW_FL set and read back".into())
    }

    pub(super) fn allocate(&mut self, role: Role, size: u64, zeros: bool) -> Result<String> {
        self.ensure_inactive(role)?;
        self.record_size(role, size)?;
        let mut f = self.open(role, true)?;
        let hp = self.host_path(role).to_path_buf();
        let len = f
            .metadata()
            .map_err(|e| Error::io("examining", &hp, e))?
            .len();
        if len > size {
            f.set_len(size)
                .map_err(|e| Error::io("truncating", &hp, e))?;
        }
        let started = Instant::now();
        let fallback = if zeros {
            Some("the filesystem's fallocate leaves extents swapon rejects".to_string())
        } else {
            match swapfs::fallocate(&f, size) {
                Ok(()) => match swapfs::has_holes(&f, size) {
                    Ok(false) => None,
                    Ok(true) => Some("fallocate left holes".to_string()),
                    Err(e) => {
                        return Err(Error::sys("lseek(SEEK_HOLE)", hp.display().to_string(), e));
                    }
                },
                Err(e @ (Errno::EOPNOTSUPP | Errno::ENOSYS | Errno::EINVAL)) => {
                    Some(format!("fallocate is not supported here ({e:?})"))
                }
                Err(Errno::ENOSPC) => {
                    return Err(Error::Sys {
                        call: "fallocate".into(),
                        target: hp.display().to_string(),
                        errno: Errno::ENOSPC,
                        hint: Some("the disk is full".into()),
                    });
                }
                Err(e) => return Err(Error::sys("fallocate", hp.display().to_string(), e)),
            }
        };
        let how = match &fallback {
            None => {
                f.sync_all().map_err(|e| Error::io("fsync", &hp, e))?;
                "fallocate".to_string()
            }
            Some(why) => {
                log::info!("swap: {}: {why}; writing zeros", hp.display());
                // A header already there stays until the new one is written, so a run
                // killed while writing zeros leaves a file still signed as hostfix's.
                let head = swapfs::read_head(&mut f).map_err(|e| Error::io("reading", &hp, e))?;
                let from = match read_signature(&head) {
                    Signature::Swap(_) => self.ctx.page_size.min(size),
                    _ => 0,
                };
                swapfs::zero_fill(&mut f, from, size, &hp.display().to_string())
                    .map_err(|e| Error::io("writing zeros to", &hp, e))?;
                format!("zeros in {} MiB blocks ({why})", swapfs::ZERO_BLOCK >> 20)
            }
        };
        match swapfs::has_holes(&f, size) {
            Ok(false) => {}
            Ok(true) => {
                return Err(SwapError::Verify {
                    path: hp,
                    detail: "still has holes after writing zeros: the filesystem cannot hold swap"
                        .into(),
                }
                .into());
            }
            Err(e) => return Err(Error::sys("lseek(SEEK_HOLE)", hp.display().to_string(), e)),
        }
        Ok(format!(
            "{} allocated by {how} in {:.2}s, no holes",
            ByteSize(size),
            started.elapsed().as_secs_f64()
        ))
    }

    pub(super) fn new_uuid(&self) -> [u8; 16] {
        if let Some(u) = self
            .host
            .read_opt("/proc/sys/kernel/random/uuid")
            .ok()
            .flatten()
            .and_then(|t| parse_uuid(&t))
        {
            return u;
        }
        let mut b = [0u8; 16];
        // SAFETY: getrandom writes at most `b.len()` bytes into the buffer it is given.
        let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
        if n != 16 {
            // Unique enough for a label of identity when the kernel has no entropy call:
            // time and pid.
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            b.copy_from_slice(&(t ^ u128::from(std::process::id())).to_ne_bytes());
        }
        uuid_v4(b)
    }

    pub(super) fn write_header(
        &self,
        role: Role,
        size: u64,
        keep_uuid: Option<&str>,
        label: Option<&str>,
    ) -> Result<String> {
        self.ensure_inactive(role)?;
        let f = self.open(role, true)?;
        let hp = self.host_path(role).to_path_buf();
        let len = f
            .metadata()
            .map_err(|e| Error::io("examining", &hp, e))?
            .len();
        if len != size {
            return Err(SwapError::Changed {
                path: hp,
                detail: format!("its size is {len}, expected {size}"),
            }
            .into());
        }
        let uuid = keep_uuid
            .or(self.made(role).map(|m| m.uuid.as_str()))
            .and_then(parse_uuid)
            .unwrap_or_else(|| self.new_uuid());
        let page = build_header(self.ctx.page_size, size, &uuid, label.unwrap_or(""))?;
        f.write_all_at(&page, 0)
            .map_err(|e| Error::io("writing the swap header to", &hp, e))?;
        f.sync_all().map_err(|e| Error::io("fsync", &hp, e))?;
        let mut f = f;
        let head = swapfs::read_head(&mut f).map_err(|e| Error::io("reading", &hp, e))?;
        match read_signature(&head) {
            Signature::Swap(h)
                if h.fits(self.ctx.page_size, size) && h.uuid == format_uuid(&uuid) =>
            {
                Ok(format!(
                    "UUID={}{}, {} pages of {} bytes",
                    h.uuid,
                    if h.label.is_empty() {
                        String::new()
                    } else {
                        format!(" LABEL={}", h.label)
                    },
                    u64::from(h.last_page) + 1,
                    h.page_size
                ))
            }
            other => Err(SwapError::Verify {
                path: hp,
                detail: format!("the header did not read back: {other:?}"),
            }
            .into()),
        }
    }
}
