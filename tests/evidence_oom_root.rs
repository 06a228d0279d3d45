//! Real kernel, as root: a memory cgroup with a tiny limit, a process in it that
//! allocates until the OOM killer kills it, and doctor reporting that kill with its
//! cgroup from the kernel's ring buffer.
//!
//! cgroup v2 when its memory controller is available (`memory.max`, `memory.swap.max`
//! 0), else cgroup v1's memory hierarchy (`memory.limit_in_bytes`, and
//! `memory.memsw.limit_in_bytes` so swap cannot absorb it). Skips loudly when not root or
//! without a memory cgroup; fails instead under `HOSTFIX_REQUIRE_ROOT=1`. The cgroup it
//! makes is always removed, and the only process it kills is its own child.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use hostfix::doctor::{Area, DoctorOptions, Source};
use hostfix::testing::evidence::{Limits, SourceStatus, sources};
use hostfix::testing::with;
use hostfix::{Host, Policy, Risk};

const LIMIT: u64 = 24 * 1024 * 1024;

fn skip(why: &str) -> bool {
    let require = std::env::var_os("HOSTFIX_REQUIRE_ROOT").is_some_and(|v| v == "1");
    assert!(!require, "HOSTFIX_REQUIRE_ROOT=1 but {why}");
    eprintln!("SKIPPED oom_kill_in_a_tiny_cgroup_is_reported_with_its_cgroup: {why}");
    false
}

/// The cgroup this test made, and its child; on drop the child is killed (by its pid) and
/// reaped, and the cgroup removed.
struct TinyCgroup {
    dir: PathBuf,
    /// The cgroup's path as the kernel's log names it (from its hierarchy's root).
    path: String,
    child: Option<Child>,
}

impl Drop for TinyCgroup {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        // The kernel lets a cgroup go once its last task is reaped; give it a moment.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("warning: could not remove {}", self.dir.display());
    }
}

fn write(p: &Path, v: &str) -> std::io::Result<()> {
    std::fs::write(p, v)
}

/// Makes the cgroup: v2 when its memory controller can be used, else v1.
fn make_cgroup() -> Result<TinyCgroup, String> {
    let name = format!("hostfix-oom-test-{}", std::process::id());
    let v2 = Path::new("/sys/fs/cgroup");
    let controllers =
        std::fs::read_to_string(v2.join("cgroup.subtree_control")).unwrap_or_default();
    if controllers.split_whitespace().any(|c| c == "memory") {
        let dir = v2.join(&name);
        std::fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let cg = TinyCgroup {
            dir: dir.clone(),
            path: format!("/{name}"),
            child: None,
        };
        write(&dir.join("memory.max"), &LIMIT.to_string())
            .map_err(|e| format!("memory.max: {e}"))?;
        // Without swap accounting the file is missing, and swap cannot be used anyway.
        let _ = write(&dir.join("memory.swap.max"), "0");
        return Ok(cg);
    }
    let v1 = Path::new("/sys/fs/cgroup/memory");
    if v1.join("memory.limit_in_bytes").exists() {
        let dir = v1.join(&name);
        std::fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let cg = TinyCgroup {
            dir: dir.clone(),
            path: format!("/{name}"),
            child: None,
        };
        write(&dir.join("memory.limit_in_bytes"), &LIMIT.to_string())
            .map_err(|e| format!("memory.limit_in_bytes: {e}"))?;
        let memsw = dir.join("memory.memsw.limit_in_bytes");
        if memsw.exists() {
            write(&memsw, &LIMIT.to_string()).map_err(|e| format!("memsw: {e}"))?;
        }
        return Ok(cg);
    }
    Err("no cgroup v2 memory controller and no cgroup v1 memory hierarchy".into())
}

#[test]
#[serial_test::serial]
fn oom_kill_in_a_tiny_cgroup_is_reported_with_its_cgroup() {
    if !nix::unistd::geteuid().is_root() {
        skip("not root");
        return;
    }
    let host = Host::live();
    // The ring buffer must be readable for the test to mean anything.
    let (_, rep) = sources::kernel_log(&host, Some(Duration::from_secs(1)), &Limits::default());
    if rep.status == SourceStatus::Denied {
        skip(&format!("the kernel log is not readable: {:?}", rep.detail));
        return;
    }
    let mut cg = match make_cgroup() {
        Ok(c) => c,
        Err(e) => {
            skip(&e);
            return;
        }
    };
    // The shell moves itself into the cgroup, then becomes `tail`, which keeps reading
    // /dev/zero in search of a newline and grows until the OOM killer ends it.
    let procs = cg.dir.join("cgroup.procs");
    let child = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "echo $$ > '{}' && exec tail /dev/zero",
            procs.display()
        ))
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    cg.child = Some(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = cg.child.as_mut().unwrap().try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "tail was not OOM-killed within 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    cg.child = None;
    assert_eq!(
        status.signal(),
        Some(9),
        "tail ended with {status:?}, not SIGKILL"
    );

    // The source alone: the kill, with its cgroup.
    let (log, rep) = sources::kernel_log(&host, Some(Duration::from_secs(300)), &Limits::default());
    assert_eq!(rep.status, SourceStatus::Read, "{rep:?}");
    let log = log.unwrap();
    let kill = log
        .events
        .oom_kills
        .iter()
        .find(|k| k.pid == pid)
        .unwrap_or_else(|| panic!("no OOM kill of pid {pid} in {:#?}", log.events.oom_kills));
    assert_eq!(kill.name, "tail");
    let ours = |c: &Option<String>| c.as_deref().is_some_and(|c| c.ends_with(&cg.path));
    assert!(ours(&kill.cgroup) || ours(&kill.limit_cgroup), "{kill:#?}");
    assert_eq!(kill.host_wide, Some(false), "{kill:#?}");

    // doctor: a memory finding naming the kill and its cgroup, with the kernel's lines.
    let opts = with(DoctorOptions::default(), |it| {
        it.ports = vec![];
        it.disk_paths = vec![];
        it.state_dir = "/nonexistent/hostfix-state".into();
        it.since = Some(Duration::from_secs(300));
    });
    let d = hostfix::doctor::diagnose(&host, &opts, &Policy::new(Risk::ReadOnly)).result;
    let f = d
        .findings
        .iter()
        .find(|f| f.area == Area::Memory && f.title.starts_with("the OOM killer killed"))
        .unwrap_or_else(|| panic!("{:#?}", d.findings));
    let line = format!("tail (pid {pid})");
    let e = f
        .evidence
        .iter()
        .find(|e| e.contains(&line))
        .unwrap_or_else(|| panic!("{line} not in {:#?}", f.evidence));
    assert!(e.contains(&format!("in cgroup {}", cg.path)), "{e}");
    assert!(
        e.ends_with(&format!("its cgroup hit its memory limit ({})", cg.path)),
        "{e}"
    );
    let proof = f
        .proofs
        .iter()
        .find(|p| p.source == Source::KernelLog)
        .unwrap();
    assert_eq!(proof.from, "/dev/kmsg");
    assert!(
        proof
            .lines
            .iter()
            .any(|l| l.contains(&format!("Killed process {pid} (tail)"))),
        "{:#?}",
        proof.lines
    );
}
