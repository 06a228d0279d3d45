//! Does the host need a reboot? Every source, each with its own verdict, in one answer.
//!
//! Sources: `/run/reboot-required` (Debian and Ubuntu's flag, with the packages listed in
//! `/run/reboot-required.pkgs`), `needs-restarting -r` judged by its exit code (RHEL and
//! Fedora: 1 needed, 0 not), the running kernel against the newest installed one of its
//! flavour ([`super::kernel`]), and an optional caller condition: a shell command whose
//! exit status 0 means "reboot needed" (as cloud-init's `power_state.condition`). A source
//! that cannot tell says "unknown" and never counts as a reason.

use std::fmt;

use serde::Serialize;

use super::kernel::{self, KernelStatus};
use crate::host::{Cmd, Host};
use crate::program;

/// Where a verdict on the reboot need comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum NeedSource {
    /// `/run/reboot-required` (and `.pkgs`).
    RebootRequired,
    /// `needs-restarting -r`.
    NeedsRestarting,
    /// The running kernel against the installed ones.
    Kernel,
    /// The caller's condition (`--when COMMAND`).
    Caller,
}

impl NeedSource {
    /// The source's name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            NeedSource::RebootRequired => "reboot-required",
            NeedSource::NeedsRestarting => "needs-restarting",
            NeedSource::Kernel => "kernel",
            NeedSource::Caller => "caller",
        }
    }
}

/// One source's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum NeedVerdict {
    /// The source says a reboot is needed.
    Needed,
    /// The source says no reboot is needed.
    NotNeeded,
    /// The source exists but cannot tell (the detail says why).
    Unknown,
    /// The source does not exist on this host (no `needs-restarting`, no condition given).
    Absent,
}

impl NeedVerdict {
    /// The verdict as JSON spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            NeedVerdict::Needed => "needed",
            NeedVerdict::NotNeeded => "not-needed",
            NeedVerdict::Unknown => "unknown",
            NeedVerdict::Absent => "absent",
        }
    }
}

/// What one source said, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct NeedCheck {
    /// The source.
    pub source: NeedSource,
    /// Its verdict.
    pub verdict: NeedVerdict,
    /// The evidence, in words.
    pub detail: String,
}

/// A reason a reboot is needed, with its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "source", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum NeedReason {
    /// `/run/reboot-required` exists.
    RebootRequired {
        /// The packages listed in `/run/reboot-required.pkgs` (deduplicated, in order).
        packages: Vec<String>,
    },
    /// `needs-restarting -r` exited 1.
    NeedsRestarting {
        /// The packages it listed as updated since boot.
        packages: Vec<String>,
    },
    /// A newer kernel of the running one's flavour is installed.
    Kernel {
        /// The running release.
        running: String,
        /// The newest installed release.
        newest: String,
    },
    /// The caller's condition exited 0.
    Caller {
        /// The condition.
        command: String,
    },
}

impl fmt::Display for NeedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pkgs = |p: &[String]| {
            if p.is_empty() {
                String::new()
            } else {
                format!(" (packages: {})", p.join(", "))
            }
        };
        match self {
            NeedReason::RebootRequired { packages } => {
                write!(f, "/run/reboot-required exists{}", pkgs(packages))
            }
            NeedReason::NeedsRestarting { packages } => {
                write!(f, "needs-restarting -r exited 1{}", pkgs(packages))
            }
            NeedReason::Kernel { running, newest } => write!(
                f,
                "running kernel {running} is older than the installed {newest}"
            ),
            NeedReason::Caller { command } => write!(f, "condition `{command}` exited 0"),
        }
    }
}

/// The reboot need: every reason found, and every source's verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RebootNeed {
    /// Whether any source says a reboot is needed.
    pub needed: bool,
    /// Every reason found (empty when none).
    pub reasons: Vec<NeedReason>,
    /// Every source that was consulted, with its verdict.
    pub checks: Vec<NeedCheck>,
}

impl RebootNeed {
    /// The reasons in one line ("a; b"), or "no reason found".
    pub fn summary(&self) -> String {
        if self.reasons.is_empty() {
            "no reason found".into()
        } else {
            self.reasons
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        }
    }

    /// The verdict of one source, when it was consulted.
    pub fn check(&self, source: NeedSource) -> Option<&NeedCheck> {
        self.checks.iter().find(|c| c.source == source)
    }

    fn add(&mut self, check: NeedCheck, reason: Option<NeedReason>) {
        log::debug!(
            "reboot: need source {}: {}: {}",
            check.source.as_str(),
            check.verdict.as_str(),
            check.detail
        );
        if let Some(r) = reason {
            self.needed = true;
            self.reasons.push(r);
        }
        self.checks.push(check);
    }
}

/// The packages of `/run/reboot-required.pkgs`: one per line, blanks dropped, duplicates
/// removed, first order kept.
pub fn parse_reboot_required_pkgs(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !out.iter().any(|p| p == line) {
            out.push(line.to_string());
        }
    }
    out
}

/// The packages `needs-restarting -r` lists as updated since boot (its ` * NAME` lines).
pub fn parse_needs_restarting(stdout: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in stdout.lines() {
        if let Some(p) = line.trim().strip_prefix("* ") {
            let p = p.trim();
            if !p.is_empty() && !out.iter().any(|x| x == p) {
                out.push(p.to_string());
            }
        }
    }
    out
}

/// Checks every source and gathers the reasons.
///
/// `condition` is the caller's shell command (`sh -c`), whose exit 0 means "needed".
/// Never fails: a source that cannot be read says "unknown" with the cause.
pub fn detect_need(host: &Host, condition: Option<&str>) -> RebootNeed {
    let mut need = RebootNeed::default();
    let (c, r) = check_reboot_required(host);
    need.add(c, r);
    let (c, r) = check_needs_restarting(host);
    need.add(c, r);
    let (c, r) = check_kernel(host);
    need.add(c, r);
    if let Some(cmd) = condition {
        let (c, r) = check_condition(host, cmd);
        need.add(c, r);
    }
    need
}

fn check(source: NeedSource, verdict: NeedVerdict, detail: impl Into<String>) -> NeedCheck {
    NeedCheck {
        source,
        verdict,
        detail: detail.into(),
    }
}

/// `/run/reboot-required` and its `.pkgs`.
pub fn check_reboot_required(host: &Host) -> (NeedCheck, Option<NeedReason>) {
    let src = NeedSource::RebootRequired;
    let flag = host.path("/run/reboot-required");
    match std::fs::symlink_metadata(&flag) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return (
                check(src, NeedVerdict::NotNeeded, "/run/reboot-required absent"),
                None,
            );
        }
        Err(e) => {
            return (
                check(
                    src,
                    NeedVerdict::Unknown,
                    format!("/run/reboot-required: {e}"),
                ),
                None,
            );
        }
    }
    let (packages, note) = match host.read_opt("/run/reboot-required.pkgs") {
        Ok(Some(t)) => (parse_reboot_required_pkgs(&t), String::new()),
        Ok(None) => (Vec::new(), String::new()),
        Err(e) => (Vec::new(), format!(" ({e})")),
    };
    let detail = if packages.is_empty() {
        format!("/run/reboot-required exists{note}")
    } else {
        format!(
            "/run/reboot-required exists; /run/reboot-required.pkgs lists {}",
            packages.join(", ")
        )
    };
    (
        check(src, NeedVerdict::Needed, detail),
        Some(NeedReason::RebootRequired { packages }),
    )
}

/// `needs-restarting -r`, when installed: exit 1 needed, 0 not needed, anything else
/// unknown.
pub fn check_needs_restarting(host: &Host) -> (NeedCheck, Option<NeedReason>) {
    let src = NeedSource::NeedsRestarting;
    // Run and reported by its host path (`/usr/bin/needs-restarting -r`).
    let Some(program) = program::find(host.root(), "needs-restarting").map(|p| p.host_name())
    else {
        return (
            check(
                src,
                NeedVerdict::Absent,
                "needs-restarting is not installed",
            ),
            None,
        );
    };
    let cmd = Cmd::new(program.clone(), ["-r"]);
    match host.system().run(&cmd) {
        Ok(out) => match out.status {
            Some(1) => {
                let packages = parse_needs_restarting(&out.stdout);
                let detail = if packages.is_empty() {
                    format!("{} exited 1", cmd.display())
                } else {
                    format!(
                        "{} exited 1; updated since boot: {}",
                        cmd.display(),
                        packages.join(", ")
                    )
                };
                (
                    check(src, NeedVerdict::Needed, detail),
                    Some(NeedReason::NeedsRestarting { packages }),
                )
            }
            Some(0) => (
                check(
                    src,
                    NeedVerdict::NotNeeded,
                    format!("{} exited 0", cmd.display()),
                ),
                None,
            ),
            _ => (
                check(src, NeedVerdict::Unknown, out.to_error(&cmd).to_string()),
                None,
            ),
        },
        Err(e) => (check(src, NeedVerdict::Unknown, e.to_string()), None),
    }
}

/// The running kernel against the newest installed one of its flavour.
pub fn check_kernel(host: &Host) -> (NeedCheck, Option<NeedReason>) {
    let src = NeedSource::Kernel;
    match kernel::read_kernel_status(host) {
        KernelStatus::Current { running } => (
            check(
                src,
                NeedVerdict::NotNeeded,
                format!("running {running}, the newest installed of its flavour"),
            ),
            None,
        ),
        KernelStatus::Newer { running, newest } => (
            check(
                src,
                NeedVerdict::Needed,
                format!("running {running}, installed {newest}"),
            ),
            Some(NeedReason::Kernel { running, newest }),
        ),
        KernelStatus::Unknown { why, .. } => (check(src, NeedVerdict::Unknown, why), None),
    }
}

/// The caller's condition, run with `sh -c`: exit 0 needed; another exit status not
/// needed; 126 or 127 (cannot run, not found), a signal or a failure to start: unknown.
pub fn check_condition(host: &Host, command: &str) -> (NeedCheck, Option<NeedReason>) {
    let src = NeedSource::Caller;
    let cmd = Cmd::new("sh", ["-c", command]);
    match host.system().run(&cmd) {
        Ok(out) => match out.status {
            Some(0) => (
                check(src, NeedVerdict::Needed, format!("`{command}` exited 0")),
                Some(NeedReason::Caller {
                    command: command.to_string(),
                }),
            ),
            Some(126) | Some(127) | None => (
                check(
                    src,
                    NeedVerdict::Unknown,
                    format!("`{command}` could not run: {}", out.to_error(&cmd)),
                ),
                None,
            ),
            Some(n) => (
                check(
                    src,
                    NeedVerdict::NotNeeded,
                    format!("`{command}` exited {n}"),
                ),
                None,
            ),
        },
        Err(e) => (check(src, NeedVerdict::Unknown, e.to_string()), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkgs_are_deduplicated_in_order() {
        assert_eq!(
            parse_reboot_required_pkgs("linux-image-6.1.0-20-cloud-amd64\nlibc6\n\nlibc6\n"),
            vec!["linux-image-6.1.0-20-cloud-amd64", "libc6"]
        );
        assert!(parse_reboot_required_pkgs("").is_empty());
    }

    #[test]
    fn needs_restarting_output() {
        let out = "Core libraries or services have been updated since boot-up:\n  * kernel\n  \
                   * systemd\n\nReboot is required to fully utilize these updates.\nMore \
                   information: https://access.redhat.com/solutions/27943\n";
        assert_eq!(parse_needs_restarting(out), vec!["kernel", "systemd"]);
        assert!(
            parse_needs_restarting("No core libraries or services have been updated.\n").is_empty()
        );
    }
}
