//! The request, sent for real. Pure tier (any user): tiny servers on ephemeral loopback
//! ports that answer HTTP, say nothing, drip, flood, or reset, and the probe's bounded
//! reading of each; doctor naming the process that holds a loopback port. Root tier
//! (`#[serial]`): in a network namespace the test makes, a server on port 80 named with
//! its `Server` header, a silent one on port 80 that doctor does not wait for, and the
//! incident's first line: a container wants :80 and something else answers there.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hostfix::doctor::{Area, DoctorOptions, Severity, Subject};
use hostfix::testing::evidence::probe::{self, Outcome, ProbeLimits};
use hostfix::testing::with;
use hostfix::{Host, Policy, Risk};

/// A server thread: accepts on `l` and hands each connection to `serve` until stopped.
struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Vec<String>>>,
}

impl Server {
    fn start(l: TcpListener, serve: fn(TcpStream, &AtomicBool) -> String) -> Server {
        let addr = l.local_addr().unwrap();
        l.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !s.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((c, _)) => {
                        c.set_nonblocking(false).unwrap();
                        seen.push(serve(c, &s));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            seen
        });
        Server {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn on_loopback(serve: fn(TcpStream, &AtomicBool) -> String) -> Server {
        Server::start(TcpListener::bind("127.0.0.1:0").unwrap(), serve)
    }

    /// Stops it and returns what each connection's client sent first.
    fn requests(mut self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads the client's request head (bounded).
fn head(c: &mut TcpStream) -> String {
    c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut got = Vec::new();
    let mut b = [0u8; 512];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") && got.len() < 4096 {
        match c.read(&mut b) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&b[..n]),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

fn http_ok(mut c: TcpStream, _: &AtomicBool) -> String {
    let h = head(&mut c);
    let _ =
        c.write_all(b"HTTP/1.1 200 OK\r\nServer: hostfix-test/1.0\r\nContent-Length: 0\r\n\r\n");
    h
}

/// Keeps the connection open, says nothing, until stopped.
fn silent(c: TcpStream, stop: &AtomicBool) -> String {
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(c);
    String::new()
}

/// A status line, then one byte every 50 ms, forever.
fn drip(mut c: TcpStream, stop: &AtomicBool) -> String {
    let _ = c.write_all(b"HTTP/1.1 200 OK\r\n");
    while !stop.load(Ordering::Relaxed) && c.write_all(b"S").is_ok() {
        std::thread::sleep(Duration::from_millis(50));
    }
    String::new()
}

/// A megabyte of one header.
fn flood(mut c: TcpStream, _: &AtomicBool) -> String {
    let mut big = b"HTTP/1.1 200 OK\r\nX-Flood: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 1 << 20));
    let _ = c.write_all(&big);
    String::new()
}

fn garbage(mut c: TcpStream, _: &AtomicBool) -> String {
    let _ = c.write_all(b"\x00\x01\x1b[2Jgarbage\r\n\r\n");
    String::new()
}

fn reset(c: TcpStream, _: &AtomicBool) -> String {
    let l = nix::sys::socket::sockopt::Linger;
    let zero = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    nix::sys::socket::setsockopt(&c, l, &zero).unwrap();
    drop(c);
    String::new()
}

fn short() -> ProbeLimits {
    ProbeLimits {
        answer: Duration::from_millis(500),
        ..ProbeLimits::default()
    }
}

// ---- pure tier: ephemeral loopback ports ----

#[test]
fn an_http_answer_gives_its_status_line_and_server() {
    let s = Server::on_loopback(http_ok);
    let p = probe::send(s.addr, true, ProbeLimits::default());
    assert_eq!(
        p.outcome,
        Outcome::Http {
            status_line: "HTTP/1.1 200 OK".into(),
            code: Some(200),
            server: Some("hostfix-test/1.0".into()),
            truncated: false,
        }
    );
    let seen = s.requests();
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0].starts_with(&format!("HEAD / HTTP/1.0\r\nHost: {}\r\n", p.addr)),
        "{seen:?}"
    );
}

#[test]
fn a_silent_listener_is_an_answer_of_its_own_not_a_hang() {
    let s = Server::on_loopback(silent);
    let t = Instant::now();
    let p = probe::send(s.addr, true, short());
    let took = t.elapsed();
    assert!(
        matches!(p.outcome, Outcome::NoAnswer { bytes: 0, waited_ms } if waited_ms >= 500),
        "{p:?}"
    );
    assert!(p.outcome.misbehaved());
    // Bounded by its deadline, not by the peer (a hang guard, not a benchmark).
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn a_drip_is_cut_at_the_deadline_and_a_flood_at_the_size_limit() {
    let s = Server::on_loopback(drip);
    let p = probe::send(s.addr, true, short());
    match &p.outcome {
        Outcome::Http {
            status_line,
            truncated: true,
            server: None,
            ..
        } => assert_eq!(status_line, "HTTP/1.1 200 OK"),
        o => panic!("{o:?}"),
    }
    drop(s);
    let s = Server::on_loopback(flood);
    let p = probe::send(s.addr, true, short());
    assert!(
        matches!(
            p.outcome,
            Outcome::Http {
                truncated: true,
                code: Some(200),
                ..
            }
        ),
        "{p:?}"
    );
}

#[test]
fn garbage_and_resets_are_named() {
    let s = Server::on_loopback(garbage);
    let p = probe::send(s.addr, true, short());
    assert_eq!(
        p.outcome,
        Outcome::NotHttp {
            first_bytes: "???[2Jgarbage".into()
        }
    );
    drop(s);
    let s = Server::on_loopback(reset);
    let p = probe::send(s.addr, true, short());
    assert!(
        matches!(p.outcome, Outcome::Reset | Outcome::Closed),
        "{p:?}"
    );
    drop(s);
    // Nothing listens: refused, at once.
    let free = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    assert_eq!(probe::send(free, true, short()).outcome, Outcome::Refused);
}

/// The name `port who` gives this test process: its unit when it runs in a service,
/// else `pid PID COMM` (read from `/proc/self`).
fn our_name() -> String {
    let cg = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let unit = cg
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .and_then(|p| p.rsplit('/').next())
        .filter(|u| u.ends_with(".service"))
        .map(str::to_string);
    unit.unwrap_or_else(|| {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let comm = &stat[stat.find('(').unwrap() + 1..stat.rfind(')').unwrap()];
        format!("pid {} {comm}", std::process::id())
    })
}

fn opts(ports: Vec<u16>) -> DoctorOptions {
    with(DoctorOptions::default(), |it| {
        it.ports = ports;
        it.disk_paths = vec![];
        it.state_dir = "/nonexistent/hostfix-state".into();
        it.since = None;
    })
}

#[test]
fn doctor_names_the_process_a_loopback_port_reaches() {
    let s = Server::on_loopback(http_ok);
    let port = s.addr.port();
    let d = hostfix::doctor::diagnose(
        &Host::live(),
        &opts(vec![port]),
        &Policy::new(Risk::ReadOnly),
    )
    .result;
    let f = &d.findings[0];
    assert_eq!(f.area, Area::Request, "{:#?}", d.findings);
    // Not an HTTP port: a TCP connect only.
    assert_eq!(f.title, format!("requests to :{port} reach {}", our_name()));
    assert!(f.subjects.contains(&Subject::Port {
        port,
        proto: hostfix::port::Proto::Tcp
    }));
    assert!(
        f.evidence[0].starts_with(&format!("connect to 127.0.0.1:{port}: connection accepted"))
    );
}

// ---- root tier: port 80 in a network namespace ----

/// Moves this thread into a new network namespace with `lo` up; false (and why) when the
/// test cannot run here.
fn netns(test: &str) -> bool {
    let require = std::env::var_os("HOSTFIX_REQUIRE_ROOT").is_some_and(|v| v == "1");
    let skip = |why: String| {
        assert!(!require, "{test}: HOSTFIX_REQUIRE_ROOT=1 but {why}");
        eprintln!("SKIPPED {test}: {why}");
        false
    };
    if !nix::unistd::geteuid().is_root() {
        return skip("not root".into());
    }
    if let Err(e) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET) {
        return skip(format!("unshare(CLONE_NEWNET): {e}"));
    }
    match Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
    {
        Ok(s) if s.success() => true,
        other => skip(format!("ip link set lo up: {other:?}")),
    }
}

#[test]
#[serial_test::serial]
fn doctor_names_the_http_server_on_port_80_and_its_server_header() {
    if !netns("doctor_names_the_http_server_on_port_80_and_its_server_header") {
        return;
    }
    let s = Server::start(TcpListener::bind("0.0.0.0:80").unwrap(), http_ok);
    let d = hostfix::doctor::diagnose(&Host::live(), &opts(vec![80]), &Policy::new(Risk::ReadOnly))
        .result;
    let f = &d.findings[0];
    assert_eq!(
        f.title,
        format!(
            "requests to :80 reach {} (Server: hostfix-test/1.0)",
            our_name()
        ),
        "{:#?}",
        d.findings
    );
    assert_eq!(f.severity, Severity::Ok);
    assert_eq!(
        f.proofs[0].lines,
        ["HTTP/1.1 200 OK", "Server: hostfix-test/1.0"]
    );
    // 0.0.0.0 does not take ::1.
    assert!(
        f.evidence
            .iter()
            .any(|e| e.starts_with("HEAD / to [::1]:80: connection refused")),
        "{:?}",
        f.evidence
    );
    assert_eq!(s.requests().len(), 1);
}

#[test]
#[serial_test::serial]
fn doctor_does_not_wait_for_a_silent_listener_on_port_80() {
    if !netns("doctor_does_not_wait_for_a_silent_listener_on_port_80") {
        return;
    }
    let _s = Server::start(TcpListener::bind("[::]:80").unwrap(), silent);
    let t = Instant::now();
    let d = hostfix::doctor::diagnose(&Host::live(), &opts(vec![80]), &Policy::new(Risk::ReadOnly))
        .result;
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    let f = &d.findings[0];
    assert_eq!(f.severity, Severity::Warning, "{f:#?}");
    assert!(
        f.title.starts_with(&format!(
            "requests to :80 reach {} but get no proper answer: accepted, no complete answer in",
            our_name()
        )),
        "{}",
        f.title
    );
}

/// A `docker` that answers from the fixtures: a container `web` that wants port 80.
fn fake_docker(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let fx = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/evidence/engine");
    let script = format!(
        "#!/bin/sh\ncase \"$1\" in\n  ps) cat '{0}/ps-web-blocked.txt' ;;\n  container) cat '{0}/inspect-web-blocked.json' ;;\n  logs) echo '2024-05-02T09:14:04.200000000Z nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)' >&2 ;;\n  *) exit 1 ;;\nesac\n",
        fx.display()
    );
    let p = dir.join("docker");
    std::fs::write(&p, script).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
#[serial_test::serial]
fn the_first_problem_is_the_request_reaching_something_else_than_the_container() {
    if !netns("the_first_problem_is_the_request_reaching_something_else_than_the_container") {
        return;
    }
    let bin = tempfile::tempdir().unwrap();
    fake_docker(bin.path());
    let _s = Server::start(TcpListener::bind("0.0.0.0:80").unwrap(), http_ok);
    let path = format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", bin.path().display());
    let out = Command::new(env!("CARGO_BIN_EXE_hostfix"))
        .args([
            "doctor",
            "--port",
            "80",
            "--json",
            "--state-dir",
            "/nonexistent/hostfix-state",
        ])
        .env("PATH", path)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let first = &v["findings"][0];
    assert_eq!(
        first["title"],
        format!(
            "requests to :80 reach {} (Server: hostfix-test/1.0), not container web",
            our_name()
        ),
        "{v:#}"
    );
    assert_eq!(first["severity"], "problem");
    assert!(
        first["subjects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["kind"] == "container" && s["name"] == "web")
    );
    // The container's finding carries its log line.
    let web = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["area"] == "containers" && f["title"].as_str().unwrap().starts_with("container web")
        })
        .unwrap();
    let log = web["proofs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["source"] == "engine-log")
        .unwrap_or_else(|| panic!("{web:#}"));
    assert!(
        log["lines"][0]
            .as_str()
            .unwrap()
            .contains("bind() to 0.0.0.0:80 failed")
    );
}
