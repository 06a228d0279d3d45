//! The kernel log's findings: OOM kills, hung tasks, filesystem and I/O errors (pure).

use std::collections::BTreeMap;

use super::super::kernel::{HungTask, OomKill, When};
use super::super::sources::KernelLog;
use crate::finding::{Area, Finding, Proof, Severity, Source, Subject};
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

pub(super) fn kill_place(k: &OomKill, names: &BTreeMap<String, String>) -> Option<Place> {
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

pub(super) fn plural(n: u64, one: &str, many: &str) -> String {
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
    let mut by_place: BTreeMap<String, (Option<Place>, Vec<&HungTask>)> = BTreeMap::new();
    let (tasks, reports) = latest_per_task(&k.events.hung_tasks);
    for h in tasks {
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
            let mut line = match k.hung_now.get(&t.pid) {
                Some(n) if n.state == 'D' => format!(
                    "pid {} ({}) is still in uninterruptible sleep (D): no signal ends it",
                    t.pid, t.name
                ),
                Some(n) => format!("pid {} ({}) runs on, state {}", t.pid, t.name, n.state),
                None => format!("pid {} ({}) is gone", t.pid, t.name),
            };
            match reports.get(&(t.pid, t.name.as_str())) {
                Some(&n) if n > 1 => line.push_str(&format!(" (reported {n} times)")),
                _ => {}
            }
            f = f.evidence(line);
        }
        out.push(f.proof(Proof {
            source: Source::KernelLog,
            from: k.from.clone(),
            lines: tasks.iter().map(|t| t.line.clone()).collect(),
        }));
    }
    out
}

/// Each task's latest report, in the order of those reports, and how many reports each
/// task had (pure): the kernel reports a task again at every timeout while it stays
/// blocked (up to `hung_task_warnings` times), and one task is one task.
fn latest_per_task(all: &[HungTask]) -> (Vec<&HungTask>, BTreeMap<(i32, &str), u64>) {
    let mut reports: BTreeMap<(i32, &str), u64> = BTreeMap::new();
    for t in all {
        *reports.entry((t.pid, t.name.as_str())).or_default() += 1;
    }
    let latest = all
        .iter()
        .enumerate()
        .filter(|(i, t)| {
            !all[i + 1..]
                .iter()
                .any(|later| later.pid == t.pid && later.name == t.name)
        })
        .map(|(_, t)| t)
        .collect();
    (latest, reports)
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
