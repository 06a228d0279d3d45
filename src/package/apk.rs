//! apk (Alpine): `apk info --who-owns` for the owner, `/lib/apk/db/installed` for the
//! origin (source) package, `apk del -s` to simulate, `apk del` to remove.
//!
//! apk has no "essential" flag: a short list of base packages counts as required.

use std::path::Path;

use super::rpm::split_name_version;
use super::{
    PackageError, PackageInfo, PackageManager, Simulation, query, root_args, usr_merge_twins,
};
use crate::error::Result;
use crate::host::{Cmd, Host};

/// Packages an Alpine system cannot lose.
const BASE: [&str; 9] = [
    "alpine-base",
    "alpine-baselayout",
    "alpine-keys",
    "apk-tools",
    "busybox",
    "musl",
    "libc-utils",
    "openrc",
    "openssh-server",
];

/// The owning package's name from `apk info --who-owns PATH` (`/usr/sbin/nginx is owned
/// by nginx-1.24.0-r7`).
pub fn parse_apk_who_owns(stdout: &str) -> Option<String> {
    stdout.lines().find_map(|l| {
        let (_, nv) = l.split_once(" is owned by ")?;
        Some(split_name_version(nv.trim()).to_string())
    })
}

/// `(name, version, origin)` of every package in `/lib/apk/db/installed` (paragraphs of
/// `X:value` lines; `P` name, `V` version, `o` origin).
pub fn parse_apk_installed(text: &str) -> Vec<(String, Option<String>, Option<String>)> {
    let mut out = Vec::new();
    let (mut p, mut v, mut o) = (None, None, None);
    for line in text.lines().chain(std::iter::once("")) {
        if line.trim().is_empty() {
            if let Some(name) = p.take() {
                out.push((name, v.take(), o.take()));
            }
            v = None;
            o = None;
            continue;
        }
        match line.split_once(':') {
            Some(("P", val)) => p = Some(val.to_string()),
            Some(("V", val)) => v = Some(val.to_string()),
            Some(("o", val)) => o = Some(val.to_string()),
            _ => {}
        }
    }
    out
}

/// What `apk del -s` would remove: the names of its `(i/n) Purging NAME (VERSION)` and
/// `Deleting` lines; and the packages it names as keeping the removal from happening
/// (`  nginx: nginx-mod-http-echo` under "not removed due to").
pub fn parse_apk_del_simulation(stdout: &str) -> (Vec<String>, Vec<String>) {
    let mut removed = Vec::new();
    let mut blockers: Vec<String> = Vec::new();
    let mut in_blockers = false;
    for l in stdout.lines() {
        if l.contains("not removed due to") {
            in_blockers = true;
            continue;
        }
        if in_blockers {
            if let Some((_, who)) = l.trim().split_once(':') {
                for w in who.split_whitespace() {
                    if !blockers.iter().any(|b| b == w) {
                        blockers.push(w.to_string());
                    }
                }
                continue;
            }
            in_blockers = false;
        }
        let Some((_, rest)) = l.split_once(") ") else {
            continue;
        };
        let mut w = rest.split_whitespace();
        if matches!(w.next(), Some("Purging" | "Deleting")) {
            if let Some(name) = w.next() {
                removed.push(name.to_string());
            }
        }
    }
    (removed, blockers)
}

/// The apk backend.
#[derive(Debug, Default, Clone)]
pub struct Apk {
    root: Option<String>,
}

impl Apk {
    /// The backend acting on the live system.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))] // used by hostfix::testing
    pub fn new() -> Self {
        Apk { root: None }
    }

    /// The backend for a host: `apk --root ROOT` when its root is not `/`.
    pub fn for_host(host: &Host) -> Self {
        Apk {
            root: root_args(host),
        }
    }

    fn cmd<I: IntoIterator<Item = S>, S: Into<String>>(&self, args: I) -> Cmd {
        let mut all: Vec<String> = Vec::new();
        if let Some(r) = &self.root {
            all.extend(["--root".into(), r.clone()]);
        }
        all.extend(args.into_iter().map(Into::into));
        Cmd::new("apk", all)
    }
}

impl PackageManager for Apk {
    fn name(&self) -> &'static str {
        "apk"
    }

    fn owner(&self, host: &Host, path: &Path) -> Result<Option<String>> {
        for p in usr_merge_twins(path) {
            let cmd = self.cmd([
                "info".to_string(),
                "--who-owns".into(),
                crate::host::arg(&p),
            ]);
            if let Some(name) = query(host, &cmd)?.as_deref().and_then(parse_apk_who_owns) {
                return Ok(Some(name));
            }
        }
        Ok(None)
    }

    fn info(&self, host: &Host, package: &str) -> Result<Option<PackageInfo>> {
        let Some(db) = host.read_opt("/lib/apk/db/installed")? else {
            return Ok(None);
        };
        Ok(parse_apk_installed(&db)
            .into_iter()
            .find(|(n, _, _)| n == package)
            .map(|(name, version, origin)| PackageInfo {
                required: BASE.contains(&name.as_str()),
                source: origin.unwrap_or_else(|| name.clone()),
                name,
                version,
                ..Default::default()
            }))
    }

    fn simulate_removal(&self, host: &Host, packages: &[String]) -> Result<Simulation> {
        let mut set: Vec<String> = packages.to_vec();
        for _ in 0..32 {
            let mut args = vec!["del".to_string(), "-s".into()];
            args.extend(set.iter().cloned());
            let cmd = self.cmd(args);
            let out = host.system().run(&cmd)?;
            let (removed, blockers) = parse_apk_del_simulation(&out.stdout);
            let more: Vec<String> = blockers.into_iter().filter(|b| !set.contains(b)).collect();
            if !more.is_empty() {
                set.extend(more);
                continue;
            }
            if !out.success() {
                return Err(PackageError::Simulation {
                    manager: "apk".into(),
                    packages: packages.join(" "),
                    detail: out.to_error(&cmd).to_string(),
                }
                .into());
            }
            return Ok(Simulation {
                removes: removed,
                installs: Vec::new(),
            });
        }
        Err(PackageError::Simulation {
            manager: "apk".into(),
            packages: packages.join(" "),
            detail: "the set of dependent packages did not settle".into(),
        }
        .into())
    }

    fn removal_command(&self, _host: &Host, packages: &[String]) -> Cmd {
        let mut args = vec!["del".to_string(), "--no-progress".into()];
        args.extend(packages.iter().cloned());
        self.cmd(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_owns_and_db() {
        assert_eq!(
            parse_apk_who_owns("/usr/sbin/nginx is owned by nginx-1.24.0-r7\n").as_deref(),
            Some("nginx")
        );
        assert_eq!(parse_apk_who_owns("ERROR: x: Could not find owner\n"), None);
        let db = "C:Q1abc=\nP:nginx\nV:1.24.0-r7\no:nginx\n\nP:busybox\nV:1.36\n";
        let v = parse_apk_installed(db);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].2.as_deref(), Some("nginx"));
        assert_eq!(v[1].2, None);
    }

    #[test]
    fn del_simulation() {
        let out = "(1/2) Purging nginx (1.24.0-r7)\n(2/2) Purging pcre2 (10.42-r1)\nOK: 8 MiB\n";
        let (r, b) = parse_apk_del_simulation(out);
        assert_eq!(r, vec!["nginx", "pcre2"]);
        assert!(b.is_empty());
        let blocked = "World updated, but the following packages are not removed due to:\n  \
                       nginx: nginx-mod-http-echo nginx-mod-stream\n\nOK: 8 MiB\n";
        let (r, b) = parse_apk_del_simulation(blocked);
        assert!(r.is_empty());
        assert_eq!(b, vec!["nginx-mod-http-echo", "nginx-mod-stream"]);
    }
}
