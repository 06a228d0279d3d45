//! `/proc/swaps`: the active swap areas.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, Result};

/// One active swap area, as `/proc/swaps` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SwapEntry {
    /// The file or device, with the kernel's octal escapes (`\040`) decoded and a
    /// trailing ` (deleted)` removed.
    pub path: PathBuf,
    /// Whether the kernel marked the file as deleted.
    pub deleted: bool,
    /// `file` or `partition`.
    pub kind: String,
    /// Usable size in bytes (the kernel reports KiB, one header page less than the file).
    pub size_bytes: u64,
    /// Used, in bytes.
    pub used_bytes: u64,
    /// Priority.
    pub priority: i32,
}

/// Decodes the kernel's octal escapes (`\040` for a space, `\011` tab, `\012` newline,
/// `\134` backslash) used in `/proc/swaps`, `/proc/mounts` and fstab.
pub fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            if let Ok(byte) = u8::try_from(v) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses the text of `/proc/swaps`.
///
/// # Errors
/// [`Error::Parse`] naming the line when a line has too few fields or a bad number.
pub fn parse_proc_swaps(text: &str) -> Result<Vec<SwapEntry>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if n == 0 && line.starts_with("Filename") || line.trim().is_empty() {
            continue;
        }
        let bad = |d: &str| {
            Error::parse(
                format!("/proc/swaps line {}", n + 1),
                format!("{d}: {line:?}"),
            )
        };
        // Fields are separated by spaces and tabs, from the right; the path itself has
        // its spaces, tabs, newlines and backslashes escaped, but " (deleted)" is appended
        // unescaped. Other whitespace (a no-break space, `\r`) is part of the path.
        let fields: Vec<&str> = line.split([' ', '\t']).filter(|f| !f.is_empty()).collect();
        if fields.len() < 5 {
            return Err(bad("expected 5 fields"));
        }
        let k = fields.len();
        // Sizes are KiB as u64 whose bytes must fit u64; a priority is an i32. Anything
        // else is not what the kernel prints: an error, never a wrapped number.
        let bytes = |s: &str| {
            s.parse::<u64>()
                .ok()
                .and_then(|kib| kib.checked_mul(1024))
                .ok_or_else(|| bad("not a size in KiB (whose bytes fit 64 bits)"))
        };
        let priority = fields[k - 1]
            .parse::<i32>()
            .map_err(|_| bad("not a priority (a 32-bit integer)"))?;
        let used_bytes = bytes(fields[k - 2])?;
        let size_bytes = bytes(fields[k - 3])?;
        let kind = fields[k - 4].to_string();
        let mut name = fields[..k - 4].join(" ");
        let deleted = name.ends_with(" (deleted)");
        if deleted {
            name.truncate(name.len() - " (deleted)".len());
        }
        out.push(SwapEntry {
            path: PathBuf::from(unescape_octal(&name)),
            deleted,
            kind,
            size_bytes,
            used_bytes,
            priority,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_files_partitions_escapes_and_deleted() {
        let text = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n\
                    /dev/vda2                               partition\t1048572\t\t0\t\t-2\n\
                    /swap\\040file                          file\t\t524284\t\t1024\t\t-3\n\
                    /old/swapfile (deleted)                 file\t\t262140\t\t0\t\t5\n";
        let v = parse_proc_swaps(text).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].kind, "partition");
        assert_eq!(v[0].size_bytes, 1048572 * 1024);
        assert_eq!(v[0].priority, -2);
        assert_eq!(v[1].path, PathBuf::from("/swap file"));
        assert_eq!(v[1].used_bytes, 1024 * 1024);
        assert!(v[2].deleted);
        assert_eq!(v[2].path, PathBuf::from("/old/swapfile"));
        assert_eq!(v[2].priority, 5);
    }

    #[test]
    fn empty_and_bad() {
        assert!(
            parse_proc_swaps("Filename Type Size Used Priority\n")
                .unwrap()
                .is_empty()
        );
        assert!(parse_proc_swaps("Filename\n/x file abc 0 -2\n").is_err());
        assert!(parse_proc_swaps("Filename\n/x file\n").is_err());
        assert_eq!(unescape_octal("a\\011b\\134c\\04"), "a\tb\\c\\04");
    }
}
