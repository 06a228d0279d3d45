//! `doctor --fix`'s planning core (pure): which fix comes next, given a diagnosis, the
//! fixes already taken in this run and the risk cap.

use serde::Serialize;

use crate::finding::{Diagnosis, Fix, FixOp, Subject};
use crate::fix::Consent;
use crate::risk::Risk;

/// A fix and the finding it fixes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Candidate {
    /// The fix.
    #[serde(flatten)]
    pub fix: Fix,
    /// The finding's title.
    pub finding: String,
}

/// What `doctor --fix` does next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Next {
    /// Apply this fix: the least risky left, within the cap.
    Apply(Candidate),
    /// Stop: the least risky fix left is above the cap (exit 3 names it).
    AboveCap(Candidate),
    /// Stop: the least risky fix left removes a package (finishing a removal dpkg left
    /// half-way) and the caller gave no [`Consent::remove_package`] (exit 3 names it).
    NeedsConsent(Candidate),
    /// Nothing left to fix.
    Done,
}

/// Every fix a diagnosis names as `consent` under `cap` takes it ([`Consent::grant`]),
/// least risky first (findings' order among equals), each operation once; then `extra`
/// (fixes expected to appear, in a dry run).
pub fn candidates(
    d: &Diagnosis,
    extra: &[Candidate],
    cap: Risk,
    consent: &Consent,
) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let named = d.findings.iter().filter_map(|f| {
        f.fix.as_ref().map(|fix| Candidate {
            fix: consent.grant(fix, cap),
            finding: f.title.clone(),
        })
    });
    for c in named.chain(extra.iter().cloned()) {
        if !out.iter().any(|o| o.fix.op == c.fix.op) {
            out.push(c);
        }
    }
    // A stable sort keeps the request's order among fixes of the same risk.
    out.sort_by_key(|c| c.fix.risk);
    out
}

/// The next step of `doctor --fix` (pure): the least risky fix not yet taken in this run
/// (`taken`: a fix whose finding remains after it ran is not run again), applied when the
/// cap allows it, else the stop that names it.
pub fn next_fix(
    d: &Diagnosis,
    extra: &[Candidate],
    cap: Risk,
    consent: &Consent,
    taken: &[FixOp],
) -> Next {
    let left = candidates(d, extra, cap, consent)
        .into_iter()
        .find(|c| !taken.contains(&c.fix.op));
    match left {
        None => Next::Done,
        Some(c) if c.fix.risk > cap => Next::AboveCap(c),
        Some(c) if removes_package(&c.fix.op) && !consent.remove_package => Next::NeedsConsent(c),
        Some(c) => Next::Apply(c),
    }
}

/// Whether a fix removes a distro package: it needs [`Consent::remove_package`].
fn removes_package(op: &FixOp) -> bool {
    matches!(
        op,
        FixOp::FreePort {
            remove_package: true,
            ..
        }
    )
}

/// The engine doctor listed the containers with (its `containers` fact); Docker when it
/// did not say.
fn container_engine(d: &Diagnosis) -> crate::engine::EngineKind {
    d.facts
        .get("containers")
        .and_then(|c| c.get("kind"))
        .and_then(|k| serde_json::from_value(k.clone()).ok())
        .unwrap_or_default()
}

/// The fixes a fix is expected to make possible, for a dry run to show the whole sequence
/// (pure): freeing a port a container could not get lets that container start.
pub fn follow_ups(d: &Diagnosis, applied: &Fix) -> Vec<Candidate> {
    let FixOp::FreePort { port, .. } = &applied.op else {
        return Vec::new();
    };
    let frees_it = |op: &FixOp| matches!(op, FixOp::FreePort { port: p, .. } if p == port);
    d.findings
        .iter()
        .filter(|f| f.fix.as_ref().is_some_and(|x| frees_it(&x.op)))
        .flat_map(|f| {
            f.subjects.iter().filter_map(|s| match s {
                Subject::Container { id, name } => Some(Candidate {
                    fix: Fix::new(
                        FixOp::StartContainer {
                            id: id.clone(),
                            name: name.clone(),
                            ports: vec![*port],
                            engine: container_engine(d),
                        },
                        Risk::Additive,
                    ),
                    finding: f.title.clone(),
                }),
                _ => None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Area, Finding, Severity};
    use crate::net::Proto;

    fn free80() -> FixOp {
        FixOp::FreePort {
            port: 80,
            proto: Proto::Tcp,
            remove_package: false,
        }
    }

    fn swap() -> FixOp {
        FixOp::EnsureSwap {
            path: "/swapfile".into(),
            size: None,
            persist_systemd: false,
        }
    }

    /// The incident: port 80 held (disruptive), container web blocked on it (the same
    /// fix), no swap (additive), a reboot needed.
    fn incident() -> Diagnosis {
        let web = Subject::Container {
            id: "7c2d".into(),
            name: "web".into(),
        };
        let mut d = Diagnosis::default();
        for f in [
            Finding::new(Area::Ports, Severity::Info, "port 80/tcp: nginx")
                .fix(free80(), Risk::Disruptive),
            Finding::new(
                Area::Containers,
                Severity::Problem,
                "container web is created",
            )
            .fix(free80(), Risk::Disruptive)
            .about(web),
            Finding::new(Area::Memory, Severity::Problem, "no swap").fix(swap(), Risk::Additive),
            Finding::new(Area::Reboot, Severity::Warning, "a reboot is needed")
                .fix(FixOp::Reboot, Risk::Reboot),
            Finding::new(Area::Disk, Severity::Ok, "/: 80% free"),
        ] {
            d.add(f);
        }
        d
    }

    #[test]
    fn least_risky_first_each_once_in_request_order_among_equals() {
        let c = candidates(&incident(), &[], Risk::Reboot, &Consent::default());
        let ops: Vec<&FixOp> = c.iter().map(|c| &c.fix.op).collect();
        assert_eq!(ops, [&swap(), &free80(), &FixOp::Reboot]);
        assert_eq!(c[1].finding, "port 80/tcp: nginx");
    }

    #[test]
    fn the_cap_stops_at_the_next_fix_and_names_it() {
        let d = incident();
        match next_fix(&d, &[], Risk::Additive, &Consent::default(), &[]) {
            Next::Apply(c) => assert_eq!(c.fix.op, swap()),
            n => panic!("{n:?}"),
        }
        match next_fix(&d, &[], Risk::Additive, &Consent::default(), &[swap()]) {
            Next::AboveCap(c) => {
                assert_eq!(c.fix.command, "hostfix port free 80");
                assert_eq!(c.fix.risk, Risk::Disruptive);
            }
            n => panic!("{n:?}"),
        }
        match next_fix(
            &d,
            &[],
            Risk::Destructive,
            &Consent::default(),
            &[swap(), free80()],
        ) {
            Next::AboveCap(c) => assert_eq!(c.fix.op, FixOp::Reboot),
            n => panic!("{n:?}"),
        }
        let all = [swap(), free80(), FixOp::Reboot];
        assert_eq!(
            next_fix(&d, &[], Risk::Reboot, &Consent::default(), &all),
            Next::Done
        );
        assert_eq!(
            next_fix(
                &Diagnosis::default(),
                &[],
                Risk::Reboot,
                &Consent::default(),
                &[]
            ),
            Next::Done
        );
    }

    #[test]
    fn freeing_a_port_lets_the_container_kept_from_it_start() {
        let d = incident();
        let free = Fix::new(free80(), Risk::Disruptive);
        let ups = follow_ups(&d, &free);
        assert_eq!(ups.len(), 1);
        assert_eq!(ups[0].fix.command, "docker start web");
        assert_eq!(ups[0].fix.risk, Risk::Additive);
        assert!(follow_ups(&d, &Fix::new(swap(), Risk::Additive)).is_empty());
        // In a dry run the start comes next, before the reboot, at the disruptive cap.
        let taken = [swap(), free80()];
        match next_fix(&d, &ups, Risk::Disruptive, &Consent::default(), &taken) {
            Next::Apply(c) => assert!(matches!(c.fix.op, FixOp::StartContainer { .. })),
            n => panic!("{n:?}"),
        }
    }
}

#[cfg(test)]
mod consent_tests {
    use super::*;
    use crate::finding::{Area, Finding, Severity};
    use crate::net::Proto;

    fn held() -> Diagnosis {
        let mut d = Diagnosis::default();
        let op = FixOp::FreePort {
            port: 80,
            proto: Proto::Tcp,
            remove_package: false,
        };
        d.add(
            Finding::new(Area::Ports, Severity::Info, "port 80/tcp: nginx")
                .fix(op, Risk::Disruptive),
        );
        d
    }

    #[test]
    fn a_package_is_removed_only_with_the_consent_and_the_destructive_cap() {
        let yes = Consent {
            remove_package: true,
        };
        let shown = |cap, consent: &Consent| match next_fix(&held(), &[], cap, consent, &[]) {
            Next::Apply(c) | Next::AboveCap(c) => (c.fix.command, c.fix.risk),
            Next::NeedsConsent(c) => panic!("consent asked for {}", c.fix.command),
            Next::Done => panic!("nothing"),
        };
        let plain = ("hostfix port free 80".to_string(), Risk::Disruptive);
        assert_eq!(shown(Risk::Disruptive, &yes), plain);
        assert_eq!(shown(Risk::Destructive, &Consent::default()), plain);
        assert_eq!(shown(Risk::Reboot, &Consent::default()), plain);
        let removal = (
            "hostfix port free 80 --remove-package".to_string(),
            Risk::Destructive,
        );
        assert_eq!(shown(Risk::Destructive, &yes), removal);
        assert_eq!(shown(Risk::Reboot, &yes), removal);
    }

    /// A finding whose fix itself removes a package (finishing a removal dpkg left
    /// half-way): never applied without the consent, whatever the cap.
    #[test]
    fn a_fix_that_removes_a_package_waits_for_the_consent_at_any_cap() {
        let mut d = Diagnosis::default();
        d.add(
            Finding::new(Area::Packages, Severity::Problem, "dpkg was interrupted").fix(
                FixOp::FreePort {
                    port: 80,
                    proto: Proto::Tcp,
                    remove_package: true,
                },
                Risk::Destructive,
            ),
        );
        for cap in [Risk::Destructive, Risk::Reboot] {
            match next_fix(&d, &[], cap, &Consent::default(), &[]) {
                Next::NeedsConsent(c) => {
                    assert_eq!(c.fix.command, "hostfix port free 80 --remove-package")
                }
                other => panic!("{cap}: {other:?}"),
            }
        }
        let yes = Consent {
            remove_package: true,
        };
        assert!(matches!(
            next_fix(&d, &[], Risk::Destructive, &yes, &[]),
            Next::Apply(_)
        ));
        assert!(matches!(
            next_fix(&d, &[], Risk::Disruptive, &yes, &[]),
            Next::AboveCap(_)
        ));
    }
}
