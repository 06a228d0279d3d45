//! `doctor`'s view of swap files: every active area and every persisted swap file, their
//! health, and the command that fixes each problem.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::fstab::Fstab;
use super::observe::{self, Content, Observation, Target};
use super::planner::{Own, Ownership, ownership};
use super::proc_swaps::SwapEntry;
use crate::finding::{Area, Diagnosis, DoctorOptions, Finding, FixOp, Severity};
use crate::host::Host;
use crate::plan::Risk;
use crate::size::ByteSize;

mod problems;

use problems::{file_problems, ownership_problems};

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
#[cfg_attr(not(any(test, feature = "testing")), allow(dead_code))] // hostfix::testing
pub fn size_arg(bytes: u64) -> String {
    crate::finding::size_arg(bytes)
}

/// The `swap ensure` command for this path and size (at its default cap).
fn ensure_cmd(path: &Path, size: Option<u64>) -> String {
    ensure_op(path, size, false).command(Risk::Additive)
}

fn ensure_op(path: &Path, size: Option<u64>, persist_systemd: bool) -> FixOp {
    FixOp::EnsureSwap {
        path: path.to_path_buf(),
        size,
        persist_systemd,
    }
}

/// The swap file a swap-over path belongs to (`/d/.NAME.hostfix-swapover` → `/d/NAME`).
pub fn main_path_of_swapover(path: &Path) -> Option<PathBuf> {
    if !super::is_swapover_path(path) {
        return None;
    }
    let name = path.file_name()?.to_str()?;
    let main = name
        .strip_prefix('.')?
        .strip_suffix(observe::SWAPOVER_SUFFIX)?;
    (!main.is_empty()).then(|| path.with_file_name(main))
}

/// Adds the swap files' health to a diagnosis (the memory and swap totals come from
/// [`crate::resources`]). A swap-over area is reported with the swap file it serves, and
/// never offered as a file to persist.
pub fn diagnose(host: &Host, opts: &DoctorOptions, d: &mut Diagnosis) {
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
    let mut add = |p: PathBuf| {
        let p = main_path_of_swapover(&p).unwrap_or(p);
        if !paths.contains(&p) {
            paths.push(p);
        }
    };
    for e in &swaps {
        match area_finding(e) {
            Some(f) => d.add(f),
            None => add(host.host_path(&e.path)),
        }
    }
    for p in fstab_swap_files(host, !swaps.is_empty(), d) {
        add(p);
    }
    let mut health = Vec::new();
    for p in paths {
        if super::spec::check_path(&p).is_err() {
            continue;
        }
        match observe::observe(host, &p, &opts.state_dir) {
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

/// The finding for an active area that is not a swap file to look at: a partition, or
/// a file deleted while active; `None` for a swap file.
fn area_finding(e: &SwapEntry) -> Option<Finding> {
    if e.kind == "partition" {
        return Some(
            Finding::new(
                Area::Swap,
                Severity::Ok,
                format!("swap partition {}", e.path.display()),
            )
            .evidence(usage(e)),
        );
    }
    if e.deleted {
        return Some(
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
    }
    None
}

/// The swap files fstab names by path, in line order; a line that persists a swap-over
/// area is a finding too.
fn fstab_swap_files(host: &Host, any_active: bool, d: &mut Diagnosis) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    match super::observe::read_fstab(host) {
        Ok(Some(text)) => {
            for l in Fstab::parse(&text).lines {
                let Some(e) = &l.entry else { continue };
                if !e.is_swap() {
                    continue;
                }
                if e.spec.starts_with('/') && !e.spec.starts_with("/dev/") {
                    let p = super::spec::normalize(Path::new(&e.spec));
                    if super::is_swapover_path(&p) {
                        d.add(persisted_swapover(&l, &p));
                    }
                    paths.push(p);
                } else if !e.has_option("nofail") && any_active {
                    // Partitions by UUID/LABEL: only say something when it matters.
                    log::debug!("swap: fstab line {} ({}) has no nofail", l.number, e.spec);
                }
            }
        }
        Ok(None) => {}
        Err(e) => d.unseen(format!("/etc/fstab: {e}")),
    }
    paths
}

/// An fstab line that persists a swap-over area (an earlier doctor advised it): boot
/// would bring back a temporary area.
fn persisted_swapover(l: &super::fstab::FstabLine, p: &Path) -> Finding {
    Finding::new(
        Area::Swap,
        Severity::Warning,
        format!(
            "/etc/fstab line {} persists {}, a temporary swap-over area",
            l.number,
            p.display()
        ),
    )
    .evidence(format!("`{}`", l.body()))
    .evidence(
        "a swap-over area exists only during a resize and is never persisted: remove this \
         line from /etc/fstab yourself (hostfix does not edit lines it may not have written)",
    )
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
    let own = ownership(o);
    let mut problems = file_problems(o);
    problems.extend(ownership_problems(o, &own));
    let f = o.target.file();
    let size = f.map(|f| f.size);
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
    if severity > Severity::Ok {
        if let Some((op, risk)) = fix_op(o, &own) {
            finding = finding.fix(op, risk);
        }
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

/// The `swap ensure` that fixes what was found, and its risk; `None` when hostfix would
/// refuse (something there is not hostfix's, or holds data).
fn fix_op(o: &Observation, own: &Ownership) -> Option<(FixOp, Risk)> {
    let f = o.target.file();
    let not_ours = own.unreadable.is_some()
        || own.unseen.is_some()
        || own.file.as_ref().is_some_and(|x| !x.is_ours())
        || !own.foreign_lines.is_empty()
        || own.unit.as_ref().is_some_and(|x| !x.is_ours())
        || !own.foreign_unit_parts.is_empty()
        || o.parent_problem.is_some();
    let data = matches!(
        f.map(|f| &f.content),
        Some(Content::Data) | Some(Content::Hibernation { .. })
    );
    if not_ours || data || !matches!(o.target, Target::Missing | Target::File(_)) {
        return None;
    }
    let own_temp = own.temp.as_ref().is_some_and(Own::is_ours);
    // The size a resize was making, when one was interrupted; else the file's own.
    let resize_to = o
        .record
        .record()
        .and_then(|r| r.temp.as_ref())
        .map(|t| t.size)
        .filter(|s| own_temp && *s > 0);
    let size = resize_to.or(f.filter(|f| f.content.is_swap()).map(|f| f.size));
    let active_wrong = match (f, &o.active) {
        (Some(f), Some(_)) => {
            size.is_some_and(|s| s != f.size)
                || f.content
                    .header()
                    .is_some_and(|h| !h.fits(o.page_size, f.size))
        }
        _ => false,
    };
    let temp_active = own_temp && o.temp.as_ref().is_some_and(|t| t.active.is_some());
    let risk = if active_wrong || temp_active {
        Risk::Disruptive
    } else {
        Risk::Additive
    };
    let unit_only = own.own_lines.is_empty() && own.unit.as_ref().is_some_and(Own::is_ours);
    Some((ensure_op(&o.path, size, unit_only), risk))
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

    #[test]
    fn swapover_paths_map_to_their_swap_file() {
        assert_eq!(
            main_path_of_swapover(Path::new("/var/.swap.hostfix-swapover")),
            Some(PathBuf::from("/var/swap"))
        );
        assert_eq!(main_path_of_swapover(Path::new("/swapfile")), None);
        assert_eq!(main_path_of_swapover(Path::new("/.hostfix-swapover")), None);
    }
}
