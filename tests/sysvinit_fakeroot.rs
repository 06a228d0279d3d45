//! `port free` on hosts without systemd (sysvinit, OpenRC), on fake roots with a
//! recording system: the exact commands issued, the refusals, idempotence, the record of
//! what hostfix disabled. Nothing runs on this machine.

#[path = "fixtures/port/fakeroot.rs"]
mod fakeroot;
#[path = "support/tiers.rs"]
mod tiers;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fakeroot::{FakeProc, FakeRoot, ino, port_root};
use hostfix::port::{FreeSpec, WhoSpec, free_port, who};
use hostfix::testing::{CmdOutput, RecordingSystem, with};
use hostfix::{Host, Outcome, Policy, Risk, StepStatus};
use nix::errno::Errno;

/// The head of Debian 12's `/etc/init.d/nginx` (the unit tests of the parser read it too).
const NGINX_SCRIPT: &str = include_str!("fixtures/initd/nginx");

const CRON_SCRIPT: &str = "#!/bin/sh\nDAEMON=/usr/sbin/cron\nPIDFILE=/run/crond.pid\n";

/// sysvinit as PID 1, nginx (master 812, worker 813) from its init script on :80,
/// enabled in runlevels 2-5, `service` and `update-rc.d` installed.
fn sysv_root() -> FakeRoot {
    sysv_root_with("/usr/sbin/nginx")
}

fn sysv_root_with(nginx_exe: &str) -> FakeRoot {
    let r = port_root();
    r.add(
        &FakeProc::new(1, "init", "/usr/sbin/init")
            .ppid(0)
            .cgroup("/"),
    );
    r.write("/etc/inittab", "id:2:initdefault:\n");
    r.program("/usr/sbin/service")
        .program("/usr/sbin/update-rc.d");
    r.program("/usr/sbin/invoke-rc.d");
    r.write("/etc/init.d/nginx", NGINX_SCRIPT);
    r.write("/etc/init.d/cron", CRON_SCRIPT);
    r.write("/etc/init.d/README", "DAEMON=/usr/sbin/nginx\n");
    r.write("/run/nginx.pid", "812\n");
    r.write("/run/crond.pid", "300\n");
    for rl in ["2", "3", "4", "5"] {
        r.symlink(format!("/etc/rc{rl}.d/S01nginx"), "../init.d/nginx");
        r.symlink(format!("/etc/rc{rl}.d/S01cron"), "../init.d/cron");
    }
    for rl in ["0", "1", "6"] {
        r.symlink(format!("/etc/rc{rl}.d/K01nginx"), "../init.d/nginx");
    }
    nginx(&r, nginx_exe);
    r
}

fn nginx(r: &FakeRoot, exe: &str) {
    // The master runs as the pidfile's owner: root on a real host, the test's user here
    // (a pidfile ties only its owner's processes, or any when root owns it).
    r.add(
        &FakeProc::new(812, "nginx", exe)
            .uid(nix::unistd::geteuid().as_raw())
            .cgroup("/")
            .sockets(&[ino::TCP4_ANY_80, ino::TCP6_ANY_80])
            .children(&[813]),
    );
    r.add(
        &FakeProc::new(813, "nginx", exe)
            .ppid(812)
            .uid(33)
            .cgroup("/")
            .sockets(&[ino::TCP4_ANY_80, ino::TCP6_ANY_80]),
    );
}

/// A recorder whose port is held until a command starting with `frees` runs, and whose
/// `update-rc.d NAME disable` turns the start links of runlevels 2-5 into stop links,
/// as the real one does.
fn sim(root: &FakeRoot, held: bool, frees: &'static str) -> (Host, Arc<RecordingSystem>) {
    let rec = Arc::new(RecordingSystem::new());
    let held = Arc::new(Mutex::new(held));
    let h = held.clone();
    let base = root.path().to_path_buf();
    rec.after_run(move |cmd, out| {
        let line = cmd.display();
        if out.success() && line.starts_with(frees) {
            *h.lock().unwrap() = false;
        }
        if out.success()
            && cmd.program == "update-rc.d"
            && cmd.args.get(1).is_some_and(|a| a == "disable")
        {
            let name = &cmd.args[0];
            for rl in ["2", "3", "4", "5"] {
                let d = base.join(format!("etc/rc{rl}.d"));
                let (from, to) = (d.join(format!("S01{name}")), d.join(format!("K01{name}")));
                if from.symlink_metadata().is_ok() {
                    std::fs::rename(from, to).unwrap();
                }
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
    rec.on_reboot(|| Err(Errno::EPERM));
    (Host::with_system(root.path(), rec.clone()), rec)
}

fn spec() -> FreeSpec {
    with(FreeSpec::tcp(80), |s| {
        s.timeout = Duration::from_millis(200)
    })
}

fn record(root: &FakeRoot) -> Option<serde_json::Value> {
    let p = root.join("/var/lib/hostfix/disabled-services.json");
    std::fs::read_to_string(p)
        .ok()
        .map(|t| serde_json::from_str(&t).unwrap())
}

fn start_links(root: &FakeRoot, name: &str) -> usize {
    ["2", "3", "4", "5"]
        .iter()
        .filter(|rl| {
            root.join(format!("/etc/rc{rl}.d/S01{name}"))
                .symlink_metadata()
                .is_ok()
        })
        .count()
}

#[test]
fn sysvinit_nginx_is_disabled_then_stopped_through_its_script() {
    let r = sysv_root();
    let (host, rec) = sim(&r, true, "service nginx stop");
    let rep = free_port(&host, &spec(), &Policy::new(Risk::Disruptive));
    assert!(rep.is_ok(), "{rep}");
    assert!(rep.changed && rep.result.free);
    assert_eq!(
        rec.commands(),
        vec!["update-rc.d nginx disable", "service nginx stop"]
    );
    assert!(
        rec.signals().is_empty(),
        "no signal once the script stopped it"
    );
    assert_eq!(start_links(&r, "nginx"), 0);
    assert_eq!(start_links(&r, "cron"), 4, "another service is left alone");
    let s = &rep.result.services;
    assert_eq!(s.len(), 1);
    assert_eq!(
        (s[0].name.as_str(), s[0].pids.clone()),
        ("nginx", vec![812, 813])
    );
    assert_eq!(s[0].enabled_in, vec!["2", "3", "4", "5"]);
    assert!(
        s[0].evidence
            .iter()
            .any(|e| e == "pidfile /run/nginx.pid names it (pid 812)"),
        "{:?}",
        s[0].evidence
    );
    let step = rep
        .steps
        .iter()
        .find(|s| s.action.starts_with("stop and disable"))
        .unwrap();
    assert_eq!(step.risk, Risk::Disruptive);
    assert_eq!(step.status, StepStatus::Done);
    assert_eq!(
        step.action,
        "stop and disable /etc/init.d/nginx (update-rc.d nginx disable; service nginx stop)"
    );
    assert!(step.detail.ends_with("port free"), "{}", step.detail);
    let rec_json = record(&r).expect("the record of what hostfix disabled");
    let entry = &rec_json["services"][0];
    assert_eq!(entry["name"], "nginx");
    assert_eq!(entry["init"], "sysvinit");
    assert_eq!(entry["port"], "80/tcp");
    assert_eq!(entry["command"][0], "update-rc.d nginx disable");
    let json = serde_json::to_value(&rep.result).unwrap();
    assert_eq!(json["services"][0]["commands"][1], "service nginx stop");
}

#[test]
fn a_second_run_changes_nothing() {
    let r = sysv_root();
    let (host, _) = sim(&r, true, "service nginx stop");
    assert!(free_port(&host, &spec(), &Policy::new(Risk::Disruptive)).is_ok());
    let before = record(&r);
    let (host, rec) = sim(&r, false, "service nginx stop");
    let rep = free_port(&host, &spec(), &Policy::new(Risk::Disruptive));
    assert!(rep.is_ok() && !rep.changed && rep.result.free, "{rep}");
    assert!(rec.commands().is_empty() && rec.signals().is_empty());
    assert_eq!(record(&r), before);
}

#[test]
fn an_already_disabled_service_is_stopped_and_not_claimed() {
    let r = sysv_root();
    for rl in ["2", "3", "4", "5"] {
        let d = r.join(format!("/etc/rc{rl}.d"));
        std::fs::rename(d.join("S01nginx"), d.join("K01nginx")).unwrap();
    }
    let (host, rec) = sim(&r, true, "service nginx stop");
    let rep = free_port(&host, &spec(), &Policy::new(Risk::Disruptive));
    assert!(rep.is_ok(), "{rep}");
    assert_eq!(rec.commands(), vec!["service nginx stop"]);
    assert!(
        record(&r).is_none(),
        "hostfix disabled nothing, so records nothing"
    );
    let step = rep
        .steps
        .iter()
        .find(|s| s.action.starts_with("stop and disable"))
        .unwrap();
    assert!(
        step.detail
            .contains("already disabled at boot, left as found"),
        "{}",
        step.detail
    );
}

#[test]
fn a_dry_run_shows_the_commands_and_runs_none() {
    let r = sysv_root();
    let (host, rec) = sim(&r, true, "service nginx stop");
    let policy = with(Policy::new(Risk::Disruptive), |p| p.dry_run = true);
    let rep = free_port(&host, &spec(), &policy);
    assert!(rep.is_ok(), "{rep}");
    assert!(rec.commands().is_empty() && rec.signals().is_empty());
    let step = rep
        .steps
        .iter()
        .find(|s| s.action.starts_with("stop and disable"))
        .unwrap();
    assert_eq!(step.status, StepStatus::Planned);
    assert!(
        step.action
            .contains("update-rc.d nginx disable; service nginx stop")
    );
    assert_eq!(start_links(&r, "nginx"), 4);
    assert!(record(&r).is_none());
}

#[test]
fn the_cap_below_disruptive_refuses_before_anything() {
    let r = sysv_root();
    let (host, rec) = sim(&r, true, "service nginx stop");
    let rep = free_port(&host, &spec(), &Policy::new(Risk::Additive));
    assert_eq!(rep.exit_code(), 3, "{rep}");
    assert!(rec.commands().is_empty() && rec.signals().is_empty());
}

#[test]
fn a_lookalike_is_refused_naming_what_was_found() {
    // nginx built by hand under /usr/local: the packaged script's DAEMON is not its
    // executable, and the pidfile names no process of it.
    let r = sysv_root_with("/usr/local/sbin/nginx");
    std::fs::remove_file(r.join("/run/nginx.pid")).unwrap();
    let (host, rec) = sim(&r, true, "service nginx stop");
    let rep = free_port(&host, &spec(), &Policy::new(Risk::Disruptive));
    assert_eq!(rep.exit_code(), 3, "{rep}");
    assert_eq!(rep.outcome(), Outcome::Refused);
    let e = rep.error.as_ref().unwrap().to_string();
    assert!(e.contains("pid 812 nginx (/usr/local/sbin/nginx)"), "{e}");
    assert!(e.contains("/etc/init.d/nginx"), "{e}");
    assert!(e.contains("cannot tell which for certain"), "{e}");
    assert!(rec.commands().is_empty() && rec.signals().is_empty());
}

#[test]
fn two_scripts_claiming_the_process_are_refused() {
    let r = sysv_root();
    r.write("/etc/init.d/web", "#!/bin/sh\nDAEMON=/usr/sbin/nginx\n");
    let (host, rec) = sim(&r, true, "service nginx stop");
    let rep = free_port(&host, &spec(), &Policy::new(Risk::Disruptive));
    assert_eq!(rep.exit_code(), 3, "{rep}");
    let e = rep.error.as_ref().unwrap().to_string();
    assert!(e.contains("2 scripts claim it"), "{e}");
    assert!(
        e.contains("/etc/init.d/web") && e.contains("/etc/init.d/nginx"),
        "{e}"
    );
    assert!(rec.commands().is_empty() && rec.signals().is_empty());
}

#[test]
fn a_bare_process_on_sysvinit_gets_sigterm() {
    let r = sysv_root();
    for pid in [812, 813] {
        std::fs::remove_dir_all(r.join(format!("/proc/{pid}"))).unwrap();
    }
    r.add(
        &FakeProc::new(900, "python3", "/usr/bin/python3.11")
            .cmdline(&["python3", "-m", "http.server", "80"])
            .sockets(&[ino::TCP4_ANY_80]),
    );
    let (host, rec) = sim(&r, true, "never");
    let rep = free_port(&host, &spec(), &Policy::new(Risk::Disruptive));
    assert!(rec.commands().is_empty(), "no script runs a bare process");
    assert_eq!(rec.signals()[0].0, 900);
    assert!(rep.result.services.is_empty());
}

#[test]
fn a_failed_disable_stops_nothing_and_records_nothing() {
    let r = sysv_root();
    let (host, rec) = sim(&r, true, "service nginx stop");
    rec.respond(
        "update-rc.d nginx disable",
        CmdOutput::failed(1, "update-rc.d: error: cannot find a LSB script for nginx"),
    );
    let rep = free_port(&host, &spec(), &Policy::new(Risk::Disruptive));
    assert_eq!(rep.exit_code(), 1, "{rep}");
    assert_eq!(rec.commands(), vec!["update-rc.d nginx disable"]);
    assert!(
        rep.error
            .as_ref()
            .unwrap()
            .to_string()
            .contains("cannot find a LSB script")
    );
    assert!(record(&r).is_none());
    assert!(rec.signals().is_empty());
}

#[test]
fn without_service_invoke_rc_d_stops_it() {
    let r = sysv_root();
    std::fs::remove_file(r.join("/usr/sbin/service")).unwrap();
    let (host, rec) = sim(&r, true, "invoke-rc.d nginx stop");
    let rep = free_port(&host, &spec(), &Policy::new(Risk::Disruptive));
    assert!(rep.is_ok(), "{rep}");
    assert_eq!(
        rec.commands(),
        vec!["update-rc.d nginx disable", "invoke-rc.d nginx stop"]
    );
}

#[test]
fn the_daemon_alone_ties_a_process_without_pidfile() {
    let r = sysv_root();
    std::fs::remove_file(r.join("/run/nginx.pid")).unwrap();
    let (host, rec) = sim(&r, true, "service nginx stop");
    let rep = free_port(&host, &spec(), &Policy::new(Risk::Disruptive));
    assert!(rep.is_ok(), "{rep}");
    assert_eq!(
        rec.commands(),
        vec!["update-rc.d nginx disable", "service nginx stop"]
    );
    assert_eq!(
        rep.result.services[0].evidence,
        vec![
            "its DAEMON is /usr/sbin/nginx, the executable of pid 812".to_string(),
            "its DAEMON is /usr/sbin/nginx, the executable of pid 813".to_string()
        ]
    );
}

/// OpenRC (Alpine, or Debian's openrc package): `rc-update del` per runlevel, then
/// `rc-service stop`.
#[test]
fn openrc_nginx_is_deleted_from_its_runlevel_then_stopped() {
    let r = port_root();
    r.add(&FakeProc::new(1, "init", "/sbin/init").ppid(0).cgroup("/"));
    r.mkdir("/run/openrc");
    r.program("/sbin/rc-service").program("/sbin/rc-update");
    r.write(
        "/etc/init.d/nginx",
        "#!/sbin/openrc-run\nname=\"nginx\"\ncommand=\"/usr/sbin/nginx\"\npidfile=\"/run/$name.pid\"\n",
    );
    r.write("/run/nginx.pid", "812\n");
    r.mkdir("/etc/runlevels/boot");
    r.symlink("/etc/runlevels/default/nginx", "/etc/init.d/nginx");
    nginx(&r, "/usr/sbin/nginx");
    let (host, rec) = sim(&r, true, "rc-service nginx stop");
    let rep = free_port(&host, &spec(), &Policy::new(Risk::Disruptive));
    assert!(rep.is_ok(), "{rep}");
    assert_eq!(
        rec.commands(),
        vec!["rc-update del nginx default", "rc-service nginx stop"]
    );
    assert_eq!(record(&r).unwrap()["services"][0]["init"], "openrc");
}

/// On systemd nothing of this runs: the unit rung as before.
#[test]
fn a_systemd_host_reads_no_init_script() {
    let r = sysv_root();
    r.mkdir("/run/systemd/system");
    let (host, rec) = sim(&r, true, "service nginx stop");
    let rep = free_port(&host, &spec(), &Policy::new(Risk::Disruptive));
    assert!(rep.result.services.is_empty());
    assert!(
        rec.commands().iter().all(|c| !c.starts_with("update-rc.d")),
        "{:?}",
        rec.commands()
    );
}

/// `port who` on sysvinit names the init script that runs the owners, what ties them,
/// where it starts at boot and what `port free` would run; it runs nothing.
#[test]
fn port_who_names_the_init_script_and_what_free_would_run() {
    let r = sysv_root();
    let (host, rec) = sim(&r, true, "service nginx stop");
    let spec = WhoSpec::tcp(80);
    let rep = who(&host, &spec, &Policy::new(spec.default_cap()));
    assert!(rep.is_ok() && !rep.changed, "{rep}");
    let s = &rep.result.services;
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(
        (s[0].name.as_str(), s[0].pids.clone()),
        ("nginx", vec![812, 813])
    );
    assert_eq!(s[0].enabled_in, vec!["2", "3", "4", "5"]);
    assert_eq!(
        s[0].commands,
        vec!["update-rc.d nginx disable", "service nginx stop"]
    );
    let text = rep.result.to_string();
    assert!(
        text.contains(
            "service nginx (sysvinit: /etc/init.d/nginx, starts at boot in runlevels 2 3 4 5) \
             runs pids 812, 813\n  tied by: pidfile /run/nginx.pid names it (pid 812)"
        ),
        "{text}"
    );
    assert!(
        text.contains("  port free would run: update-rc.d nginx disable; service nginx stop"),
        "{text}"
    );
    let json = serde_json::to_value(&rep.result).unwrap();
    assert_eq!(json["services"][0]["name"], "nginx");
    assert_eq!(json["services"][0]["init"], "sysvinit");
    assert!(rec.commands().is_empty() && rec.signals().is_empty());
    assert_eq!(start_links(&r, "nginx"), 4);
}

/// An owner that only resembles a script is named as such by `port who` (the reason
/// `port free` refuses it), and no service is claimed.
#[test]
fn port_who_says_when_an_owner_only_resembles_a_script() {
    let r = sysv_root_with("/usr/local/sbin/nginx");
    std::fs::remove_file(r.join("/run/nginx.pid")).unwrap();
    let (host, rec) = sim(&r, true, "service nginx stop");
    let spec = WhoSpec::tcp(80);
    let rep = who(&host, &spec, &Policy::new(spec.default_cap()));
    assert!(rep.is_ok(), "{rep}");
    assert!(rep.result.services.is_empty());
    let notes = rep.result.notes.join("\n");
    assert!(notes.contains("/etc/init.d/nginx"), "{notes}");
    assert!(notes.contains("cannot tell which for certain"), "{notes}");
    assert!(rep.result.to_string().contains("note: "), "{}", rep.result);
    assert!(rec.commands().is_empty());
}

/// On systemd the owners name their unit; `port who` reads no init script.
#[test]
fn port_who_on_systemd_names_no_init_script() {
    let r = sysv_root();
    r.mkdir("/run/systemd/system");
    let (host, _rec) = sim(&r, true, "service nginx stop");
    let spec = WhoSpec::tcp(80);
    let rep = who(&host, &spec, &Policy::new(spec.default_cap()));
    assert!(rep.is_ok(), "{rep}");
    assert!(rep.result.services.is_empty());
    assert!(
        !rep.result.to_string().contains("/etc/init.d"),
        "{}",
        rep.result
    );
}

/// `port who` in a thread, failing the test if it does not return within 10 s.
fn who_in_time(host: Host) -> hostfix::Report<hostfix::port::Holders> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let spec = WhoSpec::tcp(80);
        let _ = tx.send(who(&host, &spec, &Policy::new(spec.default_cap())));
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("port who returned within 10 s (a pidfile must never block it)")
}

/// A pidfile that is a FIFO nobody writes to, or a link (even to a file naming the right
/// pid), is not read: nothing hangs, and the script is tied by its DAEMON alone.
#[test]
fn a_fifo_or_a_link_as_pidfile_is_not_read_and_nothing_hangs() {
    for planted in ["fifo", "link"] {
        let r = sysv_root();
        let pidfile = r.join("/run/nginx.pid");
        std::fs::remove_file(&pidfile).unwrap();
        if planted == "fifo" {
            nix::unistd::mkfifo(&pidfile, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        } else {
            r.write("/run/other.pid", "812\n");
            std::os::unix::fs::symlink(r.join("/run/other.pid"), &pidfile).unwrap();
        }
        let (host, rec) = sim(&r, true, "service nginx stop");
        let rep = who_in_time(host);
        assert!(rep.is_ok(), "{planted}: {rep}");
        let s = &rep.result.services;
        assert_eq!(s.len(), 1, "{planted}: {s:?}");
        assert!(
            s[0].evidence.iter().all(|e| !e.contains("pidfile")),
            "{planted}: {:?}",
            s[0].evidence
        );
        assert!(
            s[0].evidence
                .iter()
                .any(|e| e == "its DAEMON is /usr/sbin/nginx, the executable of pid 812"),
            "{planted}: {:?}",
            s[0].evidence
        );
        assert!(rec.commands().is_empty());
    }
}

/// A pidfile another user owns cannot name a process of root's: the nginx built by hand
/// (its DAEMON does not match the script) would be tied to the script by the pidfile
/// alone; owned by uid 12345 it ties nothing, and `port free` refuses as for a lookalike.
#[test]
fn another_users_pidfile_cannot_tie_roots_process() {
    if !tiers::root("chown of a pidfile to another user") {
        return;
    }
    let r = sysv_root_with("/usr/local/sbin/nginx");
    let pidfile = r.join("/run/nginx.pid");
    // Control: owned by root (the test's user), the pidfile ties pid 812.
    let (host, _) = sim(&r, true, "service nginx stop");
    let rep = who_in_time(host);
    assert_eq!(rep.result.services.len(), 1, "{rep}");
    std::os::unix::fs::chown(&pidfile, Some(12345), Some(12345)).unwrap();
    let (host, rec) = sim(&r, true, "service nginx stop");
    let rep = who_in_time(host);
    assert!(rep.result.services.is_empty(), "{:?}", rep.result.services);
    let notes = rep.result.notes.join("\n");
    assert!(notes.contains("cannot tell which for certain"), "{notes}");
    let (host, _) = sim(&r, true, "service nginx stop");
    let rep = free_port(&host, &spec(), &Policy::new(Risk::Disruptive));
    assert_eq!(rep.exit_code(), 3, "{rep}");
    assert!(rec.commands().is_empty() && rec.signals().is_empty());
}

mod reboot_common;

/// `reboot` on sysvinit: the host's own `shutdown -r now`, recorded in the ledger
/// before it is asked for, and confirmed by the first run of the next boot.
#[test]
fn sysvinit_reboots_through_shutdown_and_the_next_boot_confirms_it() {
    use hostfix::reboot::{self, EntryState, RebootSpec};
    use hostfix::testing::Call;
    let d = reboot_common::copy_root("none");
    d.write("/etc/inittab", "id:2:initdefault:\n");
    let (h, rec) = reboot_common::host(d.path());
    let rep = reboot::reboot(&h, &RebootSpec::default(), &Policy::new(Risk::Reboot));
    assert_eq!(rep.exit_code(), 0, "{rep}");
    assert!(rep.result.requested);
    let calls: Vec<Call> = rec
        .calls()
        .into_iter()
        .filter(|c| {
            matches!(c, Call::Sync | Call::Reboot)
                || matches!(c, Call::Run(s) if !s.contains("needs-restarting"))
        })
        .collect();
    assert_eq!(calls, vec![Call::Sync, Call::Run("shutdown -r now".into())]);
    assert!(
        rep.steps
            .iter()
            .any(|s| s.action == "detect the init system"
                && s.detail.starts_with("sysvinit (/etc/inittab")),
        "{rep}"
    );
    let l = reboot_common::read_ledger(d.path());
    assert_eq!(l.entries[0].state, EntryState::Started);
    assert!(
        l.entries[0].method.contains("shutdown -r now"),
        "{}",
        l.entries[0].method
    );
    // The next boot: a new boot id; the first run confirms, and asks for no reboot.
    d.boot_id("99999999-8888-4777-8666-555555555555");
    let (h, rec) = reboot_common::host(d.path());
    let spec = with(RebootSpec::default(), |s| s.if_needed = true);
    let rep = reboot::reboot(&h, &spec, &Policy::new(Risk::Reboot));
    assert_eq!(rep.exit_code(), 0, "{rep}");
    assert_eq!(rep.result.confirmed, vec![1]);
    assert!(
        !rec.calls()
            .iter()
            .any(|c| matches!(c, Call::Reboot | Call::Sync))
    );
    assert_eq!(
        reboot_common::read_ledger(d.path()).entries[0].state,
        EntryState::Confirmed
    );
}

/// `doctor` on sysvinit without a journal names the init and what it could not read, in
/// the findings (area `host`), the `init` fact and the unseen lines.
#[test]
fn doctor_names_sysvinit_and_says_there_is_no_journal() {
    use hostfix::doctor::{Area, DoctorOptions, Severity, diagnose};
    let r = sysv_root();
    let (host, _) = sim(&r, true, "never");
    let mut opts = DoctorOptions::default();
    opts.ports.clear();
    let rep = diagnose(&host, &opts, &Policy::new(Risk::ReadOnly));
    assert!(rep.is_ok(), "{rep}");
    let d = &rep.result;
    let f = d
        .findings
        .iter()
        .find(|f| f.area == Area::Host)
        .expect("a host finding");
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(f.title, "init: sysvinit (not systemd), no journal");
    assert!(
        f.evidence
            .iter()
            .any(|e| e.starts_with("not read: the journal: no journal on this host")),
        "{f:?}"
    );
    assert_eq!(d.facts["init"]["system"], "sysvinit");
    assert_eq!(d.facts["init"]["journal"], false);
    assert!(
        d.unseen.iter().any(|u| u.starts_with("the journal:")),
        "{:?}",
        d.unseen
    );
    let json = serde_json::to_value(d).unwrap();
    assert!(
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["area"] == "host")
    );
    // With journald's directory there, only the units are missing.
    r.mkdir("/var/log/journal");
    let rep = diagnose(&host, &opts, &Policy::new(Risk::ReadOnly));
    let f = rep
        .result
        .findings
        .iter()
        .find(|f| f.area == Area::Host)
        .unwrap();
    assert_eq!(f.title, "init: sysvinit (not systemd)");
    assert_eq!(rep.result.facts["init"]["journal"], true);
}
