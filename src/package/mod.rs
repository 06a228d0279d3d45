//! Distro package managers (dpkg/apt, rpm/dnf, apk, pacman) behind one trait.
//!
//! A [`PackageManager`] answers the questions the port ladder asks before it removes a
//! package: which package owns a path ([`PackageManager::owner`]), what it was built from
//! and whether the distro calls it essential ([`PackageManager::info`]), what a removal
//! would take away with it ([`PackageManager::simulate_removal`]), and the non-interactive
//! removal itself ([`PackageManager::removal_command`]).
//!
//! Readers take the host's root; commands go through the host's [`crate::host::System`]
//! seam. When the host's root is not `/`, the backends whose tools take a root
//! (`rpm --root`, `pacman --root`, `apk --root`) are pointed at it; apt always acts on the
//! running system.

mod apk;
mod dpkg;
mod interrupted;
mod pacman;
mod rpm;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use apk::Apk;
pub use dpkg::Dpkg;
pub use interrupted::{DPKG_UPDATES, DpkgInterruption};
#[cfg(any(test, feature = "testing"))]
pub use interrupted::{InterruptedPackage, parse_dpkg_interruption};
pub(crate) use interrupted::{Verdict, finish_command, judge_interruption, read_dpkg_interruption};
pub use pacman::Pacman;
pub use rpm::Rpm;
// The parsers, for the tests (`hostfix::testing::package`).
#[cfg(any(test, feature = "testing"))]
pub use apk::{parse_apk_del_simulation, parse_apk_installed, parse_apk_who_owns};
#[cfg(any(test, feature = "testing"))]
pub use dpkg::{
    DpkgEntry, list_owns, parse_apt_simulation, parse_dpkg_relation_names, parse_dpkg_status,
    strip_arch,
};
#[cfg(any(test, feature = "testing"))]
pub use pacman::{
    parse_pacman_breaks, parse_pacman_desc, parse_pacman_hold_pkgs, parse_pacman_relations,
};
#[cfg(any(test, feature = "testing"))]
pub use rpm::{parse_rpm_needed_by, rpm_source_name, split_name_version};

pub use crate::error::PackageError;
use crate::error::Result;
use crate::host::{Cmd, CmdOutput, Host};

/// An installed package, as its manager describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PackageInfo {
    /// The package's name (without an architecture qualifier).
    pub name: String,
    /// The installed version, when known.
    pub version: Option<String>,
    /// The source package it was built from (its own name when the manager records none).
    pub source: String,
    /// The distro marks it essential (dpkg `Essential: yes` or `Protected: yes`).
    pub essential: bool,
    /// The distro requires it (dpkg `Priority: required`, pacman `HoldPkg`, dnf protected
    /// packages, the base packages of apk and rpm systems).
    pub required: bool,
    /// Installed packages of the same source that depend on it: the package the user
    /// asked for when this one came in as its dependency (Debian 12's `nginx-light` is a
    /// metapackage over `nginx`, which holds the binary). Filled by the dpkg backend;
    /// empty elsewhere.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub required_by: Vec<String>,
}

impl PackageInfo {
    /// Why hostfix never removes it, when it never does: the distro marks it essential or
    /// required ([`crate::protect`] answers the same through this).
    pub(crate) fn never_removed(&self) -> Option<String> {
        if self.essential {
            Some(format!("{} is an essential package", self.name))
        } else if self.required {
            Some(format!("{} is a required package", self.name))
        } else {
            None
        }
    }
}

/// How an installed package is tied to others, by name (versions, architecture
/// qualifiers and alternatives' structure dropped: `a (>= 1) | b` gives `a` and `b`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Relations {
    /// What it depends on (dpkg `Depends` and `Pre-Depends`, pacman `%DEPENDS%`).
    pub depends: Vec<String>,
    /// The virtual names it provides (dpkg `Provides`, pacman `%PROVIDES%`).
    pub provides: Vec<String>,
}

/// What a simulated removal would do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Simulation {
    /// Every package it would remove.
    pub removes: Vec<String>,
    /// Packages it would install or upgrade on the way (apt can).
    pub installs: Vec<String>,
}

/// A distro package manager.
///
/// Every method reads the host's files under its root or runs the manager's tools through
/// the host's seam, never both for the same answer on one backend.
pub trait PackageManager: fmt::Debug + Send + Sync {
    /// The manager's name: `dpkg`, `rpm`, `apk` or `pacman`.
    fn name(&self) -> &'static str;

    /// The package that owns `path`, trying its usr-merge twin too (`/usr/sbin/nginx` and
    /// `/sbin/nginx`), or `None` when no installed package owns it.
    ///
    /// # Errors
    /// [`crate::Error::Io`] or [`crate::Error::Command`] when the database cannot be read.
    fn owner(&self, host: &Host, path: &Path) -> Result<Option<String>>;

    /// An installed package, or `None` when it is not installed.
    ///
    /// # Errors
    /// [`crate::Error::Io`], [`crate::Error::Command`] or [`crate::Error::Parse`].
    fn info(&self, host: &Host, package: &str) -> Result<Option<PackageInfo>>;

    /// Every package that removing `packages` would remove, found by the manager's own
    /// simulation (`apt-get -s remove`, `rpm -e --test`, `pacman -Rp`, `apk del -s`).
    /// Read-only.
    ///
    /// # Errors
    /// [`PackageError::Simulation`] when the simulation fails for another reason than
    /// the packages the removal would drag along, [`crate::Error::Command`] when the tool
    /// cannot be run.
    fn simulate_removal(&self, host: &Host, packages: &[String]) -> Result<Simulation>;

    /// What an installed package depends on and provides. The default knows nothing
    /// (an empty answer), which makes every rule built on it refuse rather than allow.
    ///
    /// # Errors
    /// [`crate::Error::Io`] when the database cannot be read.
    fn relations(&self, _host: &Host, _package: &str) -> Result<Relations> {
        Ok(Relations::default())
    }

    /// The non-interactive command that removes `packages` (no prompts, no dialogs).
    fn removal_command(&self, host: &Host, packages: &[String]) -> Cmd;

    /// Removes `packages`.
    ///
    /// # Errors
    /// [`crate::Error::Command`] with the exit status and stderr.
    fn remove(&self, host: &Host, packages: &[String]) -> Result<CmdOutput> {
        host.run_ok(&self.removal_command(host, packages))
    }
}

/// The package manager whose database the host has: dpkg, rpm, apk or pacman, in that
/// order.
///
/// # Errors
/// [`PackageError::NoManager`] when none is found.
pub fn detect(host: &Host) -> Result<Box<dyn PackageManager>> {
    if host.path("/var/lib/dpkg/status").is_file() {
        return Ok(Box::new(Dpkg::new()));
    }
    if host.path("/var/lib/rpm").is_dir() || host.path("/usr/lib/sysimage/rpm").is_dir() {
        return Ok(Box::new(Rpm::for_host(host)));
    }
    if host.path("/lib/apk/db/installed").is_file() {
        return Ok(Box::new(Apk::for_host(host)));
    }
    if host.path("/var/lib/pacman/local").is_dir() {
        return Ok(Box::new(Pacman::for_host(host)));
    }
    Err(PackageError::NoManager {
        root: host.root().to_path_buf(),
    }
    .into())
}

/// The directories a merged `/usr` links from `/`.
const USR_MERGED: [&str; 6] = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// `path` and its usr-merge twin: `/usr/sbin/nginx` ↔ `/sbin/nginx`, `/usr/lib/x` ↔
/// `/lib/x`. A package database may record either while the process runs the other.
pub fn usr_merge_twins(path: &Path) -> Vec<PathBuf> {
    let mut out = vec![path.to_path_buf()];
    let s = path.to_string_lossy();
    for d in USR_MERGED {
        let top = format!("/{d}/");
        let usr = format!("/usr/{d}/");
        if let Some(rest) = s.strip_prefix(&usr) {
            out.push(PathBuf::from(format!("{top}{rest}")));
        } else if let Some(rest) = s.strip_prefix(&top) {
            out.push(PathBuf::from(format!("{usr}{rest}")));
        }
    }
    out
}

/// A manager's tool with `--root ROOT` when the host is not the live root.
fn root_args(host: &Host) -> Option<String> {
    (!host.is_live_root()).then(|| crate::host::arg(host.root()))
}

/// Runs a read-only query; `Ok(None)` when it exits non-zero (not installed, not owned).
fn query(host: &Host, cmd: &Cmd) -> Result<Option<String>> {
    let out = host.system().run(cmd)?;
    Ok(out.success().then_some(out.stdout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twins_both_ways() {
        assert_eq!(
            usr_merge_twins(Path::new("/usr/sbin/nginx")),
            vec![
                PathBuf::from("/usr/sbin/nginx"),
                PathBuf::from("/sbin/nginx")
            ]
        );
        assert_eq!(
            usr_merge_twins(Path::new("/sbin/nginx")),
            vec![
                PathBuf::from("/sbin/nginx"),
                PathBuf::from("/usr/sbin/nginx")
            ]
        );
        assert_eq!(
            usr_merge_twins(Path::new("/lib64/ld.so")),
            vec![
                PathBuf::from("/lib64/ld.so"),
                PathBuf::from("/usr/lib64/ld.so")
            ]
        );
        assert_eq!(
            usr_merge_twins(Path::new("/opt/app/bin/x")),
            vec![PathBuf::from("/opt/app/bin/x")]
        );
        // `/usr/libexec` is not merged; `/usr/lib/` must not match `/usr/lib64/`.
        assert_eq!(usr_merge_twins(Path::new("/usr/libexec/x")).len(), 1);
        assert_eq!(
            usr_merge_twins(Path::new("/usr/lib64/x"))[1],
            PathBuf::from("/lib64/x")
        );
    }
}
