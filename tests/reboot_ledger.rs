//! Ledger corruption fails closed: the guard refuses (exit 3, rule `ledger`), says how to
//! reset, and leaves the file as it was. And `doctor` shows the need, the last reboots and
//! the ones that never happened.

mod reboot_common;

use std::path::Path;

use hostfix::doctor::{Area, Diagnosis, DoctorOptions, Severity};
use hostfix::error::{Error, Refusal};
use hostfix::reboot::{self, EntryState, LedgerEntry, RebootSpec};
use hostfix::testing::Call;
use hostfix::testing::reboot::Ledger;
use hostfix::testing::with;
use hostfix::{Policy, Risk};
use reboot_common::{BOOT_ID, MACHINE_ID, NOW, copy_root, host, ledger_file};

fn entry(id: u64, boot: &str, ago: u64, state: EntryState) -> LedgerEntry {
    with(LedgerEntry::default(), |it| {
        it.id = id;
        it.key = None;
        it.reason = format!("reason {id}");
        it.boot_id = boot.into();
        it.machine_id = Some(MACHINE_ID.into());
        it.started_at = NOW - ago;
        it.delay_secs = 0;
        it.method = "sync, systemctl reboot".into();
        it.state = state;
        it.requested_at = Some(NOW - ago);
        it.confirmed_at = None;
        it.confirmed_boot_id = None;
        it.error = None;
    })
}

fn corrupt_cases() -> Vec<(&'static str, Vec<u8>)> {
    let mut dup = Ledger::default();
    dup.entries.push(entry(1, "b", 10, EntryState::Confirmed));
    dup.entries.push(entry(1, "b", 5, EntryState::Confirmed));
    let mut no_boot = Ledger::default();
    no_boot
        .entries
        .push(entry(1, " ", 10, EntryState::Confirmed));
    vec![
        ("garbage", b"this is not json\n".to_vec()),
        ("empty", Vec::new()),
        ("truncated", b"{\"version\": 1, \"entries\": [{\"id\": 1,".to_vec()),
        ("another version", b"{\"version\": 2, \"entries\": []}".to_vec()),
        ("wrong shape", b"{\"version\": 1, \"entries\": {}}".to_vec()),
        ("unknown state", br#"{"version":1,"entries":[{"id":1,"reason":"r","boot_id":"b","started_at":1,"method":"m","state":"exploded"}]}"#.to_vec()),
        ("duplicate ids", dup.to_bytes()),
        ("entry without boot id", no_boot.to_bytes()),
        ("not utf-8", vec![0xff, 0xfe, 0x00, 0x7b]),
    ]
}

#[test]
fn corrupt_ledgers_refuse_and_stay_untouched() {
    for (name, bytes) in corrupt_cases() {
        let d = copy_root("reboot-required");
        std::fs::create_dir_all(d.path().join("run/systemd/system")).unwrap();
        let (h, rec) = host(d.path());
        let f = ledger_file(d.path());
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, &bytes).unwrap();
        for dry_run in [true, false] {
            let spec = with(RebootSpec::default(), |it| {
                it.if_needed = true;
            });
            let rep = reboot::reboot(&h, &spec, &Policy::new(Risk::Reboot).dry_run(dry_run));
            assert_eq!(rep.exit_code(), 3, "{name}");
            match &rep.error {
                Some(Error::Refused(Refusal::Guard { rule, detail })) => {
                    assert_eq!(rule, "ledger", "{name}");
                    assert!(
                        detail.contains("mv /var/lib/hostfix/reboot-ledger.json"),
                        "{name}: {detail}"
                    );
                    assert!(detail.contains(".broken"), "{name}: {detail}");
                }
                other => panic!("{name}: {other:?}"),
            }
            assert_eq!(std::fs::read(&f).unwrap(), bytes, "{name}: file untouched");
            assert!(
                !rec.calls()
                    .iter()
                    .any(|c| matches!(c, Call::Reboot | Call::Sync)
                        || matches!(c, Call::Run(s) if s.starts_with("systemctl"))),
                "{name}: {:?}",
                rec.calls()
            );
        }
    }
}

#[test]
fn unreadable_ledger_refuses() {
    // A directory where the file should be: reading fails (EISDIR), even as root.
    let d = copy_root("none");
    let (h, rec) = host(d.path());
    std::fs::create_dir_all(ledger_file(d.path())).unwrap();
    let rep = reboot::reboot(&h, &RebootSpec::default(), &Policy::new(Risk::Reboot));
    assert_eq!(rep.exit_code(), 3);
    let msg = rep.error.unwrap().to_string();
    assert!(msg.starts_with("guard rule ledger:"), "{msg}");
    assert!(msg.contains("it is a directory"), "{msg}");
    assert!(msg.contains("/var/lib/hostfix/reboot-ledger.json"), "{msg}");
    assert!(!rec.calls().contains(&Call::Reboot));
}

#[test]
fn ledger_round_trip_and_forward_compatible_fields() {
    let mut l = Ledger::default();
    l.entries.push(entry(1, "b", 10, EntryState::Confirmed));
    l.entries[0].key = Some("k".into());
    assert_eq!(
        Ledger::parse(std::str::from_utf8(&l.to_bytes()).unwrap()),
        Ok(l.clone())
    );
    // A field a later hostfix adds does not make this one fail closed.
    let mut v = serde_json::to_value(&l).unwrap();
    v["entries"][0]["added_later"] = serde_json::json!(true);
    assert_eq!(Ledger::parse(&v.to_string()), Ok(l));
}

fn diagnose(root: &Path) -> Diagnosis {
    let (h, _) = host(root);
    let mut d = Diagnosis::default();
    hostfix::testing::reboot::diagnose_in(&h, Path::new("/var/lib/hostfix"), &mut d);
    d
}

#[test]
fn doctor_shows_need_history_and_reboots_that_never_happened() {
    let d = copy_root("reboot-required");
    let mut l = Ledger::default();
    l.entries
        .push(entry(1, "old-boot", 3 * 86400, EntryState::Confirmed));
    l.entries[0].confirmed_at = Some(NOW - 3 * 86400 + 120);
    l.entries
        .push(entry(2, "older-boot", 2 * 86400, EntryState::Started));
    l.entries
        .push(entry(3, BOOT_ID, 3 * 3600, EntryState::Started));
    reboot_common::write_ledger(d.path(), &l);
    let before = std::fs::read(ledger_file(d.path())).unwrap();
    let diag = diagnose(d.path());
    let titles: Vec<(Severity, &str)> = diag
        .findings
        .iter()
        .map(|f| (f.severity, f.title.as_str()))
        .collect();
    assert!(diag.findings.iter().all(|f| f.area == Area::Reboot));
    assert_eq!(titles[0].0, Severity::Warning);
    assert!(
        titles[0]
            .1
            .starts_with("a reboot is needed: /run/reboot-required exists")
    );
    let fix = diag.findings[0].fix.as_ref().unwrap();
    assert_eq!(
        (fix.command.as_str(), fix.risk),
        ("hostfix reboot --if-needed", Risk::Reboot)
    );
    assert_eq!(
        titles[1],
        (
            Severity::Warning,
            "reboot #3 was started but never happened"
        )
    );
    let hist = &diag.findings[2];
    assert_eq!(hist.severity, Severity::Info);
    assert_eq!(hist.evidence.len(), 3);
    assert!(hist.evidence[0].starts_with("#3 "), "{:?}", hist.evidence);
    assert!(hist.evidence[0].contains("reason 3"));
    assert!(
        hist.evidence[1].contains("completed"),
        "{}",
        hist.evidence[1]
    );
    assert!(
        hist.evidence[2].contains("completed (confirmed"),
        "{}",
        hist.evidence[2]
    );
    let facts = &diag.facts["reboot"];
    assert_eq!(facts["history"][0]["status"], "never-happened");
    assert_eq!(facts["history"][1]["status"], "completed");
    assert_eq!(facts["need"]["needed"], true);
    // Read-only: the ledger is shown, not confirmed.
    assert_eq!(std::fs::read(ledger_file(d.path())).unwrap(), before);
}

#[test]
fn doctor_on_a_quiet_host_and_a_corrupt_ledger() {
    let d = copy_root("none");
    let diag = diagnose(d.path());
    assert_eq!(diag.findings.len(), 1);
    assert_eq!(diag.findings[0].severity, Severity::Ok);
    assert_eq!(diag.findings[0].title, "no reboot needed");

    std::fs::create_dir_all(d.path().join("var/lib/hostfix")).unwrap();
    std::fs::write(ledger_file(d.path()), "{oops").unwrap();
    let diag = diagnose(d.path());
    let f = &diag.findings[1];
    assert_eq!(f.severity, Severity::Problem);
    assert!(
        f.evidence[0].contains("mv /var/lib/hostfix/reboot-ledger.json"),
        "{:?}",
        f.evidence
    );
    // The default diagnose entry point, as doctor calls it, works on a fake root too.
    let (h, _) = host(d.path());
    let mut diag = Diagnosis::default();
    hostfix::testing::reboot::diagnose(&h, &DoctorOptions::default(), &mut diag);
    assert_eq!(diag.findings.len(), 2);
}
