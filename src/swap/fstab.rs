//! `/etc/fstab`: a parser that keeps every byte, and the edits that add, fix, collapse or
//! remove a swap file's line while leaving every other byte as it was.
//!
//! Fields are separated by spaces or tabs and octal-escaped (`\040` for a space, `\011`
//! tab, `\012` newline, `\134` backslash); `#` starts a comment line. A swap line has the
//! type `swap`; the mount point is ignored (`none` or `swap` by convention).

use std::ops::Range;

use serde::Serialize;

use super::proc_swaps::unescape_octal;

/// One parsed fstab entry (the fields unescaped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FstabEntry {
    /// The device or file (`/swapfile`, `UUID=...`, `LABEL=...`, `/dev/sda2`).
    pub spec: String,
    /// The mount point (`none` for swap).
    pub file: String,
    /// The filesystem type (`swap`); `None` when the line has only two fields.
    pub vfstype: Option<String>,
    /// The options, split on commas (empty when the field is absent).
    pub options: Vec<String>,
}

impl FstabEntry {
    /// Whether this is a swap line.
    pub fn is_swap(&self) -> bool {
        self.vfstype.as_deref() == Some("swap")
    }

    /// The value of `pri=`, when set and numeric.
    pub fn priority(&self) -> Option<i32> {
        self.options
            .iter()
            .find_map(|o| o.strip_prefix("pri="))
            .and_then(|v| v.parse().ok())
    }

    /// Whether the options include `opt`.
    pub fn has_option(&self, opt: &str) -> bool {
        self.options.iter().any(|o| o == opt)
    }

    /// How the spec names its device: `path`, `uuid`, `label`, `partuuid`, `partlabel`
    /// or `other`.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))] // used by hostfix::testing
    pub fn spec_kind(&self) -> &'static str {
        let s = self.spec.as_str();
        if s.starts_with('/') {
            "path"
        } else if s.starts_with("UUID=") {
            "uuid"
        } else if s.starts_with("LABEL=") {
            "label"
        } else if s.starts_with("PARTUUID=") {
            "partuuid"
        } else if s.starts_with("PARTLABEL=") {
            "partlabel"
        } else {
            "other"
        }
    }
}

/// One line of fstab, byte for byte, with its entry when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FstabLine {
    /// The line number (1-based).
    pub number: usize,
    /// The line as it is in the file, with its terminator.
    pub raw: String,
    /// The entry; `None` for comments, blank lines and lines with fewer than two fields.
    pub entry: Option<FstabEntry>,
    fields: Vec<Range<usize>>,
}

/// A parsed fstab: every line, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fstab {
    /// The lines.
    pub lines: Vec<FstabLine>,
}

impl FstabLine {
    /// The line without its newline (`\n`, or `\r\n`).
    pub fn body(&self) -> &str {
        self.raw.trim_end_matches(['\n', '\r'])
    }
}

impl Fstab {
    /// Parses fstab text. Never fails: lines that are not entries are kept as they are.
    pub fn parse(text: &str) -> Fstab {
        let mut lines = Vec::new();
        for (i, raw) in text.split_inclusive('\n').enumerate() {
            let body = raw.trim_end_matches(['\n', '\r']);
            let fields = field_ranges(body);
            let entry = if body.trim_start().starts_with('#') || fields.len() < 2 {
                None
            } else {
                let f = |n: usize| fields.get(n).map(|r| unescape_octal(&body[r.clone()]));
                Some(FstabEntry {
                    spec: f(0).unwrap_or_default(),
                    file: f(1).unwrap_or_default(),
                    vfstype: f(2),
                    options: f(3)
                        .map(|o| o.split(',').map(str::to_string).collect())
                        .unwrap_or_default(),
                })
            };
            lines.push(FstabLine {
                number: i + 1,
                raw: raw.to_string(),
                entry,
                fields,
            });
        }
        Fstab { lines }
    }

    /// The text, byte for byte as parsed (plus any edits).
    pub fn render(&self) -> String {
        self.lines.iter().map(|l| l.raw.as_str()).collect()
    }

    /// The swap lines whose entry `is_ours` says name the swap file.
    pub fn matching(&self, is_ours: &dyn Fn(&FstabEntry) -> bool) -> Vec<&FstabLine> {
        self.lines
            .iter()
            .filter(|l| l.entry.as_ref().is_some_and(|e| e.is_swap() && is_ours(e)))
            .collect()
    }
}

fn field_ranges(body: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in body.char_indices() {
        let sep = c == ' ' || c == '\t';
        match (sep, start) {
            (true, Some(s)) => {
                out.push(s..i);
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(s..body.len());
    }
    out
}

/// Escapes a field the way fstab and the kernel do: space `\040`, tab `\011`, newline
/// `\012`, backslash `\134`.
pub fn escape_field(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            ' ' => out.push_str("\\040"),
            '\t' => out.push_str("\\011"),
            '\n' => out.push_str("\\012"),
            '\\' => out.push_str("\\134"),
            c => out.push(c),
        }
    }
    out
}

/// The line hostfix writes for a swap file (with its newline): `PATH none swap
/// sw,nofail[,pri=N] 0 0`. `nofail`: a missing file must not stop the boot.
pub fn swap_line(host_path: &str, priority: Option<i32>) -> String {
    let prio = priority.map_or(String::new(), |p| format!(",pri={p}"));
    format!(
        "{} none swap sw,nofail{prio} 0 0\n",
        escape_field(host_path)
    )
}

/// What an edit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The new text.
    pub text: String,
    /// Whether it differs from the old text.
    pub changed: bool,
    /// What was done, in words (for the step's detail).
    pub summary: String,
}

/// Makes hostfix's own lines for a swap file (the lines `is_own` accepts: byte for byte
/// lines hostfix wrote) into exactly `line` (with its newline), or removes them when
/// `line` is `None`. The first own line is replaced where it stands, further own lines are
/// removed, and `line` is appended when there was none. Every other line is kept byte
/// for byte.
pub fn set_own_line(text: &str, is_own: &dyn Fn(&FstabLine) -> bool, line: Option<&str>) -> Edit {
    let mut fstab = Fstab::parse(text);
    let own: Vec<usize> = fstab
        .lines
        .iter()
        .filter(|l| is_own(l))
        .map(|l| l.number)
        .collect();
    let mut notes = Vec::new();
    let mut placed = false;
    let mut out = Vec::with_capacity(fstab.lines.len() + 1);
    for mut l in std::mem::take(&mut fstab.lines) {
        if !own.contains(&l.number) {
            out.push(l);
            continue;
        }
        match line {
            Some(new) if !placed => {
                placed = true;
                if l.body() != new.trim_end_matches('\n') {
                    notes.push(format!(
                        "line {}: {:?} -> {:?}",
                        l.number,
                        l.body(),
                        new.trim_end()
                    ));
                    let term = &l.raw[l.body().len()..];
                    let term = if term.is_empty() { "" } else { "\n" };
                    l.raw = format!("{}{term}", new.trim_end_matches('\n'));
                }
                out.push(l);
            }
            _ => notes.push(format!("removed line {} {:?}", l.number, l.body())),
        }
    }
    if let (Some(new), false) = (line, placed) {
        if let Some(last) = out.last_mut() {
            if !last.raw.ends_with('\n') {
                last.raw.push('\n');
            }
        }
        notes.push(format!("appended {:?}", new.trim_end()));
        out.push(FstabLine {
            number: out.len() + 1,
            raw: new.to_string(),
            entry: None,
            fields: Vec::new(),
        });
    }
    fstab.lines = out;
    finish(text, &fstab, notes)
}

fn finish(old: &str, fstab: &Fstab, notes: Vec<String>) -> Edit {
    let text = fstab.render();
    let changed = text != old;
    Edit {
        summary: if changed {
            notes.join("; ")
        } else {
            "already correct".into()
        },
        changed,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own(line: &'static str) -> impl Fn(&FstabLine) -> bool {
        move |l: &FstabLine| l.body() == line
    }

    #[test]
    fn parses_and_renders_byte_for_byte() {
        let text = "# /etc/fstab\n\nUUID=abcd / ext4 errors=remount-ro 0 1\r\n\
                    LABEL=swp\tnone\tswap\tsw\t0\t0\n/swap\\040file none swap sw,pri=5 0 0";
        let f = Fstab::parse(text);
        assert_eq!(f.render(), text);
        assert_eq!(f.lines.len(), 5);
        assert!(f.lines[0].entry.is_none());
        assert!(f.lines[1].entry.is_none());
        assert_eq!(f.lines[2].body(), "UUID=abcd / ext4 errors=remount-ro 0 1");
        let root = f.lines[2].entry.as_ref().unwrap();
        assert_eq!(root.spec_kind(), "uuid");
        assert!(!root.is_swap());
        let label = f.lines[3].entry.as_ref().unwrap();
        assert!(label.is_swap());
        assert_eq!(label.spec_kind(), "label");
        let file = f.lines[4].entry.as_ref().unwrap();
        assert_eq!(file.spec, "/swap file");
        assert_eq!(file.priority(), Some(5));
    }

    #[test]
    fn appends_once_with_nofail() {
        let text = "UUID=abcd / ext4 defaults 0 1";
        let line = swap_line("/swapfile", None);
        let is_own = own("/swapfile none swap sw,nofail 0 0");
        let e = set_own_line(text, &is_own, Some(&line));
        assert!(e.changed);
        assert_eq!(
            e.text,
            "UUID=abcd / ext4 defaults 0 1\n/swapfile none swap sw,nofail 0 0\n"
        );
        let again = set_own_line(&e.text, &is_own, Some(&line));
        assert!(!again.changed);
        assert_eq!(again.text, e.text);
    }

    #[test]
    fn escapes_paths() {
        let line = swap_line("/var/my swap\\x", Some(3));
        let e = set_own_line("", &|_| false, Some(&line));
        assert_eq!(
            e.text,
            "/var/my\\040swap\\134x none swap sw,nofail,pri=3 0 0\n"
        );
        let f = Fstab::parse(&e.text);
        assert_eq!(f.lines[0].entry.as_ref().unwrap().spec, "/var/my swap\\x");
    }

    #[test]
    fn own_lines_are_replaced_in_place_and_others_kept() {
        let text = "# keep me\n/swapfile none swap sw,nofail 0 0\r\n\
                    /swapfile none swap pri=5,noauto 0 0\n/swapfile none swap sw,nofail 0 0\n";
        let line = swap_line("/swapfile", Some(10));
        let e = set_own_line(text, &own("/swapfile none swap sw,nofail 0 0"), Some(&line));
        assert_eq!(
            e.text,
            "# keep me\n/swapfile none swap sw,nofail,pri=10 0 0\n\
             /swapfile none swap pri=5,noauto 0 0\n"
        );
        assert!(e.summary.contains("removed line 4"), "{}", e.summary);
        let e = set_own_line(text, &own("/swapfile none swap sw,nofail 0 0"), None);
        assert_eq!(e.text, "# keep me\n/swapfile none swap pri=5,noauto 0 0\n");
        assert!(!set_own_line(&e.text, &own("/swapfile none swap sw,nofail 0 0"), None).changed);
    }
}
