//! `port who` and `port free` on the real kernel, as root, in network namespaces the
//! tests create (never the host's own ports). Each test moves its own thread into a new
//! network namespace; the holders (python3 snippets) and the `hostfix` binary it starts
//! inherit it. Only processes the tests start are signalled.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use hostfix::port::{self, FreeSpec, WhoSpec, free_port};
use hostfix::testing::port::diag;
use hostfix::testing::port::table::{self, Proto};
use hostfix::testing::with;
use hostfix::{Host, Policy, Risk, StepStatus};
use nix::sched::{CloneFlags, unshare};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

#[path = "support/tiers.rs"]
mod tiers;

use tiers::Tier;

const PY: &str = "/usr/bin/python3";
const HOSTFIX: &str = env!("CARGO_BIN_EXE_hostfix");

/// Moves this thread into a new network namespace with `lo` up; false (and the reason
/// printed) when the test cannot run here.
fn netns() -> bool {
    if !tiers::root("a private network namespace") {
        return false;
    }
    if !Path::new(PY).exists() {
        tiers::skip(
            Tier::Root,
            &format!("{PY} is missing (apt-get install python3)"),
        );
        return false;
    }
    if let Err(e) = unshare(CloneFlags::CLONE_NEWNET) {
        tiers::skip(Tier::Root, &format!("unshare(CLONE_NEWNET): {e}"));
        return false;
    }
    match Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
    {
        Ok(s) if s.success() => {}
        other => eprintln!("note: ip link set lo up: {other:?} (loopback addresses unusable)"),
    }
    true
}

const PRELUDE: &str = "
import os, signal, socket, sys, time
def ready():
    sys.stdout.write('ready\\n'); sys.stdout.flush()
def tcp(fam, addr, port, v6only=None, reuseport=False):
    s = socket.socket(fam, socket.SOCK_STREAM)
    if v6only is not None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    if reuseport:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((addr, port)); s.listen(16)
    return s
";

/// A holder process (and its process group), killed and reaped on drop.
struct Holder {
    child: Child,
    pid: i32,
}

impl Holder {
    fn spawn(body: &str) -> Holder {
        let mut child = Command::new(PY)
            .arg("-c")
            .arg(format!("{PRELUDE}\n{body}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        if line.trim() != "ready" {
            let out = child.wait_with_output().unwrap();
            panic!("holder failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Holder { child, pid }
    }

    /// How the holder ended, waiting up to 3 s.
    fn exit(&mut self) -> Option<ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        // Our own process group: the holder and the workers it forked.
        let _ = killpg(Pid::from_raw(self.pid), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

fn json(args: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::new(HOSTFIX)
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: {e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

fn owner_pids(v: &serde_json::Value) -> Vec<i64> {
    let mut p: Vec<i64> = v["owners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["pid"].as_i64().unwrap())
        .collect();
    p.sort();
    p
}

fn bindable(port: u16) -> bool {
    let v4: SocketAddr = format!("0.0.0.0:{port}").parse().unwrap();
    let v6: SocketAddr = format!("[::]:{port}").parse().unwrap();
    TcpListener::bind(v4).is_ok() && TcpListener::bind(v6).is_ok()
}

fn policy(state: &tempfile::TempDir) -> Policy {
    Policy::new(Risk::Disruptive).state_dir(state.path())
}

fn quick(port: u16) -> FreeSpec {
    with(FreeSpec::tcp(port), |it| {
        it.timeout = Duration::from_secs(1);
    })
}

#[test]
#[serial_test::serial]
fn ipv4_ipv6_and_dual_stack_listeners() {
    if !netns() {
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let mut v4 = Holder::spawn("a = tcp(socket.AF_INET, '0.0.0.0', 8081); ready(); signal.pause()");
    let mut v6 =
        Holder::spawn("a = tcp(socket.AF_INET6, '::', 8082, v6only=1); ready(); signal.pause()");
    let mut dual =
        Holder::spawn("a = tcp(socket.AF_INET6, '::', 8083, v6only=0); ready(); signal.pause()");
    let mut lo =
        Holder::spawn("a = tcp(socket.AF_INET, '127.0.0.1', 8084); ready(); signal.pause()");
    for (port, holder, addr, v6only) in [
        (8081, &v4, "0.0.0.0", serde_json::Value::Null),
        (8082, &v6, "::", serde_json::Value::Bool(true)),
        (8083, &dual, "::", serde_json::Value::Bool(false)),
        (8084, &lo, "127.0.0.1", serde_json::Value::Null),
    ] {
        let (code, v) = json(&["port", "who", &port.to_string()]);
        assert_eq!(code, 0, "{v}");
        assert_eq!(v["listeners"].as_array().unwrap().len(), 1, "{v}");
        assert_eq!(v["listeners"][0]["address"], addr);
        assert_eq!(v["listeners"][0]["v6only"], v6only, "{v}");
        assert_eq!(owner_pids(&v), vec![holder.pid as i64]);
        assert_eq!(v["owners"][0]["kind"], "process");
        // The kernel's filtered dump and the /proc/net fallback agree.
        let host = Host::live();
        let nl = diag::sock_diag(Proto::Tcp, port).unwrap();
        let pn = table::read_proc_net(&host, Proto::Tcp, port).unwrap();
        assert_eq!(
            nl.iter().map(|l| l.inode).collect::<Vec<_>>(),
            pn.iter().map(|l| l.inode).collect::<Vec<_>>()
        );
        assert!(!bindable(port));
    }
    // Freed by SIGTERM, each verified on 0.0.0.0 and ::.
    for (port, holder) in [
        (8081, &mut v4),
        (8082, &mut v6),
        (8083, &mut dual),
        (8084, &mut lo),
    ] {
        let rep = free_port(&Host::live(), &quick(port), &policy(&state));
        assert!(rep.is_ok(), "{port}: {:?} {:#?}", rep.error, rep.steps);
        assert!(rep.changed && rep.result.free);
        assert_eq!(holder.exit().unwrap().signal(), Some(libc::SIGTERM));
        assert!(bindable(port), "{port}");
    }
}

#[test]
#[serial_test::serial]
fn a_udp_socket() {
    if !netns() {
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let mut h = Holder::spawn(
        "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('0.0.0.0', 5354)); ready(); signal.pause()",
    );
    let (code, v) = json(&["port", "who", "5354", "--udp"]);
    assert_eq!(code, 0);
    assert_eq!(v["proto"], "udp");
    assert_eq!(owner_pids(&v), vec![h.pid as i64]);
    let (_, tcp) = json(&["port", "who", "5354"]);
    assert!(
        tcp["owners"].as_array().unwrap().is_empty(),
        "TCP 5354 is free"
    );
    assert!(UdpSocket::bind("0.0.0.0:5354").is_err());
    let spec = with(quick(5354), |it| {
        it.proto = Proto::Udp;
    });
    let rep = free_port(&Host::live(), &spec, &policy(&state));
    assert!(rep.is_ok(), "{:?}", rep.error);
    assert!(h.exit().is_some());
    assert!(UdpSocket::bind("0.0.0.0:5354").is_ok() && UdpSocket::bind("[::]:5354").is_ok());
}

#[test]
#[serial_test::serial]
fn a_master_with_forked_workers() {
    if !netns() {
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let mut h = Holder::spawn(
        "s = tcp(socket.AF_INET6, '::', 8085, v6only=0)
kids = []
for i in range(3):
    pid = os.fork()
    if pid == 0:
        signal.pause(); os._exit(0)
    kids.append(pid)
ready(); signal.pause()",
    );
    let (code, v) = json(&["port", "who", "8085"]);
    assert_eq!(code, 0);
    let pids = owner_pids(&v);
    assert_eq!(pids.len(), 4, "{v}");
    assert!(pids.contains(&(h.pid as i64)));
    let groups = v["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{v}");
    assert_eq!(groups[0]["leader"], h.pid);
    assert!(
        groups[0]["summary"]
            .as_str()
            .unwrap()
            .starts_with(&format!("pid {} python3 (master) and 3 workers", h.pid)),
        "{v}"
    );
    // The early-stopping walk and the exhaustive one find the same owners; so does ss.
    let (_, full) = json(&["port", "who", "8085", "--exhaustive"]);
    assert_eq!(owner_pids(&full), pids);
    assert_eq!(full["scan"]["stopped_early"], false);
    if let Ok(out) = Command::new("ss")
        .args(["-Hltnp", "sport = :8085"])
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        let mut ss: Vec<i64> = text
            .split("pid=")
            .skip(1)
            .filter_map(|s| s.split(',').next()?.parse().ok())
            .collect();
        ss.sort();
        assert_eq!(ss, pids, "{text}");
    }
    let rep = free_port(&Host::live(), &quick(8085), &policy(&state));
    assert!(rep.is_ok(), "{:?}", rep.error);
    let term = rep
        .steps
        .iter()
        .find(|s| s.action.starts_with("SIGTERM"))
        .unwrap();
    assert_eq!(term.action.matches("python3").count(), 4, "{}", term.action);
    assert!(h.exit().is_some());
    assert!(bindable(8085));
}

#[test]
#[serial_test::serial]
fn two_so_reuseport_processes() {
    if !netns() {
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let body = "s = tcp(socket.AF_INET, '0.0.0.0', 8086, reuseport=True); ready(); signal.pause()";
    let mut a = Holder::spawn(body);
    let mut b = Holder::spawn(body);
    let host = Host::live();
    let h = port::find_holders(&host, &WhoSpec::tcp(8086)).unwrap();
    assert_eq!(h.listeners.len(), 2);
    assert_ne!(h.listeners[0].inode, h.listeners[1].inode);
    let mut pids: Vec<i32> = h.owners.iter().map(|o| o.pid).collect();
    pids.sort();
    let mut want = vec![a.pid, b.pid];
    want.sort();
    assert_eq!(pids, want);
    assert_eq!(h.groups.len(), 2);
    let rep = free_port(&host, &quick(8086), &policy(&state));
    assert!(rep.is_ok(), "{:?}", rep.error);
    assert!(a.exit().is_some() && b.exit().is_some());
    assert!(bindable(8086));
}

#[test]
#[serial_test::serial]
fn a_process_ignoring_sigterm_ends_at_sigkill() {
    if !netns() {
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let mut h = Holder::spawn(
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)
s = tcp(socket.AF_INET, '0.0.0.0', 8087); ready()
while True: time.sleep(1)",
    );
    let (code, v) = json(&[
        "port",
        "free",
        "8087",
        "--timeout",
        "1s",
        "--state-dir",
        state.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{v:#}");
    let steps = v["steps"].as_array().unwrap();
    let term = steps
        .iter()
        .find(|s| s["action"].as_str().unwrap().starts_with("SIGTERM"))
        .unwrap();
    let kill = steps
        .iter()
        .find(|s| s["action"].as_str().unwrap().starts_with("SIGKILL"))
        .unwrap();
    // Taken, and verified not to be enough: the ladder went on to SIGKILL.
    assert_eq!(term["status"], "failed");
    let detail = term["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("port still held after 1s; not enough: port 8"),
        "{detail}"
    );
    assert_eq!(kill["status"], "done");
    assert_eq!(kill["detail"], "port free");
    assert_eq!(v["free"], true);
    assert_eq!(h.exit().unwrap().signal(), Some(libc::SIGKILL));
    assert!(bindable(8087));
    // Run again: nothing to do.
    let (code, v) = json(&[
        "port",
        "free",
        "8087",
        "--state-dir",
        state.path().to_str().unwrap(),
    ]);
    assert_eq!(
        (code, &v["changed"]),
        (0, &serde_json::Value::Bool(false)),
        "{v:#}"
    );
}

#[test]
#[serial_test::serial]
fn processes_exiting_during_the_scan_are_skipped() {
    if !netns() {
        return;
    }
    // A process that forks short-lived children as fast as it can, and a holder.
    let _churn = Holder::spawn(
        "ready()
while True:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)",
    );
    let h = Holder::spawn("s = tcp(socket.AF_INET, '0.0.0.0', 8088); ready(); signal.pause()");
    let host = Host::live();
    let mut vanished = 0;
    for i in 0..40 {
        let spec = with(WhoSpec::tcp(8088), |it| {
            it.exhaustive = i % 2 == 0;
        });
        let r = port::find_holders(&host, &spec).unwrap();
        assert_eq!(r.owners.len(), 1);
        assert_eq!(r.owners[0].pid, h.pid);
        vanished += r.scan.vanished;
    }
    eprintln!("processes that vanished mid-walk over 40 walks: {vanished}");
    // A holder that exits right after being seen in the socket table.
    for _ in 0..5 {
        let mut short = Holder::spawn(
            "s = tcp(socket.AF_INET, '0.0.0.0', 8089); ready(); time.sleep(0.02); os._exit(0)",
        );
        let r = port::find_holders(&host, &WhoSpec::tcp(8089)).unwrap();
        assert!(r.owners.len() <= 1);
        assert!(short.exit().is_some());
    }
}

#[test]
#[serial_test::serial]
fn the_callers_own_socket_is_refused() {
    if !netns() {
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let mine = TcpListener::bind("0.0.0.0:8090").unwrap();
    let rep = free_port(&Host::live(), &quick(8090), &policy(&state));
    assert_eq!(rep.exit_code(), 3, "{:?}", rep.error);
    let e = rep.error.unwrap().to_string();
    assert!(e.contains("caller"), "{e}");
    assert!(rep.steps.iter().any(|s| s.status == StepStatus::Refused));
    // Through the CLI, the test process is hostfix's parent: refused too.
    let (code, v) = json(&[
        "port",
        "free",
        "8090",
        "--state-dir",
        state.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "{v:#}");
    assert_eq!(v["outcome"], "refused");
    assert!(v["error"].as_str().unwrap().contains("caller"));
    assert_eq!(v["holders"][0]["pid"], std::process::id());
    // Still listening.
    mine.set_nonblocking(true).unwrap();
    assert!(mine.local_addr().is_ok());
    assert!(!bindable(8090));
}

#[test]
#[serial_test::serial]
fn a_free_port_and_the_dry_run() {
    if !netns() {
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let sd = state.path().to_str().unwrap();
    let (code, v) = json(&["port", "free", "8091", "--state-dir", sd]);
    assert_eq!(code, 0);
    assert_eq!(v["changed"], false);
    assert_eq!(v["free"], true);
    let mut h = Holder::spawn("s = tcp(socket.AF_INET, '0.0.0.0', 8091); ready(); signal.pause()");
    let (code, v) = json(&["port", "free", "8091", "--dry-run", "--state-dir", sd]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(
        (v["changed"].clone(), v["dry_run"].clone()),
        (true.into(), true.into())
    );
    assert!(
        h.child.try_wait().unwrap().is_none(),
        "a dry run signals nothing"
    );
    let (code, v) = json(&[
        "port",
        "free",
        "8091",
        "--max-risk",
        "additive",
        "--state-dir",
        sd,
    ]);
    assert_eq!(code, 3, "{v:#}");
    assert!(h.child.try_wait().unwrap().is_none());
    let (code, _) = json(&["port", "free", "8091", "--state-dir", sd]);
    assert_eq!(code, 0);
    assert!(h.exit().is_some());
    // Human output.
    let out = Command::new(HOSTFIX)
        .args(["port", "who", "8091"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("tcp port 8091: free"));
    let out = Command::new(HOSTFIX)
        .args(["port", "who", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
#[serial_test::serial]
fn doctor_shows_the_holder_and_the_command_that_frees_it() {
    if !netns() {
        return;
    }
    let h = Holder::spawn("s = tcp(socket.AF_INET, '0.0.0.0', 8092); ready(); signal.pause()");
    let (code, v) = json(&["doctor", "--port", "8092", "--port", "8093"]);
    assert_eq!(code, 0, "{v:#}");
    let findings: Vec<&serde_json::Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["area"] == "ports")
        .collect();
    assert_eq!(findings.len(), 2, "{v:#}");
    let held = findings[0];
    assert!(
        held["title"]
            .as_str()
            .unwrap()
            .starts_with(&format!("port 8092/tcp: pid {} python3", h.pid)),
        "{held:#}"
    );
    assert_eq!(held["fix"]["command"], "hostfix port free 8092");
    assert_eq!(held["fix"]["risk"], "disruptive");
    assert_eq!(findings[1]["title"], "port 8093/tcp: free");
    assert_eq!(findings[1]["severity"], "ok");
    assert_eq!(v["facts"]["ports"][0]["owners"][0]["pid"], h.pid);
    // Findings come first, along the request's path: the request sent, then the holders.
    assert_eq!(v["findings"][0]["area"], "request");
    assert_eq!(
        v["findings"][0]["title"],
        format!("requests to :8092 reach pid {} python3", h.pid),
        "{v:#}"
    );
}

#[test]
#[serial_test::serial]
fn not_root_says_what_it_could_not_see() {
    if !netns() {
        return;
    }
    let h = Holder::spawn("s = tcp(socket.AF_INET, '0.0.0.0', 8094); ready(); signal.pause()");
    // The same lookup as nobody: the socket table is readable, root's open files are not.
    let out = Command::new(HOSTFIX)
        .args(["port", "who", "8094", "--json"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["listeners"].as_array().unwrap().len(), 1);
    assert!(v["owners"].as_array().unwrap().is_empty(), "{v:#}");
    assert!(v["scan"]["denied"].as_u64().unwrap() > 0);
    assert!(
        v["notes"][0].as_str().unwrap().starts_with("not root"),
        "{v:#}"
    );
    assert!(
        v["unowned"][0]
            .as_str()
            .unwrap()
            .starts_with("0.0.0.0:8094/tcp")
    );
    // As root, the owner is there.
    let (_, v) = json(&["port", "who", "8094"]);
    assert_eq!(owner_pids(&v), vec![h.pid as i64]);
}
