//! Property tests over every parser of text or bytes the host or the user supplies.
//!
//! They live inside the crate so they keep reaching the parsers when those become
//! `pub(crate)`. Every parser gets three kinds of input: arbitrary strings or bytes (it
//! must never panic), near-valid input (a valid line with one field mangled: empty,
//! negative, `u64::MAX`, one past it, huge, non-ASCII), and, where an inverse exists, a
//! round trip (format, then parse, gives the value back).
//!
//! The case counts are set per test so the whole suite stays under ~30 s in a debug build
//! on the project's 2-core machine; `PROPTEST_CASES=N` runs every test with N cases for a
//! deeper search. Failures are not persisted to files: each panic a property found is
//! pinned by a plain regression test beside it, named for the input.

mod container;
mod host;
mod initd;
mod package;
mod package_dpkg;
mod podman;
mod port;
mod port_diag;
mod reboot;
mod size;
mod swap;
mod swap_file;

use proptest::prelude::*;
use proptest::test_runner::Config;

/// A configuration with `cases` cases (or `PROPTEST_CASES` when set) and no failure
/// files written into the source tree.
pub(crate) fn cfg(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Arbitrary text: any Unicode, printable ASCII with line breaks, or digits and
/// separators, so that line- and field-based parsers see both noise and near-misses.
pub(crate) fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~\t\n]{0,300}",
        "[0-9a-fA-F :./=()\\-\n]{0,300}",
    ]
}

/// One token of the kind that breaks number and field parsers.
pub(crate) fn weird_token() -> impl Strategy<Value = String> {
    let fixed: Vec<String> = [
        "",
        "-",
        "-1",
        "-0",
        "+1",
        "0",
        "00000000000000000000000000000001",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999999999999999999999999",
        "-9223372036854775808",
        "-9223372036854775809",
        "2147483647",
        "2147483648",
        "-2147483649",
        "4294967295",
        "4294967296",
        "65535",
        "65536",
        "1e400",
        "1e20",
        "NaN",
        "inf",
        "-inf",
        "0x10",
        "1.5",
        "..",
        "é",
        "\u{0}",
        "\u{FEFF}",
        "(",
        ")",
        ":",
        "=",
        "%",
        "\\",
        "\\777",
        "\r",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    prop_oneof![
        proptest::sample::select(fixed),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        "[0-9]{15,40}",
        "\\PC{0,12}",
    ]
}

/// `fields` with one of them replaced by a weird token, dropped, or a weird token
/// inserted before it.
pub(crate) fn mangle(fields: Vec<String>) -> impl Strategy<Value = Vec<String>> {
    let n = fields.len().max(1);
    (0..n, weird_token(), 0..3u8).prop_map(move |(i, tok, how)| {
        let mut f = fields.clone();
        if f.is_empty() {
            return vec![tok];
        }
        match how {
            0 => f[i] = tok,
            1 => {
                f.remove(i);
            }
            _ => f.insert(i, tok),
        }
        f
    })
}

/// Lines from `line`, joined by newlines (with or without a final one).
pub(crate) fn lines_of<S>(line: S, max: usize) -> impl Strategy<Value = String>
where
    S: Strategy<Value = String>,
{
    (proptest::collection::vec(line, 0..max), any::<bool>()).prop_map(|(ls, nl)| {
        let mut s = ls.join("\n");
        if nl {
            s.push('\n');
        }
        s
    })
}

/// A valid line's fields, sometimes mangled, joined by `sep`.
pub(crate) fn maybe_mangled<S>(fields: S, sep: &'static str) -> impl Strategy<Value = String>
where
    S: Strategy<Value = Vec<String>> + 'static,
{
    let fields = fields.boxed();
    prop_oneof![
        fields.clone().prop_map(move |f| f.join(sep)),
        fields.prop_flat_map(mangle).prop_map(move |f| f.join(sep)),
    ]
}

/// Field names of the JSON hostfix and the engine write, so that arbitrary objects often
/// hit a real field with a value of the wrong type.
const JSON_KEYS: [&str; 24] = [
    "version",
    "entries",
    "id",
    "key",
    "reason",
    "boot_id",
    "machine_id",
    "started_at",
    "delay_secs",
    "method",
    "state",
    "requested_at",
    "Id",
    "ID",
    "Name",
    "Names",
    "State",
    "Status",
    "Pid",
    "HostConfig",
    "PortBindings",
    "HostPort",
    "packages",
    "name",
];

/// Arbitrary JSON, nested a few levels, with keys that are often real field names.
pub(crate) fn json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(Value::from(u64::MAX)),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    let key = prop_oneof![
        proptest::sample::select(JSON_KEYS.to_vec()).prop_map(String::from),
        "\\PC{0,8}",
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// `v` (an object) with one of its fields replaced by arbitrary JSON or removed.
pub(crate) fn mangle_json(v: serde_json::Value) -> impl Strategy<Value = serde_json::Value> {
    let keys: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let n = keys.len().max(1);
    (0..n, json(), any::<bool>()).prop_map(move |(i, other, remove)| {
        let mut v = v.clone();
        if let (Some(o), Some(k)) = (v.as_object_mut(), keys.get(i)) {
            if remove {
                o.remove(k);
            } else {
                o.insert(k.clone(), other);
            }
        }
        v
    })
}
