//! `doctor --fix` on the incident's host, faked (any user): 32 MiB of RAM and no swap, the
//! distro's nginx on :80 (unit `nginx.service`, package `nginx-light`), a container `web`
//! created but kept from :80, and (in some tests) a pending reboot. The fixes run least
//! risky first through their operations; the cap stops the run naming the next fix; a
//! dry run changes nothing; `web` is started once :80 is free; a second run changes
//! nothing.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use hostfix::container::{StartSpec, start};
use hostfix::doctor::{Applied, Consent, DoctorOptions, FixOp, Repair, fix};
use hostfix::host::Errno;
use hostfix::testing::{
    Call, CmdOutput, FakeProcess, FakeRoot, RecordingSystem, dpkg_mark_removed, with,
};
use hostfix::{Host, Outcome, Policy, Report, Risk, StepStatus};

const WEB: &str = "7c2d9e4f1a3b5c6d8e0f2a4b6c8d0e1f3a5b7c9d1e2f4a6b8c0d2e4f6a8b0c1d";

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(fixture(rel)).unwrap()
}

/// The fake host and what its fakes did.
struct Incident {
    root: FakeRoot,
    host: Host,
    rec: Arc<RecordingSystem>,
}

fn incident(reboot_needed: bool) -> Incident {
    let root = FakeRoot::for_swap();
    root.meminfo(256 << 20, 15 << 20)
        .systemd()
        .boot_id("0f5e7a4c-1b2d-4e8f-9a6b-3c2d1e0f9a8b")
        .uptime(3600)
        .write("/etc/machine-id", "5d3c0e2f4a6b48c9a1e7f0b2c4d6e8f0\n")
        .copy_tree(fixture("port/proc_net"), "/proc/net")
        .write("/proc/stat", "cpu  1 2 3 4\nbtime 1700000000\n")
        .copy_tree(fixture("package/dpkg-root/var/lib/dpkg"), "/var/lib/dpkg")
        .program("/usr/bin/docker")
        .init();
    if reboot_needed {
        root.write("/run/reboot-required", "");
    }
    for (pid, ppid, uid) in [(812, 1, 0), (813, 812, 33)] {
        root.add(
            &FakeProcess::new(pid, "nginx", "/usr/sbin/nginx")
                .ppid(ppid)
                .uid(uid)
                .cgroup("/system.slice/nginx.service")
                .sockets(&[94484, 94486]),
        );
    }
    let (host, rec) = root.host();
    // `swapon` lists the file in `/proc/swaps` and `/proc/meminfo` counts it.
    root.swap_table(&rec);
    fake_systemd_apt_and_docker(&root, &rec);
    Incident { root, host, rec }
}

/// The engine: `web` created, kept from :80 (the recorded inspect), running once
/// `docker start` ran.
fn docker(started: &AtomicBool, args: &[String]) -> Option<CmdOutput> {
    let running = started.load(Ordering::SeqCst);
    let ps = read("evidence/engine/ps-web-blocked.txt");
    let inspect = read("evidence/engine/inspect-web-blocked.json");
    let (ps, inspect) = if running {
        (
            ps.replace(r#""State": "created", "Status": "Created""#, r#""State": "running", "Status": "Up 1 second""#),
            inspect
                .replace(r#""Status": "created", "Running": false"#, r#""Status": "running", "Running": true"#)
                .replace(r#""ExitCode": 128"#, r#""ExitCode": 0"#)
                .replace(
                    "driver failed programming external connectivity on endpoint web (7c2d9e4f1a3b): Error starting userland proxy: listen tcp4 0.0.0.0:80: bind: address already in use",
                    "",
                ),
        )
    } else {
        (ps, inspect)
    };
    match args.first().map(String::as_str)? {
        "ps" => Some(CmdOutput::ok(ps)),
        "container" => Some(CmdOutput::ok(inspect)),
        "logs" | "info" => Some(CmdOutput::ok("")),
        "start" if args.get(1).map(String::as_str) == Some(WEB) => {
            started.store(true, Ordering::SeqCst);
            Some(CmdOutput::ok(format!("{WEB}\n")))
        }
        _ => None,
    }
}

/// `systemctl stop nginx.service` ends nginx (its processes and sockets go, :80 binds);
/// `apt-get -y remove` marks the packages removed; the engine as [`docker`] says.
fn fake_systemd_apt_and_docker(root: &FakeRoot, rec: &RecordingSystem) {
    rec.respond(
        "systemctl show -p FragmentPath --value nginx.service",
        CmdOutput::ok("/lib/systemd/system/nginx.service\n"),
    );
    rec.respond(
        "apt-get -s -q remove nginx-light nginx-common",
        CmdOutput::ok(read("package/apt/remove-nginx-light-nginx-common.txt")),
    );
    let started = Arc::new(AtomicBool::new(false));
    let engine = root.join("/usr/bin/docker").display().to_string();
    rec.on_run(move |cmd| {
        (cmd.program == engine)
            .then(|| docker(&started, &cmd.args))
            .flatten()
    });
    let held = Arc::new(Mutex::new(true));
    let h = held.clone();
    let r: PathBuf = root.path().to_path_buf();
    rec.after_run(move |cmd, _| {
        let line = cmd.display();
        if line.starts_with("systemctl stop nginx.service") {
            *h.lock().unwrap() = false;
            nginx_gone(&r);
        }
        if line.starts_with("apt-get -y") {
            for pkg in ["nginx-light", "nginx-common"] {
                dpkg_mark_removed(&r.join("var/lib/dpkg/status"), pkg);
            }
        }
    });
    rec.on_bind(move |_, _| {
        if *held.lock().unwrap() {
            Err(Errno::EADDRINUSE)
        } else {
            Ok(())
        }
    });
}

fn nginx_gone(root: &Path) {
    for pid in [812, 813] {
        let _ = std::fs::remove_dir_all(root.join(format!("proc/{pid}")));
    }
    for t in ["tcp", "tcp6"] {
        let p = root.join("proc/net").join(t);
        let text = std::fs::read_to_string(&p).unwrap();
        let kept: Vec<&str> = text.lines().filter(|l| !l.contains(":0050 ")).collect();
        std::fs::write(&p, kept.join("\n") + "\n").unwrap();
    }
}

fn opts() -> DoctorOptions {
    with(DoctorOptions::default(), |o| {
        o.ports = vec![80];
        o.disk_paths = vec![];
        o.state_dir = "/state".into();
    })
}

fn run(i: &Incident, cap: Risk, dry_run: bool, consent: Consent) -> Report<Repair> {
    let policy = Policy::new(cap).dry_run(dry_run).state_dir("/state");
    fix(&i.host, &opts(), &consent, &policy)
}

/// With `HOSTFIX_SHOW=1`, prints the report as `hostfix doctor --fix` prints it (the
/// README's example comes from here).
fn show(r: &Report<Repair>) {
    if std::env::var_os("HOSTFIX_SHOW").is_some() {
        eprintln!("{r}");
    }
}

fn commands(r: &Report<Repair>) -> Vec<&str> {
    r.result
        .fixes
        .iter()
        .map(|f| f.fix.fix.command.as_str())
        .collect()
}

/// Commands and calls that change the host.
fn changing(rec: &RecordingSystem) -> Vec<String> {
    rec.calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Run(line) => [
                "systemctl stop",
                "systemctl disable",
                "apt-get -y",
                "docker start",
            ]
            .iter()
            .any(|x| line.starts_with(x) || line.contains(&format!("/{x}")))
            .then_some(line),
            Call::Swapon(..) | Call::Swapoff(..) | Call::Signal(..) | Call::Reboot => {
                Some(format!("{c:?}"))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn the_default_cap_makes_swap_and_stops_at_the_port_naming_it() {
    let i = incident(false);
    let r = run(&i, Risk::Additive, false, Consent::default());
    show(&r);
    assert_eq!(commands(&r), ["hostfix swap ensure --size auto"], "{r}");
    assert!(i.root.read("/proc/swaps").contains("/swapfile"));
    // Exit 3, naming the next fix and the cap it needs.
    assert_eq!(r.exit_code(), 3, "{r}");
    let e = r.error.as_ref().unwrap().to_string();
    assert_eq!(
        e,
        "hostfix port free 80: needs --max-risk disruptive (the cap is additive)"
    );
    assert_eq!(r.result.next.as_ref().unwrap().fix.risk, Risk::Disruptive);
    let last = r.steps.last().unwrap();
    assert_eq!(
        (last.status, last.action.as_str()),
        (StepStatus::Refused, "hostfix port free 80")
    );
    assert!(
        r.to_string()
            .contains("next fix: hostfix port free 80 needs --max-risk disruptive")
    );
    // nginx still runs: nothing above the cap was touched.
    assert!(
        !changing(&i.rec).iter().any(|c| c.contains("systemctl")),
        "{:?}",
        changing(&i.rec)
    );
}

#[test]
fn disruptive_frees_the_port_then_starts_web_least_risky_first_and_stops_at_the_reboot() {
    let i = incident(true);
    let r = run(&i, Risk::Disruptive, false, Consent::default());
    show(&r);
    assert_eq!(
        commands(&r),
        [
            "hostfix swap ensure --size auto",
            "hostfix port free 80",
            "docker start web"
        ],
        "{r}"
    );
    let risks: Vec<Risk> = r.result.fixes.iter().map(|f| f.fix.fix.risk).collect();
    assert_eq!(risks, [Risk::Additive, Risk::Disruptive, Risk::Additive]);
    // The engine's start ran after nginx was stopped.
    let calls = i.rec.commands();
    let stop = calls
        .iter()
        .position(|c| c == "systemctl stop nginx.service")
        .unwrap();
    let start = calls
        .iter()
        .position(|c| c.ends_with(&format!("docker start {WEB}")))
        .unwrap();
    assert!(stop < start, "{calls:?}");
    // The start was verified, and the request sent again (not on a fake root's ports).
    match &r.result.fixes[2].report.result {
        Applied::Started(s) => {
            assert!(s.running && !s.already_running, "{s:?}");
            assert_eq!(s.requests, ["not sent: the host is not the live root"]);
        }
        other => panic!("{other:?}"),
    }
    // The package stays without the consent; the reboot is above the cap.
    assert!(i.root.dpkg_installed("nginx-light"));
    assert_eq!(r.exit_code(), 3);
    assert_eq!(r.result.next.as_ref().unwrap().fix.op, FixOp::Reboot);
    // After: web runs, nothing is left but the reboot.
    let after = r.result.after.as_ref().unwrap();
    let fixes: Vec<&str> = after
        .findings
        .iter()
        .filter_map(|f| f.fix.as_ref())
        .map(|f| f.command.as_str())
        .collect();
    assert_eq!(fixes, ["hostfix reboot --if-needed"], "{r}");
    assert!(
        r.result
            .before
            .findings
            .iter()
            .any(|f| f.title.starts_with("container web is created"))
    );
    assert!(
        !after
            .findings
            .iter()
            .any(|f| f.title.starts_with("container web")
                && f.severity >= hostfix::doctor::Severity::Warning),
        "{r}"
    );
}

#[test]
fn a_dry_run_shows_the_whole_sequence_and_changes_nothing() {
    let i = incident(true);
    let files = [
        "/etc/fstab",
        "/proc/swaps",
        "/proc/meminfo",
        "/var/lib/dpkg/status",
        "/proc/net/tcp",
    ];
    let before: Vec<String> = files.iter().map(|f| i.root.read(f)).collect();
    let r = run(
        &i,
        Risk::Destructive,
        true,
        with(Consent::default(), |c| c.remove_package = true),
    );
    show(&r);
    // With the consent under the destructive cap, the port fix removes the package too:
    // it is the riskiest, so it comes after the swap; the start it allows follows it.
    assert_eq!(
        commands(&r),
        [
            "hostfix swap ensure --size auto",
            "hostfix port free 80 --remove-package",
            "docker start web"
        ],
        "{r}"
    );
    assert_eq!(r.result.fixes[1].fix.fix.risk, Risk::Destructive);
    assert!(
        r.steps[..3].iter().all(|s| s.status == StepStatus::Planned),
        "{:#?}",
        r.steps
    );
    assert!(r.result.after.is_none() && r.changed && r.dry_run);
    assert_eq!(r.exit_code(), 3, "the reboot is above the cap: {r}");
    let now: Vec<String> = files.iter().map(|f| i.root.read(f)).collect();
    assert_eq!(before, now);
    assert!(!i.root.join("/swapfile").exists());
    assert!(changing(&i.rec).is_empty(), "{:?}", changing(&i.rec));
}

#[test]
fn a_second_run_changes_nothing() {
    let i = incident(false);
    let first = run(&i, Risk::Disruptive, false, Consent::default());
    assert_eq!(first.exit_code(), 0, "{first}");
    assert!(first.changed);
    let done = changing(&i.rec).len();
    let again = run(&i, Risk::Disruptive, false, Consent::default());
    assert_eq!(again.exit_code(), 0, "{again}");
    assert!(!again.changed && again.result.nothing_to_fix, "{again}");
    assert!(again.result.fixes.is_empty());
    assert!(again.to_string().contains("nothing to fix"));
    assert_eq!(changing(&i.rec).len(), done, "{:?}", changing(&i.rec));
}

#[test]
fn a_package_goes_only_with_the_consent_and_the_destructive_cap() {
    let i = incident(false);
    let consent = with(Consent::default(), |c| c.remove_package = true);
    // The consent alone, under the disruptive cap: the unit is stopped, the package kept.
    let j = incident(false);
    let r = run(&j, Risk::Disruptive, false, consent);
    assert_eq!(r.exit_code(), 0, "{r}");
    assert!(j.root.dpkg_installed("nginx-light"));
    // The destructive cap alone: kept.
    let r = run(&i, Risk::Destructive, false, Consent::default());
    assert_eq!(r.exit_code(), 0, "{r}");
    assert!(i.root.dpkg_installed("nginx-light"));
    // Both: removed.
    let k = incident(false);
    let r = run(&k, Risk::Destructive, false, consent);
    assert_eq!(r.exit_code(), 0, "{r}");
    assert!(!k.root.dpkg_installed("nginx-light"), "{r}");
    assert_eq!(r.outcome(), Outcome::Ok);
}

#[test]
fn a_container_is_not_started_while_its_port_is_held() {
    let i = incident(false);
    let mut spec = StartSpec::new("web");
    spec.ports = vec![80];
    let r = start(
        &i.host,
        &spec,
        &Policy::new(spec.default_cap()).state_dir("/state"),
    );
    assert_eq!(r.exit_code(), 1, "{r}");
    let e = r.error.as_ref().unwrap().to_string();
    assert!(
        e.starts_with("container web was not started: host port 80 is still held by pid 812 nginx"),
        "{e}"
    );
    assert!(!r.changed && !r.result.running);
    assert!(changing(&i.rec).is_empty(), "{:?}", changing(&i.rec));
    // Once nginx is gone it starts, and a second start changes nothing.
    nginx_gone(i.root.path());
    let r = start(
        &i.host,
        &spec,
        &Policy::new(spec.default_cap()).state_dir("/state"),
    );
    assert!(r.is_ok() && r.changed && r.result.running, "{r}");
    let again = start(
        &i.host,
        &spec,
        &Policy::new(spec.default_cap()).state_dir("/state"),
    );
    assert!(
        again.is_ok() && !again.changed && again.result.already_running,
        "{again}"
    );
}

#[test]
fn a_fix_that_fails_stops_the_run_with_its_error() {
    let i = incident(false);
    i.rec.on_swapon(|_, _| Err(Errno::EINVAL));
    let r = run(&i, Risk::Disruptive, false, Consent::default());
    assert_eq!(r.exit_code(), 1, "{r}");
    assert_eq!(commands(&r), ["hostfix swap ensure --size auto"]);
    assert_eq!(r.steps.last().unwrap().status, StepStatus::Failed);
    assert_eq!(r.error.as_ref().unwrap().errno(), Some(Errno::EINVAL));
    // The findings after: the swap is still missing.
    let after = r.result.after.as_ref().unwrap();
    assert!(
        after
            .findings
            .iter()
            .any(|f| f.title.starts_with("no swap")),
        "{r}"
    );
    // Nothing after it ran: nginx still holds :80.
    assert!(
        !i.rec
            .commands()
            .iter()
            .any(|c| c.starts_with("systemctl stop"))
    );
}

const STUCK: &str = "3819cbceae677b0d56879d96a5b0de8ef8e1b1ecb84c4234fd4e4f32d246d849";

/// The engine after the reboot the ladder asked for to clear `stuck-d` (its process was in
/// `D`): the container is listed exited, and `docker rm stuck-d` removes it.
fn docker_after_boot(removed: &AtomicBool, args: &[String]) -> Option<CmdOutput> {
    let gone = removed.load(Ordering::SeqCst);
    let ps = format!(
        r#"{{"ID": "{STUCK}", "Names": "stuck-d", "Image": "local/busybox:1", "State": "exited", "Status": "Exited (255) 1 minute ago", "Ports": ""}}"#
    );
    let inspect = format!(
        r#"{{"Id": "{STUCK}", "Name": "/stuck-d", "RestartCount": 0, "State": {{"Status": "exited", "Running": false, "Paused": false, "Restarting": false, "OOMKilled": false, "Dead": false, "Pid": 0, "ExitCode": 255, "Error": "", "StartedAt": "2026-12-01T10:12:00Z", "FinishedAt": "2026-12-01T10:20:00Z"}}, "HostConfig": {{"PortBindings": {{}}, "RestartPolicy": {{"Name": "no"}}}}}}"#
    );
    match args.first().map(String::as_str)? {
        "ps" if gone => Some(CmdOutput::ok("")),
        "ps" => Some(CmdOutput::ok(ps + "\n")),
        "container" if gone => Some(CmdOutput::failed(
            1,
            "Error response from daemon: No such container: stuck-d",
        )),
        "container" => Some(CmdOutput::ok(inspect + "\n")),
        "info" => Some(CmdOutput::ok("false\n")),
        "logs" => Some(CmdOutput::ok("")),
        "rm" if !gone
            && args.last().is_some_and(|t| {
                t == "stuck-d" || (t.len() >= 12 && STUCK.starts_with(t.as_str()))
            }) =>
        {
            removed.store(true, Ordering::SeqCst);
            Some(CmdOutput::ok("stuck-d\n"))
        }
        _ => None,
    }
}

/// The run after the boot finishes what the reboot was for: doctor names the container the
/// ladder rebooted to remove (its record, another boot id), `doctor --fix` removes it at
/// the first rung and confirms the reboot, and the next run changes nothing.
#[test]
fn after_the_reboot_doctor_fix_finishes_the_removal_it_was_for() {
    let root = FakeRoot::new();
    root.meminfo(512 << 20, 300 << 20)
        .systemd()
        .boot_id("5d2c8e1a-7b3f-4a9d-8c6e-1f0b2a4d6e8c")
        .uptime(120)
        .program("/usr/bin/docker")
        .init();
    // The swap made before the reboot, active again from fstab.
    let m = root
        .read("/proc/meminfo")
        .replace(
            "SwapTotal:               0 kB",
            "SwapTotal:          524284 kB",
        )
        .replace(
            "SwapFree:                0 kB",
            "SwapFree:           524284 kB",
        );
    root.write("/proc/meminfo", m).write(
        "/proc/swaps",
        "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/vda2 partition 524284 0 -2\n",
    );
    let record = format!(
        r#"{{"version": 1, "id": "{STUCK}", "name": "stuck-d", "boot_id": "0b5e2f7a-3c1d-4e8f-9a6b-2d4c6e8f0a1b", "requested_at": 1764584000, "reason": "container stuck-d (3819cbceae67) cannot be removed: pid 574 is in uninterruptible sleep (D)"}}"#
    );
    root.write(format!("/state/container/{STUCK}.reboot.json"), record);
    use std::os::unix::fs::PermissionsExt;
    for d in ["/state", "/state/container"] {
        std::fs::set_permissions(root.join(d), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let rec_file = root.join(format!("/state/container/{STUCK}.reboot.json"));
    std::fs::set_permissions(&rec_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (host, rec) = root.host();
    let removed = Arc::new(AtomicBool::new(false));
    let engine = root.join("/usr/bin/docker").display().to_string();
    let r2 = removed.clone();
    rec.on_run(move |cmd| {
        (cmd.program == engine)
            .then(|| docker_after_boot(&r2, &cmd.args))
            .flatten()
    });
    rec.on_reboot(|| panic!("no second reboot"));
    let opts = with(opts(), |o| o.ports.clear());
    let policy = Policy::new(Risk::Reboot).state_dir("/state");

    let d = hostfix::doctor::diagnose(&host, &opts, &policy).result;
    let f = d
        .findings
        .iter()
        .find(|f| f.title.contains("container stuck-d"))
        .unwrap_or_else(|| panic!("{d}"));
    let fix = f.fix.as_ref().unwrap();
    assert_eq!(
        (fix.command.as_str(), fix.risk),
        ("hostfix container rm stuck-d", Risk::Disruptive),
        "{d}"
    );
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("0b5e2f7a-3c1d-4e8f-9a6b-2d4c6e8f0a1b")),
        "{f:?}"
    );

    let r = fix_run(&host, &opts, &policy);
    show(&r);
    assert_eq!(r.exit_code(), 0, "{r}");
    assert_eq!(commands(&r), ["hostfix container rm stuck-d"], "{r}");
    let Applied::Removed(removal) = &r.result.fixes[0].report.result else {
        panic!("{r}");
    };
    assert!(removal.gone, "{r}");
    assert!(removal.reboot.as_ref().is_some_and(|b| b.confirmed), "{r}");
    assert!(removed.load(Ordering::SeqCst));
    assert!(
        !rec_file.exists(),
        "the ladder's record is forgotten once it is gone"
    );
    assert!(
        !r.result
            .after
            .as_ref()
            .unwrap()
            .findings
            .iter()
            .any(|f| f.title.contains("stuck-d")),
        "{r}"
    );

    let again = fix_run(&host, &opts, &policy);
    assert_eq!(again.exit_code(), 0, "{again}");
    assert!(again.result.nothing_to_fix && !again.changed, "{again}");
}

fn fix_run(host: &Host, opts: &DoctorOptions, policy: &Policy) -> Report<Repair> {
    fix(host, opts, &Consent::default(), policy)
}

/// At the reboot cap the run ends with the reboot it started: no diagnosis of a host that
/// is shutting down (`after` is none), and the report says the reboot was requested.
#[test]
fn a_fix_that_starts_a_reboot_ends_the_run_without_an_after() {
    let i = incident(true);
    let r = run(&i, Risk::Reboot, false, Consent::default());
    show(&r);
    let cmds = commands(&r);
    assert_eq!(cmds.last(), Some(&"hostfix reboot --if-needed"), "{r}");
    match &r.result.fixes.last().unwrap().report.result {
        Applied::Reboot(x) => assert!(x.requested, "{r}"),
        other => panic!("{other:?}"),
    }
    assert!(r.result.after.is_none(), "{r}");
    assert!(!r.to_string().lines().any(|l| l.trim() == "after:"), "{r}");
}
