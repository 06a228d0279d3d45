//! dpkg/apt: the database read from the host's root (`/var/lib/dpkg/status`,
//! `/var/lib/dpkg/info/*.list`), `apt-get -s remove` to simulate, `apt-get remove` to
//! remove.

use std::path::{Path, PathBuf};

use super::{PackageError, PackageInfo, PackageManager, Relations, Simulation, usr_merge_twins};
use crate::error::{Error, Result};
use crate::host::{Cmd, Host};

/// One paragraph of `/var/lib/dpkg/status`, with the fields hostfix uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DpkgEntry {
    /// `Package:`.
    pub package: String,
    /// `Architecture:`.
    pub architecture: Option<String>,
    /// `Version:`.
    pub version: Option<String>,
    /// The first word of `Status:`, the selection (`install`, `hold`, `deinstall`,
    /// `purge`, `unknown`).
    pub want: String,
    /// The second word of `Status:` (`ok`, or `reinstreq` when dpkg needs the package
    /// reinstalled before anything else is done with it).
    pub flag: String,
    /// The state word of `Status:` (`installed`, `config-files`, `half-configured`, ...).
    pub state: String,
    /// `Source:` without its version (`nginx` for `Source: nginx (1.22.1-9)`).
    pub source: Option<String>,
    /// `Essential: yes`.
    pub essential: bool,
    /// `Protected: yes` (dpkg 1.20+).
    pub protected: bool,
    /// `Priority:`.
    pub priority: Option<String>,
    /// The names in `Depends:` and `Pre-Depends:`.
    pub depends: Vec<String>,
    /// The names in `Provides:`.
    pub provides: Vec<String>,
}

impl DpkgEntry {
    /// Whether the package's files are on disk (anything but `not-installed` and
    /// `config-files`).
    pub fn is_installed(&self) -> bool {
        !matches!(self.state.as_str(), "not-installed" | "config-files" | "")
    }

    /// As a [`PackageInfo`].
    pub fn to_info(&self) -> PackageInfo {
        PackageInfo {
            name: self.package.clone(),
            version: self.version.clone(),
            source: self.source.clone().unwrap_or_else(|| self.package.clone()),
            essential: self.essential || self.protected,
            required: self.priority.as_deref() == Some("required"),
            required_by: Vec::new(),
        }
    }

    /// Its `Depends`/`Pre-Depends` and `Provides` names.
    pub fn relations(&self) -> Relations {
        Relations {
            depends: self.depends.clone(),
            provides: self.provides.clone(),
        }
    }
}

/// The package names of a dpkg relation field, in order and without duplicates:
/// `libc6 (>= 2.34), nginx-common (<< 1.23) | httpd, perl:any` gives `libc6`,
/// `nginx-common`, `httpd`, `perl` (versions, architecture qualifiers and build
/// profiles dropped).
pub fn parse_dpkg_relation_names(value: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for alt in value.split([',', '|']) {
        let Some(name) = alt
            .split(|c: char| c.is_whitespace() || c == '(' || c == '[' || c == '<')
            .find(|w| !w.is_empty())
        else {
            continue;
        };
        let name = strip_arch(name).to_string();
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// Parses `/var/lib/dpkg/status`: paragraphs separated by blank lines, `Field: value`
/// lines, continuation lines starting with a space.
pub fn parse_dpkg_status(text: &str) -> Vec<DpkgEntry> {
    let mut out = Vec::new();
    let mut cur = DpkgEntry::default();
    let mut any = false;
    for line in text.lines().chain(std::iter::once("")) {
        if line.trim().is_empty() {
            if any && !cur.package.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            cur = DpkgEntry::default();
            any = false;
            continue;
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        any = true;
        let value = value.trim();
        match key {
            "Package" => cur.package = value.to_string(),
            "Architecture" => cur.architecture = Some(value.to_string()),
            "Version" => cur.version = Some(value.to_string()),
            "Status" => {
                let mut w = value.split_whitespace().map(str::to_string);
                cur.want = w.next().unwrap_or_default();
                cur.flag = w.next().unwrap_or_default();
                cur.state = w.next().unwrap_or_default();
            }
            "Source" => {
                cur.source = value.split_whitespace().next().map(str::to_string);
            }
            "Essential" => cur.essential = value == "yes",
            "Protected" => cur.protected = value == "yes",
            "Priority" => cur.priority = Some(value.to_string()),
            "Depends" | "Pre-Depends" => {
                for n in parse_dpkg_relation_names(value) {
                    if !cur.depends.contains(&n) {
                        cur.depends.push(n);
                    }
                }
            }
            "Provides" => cur.provides = parse_dpkg_relation_names(value),
            _ => {}
        }
    }
    out
}

/// Whether a `.list` file names one of `candidates` exactly.
pub fn list_owns(list: &str, candidates: &[PathBuf]) -> bool {
    list.lines()
        .any(|l| candidates.iter().any(|c| c.as_os_str() == l.trim_end()))
}

/// What `apt-get -s remove` would do: the names of its `Remv NAME [VERSION]` lines, and
/// of its `Inst` lines (a removal can make apt upgrade another package), without
/// architecture qualifiers.
pub fn parse_apt_simulation(stdout: &str) -> Simulation {
    let mut out = Simulation::default();
    for l in stdout.lines() {
        let mut w = l.split_whitespace();
        let list = match w.next() {
            Some("Remv") => &mut out.removes,
            Some("Inst") => &mut out.installs,
            _ => continue,
        };
        if let Some(name) = w.next() {
            let name = strip_arch(name).to_string();
            if !list.contains(&name) {
                list.push(name);
            }
        }
    }
    out
}

/// `libc6:amd64` → `libc6`.
pub fn strip_arch(name: &str) -> &str {
    name.split_once(':').map_or(name, |(n, _)| n)
}

/// The dpkg/apt backend.
#[derive(Debug, Default, Clone)]
pub struct Dpkg;

impl Dpkg {
    /// The backend for Debian and its derivatives.
    pub fn new() -> Self {
        Dpkg
    }

    /// Every package paragraph of the host's dpkg status file.
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be read.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))] // used by hostfix::testing
    pub fn status(&self, host: &Host) -> Result<Vec<DpkgEntry>> {
        Ok(parse_dpkg_status(&host.read("/var/lib/dpkg/status")?))
    }
}

/// The installed paragraph of `name` in a dpkg status text (only its paragraphs are
/// parsed).
fn find_entry(text: &str, name: &str) -> Option<DpkgEntry> {
    let head = format!("Package: {name}");
    text.split("\n\n")
        .filter(|p| p.lines().any(|l| l == head))
        .flat_map(parse_dpkg_status)
        .find(|e| e.package == name && e.is_installed())
}

/// Files whose name starts like the executable's name are searched first: `nginx` is in
/// `nginx-light.list`, `python3.11` in `python3.11-minimal.list`.
fn search_order(names: &mut [String], exe_name: &str) {
    let stem: String = exe_name
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    names.sort_by_key(|n| (stem.is_empty() || !n.starts_with(&stem), n.clone()));
}

impl PackageManager for Dpkg {
    fn name(&self) -> &'static str {
        "dpkg"
    }

    fn owner(&self, host: &Host, path: &Path) -> Result<Option<String>> {
        let info = host.path("/var/lib/dpkg/info");
        let rd = std::fs::read_dir(&info).map_err(|e| Error::io("listing", &info, e))?;
        let mut names: Vec<String> = rd
            .filter_map(|e| {
                let n = e.ok()?.file_name().into_string().ok()?;
                n.ends_with(".list").then_some(n)
            })
            .collect();
        let base = path
            .file_name()
            .map(|b| b.to_string_lossy().into_owned())
            .unwrap_or_default();
        search_order(&mut names, &base);
        let twins = usr_merge_twins(path);
        // A directory on the path may be a symlink (`/lib` → `usr/lib`, or a local one):
        // a database line with the same file name whose directory resolves to the same
        // place names the same file.
        let real_dir = path
            .parent()
            .and_then(|d| std::fs::canonicalize(host.path(d)).ok());
        let suffix = format!("/{base}");
        for n in names {
            let p = info.join(&n);
            let text = match std::fs::read_to_string(&p) {
                Ok(t) => t,
                // A package removed while we read: it owns nothing any more.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io("reading", host.host_path(&p), e)),
            };
            // Most files do not mention the name at all: a substring search rules them
            // out before any line is looked at.
            if !base.is_empty() && !text.contains(&suffix) {
                continue;
            }
            let found = list_owns(&text, &twins)
                || (!base.is_empty()
                    && real_dir.as_ref().is_some_and(|want| {
                        text.lines().filter(|l| l.ends_with(&suffix)).any(|l| {
                            Path::new(l)
                                .parent()
                                .and_then(|d| std::fs::canonicalize(host.path(d)).ok())
                                .is_some_and(|d| &d == want)
                        })
                    }));
            if found {
                let pkg = strip_arch(n.trim_end_matches(".list")).to_string();
                log::debug!("dpkg: {} is owned by {pkg}", path.display());
                return Ok(Some(pkg));
            }
        }
        Ok(None)
    }

    fn info(&self, host: &Host, package: &str) -> Result<Option<PackageInfo>> {
        let name = strip_arch(package);
        let text = host.read("/var/lib/dpkg/status")?;
        let Some(entry) = find_entry(&text, name) else {
            return Ok(None);
        };
        let mut info = entry.to_info();
        // The same source's installed packages that depend on it: only paragraphs that
        // mention the name at all are parsed.
        info.required_by = text
            .split("\n\n")
            .filter(|p| p.contains(name))
            .flat_map(parse_dpkg_status)
            .filter(|e| {
                e.is_installed()
                    && e.package != name
                    && e.depends.iter().any(|d| d == name)
                    && e.source.as_deref().unwrap_or(&e.package) == info.source
            })
            .map(|e| e.package)
            .collect();
        Ok(Some(info))
    }

    fn relations(&self, host: &Host, package: &str) -> Result<Relations> {
        let text = host.read("/var/lib/dpkg/status")?;
        Ok(find_entry(&text, strip_arch(package))
            .map(|e| e.relations())
            .unwrap_or_default())
    }

    fn simulate_removal(&self, host: &Host, packages: &[String]) -> Result<Simulation> {
        let mut args = vec!["-s".to_string(), "-q".into(), "remove".into()];
        args.extend(packages.iter().cloned());
        let cmd = Cmd::new("apt-get", args).env("DEBIAN_FRONTEND", "noninteractive");
        let out = host.system().run(&cmd)?;
        if !out.success() {
            // apt explains unmet dependencies on stdout (`python3 : PreDepends: ...`).
            let unmet: Vec<&str> = out
                .stdout
                .lines()
                .filter(|l| l.contains(" : ") || l.trim_start().starts_with("Depends:"))
                .map(str::trim)
                .collect();
            let mut detail = out.to_error(&cmd).to_string();
            if !unmet.is_empty() {
                detail = format!("{detail} ({})", unmet.join("; "));
            }
            return Err(PackageError::Simulation {
                manager: "apt".into(),
                packages: packages.join(" "),
                detail,
            }
            .into());
        }
        Ok(parse_apt_simulation(&out.stdout))
    }

    fn removal_command(&self, _host: &Host, packages: &[String]) -> Cmd {
        // `remove`, not `purge`: configuration files stay, so a reinstall gets them back.
        let mut args: Vec<String> = [
            "-y",
            "-q",
            "-o",
            "Dpkg::Options::=--force-confold",
            "-o",
            "Dpkg::Options::=--force-confdef",
            "remove",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(packages.iter().cloned());
        Cmd::new("apt-get", args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .env("DEBCONF_NONINTERACTIVE_SEEN", "true")
            .env("APT_LISTCHANGES_FRONTEND", "none")
            .env("NEEDRESTART_MODE", "a")
            .env("NEEDRESTART_SUSPEND", "1")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "\
Package: nginx-light
Status: install ok installed
Priority: optional
Architecture: amd64
Source: nginx (1.22.1-9)
Version: 1.22.1-9
Description: nginx web/proxy server (basic version)
 multi-line description
 Essential: yes

Package: bash
Essential: yes
Status: install ok installed
Priority: required
Version: 5.2.15-2+b2

Package: apache2
Status: deinstall ok config-files
Version: 2.4.57-2
";

    #[test]
    fn status_paragraphs() {
        let s = parse_dpkg_status(STATUS);
        assert_eq!(s.len(), 3);
        let n = &s[0];
        assert_eq!(n.package, "nginx-light");
        assert_eq!(n.source.as_deref(), Some("nginx"));
        assert!(n.is_installed());
        assert!(!n.essential, "a continuation line is not a field");
        let i = n.to_info();
        assert_eq!(i.source, "nginx");
        assert!(i.never_removed().is_none());
        let b = s[1].to_info();
        assert_eq!(b.source, "bash");
        assert!(b.essential && b.required);
        assert!(!s[2].is_installed());
    }

    #[test]
    fn relation_names() {
        assert_eq!(
            parse_dpkg_relation_names(
                "libc6 (>= 2.34), nginx-common (<< 1.22.1-9+deb12u9.1~), nginx-common (>= 1), \
                 debconf (>= 0.5) | debconf-2.0, perl:any, foo [amd64], bar <!nocheck>"
            ),
            vec![
                "libc6",
                "nginx-common",
                "debconf",
                "debconf-2.0",
                "perl",
                "foo",
                "bar"
            ]
        );
        assert!(parse_dpkg_relation_names("").is_empty());
        let s = parse_dpkg_status(
            "Package: nginx\nStatus: install ok installed\nPre-Depends: iproute2\n\
             Depends: libc6 (>= 2.34), iproute2\nProvides: httpd, nginx-abi-1.22.1-7\n",
        );
        assert_eq!(s[0].depends, vec!["iproute2", "libc6"]);
        assert_eq!(s[0].provides, vec!["httpd", "nginx-abi-1.22.1-7"]);
    }

    #[test]
    fn apt_simulation_lines() {
        let out = "NOTE: This is only a simulation!\n\
Reading package lists...\n\
The following packages will be REMOVED:\n  nginx-common nginx-light\n\
Remv nginx-light [1.22.1-9]\n\
Remv nginx-common [1.22.1-9]\n\
Remv libfoo:amd64 [1]\n";
        assert_eq!(
            parse_apt_simulation(out).removes,
            vec!["nginx-light", "nginx-common", "libfoo"]
        );
        assert!(
            parse_apt_simulation("Package 'x' is not installed\n")
                .removes
                .is_empty()
        );
    }

    #[test]
    fn list_search_order_prefers_the_exe_name() {
        let mut n = vec![
            "adduser.list".to_string(),
            "nginx-light.list".into(),
            "libc6:amd64.list".into(),
        ];
        search_order(&mut n, "nginx");
        assert_eq!(n[0], "nginx-light.list");
        assert_eq!(strip_arch("libc6:amd64"), "libc6");
    }

    #[test]
    fn removal_is_non_interactive() {
        let c = Dpkg.removal_command(&Host::fake("/"), &["nginx-light".into()]);
        assert_eq!(
            c.display(),
            "apt-get -y -q -o Dpkg::Options::=--force-confold -o \
             Dpkg::Options::=--force-confdef remove nginx-light"
        );
        assert!(
            c.env
                .contains(&("DEBIAN_FRONTEND".into(), "noninteractive".into()))
        );
        assert!(c.env.contains(&("NEEDRESTART_MODE".into(), "a".into())));
    }
}
