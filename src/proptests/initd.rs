//! Init scripts: their variables (arbitrary, near-valid and round-tripped), pidfiles,
//! runlevel links, service names, the record of disabled services, and the tie of
//! processes to scripts.

use proptest::prelude::*;

use super::{cfg, text};
use crate::port::initd::record::parse_record;
use crate::port::initd::{
    InitScript, Pidfile, ScriptVars, is_service_name, is_start_link, parse_pidfile, parse_script,
    tie_owners,
};
use crate::port::owner::PortOwner;

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9.+-]{0,20}"
}

fn abs_path() -> impl Strategy<Value = String> {
    "(/[A-Za-z0-9._-]{1,12}){1,4}"
}

proptest! {
    #![proptest_config(cfg(256))]

    #[test]
    fn scripts_never_panic_and_keep_absolute_paths_once(t in text()) {
        let v = parse_script(&t);
        for list in [&v.daemons, &v.pidfiles] {
            prop_assert!(list.iter().all(|p| p.starts_with('/')));
            let mut d = list.clone();
            d.sort();
            d.dedup();
            prop_assert_eq!(d.len(), list.len());
        }
    }

    #[test]
    fn assignments_round_trip(n in name(), daemon in abs_path(), quote in 0..3usize, indent in "[ \t]{0,3}") {
        let q = ["", "\"", "'"][quote];
        let script = format!(
            "#!/bin/sh\nNAME={n}\n{indent}DAEMON={q}{daemon}{q}\nPIDFILE=\"/run/${{NAME}}.pid\" # pid\nPIDFILE=$(pidof x)\n"
        );
        let v = parse_script(&script);
        prop_assert_eq!(v.daemons, vec![daemon]);
        prop_assert_eq!(v.pidfiles, vec![format!("/run/{n}.pid")]);
    }

    #[test]
    fn a_line_with_one_field_mangled_is_left_out(daemon in abs_path(), junk in "[`|&<>()*?\\[]") {
        let line = format!("DAEMON={daemon}{junk}x cmd\n");
        let v = parse_script(&line);
        prop_assert!(v.daemons.is_empty());
    }

    #[test]
    fn pidfiles_round_trip(pid in 1..i32::MAX, t in text()) {
        prop_assert_eq!(parse_pidfile(&format!("{pid}\n")), Some(pid));
        let parsed = parse_pidfile(&t);
        prop_assert!(parsed.is_none_or(|p| p > 0));
    }

    #[test]
    fn start_links(n in name(), prio in 0..100u32, other in name()) {
        let s = format!("S{prio:02}{n}");
        let k = format!("K{prio:02}{n}");
        let o = format!("S{prio:02}{other}");
        prop_assert!(is_start_link(&s, &n));
        prop_assert!(!is_start_link(&k, &n));
        if other != n {
            prop_assert!(!is_start_link(&o, &n));
        }
    }

    #[test]
    fn service_names_never_read_as_options(t in text()) {
        let unsafe_char = t.starts_with('-') || t.contains(['/', ' ', '\n', '\0', ';']);
        prop_assert!(!(is_service_name(&t) && unsafe_char));
    }

    #[test]
    fn records_never_panic(t in text()) {
        let _ = parse_record(&t);
    }

    #[test]
    fn ties_only_name_owners_and_scripts_given(
        owners in proptest::collection::vec((2..50i32, 1..50i32, "[a-z]{1,6}", abs_path(), proptest::option::of(prop_oneof![Just(0u32), Just(33u32)])), 0..5),
        scripts in proptest::collection::vec((name(), proptest::collection::vec(abs_path(), 0..2), proptest::collection::vec((1..50i32, prop_oneof![Just(0u32), Just(33u32), Just(104u32)]), 0..2)), 0..5),
    ) {
        let owners: Vec<PortOwner> = owners
            .into_iter()
            .map(|(pid, ppid, comm, exe, uid)| PortOwner {
                pid,
                ppid,
                name: comm,
                exe: Some(exe.into()),
                uid,
                ..PortOwner::default()
            })
            .collect();
        let scripts: Vec<InitScript> = scripts
            .into_iter()
            .map(|(n, daemons, pids)| InitScript {
                name: n,
                vars: ScriptVars { daemons, pidfiles: vec!["/run/x.pid".into()] },
                pids: pids
                    .into_iter()
                    .map(|(pid, owner)| Pidfile { path: "/run/x.pid".into(), pid, owner })
                    .collect(),
                ..InitScript::default()
            })
            .collect();
        if let Ok(ties) = tie_owners(&owners, &scripts) {
            for t in &ties {
                prop_assert!(scripts.iter().any(|s| s.name == t.name));
                prop_assert!(t.pids.iter().all(|p| owners.iter().any(|o| o.pid == *p)));
                prop_assert!(!t.evidence.is_empty());
                // A pidfile ties a process only when root or that process's user owns it.
                let files: Vec<&Pidfile> = scripts.iter().filter(|s| s.name == t.name).flat_map(|s| &s.pids).collect();
                for e in t.evidence.iter().filter(|e| e.starts_with("pidfile ")) {
                    let pid = e.rsplit("(pid ").next().and_then(|p| p.trim_end_matches(')').parse::<i32>().ok());
                    prop_assert!(pid.is_some(), "{e}");
                    let pid = pid.unwrap_or_default();
                    // (Generated owners may share a pid: any of them may be the one tied.)
                    let runs_as: Vec<Option<u32>> = owners.iter().filter(|o| o.pid == pid).map(|o| o.uid).collect();
                    prop_assert!(
                        files.iter().any(|f| f.pid == pid && (f.owner == 0 || runs_as.contains(&Some(f.owner)))),
                        "{e} from {files:?}, pid {pid} runs as {runs_as:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn a_dollar_at_the_end_is_no_variable() {
    assert!(parse_script("DAEMON=/usr/sbin/x$\n").daemons.is_empty());
    assert!(parse_script("DAEMON=\"/usr/sbin/x$\"\n").daemons.is_empty());
    assert!(parse_script("DAEMON=${\n").daemons.is_empty());
}
