//! The record of the services hostfix disabled, `STATE_DIR/disabled-services.json`: one
//! entry per service hostfix itself turned off at boot (it was enabled, and hostfix's
//! command disabled it), so nothing hostfix did not do is ever claimed, and what it did
//! can be undone by hand (`update-rc.d NAME enable`, `rc-update add NAME RUNLEVEL`).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Refusal, Result};
use crate::host::Host;
use crate::state;

const RECORD: &str = "disabled-services.json";
const VERSION: u32 = 1;

/// One service hostfix disabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisabledService {
    /// The service (`nginx`).
    pub name: String,
    /// The init system (`sysvinit`, `openrc`).
    pub init: String,
    /// Where it started at boot before (runlevels).
    pub enabled_in: Vec<String>,
    /// The port it held (`80/tcp`).
    pub port: String,
    /// The command that disabled it.
    pub command: Vec<String>,
    /// When (seconds since the epoch).
    pub at: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    version: u32,
    services: Vec<DisabledService>,
}

/// Parses the record's text (pure).
///
/// # Errors
/// What is wrong with it, in words.
pub fn parse_record(text: &str) -> std::result::Result<Vec<DisabledService>, String> {
    let s: Stored = serde_json::from_str(text)
        .map_err(|e| format!("not valid: {}", state::clip(&e.to_string())))?;
    if s.version != VERSION {
        return Err(format!(
            "format version {} (this hostfix reads version {VERSION})",
            s.version
        ));
    }
    Ok(s.services)
}

/// The services hostfix recorded disabling; empty when there is no record.
///
/// # Errors
/// [`Refusal::StateFile`] when the record cannot be used (it is never guessed around, nor
/// overwritten); as [`state::read_state_file`] otherwise.
pub(crate) fn read(host: &Host, state_dir: &std::path::Path) -> Result<Vec<DisabledService>> {
    let Some(dir) = state::readable_state_dir(host, state_dir, "")? else {
        return Ok(Vec::new());
    };
    let p = dir.join(RECORD);
    let shown = host.host_path(&p);
    let reset = state::move_aside_hint(&shown);
    let Some(text) = state::read_state_file(host, &p, &reset)? else {
        return Ok(Vec::new());
    };
    parse_record(&text).map_err(|why| {
        Refusal::StateFile {
            path: shown,
            why: format!("the record of disabled services is corrupt ({why})"),
            reset,
        }
        .into()
    })
}

/// Adds an entry (replacing an earlier one for the same service and init).
///
/// # Errors
/// As [`read`], and when the state directory or the file cannot be written.
pub(crate) fn add(host: &Host, state_dir: &std::path::Path, entry: DisabledService) -> Result<()> {
    let mut services = read(host, state_dir)?;
    services.retain(|s| !(s.name == entry.name && s.init == entry.init));
    services.push(entry);
    let dir = state::ensure_state_dir(host, state_dir, "")?;
    let json = serde_json::to_vec_pretty(&Stored {
        version: VERSION,
        services,
    })
    .map_err(|e| Error::parse("disabled services", e.to_string()))?;
    crate::fsutil::write_atomic(&dir.join(RECORD), &json, Some(0o600))
}
