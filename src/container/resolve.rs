//! Resolving the target of `container rm` to a full id and name: through the engine's
//! inspect, its list when the inspect hangs, an earlier run's reboot record, or the
//! processes that still carry the id.

use crate::engine::{Engine, EngineFailure, PsEntry, short_id};
use crate::error::{Error, InputError, Result};
use crate::host::Host;

use super::procs;
use super::record::RebootRecord;

/// The target, resolved.
pub(super) struct Resolved {
    pub(super) id: String,
    pub(super) name: String,
    /// The engine's inspect of it hung (it was found through `docker ps`).
    pub(super) inspect_hung: bool,
}

impl Resolved {
    fn new(id: String, name: String) -> Self {
        Resolved {
            id,
            name,
            inspect_hung: false,
        }
    }
}

/// Resolves the target to a full id and name; `None` when nothing of it exists.
pub(super) fn resolve(
    host: &Host,
    engine: &Engine,
    target: &str,
    record: Option<&RebootRecord>,
) -> Result<Option<Resolved>> {
    let out = engine.run(host, &engine.inspect_args(&[target]), engine.limits.command)?;
    match out.failure {
        None => {
            let info = crate::engine::parse_inspect(&out.output.stdout)?
                .into_iter()
                .next()
                .ok_or_else(|| Error::parse("docker container inspect output", "empty"))?;
            return Ok(Some(Resolved::new(info.id.clone(), info.name)));
        }
        Some(EngineFailure::NotFound) => {}
        // An engine stuck on this container may not answer an inspect of it; its list
        // still tells the id.
        Some(EngineFailure::Hung) => {
            let list = engine.list(host)?;
            match found_in_list(&list, target).as_slice() {
                [one] => {
                    log::warn!("container: {} hung; found it in docker ps", out.command);
                    return Ok(Some(Resolved {
                        id: one.id.clone(),
                        name: one.name().to_string(),
                        inspect_hung: true,
                    }));
                }
                [] => {}
                _ => return Err(out.to_error().into()),
            }
        }
        Some(EngineFailure::Other) if out.message().to_ascii_lowercase().contains("multiple") => {
            return Err(InputError::new(
                "container",
                target,
                out.message(),
                "a name or an id prefix that matches one container",
            )
            .into());
        }
        Some(_) => return Err(out.to_error().into()),
    }
    // The engine does not know it. Its processes or shim may still run: look for them by
    // id (a 12+ digit prefix), or by the id an earlier run recorded for this name.
    if let Some(r) = record {
        return Ok(Some(Resolved::new(r.id.clone(), r.name.clone())));
    }
    if target.len() >= 12 && target.bytes().all(|b| b.is_ascii_hexdigit()) {
        return resolve_by_processes(host, target);
    }
    Ok(None)
}

/// The containers of the engine's list the target names: by name, else by id prefix.
fn found_in_list<'a>(list: &'a [PsEntry], target: &str) -> Vec<&'a PsEntry> {
    let t = target.to_ascii_lowercase();
    let by_name: Vec<&PsEntry> = list
        .iter()
        .filter(|e| e.names.iter().any(|n| n == target))
        .collect();
    if by_name.is_empty() {
        list.iter().filter(|e| e.id.starts_with(&t)).collect()
    } else {
        by_name
    }
}

/// The one container whose processes carry an id starting with `target` (12+ hex
/// digits); `None` when no process does.
fn resolve_by_processes(host: &Host, target: &str) -> Result<Option<Resolved>> {
    let t = target.to_ascii_lowercase();
    let ids: Vec<String> = procs::scan(host)
        .ids()
        .into_iter()
        .filter(|id| id.starts_with(&t))
        .collect();
    match ids.as_slice() {
        [one] => Ok(Some(Resolved::new(one.clone(), short_id(one).to_string()))),
        [] => Ok(None),
        many => Err(InputError::new(
            "container",
            target,
            format!("the prefix matches {} containers' processes", many.len()),
            "a longer id prefix",
        )
        .into()),
    }
}
