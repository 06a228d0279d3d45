//! Real clients: cloud-init runs hostfix at first boot, Ansible runs it across hosts.
//!
//! - cloud-init: the guest boots with Debian's cloud-init on and a NoCloud seed disk
//!   (vfat, label `cidata`) carrying `examples/cloud-init/user-data.yaml` verbatim, its
//!   `meta-data` and the `.deb` built by `packaging/deb/build.sh`. The scenario script
//!   (`scenarios/cloud-init.sh`) only watches and records; the assertions are on the host's
//!   state after cloud-init finished, and after the one reboot hostfix asked for.
//! - Ansible: ansible-core from PyPI, in a virtualenv cached under the VM cache folder,
//!   runs `examples/ansible/incident.yml` from this machine against the guest over SSH (a
//!   qemu user-network forward on 127.0.0.1), with hostfix as the role's binary module:
//!   `--check` first (nothing may change), then the real run (the guest reboots once), then
//!   a second run (changed=0). The host's state is read over SSH.
//!
//! Besides the VM tools these need `mkfs.vfat`/`mcopy` (dosfstools, mtools), `dpkg-deb`,
//! `objdump`, `ssh`/`ssh-keygen` (openssh-client) and Python's venv (python3-venv); a
//! missing one skips loudly, or fails under `HOSTFIX_REQUIRE_VM=1`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::guest::{BootOpts, Guest, free_local_port};
use crate::proc::{self, Outcome};
use crate::results::End;
use crate::{Lab, Timer, image, lab, loud, skip, swaps};

/// The ansible-core the Ansible scenario installs (its virtualenv is cached per version).
const ANSIBLE_CORE: &str = "2.19.14";

/// The tools of `tools` that are missing here.
fn missing(tools: &[&str]) -> Vec<String> {
    tools
        .iter()
        .filter(|t| which::which(t).is_err())
        .map(|t| (*t).to_string())
        .collect()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Builds hostfix's Debian package from the binary under test, with the repository's
/// script; returns its bytes.
fn build_deb(lab: &Lab, out: &Path) -> Vec<u8> {
    let run = Command::new("sh")
        .arg(repo().join("packaging/deb/build.sh"))
        .arg("--binary")
        .arg(&lab.hostfix)
        .arg("--out")
        .arg(out)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "packaging/deb/build.sh: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let deb = String::from_utf8_lossy(&run.stdout).trim().to_string();
    fs::read(&deb).unwrap_or_else(|e| panic!("reading {deb}: {e}"))
}

/// The seed's user-data: the example verbatim as the first part of a MIME multi-part, and
/// the test's own part after it, which gives the guest what the example expects of a real
/// first boot: a reboot need (as a kernel update in the image would).
fn seed_user_data(example: &str) -> String {
    let boundary = "hostfix-seed-7b1e3c";
    let staging = "#cloud-config\n\
                   # The test's part: a kernel update in the image wants one reboot.\n\
                   write_files:\n  \
                   - path: /run/reboot-required\n    \
                   content: \"*** System restart required ***\\n\"\n    \
                   permissions: \"0644\"\n";
    let part = |body: &str| {
        format!(
            "--{boundary}\nContent-Type: text/cloud-config; charset=\"us-ascii\"\n\
             MIME-Version: 1.0\nContent-Transfer-Encoding: 7bit\n\n{body}\n"
        )
    };
    format!(
        "Content-Type: multipart/mixed; boundary=\"{boundary}\"\nMIME-Version: 1.0\n\n{}{}--{boundary}--\n",
        part(example),
        part(staging)
    )
}

/// The lines of `text` that start with `key:` (cloud-init's `status --long` fields).
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
}

/// Asserts cloud-init finished this boot with no error: `status --long` says done and
/// result.json lists no error.
#[track_caller]
fn assert_cloud_init_done(r: &crate::results::Results, boot: u32) {
    let status = r.block(&format!("ci-status-{boot}"));
    let ctx = || {
        format!(
            "boot {boot}: cloud-init status --long:\n{status}\n--- cloud-init.log warnings and \
             errors ---\n{}\n--- cloud-init-output.log ---\n{}",
            r.get_block(&format!("ci-log-{boot}")).unwrap_or(""),
            r.get_block(&format!("ci-output-{boot}")).unwrap_or("")
        )
    };
    assert_eq!(field(status, "status"), Some("done"), "{}", ctx());
    assert_eq!(r.exit(&format!("ci-status-{boot}")), 0, "{}", ctx());
    let errors = field(status, "errors");
    assert!(
        errors.is_none_or(|e| e == "[]"),
        "cloud-init reported errors: {}",
        ctx()
    );
    let result: Value = serde_json::from_str(r.block(&format!("ci-result-{boot}")))
        .unwrap_or_else(|e| panic!("result.json: {e}: {}", ctx()));
    assert_eq!(result["v1"]["errors"], serde_json::json!([]), "{}", ctx());
    let ds = result["v1"]["datasource"].as_str().unwrap_or_default();
    assert!(ds.contains("NoCloud"), "datasource {ds:?}: {}", ctx());
}

/// A 1 GiB swap file at /swapfile is the one active swap area.
#[track_caller]
fn assert_swapfile_1g(proc_swaps: &str) {
    let active = swaps(proc_swaps);
    assert_eq!(active.len(), 1, "{proc_swaps}");
    assert_eq!(active[0].0, "/swapfile", "{proc_swaps}");
    assert!(
        (1_048_572..=1_048_576).contains(&active[0].2),
        "the swap file is not 1 GiB: {active:?}"
    );
}

/// Whether a `dpkg-query ${db:Status-Abbrev}` value says installed.
fn installed(abbrev: &str) -> bool {
    abbrev.starts_with("ii")
}

/// Whether any listener of a `listeners` block (lib.sh) is on port 80.
fn on_port_80(listeners: &str) -> bool {
    listeners.lines().any(|l| {
        l.split_whitespace()
            .next()
            .is_some_and(|a| a.ends_with(":80"))
    })
}

/// The incident host fixed at first boot by real cloud-init running the example user-data;
/// exactly one reboot, cloud-init done without errors at both boots.
#[test]
fn cloud_init_fixes_the_incident_host_at_first_boot() {
    const TEST: &str = "cloud_init_fixes_the_incident_host_at_first_boot";
    let Some((lab, _slot)) = lab(TEST) else {
        return;
    };
    let gone = missing(&["mkfs.vfat", "mcopy", "dpkg-deb", "objdump"]);
    if !gone.is_empty() {
        skip(&format!(
            "missing: {} (apt-get install dosfstools mtools dpkg binutils)",
            gone.join(", ")
        ));
        return;
    }
    let _t = Timer("cloud-init".into(), Instant::now());
    let tmp = tempfile::tempdir().unwrap();
    let deb = build_deb(lab, tmp.path());
    let examples = repo().join("examples/cloud-init");
    let example = fs::read_to_string(examples.join("user-data.yaml")).unwrap();
    assert!(example.starts_with("#cloud-config\n"));
    let user_data = seed_user_data(&example);
    let meta_data = fs::read(examples.join("meta-data")).unwrap();

    let mut g = Guest::new(lab, "cloud-init");
    g.attach_seed(&[
        ("user-data", user_data.as_bytes()),
        ("meta-data", &meta_data),
        ("hostfix.deb", &deb),
    ]);
    let run = g.boot(BootOpts::with_reboots(Duration::from_secs(900)).with_cloud_init());
    let restarts = run.kernel_restarts();
    let powered_off = run.powered_off();
    let r = run.results.clone();

    // Two boots: the first ended by hostfix's reboot (the runner neither rebooted nor
    // powered off), the second by the runner's poweroff after its checks.
    let ends: Vec<_> = r.boots.iter().map(|b| (b.n, b.end)).collect();
    assert_eq!(ends.len(), 2, "boots: {:?}", r.boots);
    assert_eq!(r.boots[0].n, 1);
    assert!(
        matches!(r.boots[0].end, None | Some(End::ShutdownInProgress)),
        "the first boot ended by the runner, not by hostfix's reboot: {:?} (waited {:?} s \
         for it; timers: {:?})",
        r.boots[0].end,
        r.get("no-reboot-after-s"),
        r.get_block("timers")
    );
    assert_eq!(r.get("no-reboot-after-s"), None, "no reboot came");
    assert_eq!(r.boots[1].n, 2);
    assert_eq!(
        r.boots[1].scenario_rc,
        Some(0),
        "the second boot's checks failed"
    );
    assert_eq!(r.boots[1].end, Some(End::Poweroff));
    assert_ne!(r.boots[0].id, r.boots[1].id);
    assert_eq!(restarts, 1, "exactly one reboot");
    assert!(powered_off);
    let journal = r.block("journal-boots-2");
    assert_eq!(journal.lines().count(), 2, "{journal}");

    // cloud-init finished without errors, from the seed, at both boots.
    assert_cloud_init_done(&r, 1);
    assert_cloud_init_done(&r, 2);
    assert_eq!(r.value("hostname-1"), "incident", "meta-data not applied");

    // After cloud-init's first boot: hostfix installed from the seed, swap active and in
    // fstab, nginx stopped and its packages gone, nothing on :80.
    assert!(installed(r.value("pkg-1.hostfix")));
    assert_eq!(r.value("hostfix-path-1"), "/usr/bin/hostfix");
    assert_swapfile_1g(r.block("swaps-1"));
    let fstab = r.block("fstab-1");
    assert_eq!(
        crate::fstab_lines_for(fstab, "/swapfile").len(),
        1,
        "{fstab}"
    );
    for p in ["nginx", "nginx-light", "nginx-common"] {
        let s = r.value(&format!("pkg-1.{p}"));
        assert!(!installed(s), "{p} is still installed ({s})");
    }
    assert_ne!(r.value("nginx-active-1"), "active");
    assert!(
        !on_port_80(r.block("listeners-1")),
        "something still listens on :80:\n{}",
        r.block("listeners-1")
    );
    // The one reboot, in hostfix's ledger under the example's key.
    let ledger: Value = serde_json::from_str(r.block("ledger-1"))
        .unwrap_or_else(|e| panic!("the reboot ledger: {e}: {}", r.block("ledger-1")));
    let entries = ledger["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{ledger:#}");
    assert_eq!(entries[0]["key"], "provision-v1", "{ledger:#}");

    // After the reboot: swap back from fstab, the container gets :80 and serves.
    assert_swapfile_1g(r.block("swaps-2"));
    assert!(!installed(r.value("pkg-2.nginx")));
    assert_eq!(r.exit("web-run"), 0, "{}", r.stderr("web-run"));
    let web = r.block("listeners-web");
    assert!(
        web.lines()
            .any(|l| l.starts_with("0.0.0.0:80 ") && l.contains("docker-proxy")),
        "the container does not hold :80:\n{web}"
    );
    assert_eq!(r.block("web-http"), r.value("token"));

    // And the package comes off cleanly.
    assert_eq!(r.exit("apt-remove"), 0, "{}", r.stderr("apt-remove"));
    assert!(
        !installed(r.value("pkg-removed")),
        "{}",
        r.value("pkg-removed")
    );
    assert!(
        r.value("bin-removed").contains("No such file"),
        "{}",
        r.value("bin-removed")
    );
    assert!(
        r.block("doc-removed").contains("No such file"),
        "{}",
        r.block("doc-removed")
    );
}

// ---------------------------------------------------------------------------------------
// Ansible.

/// The virtualenv with ansible-core, made once per version under the VM cache folder (a
/// lock against a parallel maker; a marker file written last says it is complete).
fn ansible_venv() -> Result<PathBuf, String> {
    let root = image::cache_root();
    fs::create_dir_all(&root).map_err(|e| format!("creating {}: {e}", root.display()))?;
    let dir = root.join(format!("ansible-core-{ANSIBLE_CORE}"));
    let marker = dir.join(".hostfix-complete");
    let lock_path = root.join(format!("ansible-core-{ANSIBLE_CORE}.lock"));
    let lock = fs::File::create(&lock_path)
        .map_err(|e| format!("creating {}: {e}", lock_path.display()))?;
    let _lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| format!("locking {}: {e}", lock_path.display()))?;
    if marker.is_file() {
        return Ok(dir);
    }
    let t = Instant::now();
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(|e| format!("removing {}: {e}", dir.display()))?;
    }
    // Debian's python3 (with python3-venv) when there is one, else whatever python3 is.
    let python = if Path::new("/usr/bin/python3").is_file() {
        PathBuf::from("/usr/bin/python3")
    } else {
        PathBuf::from("python3")
    };
    let log = root.join(format!("ansible-core-{ANSIBLE_CORE}.log"));
    for (what, cmd) in [
        (
            "python3 -m venv",
            vec![
                python.into_os_string(),
                "-m".into(),
                "venv".into(),
                dir.clone().into_os_string(),
            ],
        ),
        (
            "pip install",
            vec![
                dir.join("bin/pip").into_os_string(),
                "install".into(),
                "--quiet".into(),
                "--disable-pip-version-check".into(),
                format!("ansible-core=={ANSIBLE_CORE}").into(),
            ],
        ),
    ] {
        let mut c = Command::new(&cmd[0]);
        c.args(&cmd[1..]);
        let out = proc::run_logged(c, &log, Duration::from_secs(300))
            .map_err(|e| format!("{what}: {e}"))?;
        if out != Outcome::Exited(0) {
            let _ = fs::remove_dir_all(&dir);
            return Err(format!(
                "{what} for ansible-core {ANSIBLE_CORE}: {out:?}: {}",
                proc::tail(&fs::read_to_string(&log).unwrap_or_default(), 20)
            ));
        }
    }
    fs::write(&marker, ANSIBLE_CORE).map_err(|e| format!("{}: {e}", marker.display()))?;
    loud(&format!(
        "hostfix VM tests: made the ansible-core {ANSIBLE_CORE} virtualenv in {} ({:.0} s)",
        dir.display(),
        t.elapsed().as_secs_f64()
    ));
    Ok(dir)
}

/// Copies a folder tree (the example playbook and role).
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// What the test needs to talk to the guest: its forwarded port and the key.
struct Ssh {
    port: u16,
    key: PathBuf,
}

impl Ssh {
    fn options(&self) -> Vec<String> {
        [
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "ConnectTimeout=30",
            "-o",
            "ServerAliveInterval=5",
            "-o",
            "ServerAliveCountMax=6",
        ]
        .iter()
        .map(|s| (*s).to_string())
        .collect()
    }

    /// Runs `script` with sh on the guest as root; its exit code and stdout.
    fn run(&self, script: &str) -> (i32, String) {
        let out = Command::new("ssh")
            .args(self.options())
            .arg("-i")
            .arg(&self.key)
            .arg("-p")
            .arg(self.port.to_string())
            .arg("root@127.0.0.1")
            .arg(script)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// The output of `script`, which must succeed.
    #[track_caller]
    fn ok(&self, script: &str) -> String {
        let (code, out) = self.run(script);
        assert_eq!(code, 0, "on the guest: {script}\n{out}");
        out
    }
}

/// The state the playbook may change, as one text to compare: swap, fstab, the nginx
/// packages and unit, :80's listeners, hostfix's state folder, the reboot need, the boot.
const STATE: &str = "echo '== swaps'; cat /proc/swaps; \
    echo '== fstab'; cat /etc/fstab; \
    echo '== swapfile'; ls -l /swapfile 2>&1; \
    echo '== packages'; dpkg-query -W -f='${db:Status-Abbrev} ${Package}\\n' 'nginx*' 2>&1; \
    echo '== nginx'; systemctl is-active nginx.service; systemctl is-enabled nginx.service; \
    echo '== port 80'; ss -Hltn 'sport = :80' | awk '{print $4}'; \
    echo '== hostfix state'; find /var/lib/hostfix 2>&1; \
    echo '== timers'; systemctl list-timers --all --no-legend 'hostfix-reboot*'; \
    echo '== need'; ls /run/reboot-required 2>&1; \
    echo '== boot'; cat /proc/sys/kernel/random/boot_id";

/// One ansible-playbook run: its exit code, its output, and what its play recap and task
/// lines say.
struct Play {
    code: Option<i32>,
    out: String,
}

impl Play {
    /// The recap numbers for the host: ok, changed, unreachable, failed, ...
    fn recap(&self) -> Vec<(String, u32)> {
        let line = self
            .out
            .lines()
            .skip_while(|l| !l.starts_with("PLAY RECAP"))
            .find(|l| l.starts_with("web1"))
            .unwrap_or_else(|| panic!("no play recap for web1:\n{}", self.out));
        line.split_whitespace()
            .filter_map(|w| {
                let (k, v) = w.split_once('=')?;
                Some((k.to_string(), v.parse().ok()?))
            })
            .collect()
    }

    fn count(&self, what: &str) -> u32 {
        self.recap()
            .into_iter()
            .find(|(k, _)| k == what)
            .map_or_else(
                || panic!("no {what} in the recap:\n{}", self.out),
                |(_, v)| v,
            )
    }

    /// (task name, status) for every task result line ("ok: [web1]", "changed: [web1]").
    fn tasks(&self) -> Vec<(String, String)> {
        let mut task = String::new();
        let mut out = Vec::new();
        for l in self.out.lines() {
            if let Some(rest) = l.strip_prefix("TASK [") {
                task = rest.split(']').next().unwrap_or_default().to_string();
                // "hostfix_incident : Swap file ..." -> the task's own name.
                task = task.rsplit(" : ").next().unwrap_or_default().to_string();
            } else if let Some((status, rest)) = l.split_once(": [web1]") {
                if !rest.starts_with(']') && !status.contains(' ') {
                    out.push((task.clone(), status.to_string()));
                }
            }
        }
        out
    }

    /// Asserts the play ran to its end (exit 0, nothing failed or unreachable) and each task
    /// reported `want` in order.
    #[track_caller]
    fn assert_tasks(&self, what: &str, want: &[&str]) {
        assert_eq!(
            self.code,
            Some(0),
            "{what}: ansible-playbook failed:\n{}",
            self.out
        );
        assert_eq!(self.count("failed"), 0, "{what}:\n{}", self.out);
        assert_eq!(self.count("unreachable"), 0, "{what}:\n{}", self.out);
        let got: Vec<String> = self.tasks().into_iter().map(|(_, s)| s).collect();
        assert_eq!(
            got,
            want,
            "{what}: task results {:?}:\n{}",
            self.tasks(),
            self.out
        );
        let changed = want.iter().filter(|s| **s == "changed").count();
        assert_eq!(
            self.count("changed") as usize,
            changed,
            "{what}: recap:\n{}",
            self.out
        );
    }
}

/// Runs the example playbook against the guest, from a copy of `examples/ansible` with the
/// binary under test as the role's module.
fn playbook(venv: &Path, work: &Path, ssh: &Ssh, n: usize, check: bool) -> Play {
    let inventory = work.join("inventory.ini");
    fs::write(
        &inventory,
        format!(
            "[incident]\nweb1 ansible_host=127.0.0.1 ansible_port={} ansible_user=root \
             ansible_ssh_private_key_file={}\n",
            ssh.port,
            ssh.key.display()
        ),
    )
    .unwrap();
    let log = work.join(format!("ansible-{n}.log"));
    let mut cmd = Command::new(venv.join("bin/ansible-playbook"));
    cmd.arg("-v")
        .arg("-i")
        .arg(&inventory)
        .arg(work.join("ansible/incident.yml"));
    if check {
        cmd.arg("--check");
    }
    cmd.current_dir(work)
        .env("LC_ALL", "C.UTF-8")
        .env("ANSIBLE_HOME", work.join("home"))
        .env("ANSIBLE_LOCAL_TEMP", work.join("tmp"))
        .env("ANSIBLE_CONFIG", work.join("no-ansible.cfg"))
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_HOST_KEY_CHECKING", "False")
        .env("ANSIBLE_TIMEOUT", "60")
        .env(
            "ANSIBLE_SSH_ARGS",
            format!("-o ControlMaster=no {}", ssh.options()[2..].join(" ")),
        );
    let t = Instant::now();
    let outcome = proc::run_logged(cmd, &log, Duration::from_secs(420))
        .unwrap_or_else(|e| panic!("running ansible-playbook: {e}"));
    let out = fs::read_to_string(&log).unwrap_or_default();
    loud(&format!(
        "hostfix VM tests: ansible-playbook run {n}{}: {outcome:?} after {:.1} s",
        if check { " (--check)" } else { "" },
        t.elapsed().as_secs_f64()
    ));
    let code = match outcome {
        Outcome::Exited(c) => Some(c),
        _ => None,
    };
    Play { code, out }
}

/// The Ansible scenario: `--check` changes nothing, the playbook fixes the incident host
/// (one reboot), a second run changes nothing.
#[test]
fn ansible_playbook_fixes_the_incident_host_and_converges() {
    const TEST: &str = "ansible_playbook_fixes_the_incident_host_and_converges";
    let Some((lab, _slot)) = lab(TEST) else {
        return;
    };
    let gone = missing(&["ssh", "ssh-keygen"]);
    if !gone.is_empty() {
        skip(&format!(
            "missing: {} (apt-get install openssh-client)",
            gone.join(", ")
        ));
        return;
    }
    let venv = match ansible_venv() {
        Ok(v) => v,
        Err(e) => {
            skip(&format!(
                "no ansible-core virtualenv (python3-venv, PyPI): {e}"
            ));
            return;
        }
    };
    let _t = Timer("ansible".into(), Instant::now());
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let key = w.join("id_ed25519");
    let kg = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "hostfix-vm-test",
            "-f",
        ])
        .arg(&key)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        kg.status.success(),
        "{}",
        String::from_utf8_lossy(&kg.stderr)
    );
    let pubkey = fs::read(key.with_extension("pub")).unwrap();
    // The example playbook and role, with the binary under test (stripped: Ansible copies
    // it for every task) as the role's module.
    copy_tree(&repo().join("examples/ansible"), &w.join("ansible"));
    let module = w.join("ansible/roles/hostfix_incident/library/hostfix");
    let stripped = Command::new("strip")
        .arg("-o")
        .arg(&module)
        .arg(&lab.hostfix)
        .status()
        .is_ok_and(|s| s.success());
    if !stripped {
        fs::copy(&lab.hostfix, &module).unwrap();
    }

    let ssh = Ssh {
        port: free_local_port(),
        key,
    };
    let mut g = Guest::with_files(lab, "ansible", &[("authorized_keys", &pubkey, 0o644)]);
    let mut b = g.start(BootOpts::with_reboots(Duration::from_secs(900)).with_ssh(ssh.port));
    b.wait_until("guest ready (boot 1)", Duration::from_secs(300), |r| {
        r.get("ready-1").is_some()
    });
    // Booted with cloud-init=disabled, as every scenario but the cloud-init one.
    let (_, ci) = ssh.run("cloud-init status");
    assert_eq!(ci.trim(), "status: disabled", "cloud-init is not off");
    let fresh = ssh.ok(STATE);
    assert!(
        fresh
            .lines()
            .any(|l| l.split_whitespace().eq(["ii", "nginx-light"])),
        "{fresh}"
    );
    assert!(fresh.contains("== need\n/run/reboot-required\n"), "{fresh}");

    // --check on the fresh guest: it reports what would change, and changes nothing.
    let check = playbook(&venv, w, &ssh, 1, true);
    check.assert_tasks("--check", &["changed", "changed", "ok", "changed"]);
    let after_check = ssh.ok(STATE);
    assert_eq!(after_check, fresh, "--check changed the guest");

    // The real run: swap, port (package removed), the gate, and the reboot it asks for.
    let fix = playbook(&venv, w, &ssh, 2, false);
    fix.assert_tasks("the fix", &["changed", "changed", "ok", "changed"]);
    b.wait_until(
        "guest ready after the reboot",
        Duration::from_secs(300),
        |r| r.get("ready-2").is_some(),
    );
    let state = ssh.ok(STATE);

    // A second run: nothing left to do.
    let again = playbook(&venv, w, &ssh, 3, false);
    again.assert_tasks("the second run", &["ok", "ok", "ok", "ok"]);
    assert_eq!(ssh.ok(STATE), state, "the second run changed the guest");

    // The host: swap active (from fstab after the reboot), nginx's packages gone, :80
    // bindable, one reboot in the ledger and in the journal.
    assert_swapfile_1g(&ssh.ok("cat /proc/swaps"));
    let packages = ssh.ok("dpkg-query -W -f='${db:Status-Abbrev} ${Package}\\n' 'nginx*'");
    assert!(
        !packages.lines().any(|l| l.starts_with("ii")),
        "nginx packages still installed:\n{packages}"
    );
    let (bind, out) = ssh.run(
        "python3 -c 'import socket; s = socket.socket(); s.bind((\"0.0.0.0\", 80)); \
         s.listen(); print(\"bound\")'",
    );
    assert_eq!((bind, out.trim()), (0, "bound"), "port 80 cannot be bound");
    let boots = ssh.ok("journalctl --list-boots --no-pager -q");
    assert_eq!(boots.lines().count(), 2, "{boots}");
    let ledger: Value =
        serde_json::from_str(&ssh.ok("cat /var/lib/hostfix/reboot-ledger.json")).unwrap();
    let entries = ledger["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{ledger:#}");
    assert_eq!(entries[0]["key"], "provision-v1");

    ssh.ok("touch /run/hostfix-scenario/done");
    let run = g.wait(b);
    assert_eq!(run.kernel_restarts(), 1, "exactly one reboot");
    assert!(run.powered_off());
    let r = &run.results;
    assert_eq!(r.boots.len(), 2, "{:?}", r.boots);
    assert_eq!(r.boots[1].end, Some(End::Poweroff));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_user_data_keeps_the_example_verbatim() {
        let ex = "#cloud-config\nruncmd:\n  - echo hi\n";
        let s = seed_user_data(ex);
        assert!(s.starts_with("Content-Type: multipart/mixed; boundary=\""));
        assert!(s.contains(&format!("7bit\n\n{ex}\n--")));
        assert!(s.contains("path: /run/reboot-required"));
        assert!(s.trim_end().ends_with("--"));
    }

    #[test]
    fn cloud_init_status_fields_and_listeners() {
        let st = "status: done\nboot_status_code: enabled-by-generator\nerrors: []\n";
        assert_eq!(field(st, "status"), Some("done"));
        assert_eq!(field(st, "errors"), Some("[]"));
        assert!(on_port_80("0.0.0.0:80 users:((\"nginx\"))\n"));
        assert!(!on_port_80("0.0.0.0:8080 x\n[::]:22 y"));
    }

    #[test]
    fn play_output_is_read() {
        let p = Play {
            code: Some(0),
            out: "PLAY [Fix] ***\n\nTASK [hostfix_incident : Swap file is present] ***\n\
                  changed: [web1] => {\"changed\": true}\n\n\
                  TASK [hostfix_incident : Reboot only when needed, once] ***\nok: [web1]\n\n\
                  PLAY RECAP ***\nweb1 : ok=2 changed=1 unreachable=0 failed=0 skipped=0 \
                  rescued=0 ignored=0\n"
                .into(),
        };
        assert_eq!(
            p.tasks(),
            vec![
                ("Swap file is present".to_string(), "changed".to_string()),
                (
                    "Reboot only when needed, once".to_string(),
                    "ok".to_string()
                )
            ]
        );
        assert_eq!(p.count("changed"), 1);
        p.assert_tasks("sample", &["changed", "ok"]);
    }
}
