//! A removal cut off inside dpkg (a power cut while `apt-get remove` ran): dpkg's status
//! keeps the packages half-removed and apt refuses everything until it is settled. When
//! every package dpkg left half-way is one a removal ledger says hostfix was removing,
//! and dpkg was removing it, the next `port free --remove-package` finishes it with
//! `dpkg --remove`; anything else is the operator's (`dpkg --configure -a`), and hostfix
//! refuses, naming the packages. `doctor` reports either case.

use std::path::Path;

use super::ledger::{Key, recorded_removals};
use crate::error::{Error, Refusal, Result};
use crate::finding::{Area, Diagnosis, Finding, FixOp, Severity};
use crate::host::Host;
use crate::package::{
    DpkgInterruption, PackageManager, Verdict, finish_command, judge_interruption,
    read_dpkg_interruption,
};
use crate::plan::{Exec, Risk, Runner};

/// The removals hostfix's ledgers record, by port: what they vouch for.
fn covered(host: &Host, state_dir: &Path) -> Result<Vec<(Key, Vec<String>)>> {
    Ok(recorded_removals(host, state_dir)?
        .into_iter()
        .filter(|(_, plan)| plan.manager == "dpkg")
        .map(|(k, plan)| {
            let mut names = plan.packages;
            names.extend(plan.removes);
            (k, names)
        })
        .collect())
}

fn all_covered(ledgers: &[(Key, Vec<String>)]) -> Vec<String> {
    ledgers
        .iter()
        .flat_map(|(_, n)| n.iter().cloned())
        .collect()
}

/// One line per package dpkg left half-way, and the journal.
fn describe(i: &DpkgInterruption) -> Vec<String> {
    let mut out: Vec<String> = i
        .packages
        .iter()
        .map(|p| {
            format!(
                "{}: Status: {}{}",
                p.package,
                p.status,
                if p.in_journal {
                    " (dpkg's journal)"
                } else {
                    ""
                }
            )
        })
        .collect();
    if !i.journal.is_empty() {
        out.push(format!(
            "{} holds {} unfinished entr{} ({})",
            crate::package::DPKG_UPDATES,
            i.journal.len(),
            if i.journal.len() == 1 { "y" } else { "ies" },
            i.journal.join(", ")
        ));
    }
    out
}

/// Before a removal on a dpkg host: finishes a removal hostfix recorded and dpkg was cut
/// off in, or refuses one it did not. `Ok(true)` when the finish is only planned (dry
/// run): what apt would do next cannot be asked until dpkg is settled.
///
/// # Errors
/// [`Refusal::DpkgInterrupted`] naming the packages hostfix may not settle; the
/// `dpkg --remove` failure, or [`Error::Unmet`] when dpkg is still half-way after it.
pub(crate) fn settle_dpkg(run: &mut Runner<'_>, pm: &dyn PackageManager) -> Result<bool> {
    if pm.name() != "dpkg" {
        return Ok(false);
    }
    let host = run.host();
    let Some(i) = read_dpkg_interruption(host)? else {
        return Ok(false);
    };
    run.observe(
        "dpkg's state",
        format!("interrupted: {}", describe(&i).join("; ")),
    );
    let state_dir = run.policy().state_dir.clone();
    let verdict = match covered(host, &state_dir) {
        Ok(ledgers) => judge_interruption(&i, &all_covered(&ledgers)),
        Err(e) => Verdict::Refuse(vec![format!(
            "hostfix's removal ledgers cannot be read: {e}"
        )]),
    };
    let packages = match verdict {
        Verdict::Refuse(why) => {
            let refusal = Refusal::DpkgInterrupted {
                packages: i.names(),
                why,
            };
            let action = "settle dpkg's interrupted work";
            return Err(run.refuse(action, Risk::Destructive, refusal));
        }
        Verdict::Finish(p) => p,
    };
    let cmd = finish_command(host, &packages);
    let exec = run.step(
        format!("finish the interrupted removal: {}", cmd.display()),
        Risk::Destructive,
        "dpkg was cut off removing packages hostfix recorded removing; apt refuses every \
         other change until the removal is finished",
        |h| {
            h.run_ok(&cmd)?;
            match read_dpkg_interruption(h)? {
                None => Ok(format!("removed {}", packages.join(", "))),
                Some(left) => Err(Error::Unmet(format!(
                    "dpkg is still half-way after `{}`: {}",
                    cmd.display(),
                    describe(&left).join("; ")
                ))),
            }
        },
    )?;
    if exec == Exec::Planned {
        run.observe(
            "the rest of the removal",
            "planned once dpkg has finished: apt cannot simulate it before",
        );
    }
    Ok(exec == Exec::Planned)
}

/// `doctor`: a dpkg left half-way, with its packages and whether hostfix can finish it.
pub(crate) fn diagnose(host: &Host, state_dir: &Path, d: &mut Diagnosis) {
    let i = match read_dpkg_interruption(host) {
        Ok(Some(i)) => i,
        Ok(None) => return,
        Err(e) => return d.unseen(format!("dpkg's state: {e}")),
    };
    d.fact("dpkg_interrupted", &i);
    match covered(host, state_dir) {
        Ok(ledgers) => d.add(finding(&i, Some(&ledgers))),
        Err(e) => {
            d.unseen(format!("hostfix's removal ledgers: {e}"));
            d.add(finding(&i, None));
        }
    }
}

/// The finding for an interruption, given the ledgers (`None`: they could not be read)
/// (pure).
fn finding(i: &DpkgInterruption, ledgers: Option<&[(Key, Vec<String>)]>) -> Finding {
    let names = i.names();
    let title = if names.is_empty() {
        "dpkg was interrupted: its journal is unfinished".to_string()
    } else {
        format!("dpkg was interrupted: {} left half-way", names.join(", "))
    };
    let mut f = Finding::new(Area::Packages, Severity::Problem, title);
    for line in describe(i) {
        f = f.evidence(line);
    }
    f = f.evidence("apt refuses to install or remove anything until it is settled");
    let Some(ledgers) = ledgers else {
        return f.evidence(
            "whether hostfix can finish it is unknown: its removal ledgers cannot be read \
             (run doctor as root)",
        );
    };
    match judge_interruption(i, &all_covered(ledgers)) {
        Verdict::Finish(_) => {
            // The ledger that names the first package says which run to repeat.
            let key = ledgers
                .iter()
                .find(|(_, n)| names.iter().any(|p| n.contains(p)))
                .map(|(k, _)| *k);
            f = f.evidence(
                "hostfix can finish it: its removal ledger records removing these packages",
            );
            if let Some(k) = key {
                f = f.fix(
                    FixOp::FreePort {
                        port: k.port,
                        proto: k.proto,
                        remove_package: true,
                    },
                    Risk::Destructive,
                );
            }
        }
        Verdict::Refuse(why) => {
            for w in why {
                f = f.evidence(format!("hostfix will not finish it: {w}"));
            }
            f = f.evidence(
                "settle it by hand: check what dpkg will do, then run `dpkg --configure -a`",
            );
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::parse_dpkg_interruption;
    use crate::port::Proto;

    fn cut() -> DpkgInterruption {
        DpkgInterruption {
            packages: parse_dpkg_interruption(
                "Package: dnsd\nStatus: purge ok half-installed\n",
                &[],
            ),
            journal: vec!["0001".into()],
        }
    }

    #[test]
    fn the_finding_names_the_run_that_finishes_it() {
        let key = Key {
            proto: Proto::Udp,
            port: 53,
        };
        let f = finding(&cut(), Some(&[(key, vec!["dnsd".into()])]));
        let fix = f.fix.as_ref().unwrap();
        assert_eq!(fix.command, "hostfix port free 53 --udp --remove-package");
        assert!(
            f.evidence
                .iter()
                .any(|e| e.contains("1 unfinished entry (0001)"))
        );
        // Another port's ledger does not cover it.
        let f = finding(&cut(), Some(&[(key, vec!["other".into()])]));
        assert!(f.fix.is_none());
        assert!(f.evidence.iter().any(|e| e.contains("dpkg --configure -a")));
        // Unreadable ledgers: no verdict either way.
        let f = finding(&cut(), None);
        assert!(f.fix.is_none());
        assert!(f.evidence.iter().any(|e| e.contains("unknown")));
        assert!(!f.evidence.iter().any(|e| e.contains("will not finish")));
    }
}
