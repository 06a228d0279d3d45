//! The host as a value: the root every reader starts from, and the one seam through which
//! every change and every command goes.
//!
//! Readers take the host's root, so tests point a [`Host`] at a tempdir of fixture files
//! (`proc/meminfo`, `etc/fstab`, ...). Everything that changes the live system or runs a
//! command goes through one seam: the real system on a live host, and with the
//! `testing` feature a recording one that tests give behaviours to
//! (`hostfix::testing::RecordingSystem`, on a `hostfix::testing::FakeRoot`).
//!
//! [`Errno`] and [`Signal`] are re-exported from `nix`, so the errors and results that
//! carry them can be matched without depending on `nix`.
//!
//! Split by concern (private): `system` (the seam, the real system, commands),
//! `recording` (the recording fake), `detect` (init system and container detection),
//! `proc_stat` (the one `/proc/PID/stat` parser, which the live signal's pid check needs).

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};

mod detect;
pub(crate) mod proc_stat;
#[cfg(any(test, feature = "testing"))]
pub(crate) mod recording;
pub(crate) mod system;

pub use nix::errno::Errno;
pub use nix::sys::signal::Signal;

pub use detect::{InitDetection, InitSystem};
#[cfg_attr(not(feature = "testing"), allow(unused_imports))] // used by hostfix::testing
pub use detect::{InitMarks, detect_init};
#[cfg(test)]
pub(crate) use detect::{container_from_environ, root_fs_type};
#[cfg(any(test, feature = "testing"))]
pub(crate) use recording::RecordingSystem;
pub(crate) use system::{Cmd, CmdOutput, LiveSystem, System};

/// A host: the root its files are read from, the seam its changes go through, and the
/// owner its system files (a swap file, hostfix's state) belong to.
#[derive(Clone)]
pub struct Host {
    root: PathBuf,
    system: Arc<dyn System>,
    owner: (u32, u32),
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Host")
            .field("root", &self.root)
            .field("system", &self.system)
            .field("owner", &self.owner)
            .finish()
    }
}

/// The owner a host's system files are expected to have: root on the live system; on a
/// root elsewhere (a fake root, an image being prepared), whoever runs hostfix, since
/// that is who owns the files it makes there.
fn default_owner(root: &Path) -> (u32, u32) {
    if root == Path::new("/") {
        (0, 0)
    } else {
        (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    }
}

impl Host {
    /// The machine this runs on: root `/`, real syscalls and commands.
    pub fn live() -> Self {
        Host {
            root: PathBuf::from("/"),
            system: Arc::new(LiveSystem),
            owner: (0, 0),
        }
    }

    /// The machine this runs on, with its files read and written under `root` instead
    /// of `/` (an image being prepared, a chroot): system calls and commands still act
    /// on the running kernel. Its files are expected to belong to the running user
    /// unless `root` is `/` ([`Host::with_owner`] changes that).
    pub fn live_at(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        if root == Path::new("/") {
            return Host::live();
        }
        Host::on(root, Arc::new(LiveSystem))
    }

    /// A fake host: files read under `root`, calls recorded by a fresh
    /// `RecordingSystem`; its files are expected to belong to the running user. For
    /// tests (the `testing` feature; `hostfix::testing::FakeRoot::host` gives the
    /// recorder too).
    #[cfg(any(test, feature = "testing"))]
    pub fn fake(root: impl Into<PathBuf>) -> Self {
        Host::on(root, Arc::new(RecordingSystem::new()))
    }

    /// A host with this root and this system (the `testing` feature: a
    /// `hostfix::testing::RecordingSystem`). Its files are expected to belong to root
    /// when `root` is `/`, and to the running user otherwise ([`Host::with_owner`]
    /// changes that).
    #[cfg(any(test, feature = "testing"))]
    pub fn with_system(root: impl Into<PathBuf>, system: Arc<dyn System>) -> Self {
        Host::on(root, system)
    }

    fn on(root: impl Into<PathBuf>, system: Arc<dyn System>) -> Self {
        let root = root.into();
        let owner = default_owner(&root);
        Host {
            root,
            system,
            owner,
        }
    }

    /// The same host, with its system files expected to belong to `uid`:`gid`.
    pub fn with_owner(mut self, uid: u32, gid: u32) -> Self {
        self.owner = (uid, gid);
        self
    }

    /// The owner (`uid`, `gid`) the host's system files are expected to have: what
    /// hostfix checks a swap file or its state directory against, and gives the files it
    /// creates. `(0, 0)` on the live system.
    pub fn owner(&self) -> (u32, u32) {
        self.owner
    }

    /// The host's root (`/` on a live host).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether this host's root is the real `/`.
    pub fn is_live_root(&self) -> bool {
        self.root == Path::new("/")
    }

    /// The seam for changes and commands.
    pub(crate) fn system(&self) -> &dyn System {
        self.system.as_ref()
    }

    /// A host path (`/etc/fstab`) joined to the root.
    pub(crate) fn path(&self, host_path: impl AsRef<Path>) -> PathBuf {
        let p = host_path.as_ref();
        let rel = p.strip_prefix("/").unwrap_or(p);
        if rel.as_os_str().is_empty() {
            return self.root.clone();
        }
        self.root.join(rel)
    }

    /// The host path for a path under the root (the inverse of [`Host::path`]).
    pub(crate) fn host_path(&self, real: &Path) -> PathBuf {
        match real.strip_prefix(&self.root) {
            Ok(rel) => Path::new("/").join(rel),
            Err(_) => real.to_path_buf(),
        }
    }

    /// Reads a host file as text.
    ///
    /// # Errors
    /// [`Error::Io`] with the host path.
    pub(crate) fn read(&self, host_path: impl AsRef<Path>) -> Result<String> {
        let p = host_path.as_ref();
        std::fs::read_to_string(self.path(p)).map_err(|e| Error::io("reading", p, e))
    }

    /// Reads a host file as text; `None` when it does not exist.
    ///
    /// # Errors
    /// [`Error::Io`] for any failure other than "not found".
    pub(crate) fn read_opt(&self, host_path: impl AsRef<Path>) -> Result<Option<String>> {
        match self.read(host_path) {
            Ok(s) => Ok(Some(s)),
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Runs a command through the seam and returns its output when it exits 0.
    ///
    /// # Errors
    /// [`Error::Command`] with the exit status and stderr otherwise.
    pub(crate) fn run_ok(&self, cmd: &Cmd) -> Result<CmdOutput> {
        let out = self.system.run(cmd)?;
        if out.success() {
            Ok(out)
        } else {
            Err(out.to_error(cmd))
        }
    }

    /// Whether hostfix runs as root.
    pub(crate) fn is_root(&self) -> bool {
        self.system.euid() == 0
    }

    /// The running kernel's release (`/proc/sys/kernel/osrelease`).
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be read.
    pub(crate) fn kernel_release(&self) -> Result<String> {
        Ok(self.read("/proc/sys/kernel/osrelease")?.trim().to_string())
    }

    /// The current boot's id (`/proc/sys/kernel/random/boot_id`).
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be read.
    pub(crate) fn boot_id(&self) -> Result<String> {
        Ok(self
            .read("/proc/sys/kernel/random/boot_id")?
            .trim()
            .to_string())
    }
}

/// `OsString` of a path, for command arguments.
pub(crate) fn arg(path: &Path) -> String {
    OsString::from(path).to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_the_root() {
        let h = Host::fake("/tmp/fake");
        assert_eq!(h.path("/etc/fstab"), PathBuf::from("/tmp/fake/etc/fstab"));
        assert_eq!(h.path("/"), PathBuf::from("/tmp/fake"));
        assert_eq!(
            h.host_path(Path::new("/tmp/fake/etc/fstab")),
            PathBuf::from("/etc/fstab")
        );
        assert_eq!(Host::live().path("/etc"), PathBuf::from("/etc"));
    }

    #[test]
    fn the_expected_owner_is_root_live_and_the_runner_on_a_fake_root() {
        assert_eq!(Host::live().owner(), (0, 0));
        let me = (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
        assert_eq!(Host::fake("/tmp/fake").owner(), me);
        assert_eq!(Host::fake("/tmp/fake").with_owner(7, 8).owner(), (7, 8));
        let live = Host::with_system("/", Arc::new(LiveSystem));
        assert_eq!(live.owner(), (0, 0));
    }
}
