//! Persistence and sysctl steps: the atomic fstab edit, the `.swap` unit, swappiness.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::Applier;
use super::Role;
use crate::error::{Error, Refusal, Result};
use crate::fsutil::write_atomic;
use crate::host::{Cmd, InitSystem};
use crate::swap::SwapError;
use crate::swap::fstab::{Edit, FstabEntry, ensure_swap_line, remove_swap_lines};
use crate::swap::observe::{SYSCTL_FILE, fstab_names, fstab_real_path};
use crate::swap::planner::sysctl_content;
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

    fn fstab_edit(
        &self,
        edit: impl Fn(&str, &dyn Fn(&FstabEntry) -> bool) -> Edit,
    ) -> Result<String> {
        let real = fstab_real_path(self.host);
        let (text, exists) = match std::fs::read(&real) {
            Ok(b) => (
                String::from_utf8(b).map_err(|_| {
                    Error::parse("/etc/fstab", "not valid UTF-8; hostfix will not edit it")
                })?,
                true,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (String::new(), false),
            Err(e) => return Err(Error::io("reading", "/etc/fstab", e)),
        };
        let identity = std::fs::metadata(self.real(Role::Target))
            .ok()
            .map(|m| (m.dev(), m.ino()));
        let path = self.ctx.path.clone();
        let host = self.host;
        let e = edit(&text, &|entry| fstab_names(host, entry, &path, identity));
        if !e.changed {
            return Ok(e.summary);
        }
        write_atomic(
            &real,
            e.text.as_bytes(),
            if exists { None } else { Some(0o644) },
        )?;
        Ok(format!("{}{}", e.summary, self.daemon_reload()))
    }

    pub(super) fn persist_fstab(&self) -> Result<String> {
        let p = self.ctx.path.to_string_lossy().into_owned();
        let prio = self.ctx.priority;
        self.fstab_edit(|text, ours| ensure_swap_line(text, &p, prio, ours))
    }

    pub(super) fn unpersist_fstab(&self) -> Result<String> {
        self.fstab_edit(|text, ours| remove_swap_lines(text, ours))
    }

    pub(super) fn persist_unit(&self) -> Result<String> {
        let name = unit::unit_name(&self.ctx.path)?;
        let content = unit::render_unit(&self.ctx.path.to_string_lossy(), self.ctx.priority);
        let dir = self.host.path(unit::UNIT_DIR);
        let wants = self.host.path(unit::WANTS_DIR);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&wants)
            .map_err(|e| Error::io("creating directory", unit::WANTS_DIR, e))?;
        let unit_real = dir.join(&name);
        let mut notes = Vec::new();
        if std::fs::read_to_string(&unit_real).ok().as_deref() != Some(content.as_str()) {
            write_atomic(&unit_real, content.as_bytes(), Some(0o644))?;
            notes.push(format!("wrote {}/{name}", unit::UNIT_DIR));
        }
        let link = wants.join(&name);
        let target = PathBuf::from("..").join(&name);
        if std::fs::read_link(&link).ok().as_deref() != Some(target.as_path()) {
            let tmp = wants.join(format!(".{name}.hostfix-{}.tmp", std::process::id()));
            // A temp link left by a killed run; absent is the usual case.
            if let Err(e) = std::fs::remove_file(&tmp) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    return Err(Error::io("removing", tmp, e));
                }
            }
            std::os::unix::fs::symlink(&target, &tmp)
                .and_then(|()| std::fs::rename(&tmp, &link))
                .map_err(|e| Error::io("enabling", link.clone(), e))?;
            notes.push(format!("enabled in {}", unit::WANTS_DIR));
        }
        if notes.is_empty() {
            return Ok("already in place".into());
        }
        Ok(format!("{}{}", notes.join("; "), self.daemon_reload()))
    }

    pub(super) fn unpersist_unit(&self) -> Result<String> {
        let name = unit::unit_name(&self.ctx.path)?;
        let unit_host = Path::new(unit::UNIT_DIR).join(&name);
        match self.host.read_opt(&unit_host)? {
            Some(t) if !unit::is_ours(&t) => {
                return Err(Refusal::Protected {
                    target: unit_host.display().to_string(),
                    why: "it was not written by hostfix".into(),
                }
                .into());
            }
            _ => {}
        }
        let mut notes = Vec::new();
        let link = self.host.path(Path::new(unit::WANTS_DIR).join(&name));
        if std::fs::symlink_metadata(&link).is_ok() {
            std::fs::remove_file(&link).map_err(|e| Error::io("removing", link.clone(), e))?;
            notes.push("disabled".to_string());
        }
        let real = self.host.path(&unit_host);
        if real.exists() {
            std::fs::remove_file(&real).map_err(|e| Error::io("removing", &unit_host, e))?;
            notes.push(format!("deleted {}", unit_host.display()));
        }
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
