//! fstab and its edits, and `/proc/swaps`.

use std::path::PathBuf;

use proptest::prelude::*;

use super::{cfg, lines_of, maybe_mangled, text, weird_token};
use crate::swap::fstab::{Fstab, FstabLine, escape_field, set_own_line, swap_line};
use crate::swap::{parse_proc_swaps, unescape_octal};

// ---- fstab -------------------------------------------------------------------------

/// A swap file path, with the characters fstab has to escape, and the whitespace that
/// is no separator of fstab's or the kernel's (`\r`, form feed, no-break space, line and
/// ideographic spaces).
pub(super) fn swap_path() -> impl Strategy<Value = String> {
    prop_oneof![
        "/[a-z]{1,8}(/[a-z.]{1,8}){0,2}",
        "/[a-z \\\\\t\n#]{1,12}",
        "/[a-z\r\x0b\x0c\u{85}\u{a0}\u{2028}\u{3000}]{1,8}",
        "/\\PC{1,12}",
    ]
}

/// One field of an options list.
fn option() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("sw".to_string()),
        Just("defaults".to_string()),
        Just("noauto".to_string()),
        Just("nofail".to_string()),
        Just("discard".to_string()),
        Just(String::new()),
        any::<i32>().prop_map(|p| format!("pri={p}")),
        weird_token().prop_map(|t| format!("pri={t}")),
        "[a-z=]{1,8}",
    ]
}

fn sep() -> impl Strategy<Value = String> {
    "[ \t]{1,3}"
}

/// A line naming `path` as swap, in the shapes people write.
fn our_line(path: String) -> impl Strategy<Value = String> {
    let shown = prop_oneof![Just(escape_field(&path)), Just(path.replace(' ', "\\040"))];
    (
        shown,
        prop_oneof![Just("none"), Just("swap"), Just("-")],
        proptest::collection::vec(option(), 0..5),
        0..4usize,
        sep(),
        sep(),
        "[ \t]{0,2}",
        "([ \t]+#.*)?",
    )
        .prop_map(|(spec, file, opts, shape, s1, s2, lead, tail)| {
            let opts = opts.join(",");
            let body = match shape {
                0 => format!("{spec}{s1}{file}{s2}swap"),
                1 => format!("{spec}{s1}{file}{s2}swap{s1}{opts}"),
                2 => format!("{spec}{s1}{file}{s2}swap{s1}{opts}{s2}0{s1}0"),
                _ => format!("{spec}{s1}{file}{s2}swap{s1}{opts}{s2}0{s1}0{s2}9"),
            };
            format!("{lead}{body}{tail}")
        })
}

/// Any other line: comments, blanks, other mounts, other swap areas, noise.
fn other_line() -> impl Strategy<Value = String> {
    prop_oneof![
        "#[^\n]{0,40}",
        "[ \t]{0,4}",
        "(UUID=[0-9a-f-]{8}|/dev/sd[a-z][0-9]|LABEL=[a-z]+) /[a-z]{0,6} (ext4|xfs|vfat|swap) [a-z,=0-9]{1,20} [0-9] [0-9]",
        "/[a-z]{1,8} none swap sw 0 0",
        "[^\n]{0,60}",
    ]
}

/// An fstab: lines of `our_line(path)` and `other_line()`, with `\n` or `\r\n` endings and
/// perhaps no final newline.
fn fstab_with(path: String) -> impl Strategy<Value = String> {
    let line = prop_oneof![3 => other_line(), 1 => our_line(path)];
    (
        proptest::collection::vec((line, prop_oneof![Just("\n"), Just("\r\n")]), 0..12),
        any::<bool>(),
    )
        .prop_map(|(ls, final_newline)| {
            let mut s: String = ls.iter().map(|(l, t)| format!("{l}{t}")).collect();
            if !final_newline && s.ends_with('\n') {
                s.pop();
                if s.ends_with('\r') {
                    s.pop();
                }
            }
            s
        })
}

/// hostfix's own line for `path` with `priority`, as the swap record would hold it: a
/// line is hostfix's when its body is byte for byte that line.
fn own_for(path: &str, priority: Option<i32>) -> impl Fn(&FstabLine) -> bool + use<> {
    let line = swap_line(path, priority);
    move |l: &FstabLine| l.body() == line.trim_end_matches('\n')
}

/// The raw lines of `text` that `own` does not claim.
fn other_lines(text: &str, own: &dyn Fn(&FstabLine) -> bool) -> Vec<String> {
    Fstab::parse(text)
        .lines
        .into_iter()
        .filter(|l| !own(l))
        .map(|l| l.raw)
        .collect()
}

/// How many lines `own` claims.
fn own_count(text: &str, own: &dyn Fn(&FstabLine) -> bool) -> usize {
    Fstab::parse(text).lines.iter().filter(|l| own(l)).count()
}

proptest! {
    // Each case parses and edits a file of up to a dozen lines a few times: ~0.5 ms.
    #![proptest_config(cfg(512))]

    /// Whatever the text, parsing and rendering gives every byte back.
    #[test]
    fn fstab_renders_byte_for_byte(s in prop_oneof![text(), fstab_with("/swapfile".into())]) {
        prop_assert_eq!(Fstab::parse(&s).render(), s);
    }

    #[test]
    fn escape_then_unescape_is_identity(s in any::<String>()) {
        prop_assert_eq!(unescape_octal(&escape_field(&s)), s.clone());
        let escaped = escape_field(&s);
        prop_assert!(!escaped.contains([' ', '\t', '\n']));
    }

    #[test]
    fn unescape_never_panics(s in prop_oneof![text(), "(\\\\[0-9]{0,4}|[a-z ]){0,20}"]) {
        let _ = unescape_octal(&s);
    }

    /// Setting hostfix's line leaves exactly that line once, keeps every other line byte
    /// for byte (the last may gain the newline it lacked when a line is appended,
    /// wherever it stood), and a second run changes nothing.
    #[test]
    fn setting_the_own_line_keeps_every_other_line(
        (path, text) in swap_path().prop_flat_map(|p| (Just(p.clone()), fstab_with(p))),
        priority in prop_oneof![Just(None), (0..=32767i32).prop_map(Some)],
        mixed in any::<bool>(),
    ) {
        let own = own_for(&path, priority);
        // Sometimes the file already holds hostfix's line, among the user's lines.
        let text = if mixed { format!("{text}\n{}", swap_line(&path, priority)) } else { text };
        let line = swap_line(&path, priority);
        let e = set_own_line(&text, &own, Some(&line));
        prop_assert_eq!(e.changed, e.text != text);
        let mut kept = other_lines(&text, &own);
        let after = other_lines(&e.text, &own);
        if own_count(&text, &own) == 0 {
            if let Some(last) = kept.last_mut() {
                if !last.ends_with('\n') {
                    last.push('\n');
                }
            }
        }
        prop_assert_eq!(after, kept);
        prop_assert_eq!(own_count(&e.text, &own), 1, "{:?}", e.text);
        let again = set_own_line(&e.text, &own, Some(&line));
        prop_assert!(!again.changed, "{:?} -> {:?}", e.text, again.text);
        prop_assert_eq!(again.text, e.text);
    }

    /// Removing hostfix's line drops exactly its lines and keeps every other byte.
    #[test]
    fn removing_the_own_line_keeps_every_other_line(
        (path, text) in swap_path().prop_flat_map(|p| (Just(p.clone()), fstab_with(p))),
        priority in any::<Option<i32>>(),
    ) {
        let own = own_for(&path, priority);
        let text = format!("{text}\n{}", swap_line(&path, priority));
        let e = set_own_line(&text, &own, None);
        prop_assert_eq!(e.text.clone(), other_lines(&text, &own).concat());
        prop_assert_eq!(own_count(&e.text, &own), 0);
        prop_assert!(e.changed);
        prop_assert!(!set_own_line(&e.text, &own, None).changed);
    }

    /// Edits of arbitrary text never panic, whatever claims lines.
    #[test]
    fn fstab_edits_of_noise_never_panic(s in text(), path in swap_path(), p in any::<Option<i32>>()) {
        let all = |_: &FstabLine| true;
        let _ = set_own_line(&s, &all, Some(&swap_line(&path, p)));
        let _ = set_own_line(&s, &all, None);
        for l in Fstab::parse(&s).lines.iter().filter_map(|l| l.entry.as_ref()) {
            let _ = (l.priority(), l.spec_kind());
        }
    }
}

// ---- /proc/swaps ----------------------------------------------------------------------

/// A `/proc/swaps` line as the kernel prints it, from its parts (the path escaped).
fn swaps_line(shown: &str, kind: &str, size: &str, used: &str, prio: &str) -> String {
    format!("{shown}\t{kind}\t\t{size}\t\t{used}\t\t{prio}")
}

fn swaps_fields() -> impl Strategy<Value = Vec<String>> {
    (
        swap_path(),
        prop_oneof![Just("file"), Just("partition")],
        any::<u64>(),
        any::<u64>(),
        any::<i32>(),
    )
        .prop_map(|(p, k, s, u, pr)| {
            vec![
                escape_field(&p),
                k.to_string(),
                s.to_string(),
                u.to_string(),
                pr.to_string(),
            ]
        })
}

proptest! {
    // 512 cases of pure parsing: each test under ~0.6 s of CPU in a debug build.
    #![proptest_config(cfg(512))]

    #[test]
    fn proc_swaps_never_panics(s in prop_oneof![
        text(),
        lines_of(maybe_mangled(swaps_fields(), "\t"), 6),
    ]) {
        let _ = parse_proc_swaps(&s);
    }

    /// Lines as the kernel prints them read back exactly; sizes whose bytes do not fit
    /// 64 bits are bad input, never wrapped.
    #[test]
    fn proc_swaps_round_trip(
        rows in proptest::collection::vec(
            (swap_path(), any::<bool>(), prop_oneof![any::<u64>(), 0..(u64::MAX / 1024)],
             0..(u64::MAX / 1024), any::<i32>(), any::<bool>()),
            0..5,
        ),
    ) {
        let mut text = String::from("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
        for (p, part, size, used, prio, deleted) in &rows {
            // The kernel escapes the path and appends " (deleted)" unescaped.
            let shown = if *deleted { format!("{} (deleted)", escape_field(p)) } else { escape_field(p) };
            let kind = if *part { "partition" } else { "file" };
            text.push_str(&swaps_line(&shown, kind, &size.to_string(), &used.to_string(), &prio.to_string()));
            text.push('\n');
        }
        let parsed = parse_proc_swaps(&text);
        if rows.iter().any(|r| r.2 > u64::MAX / 1024) {
            prop_assert!(parsed.is_err(), "{text:?}");
            return Ok(());
        }
        let parsed = parsed.map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parsed.len(), rows.len());
        for (e, (p, part, size, used, prio, deleted)) in parsed.iter().zip(&rows) {
            prop_assert_eq!(&e.path, &PathBuf::from(p));
            prop_assert_eq!(e.deleted, *deleted);
            prop_assert_eq!(e.kind.as_str(), if *part { "partition" } else { "file" });
            prop_assert_eq!(e.size_bytes, size * 1024);
            prop_assert_eq!(e.used_bytes, used * 1024);
            prop_assert_eq!(e.priority, *prio);
        }
    }

    /// A priority outside `i32` is bad input, not a wrapped priority.
    #[test]
    fn proc_swaps_priority_does_not_wrap(p in prop_oneof![
        (i64::from(i32::MAX) + 1)..=i64::MAX,
        i64::MIN..i64::from(i32::MIN),
    ]) {
        let text = format!("/swapfile file 1024 0 {p}\n");
        prop_assert!(parse_proc_swaps(&text).is_err());
    }
}

/// The first input that made `parse_proc_swaps` overflow (`size * 1024` in u64).
#[test]
fn proc_swaps_huge_size_is_bad_input() {
    let text = "Filename Type Size Used Priority\n/swapfile file 18014398509481984 0 -2\n";
    assert!(parse_proc_swaps(text).is_err());
    let text = "/swapfile file 1024 18014398509481984 -2\n";
    assert!(parse_proc_swaps(text).is_err());
    // A priority of 2^31 used to wrap to i32::MIN.
    assert!(parse_proc_swaps("/swapfile file 1024 0 2147483648\n").is_err());
}

/// The first path `/proc/swaps` gave back wrong: a no-break space (not a separator the
/// kernel escapes or writes) split the path in two, read back as `/a b`.
#[test]
fn proc_swaps_path_with_a_no_break_space() {
    let v = parse_proc_swaps("/a\u{a0}b\tfile\t\t1024\t\t0\t\t-2\n").unwrap();
    assert_eq!(v[0].path, PathBuf::from("/a\u{a0}b"));
}
