//! The `hostfix container rm` command line, end to end: exit codes, JSON and the human
//! report, against a scripted `docker` placed under `--root` (no engine runs here).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn id() -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/container/ID"),
    )
    .unwrap()
    .trim()
    .to_string()
}

/// A `docker` that knows one container, `web`, whose state lives in `ROOT/state`:
/// `running`, `exited`, `gone`, or `stuck` (every stop, kill and rm fails with the
/// incident's message).
const FAKE_DOCKER: &str = r#"#!/bin/sh
dir=$(cd "$(dirname "$0")/../.." && pwd)
state=$(cat "$dir/state")
id=__ID__
echo "$*" >> "$dir/docker.log"
running=false
case "$state" in running|stuck) running=true;; esac
status=$state
[ "$state" = stuck ] && status=running
case "$1" in
ps)
  [ "$state" = gone ] || printf '{"ID":"%s","Names":"web","Image":"busybox","State":"%s","Status":"Up 1 minute","Ports":""}\n' "$id" "$status"
  ;;
container)
  t=$5
  if [ "$state" = gone ] || { [ "$t" != web ] && [ "${id#"$t"}" = "$id" ]; }; then
    echo "Error response from daemon: No such container: $t" >&2; exit 1
  fi
  printf '{"Id":"%s","Name":"/web","State":{"Status":"%s","Running":%s,"Pid":0}}\n' "$id" "$status" "$running"
  ;;
info) echo false ;;
stop|kill)
  if [ "$state" = stuck ]; then
    echo "Error response from daemon: cannot $1 container: web: tried to kill container, but did not receive an exit event" >&2; exit 1
  fi
  echo exited > "$dir/state"; echo "$id"
  ;;
rm)
  if [ "$state" = stuck ]; then
    echo "Error response from daemon: Could not kill running container $id, cannot remove - tried to kill container, but did not receive an exit event" >&2; exit 1
  fi
  if [ "$state" = running ] && [ "$2" != -f ]; then
    echo 'Error response from daemon: cannot remove container "/web": container is running: stop the container before removing or force remove' >&2; exit 1
  fi
  echo gone > "$dir/state"; echo "$id"
  ;;
*) echo "fake docker: unknown command $*" >&2; exit 2 ;;
esac
"#;

struct Root {
    _tmp: tempfile::TempDir,
    path: PathBuf,
}

fn root(state: &str) -> Root {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().to_path_buf();
    let bin = path.join("usr/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(path.join("proc/sys/kernel/random")).unwrap();
    std::fs::write(
        path.join("proc/sys/kernel/random/boot_id"),
        "0b5e2f7a-3c1d-4e8f-9a6b-2d4c6e8f0a1b\n",
    )
    .unwrap();
    std::fs::create_dir_all(path.join("run/systemd/system")).unwrap();
    let docker = bin.join("docker");
    std::fs::write(&docker, FAKE_DOCKER.replace("__ID__", &id())).unwrap();
    std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).unwrap();
    if let Ok(t) = which::which("timeout") {
        std::os::unix::fs::symlink(t, bin.join("timeout")).unwrap();
    }
    std::fs::write(path.join("state"), format!("{state}\n")).unwrap();
    Root { _tmp: tmp, path }
}

fn hostfix(root: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hostfix"))
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn json(root: &Path, args: &[&str]) -> (i32, serde_json::Value) {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let (code, out) = hostfix(root, &a);
    (
        code,
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}")),
    )
}

fn log(root: &Path) -> String {
    std::fs::read_to_string(root.join("docker.log")).unwrap_or_default()
}

#[test]
fn removes_then_changes_nothing() {
    let r = root("running");
    let (code, j) = json(&r.path, &["container", "rm", "web"]);
    assert_eq!(code, 0, "{j:#}");
    assert_eq!(j["operation"], "container rm");
    assert_eq!(j["changed"], true);
    assert_eq!(j["removed_by"], "stop");
    assert_eq!(j["gone"], true);
    assert_eq!(j["id"], id());
    assert_eq!(
        std::fs::read_to_string(r.path.join("state"))
            .unwrap()
            .trim(),
        "gone"
    );
    assert!(log(&r.path).contains(&format!("stop -t 10 {}", id())));

    let (code, j) = json(&r.path, &["container", "rm", "web"]);
    assert_eq!(code, 0);
    assert_eq!(j["changed"], false);
    assert_eq!(j["already_gone"], true);
}

#[test]
fn the_stop_grace_is_passed_on() {
    let r = root("running");
    let (code, _) = json(&r.path, &["container", "rm", "web", "--timeout", "2m"]);
    assert_eq!(code, 0);
    assert!(log(&r.path).contains(&format!("stop -t 120 {}", id())));
}

#[test]
fn a_stuck_container_stops_at_the_cap_and_names_the_next_rung() {
    let r = root("stuck");
    let (code, j) = json(&r.path, &["container", "rm", "web"]);
    assert_eq!(code, 3, "{j:#}");
    assert_eq!(j["outcome"], "refused");
    assert_eq!(j["next"]["rung"], "restart-engine");
    assert_eq!(j["next"]["risk"], "destructive");
    let steps = j["steps"].as_array().unwrap();
    let failed: Vec<&serde_json::Value> =
        steps.iter().filter(|s| s["status"] == "failed").collect();
    assert_eq!(failed.len(), 3);
    // The engine's own words are kept.
    assert!(
        failed[2]["detail"]
            .as_str()
            .unwrap()
            .contains("did not receive an exit event")
    );
    // The human report names the rung it would need and its risk.
    let (code, text) = hostfix(&r.path, &["container", "rm", "web"]);
    assert_eq!(code, 3);
    assert!(
        text.contains("next rung: restart-engine (risk destructive)"),
        "{text}"
    );
    assert!(text.contains("needs --max-risk destructive"), "{text}");
}

#[test]
fn dry_run_and_bad_input() {
    let r = root("running");
    let (code, j) = json(&r.path, &["container", "rm", "web", "--dry-run"]);
    assert_eq!(code, 0, "{j:#}");
    assert_eq!(j["dry_run"], true);
    let steps = j["steps"].as_array().unwrap();
    let planned: Vec<&str> = steps
        .iter()
        .filter(|s| s["status"] == "planned")
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert!(planned[0].starts_with("docker stop"), "{j:#}");
    assert!(planned.len() >= 3, "every rung under the cap: {j:#}");
    assert_eq!(j["next"]["risk"], "destructive", "{j:#}");
    assert!(!log(&r.path).contains("stop"));
    assert_eq!(
        std::fs::read_to_string(r.path.join("state"))
            .unwrap()
            .trim(),
        "running"
    );

    let (code, j) = json(&r.path, &["container", "rm", "web;reboot"]);
    assert_eq!(code, 2);
    assert_eq!(j["outcome"], "bad-input");
    let (code, _) = hostfix(&r.path, &["container", "rm", "web", "--timeout", "soon"]);
    assert_eq!(code, 2);
}
