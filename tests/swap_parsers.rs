//! Pure parser tests on fixtures: /proc/swaps, fstab (parse, ensure, remove), the swap
//! header (byte for byte against mkswap), unit names.

use std::path::{Path, PathBuf};

use hostfix::testing::swap::fstab::{Fstab, FstabEntry, FstabLine, set_own_line, swap_line};
use hostfix::testing::swap::header::{Signature, build_header, parse_uuid, read_signature};
use hostfix::testing::swap::parse_proc_swaps;
use hostfix::testing::swap::spec::normalize;

fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/swap")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn fixture_bytes(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/swap")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn proc_swaps_empty() {
    assert!(
        parse_proc_swaps(&fixture("proc_swaps/empty"))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn proc_swaps_partition_file_zram() {
    let v = parse_proc_swaps(&fixture("proc_swaps/partition-file-zram")).unwrap();
    assert_eq!(v.len(), 3);
    assert_eq!(v[0].kind, "partition");
    assert_eq!(v[1].path, PathBuf::from("/swapfile"));
    assert_eq!(v[1].kind, "file");
    // Sizes are bytes: KiB * 1024, never compared as strings.
    assert_eq!(v[1].size_bytes, 2_097_148 * 1024);
    assert_eq!(v[1].used_bytes, 512 * 1024 * 1024);
    assert_eq!(v[2].priority, 100);
}

#[test]
fn proc_swaps_escapes_and_deleted() {
    let v = parse_proc_swaps(&fixture("proc_swaps/escapes-deleted")).unwrap();
    assert_eq!(v[0].path, PathBuf::from("/var/swap files/one\ttab"));
    assert!(!v[0].deleted);
    assert_eq!(v[1].path, PathBuf::from("/swapfile"));
    assert!(v[1].deleted);
    assert_eq!(v[2].path, PathBuf::from("/srv/back\\slash"));
    assert_eq!(v[2].priority, 10);
}

fn by_path(p: &'static str) -> impl Fn(&FstabEntry) -> bool {
    move |e: &FstabEntry| {
        e.spec.starts_with('/') && normalize(Path::new(&e.spec)) == normalize(Path::new(p))
    }
}

#[test]
fn fstab_debian_parses_every_kind_of_line() {
    let text = fixture("fstab/debian");
    let f = Fstab::parse(&text);
    assert_eq!(f.render(), text, "byte for byte");
    let entries: Vec<&FstabEntry> = f.lines.iter().filter_map(|l| l.entry.as_ref()).collect();
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[0].spec_kind(), "uuid");
    assert_eq!(entries[1].spec_kind(), "label");
    assert_eq!(entries[1].file, "/boot/efi");
    assert!(entries[2].is_swap());
    assert_eq!(entries[3].spec, "/dev/disk/by-uuid/77aa-88bb");
    // None of them is /swapfile: a partition's swap line is never taken for the file's.
    assert!(f.matching(&by_path("/swapfile")).is_empty());
    let line = swap_line("/swapfile", None);
    let e = set_own_line(
        &text,
        &own("/swapfile none swap sw,nofail 0 0"),
        Some(&line),
    );
    assert_eq!(e.text, fixture("fstab/debian.ensure-swapfile.expected"));
}

/// hostfix's own line, byte for byte (what its record holds).
fn own(line: &'static str) -> impl Fn(&FstabLine) -> bool {
    move |l: &FstabLine| l.body() == line
}

#[test]
fn fstab_messy_lines_name_the_path_however_written() {
    let text = fixture("fstab/messy");
    assert_eq!(Fstab::parse(&text).render(), text);
    let m = Fstab::parse(&text);
    let ours = m.matching(&by_path("/swapfile"));
    assert_eq!(
        ours.iter().map(|l| l.number).collect::<Vec<_>>(),
        vec![3, 5, 7],
        "tabs, extra spaces and // all name /swapfile; the comment does not"
    );
    // None of them is hostfix's line: an edit of hostfix's lines keeps them all.
    let line = swap_line("/swapfile", None);
    let e = set_own_line(
        &text,
        &own("/swapfile none swap sw,nofail 0 0"),
        Some(&line),
    );
    assert_eq!(e.text, format!("{text}\n{line}"));
}

#[test]
fn fstab_own_lines_are_set_in_place_keeping_every_other_byte() {
    let text = fixture("fstab/messy-own");
    assert_eq!(Fstab::parse(&text).render(), text);
    let is_own = own("/swapfile none swap sw,nofail 0 0");
    let e = set_own_line(&text, &is_own, Some(&swap_line("/swapfile", Some(5))));
    assert!(e.changed);
    assert_eq!(
        e.text,
        fixture("fstab/messy-own.set-swapfile-pri5.expected")
    );
    // Converged: a second edit changes nothing.
    let again = set_own_line(
        &e.text,
        &own("/swapfile none swap sw,nofail,pri=5 0 0"),
        Some(&swap_line("/swapfile", Some(5))),
    );
    assert!(!again.changed, "{}", again.summary);
}

#[test]
fn fstab_own_escaped_path_gets_priority() {
    let text = fixture("fstab/messy-own");
    let e = set_own_line(
        &text,
        &own("/var/swap\\040file none swap sw,nofail 0 0"),
        Some(&swap_line("/var/swap file", Some(5))),
    );
    assert_eq!(
        e.text,
        fixture("fstab/messy-own.set-var-swap-file-pri5.expected")
    );
}

#[test]
fn fstab_own_lines_removed_and_nothing_else() {
    let text = fixture("fstab/messy-own");
    let e = set_own_line(&text, &own("/swapfile none swap sw,nofail 0 0"), None);
    assert_eq!(e.text, fixture("fstab/messy-own.remove-swapfile.expected"));
}

#[test]
fn header_matches_mkswap_byte_for_byte() {
    let mk = fixture_bytes("header/mkswap-1m-4k.bin");
    let uuid = parse_uuid("0f1e2d3c-4b5a-4968-8776-655443322110").unwrap();
    let ours = build_header(4096, 1 << 20, &uuid, "fixture-label").unwrap();
    assert_eq!(
        ours, mk,
        "the header hostfix writes is the one mkswap writes"
    );
    let Signature::Swap(h) = read_signature(&mk) else {
        panic!("mkswap's header not read")
    };
    assert_eq!(h.uuid, "0f1e2d3c-4b5a-4968-8776-655443322110");
    assert_eq!(h.label, "fixture-label");
    assert_eq!(h.last_page, 255);
    assert!(h.fits(4096, 1 << 20));

    let mk = fixture_bytes("header/mkswap-16m-4k-nolabel.bin");
    let uuid = parse_uuid("0f1e2d3c-4b5a-4968-8776-655443322111").unwrap();
    assert_eq!(build_header(4096, 16 << 20, &uuid, "").unwrap(), mk);
}

#[test]
fn header_probe_sees_hibernation_and_nothing() {
    let mut page = fixture_bytes("header/mkswap-1m-4k.bin");
    page[4086..].copy_from_slice(b"S1SUSPEND\0");
    assert!(matches!(
        read_signature(&page),
        Signature::Hibernation { .. }
    ));
    page[4086..].copy_from_slice(&[0; 10]);
    assert_eq!(read_signature(&page), Signature::None);
}
