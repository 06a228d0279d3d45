//! Kernel versions, the reboot ledger (arbitrary JSON and bytes), the guard over whatever
//! the ledger holds, `/proc/uptime`, `/run/reboot-required.pkgs` and `needs-restarting`.

use std::cmp::Ordering;
use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;

use super::{cfg, json, mangle_json, text, weird_token};
use crate::host::Host;
use crate::reboot::guard::{GuardInput, LedgerInput, LockState, Rules, evaluate};
use crate::reboot::kernel::{
    InstalledKernel, KernelStatus, boot_image_release, compare_versions, kernel_flavour,
    kernel_status,
};
use crate::reboot::ledger::{
    EntryState, LEDGER_FILE, Ledger, LedgerEntry, Now, format_utc, read_ledger,
};
use crate::reboot::need::{parse_needs_restarting, parse_reboot_required_pkgs};
use crate::reboot::parse_uptime;

// ---- kernel versions ------------------------------------------------------------------

/// A kernel release: numbers and words joined by the separators releases use.
fn release() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}-[0-9]{1,3}-(generic|cloud-amd64|rt-amd64|arch1)",
        "[0-9]{1,25}([.\\-_+~][0-9a-z]{0,25}){0,4}",
        "[0-9a-z.\\-]{0,12}",
        "\\PC{0,12}",
    ]
}

proptest! {
    // 512 cases of pure parsing: each test under ~0.6 s of CPU in a debug build.
    #![proptest_config(cfg(512))]

    /// The comparison is an order: reflexive, antisymmetric and transitive.
    #[test]
    fn versions_compare_as_an_order(a in release(), b in release(), c in release()) {
        prop_assert_eq!(compare_versions(&a, &a), Ordering::Equal);
        prop_assert_eq!(compare_versions(&a, &b), compare_versions(&b, &a).reverse());
        let (ab, bc) = (compare_versions(&a, &b), compare_versions(&b, &c));
        if ab == bc {
            prop_assert_eq!(compare_versions(&a, &c), ab, "{} {} {}", a, b, c);
        }
    }

    /// Numbers compare by value whatever their width (no overflow, no wrapping).
    #[test]
    fn version_numbers_compare_by_value(
        x in any::<u128>(), y in any::<u128>(), zeros in "0{0,3}",
        head in "[0-9]{1,3}\\.[0-9]{1,3}[.-]", tail in "(-[a-z]{1,6})?",
    ) {
        let a = format!("{head}{zeros}{x}{tail}");
        let b = format!("{head}{y}{tail}");
        prop_assert_eq!(compare_versions(&a, &b), x.cmp(&y));
    }

    #[test]
    fn kernel_status_never_panics(
        running in release(),
        installed in proptest::collection::vec(release(), 0..6),
        names in proptest::collection::vec(prop_oneof!["(vmlinuz|vmlinux|initrd.img)-\\PC{0,16}", text()], 0..4),
    ) {
        for n in &names {
            if let Some(r) = boot_image_release(n) {
                prop_assert!(r.starts_with(|c: char| c.is_ascii_digit()));
            }
        }
        let ks: Vec<InstalledKernel> = installed
            .iter()
            .chain(std::iter::once(&running))
            .map(|r| InstalledKernel { release: r.clone(), evidence: format!("/boot/vmlinuz-{r}") })
            .collect();
        for list in [&ks[..], &ks[..ks.len() - 1]] {
            if let KernelStatus::Newer { running: r, newest } = kernel_status(&running, list) {
                prop_assert_eq!(kernel_flavour(&newest), kernel_flavour(&r));
                prop_assert_eq!(compare_versions(&newest, &r), Ordering::Greater);
                prop_assert!(list.iter().any(|k| k.release == newest));
            }
        }
    }
}

// ---- the ledger -----------------------------------------------------------------------

fn extreme_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        0..10u64,
        Just(u64::MAX),
        Just(u64::MAX - 1),
        1_700_000_000..1_800_000_000u64,
    ]
}

fn entry() -> impl Strategy<Value = LedgerEntry> {
    (
        (
            extreme_u64(),
            proptest::option::of("[a-z]{0,4}"),
            "\\PC{0,8}",
        ),
        (
            prop_oneof![Just("b1".to_string()), Just("b2".to_string()), "\\PC{0,4}"],
            proptest::option::of(prop_oneof![Just("m1"), Just("m2")]),
        ),
        (extreme_u64(), extreme_u64()),
        prop_oneof![
            Just(EntryState::Started),
            Just(EntryState::Confirmed),
            Just(EntryState::Failed)
        ],
        (
            proptest::option::of(extreme_u64()),
            proptest::option::of(extreme_u64()),
        ),
    )
        .prop_map(
            |(
                (id, key, reason),
                (boot_id, machine_id),
                (started_at, delay_secs),
                state,
                (requested_at, confirmed_at),
            )| {
                LedgerEntry {
                    id,
                    key,
                    reason,
                    boot_id,
                    machine_id: machine_id.map(String::from),
                    started_at,
                    delay_secs,
                    method: "systemctl reboot".into(),
                    state,
                    requested_at,
                    confirmed_at,
                    confirmed_boot_id: None,
                    error: None,
                }
            },
        )
}

/// Ledger text: noise, arbitrary JSON, or a ledger of extreme entries with perhaps one
/// field of one entry (or the version) replaced by arbitrary JSON.
fn ledger_text() -> impl Strategy<Value = String> {
    let near_valid = (
        proptest::collection::vec(entry(), 0..6),
        0..6usize,
        any::<bool>(),
    )
        .prop_flat_map(|(entries, which, mangle_version)| {
            let v = serde_json::json!({ "version": 1, "entries": entries });
            let target = if mangle_version {
                v.clone()
            } else {
                v["entries"]
                    .get(which)
                    .cloned()
                    .unwrap_or(serde_json::Value::Null)
            };
            mangle_json(target).prop_map(move |m| {
                if mangle_version {
                    return m;
                }
                let mut v = v.clone();
                if let Some(e) = v["entries"].get_mut(which) {
                    *e = m;
                }
                v
            })
        })
        .prop_map(|v| v.to_string());
    prop_oneof![
        text(),
        json().prop_map(|v| v.to_string()),
        proptest::collection::vec(entry(), 0..6)
            .prop_map(|e| serde_json::json!({ "version": 1, "entries": e }).to_string()),
        near_valid,
    ]
}

fn now_strategy() -> impl Strategy<Value = (String, Option<String>, u64)> {
    (
        prop_oneof![Just("b1".to_string()), Just("b2".to_string())],
        proptest::option::of(prop_oneof![Just("m1".to_string()), Just("m2".to_string())]),
        extreme_u64(),
    )
}

proptest! {
    // Each case parses, judges and re-serialises up to six entries: ~1 ms.
    #![proptest_config(cfg(384))]

    /// Whatever the file holds, reading it and everything done with what it read never
    /// panics; a new entry's id is not in use; what is written reads back the same.
    #[test]
    fn ledger_never_panics(
        t in ledger_text(),
        (boot, machine, time) in now_strategy(),
        rules_window in extreme_u64(),
        max_attempts in any::<u32>(),
        once in proptest::option::of("[a-z]{0,4}"),
        uptime in extreme_u64(),
    ) {
        let Ok(mut l) = Ledger::parse(&t) else { return Ok(()); };
        let now = Now { boot_id: &boot, machine_id: machine.as_deref(), time };
        let rules = Rules {
            once,
            max_attempts,
            window: Duration::from_secs(rules_window),
            min_uptime: Some(Duration::from_secs(uptime / 2)),
        };
        let input = GuardInput {
            ledger: LedgerInput::Read(&l),
            lock: &LockState::Held,
            now,
            uptime: Ok(Duration::from_secs(uptime)),
        };
        prop_assert_eq!(evaluate(&input, &rules).len(), 6);
        let _ = l.recent(10, &now);
        // Never an id in use: a new one, or none (ids exhausted: a refusal, not a wrap).
        if let Some(id) = l.next_id() {
            prop_assert!(l.entries.iter().all(|e| e.id != id), "next id {id} is taken");
        }
        prop_assert_eq!(Ledger::parse(&String::from_utf8(l.to_bytes()).unwrap()), Ok(l.clone()));
        l.confirm(&now);
        l.prune();
        prop_assert_eq!(Ledger::parse(&String::from_utf8(l.to_bytes()).unwrap()), Ok(l.clone()));
    }

    #[test]
    fn utc_is_well_formed(secs in extreme_u64()) {
        let s = format_utc(secs);
        prop_assert!(s.ends_with('Z') && s.contains('T'), "{s}");
    }
}

/// A ledger whose highest id is `u64::MAX` gives no id: never a wrap onto an id in use
/// (the reboot refuses, naming the file and how to reset it).
#[test]
fn ledger_next_id_at_u64_max() {
    let text = serde_json::json!({
        "version": 1,
        "entries": [{
            "id": u64::MAX, "reason": "r", "boot_id": "b", "started_at": 0,
            "method": "m", "state": "confirmed"
        }]
    })
    .to_string();
    let l = Ledger::parse(&text).unwrap();
    assert_eq!(l.next_id(), None);
}

proptest! {
    // Each case writes one file to a temp directory: ~1 ms.
    #![proptest_config(cfg(64))]

    #[test]
    fn ledger_files_of_arbitrary_bytes(b in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        ledger_text().prop_map(String::into_bytes),
    ]) {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("state")).unwrap();
        std::fs::write(d.path().join("state").join(LEDGER_FILE), &b).unwrap();
        let host = Host::fake(d.path());
        match read_ledger(&host, Path::new("/state")) {
            Ok(l) => prop_assert!(std::str::from_utf8(&b).is_ok() && !l.to_bytes().is_empty()),
            Err(e) => {
                let why = e.to_string();
                prop_assert!(why.contains(LEDGER_FILE), "{why}");
                prop_assert!(why.contains(".broken"), "no reset step: {why}");
            }
        }
    }
}

// ---- uptime, reboot-required.pkgs, needs-restarting -----------------------------------

proptest! {
    // 512 cases of pure parsing: each test under ~0.6 s of CPU in a debug build.
    #![proptest_config(cfg(512))]

    #[test]
    fn uptime_never_panics(s in prop_oneof![
        text(),
        (weird_token(), weird_token()).prop_map(|(a, b)| format!("{a} {b}\n")),
        "[0-9]{1,30}(\\.[0-9]{1,5})?(e[0-9]{1,3})? [0-9.]{1,10}\n",
    ]) {
        if let Ok(d) = parse_uptime(&s) {
            prop_assert!(d.as_secs_f64().is_finite());
        }
    }

    #[test]
    fn uptime_round_trip(secs in any::<u32>(), centis in 0..100u32, idle in any::<u32>()) {
        let d = parse_uptime(&format!("{secs}.{centis:02} {idle}.00\n")).map_err(TestCaseError::fail)?;
        let want = Duration::from_secs(u64::from(secs)) + Duration::from_millis(u64::from(centis) * 10);
        prop_assert!(d.abs_diff(want) < Duration::from_millis(1), "{d:?} vs {want:?}");
    }

    #[test]
    fn package_lists(
        s in text(),
        pkgs in proptest::collection::vec("[a-z0-9][a-z0-9.+-]{0,12}", 0..8),
        pad in "[ \t]{0,2}",
    ) {
        let _ = (parse_reboot_required_pkgs(&s), parse_needs_restarting(&s));
        let mut want: Vec<String> = Vec::new();
        for p in &pkgs {
            if !want.contains(p) {
                want.push(p.clone());
            }
        }
        let flag: String = pkgs.iter().map(|p| format!("{pad}{p}{pad}\n\n")).collect();
        prop_assert_eq!(parse_reboot_required_pkgs(&flag), want.clone());
        let nr: String = pkgs.iter().map(|p| format!("Updated:\n  * {p}{pad}\n")).collect();
        prop_assert_eq!(parse_needs_restarting(&format!("Core libraries have been updated:\n{nr}Reboot is required\n")), want);
    }
}

/// The first input that made `parse_uptime` panic: more seconds than a `Duration` holds
/// (`Duration::from_secs_f64` panics on them).
#[test]
fn uptime_beyond_a_duration_is_an_error() {
    assert!(parse_uptime("1e20 0\n").is_err());
    assert!(parse_uptime("18446744073709551616 0\n").is_err());
}
