//! What kind of host this is: its init system, and the container it runs in.

use super::Host;

/// The init system running the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum InitSystem {
    /// systemd is PID 1 (`/run/systemd/system` exists).
    Systemd,
    /// OpenRC manages the services (`/run/openrc` exists, or `rc-service` with
    /// `/etc/runlevels` on a host without sysvinit's control FIFO).
    #[serde(rename = "openrc")]
    OpenRc,
    /// sysvinit is PID 1 (its control FIFO `/run/initctl`, or `/etc/inittab`), with the
    /// services' scripts in `/etc/init.d`.
    Sysvinit,
    /// None of the above could be told from the host's files.
    #[default]
    Unknown,
}

impl InitSystem {
    /// The name as the JSON spells it: `systemd`, `openrc`, `sysvinit` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            InitSystem::Systemd => "systemd",
            InitSystem::OpenRc => "openrc",
            InitSystem::Sysvinit => "sysvinit",
            InitSystem::Unknown => "unknown",
        }
    }

    /// Whether its services are init scripts in `/etc/init.d` that hostfix knows how to
    /// stop and disable (sysvinit's with `update-rc.d`, OpenRC's with `rc-update`).
    pub fn has_init_scripts(self) -> bool {
        matches!(self, InitSystem::Sysvinit | InitSystem::OpenRc)
    }
}

impl std::fmt::Display for InitSystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The init system found on a host, and the file that told.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct InitDetection {
    /// The init system.
    pub system: InitSystem,
    /// What told it (`/run/initctl exists; /run/systemd/system is absent`).
    pub evidence: String,
}

/// What [`detect_init`] looks at, as booleans (so the rule is a pure function).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InitMarks {
    /// `/run/systemd/system` is a directory.
    pub systemd_dir: bool,
    /// `/run/openrc` is a directory.
    pub openrc_dir: bool,
    /// `rc-service` is a program and `/etc/runlevels` a directory.
    pub openrc_tools: bool,
    /// `/run/initctl` exists (sysvinit's control FIFO).
    pub initctl: bool,
    /// `/etc/inittab` exists.
    pub inittab: bool,
}

impl InitMarks {
    /// Reads the marks under `root`.
    pub fn read(root: &std::path::Path) -> Self {
        let at = |p: &str| root.join(p);
        InitMarks {
            systemd_dir: at("run/systemd/system").is_dir(),
            openrc_dir: at("run/openrc").is_dir(),
            openrc_tools: crate::program::find(root, "rc-service").is_some()
                && at("etc/runlevels").is_dir(),
            // A FIFO: `exists` follows nothing and needs no read.
            initctl: at("run/initctl").symlink_metadata().is_ok(),
            inittab: at("etc/inittab").is_file(),
        }
    }
}

/// The init system the marks show (pure). systemd first (its directory exists only while
/// it runs); OpenRC before sysvinit, since OpenRC on Debian runs under sysvinit's PID 1
/// and manages the services; `rc-service` alone counts only without sysvinit's FIFO.
pub fn detect_init(m: InitMarks) -> InitDetection {
    let (system, evidence) = if m.systemd_dir {
        (InitSystem::Systemd, "/run/systemd/system exists")
    } else if m.openrc_dir {
        (
            InitSystem::OpenRc,
            "/run/openrc exists; /run/systemd/system is absent",
        )
    } else if m.initctl {
        (
            InitSystem::Sysvinit,
            "/run/initctl exists; /run/systemd/system is absent",
        )
    } else if m.openrc_tools {
        (
            InitSystem::OpenRc,
            "rc-service and /etc/runlevels exist; /run/systemd/system is absent",
        )
    } else if m.inittab {
        (
            InitSystem::Sysvinit,
            "/etc/inittab exists; /run/systemd/system is absent",
        )
    } else {
        (
            InitSystem::Unknown,
            "none of /run/systemd/system, /run/openrc, /run/initctl, /etc/inittab exists",
        )
    };
    InitDetection {
        system,
        evidence: evidence.to_string(),
    }
}

impl Host {
    /// The init system.
    pub(crate) fn init_system(&self) -> InitSystem {
        self.init_detection().system
    }

    /// The init system, with what told it.
    pub(crate) fn init_detection(&self) -> InitDetection {
        let d = detect_init(InitMarks::read(&self.root));
        log::debug!("host: init {} ({})", d.system, d.evidence);
        d
    }

    /// The container technology hostfix runs in, if any (`docker`, `lxc`, `podman`, ...).
    ///
    /// Reads `/run/systemd/container`, the `container=` variable of PID 1's environment,
    /// `/run/.containerenv`, and `/.dockerenv`. `/.dockerenv` alone is weak evidence (VM
    /// images built with Docker keep it), so it counts only when the root filesystem is an
    /// overlay as Docker mounts it, or PID 1's cgroup names Docker.
    pub(crate) fn container(&self) -> Option<String> {
        if let Ok(Some(s)) = self.read_opt("/run/systemd/container") {
            let s = s.trim();
            if !s.is_empty() {
                return Some(s.to_string());
            }
        }
        if let Ok(env) = std::fs::read(self.path("/proc/1/environ")) {
            if let Some(c) = container_from_environ(&env) {
                return Some(c);
            }
        }
        if self.path("/run/.containerenv").exists() {
            return Some("podman".into());
        }
        if self.path("/.dockerenv").exists() {
            let overlay_root = self
                .read_opt("/proc/self/mounts")
                .ok()
                .flatten()
                .and_then(|m| root_fs_type(&m))
                .is_some_and(|t| matches!(t.as_str(), "overlay" | "aufs" | "fuse-overlayfs"));
            let docker_cgroup = self
                .read_opt("/proc/1/cgroup")
                .ok()
                .flatten()
                .is_some_and(|c| c.contains("/docker"));
            if overlay_root || docker_cgroup {
                return Some("docker".into());
            }
        }
        None
    }
}

/// The type of the filesystem mounted on `/`, from the text of `/proc/self/mounts` (the
/// last mount on `/` wins, as the kernel stacks them).
pub fn root_fs_type(mounts: &str) -> Option<String> {
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_dev, mnt, ty) = (f.next()?, f.next()?, f.next()?);
            (mnt == "/").then(|| ty.to_string())
        })
        .next_back()
}

/// The value of `container=` in a NUL-separated environment block.
pub fn container_from_environ(env: &[u8]) -> Option<String> {
    env.split(|b| *b == 0)
        .filter_map(|kv| kv.strip_prefix(b"container="))
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .find(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_dockerenv_is_not_a_container() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(".dockerenv"), "").unwrap();
        std::fs::create_dir_all(d.path().join("proc/self")).unwrap();
        std::fs::write(
            d.path().join("proc/self/mounts"),
            "/dev/vda / ext4 rw,relatime 0 0\nproc /proc proc rw 0 0\n",
        )
        .unwrap();
        let h = Host::fake(d.path());
        assert_eq!(h.container(), None);
        std::fs::write(
            d.path().join("proc/self/mounts"),
            "overlay / overlay rw,lowerdir=/x 0 0\n",
        )
        .unwrap();
        assert_eq!(h.container(), Some("docker".into()));
        std::fs::remove_file(d.path().join(".dockerenv")).unwrap();
        std::fs::create_dir_all(d.path().join("run/systemd")).unwrap();
        std::fs::write(d.path().join("run/systemd/container"), "lxc\n").unwrap();
        assert_eq!(h.container(), Some("lxc".into()));
    }

    #[test]
    fn init_detection_follows_the_marks() {
        let d = |m: InitMarks| detect_init(m).system;
        assert_eq!(d(InitMarks::default()), InitSystem::Unknown);
        let sysv = InitMarks {
            initctl: true,
            inittab: true,
            ..InitMarks::default()
        };
        assert_eq!(d(sysv), InitSystem::Sysvinit);
        assert_eq!(
            d(InitMarks {
                inittab: true,
                ..InitMarks::default()
            }),
            InitSystem::Sysvinit
        );
        // OpenRC under sysvinit's PID 1 (Debian's openrc package): OpenRC runs the services.
        assert_eq!(
            d(InitMarks {
                openrc_dir: true,
                ..sysv
            }),
            InitSystem::OpenRc
        );
        // rc-service installed on a sysvinit host does not make it OpenRC's.
        assert_eq!(
            d(InitMarks {
                openrc_tools: true,
                ..sysv
            }),
            InitSystem::Sysvinit
        );
        assert_eq!(
            d(InitMarks {
                openrc_tools: true,
                ..InitMarks::default()
            }),
            InitSystem::OpenRc
        );
        // A systemd host keeps an inittab from an old install.
        assert_eq!(
            d(InitMarks {
                systemd_dir: true,
                ..sysv
            }),
            InitSystem::Systemd
        );
    }

    #[test]
    fn init_detection_reads_the_root() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::fake(d.path());
        assert_eq!(h.init_system(), InitSystem::Unknown);
        std::fs::create_dir_all(d.path().join("run")).unwrap();
        nix::unistd::mkfifo(&d.path().join("run/initctl"), nix::sys::stat::Mode::S_IRUSR).unwrap();
        let found = h.init_detection();
        assert_eq!(found.system, InitSystem::Sysvinit);
        assert!(found.evidence.contains("/run/initctl"), "{found:?}");
        std::fs::create_dir_all(d.path().join("run/openrc")).unwrap();
        assert_eq!(h.init_system(), InitSystem::OpenRc);
        std::fs::create_dir_all(d.path().join("run/systemd/system")).unwrap();
        assert_eq!(h.init_system(), InitSystem::Systemd);
        assert_eq!(
            serde_json::to_string(&InitSystem::OpenRc).unwrap(),
            "\"openrc\""
        );
    }

    #[test]
    fn container_detection_from_environ() {
        assert_eq!(
            container_from_environ(b"PATH=/bin\0container=lxc\0"),
            Some("lxc".into())
        );
        assert_eq!(container_from_environ(b"PATH=/bin\0"), None);
    }
}
