//! `doctor --fix`: the findings' fixes applied within the cap, least risky first, each
//! through its operation and its guards, the host diagnosed again after each.

use std::fmt;

use serde::Serialize;

use super::plan::{self, Candidate, Next};
use super::{DoctorOptions, diagnose};
use crate::error::{ContainerError, Error, Refusal};
use crate::finding::{Diagnosis, Fix, FixOp, Severity};
use crate::fix::{Applied, Consent};
use crate::host::Host;
use crate::plan::{Outcome, Policy, Report, Risk, Step, StepStatus};

/// At most this many fixes in one run (each fix runs once; a diagnosis that keeps
/// naming new ones stops here).
const MAX_FIXES: usize = 32;

/// One fix `doctor --fix` took (or planned), with what its operation reported.
#[derive(Debug, Serialize)]
#[non_exhaustive]
pub struct FixRun {
    /// The fix and its finding.
    #[serde(flatten)]
    pub fix: Candidate,
    /// The operation's report (its own steps, outcome and result).
    pub report: Report<Applied>,
}

/// What `doctor --fix` found, did, and found after.
#[derive(Debug, Default, Serialize)]
#[non_exhaustive]
pub struct Repair {
    /// The diagnosis before any fix.
    pub before: Diagnosis,
    /// The fixes taken (planned, in a dry run), in order.
    pub fixes: Vec<FixRun>,
    /// The diagnosis after the last fix (`None` in a dry run, where nothing changed, and
    /// after a fix that started a reboot).
    pub after: Option<Diagnosis>,
    /// The fix the cap stopped at, when one did.
    pub next: Option<Candidate>,
    /// Whether there was nothing to fix within the cap and nothing above it.
    pub nothing_to_fix: bool,
}

/// The status of a fix's step, from its operation's report.
fn status_of(r: &Report<Applied>) -> StepStatus {
    match (r.outcome(), r.dry_run) {
        (Outcome::Ok, true) => StepStatus::Planned,
        (Outcome::Ok, false) => StepStatus::Done,
        (Outcome::Refused, _) => StepStatus::Refused,
        _ => StepStatus::Failed,
    }
}

fn step_of(c: &Candidate, status: StepStatus, detail: String) -> Step {
    Step {
        action: c.fix.command.clone(),
        risk: c.fix.risk,
        status,
        reason: c.finding.clone(),
        detail,
        needs_root: false,
    }
}

/// Whether a fix's operation started a reboot: the reboot fix requested one, or the
/// container ladder took its reboot rung (its error says the removal waits for the boot).
/// The run ends there, without diagnosing a host that is shutting down; the run after the
/// boot goes on.
fn reboot_underway(applied: &Applied, error: Option<&Error>) -> bool {
    matches!(applied, Applied::Reboot(r) if r.requested)
        || matches!(
            error,
            Some(Error::Container(ContainerError::RebootPending { .. }))
        )
}

/// The run's state between fixes.
struct Walk<'a> {
    host: &'a Host,
    opts: &'a DoctorOptions,
    consent: &'a Consent,
    policy: &'a Policy,
    current: Diagnosis,
    expected: Vec<Candidate>,
    taken: Vec<FixOp>,
    steps: Vec<Step>,
    out: Repair,
    /// A fix started a reboot: the host is not diagnosed again.
    rebooting: bool,
}

impl Walk<'_> {
    /// Applies one fix; `Err` stops the run with the operation's error, `Ok(false)` when
    /// the run ends here without one (a reboot underway).
    fn apply(&mut self, c: Candidate) -> Result<bool, Error> {
        let mut report = self.as_planned(&c.fix).apply(self.host, self.policy);
        self.taken.push(c.fix.op.clone());
        let status = status_of(&report);
        let detail = match &report.error {
            Some(e) => e.to_string(),
            None if report.dry_run => "planned".into(),
            None if report.changed => "changed".into(),
            None => "nothing to change".into(),
        };
        self.steps.push(step_of(&c, status, detail));
        let error = report.error.take();
        let rebooting = reboot_underway(&report.result, error.as_ref());
        if self.policy.dry_run {
            self.expected
                .extend(plan::follow_ups(&self.current, &c.fix));
        }
        self.out.fixes.push(FixRun { fix: c, report });
        // The host as it is now, for the next fix or for the findings after.
        if !self.policy.dry_run && !rebooting {
            self.current = diagnose(self.host, self.opts, self.policy).result;
        }
        self.rebooting |= rebooting;
        match error {
            Some(e) => Err(e),
            None => Ok(!rebooting),
        }
    }

    /// The fix as a dry run applies it: a start does not check the ports a fix planned
    /// before it frees (in a dry run they are still held).
    fn as_planned(&self, fix: &Fix) -> Fix {
        let FixOp::StartContainer {
            id,
            name,
            ports,
            engine,
        } = &fix.op
        else {
            return fix.clone();
        };
        if !self.policy.dry_run {
            return fix.clone();
        }
        let freed: Vec<u16> = self
            .taken
            .iter()
            .filter_map(|op| match op {
                FixOp::FreePort { port, .. } => Some(*port),
                _ => None,
            })
            .collect();
        let op = FixOp::StartContainer {
            id: id.clone(),
            name: name.clone(),
            ports: ports
                .iter()
                .copied()
                .filter(|p| !freed.contains(p))
                .collect(),
            engine: *engine,
        };
        Fix::new(op, fix.risk)
    }

    /// Stops the run at fix `c` with `refusal`: its step refused, it named as the next fix.
    fn stop_at(&mut self, c: Candidate, refusal: Refusal) -> Error {
        self.steps
            .push(step_of(&c, StepStatus::Refused, refusal.to_string()));
        log::warn!("doctor --fix: next fix {refusal}");
        self.out.next = Some(c);
        refusal.into()
    }

    /// Runs fixes until none is left, the cap stops the run, or a fix fails.
    fn run(&mut self) -> Option<Error> {
        let cap = self.policy.max_risk;
        for _ in 0..MAX_FIXES {
            match plan::next_fix(
                &self.current,
                &self.expected,
                cap,
                self.consent,
                &self.taken,
            ) {
                Next::Done => return None,
                Next::AboveCap(c) => {
                    let refusal = Refusal::RiskAboveCap {
                        action: c.fix.command.clone(),
                        needed: c.fix.risk,
                        cap,
                    };
                    return Some(self.stop_at(c, refusal));
                }
                Next::NeedsConsent(c) => {
                    let refusal = Refusal::NeedsConsent {
                        action: c.fix.command.clone(),
                        consent: "--remove-package".into(),
                    };
                    return Some(self.stop_at(c, refusal));
                }
                Next::Apply(c) => match self.apply(c) {
                    Ok(true) => {}
                    Ok(false) => return None,
                    Err(e) => return Some(e),
                },
            }
        }
        log::warn!("doctor --fix: stopped after {MAX_FIXES} fixes");
        None
    }
}

/// Applies the fixes the diagnosis names that fit `policy.max_risk`, least risky first,
/// each through its operation and its own guards ([`Fix::apply`](crate::doctor::Fix::apply)),
/// diagnosing the host again after each (a fix can make others appear or go: a container
/// kept from its port is started once the port is free, and doctor's request shows who
/// answers then). Stops at the first fix above the cap with
/// [`Refusal::RiskAboveCap`] naming it (exit 3), or at a fix that does not hold. A fix
/// runs once per run; under `dry_run` each is planned and the whole sequence shown
/// (with the starts a freed port allows). A package is removed only with
/// [`Consent::remove_package`] and a cap of at least `destructive`.
///
/// # Example
///
/// ```
/// use hostfix::doctor::{fix, Consent, DoctorOptions};
/// use hostfix::testing::FakeRoot;
/// use hostfix::{Policy, Risk};
///
/// let root = FakeRoot::for_swap();
/// root.meminfo(1 << 30, 50 << 20);
/// let (host, _) = root.host();
/// let mut opts = DoctorOptions::default();
/// opts.ports.clear();
/// opts.state_dir = "/state".into();
/// let policy = Policy::new(opts.fix_cap()).dry_run(true).state_dir("/state");
/// let report = fix(&host, &opts, &Consent::default(), &policy);
/// assert!(report.is_ok(), "{report}");
/// assert_eq!(report.result.fixes[0].fix.fix.command, "hostfix swap ensure --size auto");
/// assert!(!root.join("/swapfile").exists());
/// ```
pub fn fix(
    host: &Host,
    opts: &DoctorOptions,
    consent: &Consent,
    policy: &Policy,
) -> Report<Repair> {
    let before = diagnose(host, opts, policy).result;
    let mut w = Walk {
        host,
        opts,
        consent,
        policy,
        current: before.clone(),
        expected: Vec::new(),
        taken: Vec::new(),
        steps: Vec::new(),
        out: Repair::default(),
        rebooting: false,
    };
    let error = w.run();
    let mut out = w.out;
    out.nothing_to_fix = out.fixes.is_empty() && out.next.is_none();
    out.before = before;
    // After a fix that started a reboot there is no "after" in this boot: the run after
    // the boot diagnoses the host as it comes up.
    if !policy.dry_run && !w.rebooting {
        out.after = Some(w.current);
    }
    Report {
        operation: "doctor --fix".into(),
        changed: out.fixes.iter().any(|f| f.report.changed),
        dry_run: policy.dry_run,
        max_risk: policy.max_risk,
        steps: w.steps,
        error,
        result: out,
    }
}

/// The findings worth a line: the ones with a fix, and every warning or problem.
fn outline(f: &mut fmt::Formatter<'_>, d: &Diagnosis) -> fmt::Result {
    let mut any = false;
    for x in &d.findings {
        if x.fix.is_none() && x.severity < Severity::Warning {
            continue;
        }
        any = true;
        write!(f, "  [{}] {}: {}", x.severity, x.area, x.title)?;
        match &x.fix {
            Some(fix) => writeln!(f, "  (fix: {}, risk {})", fix.command, fix.risk)?,
            None => writeln!(f)?,
        }
    }
    if !any {
        writeln!(f, "  no finding to fix")?;
    }
    Ok(())
}

/// The human rendering (`hostfix doctor --fix`): the findings before, each fix with its
/// operation's summary, the findings after, and the fix the cap stopped at.
impl fmt::Display for Repair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "before:")?;
        outline(f, &self.before)?;
        if self.nothing_to_fix {
            return writeln!(f, "nothing to fix");
        }
        for (i, x) in self.fixes.iter().enumerate() {
            writeln!(
                f,
                "fix {}: {} (risk {})",
                i + 1,
                x.fix.fix.command,
                x.fix.fix.risk
            )?;
            for line in x.report.to_string().lines() {
                writeln!(f, "  {line}")?;
            }
        }
        if let Some(after) = &self.after {
            writeln!(f, "after:")?;
            outline(f, after)?;
        }
        if let Some(n) = &self.next {
            writeln!(
                f,
                "next fix: {} needs --max-risk {} ({})",
                n.fix.command, n.fix.risk, n.finding
            )?;
        }
        Ok(())
    }
}

impl DoctorOptions {
    /// The risk cap `hostfix doctor --fix` runs under unless `--max-risk` says otherwise:
    /// [`Risk::Additive`] (make swap, start a container kept from its port). Consent to
    /// remove a package ([`Consent::remove_package`]) does not raise it: removal needs
    /// `--max-risk destructive` as well.
    pub fn fix_cap(&self) -> Risk {
        Risk::Additive
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ladder_s_reboot_rung_ends_the_run_as_a_reboot_does() {
        let pending: Error = ContainerError::RebootPending {
            name: "stuck-d".into(),
        }
        .into();
        assert!(reboot_underway(&Applied::Nothing, Some(&pending)));
        let exhausted: Error = ContainerError::Exhausted {
            name: "stuck-d".into(),
        }
        .into();
        assert!(!reboot_underway(&Applied::Nothing, Some(&exhausted)));
        assert!(!reboot_underway(&Applied::Nothing, None));
    }
}
