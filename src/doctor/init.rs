//! The host's init system, and what a host without systemd cannot offer doctor: no unit
//! states, and no journal unless journald runs anyway. Said as a finding and in the
//! `init` fact, never skipped in silence.

use serde::Serialize;

use crate::finding::{Area, Diagnosis, Finding, Severity};
use crate::host::{Host, InitDetection, InitSystem};

/// The `init` fact of the diagnosis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct InitFact {
    /// `systemd`, `sysvinit`, `openrc` or `unknown`.
    pub system: InitSystem,
    /// What told it.
    pub evidence: String,
    /// Whether a journal is on the host (`/run/log/journal` or `/var/log/journal`).
    pub journal: bool,
    /// What doctor could not read because of the init system.
    pub unreadable: Vec<String>,
}

/// The fact and the finding for an init system and whether a journal is there (pure):
/// on systemd with its journal, the fact alone; otherwise an `info` finding that names
/// the init and each thing doctor could not read.
pub(crate) fn init_finding(
    found: &InitDetection,
    journal: Result<(), String>,
) -> (InitFact, Option<Finding>) {
    let mut unreadable = Vec::new();
    if found.system != InitSystem::Systemd {
        unreadable.push(format!(
            "unit states: systemd does not run this host ({}), so there are no units; \
             its services are {}",
            found.system,
            match found.system {
                InitSystem::Sysvinit => "the scripts of /etc/init.d (runlevel links in /etc/rc?.d)",
                InitSystem::OpenRc =>
                    "OpenRC's scripts in /etc/init.d (runlevels in /etc/runlevels)",
                _ => "not known to hostfix",
            }
        ));
    }
    if let Err(why) = &journal {
        unreadable.push(format!("the journal: {why}"));
    }
    let fact = InitFact {
        system: found.system,
        evidence: found.evidence.clone(),
        journal: journal.is_ok(),
        unreadable: unreadable.clone(),
    };
    if unreadable.is_empty() {
        return (fact, None);
    }
    let title = match (found.system, journal.is_ok()) {
        (InitSystem::Systemd, _) => "init: systemd, without a journal on disk".to_string(),
        (s, false) => format!("init: {s} (not systemd), no journal"),
        (s, true) => format!("init: {s} (not systemd)"),
    };
    let mut f = Finding::new(Area::Host, Severity::Info, title).evidence(found.evidence.clone());
    for u in &unreadable {
        f = f.evidence(format!("not read: {u}"));
    }
    (fact, Some(f))
}

/// Adds the init system's fact and finding; each thing not read is listed as unseen too.
pub(crate) fn diagnose(host: &Host, d: &mut Diagnosis) {
    let found = host.init_detection();
    let journal = crate::evidence::journal::journal_present(host);
    let (fact, finding) = init_finding(&found, journal);
    for u in &fact.unreadable {
        d.unseen(u.clone());
    }
    d.fact("init", &fact);
    if let Some(f) = finding {
        d.add(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{InitMarks, detect_init};

    #[test]
    fn sysvinit_without_a_journal_is_said() {
        let found = detect_init(InitMarks {
            initctl: true,
            ..InitMarks::default()
        });
        let (fact, f) = init_finding(&found, Err("no journal on this host".into()));
        let f = f.unwrap();
        assert_eq!(f.title, "init: sysvinit (not systemd), no journal");
        assert_eq!(f.area, Area::Host);
        assert!(
            f.evidence.iter().any(|e| e.contains("/run/initctl")),
            "{f:?}"
        );
        assert!(
            f.evidence
                .iter()
                .any(|e| e == "not read: the journal: no journal on this host")
        );
        assert!(!fact.journal);
        let json = serde_json::to_value(&fact).unwrap();
        assert_eq!(json["system"], "sysvinit");
        assert_eq!(json["unreadable"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn systemd_with_its_journal_is_a_fact_only() {
        let found = detect_init(InitMarks {
            systemd_dir: true,
            ..InitMarks::default()
        });
        let (fact, f) = init_finding(&found, Ok(()));
        assert!(f.is_none() && fact.unreadable.is_empty() && fact.journal);
    }
}
