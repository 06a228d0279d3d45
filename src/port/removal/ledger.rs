//! The removal ledger, `STATE_DIR/port-free-PROTO-PORT.json`: written atomically under
//! the host lock before the unit is stopped, read as every state file is, and never
//! acted on when it cannot be used (see the module documentation of [`super`]).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::RemovalPlan;
use crate::error::{Error, Refusal, Result};
use crate::host::Host;
use crate::package::PackageManager;
use crate::plan::{Policy, Runner};
use crate::state;

/// The removal ledger's format version.
const LEDGER_VERSION: u32 = 1;

fn ledger_version() -> u32 {
    LEDGER_VERSION
}

/// The ledger as stored: the plan, with its format version (files of the first release
/// have none: version 1).
#[derive(Debug, Serialize, Deserialize)]
struct StoredPlan {
    #[serde(default = "ledger_version")]
    version: u32,
    #[serde(flatten)]
    plan: RemovalPlan,
}

/// The port a removal ledger is kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key {
    /// The protocol.
    pub(crate) proto: crate::port::Proto,
    /// The port.
    pub(crate) port: u16,
}

fn ledger_name(spec: Key) -> String {
    format!("port-free-{}-{}.json", spec.proto, spec.port)
}

fn ledger_path(host: &Host, policy: &Policy, spec: Key) -> PathBuf {
    let dir = state::state_dir(&policy.state_dir).unwrap_or_else(|_| policy.state_dir.clone());
    host.path(dir.join(ledger_name(spec)))
}

/// Whether a package name is one a package manager could have given: letters, digits
/// and `.+_:@~-`, starting with a letter or digit (so it never reads as an option).
fn plausible_package(name: &str) -> bool {
    name.len() <= 256
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".+_:@~-".contains(c))
}

/// Parses a removal ledger's text (pure).
///
/// # Errors
/// What is wrong with it, in words.
pub fn parse_removal_ledger(text: &str) -> std::result::Result<RemovalPlan, String> {
    if text.trim().is_empty() {
        return Err("the file is empty (a write was cut short?)".into());
    }
    let stored: StoredPlan = serde_json::from_str(text)
        .map_err(|e| format!("not valid: {}", state::clip(&e.to_string())))?;
    if stored.version != LEDGER_VERSION {
        return Err(format!(
            "format version {} (this hostfix reads version {LEDGER_VERSION})",
            stored.version
        ));
    }
    let p = stored.plan;
    if p.packages.is_empty() {
        return Err("it names no package".into());
    }
    if let Some(bad) = p
        .packages
        .iter()
        .chain(&p.sources)
        .chain(&p.removes)
        .find(|n| !plausible_package(n))
    {
        return Err(format!("{:?} is not a package name", state::clip(bad)));
    }
    Ok(p)
}

pub(in crate::port) fn write_ledger(
    host: &Host,
    policy: &Policy,
    spec: Key,
    plan: &RemovalPlan,
) -> Result<()> {
    let dir = state::ensure_state_dir(host, &policy.state_dir, "")?;
    let stored = StoredPlan {
        version: LEDGER_VERSION,
        plan: plan.clone(),
    };
    let json = serde_json::to_vec_pretty(&stored)
        .map_err(|e| Error::parse("removal plan", e.to_string()))?;
    crate::fsutil::write_atomic(&dir.join(ledger_name(spec)), &json, Some(0o600))
}

/// Reads the removal ledger an earlier run left; `Ok(None)` when there is none.
///
/// # Errors
/// [`Refusal::StateFile`] naming the file and how to reset it when it cannot be used;
/// as [`state::read_state_file`] otherwise.
fn read_ledger(host: &Host, policy: &Policy, spec: Key) -> Result<Option<RemovalPlan>> {
    let Some(dir) = state::readable_state_dir(host, &policy.state_dir, "")? else {
        return Ok(None);
    };
    let p = dir.join(ledger_name(spec));
    let shown = host.host_path(&p);
    let reset = format!(
        "inspect it, then move it aside (hostfix then forgets the removal it planned for port \
         {}): mv {f} {f}.broken",
        spec.port,
        f = shown.display()
    );
    let Some(text) = state::read_state_file(host, &p, &reset)? else {
        return Ok(None);
    };
    parse_removal_ledger(&text).map(Some).map_err(|why| {
        Refusal::StateFile {
            path: shown,
            why: format!("the package-removal ledger is corrupt ({why})"),
            reset,
        }
        .into()
    })
}

pub(in crate::port) fn drop_ledger(host: &Host, policy: &Policy, spec: Key) {
    let p = ledger_path(host, policy, spec);
    if let Err(e) = state::remove_regular(&p) {
        log::warn!("port free: removing {}: {e}", p.display());
    }
}

/// The removal an earlier run planned and left in the ledger, when it can be used by a
/// run with this package manager. A ledger that cannot be used (or was planned for
/// another manager) is reported and never acted on.
pub(in crate::port) fn earlier_removal(
    run: &mut Runner<'_>,
    spec: Key,
    pm: &dyn PackageManager,
) -> Option<RemovalPlan> {
    let policy = run.policy().clone();
    match read_ledger(run.host(), &policy, spec) {
        Ok(Some(plan)) if plan.manager == pm.name() => Some(plan),
        Ok(Some(plan)) => {
            let shown = run
                .host()
                .host_path(&ledger_path(run.host(), &policy, spec));
            run.observe(
                "an earlier run's removal",
                format!(
                    "not resumed: {} was planned for {}, and this host uses {}; {}",
                    shown.display(),
                    state::clip(&plan.manager),
                    pm.name(),
                    state::move_aside_hint(&shown)
                ),
            );
            None
        }
        Ok(None) => None,
        Err(e) => {
            log::warn!("port free: {e}");
            run.observe("an earlier run's removal", format!("not resumed: {e}"));
            None
        }
    }
}
