//! Evidence along a request's path: the request itself, sent to the host's loopback
//! addresses, and the logs it passes: the container's own (its state and `docker logs`),
//! the service that holds the port (its unit's state and journal), and the kernel's (OOM
//! kills, hung tasks, filesystem errors), with memory pressure and swap activity.
//!
//! One file per source, each a pure parser of what the source prints and a thin reader:
//! [`probe`] (the request), [`kmsg`] and [`kernel`] (the kernel's log), [`journal`]
//! (units and the journal), [`engine_log`] (a container's log), [`pressure`] (PSI and
//! `/proc/vmstat`); [`request`] and [`findings`] turn them into findings (pure), and
//! [`sources`] holds the I/O.
//!
//! Nothing blocks: every command runs under `timeout`, `/dev/kmsg` is read without
//! blocking up to a deadline, each request has a connect and an answer deadline, and a
//! source that is missing, denied or slow is reported as such ([`SourceReport`], listed
//! in [`Diagnosis::unseen`](crate::finding::Diagnosis::unseen) or as a finding).
//! Requests are sent only on the live root (a fake root's ports are not the machine's),
//! and never where the connection itself would change the host: to a socket only PID 1
//! (a `.socket` unit) or inetd holds, which a connection would start a service for, or one
//! whose holder cannot be seen ([`request::may_send`]).

pub mod engine_log;
pub mod findings;
pub mod journal;
pub mod kernel;
pub mod kmsg;
pub mod pressure;
pub mod probe;
pub mod request;
pub mod sources;
mod text;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::engine::{ContainerInfo, Engine, EngineKind};
use crate::finding::{Diagnosis, DoctorOptions};
use crate::host::Host;
use crate::port::{Holders, WhoSpec};

pub use probe::{Outcome, Probe, ProbeLimits};
#[cfg(any(test, feature = "testing"))]
pub use request::Answerer;
pub use request::{Interest, PortRequest, UnitEvidence};
pub use sources::{ContainerEvidence, KernelLog, SourceReport, SourceStatus};

/// How long and how much each source may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Each request.
    pub probe: ProbeLimits,
    /// Each command (`docker logs`, `journalctl`, `systemctl show`), under `timeout`.
    pub command: Duration,
    /// All commands together: past it, the rest are skipped (and said so).
    pub budget: Duration,
    /// Reading `/dev/kmsg`.
    pub kmsg: Duration,
    /// The most bytes read from `/dev/kmsg`.
    pub kmsg_max_bytes: u64,
    /// Lines of a container's log read (`--tail`).
    pub log_lines: usize,
    /// Lines of a unit's journal read (`-n`).
    pub journal_lines: usize,
    /// Lines of the kernel's journal read when `/dev/kmsg` cannot be.
    pub kernel_journal_lines: usize,
    /// Events of each kind, and lines of each log, kept.
    pub keep: usize,
    /// The most ports requests are sent to.
    pub max_ports: usize,
    /// The most containers whose logs are read.
    pub max_containers: usize,
    /// Requests in flight at once.
    pub parallel: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            probe: ProbeLimits::default(),
            command: Duration::from_secs(5),
            budget: Duration::from_secs(15),
            kmsg: Duration::from_secs(2),
            kmsg_max_bytes: 64 * 1024 * 1024,
            log_lines: 50,
            journal_lines: 20,
            kernel_journal_lines: 20_000,
            keep: 10,
            max_ports: 32,
            max_containers: 8,
            parallel: 8,
        }
    }
}

/// What doctor's other passes found, which the evidence follows.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The ports asked about.
    pub ports: &'a [u16],
    /// Their holders, as the ports pass found them.
    pub holders: &'a [Holders],
    /// The containers the engine described.
    pub containers: &'a [ContainerInfo],
    /// The container engine asked for (`--engine`); `None` detects it.
    pub engine: Option<EngineKind>,
}

/// Everything read along the path.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Evidence {
    /// The requests sent, by port.
    pub requests: Vec<PortRequest>,
    /// The kernel's log.
    pub kernel: Option<KernelLog>,
    /// The containers looked at closely.
    pub containers: Vec<ContainerEvidence>,
    /// The host's memory pressure.
    pub pressure: Option<pressure::Psi>,
    /// Swap activity.
    pub swap: Option<pressure::SwapActivity>,
    /// How each source went.
    pub sources: Vec<SourceReport>,
    /// What was skipped (limits reached).
    pub skipped: Vec<String>,
}

/// The ports to send requests to: the ones asked about, then the ones containers publish
/// or want, each once, at most `max` (pure).
pub fn ports_to_probe(asked: &[u16], interest: &[Interest], max: usize) -> (Vec<u16>, usize) {
    let mut ports: Vec<u16> = Vec::new();
    for p in asked.iter().copied().chain(interest.iter().map(|i| i.port)) {
        if p != 0 && !ports.contains(&p) {
            ports.push(p);
        }
    }
    let dropped = ports.len().saturating_sub(max);
    ports.truncate(max);
    (ports, dropped)
}

/// Sends every request, `parallel` at a time; results in the order of `targets`.
pub fn send_all(
    targets: &[(SocketAddr, bool)],
    limits: ProbeLimits,
    parallel: usize,
) -> Vec<Probe> {
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<Option<Probe>>> = Mutex::new(vec![None; targets.len()]);
    std::thread::scope(|s| {
        for _ in 0..parallel.clamp(1, targets.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(addr, http)) = targets.get(i) else {
                        break;
                    };
                    let p = probe::send(addr, http, limits);
                    let mut d = done
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    d[i] = Some(p);
                }
            });
        }
    });
    done.into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .flatten()
        .collect()
}

/// Who holds each port: as the ports pass found it, else looked up now; `None` when the
/// lookup failed.
fn holders_of(
    host: &Host,
    ports: &[(u16, bool)],
    ctx: &Context<'_>,
) -> BTreeMap<u16, Option<Holders>> {
    ports
        .iter()
        .map(|&(port, _)| {
            let h = match ctx.holders.iter().find(|h| h.port == port) {
                Some(h) => Some(h.clone()),
                None => crate::port::find_holders(host, &who(port, ctx.engine))
                    .map_err(|e| log::warn!("evidence: who holds port {port}: {e}"))
                    .ok(),
            };
            (port, h)
        })
        .collect()
}

/// Sends the requests that may be sent ([`request::may_send`]); the others are marked
/// not sent. One probe per loopback address per port, in order.
fn send_requests(
    ports: &[(u16, bool)],
    holders: &BTreeMap<u16, Option<Holders>>,
    l: &Limits,
) -> Vec<Probe> {
    let mut out: Vec<Option<Probe>> = Vec::new();
    let mut targets: Vec<(SocketAddr, bool)> = Vec::new();
    let mut slots: Vec<usize> = Vec::new();
    for &(port, http) in ports {
        for ip in probe::LOOPBACKS {
            let addr = SocketAddr::new(ip, port);
            match request::may_send(holders.get(&port).and_then(Option::as_ref), ip) {
                Ok(()) => {
                    slots.push(out.len());
                    targets.push((addr, http));
                    out.push(None);
                }
                Err(why) => out.push(Some(Probe {
                    addr,
                    http,
                    outcome: Outcome::NotSent { why },
                    elapsed_ms: 0,
                })),
            }
        }
    }
    for (slot, p) in slots
        .into_iter()
        .zip(send_all(&targets, l.probe, l.parallel))
    {
        out[slot] = Some(p);
    }
    out.into_iter().flatten().collect()
}

/// The requests for `ports`, with who they reached.
fn requests_for(
    ports: &[(u16, bool)],
    probes: Vec<Probe>,
    holders: &BTreeMap<u16, Option<Holders>>,
    interest: &[Interest],
) -> Vec<PortRequest> {
    let mut probes = probes.into_iter();
    ports
        .iter()
        .map(|&(port, http)| {
            let ps: Vec<Probe> = probes.by_ref().take(probe::LOOPBACKS.len()).collect();
            let h = holders.get(&port).and_then(Option::as_ref);
            let answerers = ps
                .iter()
                .map(|p| match (p.outcome.connected(), h) {
                    (true, Some(h)) => request::answerers(h, p.addr.ip()),
                    _ => Vec::new(),
                })
                .collect();
            PortRequest {
                port,
                http,
                probes: ps,
                answerers,
                interest: interest
                    .iter()
                    .filter(|i| i.port == port)
                    .cloned()
                    .collect(),
                unit: None,
            }
        })
        .collect()
}

/// Gathers the evidence along the path. Requests are sent only on the live root.
pub fn gather(host: &Host, ctx: &Context<'_>, since: Option<Duration>, l: &Limits) -> Evidence {
    let mut ev = Evidence::default();
    let t0 = Instant::now();
    let swap_first = pressure::read_swap_counters(host);
    let interest = request::interests(ctx.containers);
    let (ports, dropped) = ports_to_probe(ctx.ports, &interest, l.max_ports);
    if dropped > 0 {
        ev.skipped.push(format!(
            "requests to {dropped} more ports (at most {})",
            l.max_ports
        ));
    }
    let with_http: Vec<(u16, bool)> = ports
        .iter()
        .map(|&p| {
            let inner = interest
                .iter()
                .find(|i| i.port == p)
                .and_then(|i| i.container_port);
            (p, probe::is_http_port(p, inner))
        })
        .collect();
    let live = host.is_live_root();
    let holders = if live {
        holders_of(host, &with_http, ctx)
    } else {
        BTreeMap::new()
    };
    let probes = std::thread::scope(|s| {
        let sent = s.spawn(|| {
            let t = Instant::now();
            let p = if live {
                send_requests(&with_http, &holders, l)
            } else {
                Vec::new()
            };
            (p, t.elapsed())
        });
        read_logs(host, ctx, since, l, &mut ev);
        match sent.join() {
            Ok((p, took)) => {
                ev.sources.push(SourceReport {
                    name: "request".into(),
                    status: SourceStatus::Read,
                    detail: None,
                    elapsed_ms: took.as_secs_f64() * 1000.0,
                });
                p
            }
            Err(_) => Vec::new(),
        }
    });
    if live {
        ev.requests = requests_for(&with_http, probes, &holders, &interest);
        read_units(host, since, l, t0, &mut ev);
    } else {
        ev.skipped
            .push("requests: not sent, the host is not the live root".into());
    }
    read_swap(host, swap_first, t0, &mut ev);
    ev
}

/// The second reading of the swap counters, and the activity between the two.
fn read_swap(host: &Host, first: Option<pressure::SwapCounters>, t0: Instant, ev: &mut Evidence) {
    let t = Instant::now();
    if let Some(last) = pressure::read_swap_counters(host) {
        let page = crate::swap::observe::page_size();
        let ms = t0.elapsed().as_millis() as u64;
        ev.swap = Some(pressure::SwapActivity::between(first, last, ms, page));
        ev.sources
            .push(SourceReport::new("vmstat", t, SourceStatus::Read, None));
    } else {
        let d = Some("/proc/vmstat: no pswpin/pswpout".to_string());
        ev.sources
            .push(SourceReport::new("vmstat", t, SourceStatus::Missing, d));
    }
}

/// The logs that need no request's answer: the kernel's, the containers', pressure.
fn read_logs(
    host: &Host,
    ctx: &Context<'_>,
    since: Option<Duration>,
    l: &Limits,
    ev: &mut Evidence,
) {
    let (p, rep) = sources::host_pressure(host);
    ev.pressure = p;
    ev.sources.push(rep);
    let (k, rep) = sources::kernel_log(host, since, l);
    ev.sources.push(rep);
    let start = Instant::now();
    let mut ids: Vec<String> = ctx
        .containers
        .iter()
        .filter(|i| sources::worth_a_look(i))
        .map(|i| i.id.clone())
        .collect();
    if let Some(k) = &k {
        ids.extend(findings::kernel_container_ids(k));
    }
    ev.kernel = k;
    let mut wanted: Vec<&ContainerInfo> = Vec::new();
    for id in ids {
        if let Some(i) = ctx.containers.iter().find(|i| i.id == id) {
            if !wanted.iter().any(|w| w.id == i.id) {
                wanted.push(i);
            }
        }
    }
    if wanted.is_empty() {
        return;
    }
    if wanted.len() > l.max_containers {
        ev.skipped.push(format!(
            "the logs of {} more containers (at most {})",
            wanted.len() - l.max_containers,
            l.max_containers
        ));
        wanted.truncate(l.max_containers);
    }
    let Ok(mut engine) = Engine::locate(host, ctx.engine) else {
        return;
    };
    engine.limits.command = l.command;
    for i in wanted {
        if start.elapsed() >= l.budget {
            ev.skipped.push(format!(
                "the log of container {}: time budget spent",
                i.name
            ));
            continue;
        }
        ev.containers
            .push(sources::container_evidence(host, &engine, i, since, l));
    }
    let status = if ev.containers.iter().any(|c| !c.unseen.is_empty()) {
        SourceStatus::Failed
    } else {
        SourceStatus::Read
    };
    ev.sources
        .push(SourceReport::new("container-logs", start, status, None));
}

/// The state and journal of the units that answered where something is wrong.
fn read_units(host: &Host, since: Option<Duration>, l: &Limits, t0: Instant, ev: &mut Evidence) {
    let start = Instant::now();
    let mut read: BTreeMap<String, UnitEvidence> = BTreeMap::new();
    for r in ev.requests.iter_mut().filter(|r| r.wants_unit_log()) {
        let Some(unit) = r.answerers.iter().flatten().find_map(|a| a.unit.clone()) else {
            continue;
        };
        if t0.elapsed() >= l.budget {
            ev.skipped.push(format!(
                "the state and journal of {unit}: time budget spent"
            ));
            continue;
        }
        let u = read
            .entry(unit.clone())
            .or_insert_with(|| sources::unit_evidence(host, &unit, since, l));
        r.unit = Some(u.clone());
    }
    if !read.is_empty() {
        ev.sources
            .push(SourceReport::new("units", start, SourceStatus::Read, None));
    }
}

/// Adds the evidence's findings to a diagnosis, and its proofs to the findings already
/// there about the same container, memory or swap.
pub fn diagnose(host: &Host, opts: &DoctorOptions, ctx: &Context<'_>, d: &mut Diagnosis) {
    let ev = gather(host, ctx, opts.since, &Limits::default());
    findings::apply(&ev, ctx, !host.is_root(), d);
    d.fact("evidence", &ev);
}

/// `port who PORT` (TCP) with the engine asked for.
fn who(port: u16, engine: Option<EngineKind>) -> WhoSpec {
    let mut w = WhoSpec::tcp(port);
    w.engine = engine;
    w
}
