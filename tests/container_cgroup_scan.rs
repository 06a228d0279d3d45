//! Root test on the real kernel: `doctor` finds container processes and shims through
//! the cgroup tree (the processes of container and engine cgroups, of the root cgroup,
//! and the parents of container processes) and finds what the walk over every process
//! finds.
//!
//! A process in a cgroup named like a container's (`docker-<id>.scope`, under a test
//! cgroup `hostfix-test-PID`), and its parent, a stand-in shim (`containerd-shim-runc-v2
//! ... -id <id>`) in a plain cgroup no engine name marks: only the parent rule finds it.
//! Signals only the processes it started, removes its cgroups. As root with cgroup v2
//! only: skipped loudly otherwise, and a failure under `HOSTFIX_REQUIRE_ROOT=1`.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use hostfix::Host;
use hostfix::testing::container::procs;
use hostfix::testing::port::cgroup::Cgroup2;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serial_test::serial;

const PY: &str = "/usr/bin/python3";

fn root_tier(test: &str) -> Option<Cgroup2> {
    let why = if !nix::unistd::geteuid().is_root() {
        "not root (cgroups need root)".to_string()
    } else if !std::path::Path::new(PY).exists() {
        format!("{PY} is missing")
    } else {
        match Cgroup2::open(&Host::live()) {
            Some(cg) => return Some(cg),
            None => "no cgroup2 filesystem is mounted".to_string(),
        }
    };
    if std::env::var_os("HOSTFIX_REQUIRE_ROOT").is_some_and(|v| v == "1") {
        panic!("HOSTFIX_REQUIRE_ROOT=1 but the root test {test} cannot run: {why}");
    }
    eprintln!("\n## SKIPPED root test {test}: {why}. It did NOT run.\n");
    None
}

/// Test cgroups, removed (children first) on drop, after the processes in them.
struct Dirs(Vec<PathBuf>);

impl Drop for Dirs {
    fn drop(&mut self) {
        for d in self.0.iter().rev() {
            for _ in 0..100 {
                if std::fs::remove_dir(d).is_ok() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// A fresh container-like id no other process can have.
fn test_id() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:032x}{:08x}{:024x}", t, std::process::id(), t >> 3)
}

#[test]
#[serial]
fn container_processes_and_shims_through_the_cgroup_tree() {
    let Some(cg) = root_tier("container_processes_and_shims_through_the_cgroup_tree") else {
        return;
    };
    let id = test_id();
    let base = cg
        .mount_point()
        .join(format!("hostfix-test-{}", std::process::id()));
    let other = base.join("other");
    let ctr = base.join(format!("docker-{id}.scope"));
    let _dirs = Dirs(vec![base.clone(), other.clone(), ctr.clone()]);
    for d in [&base, &other, &ctr] {
        std::fs::create_dir(d).unwrap();
    }
    // The stand-in shim: in a plain cgroup, named and called as containerd's shim; its
    // child, the container's process, in the container's cgroup.
    let script = "
import os, signal, sys
with open('/proc/self/comm', 'w') as f: f.write('containerd-shim')
def join(cg):
    with open(cg + '/cgroup.procs', 'w') as f: f.write('0')
join(sys.argv[1])
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    with open('/proc/self/comm', 'w') as f: f.write('app')
    join(sys.argv[2]); os.write(w, b'x'); signal.pause(); os._exit(0)
os.read(r, 1)
print('ready', pid, flush=True)
signal.pause()";
    let mut shim = Command::new(PY)
        .arg0("containerd-shim-runc-v2")
        .args(["-c", script])
        .arg(&other)
        .arg(&ctr)
        .args(["-namespace", "moby", "-id", &id])
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let shim_pid = shim.id() as i32;
    let mut line = String::new();
    BufReader::new(shim.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let kill = || {
        let _ = killpg(Pid::from_raw(shim_pid), Signal::SIGKILL);
    };
    let Some(child) = line
        .strip_prefix("ready ")
        .and_then(|p| p.trim().parse::<i32>().ok())
    else {
        kill();
        panic!("the stand-in shim did not start: {line:?}");
    };

    // Both asleep in pause() before the scans: each records the process state, and a
    // process read running by one scan and sleeping by the next is not the difference
    // under test.
    for pid in [shim_pid, child] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !sleeping(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    let host = Host::live();
    let full = procs::scan(&host);
    let candidates = procs::candidates(&host, &cg).expect("the cgroup tree");
    let by_cgroup = procs::scan_pids(&host, candidates.clone());
    let fallback = procs::scan_by_cgroup(&host);
    kill();
    let _ = shim.wait();

    let pids = |t: &procs::ProcTable| {
        (
            t.processes_of(&id)
                .iter()
                .map(|p| p.pid)
                .collect::<Vec<_>>(),
            t.shims_of(&id).iter().map(|s| s.pid).collect::<Vec<_>>(),
        )
    };
    // What the test started, found by the walk over every process ...
    assert_eq!(pids(&full), (vec![child], vec![shim_pid]));
    // ... and through the cgroup tree, the shim by its child alone.
    assert_eq!(by_cgroup.processes_of(&id), full.processes_of(&id));
    assert_eq!(by_cgroup.shims_of(&id), full.shims_of(&id));
    assert!(candidates.contains(&child) && candidates.contains(&shim_pid));
    // What doctor calls: the tree on a cgroup v2 host, the walk on a hybrid one.
    assert_eq!(pids(&fallback), pids(&full), "hybrid: {}", cg.hybrid());
}

/// Whether `/proc/PID/stat` says the process sleeps (`S`).
fn sleeping(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.starts_with('S')))
        .unwrap_or(false)
}
