//! Value parsers for every flag: each takes the raw argument (`OsStr`, so a non-UTF-8
//! argument is an error naming its flag, never a panic) and returns the typed value or a
//! clap error that names the flag, the value and what is accepted.
//!
//! Which flags take non-UTF-8: paths the library handles as `PathBuf` (`--state-dir`,
//! `--root`, `swap --path`, the path of `--disk-free`/`--inodes-free`). Everything else
//! (sizes, durations, numbers, names, texts written to a ledger or passed to a shell) is
//! UTF-8 or bad input.

use std::ffi::OsStr;
use std::net::IpAddr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use clap::{Arg, Command};
use hostfix::Risk;
use hostfix::size::{MAX_SPAN, MAX_WAIT, parse_duration_at_most};

/// A parser of UTF-8 text into `T`; the error is a sentence saying why and what is
/// accepted.
#[derive(Clone, Copy)]
pub struct Utf8<T>(pub fn(&str) -> Result<T, String>);

impl<T: Clone + Send + Sync + 'static> TypedValueParser for Utf8<T> {
    type Value = T;

    fn parse_ref(&self, cmd: &Command, arg: Option<&Arg>, value: &OsStr) -> Result<T, clap::Error> {
        let text = value.to_str().ok_or_else(|| {
            invalid(
                cmd,
                arg,
                value,
                "not valid UTF-8; this flag takes UTF-8 text",
            )
        })?;
        (self.0)(text).map_err(|why| invalid(cmd, arg, value, &why))
    }
}

/// A path: any bytes but empty (NUL cannot be in an argument).
#[derive(Clone, Copy)]
pub struct AnyPath;

impl TypedValueParser for AnyPath {
    type Value = PathBuf;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&Arg>,
        value: &OsStr,
    ) -> Result<PathBuf, clap::Error> {
        if value.is_empty() {
            return Err(invalid(cmd, arg, value, "empty; expected a path"));
        }
        Ok(PathBuf::from(value))
    }
}

/// `PATH=THRESHOLD`: the path may be any bytes, the threshold is UTF-8 text parsed by the
/// inner function (which gets the whole argument when it is UTF-8, for its messages).
#[derive(Clone, Copy)]
pub struct PathThreshold<T>(pub fn(&str) -> Result<T, String>);

impl<T: Clone + Send + Sync + 'static> TypedValueParser for PathThreshold<(PathBuf, T)> {
    type Value = (PathBuf, T);

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&Arg>,
        value: &OsStr,
    ) -> Result<(PathBuf, T), clap::Error> {
        if let Some(text) = value.to_str() {
            return (self.0)(text).map_err(|why| invalid(cmd, arg, value, &why));
        }
        // Not UTF-8: split the bytes at the last '=' and parse "/=THRESHOLD" for the
        // threshold's own checks, then put the real path back.
        let bytes = value.as_bytes();
        let Some(eq) = bytes.iter().rposition(|b| *b == b'=') else {
            return Err(invalid(cmd, arg, value, "no '='; expected PATH=THRESHOLD"));
        };
        let (path, rest) = bytes.split_at(eq);
        let threshold = std::str::from_utf8(rest).map_err(|_| {
            invalid(
                cmd,
                arg,
                value,
                "the threshold after '=' is not valid UTF-8; expected PATH=SIZE, PATH=N or \
                 PATH=PCT",
            )
        })?;
        let (_, t) =
            (self.0)(&format!("/{threshold}")).map_err(|why| invalid(cmd, arg, value, &why))?;
        if path.is_empty() {
            return Err(invalid(cmd, arg, value, "no path before '='"));
        }
        Ok((PathBuf::from(OsStr::from_bytes(path)), t))
    }
}

/// The clap error for a bad value: `invalid value V for FLAG: WHY`.
fn invalid(cmd: &Command, arg: Option<&Arg>, value: &OsStr, why: &str) -> clap::Error {
    let flag = arg.map_or_else(|| "an argument".to_string(), |a| format!("'{a}'"));
    // Debug shows a non-UTF-8 value with escapes (`"/x/\xFF"`) and quotes any other.
    let shown = match value.to_str() {
        Some(t) => format!("'{t}'"),
        None => format!("{value:?}"),
    };
    clap::Error::raw(
        ErrorKind::ValueValidation,
        format!("invalid value {shown} for {flag}: {why}\n"),
    )
    .with_cmd(cmd)
}

/// Any UTF-8 text.
pub fn text(s: &str) -> Result<String, String> {
    Ok(s.to_string())
}

/// `--max-risk`.
pub fn risk(s: &str) -> Result<Risk, String> {
    s.parse::<Risk>().map_err(|e| e.to_string())
}

/// A container engine: `docker` or `podman`.
pub fn engine(s: &str) -> Result<hostfix::EngineKind, String> {
    hostfix::EngineKind::parse(s)
}

/// A TCP or UDP port, 1 to 65535.
pub fn port(s: &str) -> Result<u16, String> {
    match s.trim().parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!(
            "invalid port \"{s}\": not a port number; expected 1..=65535"
        )),
    }
}

/// A whole number from 0 to `u32::MAX`.
pub fn count(s: &str) -> Result<u32, String> {
    s.trim().parse::<u32>().map_err(|_| {
        format!(
            "invalid number \"{s}\": not a whole number from 0 to {}",
            u32::MAX
        )
    })
}

/// A signed whole number (the swap priority; its range is the library's to check).
pub fn signed(s: &str) -> Result<i32, String> {
    s.trim().parse::<i32>().map_err(|_| {
        format!(
            "invalid number \"{s}\": not a whole number from {} to {}",
            i32::MIN,
            i32::MAX
        )
    })
}

/// An IP address.
pub fn ip(s: &str) -> Result<IpAddr, String> {
    s.trim()
        .parse::<IpAddr>()
        .map_err(|_| format!("invalid address \"{s}\": expected an IPv4 or IPv6 address"))
}

/// A wait or timeout: at most [`MAX_WAIT`] (one day).
pub fn wait(s: &str) -> Result<Duration, String> {
    parse_duration_at_most("duration", s, MAX_WAIT).map_err(|e| e.to_string())
}

/// A span looked back over (`--window`, `--min-uptime`): at most [`MAX_SPAN`] (366 days).
pub fn span(s: &str) -> Result<Duration, String> {
    parse_duration_at_most("duration", s, MAX_SPAN).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_durations() {
        assert_eq!(port("80"), Ok(80));
        for bad in ["0", "65536", "-1", "8O", "", "99999999999999999999"] {
            assert!(port(bad).unwrap_err().contains("1..=65535"), "{bad}");
        }
        assert_eq!(count("3"), Ok(3));
        assert!(count("4294967296").is_err());
        assert!(signed("-2147483649").is_err());
        assert_eq!(wait("24h"), Ok(Duration::from_secs(86400)));
        assert!(wait("24h1s").unwrap_err().contains("ceiling"));
        assert!(span("366d").is_ok());
        assert!(span("367d").is_err());
        assert!(span("18446744073709551615").is_err());
    }
}
