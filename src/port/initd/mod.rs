//! Services of hosts without systemd: the init scripts of `/etc/init.d` (sysvinit's, and
//! OpenRC's `openrc-run` scripts) that run the processes holding a port.
//!
//! A process is tied to a script only for certain: the script's pidfile names it (or its
//! parent, an nginx master for its workers), or the script's `DAEMON`/`command` is its
//! executable; failing both, the one script of its package. A process a script only
//! resembles (its name, its executable's file name) refuses the whole `port free`
//! ([`crate::error::Refusal::UncertainService`]): stopping the wrong service, or
//! signalling a process its service starts again at boot, is worse than asking. A process
//! no script resembles is a bare process, left to the signal rungs.
//!
//! A tied service is disabled first (`update-rc.d NAME disable`; OpenRC: `rc-update del
//! NAME RUNLEVEL`), then stopped (`service NAME stop`, `invoke-rc.d NAME stop` or the
//! script; OpenRC: `rc-service NAME stop`), so a crash between the two leaves it disabled
//! and the next run stops it. What hostfix disabled is recorded ([`record`]); a service
//! already disabled is left as found and not claimed.
//!
//! Split: `parse` (pure parsers), `map` (the pure tie and the commands), `read` (the I/O),
//! `record` (the record of disabled services).

mod map;
mod parse;
mod read;
pub(crate) mod record;

use std::path::Path;
use std::time::Duration;

pub use map::InitService;
#[cfg_attr(not(feature = "testing"), allow(unused_imports))] // used by hostfix::testing
pub use map::{
    InitScript, Pidfile, StopTool, Tie, disable_commands, needs_packages, stop_command, tie_owners,
};
#[cfg_attr(not(feature = "testing"), allow(unused_imports))] // used by hostfix::testing
pub use parse::{ScriptVars, is_service_name, is_start_link, parse_pidfile, parse_script};
pub(crate) use read::services_of;

use super::free::FreeSpec;
use crate::error::Result;
use crate::host::Host;

/// Disables then stops each service, recording what hostfix disabled; the port is then
/// waited for (`wait` says whether it binds within 2 s).
///
/// # Errors
/// A command that fails (its exit status and stderr kept), or a record that cannot be
/// read or written: nothing after it is done.
pub(crate) fn stop_services(
    host: &Host,
    spec: &FreeSpec,
    state_dir: &Path,
    services: &[InitService],
    wait: &dyn Fn(&Host, &FreeSpec, Duration) -> Result<bool>,
) -> Result<String> {
    let mut notes = Vec::new();
    for s in services {
        if s.disable.is_empty() {
            notes.push(format!(
                "{}: already disabled at boot, left as found",
                s.name
            ));
        } else {
            // The record must be usable before the host changes.
            record::read(host, state_dir)?;
            for c in &s.disable {
                host.run_ok(c)?;
            }
            let entry = record::DisabledService {
                name: s.name.clone(),
                init: s.init.as_str().to_string(),
                enabled_in: s.enabled_in.clone(),
                port: format!("{}/{}", spec.port, spec.proto),
                command: s.disable.iter().map(|c| c.display()).collect(),
                at: crate::reboot::ledger::unix_secs(host.system().now()),
            };
            record::add(host, state_dir, entry)?;
            notes.push(format!(
                "{}: disabled (started in runlevels {} before; recorded)",
                s.name,
                s.enabled_in.join(" ")
            ));
        }
        host.run_ok(&s.stop)?;
        notes.push(format!("{}: stopped ({})", s.name, s.stop.display()));
    }
    let ok = wait(host, spec, Duration::from_secs(2))?;
    notes.push(if ok { "port free" } else { "port still held" }.into());
    Ok(notes.join("; "))
}
