//! Input types: byte sizes, thresholds and durations, parsed from the strings users write.
//!
//! Sizes follow `free` and `fallocate`: `K`, `M`, `G`, `T`, `P` and their `KiB` ... forms are
//! binary (1024); `KB`, `MB`, ... are decimal (1000); a plain number is bytes. Fractions are
//! allowed with a unit (`1.5G`) and rounded down to the byte. Every parser is a pure function
//! of the text and returns an [`InputError`] naming the input and what is accepted.

use std::fmt;
use std::str::FromStr;

use crate::error::InputError;

mod duration;
mod threshold;

pub(crate) use duration::check_duration;
pub use duration::{MAX_SPAN, MAX_WAIT, format_duration, parse_duration, parse_duration_at_most};
pub use threshold::Threshold;

const SIZE_EXPECTED: &str = "a size such as 512M, 2G, 1.5GiB, 2048MiB or a number of bytes \
                             (K/M/G/T are 1024-based)";

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
}
