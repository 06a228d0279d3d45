//! sock_diag: netlink replies (arbitrary, near-valid and round-tripped) and requests.

use std::net::IpAddr;

use proptest::prelude::*;

use super::cfg;
use super::port::{ip, proto};
use crate::port::diag::{build_request, parse_batch};
use crate::port::{Listener, Proto};

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;

/// A netlink message: header (len, type, flags, seq, pid) and payload, padded to 4.
fn nlmsg(ty: u16, payload: &[u8], len_override: Option<u32>) -> Vec<u8> {
    let len = len_override.unwrap_or(16 + payload.len() as u32);
    let mut b = Vec::new();
    b.extend_from_slice(&len.to_ne_bytes());
    b.extend_from_slice(&ty.to_ne_bytes());
    b.extend_from_slice(&2u16.to_ne_bytes());
    b.extend_from_slice(&1u32.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    b.extend_from_slice(payload);
    while b.len() % 4 != 0 {
        b.push(0);
    }
    b
}

/// `struct inet_diag_msg` for a socket, with an `INET_DIAG_SKV6ONLY` attribute when asked.
fn diag_msg(l: &Listener, v6only: Option<u8>, extra_attrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut m = vec![0u8; 72];
    let (family, addr): (u8, Vec<u8>) = match l.address {
        IpAddr::V4(a) => (libc::AF_INET as u8, a.octets().to_vec()),
        IpAddr::V6(a) => (libc::AF_INET6 as u8, a.octets().to_vec()),
    };
    m[0] = family;
    m[1] = l.state.raw();
    m[4..6].copy_from_slice(&l.port.to_be_bytes());
    m[8..8 + addr.len()].copy_from_slice(&addr);
    m[64..68].copy_from_slice(&l.uid.to_ne_bytes());
    m[68..72].copy_from_slice(&(l.inode as u32).to_ne_bytes());
    let mut attrs: Vec<(u16, Vec<u8>)> = extra_attrs.to_vec();
    if let Some(v) = v6only {
        attrs.push((11, vec![v]));
    }
    for (ty, data) in attrs {
        m.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
        m.extend_from_slice(&ty.to_ne_bytes());
        m.extend_from_slice(&data);
        while m.len() % 4 != 0 {
            m.push(0);
        }
    }
    m
}

fn listener(p: Proto) -> impl Strategy<Value = Listener> {
    (ip(), any::<u16>(), any::<u8>(), any::<u32>(), any::<u32>()).prop_map(
        move |(address, port, state, uid, inode)| Listener {
            proto: p,
            address,
            port,
            v6only: None,
            state: crate::net::SocketState::from_raw(state),
            uid,
            inode: u64::from(inode),
            cgroup_id: None,
        },
    )
}

/// A datagram of messages, some with a wrong length field or an odd payload.
fn netlink_buffer() -> impl Strategy<Value = Vec<u8>> {
    let len_override = prop_oneof![
        6 => Just(None),
        1 => prop_oneof![Just(0u32), Just(15), Just(16), Just(17), Just(u32::MAX), Just(u32::MAX - 2), any::<u32>()]
            .prop_map(Some),
    ];
    let msg = (
        prop_oneof![
            Just(SOCK_DIAG_BY_FAMILY),
            Just(NLMSG_ERROR),
            Just(NLMSG_DONE),
            any::<u16>()
        ],
        prop_oneof![
            listener(Proto::Tcp).prop_map(|l| diag_msg(&l, Some(1), &[])),
            (
                listener(Proto::Tcp),
                proptest::collection::vec(
                    (any::<u16>(), proptest::collection::vec(any::<u8>(), 0..9)),
                    0..3
                )
            )
                .prop_map(|(l, a)| diag_msg(&l, None, &a)),
            any::<i32>().prop_map(|e| e.to_ne_bytes().to_vec()),
            proptest::collection::vec(any::<u8>(), 0..100),
        ],
        len_override,
    )
        .prop_map(|(ty, payload, len)| nlmsg(ty, &payload, len));
    (proptest::collection::vec(msg, 0..5), 0..4usize).prop_map(|(ms, cut)| {
        let mut b = ms.concat();
        b.truncate(b.len().saturating_sub(cut));
        b
    })
}

proptest! {
    // 512 cases of pure parsing: each test under ~0.6 s of CPU in a debug build.
    #![proptest_config(cfg(512))]

    #[test]
    fn sock_diag_replies_never_panic(
        b in prop_oneof![proptest::collection::vec(any::<u8>(), 0..400), netlink_buffer()],
        p in proto(),
    ) {
        let batch = parse_batch(&b, p);
        if let Some(e) = batch.error {
            prop_assert!(e > 0, "errno {e}");
            prop_assert!(batch.done);
        }
    }

    /// Sockets encoded as the kernel sends them decode to the same sockets.
    #[test]
    fn sock_diag_round_trip(
        ls in proptest::collection::vec(
            (listener(Proto::Udp), proptest::option::of(any::<u8>()), proptest::option::of(1..=u64::MAX)),
            0..6,
        ),
        done in any::<bool>(),
    ) {
        let mut b = Vec::new();
        for (l, v6, cg) in &ls {
            // INET_DIAG_CGROUP_ID (21): the socket's cgroup id, a u64.
            let attrs: Vec<(u16, Vec<u8>)> = cg.iter().map(|id| (21, id.to_ne_bytes().to_vec())).collect();
            b.extend(nlmsg(SOCK_DIAG_BY_FAMILY, &diag_msg(l, *v6, &attrs), None));
        }
        if done {
            b.extend(nlmsg(NLMSG_DONE, &0i32.to_ne_bytes(), None));
        }
        let batch = parse_batch(&b, Proto::Udp);
        prop_assert_eq!(batch.done, done);
        prop_assert_eq!(batch.error, None);
        let want: Vec<Listener> = ls
            .iter()
            .map(|(l, v6, cg)| Listener { v6only: v6.map(|v| v != 0), cgroup_id: *cg, ..l.clone() })
            .collect();
        prop_assert_eq!(batch.sockets, want);
    }

    /// The errno of an `NLMSG_ERROR` is the negated error field, or `EIO` when that is
    /// not a negative errno.
    #[test]
    fn sock_diag_errors(e in prop_oneof![any::<i32>(), Just(i32::MIN), Just(0), -4095..0i32]) {
        let batch = parse_batch(&nlmsg(NLMSG_ERROR, &e.to_ne_bytes(), None), Proto::Tcp);
        let want = if e < 0 && e != i32::MIN { -e } else { libc::EIO };
        prop_assert_eq!(batch.error, Some(want));
    }

    #[test]
    fn requests_have_their_length(family in any::<u8>(), p in proto(), port in any::<u16>(), seq in any::<u32>()) {
        let r = build_request(family, p, port, seq);
        prop_assert_eq!(r.len() % 4, 0);
        prop_assert_eq!(u32::from_ne_bytes(r[0..4].try_into().unwrap()) as usize, r.len());
    }
}

/// The first input that made `parse_batch` panic: an `NLMSG_ERROR` whose error field is
/// `i32::MIN` (negating it overflowed).
#[test]
fn sock_diag_error_i32_min_is_eio() {
    let b = nlmsg(NLMSG_ERROR, &i32::MIN.to_ne_bytes(), None);
    assert_eq!(parse_batch(&b, Proto::Tcp).error, Some(libc::EIO));
}
