//! Taking the planned steps. Each action re-checks what it acts on (the same inode as
//! observed, not active, still a swap area) right before it acts, and verifies its
//! postcondition after.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::SwapError;
use super::observe::{self, temp_path_for};
use super::planner::{Action, Role};
use super::proc_swaps::SwapEntry;
use super::record::SwapRecord;
use crate::error::{Error, Result};
use crate::host::Host;

mod active;
mod build;
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
}
