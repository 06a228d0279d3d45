//! What a diagnosis is made of: findings along a request's path, each with its evidence
//! and its fix. A leaf: each operation adds its own findings here, and only
//! [`crate::doctor`] composes them.

use serde::Serialize;

use crate::net::Proto;
use crate::plan::Policy;
use crate::risk::Risk;

mod op;

pub(crate) use op::size_arg;
pub use op::{Fix, FixOp};

/// Where along a request's path a finding sits; the order findings are reported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Area {
    /// The request doctor sent to the host's loopback addresses, and who answered it.
    Request,
    /// Listeners on the ports a request arrives at, and who holds them.
    Ports,
    /// The container engine and its containers.
    Containers,
    /// Memory and memory pressure.
    Memory,
    /// Swap areas and swap files.
    Swap,
    /// Disk space and inodes.
    Disk,
    /// The package manager's own state (a dpkg left half-way by a power cut).
    Packages,
    /// Whether a reboot is needed, and past reboots.
    Reboot,
    /// The host itself: its init system, and what it cannot offer (no journal, no
    /// systemd units).
    Host,
}

impl Area {
    /// The area as the JSON spells it: `request`, `ports`, `containers`, `memory`,
    /// `swap`, `disk`, `packages`, `reboot` or `host`.
    pub fn as_str(self) -> &'static str {
        match self {
            Area::Request => "request",
            Area::Ports => "ports",
            Area::Containers => "containers",
            Area::Memory => "memory",
            Area::Swap => "swap",
            Area::Disk => "disk",
            Area::Packages => "packages",
            Area::Reboot => "reboot",
            Area::Host => "host",
        }
    }
}

impl std::fmt::Display for Area {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Severity {
    /// All is well.
    Ok,
    /// Worth knowing.
    Info,
    /// Will hurt soon, or under load.
    Warning,
    /// Hurts now.
    Problem,
}

impl Severity {
    /// The severity as the JSON spells it: `ok`, `info`, `warning` or `problem`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Problem => "problem",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a finding is about: the thing a fix would act on, typed so that a fix (or a
/// library user) can name its target without reading the title.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Subject {
    /// A host port.
    Port {
        /// The port.
        port: u16,
        /// Its protocol.
        proto: Proto,
    },
    /// A container.
    Container {
        /// Its full id.
        id: String,
        /// Its name.
        name: String,
    },
    /// A systemd unit.
    Unit {
        /// The unit (`nginx.service`).
        name: String,
    },
    /// A process, as it was when read.
    Process {
        /// Its pid.
        pid: i32,
        /// Its name (`comm`).
        name: String,
    },
    /// A cgroup (its path in the hierarchy, `/system.slice/docker-<id>.scope`).
    Cgroup {
        /// The path.
        path: String,
    },
}

/// Where the lines of a [`Proof`] come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Source {
    /// The request doctor sent (the answer's status line and `Server` header).
    Request,
    /// The container engine's description of a container (`docker container inspect`).
    Engine,
    /// A container's log (`docker logs`).
    EngineLog,
    /// A systemd unit's state (`systemctl show`).
    Unit,
    /// The journal (`journalctl -u UNIT`).
    Journal,
    /// The kernel's log (`/dev/kmsg`, or `journalctl -k`).
    KernelLog,
    /// Pressure stall information (`/proc/pressure/memory`, a cgroup's `memory.pressure`).
    Pressure,
    /// Kernel counters (`/proc/vmstat`).
    Vmstat,
}

/// Lines from one source that prove a finding, as the source printed them (control
/// characters replaced, each line bounded in length).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Proof {
    /// The kind of source.
    pub source: Source,
    /// Where exactly: the command or file (`docker logs --tail 50 web`, `/dev/kmsg`).
    pub from: String,
    /// The lines.
    pub lines: Vec<String>,
}

/// One finding of the diagnosis.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Finding {
    /// Where along the request's path.
    pub area: Area,
    /// How bad.
    pub severity: Severity,
    /// One line: what was found.
    pub title: String,
    /// The readings behind it.
    pub evidence: Vec<String>,
    /// What would fix it.
    pub fix: Option<Fix>,
    /// What it is about (the port, container, unit ... a fix would act on).
    pub subjects: Vec<Subject>,
    /// The log lines and readings that prove it, by source.
    pub proofs: Vec<Proof>,
}

impl Finding {
    /// A finding without evidence or fix.
    pub fn new(area: Area, severity: Severity, title: impl Into<String>) -> Self {
        Finding {
            area,
            severity,
            title: title.into(),
            evidence: Vec::new(),
            fix: None,
            subjects: Vec::new(),
            proofs: Vec::new(),
        }
    }

    /// Names what it is about (once each).
    pub fn about(mut self, s: Subject) -> Self {
        if !self.subjects.contains(&s) {
            self.subjects.push(s);
        }
        self
    }

    /// Adds lines that prove it; a proof without lines is left out.
    pub fn proof(mut self, p: Proof) -> Self {
        if !p.lines.is_empty() {
            self.proofs.push(p);
        }
        self
    }

    /// Adds a line of evidence.
    pub fn evidence(mut self, e: impl Into<String>) -> Self {
        self.evidence.push(e.into());
        self
    }

    /// Sets the fix: `op` at `risk` (its command line rendered from it).
    pub fn fix(mut self, op: FixOp, risk: Risk) -> Self {
        self.fix = Some(Fix::new(op, risk));
        self
    }
}

/// What doctor looks at: [`DoctorOptions::default`], then the fields (every field
/// optional in a config).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct DoctorOptions {
    /// The ports a request arrives at. Default 80 and 443.
    pub ports: Vec<u16>,
    /// The paths whose disk space matters. Default `/`, and `/var`, `/var/lib/docker`
    /// and `/tmp` when they are other filesystems.
    pub disk_paths: Vec<std::path::PathBuf>,
    /// hostfix's state directory (where the reboot ledger is read from). Default
    /// `/var/lib/hostfix`.
    pub state_dir: std::path::PathBuf,
    /// How far back the kernel log, the journal and container logs are read (at most
    /// 366 days). Default `None`: since boot, or as far as each log goes.
    #[serde(deserialize_with = "crate::de::opt_duration")]
    pub since: Option<std::time::Duration>,
    /// The container engine (`--engine`). Default `None`: detected (the one installed;
    /// both: Docker when its daemon socket exists, else Podman).
    pub engine: Option<crate::engine::EngineKind>,
}

impl DoctorOptions {
    /// The risk cap `hostfix doctor` runs under: [`Risk::ReadOnly`] (it only reads).
    pub fn default_cap(&self) -> Risk {
        Risk::ReadOnly
    }
}

impl Default for DoctorOptions {
    fn default() -> Self {
        DoctorOptions {
            ports: vec![80, 443],
            disk_paths: ["/", "/var", "/var/lib/docker", "/tmp"]
                .iter()
                .map(Into::into)
                .collect(),
            state_dir: Policy::DEFAULT_STATE_DIR.into(),
            since: None,
            engine: None,
        }
    }
}

/// The diagnosis being gathered: findings, raw facts, and what could not be seen.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct Diagnosis {
    /// Findings, in request order once finished.
    pub findings: Vec<Finding>,
    /// The readings behind them, by name (`memory`, `disks`, `swaps`, ...).
    pub facts: serde_json::Map<String, serde_json::Value>,
    /// What could not be seen, and why (missing permissions, unreadable files).
    pub unseen: Vec<String>,
}

impl Diagnosis {
    /// Adds a finding.
    pub fn add(&mut self, f: Finding) {
        log::info!("doctor: {:?} {:?}: {}", f.area, f.severity, f.title);
        self.findings.push(f);
    }

    /// Records a reading under `name`.
    pub fn fact<T: Serialize>(&mut self, name: &str, value: &T) {
        match serde_json::to_value(value) {
            Ok(v) => {
                self.facts.insert(name.to_string(), v);
            }
            Err(e) => self.unseen(format!("{name}: cannot be shown: {e}")),
        }
    }

    /// Records something that could not be seen.
    pub fn unseen(&mut self, what: impl Into<String>) {
        let what = what.into();
        log::warn!("doctor: could not see {what}");
        self.unseen.push(what);
    }
}
