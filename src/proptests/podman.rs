//! Podman's parsers: `podman ps --format json`, the conmon command line, the engine
//! choice; and the ladder's decisions under Podman (never an engine restart).

use proptest::prelude::*;

use super::{cfg, json, mangle_json, text, weird_token};
use crate::container::ladder::{ContainerRung, LadderEnv, Observation, RungDecision, decide};
use crate::container::procs::Shim;
use crate::engine::kind::{EngineKind, Offer, pick};
use crate::engine::{conmon_container_id, is_full_id, parse_podman_ps};
use crate::port::docker::publishes;
use crate::port::table::Proto;

const STATES: [&str; 10] = [
    "created",
    "configured",
    "initialized",
    "running",
    "stopping",
    "stopped",
    "paused",
    "exited",
    "removing",
    "weird",
];

/// One port of `podman ps --format json` (Podman 4+ or Podman 3 spelling).
fn port_object() -> impl Strategy<Value = serde_json::Value> {
    (
        prop_oneof![Just(""), Just("127.0.0.1"), Just("::1"), Just("0.0.0.0")],
        any::<u16>(),
        any::<u16>(),
        0u16..5,
        prop_oneof![Just("tcp"), Just("udp"), Just("sctp"), Just("")],
        any::<bool>(),
    )
        .prop_map(|(ip, hp, cp, range, proto, old)| {
            if old {
                serde_json::json!({"hostIP": ip, "hostPort": hp, "containerPort": cp, "protocol": proto})
            } else {
                serde_json::json!({"host_ip": ip, "host_port": hp, "container_port": cp,
                                   "range": range, "protocol": proto})
            }
        })
}

/// One container of `podman ps --format json`.
fn ps_object() -> impl Strategy<Value = serde_json::Value> {
    (
        prop_oneof!["[0-9a-f]{64}", "\\PC{1,20}"],
        proptest::collection::vec("[a-z0-9_.-]{0,12}", 0..3),
        proptest::sample::select(STATES.to_vec()),
        proptest::option::of(proptest::collection::vec(port_object(), 0..3)),
    )
        .prop_map(|(id, names, state, ports)| {
            serde_json::json!({"Id": id, "Names": names, "Image": "docker.io/library/nginx",
                               "State": state, "Status": "Up", "Ports": ports})
        })
}

proptest! {
    #![proptest_config(cfg(256))]

    /// Whatever podman prints, parsing never panics.
    #[test]
    fn ps_never_panics(s in prop_oneof![
        text(),
        json().prop_map(|v| v.to_string()),
        proptest::collection::vec(ps_object().prop_flat_map(mangle_json), 0..4)
            .prop_map(|v| serde_json::Value::Array(v).to_string()),
    ]) {
        if let Ok(list) = parse_podman_ps(&s) {
            for e in &list {
                let _ = (e.name(), publishes(&e.ports, 80, Proto::Tcp));
            }
        }
    }

    /// Every container comes back, in order, with its id, names and each published host
    /// port matched by the one matcher `port who` uses for both engines.
    #[test]
    fn ps_round_trip(objs in proptest::collection::vec(ps_object(), 0..5)) {
        let text = serde_json::Value::Array(objs.clone()).to_string();
        let list = parse_podman_ps(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(list.len(), objs.len());
        for (e, o) in list.iter().zip(&objs) {
            prop_assert_eq!(e.id.as_str(), o["Id"].as_str().unwrap());
            prop_assert!(e.names.iter().all(|n| !n.is_empty()));
            for p in o["Ports"].as_array().into_iter().flatten() {
                let hp = p.get("host_port").or_else(|| p.get("hostPort")).and_then(|v| v.as_u64()).unwrap_or(0);
                let proto = p["protocol"].as_str().unwrap_or("");
                let proto = match proto { "" | "tcp" => Some(Proto::Tcp), "udp" => Some(Proto::Udp), _ => None };
                if let (Ok(hp), Some(proto)) = (u16::try_from(hp), proto) {
                    if hp > 0 {
                        prop_assert!(publishes(&e.ports, hp, proto), "{} in {:?}", hp, e.ports);
                    }
                }
            }
        }
    }

    /// Only a full id on a `conmon` command line counts; anything else is refused.
    #[test]
    fn conmon_ids_are_full_ids(
        prog in prop_oneof![Just("/usr/bin/conmon".to_string()), Just("conmon".to_string()), weird_token()],
        args in proptest::collection::vec(prop_oneof![
            Just("-c".to_string()), Just("--cid".to_string()), Just("-u".to_string()),
            "[0-9a-f]{64}", "--cid=[0-9a-f]{64}", weird_token(),
        ], 0..8),
    ) {
        let mut argv = vec![prog.clone()];
        argv.extend(args);
        if let Some(id) = conmon_container_id(&argv) {
            prop_assert!(is_full_id(&id));
            prop_assert_eq!(prog.rsplit('/').next(), Some("conmon"));
        }
    }

    /// The engine picked is always installed, and always the one asked for.
    #[test]
    fn pick_is_installed_and_obeys_the_choice(
        docker: bool, podman: bool, docker_socket: bool,
        choice in proptest::option::of(prop_oneof![Just(EngineKind::Docker), Just(EngineKind::Podman)]),
    ) {
        let offer = Offer { docker, podman, docker_socket };
        match pick(offer, choice) {
            Some(k) => {
                let installed = match k { EngineKind::Docker => docker, _ => podman };
                prop_assert!(installed);
                if let Some(c) = choice { prop_assert_eq!(k, c); }
            }
            None => {
                let none_fits = match choice {
                    Some(EngineKind::Docker) => !docker,
                    Some(_) => !podman,
                    None => !docker && !podman,
                };
                prop_assert!(none_fits);
            }
        }
    }

    /// Under Podman the engine restart is never tried, from any observation: it is
    /// absent, with the reason.
    #[test]
    fn podman_never_restarts_an_engine(
        listed: bool, systemd: bool, live in proptest::option::of(any::<bool>()),
        conmon: bool,
    ) {
        let env = LadderEnv { systemd, live_restore: live, engine: EngineKind::Podman };
        let mut o = Observation { id: "6a".repeat(32), listed, ..Observation::default() };
        if conmon {
            o.shims.push(Shim { pid: 4290, comm: "conmon".into(), state: 'T', start_time: 1, container_id: o.id.clone() });
        }
        prop_assert!(matches!(decide(ContainerRung::RestartEngine, &o, &env), RungDecision::Absent(_)));
        prop_assert_eq!(decide(ContainerRung::Reboot, &o, &env), RungDecision::Try);
    }
}
