//! Ansible binary-module mode.
//!
//! Ansible copies a binary module to the target and runs it with one argument: the path of
//! a JSON file of module arguments. hostfix recognises that form, turns the arguments into
//! its own command line, runs itself, and prints Ansible's result JSON: `changed`,
//! `failed`, `msg`, `rc`, plus hostfix's own report fields.
//!
//! Arguments: `command` (the subcommand words: `"swap ensure"`, `"port free"`, `"check"`,
//! `"reboot"`, `"container rm"`, `"doctor"`), the positional ones (`port`, `name`), and
//! every other key as a flag (`size: 1G` → `--size 1G`; `remove_package: true` →
//! `--remove-package`; a list repeats the flag). `_ansible_check_mode` becomes `--dry-run`.

use std::path::Path;
use std::process::Command;

use serde_json::{Map, Value, json};

/// Keys passed as positional arguments, in this order, instead of flags.
const POSITIONAL: [&str; 2] = ["port", "name"];

/// Whether the process was started the way Ansible starts a binary module: exactly one
/// argument, naming a file that holds a JSON object.
pub fn module_args(args: &[String]) -> Option<Map<String, Value>> {
    if args.len() != 2 || args[1].starts_with('-') {
        return None;
    }
    let path = Path::new(&args[1]);
    if !path.is_file() {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    match serde_json::from_str::<Value>(&text).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// Builds hostfix's own arguments from module arguments.
///
/// # Errors
/// A message for Ansible when `command` is missing or a value has an unusable type.
pub fn to_argv(m: &Map<String, Value>) -> Result<Vec<String>, String> {
    let command = m
        .get("command")
        .and_then(Value::as_str)
        .ok_or("missing \"command\": one of doctor, check, \"swap ensure\", \"swap remove\", \"port who\", \"port free\", reboot, \"container rm\"")?;
    let mut argv: Vec<String> = command.split_whitespace().map(str::to_string).collect();
    for key in POSITIONAL {
        if let Some(v) = m.get(key) {
            argv.push(scalar(key, v)?);
        }
    }
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    for key in keys {
        if key == "command" || POSITIONAL.contains(&key.as_str()) || key.starts_with('_') {
            continue;
        }
        let flag = format!("--{}", key.replace('_', "-"));
        match &m[key] {
            Value::Null | Value::Bool(false) => {}
            Value::Bool(true) => argv.push(flag),
            Value::Array(items) => {
                for it in items {
                    argv.push(flag.clone());
                    argv.push(scalar(key, it)?);
                }
            }
            v => {
                argv.push(flag);
                argv.push(scalar(key, v)?);
            }
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
    Ok(argv)
}

fn scalar(key: &str, v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(format!(
            "argument {key:?}: expected a string, number or boolean, got {v}"
        )),
    }
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
    println!("{result}");
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
                "80",
                "--remove-package",
                "--dry-run",
                "--json"
            ]
        );
        let m = args(
            json!({"command": "check", "disk_free": ["/=1G", "/var=10%"], "mem_available": "10%"}),
        );
        assert_eq!(
            to_argv(&m).unwrap(),
            [
                "check",
                "--disk-free",
                "/=1G",
                "--disk-free",
                "/var=10%",
                "--mem-available",
                "10%",
                "--json"
            ]
        );
        assert!(to_argv(&args(json!({"size": "1G"}))).is_err());
        assert!(to_argv(&args(json!({"command": "swap ensure", "size": {"a": 1}}))).is_err());
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
