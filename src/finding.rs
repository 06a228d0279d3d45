//! What a diagnosis is made of: findings along a request's path, each with its evidence
//! and its fix. A leaf: each operation adds its own findings here, and only
//! [`crate::doctor`] composes them.

use serde::Serialize;

use crate::plan::Policy;
use crate::risk::Risk;

/// Where along a request's path a finding sits; the order findings are reported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Area {
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
    /// Whether a reboot is needed, and past reboots.
    Reboot,
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
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

/// A command that would fix a finding, with its risk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    /// The command line.
    pub command: String,
    /// The riskiest step it may take.
    pub risk: Risk,
}

/// One finding of the diagnosis.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
        }
    }

    /// Adds a line of evidence.
    pub fn evidence(mut self, e: impl Into<String>) -> Self {
        self.evidence.push(e.into());
        self
    }

    /// Sets the fix.
    pub fn fix(mut self, command: impl Into<String>, risk: Risk) -> Self {
        self.fix = Some(Fix {
            command: command.into(),
            risk,
        });
        self
    }
}

/// What doctor looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoctorOptions {
    /// The ports a request arrives at (default 80 and 443).
    pub ports: Vec<u16>,
    /// The paths whose disk space matters (default `/`, and `/var`, `/var/lib/docker`
    /// and `/tmp` when they are other filesystems).
    pub disk_paths: Vec<std::path::PathBuf>,
    /// hostfix's state directory (where the reboot ledger is read from).
    pub state_dir: std::path::PathBuf,
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
        }
    }
}

/// The diagnosis being gathered: findings, raw facts, and what could not be seen.
#[derive(Debug, Clone, Default, Serialize)]
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
