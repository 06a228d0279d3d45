//! `doctor`'s view of swap files: every active area and every persisted swap file, their
//! health, and the command that fixes each problem.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::fstab::Fstab;
use super::observe::{self, Content, Observation, Target};
use super::proc_swaps::SwapEntry;
use crate::doctor::{Area, Diagnosis, DoctorOptions, Finding, Severity};
use crate::host::Host;
use crate::plan::Risk;
use crate::size::ByteSize;

/// One swap file as doctor sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SwapFileHealth {
    /// The host path.
    pub path: PathBuf,
    /// Whether it is active.
    pub active: bool,
    /// Its size, when it exists.
    pub file_bytes: Option<u64>,
    /// Where it is persisted.
    pub persisted_in: Vec<String>,
    /// What is wrong (empty when healthy).
    pub problems: Vec<String>,
}

/// A `--size` argument for a byte count (`2G`, `512M`, or bytes).
pub fn size_arg(bytes: u64) -> String {
    if bytes >= ByteSize::GIB && bytes % ByteSize::GIB == 0 {
        format!("{}G", bytes / ByteSize::GIB)
    } else if bytes % ByteSize::MIB == 0 && bytes > 0 {
        format!("{}M", bytes / ByteSize::MIB)
    } else {
        bytes.to_string()
    }
}

fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:=".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn ensure_cmd(path: &Path, size: Option<u64>) -> String {
    let mut c = format!(
        "hostfix swap ensure --size {}",
        size.map_or("auto".to_string(), size_arg)
    );
    if path != Path::new(super::spec::DEFAULT_PATH) {
        c.push_str(&format!(" --path {}", shell_quote(&path.to_string_lossy())));
    }
    c
}

/// Adds the swap files' health to a diagnosis (the memory and swap totals come from
/// [`crate::resources`]).
pub fn diagnose(host: &Host, _opts: &DoctorOptions, d: &mut Diagnosis) {
    let swaps = match super::active_swaps(host) {
        Ok(v) => v,
        Err(e) => {
            d.unseen(format!("active swap areas: {e}"));
            return;
        }
    };
    d.fact("swaps", &swaps);
    // The swap files to look at: every active file, and every path-named swap line in
    // fstab (under a non-/ root, active paths are mapped back to host paths).
    let mut paths: Vec<PathBuf> = Vec::new();
    for e in &swaps {
        if e.kind == "partition" {
            d.add(
                Finding::new(
                    Area::Swap,
                    Severity::Ok,
                    format!("swap partition {}", e.path.display()),
                )
                .evidence(usage(e)),
            );
            continue;
        }
        if e.deleted {
            d.add(
                Finding::new(
                    Area::Swap,
                    Severity::Warning,
                    format!("swap file {} was deleted while active", e.path.display()),
                )
                .evidence(usage(e))
                .evidence(
                    "its space comes back only when it is swapped off, which needs its path: \
                     reboot, or recreate the swap with hostfix swap ensure",
                ),
            );
            continue;
        }
        let hp = host.host_path(&e.path);
        if !paths.contains(&hp) {
            paths.push(hp);
        }
    }
    match host.read_opt("/etc/fstab") {
        Ok(Some(text)) => {
            for l in Fstab::parse(&text).lines {
                let Some(e) = l.entry else { continue };
                if !e.is_swap() {
                    continue;
                }
                if e.spec.starts_with('/') && !e.spec.starts_with("/dev/") {
                    let p = super::spec::normalize(Path::new(&e.spec));
                    if !paths.contains(&p) {
                        paths.push(p);
                    }
                } else if !e.has_option("nofail") && !swaps.is_empty() {
                    // Partitions by UUID/LABEL: only say something when it matters.
                    log::debug!("swap: fstab line {} ({}) has no nofail", l.number, e.spec);
                }
            }
        }
        Ok(None) => {}
        Err(e) => d.unseen(format!("/etc/fstab: {e}")),
    }
    let mut health = Vec::new();
    for p in paths {
        if super::spec::check_path(&p).is_err() {
            continue;
        }
        match observe::observe(host, &p) {
            Ok(o) => {
                let (finding, h) = file_finding(&o);
                d.add(finding);
                health.push(h);
            }
            Err(e) => d.unseen(format!("swap file {}: {e}", p.display())),
        }
    }
    d.fact("swap_files", &health);
}

fn usage(e: &SwapEntry) -> String {
    format!(
        "{} used of {}, priority {}",
        ByteSize(e.used_bytes),
        ByteSize(e.size_bytes),
        e.priority
    )
}

/// The finding for one swap file (pure given the observation).
pub fn file_finding(o: &Observation) -> (Finding, SwapFileHealth) {
    let mut problems: Vec<(Severity, String)> = Vec::new();
    let f = o.target.file();
    let size = f.map(|f| f.size);
    match &o.target {
        Target::Missing => problems.push((
            Severity::Warning,
            "persisted but the file does not exist (nofail hides it at boot)".into(),
        )),
        Target::File(f) => {
            if f.readable_by_others() {
                problems.push((
                    Severity::Problem,
                    format!(
                        "mode {:04o}, owner {}:{}: readable by other users, a leak of memory contents",
                        f.mode, f.uid, f.gid
                    ),
                ));
            } else if !f.owner_mode_ok() {
                problems.push((
                    Severity::Warning,
                    format!(
                        "mode {:04o}, owner {}:{}; swap wants root:root 0600",
                        f.mode, f.uid, f.gid
                    ),
                ));
            }
            match &f.content {
                Content::Swap(h) if !h.fits(o.page_size, f.size) => problems.push((
                    Severity::Warning,
                    format!(
                        "the header describes {}, the file is {}",
                        ByteSize(h.area_bytes()),
                        ByteSize(f.size)
                    ),
                )),
                Content::Swap(_) => {}
                Content::OldSwap => {
                    problems.push((Severity::Warning, "an old (v0) swap header".into()))
                }
                Content::Hibernation { magic } => problems.push((
                    Severity::Info,
                    format!("holds a hibernation image ({magic})"),
                )),
                Content::Zeros => problems.push((
                    Severity::Warning,
                    "only zeros, no swap header (an interrupted create?)".into(),
                )),
                Content::Data => problems.push((
                    Severity::Problem,
                    "persisted as swap but holds other data".into(),
                )),
            }
            if o.active.is_none() && f.holes {
                problems.push((Severity::Warning, "has holes: swapon will refuse it".into()));
            }
        }
        other => problems.push((
            Severity::Problem,
            format!("persisted as swap but the path is {other:?}").to_lowercase(),
        )),
    }
    if o.active.is_none() && o.target.file().is_some() {
        problems.push((Severity::Warning, "persisted but not active".into()));
    }
    let persisted = o.fstab.lines.len() + usize::from(o.unit.content.is_some() && o.unit.enabled);
    if o.active.is_some() && persisted == 0 {
        problems.push((
            Severity::Warning,
            "active but not persisted: gone after the next reboot".into(),
        ));
    }
    if o.fstab.lines.len() > 1 {
        problems.push((
            Severity::Warning,
            format!("{} fstab lines name it", o.fstab.lines.len()),
        ));
    }
    for l in &o.fstab.lines {
        if !l.entry.has_option("nofail") {
            problems.push((
                Severity::Info,
                format!(
                    "fstab line {} lacks nofail: a missing file fails the boot",
                    l.number
                ),
            ));
        }
    }
    if !o.fstab.by_uuid_or_label.is_empty() {
        problems.push((
            Severity::Warning,
            format!(
                "fstab line(s) {:?} name it by UUID or LABEL, which boot cannot resolve for a file",
                o.fstab.by_uuid_or_label
            ),
        ));
    }
    if let Some(t) = &o.temp {
        problems.push((
            Severity::Warning,
            format!(
                "a leftover swap-over area {} ({}) of an interrupted resize",
                t.path.display(),
                if t.active.is_some() {
                    "active"
                } else {
                    "inactive"
                }
            ),
        ));
    }
    let severity = problems
        .iter()
        .map(|(s, _)| *s)
        .max()
        .unwrap_or(Severity::Ok);
    let title = match (&o.active, severity) {
        (Some(e), Severity::Ok) => format!(
            "swap file {}: {} active, persisted",
            o.path.display(),
            ByteSize(e.size_bytes)
        ),
        _ => format!(
            "swap file {}: {}",
            o.path.display(),
            problems
                .iter()
                .filter(|(s, _)| *s == severity)
                .map(|(_, p)| p.as_str())
                .next()
                .unwrap_or("needs attention")
        ),
    };
    let mut finding = Finding::new(Area::Swap, severity, title);
    if let Some(e) = &o.active {
        finding = finding.evidence(usage(e));
    }
    for (_, p) in &problems {
        finding = finding.evidence(p.clone());
    }
    let fixable = severity > Severity::Ok
        && !matches!(
            f.map(|f| &f.content),
            Some(Content::Data) | Some(Content::Hibernation { .. })
        )
        && matches!(o.target, Target::Missing | Target::File(_));
    if fixable {
        let size = size.filter(|_| f.is_some_and(|f| f.content.is_swap()));
        // An active area whose header does not match its file needs a resize (swapoff).
        let risk = match (f.and_then(|f| f.content.header()), &o.active) {
            (Some(h), Some(_)) if f.is_some_and(|f| !h.fits(o.page_size, f.size)) => {
                Risk::Disruptive
            }
            _ => Risk::Additive,
        };
        let mut cmd = ensure_cmd(&o.path, size);
        if risk == Risk::Disruptive {
            cmd.push_str(" --max-risk disruptive");
        }
        finding = finding.fix(cmd, risk);
    }
    let health = SwapFileHealth {
        path: o.path.clone(),
        active: o.active.is_some(),
        file_bytes: size,
        persisted_in: o
            .fstab
            .lines
            .iter()
            .map(|l| format!("/etc/fstab line {}", l.number))
            .chain(o.unit.content.as_ref().map(|_| o.unit.name.clone()))
            .collect(),
        problems: problems.into_iter().map(|(_, p)| p).collect(),
    };
    (finding, health)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_args() {
        assert_eq!(size_arg(2 * ByteSize::GIB), "2G");
        assert_eq!(size_arg(512 * ByteSize::MIB), "512M");
        assert_eq!(size_arg(1000), "1000");
        assert_eq!(
            ensure_cmd(Path::new("/var/my swap"), Some(ByteSize::GIB)),
            "hostfix swap ensure --size 1G --path '/var/my swap'"
        );
        assert_eq!(
            ensure_cmd(Path::new("/swapfile"), None),
            "hostfix swap ensure --size auto"
        );
    }
}
