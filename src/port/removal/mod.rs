//! `--remove-package`: the removal of the distro package that holds a port, planned
//! from the package manager's own simulation and checked before anything is done, and a
//! ledger so that a run interrupted between stopping the unit and removing the package
//! is finished by the next one.
//!
//! The ledger, `STATE_DIR/port-free-PROTO-PORT.json` (mode 0600, in a directory private
//! to root), is written atomically under the host lock before the unit is stopped, and
//! read as every state file is ([`crate::state::read_state_file`]): a regular file or
//! refused. One that cannot be used (torn, another version, package names no package
//! manager uses, another manager's) is never acted on and never silently dropped: the
//! run reports it, naming the file and how to reset it, and a new plan replaces it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::owner::PortOwner;
use crate::error::{Error, Refusal, Result};
use crate::host::{Cmd, Host, InitSystem};
use crate::package::{PackageError, PackageInfo, PackageManager, Relations};
use crate::protect;
use crate::resources::MemInfo;
use crate::size::ByteSize;

mod ledger;
mod settle;

pub(crate) use ledger::Key;
pub(super) use ledger::{drop_ledger, earlier_removal, write_ledger};
pub(crate) use settle::{diagnose as diagnose_dpkg, settle_dpkg};

/// The package removal `--remove-package` plans.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RemovalPlan {
    /// The package manager.
    pub manager: String,
    /// The packages asked to be removed: those whose programs hold the port, and the
    /// package of their unit file when it comes from the same source.
    pub packages: Vec<String>,
    /// Their source packages: everything removed must come from one of these.
    pub sources: Vec<String>,
    /// Everything the simulated removal would remove.
    pub removes: Vec<String>,
    /// The removal command.
    pub command: String,
}

/// The package of a unit's file (`systemctl show -p FragmentPath`), when it comes from
/// one of `sources`.
fn unit_package(host: &Host, pm: &dyn PackageManager, unit: &str) -> Option<PackageInfo> {
    let out = host
        .system()
        .run(&Cmd::new(
            "systemctl",
            ["show", "-p", "FragmentPath", "--value", unit],
        ))
        .ok()
        .filter(|o| o.success())?;
    let path = out.stdout.trim();
    if path.is_empty() {
        return None;
    }
    super::owner::lookup_package(host, pm, Path::new(path))
}

/// What checking a removal found: the facts worth showing, and the packages it would take
/// or why hostfix refuses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovalCheck {
    /// Observations to record (`what`, `found`), in order.
    pub notes: Vec<(String, String)>,
    /// Every package the simulated removal takes, or the refusal.
    pub outcome: std::result::Result<Vec<String>, Refusal>,
}

impl RemovalCheck {
    fn refused(notes: Vec<(String, String)>, refusal: Refusal) -> Self {
        RemovalCheck {
            notes,
            outcome: Err(refusal),
        }
    }
}

/// Simulates the removal of `packages` and checks what it would take: nothing essential
/// or required, nothing built from another source than `sources` but the add-ons tied
/// to them ([`tied_to_family`]), nothing installed or upgraded on the way. Read-only.
///
/// The package manager is not started when memory is too short for it
/// ([`short_for_packages`]): the run is refused, naming the swap to make first; a dry run
/// plans the removal of `packages` unsimulated and says so (a swap fix planned before it
/// would change the memory, and the real run checks again).
///
/// # Errors
/// When the package manager cannot be asked at all (its refusal to simulate is a
/// [`Refusal::Unsafe`] in the outcome instead).
pub(crate) fn check_removal(
    host: &Host,
    pm: &dyn PackageManager,
    packages: &[String],
    sources: &[String],
    dry_run: bool,
) -> Result<RemovalCheck> {
    let target = format!("package {}", packages.join(" "));
    let unsafe_ = |why: String| Refusal::Unsafe {
        target: target.clone(),
        why,
    };
    let mut notes = Vec::new();
    if let Some(why) = read_meminfo(host).as_ref().and_then(short_for_packages) {
        if !dry_run {
            return Ok(RemovalCheck::refused(notes, unsafe_(why)));
        }
        notes.push((
            format!("simulate the removal of {}", packages.join(" ")),
            format!("not simulated: {why}; the run checks it again"),
        ));
        return Ok(RemovalCheck {
            notes,
            outcome: Ok(packages.to_vec()),
        });
    }
    let sim = match pm.simulate_removal(host, packages) {
        Ok(s) => s,
        Err(Error::Package(PackageError::Simulation { detail, .. })) => {
            let why = format!(
                "{} will not remove it without breaking other packages: {detail}",
                pm.name()
            );
            return Ok(RemovalCheck::refused(notes, unsafe_(why)));
        }
        Err(e) => return Err(e),
    };
    notes.push((
        format!("simulate the removal of {}", packages.join(" ")),
        describe_simulation(&sim.removes, &sim.installs),
    ));
    if !sim.installs.is_empty() {
        let why = format!(
            "removing it would also install or upgrade {}",
            sim.installs.join(", ")
        );
        return Ok(RemovalCheck::refused(notes, unsafe_(why)));
    }
    let infos = match describe_all(host, pm, &sim.removes)? {
        Ok(infos) => infos,
        Err(refusal) => return Ok(RemovalCheck::refused(notes, refusal)),
    };
    if let Err(why) = check_family(host, pm, &infos, sources, &mut notes)? {
        return Ok(RemovalCheck::refused(notes, unsafe_(why)));
    }
    Ok(RemovalCheck {
        notes,
        outcome: Ok(sim.removes),
    })
}

/// The memory (available plus free swap) below which hostfix does not start the package
/// manager: apt 3 alone needs more than a small host without swap has left, and there
/// the system thrashes (`apt-get -s` ran for minutes on a 512 MiB Debian 13 guest at 14%
/// available) or the OOM killer ends dpkg half-way through the removal.
const PACKAGE_WORK_FLOOR: u64 = 160 << 20;

/// `/proc/meminfo`, when it can be read and parsed: without it the check is not made
/// (the removal's own errors still say what went wrong).
fn read_meminfo(host: &Host) -> Option<MemInfo> {
    let text = host.read_opt("/proc/meminfo").ok()??;
    MemInfo::parse(&text).ok()
}

/// Why the host has too little memory to run the package manager safely, if it has
/// (pure): available memory plus free swap under [`PACKAGE_WORK_FLOOR`].
pub(crate) fn short_for_packages(m: &MemInfo) -> Option<String> {
    let (available, _) = m.available();
    let headroom = available.saturating_add(m.swap_free);
    (headroom < PACKAGE_WORK_FLOOR).then(|| {
        format!(
            "memory is too short to run the package manager: {} available and {} of swap \
             free, under the {} hostfix wants (without it apt thrashes, or the OOM killer \
             ends dpkg half-way through the removal); make swap first: hostfix swap ensure \
             --size auto",
            ByteSize(available),
            ByteSize(m.swap_free),
            ByteSize(PACKAGE_WORK_FLOOR)
        )
    })
}

fn describe_simulation(removes: &[String], installs: &[String]) -> String {
    format!(
        "would remove: {}{}",
        if removes.is_empty() {
            "nothing".to_string()
        } else {
            removes.join(", ")
        },
        if installs.is_empty() {
            String::new()
        } else {
            format!("; would install or upgrade: {}", installs.join(", "))
        }
    )
}

/// Describes every package a removal takes; a protected or undescribable one is the
/// refusal.
fn describe_all(
    host: &Host,
    pm: &dyn PackageManager,
    names: &[String],
) -> Result<std::result::Result<Vec<PackageInfo>, Refusal>> {
    let mut infos = Vec::new();
    for name in names {
        match pm.info(host, name)? {
            Some(i) => {
                if let Some(why) = protect::package(&i) {
                    return Ok(Err(Refusal::Protected {
                        target: format!("package {}", i.name),
                        why,
                    }));
                }
                infos.push(i);
            }
            None => {
                return Ok(Err(Refusal::Unsafe {
                    target: format!("package {name}"),
                    why: format!(
                        "the simulation would remove {name}, which {} cannot describe",
                        pm.name()
                    ),
                }));
            }
        }
    }
    Ok(Ok(infos))
}

/// Checks that every package of another source than `sources` is an add-on tied to the
/// family; `Ok(Err(why))` names the first that is not.
fn check_family(
    host: &Host,
    pm: &dyn PackageManager,
    infos: &[PackageInfo],
    sources: &[String],
    notes: &mut Vec<(String, String)>,
) -> Result<std::result::Result<(), String>> {
    let (family, foreign): (Vec<&PackageInfo>, Vec<&PackageInfo>) =
        infos.iter().partition(|i| sources.contains(&i.source));
    if foreign.is_empty() {
        return Ok(Ok(()));
    }
    let mut family_rel = Vec::new();
    for f in &family {
        family_rel.push((f.name.as_str(), pm.relations(host, &f.name)?));
    }
    for p in foreign {
        let rel = pm.relations(host, &p.name)?;
        let Some((needs, wanted_by)) = tied_to_family(&p.name, &rel, &family_rel) else {
            return Ok(Err(format!(
                "removing it would also remove {} (built from {}), not only packages built \
                 from {} and the add-ons they pulled in",
                p.name,
                p.source,
                sources.join(", ")
            )));
        };
        notes.push((
            format!("why the removal takes {}", p.name),
            format!(
                "{} (built from {}) depends on {needs} and is installed for {wanted_by}: it \
                 goes with them",
                p.name, p.source
            ),
        ));
    }
    Ok(Ok(()))
}

/// Whether a package of another source goes with the family being removed: it depends
/// on one of the family's packages (or on a name one of them provides, such as nginx's
/// `nginx-abi-1.22.1-7`), and one of the family's packages depends on it, so the family
/// pulled it in as its own add-on (Debian 12's `nginx-light` depends on
/// `libnginx-mod-http-echo`, which depends on `nginx-abi-*`). Returns the family package
/// it needs and the one it was installed for. Anything else (a program that merely uses
/// the holder, as python3's many dependents use python3) is not tied.
pub fn tied_to_family<'a>(
    name: &str,
    rel: &Relations,
    family_rel: &[(&'a str, Relations)],
) -> Option<(&'a str, &'a str)> {
    let needs = family_rel.iter().find_map(|(f, r)| {
        (rel.depends.iter().any(|d| d == f) || r.provides.iter().any(|v| rel.depends.contains(v)))
            .then_some(*f)
    })?;
    let wanted_by = family_rel.iter().find_map(|(f, r)| {
        (r.depends.iter().any(|d| d == name) || rel.provides.iter().any(|v| r.depends.contains(v)))
            .then_some(*f)
    })?;
    Some((needs, wanted_by))
}

/// The packages whose programs hold the port (and their sources), plus the packages of
/// their units' files built from the same sources.
pub(crate) fn holder_packages(
    host: &Host,
    pm: &dyn PackageManager,
    t: &[PortOwner],
    units: &[String],
) -> (Vec<String>, Vec<String>) {
    let mut packages: Vec<String> = Vec::new();
    let mut sources: Vec<String> = Vec::new();
    for p in t.iter().filter_map(|o| o.package.as_ref()) {
        if !packages.contains(&p.name) {
            packages.push(p.name.clone());
        }
        if !sources.contains(&p.source) {
            sources.push(p.source.clone());
        }
    }
    if !packages.is_empty() && host.init_system() == InitSystem::Systemd {
        for u in units.iter().filter(|u| u.ends_with(".service")) {
            if let Some(p) = unit_package(host, pm, u) {
                if sources.contains(&p.source) && !packages.contains(&p.name) {
                    packages.push(p.name);
                }
            }
        }
    }
    (packages, sources)
}

/// A checked removal as a plan, or the refusal.
pub(crate) fn to_plan(
    host: &Host,
    pm: &dyn PackageManager,
    packages: Vec<String>,
    sources: Vec<String>,
    check: &RemovalCheck,
) -> std::result::Result<RemovalPlan, Refusal> {
    let removes = check.outcome.clone()?;
    Ok(RemovalPlan {
        manager: pm.name().to_string(),
        command: pm.removal_command(host, &packages).display(),
        sources,
        removes,
        packages,
    })
}

/// The packages of `names` still installed.
pub(crate) fn installed(host: &Host, pm: &dyn PackageManager, names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|p| matches!(pm.info(host, p), Ok(Some(_))))
        .cloned()
        .collect()
}

/// Removes the planned packages and verifies they are gone (the act of the removal rung).
///
/// # Errors
/// The package manager's failure, or [`Error::Unmet`] when a package is still installed.
pub(crate) fn remove_packages(
    host: &Host,
    pm: &dyn PackageManager,
    plan: &RemovalPlan,
) -> Result<String> {
    pm.remove(host, &plan.packages)?;
    let left = installed(host, pm, &plan.removes);
    if !left.is_empty() {
        return Err(Error::Unmet(format!(
            "still installed after the removal: {}",
            left.join(", ")
        )));
    }
    Ok(format!("removed {}", plan.removes.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(depends: &[&str], provides: &[&str]) -> Relations {
        Relations {
            depends: depends.iter().map(|s| s.to_string()).collect(),
            provides: provides.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn an_add_on_pulled_in_by_the_family_is_tied() {
        // Debian 12: nginx holds the binary, nginx-light (same source) pulled in the echo
        // module, which needs nginx's ABI.
        let family = vec![
            (
                "nginx",
                rel(&["libc6", "nginx-common"], &["httpd", "nginx-abi-1.22.1-7"]),
            ),
            ("nginx-common", rel(&["debconf"], &[])),
            (
                "nginx-light",
                rel(&["libnginx-mod-http-echo", "nginx"], &[]),
            ),
        ];
        let echo = rel(&["nginx-abi-1.22.1-7", "libc6"], &[]);
        assert_eq!(
            tied_to_family("libnginx-mod-http-echo", &echo, &family),
            Some(("nginx", "nginx-light"))
        );
        // Installed by hand, nothing of the family wants it: not tied.
        let geoip = rel(&["nginx-abi-1.22.1-7"], &[]);
        assert_eq!(tied_to_family("libnginx-mod-geoip", &geoip, &family), None);
        // Wanted by the family but not needing it (a shared library): apt would not
        // remove it, and if it did, it is not tied.
        assert_eq!(tied_to_family("libc6", &rel(&[], &[]), &family), None);
        // A dependent of python3 that python3 does not pull in.
        let py = vec![("python3", rel(&["python3.11", "python3-minimal"], &[]))];
        let apt = rel(&["python3", "libapt-pkg6.0"], &[]);
        assert_eq!(tied_to_family("python3-apt", &apt, &py), None);
        // A manager that records no relations ties nothing.
        assert_eq!(
            tied_to_family("libnginx-mod-http-echo", &Relations::default(), &family),
            None
        );
    }

    /// Memory plus free swap under 160 MiB: no package manager; swap counts.
    #[test]
    fn package_work_needs_memory_or_swap() {
        let mib = |n: u64| n << 20;
        let m = |avail: u64, swap_free: u64| MemInfo {
            mem_total: mib(470),
            mem_free: mib(10),
            mem_available: Some(avail),
            swap_total: swap_free,
            swap_free,
            ..MemInfo::default()
        };
        // The incident: 14% of 470 MiB available, no swap.
        let why = short_for_packages(&m(mib(66), 0)).expect("66 MiB and no swap passed");
        assert!(
            why.contains("66 MiB available") && why.contains("hostfix swap ensure"),
            "{why}"
        );
        assert!(short_for_packages(&m(mib(159), 0)).is_some());
        assert!(short_for_packages(&m(mib(160), 0)).is_none());
        // The same host once it has swap.
        assert!(short_for_packages(&m(mib(66), mib(470))).is_none());
        // A kernel without MemAvailable: the estimate (free + cache) decides.
        let old = MemInfo {
            mem_total: mib(470),
            mem_free: mib(20),
            cached: mib(200),
            ..MemInfo::default()
        };
        assert!(short_for_packages(&old).is_none());
    }
}
