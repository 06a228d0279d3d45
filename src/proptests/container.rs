//! The container engine's output (`docker ps`, `docker inspect`, `docker info`, error
//! strings), container ids from the host (shims, cgroups, reboot records), cgroup freezer
//! files and container names as users give them.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;

use super::{cfg, json, lines_of, mangle_json, text, weird_token};
use crate::container::diag::findings;
use crate::container::options::validate_target;
use crate::container::procs::{
    ProcTable, parse_events_frozen, parse_freeze, parse_freezer_state, parse_freezer_v1,
    shim_container_id,
};
use crate::container::record::RebootRecord;
use crate::engine::{ContainerInfo, PsEntry, Status};
use crate::engine::{
    classify_failure, is_full_id, parse_inspect, parse_live_restore, parse_ps,
    ports_in_use_from_error, short_id, state_from_status_text,
};
use crate::host::{CmdOutput, Host};

fn full_id() -> impl Strategy<Value = String> {
    "[0-9a-f]{64}"
}

fn some_id() -> impl Strategy<Value = String> {
    prop_oneof![
        full_id(),
        "[0-9a-fA-F]{0,70}",
        "\\PC{0,70}",
        Just("../../../etc/x".to_string())
    ]
}

const STATES: [&str; 9] = [
    "created",
    "running",
    "paused",
    "restarting",
    "removing",
    "exited",
    "dead",
    "Up",
    "weird",
];

/// A `docker ps --format '{{json .}}'` line as an object.
fn ps_object() -> impl Strategy<Value = serde_json::Value> {
    (
        some_id(),
        "[a-z0-9_./,-]{0,20}",
        prop_oneof![
            proptest::sample::select(STATES.to_vec()).prop_map(String::from),
            Just(String::new())
        ],
        prop_oneof![
            Just("Up 2 hours (Paused)".to_string()),
            Just("Removal In Progress".to_string()),
            Just("Restarting (1) 5 seconds ago".to_string()),
            "\\PC{0,20}",
        ],
        prop_oneof![
            text(),
            Just("0.0.0.0:8080->80/tcp, :::8080->80/tcp".to_string())
        ],
    )
        .prop_map(|(id, names, state, status, ports)| {
            serde_json::json!({
                "ID": id, "Names": names, "Image": "busybox", "State": state,
                "Status": status, "Ports": ports,
            })
        })
}

/// A `docker container inspect --format '{{json .}}'` object.
fn inspect_object() -> impl Strategy<Value = serde_json::Value> {
    (
        some_id(),
        "/?[a-z0-9_.-]{0,12}",
        (proptest::sample::select(STATES.to_vec()), any::<[bool; 4]>(), any::<i64>(), any::<i64>()),
        "\\PC{0,40}",
        any::<u64>(),
        proptest::collection::btree_map(
            prop_oneof!["[0-9]{1,6}(-[0-9]{1,6})?/(tcp|udp|sctp)", "\\PC{0,8}"],
            proptest::option::of(proptest::collection::vec(
                ("(0\\.0\\.0\\.0|127\\.0\\.0\\.1|::|)", prop_oneof!["[0-9]{0,7}(-[0-9]{1,6})?", weird_token()]),
                0..3,
            )),
            0..4,
        ),
    )
        .prop_map(|(id, name, (status, flags, pid, exit), error, restarts, bindings)| {
            let bindings: serde_json::Map<String, serde_json::Value> = bindings
                .into_iter()
                .map(|(k, v)| {
                    let v = v.map(|bs| {
                        bs.into_iter()
                            .map(|(ip, port)| serde_json::json!({"HostIp": ip, "HostPort": port}))
                            .collect::<Vec<_>>()
                    });
                    (k, serde_json::json!(v))
                })
                .collect();
            serde_json::json!({
                "Id": id, "Name": name, "RestartCount": restarts,
                "State": {
                    "Status": status, "Running": flags[0], "Paused": flags[1],
                    "Restarting": flags[2], "Dead": flags[3], "Pid": pid, "ExitCode": exit,
                    "Error": error,
                },
                "HostConfig": { "PortBindings": bindings, "RestartPolicy": { "Name": "always" } },
            })
        })
}

/// Lines of JSON objects, each valid, or with one field replaced by arbitrary JSON.
fn json_lines<S>(object: S) -> impl Strategy<Value = String>
where
    S: Strategy<Value = serde_json::Value> + 'static,
{
    let object = object.boxed();
    lines_of(
        prop_oneof![
            object.clone().prop_map(|v| v.to_string()),
            object
                .prop_flat_map(mangle_json)
                .prop_map(|v| v.to_string()),
            json().prop_map(|v| v.to_string()),
        ],
        4,
    )
}

proptest! {
    // Each case parses a few JSON lines: ~1 ms.
    #![proptest_config(cfg(384))]

    #[test]
    fn ps_never_panics(s in prop_oneof![text(), json_lines(ps_object())]) {
        if let Ok(list) = parse_ps(&s) {
            for e in &list {
                let _ = (e.name(), ContainerInfo::from_ps(e).short_id().len());
            }
            let _ = findings(&list, &[], &ProcTable::default(), &BTreeMap::new());
        }
    }

    #[test]
    fn ps_round_trip(objs in proptest::collection::vec(ps_object(), 0..5)) {
        let text: String = objs.iter().map(|o| format!("{o}\n")).collect();
        let list = parse_ps(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(list.len(), objs.len());
        for (e, o) in list.iter().zip(&objs) {
            prop_assert_eq!(e.id.as_str(), o["ID"].as_str().unwrap());
            prop_assert_eq!(&e.ports, o["Ports"].as_str().unwrap());
            for n in &e.names {
                prop_assert!(!n.is_empty() && !n.starts_with('/') && !n.contains(','));
            }
        }
    }

    /// Whatever inspect prints, what parses has a full id and ports in range, and the
    /// findings built from it never panic.
    #[test]
    fn inspect_never_panics(s in prop_oneof![
        text(),
        json_lines(inspect_object()),
        proptest::collection::vec(inspect_object(), 0..3).prop_map(|v| serde_json::Value::from(v).to_string()),
    ]) {
        if let Ok(infos) = parse_inspect(&s) {
            for i in &infos {
                prop_assert!(is_full_id(&i.id));
                let _ = crate::container::diag::blocked_ports(i);
            }
            let list: Vec<PsEntry> = infos.iter().map(|i| PsEntry {
                id: i.id.clone(), names: vec![i.name.clone()], image: String::new(),
                state: i.status.clone(), status: String::new(), ports: String::new(),
            }).collect();
            let _ = findings(&list, &infos, &ProcTable::default(), &BTreeMap::new());
        }
    }

    /// Published ports read back; a port past 65535 is not published.
    #[test]
    fn inspect_ports(id in full_id(), cport in any::<u32>(), hport in any::<u32>(), pid in any::<i64>()) {
        let o = serde_json::json!({
            "Id": id, "State": {"Pid": pid},
            "HostConfig": {"PortBindings": {format!("{cport}/udp"): [{"HostIp": "", "HostPort": hport.to_string()}]}},
        });
        let infos = parse_inspect(&o.to_string()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let i = &infos[0];
        prop_assert_eq!(i.pid, i32::try_from(pid).unwrap_or(0));
        match (u16::try_from(cport), u16::try_from(hport)) {
            (Ok(c), Ok(h)) => {
                prop_assert_eq!(i.published.len(), 1);
                prop_assert_eq!(i.published[0].container_port, c);
                prop_assert_eq!(i.published[0].host_port, h);
                prop_assert_eq!(i.published[0].proto.as_str(), "udp");
            }
            _ => prop_assert!(i.published.is_empty()),
        }
    }
}

proptest! {
    // 512 cases of pure parsing: each test under ~0.6 s of CPU in a debug build.
    #![proptest_config(cfg(512))]

    #[test]
    fn engine_words_never_panic(s in text(), status in any::<Option<i32>>(), guarded in any::<bool>()) {
        let _ = (parse_live_restore(&s), state_from_status_text(&s), Status::parse(&s));
        let _ = classify_failure(&CmdOutput { status, stdout: s.clone(), stderr: s.clone() }, guarded);
        prop_assert_eq!(parse_live_restore(" true\n"), Some(true));
        for w in STATES.iter().take(7) {
            let st = Status::parse(w);
            prop_assert_eq!(Status::parse(st.as_str()), st);
        }
    }

    /// The ports a bind error names, read back; nothing from an error about something else.
    #[test]
    fn ports_named_by_errors(
        s in text(),
        p in any::<u16>(),
        big in 65_536u32..,
        ip in prop_oneof![Just("0.0.0.0"), Just("[::]"), Just("127.0.0.1"), Just("localhost")],
    ) {
        let _ = ports_in_use_from_error(&s);
        let e = format!("Error starting userland proxy: listen tcp4 {ip}:{p}: bind: address already in use");
        prop_assert_eq!(ports_in_use_from_error(&e), vec![p]);
        let e = format!("Bind for {ip}:{p} failed: port is already allocated");
        prop_assert_eq!(ports_in_use_from_error(&e), vec![p]);
        let e = format!("Bind for {ip}:{big} failed: port is already allocated");
        prop_assert!(ports_in_use_from_error(&e).is_empty());
        let other = format!("OCI runtime create failed: {ip}:{p}");
        prop_assert!(ports_in_use_from_error(&other).is_empty());
    }

    /// A full id is 64 hex digits; its short form is a prefix and never splits a
    /// character.
    #[test]
    fn container_ids(s in some_id()) {
        prop_assert_eq!(is_full_id(&s), s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()));
        prop_assert!(s.starts_with(short_id(&s)));
        prop_assert!(short_id(&s).len() <= 12 || short_id(&s) == s);
    }

    /// A shim's container id is a full id, whatever its command line says: any user can
    /// start a process named `containerd-shim` with any arguments.
    #[test]
    fn shim_ids_are_full_ids(
        argv in proptest::collection::vec(prop_oneof![
            Just("containerd-shim-runc-v2".to_string()),
            Just("/usr/bin/containerd-shim".to_string()),
            "-{1,2}(id|workdir|namespace|address)(=[^ ]{0,20})?",
            some_id(),
            "/[a-z/]{0,20}",
            text(),
        ], 0..8),
        id in full_id(),
        form in 0..4usize,
    ) {
        if let Some(found) = shim_container_id(&argv) {
            prop_assert!(is_full_id(&found), "{found:?} from {argv:?}");
        }
        let mut args = vec!["/usr/bin/containerd-shim-runc-v2".to_string(), "-namespace".into(), "moby".into()];
        match form {
            0 => args.extend(["-id".to_string(), id.clone()]),
            1 => args.push(format!("--id={id}")),
            2 => args.extend(["-workdir".to_string(), format!("/var/lib/containerd/io.containerd.runtime.v1.linux/moby/{id}/")]),
            _ => args.push(format!("-workdir=/run/x/{id}")),
        }
        prop_assert_eq!(shim_container_id(&args), Some(id));
    }

    #[test]
    fn freezer_files(s in text(), path in "(/[a-z0-9.-]{1,10}){1,4}", n in 1..20u32) {
        let _ = (parse_freezer_v1(&s), parse_events_frozen(&s), parse_freeze(&s), parse_freezer_state(&s));
        prop_assert_eq!(parse_freezer_v1(&format!("{n}:cpu,freezer:{path}\n0::/x\n")), Some(path));
        prop_assert!(parse_events_frozen("populated 1\nfrozen 1\n"));
        prop_assert!(!parse_events_frozen("frozen 10\n"));
    }

    /// An accepted container name is one the engine could have, never an option.
    #[test]
    fn container_targets(s in prop_oneof![text(), weird_token(), "/?-?[a-zA-Z0-9_.-]{0,20}"]) {
        if let Ok(t) = validate_target(&s) {
            prop_assert!(t.starts_with(|c: char| c.is_ascii_alphanumeric()), "{t:?}");
            prop_assert!(t.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)));
            prop_assert_eq!(validate_target(&t), Ok(t.clone()));
        }
    }
}

/// The first input that gave a shim an id that is no container id: `-id` followed by a
/// path. The id names the container's record file and goes to `docker rm -f`.
#[test]
fn shim_with_a_path_as_id_is_ignored() {
    let argv: Vec<String> = [
        "containerd-shim",
        "-id",
        "aaaaaaaaaaaa/../../../etc/cron.d/x",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(shim_container_id(&argv), None);
    let argv = vec!["containerd-shim".to_string(), "--id=--help".to_string()];
    assert_eq!(shim_container_id(&argv), None);
}

// ---- reboot records -------------------------------------------------------------------

fn record_text() -> impl Strategy<Value = String> {
    let valid = (some_id(), "\\PC{0,8}", "\\PC{0,8}", any::<u64>())
        .prop_map(|(id, name, boot, at)| {
            serde_json::json!({"id": id, "name": name, "boot_id": boot, "requested_at": at, "reason": "r"})
        })
        .boxed();
    prop_oneof![
        text(),
        json().prop_map(|v| v.to_string()),
        valid.clone().prop_map(|v| v.to_string()),
        valid.prop_flat_map(mangle_json).prop_map(|v| v.to_string()),
    ]
}

proptest! {
    // Each case writes a file to a temp directory: ~1 ms.
    #![proptest_config(cfg(64))]

    /// A record is read only when it names a full container id (the id names files and
    /// goes to the engine's commands).
    #[test]
    fn reboot_records_of_arbitrary_bytes(
        b in prop_oneof![proptest::collection::vec(any::<u8>(), 0..200), record_text().prop_map(String::into_bytes)],
    ) {
        if let Ok(r) = serde_json::from_slice::<RebootRecord>(&b) {
            prop_assert_eq!(serde_json::from_str::<RebootRecord>(&serde_json::to_string(&r).unwrap()).ok(), Some(r));
        }
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("state/container");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("x.reboot.json"), &b).unwrap();
        let host = Host::fake(d.path());
        let state = Path::new("/state");
        for found in [
            crate::container::record::read_record(&host, state, None, "a").record,
            crate::container::record::read_record(&host, state, Some("x"), "a").record,
        ]
        .into_iter()
        .flatten()
        {
            prop_assert!(is_full_id(&found.id), "{:?}", found.id);
        }
    }
}

/// The first record read back with an id that is no container id: `{"id": ""}` (and a
/// path, which would name the file `remove_record` deletes).
#[test]
fn reboot_record_with_a_path_as_id_is_ignored() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("state/container");
    std::fs::create_dir_all(&dir).unwrap();
    for id in ["", "../../../etc/x"] {
        let rec = serde_json::json!({"id": id, "name": "web", "boot_id": "b",
                                     "requested_at": 1, "reason": "r"});
        std::fs::write(dir.join("x.reboot.json"), rec.to_string()).unwrap();
        let host = Host::fake(d.path());
        let state = Path::new("/state");
        assert_eq!(
            crate::container::record::read_record(&host, state, None, "web").record,
            None
        );
        assert_eq!(
            crate::container::record::read_record(&host, state, Some("x"), "web").record,
            None
        );
    }
}

/// The first sampling that panicked the `D`-state check: an interval of `u64::MAX`
/// seconds (the report multiplied it by the samples with `*`).
#[test]
fn huge_sampling_interval_does_not_overflow() {
    use crate::container::procs::{ContainerProcess, Sampling, persistently_uninterruptible};
    use std::time::Duration;
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("proc/42")).unwrap();
    let stat = "42 (app) D 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0\n";
    std::fs::write(d.path().join("proc/42/stat"), stat).unwrap();
    let p = ContainerProcess {
        pid: 42,
        comm: "app".into(),
        state: 'D',
        start_time: 777,
        cgroup: "/docker/x".into(),
        freezer_v1: None,
    };
    let sampling = Sampling {
        samples: 3,
        interval: Duration::from_secs(u64::MAX),
    };
    let f = persistently_uninterruptible(&Host::fake(d.path()), &[p], sampling);
    assert!(f.is_some_and(|f| f.why().contains("in all 3 samples")));
}
