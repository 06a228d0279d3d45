//! Taking the planned steps. Each action re-checks what it acts on (the same inode as
//! observed, not active, still a swap area) right before it acts, and verifies its
//! postcondition after.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use nix::errno::Errno;

use super::fs as swapfs;
use super::header::{Signature, build_header, format_uuid, parse_uuid, read_signature, uuid_v4};
use super::observe::{self, temp_path_for};
use super::planner::{Action, Role, memory_guard, other_swap_free};
use super::proc_swaps::SwapEntry;
use super::record::SwapRecord;
use super::{SwapError, swapoff_cause, swapon_cause};
use crate::error::{Error, Refusal, Result};
use crate::host::Host;
use crate::size::ByteSize;

mod own;
mod persist;

/// What the applier needs besides the host.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    /// The swap file's host path.
    pub path: PathBuf,
    /// The memory margin for swapoff.
    pub memory_margin: u64,
    /// The kernel's page size.
    pub page_size: u64,
    /// The size `swap ensure` makes the file (0 for `swap remove`).
    pub size: u64,
    /// hostfix's state directory (a host path), where its record lives.
    pub state_dir: PathBuf,
}

/// Takes actions on one host, remembering which inode each role is.
pub(crate) struct Applier<'h> {
    host: &'h Host,
    ctx: Ctx,
    temp: PathBuf,
    ids: HashMap<Role, (u64, u64)>,
    /// hostfix's record for the path, as it is on disk.
    record: SwapRecord,
}

impl<'h> Applier<'h> {
    pub(crate) fn new(host: &'h Host, ctx: Ctx, obs: &observe::Observation) -> Self {
        let mut ids = HashMap::new();
        if let Some(f) = obs.target.file() {
            ids.insert(Role::Target, (f.dev, f.ino));
        }
        if let Some(f) = obs.temp.as_ref().and_then(|t| t.target.file()) {
            ids.insert(Role::Temp, (f.dev, f.ino));
        }
        let temp = temp_path_for(&ctx.path);
        let record = obs
            .record
            .record()
            .cloned()
            .unwrap_or_else(|| SwapRecord::new(&obs.path));
        Applier {
            host,
            ctx,
            temp,
            ids,
            record,
        }
    }

    fn host_path(&self, role: Role) -> &Path {
        match role {
            Role::Target => &self.ctx.path,
            Role::Temp => &self.temp,
        }
    }

    fn real(&self, role: Role) -> PathBuf {
        self.host.path(self.host_path(role))
    }

    /// Opens the role's file without following links and checks it is the inode
    /// observed (or created) for it.
    fn open(&self, role: Role, write: bool) -> Result<File> {
        let real = self.real(role);
        let hp = self.host_path(role);
        let f = OpenOptions::new()
            .read(true)
            .write(write)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
            .open(&real)
            .map_err(|e| Error::io("opening", hp, e))?;
        let m = f.metadata().map_err(|e| Error::io("examining", hp, e))?;
        if !m.is_file() {
            return Err(SwapError::Changed {
                path: hp.to_path_buf(),
                detail: "no longer a regular file".into(),
            }
            .into());
        }
        if let Some(&(dev, ino)) = self.ids.get(&role) {
            if (m.dev(), m.ino()) != (dev, ino) {
                return Err(SwapError::Changed {
                    path: hp.to_path_buf(),
                    detail: "another file is at the path now".into(),
                }
                .into());
            }
        }
        Ok(f)
    }

    /// The `/proc/swaps` entry of the role's file, if active.
    pub(crate) fn entry(&self, role: Role) -> Result<Option<SwapEntry>> {
        let swaps = super::active_swaps(self.host)?;
        let real = self.real(role);
        let identity = std::fs::symlink_metadata(&real)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| (m.dev(), m.ino()));
        let found = observe::find_active(&swaps, &real, identity);
        Ok(found)
    }

    fn ensure_inactive(&self, role: Role) -> Result<()> {
        if self.entry(role)?.is_some() {
            return Err(SwapError::Changed {
                path: self.host_path(role).to_path_buf(),
                detail: "it is an active swap area".into(),
            }
            .into());
        }
        Ok(())
    }

    fn sync_dir(&self, role: Role) {
        if let Some(dir) = self.real(role).parent() {
            // The entry is durable once the directory is; a failure here only weakens
            // crash safety, and the next run converges anyway.
            if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
                log::warn!("swap: fsync {}: {e}", dir.display());
            }
        }
    }

    /// Takes one action; returns the step's detail.
    pub(crate) fn apply(&mut self, action: &Action) -> Result<String> {
        match action {
            Action::CreateDirs => self.create_dirs(),
            Action::Create { role } => self.create(*role),
            Action::FixOwnerMode { role } => self.fix_owner_mode(*role),
            Action::Empty { role } => self.empty(*role),
            Action::SetNocow { role } => self.set_nocow(*role),
            Action::Allocate { role, size, zeros } => self.allocate(*role, *size, *zeros),
            Action::WriteHeader {
                role,
                size,
                keep_uuid,
                label,
            } => self.write_header(*role, *size, keep_uuid.as_deref(), label.as_deref()),
            Action::Swapon { role, priority } => self.swapon(*role, *priority),
            Action::Swapoff { role } => self.swapoff(*role),
            Action::Delete { role } => self.delete(*role),
            Action::PersistFstab { priority } => self.persist_fstab(*priority),
            Action::UnpersistFstab => self.unpersist_fstab(),
            Action::PersistUnit { priority } => self.persist_unit(*priority),
            Action::UnpersistUnit => self.unpersist_unit(),
            Action::SetSwappiness { value } => self.set_swappiness(*value),
            Action::WriteSysctl { value } => self.write_sysctl(*value),
            Action::Record { role, lines, unit } => self.record(*role, lines, unit.as_deref()),
            Action::Forget { role } => self.forget(*role),
            Action::LeaveAlone { why, .. } => Ok(format!("left alone: {why}")),
        }
    }

    fn create_dirs(&self) -> Result<String> {
        let dir = self.ctx.path.parent().unwrap_or(Path::new("/"));
        let real = self.host.path(dir);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&real)
            .map_err(|e| Error::io("creating directory", dir, e))?;
        Ok(format!("created {}", dir.display()))
    }

    fn fix_owner_mode(&self, role: Role) -> Result<String> {
        let f = self.open(role, false)?;
        let hp = self.host_path(role);
        let m = f.metadata().map_err(|e| Error::io("examining", hp, e))?;
        let was = format!("{:04o} {}:{}", m.mode() & 0o7777, m.uid(), m.gid());
        let (uid, gid) = self.host.owner();
        if (m.uid(), m.gid()) != (uid, gid) {
            nix::unistd::fchown(&f, Some(uid.into()), Some(gid.into()))
                .map_err(|e| Error::sys("fchown", hp.display().to_string(), e))?;
        }
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io("chmod", hp, e))?;
        f.sync_all().map_err(|e| Error::io("fsync", hp, e))?;
        Ok(format!("was {was}, now 0600 {uid}:{gid}"))
    }

    fn empty(&self, role: Role) -> Result<String> {
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

    fn set_nocow(&self, role: Role) -> Result<String> {
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

    fn allocate(&mut self, role: Role, size: u64, zeros: bool) -> Result<String> {
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

    fn new_uuid(&self) -> [u8; 16] {
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

    fn write_header(
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

    fn swapon_once(&self, role: Role, priority: Option<i32>) -> std::result::Result<(), Errno> {
        self.host.system().swapon(&self.real(role), priority)
    }

    fn swapon(&mut self, role: Role, priority: Option<i32>) -> Result<String> {
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

    fn swapoff(&self, role: Role) -> Result<String> {
        let hp = self.host_path(role).to_path_buf();
        let Some(entry) = self.entry(role)? else {
            return Ok("not active (nothing to do)".into());
        };
        // The memory guard, again, with fresh numbers.
        let mem = crate::resources::read_memory(self.host)?;
        let swaps = super::active_swaps(self.host)?;
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
