//! What kind of host this is: its init system, and the container it runs in.

use super::Host;

/// The init system running the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InitSystem {
    /// systemd is PID 1 (`/run/systemd/system` exists).
    Systemd,
    /// Something else, or unknown.
    Other,
}

impl Host {
    /// The init system.
    pub(crate) fn init_system(&self) -> InitSystem {
        if self.path("/run/systemd/system").is_dir() {
            InitSystem::Systemd
        } else {
            InitSystem::Other
        }
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
    fn container_detection_from_environ() {
        assert_eq!(
            container_from_environ(b"PATH=/bin\0container=lxc\0"),
            Some("lxc".into())
        );
        assert_eq!(container_from_environ(b"PATH=/bin\0"), None);
    }
}
