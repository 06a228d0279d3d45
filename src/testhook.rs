//! Test-only pause points, for the VM power-cut scenario (`tests/vm/powercut.rs`): it
//! stops hostfix at an exact point of an operation and cuts the guest's power there.
//!
//! Inert unless one of the two variables below is set: a point then costs two environment
//! lookups and nothing else. They are not a feature; never set them on a real host (a
//! paused run holds its locks until it is killed).
//!
//! - `HOSTFIX_TEST_POINTS=FILE`: every point reached is appended to `FILE` as one line
//!   `HOSTFIX-POINT <point>` (the VM harness passes the guest's second serial port).
//! - `HOSTFIX_TEST_PAUSE_AT=PATTERN`: at the first point matching `PATTERN` (`*` matches
//!   any text), `HOSTFIX-PAUSED <point>` is written (to `FILE`, or stderr without it) and
//!   the process sleeps forever, with everything it has not written back to disk still in
//!   the page cache.
//!
//! The points: `before OPERATION: STEP` and `after OPERATION: STEP` around every step a
//! [`crate::plan::Runner`] takes (`before swap ensure: swapon /swapfile`), and in
//! [`crate::fsutil::write_atomic`] `written FILE` (the temp file written, not fsynced),
//! `synced FILE` (fsynced, not renamed) and `renamed FILE` (renamed over `FILE`, its
//! directory not fsynced).

use std::ffi::OsString;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::time::Duration;

const POINTS: &str = "HOSTFIX_TEST_POINTS";
const PAUSE_AT: &str = "HOSTFIX_TEST_PAUSE_AT";

/// A point of an operation: reports it, and pauses there for good when the pause pattern
/// names it. `name` is only called when a variable is set.
pub(crate) fn point(name: impl FnOnce() -> String) {
    let points = std::env::var_os(POINTS);
    let pause = std::env::var_os(PAUSE_AT);
    if points.is_none() && pause.is_none() {
        return;
    }
    let name = name();
    // One line, never two: a newline in a file name would forge a marker.
    let name = name.replace(['\n', '\r'], " ");
    if let Some(file) = &points {
        emit(Some(file), &format!("HOSTFIX-POINT {name}"));
    }
    let Some(pattern) = pause.as_ref().and_then(|p| p.to_str()) else {
        return;
    };
    if matches(pattern, &name) {
        log::warn!("test hook: pausing at {name:?} ({PAUSE_AT})");
        emit(points.as_ref(), &format!("HOSTFIX-PAUSED {name}"));
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}

/// Appends `line` to `file` (stderr without one). Best effort: the harness waits for the
/// line and fails when it does not come.
fn emit(file: Option<&OsString>, line: &str) {
    let line = format!("{line}\n");
    let written = match file {
        Some(f) => std::fs::OpenOptions::new()
            .append(true)
            .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
            .open(f)
            .and_then(|mut f| f.write_all(line.as_bytes())),
        None => std::io::stderr().write_all(line.as_bytes()),
    };
    if let Err(e) = written {
        log::warn!("test hook: writing {line:?}: {e}");
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters (none
/// included) and everything else matches itself.
fn matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        // No `*`: the whole text.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn patterns_match_whole_points_with_stars_for_any_text() {
        assert!(matches("renamed /etc/fstab", "renamed /etc/fstab"));
        assert!(!matches("renamed /etc/fstab", "renamed /etc/fstab2"));
        assert!(!matches("renamed /etc/fstab", "xrenamed /etc/fstab"));
        assert!(matches(
            "before swap ensure: allocate * for /swapfile",
            "before swap ensure: allocate 64.0 MiB for /swapfile"
        ));
        assert!(!matches(
            "before swap ensure: allocate * for /swapfile",
            "before swap ensure: allocate 64.0 MiB for /.swapfile.hostfix-swapover"
        ));
        assert!(matches(
            "before port free: remove *",
            "before port free: remove web"
        ));
        assert!(matches("*", ""));
        assert!(matches("a*b*c", "abc"));
        assert!(matches("a*b*c", "a-b-b-c"));
        assert!(!matches("a*b*c", "a-c"));
        assert!(!matches("ab*ba", "aba"));
        assert!(matches("", ""));
        assert!(!matches("", "x"));
    }
}
