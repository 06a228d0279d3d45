//! Pure tests of the evidence on recorded fixtures: kernel logs of several kernel versions
//! (OOM kills with cgroup v1 and v2 paths, hung tasks, filesystem errors), the journal,
//! `systemctl show`, `docker logs`, and the findings made of them (who a request reached,
//! the first problem's one line).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use hostfix::doctor::{Area, Severity, Source, Subject};
use hostfix::port::Proto;
use hostfix::port::{Holders, Listener};
use hostfix::testing::engine::parse_inspect;
use hostfix::testing::evidence::engine_log::{self, Class, Stream};
use hostfix::testing::evidence::findings::{self, Place};
use hostfix::testing::evidence::journal;
use hostfix::testing::evidence::kernel::{At, KernelEvents, Scanner};
use hostfix::testing::evidence::kmsg;
use hostfix::testing::evidence::probe::{Outcome, Probe};
use hostfix::testing::evidence::request::{self, Interest, PortRequest};
use hostfix::testing::evidence::sources::KernelLog;
use hostfix::testing::port::owner::{OwnerGroup, OwnerKind, PortOwner};
use hostfix::testing::with;

const ID: &str = "3f4e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f";
/// The boot time the fixtures are read with: 2024-04-24T23:06:40Z.
const BOOT: f64 = 1_714_000_000.0;

fn read(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/evidence")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn scan_kmsg(name: &str) -> KernelEvents {
    let text = read(&format!("kmsg/{name}"));
    let mut s = Scanner::new(10, Some(BOOT));
    for line in text.lines() {
        if let Some(r) = kmsg::parse_record(line) {
            let at = At {
                seq: Some(r.seq),
                usec: Some(r.usec),
                wall: None,
            };
            s.push(at, r.text);
        }
    }
    s.finish()
}

// ---- the kernel's OOM killer, across versions ----

#[test]
fn oom_kills_on_3_10_with_cgroup_v1_and_a_host_wide_one() {
    let e = scan_kmsg("3.10-el7-cgroup-v1");
    assert_eq!(e.oom_kills_total, 2);
    let k = &e.oom_kills[0];
    assert_eq!((k.pid, k.name.as_str()), (4321, "java"));
    let docker = format!("/docker/{ID}");
    assert_eq!(k.cgroup.as_deref(), Some(docker.as_str()));
    assert_eq!(k.limit_cgroup.as_deref(), Some(docker.as_str()));
    assert_eq!(k.host_wide, Some(false));
    assert_eq!(
        (k.uid, k.anon_rss_kb, k.total_vm_kb),
        (Some(0), Some(520_000), Some(3_249_380))
    );
    assert_eq!(k.invoked_by.as_deref(), Some("java"));
    // The lines that prove it: the invocation, the cgroup, the choice, the kill.
    assert_eq!(k.lines.len(), 4, "{:#?}", k.lines);
    assert!(k.lines[1].contains("Task in /docker/"));
    assert!(k.lines[3].contains("Killed process 4321 (java), UID 0"));
    let m = &e.oom_kills[1];
    assert_eq!((m.pid, m.name.as_str(), m.uid), (1234, "mysqld", Some(27)));
    assert_eq!(
        (m.cgroup.as_deref(), m.limit_cgroup.as_deref()),
        (None, None)
    );
    assert_eq!(m.host_wide, Some(true));
    assert_eq!(m.when.seq, Some(903));
    assert_eq!(m.when.since_boot, Some(9900.0003));
}

#[test]
fn oom_kill_hung_task_and_ext4_errors_on_4_15() {
    let e = scan_kmsg("4.15-ubuntu-cgroup-v1");
    assert_eq!(e.oom_kills_total, 1);
    let k = &e.oom_kills[0];
    assert_eq!((k.pid, k.name.as_str(), k.uid), (2603, "node", None));
    assert_eq!(k.cgroup, Some(format!("/docker/{ID}")));
    assert_eq!(k.anon_rss_kb, Some(259_784));
    assert!(
        k.lines
            .last()
            .unwrap()
            .contains("oom_reaper: reaped process 2603 (node)")
    );
    assert_eq!(e.hung_tasks_total, 1);
    let h = &e.hung_tasks[0];
    assert_eq!(
        (h.name.as_str(), h.pid, h.seconds),
        ("jbd2/sda1-8", 312, 120)
    );
    assert_eq!(h.when.time.as_deref(), Some("2024-04-25T00:06:40Z"));
    // The mount line is not an error; the error and the read-only remount are.
    assert_eq!(e.fs_errors_total, 2);
    assert_eq!(e.fs_errors[0].kind, "ext4");
    assert_eq!(e.fs_errors[0].device.as_deref(), Some("sda1"));
    assert!(
        e.fs_errors[1]
            .line
            .ends_with("EXT4-fs (sda1): Remounting filesystem read-only")
    );
}

#[test]
fn the_4_19_summary_split_in_two_records_is_joined() {
    let e = scan_kmsg("4.19-split-summary");
    let k = &e.oom_kills[0];
    assert_eq!((k.pid, k.name.as_str()), (2222, "stress"));
    assert_eq!(k.cgroup, Some(format!("/docker/{ID}")));
    assert_eq!(k.limit_cgroup, Some(format!("/docker/{ID}")));
    assert_eq!(k.constraint.as_deref(), Some("CONSTRAINT_MEMCG"));
    // No UID in the kill line of 4.19: the summary's.
    assert_eq!(k.uid, Some(0));
    assert_eq!(k.host_wide, Some(false));
}

#[test]
fn cgroup_v2_docker_scope_on_5_15() {
    let e = scan_kmsg("5.15-cgroup-v2-docker");
    let k = &e.oom_kills[0];
    let scope = format!("/system.slice/docker-{ID}.scope");
    assert_eq!(k.cgroup.as_deref(), Some(scope.as_str()));
    assert_eq!(k.limit_cgroup.as_deref(), Some(scope.as_str()));
    assert_eq!((k.uid, k.anon_rss_kb), (Some(1000), Some(258_000)));
    assert_eq!(k.when.time.as_deref(), Some("2024-04-25T00:36:40Z"));
    assert_eq!(e.hung_tasks[0].pid, 5601);
    assert_eq!(e.fs_errors[0].kind, "xfs");
    assert_eq!(e.fs_errors[0].device.as_deref(), Some("nvme1n1"));
}

#[test]
fn host_wide_oom_of_a_service_on_6_8() {
    let e = scan_kmsg("6.8-host-wide");
    let k = &e.oom_kills[0];
    assert_eq!(
        (k.pid, k.name.as_str(), k.uid),
        (7777, "php-fpm8.2", Some(33))
    );
    assert_eq!(
        k.cgroup.as_deref(),
        Some("/system.slice/php8.2-fpm.service")
    );
    assert_eq!(k.limit_cgroup, None);
    assert_eq!(k.host_wide, Some(true));
    assert_eq!(k.constraint.as_deref(), Some("CONSTRAINT_NONE"));
    assert_eq!(k.when.time.as_deref(), Some("2024-04-25T23:00:00Z"));
    let names = BTreeMap::new();
    assert_eq!(
        Place::of(k.cgroup.as_deref().unwrap(), &names),
        Place::Unit("php8.2-fpm.service".into())
    );
}

#[test]
fn cgroup_paths_name_their_container() {
    let names: BTreeMap<String, String> = [(ID.to_string(), "web".to_string())].into();
    for path in [
        format!("/docker/{ID}"),
        format!("/system.slice/docker-{ID}.scope"),
        format!("/kubepods/burstable/pod1234/{ID}"),
    ] {
        let p = Place::of(&path, &names);
        assert_eq!(p.show(), "container web", "{path}");
    }
    let unknown = Place::of(&format!("/docker/{}", "a".repeat(64)), &names);
    assert_eq!(unknown.show(), "container aaaaaaaaaaaa");
    assert_eq!(
        Place::of("/user.slice/user-1000.slice/session-3.scope", &names),
        Place::Cgroup("/user.slice/user-1000.slice/session-3.scope".into())
    );
}

// ---- the journal and units ----

#[test]
fn the_kernels_journal_stands_in_for_kmsg() {
    let out = read("journal/kernel-6.1-debian12");
    let mut s = Scanner::new(10, None);
    for (time, ident, text) in out.lines().filter_map(journal::parse_journal_line) {
        if ident == "kernel" {
            s.push(
                At {
                    wall: Some(time),
                    ..At::default()
                },
                text,
            );
        }
    }
    let e = s.finish();
    // systemd's own line about the OOM kill is not the kernel's.
    assert_eq!(e.lines, 6);
    let k = &e.oom_kills[0];
    assert_eq!((k.pid, k.name.as_str()), (6001, "node"));
    assert_eq!(k.when.time.as_deref(), Some("2024-05-02T09:20:11+0000"));
    assert_eq!(k.when.since_boot, None);
    assert_eq!(k.cgroup, Some(format!("/system.slice/docker-{ID}.scope")));
    assert_eq!(e.hung_tasks[0].name, "kworker/u4:2");
}

#[test]
fn a_units_state_and_journal() {
    let u = journal::parse_unit_show("nginx.service", &read("journal/nginx-show")).unwrap();
    assert!(u.healthy());
    assert_eq!(
        u.describe(),
        "nginx.service: active (running) since Thu 2024-05-02 09:14:01 UTC, result success, 0 restarts"
    );
    let j = journal::parse_journal(&read("journal/nginx-unit"));
    assert_eq!(j.len(), 3);
    assert_eq!(j[2].ident, "nginx[812]");
    assert!(j[2].text.contains("(28: No space left on device)"));
}

// ---- the engine's log ----

#[test]
fn a_containers_log_shows_its_bind_error_and_crash() {
    let all = engine_log::parse_logs(
        &read("engine/logs-web.stdout"),
        &read("engine/logs-web.stderr"),
    );
    assert_eq!(all.len(), 5);
    // The two streams merged in time order.
    let times: Vec<&str> = all.iter().map(|l| l.time.as_deref().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
    assert_eq!(all[0].stream, Stream::Stdout);
    assert_eq!(all[1].stream, Stream::Stderr);
    let s = engine_log::significant(&all, 10);
    assert_eq!(
        s.iter().map(|l| l.class).collect::<Vec<_>>(),
        [Some(Class::Bind), Some(Class::Bind), Some(Class::Memory)]
    );
    assert!(
        s[0].show()
            .starts_with("2024-05-02T09:14:04.200000000Z 2024/05/02 09:14:04 [emerg]")
    );
    assert_eq!(s[2].stream, Stream::Stderr);
}

#[test]
fn inspect_reads_oom_killed_and_finished_at() {
    let i = parse_inspect(&read("engine/inspect-web-oom.json"))
        .unwrap()
        .remove(0);
    assert!(i.oom_killed);
    assert_eq!(i.exit_code, 137);
    assert_eq!(i.finished_at, "2024-05-02T09:20:11.9Z");
    let interest = request::interests(&[i]);
    assert_eq!(interest.len(), 1);
    assert_eq!(
        (interest[0].port, interest[0].container_port),
        (80, Some(80))
    );
    assert_eq!(interest[0].name, "web");
}

// ---- findings ----

fn kernel_log(name: &str, uptime: f64, window_s: Option<u64>) -> KernelLog {
    KernelLog {
        from: "/dev/kmsg".into(),
        window_s,
        uptime_s: Some(uptime),
        events: scan_kmsg(name),
        ..KernelLog::default()
    }
}

#[test]
fn the_oom_finding_names_the_container_and_proves_it() {
    let names: BTreeMap<String, String> = [(ID.to_string(), "web".to_string())].into();
    let k = kernel_log("5.15-cgroup-v2-docker", 5700.0, None);
    let f = findings::oom_finding(&k, &names).unwrap();
    assert_eq!(f.area, Area::Memory);
    // 300 s ago: recent, a problem now.
    assert_eq!(f.severity, Severity::Problem);
    assert_eq!(
        f.title,
        "the OOM killer killed 1 process since boot; the last: node (pid 5555) in container web, 2024-04-25T00:36:40Z"
    );
    assert_eq!(
        f.evidence[0],
        format!(
            "2024-04-25T00:36:40Z: node (pid 5555), 251 MiB resident, in container web: its cgroup hit its memory limit (/system.slice/docker-{ID}.scope)"
        )
    );
    assert_eq!(
        f.subjects,
        [Subject::Container {
            id: ID.into(),
            name: "web".into()
        }]
    );
    assert_eq!(f.proofs[0].source, Source::KernelLog);
    assert!(
        f.proofs[0]
            .lines
            .iter()
            .any(|l| l.contains("oom-kill:constraint=CONSTRAINT_MEMCG"))
    );
    // Two days later it is history, a warning.
    let old = kernel_log("5.15-cgroup-v2-docker", 5700.0 + 2.0 * 86400.0, None);
    assert_eq!(
        findings::oom_finding(&old, &names).unwrap().severity,
        Severity::Warning
    );
    let none = kernel_log("4.19-split-summary", 1.0, None);
    let mut empty = none.clone();
    empty.events.oom_kills.clear();
    assert!(findings::oom_finding(&empty, &names).is_none());
}

#[test]
fn hung_tasks_without_their_process_are_warnings_on_the_disk() {
    let k = kernel_log("4.15-ubuntu-cgroup-v1", 4000.0, Some(3600));
    let f = findings::hung_findings(&k, &BTreeMap::new());
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].area, Area::Disk);
    assert_eq!(f[0].severity, Severity::Warning);
    assert_eq!(
        f[0].title,
        "the kernel reported 1 task blocked for more than 120 s (jbd2/sda1-8:312) in the last 1h"
    );
    assert_eq!(f[0].evidence, ["pid 312 (jbd2/sda1-8) is gone"]);
    let fs = findings::fs_finding(&k).unwrap();
    assert_eq!(fs.severity, Severity::Problem);
    assert_eq!(
        fs.title,
        "the kernel logged 2 filesystem or I/O errors in the last 1h; the last: ext4 on sda1, 2024-04-25T00:08:20Z"
    );
}

// ---- who a request reached ----

fn owner(pid: i32, name: &str, kind: OwnerKind, inode: u64) -> PortOwner {
    with(PortOwner::default(), |it| {
        it.pid = pid;
        it.ppid = 1;
        it.name = name.into();
        it.exe = None;
        it.exe_deleted = false;
        it.cmdline = vec![name.into()];
        it.uid = Some(0);
        it.user = Some("root".into());
        it.start_time = 1;
        it.started_at = None;
        it.state = 'S';
        it.cgroup = None;
        it.sockets = vec![];
        it.inodes = vec![inode];
        it.kind = kind;
        it.unit = None;
        it.socket_units = vec![];
        it.container = None;
        it.package = None;
        it.protected = None;
    })
}

fn listener(addr: &str, v6only: Option<bool>, inode: u64) -> Listener {
    with(Listener::default(), |it| {
        it.proto = Proto::Tcp;
        it.address = addr.parse().unwrap();
        it.port = 80;
        it.v6only = v6only;
        it.state = hostfix::port::SocketState::Listen;
        it.uid = 0;
        it.inode = inode;
    })
}

/// nginx.service on 0.0.0.0:80 (inode 1) and a stray python on [::1]:80 (inode 2).
fn incident_holders() -> Holders {
    let mut nginx = owner(812, "nginx", OwnerKind::Service, 1);
    nginx.unit = Some("nginx.service".into());
    let py = owner(900, "python3", OwnerKind::Process, 2);
    with(Holders::default(), |it| {
        it.port = 80;
        it.listeners = vec![listener("0.0.0.0", None, 1), listener("::1", Some(true), 2)];
        it.owners = vec![nginx, py];
        it.groups = vec![
            with(OwnerGroup::default(), |it| {
                it.leader = 812;
                it.pids = vec![812];
                it.summary = "pid 812 nginx, unit nginx.service".into();
            }),
            with(OwnerGroup::default(), |it| {
                it.leader = 900;
                it.pids = vec![900];
                it.summary = "pid 900 python3".into();
            }),
        ];
    })
}

#[test]
fn a_connect_lands_on_the_most_specific_listener() {
    let h = incident_holders();
    let v4: IpAddr = "127.0.0.1".parse().unwrap();
    let v6: IpAddr = "::1".parse().unwrap();
    let a = request::answerers(&h, v4);
    assert_eq!(
        a.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
        ["nginx.service"]
    );
    let a = request::answerers(&h, v6);
    assert_eq!(
        a.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
        ["pid 900 python3"]
    );
    // A dual-stack [::] takes IPv4 too; a v6only one does not.
    let mut dual = h.clone();
    dual.listeners = vec![listener("::", Some(false), 1)];
    assert_eq!(request::answerers(&dual, v4).len(), 1);
    dual.listeners = vec![listener("::", Some(true), 1)];
    assert!(request::answerers(&dual, v4).is_empty());
}

fn probe(addr: &str, outcome: Outcome) -> Probe {
    Probe {
        addr: addr.parse().unwrap(),
        http: true,
        outcome,
        elapsed_ms: 2,
    }
}

fn nginx_answer() -> Outcome {
    Outcome::Http {
        status_line: "HTTP/1.1 200 OK".into(),
        code: Some(200),
        server: Some("nginx/1.22.1".into()),
        truncated: false,
    }
}

fn web_wants_80() -> Vec<Interest> {
    vec![Interest {
        port: 80,
        container_port: None,
        id: ID.into(),
        name: "web".into(),
        running: false,
        state: "created".into(),
    }]
}

#[test]
fn the_first_problem_says_the_request_reaches_the_service_not_the_container() {
    let h = incident_holders();
    let probes = vec![
        probe("127.0.0.1:80", nginx_answer()),
        probe("[::1]:80", Outcome::Refused),
    ];
    let answerers = probes
        .iter()
        .map(|p| request::answerers(&h, p.addr.ip()))
        .collect();
    let r = PortRequest {
        port: 80,
        http: true,
        probes,
        answerers,
        interest: web_wants_80(),
        unit: None,
    };
    assert!(r.misrouted() && r.wants_unit_log());
    let f = request::request_finding(&r, false);
    assert_eq!(f.area, Area::Request);
    assert_eq!(f.severity, Severity::Problem);
    assert_eq!(
        f.title,
        "requests to :80 reach nginx.service (Server: nginx/1.22.1), not container web"
    );
    assert!(f.subjects.contains(&Subject::Port {
        port: 80,
        proto: Proto::Tcp
    }));
    assert!(f.subjects.contains(&Subject::Unit {
        name: "nginx.service".into()
    }));
    assert!(f.subjects.contains(&Subject::Container {
        id: ID.into(),
        name: "web".into()
    }));
    assert_eq!(
        f.proofs[0].lines,
        ["HTTP/1.1 200 OK", "Server: nginx/1.22.1"]
    );
    assert_eq!(f.proofs[0].from, "HEAD / HTTP/1.0 to 127.0.0.1:80");
    assert!(
        f.evidence
            .contains(&"container web wants port 80 (created)".to_string()),
        "{:#?}",
        f.evidence
    );
}

#[test]
fn refused_silent_and_healthy_requests() {
    let answer = |o: Outcome, interest: Vec<Interest>| {
        let h = incident_holders();
        let probes = vec![probe("127.0.0.1:80", o)];
        let answerers = vec![request::answerers(&h, "127.0.0.1".parse().unwrap())];
        let r = PortRequest {
            port: 80,
            http: true,
            probes,
            answerers,
            interest,
            unit: None,
        };
        request::request_finding(&r, false)
    };
    let f = answer(Outcome::Refused, web_wants_80());
    assert_eq!(
        (f.severity, f.title.as_str()),
        (
            Severity::Problem,
            "requests to :80 are refused: container web wants it but is created"
        )
    );
    let f = answer(Outcome::Refused, vec![]);
    assert_eq!(
        (f.severity, f.title.as_str()),
        (Severity::Ok, "requests to :80 are refused: nothing listens")
    );
    // Nothing answered, not even a refusal (the loopback down, as on a sysvinit host
    // before ifupdown): not "nothing listens".
    let f = answer(
        Outcome::Unreachable {
            error: "Network is unreachable (os error 101)".into(),
        },
        vec![],
    );
    assert_eq!(f.severity, Severity::Warning, "{f:#?}");
    assert!(
        f.title
            .starts_with("requests to :80 cannot be sent (127.0.0.1:80: address not usable here")
            && f.title.ends_with("is the loopback interface up?"),
        "{}",
        f.title
    );
    let f = answer(
        Outcome::NoAnswer {
            waited_ms: 1500,
            bytes: 0,
        },
        vec![],
    );
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(
        f.title,
        "requests to :80 reach nginx.service but get no proper answer: accepted, no complete answer in 1500 ms (0 bytes received)"
    );
    let f = answer(nginx_answer(), vec![]);
    assert_eq!(
        (f.severity, f.title.as_str()),
        (
            Severity::Ok,
            "requests to :80 reach nginx.service (Server: nginx/1.22.1)"
        )
    );
    let bad = Outcome::Http {
        status_line: "HTTP/1.1 502 Bad Gateway".into(),
        code: Some(502),
        server: None,
        truncated: false,
    };
    let f = answer(bad, vec![]);
    assert_eq!(
        (f.severity, f.title.as_str()),
        (
            Severity::Warning,
            "requests to :80 reach nginx.service: HTTP/1.1 502 Bad Gateway"
        )
    );
}

#[test]
fn no_request_is_sent_where_a_connection_would_start_a_service() {
    let v4: IpAddr = "127.0.0.1".parse().unwrap();
    // nginx's own process holds the socket: safe.
    assert_eq!(request::may_send(Some(&incident_holders()), v4), Ok(()));
    // Nothing takes the address: the connect is refused (or NATed); safe.
    assert_eq!(request::may_send(Some(&Holders::default()), v4), Ok(()));
    // Only PID 1 holds it, for a socket unit: a connection would start the service.
    let mut pid1 = owner(1, "systemd", OwnerKind::SocketActivated, 7);
    pid1.socket_units = vec!["cockpit.socket".into()];
    let socket = with(Holders::default(), |it| {
        it.port = 80;
        it.listeners = vec![listener("::", Some(false), 7)];
        it.owners = vec![pid1.clone()];
    });
    let why = request::may_send(Some(&socket), v4).unwrap_err();
    assert_eq!(
        why,
        "only PID 1 holds the socket (cockpit.socket): a connection would start its service"
    );
    // ... unless the service runs and holds it too.
    let mut both = socket.clone();
    both.owners
        .push(owner(4000, "cockpit-ws", OwnerKind::Service, 7));
    assert_eq!(request::may_send(Some(&both), v4), Ok(()));
    // inetd starts a process per connection.
    let mut inetd = socket.clone();
    inetd.owners = vec![owner(300, "xinetd", OwnerKind::Service, 7)];
    assert!(
        request::may_send(Some(&inetd), v4)
            .unwrap_err()
            .starts_with("xinetd starts a process")
    );
    // A holder hostfix cannot see, or no lookup at all: not sent.
    let mut unseen = socket.clone();
    unseen.owners.clear();
    assert!(
        request::may_send(Some(&unseen), v4)
            .unwrap_err()
            .contains("not visible")
    );
    assert!(request::may_send(None, v4).is_err());
    // Such a request reads as not sent, not as refused.
    let r = PortRequest {
        port: 80,
        http: true,
        probes: vec![probe("127.0.0.1:80", Outcome::NotSent { why })],
        answerers: vec![vec![]],
        interest: vec![],
        unit: None,
    };
    let f = request::request_finding(&r, false);
    assert_eq!(f.severity, Severity::Info);
    assert!(
        f.title
            .starts_with("requests to :80 were not sent: only PID 1 holds the socket")
    );
}

#[test]
fn a_unit_that_answered_carries_its_state_and_journal() {
    let u = request::UnitEvidence {
        unit: "nginx.service".into(),
        state: journal::parse_unit_show("nginx.service", &read("journal/nginx-show")),
        journal: journal::parse_journal(&read("journal/nginx-unit")),
        journal_command: "journalctl -u nginx.service -n 20 -o short-iso --no-pager -q".into(),
        unseen: vec![],
    };
    let f = request::with_unit(
        hostfix::doctor::Finding::new(Area::Request, Severity::Problem, "x"),
        &u,
    );
    let sources: Vec<Source> = f.proofs.iter().map(|p| p.source).collect();
    assert_eq!(sources, [Source::Unit, Source::Journal]);
    assert_eq!(f.proofs[1].lines.len(), 3);
    assert!(f.proofs[1].lines[2].starts_with("2024-05-02T09:40:00+0000 nginx[812]: "));
}

/// The kernel reports a task again at every timeout while it stays in `D` (the guest of
/// the doctor-fix VM scenario: ten reports of one writer on a frozen ext4): one task, its
/// latest report, and how often it came.
#[test]
fn a_task_reported_at_every_timeout_is_one_task() {
    let mut k = kernel_log("6.1-debian-hung-repeated", 245.0, None);
    assert_eq!(k.events.hung_tasks.len(), 10);
    let cgroup = format!("/system.slice/docker-{ID}.scope");
    k.hung_now = [(
        574,
        hostfix::testing::evidence::sources::HungNow {
            cgroup: Some(cgroup),
            state: 'D',
        },
    )]
    .into();
    let names: BTreeMap<String, String> = [(ID.to_string(), "stuck-d".to_string())].into();
    let f = findings::hung_findings(&k, &names);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].area, Area::Containers);
    assert_eq!(f[0].severity, Severity::Problem);
    assert_eq!(
        f[0].title,
        "the kernel reported 1 task blocked for more than 109 s in container stuck-d (sh:574) since boot"
    );
    assert_eq!(
        f[0].evidence,
        [
            "pid 574 (sh) is still in uninterruptible sleep (D): no signal ends it (reported 10 times)"
        ]
    );
    assert_eq!(f[0].proofs[0].lines.len(), 1, "{:#?}", f[0].proofs[0].lines);
    assert!(f[0].proofs[0].lines[0].contains("109 seconds"));
}
