//! `/proc/net/{tcp,tcp6,udp,udp6}`, fd links, `systemctl list-sockets`, `/etc/passwd`,
//! `/proc/stat`, `docker-proxy` arguments and the container behind a port (sock_diag
//! replies: `port_diag.rs`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::{cfg, json, lines_of, mangle_json, maybe_mangled, text, weird_token};
use crate::engine::{PsEntry, Status};
use crate::port::Proto;
use crate::port::cgroup::{cgroup_v1_mounted, cgroup2_mount_points, parse_procs};
use crate::port::docker::{ContainerRef, from_cgroup, from_proxy, parse_proxy_args, publishes};
use crate::port::owner::{SocketUnit, parse_btime, parse_list_sockets, parse_passwd};
use crate::port::scan::{dirent_names, socket_inode};
use crate::port::table::{parse_proc_net, parse_proc_net_addr};

pub(super) fn proto() -> impl Strategy<Value = Proto> {
    prop_oneof![Just(Proto::Tcp), Just(Proto::Udp)]
}

pub(super) fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        any::<[u8; 16]>().prop_map(|b| IpAddr::V6(Ipv6Addr::from(b))),
        Just(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        Just(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
    ]
}

// ---- /proc/net ------------------------------------------------------------------------

/// An address as `/proc/net` prints it: each 32-bit word of the in-memory (network order)
/// bytes as a native-endian number in `%08X`.
fn proc_net_hex(a: IpAddr) -> String {
    let bytes: Vec<u8> = match a {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    bytes
        .chunks(4)
        .map(|w| format!("{:08X}", u32::from_ne_bytes([w[0], w[1], w[2], w[3]])))
        .collect()
}

#[derive(Debug, Clone)]
struct Row {
    addr: IpAddr,
    port: u16,
    state: u8,
    uid: u32,
    inode: u64,
}

fn row() -> impl Strategy<Value = Row> {
    (ip(), any::<u16>(), any::<u8>(), any::<u32>(), any::<u64>()).prop_map(
        |(addr, port, state, uid, inode)| Row {
            addr,
            port,
            state,
            uid,
            inode,
        },
    )
}

fn row_fields(i: usize, r: &Row) -> Vec<String> {
    vec![
        format!("{i}:"),
        format!("{}:{:04X}", proc_net_hex(r.addr), r.port),
        "00000000:0000".into(),
        format!("{:02X}", r.state),
        "00000000:00000000".into(),
        "00:00000000".into(),
        "00000000".into(),
        r.uid.to_string(),
        "0".into(),
        r.inode.to_string(),
        "1".into(),
        "0000000000000000".into(),
        "100".into(),
    ]
}

const PROC_NET_HEAD: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when \
                             retrnsmt   uid  timeout inode";

proptest! {
    // 512 cases of pure parsing: each test under ~0.6 s of CPU in a debug build.
    #![proptest_config(cfg(512))]

    #[test]
    fn proc_net_never_panics(s in prop_oneof![
        text(),
        lines_of(maybe_mangled(row().prop_map(|r| row_fields(0, &r)), " "), 6),
    ]) {
        let _ = parse_proc_net(&format!("{PROC_NET_HEAD}\n{s}"), "tcp");
        let _ = parse_proc_net(&s, "tcp6");
    }

    /// Rows as the kernel prints them read back exactly.
    #[test]
    fn proc_net_round_trip(rows in proptest::collection::vec(row(), 0..6)) {
        let mut text = format!("{PROC_NET_HEAD}\n");
        for (i, r) in rows.iter().enumerate() {
            text.push_str(&format!("  {}\n", row_fields(i, r).join(" ")));
        }
        let parsed = parse_proc_net(&text, "tcp").map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parsed.len(), rows.len());
        for (p, r) in parsed.iter().zip(&rows) {
            prop_assert_eq!(p.local, r.addr);
            prop_assert_eq!(p.port, r.port);
            prop_assert_eq!(p.state, r.state);
            prop_assert_eq!(p.uid, r.uid);
            prop_assert_eq!(p.inode, r.inode);
        }
    }

    /// A number too big for its field is a parse error naming the line, never wrapped.
    #[test]
    fn proc_net_overflow_is_an_error(r in row(), which in 0..3usize, extra in 1..u64::MAX) {
        let mut f = row_fields(0, &r);
        match which {
            0 => f[7] = (u64::from(u32::MAX) + 1 + extra % 1000).to_string(),
            1 => f[9] = format!("{}0", u64::MAX - extra % 1000),
            _ => f[3] = format!("{:X}", 256 + extra % 1000),
        }
        let text = format!("{PROC_NET_HEAD}\n{}\n", f.join(" "));
        prop_assert!(parse_proc_net(&text, "tcp").is_err());
    }

    #[test]
    fn proc_net_addresses(a in ip(), s in prop_oneof![text(), "[0-9A-Fa-f+-]{0,40}"]) {
        prop_assert_eq!(parse_proc_net_addr(&proc_net_hex(a)), Some(a));
        let _ = parse_proc_net_addr(&s);
    }
}

// ---- fd links and getdents ------------------------------------------------------------

/// `linux_dirent64` records: `d_ino`, `d_off`, `d_reclen`, `d_type`, name, NUL, padding.
fn dirents() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        (
            "[0-9.]{0,12}",
            prop_oneof![4 => Just(None), 1 => any::<u16>().prop_map(Some)],
        ),
        0..6,
    )
    .prop_map(|recs| {
        let mut b = Vec::new();
        for (name, reclen) in recs {
            let len = (19 + name.len() + 1).next_multiple_of(8);
            b.extend_from_slice(&1u64.to_ne_bytes());
            b.extend_from_slice(&0i64.to_ne_bytes());
            b.extend_from_slice(&reclen.unwrap_or(len as u16).to_ne_bytes());
            b.push(0);
            b.extend_from_slice(name.as_bytes());
            b.resize(b.len() + len - 19 - name.len(), 0);
        }
        b
    })
}

proptest! {
    // 512 cases of pure parsing: each test under ~0.6 s of CPU in a debug build.
    #![proptest_config(cfg(512))]

    #[test]
    fn socket_links(n in any::<u64>(), b in proptest::collection::vec(any::<u8>(), 0..40)) {
        prop_assert_eq!(socket_inode(format!("socket:[{n}]").as_bytes()), Some(n));
        let over = u128::from(n) + u128::from(u64::MAX) + 1;
        prop_assert_eq!(socket_inode(format!("socket:[{over}]").as_bytes()), None);
        prop_assert_eq!(socket_inode(format!("socket:[-{n}]").as_bytes()), None);
        let _ = socket_inode(&b);
    }

    #[test]
    fn dirents_never_panic(b in prop_oneof![proptest::collection::vec(any::<u8>(), 0..200), dirents()]) {
        for name in dirent_names(&b) {
            prop_assert!(!name.to_bytes().starts_with(b"."));
        }
    }
}

// ---- systemctl, passwd, /proc/stat ----------------------------------------------------

proptest! {
    // 512 cases of pure parsing: each test under ~0.6 s of CPU in a debug build.
    #![proptest_config(cfg(512))]

    #[test]
    fn list_sockets_never_panics(s in prop_oneof![
        text(),
        lines_of(maybe_mangled(
            ("[\\[\\]:0-9a-f./]{1,20}", "(Stream|Datagram|)", "[a-z-]{1,10}\\.socket", "[a-z.,-]{0,20}")
                .prop_map(|(a, b, c, d)| vec![a, b, c, d]),
            " ",
        ), 5),
    ]) {
        for u in parse_list_sockets(&s) {
            let _ = (u.port(), u.matches(80, Proto::Tcp));
        }
    }

    #[test]
    fn socket_unit_ports(port in any::<u16>(), big in 65_536u64..) {
        let u = |listen: String| SocketUnit { listen, socket_type: None, unit: "x.socket".into(), activates: vec![] };
        prop_assert_eq!(u(format!("[::]:{port}")).port(), Some(port));
        prop_assert_eq!(u(format!("0.0.0.0:{big}")).port(), None);
        prop_assert_eq!(u(format!("/run/{port}")).port(), None);
    }

    #[test]
    fn passwd_and_btime(
        s in text(),
        users in proptest::collection::vec(("[a-z_][a-z0-9_-]{0,8}", any::<u32>()), 0..5),
        t in any::<u64>(),
        tok in weird_token(),
    ) {
        let _ = (parse_passwd(&s), parse_btime(&s), parse_btime(&format!("btime {tok}\n")));
        let text: String = users.iter().map(|(n, u)| format!("{n}:x:{u}:{u}::/:/bin/sh\n")).collect();
        let m = parse_passwd(&text);
        for (n, u) in &users {
            prop_assert!(m.contains_key(u));
            let last = users.iter().rev().find(|(_, v)| v == u).map(|(n, _)| n);
            let first = users.iter().find(|(_, v)| v == u).map(|(n, _)| n);
            prop_assert!(Some(&m[u]) == last || Some(&m[u]) == first, "{n}");
        }
        prop_assert_eq!(parse_btime(&format!("cpu 1 2\nbtime {t}\nprocesses 3\n")), Some(t));
    }
}

// ---- docker-proxy and the container behind a port -------------------------------------

fn ps_entry() -> impl Strategy<Value = PsEntry> {
    (
        prop_oneof!["[0-9a-f]{64}", "[0-9a-f]{0,14}", "\\PC{0,20}"],
        proptest::collection::vec("\\PC{0,10}", 0..3),
        prop_oneof![
            Just(Status::Running),
            Just(Status::Exited),
            Just(Status::Paused)
        ],
        prop_oneof![
            text(),
            (any::<u16>(), any::<u16>()).prop_map(|(a, b)| format!("0.0.0.0:{a}-{b}->{a}/tcp")),
        ],
    )
        .prop_map(|(id, names, state, ports)| PsEntry {
            id,
            names,
            image: String::new(),
            state,
            status: String::new(),
            ports,
        })
}

proptest! {
    // 256 cases: argv and `docker ps` rows of Unicode text, ~1 ms of CPU a case.
    #![proptest_config(cfg(256))]

    #[test]
    fn proxy_args_never_panic(args in proptest::collection::vec(prop_oneof![
        "-{1,2}(proto|host-ip|host-port|container-ip|container-port)(=[^ ]{0,10})?",
        weird_token(),
        text(),
    ], 0..10)) {
        let _ = parse_proxy_args(&args);
    }

    #[test]
    fn proxy_args_round_trip(
        host_ip in ip(), host_port in any::<u16>(), cip in ip(), cport in any::<u16>(),
        eq in any::<bool>(), dashes in "-{1,2}",
    ) {
        let flag = |n: &str, v: String| -> Vec<String> {
            if eq { vec![format!("{dashes}{n}={v}")] } else { vec![format!("{dashes}{n}"), v] }
        };
        let mut argv = vec!["/usr/bin/docker-proxy".to_string()];
        argv.extend(flag("proto", "tcp".into()));
        argv.extend(flag("host-ip", host_ip.to_string()));
        argv.extend(flag("host-port", host_port.to_string()));
        argv.extend(flag("container-ip", cip.to_string()));
        argv.extend(flag("container-port", cport.to_string()));
        let a = parse_proxy_args(&argv);
        prop_assert_eq!(a.proto.as_deref(), Some("tcp"));
        prop_assert_eq!(a.host_ip, Some(host_ip));
        prop_assert_eq!(a.host_port, Some(host_port));
        prop_assert_eq!(a.container_ip, Some(cip));
        prop_assert_eq!(a.container_port, Some(cport));
    }

    #[test]
    fn publishes_ranges(lo in any::<u16>(), hi in any::<u16>(), port in any::<u16>(), s in text(), p in proto()) {
        let _ = publishes(&s, port, p);
        let ports = format!("0.0.0.0:{lo}-{hi}->{lo}-{hi}/{p}, [::]:{lo}->80/{p}");
        prop_assert_eq!(publishes(&ports, port, p), (lo <= port && port <= hi) || port == lo);
    }

    /// The container behind a port is named and labelled whatever the engine listed.
    #[test]
    fn container_refs_never_panic(
        ps in proptest::collection::vec(ps_entry(), 0..4),
        argv in proptest::collection::vec("\\PC{0,12}", 0..6),
        port in any::<u16>(),
        id in prop_oneof!["[0-9a-f]{64}", "\\PC{0,20}"],
        cgroup in text(),
    ) {
        for r in [from_proxy(&argv, port, Proto::Tcp, Some(&ps)), from_cgroup(&id, &cgroup, Some(&ps))] {
            let _ = r.label();
        }
    }
}

/// The first input that made the port's container reference panic: an id from
/// `docker ps` with a multi-byte character across byte 12 (`&id[..12]`).
#[test]
fn container_label_of_a_non_ascii_id() {
    let r = ContainerRef {
        engine: "docker".into(),
        id: Some("aaaaaaaaaaaé".into()),
        name: None,
        via: "docker-proxy".into(),
        forwards_to: None,
        stop_command: String::new(),
    };
    assert_eq!(r.label(), "aaaaaaaaaaaé");
    let c = from_cgroup("aaaaaaaaaaaé", "/docker", None);
    assert_eq!(c.stop_command, "docker stop aaaaaaaaaaaé");
}

// ---- the removal record of `port free --remove-package` --------------------------------

proptest! {
    // 256 cases of pure parsing: each test under ~0.6 s of CPU in a debug build.
    #![proptest_config(cfg(256))]

    /// The record an interrupted removal leaves reads back as written, and any other
    /// bytes (arbitrary JSON, a record with one field of the wrong type) are refused,
    /// never half-read.
    #[test]
    fn removal_records(
        plan in (
            "[a-z]{1,6}",
            proptest::collection::vec("\\PC{0,10}", 0..4),
            proptest::collection::vec("\\PC{0,10}", 0..3),
            proptest::collection::vec("\\PC{0,10}", 0..5),
            "\\PC{0,30}",
        ),
        other in prop_oneof![
            json(),
            mangle_json(serde_json::json!({
                "manager": "dpkg", "packages": ["nginx"], "sources": ["nginx"],
                "removes": ["nginx"], "command": "apt-get remove nginx",
            })),
        ],
        b in proptest::collection::vec(any::<u8>(), 0..100),
    ) {
        use crate::port::RemovalPlan;
        let (manager, packages, sources, removes, command) = plan;
        let p = RemovalPlan { manager, packages, sources, removes, command };
        let text = serde_json::to_string_pretty(&p).unwrap();
        prop_assert_eq!(serde_json::from_str::<RemovalPlan>(&text).ok(), Some(p));
        if let Ok(r) = serde_json::from_value::<RemovalPlan>(other.clone()) {
            for k in ["manager", "packages", "sources", "removes", "command"] {
                prop_assert!(other.get(k).is_some(), "{k} missing but read: {r:?}");
            }
        }
        let _ = serde_json::from_slice::<RemovalPlan>(&b);
    }

    #[test]
    fn port_numbers(p in any::<u16>()) {
        prop_assert_eq!(crate::port::check_port(p).is_ok(), p != 0);
    }
}

// ---- cgroups: /proc/self/mountinfo, cgroup.procs ---------------------------------------

proptest! {
    #![proptest_config(cfg(512))]

    /// Any mountinfo text: no panic; every mount point found is absolute and unescaped.
    #[test]
    fn mountinfo_never_panics(s in prop_oneof![
        text(),
        lines_of(prop_oneof![
            "[0-9]{1,3} [0-9]{1,3} 0:[0-9]{1,2} (/|/[a-z/]{1,12}) /[a-z/\\\\0-9]{0,20} rw - (cgroup2|cgroup|tmpfs) [a-z]{0,6} rw",
            text(),
        ], 8),
    ]) {
        for p in cgroup2_mount_points(&s) {
            prop_assert!(p.is_absolute());
            prop_assert!(!p.to_string_lossy().contains('\\'));
        }
        let _ = cgroup_v1_mounted(&s);
    }

    /// Pids written one a line read back in order; zeros, garbage and overflow are left
    /// out, never wrapped.
    #[test]
    fn cgroup_procs_round_trip(
        pids in proptest::collection::vec(1..=i32::MAX, 0..50),
        junk in proptest::collection::vec(prop_oneof![
            Just("0".to_string()), Just("-1".to_string()), Just("2147483648".to_string()),
            Just(u64::MAX.to_string()), text(),
        ], 0..5),
    ) {
        let mut t = String::new();
        for p in &pids {
            t.push_str(&format!("{p}\n"));
        }
        let clean = parse_procs(t.as_bytes());
        prop_assert_eq!(&clean, &pids);
        for j in &junk {
            t.push_str(j);
            t.push('\n');
        }
        let read = parse_procs(t.as_bytes());
        prop_assert!(read.iter().all(|p| *p > 0));
        prop_assert_eq!(&read[..pids.len()], &pids[..]);
    }
}
