//! fstab and its edits, `/proc/swaps`, the swap header, swap paths, `.swap` units and
//! kernel versions.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use proptest::prelude::*;

use super::{cfg, lines_of, maybe_mangled, text, weird_token};
use crate::swap::fs::KernelVersion;
use crate::swap::fstab::{
    Fstab, FstabEntry, ensure_swap_line, escape_field, line_is_correct, remove_swap_lines,
};
use crate::swap::header::{
    LABEL_MAX, MAGIC_V0, MAGIC_V1, PAGE_SIZES, Signature, build_header, format_uuid, last_page_for,
    parse_uuid, read_signature,
};
use crate::swap::spec::{check_path, normalize as swap_normalize};
use crate::swap::unit::{is_ours as unit_is_ours, render_unit, unit_name, unit_what};
use crate::swap::{parse_proc_swaps, unescape_octal};

// ---- fstab -------------------------------------------------------------------------

/// A swap file path, with the characters fstab has to escape, and the whitespace that
/// is no separator of fstab's or the kernel's (`\r`, form feed, no-break space, line and
/// ideographic spaces).
fn swap_path() -> impl Strategy<Value = String> {
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

fn is_ours_for(path: &str) -> impl Fn(&FstabEntry) -> bool + '_ {
    move |e: &FstabEntry| e.spec == path
}

/// The raw lines of `text` that are not swap lines for `path`.
fn other_lines(text: &str, path: &str) -> Vec<String> {
    Fstab::parse(text)
        .lines
        .into_iter()
        .filter(|l| {
            !l.entry
                .as_ref()
                .is_some_and(|e| e.is_swap() && e.spec == path)
        })
        .map(|l| l.raw)
        .collect()
}

/// The swap lines for `path` in `text`.
fn our_entries(text: &str, path: &str) -> Vec<FstabEntry> {
    Fstab::parse(text)
        .lines
        .into_iter()
        .filter_map(|l| l.entry)
        .filter(|e| e.is_swap() && e.spec == path)
        .collect()
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

    /// `ensure` leaves exactly one correct line for the file, keeps every other line byte
    /// for byte (the last one may gain the newline it lacked when a line is appended),
    /// keeps the first matching line's other fields, and a second run changes nothing.
    #[test]
    fn ensure_keeps_every_other_line(
        (path, text) in swap_path().prop_flat_map(|p| (Just(p.clone()), fstab_with(p))),
        priority in prop_oneof![Just(None), (0..=32767i32).prop_map(Some), any::<i32>().prop_map(Some)],
    ) {
        let ours = is_ours_for(&path);
        let before = our_entries(&text, &path);
        let e = ensure_swap_line(&text, &path, priority, &ours);
        prop_assert_eq!(e.changed, e.text != text);

        let mut kept = other_lines(&text, &path);
        let after = other_lines(&e.text, &path);
        if before.is_empty() {
            if let Some(last) = kept.last_mut() {
                if Fstab::parse(&text).lines.last().is_some_and(|l| l.raw == *last)
                    && !last.ends_with('\n')
                {
                    last.push('\n');
                }
            }
        }
        prop_assert_eq!(after, kept);

        let now = our_entries(&e.text, &path);
        prop_assert_eq!(now.len(), 1, "{:?}", e.text);
        prop_assert!(line_is_correct(&now[0], priority), "{:?}", now[0]);
        if let Some(first) = before.first() {
            prop_assert_eq!(&now[0].file, &first.file);
        }

        let again = ensure_swap_line(&e.text, &path, priority, &ours);
        prop_assert!(!again.changed, "{:?} -> {:?}", e.text, again.text);
        prop_assert_eq!(again.text, e.text);
    }

    /// `remove` drops exactly the file's swap lines and keeps every other byte.
    #[test]
    fn remove_keeps_every_other_line(
        (path, text) in swap_path().prop_flat_map(|p| (Just(p.clone()), fstab_with(p))),
    ) {
        let ours = is_ours_for(&path);
        let e = remove_swap_lines(&text, &ours);
        prop_assert_eq!(e.text.clone(), other_lines(&text, &path).concat());
        prop_assert!(our_entries(&e.text, &path).is_empty());
        prop_assert_eq!(e.changed, !our_entries(&text, &path).is_empty());
        prop_assert!(!remove_swap_lines(&e.text, &ours).changed);
    }

    /// Edits of arbitrary text never panic.
    #[test]
    fn fstab_edits_of_noise_never_panic(s in text(), path in swap_path(), p in any::<Option<i32>>()) {
        let ours = |_: &FstabEntry| true;
        let _ = ensure_swap_line(&s, &path, p, &ours);
        let _ = remove_swap_lines(&s, &ours);
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

// ---- the swap header ------------------------------------------------------------------

/// The first bytes of a file: a page of one of the sizes Linux uses (or one byte off),
/// noise in the header fields, and a magic (or part of one) where a page ends.
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    let magics: Vec<Vec<u8>> = vec![
        MAGIC_V1.to_vec(),
        MAGIC_V0.to_vec(),
        b"S1SUSPEND\0".to_vec(),
        b"LINHIB0001".to_vec(),
        b"\xed\xc3\x02\xe9\x98\x56\xe5\x0c\0\0".to_vec(),
        b"SWAPSPACE".to_vec(),
    ];
    (
        proptest::sample::select(PAGE_SIZES.to_vec()),
        -2i64..=2,
        proptest::sample::select(magics),
        proptest::collection::vec(any::<u8>(), 60),
        proptest::sample::select(PAGE_SIZES.to_vec()),
    )
        .prop_map(|(len, delta, magic, fields, at)| {
            let len = (len as i64 + delta).max(0) as usize;
            let mut b = vec![0u8; len];
            let n = fields.len().min(len.saturating_sub(1024));
            b[1024..1024 + n].copy_from_slice(&fields[..n]);
            let end = at as usize;
            if end <= len {
                let m = magic.len().min(end);
                b[end - m..end].copy_from_slice(&magic[..m]);
            }
            b
        })
}

proptest! {
    // A case is up to 64 KiB of bytes to build and scan: ~1 ms.
    #![proptest_config(cfg(256))]

    #[test]
    fn read_signature_never_panics(b in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..5000),
        header_bytes(),
    ]) {
        match read_signature(&b) {
            Signature::Swap(h) => {
                prop_assert!(PAGE_SIZES.contains(&h.page_size));
                let _ = (h.area_bytes(), h.fits(h.page_size, b.len() as u64));
            }
            Signature::SwapV0 { page_size } | Signature::Hibernation { page_size, .. } => {
                prop_assert!(PAGE_SIZES.contains(&page_size));
            }
            Signature::None => {}
        }
    }

    /// A header built for a size reads back as a header that fits that size.
    #[test]
    fn header_round_trip(
        ps in proptest::sample::select(PAGE_SIZES.to_vec()),
        size in any::<u64>(),
        uuid in any::<[u8; 16]>(),
        label in "[a-zA-Z0-9_ -]{0,16}",
    ) {
        match build_header(ps, size, &uuid, &label) {
            Ok(page) => {
                prop_assert_eq!(page.len() as u64, ps);
                let Signature::Swap(h) = read_signature(&page) else {
                    return Err(TestCaseError::fail("no swap signature"));
                };
                prop_assert!(h.fits(ps, size));
                prop_assert_eq!(&h.uuid, &format_uuid(&uuid));
                prop_assert!(h.area_bytes() <= size);
                prop_assert_eq!(&h.label, &label);
            }
            Err(_) => prop_assert_eq!(last_page_for(ps, size), None),
        }
    }

    #[test]
    fn last_page_never_overflows(ps in any::<u64>(), size in any::<u64>()) {
        if let Some(lp) = last_page_for(ps, size) {
            let area = (u128::from(lp) + 1) * u128::from(ps);
            prop_assert!(area <= u128::from(size));
        }
    }

    #[test]
    fn labels_are_checked_not_truncated(label in any::<String>(), uuid in any::<[u8; 16]>()) {
        let built = build_header(4096, 1 << 20, &uuid, &label);
        prop_assert_eq!(built.is_ok(), label.len() <= LABEL_MAX && !label.contains(['\0', '\n']));
    }

    #[test]
    fn uuid_round_trip(b in any::<[u8; 16]>(), s in text()) {
        prop_assert_eq!(parse_uuid(&format_uuid(&b)), Some(b));
        prop_assert_eq!(parse_uuid(&format_uuid(&b).to_uppercase()), Some(b));
        let _ = parse_uuid(&s);
    }
}

// ---- swap paths and units -------------------------------------------------------------

/// A path from arbitrary bytes (not always UTF-8), or one built of awkward components.
fn any_path() -> impl Strategy<Value = PathBuf> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40)
            .prop_map(|b| PathBuf::from(OsStr::from_bytes(&b))),
        proptest::collection::vec(
            prop_oneof![
                Just("..".to_string()),
                Just(".".to_string()),
                Just(String::new()),
                "[a-z .\\-]{1,6}",
                "\\PC{1,4}",
            ],
            0..6,
        )
        .prop_map(|c| PathBuf::from(format!("/{}", c.join("/")))),
    ]
}

proptest! {
    // 512 cases of pure parsing: each test under ~0.6 s of CPU in a debug build.
    #![proptest_config(cfg(512))]

    /// An accepted swap path is absolute, names a file, has no `..` and no control
    /// characters, and normalising it changes nothing that matters.
    #[test]
    fn swap_paths_are_checked(p in any_path()) {
        if check_path(&p).is_ok() {
            prop_assert!(p.is_absolute());
            prop_assert!(p.file_name().is_some());
            prop_assert!(!p.components().any(|c| c == Component::ParentDir));
            let s = p.to_str().unwrap();
            prop_assert!(!s.chars().any(char::is_control));
            prop_assert!(check_path(&swap_normalize(&p)).is_ok());
        }
        let n = swap_normalize(&p);
        prop_assert!(n.is_absolute());
        prop_assert_eq!(swap_normalize(&n), n.clone());
    }

    /// A unit name holds only what systemd keeps unescaped and decodes to the path.
    #[test]
    fn unit_names_decode_to_the_path(p in any_path()) {
        let Ok(name) = unit_name(&p) else {
            prop_assert!(!p.is_absolute() || p.components().any(|c| c == Component::ParentDir));
            return Ok(());
        };
        let stem = name.strip_suffix(".swap").unwrap();
        prop_assert!(stem.bytes().all(|b| b.is_ascii_alphanumeric() || b"-\\:_.".contains(&b)), "{name}");
        if p.to_str().is_some() && stem != "-" {
            let want: Vec<String> = p
                .components()
                .filter_map(|c| match c {
                    Component::Normal(n) => Some(n.to_str().unwrap().to_string()),
                    _ => None,
                })
                .collect();
            prop_assert_eq!(systemd_unescape(stem), want.join("/"));
        }
    }

    /// What hostfix writes in a unit reads back as the same path, for every path it
    /// accepts.
    #[test]
    fn unit_what_round_trip(p in any_path(), priority in any::<Option<i32>>()) {
        if check_path(&p).is_ok() {
            let s = p.to_str().unwrap();
            let unit = render_unit(s, priority);
            prop_assert!(unit_is_ours(&unit));
            let what = unit_what(&unit);
            prop_assert_eq!(what.as_deref(), Some(s));
        }
    }

    #[test]
    fn unit_what_never_panics(s in text()) {
        let _ = unit_what(&s);
        let _ = unit_is_ours(&s);
    }

    #[test]
    fn kernel_versions_parse_or_not_never_wrap(
        s in prop_oneof![text(), "[0-9]{0,12}(\\.[0-9]{0,12}){0,3}[-a-z0-9_.]{0,12}"],
        a in any::<u32>(), b in any::<u32>(), c in any::<u32>(),
        tail in "(-[0-9a-z._]{1,10})?",
    ) {
        let _ = KernelVersion::parse(&s);
        prop_assert_eq!(KernelVersion::parse(&format!("{a}.{b}.{c}{tail}")), Some(KernelVersion(a, b, c)));
        let over = u64::from(u32::MAX) + 1 + u64::from(a);
        prop_assert_eq!(KernelVersion::parse(&format!("{over}.{b}.{c}")), None);
    }
}

/// systemd's unescape of a `--path` unit name: `-` is `/`, `\xNN` a byte.
fn systemd_unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'-' {
            out.push(b'/');
            i += 1;
        } else if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') && i + 4 <= b.len() {
            let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn systemd_unescape_reads_a_known_name() {
    // The expected value is what `systemd-escape --unescape --path` prints.
    assert_eq!(
        systemd_unescape("var-swap\\x20file\\x2d1.img"),
        "var/swap file-1.img"
    );
    assert_eq!(Path::new("/").components().count(), 1);
}

/// The first path `/proc/swaps` gave back wrong: a no-break space (not a separator the
/// kernel escapes or writes) split the path in two, read back as `/a b`.
#[test]
fn proc_swaps_path_with_a_no_break_space() {
    let v = parse_proc_swaps("/a\u{a0}b\tfile\t\t1024\t\t0\t\t-2\n").unwrap();
    assert_eq!(v[0].path, PathBuf::from("/a\u{a0}b"));
}

/// The first swap path a `.swap` unit could not carry: `/ ` (the trailing space is
/// trimmed from `What=`, by systemd as by hostfix's reader).
#[test]
fn swap_path_ending_in_a_space_is_refused() {
    assert!(check_path(Path::new("/ ")).is_err());
    assert!(check_path(Path::new("/swap\u{a0}")).is_err());
    assert!(check_path(Path::new("/swap\\")).is_err());
    assert!(check_path(Path::new("/swap file")).is_ok());
}

// ---- the sizes the swap planner computes from host numbers ----------------------------

fn swap_entry() -> impl Strategy<Value = crate::swap::SwapEntry> {
    (
        swap_path(),
        any::<u64>(),
        any::<u64>(),
        any::<i32>(),
        any::<bool>(),
    )
        .prop_map(
            |(p, size_bytes, used_bytes, priority, deleted)| crate::swap::SwapEntry {
                path: PathBuf::from(p),
                deleted,
                kind: "file".into(),
                size_bytes,
                used_bytes,
                priority,
            },
        )
}

proptest! {
    // 512 cases of pure parsing: each test under ~0.6 s of CPU in a debug build.
    #![proptest_config(cfg(512))]

    /// Sizes from `/proc/swaps`, `/proc/meminfo` and `statvfs` can be anything up to
    /// `u64::MAX`: the planner's arithmetic on them never overflows.
    #[test]
    fn swap_planner_sizes_never_overflow(
        used in any::<u64>(),
        page in prop_oneof![proptest::sample::select(PAGE_SIZES.to_vec()), any::<u64>()],
        entries in proptest::collection::vec(swap_entry(), 0..4),
        (mem, max, free) in (any::<u64>(), any::<u64>(), any::<u64>()),
        share in 0.0f64..=100.0,
        margin in any::<u64>(),
    ) {
        use crate::swap::planner::{kernel_size_matches, memory_guard, other_swap_free, temp_size};
        let t = temp_size(used, page);
        prop_assert_eq!(t % page.max(1), 0);
        let except: Vec<&crate::swap::SwapEntry> = entries.iter().take(1).collect();
        let _ = other_swap_free(&entries, &except);
        let _ = memory_guard(mem, free, used, margin);
        let _ = kernel_size_matches(used, free, page);
        let a = crate::swap::spec::auto_size(mem, max, share, free);
        prop_assert!(a.bytes <= max.max(a.disk_cap));
    }
}

/// The first sizes the swap planner overflowed on: a temporary area for an area with
/// 2^64 - 1 bytes in use (`used + used / 4`), and two areas whose free space sums past
/// 2^64 (`sum()`).
#[test]
fn swap_planner_huge_sizes() {
    use crate::swap::planner::{other_swap_free, temp_size};
    assert_eq!(temp_size(u64::MAX, 4096) % 4096, 0);
    let e = |p: &str| crate::swap::SwapEntry {
        path: PathBuf::from(p),
        deleted: false,
        kind: "file".into(),
        size_bytes: u64::MAX,
        used_bytes: 0,
        priority: -2,
    };
    assert_eq!(other_swap_free(&[e("/a"), e("/b")], &[]), u64::MAX);
}
