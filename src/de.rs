//! How specs are read from a provisioning config (`serde::Deserialize`): durations as the
//! CLI writes them (`90s`, `5m`, `1h30m`, or whole seconds), sizes as `2G`, `512M` or
//! bytes, thresholds as `10%` or a size. Every text goes through the same parser as the
//! command line, so a config and a flag accept the same values; what a parser refuses
//! is a serde error naming the value and what is accepted.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::size::{ByteSize, Threshold, parse_duration};

/// A duration: a string read by [`parse_duration`] (`90s`, `5m`, `1h30m`), or whole
/// seconds.
pub(crate) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_any(DurationVisitor)
}

/// An optional duration: `null`, or as [`duration`].
pub(crate) fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "duration")] Duration);
    Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as 90s, 5m, 1h or 1h30m, or whole seconds")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Ok(Duration::from_secs(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        u64::try_from(v)
            .map(Duration::from_secs)
            .map_err(|_| E::custom(format!("duration {v}: a duration cannot be negative")))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        parse_duration(v).map_err(E::custom)
    }
}

/// A size in bytes: a string read by [`ByteSize::parse`] (`2G`, `512M`, `1.5GiB`), or
/// bytes.
pub(crate) fn bytes<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a size such as 512M, 2G or 1.5GiB, or bytes")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::custom(format!("size {v}: a size cannot be negative")))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
            ByteSize::parse(v).map(|b| b.0).map_err(E::custom)
        }
    }
    d.deserialize_any(V)
}

/// A threshold: `10%` or a size (`512M`, `2G`, bytes), as `--mem-available` reads it; or
/// `{"absolute": N}` / `{"percent": P}`, as it is serialized. A percentage must be
/// finite, above 0 and at most 100; an amount above 0.
impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Text(String),
            Bytes(u64),
            Tagged(Tagged),
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "snake_case", deny_unknown_fields)]
        enum Tagged {
            Absolute(u64),
            Percent(f64),
        }
        let t = match Wire::deserialize(d)? {
            Wire::Text(s) => return Threshold::parse_size(&s).map_err(de::Error::custom),
            Wire::Bytes(v) | Wire::Tagged(Tagged::Absolute(v)) => Threshold::Absolute(v),
            Wire::Tagged(Tagged::Percent(p)) => {
                return Threshold::percent(p).map_err(de::Error::custom);
            }
        };
        if t == Threshold::Absolute(0) {
            return Err(de::Error::custom(
                "a threshold of 0 always holds; expected an amount above 0 or a percentage",
            ));
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct D {
        #[serde(deserialize_with = "duration")]
        d: Duration,
        #[serde(default, deserialize_with = "opt_duration")]
        o: Option<Duration>,
        #[serde(deserialize_with = "bytes")]
        b: u64,
    }

    #[test]
    fn durations_and_sizes_read_as_the_cli_writes_them() {
        let v: D = serde_json::from_str(r#"{"d": "1h30m", "o": "90s", "b": "2G"}"#).unwrap();
        assert_eq!(v.d, Duration::from_secs(5400));
        assert_eq!(v.o, Some(Duration::from_secs(90)));
        assert_eq!(v.b, 2 << 30);
        let v: D = serde_json::from_str(r#"{"d": 5, "b": 4096}"#).unwrap();
        assert_eq!((v.d, v.o, v.b), (Duration::from_secs(5), None, 4096));
        for bad in [
            r#"{"d": "-5s", "b": 1}"#,
            r#"{"d": 1, "b": "2X"}"#,
            r#"{"d": -1, "b": 1}"#,
        ] {
            assert!(serde_json::from_str::<D>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn thresholds_are_checked_as_they_are_read() {
        let t: Vec<Threshold> =
            serde_json::from_str(r#"["10%", "2G", 4096, {"percent": 5.5}, {"absolute": 7}]"#)
                .unwrap();
        assert_eq!(
            t,
            [
                Threshold::Percent(10.0),
                Threshold::Absolute(2 << 30),
                Threshold::Absolute(4096),
                Threshold::Percent(5.5),
                Threshold::Absolute(7)
            ]
        );
        for bad in [
            r#""0%""#,
            r#""101%""#,
            r#"0"#,
            r#"{"percent": 0}"#,
            r#"{"percent": 250}"#,
            r#"{"percent": -1}"#,
            r#"{"absolute": 0}"#,
            r#"{"other": 1}"#,
        ] {
            assert!(serde_json::from_str::<Threshold>(bad).is_err(), "{bad}");
        }
        // NaN has no JSON form; a serializer that writes it gets null, which is refused.
        assert!(serde_json::from_str::<Threshold>(r#"{"percent": null}"#).is_err());
    }
}
