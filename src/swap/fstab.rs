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

/// The options a swap line should have: the existing ones, with `noauto` dropped (a
/// persisted swap is activated at boot), `nofail` added (a missing file must not stop the
/// boot), and `pri=` set when a priority is wanted.
pub fn desired_options(existing: &[String], priority: Option<i32>) -> Vec<String> {
    let mut out: Vec<String> = existing
        .iter()
        .filter(|o| !o.is_empty() && o.as_str() != "noauto")
        .filter(|o| priority.is_none() || !o.starts_with("pri="))
        .cloned()
        .collect();
    if out.is_empty() {
        out.push("sw".into());
    }
    if !out.iter().any(|o| o == "nofail") {
        out.push("nofail".into());
    }
    if let Some(p) = priority {
        out.push(format!("pri={p}"));
    }
    out
}

/// The line hostfix writes for a swap file (with its newline).
pub fn swap_line(host_path: &str, priority: Option<i32>) -> String {
    format!(
        "{} none swap {} 0 0\n",
        escape_field(host_path),
        desired_options(&[], priority).join(",")
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

/// Makes fstab hold exactly one correct swap line for the file: the first matching line
/// is kept (its options fixed in place when needed, every other byte kept), further
/// matching lines are removed, and a line is appended when there was none.
pub fn ensure_swap_line(
    text: &str,
    host_path: &str,
    priority: Option<i32>,
    is_ours: &dyn Fn(&FstabEntry) -> bool,
) -> Edit {
    let mut fstab = Fstab::parse(text);
    let ours: Vec<usize> = fstab.matching(is_ours).iter().map(|l| l.number).collect();
    let mut notes = Vec::new();
    match ours.first() {
        None => {
            let line = swap_line(host_path, priority);
            if let Some(last) = fstab.lines.last_mut() {
                if !last.raw.ends_with('\n') {
                    last.raw.push('\n');
                }
            }
            notes.push(format!("appended {:?}", line.trim_end()));
            fstab.lines.push(FstabLine {
                number: fstab.lines.len() + 1,
                raw: line,
                entry: None,
                fields: Vec::new(),
            });
        }
        Some(&first) => {
            if let Some(l) = fstab.lines.iter_mut().find(|l| l.number == first) {
                if let Some(fixed) = fixed_line(l, priority) {
                    notes.push(format!(
                        "line {first}: {:?} -> {:?}",
                        l.raw.trim_end(),
                        fixed.trim_end()
                    ));
                    l.raw = fixed;
                }
            }
            if ours.len() > 1 {
                notes.push(format!(
                    "removed duplicate line(s) {}",
                    ours[1..]
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                fstab.lines.retain(|l| !ours[1..].contains(&l.number));
            }
        }
    }
    finish(text, &fstab, notes)
}

/// Removes every swap line for the file.
pub fn remove_swap_lines(text: &str, is_ours: &dyn Fn(&FstabEntry) -> bool) -> Edit {
    let mut fstab = Fstab::parse(text);
    let ours: Vec<usize> = fstab.matching(is_ours).iter().map(|l| l.number).collect();
    let mut notes = Vec::new();
    if !ours.is_empty() {
        notes.push(format!(
            "removed line(s) {}",
            ours.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
        fstab.lines.retain(|l| !ours.contains(&l.number));
    }
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

/// Whether a matching line is already what hostfix wants.
pub fn line_is_correct(entry: &FstabEntry, priority: Option<i32>) -> bool {
    entry.is_swap() && desired_options(&entry.options, priority) == entry.options
}

/// The line with its options fixed, or `None` when it is already correct. The options
/// field is replaced in place; a line without one gets it (and `0 0`) appended.
fn fixed_line(l: &FstabLine, priority: Option<i32>) -> Option<String> {
    let entry = l.entry.as_ref()?;
    if line_is_correct(entry, priority) {
        return None;
    }
    let opts = escape_field(&desired_options(&entry.options, priority).join(","));
    let body_len = l.raw.trim_end_matches(['\n', '\r']).len();
    let (body, term) = l.raw.split_at(body_len);
    Some(match l.fields.get(3) {
        Some(r) => format!("{}{opts}{}{term}", &body[..r.start], &body[r.end..]),
        None => {
            // Only spec, file and type (or fewer): add the options and the two numbers.
            let end = l.fields.get(2).map_or(body.len(), |r| r.end);
            let typ = if l.fields.len() >= 3 { "" } else { " swap" };
            format!(
                "{}{typ} {opts} 0 0{}{term}",
                &body[..end],
                &body[end..].trim_end()
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_spec(p: &'static str) -> impl Fn(&FstabEntry) -> bool {
        move |e: &FstabEntry| e.spec == p
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
        let e = ensure_swap_line(text, "/swapfile", None, &by_spec("/swapfile"));
        assert!(e.changed);
        assert_eq!(
            e.text,
            "UUID=abcd / ext4 defaults 0 1\n/swapfile none swap sw,nofail 0 0\n"
        );
        let again = ensure_swap_line(&e.text, "/swapfile", None, &by_spec("/swapfile"));
        assert!(!again.changed);
        assert_eq!(again.text, e.text);
    }

    #[test]
    fn escapes_paths() {
        let e = ensure_swap_line("", "/var/my swap\\x", Some(3), &|_| false);
        assert_eq!(
            e.text,
            "/var/my\\040swap\\134x none swap sw,nofail,pri=3 0 0\n"
        );
        let f = Fstab::parse(&e.text);
        assert_eq!(f.lines[0].entry.as_ref().unwrap().spec, "/var/my swap\\x");
    }

    #[test]
    fn collapses_duplicates_and_fixes_options_in_place() {
        let text = "# keep me\n/swapfile\tnone\tswap\tsw,discard\t0\t0\n\
                    UUID=x / ext4 defaults 0 1\n/swapfile none swap defaults 0 0\n\
                    #/swapfile none swap sw 0 0\n/swapfile none swap noauto 0 0\n";
        let e = ensure_swap_line(text, "/swapfile", Some(10), &by_spec("/swapfile"));
        assert!(e.changed);
        assert_eq!(
            e.text,
            "# keep me\n/swapfile\tnone\tswap\tsw,discard,nofail,pri=10\t0\t0\n\
             UUID=x / ext4 defaults 0 1\n#/swapfile none swap sw 0 0\n"
        );
        assert!(
            e.summary.contains("removed duplicate line(s) 4, 6"),
            "{}",
            e.summary
        );
    }

    #[test]
    fn short_lines_get_options() {
        let e = ensure_swap_line(
            "/swapfile none swap\n",
            "/swapfile",
            None,
            &by_spec("/swapfile"),
        );
        assert_eq!(e.text, "/swapfile none swap sw,nofail 0 0\n");
    }

    #[test]
    fn priority_left_alone_when_not_asked() {
        let text = "/swapfile none swap sw,nofail,pri=7 0 0\n";
        let e = ensure_swap_line(text, "/swapfile", None, &by_spec("/swapfile"));
        assert!(!e.changed);
        let e = ensure_swap_line(text, "/swapfile", Some(7), &by_spec("/swapfile"));
        assert!(!e.changed);
        let e = ensure_swap_line(text, "/swapfile", Some(8), &by_spec("/swapfile"));
        assert_eq!(e.text, "/swapfile none swap sw,nofail,pri=8 0 0\n");
    }

    #[test]
    fn removal_keeps_the_rest() {
        let text = "a b c\n/swapfile none swap sw 0 0\n# c\n/swapfile none swap sw 0 0\nz y x";
        let e = remove_swap_lines(text, &by_spec("/swapfile"));
        assert_eq!(e.text, "a b c\n# c\nz y x");
        assert!(!remove_swap_lines(&e.text, &by_spec("/swapfile")).changed);
    }

    #[test]
    fn non_swap_lines_for_the_path_are_not_ours() {
        let text = "/swapfile /mnt/x ext4 loop 0 0\n";
        let e = ensure_swap_line(text, "/swapfile", None, &by_spec("/swapfile"));
        assert_eq!(
            e.text,
            "/swapfile /mnt/x ext4 loop 0 0\n/swapfile none swap sw,nofail 0 0\n"
        );
    }
}
