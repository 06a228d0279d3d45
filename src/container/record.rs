//! The ladder's own record of a reboot it asked for, so the run after the boot can say
//! the reboot happened (the boot id changed).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::host::Host;

/// What the ladder writes before it asks for a reboot, so the run after the boot can
/// confirm the reboot happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebootRecord {
    /// The container's full id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The boot the reboot was asked for in (`/proc/sys/kernel/random/boot_id`).
    pub boot_id: String,
    /// When, in seconds since the epoch.
    pub requested_at: u64,
    /// Why.
    pub reason: String,
}

/// What the ladder knows of an earlier reboot it asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RebootEvidence {
    /// The boot the reboot was asked in.
    pub requested_in_boot: String,
    /// When, in seconds since the epoch.
    pub requested_at: u64,
    /// The current boot, when readable.
    pub current_boot: Option<String>,
    /// Whether the host booted since (the boot id changed).
    pub confirmed: bool,
}

pub(super) fn record_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("container")
}

pub(super) fn record_path(state_dir: &Path, id: &str) -> PathBuf {
    record_dir(state_dir).join(format!("{id}.reboot.json"))
}

/// Reads the reboot record for a container id, or (when `id` is unknown) the one whose
/// name or id matches `target`. A record whose id is not a full container id is
/// ignored: the id names files and goes to the engine's commands.
pub(crate) fn read_record(
    host: &Host,
    state_dir: &Path,
    id: Option<&str>,
    target: &str,
) -> Option<RebootRecord> {
    let full = |r: &RebootRecord| {
        let ok = crate::engine::is_full_id(&r.id);
        if !ok {
            log::warn!("container: ignoring a reboot record for id {:?}", r.id);
        }
        ok
    };
    if let Some(id) = id {
        let text = host.read_opt(record_path(state_dir, id)).ok().flatten()?;
        return serde_json::from_str(&text)
            .map_err(|e| log::warn!("container: unreadable reboot record for {id}: {e}"))
            .ok()
            .filter(full);
    }
    let rd = std::fs::read_dir(host.path(record_dir(state_dir))).ok()?;
    rd.filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|t| serde_json::from_str::<RebootRecord>(&t).ok())
        .filter(full)
        .find(|r| r.name == target || r.id.starts_with(target))
}

pub(super) fn write_record(host: &Host, state_dir: &Path, rec: &RebootRecord) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = host.path(record_dir(state_dir));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| Error::io("creating", &dir, e))?;
    let json =
        serde_json::to_vec_pretty(rec).map_err(|e| Error::parse("reboot record", e.to_string()))?;
    crate::fsutil::write_atomic(
        &host.path(record_path(state_dir, &rec.id)),
        &json,
        Some(0o600),
    )
}

pub(super) fn remove_record(host: &Host, state_dir: &Path, id: &str) {
    let p = host.path(record_path(state_dir, id));
    match std::fs::remove_file(&p) {
        Ok(()) => log::info!("container: removed reboot record {}", p.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        // The record only serves the report of a later run; a stale one says "confirmed"
        // once more, which is still true.
        Err(e) => log::warn!("container: cannot remove {}: {e}", p.display()),
    }
}
