//! The steps that make or unmake hostfix's own files, each recorded before it acts and
//! confirmed after ([`crate::swap::record`]): create (intent with the UUID to write →
//! `O_CREAT|O_EXCL` → device and inode), delete (verified → unlink → forgotten), and the
//! record's own bookkeeping.

use std::fs::OpenOptions;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};

use super::{Applier, Role};
use crate::error::{Error, Refusal, Result};
use crate::swap::fs as swapfs;
use crate::swap::header::{Signature, format_uuid, read_signature};
use crate::swap::observe::born_nanos;
use crate::swap::record::{MadeFile, write_record};

/// Seconds since the epoch, by the real clock (compared with file times, which the real
/// clock sets).
fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Applier<'_> {
    /// The record's entry for a role.
    pub(super) fn made(&self, role: Role) -> Option<&MadeFile> {
        match role {
            Role::Target => self.record.file.as_ref(),
            Role::Temp => self.record.temp.as_ref(),
        }
    }

    fn set_made(&mut self, role: Role, made: Option<MadeFile>) {
        match role {
            Role::Target => self.record.file = made,
            Role::Temp => self.record.temp = made,
        }
    }

    /// Writes the record as it is in memory (removed when it names nothing).
    pub(super) fn save_record(&self) -> Result<()> {
        write_record(self.host, &self.ctx.state_dir, &self.record)
    }

    /// Records the size hostfix is making the swap file, before it makes it. (The
    /// swap-over area's entry keeps the size its resize makes the swap file.)
    pub(super) fn record_size(&mut self, role: Role, size: u64) -> Result<()> {
        let changed = match role {
            Role::Target => self.record.file.as_mut(),
            Role::Temp => None,
        }
        .filter(|m| m.size != size)
        .map(|m| m.size = size)
        .is_some();
        if changed { self.save_record() } else { Ok(()) }
    }

    /// Creates the role's file: records the intent (with the UUID its header will carry),
    /// creates it exclusively (mode 0600, the host's owner), then records its device and
    /// inode.
    pub(super) fn create(&mut self, role: Role) -> Result<String> {
        let real = self.real(role);
        let hp = self.host_path(role).to_path_buf();
        let before = self.made(role).cloned();
        let uuid = format_uuid(&self.new_uuid());
        self.set_made(
            role,
            Some(MadeFile {
                uuid: uuid.clone(),
                intent_at: now_secs(),
                dev: None,
                ino: None,
                born: None,
                size: self.ctx.size,
                how: "created".into(),
            }),
        );
        self.save_record()?;
        let created = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&real);
        let f = match created {
            Ok(f) => f,
            Err(e) => {
                // Nothing was created: the intent goes (a file someone else put there
                // must never look like the one hostfix meant to make).
                self.set_made(role, before);
                if let Err(re) = self.save_record() {
                    log::warn!("swap: restoring the record after a failed create: {re}");
                }
                return Err(Error::io("creating", &hp, e));
            }
        };
        // The umask can only have narrowed 0600; make it exact, and the host owner's.
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io("chmod", &hp, e))?;
        let m = f.metadata().map_err(|e| Error::io("examining", &hp, e))?;
        let (uid, gid) = self.host.owner();
        if (m.uid(), m.gid()) != (uid, gid) {
            nix::unistd::fchown(&f, Some(uid.into()), Some(gid.into()))
                .map_err(|e| Error::sys("fchown", hp.display().to_string(), e))?;
        }
        f.sync_all().map_err(|e| Error::io("fsync", &hp, e))?;
        self.sync_dir(role);
        self.ids.insert(role, (m.dev(), m.ino()));
        if let Some(made) = match role {
            Role::Target => self.record.file.as_mut(),
            Role::Temp => self.record.temp.as_mut(),
        } {
            made.dev = Some(m.dev());
            made.ino = Some(m.ino());
            made.born = born_nanos(&m);
        }
        self.save_record()?;
        Ok(format!(
            "created empty, mode 0600, owner {uid}:{gid} (O_CREAT|O_EXCL|O_NOFOLLOW); recorded \
             as hostfix's (device {}, inode {}, header UUID {uuid})",
            m.dev(),
            m.ino()
        ))
    }

    /// Records a file hostfix recognised as its own (a killed run's half-made file, or an
    /// earlier hostfix's setup with the lines and unit it wrote).
    pub(super) fn record(
        &mut self,
        role: Role,
        lines: &[String],
        unit: Option<&str>,
    ) -> Result<String> {
        let mut f = self.open(role, false)?;
        let hp = self.host_path(role).to_path_buf();
        let m = f.metadata().map_err(|e| Error::io("examining", &hp, e))?;
        let head = swapfs::read_head(&mut f).map_err(|e| Error::io("reading", &hp, e))?;
        let before = self.made(role).cloned();
        let uuid = match (read_signature(&head), &before) {
            (Signature::Swap(h), _) => h.uuid,
            (_, Some(b)) => b.uuid.clone(),
            (other, None) => {
                return Err(Refusal::Unsafe {
                    target: hp.display().to_string(),
                    why: format!("it is not the swap area it was: {other:?}"),
                }
                .into());
            }
        };
        let how = if before.is_some() {
            "created"
        } else {
            "adopted"
        };
        self.set_made(
            role,
            Some(MadeFile {
                uuid: uuid.clone(),
                intent_at: before.as_ref().map_or_else(now_secs, |b| b.intent_at),
                dev: Some(m.dev()),
                ino: Some(m.ino()),
                born: born_nanos(&m),
                size: before.as_ref().map_or(m.len(), |b| b.size),
                how: how.into(),
            }),
        );
        for l in lines {
            if !self.record.fstab_lines.contains(l) {
                self.record.fstab_lines.push(l.clone());
            }
        }
        if let Some(u) = unit {
            if !self.record.units.iter().any(|x| x == u) {
                self.record.units.push(u.to_string());
            }
        }
        self.save_record()?;
        Ok(format!(
            "recorded ({how}): device {}, inode {}, header UUID {uuid}{}{}",
            m.dev(),
            m.ino(),
            if lines.is_empty() {
                String::new()
            } else {
                format!(", {} fstab line(s)", lines.len())
            },
            if unit.is_some() {
                ", its .swap unit"
            } else {
                ""
            }
        ))
    }

    /// Forgets a file the record names that is gone.
    pub(super) fn forget(&mut self, role: Role) -> Result<String> {
        if std::fs::symlink_metadata(self.real(role)).is_ok() {
            return Err(Refusal::Unsafe {
                target: self.host_path(role).display().to_string(),
                why: "something is there again; not forgetting it".into(),
            }
            .into());
        }
        self.set_made(role, None);
        self.save_record()?;
        Ok("forgotten".into())
    }

    /// Deletes the role's file: inactive, the inode observed, a swap area (or, for the
    /// swap-over area, zeros: an unfinished one); then forgets it.
    pub(super) fn delete(&mut self, role: Role) -> Result<String> {
        let hp = self.host_path(role).to_path_buf();
        self.ensure_inactive(role)?;
        let mut f = match self.open(role, false) {
            Ok(f) => f,
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                self.set_made(role, None);
                self.save_record()?;
                return Ok("already gone".into());
            }
            Err(e) => return Err(e),
        };
        let head = swapfs::read_head(&mut f).map_err(|e| Error::io("reading", &hp, e))?;
        let verified = match read_signature(&head) {
            Signature::Swap(_) | Signature::SwapV0 { .. } => "a swap area",
            Signature::None
                if swapfs::is_all_zeros(&mut f).map_err(|e| Error::io("reading", &hp, e))? =>
            {
                "zeros (an unfinished swap area)"
            }
            _ => {
                return Err(Refusal::Unsafe {
                    target: hp.display().to_string(),
                    why: "it is not a swap area: hostfix deletes only files it verified".into(),
                }
                .into());
            }
        };
        drop(f);
        std::fs::remove_file(self.real(role)).map_err(|e| Error::io("deleting", &hp, e))?;
        self.sync_dir(role);
        self.ids.remove(&role);
        self.set_made(role, None);
        self.save_record()?;
        Ok(format!(
            "deleted (hostfix's own, verified {verified}, inactive); forgotten in the record"
        ))
    }
}
