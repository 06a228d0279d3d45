//! Sizes, thresholds, durations, risk levels and the other words users type.

use std::str::FromStr;
use std::time::Duration;

use proptest::prelude::*;

use super::{cfg, text, weird_token};
use crate::plan::Risk;
use crate::reboot::RebootMethod;
use crate::resources::CheckSpec;
use crate::size::{ByteSize, Threshold, format_duration, parse_duration};
use crate::swap::{Persist, SwapSize};

/// Units and their multipliers, written out here rather than taken from the parser.
const UNITS: [(&str, u128); 17] = [
    ("", 1),
    ("B", 1),
    ("K", 1 << 10),
    ("KiB", 1 << 10),
    ("m", 1 << 20),
    ("MiB", 1 << 20),
    ("G", 1 << 30),
    ("gib", 1 << 30),
    ("T", 1 << 40),
    ("TiB", 1 << 40),
    ("P", 1 << 50),
    ("PiB", 1 << 50),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
    ("PB", 1_000_000_000_000_000),
];

fn unit() -> impl Strategy<Value = (&'static str, u128)> {
    proptest::sample::select(UNITS.to_vec())
}

/// A number that is often near the edges of `u64`.
fn big_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        0..100_000u64,
        (0..64u32).prop_map(|s| 1u64 << s),
        (0..64u32).prop_map(|s| (1u64 << s).wrapping_sub(1)),
        Just(u64::MAX),
        Just(u64::MAX - 1),
    ]
}

/// Text that looks like a size: a number, maybe a fraction, maybe a unit, maybe noise.
fn size_like() -> impl Strategy<Value = String> {
    prop_oneof![
        text(),
        "[ ]{0,2}-?[0-9]{0,40}(\\.[0-9]{0,40})?(\\.[0-9]*)?[ ]{0,2}[kKmMgGtTpPeEbBiI%]{0,4}[ ]{0,2}",
        weird_token(),
    ]
}

proptest! {
    // ~1 ms per case in total for this block.
    #![proptest_config(cfg(512))]

    #[test]
    fn byte_size_parse_never_panics(s in size_like()) {
        let _ = ByteSize::parse(&s);
        let _ = SwapSize::from_str(&s);
    }

    /// A whole number with a unit is that many units, or "too large": never wrapped.
    #[test]
    fn byte_size_is_exact_or_too_large(n in big_u64(), (u, mult) in unit()) {
        let got = ByteSize::parse(&format!("{n}{u}"));
        let want = u128::from(n) * mult;
        if want <= u128::from(u64::MAX) {
            prop_assert_eq!(got, Ok(ByteSize(want as u64)));
        } else {
            let e = got.unwrap_err();
            prop_assert!(e.reason.contains("too large"), "{e}");
        }
    }

    /// A fraction with a unit is rounded down to the byte.
    #[test]
    fn byte_size_fraction_rounds_down(
        int in 0..1_000_000u64,
        frac in "[0-9]{1,9}",
        (u, mult) in unit().prop_filter("a unit", |(_, m)| *m > 1),
    ) {
        let scale = 10u128.pow(frac.len() as u32);
        let mantissa = u128::from(int) * scale + frac.parse::<u128>().unwrap();
        let want = mantissa * mult / scale;
        let got = ByteSize::parse(&format!("{int}.{frac}{u}"));
        if want <= u128::from(u64::MAX) {
            prop_assert_eq!(got, Ok(ByteSize(want as u64)));
        } else {
            prop_assert!(got.is_err());
        }
    }

    #[test]
    fn negative_sizes_are_bad_input(n in any::<u64>(), (u, _) in unit()) {
        let (whole, frac) = (format!("-{n}{u}"), format!(" -{n}.5{u}"));
        prop_assert!(ByteSize::parse(&whole).is_err());
        prop_assert!(ByteSize::parse(&frac).is_err());
    }

    /// What `Display` prints reads back within the rounding of its one decimal.
    #[test]
    fn byte_size_display_reads_back(b in 0..(1u64 << 62)) {
        let shown = ByteSize(b).to_string();
        let back = ByteSize::parse(&shown).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let diff = back.0.abs_diff(b);
        prop_assert!(diff <= b / 20 + 1, "{b} -> {shown:?} -> {}", back.0);
    }

    #[test]
    fn thresholds_never_panic_and_stay_in_range(s in size_like()) {
        for parsed in [Threshold::parse_size(&s), Threshold::parse_count(&s)] {
            match parsed {
                Ok(Threshold::Percent(p)) => prop_assert!(p > 0.0 && p <= 100.0, "{p}"),
                Ok(Threshold::Absolute(v)) => prop_assert!(v > 0),
                Err(_) => {}
            }
        }
    }

    /// A parsed threshold, printed, parses to the same threshold.
    #[test]
    fn thresholds_round_trip(s in size_like()) {
        if let Ok(t) = Threshold::parse_size(&s) {
            prop_assert_eq!(Threshold::parse_size(&t.to_string()), Ok(t));
        }
        if let Ok(t) = Threshold::parse_count(&s) {
            prop_assert_eq!(Threshold::parse_count(&t.to_string()), Ok(t));
        }
    }

    #[test]
    fn count_thresholds_are_exact_or_bad(n in big_u64()) {
        let got = Threshold::parse_count(&n.to_string());
        if n == 0 {
            prop_assert!(got.is_err());
        } else {
            prop_assert_eq!(got, Ok(Threshold::Absolute(n)));
        }
        let over = u128::from(n) + u128::from(u64::MAX) + 1;
        prop_assert!(Threshold::parse_count(&over.to_string()).is_err());
    }

    /// A percentage needs at most what there is, and all of it is enough.
    #[test]
    fn percent_needs_at_most_the_total(p in 0.000_001f64..=100.0, total in big_u64()) {
        let t = Threshold::Percent(p);
        prop_assert!(t.required(total) <= total, "{p}% of {total}: {}", t.required(total));
        prop_assert!(t.holds(total, total));
    }

    #[test]
    fn path_thresholds_never_panic(s in text(), count in any::<bool>()) {
        if let Ok((path, _)) = CheckSpec::parse_path_threshold(&s, count) {
            prop_assert!(!path.as_os_str().is_empty());
        }
    }

    #[test]
    fn path_thresholds_round_trip(
        path in "/[a-z/=]{0,20}",
        n in 1..u64::MAX,
        count in any::<bool>(),
    ) {
        let (p, t) = CheckSpec::parse_path_threshold(&format!("{path}={n}"), count)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(p.to_str(), Some(path.as_str()));
        prop_assert_eq!(t, Threshold::Absolute(n));
    }

    #[test]
    fn durations_never_panic(s in prop_oneof![
        text(),
        weird_token(),
        "[ ]?-?([0-9]{0,25}(s|sec|secs|m|min|h|hr|d|days|x|)){0,5}[ ]?",
    ]) {
        let _ = parse_duration(&s);
    }

    /// `N` and `N<unit>` are exact, or "too large": a duration never wraps.
    #[test]
    fn durations_are_exact_or_too_large(
        n in big_u64(),
        (u, secs) in proptest::sample::select(vec![
            ("", 1u128), ("s", 1), ("sec", 1), ("m", 60), ("min", 60), ("h", 3600),
            ("hrs", 3600), ("d", 86_400), ("days", 86_400),
        ]),
    ) {
        let got = parse_duration(&format!("{n}{u}"));
        let want = u128::from(n) * secs;
        if want <= u128::from(u64::MAX) {
            prop_assert_eq!(got, Ok(Duration::from_secs(want as u64)));
        } else {
            prop_assert!(got.is_err());
        }
    }

    /// A compound duration is the sum of its parts, or "too large".
    #[test]
    fn compound_durations_add_up(parts in proptest::collection::vec((big_u64(), 0..4usize), 1..5)) {
        const U: [(&str, u128); 4] = [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)];
        let text: String = parts.iter().map(|(n, u)| format!("{n}{}", U[*u].0)).collect();
        let want: u128 = parts.iter().map(|(n, u)| u128::from(*n) * U[*u].1).sum();
        let got = parse_duration(&text);
        if want <= u128::from(u64::MAX) {
            prop_assert_eq!(got, Ok(Duration::from_secs(want as u64)));
        } else {
            prop_assert!(got.is_err(), "{text:?} gave {got:?}");
        }
    }

    #[test]
    fn format_duration_reads_back(secs in big_u64()) {
        let d = Duration::from_secs(secs);
        prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
    }

    #[test]
    fn words_never_panic(s in text()) {
        let _ = Risk::from_str(&s);
        let _ = Persist::from_str(&s);
        let _ = RebootMethod::from_str(&s);
    }

    #[test]
    fn risk_words_round_trip(i in 0..Risk::ALL.len(), pad in "[ \t]{0,2}") {
        let r = Risk::ALL[i];
        prop_assert_eq!(Risk::from_str(&format!("{pad}{r}{pad}")), Ok(r));
        let longer = format!("{r}x");
        prop_assert!(Risk::from_str(&longer).is_err());
    }
}

proptest! {
    // Each case takes a free lock in a temp directory: ~1 ms.
    #![proptest_config(cfg(32))]

    /// Any wait is a limit the host lock takes: a huge `--lock-wait` used to overflow
    /// adding it to the current instant.
    #[test]
    fn lock_waits_never_overflow(secs in prop_oneof![any::<u64>(), Just(u64::MAX)], nanos in 0..1_000_000_000u32) {
        let d = tempfile::tempdir().unwrap();
        let host = crate::host::Host::fake(d.path());
        let lock = crate::state::HostLock::acquire(&host, Duration::new(secs, nanos));
        prop_assert!(lock.is_ok());
    }
}
