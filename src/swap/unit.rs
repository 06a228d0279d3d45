//! systemd `.swap` units: the unit name for a path (as `systemd-escape --path
//! --suffix=swap` makes it), the unit hostfix writes, and reading `What=` back.

use std::path::{Component, Path};

use crate::error::InputError;

/// Where hostfix writes its units (a host path).
pub const UNIT_DIR: &str = "/etc/systemd/system";
/// The directory whose symlinks enable a unit for `swap.target`.
pub const WANTS_DIR: &str = "/etc/systemd/system/swap.target.wants";
/// The first line of every unit hostfix writes.
pub const MARKER: &str =
    "# Written by hostfix (hostfix swap ensure); hostfix swap remove deletes it.";

/// The unit name for a swap file path (`/var/swap file` → `var-swap\x20file.swap`).
///
/// # Errors
/// [`InputError`] when the path is not absolute or has `..` components.
pub fn unit_name(path: &Path) -> Result<String, InputError> {
    let bad = |why: &str| {
        InputError::new(
            "swap path",
            path.display().to_string(),
            why,
            "an absolute path without '..'",
        )
    };
    if !path.is_absolute() {
        return Err(bad("not absolute"));
    }
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::ParentDir | Component::Prefix(_) => return Err(bad("has '..'")),
        }
    }
    if parts.is_empty() {
        return Ok("-.swap".into());
    }
    let joined = parts.join("/");
    let mut out = String::new();
    for (i, b) in joined.bytes().enumerate() {
        match b {
            b'/' => out.push('-'),
            b'.' if i == 0 => out.push_str("\\x2e"),
            b if b.is_ascii_alphanumeric() || b == b':' || b == b'_' || b == b'.' => {
                out.push(b as char);
            }
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push_str(".swap");
    Ok(out)
}

/// The unit hostfix writes for a swap file (`host_path` is the path the booted host sees).
pub fn render_unit(host_path: &str, priority: Option<i32>) -> String {
    // Unit values expand `%` specifiers; a literal `%` is written `%%`.
    let what = host_path.replace('%', "%%");
    let mut s = format!(
        "{MARKER}\n[Unit]\nDescription=Swap file {what}\nDocumentation=man:systemd.swap(5)\n\n\
         [Swap]\nWhat={what}\n"
    );
    if let Some(p) = priority {
        s.push_str(&format!("Priority={p}\n"));
    }
    s.push_str("\n[Install]\nWantedBy=swap.target\n");
    s
}

/// The `What=` of a `.swap` unit's `[Swap]` section, with `%%` decoded.
#[cfg_attr(not(feature = "testing"), allow(dead_code))] // used by hostfix::testing
pub fn unit_what(text: &str) -> Option<String> {
    swap_value(text, "What").map(|v| v.replace("%%", "%"))
}

/// A value of a unit's `[Swap]` section (the last one wins, as systemd reads it).
fn swap_value(text: &str, key: &str) -> Option<String> {
    let mut in_swap = false;
    let mut value = None;
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            in_swap = l == "[Swap]";
        } else if in_swap {
            if let Some(v) = l.strip_prefix(key).and_then(|r| r.strip_prefix('=')) {
                value = Some(v.trim().to_string());
            }
        }
    }
    value
}

/// The `Priority=` of a unit's `[Swap]` section, when set and numeric.
pub fn unit_priority(text: &str) -> Option<i32> {
    swap_value(text, "Priority").and_then(|v| v.parse().ok())
}

/// Whether a unit file carries hostfix's marker line (which says nothing of whether it
/// was edited since: hostfix compares the whole unit with what it recorded).
#[cfg_attr(not(feature = "testing"), allow(dead_code))] // used by hostfix::testing
pub fn has_marker(text: &str) -> bool {
    text.lines().next() == Some(MARKER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_systemd_escape() {
        // Expected values from `systemd-escape --path --suffix=swap`.
        for (p, want) in [
            ("/swapfile", "swapfile.swap"),
            ("/var/swap file-1.img", "var-swap\\x20file\\x2d1.img.swap"),
            ("/.hidden/x", "\\x2ehidden-x.swap"),
            ("/a//b/", "a-b.swap"),
            ("/ü", "\\xc3\\xbc.swap"),
            ("/", "-.swap"),
        ] {
            assert_eq!(unit_name(Path::new(p)).unwrap(), want, "{p}");
        }
        assert!(unit_name(Path::new("rel")).is_err());
        assert!(unit_name(Path::new("/a/../b")).is_err());
    }

    #[test]
    fn unit_round_trip() {
        let u = render_unit("/swap 100%", Some(5));
        assert!(u.contains("What=/swap 100%%\nPriority=5\n"));
        assert!(u.contains("WantedBy=swap.target"));
        assert_eq!(unit_what(&u).as_deref(), Some("/swap 100%"));
        assert!(has_marker(&u));
        assert!(!has_marker("[Swap]\nWhat=/x\n"));
        assert_eq!(unit_priority(&u), Some(5));
        assert_eq!(unit_priority(&render_unit("/s", None)), None);
        assert_eq!(
            unit_what("[Unit]\nWhat=/no\n[Swap]\nWhat=/yes\n").as_deref(),
            Some("/yes")
        );
    }
}
