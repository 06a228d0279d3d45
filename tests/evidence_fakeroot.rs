//! `doctor` on fake roots (any user): a recorded kernel log as the root's `dev/kmsg`, a
//! scripted engine, and what doctor makes of them: the OOM kill tied to its container, the
//! container's own log and state joined to its finding, the kernel's hung task and
//! filesystem error, `--since` bounding the window, and missing sources said plainly.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use hostfix::Host;
use hostfix::doctor::{Area, Diagnosis, DoctorOptions, Severity, Source, Subject};
use hostfix::testing::evidence::{Limits, SourceStatus, sources};
use hostfix::testing::with;
use hostfix::testing::{CmdOutput, RecordingSystem};
use hostfix::{Policy, Risk};

const ID: &str = "3f4e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f";
/// 2024-04-24T23:06:40Z, the fixtures' boot.
const BOOT: u64 = 1_714_000_000;
/// The uptime the fake root reports (the last fixture line is at 5700 s).
const UPTIME: u64 = 5_800;

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(fixture(rel)).unwrap()
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn executable(root: &Path, rel: &str) {
    use std::os::unix::fs::PermissionsExt;
    write(root, rel, "");
    std::fs::set_permissions(root.join(rel), std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A fake root with the 5.15 kernel log, PSI, vmstat, and `docker` and `timeout`.
fn incident_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    write(r, "dev/kmsg", &read("evidence/kmsg/5.15-cgroup-v2-docker"));
    write(r, "proc/uptime", &format!("{UPTIME}.00 9000.00\n"));
    write(r, "proc/meminfo", &read("meminfo/modern"));
    write(
        r,
        "proc/pressure/memory",
        "some avg10=22.10 avg60=14.00 avg300=3.50 total=91000000\n\
         full avg10=9.00 avg60=5.00 avg300=1.00 total=40000000\n",
    );
    write(
        r,
        "proc/vmstat",
        "nr_free_pages 100\npswpin 12\npswpout 34\n",
    );
    executable(r, "usr/bin/docker");
    executable(r, "usr/bin/timeout");
    dir
}

fn scripted(root: &Path) -> Arc<RecordingSystem> {
    let rec = Arc::new(RecordingSystem::new());
    rec.set_now(UNIX_EPOCH + Duration::from_secs(BOOT + UPTIME));
    let docker = root.join("usr/bin/docker").display().to_string();
    let timeout = root.join("usr/bin/timeout").display().to_string();
    rec.respond(
        format!("{timeout} -k 5 20 {docker} ps"),
        CmdOutput::ok(read("evidence/engine/ps-web-oom.txt")),
    );
    rec.respond(
        format!("{timeout} -k 5 20 {docker} container inspect"),
        CmdOutput::ok(read("evidence/engine/inspect-web-oom.json")),
    );
    rec.respond(
        format!("{timeout} -k 5 5 {docker} logs --tail 50 --timestamps"),
        CmdOutput {
            status: Some(0),
            stdout: read("evidence/engine/logs-web.stdout"),
            stderr: read("evidence/engine/logs-web.stderr"),
        },
    );
    rec
}

fn doctor(host: &Host, since: Option<Duration>) -> Diagnosis {
    let opts = with(DoctorOptions::default(), |it| {
        it.ports = vec![];
        it.disk_paths = vec![];
        it.state_dir = "/state".into();
        it.since = since;
    });
    hostfix::doctor::diagnose(host, &opts, &Policy::new(Risk::ReadOnly)).result
}

#[test]
fn doctor_ties_the_oom_kill_to_its_container_and_shows_its_log() {
    let dir = incident_root();
    let rec = scripted(dir.path());
    let host = Host::with_system(dir.path(), rec.clone());
    let d = doctor(&host, None);
    let web = Subject::Container {
        id: ID.into(),
        name: "web".into(),
    };
    // The kernel: the kill, in container web, 400 s ago: a problem.
    let oom = d
        .findings
        .iter()
        .find(|f| f.title.starts_with("the OOM killer killed"))
        .unwrap_or_else(|| panic!("{:#?}", d.findings));
    assert_eq!(oom.area, Area::Memory);
    assert_eq!(oom.severity, Severity::Problem);
    // The ring buffer starts at sequence 1200: the older messages are gone, and it says so.
    assert_eq!(
        oom.title,
        "the OOM killer killed 1 process since 2024-04-24T23:08:40Z (older messages are gone); \
         the last: node (pid 5555) in container web, 2024-04-25T00:36:40Z"
    );
    assert!(oom.subjects.contains(&web));
    // The container's own finding carries the kill, the engine's words and its log.
    let c = d
        .findings
        .iter()
        .find(|f| f.area == Area::Containers && f.subjects.contains(&web))
        .unwrap();
    assert_eq!(
        c.title,
        "container web is restarting in a loop (5 restarts)"
    );
    let by = |s: Source| {
        c.proofs
            .iter()
            .find(|p| p.source == s)
            .unwrap_or_else(|| panic!("{s:?}: {c:#?}"))
    };
    assert!(
        by(Source::KernelLog)
            .lines
            .iter()
            .any(|l| l.contains("Killed process 5555 (node)"))
    );
    assert_eq!(
        by(Source::Engine).lines[0],
        "restarting, exit code 137, OOM-killed, 5 restarts, finished 2024-05-02T09:20:11.9Z"
    );
    let log = &by(Source::EngineLog);
    assert_eq!(log.from, "docker logs --tail 50 --timestamps web");
    assert_eq!(log.lines.len(), 3);
    assert!(log.lines[0].ends_with("bind() to 0.0.0.0:80 failed (98: Address already in use)"));
    assert!(log.lines[2].ends_with("JavaScript heap out of memory"));
    // The hung task (its pid is gone) and the XFS error, with the disks.
    let hung = d
        .findings
        .iter()
        .find(|f| f.title.starts_with("the kernel reported 1 task"))
        .unwrap();
    assert_eq!((hung.area, hung.severity), (Area::Disk, Severity::Warning));
    let xfs = d
        .findings
        .iter()
        .find(|f| f.title.contains("filesystem or I/O error"))
        .unwrap();
    assert_eq!(
        xfs.title,
        "the kernel logged 1 filesystem or I/O error since 2024-04-24T23:08:40Z (older messages \
         are gone); the last: xfs on nvme1n1, 2024-04-25T00:41:40Z"
    );
    // Pressure over time and swap activity join the memory and swap findings.
    let mem = d
        .findings
        .iter()
        .find(|f| f.title == "no swap and MemAvailable is 9% of RAM")
        .unwrap();
    let psi = mem
        .proofs
        .iter()
        .find(|p| p.source == Source::Pressure)
        .unwrap();
    assert_eq!(
        psi.lines,
        ["some avg10=22.10% avg60=14.00% avg300=3.50%; full avg10=9.00% avg60=5.00% avg300=1.00%"]
    );
    let vm = d
        .findings
        .iter()
        .flat_map(|f| &f.proofs)
        .find(|p| p.source == Source::Vmstat)
        .unwrap();
    assert!(
        vm.lines[0].starts_with("since boot: pswpin 12 pswpout 34"),
        "{vm:?}"
    );
    // Read-only: the engine's list, inspect and the log; nothing else ran.
    for c in rec.commands() {
        assert!(
            c.contains(" ps ") || c.contains(" container inspect ") || c.contains(" logs "),
            "{c}"
        );
    }
    // No request went out from a fake root, and it says so.
    assert!(d.findings.iter().all(|f| f.area != Area::Request));
    assert!(
        d.unseen
            .iter()
            .any(|u| u.contains("not sent, the host is not the live root")),
        "{:?}",
        d.unseen
    );
    // Everything serialises, sources and timings included.
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(
        v["facts"]["evidence"]["kernel"]["events"]["oom_kills"][0]["pid"],
        5555
    );
    assert!(v["facts"]["timings_ms"]["evidence"].as_f64().is_some());
}

#[test]
fn since_bounds_the_kernel_log() {
    let dir = incident_root();
    let host = Host::with_system(dir.path(), scripted(dir.path()));
    // 250 s back from 5800 s: the kill at 5400 s is out, the hung task at 5600 s and the
    // XFS error at 5700 s are in.
    let d = doctor(&host, Some(Duration::from_secs(250)));
    assert!(
        !d.findings
            .iter()
            .any(|f| f.title.starts_with("the OOM killer")),
        "{:#?}",
        d.findings
    );
    assert!(d.findings.iter().any(|f| f.title
        == "the kernel reported 1 task blocked for more than 122 s (node:5601) in the last 4m10s"));
    let ev = &d.facts["evidence"]["kernel"];
    assert_eq!(ev["window_s"], 250);
    assert_eq!(ev["events"]["lines"], 3);
}

#[test]
fn a_missing_kernel_log_is_said_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::fake(dir.path());
    let (log, rep) = sources::kernel_log(&host, None, &Limits::default());
    assert!(log.is_none());
    assert_eq!(rep.status, SourceStatus::Missing);
    let detail = rep.detail.unwrap();
    assert!(
        detail.starts_with(
            "/dev/kmsg: it does not exist; the journal cannot stand in: no journal on this host"
        ),
        "{detail}"
    );
    // A link where /dev/kmsg should be (to the console, as some containers have) is
    // never followed.
    std::fs::create_dir_all(dir.path().join("dev")).unwrap();
    std::os::unix::fs::symlink("/dev/null", dir.path().join("dev/kmsg")).unwrap();
    let (_, rep) = sources::kernel_log(&host, None, &Limits::default());
    assert_eq!(rep.status, SourceStatus::Failed);
    assert!(
        rep.detail
            .unwrap()
            .contains("not the kernel log device: a symbolic link")
    );
    let d = doctor(&host, None);
    assert!(
        d.unseen
            .iter()
            .any(|u| u.starts_with("kernel-log: /dev/kmsg: not the kernel log device")),
        "{:?}",
        d.unseen
    );
}

#[test]
fn the_kernels_journal_stands_in_when_kmsg_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    executable(r, "usr/bin/journalctl");
    executable(r, "usr/bin/timeout");
    std::fs::create_dir_all(r.join("var/log/journal")).unwrap();
    let rec = Arc::new(RecordingSystem::new());
    let jc = r.join("usr/bin/journalctl").display().to_string();
    let to = r.join("usr/bin/timeout").display().to_string();
    rec.respond(
        format!("{to} -k 5 5 {jc} -k -n 20000 -o short-iso --no-pager -q --since=-3600s"),
        CmdOutput::ok(read("evidence/journal/kernel-6.1-debian12")),
    );
    let host = Host::with_system(r, rec.clone());
    let (log, rep) =
        sources::kernel_log(&host, Some(Duration::from_secs(3600)), &Limits::default());
    assert_eq!(rep.status, SourceStatus::Read);
    assert!(
        rep.detail
            .unwrap()
            .contains("read the journal's kernel messages instead")
    );
    let log = log.unwrap();
    assert!(log.from.starts_with("journalctl -k"));
    assert_eq!(log.events.oom_kills[0].pid, 6001);
    assert_eq!(rec.commands().len(), 1);
    // A journal that does not answer is a timeout, not a hang.
    let rec = Arc::new(RecordingSystem::new());
    rec.respond(format!("{to} "), CmdOutput::failed(124, ""));
    let host = Host::with_system(r, rec);
    let (log, rep) = sources::kernel_log(&host, None, &Limits::default());
    assert!(log.is_none());
    assert_eq!(rep.status, SourceStatus::TimedOut);
    assert!(
        rep.detail
            .unwrap()
            .contains("journalctl gave no answer in 5 s")
    );
}
