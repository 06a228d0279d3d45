//! Ties the processes holding a port to the init scripts that run them (pure), and the
//! commands that stop and disable a script's service.

use serde::Serialize;

use super::parse::ScriptVars;
use crate::error::Refusal;
use crate::host::{Cmd, InitSystem};
use crate::port::owner::{OwnerKind, PortOwner};

/// An init script as read from `/etc/init.d`, with what ties it to a process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitScript {
    /// Its file name (`nginx`).
    pub name: String,
    /// What its text says.
    pub vars: ScriptVars,
    /// Its `DAEMON` paths as they resolve on the host (`/sbin/x` → `/usr/sbin/x` on a
    /// usr-merged root), beside the ones written.
    pub daemons_real: Vec<String>,
    /// What its pidfiles say (the ones that exist, are regular files and name a pid).
    pub pids: Vec<Pidfile>,
    /// The package that owns the script and that package's source package, when looked
    /// up (only for an owner nothing else ties).
    pub package: Option<(String, String)>,
}

/// A script's pidfile as read: where it is, the pid it names and who owns the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pidfile {
    /// Its path (`/run/nginx.pid`).
    pub path: String,
    /// The pid it names.
    pub pid: i32,
    /// The file's owner (uid).
    pub owner: u32,
}

/// A service hostfix stops and disables: an init script tied to processes holding the
/// port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct InitService {
    /// The service (the script's name, `nginx`).
    pub name: String,
    /// The init system that runs it.
    pub init: InitSystem,
    /// The pids holding the port it runs.
    pub pids: Vec<i32>,
    /// What ties them to it (`pidfile /run/nginx.pid names pid 812`).
    pub evidence: Vec<String>,
    /// Where it starts at boot: sysvinit runlevels with a start link, OpenRC runlevels
    /// that list it (empty: it does not start at boot).
    pub enabled_in: Vec<String>,
    /// The commands that disable it (none when it is already disabled), then the one that
    /// stops it.
    pub commands: Vec<String>,
    /// The commands that disable it.
    #[serde(skip)]
    pub(crate) disable: Vec<Cmd>,
    /// The command that stops it.
    #[serde(skip)]
    pub(crate) stop: Cmd,
}

/// How a service is stopped: the programs the host offers, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopTool {
    /// `service NAME stop` (runs the script with a clean environment).
    Service,
    /// `invoke-rc.d NAME stop` (Debian's policy layer).
    InvokeRcd,
    /// `rc-service NAME stop` (OpenRC).
    RcService,
    /// `/etc/init.d/NAME stop`.
    Script,
}

/// Whether a pidfile owned by `owner` may name a process running as `runs_as`: root's
/// pidfiles name anything; another user's only that user's processes (a pidfile in a
/// directory its service's user can write could otherwise tie any process to the script).
fn pidfile_trusted(owner: u32, runs_as: Option<u32>) -> bool {
    owner == 0 || runs_as == Some(owner)
}

/// What ties an owner to a script, in words; empty when nothing does. `uid_of` gives the
/// effective uid of another owner (the parent a pidfile names).
fn strong_ties(o: &PortOwner, s: &InitScript, uid_of: &dyn Fn(i32) -> Option<u32>) -> Vec<String> {
    let mut why = Vec::new();
    for f in &s.pids {
        let (pid, file) = (f.pid, &f.path);
        if pid > 1 && (pid == o.pid || pid == o.ppid) {
            let (whom, runs_as) = if pid == o.pid {
                ("it", o.uid)
            } else {
                ("its parent", uid_of(pid))
            };
            if pidfile_trusted(f.owner, runs_as) {
                why.push(format!("pidfile {file} names {whom} (pid {pid})"));
            }
        }
    }
    if let Some(exe) = o.exe.as_ref().and_then(|e| e.to_str()) {
        let written = s.vars.daemons.iter().any(|d| d == exe);
        if written || s.daemons_real.iter().any(|d| d == exe) {
            why.push(format!(
                "its DAEMON is {exe}, the executable of pid {}",
                o.pid
            ));
        }
    }
    why
}

fn same_package(o: &PortOwner, s: &InitScript) -> Option<String> {
    let (pkg, src) = s.package.as_ref()?;
    let own = o.package.as_ref()?;
    (own.name == *pkg || own.source == *src).then(|| {
        format!(
            "package {} (source {}) ships it and pid {}'s executable ({} of source {})",
            pkg, src, o.pid, own.name, own.source
        )
    })
}

fn base(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// Whether a script looks like an owner's without anything tying them: its name or a
/// `DAEMON`'s file name is the process's name (`comm`, cut at 15 bytes) or its
/// executable's file name.
fn looks_alike(o: &PortOwner, s: &InitScript) -> Option<String> {
    let exe_base = o.exe.as_ref().and_then(|e| e.file_name()?.to_str());
    let comm_is = |n: &str| n == o.name || (o.name.len() == 15 && n.starts_with(&o.name));
    if comm_is(&s.name) || exe_base == Some(s.name.as_str()) {
        let daemons = match s.vars.daemons.as_slice() {
            [] => "no DAEMON".to_string(),
            d => format!("DAEMON={}", d.join(", DAEMON=")),
        };
        return Some(format!("/etc/init.d/{} has its name ({daemons})", s.name));
    }
    s.vars
        .daemons
        .iter()
        .find(|d| comm_is(base(d)) || exe_base == Some(base(d)))
        .map(|d| format!("/etc/init.d/{} runs DAEMON={d}", s.name))
}

/// The owners that need a service found: not PID 1, not a container's.
fn wants_service(o: &PortOwner) -> bool {
    o.pid != 1 && o.protected.is_none() && o.kind != OwnerKind::Container
}

/// Whether any owner has a package and nothing ties it to a script: only then are the
/// scripts' packages worth looking up (pure).
pub fn needs_packages(owners: &[PortOwner], scripts: &[InitScript]) -> bool {
    let uid_of = uids(owners);
    owners.iter().filter(|o| wants_service(o)).any(|o| {
        o.package.is_some()
            && scripts
                .iter()
                .all(|s| strong_ties(o, s, &uid_of).is_empty())
    })
}

/// The effective uid of an owner, by pid.
fn uids(owners: &[PortOwner]) -> impl Fn(i32) -> Option<u32> + '_ {
    |pid| owners.iter().find(|x| x.pid == pid).and_then(|x| x.uid)
}

/// Ties each owner to the one script that runs it (pure): the script whose pidfile names
/// it or its parent, or whose `DAEMON` is its executable; failing both, the one script
/// of its package (or source package). An owner no script resembles is a bare process
/// (left to the signals). Scripts come back once each, in the order of the owners.
///
/// # Errors
/// [`Refusal::UncertainService`] naming what was found, for an owner two scripts are
/// tied to, or one only resembles (its name, its executable's name) with nothing tying
/// them.
pub fn tie_owners(owners: &[PortOwner], scripts: &[InitScript]) -> Result<Vec<Tie>, Refusal> {
    let uid_of = uids(owners);
    let mut out: Vec<Tie> = Vec::new();
    for o in owners.iter().filter(|o| wants_service(o)) {
        let target = match &o.exe {
            Some(e) => format!("pid {} {} ({})", o.pid, o.name, e.display()),
            None => format!("pid {} {}", o.pid, o.name),
        };
        let mut found: Vec<(usize, Vec<String>)> = scripts
            .iter()
            .enumerate()
            .map(|(i, s)| (i, strong_ties(o, s, &uid_of)))
            .filter(|(_, w)| !w.is_empty())
            .collect();
        if found.is_empty() {
            found = scripts
                .iter()
                .enumerate()
                .filter_map(|(i, s)| Some((i, vec![same_package(o, s)?])))
                .collect();
        }
        match found.len() {
            1 => {
                let (i, why) = found.remove(0);
                add_tie(&mut out, &scripts[i].name, o.pid, why);
            }
            0 => {
                let alike: Vec<String> = scripts.iter().filter_map(|s| looks_alike(o, s)).collect();
                if !alike.is_empty() {
                    let found = format!(
                        "{}, but no pidfile of it names the process and no DAEMON is its \
                         executable",
                        alike.join("; ")
                    );
                    return Err(Refusal::UncertainService { target, found });
                }
            }
            _ => {
                let each: Vec<String> = found
                    .iter()
                    .map(|(i, w)| format!("/etc/init.d/{}: {}", scripts[*i].name, w.join(", ")))
                    .collect();
                let found = format!("{} scripts claim it ({})", found.len(), each.join("; "));
                return Err(Refusal::UncertainService { target, found });
            }
        }
    }
    Ok(out)
}

/// A script tied to the owners it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tie {
    /// The script's name.
    pub name: String,
    /// The owners' pids.
    pub pids: Vec<i32>,
    /// What ties them, without repeats.
    pub evidence: Vec<String>,
}

fn add_tie(out: &mut Vec<Tie>, name: &str, pid: i32, why: Vec<String>) {
    let t = match out.iter_mut().position(|t| t.name == name) {
        Some(i) => &mut out[i],
        None => {
            out.push(Tie {
                name: name.to_string(),
                pids: Vec::new(),
                evidence: Vec::new(),
            });
            let last = out.len() - 1;
            &mut out[last]
        }
    };
    t.pids.push(pid);
    for w in why {
        if !t.evidence.contains(&w) {
            t.evidence.push(w);
        }
    }
}

/// The commands that disable a service where it is enabled: `update-rc.d NAME disable`
/// on sysvinit (start links become stop links in runlevels 2-5), `rc-update del NAME
/// RUNLEVEL` for each OpenRC runlevel listing it. None when it starts nowhere (pure).
pub fn disable_commands(init: InitSystem, name: &str, enabled_in: &[String]) -> Vec<Cmd> {
    if enabled_in.is_empty() {
        return Vec::new();
    }
    match init {
        InitSystem::OpenRc => enabled_in
            .iter()
            .map(|rl| Cmd::new("rc-update", ["del", name, rl.as_str()]))
            .collect(),
        _ => vec![Cmd::new("update-rc.d", [name, "disable"])],
    }
}

/// The command that stops a service (pure).
pub fn stop_command(tool: StopTool, name: &str) -> Cmd {
    match tool {
        StopTool::Service => Cmd::new("service", [name, "stop"]),
        StopTool::InvokeRcd => Cmd::new("invoke-rc.d", [name, "stop"]),
        StopTool::RcService => Cmd::new("rc-service", [name, "stop"]),
        StopTool::Script => Cmd::new(format!("/etc/init.d/{name}"), ["stop"]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::PackageInfo;

    fn owner(pid: i32, ppid: i32, comm: &str, exe: &str) -> PortOwner {
        PortOwner {
            pid,
            ppid,
            name: comm.into(),
            exe: Some(exe.into()),
            ..PortOwner::default()
        }
    }

    fn script(name: &str, daemon: &str, pids: &[(&str, i32)]) -> InitScript {
        InitScript {
            name: name.into(),
            vars: ScriptVars {
                daemons: vec![daemon.into()],
                pidfiles: pids.iter().map(|(f, _)| f.to_string()).collect(),
            },
            pids: pids
                .iter()
                .map(|(f, p)| Pidfile {
                    path: f.to_string(),
                    pid: *p,
                    owner: 0,
                })
                .collect(),
            ..InitScript::default()
        }
    }

    #[test]
    fn a_master_and_its_workers_tie_to_one_script() {
        let owners = [
            owner(812, 1, "nginx", "/usr/sbin/nginx"),
            owner(813, 812, "nginx", "/usr/sbin/nginx"),
        ];
        let scripts = [
            script("cron", "/usr/sbin/cron", &[("/run/crond.pid", 300)]),
            script("nginx", "/usr/sbin/nginx", &[("/run/nginx.pid", 812)]),
        ];
        let t = tie_owners(&owners, &scripts).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].name, "nginx");
        assert_eq!(t[0].pids, vec![812, 813]);
        assert!(t[0].evidence[0].contains("pidfile /run/nginx.pid names it"));
    }

    /// Another user's pidfile ties only that user's processes: postgres's pidfile naming
    /// root's nginx (or its parent) ties nothing; nginx's own user's pidfile naming its
    /// process does.
    #[test]
    fn a_pidfile_of_another_user_ties_only_that_users_processes() -> Result<(), Refusal> {
        let mut master = owner(812, 1, "nginx", "/usr/local/sbin/nginx");
        master.uid = Some(0);
        let mut worker = owner(813, 812, "nginx", "/usr/local/sbin/nginx");
        worker.uid = Some(33);
        let owners = [master, worker];
        let mut s = script(
            "pg",
            "/usr/lib/postgresql/bin/postgres",
            &[("/run/pg/pg.pid", 812)],
        );
        s.pids[0].owner = 104;
        assert!(tie_owners(&owners, std::slice::from_ref(&s))?.is_empty());
        s.pids[0].owner = 33;
        let t = tie_owners(&owners[1..], std::slice::from_ref(&s))?;
        assert!(
            t.is_empty(),
            "a www-data pidfile naming root's master: {t:?}"
        );
        s.pids[0].pid = 813;
        let t = tie_owners(&owners, std::slice::from_ref(&s))?;
        assert_eq!((t.len(), t[0].pids.clone()), (1, vec![813]), "{t:?}");
        assert!(pidfile_trusted(0, None));
        assert!(!pidfile_trusted(104, None), "a process that is gone");
        Ok(())
    }

    #[test]
    fn a_lookalike_is_refused_and_a_stranger_is_left_to_signals() {
        let scripts = [script("nginx", "/usr/sbin/nginx", &[])];
        let e =
            tie_owners(&[owner(900, 1, "nginx", "/usr/local/sbin/nginx")], &scripts).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("pid 900 nginx (/usr/local/sbin/nginx)"),
            "{msg}"
        );
        assert!(msg.contains("DAEMON=/usr/sbin/nginx"), "{msg}");
        let t = tie_owners(&[owner(901, 1, "python3", "/usr/bin/python3.11")], &scripts);
        assert_eq!(t, Ok(Vec::new()));
    }

    #[test]
    fn two_claims_are_refused() {
        let scripts = [
            script("web", "/usr/sbin/nginx", &[]),
            script("nginx", "/usr/sbin/nginx", &[]),
        ];
        let e = tie_owners(&[owner(812, 1, "nginx", "/usr/sbin/nginx")], &scripts).unwrap_err();
        assert!(e.to_string().contains("2 scripts claim it"), "{e}");
    }

    #[test]
    fn the_package_ties_only_when_nothing_else_does_and_only_once() {
        let mut o = owner(700, 1, "mydaemon", "/usr/lib/my/daemon-bin");
        o.package = Some(PackageInfo {
            name: "my".into(),
            source: "my".into(),
            ..PackageInfo::default()
        });
        let mut s = script("my-service", "/usr/bin/unrelated", &[]);
        s.package = Some(("my".into(), "my".into()));
        assert!(needs_packages(
            std::slice::from_ref(&o),
            std::slice::from_ref(&s)
        ));
        let t = tie_owners(std::slice::from_ref(&o), std::slice::from_ref(&s)).unwrap();
        assert_eq!(t[0].name, "my-service");
        let mut s2 = s.clone();
        s2.name = "my-other".into();
        assert!(tie_owners(&[o], &[s, s2]).is_err());
    }

    #[test]
    fn commands() {
        let rl = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let d = |c: Vec<Cmd>| c.iter().map(Cmd::display).collect::<Vec<_>>();
        assert_eq!(
            d(disable_commands(
                InitSystem::Sysvinit,
                "nginx",
                &rl(&["2", "3", "4", "5"])
            )),
            vec!["update-rc.d nginx disable"]
        );
        assert!(disable_commands(InitSystem::Sysvinit, "nginx", &[]).is_empty());
        assert_eq!(
            d(disable_commands(
                InitSystem::OpenRc,
                "nginx",
                &rl(&["default"])
            )),
            vec!["rc-update del nginx default"]
        );
        assert_eq!(
            stop_command(StopTool::Service, "nginx").display(),
            "service nginx stop"
        );
        assert_eq!(
            stop_command(StopTool::RcService, "nginx").display(),
            "rc-service nginx stop"
        );
        assert_eq!(
            stop_command(StopTool::Script, "x").display(),
            "/etc/init.d/x stop"
        );
    }
}
