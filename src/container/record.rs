//! The ladder's own record of a reboot it asked for, so the run after the boot can say
//! the reboot happened (the boot id changed).
//!
//! One file per container, `STATE_DIR/container/ID.reboot.json` (mode 0600, in a
//! directory private to root), written atomically ([`crate::fsutil::write_atomic`]) and
//! read as every state file is ([`crate::state::read_state_file`]): a regular file or
//! refused, never a link followed or a FIFO blocked on. A record names its container by
//! its full id (64 hex digits); no other name is ever joined to a path.
//!
//! A record only serves the report of a later run, so one that cannot be used (torn by a
//! crash, another format version, wrong types, not a file) never blocks a run: the run
//! that finds it reports it, as an observation naming the file and how to reset it, and
//! goes on without it. The temp files of a write cut short are swept by the next write.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Refusal, Result};
use crate::host::Host;
use crate::state;

use crate::engine::is_full_id;

/// The format version this build reads and writes.
pub const RECORD_VERSION: u32 = 1;

/// The state directory's subdirectory for the records.
const RECORD_DIR: &str = "container";

/// The records' file name suffix.
const RECORD_SUFFIX: &str = ".reboot.json";

fn record_version() -> u32 {
    RECORD_VERSION
}

/// What the ladder writes before it asks for a reboot, so the run after the boot can
/// confirm the reboot happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebootRecord {
    /// The format version (1; records of the first release have none).
    #[serde(default = "record_version")]
    pub version: u32,
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
#[non_exhaustive]
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

/// The record's file name for a container id; `None` for anything but a full id.
fn record_name(id: &str) -> Option<String> {
    is_full_id(id).then(|| format!("{id}{RECORD_SUFFIX}"))
}

/// Parses a record's text (pure).
///
/// # Errors
/// What is wrong with it, in words: not JSON of this shape, another version, an id that
/// is not a full container id, an empty boot id.
pub fn parse_record(text: &str) -> std::result::Result<RebootRecord, String> {
    if text.trim().is_empty() {
        return Err("the file is empty (a write was cut short?)".into());
    }
    let r: RebootRecord = serde_json::from_str(text)
        .map_err(|e| format!("not valid: {}", state::clip(&e.to_string())))?;
    if r.version != RECORD_VERSION {
        return Err(format!(
            "format version {} (this hostfix reads version {RECORD_VERSION})",
            r.version
        ));
    }
    if !is_full_id(&r.id) {
        return Err(format!(
            "its id {:?} is not a full container id (64 hex digits)",
            state::clip(&r.id)
        ));
    }
    if r.boot_id.trim().is_empty() {
        return Err("it has no boot id".into());
    }
    Ok(r)
}

/// How to reset a record that cannot be used.
fn reset_hint(shown: &Path) -> String {
    format!(
        "inspect it, then move it aside (the next run only loses the note that it asked for a \
         reboot): mv {p} {p}.broken",
        p = shown.display()
    )
}

fn read_one(host: &Host, path: &Path) -> Result<Option<RebootRecord>> {
    let shown = host.host_path(path);
    let reset = reset_hint(&shown);
    let Some(text) = state::read_state_file(host, path, &reset)? else {
        return Ok(None);
    };
    parse_record(&text).map(Some).map_err(|why| {
        Refusal::StateFile {
            path: shown,
            why: format!("the container reboot record is corrupt ({why})"),
            reset,
        }
        .into()
    })
}

/// What reading the records found: the record, when one matches, and the records that
/// could not be used (each error names its file and how to reset it).
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub(crate) record: Option<RebootRecord>,
    pub(crate) unusable: Vec<Error>,
}

/// Reads the reboot record for a container id, or (when `id` is unknown) the one whose
/// name or id matches `target`. Never fails: what cannot be read is in
/// [`Found::unusable`].
pub(crate) fn read_record(host: &Host, state_dir: &Path, id: Option<&str>, target: &str) -> Found {
    let mut found = Found::default();
    let dir = match state::readable_state_dir(host, state_dir, RECORD_DIR) {
        Ok(Some(d)) => d,
        Ok(None) => return found,
        Err(e) => {
            found.unusable.push(e);
            return found;
        }
    };
    if let Some(id) = id {
        let Some(name) = record_name(id) else {
            return found;
        };
        match read_one(host, &dir.join(name)) {
            Ok(r) => found.record = r,
            Err(e) => found.unusable.push(e),
        }
        return found;
    }
    let names = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .filter_map(|n| n.to_str().map(str::to_string))
            .filter(|n| n.strip_suffix(RECORD_SUFFIX).is_some_and(is_full_id))
            .collect::<Vec<_>>(),
        Err(e) => {
            found
                .unusable
                .push(Error::io("listing", host.host_path(&dir), e));
            return found;
        }
    };
    for name in names {
        match read_one(host, &dir.join(&name)) {
            Ok(Some(r)) if r.name == target || r.id.starts_with(target) => {
                found.record = Some(r);
                break;
            }
            Ok(_) => {}
            Err(e) => found.unusable.push(e),
        }
    }
    found
}

/// Writes the record (mode 0600) into the private record directory. A record whose id is
/// not a full container id is not written (logged): no other name makes a path.
///
/// # Errors
/// As [`state::ensure_state_dir`] and [`crate::fsutil::write_atomic`].
pub(super) fn write_record(host: &Host, state_dir: &Path, rec: &RebootRecord) -> Result<()> {
    let Some(name) = record_name(&rec.id) else {
        log::warn!(
            "container: no reboot record written: {:?} is not a full container id",
            state::clip(&rec.id)
        );
        return Ok(());
    };
    let dir = state::ensure_state_dir(host, state_dir, RECORD_DIR)?;
    let json =
        serde_json::to_vec_pretty(rec).map_err(|e| Error::parse("reboot record", e.to_string()))?;
    crate::fsutil::write_atomic(&dir.join(name), &json, Some(0o600))
}

/// Removes the record of a container id, if there is one (a link in its place is
/// removed, never followed). A failure is logged: the record only serves the report of
/// a later run, and a stale one says "confirmed" once more, which is still true.
pub(super) fn remove_record(host: &Host, state_dir: &Path, id: &str) {
    let Some(name) = record_name(id) else {
        return;
    };
    let dir = match state::state_dir(state_dir) {
        Ok(d) => host.path(d.join(RECORD_DIR)),
        Err(e) => {
            log::warn!("container: {e}");
            return;
        }
    };
    let p: PathBuf = dir.join(name);
    if !p.exists() && std::fs::symlink_metadata(&p).is_err() {
        return;
    }
    match state::remove_regular(&p) {
        Ok(()) => log::info!("container: removed reboot record {}", p.display()),
        Err(e) => log::warn!("container: cannot remove {}: {e}", p.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "7c3a5e9f1b2d4c6e8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f";

    #[test]
    fn records_parse_strictly() {
        let ok =
            format!(r#"{{"id":"{ID}","name":"web","boot_id":"b1","requested_at":5,"reason":"r"}}"#);
        assert_eq!(parse_record(&ok).unwrap().version, 1);
        for bad in [
            String::new(),
            format!(r#"{{"id":"{ID}","name":"web","boot_id":"b1","requested_at":5"#),
            format!(
                r#"{{"version":2,"id":"{ID}","name":"web","boot_id":"b1","requested_at":5,"reason":"r"}}"#
            ),
            format!(
                r#"{{"id":"{ID}","name":"web","boot_id":"b1","requested_at":"soon","reason":"r"}}"#
            ),
            r#"{"id":"../../etc/passwd","name":"web","boot_id":"b1","requested_at":5,"reason":"r"}"#
                .to_string(),
            format!(r#"{{"id":"{ID}","name":"web","boot_id":" ","requested_at":5,"reason":"r"}}"#),
        ] {
            assert!(parse_record(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_full_ids_name_a_file() {
        assert!(record_name(ID).is_some());
        for bad in [
            "",
            "7c3a5e9f1b2d",
            "../x",
            &format!("{ID}/"),
            &format!("../{}", &ID[3..]),
        ] {
            assert!(record_name(bad).is_none(), "{bad}");
        }
    }
}
