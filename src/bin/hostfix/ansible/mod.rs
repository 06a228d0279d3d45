//! Ansible binary-module mode.
//!
//! Ansible copies a binary module to the target and runs it with one argument: the path of
//! a JSON file of module arguments. hostfix recognises that form, turns the arguments into
//! its own command line, runs itself, and prints Ansible's result JSON: `changed`,
//! `failed`, `msg`, `rc`, plus hostfix's own report fields.
//!
//! Arguments: `command` (the subcommand words: `"swap ensure"`, `"port free"`, `"check"`,
//! `"reboot"`, `"container rm"`, `"doctor"`), the positional ones (`port`, `name`), and
//! every other key as a flag (`size: 1G` → `--size=1G`; `remove_package: true` →
//! `--remove-package`; a list repeats the flag). `_ansible_check_mode` becomes `--dry-run`.
//!
//! # When the one argument is a module-arguments file
//!
//! The file's arguments are run as root (a `when` condition is a shell command), so the
//! form must be unmistakably Ansible's ([`detect`]):
//!
//! - a subcommand name (`doctor`, `check`, ..., `help`) always means that subcommand, even
//!   when a file of that name is in the working directory;
//! - the file is opened without following a link or blocking (`O_NOFOLLOW|O_NONBLOCK`)
//!   relative to its directory, and judged by `fstat` on the descriptors: a regular file,
//!   not writable by group or others, owned by the caller (the effective uid) or by the
//!   owner of the hostfix binary that runs (Ansible's `become` runs a binary and an args
//!   file that the login user copied to `~/.ansible/tmp`; whoever owns the running binary
//!   already decides what runs);
//! - its directory is owned by root or one of those users, and no one else can write to
//!   it unless it has the sticky bit (Ansible makes `~/.ansible/tmp/ansible-tmp-*` 0700);
//! - it is a JSON object with the keys Ansible has added to every module's arguments
//!   since 2.9 ([`ANSIBLE_KEYS`](args_file::ANSIBLE_KEYS)), and when `_ansible_tmpdir` names a directory, the file
//!   is in it (Ansible writes `<tmpdir>/args`).
//!
//! Anything else is bad input: exit 2, one JSON object on stdout, nothing run.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use serde_json::{Map, Value, json};

mod args_file;

pub use args_file::load;

/// Keys passed as positional arguments, in this order, instead of flags.
const POSITIONAL: [&str; 2] = ["port", "name"];

/// How hostfix was called.
#[derive(Debug)]
pub enum Invocation {
    /// A command line for clap.
    Cli,
    /// Ansible's form: the module arguments, or why the file is not accepted.
    Module(Result<Map<String, Value>, String>),
}

/// Tells Ansible's form from a command line. `subcommands` are the top-level command
/// names: an argument that is one of them is never a file.
pub fn detect(argv: &[OsString], subcommands: &[String]) -> Invocation {
    let [_, arg] = argv else {
        return Invocation::Cli;
    };
    if arg.as_encoded_bytes().starts_with(b"-")
        || subcommands.iter().any(|n| arg.as_os_str() == n.as_str())
    {
        return Invocation::Cli;
    }
    let path = Path::new(arg);
    // Nothing there: an unknown subcommand, which clap reports.
    if std::fs::symlink_metadata(path).is_err() {
        return Invocation::Cli;
    }
    Invocation::Module(load(path))
}

/// Reports a refused args file: one JSON object on stdout (Ansible's `failed`, `msg`,
/// `rc` and the CLI's contract fields), the reason on stderr, exit 2.
pub fn refuse(why: &str) -> i32 {
    let doc = json!({
        "operation": "ansible module",
        "changed": false,
        "dry_run": false,
        "outcome": "bad-input",
        "exit_code": 2,
        "error": why,
        "steps": [],
        "failed": true,
        "msg": why,
        "rc": 2,
    });
    crate::output::out(&format!("{doc}\n"));
    crate::output::err(&format!("hostfix: bad input: {why}\n"));
    2
}

/// Builds hostfix's own arguments from module arguments: the command words, every flag
/// as one `--flag=value` word (a value can never become a flag of its own), the global
/// flags, then `--` and the positional arguments.
///
/// # Errors
/// A message for Ansible when `command` is missing, a key is not a flag name, or a value
/// has an unusable type or holds a NUL.
pub fn to_argv(m: &Map<String, Value>) -> Result<Vec<String>, String> {
    let command = m
        .get("command")
        .and_then(Value::as_str)
        .ok_or("missing \"command\": one of doctor, check, \"swap ensure\", \"swap remove\", \"port who\", \"port free\", reboot, \"container rm\"")?;
    let mut argv: Vec<String> = command.split_whitespace().map(str::to_string).collect();
    if argv.is_empty()
        || argv
            .iter()
            .any(|w| !w.chars().all(|c| c.is_ascii_lowercase()))
    {
        return Err(format!(
            "argument \"command\": {command:?} is not a hostfix command; expected doctor, \
             check, \"swap ensure\", \"port free\", reboot, \"container rm\", ..."
        ));
    }
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    for key in keys {
        if key == "command" || POSITIONAL.contains(&key.as_str()) || key.starts_with('_') {
            continue;
        }
        if !key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(format!(
                "argument {key:?}: not a hostfix flag name (lowercase letters, digits, _)"
            ));
        }
        let flag = format!("--{}", key.replace('_', "-"));
        match &m[key] {
            Value::Null | Value::Bool(false) => {}
            Value::Bool(true) => argv.push(flag),
            Value::Array(items) => {
                for it in items {
                    argv.push(format!("{flag}={}", scalar(key, it)?));
                }
            }
            v => argv.push(format!("{flag}={}", scalar(key, v)?)),
        }
    }
    if m.get("_ansible_check_mode").and_then(Value::as_bool) == Some(true) {
        argv.push("--dry-run".into());
    }
    if m.get("_ansible_verbosity")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        >= 3
    {
        argv.push("-v".into());
    }
    argv.push("--json".into());
    let mut positional = Vec::new();
    for key in POSITIONAL {
        if let Some(v) = m.get(key) {
            positional.push(scalar(key, v)?);
        }
    }
    if !positional.is_empty() {
        argv.push("--".into());
        argv.extend(positional);
    }
    Ok(argv)
}

fn scalar(key: &str, v: &Value) -> Result<String, String> {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => {
            return Err(format!(
                "argument {key:?}: expected a string, number or boolean, got {v}"
            ));
        }
    };
    if s.contains('\0') {
        return Err(format!("argument {key:?}: holds a NUL character"));
    }
    Ok(s)
}

/// Turns hostfix's exit code and JSON report into Ansible's result.
pub fn to_result(code: i32, stdout: &str, stderr: &str) -> Value {
    let mut out = match serde_json::from_str::<Value>(stdout) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let error = out.get("error").and_then(Value::as_str).map(str::to_string);
    let operation = out
        .get("operation")
        .and_then(Value::as_str)
        .unwrap_or("hostfix")
        .to_string();
    let changed = out.get("changed").and_then(Value::as_bool).unwrap_or(false);
    let msg = match (code, error) {
        (0, _) => format!("{operation}: {}", if changed { "changed" } else { "ok" }),
        (_, Some(e)) => format!("{operation}: {e}"),
        (_, None) => format!("{operation}: exit {code}: {}", stderr.trim()),
    };
    out.insert("changed".into(), json!(changed));
    out.insert("failed".into(), json!(code != 0));
    out.insert("msg".into(), json!(msg));
    out.insert("rc".into(), json!(code));
    if !stderr.trim().is_empty() {
        out.insert("stderr".into(), json!(stderr));
    }
    Value::Object(out)
}

/// Runs hostfix as an Ansible module and prints the result; always exits 0 (Ansible reads
/// `failed` from the JSON).
pub fn run(m: &Map<String, Value>) -> i32 {
    let result = match to_argv(m) {
        Err(msg) => json!({"changed": false, "failed": true, "msg": msg, "rc": 2}),
        Ok(argv) => {
            match std::env::current_exe().and_then(|exe| Command::new(exe).args(&argv).output()) {
                Ok(out) => to_result(
                    out.status.code().unwrap_or(1),
                    &String::from_utf8_lossy(&out.stdout),
                    &String::from_utf8_lossy(&out.stderr),
                ),
                Err(e) => {
                    json!({"changed": false, "failed": true, "msg": format!("cannot run hostfix: {e}"), "rc": 1})
                }
            }
        }
    };
    crate::output::out(&format!("{result}\n"));
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn arguments_become_a_command_line() {
        let m = args(json!({
            "command": "port free", "port": 80, "remove_package": true, "udp": false,
            "_ansible_check_mode": true, "_ansible_module_name": "hostfix"
        }));
        assert_eq!(
            to_argv(&m).unwrap(),
            [
                "port",
                "free",
                "--remove-package",
                "--dry-run",
                "--json",
                "--",
                "80"
            ]
        );
        let m = args(
            json!({"command": "check", "disk_free": ["/=1G", "/var=10%"], "mem_available": "10%"}),
        );
        assert_eq!(
            to_argv(&m).unwrap(),
            [
                "check",
                "--disk-free=/=1G",
                "--disk-free=/var=10%",
                "--mem-available=10%",
                "--json"
            ]
        );
        assert!(to_argv(&args(json!({"size": "1G"}))).is_err());
        assert!(to_argv(&args(json!({"command": "swap ensure", "size": {"a": 1}}))).is_err());
        // A value never becomes a flag; keys and values that could not be flags fail.
        assert_eq!(
            to_argv(&args(json!({"command": "reboot", "reason": "--root=/x"}))).unwrap(),
            ["reboot", "--reason=--root=/x", "--json"]
        );
        for bad in [
            json!({"command": "reboot", "reason --root": "x"}),
            json!({"command": "reboot", "reason": "a\u{0}b"}),
            json!({"command": "--root /x"}),
            json!({"command": ""}),
        ] {
            assert!(to_argv(&args(bad.clone())).is_err(), "{bad}");
        }
    }

    #[test]
    fn reports_become_ansible_results() {
        let r = to_result(
            0,
            r#"{"operation":"swap ensure","changed":true,"error":null}"#,
            "",
        );
        assert_eq!(r["changed"], true);
        assert_eq!(r["failed"], false);
        assert_eq!(r["msg"], "swap ensure: changed");
        let r = to_result(
            3,
            r#"{"operation":"port free","changed":false,"error":"pid 1 is protected: init"}"#,
            "",
        );
        assert_eq!(r["failed"], true);
        assert_eq!(r["rc"], 3);
        assert_eq!(r["msg"], "port free: pid 1 is protected: init");
        let r = to_result(2, "", "error: invalid value");
        assert_eq!(r["failed"], true);
        assert!(r["msg"].as_str().unwrap().contains("invalid value"));
    }
}
