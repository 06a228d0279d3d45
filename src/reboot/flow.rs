//! One `hostfix reboot` run, after the spec is checked: observe the host and the need,
//! lock and read the ledger, judge every guard rule, then record the reboot and request
//! it.

use std::path::Path;
use std::time::Duration;

use super::guard::{self, GuardInput, GuardVerdict, LedgerInput, LockState, RuleVerdict};
use super::ledger::{self, EntryState, Ledger, LedgerEntry, Now};
use super::need::{NeedSource, NeedVerdict, RebootNeed, detect_need};
use super::{
    HISTORY_SHOWN, RebootDecision, RebootError, RebootResult, RebootSpec, check_state_dir,
    read_machine_id, read_uptime, request, store,
};
use crate::error::{Error, Refusal, Result};
use crate::host::{Host, InitSystem};
use crate::plan::{Exec, Risk, Runner};
use crate::size::format_duration;
use crate::state;

pub(super) fn reboot_inner(
    host: &Host,
    spec: &RebootSpec,
    run: &mut Runner<'_>,
    out: &mut RebootResult,
) -> Result<()> {
    spec.validate()?;
    let state_dir = state::state_dir(&run.policy().state_dir)?;
    check_state_dir(host, &state_dir)?;
    let ledger_file = ledger::ledger_path(host, &state_dir);
    out.ledger = host.host_path(&ledger_file).display().to_string();
    let seen = observe(host, run, out)?;
    let now = seen.now();
    let need = observe_need(host, spec, run, out)?;
    let wanted = !spec.gated() || need.needed;

    let (lock, lock_state, mut ledger_res) = store::lock_and_read(run, &state_dir, wanted, &now)?;
    if let Ok(l) = &mut ledger_res {
        store::confirm_started(run, &ledger_file, l, &now, &lock_state, out)?;
        out.history = l.recent(HISTORY_SHOWN, &now);
    }
    let verdicts = judge(spec, &ledger_res, &lock_state, &seen, out);

    if !wanted {
        out.decision = RebootDecision::NotNeeded;
        out.why = "no need source gives a reason to reboot".into();
        run.skip(
            "reboot",
            Risk::Reboot,
            if spec.when.is_some() {
                "--when given: reboot only when needed"
            } else {
                "--if-needed: reboot only when needed"
            },
            format!("not needed: {}", need.summary()),
        );
        return Ok(());
    }
    check_verdicts(run, out, &verdicts)?;
    // The ledger rule allowed (or, in a dry run without root, could not look), so the
    // ledger is readable here, or unknown.
    let (ledger, known) = match ledger_res {
        Ok(l) => (l, true),
        Err(Error::Refused(Refusal::NeedsRoot { .. })) if run.dry_run() => {
            (Ledger::default(), false)
        }
        Err(e) => return Err(e),
    };
    let reason = match (&spec.reason, spec.gated()) {
        (Some(r), _) => r.clone(),
        (None, true) => need.summary(),
        (None, false) if need.needed => format!("requested; also needed: {}", need.summary()),
        (None, false) => "requested by the caller".to_string(),
    };
    let writer = request::LedgerWriter::new(host, &state_dir, ledger, lock);
    record_and_request(run, spec, &seen, writer, known, reason, out)
}

/// Detects the reboot need from every source, recording each check; a `--when`
/// condition that cannot be evaluated is an error.
fn observe_need(
    host: &Host,
    spec: &RebootSpec,
    run: &mut Runner<'_>,
    out: &mut RebootResult,
) -> Result<RebootNeed> {
    let need = detect_need(host, spec.when.as_deref());
    for c in &need.checks {
        run.observe(
            format!("reboot need: {}", c.source.as_str()),
            format!("{}: {}", c.verdict.as_str(), c.detail),
        );
    }
    out.need = need.clone();
    if let Some(c) = need.check(NeedSource::Caller) {
        if c.verdict == NeedVerdict::Unknown {
            return Err(RebootError::Condition {
                detail: c.detail.clone(),
            }
            .into());
        }
    }
    Ok(need)
}

/// Refuses the reboot when a guard rule refuses it, or, in a real run, when a rule
/// could not be checked (it needs root).
fn check_verdicts(
    run: &mut Runner<'_>,
    out: &mut RebootResult,
    verdicts: &[RuleVerdict],
) -> Result<()> {
    if let Some(refusal) = guard::refusal(verdicts) {
        return Err(refuse(run, out, "reboot", Risk::Reboot, refusal));
    }
    if !run.dry_run() {
        // A real run decides on every rule; one it cannot check needs root.
        if let Some(v) = verdicts.iter().find(|v| v.verdict == GuardVerdict::Unknown) {
            let refusal = Refusal::NeedsRoot {
                action: format!("check the guard rule {} ({})", v.rule, v.detail),
            };
            return Err(refuse(run, out, "reboot", Risk::Reboot, refusal));
        }
    }
    Ok(())
}

/// What a reboot run reads of the host before it decides.
struct Seen {
    boot_id: String,
    machine_id: Option<String>,
    time: u64,
    uptime: std::result::Result<Duration, String>,
    init: InitSystem,
}

impl Seen {
    fn now(&self) -> Now<'_> {
        Now {
            boot_id: &self.boot_id,
            machine_id: self.machine_id.as_deref(),
            time: self.time,
        }
    }
}

/// Reads the boot id (required: without it no reboot can be confirmed), the machine id,
/// the clock, the uptime and the init system, recording each observation.
fn observe(host: &Host, run: &mut Runner<'_>, out: &mut RebootResult) -> Result<Seen> {
    let boot_id = host
        .boot_id()
        .map_err(|e| RebootError::BootId(Box::new(e)))?;
    run.observe("read /proc/sys/kernel/random/boot_id", boot_id.clone());
    out.boot_id = boot_id.clone();
    let uptime = read_uptime(host);
    match &uptime {
        Ok(d) => {
            out.uptime_secs = Some(d.as_secs());
            run.observe("read /proc/uptime", format!("up {}", format_duration(*d)));
        }
        Err(e) => run.observe("read /proc/uptime", format!("unknown: {e}")),
    }
    let found = host.init_detection();
    let init = found.system;
    run.observe(
        "detect the init system",
        format!("{} ({})", found.system, found.evidence),
    );
    if let Some(c) = host.container() {
        run.observe(
            "detect a container",
            format!("running in a {c} container: a reboot restarts the container, not the machine"),
        );
    }
    Ok(Seen {
        boot_id,
        machine_id: read_machine_id(host),
        time: ledger::unix_secs(host.system().now()),
        uptime,
        init,
    })
}

/// Every guard rule's verdict, logged and kept in the result.
fn judge(
    spec: &RebootSpec,
    ledger_res: &Result<Ledger>,
    lock_state: &LockState,
    seen: &Seen,
    out: &mut RebootResult,
) -> Vec<RuleVerdict> {
    let ledger_why = ledger_res.as_ref().err().map(ToString::to_string);
    let ledger = match (ledger_res, ledger_why.as_deref()) {
        (Ok(l), _) => LedgerInput::Read(l),
        (Err(Error::Refused(Refusal::NeedsRoot { .. })), Some(why)) => LedgerInput::NeedsRoot(why),
        (Err(_), why) => LedgerInput::Unusable(why.unwrap_or("the ledger cannot be read")),
    };
    let verdicts = guard::evaluate(
        &GuardInput {
            ledger,
            lock: lock_state,
            now: seen.now(),
            uptime: seen.uptime.as_ref().map(|d| *d).map_err(String::as_str),
        },
        &spec.rules,
    );
    for v in &verdicts {
        log::info!(
            "reboot: guard rule {}: {}: {}",
            v.rule,
            v.verdict.as_str(),
            v.detail
        );
    }
    out.guard = verdicts.clone();
    verdicts
}

/// Records a refusal in the result and the runner; the error to return.
fn refuse(
    run: &mut Runner<'_>,
    out: &mut RebootResult,
    action: &str,
    risk: Risk,
    refusal: Refusal,
) -> Error {
    out.decision = RebootDecision::Refused;
    out.why = refusal.to_string();
    run.refuse(action, risk, refusal)
}

/// Records the reboot in the ledger (before anything is asked for), then requests it.
fn record_and_request(
    run: &mut Runner<'_>,
    spec: &RebootSpec,
    seen: &Seen,
    mut writer: request::LedgerWriter<'_>,
    known: bool,
    reason: String,
    out: &mut RebootResult,
) -> Result<()> {
    let shown_ledger = out.ledger.clone();
    let Some(id) = writer.ledger().next_id() else {
        let refusal = ledger::corrupt(
            Path::new(&shown_ledger),
            "its largest id is 18446744073709551615: no id is left for a new entry",
        );
        return Err(refuse(
            run,
            out,
            "record the reboot",
            Risk::Additive,
            refusal,
        ));
    };
    let plan = request::plan_request(seen.init, spec, id);
    out.method = Some(plan.label.clone());
    if !run.allows(Risk::Reboot) {
        // Refused before anything is recorded: the ledger holds only reboots started.
        let refusal = Refusal::RiskAboveCap {
            action: plan.label.clone(),
            needed: Risk::Reboot,
            cap: run.policy().max_risk,
        };
        return Err(refuse(run, out, &plan.label, Risk::Reboot, refusal));
    }
    let entry = new_entry(id, spec, seen, &plan, reason.clone());
    if known {
        out.entry = Some(entry.clone());
    }
    out.decision = RebootDecision::Reboot;
    let record = if known {
        format!("record reboot #{id} in {shown_ledger}")
    } else {
        format!("record the reboot in {shown_ledger}")
    };
    run.step(
        record,
        Risk::Additive,
        "the guard records every reboot before it starts",
        |_| {
            writer.start(entry)?;
            Ok(format!("entry #{id} written and fsynced (state started)"))
        },
    )?;
    let exec = run.step(plan.label.clone(), Risk::Reboot, reason, |h| {
        request::send_request(h, &plan, writer, id)
    });
    report_request(exec, &plan, id, known, out)
}

/// The ledger entry of a reboot about to start.
fn new_entry(
    id: u64,
    spec: &RebootSpec,
    seen: &Seen,
    plan: &request::RequestPlan,
    reason: String,
) -> LedgerEntry {
    LedgerEntry {
        id,
        key: spec.rules.once.clone(),
        reason,
        boot_id: seen.boot_id.clone(),
        machine_id: seen.machine_id.clone(),
        started_at: seen.time,
        delay_secs: spec.delay.as_secs(),
        method: plan.label.clone(),
        state: EntryState::Started,
        requested_at: None,
        confirmed_at: None,
        confirmed_boot_id: None,
        error: None,
    }
}

/// What became of the request, in the result: requested (not done yet), planned, or
/// failed.
fn report_request(
    exec: Result<Exec>,
    plan: &request::RequestPlan,
    id: u64,
    known: bool,
    out: &mut RebootResult,
) -> Result<()> {
    match exec {
        Ok(Exec::Done) => {
            out.requested = true;
            out.why = format!(
                "reboot requested ({}); it has not happened yet: ledger entry #{id} stays \
                 `started` until a run in the next boot confirms it",
                plan.label
            );
            Ok(())
        }
        Ok(Exec::Planned) => {
            let what = if known {
                format!("entry #{id}")
            } else {
                "the reboot".to_string()
            };
            out.why = format!("dry run: would record {what} and reboot ({})", plan.label);
            Ok(())
        }
        Err(e) => {
            out.why = e.to_string();
            Err(e)
        }
    }
}
