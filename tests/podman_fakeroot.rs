//! Podman as the container engine, on fake roots: the parsers on recorded `podman`
//! output, engine detection and `--engine`, the `container rm` ladder against a fake
//! Podman (no daemon: no engine restart rung; the container's `conmon` killed by its pid
//! and start time, only that one), `port who`/`port free` naming and refusing a Podman
//! container, and doctor's findings and typed fixes under Podman.
//!
//! Nothing here runs a real engine or signals a real process: the recorder answers every
//! command and records every signal.

#[path = "fixtures/port/fakeroot.rs"]
mod fakeroot;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use hostfix::container::{self, ContainerRung, RebootGate, RebootRequest, RemoveOptions};
use hostfix::doctor::FixOp;
use hostfix::port::{self, FreeSpec, OwnerKind, WhoSpec};
use hostfix::testing::container::ladder::RungDecision;
use hostfix::testing::container::procs::Sampling;
use hostfix::testing::engine::{
    EngineFailure, Status, classify_failure, conmon_container_id, parse_inspect, parse_podman_ps,
};
use hostfix::testing::{Cmd, CmdOutput, FakeProcess, FakeRoot, RecordingSystem, with};
use hostfix::{EngineKind, Host, Policy, Risk, StepStatus};
use nix::errno::Errno;
use nix::sys::signal::Signal;
use serde_json::json;

const OTHER: &str = "e4d6c8b7c3a9b2f5e1d4c8a0b6f2e9d1c3a5b7f9e0d2c4b6a8f1e3d5c7b9a0f2";

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/container/podman")
        .join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(fixture(rel)).unwrap()
}

fn id() -> String {
    read("ID").trim().to_string()
}

// ---- the parsers, on recorded output ----------------------------------------------------

#[test]
fn podman_ps_json_reads_names_states_and_ports() {
    let ps = parse_podman_ps(&read("ps.json")).unwrap();
    assert_eq!(ps.len(), 3);
    assert_eq!(ps[0].id, id());
    assert_eq!(ps[0].name(), "web");
    assert_eq!(ps[0].state, Status::Running);
    // Ports as `docker ps` prints them, so one matcher reads both engines.
    assert_eq!(ps[0].ports, "0.0.0.0:8080->80/tcp");
    assert_eq!(ps[1].name(), "db");
    assert_eq!(ps[1].state, Status::Exited);
    assert_eq!(ps[1].ports, "");
    // A range of 3 on 127.0.0.1, udp.
    assert_eq!(ps[2].ports, "127.0.0.1:9000-9002->9000-9002/udp");
    assert!(parse_podman_ps(&read("ps-empty.json")).unwrap().is_empty());
    assert!(parse_podman_ps("null\n").unwrap().is_empty());
    // Podman 3 spelled the port fields in camelCase.
    let old = parse_podman_ps(&read("ps-podman3.json")).unwrap();
    assert_eq!(old[0].ports, "0.0.0.0:8080->80/tcp");
    // Docker's one-object-a-line output is not Podman's array.
    let e = parse_podman_ps(r#"{"ID":"abc","Names":"web"}"#).unwrap_err();
    assert!(e.to_string().contains("podman ps"), "{e}");
}

#[test]
fn podman_inspect_reads_state_conmon_and_bindings() {
    let i = parse_inspect(&read("inspect-web-running.json"))
        .unwrap()
        .remove(0);
    assert_eq!(i.id, id());
    assert_eq!(i.name, "web");
    assert_eq!(i.status, Status::Running);
    assert!(i.running);
    assert_eq!((i.pid, i.conmon_pid), (4300, 4290));
    assert_eq!(i.published[0].to_string(), "0.0.0.0:8080->80/tcp");
    let taken = parse_inspect(&read("inspect-web-port-taken.json"))
        .unwrap()
        .remove(0);
    assert_eq!(taken.status, Status::Created);
    assert_eq!(
        hostfix::testing::container::blocked_ports(&taken),
        vec![8080]
    );
    // Podman's own state words.
    assert_eq!(Status::parse("stopped"), Status::Exited);
    assert_eq!(Status::parse("configured"), Status::Created);
    assert!(Status::parse("stopping").is_live());
}

#[test]
fn podman_errors_and_conmon_command_lines() {
    let nf = CmdOutput::failed(125, read("no-such-container.txt"));
    assert_eq!(classify_failure(&nf, true), EngineFailure::NotFound);
    let bytes = std::fs::read(fixture("conmon-cmdline.bin")).unwrap();
    let argv: Vec<String> = bytes
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    assert_eq!(conmon_container_id(&argv), Some(id()));
}

// ---- a fake Podman ------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// As documented: `podman stop` ends it.
    None,
    /// The container ignores SIGTERM: `podman stop` ends it with SIGKILL after the grace.
    IgnoresSigterm,
    /// Its conmon is stopped (SIGSTOP): podman waits for an exit conmon never reports, so
    /// stop and rm hang until conmon is killed.
    StoppedConmon,
    /// Its process is in `D`: nothing ends it.
    DState,
}

#[derive(Debug, Clone)]
struct Ctr {
    id: String,
    name: String,
    status: String,
    pids: Vec<i32>,
    conmon: Option<i32>,
    /// Its conmon was killed and podman has not noticed yet.
    conmon_died: bool,
}

#[derive(Debug)]
struct Fake {
    root: PathBuf,
    fault: Mutex<Fault>,
    ctrs: Mutex<Vec<Ctr>>,
    calls: Mutex<Vec<String>>,
}

fn ok(s: impl Into<String>) -> CmdOutput {
    CmdOutput::ok(s)
}

impl Fake {
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    /// What changed the host: engine commands but the reads, and signals.
    fn acting(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| !c.starts_with("podman ps") && !c.starts_with("podman container inspect"))
            .collect()
    }

    fn kill_pid(&self, pid: i32) {
        let _ = std::fs::remove_dir_all(self.root.join(format!("proc/{pid}")));
    }

    /// The container's processes die and conmon reports it: exited, conmon gone.
    fn exit(&self, c: &mut Ctr) {
        for p in c.pids.drain(..) {
            self.kill_pid(p);
        }
        if let Some(m) = c.conmon.take() {
            self.kill_pid(m);
        }
        c.status = "exited".into();
    }

    fn podman(&self, a: &[&str]) -> CmdOutput {
        let fault = *self.fault.lock().unwrap();
        let mut ctrs = self.ctrs.lock().unwrap();
        let find = |cs: &[Ctr], t: &str| cs.iter().position(|c| c.name == t || c.id.starts_with(t));
        let missing = |t: &str| {
            CmdOutput::failed(
                125,
                format!("Error: no container with name or ID \"{t}\" found: no such container"),
            )
        };
        match a {
            ["ps", "--all", "--format", "json"] => {
                let rows: Vec<_> = ctrs
                    .iter()
                    .map(|c| {
                        json!({"Id": c.id, "Names": [c.name], "Image": "docker.io/library/nginx:latest",
                               "State": c.status, "Status": "Up 1 minute", "Ports": null})
                    })
                    .collect();
                ok(serde_json::to_string(&rows).unwrap())
            }
            ["container", "inspect", targets @ ..] => {
                let mut found = Vec::new();
                for t in targets {
                    let Some(i) = find(&ctrs, t) else {
                        return CmdOutput {
                            status: Some(125),
                            stdout: serde_json::to_string(&found).unwrap(),
                            stderr: format!("Error: no such object: \"{t}\""),
                        };
                    };
                    let c = &ctrs[i];
                    let running = c.status == "running";
                    found.push(json!({"Id": c.id, "Name": c.name,
                        "State": {"Status": c.status, "Running": running, "Paused": false,
                                  "Restarting": false, "Dead": false, "OOMKilled": false,
                                  "Pid": if running { c.pids.first().copied().unwrap_or(0) } else { 0 },
                                  "ConmonPid": c.conmon.unwrap_or(0), "ExitCode": 0, "Error": ""},
                        "RestartCount": 0,
                        "HostConfig": {"PortBindings": {}, "RestartPolicy": {"Name": ""}}}));
                }
                ok(serde_json::to_string(&found).unwrap())
            }
            [verb @ ("stop" | "kill"), .., t] => {
                let Some(i) = find(&ctrs, t) else {
                    return missing(t);
                };
                match fault {
                    Fault::StoppedConmon if *verb == "stop" => CmdOutput::failed(124, ""),
                    // The runtime delivers SIGKILL; conmon, stopped, never reports it.
                    Fault::StoppedConmon => {
                        for p in ctrs[i].pids.drain(..) {
                            self.kill_pid(p);
                        }
                        ok(format!("{t}\n"))
                    }
                    Fault::DState => CmdOutput::failed(
                        125,
                        format!("Error: given PIDs did not die within timeout: {t}"),
                    ),
                    Fault::None | Fault::IgnoresSigterm => {
                        self.exit(&mut ctrs[i]);
                        ok(format!("{t}\n"))
                    }
                }
            }
            ["rm", rest @ ..] => {
                let t = rest.last().copied().unwrap_or_default();
                let Some(i) = find(&ctrs, t) else {
                    return missing(t);
                };
                let force = rest.first() == Some(&"-f");
                match fault {
                    Fault::StoppedConmon if ctrs[i].conmon.is_some() => CmdOutput::failed(124, ""),
                    // As Podman 5 does (seen in the trixie-podman guest): the first removal
                    // after conmon's death records the exit and fails; the next removes.
                    Fault::StoppedConmon if ctrs[i].conmon_died => {
                        ctrs[i].conmon_died = false;
                        ctrs[i].status = "exited".into();
                        let id = &ctrs[i].id;
                        CmdOutput::failed(
                            125,
                            format!(
                                "Error: cannot remove container {id} as it could not be stopped: container {id} conmon exited prematurely, exit code could not be retrieved: internal libpod error"
                            ),
                        )
                    }
                    Fault::DState => CmdOutput::failed(125, "Error: cannot remove container"),
                    _ if ctrs[i].status == "running" && !force => CmdOutput::failed(
                        2,
                        format!(
                            "Error: cannot remove container {} as it is running - running or paused containers cannot be removed without force: container state improper",
                            ctrs[i].id
                        ),
                    ),
                    _ => {
                        let mut c = ctrs.remove(i);
                        self.exit(&mut c);
                        ok(format!("{}\n", c.id))
                    }
                }
            }
            other => panic!("the fake podman does not know podman {other:?}"),
        }
    }

    fn run(&self, cmd: &Cmd) -> CmdOutput {
        let base = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
        let mut prog = base(&cmd.program);
        let mut args = cmd.args.clone();
        if prog == "timeout" {
            prog = base(&args[3]);
            args = args[4..].to_vec();
        }
        self.calls
            .lock()
            .unwrap()
            .push(format!("{prog} {}", args.join(" ")));
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        match prog.as_str() {
            "podman" => self.podman(&a),
            other => panic!("under Podman hostfix runs no {other} ({a:?})"),
        }
    }

    fn signal(&self, pid: i32, start: Option<u64>, sig: Signal) -> Result<(), Errno> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("signal {pid} {sig:?} start={start:?}"));
        if !self.root.join(format!("proc/{pid}")).exists() {
            return Err(Errno::ESRCH);
        }
        let mut ctrs = self.ctrs.lock().unwrap();
        match ctrs.iter().position(|c| c.conmon == Some(pid)) {
            Some(i) => {
                // conmon gone: podman cleans the container up (its runtime kills what is
                // left) and the next `podman rm -f` removes it.
                self.kill_pid(pid);
                ctrs[i].conmon = None;
                match *self.fault.lock().unwrap() {
                    Fault::DState => {}
                    // Its zombie is reaped; podman still says running.
                    Fault::StoppedConmon => {
                        for p in ctrs[i].pids.drain(..) {
                            self.kill_pid(p);
                        }
                        ctrs[i].conmon_died = true;
                    }
                    _ => {
                        let c = &mut ctrs[i];
                        self.exit(c);
                    }
                }
            }
            None => self.kill_pid(pid),
        }
        Ok(())
    }
}

struct Setup {
    _root: FakeRoot,
    fake: Arc<Fake>,
    host: Host,
}

/// A host with Podman only (no docker, no daemon socket): `web` (conmon 4290, processes
/// 4300 and 4321) and `db` (conmon 5290, process 5300), both rootful in machine.slice.
fn setup(fault: Fault) -> Setup {
    let r = FakeRoot::new();
    r.init()
        .systemd()
        .boot_id("3d1c7a5e-0f4b-4c2a-9b8e-1a2b3c4d5e6f");
    for p in ["/usr/bin/podman", "/usr/bin/timeout", "/usr/bin/systemctl"] {
        r.program(p);
    }
    let mut ctrs = Vec::new();
    for (cid, name, conmon, pids) in [
        (id(), "web", 4290, vec![4300, 4321]),
        (OTHER.to_string(), "db", 5290, vec![5300]),
    ] {
        r.add(
            &FakeProcess::new(conmon, "conmon", "/usr/bin/conmon")
                .cgroup(format!("/machine.slice/libpod-conmon-{cid}.scope"))
                .cmdline(&[
                    "/usr/bin/conmon",
                    "--api-version",
                    "1",
                    "-c",
                    &cid,
                    "-u",
                    &cid,
                    "-r",
                    "/usr/bin/crun",
                    "-n",
                    name,
                ]),
        );
        for (n, &pid) in pids.iter().enumerate() {
            let stuck = fault == Fault::DState && name == "web" && n == 1;
            r.add(
                &FakeProcess::new(pid, "nginx", "/usr/sbin/nginx")
                    .ppid(if n == 0 { conmon } else { pids[0] })
                    .cgroup(format!("/machine.slice/libpod-{cid}.scope/container"))
                    .state(if stuck { 'D' } else { 'S' }),
            );
        }
        ctrs.push(Ctr {
            id: cid,
            name: name.into(),
            status: "running".into(),
            pids,
            conmon: Some(conmon),
            conmon_died: false,
        });
    }
    let fake = Arc::new(Fake {
        root: r.path().to_path_buf(),
        fault: Mutex::new(fault),
        ctrs: Mutex::new(ctrs),
        calls: Mutex::new(Vec::new()),
    });
    let rec = Arc::new(RecordingSystem::new());
    let f = fake.clone();
    rec.on_run(move |cmd| Some(f.run(cmd)));
    let f = fake.clone();
    rec.on_signal(move |pid, start, sig| f.signal(pid, start, sig));
    rec.on_reboot(|| panic!("the ladder never calls reboot(2) itself"));
    rec.set_now(SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_582_000));
    let host = Host::with_system(r.path(), rec);
    Setup {
        _root: r,
        fake,
        host,
    }
}

fn opts() -> RemoveOptions {
    with(RemoveOptions::new("web"), |o| {
        o.sampling = with(Sampling::default(), |s| {
            s.interval = Duration::from_millis(1)
        });
        o.settle = Duration::from_secs(1);
    })
}

fn rm(
    s: &Setup,
    o: &RemoveOptions,
    cap: Risk,
    gate: &dyn RebootGate,
) -> hostfix::Report<container::Removal> {
    let policy = Policy::new(cap).state_dir("/var/lib/hostfix");
    container::remove(&s.host, o, &policy, gate)
}

#[derive(Default)]
struct Gate {
    asked: Mutex<Vec<RebootRequest>>,
}

impl RebootGate for Gate {
    fn reboot(&self, _: &Host, _: &Policy, req: &RebootRequest) -> hostfix::Result<String> {
        self.asked.lock().unwrap().push(req.clone());
        Ok("reboot queued".into())
    }
}

fn web_gone(s: &Setup) -> bool {
    !s.fake.ctrs.lock().unwrap().iter().any(|c| c.name == "web")
}

// ---- container rm under Podman ---------------------------------------------------------------

#[test]
fn podman_is_detected_and_stop_removes_the_container() {
    let s = setup(Fault::None);
    let r = rm(&s, &opts(), Risk::Disruptive, &Gate::default());
    assert!(r.is_ok(), "{r}");
    assert_eq!(r.result.removed_by, Some(ContainerRung::Stop));
    assert_eq!(r.result.engine, Some(EngineKind::Podman));
    assert!(web_gone(&s));
    assert_eq!(
        s.fake.acting(),
        vec![
            format!("podman stop -t 10 {}", id()),
            format!("podman rm {}", id())
        ]
    );
    // The engine found, and no daemon: said in the trail.
    let found = r
        .steps
        .iter()
        .find(|s| s.action == "find the container engine")
        .unwrap();
    assert!(found.detail.starts_with("podman at "), "{}", found.detail);
    assert!(
        found.detail.contains("no engine daemon"),
        "{}",
        found.detail
    );
}

#[test]
fn a_sigterm_ignoring_container_goes_at_the_stop_rung_through_its_grace() {
    let s = setup(Fault::IgnoresSigterm);
    let o = with(opts(), |o| o.stop_grace = Duration::from_secs(3));
    let r = rm(&s, &o, Risk::Disruptive, &Gate::default());
    assert!(r.is_ok(), "{r}");
    assert_eq!(r.result.removed_by, Some(ContainerRung::Stop));
    assert_eq!(s.fake.acting()[0], format!("podman stop -t 3 {}", id()));
}

#[test]
fn the_plan_says_the_engine_restart_rung_is_absent() {
    let s = setup(Fault::StoppedConmon);
    let policy = Policy::new(Risk::Reboot)
        .dry_run(true)
        .state_dir("/var/lib/hostfix");
    let r = container::remove(&s.host, &opts(), &policy, &Gate::default());
    let restart = r
        .result
        .ladder
        .iter()
        .find(|p| p.rung == ContainerRung::RestartEngine)
        .expect("the rung is listed, not dropped");
    match &restart.decision {
        RungDecision::Absent(why) => assert!(why.contains("no engine daemon"), "{why}"),
        other => panic!("restart-engine under podman: {other:?}"),
    }
    assert!(
        restart
            .action
            .starts_with("none: podman has no engine daemon")
    );
    // Said in the trail and in the human rendering too.
    assert!(
        r.steps
            .iter()
            .any(|s| s.action == "rung restart-engine" && s.detail.starts_with("absent: ")),
        "{:#?}",
        r.steps
    );
    let text = r.result.to_string();
    assert!(
        text.contains("restart-engine") && text.contains("absent: podman has no engine daemon"),
        "{text}"
    );
    assert!(text.contains("engine: podman (no engine daemon"), "{text}");
    // The kill-shim rung names conmon.
    let shim = r
        .result
        .ladder
        .iter()
        .find(|p| p.rung == ContainerRung::KillShim)
        .unwrap();
    assert_eq!(
        shim.action,
        "SIGKILL conmon pid 4290 of web, then podman rm -f web"
    );
    assert!(s.fake.acting().is_empty(), "a dry run acts on nothing");
}

#[test]
fn a_stopped_conmon_is_killed_by_its_pid_and_only_that_one() {
    let s = setup(Fault::StoppedConmon);
    // At the default cap the ladder stops below the conmon kill and names it.
    let r = rm(&s, &opts(), Risk::Disruptive, &Gate::default());
    assert_eq!(r.exit_code(), 3, "{r}");
    let next = r.result.next.as_ref().unwrap();
    assert_eq!(
        (next.rung, next.risk),
        (ContainerRung::KillShim, Risk::Destructive)
    );
    assert!(!s.fake.acting().iter().any(|c| c.starts_with("signal")));

    let r = rm(&s, &opts(), Risk::Destructive, &Gate::default());
    assert!(r.is_ok(), "{r}");
    assert_eq!(r.result.removed_by, Some(ContainerRung::KillShim));
    assert!(web_gone(&s));
    let signals: Vec<String> = s
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("signal"))
        .collect();
    // web's conmon, exactly (pid and start time); never db's conmon 5290 or a process.
    assert_eq!(
        signals,
        vec!["signal 4290 SIGKILL start=Some(5290)".to_string()]
    );
    let db = s.fake.ctrs.lock().unwrap();
    assert_eq!(db[0].name, "db");
    assert_eq!(db[0].conmon, Some(5290));
    drop(db);
    let acting = s.fake.acting();
    let id = id();
    let kill_at = acting
        .iter()
        .position(|c| c.starts_with("signal 4290"))
        .unwrap();
    // The first removal makes podman notice conmon's death; the second removes it.
    assert_eq!(
        acting[kill_at + 1..],
        [format!("podman rm -f {id}"), format!("podman rm -f {id}")]
    );
    // No engine restart, no systemctl: the fake panics on any other program.
    assert!(!acting.iter().any(|c| c.contains("systemctl")));
    let step = r
        .steps
        .iter()
        .find(|s| s.action.starts_with("SIGKILL conmon"))
        .unwrap();
    assert!(
        step.detail
            .contains("SIGKILL conmon pid 4290 (conmon): sent"),
        "{}",
        step.detail
    );
}

#[test]
fn a_process_in_d_skips_every_signal_rung_and_goes_to_the_reboot() {
    let s = setup(Fault::DState);
    let gate = Gate::default();
    let r = rm(&s, &opts(), Risk::Reboot, &gate);
    assert_eq!(r.exit_code(), 1, "rebooting: {r}");
    let acted: Vec<(String, StepStatus)> = r
        .steps
        .iter()
        .filter(|s| s.risk > Risk::ReadOnly)
        .map(|s| (s.action.clone(), s.status))
        .collect();
    // stop, kill, rm -f, the conmon kill: futile; no restart rung at all; the reboot.
    assert_eq!(acted.len(), 5, "{acted:#?}");
    assert!(
        acted[..4].iter().all(|(_, st)| *st == StepStatus::Skipped),
        "{acted:#?}"
    );
    for s in r.steps.iter().filter(|s| s.status == StepStatus::Skipped) {
        assert!(
            s.detail.contains("uninterruptible sleep (D)"),
            "{}",
            s.detail
        );
    }
    assert!(acted[4].0.starts_with("reboot the host"), "{acted:#?}");
    assert!(!acted.iter().any(|(a, _)| a.contains("systemctl")));
    assert_eq!(gate.asked.lock().unwrap().len(), 1);
    assert!(
        s.fake.acting().is_empty(),
        "no signal and no engine command: {:?}",
        s.fake.acting()
    );
}

#[test]
fn docker_chosen_where_only_podman_exists_is_an_error_naming_it() {
    let s = setup(Fault::None);
    let o = with(opts(), |o| o.engine = Some(EngineKind::Docker));
    let r = rm(&s, &o, Risk::Disruptive, &Gate::default());
    assert_eq!(r.exit_code(), 1);
    let e = r.error.unwrap().to_string();
    assert!(
        e.contains("--engine docker") && e.contains("`docker` is not in PATH"),
        "{e}"
    );
    assert!(s.fake.calls().is_empty());
}

// ---- port who / port free -------------------------------------------------------------------

/// A rootful Podman host where web's conmon keeps port 80 open.
fn port_host() -> (FakeRoot, Arc<RecordingSystem>, Host) {
    use fakeroot::ino;
    let r = fakeroot::port_root();
    r.init().systemd();
    let id = id();
    r.add(
        &fakeroot::FakeProc::new(4290, "conmon", "/usr/bin/conmon")
            .cgroup(format!("/machine.slice/libpod-conmon-{id}.scope"))
            .cmdline(&[
                "/usr/bin/conmon",
                "--api-version",
                "1",
                "-c",
                &id,
                "-u",
                &id,
                "-n",
                "web",
            ])
            .sockets(&[ino::TCP4_ANY_80]),
    );
    r.program("usr/bin/podman");
    let rec = Arc::new(RecordingSystem::new());
    rec.respond(
        format!(
            "{} ps --all --format json",
            r.path().join("usr/bin/podman").display()
        ),
        CmdOutput::ok(read("ps.json").replace("\"host_port\": 8080", "\"host_port\": 80")),
    );
    rec.on_bind(|_, _| Err(Errno::EADDRINUSE));
    rec.on_signal(|pid, _, sig| {
        panic!("signal {sig:?} to {pid}: a container's holder is never signalled")
    });
    let host = Host::with_system(r.path(), rec.clone());
    (r, rec, host)
}

#[test]
fn port_who_names_the_podman_container() {
    let (_r, _rec, host) = port_host();
    let h = port::find_holders(&host, &WhoSpec::tcp(80)).unwrap();
    let o = &h.owners[0];
    assert_eq!(o.kind, OwnerKind::Container);
    let c = o.container.as_ref().unwrap();
    assert_eq!(c.engine, "podman");
    assert_eq!(c.name.as_deref(), Some("web"));
    assert_eq!(c.id.as_deref(), Some(id().as_str()));
    assert_eq!(c.via, "conmon");
    assert_eq!(c.stop_command, "podman stop web");
    let why = o.protected.as_deref().unwrap();
    assert!(
        why.contains("web (6a1b9c0d8e7f) (podman)") && why.ends_with("podman stop web"),
        "{why}"
    );
}

#[test]
fn port_free_refuses_the_podman_container_with_its_stop_command() {
    let (_r, rec, host) = port_host();
    let spec = with(FreeSpec::tcp(80), |s| s.engine = Some(EngineKind::Podman));
    let rep = port::free_port(&host, &spec, &Policy::new(Risk::Destructive));
    assert_eq!(rep.exit_code(), 3, "{rep}");
    let e = rep.error.as_ref().unwrap().to_string();
    assert!(e.contains("podman stop web"), "{e}");
    assert!(rec.signals().is_empty());
    assert!(
        rec.commands().iter().all(|c| c.contains("podman ps")),
        "only the list ran: {:?}",
        rec.commands()
    );
}

// ---- doctor and its typed fixes -----------------------------------------------------------------

#[test]
fn doctor_says_podman_and_no_daemon_and_its_fixes_carry_the_engine() {
    let s = setup(Fault::StoppedConmon);
    let opts = with(hostfix::doctor::DoctorOptions::default(), |o| {
        o.ports = vec![];
        o.state_dir = "/var/lib/hostfix".into();
    });
    let d = hostfix::doctor::diagnose(&s.host, &opts, &Policy::new(Risk::ReadOnly));
    let facts = &d.result.facts["containers"];
    assert_eq!(facts["kind"], "podman");
    assert_eq!(facts["daemon"], false);
    let names: Vec<&str> = facts["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web", "db"]);
    let said = d
        .result
        .findings
        .iter()
        .find(|f| f.title.starts_with("containers: podman"))
        .expect("doctor says which engine it used");
    assert!(
        said.title.ends_with("no engine daemon to restart"),
        "{}",
        said.title
    );
    assert!(s.fake.acting().is_empty(), "doctor only reads");

    let op = FixOp::RemoveContainer {
        target: "web".into(),
        engine: EngineKind::Podman,
    };
    let fix = hostfix::doctor::Fix::new(op, Risk::Destructive);
    assert_eq!(
        fix.command,
        "hostfix --engine podman container rm web --max-risk destructive"
    );
    // Applied, it runs under Podman.
    let applied = fix.apply(
        &s.host,
        &Policy::new(Risk::Destructive).state_dir("/var/lib/hostfix"),
    );
    assert!(applied.is_ok(), "{applied}");
    assert!(web_gone(&s));
}

// ---- the CLI ------------------------------------------------------------------------------------

#[test]
fn a_bad_engine_value_exits_2_naming_the_accepted_ones() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hostfix"))
        .args(["--dry-run", "--engine", "lxc", "container", "rm", "web"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("'lxc'") && e.contains("docker or podman"), "{e}");
}

#[test]
fn the_engine_flag_given_twice_differently_exits_2() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hostfix"))
        .args([
            "--dry-run",
            "--engine",
            "docker",
            "port",
            "who",
            "80",
            "--engine",
            "podman",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("--engine given 2 times"), "{e}");
}
