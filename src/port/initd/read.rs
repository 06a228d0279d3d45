//! The thin I/O: the scripts of `/etc/init.d` with their pidfiles, where a service starts
//! at boot, which stop program the host offers.

use std::path::Path;

use super::map::{
    InitScript, InitService, Pidfile, StopTool, disable_commands, needs_packages, stop_command,
    tie_owners,
};
use super::parse::{is_service_name, is_start_link, parse_pidfile, parse_script};
use crate::error::Refusal;
use crate::fsutil;
use crate::host::{Host, InitSystem};
use crate::package::{self, PackageManager};
use crate::port::owner::PortOwner;
use crate::program;

/// At most this many scripts are read (a directory of thousands is not a host's).
const MAX_SCRIPTS: usize = 1000;
/// A script longer than this is not read (256 KiB).
const MAX_SCRIPT: u64 = 256 * 1024;
/// A pidfile longer than this is not read.
const MAX_PIDFILE: u64 = 4096;

/// The sysvinit runlevels `update-rc.d NAME disable` acts on.
const SYSV_RUNLEVELS: [&str; 4] = ["2", "3", "4", "5"];

/// The services of `/etc/init.d` that run the owners, with how to stop and disable each.
///
/// # Errors
/// [`Refusal::UncertainService`] when an owner cannot be tied to one script for certain.
pub(crate) fn services_of(
    host: &Host,
    init: InitSystem,
    owners: &[PortOwner],
) -> Result<Vec<InitService>, Refusal> {
    let mut scripts = read_scripts(host);
    if needs_packages(owners, &scripts) {
        add_packages(host, &mut scripts);
    }
    let ties = tie_owners(owners, &scripts)?;
    let tool = stop_tool(host, init);
    Ok(ties
        .into_iter()
        .map(|t| {
            let enabled_in = enabled_in(host, init, &t.name);
            let disable = disable_commands(init, &t.name, &enabled_in);
            let stop = stop_command(tool, &t.name);
            let commands = disable.iter().chain([&stop]).map(|c| c.display()).collect();
            InitService {
                name: t.name,
                init,
                pids: t.pids,
                evidence: t.evidence,
                enabled_in,
                commands,
                disable,
                stop,
            }
        })
        .collect())
}

/// The scripts of `/etc/init.d`, by name, each with its pidfiles' pids; what cannot be
/// read is logged and left out.
fn read_scripts(host: &Host) -> Vec<InitScript> {
    let dir = host.path("/etc/init.d");
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) => {
            log::info!("port: /etc/init.d: {e}");
            return Vec::new();
        }
    };
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| is_service_name(n))
        .collect();
    names.sort();
    names.truncate(MAX_SCRIPTS);
    names
        .into_iter()
        .filter_map(|name| {
            let p = dir.join(&name);
            let meta = std::fs::metadata(&p).ok().filter(|m| m.is_file())?;
            if meta.len() > MAX_SCRIPT {
                log::info!("port: /etc/init.d/{name}: over {MAX_SCRIPT} bytes, not read");
                return None;
            }
            let text = std::fs::read(&p).ok()?;
            let vars = parse_script(&String::from_utf8_lossy(&text));
            Some(script_facts(host, name, vars))
        })
        .collect()
}

fn script_facts(host: &Host, name: String, vars: super::parse::ScriptVars) -> InitScript {
    let daemons_real = vars
        .daemons
        .iter()
        .filter_map(|d| {
            let real = std::fs::canonicalize(host.path(d)).ok()?;
            let shown = host.host_path(&real);
            shown.to_str().map(String::from).filter(|s| s != d)
        })
        .collect();
    let pids = vars
        .pidfiles
        .iter()
        .filter_map(|f| read_pidfile(host, &name, f))
        .collect();
    InitScript {
        name,
        vars,
        daemons_real,
        pids,
        package: None,
    }
}

/// A script's pidfile, read as a file someone other than root may write: no link
/// followed, a FIFO never blocked on, at most [`MAX_PIDFILE`] bytes; with its owner, so
/// that the tie trusts it only for its owner's processes (see `map::strong_ties`).
fn read_pidfile(host: &Host, script: &str, file: &str) -> Option<Pidfile> {
    match fsutil::read_small_untrusted(&host.path(file), MAX_PIDFILE) {
        Ok(Some((text, owner))) => Some(Pidfile {
            path: file.to_string(),
            pid: parse_pidfile(&text)?,
            owner,
        }),
        Ok(None) => None,
        Err(e) => {
            log::info!("port: /etc/init.d/{script}: pidfile {file} not read: {e}");
            None
        }
    }
}

/// Fills in the package (and source package) of each script; a lookup that fails leaves
/// it unknown.
fn add_packages(host: &Host, scripts: &mut [InitScript]) {
    let pm: Box<dyn PackageManager> = match package::detect(host) {
        Ok(pm) => pm,
        Err(e) => {
            log::info!("port: no package manager for the init scripts: {e}");
            return;
        }
    };
    for s in scripts.iter_mut() {
        let path = Path::new("/etc/init.d").join(&s.name);
        if let Some(info) = crate::port::owner::lookup_package(host, pm.as_ref(), &path) {
            s.package = Some((info.name, info.source));
        }
    }
}

/// Where a service starts at boot: the sysvinit runlevels (2-5) with its start link, or
/// the OpenRC runlevels (`/etc/runlevels/*`) that list it.
fn enabled_in(host: &Host, init: InitSystem, name: &str) -> Vec<String> {
    match init {
        InitSystem::OpenRc => {
            let mut levels: Vec<String> = list(host, "/etc/runlevels")
                .into_iter()
                .filter(|rl| {
                    host.path(format!("/etc/runlevels/{rl}/{name}"))
                        .symlink_metadata()
                        .is_ok()
                })
                .collect();
            levels.sort();
            levels
        }
        _ => SYSV_RUNLEVELS
            .iter()
            .filter(|rl| {
                list(host, &format!("/etc/rc{rl}.d"))
                    .iter()
                    .any(|e| is_start_link(e, name))
            })
            .map(|rl| rl.to_string())
            .collect(),
    }
}

fn list(host: &Host, dir: &str) -> Vec<String> {
    match std::fs::read_dir(host.path(dir)) {
        Ok(rd) => rd
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The program that stops a service on this host: `service`, then `invoke-rc.d`, then
/// the script itself (sysvinit); `rc-service`, then the script (OpenRC).
fn stop_tool(host: &Host, init: InitSystem) -> StopTool {
    let has = |p: &str| program::find(host.root(), p).is_some();
    match init {
        InitSystem::OpenRc if has("rc-service") => StopTool::RcService,
        InitSystem::OpenRc => StopTool::Script,
        _ if has("service") => StopTool::Service,
        _ if has("invoke-rc.d") => StopTool::InvokeRcd,
        _ => StopTool::Script,
    }
}
