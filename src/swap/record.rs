//! hostfix's record of what it made for one swap path: the swap file and the temporary
//! swap-over area (device, inode, the UUID of the header it wrote, the size it is making),
//! and the exact fstab lines and `.swap` unit contents it wrote. A file, line or unit the
//! record does not name is not hostfix's, and hostfix does not adopt, change or delete it.
//!
//! The record lives at `STATE_DIR/swap/NAME.json` (`NAME` is the path as systemd escapes
//! it, `swapfile.swap` for `/swapfile`), in directories only the host's owner can write
//! (a record anyone could plant would let them hand hostfix a file to use and delete). It
//! is replaced atomically, and every change of the host is recorded *before* it is made
//! ("intent") and confirmed after: a file is recorded with its UUID before it is created,
//! and with its device and inode once it exists; a line or unit is recorded before it is
//! written, and the old one forgotten after. A run killed anywhere leaves a record that
//! names everything hostfix may have made, so the next run recognises its own leftovers.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use crate::error::{Error, InputError, Refusal, Result};
use crate::host::Host;
use crate::state;

/// The record's format version.
pub const VERSION: u32 = 1;

/// The folder of the swap records, under the state directory.
pub const RECORD_DIR: &str = "swap";

/// A file hostfix created (or was about to create).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MadeFile {
    /// The UUID hostfix writes (or wrote) into its swap header: its signature.
    pub uuid: String,
    /// When hostfix recorded that it was about to create the file (seconds since the
    /// epoch): a half-made file found later is no older than this.
    pub intent_at: u64,
    /// The device of the file, once created (`None`: about to be created).
    pub dev: Option<u64>,
    /// Its inode, once created.
    pub ino: Option<u64>,
    /// Its birth time (nanoseconds since the epoch, `statx` btime), once created, where
    /// the filesystem keeps one: an inode number is reused after a delete, a birth time
    /// tells the new file from the old.
    #[serde(default)]
    pub born: Option<u64>,
    /// The size hostfix is making it, in bytes (for the swap-over area: the size the
    /// resize it serves makes the swap file).
    pub size: u64,
    /// How hostfix came to own it: `created`, or `adopted` (made by an earlier hostfix
    /// version that kept no record).
    pub how: String,
}

impl MadeFile {
    /// The recorded device and inode, once the file exists.
    pub fn identity(&self) -> Option<(u64, u64)> {
        self.dev.zip(self.ino)
    }
}

/// What hostfix made for one swap path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwapRecord {
    /// The format version ([`VERSION`]).
    pub version: u32,
    /// The swap path (a host path) this record is about.
    pub path: PathBuf,
    /// The swap file.
    pub file: Option<MadeFile>,
    /// The temporary area of a resize, while it exists.
    pub temp: Option<MadeFile>,
    /// The fstab lines hostfix wrote for the path, byte for byte without the newline (one;
    /// two while an edit is under way).
    pub fstab_lines: Vec<String>,
    /// The `.swap` unit contents hostfix wrote (one; two while an edit is under way).
    pub units: Vec<String>,
}

impl SwapRecord {
    /// An empty record for a path.
    pub fn new(path: &Path) -> SwapRecord {
        SwapRecord {
            version: VERSION,
            path: path.to_path_buf(),
            file: None,
            temp: None,
            fstab_lines: Vec::new(),
            units: Vec::new(),
        }
    }

    /// Whether it names nothing (and can be removed).
    pub fn is_empty(&self) -> bool {
        self.file.is_none()
            && self.temp.is_none()
            && self.fstab_lines.is_empty()
            && self.units.is_empty()
    }
}

/// The record as observed.
// One per observation, never held in bulk: boxing the record would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum RecordFacts {
    /// No record: hostfix made nothing at this path (or kept no record of it).
    #[default]
    Absent,
    /// The record.
    Present(SwapRecord),
    /// A record, or its folder, that cannot be trusted or read.
    Unreadable {
        /// Why, with what to do.
        why: String,
    },
    /// The record could not be looked at for lack of permission (hostfix not run as
    /// root): whose the files are is unknown.
    Unseen {
        /// What could not be read.
        why: String,
    },
}

impl RecordFacts {
    /// The record, when there is a readable one.
    pub fn record(&self) -> Option<&SwapRecord> {
        match self {
            RecordFacts::Present(r) => Some(r),
            _ => None,
        }
    }
}

/// The record's file name for a swap path (`swapfile.swap.json`).
fn record_name(swap_path: &Path) -> std::result::Result<String, InputError> {
    Ok(format!("{}.json", super::unit::unit_name(swap_path)?))
}

/// The record's host path for a swap path, in the normalised state directory
/// ([`state::state_dir`]).
///
/// # Errors
/// [`InputError`] when the swap path is not absolute or has `..`, or the state directory
/// is not absolute.
pub fn record_path(state_dir: &Path, swap_path: &Path) -> std::result::Result<PathBuf, InputError> {
    Ok(state::state_dir(state_dir)?
        .join(RECORD_DIR)
        .join(record_name(swap_path)?))
}

/// Parses a record (pure).
///
/// # Errors
/// Why it is not a record for `swap_path` this hostfix can read.
pub fn parse_record(bytes: &[u8], swap_path: &Path) -> std::result::Result<SwapRecord, String> {
    let r: SwapRecord = serde_json::from_slice(bytes).map_err(|e| format!("not a record: {e}"))?;
    if r.version != VERSION {
        return Err(format!(
            "format version {} (this hostfix reads version {VERSION})",
            r.version
        ));
    }
    if r.path != swap_path {
        return Err(format!(
            "it is about {}, not {}",
            r.path.display(),
            swap_path.display()
        ));
    }
    Ok(r)
}

/// Reads the record for a swap path. Never fails: what cannot be read or trusted is
/// [`RecordFacts::Unreadable`], with why; what this user may not look at is
/// [`RecordFacts::Unseen`]. A record is trusted only from folders no one but root or the
/// host's owner can write ([`state::readable_state_dir`]).
pub fn read_record(host: &Host, state_dir: &Path, swap_path: &Path) -> RecordFacts {
    let unreadable = |why: String| RecordFacts::Unreadable { why };
    let denied = |e: &Error| {
        matches!(e, Error::Refused(Refusal::NeedsRoot { .. }))
            || matches!(e.errno(), Some(Errno::EACCES | Errno::EPERM))
    };
    let (path, name) = match record_path(state_dir, swap_path).and_then(|p| {
        let name = record_name(swap_path)?;
        Ok((p, name))
    }) {
        Ok(p) => p,
        Err(e) => return unreadable(e.to_string()),
    };
    let mut real_dir = None;
    for sub in ["", RECORD_DIR] {
        match state::readable_state_dir(host, state_dir, sub) {
            Ok(Some(real)) => real_dir = Some(real),
            Ok(None) => return RecordFacts::Absent,
            Err(e) if denied(&e) => return RecordFacts::Unseen { why: e.to_string() },
            Err(e) => return unreadable(e.to_string()),
        }
    }
    let Some(dir) = real_dir else {
        return RecordFacts::Absent;
    };
    match state::read_regular(&dir.join(name)) {
        Ok(None) => RecordFacts::Absent,
        Ok(Some(bytes)) => match parse_record(&bytes, swap_path) {
            Ok(r) => RecordFacts::Present(r),
            Err(why) => unreadable(format!(
                "{}: {why}; move it aside (hostfix then treats the files at {} as not its own)",
                path.display(),
                swap_path.display()
            )),
        },
        Err(e) if denied(&e) => RecordFacts::Unseen {
            why: format!("{}: {e}", path.display()),
        },
        Err(e) => unreadable(e.to_string()),
    }
}

/// Writes the record (atomically, mode 0600, in the private folders
/// [`state::ensure_state_dir`] makes), or removes it when it names nothing.
///
/// # Errors
/// [`InputError`] for a bad path; [`Error::Io`] or a refusal from
/// [`state::ensure_state_dir`].
pub fn write_record(host: &Host, state_dir: &Path, rec: &SwapRecord) -> Result<()> {
    let path = record_path(state_dir, &rec.path)?;
    if rec.is_empty() {
        return state::remove_regular(&host.path(&path));
    }
    state::ensure_state_dir(host, state_dir, "")?;
    let dir = state::ensure_state_dir(host, state_dir, RECORD_DIR)?;
    let json =
        serde_json::to_vec_pretty(rec).map_err(|e| Error::parse("swap record", e.to_string()))?;
    crate::fsutil::write_atomic(&dir.join(record_name(&rec.path)?), &json, Some(0o600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_refuse_other_paths_and_versions() {
        let mut r = SwapRecord::new(Path::new("/swapfile"));
        assert!(r.is_empty());
        r.fstab_lines
            .push("/swapfile none swap sw,nofail 0 0".into());
        r.file = Some(MadeFile {
            uuid: "5a5a5a5a-1234-4abc-8def-0123456789ab".into(),
            intent_at: 1,
            dev: Some(2),
            ino: Some(3),
            born: Some(4),
            size: 4096 * 16,
            how: "created".into(),
        });
        let bytes = serde_json::to_vec(&r).unwrap();
        assert_eq!(parse_record(&bytes, Path::new("/swapfile")).unwrap(), r);
        assert!(parse_record(&bytes, Path::new("/other")).is_err());
        let newer = String::from_utf8(bytes)
            .unwrap()
            .replace("\"version\":1", "\"version\":2");
        assert!(
            parse_record(newer.as_bytes(), Path::new("/swapfile"))
                .unwrap_err()
                .contains("version 2")
        );
        assert!(parse_record(b"\xff{", Path::new("/swapfile")).is_err());
        assert_eq!(
            record_path(Path::new("/var/lib/hostfix"), Path::new("/var/my swap")).unwrap(),
            Path::new("/var/lib/hostfix/swap/var-my\\x20swap.swap.json")
        );
    }

    #[test]
    fn a_record_in_a_folder_others_can_write_is_not_trusted() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let host = Host::fake(d.path());
        let state = Path::new("/state");
        assert_eq!(
            read_record(&host, state, Path::new("/swapfile")),
            RecordFacts::Absent
        );
        let mut r = SwapRecord::new(Path::new("/swapfile"));
        r.fstab_lines.push("x".into());
        write_record(&host, state, &r).unwrap();
        assert_eq!(
            read_record(&host, state, Path::new("/swapfile")),
            RecordFacts::Present(r.clone())
        );
        let dir = host.path("/state/swap");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(
            read_record(&host, state, Path::new("/swapfile")),
            RecordFacts::Unreadable { .. }
        ));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        r.fstab_lines.clear();
        write_record(&host, state, &r).unwrap();
        assert!(!host.path("/state/swap/swapfile.swap.json").exists());
    }

    #[test]
    fn the_state_dir_is_normalised_and_its_links_are_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let host = Host::fake(d.path());
        let mut r = SwapRecord::new(Path::new("/swapfile"));
        r.fstab_lines.push("x".into());
        // `..` is resolved before anything: the record lands where the checks looked.
        write_record(&host, Path::new("/a/../state"), &r).unwrap();
        assert!(host.path("/state/swap/swapfile.swap.json").is_file());
        assert!(!host.path("/a").exists());
        assert_eq!(
            read_record(&host, Path::new("/state/x/.."), Path::new("/swapfile")),
            RecordFacts::Present(r.clone())
        );
        assert_eq!(
            record_path(Path::new("/a/../state"), Path::new("/swapfile")).unwrap(),
            Path::new("/state/swap/swapfile.swap.json")
        );
        // A link in the record folder's place is neither followed nor trusted.
        std::fs::create_dir_all(host.path("/elsewhere/swap")).unwrap();
        std::os::unix::fs::symlink(host.path("/state/swap"), host.path("/linked")).unwrap();
        assert!(matches!(
            read_record(&host, Path::new("/linked"), Path::new("/swapfile")),
            RecordFacts::Unreadable { .. }
        ));
        assert!(write_record(&host, Path::new("/linked"), &r).is_err());
    }
}
