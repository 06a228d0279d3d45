//! Pure tests of `port free`'s decisions: for each thing the host can show, what each
//! rung of the ladder does with it (take, skip, refuse, or not apply), like
//! `tests/swap_planner.rs` for swap. No host is touched.

use std::net::SocketAddr;

use hostfix::error::Refusal;
use hostfix::port::{FreeSpec, OwnerKind, PortOwner, RemovalPlan};
use hostfix::testing::plan::Verdict;
use hostfix::testing::port::{
    FreeObservation, FreeRung, decide_free as decide, protected_refusal, signalled, units_of,
};
use hostfix::testing::with;

fn owner(pid: i32, name: &str, kind: OwnerKind) -> PortOwner {
    with(PortOwner::default(), |it| {
        it.pid = pid;
        it.ppid = 1;
        it.name = name.into();
        it.exe = None;
        it.exe_deleted = false;
        it.cmdline = vec![name.into()];
        it.uid = Some(0);
        it.user = Some("root".into());
        it.start_time = 4242;
        it.started_at = None;
        it.state = 'S';
        it.cgroup = None;
        it.sockets = vec!["0.0.0.0:80/tcp".into()];
        it.inodes = vec![1000 + pid as u64];
        it.kind = kind;
        it.unit = None;
        it.socket_units = Vec::new();
        it.container = None;
        it.package = None;
        it.protected = None;
    })
}

fn nginx_service() -> Vec<PortOwner> {
    let mut master = owner(812, "nginx", OwnerKind::Service);
    master.unit = Some("nginx.service".into());
    let mut worker = owner(813, "nginx", OwnerKind::Service);
    worker.unit = Some("nginx.service".into());
    vec![master, worker]
}

fn held(targets: Vec<PortOwner>) -> FreeObservation {
    FreeObservation {
        blocked: vec!["0.0.0.0:80".parse::<SocketAddr>().unwrap()],
        units: units_of(&targets),
        targets,
        systemd: true,
        ..FreeObservation::default()
    }
}

fn plan() -> RemovalPlan {
    with(RemovalPlan::default(), |it| {
        it.manager = "dpkg".into();
        it.packages = vec!["nginx".into(), "nginx-light".into()];
        it.sources = vec!["nginx".into()];
        it.removes = vec!["nginx".into(), "nginx-light".into(), "nginx-common".into()];
        it.command = "apt-get remove -y nginx nginx-light".into();
    })
}

fn verdicts(spec: &FreeSpec, o: &FreeObservation) -> Vec<(FreeRung, Verdict)> {
    FreeRung::LADDER
        .iter()
        .map(|&r| (r, decide(r, spec, o)))
        .collect()
}

fn is_refuse(v: &Verdict) -> bool {
    matches!(v, Verdict::Refuse(_))
}

#[test]
fn a_free_port_with_nothing_to_remove_takes_no_rung() {
    let o = FreeObservation::default();
    assert!(o.done());
    for (r, v) in verdicts(&FreeSpec::tcp(80), &o) {
        assert_eq!(v, Verdict::Inapplicable, "{r:?}");
    }
}

#[test]
fn a_service_is_stopped_first_and_signalled_only_if_needed() {
    let o = held(nginx_service());
    assert_eq!(o.units, ["nginx.service"]);
    let v = verdicts(&FreeSpec::tcp(80), &o);
    assert_eq!(v[0].1, Verdict::Inapplicable, "no removal asked");
    assert_eq!(v[1].1, Verdict::Take, "stop the unit");
    assert_eq!(v[2].1, Verdict::Inapplicable, "no package removal asked");
    assert_eq!(v[3].1, Verdict::Take);
    assert_eq!(v[4].1, Verdict::Take);
    let pids: Vec<i32> = signalled(&o).iter().map(|t| t.pid).collect();
    assert_eq!(pids, [812, 813]);
}

#[test]
fn a_socket_unit_comes_before_its_service() {
    let mut t = nginx_service();
    t[0].socket_units = vec!["nginx.socket".into()];
    assert_eq!(units_of(&t), ["nginx.socket", "nginx.service"]);
}

#[test]
fn without_systemd_the_unit_rung_is_skipped_and_signals_follow() {
    let mut o = held(nginx_service());
    o.systemd = false;
    match decide(FreeRung::StopUnits, &FreeSpec::tcp(80), &o) {
        Verdict::Skip(why) => assert!(why.contains("systemd is not running"), "{why}"),
        v => panic!("{v:?}"),
    }
    assert_eq!(
        decide(FreeRung::Term, &FreeSpec::tcp(80), &o),
        Verdict::Take
    );
}

#[test]
fn a_protected_owner_refuses_every_signal() {
    let mut sshd = owner(600, "sshd", OwnerKind::Service);
    sshd.protected = Some("sshd: the way back into the host".into());
    let o = held(vec![sshd]);
    let r = protected_refusal(&o).expect("refused");
    assert!(matches!(&r, Refusal::Protected { target, .. } if target == "pid 600 sshd"));
    let v = verdicts(&FreeSpec::tcp(80), &o);
    assert!(is_refuse(&v[3].1) && is_refuse(&v[4].1));
    assert!(signalled(&o).is_empty());
}

#[test]
fn pid1_holding_a_socket_units_socket_waits_for_the_unit_rung() {
    let mut init = owner(1, "systemd", OwnerKind::SocketActivated);
    init.socket_units = vec!["web.socket".into()];
    init.protected = Some("PID 1".into());
    let mut o = held(vec![init]);
    assert_eq!(protected_refusal(&o), None, "the unit rung handles it");
    assert_eq!(o.units, ["web.socket"]);
    let spec = FreeSpec::tcp(80);
    assert_eq!(decide(FreeRung::StopUnits, &spec, &o), Verdict::Take);
    // Still held by PID 1 after the units were stopped: now it is refused.
    o.after_units = true;
    assert!(protected_refusal(&o).is_some());
    assert!(is_refuse(&decide(FreeRung::Term, &spec, &o)));
}

#[test]
fn a_planned_removal_is_recorded_then_taken() {
    let mut o = held(nginx_service());
    o.removal = Some(Ok(plan()));
    o.packages_left = vec!["nginx".into(), "nginx-light".into()];
    let v = verdicts(&FreeSpec::tcp(80), &o);
    assert_eq!(v[0].1, Verdict::Take, "the ledger first");
    assert_eq!(v[1].1, Verdict::Take);
    assert_eq!(v[2].1, Verdict::Take);
    assert!(!o.done());
}

#[test]
fn a_refused_removal_refuses_its_rung() {
    let mut o = held(nginx_service());
    o.removal = Some(Err(Refusal::Protected {
        target: "package libc6".into(),
        why: "essential".into(),
    }));
    assert!(is_refuse(&decide(
        FreeRung::RemovePackage,
        &FreeSpec::tcp(80),
        &o
    )));
    assert_eq!(
        decide(FreeRung::RecordRemoval, &FreeSpec::tcp(80), &o),
        Verdict::Inapplicable
    );
}

#[test]
fn an_earlier_runs_removal_is_finished_on_a_free_port() {
    let o = FreeObservation {
        removal: Some(Ok(plan())),
        packages_left: vec!["nginx-light".into()],
        resumed: true,
        systemd: true,
        ..FreeObservation::default()
    };
    assert!(!o.done(), "packages left: not done");
    let v = verdicts(&FreeSpec::tcp(80), &o);
    assert_eq!(v[0].1, Verdict::Inapplicable, "already in the ledger");
    assert_eq!(v[1].1, Verdict::Inapplicable, "nothing holds the port");
    assert_eq!(v[2].1, Verdict::Take);
    assert_eq!(v[3].1, Verdict::Inapplicable);
    assert_eq!(v[4].1, Verdict::Inapplicable);
}

#[test]
fn a_removal_already_done_is_done() {
    let o = FreeObservation {
        removal: Some(Ok(plan())),
        ..FreeObservation::default()
    };
    assert!(o.done());
    assert_eq!(
        decide(FreeRung::RemovePackage, &FreeSpec::tcp(80), &o),
        Verdict::Inapplicable
    );
}

#[test]
fn nothing_signallable_left_is_a_skip_not_a_refusal() {
    let o = FreeObservation {
        blocked: vec!["[::]:80".parse::<SocketAddr>().unwrap()],
        systemd: true,
        ..FreeObservation::default()
    };
    match decide(FreeRung::Term, &FreeSpec::tcp(80), &o) {
        Verdict::Skip(why) => assert!(why.contains("no process"), "{why}"),
        v => panic!("{v:?}"),
    }
}
