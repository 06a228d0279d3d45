//! Root tests on the real kernel: the two ways `port who` finds a socket's processes
//! (through the cgroup the kernel names for the socket, and the walk over every
//! process) give the same owners, on listeners in the shapes a host has them:
//!
//! - a master and its workers in their own cgroup (a systemd service, a container);
//! - a holder in a cgroup shared with many other processes (the caller's own);
//! - a socket passed over a unix socket to an unrelated process of another cgroup, its
//!   maker keeping none (the cgroup path finds nobody there and the walk answers), next
//!   to a holder in its own cgroup on the same port (both paths in one lookup);
//! - `SO_REUSEPORT` siblings in two cgroups;
//! - socket activation without systemd: an activator in its own cgroup binds, forks the
//!   service into another cgroup and keeps the socket, as PID 1 does for a `.socket`
//!   unit.
//!
//! The expected owners are the pids the test started (never computed by hostfix); `ss`
//! must name the same ones. Each test runs in its own network namespace, creates its
//! cgroups under the cgroup2 mount (`hostfix-test-PID-*`) and removes them, and signals
//! only the processes it started. As root with cgroup v2 only: skipped loudly
//! otherwise, and a failure under `HOSTFIX_REQUIRE_ROOT=1`.

use std::io::{BufRead, BufReader, Lines};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use hostfix::Host;
use hostfix::port::{self, Holders, Proto, ScanPath, WhoSpec};
use hostfix::testing::port::cgroup::Cgroup2;
use hostfix::testing::port::diag;
use hostfix::testing::with;
use nix::sched::{CloneFlags, unshare};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serial_test::serial;

const PY: &str = "/usr/bin/python3";
const HOSTFIX: &str = env!("CARGO_BIN_EXE_hostfix");

/// Whether the root tier can run here (moving this thread into a new network namespace
/// with `lo` up); prints why not, or fails under `HOSTFIX_REQUIRE_ROOT=1`.
fn root_tier(test: &str) -> Option<PathBuf> {
    let why = if !nix::unistd::geteuid().is_root() {
        Err("not root (cgroups and network namespaces need root)".to_string())
    } else if !Path::new(PY).exists() {
        Err(format!("{PY} is missing"))
    } else if which::which("ss").is_err() {
        Err("ss (iproute2) is missing".to_string())
    } else {
        match Cgroup2::open(&Host::live()) {
            None => Err("no cgroup2 filesystem is mounted (cgroup v1 only)".to_string()),
            Some(cg) => unshare(CloneFlags::CLONE_NEWNET)
                .map_err(|e| format!("unshare(CLONE_NEWNET): {e}"))
                .map(|()| cg.mount_point().to_path_buf()),
        }
    };
    match why {
        Ok(mount) => {
            let up = Command::new("ip")
                .args(["link", "set", "lo", "up"])
                .status();
            assert!(
                up.as_ref().is_ok_and(|s| s.success()),
                "ip link set lo up: {up:?}"
            );
            Some(mount)
        }
        Err(why) => {
            if std::env::var_os("HOSTFIX_REQUIRE_ROOT").is_some_and(|v| v == "1") {
                panic!("HOSTFIX_REQUIRE_ROOT=1 but the root test {test} cannot run: {why}");
            }
            eprintln!("\n## SKIPPED root test {test}: {why}. It did NOT run.\n");
            None
        }
    }
}

/// A cgroup this test created; removed on drop (its processes must be gone by then:
/// declare it before the processes in it).
struct TestCgroup {
    dir: PathBuf,
}

impl TestCgroup {
    fn new(mount: &Path, name: &str) -> TestCgroup {
        let dir = mount.join(format!("hostfix-test-{}-{name}", std::process::id()));
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        TestCgroup { dir }
    }

    fn path(&self) -> String {
        self.dir.display().to_string()
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        // A killed process leaves its cgroup once reaped; give the kernel a moment.
        for _ in 0..100 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("could not remove cgroup {}", self.dir.display());
    }
}

const PRELUDE: &str = r#"
import os, signal, socket, sys, time
def say(*words):
    sys.stdout.write(' '.join(str(w) for w in words) + '\n'); sys.stdout.flush()
def join(cg):
    if cg:
        with open(cg + '/cgroup.procs', 'w') as f:
            f.write('0')
def tcp(addr, port, reuseport=False):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if reuseport:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((addr, port)); s.listen(16)
    return s
def fork(cg=None):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        join(cg); os.write(w, b'x'); signal.pause(); os._exit(0)
    os.read(r, 1)
    return pid
"#;

/// A python process (and its process group), killed and reaped on drop.
struct Proc {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Proc {
    /// Starts `body` with `args` in `sys.argv[1:]`.
    fn spawn(body: &str, args: &[&str]) -> Proc {
        let mut child = Command::new(PY)
            .arg("-c")
            .arg(format!("{PRELUDE}\n{body}"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Proc { child, lines }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The next line it says, split in words; the first must be `expect`.
    fn said(&mut self, expect: &str) -> Vec<i32> {
        let line = self
            .lines
            .next()
            .unwrap_or_else(|| panic!("pid {} ended before saying {expect}", self.pid()))
            .unwrap();
        let mut w = line.split_whitespace();
        assert_eq!(w.next(), Some(expect), "pid {} said {line:?}", self.pid());
        w.map(|p| p.parse().unwrap()).collect()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = killpg(Pid::from_raw(self.pid()), Signal::SIGKILL);
        let _ = self.child.wait();
        // Forked workers are reaped by PID 1 (or a subreaper); wait until they are gone
        // from their cgroups.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `port who` through the cgroups, by the walk, and exhaustively.
fn three_ways(port: u16) -> [Holders; 3] {
    let host = Host::live();
    let spec = |cgroups, exhaustive| {
        with(WhoSpec::tcp(port), |s| {
            s.cgroups = cgroups;
            s.exhaustive = exhaustive;
            s.packages = false;
        })
    };
    [
        port::find_holders(&host, &spec(true, false)).unwrap(),
        port::find_holders(&host, &spec(false, false)).unwrap(),
        port::find_holders(&host, &spec(true, true)).unwrap(),
    ]
}

fn pids(h: &Holders) -> Vec<i32> {
    let mut v: Vec<i32> = h.owners.iter().map(|o| o.pid).collect();
    v.sort_unstable();
    v
}

fn ss_pids(port: u16) -> Vec<i32> {
    let out = Command::new("ss")
        .args(["-Hltnp", &format!("sport = :{port}")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut v: Vec<i32> = text
        .split("pid=")
        .skip(1)
        .filter_map(|s| s.split(',').next()?.parse().ok())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The two paths and the exhaustive walk name exactly `expected` (and so does `ss`);
/// the cgroup path went the way `path` says. Returns the cgroup path's answer.
fn assert_same_owners(port: u16, expected: &[i32], path: ScanPath) -> Holders {
    let mut expected = expected.to_vec();
    expected.sort_unstable();
    assert_eq!(ss_pids(port), expected, "ss on port {port}");
    let [by_cgroup, by_walk, exhaustive] = three_ways(port);
    assert_eq!(
        pids(&by_cgroup),
        expected,
        "cgroup path: {:#?}",
        by_cgroup.scan
    );
    // Not only the pids: the same owners, sockets and groups.
    assert_eq!(by_cgroup.owners, by_walk.owners, "cgroup path vs walk");
    assert_eq!(by_cgroup.groups, by_walk.groups);
    assert_eq!(by_cgroup.unowned, by_walk.unowned);
    assert_eq!(
        by_cgroup.owners, exhaustive.owners,
        "cgroup path vs exhaustive"
    );
    assert_eq!(by_cgroup.scan.path, path, "{:#?}", by_cgroup.scan);
    assert_eq!(by_walk.scan.path, ScanPath::Walk);
    assert_eq!(exhaustive.scan.path, ScanPath::Walk);
    assert!(!exhaustive.scan.stopped_early);
    by_cgroup
}

/// The id of a cgroup directory (its inode), as the kernel reports it for sockets.
fn cgroup_id(dir: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir).unwrap().ino()
}

#[test]
#[serial]
fn own_cgroup_master_and_workers() {
    let Some(mount) = root_tier("own_cgroup_master_and_workers") else {
        return;
    };
    let cg = TestCgroup::new(&mount, "web.service");
    let mut m = Proc::spawn(
        "join(sys.argv[1]); s = tcp('0.0.0.0', 18201)
say('ready', fork(), fork()); signal.pause()",
        &[&cg.path()],
    );
    let workers = m.said("ready");
    let mut expected = workers.clone();
    expected.push(m.pid());
    // The kernel names the test's cgroup for the socket.
    let l = diag::sock_diag(Proto::Tcp, 18201).unwrap();
    assert_eq!(l[0].cgroup_id, Some(cgroup_id(&cg.path())));
    let h = assert_same_owners(18201, &expected, ScanPath::Cgroup);
    // The cgroup's three processes and a few relatives read, and nothing else: the walk
    // never ran.
    assert_eq!(h.scan.cgroups.len(), 1);
    assert_eq!(h.scan.cgroups[0].processes, 3, "{:#?}", h.scan);
    assert!(
        h.scan.cgroups[0]
            .path
            .as_deref()
            .unwrap()
            .ends_with("web.service")
    );
    assert!(h.scan.walk_reasons.is_empty(), "{:#?}", h.scan);
    assert!(
        h.scan.processes + h.scan.relatives_checked <= 8,
        "{:#?}",
        h.scan
    );

    // The binary says which path answered, in JSON and in -v.
    let out = Command::new(HOSTFIX)
        .args(["port", "who", "18201", "--json", "-v"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["scan"]["path"], "cgroup", "{v}");
    assert!(
        v["scan"]["cgroups"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("web.service")
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("found by cgroup"), "{stderr}");
    assert!(stderr.contains("no walk over /proc needed"), "{stderr}");
    drop(m);
}

#[test]
#[serial]
fn shared_cgroup() {
    if root_tier("shared_cgroup").is_none() {
        return;
    }
    // The holder stays in the cgroup of this test, with every other process there.
    let mut h = Proc::spawn(
        "s = tcp('127.0.0.1', 18202); say('ready', fork()); signal.pause()",
        &[],
    );
    let mut expected = h.said("ready");
    expected.push(h.pid());
    let r = assert_same_owners(18202, &expected, ScanPath::Cgroup);
    assert!(
        r.scan.cgroups[0].processes > 2,
        "the cgroup is not shared: {:#?}",
        r.scan
    );
}

#[test]
#[serial]
fn passed_fd_to_another_cgroup() {
    let Some(mount) = root_tier("passed_fd_to_another_cgroup") else {
        return;
    };
    let maker_cg = TestCgroup::new(&mount, "maker");
    let taker_cg = TestCgroup::new(&mount, "taker");
    let own_cg = TestCgroup::new(&mount, "own");
    let dir = tempfile::tempdir().unwrap();
    let unix = dir.path().join("pass.sock").display().to_string();
    // The taker: an unrelated process that receives the socket and keeps it.
    let mut taker = Proc::spawn(
        "join(sys.argv[1])
u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); u.bind(sys.argv[2]); u.listen(1)
say('ready')
c, _ = u.accept()
msg, fds, _, _ = socket.recv_fds(c, 16, 1)
say('got'); signal.pause()",
        &[&taker_cg.path(), &unix],
    );
    taker.said("ready");
    // The maker binds in its cgroup, hands the socket over and closes its own copy.
    let mut maker = Proc::spawn(
        "join(sys.argv[1]); s = tcp('127.0.0.1', 18203)
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); c.connect(sys.argv[2])
socket.send_fds(c, [b'x'], [s.fileno()]); s.close()
say('ready'); signal.pause()",
        &[&maker_cg.path(), &unix],
    );
    maker.said("ready");
    taker.said("got");
    let r = assert_same_owners(18203, &[taker.pid()], ScanPath::Walk);
    assert!(!r.scan.cgroups[0].answered);
    assert!(
        r.scan.walk_reasons[0].contains("no process of cgroup"),
        "{:#?}",
        r.scan
    );

    // Next to it on the same port, a holder in its own cgroup: one lookup, both paths.
    let mut own = Proc::spawn(
        "join(sys.argv[1]); s = tcp('127.0.0.2', 18203); say('ready'); signal.pause()",
        &[&own_cg.path()],
    );
    own.said("ready");
    let r = assert_same_owners(18203, &[taker.pid(), own.pid()], ScanPath::CgroupAndWalk);
    assert_eq!(r.scan.cgroups.len(), 2, "{:#?}", r.scan);
    assert_eq!(r.scan.cgroups.iter().filter(|c| c.answered).count(), 1);
    drop((maker, taker, own));
}

#[test]
#[serial]
fn reuseport_siblings_in_two_cgroups() {
    let Some(mount) = root_tier("reuseport_siblings_in_two_cgroups") else {
        return;
    };
    let a_cg = TestCgroup::new(&mount, "a.service");
    let b_cg = TestCgroup::new(&mount, "b.service");
    let body = "join(sys.argv[1]); s = tcp('0.0.0.0', 18204, reuseport=True)
say('ready'); signal.pause()";
    let mut a = Proc::spawn(body, &[&a_cg.path()]);
    a.said("ready");
    let mut b = Proc::spawn(body, &[&b_cg.path()]);
    b.said("ready");
    let r = assert_same_owners(18204, &[a.pid(), b.pid()], ScanPath::Cgroup);
    assert_eq!(r.listeners.len(), 2);
    assert_eq!(r.scan.cgroups.len(), 2, "{:#?}", r.scan);
    assert!(
        r.scan
            .cgroups
            .iter()
            .all(|c| c.answered && c.processes == 1)
    );
    assert_eq!(r.groups.len(), 2, "two unrelated holders: {:#?}", r.groups);
    drop((a, b));
}

#[test]
#[serial]
fn socket_activated_without_systemd() {
    let Some(mount) = root_tier("socket_activated_without_systemd") else {
        return;
    };
    let init_cg = TestCgroup::new(&mount, "init.scope");
    let svc_cg = TestCgroup::new(&mount, "echo.service");
    // The activator keeps the socket (as PID 1 does for a .socket unit); the service it
    // starts inherits it in its own cgroup.
    let mut act = Proc::spawn(
        "join(sys.argv[1]); s = tcp('0.0.0.0', 18205)
say('ready', fork(sys.argv[2])); signal.pause()",
        &[&init_cg.path(), &svc_cg.path()],
    );
    let svc = act.said("ready");
    let l = diag::sock_diag(Proto::Tcp, 18205).unwrap();
    assert_eq!(l[0].cgroup_id, Some(cgroup_id(&init_cg.path())));
    let r = assert_same_owners(18205, &[act.pid(), svc[0]], ScanPath::Cgroup);
    let service = r.owners.iter().find(|o| o.pid == svc[0]).unwrap();
    assert!(
        service.cgroup.as_deref().unwrap().ends_with("echo.service"),
        "{service:#?}"
    );
    drop(act);
}
