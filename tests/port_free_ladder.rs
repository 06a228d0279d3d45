//! The free-port ladder's decisions, on fake roots with a simulated system: which rung
//! runs, in which order, what is refused, and that every rung is verified by binding.

#[path = "fixtures/port/fakeroot.rs"]
mod fakeroot;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fakeroot::{FakeProc, FakeRoot, PortRoot, ino, port_root};
use hostfix::port::{FreeSpec, free_port};
use hostfix::testing::with;
use hostfix::testing::{Call, CmdOutput, RecordingSystem};
use hostfix::{Host, Policy, Risk, StepStatus};
use nix::errno::Errno;
use nix::sys::signal::Signal;

/// What makes the simulated port bindable again.
#[derive(Debug, Clone, PartialEq)]
enum FreedBy {
    Nothing,
    Signal(Signal),
    Command(&'static str),
}

/// A recording system whose port is held until `freed_by` happens, and whose
/// `apt-get remove` marks the packages removed in the fake root: its hooks are the
/// simulation.
#[derive(Debug)]
struct Sim {
    rec: Arc<RecordingSystem>,
    held: Arc<Mutex<bool>>,
}

impl Sim {
    fn new(root: &Path, held: bool, freed_by: FreedBy) -> Arc<Sim> {
        let rec = Arc::new(RecordingSystem::new());
        let held = Arc::new(Mutex::new(held));
        let last_simulation = Mutex::new(String::new());
        let root: PathBuf = root.to_path_buf();
        let (h, f) = (held.clone(), freed_by.clone());
        rec.after_run(move |cmd, out| {
            let line = cmd.display();
            if let FreedBy::Command(p) = f {
                if line.starts_with(p) {
                    *h.lock().unwrap() = false;
                }
            }
            if line.starts_with("apt-get -s") {
                *last_simulation.lock().unwrap() = out.stdout.clone();
            }
            if line.starts_with("apt-get -y") {
                // apt removes what it was asked to, and what its simulation said goes too.
                let status = root.join("var/lib/dpkg/status");
                let sim = hostfix::testing::package::parse_apt_simulation(
                    &last_simulation.lock().unwrap(),
                );
                for pkg in cmd
                    .args
                    .iter()
                    .skip_while(|a| *a != "remove")
                    .skip(1)
                    .chain(&sim.removes)
                {
                    edit_status(&status, pkg);
                }
            }
        });
        let h = held.clone();
        rec.on_signal(move |_, _, sig| {
            if freed_by == FreedBy::Signal(sig) {
                *h.lock().unwrap() = false;
            }
            Ok(())
        });
        let h = held.clone();
        rec.on_bind(move |_, _| {
            if *h.lock().unwrap() {
                Err(Errno::EADDRINUSE)
            } else {
                Ok(())
            }
        });
        rec.on_reboot(|| Err(Errno::EPERM));
        Arc::new(Sim { rec, held })
    }
    fn host(&self, root: &Path) -> Host {
        Host::with_system(root, self.rec.clone())
    }
    fn commands(&self) -> Vec<String> {
        self.rec.commands()
    }
    fn signals(&self) -> Vec<(i32, Signal)> {
        self.rec.signals()
    }
}

fn edit_status(status: &Path, package: &str) {
    let text = std::fs::read_to_string(status).unwrap();
    let out: Vec<String> = text
        .split("\n\n")
        .map(|para| {
            if para.lines().any(|l| l == format!("Package: {package}")) {
                para.replace(
                    "Status: install ok installed",
                    "Status: deinstall ok config-files",
                )
            } else {
                para.to_string()
            }
        })
        .collect();
    std::fs::write(status, out.join("\n\n")).unwrap();
}

fn spec(port: u16) -> FreeSpec {
    with(FreeSpec::tcp(port), |it| {
        it.timeout = Duration::from_millis(300);
    })
}

fn bare_root() -> FakeRoot {
    let r = port_root();
    r.init().fillers(10, 3);
    r.add(
        &FakeProc::new(900, "python3", "/usr/bin/python3.11")
            .cmdline(&["python3", "-m", "http.server", "80"])
            .sockets(&[ino::TCP4_ANY_80]),
    );
    r
}

fn nginx_root() -> FakeRoot {
    let r = port_root();
    r.init().systemd().dpkg();
    r.add(
        &FakeProc::new(812, "nginx", "/usr/sbin/nginx")
            .cgroup("/system.slice/nginx.service")
            .sockets(&[ino::TCP4_ANY_80, ino::TCP6_ANY_80])
            .children(&[813]),
    );
    r.add(
        &FakeProc::new(813, "nginx", "/usr/sbin/nginx")
            .ppid(812)
            .uid(33)
            .cgroup("/system.slice/nginx.service")
            .sockets(&[ino::TCP4_ANY_80, ino::TCP6_ANY_80]),
    );
    r
}

#[test]
fn a_free_port_changes_nothing() {
    let r = bare_root();
    let sim = Sim::new(r.path(), false, FreedBy::Nothing);
    let host = sim.host(r.path());
    let rep = free_port(&host, &spec(80), &Policy::new(Risk::Disruptive));
    assert!(rep.is_ok(), "{:?}", rep.error);
    assert!(!rep.changed);
    assert!(rep.result.free);
    assert!(sim.signals().is_empty() && sim.commands().is_empty());
    assert!(rep.steps.iter().all(|s| s.risk == Risk::ReadOnly));
    // Both default addresses were probed.
    let binds: Vec<Call> = sim
        .rec
        .calls()
        .into_iter()
        .filter(|c| matches!(c, Call::Bind(..)))
        .collect();
    assert_eq!(
        binds,
        vec![
            Call::Bind("0.0.0.0:80".parse().unwrap(), false),
            Call::Bind("[::]:80".parse().unwrap(), false)
        ]
    );
}

#[test]
fn a_bare_process_gets_sigterm_only() {
    let r = bare_root();
    let sim = Sim::new(r.path(), true, FreedBy::Signal(Signal::SIGTERM));
    let host = sim.host(r.path());
    let rep = free_port(&host, &spec(80), &Policy::new(Risk::Disruptive));
    assert!(rep.is_ok(), "{:?}", rep.error);
    assert!(rep.changed && rep.result.free);
    assert_eq!(sim.signals(), vec![(900, Signal::SIGTERM)]);
    let st = rep
        .steps
        .iter()
        .find(|s| s.action.starts_with("SIGTERM"))
        .unwrap();
    assert_eq!(st.status, StepStatus::Done);
    assert_eq!(st.detail, "port free");
    assert_eq!(rep.result.holders[0].pid, 900);
}

#[test]
fn sigterm_ignored_ends_at_sigkill() {
    let r = bare_root();
    let sim = Sim::new(r.path(), true, FreedBy::Signal(Signal::SIGKILL));
    let host = sim.host(r.path());
    let rep = free_port(&host, &spec(80), &Policy::new(Risk::Disruptive));
    assert!(rep.is_ok(), "{:?}", rep.error);
    assert_eq!(
        sim.signals(),
        vec![(900, Signal::SIGTERM), (900, Signal::SIGKILL)]
    );
    let term = rep
        .steps
        .iter()
        .find(|s| s.action.starts_with("SIGTERM"))
        .unwrap();
    assert!(
        term.detail.starts_with("port still held"),
        "{}",
        term.detail
    );
    assert_eq!(
        term.status,
        StepStatus::Failed,
        "verified not to be enough: the ladder went on"
    );
    // It waited (in 50 ms ticks) before escalating.
    assert!(sim.rec.calls().iter().any(|c| matches!(c, Call::Sleep(_))));
}

#[test]
fn still_held_after_every_rung_fails() {
    let r = bare_root();
    let sim = Sim::new(r.path(), true, FreedBy::Nothing);
    let host = sim.host(r.path());
    let rep = free_port(&host, &spec(80), &Policy::new(Risk::Disruptive));
    assert_eq!(rep.exit_code(), 1);
    assert!(
        rep.error
            .as_ref()
            .unwrap()
            .to_string()
            .contains("still held")
    );
    assert!(!rep.result.free);
}

#[test]
fn a_unit_is_disabled_then_stopped_and_nothing_is_signalled() {
    let r = nginx_root();
    let sim = Sim::new(r.path(), true, FreedBy::Command("systemctl stop"));
    let host = sim.host(r.path());
    let rep = free_port(&host, &spec(80), &Policy::new(Risk::Disruptive));
    assert!(rep.is_ok(), "{:?}", rep.error);
    let cmds = sim.commands();
    let disable = cmds
        .iter()
        .position(|c| c == "systemctl disable nginx.service")
        .unwrap();
    let stop = cmds
        .iter()
        .position(|c| c == "systemctl stop nginx.service")
        .unwrap();
    assert!(disable < stop, "{cmds:?}");
    assert!(sim.signals().is_empty());
    let st = rep
        .steps
        .iter()
        .find(|s| s.action.starts_with("stop and disable"))
        .unwrap();
    assert_eq!((st.status, st.risk), (StepStatus::Done, Risk::Disruptive));
    assert!(st.detail.ends_with("port free"), "{}", st.detail);
    assert_eq!(
        rep.result.groups[0].summary,
        "pid 812 nginx (master) and 1 worker, unit nginx.service, package nginx-light"
    );
}

#[test]
fn a_socket_unit_is_stopped_before_its_service() {
    let r = port_root();
    r.systemd();
    r.add(
        &FakeProc::new(1, "systemd", "/usr/lib/systemd/systemd")
            .ppid(0)
            .cgroup("/init.scope")
            .sockets(&[ino::TCP6_ANY_443]),
    );
    r.add(
        &FakeProc::new(50, "web", "/usr/bin/web")
            .cgroup("/system.slice/web.service")
            .sockets(&[ino::TCP6_ANY_443]),
    );
    let sim = Sim::new(r.path(), true, FreedBy::Command("systemctl stop"));
    sim.rec.respond(
        "systemctl list-sockets",
        CmdOutput::ok("[::]:443 Stream web.socket web.service\n"),
    );
    let host = sim.host(r.path());
    let rep = free_port(&host, &spec(443), &Policy::new(Risk::Disruptive));
    assert!(rep.is_ok(), "{:?}", rep.error);
    let cmds = sim.commands();
    assert!(
        cmds.contains(&"systemctl disable web.socket web.service".to_string()),
        "{cmds:?}"
    );
    assert!(cmds.contains(&"systemctl stop web.socket web.service".to_string()));
    assert!(sim.signals().is_empty(), "PID 1 is never signalled");
}

#[test]
fn a_unit_that_survives_its_stop_gets_signals() {
    let r = nginx_root();
    let sim = Sim::new(r.path(), true, FreedBy::Signal(Signal::SIGTERM));
    let host = sim.host(r.path());
    let rep = free_port(&host, &spec(80), &Policy::new(Risk::Disruptive));
    assert!(rep.is_ok(), "{:?}", rep.error);
    let st = rep
        .steps
        .iter()
        .find(|s| s.action.starts_with("stop and disable"))
        .unwrap();
    assert!(
        st.detail
            .contains("port still held; not enough: port 80 held by"),
        "{}",
        st.detail
    );
    assert_eq!(st.status, StepStatus::Failed);
    assert_eq!(
        sim.signals(),
        vec![(812, Signal::SIGTERM), (813, Signal::SIGTERM)]
    );
}

#[test]
fn without_systemd_the_unit_rung_is_skipped() {
    let r = nginx_root();
    std::fs::remove_dir_all(r.path().join("run/systemd")).unwrap();
    let sim = Sim::new(r.path(), true, FreedBy::Signal(Signal::SIGTERM));
    let host = sim.host(r.path());
    let rep = free_port(&host, &spec(80), &Policy::new(Risk::Disruptive));
    assert!(rep.is_ok(), "{:?}", rep.error);
    assert!(sim.commands().iter().all(|c| !c.starts_with("systemctl")));
    let st = rep
        .steps
        .iter()
        .find(|s| s.action.starts_with("stop and disable"))
        .unwrap();
    assert_eq!(st.status, StepStatus::Skipped);
}

fn assert_refused_untouched(
    rep: &hostfix::Report<hostfix::port::FreeResult>,
    sim: &Sim,
    what: &str,
) {
    assert_eq!(
        rep.exit_code(),
        3,
        "{what}: {:?} {:#?}",
        rep.error,
        rep.steps
    );
    let e = rep.error.as_ref().unwrap().to_string();
    assert!(e.contains(what), "{e}");
    assert!(sim.signals().is_empty());
    assert!(
        sim.commands()
            .iter()
            .all(|c| !c.starts_with("systemctl stop") && !c.starts_with("apt-get -y")),
        "{:?}",
        sim.commands()
    );
}

#[test]
fn protected_owners_are_refused_before_anything() {
    // sshd
    let r = port_root();
    r.init().systemd();
    r.add(
        &FakeProc::new(600, "sshd", "/usr/sbin/sshd")
            .cgroup("/system.slice/ssh.service")
            .sockets(&[ino::TCP4_ANY_80]),
    );
    let sim = Sim::new(r.path(), true, FreedBy::Signal(Signal::SIGTERM));
    let rep = free_port(
        &sim.host(r.path()),
        &spec(80),
        &Policy::new(Risk::Destructive),
    );
    assert_refused_untouched(&rep, &sim, "sshd");

    // PID 1 of a non-systemd init
    let r = port_root();
    r.add(
        &FakeProc::new(1, "init", "/sbin/init")
            .ppid(0)
            .sockets(&[ino::TCP4_ANY_80]),
    );
    let sim = Sim::new(r.path(), true, FreedBy::Signal(Signal::SIGTERM));
    let rep = free_port(
        &sim.host(r.path()),
        &spec(80),
        &Policy::new(Risk::Destructive),
    );
    assert_refused_untouched(&rep, &sim, "PID 1");

    // docker-proxy: refused with the command that would stop the container
    let r = port_root();
    r.init().systemd();
    r.write("run/docker.sock", "");
    r.add(
        &FakeProc::new(700, "docker-proxy", "/usr/bin/docker-proxy")
            .cgroup("/system.slice/docker.service")
            .cmdline(&["docker-proxy", "-proto", "tcp", "-host-port", "80"])
            .sockets(&[ino::TCP4_ANY_80]),
    );
    r.program("usr/bin/docker");
    let sim = Sim::new(r.path(), true, FreedBy::Signal(Signal::SIGTERM));
    sim.rec.respond(
        format!("{} ps --all", r.path().join("usr/bin/docker").display()),
        CmdOutput::ok(
            "{\"ID\":\"abc\",\"Names\":\"web\",\"State\":\"running\",\"Ports\":\"0.0.0.0:80->80/tcp\"}\n",
        ),
    );
    let rep = free_port(
        &sim.host(r.path()),
        &spec(80),
        &Policy::new(Risk::Destructive),
    );
    assert_refused_untouched(&rep, &sim, "docker stop web");
    assert_eq!(
        rep.result.holders[0]
            .container
            .as_ref()
            .unwrap()
            .stop_command,
        "docker stop web"
    );

    // dockerd itself
    let r = port_root();
    r.init();
    r.add(
        &FakeProc::new(701, "dockerd", "/usr/bin/dockerd")
            .cgroup("/system.slice/docker.service")
            .sockets(&[ino::TCP4_ANY_80]),
    );
    let sim = Sim::new(r.path(), true, FreedBy::Signal(Signal::SIGTERM));
    let rep = free_port(
        &sim.host(r.path()),
        &spec(80),
        &Policy::new(Risk::Destructive),
    );
    assert_refused_untouched(&rep, &sim, "container engine");
}

#[test]
fn the_risk_cap_is_honoured() {
    let r = bare_root();
    let sim = Sim::new(r.path(), true, FreedBy::Signal(Signal::SIGTERM));
    let host = sim.host(r.path());
    let rep = free_port(&host, &spec(80), &Policy::new(Risk::Additive));
    assert_eq!(rep.exit_code(), 3);
    assert!(sim.signals().is_empty());
    let st = rep
        .steps
        .iter()
        .find(|s| s.action.starts_with("SIGTERM"))
        .unwrap();
    assert_eq!(
        (st.status, st.risk),
        (StepStatus::Refused, Risk::Disruptive)
    );
    assert!(
        rep.error
            .unwrap()
            .to_string()
            .contains("--max-risk disruptive")
    );
}

#[test]
fn a_dry_run_plans_the_ladder_and_touches_nothing() {
    let r = nginx_root();
    let sim = Sim::new(r.path(), true, FreedBy::Command("systemctl stop"));
    let host = sim.host(r.path());
    let rep = free_port(
        &host,
        &spec(80),
        &Policy::new(Risk::Disruptive).dry_run(true),
    );
    assert!(rep.is_ok(), "{:?}", rep.error);
    assert!(rep.changed && rep.dry_run);
    // Only read-only queries ran.
    assert!(
        sim.commands()
            .iter()
            .all(|c| c.starts_with("systemctl list-sockets")),
        "{:?}",
        sim.commands()
    );
    assert!(sim.signals().is_empty());
    let planned: Vec<&str> = rep
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Planned)
        .map(|s| s.action.as_str())
        .collect();
    assert_eq!(
        planned,
        vec![
            "stop and disable nginx.service",
            "SIGTERM 812 nginx, 813 nginx",
            "SIGKILL 812 nginx, 813 nginx"
        ]
    );
    assert!(
        !r.path().join("var/lib/hostfix").exists(),
        "no lock, no ledger"
    );
}

fn apt_fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/package/apt/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn nginx_removal_sim(r: &FakeRoot) -> Arc<Sim> {
    nginx_sim_with(
        r,
        CmdOutput::ok(apt_fixture("remove-nginx-light-nginx-common.txt")),
    )
}

fn nginx_sim_with(r: &FakeRoot, simulation: CmdOutput) -> Arc<Sim> {
    let sim = Sim::new(r.path(), true, FreedBy::Command("systemctl stop"));
    sim.rec.respond(
        "systemctl show -p FragmentPath --value nginx.service",
        CmdOutput::ok("/lib/systemd/system/nginx.service\n"),
    );
    sim.rec
        .respond("apt-get -s -q remove nginx-light nginx-common", simulation);
    sim
}

#[test]
fn remove_package_stops_the_unit_then_removes_its_source_packages() {
    let r = nginx_root();
    let sim = nginx_removal_sim(&r);
    let host = sim.host(r.path());
    let s = with(spec(80), |it| {
        it.remove_package = true;
    });
    let rep = free_port(&host, &s, &Policy::new(Risk::Destructive));
    assert!(rep.is_ok(), "{:?} {:#?}", rep.error, rep.steps);
    let cmds = sim.commands();
    let pos = |p: &str| {
        cmds.iter()
            .position(|c| c.starts_with(p))
            .unwrap_or_else(|| panic!("{p} not in {cmds:?}"))
    };
    assert!(
        pos("apt-get -s -q remove nginx-light nginx-common")
            < pos("systemctl disable nginx.service")
    );
    assert!(pos("systemctl disable") < pos("systemctl stop nginx.service"));
    assert!(pos("systemctl stop") < pos("apt-get -y"));
    assert_eq!(
        cmds[pos("apt-get -y")],
        "apt-get -y -q -o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-confdef remove nginx-light nginx-common"
    );
    let plan = rep.result.removal.as_ref().unwrap();
    assert_eq!(plan.packages, vec!["nginx-light", "nginx-common"]);
    assert_eq!(plan.removes, vec!["nginx-light", "nginx-common"]);
    assert_eq!(plan.sources, vec!["nginx"]);
    let st = rep
        .steps
        .iter()
        .find(|s| s.action.starts_with("remove nginx-light"))
        .unwrap();
    assert_eq!((st.status, st.risk), (StepStatus::Done, Risk::Destructive));
    assert!(sim.signals().is_empty());
    assert!(
        !r.path()
            .join("var/lib/hostfix/port-free-tcp-80.json")
            .exists()
    );

    // Second run: the port is free and the packages are gone: nothing to do.
    let sim2 = Sim::new(r.path(), false, FreedBy::Nothing);
    let rep = free_port(&sim2.host(r.path()), &s, &Policy::new(Risk::Destructive));
    assert!(rep.is_ok() && !rep.changed, "{:?}", rep.error);
    assert!(sim2.commands().is_empty());
}

/// The commands that would change the host or start the package manager: anything but
/// systemd's read-only queries.
fn acting(sim: &Sim) -> Vec<String> {
    sim.commands()
        .into_iter()
        .filter(|c| !c.starts_with("systemctl list-") && !c.starts_with("systemctl show"))
        .collect()
}

/// A small host without swap whose memory is nearly gone (the incident's): the package
/// manager is not started there (apt thrashed for minutes on such a Debian 13 guest, and
/// the OOM killer can end dpkg half-way). The run is refused before anything is stopped,
/// naming the swap to make first; the dry run plans the removal unsimulated and says so;
/// with swap the same host removes the package.
#[test]
fn a_removal_waits_for_memory_or_swap() {
    let meminfo = |swap_kib: u64| {
        format!(
            "MemTotal: 481280 kB\nMemFree: 20000 kB\nMemAvailable: 67584 kB\n\
             SwapTotal: {swap_kib} kB\nSwapFree: {swap_kib} kB\n"
        )
    };
    let r = nginx_root();
    std::fs::write(r.path().join("proc/meminfo"), meminfo(0)).unwrap();
    let sim = nginx_removal_sim(&r);
    let host = sim.host(r.path());
    let s = with(spec(80), |it| it.remove_package = true);
    let rep = free_port(&host, &s, &Policy::new(Risk::Destructive));
    assert_eq!(rep.exit_code(), 3, "{:?} {:#?}", rep.error, rep.steps);
    let err = rep
        .error
        .as_ref()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("66 MiB available") && err.contains("hostfix swap ensure"),
        "{err}"
    );
    assert!(acting(&sim).is_empty(), "{:?}", sim.commands());
    assert!(sim.signals().is_empty());

    let dry = free_port(&host, &s, &Policy::new(Risk::Destructive).dry_run(true));
    assert_eq!(dry.exit_code(), 0, "{:?} {:#?}", dry.error, dry.steps);
    assert!(
        dry.steps
            .iter()
            .any(|st| st.detail.contains("not simulated")),
        "{:#?}",
        dry.steps
    );
    assert!(
        dry.steps
            .iter()
            .any(|st| st.status == StepStatus::Planned
                && st.action.starts_with("remove nginx-light")),
        "{:#?}",
        dry.steps
    );
    assert!(acting(&sim).is_empty(), "{:?}", sim.commands());

    std::fs::write(r.path().join("proc/meminfo"), meminfo(1 << 20)).unwrap();
    let rep = free_port(&host, &s, &Policy::new(Risk::Destructive));
    assert!(rep.is_ok(), "{:?} {:#?}", rep.error, rep.steps);
    assert!(
        sim.commands().iter().any(|c| c.starts_with("apt-get -y")),
        "{:?}",
        sim.commands()
    );
}

#[test]
fn an_interrupted_removal_is_finished_by_the_next_run() {
    let r = nginx_root();
    // The first run stopped the unit and died before removing the package: its ledger
    // is there and the port is free.
    r.write(
        "var/lib/hostfix/port-free-tcp-80.json",
        r#"{"manager":"dpkg","packages":["nginx-light","nginx-common"],"sources":["nginx"],
            "removes":["nginx-light","nginx-common"],"command":"apt-get remove"}"#,
    );
    let sim = nginx_removal_sim(&r);
    *sim.held.lock().unwrap() = false;
    let s = with(spec(80), |it| {
        it.remove_package = true;
    });
    let rep = free_port(&sim.host(r.path()), &s, &Policy::new(Risk::Destructive));
    assert!(rep.is_ok(), "{:?} {:#?}", rep.error, rep.steps);
    assert!(rep.changed);
    assert!(sim.commands().iter().any(|c| c.starts_with("apt-get -y")));
    assert!(
        !r.path()
            .join("var/lib/hostfix/port-free-tcp-80.json")
            .exists()
    );
    // Without --remove-package, the ledger is left alone.
    assert!(!rep.steps.iter().any(|s| s.status == StepStatus::Failed));
}

#[test]
fn remove_package_refuses_foreign_essential_and_impossible_removals() {
    let s = with(spec(80), |it| {
        it.remove_package = true;
    });
    // python3 -m http.server: apt cannot remove python3.11-minimal without breaking
    // python3.
    let r = bare_root();
    r.dpkg();
    let sim = Sim::new(r.path(), true, FreedBy::Signal(Signal::SIGTERM));
    let mut out = CmdOutput::failed(
        100,
        "E: Error, pkgProblemResolver::Resolve generated breaks",
    );
    out.stdout = apt_fixture("remove-python3.11-minimal.txt");
    sim.rec
        .respond("apt-get -s -q remove python3.11-minimal", out);
    let rep = free_port(&sim.host(r.path()), &s, &Policy::new(Risk::Destructive));
    assert_refused_untouched(&rep, &sim, "python3 : PreDepends");

    // A simulation that would take a package of another source.
    let r = nginx_root();
    let sim = nginx_sim_with(
        &r,
        CmdOutput::ok("Remv nginx-light [1]\nRemv nginx-common [1]\nRemv python3 [3.11.2-1+b1]\n"),
    );
    let rep = free_port(&sim.host(r.path()), &s, &Policy::new(Risk::Destructive));
    assert_refused_untouched(&rep, &sim, "python3 (built from python3-defaults)");

    // An essential package.
    let r = port_root();
    r.init().dpkg();
    r.add(&FakeProc::new(60, "bash", "/usr/bin/bash").sockets(&[ino::TCP4_ANY_80]));
    let sim = Sim::new(r.path(), true, FreedBy::Signal(Signal::SIGTERM));
    sim.rec.respond(
        "apt-get -s -q remove bash",
        CmdOutput::ok(apt_fixture("remove-bash.txt")),
    );
    let rep = free_port(&sim.host(r.path()), &s, &Policy::new(Risk::Destructive));
    assert_refused_untouched(&rep, &sim, "bash is an essential package");

    // A removal that would upgrade something on the way.
    let r = nginx_root();
    let sim = nginx_sim_with(
        &r,
        CmdOutput::ok(
            "Remv nginx-light [1]\nInst perl-base [5.36.0-7+deb12u2] (5.36.0-7+deb12u4)\n",
        ),
    );
    let rep = free_port(&sim.host(r.path()), &s, &Policy::new(Risk::Destructive));
    assert_refused_untouched(&rep, &sim, "install or upgrade perl-base");
}

/// Debian 12's nginx: the binary is in `nginx`, which `nginx-light` (a metapackage of
/// the same source) depends on together with `libnginx-mod-http-echo`, a module built
/// from its own source that needs nginx's ABI. As recorded in a bookworm guest.
fn bookworm_nginx_root(extra_status: &str) -> FakeRoot {
    let r = port_root();
    r.init().systemd();
    r.write(
        "var/lib/dpkg/status",
        format!(
            "Package: libnginx-mod-http-echo
Status: install ok installed
Priority: optional
Version: 1:0.63-4
Depends: nginx-abi-1.22.1-7, libc6 (>= 2.14)

Package: nginx
Status: install ok installed
Priority: optional
Version: 1.22.1-9+deb12u9
Provides: httpd, httpd-cgi, nginx-abi-1.22.1-7
Depends: libc6 (>= 2.34), iproute2, nginx-common (<< 1.22.1-9+deb12u9.1~), nginx-common (>= 1.22.1-9+deb12u9)

Package: nginx-common
Status: install ok installed
Priority: optional
Source: nginx
Version: 1.22.1-9+deb12u9
Depends: debconf (>= 0.5) | debconf-2.0

Package: nginx-light
Status: install ok installed
Priority: optional
Source: nginx
Version: 1.22.1-9+deb12u9
Depends: libnginx-mod-http-echo (>= 1:0.63-4~), nginx (>= 1.22.1-9+deb12u9), nginx (<< 1.22.1-9+deb12u9.1~)

Package: libc6
Status: install ok installed
Priority: optional
Source: glibc
Version: 2.36-9+deb12u13
{extra_status}"
        ),
    );
    r.write(
        "var/lib/dpkg/info/nginx.list",
        "/.\n/usr\n/usr/sbin\n/usr/sbin/nginx\n",
    );
    r.write(
        "var/lib/dpkg/info/nginx-common.list",
        "/.\n/lib/systemd/system/nginx.service\n",
    );
    r.write(
        "var/lib/dpkg/info/nginx-light.list",
        "/.\n/usr/share/doc/nginx-light\n",
    );
    r.write(
        "var/lib/dpkg/info/libnginx-mod-http-echo.list",
        "/.\n/usr/lib/nginx/modules/ngx_http_echo_module.so\n",
    );
    r.add(
        &FakeProc::new(812, "nginx", "/usr/sbin/nginx")
            .cgroup("/system.slice/nginx.service")
            .sockets(&[ino::TCP4_ANY_80, ino::TCP6_ANY_80]),
    );
    r
}

fn bookworm_sim(r: &FakeRoot, simulation: &str) -> Arc<Sim> {
    let sim = Sim::new(r.path(), true, FreedBy::Command("systemctl stop"));
    sim.rec.respond(
        "systemctl show -p FragmentPath --value nginx.service",
        CmdOutput::ok("/lib/systemd/system/nginx.service\n"),
    );
    sim.rec.respond(
        "apt-get -s -q remove nginx nginx-common",
        CmdOutput::ok(simulation),
    );
    sim
}

#[test]
fn a_metapackage_and_the_add_on_it_pulled_in_go_with_the_holder() {
    let r = bookworm_nginx_root("");
    let sim = bookworm_sim(
        &r,
        "Remv nginx-light [1.22.1-9+deb12u9]\nRemv libnginx-mod-http-echo [1:0.63-4]\n\
         Remv nginx [1.22.1-9+deb12u9]\nRemv nginx-common [1.22.1-9+deb12u9]\n",
    );
    let host = sim.host(r.path());
    // `port who` names the package the user installed.
    let who = hostfix::port::find_holders(&host, &hostfix::port::WhoSpec::tcp(80)).unwrap();
    assert!(
        who.groups[0]
            .summary
            .ends_with("package nginx (installed for nginx-light)"),
        "{}",
        who.groups[0].summary
    );
    let s = with(spec(80), |it| {
        it.remove_package = true;
    });
    let rep = free_port(&host, &s, &Policy::new(Risk::Destructive));
    assert!(rep.is_ok(), "{:?} {:#?}", rep.error, rep.steps);
    let plan = rep.result.removal.as_ref().unwrap();
    assert_eq!(plan.packages, vec!["nginx", "nginx-common"]);
    assert_eq!(
        plan.removes,
        vec![
            "nginx-light",
            "libnginx-mod-http-echo",
            "nginx",
            "nginx-common"
        ]
    );
    assert!(
        rep.steps.iter().any(|st| {
            st.action == "why the removal takes libnginx-mod-http-echo"
                && st
                    .detail
                    .contains("depends on nginx and is installed for nginx-light")
        }),
        "{:#?}",
        rep.steps
    );
    assert!(
        sim.commands()
            .iter()
            .any(|c| c.ends_with("remove nginx nginx-common") && c.starts_with("apt-get -y"))
    );

    // A module installed by hand (nothing of nginx's wants it) is not nginx's to take.
    let r = bookworm_nginx_root(
        "\nPackage: libnginx-mod-http-geoip2\nStatus: install ok installed\n\
         Priority: optional\nVersion: 1:3.4-5\nDepends: nginx-abi-1.22.1-7\n",
    );
    let sim = bookworm_sim(
        &r,
        "Remv nginx-light [1]\nRemv libnginx-mod-http-echo [1]\n\
         Remv libnginx-mod-http-geoip2 [1]\nRemv nginx [1]\nRemv nginx-common [1]\n",
    );
    let rep = free_port(&sim.host(r.path()), &s, &Policy::new(Risk::Destructive));
    assert_refused_untouched(
        &rep,
        &sim,
        "libnginx-mod-http-geoip2 (built from libnginx-mod-http-geoip2)",
    );
}

#[test]
fn one_source_many_packages_is_fine() {
    // apache2 and apache2-bin come from one source: removing both is allowed.
    let r = port_root();
    r.init().dpkg();
    r.add(&FakeProc::new(70, "apache2", "/usr/sbin/apache2").sockets(&[ino::TCP4_ANY_80]));
    let sim = Sim::new(r.path(), true, FreedBy::Command("apt-get -y"));
    sim.rec.respond(
        "apt-get -s -q remove apache2-bin",
        CmdOutput::ok("Remv apache2 [2.4.62-1~deb12u2]\nRemv apache2-bin [2.4.62-1~deb12u2]\n"),
    );
    let s = with(spec(80), |it| {
        it.remove_package = true;
    });
    let rep = free_port(&sim.host(r.path()), &s, &Policy::new(Risk::Destructive));
    assert!(rep.is_ok(), "{:?} {:#?}", rep.error, rep.steps);
    assert_eq!(
        rep.result.removal.as_ref().unwrap().removes,
        vec!["apache2", "apache2-bin"]
    );
    assert!(sim.signals().is_empty(), "the removal freed the port");
}

#[test]
fn remove_package_under_a_disruptive_cap_is_refused_before_stopping() {
    let r = nginx_root();
    let sim = nginx_removal_sim(&r);
    let s = with(spec(80), |it| {
        it.remove_package = true;
    });
    let rep = free_port(&sim.host(r.path()), &s, &Policy::new(Risk::Disruptive));
    assert_refused_untouched(&rep, &sim, "--max-risk destructive");
    let st = rep
        .steps
        .iter()
        .find(|s| s.status == StepStatus::Refused)
        .unwrap();
    assert_eq!(st.risk, Risk::Destructive);
}

#[test]
fn bad_input() {
    let r = bare_root();
    let sim = Sim::new(r.path(), true, FreedBy::Nothing);
    let rep = free_port(
        &sim.host(r.path()),
        &spec(0),
        &Policy::new(Risk::Disruptive),
    );
    assert_eq!(rep.exit_code(), 2);
    let sim = Sim::new(r.path(), false, FreedBy::Nothing);
    sim.rec.fail_next("bind", Errno::EADDRNOTAVAIL);
    let rep = free_port(
        &sim.host(r.path()),
        &spec(80),
        &Policy::new(Risk::Disruptive),
    );
    assert_eq!(rep.exit_code(), 2);
    assert!(rep.error.unwrap().to_string().contains("--address"));
    let sim = Sim::new(r.path(), false, FreedBy::Nothing);
    sim.rec.fail_next("bind", Errno::EACCES);
    let rep = free_port(
        &sim.host(r.path()),
        &spec(80),
        &Policy::new(Risk::Disruptive),
    );
    assert_eq!(rep.exit_code(), 1);
    assert!(
        rep.error
            .unwrap()
            .to_string()
            .contains("CAP_NET_BIND_SERVICE")
    );
}
