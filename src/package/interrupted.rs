//! dpkg left half-way: the packages a power cut or a kill stopped dpkg in the middle of
//! changing (`Status: deinstall ok half-configured`, `half-installed`, `unpacked`,
//! `triggers-pending` ...), and its journal (`/var/lib/dpkg/updates/NNNN`, status
//! paragraphs dpkg has written but not yet folded into the status file). While either is
//! there, apt refuses everything with "dpkg was interrupted, you must manually run
//! 'dpkg --configure -a'".
//!
//! The reading is a pure function of the status text and the journal's texts
//! ([`parse_dpkg_interruption`]); whether hostfix may finish the work is another
//! ([`judge_interruption`]): only when every package involved is one hostfix recorded it
//! was removing, and dpkg too was removing it.

use std::path::PathBuf;

use serde::Serialize;

use super::dpkg::{DpkgEntry, parse_dpkg_status};
use crate::error::{Error, Result};
use crate::host::{Cmd, Host};
use crate::state;

/// The dpkg states that mean dpkg stopped in the middle of a change (those
/// `dpkg --audit` reports).
const HALF_STATES: [&str; 5] = [
    "half-installed",
    "half-configured",
    "unpacked",
    "triggers-awaited",
    "triggers-pending",
];

/// dpkg's journal of changes not yet folded into the status file.
pub const DPKG_UPDATES: &str = "/var/lib/dpkg/updates";

/// A package dpkg stopped in the middle of changing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct InterruptedPackage {
    /// The package's name.
    pub package: String,
    /// The name dpkg knows this instance by: the package's name, or `name:arch` when
    /// several architectures of it are on the host (multi-arch), where dpkg refuses a
    /// bare name as ambiguous.
    pub instance: String,
    /// Its `Status:` as dpkg last recorded it (the journal's, when it has one).
    pub status: String,
    /// What dpkg was doing to it: its selection (`deinstall` and `purge` are removals).
    pub want: String,
    /// dpkg needs it reinstalled before anything else (`reinstreq`).
    pub reinstall_required: bool,
    /// Named in dpkg's unfinished journal.
    pub in_journal: bool,
    /// hostfix never removes it: essential, protected or required.
    pub protected: bool,
}

impl InterruptedPackage {
    /// Whether dpkg was removing it (its selection is `deinstall` or `purge`).
    pub fn being_removed(&self) -> bool {
        matches!(self.want.as_str(), "deinstall" | "purge")
    }

    /// Whether it is installed and whole, only its triggers waiting (`install ok
    /// triggers-pending` or `triggers-awaited`, not in the journal): a removal activates
    /// the triggers of packages such as man-db, and dpkg runs them when it finishes.
    pub fn triggers_only(&self) -> bool {
        !self.being_removed()
            && !self.in_journal
            && !self.reinstall_required
            && self.status.starts_with("install ok triggers-")
    }

    fn from_entry(e: &DpkgEntry, in_journal: bool, several: bool) -> Self {
        let instance = match (&e.architecture, several) {
            (Some(arch), true) => format!("{}:{arch}", e.package),
            _ => e.package.clone(),
        };
        InterruptedPackage {
            package: e.package.clone(),
            instance,
            status: format!("{} {} {}", e.want, e.flag, e.state),
            want: e.want.clone(),
            reinstall_required: e.flag == "reinstreq",
            in_journal,
            protected: e.to_info().never_removed().is_some(),
        }
    }
}

/// What dpkg left half-way on a host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DpkgInterruption {
    /// The packages involved: those in a half state, and those its journal names.
    pub packages: Vec<InterruptedPackage>,
    /// The journal's entries (file names under [`DPKG_UPDATES`]), in order.
    pub journal: Vec<String>,
}

impl DpkgInterruption {
    /// The packages' names as dpkg knows them ([`InterruptedPackage::instance`]), in order.
    pub fn names(&self) -> Vec<String> {
        self.packages.iter().map(|p| p.instance.clone()).collect()
    }
}

/// The packages dpkg left half-way, from the status file's text and its journal's
/// entries' texts in order (pure): the journal's paragraphs override the status file's,
/// as dpkg folds them; a package is involved when its state is a half state, dpkg needs
/// it reinstalled, or the journal names it.
pub fn parse_dpkg_interruption(status: &str, journal: &[String]) -> Vec<InterruptedPackage> {
    let key = |e: &DpkgEntry| (e.package.clone(), e.architecture.clone());
    let mut merged: Vec<(DpkgEntry, bool)> = parse_dpkg_status(status)
        .into_iter()
        .map(|e| (e, false))
        .collect();
    for text in journal {
        for e in parse_dpkg_status(text) {
            match merged.iter_mut().find(|(m, _)| key(m) == key(&e)) {
                Some(slot) => *slot = (e, true),
                None => merged.push((e, true)),
            }
        }
    }
    // A name with more than one instance on the host (one per architecture, not
    // `not-installed`) is ambiguous to dpkg: each instance is named `name:arch`.
    let present = |name: &str| {
        merged
            .iter()
            .filter(|(m, _)| m.package == name && m.state != "not-installed")
            .count()
    };
    merged
        .iter()
        .filter(|(e, in_journal)| {
            *in_journal || HALF_STATES.contains(&e.state.as_str()) || e.flag == "reinstreq"
        })
        .map(|(e, in_journal)| {
            InterruptedPackage::from_entry(e, *in_journal, present(&e.package) > 1)
        })
        .collect()
}

/// Whether a journal entry's name is one dpkg folds: digits only (`tmp.i` is the entry
/// being written, which dpkg discards).
fn is_journal_entry(name: &str) -> bool {
    !name.is_empty() && name.len() <= 32 && name.bytes().all(|b| b.is_ascii_digit())
}

/// Reads what dpkg left half-way on the host; `Ok(None)` when nothing is (or the host
/// has no dpkg).
///
/// # Errors
/// [`Error::Io`] when the status file or the journal cannot be read;
/// [`crate::error::Refusal::NotRegularFile`] for a journal entry that is a link, FIFO,
/// device or directory.
pub fn read_dpkg_interruption(host: &Host) -> Result<Option<DpkgInterruption>> {
    let Some(status) = host.read_opt("/var/lib/dpkg/status")? else {
        return Ok(None);
    };
    let dir = host.path(DPKG_UPDATES);
    let mut names: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| is_journal_entry(n))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::io("listing", DPKG_UPDATES, e)),
    };
    names.sort_by(|a, b| (a.len(), a).cmp(&(b.len(), b)));
    let mut texts = Vec::new();
    for n in &names {
        let p: PathBuf = dir.join(n);
        if let Some(bytes) = state::read_regular(&p)? {
            texts.push(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    let packages = parse_dpkg_interruption(&status, &texts);
    if packages.is_empty() && names.is_empty() {
        return Ok(None);
    }
    Ok(Some(DpkgInterruption {
        packages,
        journal: names,
    }))
}

/// What hostfix may do about an interruption.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Finish it: every package involved is one hostfix recorded it was removing and
    /// dpkg was removing; `dpkg --remove` these.
    Finish(Vec<String>),
    /// Leave it to the operator: why, package by package.
    Refuse(Vec<String>),
}

/// Whether hostfix may finish an interruption, given the packages its removal ledgers
/// recorded it was removing (`covered`) (pure). Packages only waiting for their triggers
/// ([`InterruptedPackage::triggers_only`]) are left to dpkg, which runs their triggers when
/// it finishes the removal; they are not removed.
pub fn judge_interruption(i: &DpkgInterruption, covered: &[String]) -> Verdict {
    let mut why = Vec::new();
    let mut finish = Vec::new();
    for p in &i.packages {
        // A multi-arch instance is covered only by its qualified name: a bare name in a
        // ledger (apt's native architecture) does not say which instance it was.
        let recorded = covered.contains(&p.instance);
        let reason = if p.triggers_only() && !recorded {
            continue;
        } else if !recorded && p.instance != p.package && covered.contains(&p.package) {
            "several architectures of it are installed and hostfix's record names none"
        } else if !recorded {
            "hostfix recorded no removal of it"
        } else if !p.being_removed() {
            "dpkg was installing or configuring it, not removing it"
        } else if p.reinstall_required {
            "dpkg needs it reinstalled first"
        } else if p.protected {
            "it is essential or required, which hostfix never removes"
        } else {
            finish.push(p.instance.clone());
            continue;
        };
        why.push(format!("{} ({}): {reason}", p.instance, p.status));
    }
    if why.is_empty() && finish.is_empty() && !i.packages.is_empty() {
        why.push("only triggers wait, and no removal of hostfix's is half-done".into());
    }
    if i.packages.is_empty() {
        why.push(format!(
            "dpkg's journal ({DPKG_UPDATES}: {}) names no package hostfix could check",
            i.journal.join(", ")
        ));
    }
    if why.is_empty() {
        Verdict::Finish(finish)
    } else {
        Verdict::Refuse(why)
    }
}

/// `dpkg --remove PACKAGES` (with `--root` on a host that is not the live root): what
/// finishes removals dpkg was cut off in, and folds its journal in.
pub fn finish_command(host: &Host, packages: &[String]) -> Cmd {
    let mut args: Vec<String> = Vec::new();
    if let Some(root) = super::root_args(host) {
        args.push("--root".into());
        args.push(root);
    }
    args.push("--remove".into());
    args.extend(packages.iter().cloned());
    Cmd::new("dpkg", args).env("DEBIAN_FRONTEND", "noninteractive")
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "\
Package: nginx-light
Status: deinstall ok half-configured
Source: nginx

Package: nginx-common
Status: install ok installed

Package: bash
Status: install ok installed
Essential: yes
";

    #[test]
    fn half_states_and_the_journal() {
        let p = parse_dpkg_interruption(STATUS, &[]);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].package, "nginx-light");
        assert_eq!(p[0].status, "deinstall ok half-configured");
        assert!(p[0].being_removed() && !p[0].in_journal);
        // The journal overrides the status file, in order.
        let j = vec![
            "Package: nginx-common\nStatus: deinstall ok half-installed\n".to_string(),
            "Package: nginx-light\nStatus: deinstall ok config-files\n".to_string(),
        ];
        let p = parse_dpkg_interruption(STATUS, &j);
        let names: Vec<&str> = p.iter().map(|p| p.package.as_str()).collect();
        assert_eq!(names, ["nginx-light", "nginx-common"]);
        assert_eq!(p[0].status, "deinstall ok config-files");
        assert!(p[0].in_journal && p[1].in_journal);
        let r = parse_dpkg_interruption("Package: x\nStatus: install reinstreq installed\n", &[]);
        assert!(r[0].reinstall_required && !r[0].being_removed());
        assert!(
            parse_dpkg_interruption("Package: a\nStatus: install ok unpacked\n", &[]).len() == 1
        );
    }

    #[test]
    fn only_recorded_removals_are_finished() {
        let i = DpkgInterruption {
            packages: parse_dpkg_interruption(STATUS, &[]),
            journal: vec![],
        };
        assert_eq!(
            judge_interruption(&i, &["nginx-light".into()]),
            Verdict::Finish(vec!["nginx-light".into()])
        );
        let Verdict::Refuse(why) = judge_interruption(&i, &["nginx".into()]) else {
            panic!("not covered, finished");
        };
        assert!(why[0].contains("nginx-light") && why[0].contains("no removal"));
        let inst = DpkgInterruption {
            packages: parse_dpkg_interruption("Package: a\nStatus: install ok unpacked\n", &[]),
            journal: vec![],
        };
        assert!(matches!(
            judge_interruption(&inst, &["a".into()]),
            Verdict::Refuse(_)
        ));
        let essential = DpkgInterruption {
            packages: parse_dpkg_interruption(
                "Package: a\nEssential: yes\nStatus: deinstall ok half-configured\n",
                &[],
            ),
            journal: vec![],
        };
        let Verdict::Refuse(why) = judge_interruption(&essential, &["a".into()]) else {
            panic!("an essential package finished");
        };
        assert!(why[0].contains("essential"), "{why:?}");
        let journal_only = DpkgInterruption {
            packages: vec![],
            journal: vec!["0000".into()],
        };
        assert!(matches!(
            judge_interruption(&journal_only, &[]),
            Verdict::Refuse(_)
        ));
        assert!(is_journal_entry("0007") && !is_journal_entry("tmp.i") && !is_journal_entry(""));
    }

    /// Two architectures of one package (multi-arch): dpkg refuses the bare name as
    /// ambiguous, so each instance is named `name:arch`, and only a record naming that
    /// instance lets hostfix finish it.
    #[test]
    fn multi_arch_instances_are_named_with_their_architecture() {
        let text = "\
Package: libfoo1
Architecture: amd64
Status: deinstall ok half-configured

Package: libfoo1
Architecture: i386
Status: install ok installed

Package: nginx-light
Architecture: amd64
Status: deinstall ok half-configured
";
        let i = DpkgInterruption {
            packages: parse_dpkg_interruption(text, &[]),
            journal: vec![],
        };
        assert_eq!(i.names(), ["libfoo1:amd64", "nginx-light"]);
        assert_eq!(i.packages[0].package, "libfoo1");
        let Verdict::Refuse(why) =
            judge_interruption(&i, &["libfoo1".into(), "nginx-light".into()])
        else {
            panic!("a bare name finished one of two instances");
        };
        assert!(why[0].starts_with("libfoo1:amd64") && why[0].contains("several architectures"));
        assert_eq!(
            judge_interruption(&i, &["libfoo1:amd64".into(), "nginx-light".into()]),
            Verdict::Finish(vec!["libfoo1:amd64".into(), "nginx-light".into()])
        );
        // The other instance gone (`not-installed`): the bare name is not ambiguous.
        let gone = text.replace("install ok installed", "purge ok not-installed");
        let i = parse_dpkg_interruption(&gone, &[]);
        assert_eq!(i[0].instance, "libfoo1");
    }

    /// A cut inside a removal often leaves man-db waiting for its triggers: dpkg runs
    /// them when it finishes; they alone are no removal to finish.
    #[test]
    fn packages_waiting_only_for_triggers_are_left_to_dpkg() {
        let text = format!("{STATUS}\nPackage: man-db\nStatus: install ok triggers-pending\n");
        let i = DpkgInterruption {
            packages: parse_dpkg_interruption(&text, &[]),
            journal: vec![],
        };
        assert_eq!(i.names(), ["nginx-light", "man-db"]);
        assert_eq!(
            judge_interruption(&i, &["nginx-light".into()]),
            Verdict::Finish(vec!["nginx-light".into()])
        );
        let alone = DpkgInterruption {
            packages: parse_dpkg_interruption(
                "Package: man-db\nStatus: install ok triggers-pending\n",
                &[],
            ),
            journal: vec![],
        };
        let Verdict::Refuse(why) = judge_interruption(&alone, &["nginx-light".into()]) else {
            panic!("triggers alone finished");
        };
        assert!(why[0].contains("only triggers"), "{why:?}");
        // In the journal, or half-configured, it is dpkg's unfinished work: refused.
        let journal = DpkgInterruption {
            packages: parse_dpkg_interruption(
                &text,
                &["Package: man-db\nStatus: install ok triggers-pending\n".into()],
            ),
            journal: vec!["0001".into()],
        };
        assert!(matches!(
            judge_interruption(&journal, &["nginx-light".into()]),
            Verdict::Refuse(_)
        ));
    }
}
