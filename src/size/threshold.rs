//! Thresholds: a lower bound given as an absolute amount or as a percentage of the total
//! (`--disk-free 10%`, `--mem-available 512M`).

use std::fmt;

use super::{ByteSize, parse_decimal};
use crate::error::InputError;

const PERCENT_EXPECTED: &str =
    "an amount, or a percentage greater than 0% and at most 100% (such as 10%)";

/// A lower bound: an absolute amount, or a percentage of the total.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Threshold {
    /// At least this many units (bytes or inodes).
    Absolute(u64),
    /// At least this share of the total, in percent (0 < p <= 100).
    Percent(f64),
}

impl Threshold {
    /// Parses a size threshold: a size (`512M`) or a percentage (`10%`).
    ///
    /// # Errors
    /// [`InputError`] for an unparsable size, a percentage outside (0, 100], or zero.
    pub fn parse_size(text: &str) -> Result<Threshold, InputError> {
        Self::parse_with(text, "size threshold", |t| ByteSize::parse(t).map(|b| b.0))
    }

    /// Parses a count threshold: a whole number (`10000`) or a percentage (`5%`).
    ///
    /// # Errors
    /// [`InputError`] for an unparsable number, a percentage outside (0, 100], or zero.
    pub fn parse_count(text: &str) -> Result<Threshold, InputError> {
        Self::parse_with(text, "count threshold", |t| {
            t.trim().parse::<u64>().map_err(|_| {
                InputError::new(
                    "count threshold",
                    text,
                    "not a whole number",
                    "a whole number such as 10000, or a percentage such as 5%",
                )
            })
        })
    }

    fn parse_with(
        text: &str,
        what: &str,
        absolute: impl Fn(&str) -> Result<u64, InputError>,
    ) -> Result<Threshold, InputError> {
        let expected = PERCENT_EXPECTED;
        let t = text.trim();
        if let Some(p) = t.strip_suffix('%') {
            let err = |r: &str| InputError::new(what, text, r, expected);
            let (m, s) = parse_decimal(p.trim()).map_err(&err)?;
            // Compared exactly (m / s is the decimal as written): 100.000...1% is more
            // than 100% even where the f64 rounds it to 100.
            if m > 100 * s {
                return Err(err("more than 100%"));
            }
            if m == 0 {
                return Err(err("a threshold of 0% always holds"));
            }
            return Threshold::percent(m as f64 / s as f64).map_err(|_| err("out of range"));
        }
        let v = absolute(t).map_err(|mut e| {
            e.what = what.to_string();
            e
        })?;
        if v == 0 {
            return Err(InputError::new(
                what,
                text,
                "a threshold of 0 always holds",
                expected,
            ));
        }
        Ok(Threshold::Absolute(v))
    }

    /// A percentage threshold, checked: finite, above 0 and at most 100.
    ///
    /// # Errors
    /// [`InputError`] for NaN, an infinity, zero, a negative share or more than 100%.
    pub fn percent(p: f64) -> Result<Threshold, InputError> {
        let t = Threshold::Percent(p);
        if t.is_valid() {
            Ok(t)
        } else {
            Err(InputError::new(
                "percentage threshold",
                format!("{p}%"),
                "not a finite share above 0% and at most 100%",
                PERCENT_EXPECTED,
            ))
        }
    }

    /// Whether the threshold can be checked: a percentage must be finite and in (0, 100].
    /// (Absolute amounts are always valid.) The variant is public, so a percentage built
    /// by hand may be NaN; such a threshold never holds.
    pub fn is_valid(&self) -> bool {
        match *self {
            Threshold::Absolute(_) => true,
            Threshold::Percent(p) => p.is_finite() && p > 0.0 && p <= 100.0,
        }
    }

    /// The absolute amount this threshold asks for, given the total. An invalid
    /// percentage (NaN, infinite, not in (0, 100]) asks for everything: `u64::MAX`, so
    /// a guard built on it fails closed.
    pub fn required(&self, total: u64) -> u64 {
        match *self {
            Threshold::Absolute(v) => v,
            Threshold::Percent(_) if !self.is_valid() => u64::MAX,
            // In (0, 100], so the product is finite, not negative and at most `total`.
            Threshold::Percent(p) => ((total as f64) * p / 100.0).ceil() as u64,
        }
    }

    /// Whether `available` out of `total` meets the threshold; never for an invalid
    /// percentage.
    pub fn holds(&self, available: u64, total: u64) -> bool {
        self.is_valid() && available >= self.required(total)
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Threshold::Absolute(v) => write!(f, "{v}"),
            Threshold::Percent(p) => write!(f, "{p}%"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        assert_eq!(Threshold::parse_size("10%"), Ok(Threshold::Percent(10.0)));
        assert_eq!(Threshold::parse_size("100%"), Ok(Threshold::Percent(100.0)));
        assert_eq!(Threshold::parse_size("0.5%"), Ok(Threshold::Percent(0.5)));
        assert_eq!(
            Threshold::parse_size("1G"),
            Ok(Threshold::Absolute(1 << 30))
        );
        assert_eq!(
            Threshold::parse_count("5000"),
            Ok(Threshold::Absolute(5000))
        );
        for bad in ["101%", "0%", "-5%", "bogus", "", "%", "0", "1.2.3%"] {
            assert!(Threshold::parse_size(bad).is_err(), "{bad}");
        }
        assert!(Threshold::parse_count("1G").is_err());
        assert!(Threshold::parse_count("1.5").is_err());
        let t = Threshold::Percent(10.0);
        assert_eq!(t.required(1000), 100);
        assert!(t.holds(100, 1000));
        assert!(!t.holds(99, 1000));
        assert!(Threshold::Absolute(5).holds(5, 0));
    }

    #[test]
    fn percentages_built_by_hand_fail_closed() {
        for p in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0, 0.0, 100.5] {
            let t = Threshold::Percent(p);
            assert!(!t.is_valid(), "{p}");
            assert!(!t.holds(u64::MAX, u64::MAX), "{p} must never hold");
            assert!(!t.holds(0, 0), "{p} must never hold");
            assert_eq!(t.required(1000), u64::MAX, "{p}");
            assert!(Threshold::percent(p).is_err(), "{p}");
        }
        assert_eq!(Threshold::percent(50.0), Ok(Threshold::Percent(50.0)));
        assert!(Threshold::Percent(100.0).holds(1000, 1000));
        assert!(!Threshold::Percent(100.0).holds(999, 1000));
    }

    #[test]
    fn overflowing_and_non_finite_numbers_are_bad_input() {
        for text in [
            "99999999999T",
            "1e400G",
            "18446744073709551616",
            "1.0e308P",
            "inf",
            "NaN",
            "340282366920938463463374607431768211456",
        ] {
            assert!(ByteSize::parse(text).is_err(), "{text}");
        }
        for text in [
            "nan%",
            "NaN%",
            "inf%",
            "-inf%",
            "1e400%",
            "100.0000000000000000000000001%",
            "99999999999999999999999999999999%",
        ] {
            assert!(Threshold::parse_size(text).is_err(), "{text}");
            assert!(Threshold::parse_count(text).is_err(), "{text}");
        }
    }
}
