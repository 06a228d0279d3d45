//! The evidence as findings (pure): the requests first (where a request to the host goes
//! is the start of its path), OOM kills, hung tasks and filesystem errors from the
//! kernel's log, each container's state and log lines, pressure and swap activity. Proofs
//! about a container, memory or swap join the finding already there about it (by its
//! [`Subject`], or its area); a new finding is made only when none is.

use std::collections::BTreeMap;

use super::engine_log::Class;
use super::kernel::{OomKill, When};
use super::pressure::SwapActivity;
use super::request;
use super::sources::{ContainerEvidence, KernelLog};
use super::{Context, Evidence};
use crate::finding::{Area, Diagnosis, Finding, Proof, Severity, Source, Subject};
use crate::process::{container_id_from_cgroup, unit_from_cgroup};
use crate::size::format_duration;

/// Where a cgroup sits: a container's, a unit's, or neither.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A container's cgroup.
    Container {
        /// Its id.
        id: String,
        /// Its name, when the engine knows it.
        name: Option<String>,
    },
    /// A systemd service's.
    Unit(String),
    /// Another cgroup.
    Cgroup(String),
}

impl Place {
    /// Where `cgroup` sits; `names` maps container ids to names (pure).
    pub fn of(cgroup: &str, names: &BTreeMap<String, String>) -> Place {
        if let Some(id) = container_id_from_cgroup(cgroup) {
            let name = names.get(&id).cloned();
            return Place::Container { id, name };
        }
        match unit_from_cgroup(cgroup).filter(|u| u.ends_with(".service")) {
            Some(u) => Place::Unit(u),
            None => Place::Cgroup(cgroup.to_string()),
        }
    }

    /// `container web`, `nginx.service`, `cgroup /x`.
    pub fn show(&self) -> String {
        match self {
            Place::Container { name: Some(n), .. } => format!("container {n}"),
            Place::Container { id, name: None } => {
                format!("container {}", crate::engine::short_id(id))
            }
            Place::Unit(u) => u.clone(),
            Place::Cgroup(c) => format!("cgroup {c}"),
        }
    }

    /// As a finding's subject.
    pub fn subject(&self) -> Subject {
        match self {
            Place::Container { id, name } => Subject::Container {
                id: id.clone(),
                name: name.clone().unwrap_or_default(),
            },
            Place::Unit(u) => Subject::Unit { name: u.clone() },
            Place::Cgroup(c) => Subject::Cgroup { path: c.clone() },
        }
    }
}

fn kill_place(k: &OomKill, names: &BTreeMap<String, String>) -> Option<Place> {
    k.cgroup
        .as_deref()
        .or(k.limit_cgroup.as_deref())
        .filter(|c| *c != "/")
        .map(|c| Place::of(c, names))
}

/// The container ids the kernel's log names: OOM victims' and hung tasks' cgroups (pure).
pub fn kernel_container_ids(k: &KernelLog) -> Vec<String> {
    let kills = k
        .events
        .oom_kills
        .iter()
        .filter_map(|o| o.cgroup.as_deref().or(o.limit_cgroup.as_deref()));
    let hung = k.hung_now.values().filter_map(|h| h.cgroup.as_deref());
    let mut ids: Vec<String> = kills
        .chain(hung)
        .filter_map(container_id_from_cgroup)
        .collect();
    ids.dedup();
    ids
}

fn window(k: &KernelLog) -> String {
    match (k.window_s, &k.oldest_time, k.oldest_s) {
        (Some(w), _, _) => format!(
            "in the last {}",
            format_duration(std::time::Duration::from_secs(w))
        ),
        (None, Some(t), _) => format!("since {t} (older messages are gone)"),
        (None, None, Some(o)) => format!("since {o:.0} s after boot (older messages are gone)"),
        (None, None, None) => "since boot".into(),
    }
}

/// Whether an event is recent: in the window asked for, or within the last hour.
fn recent(k: &KernelLog, w: &When) -> bool {
    k.window_s.is_some()
        || matches!((k.uptime_s, w.since_boot), (Some(u), Some(s)) if u - s <= 3600.0)
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The OOM killer's kills, as one finding (pure); `None` when there were none.
pub fn oom_finding(k: &KernelLog, names: &BTreeMap<String, String>) -> Option<Finding> {
    let last = k.events.oom_kills.last()?;
    let n = k.events.oom_kills_total;
    let place = kill_place(last, names).map_or(String::new(), |p| format!(" in {}", p.show()));
    let sev = if recent(k, &last.when) {
        Severity::Problem
    } else {
        Severity::Warning
    };
    let mut f = Finding::new(
        Area::Memory,
        sev,
        format!(
            "the OOM killer killed {} {}; the last: {} (pid {}){place}, {}",
            plural(n, "process", "processes"),
            window(k),
            last.name,
            last.pid,
            last.when.show()
        ),
    );
    for kill in k.events.oom_kills.iter().rev().take(5) {
        let mut line = format!("{}: {} (pid {})", kill.when.show(), kill.name, kill.pid);
        if let Some(kb) = kill.anon_rss_kb {
            line.push_str(&format!(", {} MiB resident", kb / 1024));
        }
        if let Some(p) = kill_place(kill, names) {
            line.push_str(&format!(", in {}", p.show()));
            f = f.about(p.subject());
        }
        line.push_str(match (kill.host_wide, &kill.limit_cgroup) {
            (Some(true), _) => ": the host ran out of memory",
            (_, Some(_)) => ": its cgroup hit its memory limit",
            _ => "",
        });
        if let (Some(false), Some(c)) = (kill.host_wide, &kill.limit_cgroup) {
            line.push_str(&format!(" ({c})"));
        }
        f = f.evidence(line);
    }
    let lines: Vec<String> = k
        .events
        .oom_kills
        .iter()
        .rev()
        .take(3)
        .rev()
        .flat_map(|o| o.lines.iter().cloned())
        .collect();
    Some(f.proof(Proof {
        source: Source::KernelLog,
        from: k.from.clone(),
        lines,
    }))
}

/// The hung-task reports, one finding per place (pure): a container's in the containers'
/// area, the rest with the disks (a task blocked in `D` waits on I/O, mostly).
pub fn hung_findings(k: &KernelLog, names: &BTreeMap<String, String>) -> Vec<Finding> {
    let mut by_place: BTreeMap<String, (Option<Place>, Vec<&super::kernel::HungTask>)> =
        BTreeMap::new();
    for h in &k.events.hung_tasks {
        let place = k
            .hung_now
            .get(&h.pid)
            .and_then(|n| n.cgroup.as_deref())
            .filter(|c| *c != "/")
            .map(|c| Place::of(c, names));
        let key = place.as_ref().map_or(String::new(), Place::show);
        by_place.entry(key).or_insert((place, Vec::new())).1.push(h);
    }
    let mut out = Vec::new();
    for (_, (place, tasks)) in by_place {
        let still: Vec<i32> = tasks
            .iter()
            .filter(|t| k.hung_now.get(&t.pid).is_some_and(|n| n.state == 'D'))
            .map(|t| t.pid)
            .collect();
        let longest = tasks.iter().map(|t| t.seconds).max().unwrap_or(0);
        let names_list: Vec<String> = tasks
            .iter()
            .rev()
            .take(3)
            .map(|t| format!("{}:{}", t.name, t.pid))
            .collect();
        let (area, whereabouts) = match &place {
            Some(p @ Place::Container { .. }) => (Area::Containers, format!(" in {}", p.show())),
            Some(p) => (Area::Disk, format!(" in {}", p.show())),
            None => (Area::Disk, String::new()),
        };
        let mut f = Finding::new(
            area,
            if still.is_empty() {
                Severity::Warning
            } else {
                Severity::Problem
            },
            format!(
                "the kernel reported {} blocked for more than {longest} s{whereabouts} ({}) {}",
                plural(tasks.len() as u64, "task", "tasks"),
                names_list.join(", "),
                window(k)
            ),
        );
        if let Some(p) = &place {
            f = f.about(p.subject());
        }
        for t in &tasks {
            f = f.about(Subject::Process {
                pid: t.pid,
                name: t.name.clone(),
            });
            f = f.evidence(match k.hung_now.get(&t.pid) {
                Some(n) if n.state == 'D' => format!(
                    "pid {} ({}) is still in uninterruptible sleep (D): no signal ends it",
                    t.pid, t.name
                ),
                Some(n) => format!("pid {} ({}) runs on, state {}", t.pid, t.name, n.state),
                None => format!("pid {} ({}) is gone", t.pid, t.name),
            });
        }
        out.push(f.proof(Proof {
            source: Source::KernelLog,
            from: k.from.clone(),
            lines: tasks.iter().map(|t| t.line.clone()).collect(),
        }));
    }
    out
}

/// The filesystem and I/O errors, as one finding (pure).
pub fn fs_finding(k: &KernelLog) -> Option<Finding> {
    let last = k.events.fs_errors.last()?;
    let n = k.events.fs_errors_total;
    let title = if k.events.fs_errors.iter().all(|e| e.kind == "no-space") {
        format!(
            "the kernel logged \"No space left on device\" {} {}",
            plural(n, "time", "times"),
            window(k)
        )
    } else {
        format!(
            "the kernel logged {} {}; the last: {}{}, {}",
            plural(n, "filesystem or I/O error", "filesystem or I/O errors"),
            window(k),
            last.kind,
            last.device
                .as_ref()
                .map_or(String::new(), |d| format!(" on {d}")),
            last.when.show()
        )
    };
    Some(
        Finding::new(Area::Disk, Severity::Problem, title).proof(Proof {
            source: Source::KernelLog,
            from: k.from.clone(),
            lines: k.events.fs_errors.iter().map(|e| e.line.clone()).collect(),
        }),
    )
}

/// `exited, exit code 137, OOM-killed, 5 restarts, finished 2024-...` (pure).
pub fn container_state_line(c: &ContainerEvidence) -> String {
    let i = &c.info;
    let mut s = format!("{}, exit code {}", i.status, i.exit_code);
    if i.oom_killed {
        s.push_str(", OOM-killed");
    }
    s.push_str(&format!(
        ", {}",
        plural(i.restart_count, "restart", "restarts")
    ));
    let t = i.finished_at.trim();
    if !t.is_empty() && !t.starts_with("0001-") {
        s.push_str(&format!(", finished {t}"));
    }
    s
}

/// The evidence lines and proofs of a container (pure).
pub fn container_parts(c: &ContainerEvidence) -> (Vec<String>, Vec<Proof>) {
    let mut ev = Vec::new();
    let mut engine = vec![container_state_line(c)];
    if !c.info.error.trim().is_empty() {
        engine.push(format!("Error: {}", super::text::line(&c.info.error)));
    }
    let mut proofs = vec![Proof {
        source: Source::Engine,
        from: format!("docker container inspect {}", c.name),
        lines: engine,
    }];
    proofs.push(Proof {
        source: Source::EngineLog,
        from: c.log_command.clone(),
        lines: c.log.iter().map(|l| l.show()).collect(),
    });
    if let (Some(p), Some(from)) = (&c.pressure, &c.pressure_from) {
        ev.push(format!("memory pressure of its cgroup: {}", p.describe()));
        proofs.push(Proof {
            source: Source::Pressure,
            from: from.clone(),
            lines: vec![p.describe()],
        });
    }
    ev.extend(c.unseen.iter().map(|u| format!("not seen: {u}")));
    (
        ev,
        proofs.into_iter().filter(|p| !p.lines.is_empty()).collect(),
    )
}

/// A finding of its own for a container no other finding is about (pure).
pub fn container_finding(c: &ContainerEvidence) -> Finding {
    let i = &c.info;
    let (sev, title) = if i.oom_killed {
        (
            Severity::Problem,
            format!(
                "container {} was killed for memory (OOMKilled, exit code {})",
                c.name, i.exit_code
            ),
        )
    } else if !i.running && i.exit_code != 0 {
        (
            Severity::Warning,
            format!("container {} exited with code {}", c.name, i.exit_code),
        )
    } else if !i.running && !i.error.trim().is_empty() {
        (
            Severity::Warning,
            format!(
                "container {} is {}: the engine reports an error",
                c.name, i.status
            ),
        )
    } else {
        (
            Severity::Info,
            format!("container {}: {}", c.name, container_state_line(c)),
        )
    };
    Finding::new(Area::Containers, sev, title)
}

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
