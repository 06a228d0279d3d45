//! pacman (Arch): `pacman -Qqo` for the owner, the local database's `desc` files for the
//! package base, `pacman -Rp` to simulate, `pacman -R --noconfirm` to remove.
//!
//! pacman has no "essential" flag: the `HoldPkg` packages of `pacman.conf` and a short list
//! of base packages count as required.

use std::path::Path;

use super::{
    PackageError, PackageInfo, PackageManager, Relations, Simulation, query, root_args,
    usr_merge_twins,
};
use crate::error::{Error, Result};
use crate::host::{Cmd, Host};

/// Packages an Arch system cannot lose, whatever `HoldPkg` says.
const BASE: [&str; 8] = [
    "base",
    "filesystem",
    "glibc",
    "pacman",
    "systemd",
    "bash",
    "coreutils",
    "openssh",
];

/// `(name, version, base)` from a local database `desc` file (`%NAME%`, `%VERSION%`,
/// `%BASE%` sections, one value per line after the header).
pub fn parse_pacman_desc(text: &str) -> Option<(String, Option<String>, Option<String>)> {
    let mut name = None;
    let mut version = None;
    let mut base = None;
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        let slot = match l.trim() {
            "%NAME%" => &mut name,
            "%VERSION%" => &mut version,
            "%BASE%" => &mut base,
            _ => continue,
        };
        *slot = lines
            .next()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string);
    }
    Some((name?, version, base))
}

/// The `%DEPENDS%` and `%PROVIDES%` names of a local database `desc` file, without
/// version constraints (`nginx=1.24.0`, `glibc>=2.38`) or descriptions.
pub fn parse_pacman_relations(text: &str) -> Relations {
    let mut out = Relations::default();
    let mut slot: Option<&mut Vec<String>> = None;
    for l in text.lines() {
        let l = l.trim();
        match l {
            "%DEPENDS%" => slot = Some(&mut out.depends),
            "%PROVIDES%" => slot = Some(&mut out.provides),
            "" => slot = None,
            _ if l.starts_with('%') && l.ends_with('%') => slot = None,
            _ => {
                if let Some(list) = slot.as_deref_mut() {
                    let name = l
                        .split(['<', '>', '=', ':'])
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_string();
                    if !name.is_empty() && !list.contains(&name) {
                        list.push(name);
                    }
                }
            }
        }
    }
    out
}

/// The `HoldPkg` packages of a `pacman.conf`.
pub fn parse_pacman_hold_pkgs(conf: &str) -> Vec<String> {
    conf.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.trim() == "HoldPkg")
        .flat_map(|(_, v)| v.split_whitespace().map(str::to_string))
        .collect()
}

/// The packages named by `pacman -Rp`'s ":: removing X breaks dependency 'X' required by
/// Y" lines: what else the removal would have to take.
pub fn parse_pacman_breaks(stderr: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in stderr.lines() {
        if let Some((_, who)) = l.split_once("required by ") {
            let who = who.trim().to_string();
            if !who.is_empty() && !out.contains(&who) {
                out.push(who);
            }
        }
    }
    out
}

/// The pacman backend.
#[derive(Debug, Default, Clone)]
pub struct Pacman {
    root: Option<String>,
}

impl Pacman {
    /// The backend acting on the live system.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))] // used by hostfix::testing
    pub fn new() -> Self {
        Pacman { root: None }
    }

    /// The backend for a host: `pacman --root ROOT --dbpath ROOT/var/lib/pacman` when its
    /// root is not `/`.
    pub fn for_host(host: &Host) -> Self {
        Pacman {
            root: root_args(host),
        }
    }

    fn cmd<I: IntoIterator<Item = S>, S: Into<String>>(&self, host: &Host, args: I) -> Cmd {
        let mut all: Vec<String> = Vec::new();
        if let Some(r) = &self.root {
            all.extend(["--root".into(), r.clone()]);
            all.extend([
                "--dbpath".into(),
                crate::host::arg(&host.path("/var/lib/pacman")),
            ]);
            let conf = host.path("/etc/pacman.conf");
            if conf.is_file() {
                all.extend(["--config".into(), crate::host::arg(&conf)]);
            }
            all.extend([
                "--logfile".into(),
                crate::host::arg(&host.path("/var/log/pacman.log")),
            ]);
        }
        all.extend(args.into_iter().map(Into::into));
        Cmd::new("pacman", all)
    }
}

impl PackageManager for Pacman {
    fn name(&self) -> &'static str {
        "pacman"
    }

    fn owner(&self, host: &Host, path: &Path) -> Result<Option<String>> {
        for p in usr_merge_twins(path) {
            // pacman -Qo takes the file's path as seen from here (under --root).
            let cmd = self.cmd(host, ["-Qqo".to_string(), crate::host::arg(&host.path(&p))]);
            if let Some(out) = query(host, &cmd)? {
                if let Some(name) = out.lines().next().filter(|l| !l.is_empty()) {
                    return Ok(Some(name.to_string()));
                }
            }
        }
        Ok(None)
    }

    fn info(&self, host: &Host, package: &str) -> Result<Option<PackageInfo>> {
        let local = host.path("/var/lib/pacman/local");
        let rd = match std::fs::read_dir(&local) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("listing", "/var/lib/pacman/local", e)),
        };
        let prefix = format!("{package}-");
        for e in rd.flatten() {
            let dir = e.file_name().to_string_lossy().into_owned();
            if !dir.starts_with(&prefix) {
                continue;
            }
            let Ok(desc) = std::fs::read_to_string(e.path().join("desc")) else {
                continue;
            };
            let Some((name, version, base)) = parse_pacman_desc(&desc) else {
                continue;
            };
            if name != package {
                continue;
            }
            let mut hold: Vec<String> = BASE.iter().map(|s| s.to_string()).collect();
            if let Ok(Some(conf)) = host.read_opt("/etc/pacman.conf") {
                hold.extend(parse_pacman_hold_pkgs(&conf));
            }
            return Ok(Some(PackageInfo {
                required: hold.contains(&name),
                source: base.unwrap_or_else(|| name.clone()),
                name,
                version,
                ..Default::default()
            }));
        }
        Ok(None)
    }

    fn relations(&self, host: &Host, package: &str) -> Result<Relations> {
        let local = host.path("/var/lib/pacman/local");
        let rd = match std::fs::read_dir(&local) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Relations::default()),
            Err(e) => return Err(Error::io("listing", "/var/lib/pacman/local", e)),
        };
        let prefix = format!("{package}-");
        for e in rd.flatten() {
            if !e.file_name().to_string_lossy().starts_with(&prefix) {
                continue;
            }
            let Ok(desc) = std::fs::read_to_string(e.path().join("desc")) else {
                continue;
            };
            if parse_pacman_desc(&desc).is_some_and(|(n, _, _)| n == package) {
                return Ok(parse_pacman_relations(&desc));
            }
        }
        Ok(Relations::default())
    }

    fn simulate_removal(&self, host: &Host, packages: &[String]) -> Result<Simulation> {
        let mut set: Vec<String> = packages.to_vec();
        for _ in 0..32 {
            let mut args = vec!["-Rp".to_string(), "--print-format".into(), "%n".into()];
            args.extend(set.iter().cloned());
            let cmd = self.cmd(host, args);
            let out = host.system().run(&cmd)?;
            if out.success() {
                let mut names: Vec<String> = out
                    .stdout
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with(['#', ':']))
                    .map(str::to_string)
                    .collect();
                for s in &set {
                    if !names.contains(s) {
                        names.push(s.clone());
                    }
                }
                return Ok(Simulation {
                    removes: names,
                    installs: Vec::new(),
                });
            }
            let text = format!("{}\n{}", out.stdout, out.stderr);
            let more: Vec<String> = parse_pacman_breaks(&text)
                .into_iter()
                .filter(|n| !set.contains(n))
                .collect();
            if more.is_empty() {
                return Err(PackageError::Simulation {
                    manager: "pacman".into(),
                    packages: packages.join(" "),
                    detail: out.to_error(&cmd).to_string(),
                }
                .into());
            }
            set.extend(more);
        }
        Err(PackageError::Simulation {
            manager: "pacman".into(),
            packages: packages.join(" "),
            detail: "the set of dependent packages did not settle".into(),
        }
        .into())
    }

    fn removal_command(&self, host: &Host, packages: &[String]) -> Cmd {
        let mut args = vec!["-R".to_string(), "--noconfirm".into()];
        args.extend(packages.iter().cloned());
        self.cmd(host, args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desc_and_conf() {
        let desc = "%NAME%\nnginx\n\n%VERSION%\n1.24.0-1\n\n%BASE%\nnginx-src\n\n%DESC%\nx\n";
        assert_eq!(
            parse_pacman_desc(desc),
            Some((
                "nginx".into(),
                Some("1.24.0-1".into()),
                Some("nginx-src".into())
            ))
        );
        assert_eq!(parse_pacman_desc("%VERSION%\n1\n"), None);
        let conf = "[options]\n# HoldPkg = no\nHoldPkg     = pacman glibc\nArchitecture = auto\n";
        assert_eq!(parse_pacman_hold_pkgs(conf), vec!["pacman", "glibc"]);
    }

    #[test]
    fn relations_of_a_desc() {
        let desc = "%NAME%\nnginx-mod-echo\n\n%DEPENDS%\nnginx=1.24.0\nglibc>=2.38\n\
                    libfoo.so=1-64\n\n%PROVIDES%\nnginx-echo\n\n%OPTDEPENDS%\nperl: for x\n";
        let r = parse_pacman_relations(desc);
        assert_eq!(r.depends, vec!["nginx", "glibc", "libfoo.so"]);
        assert_eq!(r.provides, vec!["nginx-echo"]);
    }

    #[test]
    fn breaks_lines() {
        let e = "error: failed to prepare transaction (could not satisfy dependencies)\n\
:: removing nginx breaks dependency 'nginx' required by nginx-mod-stream\n\
:: removing nginx breaks dependency 'nginx=1.24' required by certbot-nginx\n";
        assert_eq!(
            parse_pacman_breaks(e),
            vec!["nginx-mod-stream", "certbot-nginx"]
        );
    }
}
