//! What hostfix never touches, and why: every protection rule and its wording, in one
//! place. Callers gather the facts (a process's pid, name and unit, a package's flags, the
//! caller's ancestry) and ask here; `Some(why)` means hands off, and `why` is what the
//! refusal or the report says.
//!
//! The rules:
//! - PID 1 (the init system) and kernel threads are never signalled;
//! - nor the calling process and its ancestors (hostfix runs under them);
//! - sshd, the way into the host, is never signalled to free a port;
//! - nor the container engine's daemons (dockerd, containerd and their shims, podman,
//!   crio, runc, ...): `container rm` kills a container's own shim at its kill-shim rung
//!   and restarts the engine only at its restart rung, naming what that interrupts;
//! - a process of a container that holds a port is never signalled: the container is
//!   stopped instead, with the command the reason names;
//! - essential and required packages are never removed;
//! - the container hostfix itself runs in is never removed.

use std::path::Path;

use crate::host::Host;
use crate::package::PackageInfo;
use crate::process;

/// Why PID 1 is never signalled.
pub const INIT: &str = "PID 1 (the init system) is never signalled";
/// Why the caller and its ancestors are never signalled.
pub const CALLER: &str = "the caller or one of its ancestors (hostfix runs under it)";
/// Why a kernel thread is never signalled.
pub const KERNEL_THREAD: &str = "a kernel thread";
/// Why sshd is never signalled.
pub const SSHD: &str = "sshd: the way into this host";

/// The calling process and its ancestors, from the host's `/proc`.
pub fn caller(host: &Host) -> Vec<i32> {
    process::ancestry(host, std::process::id() as i32)
}

/// Why a pid is never signalled, whatever runs it: PID 1 (or no real pid at all), the
/// caller or one of its ancestors (`caller`, from [`caller`]).
pub fn signal_target(pid: i32, caller: &[i32]) -> Option<&'static str> {
    if pid <= 1 {
        Some(INIT)
    } else if caller.contains(&pid) {
        Some(CALLER)
    } else {
        None
    }
}

/// What protection needs to know of a process that holds a port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortHolder<'a> {
    /// Its pid.
    pub pid: i32,
    /// Its name (`comm`).
    pub name: &'a str,
    /// Its executable.
    pub exe: Option<&'a Path>,
    /// The systemd unit its cgroup belongs to.
    pub unit: Option<&'a str>,
    /// Whether it is a kernel thread.
    pub kernel_thread: bool,
    /// The container it belongs to, or publishes the port for.
    pub container: Option<ContainerHold<'a>>,
}

/// The container a port holder belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerHold<'a> {
    /// Whether the holder publishes the port for the container (`docker-proxy`,
    /// Podman's `rootlessport` or `conmon`), else it is a process in the container.
    pub via_proxy: bool,
    /// The publishing process (`docker-proxy`, `rootlessport`, `conmon`), or `cgroup`.
    pub via: &'a str,
    /// The engine's CLI (`docker`, `podman`, `crictl`).
    pub engine: &'a str,
    /// The container, as people name it (`web (3f4e5a6b7c8d)`).
    pub label: String,
    /// The command that would stop it.
    pub stop_command: &'a str,
}

/// Why a process holding a port is never signalled, when it never is. The first rule that
/// applies names the reason: PID 1, the caller, a kernel thread, sshd, a container's
/// process (stop the container instead), the container engine.
pub fn port_holder(h: &PortHolder<'_>, caller: &[i32]) -> Option<String> {
    if let Some(why) = signal_target(h.pid, caller) {
        return Some(why.to_string());
    }
    if h.kernel_thread {
        return Some(KERNEL_THREAD.to_string());
    }
    if is_sshd(h.name, h.exe, h.unit) {
        return Some(SSHD.to_string());
    }
    if let Some(c) = &h.container {
        return Some(format!(
            "{} of container {}: stop the container instead: {}",
            if c.via_proxy {
                format!("{} publishes the port", c.via)
            } else {
                "a process".to_string()
            },
            match c.engine {
                "docker" => c.label.clone(),
                e => format!("{} ({e})", c.label),
            },
            c.stop_command
        ));
    }
    if is_engine(h.name, h.exe, h.unit) {
        return Some(format!("the container engine itself ({})", h.name));
    }
    None
}

fn base_name(p: &Path) -> &str {
    p.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

/// Whether a process is sshd (a listener, a session process).
pub fn is_sshd(name: &str, exe: Option<&Path>, unit: Option<&str>) -> bool {
    let exe_name = exe.map(base_name).unwrap_or("");
    name.starts_with("sshd")
        || exe_name.starts_with("sshd")
        || unit.is_some_and(|u| {
            ["ssh.service", "sshd.service", "ssh.socket", "sshd.socket"].contains(&u)
                || u.starts_with("sshd@")
                || u.starts_with("ssh@")
        })
}

/// The container engine's own processes.
const ENGINE_NAMES: [&str; 8] = [
    "dockerd",
    "containerd",
    "podman",
    "conmon",
    "crio",
    "runc",
    "crun",
    "buildkitd",
];

/// The container engine's own units.
const ENGINE_UNITS: [&str; 7] = [
    "docker.service",
    "docker.socket",
    "containerd.service",
    "podman.service",
    "podman.socket",
    "crio.service",
    "buildkit.service",
];

/// Whether a process is the container engine itself (a daemon, a shim, a runtime).
pub fn is_engine(name: &str, exe: Option<&Path>, unit: Option<&str>) -> bool {
    let exe_name = exe.map(base_name).unwrap_or("");
    ENGINE_NAMES.iter().any(|e| name == *e || exe_name == *e)
        || name.starts_with("containerd-shim")
        || exe_name.starts_with("containerd-shim")
        || unit.is_some_and(|u| ENGINE_UNITS.contains(&u))
}

/// Why a package is never removed, when it never is: the distro marks it essential or
/// required.
pub fn package(p: &PackageInfo) -> Option<String> {
    p.never_removed()
}

/// Why container `id` is never removed, when hostfix runs inside it: the caller or one of
/// its ancestors is in its cgroup.
pub fn own_container(host: &Host, id: &str) -> Option<String> {
    caller(host).into_iter().find_map(|pid| {
        let ours = process::cgroup(host, pid)
            .as_deref()
            .and_then(process::container_id_from_cgroup);
        (ours.as_deref() == Some(id)).then(|| format!("hostfix runs inside it (pid {pid})"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f4e5a6b7c8d9e0f3f4e5a6b7c8d9e0f3f4e5a6b7c8d9e0f3f4e5a6b7c8d9e0f";

    fn holder<'a>(pid: i32, name: &'a str, exe: &'a str, unit: Option<&'a str>) -> PortHolder<'a> {
        PortHolder {
            pid,
            name,
            exe: Some(Path::new(exe)),
            unit,
            kernel_thread: false,
            container: None,
        }
    }

    #[test]
    fn pid_1_and_the_callers_ancestry_are_never_signalled() {
        let caller = [4000, 3999];
        assert_eq!(signal_target(1, &caller), Some(INIT));
        assert_eq!(signal_target(0, &caller), Some(INIT));
        assert_eq!(signal_target(-5, &caller), Some(INIT));
        assert_eq!(signal_target(3999, &caller), Some(CALLER));
        assert_eq!(signal_target(4001, &caller), None);
        let init = holder(1, "systemd", "/usr/lib/systemd/systemd", Some("init.scope"));
        assert_eq!(
            port_holder(&init, &caller).as_deref(),
            Some("PID 1 (the init system) is never signalled")
        );
        let bash = holder(3999, "bash", "/usr/bin/bash", None);
        assert_eq!(
            port_holder(&bash, &caller).as_deref(),
            Some("the caller or one of its ancestors (hostfix runs under it)")
        );
    }

    #[test]
    fn kernel_threads_are_never_signalled() {
        let mut k = holder(50, "kworker/0:1", "/", None);
        k.exe = None;
        assert_eq!(port_holder(&k, &[]), None);
        k.kernel_thread = true;
        assert_eq!(port_holder(&k, &[]).as_deref(), Some("a kernel thread"));
    }

    #[test]
    fn sshd_by_name_executable_or_unit() {
        let by_name = holder(700, "sshd", "/usr/sbin/sshd", None);
        assert_eq!(
            port_holder(&by_name, &[]).as_deref(),
            Some("sshd: the way into this host")
        );
        assert!(is_sshd(
            "x",
            Some(Path::new("/usr/sbin/sshd-session")),
            None
        ));
        assert!(is_sshd("x", None, Some("ssh.socket")));
        assert!(is_sshd(
            "x",
            None,
            Some("sshd@3-10.0.0.1:22-10.0.0.2:5000.service")
        ));
        assert!(!is_sshd(
            "nginx",
            Some(Path::new("/usr/sbin/nginx")),
            Some("nginx.service")
        ));
        assert!(!is_sshd("x", None, Some("openssh-keygen.service")));
    }

    #[test]
    fn the_container_engine_is_never_signalled() {
        let d = holder(701, "dockerd", "/usr/bin/dockerd", Some("docker.service"));
        assert_eq!(
            port_holder(&d, &[]).as_deref(),
            Some("the container engine itself (dockerd)")
        );
        assert!(is_engine("containerd-shim-runc-v2", None, None));
        assert!(is_engine("x", Some(Path::new("/usr/bin/containerd")), None));
        assert!(is_engine("x", None, Some("podman.socket")));
        assert!(!is_engine("docker-proxy", None, None));
        assert!(!is_engine("nginx", None, Some("nginx.service")));
    }

    #[test]
    fn a_containers_process_names_the_stop_command() {
        let mut p = holder(
            702,
            "docker-proxy",
            "/usr/bin/docker-proxy",
            Some("docker.service"),
        );
        p.container = Some(ContainerHold {
            via_proxy: true,
            via: "docker-proxy",
            engine: "docker",
            label: "web (3f4e5a6b7c8d)".into(),
            stop_command: "docker stop web",
        });
        // The container's reason comes before the engine's unit.
        assert_eq!(
            port_holder(&p, &[]).as_deref(),
            Some(
                "docker-proxy publishes the port of container web (3f4e5a6b7c8d): stop the \
                 container instead: docker stop web"
            )
        );
        let mut n = holder(703, "nginx", "/usr/sbin/nginx", None);
        n.container = Some(ContainerHold {
            via_proxy: false,
            via: "cgroup",
            engine: "docker",
            label: "web".into(),
            stop_command: "docker stop web",
        });
        assert_eq!(
            port_holder(&n, &[]).as_deref(),
            Some("a process of container web: stop the container instead: docker stop web")
        );
        let mut c = holder(704, "conmon", "/usr/bin/conmon", None);
        c.container = Some(ContainerHold {
            via_proxy: true,
            via: "conmon",
            engine: "podman",
            label: "web (6a1b9c0d8e7f)".into(),
            stop_command: "podman stop web",
        });
        assert_eq!(
            port_holder(&c, &[]).as_deref(),
            Some(
                "conmon publishes the port of container web (6a1b9c0d8e7f) (podman): stop the \
                 container instead: podman stop web"
            )
        );
        // An ordinary service is not protected.
        let s = holder(812, "nginx", "/usr/sbin/nginx", Some("nginx.service"));
        assert_eq!(port_holder(&s, &[4000]), None);
    }

    #[test]
    fn essential_and_required_packages_are_never_removed() {
        let mut p = PackageInfo {
            name: "bash".into(),
            source: "bash".into(),
            essential: true,
            required: true,
            ..Default::default()
        };
        assert_eq!(package(&p).as_deref(), Some("bash is an essential package"));
        p.essential = false;
        assert_eq!(package(&p).as_deref(), Some("bash is a required package"));
        p.required = false;
        assert_eq!(package(&p), None);
    }

    fn fake_proc(root: &Path, pid: u32, ppid: u32, cgroup: &str) {
        let dir = root.join(format!("proc/{pid}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("stat"),
            format!("{pid} (p) S {ppid} 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 500 1 1\n"),
        )
        .unwrap();
        std::fs::write(dir.join("cgroup"), format!("0::{cgroup}\n")).unwrap();
    }

    #[test]
    fn the_container_hostfix_runs_in_is_never_removed() {
        let d = tempfile::tempdir().unwrap();
        let me = std::process::id();
        // hostfix itself runs outside; its parent (a shell) inside the container.
        fake_proc(d.path(), me, 77, "/user.slice/session-1.scope");
        fake_proc(d.path(), 77, 1, &format!("/system.slice/docker-{ID}.scope"));
        let host = Host::fake(d.path());
        assert_eq!(caller(&host), vec![me as i32, 77, 1]);
        assert_eq!(
            own_container(&host, ID).as_deref(),
            Some("hostfix runs inside it (pid 77)")
        );
        let other = ID.replace('3', "4");
        assert_eq!(own_container(&host, &other), None);
    }

    #[test]
    fn the_live_caller_starts_with_this_process() {
        let anc = caller(&Host::live());
        assert_eq!(anc[0], std::process::id() as i32);
        let mut seen = anc.clone();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), anc.len(), "no pid twice: {anc:?}");
    }
}
