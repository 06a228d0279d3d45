//! The ladder end to end against a fake engine: a `System` that plays docker, containerd
//! and the kernel over a copy of a fixture root, with the incident's faults (a stopped
//! shim, a process stuck in `D`, a removal stuck until the engine restarts).
//!
//! Every test asserts the outcome the ladder verified (the container gone from the list
//! and its processes gone from the fake `/proc`), the exit code, and what ran.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use hostfix::container::{self, GuardedReboot, NoRebootGate, RebootGate, Removal, RemoveOptions};
use hostfix::testing::container::ladder::{ContainerRung, RebootRequest};
use hostfix::testing::{Cmd, CmdOutput, FakeRoot, RecordingSystem};
use hostfix::{Host, Policy, Report, Risk, StepStatus};
use nix::errno::Errno;
use nix::sys::signal::Signal;
use serde_json::json;

const OTHER: &str = "e4d6c8b7c3a9b2f5e1d4c8a0b6f2e9d1c3a5b7f9e0d2c4b6a8f1e3d5c7b9a0f2";

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/container")
        .join(rel)
}

fn id() -> String {
    std::fs::read_to_string(fixture("ID"))
        .unwrap()
        .trim()
        .to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Everything works as documented.
    None,
    /// The shim is stopped (SIGSTOP): every engine call that needs it hangs until the
    /// shim is killed.
    StoppedShim,
    /// The container's process is in `D`: the engine never gets an exit event, nothing
    /// dies.
    DState,
    /// A removal is stuck in the engine until docker restarts.
    RemovingUntilRestart,
    /// The daemon goes away at the first `docker stop`.
    DaemonDiesOnStop,
    /// As `StoppedShim`, and the engine keeps the `docker rm -f` it hung on: once the shim
    /// dies it finishes that removal by itself, a few polls later, and refuses another
    /// one meanwhile ("already in progress").
    StoppedShimPendingRemoval,
}

#[derive(Debug, Clone)]
struct FakeContainer {
    id: String,
    name: String,
    status: String,
    pids: Vec<i32>,
    shim: Option<i32>,
}

#[derive(Debug)]
struct State {
    containers: Vec<FakeContainer>,
    fault: Fault,
    daemon_up: bool,
    live_restore: bool,
    /// Polls of `docker ps` left before a pending removal completes.
    removal_in: Option<u32>,
    /// Whether `docker container inspect` hangs while the shim is stopped.
    inspect_hangs: bool,
}

/// docker + containerd + kernel, over a fixture root copied to a tempdir.
#[derive(Debug)]
struct Fake {
    root: PathBuf,
    state: Mutex<State>,
    calls: Mutex<Vec<String>>,
}

fn ok(s: impl Into<String>) -> CmdOutput {
    CmdOutput::ok(s)
}

fn fail(status: i32, e: impl Into<String>) -> CmdOutput {
    CmdOutput::failed(status, e)
}

impl Fake {
    fn new(root: &Path, fault: Fault, containers: Vec<FakeContainer>) -> Arc<Fake> {
        Arc::new(Fake {
            root: root.to_path_buf(),
            state: Mutex::new(State {
                containers,
                fault,
                daemon_up: true,
                live_restore: false,
                removal_in: None,
                inspect_hangs: false,
            }),
            calls: Mutex::new(Vec::new()),
        })
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    fn mutating(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| {
                !c.starts_with("docker ps")
                    && !c.starts_with("docker container inspect")
                    && !c.starts_with("docker info")
            })
            .collect()
    }

    fn listed(&self, id: &str) -> bool {
        self.state
            .lock()
            .unwrap()
            .containers
            .iter()
            .any(|c| c.id == id)
    }

    fn proc_exists(&self, pid: i32) -> bool {
        self.root.join(format!("proc/{pid}")).exists()
    }

    fn kill_pid(&self, pid: i32) {
        let _ = std::fs::remove_dir_all(self.root.join(format!("proc/{pid}")));
    }

    /// The container's processes die (unless stuck in D) and the engine sees it exit.
    fn exit(&self, st: &mut State, idx: usize) {
        if st.fault == Fault::DState {
            return;
        }
        let pids = st.containers[idx].pids.clone();
        for p in pids {
            self.kill_pid(p);
        }
        // The task is deleted once it exited: its shim exits too.
        if let Some(shim) = st.containers[idx].shim.take() {
            self.kill_pid(shim);
        }
        st.containers[idx].status = "exited".into();
    }

    fn inspect_json(c: &FakeContainer) -> String {
        let running = matches!(c.status.as_str(), "running" | "paused" | "removing");
        json!({
            "Id": c.id, "Name": format!("/{}", c.name),
            "State": {"Status": c.status, "Running": running, "Paused": c.status == "paused",
                      "Restarting": false, "Dead": c.status == "dead",
                      "Pid": if running { c.pids.first().copied().unwrap_or(0) } else { 0 },
                      "ExitCode": 0, "Error": ""},
            "RestartCount": 0,
            "HostConfig": {"PortBindings": {}, "RestartPolicy": {"Name": "no"}}
        })
        .to_string()
    }

    fn docker(&self, args: &[String]) -> CmdOutput {
        let mut st = self.state.lock().unwrap();
        if !st.daemon_up {
            return fail(
                1,
                "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
            );
        }
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let find = |st: &State, t: &str| {
            st.containers
                .iter()
                .position(|c| c.name == t || c.id.starts_with(t))
        };
        match a.as_slice() {
            ["ps", ..] if st.removal_in == Some(0) => {
                st.removal_in = None;
                st.containers.retain(|c| c.status != "removing");
                drop(st);
                self.docker(args)
            }
            ["ps", ..] => {
                if let Some(n) = st.removal_in.as_mut() {
                    *n -= 1;
                }
                ok(st
                    .containers
                    .iter()
                    .map(|c| {
                        json!({"ID": c.id, "Names": c.name, "Image": "busybox", "State": c.status,
                           "Status": "Up 1 minute", "Ports": ""})
                        .to_string()
                            + "\n"
                    })
                    .collect::<String>())
            }
            ["info", ..] => ok(format!("{}\n", st.live_restore)),
            ["container", "inspect", "--format", _, targets @ ..]
                if st.inspect_hangs && st.fault == Fault::StoppedShim =>
            {
                let _ = targets;
                fail(124, "")
            }
            ["container", "inspect", "--format", _, targets @ ..] => {
                let mut out = String::new();
                let mut err = String::new();
                for t in targets {
                    if *t == "7c" {
                        return fail(
                            1,
                            "Error response from daemon: multiple IDs found with provided prefix: 7c",
                        );
                    }
                    match find(&st, t) {
                        Some(i) => out.push_str(&(Self::inspect_json(&st.containers[i]) + "\n")),
                        None => err.push_str(&format!(
                            "Error response from daemon: No such container: {t}\n"
                        )),
                    }
                }
                CmdOutput {
                    status: Some(if err.is_empty() { 0 } else { 1 }),
                    stdout: out,
                    stderr: err,
                }
            }
            ["unpause", t] => {
                let i = find(&st, t).unwrap();
                st.containers[i].status = "running".into();
                ok(format!("{t}\n"))
            }
            [verb @ ("stop" | "kill"), .., t] => {
                let Some(i) = find(&st, t) else {
                    return fail(
                        1,
                        format!("Error response from daemon: No such container: {t}"),
                    );
                };
                match st.fault {
                    Fault::DaemonDiesOnStop => {
                        st.daemon_up = false;
                        fail(
                            1,
                            "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
                        )
                    }
                    // `timeout` killed the CLI.
                    Fault::StoppedShim | Fault::StoppedShimPendingRemoval => fail(124, ""),
                    Fault::DState => fail(
                        1,
                        format!(
                            "Error response from daemon: cannot {verb} container: {t}: tried to kill container, but did not receive an exit event"
                        ),
                    ),
                    Fault::RemovingUntilRestart => fail(
                        1,
                        format!(
                            "Error response from daemon: removal of container {t} is already in progress"
                        ),
                    ),
                    Fault::None => {
                        self.exit(&mut st, i);
                        ok(format!("{t}\n"))
                    }
                }
            }
            ["rm", "-f", t] => {
                let Some(i) = find(&st, t) else {
                    return fail(
                        1,
                        format!("Error response from daemon: No such container: {t}"),
                    );
                };
                if st.containers[i].status == "removing" {
                    return fail(
                        1,
                        format!(
                            "Error response from daemon: removal of container {t} is already in progress"
                        ),
                    );
                }
                match st.fault {
                    Fault::StoppedShim => fail(124, ""),
                    Fault::StoppedShimPendingRemoval => {
                        st.containers[i].status = "removing".into();
                        fail(124, "")
                    }
                    Fault::DState => fail(
                        1,
                        format!(
                            "Error response from daemon: Could not kill running container {}, cannot remove - tried to kill container, but did not receive an exit event",
                            st.containers[i].id
                        ),
                    ),
                    Fault::RemovingUntilRestart => fail(
                        1,
                        format!(
                            "Error response from daemon: removal of container {t} is already in progress"
                        ),
                    ),
                    _ => {
                        self.exit(&mut st, i);
                        st.containers.remove(i);
                        ok(format!("{t}\n"))
                    }
                }
            }
            ["rm", t] => {
                let Some(i) = find(&st, t) else {
                    return fail(
                        1,
                        format!("Error response from daemon: No such container: {t}"),
                    );
                };
                if st.fault == Fault::RemovingUntilRestart {
                    return fail(
                        1,
                        format!(
                            "Error response from daemon: removal of container {t} is already in progress"
                        ),
                    );
                }
                if matches!(st.containers[i].status.as_str(), "running" | "paused") {
                    return fail(
                        1,
                        format!(
                            "Error response from daemon: cannot remove container \"/{t}\": container is running: stop the container before removing or force remove"
                        ),
                    );
                }
                st.containers.remove(i);
                ok(format!("{t}\n"))
            }
            other => panic!("the fake engine does not know docker {other:?}"),
        }
    }

    fn systemctl(&self, args: &[String]) -> CmdOutput {
        let mut st = self.state.lock().unwrap();
        if args[0] == "restart" && args[1] == "docker.service" {
            // Without live-restore every running container stops with the engine.
            if st.fault == Fault::RemovingUntilRestart {
                st.fault = Fault::None;
            }
            for i in 0..st.containers.len() {
                if matches!(st.containers[i].status.as_str(), "running" | "removing")
                    && !st.live_restore
                {
                    self.exit(&mut st, i);
                }
            }
        }
        ok("")
    }
}

/// The fake's answers to the calls hostfix makes: the recording system's hooks.
impl Fake {
    fn run(&self, cmd: &Cmd) -> CmdOutput {
        let base = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
        let mut prog = base(&cmd.program);
        let mut args = cmd.args.clone();
        if prog == "timeout" {
            assert_eq!(&args[..2], &["-k".to_string(), "5".to_string()]);
            prog = base(&args[3]);
            args = args[4..].to_vec();
        }
        self.calls
            .lock()
            .unwrap()
            .push(format!("{prog} {}", args.join(" ")));
        match prog.as_str() {
            "docker" => self.docker(&args),
            "systemctl" => self.systemctl(&args),
            // The reboot guard's message to logged-in users.
            "wall" => ok(""),
            other => panic!("unexpected program {other}"),
        }
    }
    fn signal(&self, pid: i32, start: Option<u64>, sig: Signal) -> Result<(), Errno> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("signal {pid} {sig:?} start={start:?}"));
        assert_ne!(pid, 1, "PID 1 is never signalled");
        if !self.proc_exists(pid) {
            return Err(Errno::ESRCH);
        }
        let mut st = self.state.lock().unwrap();
        if st.fault == Fault::DState {
            return Ok(());
        }
        if let Some(i) = st.containers.iter().position(|c| c.shim == Some(pid)) {
            // containerd sees the shim die and cleans the task up: the engine finally
            // gets its exit event.
            self.kill_pid(pid);
            if st.fault == Fault::StoppedShim {
                st.fault = Fault::None;
            }
            if st.fault == Fault::StoppedShimPendingRemoval {
                st.fault = Fault::None;
                st.removal_in = Some(3);
                let pids = st.containers[i].pids.clone();
                for p in pids {
                    self.kill_pid(p);
                }
                st.containers[i].shim = None;
                return Ok(());
            }
            self.exit(&mut st, i);
        } else {
            self.kill_pid(pid);
        }
        Ok(())
    }
}

/// A recording system whose hooks are the fake: docker, containerd and the kernel.
fn recorder(fake: &Arc<Fake>) -> Arc<RecordingSystem> {
    let rec = Arc::new(RecordingSystem::new());
    let f = fake.clone();
    rec.on_run(move |cmd| Some(f.run(cmd)));
    let f = fake.clone();
    rec.on_signal(move |pid, start, sig| f.signal(pid, start, sig));
    rec.on_swapon(|_, _| panic!("swapon"));
    rec.on_swapoff(|_| panic!("swapoff"));
    rec.on_bind(|_, _| panic!("bind"));
    rec.on_reboot(|| panic!("the ladder never calls reboot(2) itself"));
    rec.set_now(SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_640_000));
    rec
}

struct Setup {
    _root: FakeRoot,
    root: PathBuf,
    fake: Arc<Fake>,
    host: Host,
}

fn setup(root: &str, fault: Fault, status: &str, listed: bool) -> Setup {
    let fake_root = FakeRoot::new();
    fake_root.copy_tree(fixture(&format!("roots/{root}")), "/");
    let r = fake_root.path().to_path_buf();
    let shim = r.join("proc/4290").exists().then_some(4290);
    let mut containers = Vec::new();
    if listed {
        containers.push(FakeContainer {
            id: id(),
            name: "web".into(),
            status: status.into(),
            pids: vec![4300, 4321],
            shim,
        });
    }
    if r.join("proc/5300").exists() {
        containers.push(FakeContainer {
            id: OTHER.into(),
            name: "db".into(),
            status: "running".into(),
            pids: vec![5300],
            shim: Some(5290),
        });
    }
    let fake = Fake::new(&r, fault, containers);
    let host = Host::with_system(&r, recorder(&fake));
    Setup {
        _root: fake_root,
        root: r,
        fake,
        host,
    }
}

fn rm(s: &Setup, cap: Risk, gate: &dyn RebootGate) -> Report<Removal> {
    rm_target(s, "web", cap, gate, false)
}

fn rm_target(
    s: &Setup,
    target: &str,
    cap: Risk,
    gate: &dyn RebootGate,
    dry: bool,
) -> Report<Removal> {
    let policy = Policy::new(cap).dry_run(dry).state_dir("/var/lib/hostfix");
    container::remove(&s.host, &RemoveOptions::new(target), &policy, gate)
}

fn statuses(r: &Report<Removal>) -> Vec<(String, StepStatus)> {
    r.steps
        .iter()
        .filter(|s| s.risk > Risk::ReadOnly)
        .map(|s| {
            (
                s.action.split(' ').take(2).collect::<Vec<_>>().join(" "),
                s.status,
            )
        })
        .collect()
}

fn step<'a>(r: &'a Report<Removal>, prefix: &str) -> &'a hostfix::Step {
    r.steps
        .iter()
        .find(|s| s.action.starts_with(prefix))
        .unwrap_or_else(|| panic!("no step {prefix}: {:#?}", r.steps))
}

#[test]
fn a_running_container_goes_at_the_first_rung() {
    let s = setup("running", Fault::None, "running", true);
    let r = rm(&s, Risk::Disruptive, &NoRebootGate);
    assert_eq!(r.exit_code(), 0, "{:?}", r.error);
    assert!(r.changed);
    assert_eq!(r.result.removed_by, Some(ContainerRung::Stop));
    assert!(r.result.gone && !r.result.already_gone);
    assert!(!s.fake.listed(&id()));
    assert!(!s.fake.proc_exists(4300));
    assert_eq!(
        s.fake.mutating(),
        vec![
            format!("docker stop -t 10 {}", id()),
            format!("docker rm {}", id())
        ]
    );
    // The other container was not touched.
    assert!(s.fake.listed(OTHER) && s.fake.proc_exists(5300));
    assert!(
        step(&r, "docker stop")
            .detail
            .contains("verified: not listed")
    );

    // Idempotent: a second run finds it gone and changes nothing.
    let again = rm(&s, Risk::Disruptive, &NoRebootGate);
    assert_eq!(again.exit_code(), 0);
    assert!(!again.changed);
    assert!(again.result.already_gone);
    assert_eq!(s.fake.mutating().len(), 2);
}

#[test]
fn a_stopped_shim_stops_at_the_cap_then_ends_at_the_shim_rung() {
    let s = setup("stopped-shim", Fault::StoppedShim, "running", true);
    let r = rm(&s, Risk::Disruptive, &NoRebootGate);
    assert_eq!(r.exit_code(), 3, "{:?}", r.error);
    assert_eq!(
        statuses(&r),
        vec![
            ("docker stop".into(), StepStatus::Failed),
            ("docker kill".into(), StepStatus::Failed),
            ("docker rm".into(), StepStatus::Failed),
            ("SIGKILL containerd".into(), StepStatus::Refused),
        ]
    );
    assert!(
        step(&r, "docker rm -f")
            .detail
            .contains("no answer in time")
    );
    let next = r.result.next.as_ref().unwrap();
    assert_eq!(next.rung, ContainerRung::KillShim);
    assert_eq!(next.risk, Risk::Destructive);
    assert!(
        r.error
            .as_ref()
            .unwrap()
            .to_string()
            .contains("needs --max-risk destructive")
    );
    assert!(s.fake.calls().iter().all(|c| !c.starts_with("signal")));
    assert!(s.fake.listed(&id()));
    // After a hung docker stop or kill, the rung does not wait out a plain docker rm too.
    for rung in ["docker stop", "docker kill"] {
        assert!(
            step(&r, rung).detail.contains("docker rm not tried"),
            "{:#?}",
            step(&r, rung)
        );
    }
    assert!(
        !s.fake
            .calls()
            .iter()
            .any(|c| c.starts_with("docker rm ") && !c.starts_with("docker rm -f")),
        "{:#?}",
        s.fake.calls()
    );

    let r = rm(&s, Risk::Destructive, &NoRebootGate);
    assert_eq!(r.exit_code(), 0, "{:?}", r.error);
    assert_eq!(r.result.removed_by, Some(ContainerRung::KillShim));
    assert!(
        s.fake
            .calls()
            .contains(&"signal 4290 SIGKILL start=Some(41000)".to_string())
    );
    assert!(!s.fake.listed(&id()));
    assert!(!s.fake.proc_exists(4290) && !s.fake.proc_exists(4300));
}

#[derive(Default)]
struct RecordingGate {
    asked: Mutex<Vec<RebootRequest>>,
}

impl RebootGate for RecordingGate {
    fn reboot(&self, _: &Host, p: &Policy, req: &RebootRequest) -> hostfix::Result<String> {
        assert_eq!(p.max_risk, Risk::Reboot);
        self.asked.lock().unwrap().push(req.clone());
        Ok("reboot queued (systemctl reboot)".into())
    }
}

#[test]
fn a_process_in_d_skips_every_signal_rung_and_needs_the_reboot() {
    let s = setup("stuck-d", Fault::DState, "running", true);
    for cap in [Risk::Disruptive, Risk::Destructive] {
        let r = rm(&s, cap, &NoRebootGate);
        assert_eq!(r.exit_code(), 3, "{:?}", r.error);
        let st = statuses(&r);
        assert_eq!(st.len(), 6, "{st:?}");
        assert!(
            st[..5].iter().all(|(_, s)| *s == StepStatus::Skipped),
            "{st:?}"
        );
        assert_eq!(st[5].1, StepStatus::Refused);
        for skipped in &r.steps[r.steps.len() - 6..r.steps.len() - 1] {
            assert!(
                skipped.detail.contains("uninterruptible sleep (D)"),
                "{}",
                skipped.detail
            );
        }
        let next = r.result.next.as_ref().unwrap();
        assert_eq!(
            (next.rung, next.risk),
            (ContainerRung::Reboot, Risk::Reboot)
        );
        assert!(matches!(
            r.result.futility,
            Some(container::Futility::Uninterruptible { .. })
        ));
    }
    // Nothing was tried that could not work.
    assert!(s.fake.mutating().is_empty(), "{:?}", s.fake.mutating());

    // At the reboot cap without a guard: refused by the guard, never faked.
    let r = rm(&s, Risk::Reboot, &NoRebootGate);
    assert_eq!(r.exit_code(), 3);
    let last = r.steps.last().unwrap();
    assert_eq!(last.status, StepStatus::Refused);
    assert!(last.detail.contains("reboot-guard"), "{}", last.detail);
    assert!(!s.root.join("var/lib/hostfix/container").exists());

    // With the guard: asked once, with a once-only key; the run reports the pending
    // reboot and exits 1 (the container is not gone yet).
    let gate = RecordingGate::default();
    let r = rm(&s, Risk::Reboot, &gate);
    assert_eq!(r.exit_code(), 1, "{:?}", r.error);
    assert!(r.error.as_ref().unwrap().to_string().contains("rebooting"));
    assert_eq!(r.steps.last().unwrap().status, StepStatus::Done);
    let asked = gate.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].key, format!("container-rm-{}", id()));
    assert!(asked[0].reason.contains("uninterruptible"));
    let rec = s
        .root
        .join(format!("var/lib/hostfix/container/{}.reboot.json", id()));
    assert!(rec.exists());
    assert!(!r.result.reboot.as_ref().unwrap().confirmed);

    // The boot: a new boot id, the frozen filesystem is gone, the engine finds the
    // container exited.
    std::fs::write(
        s.root.join("proc/sys/kernel/random/boot_id"),
        "5d2c8e1a-7b3f-4a9d-8c6e-1f0b2a4d6e8c\n",
    )
    .unwrap();
    for p in [4290, 4300, 4321] {
        s.fake.kill_pid(p);
    }
    {
        let mut st = s.fake.state.lock().unwrap();
        st.fault = Fault::None;
        st.containers[0].status = "exited".into();
    }
    let never = |_: &Host, _: &Policy, _: &RebootRequest| -> hostfix::Result<String> {
        panic!("no second reboot")
    };
    let r = rm(&s, Risk::Reboot, &never);
    assert_eq!(r.exit_code(), 0, "{:?}", r.error);
    assert_eq!(r.result.removed_by, Some(ContainerRung::Stop));
    assert_eq!(step(&r, "docker rm").action, "docker rm web");
    let rb = r.result.reboot.as_ref().unwrap();
    assert!(rb.confirmed);
    assert_eq!(rb.requested_in_boot, "0b5e2f7a-3c1d-4e8f-9a6b-2d4c6e8f0a1b");
    assert!(
        !rec.exists(),
        "the record is cleared once the container is gone"
    );
    assert!(!s.fake.listed(&id()));
}

#[test]
fn a_frozen_v2_cgroup_skips_sigterm_and_ends_at_kill() {
    let s = setup("frozen-v2", Fault::None, "running", true);
    let r = rm(&s, Risk::Disruptive, &NoRebootGate);
    assert_eq!(r.exit_code(), 0, "{:?}", r.error);
    let stop = step(&r, "docker stop");
    assert_eq!(stop.status, StepStatus::Skipped);
    assert!(stop.detail.contains("frozen"), "{}", stop.detail);
    assert_eq!(r.result.removed_by, Some(ContainerRung::Kill));
}

#[test]
fn a_frozen_v1_cgroup_on_a_host_without_systemd_needs_the_reboot() {
    let s = setup("frozen-v1", Fault::None, "running", true);
    let r = rm(&s, Risk::Destructive, &NoRebootGate);
    assert_eq!(r.exit_code(), 3, "{:?}", r.error);
    let restart = step(&r, "systemctl restart");
    assert_eq!(restart.status, StepStatus::Skipped);
    assert!(restart.detail.contains("not a systemd host"));
    assert_eq!(r.result.next.as_ref().unwrap().rung, ContainerRung::Reboot);
    assert!(s.fake.mutating().is_empty(), "{:?}", s.fake.mutating());
}

#[test]
fn a_paused_container_is_unpaused_first() {
    let s = setup("running", Fault::None, "paused", true);
    let r = rm(&s, Risk::Disruptive, &NoRebootGate);
    assert_eq!(r.exit_code(), 0, "{:?}", r.error);
    assert_eq!(step(&r, "docker unpause").status, StepStatus::Done);
    assert_eq!(r.result.removed_by, Some(ContainerRung::Stop));
    assert_eq!(s.fake.mutating()[0], format!("docker unpause {}", id()));
}

#[test]
fn processes_the_engine_forgot_are_killed_at_destructive() {
    let s = setup("leftover", Fault::None, "running", false);
    let r = rm_target(&s, &id(), Risk::Disruptive, &NoRebootGate, false);
    assert_eq!(r.exit_code(), 3, "{:?}", r.error);
    assert_eq!(
        r.result.next.as_ref().unwrap().rung,
        ContainerRung::KillShim
    );
    let first = step(&r, "docker rm");
    assert_eq!(first.status, StepStatus::Skipped);
    assert!(first.detail.contains("no longer lists"), "{}", first.detail);

    let r = rm_target(&s, &id()[..12], Risk::Destructive, &NoRebootGate, false);
    assert_eq!(r.exit_code(), 0, "{:?}", r.error);
    assert_eq!(r.result.removed_by, Some(ContainerRung::KillShim));
    let m = s.fake.mutating();
    assert_eq!(
        m,
        vec![
            "signal 4290 SIGKILL start=Some(41000)".to_string(),
            "signal 4300 SIGKILL start=Some(41010)".to_string()
        ]
    );
    assert!(!s.fake.proc_exists(4300));
}

#[test]
fn an_engine_restart_clears_a_stuck_removal_and_names_who_it_hits() {
    let s = setup("running", Fault::RemovingUntilRestart, "removing", true);
    // No shim: the shim rung has nothing to kill.
    s.fake.kill_pid(4290);
    s.fake.state.lock().unwrap().containers[0].shim = None;
    let r = rm(&s, Risk::Disruptive, &NoRebootGate);
    assert_eq!(r.exit_code(), 3);
    assert_eq!(
        r.result.next.as_ref().unwrap().rung,
        ContainerRung::RestartEngine
    );
    assert_eq!(r.result.engine_restart_hits, vec!["db".to_string()]);
    let refused = step(&r, "systemctl restart");
    assert_eq!(refused.status, StepStatus::Refused);
    assert!(
        refused.reason.contains("live-restore is off): db"),
        "{}",
        refused.reason
    );
    assert!(
        step(&r, "kill the containerd shim")
            .detail
            .contains("no containerd shim")
    );

    let r = rm(&s, Risk::Destructive, &NoRebootGate);
    assert_eq!(r.exit_code(), 0, "{:?}", r.error);
    assert_eq!(r.result.removed_by, Some(ContainerRung::RestartEngine));
    let m = s.fake.mutating();
    let tail: Vec<&str> = m.iter().rev().take(3).rev().map(String::as_str).collect();
    assert_eq!(
        tail,
        vec![
            "systemctl restart containerd.service",
            "systemctl restart docker.service",
            &format!("docker rm -f {}", id()),
        ]
    );
    assert!(!s.fake.listed(&id()));
}

#[test]
fn a_dry_run_plans_every_rung_under_the_cap_and_names_the_next() {
    let s = setup("running", Fault::None, "running", true);
    let r = rm_target(&s, "web", Risk::Disruptive, &NoRebootGate, true);
    assert_eq!(r.exit_code(), 0, "{:?}", r.error);
    assert!(r.dry_run && r.changed);
    // The whole escalation the cap allows, in order, as `port free --dry-run` shows it.
    assert_eq!(
        statuses(&r),
        vec![
            ("docker stop".into(), StepStatus::Planned),
            ("docker kill".into(), StepStatus::Planned),
            ("docker rm".into(), StepStatus::Planned),
        ]
    );
    let next = r.result.next.as_ref().unwrap();
    assert_eq!(
        (next.rung, next.risk),
        (ContainerRung::KillShim, Risk::Destructive)
    );
    assert_eq!(r.result.ladder.len(), 6);
    assert!(s.fake.mutating().is_empty());
    assert!(s.fake.listed(&id()));
    assert!(
        !s.root.join("var/lib/hostfix").exists(),
        "a dry run takes no lock"
    );
}

#[test]
fn a_daemon_that_goes_away_stops_the_ladder() {
    let s = setup("running", Fault::DaemonDiesOnStop, "running", true);
    let r = rm(&s, Risk::Destructive, &NoRebootGate);
    assert_eq!(r.exit_code(), 1, "{:?}", r.error);
    assert!(
        r.error
            .as_ref()
            .unwrap()
            .to_string()
            .contains("Is the docker daemon running?")
    );
    assert_eq!(
        statuses(&r),
        vec![("docker stop".into(), StepStatus::Failed)]
    );
    assert!(s.fake.calls().iter().all(|c| !c.starts_with("signal")));
}

#[test]
fn unknown_and_ambiguous_targets() {
    let s = setup("running", Fault::None, "running", true);
    let r = rm_target(&s, "nope", Risk::Disruptive, &NoRebootGate, false);
    assert_eq!(r.exit_code(), 0);
    assert!(!r.changed && r.result.already_gone);
    let r = rm_target(&s, "7c", Risk::Disruptive, &NoRebootGate, false);
    assert_eq!(r.exit_code(), 2, "{:?}", r.error);
    assert!(
        r.error
            .as_ref()
            .unwrap()
            .to_string()
            .contains("multiple IDs")
    );
    let r = rm_target(&s, "--all", Risk::Disruptive, &NoRebootGate, false);
    assert_eq!(r.exit_code(), 2);
    assert!(s.fake.mutating().is_empty());
}

#[test]
fn another_run_holding_the_lock_refuses() {
    let s = setup("running", Fault::None, "running", true);
    let held = hostfix::testing::state::HostLock::acquire(&s.host, Duration::ZERO).unwrap();
    let policy = Policy::new(Risk::Disruptive).state_dir("/var/lib/hostfix");
    let mut o = RemoveOptions::new("web");
    o.lock_wait = Duration::ZERO;
    let r = container::remove(&s.host, &o, &policy, &NoRebootGate);
    assert_eq!(r.exit_code(), 3, "{:?}", r.error);
    assert!(
        r.error
            .as_ref()
            .unwrap()
            .to_string()
            .contains("holds the lock")
    );
    assert!(s.fake.mutating().is_empty());
    drop(held);
    let r = container::remove(&s.host, &o, &policy, &NoRebootGate);
    assert_eq!(r.exit_code(), 0, "{:?}", r.error);
}

#[test]
fn hostfix_never_removes_the_container_it_runs_in() {
    let s = setup("running", Fault::None, "running", true);
    let me = std::process::id();
    let dir = s.root.join(format!("proc/{me}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("stat"),
        format!("{me} (hostfix) R 1 {me} {me} 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 50000 1 1\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("cgroup"),
        format!("0::/system.slice/docker-{}.scope\n", id()),
    )
    .unwrap();
    let r = rm(&s, Risk::Reboot, &NoRebootGate);
    assert_eq!(r.exit_code(), 3, "{:?}", r.error);
    assert!(
        r.error
            .as_ref()
            .unwrap()
            .to_string()
            .contains("hostfix runs inside it")
    );
    assert!(s.fake.mutating().is_empty());
}

#[test]
fn after_the_shim_kill_the_engine_finishes_the_removal_it_hung_on() {
    let s = setup(
        "stopped-shim",
        Fault::StoppedShimPendingRemoval,
        "running",
        true,
    );
    let r = rm(&s, Risk::Destructive, &NoRebootGate);
    assert_eq!(r.exit_code(), 0, "{:?}\n{:#?}", r.error, r.steps);
    assert_eq!(r.result.removed_by, Some(ContainerRung::KillShim));
    let shim = step(&r, "SIGKILL containerd shim");
    // Its own `docker rm -f` was refused (the engine was already removing it); the rung
    // still counts because the container went.
    assert!(
        shim.detail.contains("already in progress"),
        "{}",
        shim.detail
    );
    assert!(shim.detail.contains("verified"), "{}", shim.detail);
    assert!(!s.fake.listed(&id()));
}

#[test]
fn an_inspect_that_hangs_falls_back_to_the_list() {
    let s = setup("stopped-shim", Fault::StoppedShim, "running", true);
    s.fake.state.lock().unwrap().inspect_hangs = true;
    let r = rm(&s, Risk::Destructive, &NoRebootGate);
    assert_eq!(r.exit_code(), 0, "{:?}\n{:#?}", r.error, r.steps);
    assert_eq!(r.result.removed_by, Some(ContainerRung::KillShim));
    // Even the lookup of the name hung: the list told the id.
    assert!(
        s.fake
            .calls()
            .iter()
            .any(|c| c == "docker container inspect --format {{json .}} web")
    );
    assert_eq!(r.result.id.as_deref(), Some(id().as_str()));
    // Once an inspect hung, the run does not wait on another: docker ps tells the state.
    let inspects = s
        .fake
        .calls()
        .iter()
        .filter(|c| c.starts_with("docker container inspect"))
        .count();
    assert_eq!(inspects, 1, "{:#?}", s.fake.calls());
}

#[test]
fn the_reboot_guard_reboots_once_per_container_and_the_next_boot_confirms_it() {
    let s = setup("stuck-d", Fault::DState, "running", true);
    let gate = GuardedReboot::default();
    // Below the reboot cap the guard is not even asked.
    let r = rm(&s, Risk::Destructive, &gate);
    assert_eq!(r.exit_code(), 3);
    assert!(!s.root.join("var/lib/hostfix/reboot-ledger.json").exists());

    let r = rm(&s, Risk::Reboot, &gate);
    assert_eq!(r.exit_code(), 1, "{:?}\n{:#?}", r.error, r.steps);
    let last = r.steps.last().unwrap();
    assert_eq!((last.risk, last.status), (Risk::Reboot, StepStatus::Done));
    assert!(last.detail.contains("systemctl reboot"), "{}", last.detail);
    assert!(last.detail.contains("once allow"), "{}", last.detail);
    let reboots: Vec<String> = s
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("systemctl reboot"))
        .collect();
    assert_eq!(reboots.len(), 1, "{reboots:?}");
    let ledger =
        std::fs::read_to_string(s.root.join("var/lib/hostfix/reboot-ledger.json")).unwrap();
    assert!(
        ledger.contains(&format!("container-rm-{}", id())),
        "{ledger}"
    );

    // Run again in the same boot (the reboot has not happened): the guard says no.
    let r = rm(&s, Risk::Reboot, &gate);
    assert_eq!(r.exit_code(), 3, "{:?}", r.error);
    let last = r.steps.last().unwrap();
    assert_eq!(last.status, StepStatus::Refused);
    assert!(last.detail.contains("once"), "{}", last.detail);
    assert!(!r.result.reboot.as_ref().unwrap().confirmed);
    let reboots = s
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("systemctl reboot"))
        .count();
    assert_eq!(reboots, 1, "no second reboot");

    // The boot: the container is found exited and goes at the first rung.
    std::fs::write(
        s.root.join("proc/sys/kernel/random/boot_id"),
        "5d2c8e1a-7b3f-4a9d-8c6e-1f0b2a4d6e8c\n",
    )
    .unwrap();
    for p in [4290, 4300, 4321] {
        s.fake.kill_pid(p);
    }
    {
        let mut st = s.fake.state.lock().unwrap();
        st.fault = Fault::None;
        st.containers[0].status = "exited".into();
    }
    let r = rm(&s, Risk::Reboot, &gate);
    assert_eq!(r.exit_code(), 0, "{:?}", r.error);
    assert_eq!(r.result.removed_by, Some(ContainerRung::Stop));
    assert!(r.result.reboot.as_ref().unwrap().confirmed);
}

#[test]
fn a_read_only_cap_refuses_the_first_rung_and_creates_nothing() {
    let s = setup("running", Fault::None, "running", true);
    let r = rm(&s, Risk::ReadOnly, &NoRebootGate);
    assert_eq!(r.exit_code(), 3, "{:?}", r.error);
    assert!(!r.changed);
    assert_eq!(r.result.next.as_ref().unwrap().rung, ContainerRung::Stop);
    assert!(s.fake.mutating().is_empty());
    assert!(!s.root.join("var/lib/hostfix").exists());
}

/// The first stop grace that panicked the ladder: `--timeout 18446744073709551615`
/// (the stop rung added the engine's command limit to it with `+`). It is bad input now,
/// before anything runs; the rung's own arithmetic saturates as well.
#[test]
fn a_huge_stop_grace_is_bad_input_and_touches_nothing() {
    let s = setup("running", Fault::None, "running", true);
    let mut opts = RemoveOptions::new("web");
    opts.stop_grace = std::time::Duration::from_secs(u64::MAX);
    let policy = Policy::new(Risk::Disruptive).state_dir("/var/lib/hostfix");
    let r = container::remove(&s.host, &opts, &policy, &NoRebootGate);
    assert_eq!(r.exit_code(), 2, "{:?}", r.error);
    assert!(r.error.unwrap().to_string().contains("--timeout"));
    assert!(s.fake.mutating().is_empty());
    assert!(s.fake.listed(&id()));
}
