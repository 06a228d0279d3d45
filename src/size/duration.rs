//! Durations: parsed from `90s`, `5m`, `1h`, `2d` or `1h30m`, checked against their
//! ceilings, and shown back in the same units.

use std::time::Duration;

use crate::error::InputError;

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
pub(crate) fn check_duration(what: &str, d: Duration, max: Duration) -> Result<(), InputError> {
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
