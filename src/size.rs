//! Input types: byte sizes, thresholds and durations, parsed from the strings users write.
//!
//! Sizes follow `free` and `fallocate`: `K`, `M`, `G`, `T`, `P` and their `KiB` ... forms are
//! binary (1024); `KB`, `MB`, ... are decimal (1000); a plain number is bytes. Fractions are
//! allowed with a unit (`1.5G`) and rounded down to the byte. Every parser is a pure function
//! of the text and returns an [`InputError`] naming the input and what is accepted.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::error::InputError;

const SIZE_EXPECTED: &str = "a size such as 512M, 2G, 1.5GiB, 2048MiB or a number of bytes \
                             (K/M/G/T are 1024-based)";

const PERCENT_EXPECTED: &str =
    "an amount, or a percentage greater than 0% and at most 100% (such as 10%)";

/// A number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// One kibibyte.
    pub const KIB: u64 = 1024;
    /// One mebibyte.
    pub const MIB: u64 = 1024 * 1024;
    /// One gibibyte.
    pub const GIB: u64 = 1024 * 1024 * 1024;

    /// The size in bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }

    /// Parses a size such as `512M`, `2G`, `1.5GiB`, `2048MiB` or `1048576`.
    ///
    /// # Errors
    /// [`InputError`] when the text is empty, negative, has an unknown unit, more than one
    /// decimal point, a fraction of a byte, or overflows 64 bits.
    pub fn parse(text: &str) -> Result<ByteSize, InputError> {
        let err = |reason: &str| InputError::new("size", text, reason, SIZE_EXPECTED);
        let t = text.trim();
        if t.is_empty() {
            return Err(err("empty"));
        }
        if t.starts_with('-') {
            return Err(err("a size cannot be negative"));
        }
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let unit = unit.trim();
        let multiplier: u128 = match unit.to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kib" => 1 << 10,
            "m" | "mib" => 1 << 20,
            "g" | "gib" => 1 << 30,
            "t" | "tib" => 1 << 40,
            "p" | "pib" => 1 << 50,
            "kb" => 1_000,
            "mb" => 1_000_000,
            "gb" => 1_000_000_000,
            "tb" => 1_000_000_000_000,
            "pb" => 1_000_000_000_000_000,
            _ => return Err(err(&format!("unknown unit {unit:?}"))),
        };
        let (mantissa, scale) = parse_decimal(num).map_err(&err)?;
        if scale > 1 && multiplier == 1 {
            return Err(err("a fraction of a byte"));
        }
        let bytes = mantissa
            .checked_mul(multiplier)
            .map(|v| v / scale)
            .filter(|v| *v <= u128::from(u64::MAX))
            .ok_or_else(|| err("too large (more than 16 EiB)"))?;
        Ok(ByteSize(bytes as u64))
    }
}

/// Parses `12`, `1.5`, `.5` into (digits as an integer, 10^fraction digits).
fn parse_decimal(num: &str) -> Result<(u128, u128), &'static str> {
    if num.is_empty() {
        return Err("no number");
    }
    let mut parts = num.split('.');
    let int = parts.next().unwrap_or("");
    let frac = parts.next();
    if parts.next().is_some() {
        return Err("more than one decimal point");
    }
    let frac = frac.unwrap_or("");
    if int.is_empty() && frac.is_empty() {
        return Err("no number");
    }
    if int.len() + frac.len() > 30 {
        return Err("too large (more than 16 EiB)");
    }
    let digits = format!("{int}{frac}");
    let mantissa: u128 = digits.parse().map_err(|_| "not a number")?;
    let scale = 10u128.pow(frac.len() as u32);
    Ok((mantissa, scale))
}

impl FromStr for ByteSize {
    type Err = InputError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ByteSize::parse(s)
    }
}

impl fmt::Display for ByteSize {
    /// Human form with a binary unit: `2.0 GiB`, `512 MiB`, `100 B`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        let mut v = self.0 as f64;
        let mut i = 0;
        while v >= 1024.0 && i < UNITS.len() - 1 {
            v /= 1024.0;
            i += 1;
        }
        if i == 0 {
            write!(f, "{} B", self.0)
        } else if (v - v.round()).abs() < 0.005 {
            write!(f, "{:.0} {}", v, UNITS[i])
        } else {
            write!(f, "{:.1} {}", v, UNITS[i])
        }
    }
}

impl serde::Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

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

/// Parses a duration: `90s`, `5m`, `1h`, `2d`, compounds such as `1h30m`, or plain seconds.
///
/// # Errors
/// [`InputError`] when the text is empty, negative, has an unknown unit or overflows.
pub fn parse_duration(text: &str) -> Result<Duration, InputError> {
    let expected = "a duration such as 90s, 5m, 1h, 2d or 1h30m (a plain number is seconds)";
    let err = |r: &str| InputError::new("duration", text, r, expected);
    let t = text.trim();
    if t.is_empty() {
        return Err(err("empty"));
    }
    if t.starts_with('-') {
        return Err(err("a duration cannot be negative"));
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| err("too large"));
    }
    let mut total: u64 = 0;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(err("expected a number"));
        }
        let n: u64 = rest[..digits].parse().map_err(|_| err("too large"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let secs: u64 = match unit {
            "s" | "sec" | "secs" => 1,
            "m" | "min" | "mins" => 60,
            "h" | "hr" | "hrs" => 3600,
            "d" | "day" | "days" => 86400,
            "" => return Err(err("a number without a unit inside a compound duration")),
            _ => return Err(err(&format!("unknown unit {unit:?}"))),
        };
        total = n
            .checked_mul(secs)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| err("too large"))?;
    }
    Ok(Duration::from_secs(total))
}

/// The ceiling of every wait and timeout hostfix takes (`--lock-wait`, `port free
/// --timeout`, `container rm --timeout` and `--command-timeout`, `reboot --delay`): one
/// day. A longer wait is a typo or an attack on the arithmetic, and a run that waits
/// longer than a day for a lock or a process has failed anyway.
pub const MAX_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// The ceiling of every span hostfix looks back over (`reboot --window`,
/// `--min-uptime`): 366 days.
pub const MAX_SPAN: Duration = Duration::from_secs(366 * 24 * 60 * 60);

/// Checks that a duration given for `what` (a flag such as `--lock-wait`) is at most
/// `max`.
///
/// # Errors
/// [`InputError`] naming `what`, the value and the ceiling.
pub fn check_duration(what: &str, d: Duration, max: Duration) -> Result<(), InputError> {
    if d <= max {
        return Ok(());
    }
    Err(InputError::new(
        what,
        format_duration(d),
        format!("longer than the ceiling of {}", format_duration(max)),
        format!(
            "a duration such as 90s, 5m or 1h of at most {}",
            format_duration(max)
        ),
    ))
}

/// Parses a duration for `what` (a flag such as `--lock-wait`) and checks it against its
/// ceiling `max`.
///
/// # Errors
/// As [`parse_duration`] (with `what` named), and when the duration is above `max`.
pub fn parse_duration_at_most(
    what: &str,
    text: &str,
    max: Duration,
) -> Result<Duration, InputError> {
    let d = parse_duration(text).map_err(|mut e| {
        e.what = what.to_string();
        e
    })?;
    check_duration(what, d, max).map_err(|mut e| {
        e.input = text.to_string();
        e
    })?;
    Ok(d)
}

/// Formats a duration the way [`parse_duration`] reads it (`1h30m`, `90s` → `1m30s`).
pub fn format_duration(d: Duration) -> String {
    let mut s = d.as_secs();
    if s == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, len) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] {
        if s >= len {
            out.push_str(&format!("{}{}", s / len, unit));
            s %= len;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        let cases: &[(&str, u64)] = &[
            ("512M", 512 << 20),
            ("2G", 2 << 30),
            ("1.5GiB", 3 << 29),
            ("2048MiB", 2 << 30),
            ("1048576", 1 << 20),
            ("0", 0),
            ("1k", 1024),
            ("1K", 1024),
            ("1KiB", 1024),
            ("1KB", 1000),
            ("1MB", 1_000_000),
            ("1T", 1 << 40),
            ("1P", 1 << 50),
            (" 2G ", 2 << 30),
            ("2 G", 2 << 30),
            ("100B", 100),
            (".5G", 1 << 29),
            ("1.", 1),
            ("1.1K", 1126),
            ("16383P", 16383 << 50),
        ];
        for (text, want) in cases {
            assert_eq!(ByteSize::parse(text).map(|b| b.0), Ok(*want), "{text}");
        }
    }

    #[test]
    fn bad_sizes_name_the_input() {
        for text in [
            "",
            " ",
            "-1G",
            "1.5.2G",
            "10X",
            "99999999999T",
            "G",
            ".",
            "1.5",
            "0x10",
            "1e9",
            "1GG",
            "16384P",
            "+1G",
            "１G",
        ] {
            let e = ByteSize::parse(text).expect_err(text);
            let msg = e.to_string();
            assert!(msg.contains(&format!("{text:?}")), "{msg}");
            assert!(msg.contains("512M"), "{msg}");
            assert_eq!(e.what, "size");
        }
    }

    #[test]
    fn size_display() {
        assert_eq!(ByteSize(2 << 30).to_string(), "2 GiB");
        assert_eq!(ByteSize(3 << 29).to_string(), "1.5 GiB");
        assert_eq!(ByteSize(100).to_string(), "100 B");
    }

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

    #[test]
    fn durations_above_their_ceiling_are_bad_input() {
        let day = Duration::from_secs(86400);
        assert_eq!(MAX_WAIT, day);
        assert_eq!(
            parse_duration_at_most("--lock-wait", "24h", MAX_WAIT),
            Ok(day)
        );
        assert_eq!(
            parse_duration_at_most("--lock-wait", "1d", MAX_WAIT),
            Ok(day)
        );
        for text in [
            "24h1s",
            "86401",
            "2d",
            "18446744073709551615",
            "106751991167300d",
        ] {
            let e = parse_duration_at_most("--lock-wait", text, MAX_WAIT).expect_err(text);
            assert_eq!(e.what, "--lock-wait");
            assert_eq!(e.input, text);
            let msg = e.to_string();
            assert!(msg.contains("--lock-wait") && msg.contains("1d"), "{msg}");
        }
        let e = parse_duration_at_most("--window", "5 parsecs", MAX_SPAN).unwrap_err();
        assert_eq!(e.what, "--window");
        assert!(parse_duration_at_most("--window", "366d", MAX_SPAN).is_ok());
        assert!(parse_duration_at_most("--window", "367d", MAX_SPAN).is_err());
        assert!(check_duration("--delay", Duration::MAX, MAX_WAIT).is_err());
    }

    #[test]
    fn durations() {
        let cases: &[(&str, u64)] = &[
            ("90s", 90),
            ("5m", 300),
            ("1h", 3600),
            ("2d", 172800),
            ("1h30m", 5400),
            ("45", 45),
            ("0s", 0),
        ];
        for (t, want) in cases {
            assert_eq!(parse_duration(t), Ok(Duration::from_secs(*want)), "{t}");
        }
        for bad in [
            "",
            "-5s",
            "5x",
            "m",
            "1h30",
            "99999999999999999999s",
            "1.5h",
        ] {
            let e = parse_duration(bad).expect_err(bad);
            assert!(e.to_string().contains("90s"), "{e}");
        }
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }
}
