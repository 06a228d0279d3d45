//! Persistence and sysctl steps: the atomic fstab edit, the `.swap` unit, swappiness.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::Applier;
use super::Role;
use crate::error::{Error, Refusal, Result};
use crate::fsutil::write_atomic;
use crate::host::{Cmd, InitSystem};
use crate::state::{read_regular, remove_regular};
use crate::swap::SwapError;
use crate::swap::fstab::{Fstab, FstabLine, set_own_line};
use crate::swap::observe::{SYSCTL_FILE, fstab_names, fstab_real_path, read_fstab};
use crate::swap::planner::{sysctl_content, wanted_line, wanted_unit};
use crate::swap::unit;

impl Applier<'_> {
    fn daemon_reload(&self) -> String {
        if !(self.host.is_live_root() && self.host.init_system() == InitSystem::Systemd) {
            return String::new();
        }
        match self.host.run_ok(&Cmd::new("systemctl", ["daemon-reload"])) {
            Ok(_) => "; systemctl daemon-reload".into(),
            Err(e) => {
                log::warn!("swap: systemctl daemon-reload: {e}");
                format!("; systemctl daemon-reload failed: {e}")
            }
        }
    }

    /// Rewrites fstab so hostfix's own lines for the file become `line` (or go), keeping
    /// every other byte. Re-read under the lock: a line naming the file that hostfix did
    /// not write refuses the edit. The record holds the new line before fstab does, and
    /// forgets the old ones after.
    fn fstab_edit(&mut self, line: Option<String>) -> Result<String> {
        let real = fstab_real_path(self.host);
        let (text, exists) = match read_fstab(self.host)? {
            Some(t) => (t, true),
            None => (String::new(), false),
        };
        let identity = std::fs::metadata(self.real(Role::Target))
            .ok()
            .map(|m| (m.dev(), m.ino()));
        let recorded = self.record.fstab_lines.clone();
        let own = |l: &FstabLine| recorded.iter().any(|r| r == l.body());
        for l in &Fstab::parse(&text).lines {
            let names = l.entry.as_ref().is_some_and(|e| {
                e.is_swap() && fstab_names(self.host, e, &self.ctx.path, identity)
            });
            if names && !own(l) {
                return Err(Refusal::Protected {
                    target: format!("/etc/fstab line {}", l.number),
                    why: format!(
                        "`{}` names {} and hostfix did not write it",
                        l.body(),
                        self.ctx.path.display()
                    ),
                }
                .into());
            }
        }
        let e = set_own_line(&text, &own, line.as_deref());
        let new = line.map(|l| l.trim_end_matches('\n').to_string());
        if let Some(n) = &new {
            if !self.record.fstab_lines.contains(n) {
                self.record.fstab_lines.push(n.clone());
                self.save_record()?;
            }
        }
        if e.changed {
            write_atomic(
                &real,
                e.text.as_bytes(),
                if exists { None } else { Some(0o644) },
            )?;
        }
        self.record.fstab_lines = new.into_iter().collect();
        self.save_record()?;
        if !e.changed {
            return Ok(e.summary);
        }
        Ok(format!("{}{}", e.summary, self.daemon_reload()))
    }

    pub(super) fn persist_fstab(&mut self, priority: Option<i32>) -> Result<String> {
        let line = wanted_line(&self.ctx.path, priority);
        self.fstab_edit(Some(line))
    }

    pub(super) fn unpersist_fstab(&mut self) -> Result<String> {
        self.fstab_edit(None)
    }

    /// The unit now in `/etc/systemd/system`, refused when hostfix did not write it.
    fn own_unit(&self, name: &str) -> Result<Option<String>> {
        let unit_host = Path::new(unit::UNIT_DIR).join(name);
        let content = read_regular(&self.host.path(&unit_host))?
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        match content {
            Some(t) if !self.record.units.contains(&t) => Err(Refusal::Protected {
                target: unit_host.display().to_string(),
                why: "hostfix did not write it (or it was edited since)".into(),
            }
            .into()),
            c => Ok(c),
        }
    }

    pub(super) fn persist_unit(&mut self, priority: Option<i32>) -> Result<String> {
        let name = unit::unit_name(&self.ctx.path)?;
        let content = wanted_unit(&self.ctx.path, priority);
        let dir = self.host.path(unit::UNIT_DIR);
        let wants = self.host.path(unit::WANTS_DIR);
        let now = self.own_unit(&name)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&wants)
            .map_err(|e| Error::io("creating directory", unit::WANTS_DIR, e))?;
        let unit_real = dir.join(&name);
        let mut notes = Vec::new();
        if now.as_deref() != Some(content.as_str()) {
            if !self.record.units.contains(&content) {
                self.record.units.push(content.clone());
                self.save_record()?;
            }
            write_atomic(&unit_real, content.as_bytes(), Some(0o644))?;
            notes.push(format!("wrote {}/{name}", unit::UNIT_DIR));
        }
        let link = wants.join(&name);
        let target = PathBuf::from("..").join(&name);
        match std::fs::read_link(&link) {
            Ok(t) if t == target => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::os::unix::fs::symlink(&target, &link)
                    .map_err(|e| Error::io("enabling", link.clone(), e))?;
                notes.push(format!("enabled in {}", unit::WANTS_DIR));
            }
            _ => {
                return Err(Refusal::Protected {
                    target: link.display().to_string(),
                    why: "hostfix did not make it: remove it yourself".into(),
                }
                .into());
            }
        }
        self.record.units = vec![content];
        self.save_record()?;
        if notes.is_empty() {
            return Ok("already in place".into());
        }
        Ok(format!("{}{}", notes.join("; "), self.daemon_reload()))
    }

    pub(super) fn unpersist_unit(&mut self) -> Result<String> {
        let name = unit::unit_name(&self.ctx.path)?;
        let unit_host = Path::new(unit::UNIT_DIR).join(&name);
        self.own_unit(&name)?;
        let mut notes = Vec::new();
        let link = self.host.path(Path::new(unit::WANTS_DIR).join(&name));
        if std::fs::read_link(&link).is_ok_and(|t| t == Path::new("..").join(&name)) {
            std::fs::remove_file(&link).map_err(|e| Error::io("removing", link.clone(), e))?;
            notes.push("disabled".to_string());
        }
        let real = self.host.path(&unit_host);
        if std::fs::symlink_metadata(&real).is_ok() {
            remove_regular(&real)?;
            notes.push(format!("deleted {}", unit_host.display()));
        }
        self.record.units.clear();
        self.save_record()?;
        Ok(format!("{}{}", notes.join("; "), self.daemon_reload()))
    }

    pub(super) fn set_swappiness(&self, value: u32) -> Result<String> {
        let p = "/proc/sys/vm/swappiness";
        std::fs::write(self.host.path(p), format!("{value}\n"))
            .map_err(|e| Error::io("writing", p, e))?;
        let now = self.host.read(p)?;
        if now.trim() != value.to_string() {
            return Err(SwapError::Verify {
                path: p.into(),
                detail: format!("reads back {:?}, expected {value}", now.trim()),
            }
            .into());
        }
        Ok(format!("{p} = {value}"))
    }

    pub(super) fn write_sysctl(&self, value: u32) -> Result<String> {
        let real = self.host.path(SYSCTL_FILE);
        if let Some(dir) = real.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)
                .map_err(|e| Error::io("creating directory", dir, e))?;
        }
        write_atomic(&real, sysctl_content(value).as_bytes(), Some(0o644))?;
        Ok(format!("wrote {SYSCTL_FILE}"))
    }
}
