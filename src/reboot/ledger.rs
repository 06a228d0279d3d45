//! The guard ledger: every reboot hostfix starts, recorded before it starts.
//!
//! One JSON file, `STATE_DIR/reboot-ledger.json` (mode 0600, in a directory private to
//! root), replaced atomically (temp file, fsync, rename, directory fsync) under the host
//! lock ([`crate::state::HostLock`]). An entry is written with state `started` before the
//! reboot is requested, and stays `started` until a later run sees another boot id and
//! marks it `confirmed`; a request that is known to have failed is marked `failed`.
//!
//! The file is read as hostfix's state files are ([`crate::state::read_state_file`]):
//! a regular file or refused (no link followed, no FIFO blocked on), at most
//! [`crate::state::MAX_STATE_FILE`] bytes. A file that cannot be used (torn, another
//! version, wrong types, duplicated ids, ids exhausted) is never guessed around: the
//! guard refuses (fails closed) with a [`Refusal::StateFile`] naming the file and how to
//! reset it. A ledger this process may not read (not root) is [`Refusal::NeedsRoot`],
//! never "corrupt".

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Refusal, Result};
use crate::host::Host;
use crate::state;

/// The ledger's file name in the state directory.
pub const LEDGER_FILE: &str = "reboot-ledger.json";

/// The format version this build reads and writes.
pub const LEDGER_VERSION: u32 = 1;

/// How long past its due time (start + delay) a reboot may take before a run in the same
/// boot calls it "never happened" rather than "pending". systemd may wait 90 s per unit
/// that does not stop, so this is generous.
pub const PENDING_GRACE: Duration = Duration::from_secs(15 * 60);

/// Entries without a `--once` key beyond this many are dropped, oldest first (keyed
/// entries are kept for ever: `--once` means ever).
pub const KEEP_UNKEYED: usize = 100;

/// What became of a recorded reboot, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum EntryState {
    /// Recorded before the reboot was requested; not yet seen to have happened.
    #[default]
    Started,
    /// A later run saw another boot id: the reboot happened.
    Confirmed,
    /// The request failed and the host did not go down.
    Failed,
}

/// One reboot hostfix started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LedgerEntry {
    /// A number unique in this ledger, increasing (a ledger whose numbers reached
    /// `u64::MAX` is refused, never wrapped).
    pub id: u64,
    /// The `--once` key, when one was given.
    #[serde(default)]
    pub key: Option<String>,
    /// Why the reboot was started.
    pub reason: String,
    /// The boot id (`/proc/sys/kernel/random/boot_id`) of the boot it was started in.
    pub boot_id: String,
    /// `/etc/machine-id` when it was started, to tell entries baked into an image apart.
    #[serde(default)]
    pub machine_id: Option<String>,
    /// When it was started (seconds since the epoch).
    pub started_at: u64,
    /// The delay asked for, in seconds.
    #[serde(default)]
    pub delay_secs: u64,
    /// How it was (to be) requested (`systemctl reboot`, `reboot(2)`, ...).
    pub method: String,
    /// What became of it.
    pub state: EntryState,
    /// When the request was accepted (the reboot was then underway, not done).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<u64>,
    /// When a later run confirmed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_at: Option<u64>,
    /// The boot id seen by the run that confirmed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_boot_id: Option<String>,
    /// Why it failed, for a failed request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a recorded reboot is now, judged against the current boot and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum EntryStatus {
    /// It happened: the boot id changed since it was started.
    Completed,
    /// Same boot, and its due time (plus a grace of fifteen minutes) has not passed yet.
    Pending,
    /// Same boot, and its due time is long past: started but never happened.
    NeverHappened,
    /// The request failed.
    Failed,
    /// Recorded on another machine (another `/etc/machine-id`): a ledger copied with an
    /// image. Ignored by the guard.
    Foreign,
}

impl EntryStatus {
    /// The status as JSON spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryStatus::Completed => "completed",
            EntryStatus::Pending => "pending",
            EntryStatus::NeverHappened => "never-happened",
            EntryStatus::Failed => "failed",
            EntryStatus::Foreign => "foreign",
        }
    }
}

/// Where the reboot is judged from: the current boot, machine and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now<'a> {
    /// The current boot id.
    pub boot_id: &'a str,
    /// The current machine id, when known.
    pub machine_id: Option<&'a str>,
    /// The current time, in seconds since the epoch.
    pub time: u64,
}

impl LedgerEntry {
    /// What this entry is now.
    pub(crate) fn status(&self, now: &Now<'_>) -> EntryStatus {
        if let (Some(mine), Some(cur)) = (self.machine_id.as_deref(), now.machine_id) {
            if mine != cur {
                return EntryStatus::Foreign;
            }
        }
        match self.state {
            EntryState::Confirmed => EntryStatus::Completed,
            EntryState::Failed => EntryStatus::Failed,
            EntryState::Started if self.boot_id != now.boot_id => EntryStatus::Completed,
            EntryState::Started => {
                let due = self.started_at.saturating_add(self.delay_secs);
                if now.time < due.saturating_add(PENDING_GRACE.as_secs()) {
                    EntryStatus::Pending
                } else {
                    EntryStatus::NeverHappened
                }
            }
        }
    }

    /// One line for people: `#3 2024-05-01T10:00:00Z key k: reason via method —
    /// completed (confirmed ...)`.
    pub(crate) fn describe(&self, now: &Now<'_>) -> String {
        let mut s = format!("#{} {}", self.id, format_utc(self.started_at));
        if let Some(k) = &self.key {
            s.push_str(&format!(" key {k}"));
        }
        s.push_str(&format!(
            ": {} via {} — {}",
            self.reason,
            self.method,
            self.what_became(now)
        ));
        s
    }

    /// A short reference for rule verdicts: `#3 (started 2024-05-01T10:00:00Z; pending
    /// in this boot, due ...)`.
    pub(crate) fn brief(&self, now: &Now<'_>) -> String {
        format!(
            "#{} (started {}; {})",
            self.id,
            format_utc(self.started_at),
            self.what_became(now)
        )
    }

    /// What became of it, in words.
    pub(crate) fn what_became(&self, now: &Now<'_>) -> String {
        match self.status(now) {
            EntryStatus::Completed => match self.confirmed_at {
                Some(t) => format!("completed (confirmed {})", format_utc(t)),
                None => "completed (the boot id changed)".to_string(),
            },
            EntryStatus::Pending => format!(
                "pending in this boot, due {}",
                format_utc(self.started_at.saturating_add(self.delay_secs))
            ),
            EntryStatus::NeverHappened => {
                if self.requested_at.is_some() {
                    "requested but never happened (still the same boot)".to_string()
                } else {
                    "started but never requested: hostfix was interrupted".to_string()
                }
            }
            EntryStatus::Failed => format!(
                "failed: {}",
                self.error.as_deref().unwrap_or("the request failed")
            ),
            EntryStatus::Foreign => "recorded on another machine (ignored)".to_string(),
        }
    }
}

/// An entry with its status now, for reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct EntryView {
    /// The entry as stored.
    #[serde(flatten)]
    pub entry: LedgerEntry,
    /// What it is now.
    pub status: EntryStatus,
    /// When it was started, in UTC (RFC 3339).
    pub started_utc: String,
    /// One line for people.
    pub summary: String,
}

/// The whole ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// The format version ([`LEDGER_VERSION`]).
    pub version: u32,
    /// Every recorded reboot, oldest first.
    pub entries: Vec<LedgerEntry>,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger {
            version: LEDGER_VERSION,
            entries: Vec::new(),
        }
    }
}

impl Ledger {
    /// Parses a ledger file's text (pure).
    ///
    /// # Errors
    /// What is wrong with it, in words: empty, not JSON of this shape, another version,
    /// duplicate ids, an entry without a boot id.
    pub fn parse(text: &str) -> std::result::Result<Ledger, String> {
        /// The version alone, read first: another version may have another shape.
        #[derive(Deserialize)]
        struct Head {
            version: serde_json::Value,
        }
        if text.trim().is_empty() {
            return Err("the file is empty (a write was cut short?)".into());
        }
        let head: Head = serde_json::from_str(text).map_err(|e| format!("not valid: {e}"))?;
        if head.version.as_u64() != Some(u64::from(LEDGER_VERSION)) {
            return Err(format!(
                "format version {} (this hostfix reads version {LEDGER_VERSION})",
                state::clip(&head.version.to_string())
            ));
        }
        let l: Ledger = serde_json::from_str(text).map_err(|e| format!("not valid: {e}"))?;
        let mut ids: Vec<u64> = l.entries.iter().map(|e| e.id).collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err("two entries share an id".into());
        }
        if let Some(e) = l.entries.iter().find(|e| e.boot_id.trim().is_empty()) {
            return Err(format!("entry #{} has no boot id", e.id));
        }
        Ok(l)
    }

    /// The ledger as the bytes written to disk.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing plain data (strings, numbers, enums) cannot fail.
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    /// The id for a new entry: one more than the largest. Ids never wrap: `None` when the
    /// largest is already `u64::MAX` (a ledger hostfix did not write that way).
    pub fn next_id(&self) -> Option<u64> {
        match self.entries.iter().map(|e| e.id).max() {
            None => Some(1),
            Some(m) => m.checked_add(1),
        }
    }

    /// The entries a run in this boot would confirm (started in another boot, on this
    /// machine).
    pub fn confirmable(&self, now: &Now<'_>) -> Vec<u64> {
        self.entries
            .iter()
            .filter(|e| e.state == EntryState::Started && e.status(now) == EntryStatus::Completed)
            .map(|e| e.id)
            .collect()
    }

    /// Confirms every entry started in another boot; returns their ids.
    pub fn confirm(&mut self, now: &Now<'_>) -> Vec<u64> {
        let ids = self.confirmable(now);
        for e in self.entries.iter_mut().filter(|e| ids.contains(&e.id)) {
            e.state = EntryState::Confirmed;
            e.confirmed_at = Some(now.time);
            e.confirmed_boot_id = Some(now.boot_id.to_string());
        }
        ids
    }

    /// Drops the oldest entries without a key beyond [`KEEP_UNKEYED`].
    pub fn prune(&mut self) {
        let unkeyed = self.entries.iter().filter(|e| e.key.is_none()).count();
        let mut drop = unkeyed.saturating_sub(KEEP_UNKEYED);
        self.entries.retain(|e| {
            if drop > 0 && e.key.is_none() && e.state != EntryState::Started {
                drop -= 1;
                false
            } else {
                true
            }
        });
    }

    /// The entry with this id.
    pub fn entry_mut(&mut self, id: u64) -> Option<&mut LedgerEntry> {
        self.entries.iter_mut().find(|e| e.id == id)
    }

    /// The last `n` entries, newest first, with their status now.
    pub fn recent(&self, n: usize, now: &Now<'_>) -> Vec<EntryView> {
        self.entries
            .iter()
            .rev()
            .take(n)
            .map(|e| EntryView {
                entry: e.clone(),
                status: e.status(now),
                started_utc: format_utc(e.started_at),
                summary: e.describe(now),
            })
            .collect()
    }
}

/// The ledger's file on the host (joined to the host's root), in the normalised state
/// directory.
pub fn ledger_path(host: &Host, state_dir: &Path) -> PathBuf {
    let dir = state::state_dir(state_dir).unwrap_or_else(|_| state_dir.to_path_buf());
    host.path(dir).join(LEDGER_FILE)
}

/// How to reset a ledger that cannot be used, for messages.
pub fn reset_hint(path: &Path) -> String {
    format!(
        "inspect it, then move it aside to start a new ledger (the guard forgets the \
         reboots it recorded): mv {p} {p}.broken",
        p = path.display()
    )
}

/// Reads the ledger; a missing file (or state directory) is an empty ledger.
///
/// # Errors
/// [`Refusal::NeedsRoot`] when this process may not read it (not root);
/// [`Refusal::NotRegularFile`] for a link, FIFO, device or directory in its place;
/// [`Refusal::StateFile`] naming the file and how to reset it when it is too large, not
/// UTF-8, not a ledger of this version, or inconsistent; [`Refusal::Unsafe`] when the
/// state directory is not private; [`crate::Error::Io`] otherwise. The guard refuses on any.
pub fn read_ledger(host: &Host, state_dir: &Path) -> Result<Ledger> {
    let Some(dir) = state::readable_state_dir(host, state_dir, "")? else {
        return Ok(Ledger::default());
    };
    let path = dir.join(LEDGER_FILE);
    let shown = host.host_path(&path);
    let Some(text) = state::read_state_file(host, &path, &reset_hint(&shown))? else {
        return Ok(Ledger::default());
    };
    Ledger::parse(&text).map_err(|why| corrupt(&shown, &why).into())
}

/// The refusal for a ledger that cannot be used, naming the file and the reset step.
pub fn corrupt(shown: &Path, why: &str) -> Refusal {
    Refusal::StateFile {
        path: shown.to_path_buf(),
        why: format!("the reboot ledger is corrupt ({})", state::clip(why)),
        reset: reset_hint(shown),
    }
}

/// Writes the ledger atomically (mode 0600).
///
/// # Errors
/// [`crate::Error::Io`] naming the file.
pub fn write_ledger(path: &Path, ledger: &Ledger) -> Result<()> {
    crate::fsutil::write_atomic(path, &ledger.to_bytes(), Some(0o600))
}

/// Seconds since the epoch (0 for a clock before 1970).
pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Formats seconds since the epoch as RFC 3339 UTC (`2024-05-01T10:00:00Z`).
pub fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(1_714_557_600), "2024-05-01T10:00:00Z");
        assert_eq!(format_utc(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    fn entry(id: u64, key: Option<&str>, state: EntryState) -> LedgerEntry {
        LedgerEntry {
            id,
            key: key.map(Into::into),
            reason: "r".into(),
            boot_id: "b1".into(),
            machine_id: None,
            started_at: 1000,
            delay_secs: 0,
            method: "systemctl reboot".into(),
            state,
            requested_at: None,
            confirmed_at: None,
            confirmed_boot_id: None,
            error: None,
        }
    }

    #[test]
    fn prune_keeps_keyed_and_started() {
        let mut l = Ledger::default();
        l.entries.push(entry(1, Some("k"), EntryState::Confirmed));
        for i in 2..(KEEP_UNKEYED as u64 + 12) {
            l.entries.push(entry(i, None, EntryState::Confirmed));
        }
        l.prune();
        assert_eq!(
            l.entries.iter().filter(|e| e.key.is_none()).count(),
            KEEP_UNKEYED
        );
        assert_eq!(l.entries[0].id, 1);
    }
}
