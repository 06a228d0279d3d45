//! hostfix as an Ansible binary module: one argument, a JSON file of module arguments.
//!
//! The form is accepted only when it is unmistakably Ansible's: the file is a regular file
//! owned by the caller (or the binary's owner), writable by no one else, in a directory no
//! one else can write to (unless sticky), with the `_ansible_*` keys Ansible adds to every
//! module's arguments. Anything else is bad input: exit 2, one JSON object, nothing run.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn hostfix() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hostfix"))
}

/// `hostfix NAME` alone (the one-argument call Ansible's module mode looks like) in `dir`.
/// `hostfix reboot` alone asks for a real reboot of the machine running the test: as root
/// it runs as `nobody`, who is refused ("needs root") before anything is done, so the
/// test machine is never asked to reboot; what is tested, that the name is the subcommand
/// and the planted file is never read as module arguments, does not depend on the user.
fn bare_subcommand(name: &str, dir: &Path) -> Command {
    let mut cmd = hostfix();
    cmd.arg(name).current_dir(dir);
    if name == "reboot" && nix::unistd::geteuid().is_root() {
        use std::os::unix::process::CommandExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        cmd.uid(65534).gid(65534);
    }
    cmd
}

/// Module arguments as Ansible 2.19 writes them (seen in a real `args` file), for an args
/// file in `dir`.
fn ansible_args(dir: &Path, task: Value) -> Value {
    let mut m = json!({
        "_ansible_check_mode": false,
        "_ansible_no_log": false,
        "_ansible_debug": false,
        "_ansible_diff": false,
        "_ansible_verbosity": 0,
        "_ansible_version": "2.19.14",
        "_ansible_module_name": "hostfix",
        "_ansible_syslog_facility": "LOG_USER",
        "_ansible_selinux_special_fs": ["fuse", "nfs", "vboxsf", "ramfs", "9p", "vfat"],
        "_ansible_socket": null,
        "_ansible_shell_executable": "/bin/sh",
        "_ansible_keep_remote_files": false,
        "_ansible_tmpdir": format!("{}/", dir.display()),
        "_ansible_remote_tmp": "~/.ansible/tmp",
        "_ansible_ignore_unknown_opts": false,
        "_ansible_target_log_info": null,
        "_ansible_tracebacks_for": [],
    });
    for (k, v) in task.as_object().unwrap() {
        m[k] = v.clone();
    }
    m
}

/// Runs hostfix with one argument; returns the exit code, the one JSON object on stdout,
/// and stderr.
fn run_with(arg: &Path, cwd: &Path) -> (i32, Value, String) {
    let out = hostfix().arg(arg).current_dir(cwd).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {stdout}"));
    (
        out.status.code().unwrap(),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Writes an Ansible-style args file (0600 in a fresh 0700 directory) and runs it.
fn module(task: Value) -> (i32, Value) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("args");
    std::fs::write(&p, ansible_args(dir.path(), task).to_string()).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, v, _) = run_with(&p, dir.path());
    (code, v)
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn skip_unless_root(test: &str) -> bool {
    if is_root() {
        return false;
    }
    eprintln!("SKIPPED {test}: needs root (chown to another user)");
    assert!(
        std::env::var("HOSTFIX_REQUIRE_ROOT").as_deref() != Ok("1"),
        "{test}: HOSTFIX_REQUIRE_ROOT=1 but not root"
    );
    true
}

/// Asserts a refusal: exit 2, the contract's fields, Ansible's `failed`, and the reason.
fn assert_refused(code: i32, v: &Value, needle: &str) {
    assert_eq!(code, 2, "{v}");
    assert_eq!(v["outcome"], "bad-input", "{v}");
    assert_eq!(v["exit_code"], 2, "{v}");
    assert_eq!(v["changed"], false, "{v}");
    assert_eq!(v["steps"], json!([]), "{v}");
    assert_eq!(v["failed"], true, "{v}");
    assert_eq!(v["rc"], 2, "{v}");
    let err = v["error"].as_str().unwrap();
    assert!(err.contains(needle), "{needle:?} not in {err}");
}

#[test]
fn a_passing_check_is_ok_and_unchanged() {
    let (code, v) = module(json!({"command": "check", "mem_available": "1", "disk_free": ["/=1"]}));
    assert_eq!(code, 0);
    assert_eq!(v["failed"], false);
    assert_eq!(v["changed"], false);
    assert_eq!(v["checks"].as_array().unwrap().len(), 2);
    assert_eq!(v["msg"], "check: ok");
}

#[test]
fn a_failing_check_fails_with_the_reason() {
    let (code, v) = module(json!({"command": "check", "mem_available": "100%"}));
    assert_eq!(code, 0, "Ansible reads failure from the JSON");
    assert_eq!(v["failed"], true);
    assert_eq!(v["rc"], 1);
    assert!(v["msg"].as_str().unwrap().contains("below 100%"), "{v}");
}

#[test]
fn check_mode_becomes_a_dry_run_and_bad_arguments_fail() {
    let (_, v) = module(json!({"command": "doctor", "_ansible_check_mode": true}));
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["failed"], false);
    let (_, v) = module(json!({"mem_available": "10%"}));
    assert_eq!(v["failed"], true);
    assert!(v["msg"].as_str().unwrap().contains("command"));
    let (_, v) = module(json!({"command": "check", "disk_free": "/=bogus"}));
    assert_eq!(v["failed"], true);
    assert_eq!(v["rc"], 2);
    // A value is never a flag of its own: "--max-risk" as a reason stays a reason.
    let (_, v) = module(json!({"command": "check", "mem_available": "--max-risk=reboot"}));
    assert_eq!(v["rc"], 2, "{v}");
}

/// The case: root runs `hostfix doctor` in a directory where someone wrote a JSON
/// file named `doctor` (with every Ansible key, even). The subcommand wins; the file's
/// `when` command never runs.
#[test]
fn a_subcommand_name_is_always_the_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let state = dir.path().join("state");
    for name in ["doctor", "check", "reboot", "help"] {
        let planted = ansible_args(
            dir.path(),
            json!({
                "command": "reboot",
                "when": format!("touch {}", marker.display()),
                "max_risk": "read-only",
                "state_dir": state.display().to_string(),
                "_ansible_check_mode": true,
            }),
        );
        std::fs::write(dir.path().join(name), planted.to_string()).unwrap();
        std::fs::set_permissions(
            dir.path().join(name),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let out = bare_subcommand(name, dir.path()).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!marker.exists(), "{name}: the planted file's command ran");
        assert!(
            !text.contains("\"operation\": \"reboot\"") && !text.contains("\"rc\""),
            "{name}: ran as a module: {text}"
        );
    }
    // `check` alone is bad input (no threshold), `doctor` runs, `help` prints help.
    let code = |name: &str| {
        bare_subcommand(name, dir.path())
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(code("check"), Some(2));
    assert_eq!(code("help"), Some(0));
}

#[test]
fn files_others_can_write_or_that_are_not_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let marker = d.join("pwned");
    let task = json!({"command": "reboot", "when": format!("touch {}", marker.display()),
                      "max_risk": "read-only", "_ansible_check_mode": true,
                      "state_dir": d.join("state").display().to_string()});
    let write = |name: &str, mode: u32| -> PathBuf {
        let p = d.join(name);
        std::fs::write(&p, ansible_args(d, task.clone()).to_string()).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    };
    let (code, v, _) = run_with(&write("group-writable", 0o620), d);
    assert_refused(code, &v, "others can write to it");
    let (code, v, _) = run_with(&write("world-writable", 0o606), d);
    assert_refused(code, &v, "others can write to it");
    let target = write("target", 0o600);
    symlink(&target, d.join("link")).unwrap();
    let (code, v, _) = run_with(&d.join("link"), d);
    assert_refused(code, &v, "symbolic link");
    nix::unistd::mkfifo(
        &d.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let t = Instant::now();
    let (code, v, _) = run_with(&d.join("fifo"), d);
    assert!(t.elapsed() < Duration::from_secs(20), "blocked on the FIFO");
    assert_refused(code, &v, "FIFO");
    std::fs::create_dir(d.join("subdir")).unwrap();
    let (code, v, _) = run_with(&d.join("subdir"), d);
    assert_refused(code, &v, "directory");
    // A directory others can write to, without the sticky bit.
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, v, _) = run_with(&target, d);
    assert_refused(code, &v, "others could have put the file there");
    assert!(!marker.exists(), "a refused file's command ran");
}

#[test]
fn files_without_ansibles_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let marker = d.join("pwned");
    let task = json!({"command": "reboot", "when": format!("touch {}", marker.display()),
                      "max_risk": "read-only", "_ansible_check_mode": true,
                      "state_dir": d.join("state").display().to_string()});
    let full = ansible_args(d, task.clone());
    let cases: Vec<(Value, &str)> = vec![
        (task.clone(), "_ansible_module_name"),
        (
            {
                let mut v = full.clone();
                v.as_object_mut().unwrap().remove("_ansible_version");
                v
            },
            "_ansible_version",
        ),
        (
            {
                let mut v = full.clone();
                v["_ansible_verbosity"] = json!("3");
                v
            },
            "_ansible_verbosity",
        ),
        (
            {
                let mut v = full.clone();
                v["_ansible_tmpdir"] = json!("/root/.ansible/tmp/ansible-tmp-1-2-3/");
                v
            },
            "_ansible_tmpdir",
        ),
        (json!(["not", "an", "object"]), "not a JSON object"),
    ];
    for (i, (doc, needle)) in cases.into_iter().enumerate() {
        let p = d.join(format!("args{i}"));
        std::fs::write(&p, doc.to_string()).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let (code, v, _) = run_with(&p, d);
        assert_refused(code, &v, needle);
    }
    std::fs::write(d.join("garbage"), b"\xff\xfe{").unwrap();
    let (code, v, _) = run_with(&d.join("garbage"), d);
    assert_refused(code, &v, "not JSON");
    assert!(!marker.exists(), "a refused file's command ran");
}

/// A sticky world-writable directory (`/tmp`) is fine: only the file's owner can replace
/// the file there.
#[test]
fn an_own_file_in_a_sticky_directory_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let p = d.join("args");
    let doc = ansible_args(d, json!({"command": "check", "mem_available": "1"}));
    std::fs::write(&p, doc.to_string()).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, v, _) = run_with(&p, d);
    assert_eq!((code, &v["failed"]), (0, &json!(false)), "{v}");
    assert_eq!(v["operation"], "check");
}

#[test]
fn a_file_of_another_user_is_refused() {
    if skip_unless_root("a_file_of_another_user_is_refused") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let marker = d.join("pwned");
    let p = d.join("args");
    let doc = ansible_args(
        d,
        json!({"command": "reboot", "when": format!("touch {}", marker.display()),
               "max_risk": "read-only", "_ansible_check_mode": true,
               "state_dir": d.join("state").display().to_string()}),
    );
    std::fs::write(&p, doc.to_string()).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(&p, Some(65534), Some(65534)).unwrap();
    let (code, v, _) = run_with(&p, d);
    assert_refused(code, &v, "owned by uid 65534");
    assert!(!marker.exists(), "another user's command ran as root");
}

/// Ansible with `become`: the login user copies the binary and the args file into their
/// own 0700 `~/.ansible/tmp/ansible-tmp-*`, and root runs that binary. Files of the
/// binary's owner are trusted (they already decide what runs).
#[test]
fn become_root_trusts_the_owner_of_the_binary() {
    if skip_unless_root("become_root_trusts_the_owner_of_the_binary") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("ansible-tmp-1-2-3");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o700)).unwrap();
    let exe = tmp.join("AnsiballZ_hostfix");
    std::fs::copy(env!("CARGO_BIN_EXE_hostfix"), &exe).unwrap();
    let args = tmp.join("args");
    let doc = ansible_args(&tmp, json!({"command": "check", "mem_available": "1"}));
    std::fs::write(&args, doc.to_string()).unwrap();
    std::fs::set_permissions(&args, std::fs::Permissions::from_mode(0o744)).unwrap();
    for p in [&tmp, &exe, &args] {
        std::os::unix::fs::chown(p, Some(65534), Some(65534)).unwrap();
    }
    let out = run_copied_binary(Command::new(&exe).arg(&args).stdin(Stdio::null()));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{v}");
    assert_eq!(v["failed"], false, "{v}");
    assert_eq!(v["operation"], "check");
    // The same file run by the root-owned binary is refused.
    let (code, v, _) = run_with(&args, &tmp);
    assert_refused(code, &v, "owned by uid 65534");
}

/// Runs a binary this test just copied. Another test thread may fork while the copy's
/// file is still open for writing; its child holds the write descriptor until it execs,
/// and exec of the copy fails with ETXTBSY in that window. Retried for up to 5 s.
fn run_copied_binary(cmd: &mut Command) -> std::process::Output {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match cmd.output() {
            Err(e)
                if e.raw_os_error() == Some(libc::ETXTBSY)
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            r => return r.unwrap(),
        }
    }
}
