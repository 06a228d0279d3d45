//! rpm (Fedora, RHEL, SUSE): `rpm -qf`, `rpm -q --qf`, `rpm -e --test`, `rpm -e`.
//!
//! rpm has no "essential" flag: the packages dnf and yum protect
//! (`/etc/dnf/protected.d/*.conf`, `/etc/yum/protected.d/*.conf`) and a short list of base
//! packages count as required.

use std::path::Path;

use super::{
    PackageError, PackageInfo, PackageManager, Simulation, query, root_args, usr_merge_twins,
};
use crate::error::Result;
use crate::host::{Cmd, Host};

/// Packages an rpm system cannot lose, whatever dnf's configuration says.
const BASE: [&str; 12] = [
    "glibc",
    "bash",
    "coreutils",
    "filesystem",
    "setup",
    "rpm",
    "systemd",
    "dnf",
    "yum",
    "sudo",
    "kernel-core",
    "openssh-server",
];

/// The name in a `NAME-VERSION-RELEASE[.ARCH]` string (`bar-1.0-1.x86_64` → `bar`).
pub fn split_name_version(nvr: &str) -> &str {
    let mut parts = nvr.rsplitn(3, '-');
    let _release = parts.next();
    let _version = parts.next();
    parts.next().unwrap_or(nvr)
}

/// The source package's name from `%{SOURCERPM}` (`nginx-1.24.0-1.fc39.src.rpm` →
/// `nginx`); `None` for `(none)`.
pub fn rpm_source_name(sourcerpm: &str) -> Option<String> {
    let s = sourcerpm.trim();
    let stem = s
        .strip_suffix(".src.rpm")
        .or_else(|| s.strip_suffix(".nosrc.rpm"))?;
    Some(split_name_version(stem).to_string())
}

/// The installed packages named by `rpm -e --test`'s "X is needed by (installed) NVR.ARCH"
/// lines: what else the removal would have to take.
pub fn parse_rpm_needed_by(stderr: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in stderr.lines() {
        if let Some((_, nvra)) = l.split_once("is needed by (installed) ") {
            let name = split_name_version(nvra.trim()).to_string();
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

/// The rpm backend.
#[derive(Debug, Default, Clone)]
pub struct Rpm {
    root: Option<String>,
    dbpath: Option<String>,
}

impl Rpm {
    /// The backend acting on the live system.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))] // used by hostfix::testing
    pub fn new() -> Self {
        Rpm::default()
    }

    /// The backend for a host: `rpm --root ROOT --dbpath DB` when its root is not `/`, DB
    /// being the database the root has (`/usr/lib/sysimage/rpm` or `/var/lib/rpm`; the
    /// tool's own default may be another, as on Debian).
    pub fn for_host(host: &Host) -> Self {
        let root = root_args(host);
        let dbpath = root.as_ref().and_then(|_| {
            ["/usr/lib/sysimage/rpm", "/var/lib/rpm"]
                .into_iter()
                .find(|d| host.path(d).is_dir())
                .map(str::to_string)
        });
        Rpm { root, dbpath }
    }

    fn cmd<I: IntoIterator<Item = S>, S: Into<String>>(&self, args: I) -> Cmd {
        let mut all: Vec<String> = Vec::new();
        if let Some(r) = &self.root {
            all.push("--root".into());
            all.push(r.clone());
        }
        if let Some(d) = &self.dbpath {
            all.push("--dbpath".into());
            all.push(d.clone());
        }
        all.extend(args.into_iter().map(Into::into));
        Cmd::new("rpm", all)
    }

    fn protected(host: &Host) -> Vec<String> {
        let mut out: Vec<String> = BASE.iter().map(|s| s.to_string()).collect();
        for dir in ["/etc/dnf/protected.d", "/etc/yum/protected.d"] {
            let Ok(rd) = std::fs::read_dir(host.path(dir)) else {
                continue;
            };
            for e in rd.flatten() {
                let Ok(text) = std::fs::read_to_string(e.path()) else {
                    continue;
                };
                out.extend(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(str::to_string),
                );
            }
        }
        out
    }
}

impl PackageManager for Rpm {
    fn name(&self) -> &'static str {
        "rpm"
    }

    fn owner(&self, host: &Host, path: &Path) -> Result<Option<String>> {
        for p in usr_merge_twins(path) {
            let cmd = self.cmd(["-qf", "--qf", "%{NAME}\\n", &crate::host::arg(&p)]);
            if let Some(out) = query(host, &cmd)? {
                if let Some(name) = out.lines().next().filter(|l| !l.is_empty()) {
                    return Ok(Some(name.to_string()));
                }
            }
        }
        Ok(None)
    }

    fn info(&self, host: &Host, package: &str) -> Result<Option<PackageInfo>> {
        let cmd = self.cmd([
            "-q",
            "--qf",
            "%{NAME}\\t%{VERSION}-%{RELEASE}\\t%{SOURCERPM}\\n",
            package,
        ]);
        let Some(out) = query(host, &cmd)? else {
            return Ok(None);
        };
        let Some(line) = out.lines().next() else {
            return Ok(None);
        };
        let mut f = line.split('\t');
        let name = f.next().unwrap_or(package).to_string();
        let version = f.next().map(str::to_string);
        let source = f.next().and_then(rpm_source_name).unwrap_or(name.clone());
        let required = Self::protected(host).contains(&name);
        Ok(Some(PackageInfo {
            name,
            version,
            source,
            required,
            ..Default::default()
        }))
    }

    fn simulate_removal(&self, host: &Host, packages: &[String]) -> Result<Simulation> {
        // `rpm -e` removes exactly what it is given and fails when an installed package
        // needs one of them; grow the set by what it names until it passes.
        let mut set: Vec<String> = packages.to_vec();
        for _ in 0..32 {
            let mut args = vec!["-e".to_string(), "--test".into()];
            args.extend(set.iter().cloned());
            let cmd = self.cmd(args);
            let out = host.system().run(&cmd)?;
            if out.success() {
                return Ok(Simulation {
                    removes: set,
                    installs: Vec::new(),
                });
            }
            let more: Vec<String> = parse_rpm_needed_by(&out.stderr)
                .into_iter()
                .filter(|n| !set.contains(n))
                .collect();
            if more.is_empty() {
                return Err(PackageError::Simulation {
                    manager: "rpm".into(),
                    packages: packages.join(" "),
                    detail: out.to_error(&cmd).to_string(),
                }
                .into());
            }
            set.extend(more);
        }
        Err(PackageError::Simulation {
            manager: "rpm".into(),
            packages: packages.join(" "),
            detail: "the set of dependent packages did not settle".into(),
        }
        .into())
    }

    fn removal_command(&self, _host: &Host, packages: &[String]) -> Cmd {
        let mut args = vec!["-e".to_string()];
        args.extend(packages.iter().cloned());
        self.cmd(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{CmdOutput, RecordingSystem};
    use std::sync::Arc;

    #[test]
    fn names_from_nvr_and_sourcerpm() {
        assert_eq!(split_name_version("bar-1.0-1.x86_64"), "bar");
        assert_eq!(
            split_name_version("python3-libs-3.12.1-2.fc39.x86_64"),
            "python3-libs"
        );
        assert_eq!(
            rpm_source_name("nginx-1.24.0-1.fc39.src.rpm").as_deref(),
            Some("nginx")
        );
        assert_eq!(rpm_source_name("(none)"), None);
    }

    #[test]
    fn needed_by_lines() {
        let e = "error: Failed dependencies:\n\
\tnginx-core = 1:1.24.0-1.fc39 is needed by (installed) nginx-1:1.24.0-1.fc39.x86_64\n\
\tlibpython3.12.so.1.0()(64bit) is needed by (installed) python3-3.12.1-2.fc39.x86_64\n";
        assert_eq!(parse_rpm_needed_by(e), vec!["nginx", "python3"]);
    }

    #[test]
    fn recorded_queries_and_closure() {
        let rec = Arc::new(RecordingSystem::new());
        rec.respond(
            "rpm -qf --qf %{NAME}\\n /usr/sbin/nginx",
            CmdOutput::failed(1, ""),
        );
        rec.respond(
            "rpm -qf --qf %{NAME}\\n /sbin/nginx",
            CmdOutput::ok("nginx-core\n"),
        );
        rec.respond(
            "rpm -q --qf",
            CmdOutput::ok("nginx-core\t1.24.0-1.fc39\tnginx-1.24.0-1.fc39.src.rpm\n"),
        );
        rec.respond_once(
            "rpm -e --test nginx-core",
            CmdOutput::failed(
                1,
                "error: Failed dependencies:\n\tnginx-core is needed by (installed) \
                 nginx-1:1.24.0-1.fc39.x86_64\n",
            ),
        );
        rec.respond("rpm -e --test nginx-core nginx", CmdOutput::ok(""));
        let host = Host::with_system("/", rec.clone());
        let r = Rpm::new();
        assert_eq!(
            r.owner(&host, Path::new("/usr/sbin/nginx")).unwrap(),
            Some("nginx-core".into())
        );
        let i = r.info(&host, "nginx-core").unwrap().unwrap();
        assert_eq!(i.source, "nginx");
        assert!(!i.required);
        assert_eq!(
            r.simulate_removal(&host, &["nginx-core".into()])
                .unwrap()
                .removes,
            vec!["nginx-core", "nginx"]
        );
        assert_eq!(
            r.removal_command(&host, &["nginx-core".into()]).display(),
            "rpm -e nginx-core"
        );
    }
}
