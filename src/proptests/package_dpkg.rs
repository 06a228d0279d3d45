//! What dpkg left half-way (`parse_dpkg_interruption`) and whether hostfix may finish it
//! (`judge_interruption`): never a panic, the journal overrides the status file, and a
//! package hostfix did not record removing is never finished.

use proptest::prelude::*;

use super::{cfg, weird_token};
use crate::package::{DpkgInterruption, Verdict, judge_interruption, parse_dpkg_interruption};

const WANTS: [&str; 5] = ["install", "hold", "deinstall", "purge", "unknown"];
const FLAGS: [&str; 2] = ["ok", "reinstreq"];
const STATES: [&str; 8] = [
    "not-installed",
    "config-files",
    "half-installed",
    "unpacked",
    "half-configured",
    "triggers-awaited",
    "triggers-pending",
    "installed",
];

/// A package's status: (name index, want, flag, state).
type Entry = (usize, &'static str, &'static str, &'static str);

fn entry() -> impl Strategy<Value = Entry> {
    (
        0..6usize,
        proptest::sample::select(WANTS.to_vec()),
        proptest::sample::select(FLAGS.to_vec()),
        proptest::sample::select(STATES.to_vec()),
    )
}

fn name(i: usize) -> String {
    format!("pkg{i}")
}

fn para((i, want, flag, state): &Entry) -> String {
    format!(
        "Package: {}\nStatus: {want} {flag} {state}\nVersion: 1.{i}\nDescription: x\n more\n\n",
        name(*i)
    )
}

/// The expected reading, computed directly: the last word on each package wins, and a
/// package is involved by its half state, its reinstreq flag, or the journal naming it.
fn model(status: &[Entry], journal: &[Vec<Entry>]) -> Vec<(String, String, bool)> {
    let mut last: Vec<(usize, Entry, bool)> = Vec::new();
    let mut note = |e: &Entry, j: bool| match last.iter_mut().find(|(i, _, _)| *i == e.0) {
        Some(slot) => *slot = (e.0, *e, j),
        None => last.push((e.0, *e, j)),
    };
    for e in status {
        note(e, false);
    }
    for file in journal {
        for e in file {
            note(e, true);
        }
    }
    last.into_iter()
        .filter(|(_, (_, _, flag, state), j)| {
            *j || *flag == "reinstreq"
                || !matches!(*state, "not-installed" | "config-files" | "installed")
        })
        .map(|(i, (_, want, flag, state), j)| (name(i), format!("{want} {flag} {state}"), j))
        .collect()
}

proptest! {
    #![proptest_config(cfg(256))]

    #[test]
    fn never_panics(status in "(?s).{0,400}", journal in proptest::collection::vec(weird_token(), 0..4)) {
        let got = parse_dpkg_interruption(&status, &journal);
        let i = DpkgInterruption { packages: got, journal: vec!["0000".into()] };
        let _ = judge_interruption(&i, &["pkg1".into()]);
    }

    #[test]
    fn journal_overrides_status(
        status in proptest::collection::vec(entry(), 0..6),
        journal in proptest::collection::vec(proptest::collection::vec(entry(), 0..3), 0..3),
    ) {
        // One paragraph per package in the status file, as dpkg writes it.
        let mut seen = Vec::new();
        let status: Vec<Entry> = status.into_iter().filter(|e| {
            let fresh = !seen.contains(&e.0);
            seen.push(e.0);
            fresh
        }).collect();
        let text: String = status.iter().map(para).collect();
        let files: Vec<String> = journal.iter().map(|f| f.iter().map(para).collect()).collect();
        let got: Vec<(String, String, bool)> = parse_dpkg_interruption(&text, &files)
            .into_iter()
            .map(|p| (p.package, p.status, p.in_journal))
            .collect();
        let mut want = model(&status, &journal);
        let mut got_sorted = got.clone();
        want.sort();
        got_sorted.sort();
        prop_assert_eq!(got_sorted, want);
    }

    #[test]
    fn only_recorded_removals_are_finished(
        status in proptest::collection::vec(entry(), 0..6),
        covered in proptest::collection::vec(0..6usize, 0..6),
    ) {
        // One paragraph per package, as dpkg writes it (the generator names no
        // architecture).
        let mut seen = Vec::new();
        let status: Vec<Entry> = status.into_iter().filter(|e| {
            let fresh = !seen.contains(&e.0);
            seen.push(e.0);
            fresh
        }).collect();
        let text: String = status.iter().map(para).collect();
        let packages = parse_dpkg_interruption(&text, &[]);
        let covered: Vec<String> = covered.into_iter().map(name).collect();
        let i = DpkgInterruption { packages: packages.clone(), journal: Vec::new() };
        match judge_interruption(&i, &covered) {
            Verdict::Finish(names) => {
                prop_assert!(!names.is_empty());
                for p in &packages {
                    let said: Vec<&Entry> = status.iter().filter(|e| name(e.0) == p.package).collect();
                    if names.contains(&p.package) {
                        prop_assert!(covered.contains(&p.package));
                        prop_assert!(!p.reinstall_required && !p.protected);
                        // What the text said of it: every paragraph a clean removal.
                        for (_, want, flag, _) in &said {
                            prop_assert!(matches!(*want, "deinstall" | "purge") && *flag == "ok");
                        }
                    } else {
                        // Left to dpkg: installed, whole, only its triggers waiting.
                        prop_assert!(!covered.contains(&p.package));
                        for (_, want, flag, state) in &said {
                            prop_assert!(*want == "install" && *flag == "ok");
                            prop_assert!(matches!(*state, "triggers-pending" | "triggers-awaited"));
                        }
                    }
                }
                let finished: Vec<String> = packages.iter().map(|p| p.package.clone()).filter(|n| names.contains(n)).collect();
                prop_assert_eq!(names, finished);
            }
            Verdict::Refuse(why) => {
                prop_assert!(!why.is_empty());
                // Some paragraph of an involved package is not a clean removal and not
                // a package only waiting for triggers, or it is not covered; or nothing
                // of hostfix's is half-done.
                let trigger_only = |e: &&Entry| {
                    e.1 == "install" && e.2 == "ok" && matches!(e.3, "triggers-pending" | "triggers-awaited")
                };
                let blocker = packages.iter().any(|p| {
                    let said: Vec<&Entry> = status.iter().filter(|e| name(e.0) == p.package).collect();
                    let triggers = !said.is_empty() && said.iter().all(trigger_only);
                    let clean_removal = said
                        .iter()
                        .all(|(_, want, flag, _)| matches!(*want, "deinstall" | "purge") && *flag == "ok");
                    if covered.contains(&p.package) { !clean_removal } else { !triggers }
                });
                let none_ours = packages.iter().all(|p| {
                    let said: Vec<&Entry> = status.iter().filter(|e| name(e.0) == p.package).collect();
                    !said.is_empty() && said.iter().all(trigger_only) && !covered.contains(&p.package)
                });
                prop_assert!(packages.is_empty() || blocker || none_ours);
            }
        }
    }
}
