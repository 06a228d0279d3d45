//! `port who` on fake roots: the recorded `/proc/net` tables, processes with open
//! sockets, systemd, docker and the dpkg database, without touching the machine.

#[path = "fixtures/port/fakeroot.rs"]
mod fakeroot;

use std::sync::Arc;

use fakeroot::{FakeProc, FakeRoot, PortRoot, ino, port_root};
use hostfix::doctor::Severity;
use hostfix::port::{self, OwnerKind, TableSource, WhoSpec};
use hostfix::testing::port::port_findings;
use hostfix::testing::port::table::{self, Proto};
use hostfix::testing::with;
use hostfix::testing::{CmdOutput, RecordingSystem};
use hostfix::{Host, Policy, Risk};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/port/proc_net/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn recorded_tables_parse_and_filter() {
    let tcp = table::parse_proc_net(&fixture("tcp"), "tcp").unwrap();
    let tcp6 = table::parse_proc_net(&fixture("tcp6"), "tcp6").unwrap();
    let udp = table::parse_proc_net(&fixture("udp"), "udp").unwrap();
    let udp6 = table::parse_proc_net(&fixture("udp6"), "udp6").unwrap();
    assert_eq!((tcp.len(), tcp6.len(), udp.len(), udp6.len()), (5, 3, 2, 1));
    let all_tcp: Vec<_> = tcp.iter().chain(&tcp6).cloned().collect();
    let l80 = table::listeners_from_rows(&all_tcp, Proto::Tcp, 80);
    let shown: Vec<String> = l80.iter().map(|l| l.describe()).collect();
    assert_eq!(shown, vec!["0.0.0.0:80/tcp", "[::]:80/tcp"]);
    assert_eq!(l80[0].inode, ino::TCP4_ANY_80);
    let l8080: Vec<String> = table::listeners_from_rows(&all_tcp, Proto::Tcp, 8080)
        .iter()
        .map(|l| l.endpoint())
        .collect();
    assert_eq!(l8080, vec!["127.0.0.1:8080", "[::1]:8080"]);
    // The accepted connection on 9000 shares the port but does not hold it.
    let l9000 = table::listeners_from_rows(&all_tcp, Proto::Tcp, 9000);
    assert_eq!(l9000.len(), 1);
    assert_eq!(l9000[0].inode, ino::TCP4_LO_9000);
    let all_udp: Vec<_> = udp.iter().chain(&udp6).cloned().collect();
    let u53 = table::listeners_from_rows(&all_udp, Proto::Udp, 53);
    assert_eq!(u53.len(), 1, "a socket connected to :53 does not hold :53");
    assert_eq!(u53[0].inode, ino::UDP4_ANY_53);
    // A connected UDP socket holds its own local port.
    let u5300 = table::listeners_from_rows(&all_udp, Proto::Udp, 5300);
    assert_eq!(u5300[0].state, port::SocketState::Established);
    assert_eq!(u5300[0].state.raw(), 1);
    assert_eq!(
        table::listeners_from_rows(&all_udp, Proto::Udp, 5353)[0].endpoint(),
        "[::]:5353"
    );
    assert!(table::parse_proc_net("hdr\n 0: zz\n", "tcp").is_err());
}

fn nginx_root() -> FakeRoot {
    let r = port_root();
    r.init().systemd().dpkg();
    r.fillers(100, 40);
    r.add(
        &FakeProc::new(812, "nginx", "/usr/sbin/nginx")
            .cgroup("/system.slice/nginx.service")
            .cmdline(&["nginx: master process /usr/sbin/nginx -g daemon on; master_process on;"])
            .sockets(&[ino::TCP4_ANY_80, ino::TCP6_ANY_80])
            .children(&[813, 814, 815]),
    );
    for w in 813..=815 {
        r.add(
            &FakeProc::new(w, "nginx", "/usr/sbin/nginx")
                .ppid(812)
                .uid(33)
                .cgroup("/system.slice/nginx.service")
                .cmdline(&["nginx: worker process"])
                .sockets(&[ino::TCP4_ANY_80, ino::TCP6_ANY_80]),
        );
    }
    r.fillers(900, 200);
    r
}

#[test]
fn nginx_master_and_workers_with_unit_and_package() {
    let r = nginx_root();
    let host = Host::fake(r.path());
    let h = port::find_holders(&host, &WhoSpec::tcp(80)).unwrap();
    assert_eq!(h.source, Some(TableSource::ProcNet));
    assert_eq!(h.listeners.len(), 2);
    let pids: Vec<i32> = h.owners.iter().map(|o| o.pid).collect();
    assert_eq!(pids, vec![812, 813, 814, 815]);
    assert_eq!(h.groups.len(), 1);
    assert_eq!(
        h.groups[0].summary,
        "pid 812 nginx (master) and 3 workers, unit nginx.service, package nginx-light"
    );
    let master = &h.owners[0];
    assert_eq!(master.kind, OwnerKind::Service);
    assert_eq!(master.user.as_deref(), Some("root"));
    assert_eq!(master.sockets, vec!["0.0.0.0:80/tcp", "[::]:80/tcp"]);
    assert_eq!(master.package.as_ref().unwrap().source, "nginx");
    assert_eq!(h.owners[1].user.as_deref(), Some("www-data"));
    assert_eq!(master.started_at, Some(1_700_000_000 + (1000 + 812) / 100));
    // The walk stopped at the master and found the workers through its children.
    assert!(h.scan.stopped_early, "{:?}", h.scan);
    assert!(h.scan.relatives_checked >= 3);
    assert!(h.scan.processes < 100, "{:?}", h.scan);
    assert!(h.unowned.is_empty());

    // The exhaustive walk finds the same owners.
    let full = port::find_holders(
        &host,
        &with(WhoSpec::tcp(80), |it| {
            it.exhaustive = true;
        }),
    )
    .unwrap();
    assert!(!full.scan.stopped_early);
    assert_eq!(full.owners, h.owners);
    assert_eq!(full.scan.processes, 1 + 40 + 4 + 200);
}

/// The first `/proc/stat` that panicked `port who`: `btime` at `u64::MAX` (the start
/// time of a process was computed as btime + ticks / CLK_TCK with `+`).
#[test]
fn a_boot_time_at_u64_max_is_no_start_time() {
    let r = nginx_root();
    r.write("proc/stat", "cpu  1 2 3 4\nbtime 18446744073709551615\n");
    let h = port::find_holders(&Host::fake(r.path()), &WhoSpec::tcp(80)).unwrap();
    assert_eq!(h.owners[0].pid, 812);
    assert_eq!(h.owners[0].started_at, None);
}

#[test]
fn independent_sockets_are_separate_groups() {
    // Two processes with their own sockets on one port (SO_REUSEPORT siblings, or one
    // per address family).
    let r = port_root();
    r.init().fillers(10, 5);
    r.add(&FakeProc::new(20, "app", "/usr/bin/app").sockets(&[ino::TCP4_LO_8080]));
    r.add(&FakeProc::new(21, "app", "/usr/bin/app").sockets(&[ino::TCP6_LO_8080]));
    let host = Host::fake(r.path());
    let h = port::find_holders(&host, &WhoSpec::tcp(8080)).unwrap();
    assert_eq!(h.groups.len(), 2);
    assert_eq!(h.groups[0].summary, "pid 20 app");
    assert_eq!(h.owners[0].kind, OwnerKind::Process);
    assert_eq!(h.owners[0].package, None, "no dpkg database here");
}

#[test]
fn vanished_processes_are_skipped() {
    let r = port_root();
    r.init().fillers(10, 5);
    r.vanished(16).vanished(17);
    r.add(&FakeProc::new(30, "named", "/usr/sbin/named").sockets(&[ino::UDP4_ANY_53]));
    let host = Host::fake(r.path());
    let h = port::find_holders(&host, &WhoSpec::udp(53)).unwrap();
    assert_eq!(h.owners.len(), 1);
    assert_eq!(h.owners[0].pid, 30);
    assert_eq!(h.scan.vanished, 2);
    assert_eq!(h.proto, Proto::Udp);
}

#[test]
fn unowned_and_free_ports() {
    let r = port_root();
    r.init();
    let host = Host::fake(r.path());
    let h = port::find_holders(&host, &WhoSpec::tcp(443)).unwrap();
    assert!(h.owners.is_empty());
    assert_eq!(h.unowned.len(), 1);
    assert!(h.unowned[0].starts_with("[::]:443/tcp (inode 94487"));
    let free = port::find_holders(&host, &WhoSpec::tcp(444)).unwrap();
    assert!(free.is_free());
    assert!(free.to_string().contains("free"));
    let f = port_findings(&free);
    assert_eq!(f[0].severity, Severity::Ok);
    let e = port::find_holders(&host, &WhoSpec::tcp(0)).unwrap_err();
    assert_eq!(e.exit_code(), 2);
}

#[test]
fn socket_activated_pid1() {
    let r = port_root();
    r.systemd();
    r.add(
        &FakeProc::new(1, "systemd", "/usr/lib/systemd/systemd")
            .ppid(0)
            .cgroup("/init.scope")
            .sockets(&[ino::TCP6_ANY_443]),
    );
    let rec = Arc::new(RecordingSystem::new());
    rec.respond(
        "systemctl list-sockets",
        CmdOutput::ok(
            "[::]:443 Stream web.socket web.service\n/run/x.sock Stream x.socket x.service\n",
        ),
    );
    let host = Host::with_system(r.path(), rec.clone());
    let h = port::find_holders(&host, &WhoSpec::tcp(443)).unwrap();
    let o = &h.owners[0];
    assert_eq!(o.kind, OwnerKind::SocketActivated);
    assert_eq!(o.socket_units, vec!["web.socket"]);
    assert_eq!(h.groups[0].summary, "pid 1 systemd, socket web.socket");
    // doctor offers the fix: stopping the socket unit (PID 1 is never signalled).
    let f = port_findings(&h);
    assert_eq!(f[0].fix.as_ref().unwrap().command, "hostfix port free 443");
}

#[test]
fn docker_proxy_names_the_container() {
    let r = port_root();
    r.init().systemd();
    r.write("run/docker.sock", "");
    r.add(
        &FakeProc::new(700, "docker-proxy", "/usr/bin/docker-proxy")
            .cgroup("/system.slice/docker.service")
            .cmdline(&[
                "/usr/bin/docker-proxy",
                "-proto",
                "tcp",
                "-host-ip",
                "0.0.0.0",
                "-host-port",
                "80",
                "-container-ip",
                "172.17.0.2",
                "-container-port",
                "80",
            ])
            .sockets(&[ino::TCP4_ANY_80]),
    );
    // The engine's CLI in the fake root; its list through the container module's client
    // (`docker ps -a --no-trunc --format '{{json .}}'`).
    r.program("usr/bin/docker");
    let rec = Arc::new(RecordingSystem::new());
    rec.respond(
        format!("{} ps --all", r.path().join("usr/bin/docker").display()),
        CmdOutput::ok(
            "{\"ID\":\"5c5c5c\",\"Names\":\"old\",\"State\":\"exited\",\"Ports\":\"\"}\n\
             {\"ID\":\"3f4e5a\",\"Names\":\"web\",\"State\":\"running\",\
             \"Ports\":\"0.0.0.0:80->80/tcp, [::]:80->80/tcp\"}\n",
        ),
    );
    let host = Host::with_system(r.path(), rec.clone());
    let h = port::find_holders(&host, &WhoSpec::tcp(80)).unwrap();
    let o = &h.owners[0];
    assert_eq!(o.kind, OwnerKind::Container);
    let c = o.container.as_ref().unwrap();
    assert_eq!(c.name.as_deref(), Some("web"));
    assert_eq!(c.stop_command, "docker stop web");
    assert_eq!(c.forwards_to.as_deref(), Some("172.17.0.2:80"));
    assert!(o.protected.as_ref().unwrap().contains("docker stop web"));
    assert_eq!(
        h.groups[0].summary,
        "pid 700 docker-proxy, unit docker.service, container web (3f4e5a) (docker-proxy)"
    );
    let f = port_findings(&h);
    assert_eq!(f[0].severity, Severity::Ok);
    assert!(f[0].fix.is_none());
    assert!(f[0].evidence.iter().any(|e| e.contains("docker stop web")));
    assert!(h.to_string().contains("stop it with: docker stop web"));
}

#[test]
fn local_programs_skip_the_package_lookup() {
    let r = port_root();
    r.init().dpkg();
    r.add(&FakeProc::new(40, "srv", "/usr/local/bin/srv").sockets(&[ino::TCP4_LO_9000]));
    let host = Host::fake(r.path());
    let h = port::find_holders(&host, &WhoSpec::tcp(9000)).unwrap();
    assert_eq!(h.owners[0].package, None);
}

#[test]
fn doctor_findings_and_who_report() {
    let r = nginx_root();
    let host = Host::fake(r.path());
    let h = port::find_holders(&host, &WhoSpec::tcp(80)).unwrap();
    let f = port_findings(&h);
    assert_eq!(f.len(), 1);
    assert_eq!(
        f[0].title,
        "port 80/tcp: pid 812 nginx (master) and 3 workers, unit nginx.service, package nginx-light"
    );
    let fix = f[0].fix.as_ref().unwrap();
    assert_eq!(
        (fix.command.as_str(), fix.risk),
        ("hostfix port free 80", Risk::Disruptive)
    );
    assert!(f[0].evidence.iter().any(|e| e.contains("--remove-package")));

    let rep = port::who(&host, &WhoSpec::tcp(80), &Policy::new(Risk::Destructive));
    assert!(rep.is_ok());
    assert!(!rep.changed);
    assert_eq!(rep.max_risk, Risk::ReadOnly);
    let json = serde_json::to_value(&rep).unwrap();
    assert_eq!(json["operation"], "port who");
    assert_eq!(json["owners"][0]["kind"], "service");
    assert_eq!(json["owners"][0]["package"]["name"], "nginx-light");
    assert_eq!(json["groups"][0]["pids"].as_array().unwrap().len(), 4);
    let text = rep.result.to_string();
    assert!(text.contains("nginx: worker process"), "{text}");
}

#[test]
fn a_replaced_executable_still_finds_its_package() {
    // After an upgrade, /proc/PID/exe reads "/usr/sbin/nginx (deleted)".
    let r = port_root();
    r.init().dpkg();
    r.add(&FakeProc::new(812, "nginx", "/usr/sbin/nginx (deleted)").sockets(&[ino::TCP4_ANY_80]));
    let host = Host::fake(r.path());
    let h = port::find_holders(&host, &WhoSpec::tcp(80)).unwrap();
    let o = &h.owners[0];
    assert!(o.exe_deleted);
    assert_eq!(
        o.exe.as_deref(),
        Some(std::path::Path::new("/usr/sbin/nginx"))
    );
    assert_eq!(o.package.as_ref().unwrap().name, "nginx-light");
}
