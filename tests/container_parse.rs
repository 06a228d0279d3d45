//! Pure tests: the engine's output, the ladder's decisions from each state, futility from
//! fixture `/proc` trees, and doctor's findings.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hostfix::Risk;
use hostfix::doctor::{Area, FixOp, Severity};
use hostfix::testing::container::ladder::{
    ContainerRung, LadderEnv, Names, Observation, RungDecision, action, decide, next_rung,
    plan_ladder, restart_hits, restart_impact,
};
use hostfix::testing::container::procs::{self, Futility, Sampling};
use hostfix::testing::container::{
    ContainerInfo, PortHolderSummary, PortHolders, findings, findings_with_holders,
};
use hostfix::testing::engine::{
    self, EngineFailure, Status, classify_failure, parse_inspect, parse_live_restore, parse_ps,
};
use hostfix::testing::{Call, CmdOutput, FakeRoot, RecordingSystem};
use hostfix::{EngineKind, Host};

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/container")
        .join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(fixture(rel)).unwrap()
}

fn id() -> String {
    read("ID").trim().to_string()
}

fn info(name: &str) -> ContainerInfo {
    parse_inspect(&read(&format!("engine/inspect-{name}.json")))
        .unwrap()
        .remove(0)
}

// ---- the engine's output ----

#[test]
fn inspect_of_a_running_container() {
    let i = info("web-running");
    assert_eq!(i.id, id());
    assert_eq!(i.name, "web");
    assert_eq!(i.status, Status::Running);
    assert!(i.running && !i.paused && !i.dead);
    assert_eq!(i.pid, 4300);
    assert_eq!(i.short_id(), &id()[..12]);
    assert_eq!(i.published.len(), 1);
    assert_eq!(i.published[0].host_port, 8080);
    assert_eq!(i.published[0].container_port, 80);
    assert_eq!(i.published[0].to_string(), "0.0.0.0:8080->80/tcp");
}

#[test]
fn inspect_of_a_container_whose_port_was_taken() {
    let i = info("nginx-port-taken");
    assert_eq!(i.status, Status::Created);
    assert_eq!(i.exit_code, 128);
    assert!(i.error.contains("bind: address already in use"));
    let mut ports: Vec<u16> = i.published.iter().map(|p| p.host_port).collect();
    ports.sort();
    assert_eq!(ports, vec![80, 443]);
    assert_eq!(
        hostfix::testing::engine::ports_in_use_from_error(&i.error),
        vec![80]
    );
}

#[test]
fn inspect_states_and_the_array_form() {
    assert_eq!(info("old-nginx-dead").status, Status::Dead);
    assert!(info("old-nginx-dead").dead);
    let r = info("app-restarting");
    assert_eq!(r.status, Status::Restarting);
    assert_eq!(r.restart_count, 14);
    assert_eq!(r.restart_policy, "always");
    assert!(info("web-paused").paused);
    assert_eq!(info("web-removing").status, Status::Removing);
    let both = parse_inspect(&read("engine/inspect-array.json")).unwrap();
    assert_eq!(both.len(), 2);
    assert_eq!(both[1].name, "nginx");
}

#[test]
fn inspect_rejects_what_is_not_a_container() {
    let e = parse_inspect("{\"Id\":\"abc\"}").unwrap_err();
    assert!(e.to_string().contains("not a 64-digit hex id"), "{e}");
    let e = parse_inspect("not json").unwrap_err();
    assert!(e.to_string().contains("line 1"), "{e}");
    assert!(parse_inspect("").unwrap().is_empty());
}

#[test]
fn ps_lines_with_and_without_state() {
    let l = parse_ps(&read("engine/ps-incident.txt")).unwrap();
    assert_eq!(l.len(), 5);
    assert_eq!(l[0].id, id());
    assert_eq!(l[0].name(), "web");
    assert_eq!(l[0].state, Status::Running);
    assert_eq!(l[2].state, Status::Created);
    assert_eq!(l[3].state, Status::Dead);
    assert_eq!(l[4].state, Status::Restarting);
    let old = parse_ps(&read("engine/ps-pre-20.10.txt")).unwrap();
    let states: Vec<Status> = old.iter().map(|e| e.state.clone()).collect();
    assert_eq!(
        states,
        vec![
            Status::Running,
            Status::Running,
            Status::Created,
            Status::Dead,
            Status::Restarting,
            Status::Removing,
            Status::Paused
        ]
    );
    assert_eq!(old[6].names, vec!["frozen", "linked/alias"]);
    assert!(parse_ps("{\"ID\": 3}").is_err());
}

#[test]
fn live_restore_and_engine_messages() {
    assert_eq!(parse_live_restore("true\n"), Some(true));
    assert_eq!(parse_live_restore("false"), Some(false));
    assert_eq!(parse_live_restore("<no value>"), None);
    let f = |file: &str| classify_failure(&CmdOutput::failed(1, read(file)), true);
    assert_eq!(f("engine/no-such-container.txt"), EngineFailure::NotFound);
    assert_eq!(f("engine/daemon-down.txt"), EngineFailure::Unreachable);
    assert_eq!(f("engine/permission.txt"), EngineFailure::PermissionDenied);
    assert_eq!(f("engine/rm-force-exit-event.txt"), EngineFailure::Other);
    assert_eq!(f("engine/removal-in-progress.txt"), EngineFailure::Other);
}

// ---- futility from fixture /proc trees ----

fn root_host(root: &str) -> (Host, Arc<RecordingSystem>) {
    let rec = Arc::new(RecordingSystem::new());
    (
        Host::with_system(fixture(&format!("roots/{root}")), rec.clone()),
        rec,
    )
}

#[test]
fn scan_finds_processes_and_shims_by_id() {
    let (host, _) = root_host("running");
    let t = procs::scan(&host);
    let p = t.processes_of(&id());
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].pid, 4300);
    assert_eq!(p[0].state, 'S');
    assert_eq!(p[0].start_time, 41010);
    let s = t.shims_of(&id());
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].pid, 4290);
    // containerd, dockerd and PID 1 belong to no container.
    assert_eq!(t.ids().len(), 2);
}

#[test]
fn d_state_in_every_sample_is_futile() {
    let (host, rec) = root_host("stuck-d");
    let t = procs::scan(&host);
    let p = t.processes_of(&id());
    assert_eq!(p.len(), 2);
    let f = procs::futility(&host, &p, false, Sampling::default()).unwrap();
    match &f {
        Futility::Uninterruptible {
            processes, samples, ..
        } => {
            assert_eq!(processes, &vec!["pid 4321 (dd)".to_string()]);
            assert_eq!(*samples, 3);
        }
        other => panic!("{other:?}"),
    }
    assert!(f.why().contains("uninterruptible sleep (D)"));
    // It sampled: two more reads, 300 ms apart.
    let sleeps = rec
        .calls()
        .into_iter()
        .filter(|c| matches!(c, Call::Sleep(d) if *d == Duration::from_millis(300)))
        .count();
    assert_eq!(sleeps, 2);
}

#[test]
fn a_process_that_leaves_d_is_not_stuck() {
    let root = FakeRoot::new();
    root.copy_tree(fixture("roots/stuck-d"), "/");
    let host = Host::fake(root.path());
    let p = procs::scan(&host).processes_of(&id());
    // The I/O returns before the second sample.
    let stat = root.join("/proc/4321/stat");
    let text = std::fs::read_to_string(&stat)
        .unwrap()
        .replace(") D ", ") R ");
    std::fs::write(&stat, text).unwrap();
    assert_eq!(procs::futility(&host, &p, false, Sampling::default()), None);
}

#[test]
fn frozen_cgroups_v2_and_v1() {
    let (host, _) = root_host("frozen-v2");
    let p = procs::scan(&host).processes_of(&id());
    let f = procs::futility(&host, &p, false, Sampling::default()).unwrap();
    assert!(matches!(
        f,
        Futility::Frozen {
            cgroup_version: 2,
            ..
        }
    ));
    assert!(f.why().contains("cgroup.events: frozen 1"), "{}", f.why());
    // The engine paused it: `docker unpause` thaws it, so it is not futile.
    assert_eq!(procs::futility(&host, &p, true, Sampling::default()), None);

    let (host, _) = root_host("frozen-v1");
    let p = procs::scan(&host).processes_of(&id());
    assert_eq!(p.len(), 1, "the v1 freezer path names the container");
    let f = procs::futility(&host, &p, false, Sampling::default()).unwrap();
    assert!(matches!(
        f,
        Futility::Frozen {
            cgroup_version: 1,
            ..
        }
    ));
    assert!(f.why().contains("not even SIGKILL"));

    let (host, _) = root_host("running");
    let p = procs::scan(&host).processes_of(&id());
    assert_eq!(procs::futility(&host, &p, false, Sampling::default()), None);
}

// ---- the ladder's decisions from each state ----

fn obs(root: &str, inspect: Option<&str>) -> Observation {
    let (host, _) = root_host(root);
    let t = procs::scan(&host);
    let info = inspect.map(info);
    let paused = info.as_ref().is_some_and(|i| i.paused);
    let processes = t.processes_of(&id());
    Observation {
        id: id(),
        listed: info.is_some(),
        futility: procs::futility(&host, &processes, paused, Sampling::default()),
        info,
        processes,
        shims: t.shims_of(&id()),
        others_running: vec!["db".into()],
    }
}

const SYSTEMD: LadderEnv = LadderEnv {
    systemd: true,
    live_restore: Some(false),
    engine: EngineKind::Docker,
};

fn decisions(o: &Observation, env: &LadderEnv) -> Vec<(ContainerRung, bool)> {
    ContainerRung::LADDER
        .iter()
        .filter_map(|r| match decide(*r, o, env) {
            RungDecision::Try => Some((*r, true)),
            RungDecision::Skip(_) => Some((*r, false)),
            RungDecision::NotApplicable => None,
            other => panic!("a decision this test does not know: {other:?}"),
        })
        .collect()
}

#[test]
fn running_container_tries_every_rung_in_order() {
    let o = obs("running", Some("web-running"));
    assert!(decisions(&o, &SYSTEMD).iter().all(|(_, t)| *t));
    assert_eq!(decisions(&o, &SYSTEMD).len(), 6, "no unpause rung");
    assert_eq!(
        next_rung(ContainerRung::Stop, &o, &SYSTEMD),
        Some(ContainerRung::Kill)
    );
    assert_eq!(
        next_rung(ContainerRung::RmForce, &o, &SYSTEMD),
        Some(ContainerRung::KillShim)
    );
    let n = Names {
        name: "web".into(),
        stop_grace: Duration::from_secs(10),
        engine: EngineKind::Docker,
    };
    assert_eq!(
        action(ContainerRung::Stop, &o, &n),
        "docker stop -t 10 web, then docker rm web"
    );
    assert!(
        action(ContainerRung::KillShim, &o, &n)
            .starts_with("SIGKILL containerd shim pid 4290 of web")
    );
    let plan = plan_ladder(&o, &SYSTEMD, &n, Risk::Disruptive);
    let allowed: Vec<bool> = plan.iter().map(|p| p.allowed).collect();
    assert_eq!(allowed, vec![true, true, true, false, false, false]);
}

#[test]
fn stuck_in_d_skips_to_the_reboot() {
    let o = obs("stuck-d", Some("web-running"));
    let d = decisions(&o, &SYSTEMD);
    assert_eq!(
        d,
        vec![
            (ContainerRung::Stop, false),
            (ContainerRung::Kill, false),
            (ContainerRung::RmForce, false),
            (ContainerRung::KillShim, false),
            (ContainerRung::RestartEngine, false),
            (ContainerRung::Reboot, true)
        ]
    );
    match decide(ContainerRung::KillShim, &o, &SYSTEMD) {
        RungDecision::Skip(why) => assert!(why.contains("orphan"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        next_rung(ContainerRung::Unpause, &o, &SYSTEMD),
        Some(ContainerRung::Reboot)
    );
}

#[test]
fn after_the_reboot_the_first_rung_is_a_plain_rm() {
    let o = obs("empty", Some("web-exited"));
    assert_eq!(decide(ContainerRung::Stop, &o, &SYSTEMD), RungDecision::Try);
    let n = Names {
        name: "web".into(),
        stop_grace: Duration::from_secs(10),
        engine: EngineKind::Docker,
    };
    assert_eq!(action(ContainerRung::Stop, &o, &n), "docker rm web");
    match decide(ContainerRung::Kill, &o, &SYSTEMD) {
        RungDecision::Skip(why) => assert!(why.contains("exited"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn stopped_shim_is_not_futile() {
    let o = obs("stopped-shim", Some("web-running"));
    assert_eq!(o.futility, None);
    assert_eq!(o.shims[0].state, 'T');
    assert!(decisions(&o, &SYSTEMD).iter().all(|(_, t)| *t));
}

#[test]
fn frozen_v2_skips_only_sigterm_and_v1_every_signal() {
    let o = obs("frozen-v2", Some("web-running"));
    let d = decisions(&o, &SYSTEMD);
    assert_eq!(d[0], (ContainerRung::Stop, false));
    assert_eq!(d[1], (ContainerRung::Kill, true));
    assert_eq!(d[2], (ContainerRung::RmForce, true));
    let o = obs("frozen-v1", Some("web-running"));
    let no_systemd = LadderEnv {
        systemd: false,
        live_restore: None,
        engine: EngineKind::Docker,
    };
    let d = decisions(&o, &no_systemd);
    assert!(d.iter().take(5).all(|(_, t)| !*t), "{d:?}");
    match decide(ContainerRung::RestartEngine, &o, &no_systemd) {
        RungDecision::Skip(why) => assert!(why.contains("not a systemd host"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn paused_by_the_engine_unpauses_first() {
    let o = obs("frozen-v2", Some("web-paused"));
    assert_eq!(o.futility, None);
    assert_eq!(
        decide(ContainerRung::Unpause, &o, &SYSTEMD),
        RungDecision::Try
    );
    assert_eq!(decide(ContainerRung::Stop, &o, &SYSTEMD), RungDecision::Try);
}

#[test]
fn forgotten_by_the_engine_goes_to_the_shim() {
    let o = obs("leftover", None);
    assert!(!o.gone());
    let d = decisions(&o, &SYSTEMD);
    assert_eq!(
        &d[..3],
        &[
            (ContainerRung::Stop, false),
            (ContainerRung::Kill, false),
            (ContainerRung::RmForce, false)
        ]
    );
    assert_eq!(d[3], (ContainerRung::KillShim, true));
    let n = Names {
        name: "7c3a9b2f5e1d".into(),
        stop_grace: Duration::from_secs(10),
        engine: EngineKind::Docker,
    };
    assert!(action(ContainerRung::KillShim, &o, &n).ends_with("and its leftover processes"));
}

#[test]
fn gone_and_no_shim() {
    let o = obs("empty", None);
    assert!(o.gone());
    let o = obs("empty", Some("old-nginx-dead"));
    match decide(ContainerRung::KillShim, &o, &SYSTEMD) {
        RungDecision::Skip(why) => assert!(why.contains("no containerd shim"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn restart_names_the_containers_it_hits() {
    let o = obs("running", Some("web-running"));
    assert_eq!(restart_hits(&o, &SYSTEMD), vec!["db".to_string()]);
    assert!(restart_impact(&o, &SYSTEMD).contains("live-restore is off): db"));
    let lr = LadderEnv {
        systemd: true,
        live_restore: Some(true),
        engine: EngineKind::Docker,
    };
    assert!(restart_hits(&o, &lr).is_empty());
    assert!(restart_impact(&o, &lr).contains("keep running"));
}

// ---- doctor ----

#[test]
fn doctor_reads_the_incident_as_one_chain() {
    let list = parse_ps(&read("engine/ps-incident.txt")).unwrap();
    let inspected: Vec<ContainerInfo> = [
        "web-running",
        "db-running",
        "nginx-port-taken",
        "old-nginx-dead",
        "app-restarting",
    ]
    .iter()
    .map(|n| info(n))
    .collect();
    let (host, _) = root_host("stuck-d");
    let table = procs::scan(&host);
    let mut stuck = BTreeMap::new();
    stuck.insert(
        id(),
        procs::futility(
            &host,
            &table.processes_of(&id()),
            false,
            Sampling::default(),
        )
        .unwrap(),
    );
    let f = findings(&list, &inspected, &table, &stuck);
    assert!(f.iter().all(|x| x.area == Area::Containers));
    // The container kept from its port comes first: it continues the ports findings.
    assert!(f[0].title.contains("host port 80"), "{f:#?}");
    let port = f.iter().find(|x| x.title.contains("nginx")).unwrap();
    assert_eq!(port.severity, Severity::Problem);
    assert!(
        port.title.contains("host port 80 was taken"),
        "{}",
        port.title
    );
    assert!(
        port.evidence
            .iter()
            .any(|e| e.contains("address already in use"))
    );
    assert!(
        port.evidence
            .iter()
            .any(|e| e == "who holds port 80: hostfix port who 80")
    );
    assert!(
        port.evidence
            .iter()
            .any(|e| e.contains("0.0.0.0:80->80/tcp"))
    );
    let fix = port.fix.as_ref().unwrap();
    assert_eq!(fix.command, "hostfix port free 80");
    assert_eq!(fix.risk, Risk::Disruptive);

    let dead = f.iter().find(|x| x.title.contains("old-nginx")).unwrap();
    assert!(dead.title.contains("dead"));
    assert_eq!(
        dead.fix.as_ref().unwrap().command,
        "hostfix container rm old-nginx"
    );
    assert!(dead.evidence[0].contains("device or resource busy"));

    let rl = f.iter().find(|x| x.title.contains("app")).unwrap();
    assert!(
        rl.title.contains("restarting in a loop (14 restarts)"),
        "{}",
        rl.title
    );

    let d = f.iter().find(|x| x.title.contains("no signal")).unwrap();
    assert!(d.title.contains("web"));
    assert_eq!(d.fix.as_ref().unwrap().risk, Risk::Reboot);
    assert_eq!(
        d.fix.as_ref().unwrap().command,
        "hostfix container rm web --max-risk reboot"
    );
}

#[test]
fn doctor_names_the_port_holder_in_the_containers_way() {
    let list = parse_ps(&read("engine/ps-incident.txt")).unwrap();
    let inspected = vec![info("nginx-port-taken")];
    let table = procs::ProcTable::default();
    let nginx = PortHolderSummary {
        summary: "pid 812 nginx (master) and 1 worker, unit nginx.service, package nginx \
                  (installed for nginx-light)"
            .into(),
        package: Some("nginx".into()),
        container: false,
    };
    let blocked = |holders: &PortHolders| {
        findings_with_holders(&list, &inspected, &table, &BTreeMap::new(), holders)
            .into_iter()
            .find(|f| f.title.contains("host port 80"))
            .unwrap()
    };

    // The distro nginx holds :80: the finding names it and frees the port.
    let f = blocked(&PortHolders::from([(80, vec![nginx.clone()])]));
    assert_eq!(f.severity, Severity::Problem);
    assert!(
        f.title
            .ends_with(&format!("; port 80 is held by {}", nginx.summary)),
        "{}",
        f.title
    );
    assert!(f.evidence.iter().any(|e| e
        == "if nginx is not wanted on this host: hostfix port free 80 --remove-package \
            (risk destructive)"));
    assert!(
        f.evidence
            .iter()
            .any(|e| e == "once the port is free: docker start nginx")
    );
    let fix = f.fix.as_ref().unwrap();
    assert_eq!(
        (fix.command.as_str(), fix.risk),
        ("hostfix port free 80", Risk::Disruptive)
    );

    // Another container publishes it: hostfix does not stop containers for a port.
    let other = PortHolderSummary {
        summary: "pid 700 docker-proxy, container web (3f4e5a) (docker-proxy)".into(),
        package: None,
        container: true,
    };
    let f = blocked(&PortHolders::from([(80, vec![other])]));
    assert!(
        f.title.contains("held by pid 700 docker-proxy"),
        "{}",
        f.title
    );
    assert!(f.fix.is_none(), "{f:#?}");
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("another container publishes port 80"))
    );

    // The port is free now (the holder went away): only a start is left, and it is the fix.
    let f = blocked(&PortHolders::from([(80, Vec::new())]));
    let fix = f.fix.as_ref().unwrap();
    assert_eq!(
        (fix.command.as_str(), fix.risk),
        ("docker start nginx", Risk::Additive)
    );
    assert!(
        matches!(&fix.op, FixOp::StartContainer { name, ports, .. } if name == "nginx" && ports == &[80]),
        "{fix:?}"
    );
    assert!(
        f.evidence
            .iter()
            .any(|e| e == "port 80 is free now: docker start nginx")
    );

    // Without a lookup (it failed): the finding still says how to find the holder.
    let f = blocked(&PortHolders::new());
    assert!(
        f.title.ends_with("was taken when it started"),
        "{}",
        f.title
    );
    assert_eq!(f.fix.as_ref().unwrap().command, "hostfix port free 80");
    assert_eq!(
        f,
        findings(&list, &inspected, &table, &BTreeMap::new())
            .into_iter()
            .find(|f| f.title.contains("host port 80"))
            .unwrap()
    );
}

#[test]
fn doctor_finds_processes_the_engine_forgot() {
    let (host, _) = root_host("leftover");
    let table = procs::scan(&host);
    let f = findings(&[], &[], &table, &BTreeMap::new());
    assert_eq!(f.len(), 1);
    assert!(f[0].title.contains("no longer lists"), "{}", f[0].title);
    assert_eq!(
        f[0].fix.as_ref().unwrap().command,
        format!("hostfix container rm {} --max-risk destructive", id())
    );
    // A healthy host says so in one line.
    let list = parse_ps(&read("engine/ps-incident.txt")).unwrap();
    let f = findings(
        &list[..2],
        &[info("web-running")],
        &procs::ProcTable::default(),
        &BTreeMap::new(),
    );
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, Severity::Ok);
    assert_eq!(f[0].title, "2 containers, 2 running, none stuck");
}

#[test]
fn doctor_through_a_scripted_engine() {
    let rec = Arc::new(RecordingSystem::new());
    let root = fixture("roots/running");
    let docker = root.join("usr/bin/docker").display().to_string();
    let timeout = root.join("usr/bin/timeout").display().to_string();
    rec.respond(
        format!("{timeout} -k 5 20 {docker} ps"),
        CmdOutput::ok(read("engine/ps-incident.txt")),
    );
    let all = [
        "web-running",
        "db-running",
        "nginx-port-taken",
        "old-nginx-dead",
        "app-restarting",
    ]
    .iter()
    .map(|n| read(&format!("engine/inspect-{n}.json")))
    .collect::<String>();
    rec.respond(
        format!("{timeout} -k 5 20 {docker} container inspect"),
        CmdOutput::ok(all),
    );
    let host = Host::with_system(&root, rec.clone());
    let r = hostfix::doctor::diagnose(
        &host,
        &hostfix::doctor::DoctorOptions::default(),
        &hostfix::Policy::new(Risk::ReadOnly),
    );
    let d = &r.result;
    let c = d.facts.get("containers").unwrap();
    assert_eq!(c["reachable"], true);
    assert_eq!(c["containers"].as_array().unwrap().len(), 5);
    let nginx = c["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "nginx")
        .unwrap();
    assert_eq!(nginx["blocked_ports"], serde_json::json!([80]));
    assert!(d.findings.iter().any(|f| f.title.contains("host port 80")));
    // Read-only: only ps, inspect and the logs of the containers in trouble ran.
    for c in rec.commands() {
        assert!(
            c.contains(" ps ") || c.contains(" container inspect ") || c.contains(" logs "),
            "{c}"
        );
    }
}

#[test]
fn doctor_when_the_engine_is_down() {
    let rec = Arc::new(RecordingSystem::new());
    rec.respond("", CmdOutput::failed(1, read("engine/daemon-down.txt")));
    let host = Host::with_system(fixture("roots/empty"), rec);
    let mut d = hostfix::doctor::Diagnosis::default();
    hostfix::testing::container::diagnose(&host, &Default::default(), &mut d);
    assert_eq!(d.findings.len(), 1);
    // No socket in the fixture root: the engine is simply not there.
    assert_eq!(d.findings[0].severity, Severity::Info);
    assert!(d.findings[0].evidence[0].contains("Is the docker daemon running?"));
    let _ = engine::short_id("abc");
}
