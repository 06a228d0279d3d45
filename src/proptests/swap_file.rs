//! The swap file itself: its header, its path, its `.swap` unit, the kernel version,
//! and the sizes the planner computes from numbers the host reports.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use proptest::prelude::*;

use super::swap::swap_path;
use super::{cfg, text};
use crate::swap::fs::KernelVersion;
use crate::swap::header::{
    LABEL_MAX, MAGIC_V0, MAGIC_V1, PAGE_SIZES, Signature, build_header, format_uuid, last_page_for,
    parse_uuid, read_signature,
};
use crate::swap::spec::{check_path, normalize as swap_normalize};
use crate::swap::unit::{has_marker as unit_is_ours, render_unit, unit_name, unit_what};

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
