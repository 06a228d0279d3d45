//! The thin I/O: the scripts of `/etc/init.d` with their pidfiles, where a service starts
//! at boot, which stop program the host offers.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::map::{
    InitScript, InitService, StopTool, disable_commands, needs_packages, stop_command, tie_owners,
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
        .filter_map(|f| Some((f.clone(), pidfile_pid(host, &name, f)?)))
        .collect();
    InitScript {
        name,
        vars,
        daemons_real,
        pids,
        package: None,
    }
}

/// The pid a script's pidfile names, when the file can be trusted to name it: a regular
/// file (no link followed, a FIFO never blocked on, at most [`MAX_PIDFILE`] bytes) owned
/// by root or by the process it names. A pidfile in a directory its service's user can
/// write could otherwise name any process (tying it to that script) or hang the read.
fn pidfile_pid(host: &Host, script: &str, file: &str) -> Option<i32> {
    let (text, owner) = match fsutil::read_small_untrusted(&host.path(file), MAX_PIDFILE) {
        Ok(Some(read)) => read,
        Ok(None) => return None,
        Err(e) => {
            log::info!("port: /etc/init.d/{script}: pidfile {file} not read: {e}");
            return None;
        }
    };
    let pid = parse_pidfile(&text)?;
    let runs_as = std::fs::metadata(host.path(format!("/proc/{pid}")))
        .ok()
        .map(|m| m.uid());
    if pidfile_trusted(owner, runs_as) {
        Some(pid)
    } else {
        log::info!(
            "port: /etc/init.d/{script}: pidfile {file} (owner uid {owner}) names pid {pid} \
             of another user: not trusted"
        );
        None
    }
}

/// Whether a pidfile owned by `owner` may name a process running as `runs_as`: root's
/// pidfiles name anything; another user's only that user's processes.
fn pidfile_trusted(owner: u32, runs_as: Option<u32>) -> bool {
    owner == 0 || runs_as == Some(owner)
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

#[cfg(test)]
mod tests {
    use super::pidfile_trusted;

    #[test]
    fn a_pidfile_names_only_its_owners_processes_unless_root_owns_it() {
        assert!(pidfile_trusted(0, Some(33)));
        assert!(pidfile_trusted(0, None));
        assert!(pidfile_trusted(104, Some(104)));
        assert!(
            !pidfile_trusted(104, Some(0)),
            "postgres's pidfile naming root's nginx"
        );
        assert!(
            !pidfile_trusted(104, None),
            "a process that is gone or unreadable"
        );
    }
}
