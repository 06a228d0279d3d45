//! The evidence as findings (pure): the requests first (where a request to the host goes
//! is the start of its path), OOM kills, hung tasks and filesystem errors from the
//! kernel's log, each container's state and log lines, pressure and swap activity. Proofs
//! about a container, memory or swap join the finding already there about it (by its
//! [`Subject`], or its area); a new finding is made only when none is.

use std::collections::BTreeMap;

use super::engine_log::Class;
use super::pressure::SwapActivity;
use super::request;
use super::{Context, Evidence};
use crate::finding::{Area, Diagnosis, Finding, Proof, Severity, Source, Subject};

mod container;
mod kernel;

#[cfg_attr(not(feature = "testing"), allow(unused_imports))] // used by hostfix::testing
pub use container::container_state_line;
pub use container::{container_finding, container_parts};
use kernel::kill_place;
pub use kernel::{Place, fs_finding, hung_findings, kernel_container_ids, oom_finding};

/// Adds lines and proofs to the first finding about `subject` (in `area`, when given);
/// false when there is none.
pub fn attach(
    findings: &mut [Finding],
    subject: &Subject,
    area: Option<Area>,
    ev: &[String],
    proofs: &[Proof],
) -> bool {
    let Some(f) = findings
        .iter_mut()
        .find(|f| area.is_none_or(|a| f.area == a) && f.subjects.contains(subject))
    else {
        return false;
    };
    f.evidence.extend(ev.iter().cloned());
    f.proofs
        .extend(proofs.iter().filter(|p| !p.lines.is_empty()).cloned());
    true
}

/// Adds lines and proofs to the first finding in `area`; false when there is none.
fn attach_area(findings: &mut [Finding], area: Area, ev: &[String], proofs: &[Proof]) -> bool {
    let Some(f) = findings.iter_mut().find(|f| f.area == area) else {
        return false;
    };
    f.evidence.extend(ev.iter().cloned());
    f.proofs.extend(proofs.iter().cloned());
    true
}

/// "No space left on device" in the containers' logs and the units' journals (pure).
pub fn no_space_finding(ev: &Evidence) -> Option<Finding> {
    let mut f = Finding::new(Area::Disk, Severity::Problem, String::new());
    let mut whose = Vec::new();
    for c in &ev.containers {
        let lines: Vec<String> = c
            .log
            .iter()
            .filter(|l| l.class == Some(Class::Disk))
            .map(|l| l.show())
            .collect();
        if !lines.is_empty() {
            whose.push(format!("container {}", c.name));
            f = f
                .about(Subject::Container {
                    id: c.id.clone(),
                    name: c.name.clone(),
                })
                .proof(Proof {
                    source: Source::EngineLog,
                    from: c.log_command.clone(),
                    lines,
                });
        }
    }
    for u in ev.requests.iter().filter_map(|r| r.unit.as_ref()) {
        let lines: Vec<String> = u
            .journal
            .iter()
            .filter(|l| {
                super::engine_log::classify(&l.text.to_ascii_lowercase()) == Some(Class::Disk)
            })
            .map(|l| format!("{} {}: {}", l.time, l.ident, l.text))
            .collect();
        if !lines.is_empty() && !whose.contains(&u.unit) {
            whose.push(u.unit.clone());
            f = f
                .about(Subject::Unit {
                    name: u.unit.clone(),
                })
                .proof(Proof {
                    source: Source::Journal,
                    from: u.journal_command.clone(),
                    lines,
                });
        }
    }
    if whose.is_empty() {
        return None;
    }
    f.title = format!(
        "a disk ran out of space or became read-only in the log of {}",
        whose.join(" and ")
    );
    Some(f)
}

fn swapping_finding(s: &SwapActivity) -> Option<Finding> {
    let (i, o) = s.rates()?;
    s.swapping_now().then(|| {
        Finding::new(
            Area::Memory,
            Severity::Warning,
            format!("the host is swapping now: {i:.0} pages/s in, {o:.0} pages/s out"),
        )
    })
}

/// Adds the evidence to a diagnosis: request findings first, then the kernel's, then each
/// container's proofs (joined to its finding, or a finding of its own), pressure and swap
/// activity, and what could not be seen.
pub fn apply(ev: &Evidence, ctx: &Context<'_>, not_root: bool, d: &mut Diagnosis) {
    let names: BTreeMap<String, String> = ctx
        .containers
        .iter()
        .map(|c| (c.id.clone(), c.name.clone()))
        .collect();
    // Area::Request sorts first: where a request goes starts the path.
    for r in &ev.requests {
        d.add(request::request_finding(r, not_root));
    }
    if let Some(k) = &ev.kernel {
        if let Some(f) = oom_finding(k, &names) {
            // The kill joins its container's finding too, when there is one.
            for kill in k.events.oom_kills.iter().rev().take(3) {
                if let Some(p @ Place::Container { .. }) = kill_place(kill, &names) {
                    let proof = Proof {
                        source: Source::KernelLog,
                        from: k.from.clone(),
                        lines: kill.lines.clone(),
                    };
                    let line = format!(
                        "killed by the OOM killer at {}: {} (pid {})",
                        kill.when.show(),
                        kill.name,
                        kill.pid
                    );
                    attach(
                        &mut d.findings,
                        &p.subject(),
                        Some(Area::Containers),
                        &[line],
                        &[proof],
                    );
                }
            }
            d.add(f);
        }
        for f in hung_findings(k, &names) {
            d.add(f);
        }
        if let Some(f) = fs_finding(k) {
            d.add(f);
        }
    }
    for c in &ev.containers {
        let (lines, proofs) = container_parts(c);
        let s = Subject::Container {
            id: c.id.clone(),
            name: c.name.clone(),
        };
        if !attach(&mut d.findings, &s, Some(Area::Containers), &lines, &proofs) {
            let mut f = container_finding(c).about(s);
            f.evidence.extend(lines);
            f.proofs.extend(proofs);
            d.add(f);
        }
    }
    if let Some(f) = no_space_finding(ev) {
        d.add(f);
    }
    apply_memory(ev, d);
    for s in &ev.sources {
        if let Some(detail) = &s.detail {
            d.unseen(format!("{}: {detail}", s.name));
        }
    }
    for c in &ev.containers {
        for u in &c.unseen {
            d.unseen(format!("container {}: {u}", c.name));
        }
    }
    for s in &ev.skipped {
        d.unseen(s.clone());
    }
}

fn apply_memory(ev: &Evidence, d: &mut Diagnosis) {
    if let Some(p) = &ev.pressure {
        let proof = Proof {
            source: Source::Pressure,
            from: "/proc/pressure/memory".into(),
            lines: vec![p.describe()],
        };
        if !attach_area(
            &mut d.findings,
            Area::Memory,
            &[],
            std::slice::from_ref(&proof),
        ) {
            d.add(Finding::new(Area::Memory, Severity::Info, "memory pressure").proof(proof));
        }
    }
    if let Some(s) = &ev.swap {
        let proof = Proof {
            source: Source::Vmstat,
            from: "/proc/vmstat".into(),
            lines: s.lines(),
        };
        if let Some(f) = swapping_finding(s) {
            d.add(f.proof(proof));
        } else if !attach_area(
            &mut d.findings,
            Area::Swap,
            &[],
            std::slice::from_ref(&proof),
        ) {
            attach_area(&mut d.findings, Area::Memory, &[], &[proof]);
        }
    }
}
