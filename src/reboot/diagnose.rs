//! What `doctor` shows about reboots: the need with every source's verdict, the last
//! reboots hostfix started, those that were started but never happened, and whether
//! another hostfix run holds the host lock (probed, never taken). Read-only:
//! the ledger is read, never written (a completed reboot is shown as completed, and
//! confirmed by the next `hostfix reboot`).

use std::path::Path;

use serde::Serialize;

use super::guard::LockState;
use super::ledger::{self, EntryStatus, EntryView, Now};
use super::need::{NeedCheck, NeedVerdict, RebootNeed, detect_need};
use super::{HISTORY_SHOWN, read_machine_id, read_uptime};
use crate::error::{Error, Refusal};
use crate::finding::{Area, Diagnosis, DoctorOptions, Finding, FixOp, Severity};
use crate::host::Host;
use crate::plan::Risk;

fn need_evidence(c: &NeedCheck) -> String {
    let unknown = if c.verdict == NeedVerdict::Unknown {
        "unknown: "
    } else {
        ""
    };
    format!("{}: {unknown}{}", c.source.as_str(), c.detail)
}

/// What `doctor` records under the fact `reboot`.
#[derive(Debug, Clone, Serialize)]
pub struct RebootFacts {
    /// The reboot need.
    pub need: RebootNeed,
    /// The ledger file (host path).
    pub ledger: String,
    /// The last reboots hostfix started, newest first.
    pub history: Vec<EntryView>,
    /// The current boot id.
    pub boot_id: Option<String>,
    /// How long the host has been up, in seconds.
    pub uptime_secs: Option<u64>,
}

/// Adds the reboot need and the reboots hostfix started to a diagnosis, reading the
/// ledger in the state directory doctor was given.
pub fn diagnose(host: &Host, opts: &DoctorOptions, d: &mut Diagnosis) {
    diagnose_in(host, &opts.state_dir, d);
}

/// [`diagnose()`] with the ledger in `state_dir` (a host path). Read-only: the ledger is
/// not written, reboots are only shown as completed.
pub fn diagnose_in(host: &Host, state_dir: &Path, d: &mut Diagnosis) {
    let need = detect_need(host, None);
    d.add(need_finding(&need));
    let file = ledger::ledger_path(host, state_dir);
    let shown = host.host_path(&file).display().to_string();
    let boot_id = match host.boot_id() {
        Ok(b) => Some(b),
        Err(e) => {
            d.unseen(format!("boot id: {e}"));
            None
        }
    };
    let machine_id = read_machine_id(host);
    lock_finding(host, d);
    let now = Now {
        boot_id: boot_id.as_deref().unwrap_or(""),
        machine_id: machine_id.as_deref(),
        time: ledger::unix_secs(host.system().now()),
    };
    let history = ledger_findings(host, state_dir, &shown, &now, d);
    d.fact(
        "reboot",
        &RebootFacts {
            need,
            ledger: shown,
            history,
            boot_id,
            uptime_secs: read_uptime(host).ok().map(|u| u.as_secs()),
        },
    );
}

/// The reboot need, with every source's verdict as evidence.
fn need_finding(need: &RebootNeed) -> Finding {
    let mut f = if need.needed {
        Finding::new(
            Area::Reboot,
            Severity::Warning,
            format!("a reboot is needed: {}", need.summary()),
        )
        .fix(FixOp::Reboot, Risk::Reboot)
    } else {
        Finding::new(Area::Reboot, Severity::Ok, "no reboot needed")
    };
    for c in &need.checks {
        f = f.evidence(need_evidence(c));
    }
    f
}

/// Whether another hostfix run holds the host lock (probed, never taken).
fn lock_finding(host: &Host, d: &mut Diagnosis) {
    match super::probe_lock(host) {
        LockState::Busy(why) => d.add(
            Finding::new(
                Area::Reboot,
                Severity::Info,
                "another hostfix run is editing the host now",
            )
            .evidence(why),
        ),
        LockState::NeedsRoot(why) => d.unseen(format!(
            "whether another hostfix run is editing the host: {why}"
        )),
        LockState::Error(why) => d.unseen(format!("the host lock: {why}")),
        LockState::Free | LockState::Held => {}
    }
}

/// The ledger's findings: unusable, reboots started but never happened, and the last
/// reboots; returns those last reboots.
fn ledger_findings(
    host: &Host,
    state_dir: &Path,
    shown: &str,
    now: &Now<'_>,
    d: &mut Diagnosis,
) -> Vec<EntryView> {
    let l = match ledger::read_ledger(host, state_dir) {
        // Not the ledger's fault: this run may not read it.
        Err(Error::Refused(Refusal::NeedsRoot { .. })) => {
            d.unseen(format!(
                "the reboot ledger {shown}: readable only by root (run hostfix doctor as root)"
            ));
            return Vec::new();
        }
        Err(e) => {
            d.add(
                Finding::new(
                    Area::Reboot,
                    Severity::Problem,
                    "the reboot ledger cannot be used: hostfix reboot refuses until it is reset",
                )
                .evidence(e.to_string()),
            );
            return Vec::new();
        }
        Ok(l) if l.entries.is_empty() => return Vec::new(),
        Ok(l) => l,
    };
    let history = l.recent(HISTORY_SHOWN, now);
    for v in history
        .iter()
        .filter(|v| v.status == EntryStatus::NeverHappened)
    {
        d.add(
            Finding::new(
                Area::Reboot,
                Severity::Warning,
                format!("reboot #{} was started but never happened", v.entry.id),
            )
            .evidence(v.summary.clone())
            .evidence(format!("method: {}", v.entry.method)),
        );
    }
    let mut f = Finding::new(
        Area::Reboot,
        Severity::Info,
        format!("last reboots started by hostfix ({shown})"),
    );
    for v in &history {
        f = f.evidence(v.summary.clone());
    }
    d.add(f);
    history
}
