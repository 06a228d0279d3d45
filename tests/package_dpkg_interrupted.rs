//! A power cut inside a package removal: dpkg's status keeps packages half-removed. The
//! next `port free --remove-package` finishes a removal hostfix's ledger recorded (with
//! `dpkg --remove`), refuses one it did not (exit 3, naming the packages and
//! `dpkg --configure -a`), and `doctor` reports either. Fake roots only: the machine's
//! own dpkg database is never read or touched.

#[path = "fixtures/port/fakeroot.rs"]
#[allow(unused_imports)]
mod fakeroot;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use fakeroot::{FakeRoot, PortRoot, port_root};
use hostfix::doctor::{Area, DoctorOptions, Severity, diagnose};
use hostfix::error::Refusal;
use hostfix::port::{FreeSpec, free_port};
use hostfix::testing::{CmdOutput, RecordingSystem, with};
use hostfix::{Error, Policy, Risk, StepStatus};

const LEDGER: &str = "/var/lib/hostfix/port-free-tcp-80.json";

/// The ledger a run writes before stopping nginx to remove nginx-light and nginx-common.
const NGINX_LEDGER: &str = r#"{"version":1,"manager":"dpkg","packages":["nginx-light","nginx-common"],
 "sources":["nginx"],"removes":["nginx-light","nginx-common"],
 "command":"apt-get -y -q remove nginx-light nginx-common"}"#;

/// Rewrites the `Status:` line of `package`'s paragraph in the fake status file.
fn set_status(r: &FakeRoot, package: &str, status: &str) {
    set_status_at(&r.join("/var/lib/dpkg/status"), package, status);
}

fn set_status_at(p: &Path, package: &str, status: &str) {
    let text = std::fs::read_to_string(p).unwrap();
    let head = format!("Package: {package}");
    let out: Vec<String> = text
        .split("\n\n")
        .map(|para| {
            if !para.lines().any(|l| l == head) {
                return para.to_string();
            }
            para.lines()
                .map(|l| {
                    if l.starts_with("Status:") {
                        format!("Status: {status}")
                    } else {
                        l.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    std::fs::write(p, out.join("\n\n")).unwrap();
}

/// The host after the cut: nginx was stopped (the port is free), dpkg was in the middle
/// of removing nginx-light, nginx-common untouched yet.
fn cut_root() -> FakeRoot {
    let r = port_root();
    r.init().systemd().dpkg();
    // The recorded tables list nginx's sockets; after the cut nothing listens.
    for t in ["tcp", "tcp6", "udp", "udp6"] {
        r.write(
            format!("/proc/net/{t}"),
            "  sl  local_address rem_address   st\n",
        );
    }
    set_status(&r, "nginx-light", "deinstall ok half-configured");
    r
}

fn remove_package() -> FreeSpec {
    with(FreeSpec::tcp(80), |it| {
        it.remove_package = true;
        it.timeout = std::time::Duration::from_millis(200);
    })
}

/// A recorder whose `dpkg --remove` and `apt-get remove` finish the fake removal.
fn dpkg_sim(r: &FakeRoot) -> Arc<RecordingSystem> {
    let (_, rec) = r.host();
    let status = r.join("/var/lib/dpkg/status");
    let journal = r.join("/var/lib/dpkg/updates");
    rec.respond(
        "apt-get -s -q remove nginx-common",
        CmdOutput::ok("Remv nginx-common [1.22.1-9]\n"),
    );
    rec.after_run(move |cmd, _| {
        let line = cmd.display();
        let removed: Vec<&String> = if cmd.program == "dpkg" {
            cmd.args
                .iter()
                .skip_while(|a| *a != "--remove")
                .skip(1)
                .collect()
        } else if line.starts_with("apt-get -y") {
            cmd.args
                .iter()
                .skip_while(|a| *a != "remove")
                .skip(1)
                .collect()
        } else {
            Vec::new()
        };
        for p in removed {
            set_status_at(&status, p, "deinstall ok config-files");
        }
        if cmd.program == "dpkg" {
            // dpkg folds its journal in.
            let _ = std::fs::remove_dir_all(&journal);
        }
    });
    rec
}

#[test]
fn a_removal_hostfix_recorded_is_finished_with_dpkg_remove() {
    let r = cut_root();
    r.write(LEDGER, NGINX_LEDGER);
    let rec = dpkg_sim(&r);
    let host = hostfix::Host::with_system(r.path(), rec.clone());
    let rep = free_port(&host, &remove_package(), &Policy::new(Risk::Destructive));
    assert!(rep.is_ok(), "{:?} {:#?}", rep.error, rep.steps);
    assert!(rep.changed);
    let cmds = rec.commands();
    let finish = format!("dpkg --root {} --remove nginx-light", r.path().display());
    let at = cmds.iter().position(|c| *c == finish);
    assert!(at.is_some(), "{cmds:?}");
    // Then the rest of the recorded removal, through apt as before, and nothing else.
    let apt = cmds.iter().position(|c| c.starts_with("apt-get -y"));
    assert!(at < apt, "{cmds:?}");
    assert!(
        cmds[apt.unwrap()].ends_with("remove nginx-common"),
        "{cmds:?}"
    );
    assert!(!cmds.iter().any(|c| c.contains("--configure")), "{cmds:?}");
    let step = rep
        .steps
        .iter()
        .find(|s| s.action.contains("dpkg --root"))
        .unwrap();
    assert_eq!(
        (step.status, step.risk),
        (StepStatus::Done, Risk::Destructive)
    );
    assert!(
        !r.join(LEDGER).exists(),
        "the finished removal is forgotten"
    );

    // The next run changes nothing.
    let (host, rec2) = r.host();
    let rep = free_port(&host, &remove_package(), &Policy::new(Risk::Destructive));
    assert!(
        rep.is_ok() && !rep.changed,
        "{:?} {:#?}",
        rep.error,
        rep.steps
    );
    assert!(rec2.commands().is_empty(), "{:?}", rec2.commands());
}

#[test]
fn an_unfinished_journal_of_hostfix_removal_is_folded_in_by_dpkg_remove() {
    // dpkg wrote nginx-light's removal in its journal and was cut before folding it in.
    let r = cut_root();
    set_status(&r, "nginx-light", "install ok installed");
    r.write(
        "/var/lib/dpkg/updates/0000",
        "Package: nginx-light\nStatus: deinstall ok half-installed\nVersion: 1.22.1-9\n",
    );
    r.write(LEDGER, NGINX_LEDGER);
    let rec = dpkg_sim(&r);
    let host = hostfix::Host::with_system(r.path(), rec.clone());
    let spec = remove_package();
    let rep = free_port(&host, &spec, &Policy::new(Risk::Destructive).dry_run(true));
    assert!(rep.is_ok(), "{:?} {:#?}", rep.error, rep.steps);
    // A dry run plans it and runs nothing.
    assert!(rec.commands().is_empty(), "{:?}", rec.commands());
    let planned = rep
        .steps
        .iter()
        .find(|s| s.action.ends_with("--remove nginx-light"))
        .unwrap();
    assert_eq!(planned.status, StepStatus::Planned);
    // The real run finishes it, then the rest of the removal.
    let rep = free_port(&host, &spec, &Policy::new(Risk::Destructive));
    assert!(rep.is_ok(), "{:?} {:#?}", rep.error, rep.steps);
    let cmds = rec.commands();
    let finish = format!("dpkg --root {} --remove nginx-light", r.path().display());
    assert_eq!(cmds.iter().filter(|c| **c == finish).count(), 1, "{cmds:?}");
    assert!(!r.join("/var/lib/dpkg/updates/0000").exists());
    assert!(!r.join(LEDGER).exists());
}

#[test]
fn an_interruption_hostfix_did_not_record_is_refused() {
    for ledger in [
        None,
        Some(
            r#"{"version":1,"manager":"dpkg","packages":["apache2"],"sources":["apache2"],"removes":["apache2"],"command":"x"}"#,
        ),
    ] {
        let r = cut_root();
        if let Some(l) = ledger {
            r.write(LEDGER, l);
        }
        let (host, rec) = r.host();
        let rep = free_port(&host, &remove_package(), &Policy::new(Risk::Destructive));
        assert_eq!(rep.exit_code(), 3, "{:?}", rep.error);
        let Some(Error::Refused(Refusal::DpkgInterrupted { packages, why })) = &rep.error else {
            panic!("{:?}", rep.error);
        };
        assert_eq!(packages, &["nginx-light"]);
        assert!(why[0].contains("recorded no removal"), "{why:?}");
        let msg = rep.error.as_ref().unwrap().to_string();
        assert!(
            msg.contains("dpkg --configure -a") && msg.contains("nginx-light"),
            "{msg}"
        );
        assert!(
            rec.commands().is_empty(),
            "nothing run: {:?}",
            rec.commands()
        );
    }
    // A package recorded but that dpkg was installing, not removing: refused too.
    let r = cut_root();
    set_status(&r, "nginx-light", "install ok half-configured");
    r.write(LEDGER, NGINX_LEDGER);
    let (host, rec) = r.host();
    let rep = free_port(&host, &remove_package(), &Policy::new(Risk::Destructive));
    assert_eq!(rep.exit_code(), 3, "{:?}", rep.error);
    assert!(rec.commands().is_empty());
}

fn packages_finding(r: &FakeRoot) -> hostfix::doctor::Finding {
    let (host, _) = r.host();
    let mut opts = DoctorOptions::default();
    opts.ports.clear();
    let rep = diagnose(&host, &opts, &Policy::new(Risk::ReadOnly));
    rep.result
        .findings
        .into_iter()
        .find(|f| f.area == Area::Packages)
        .expect("a packages finding")
}

#[test]
fn doctor_reports_the_interruption_and_who_can_finish_it() {
    let r = cut_root();
    r.write(LEDGER, NGINX_LEDGER);
    let f = packages_finding(&r);
    assert_eq!(f.severity, Severity::Problem);
    assert!(f.title.contains("nginx-light"), "{}", f.title);
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("deinstall ok half-configured")),
        "{:?}",
        f.evidence
    );
    let fix = f.fix.as_ref().unwrap();
    assert_eq!(fix.command, "hostfix port free 80 --remove-package");
    assert_eq!(fix.risk, Risk::Destructive);

    let r = cut_root();
    let f = packages_finding(&r);
    assert!(f.fix.is_none());
    assert!(
        f.evidence.iter().any(|e| e.contains("dpkg --configure -a")),
        "{:?}",
        f.evidence
    );

    // A settled dpkg: no finding.
    let r = port_root();
    r.dpkg();
    let (host, _) = r.host();
    let mut opts = DoctorOptions::default();
    opts.ports.clear();
    let rep = diagnose(&host, &opts, &Policy::new(Risk::ReadOnly));
    assert!(!rep.result.findings.iter().any(|f| f.area == Area::Packages));
}

#[test]
fn the_cli_refuses_with_exit_3_and_doctor_shows_it() {
    let r = cut_root();
    let state = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hostfix"))
        .args(["--dry-run", "--json", "--root"])
        .arg(r.path())
        .arg("--state-dir")
        .arg(state.path())
        .args(["port", "free", "47913", "--remove-package"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let err = v["error"].to_string();
    assert!(
        err.contains("nginx-light") && err.contains("dpkg --configure -a"),
        "{v}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_hostfix"))
        .args(["--json", "--root"])
        .arg(r.path())
        .arg("--state-dir")
        .arg(state.path())
        .args(["doctor"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["area"] == "packages")
        .unwrap_or_else(|| panic!("{v}"));
    assert!(f["title"].as_str().unwrap().contains("nginx-light"), "{f}");
}
