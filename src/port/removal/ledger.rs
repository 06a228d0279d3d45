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

/// The key a ledger's file name is for (`port-free-tcp-80.json`), if it is one.
fn parse_ledger_name(name: &str) -> Option<Key> {
    let (proto, port) = name
        .strip_prefix("port-free-")?
        .strip_suffix(".json")?
        .split_once('-')?;
    let proto = match proto {
        "tcp" => crate::port::Proto::Tcp,
        "udp" => crate::port::Proto::Udp,
        _ => return None,
    };
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    (ledger_name(Key { proto, port }) == name).then_some(Key { proto, port })
}

/// Every removal ledger in the state directory that can be used, with its port. One
/// that cannot be used is logged and left out: it vouches for nothing.
///
/// # Errors
/// As [`state::readable_state_dir`], and [`Error::Io`] when it cannot be listed.
pub(crate) fn recorded_removals(
    host: &Host,
    state_dir: &std::path::Path,
) -> Result<Vec<(Key, RemovalPlan)>> {
    let Some(dir) = state::readable_state_dir(host, state_dir, "")? else {
        return Ok(Vec::new());
    };
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("listing", host.host_path(&dir), e)),
    };
    let mut names: Vec<(Key, String)> = rd
        .filter_map(|e| {
            let n = e.ok()?.file_name().into_string().ok()?;
            Some((parse_ledger_name(&n)?, n))
        })
        .collect();
    names.sort_by_key(|(k, _)| (k.proto.as_str(), k.port));
    let mut out = Vec::new();
    for (key, name) in names {
        let p = dir.join(&name);
        let read = state::read_state_file(host, &p, &state::move_aside_hint(&host.host_path(&p)))
            .and_then(|t| {
                t.map(|t| parse_removal_ledger(&t))
                    .transpose()
                    .map_err(|why| Error::parse(name.clone(), why))
            });
        match read {
            Ok(Some(plan)) => out.push((key, plan)),
            Ok(None) => {}
            Err(e) => log::warn!("removal ledger {name}: not used: {e}"),
        }
    }
    Ok(out)
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
