//! The socket table: who listens on a port, from netlink sock_diag (what `ss` uses) or,
//! when that is not available, from `/proc/net/{tcp,tcp6,udp,udp6}`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::host::Host;

pub use crate::net::{Proto, SocketState};

/// `TCP_LISTEN` in the kernel's socket states.
pub const TCP_LISTEN: u8 = 10;
/// `TCP_CLOSE`: an unconnected UDP socket.
#[cfg_attr(not(feature = "testing"), allow(dead_code))] // used by hostfix::testing
pub const TCP_CLOSE: u8 = 7;

/// Where the socket table was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum TableSource {
    /// Netlink sock_diag, the kernel filtering on state and port.
    SockDiag,
    /// `/proc/net/{tcp,tcp6,udp,udp6}`, filtered here.
    ProcNet,
}

/// A socket holding a port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Listener {
    /// The protocol.
    pub proto: Proto,
    /// The bound address (`0.0.0.0`, `::`, `127.0.0.1`, a specific address).
    pub address: IpAddr,
    /// The bound port.
    pub port: u16,
    /// For an IPv6 socket, whether it is IPv6 only (`false`: dual-stack, it holds the
    /// IPv4 port too); `None` when unknown (the `/proc/net` table does not say).
    pub v6only: Option<bool>,
    /// The kernel's socket state (listen, unconnected UDP, connected); in JSON the
    /// kernel's number (10, 7, 1).
    pub state: SocketState,
    /// The socket's owner uid.
    pub uid: u32,
    /// The socket's inode: what `/proc/PID/fd/N` links to as `socket:[INODE]`.
    pub inode: u64,
    /// The id of the cgroup v2 the socket's creator was in when it made the socket
    /// (sock_diag's `INET_DIAG_CGROUP_ID`, Linux 5.7+); `None` when unknown (`/proc/net`,
    /// an older kernel).
    pub cgroup_id: Option<u64>,
}

/// A TCP listener on `0.0.0.0`, port 0, inode 0: the base a test builds a listener from.
impl Default for Listener {
    fn default() -> Self {
        Listener {
            proto: Proto::Tcp,
            address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 0,
            v6only: None,
            state: SocketState::Listen,
            uid: 0,
            inode: 0,
            cgroup_id: None,
        }
    }
}

impl Listener {
    /// `0.0.0.0:80`, `[::]:80`.
    pub fn endpoint(&self) -> String {
        SocketAddr::new(self.address, self.port).to_string()
    }

    /// `0.0.0.0:80/tcp`, with ` (v6only)` for an IPv6-only socket.
    pub fn describe(&self) -> String {
        format!(
            "{}/{}{}",
            self.endpoint(),
            self.proto,
            if self.v6only == Some(true) && self.address.is_unspecified() {
                " (v6only)"
            } else {
                ""
            }
        )
    }

    /// Whether this socket keeps a plain `bind(probe)` (no `SO_REUSEPORT`) of the same
    /// protocol from succeeding. `probe_v6only` is the probe's own `IPV6_V6ONLY`
    /// (`net.ipv6.bindv6only`, 0 by default: a `::` probe is dual-stack).
    pub fn blocks(&self, probe: SocketAddr, probe_v6only: bool) -> bool {
        if probe.port() != self.port {
            return false;
        }
        let mine = canonical(self.address);
        let theirs = canonical(probe.ip());
        match (mine, theirs) {
            (IpAddr::V4(a), IpAddr::V4(b)) => a.is_unspecified() || b.is_unspecified() || a == b,
            (IpAddr::V6(a), IpAddr::V6(b)) => a.is_unspecified() || b.is_unspecified() || a == b,
            // An IPv6 socket on `::` that is not v6-only holds the IPv4 port too.
            (IpAddr::V6(a), IpAddr::V4(_)) => a.is_unspecified() && self.v6only != Some(true),
            (IpAddr::V4(_), IpAddr::V6(b)) => b.is_unspecified() && !probe_v6only,
        }
    }
}

/// A v4-mapped IPv6 address (`::ffff:1.2.3.4`) as the IPv4 address it is.
fn canonical(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// One row of `/proc/net/{tcp,tcp6,udp,udp6}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcNetRow {
    /// Local address.
    pub local: IpAddr,
    /// Local port.
    pub port: u16,
    /// Socket state.
    pub state: u8,
    /// Owner uid.
    pub uid: u32,
    /// Inode (0 for sockets no process holds, such as `TIME_WAIT`).
    pub inode: u64,
}

/// Parses an address as `/proc/net` prints it: the kernel's in-memory (network order)
/// bytes printed as native-endian 32-bit words, 8 hex digits for IPv4, 32 for IPv6.
pub fn parse_proc_net_addr(hex: &str) -> Option<IpAddr> {
    let word = |s: &str| u32::from_str_radix(s, 16).ok().map(u32::to_ne_bytes);
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(hex)?))),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(hex.get(i * 8..i * 8 + 8)?)?);
            }
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

/// Parses one of `/proc/net/{tcp,tcp6,udp,udp6}` (pure). `what` names the file in errors.
///
/// # Errors
/// [`Error::Parse`] naming the line when a row is malformed.
pub fn parse_proc_net(text: &str, what: &str) -> Result<Vec<ProcNetRow>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why: &str| Error::parse(format!("{what} line {}", i + 1), why.to_string());
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 {
            return Err(bad("fewer than 10 fields"));
        }
        let (addr, port) = f[1].split_once(':').ok_or_else(|| bad("no port"))?;
        out.push(ProcNetRow {
            local: parse_proc_net_addr(addr).ok_or_else(|| bad("bad local address"))?,
            port: u16::from_str_radix(port, 16).map_err(|_| bad("bad port"))?,
            state: u8::from_str_radix(f[3], 16).map_err(|_| bad("bad state"))?,
            uid: f[7].parse().map_err(|_| bad("bad uid"))?,
            inode: f[9].parse().map_err(|_| bad("bad inode"))?,
        });
    }
    Ok(out)
}

/// Whether a socket in `state` holds a port of `proto`: a TCP listener, or any UDP
/// socket bound to it.
pub fn holds_port(proto: Proto, state: u8) -> bool {
    match proto {
        Proto::Tcp => state == TCP_LISTEN,
        Proto::Udp => true,
    }
}

/// The sockets holding `port` in `/proc/net` tables (pure filter of parsed rows).
pub fn listeners_from_rows(rows: &[ProcNetRow], proto: Proto, port: u16) -> Vec<Listener> {
    rows.iter()
        .filter(|r| r.port == port && r.inode != 0 && holds_port(proto, r.state))
        .map(|r| Listener {
            proto,
            address: r.local,
            port: r.port,
            v6only: None,
            state: SocketState::from_raw(r.state),
            uid: r.uid,
            inode: r.inode,
            cgroup_id: None,
        })
        .collect()
}

/// The sockets holding `port`, read from the host's `/proc/net` tables of the calling
/// thread's network namespace (`/proc/thread-self/net`, else `/proc/net`).
///
/// # Errors
/// [`Error::Io`] when neither table of the protocol can be read, [`Error::Parse`].
pub fn read_proc_net(host: &Host, proto: Proto, port: u16) -> Result<Vec<Listener>> {
    let base = if host.path("/proc/thread-self/net").is_dir() {
        "/proc/thread-self/net"
    } else {
        "/proc/net"
    };
    let mut out = Vec::new();
    let mut read_any = false;
    for v6 in [false, true] {
        let file = format!("{base}/{}{}", proto, if v6 { "6" } else { "" });
        // A kernel without IPv6 has no tcp6/udp6.
        let Some(text) = host.read_opt(&file)? else {
            continue;
        };
        read_any = true;
        out.extend(listeners_from_rows(
            &parse_proc_net(&text, &file)?,
            proto,
            port,
        ));
    }
    if !read_any {
        return Err(Error::io(
            "reading",
            format!("{base}/{proto}"),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_as_the_kernel_prints_them() {
        // Little-endian words (x86, arm64).
        if cfg!(target_endian = "little") {
            assert_eq!(
                parse_proc_net_addr("0100007F"),
                Some("127.0.0.1".parse().unwrap())
            );
            assert_eq!(
                parse_proc_net_addr("00000000000000000000000001000000"),
                Some("::1".parse().unwrap())
            );
            assert_eq!(
                parse_proc_net_addr("0000000000000000FFFF00000100007F"),
                Some("::ffff:127.0.0.1".parse().unwrap())
            );
        }
        assert_eq!(
            parse_proc_net_addr("00000000"),
            Some("0.0.0.0".parse().unwrap())
        );
        assert_eq!(parse_proc_net_addr("xyz"), None);
    }

    fn l(addr: &str, v6only: Option<bool>) -> Listener {
        Listener {
            proto: Proto::Tcp,
            address: addr.parse().unwrap(),
            port: 80,
            v6only,
            state: SocketState::Listen,
            uid: 0,
            inode: 1,
            cgroup_id: None,
        }
    }

    #[test]
    fn which_sockets_block_which_binds() {
        let any4: SocketAddr = "0.0.0.0:80".parse().unwrap();
        let any6: SocketAddr = "[::]:80".parse().unwrap();
        let lo4: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let other: SocketAddr = "10.0.0.5:80".parse().unwrap();
        assert!(l("0.0.0.0", None).blocks(any4, false));
        assert!(l("0.0.0.0", None).blocks(lo4, false));
        assert!(l("127.0.0.1", None).blocks(any4, false));
        assert!(!l("127.0.0.1", None).blocks(other, false));
        // A dual-stack `::` probe conflicts with any IPv4 holder; a v6-only one does not.
        assert!(l("127.0.0.1", None).blocks(any6, false));
        assert!(!l("127.0.0.1", None).blocks(any6, true));
        // A dual-stack `::` holder blocks IPv4; a v6-only one does not; unknown counts
        // as dual-stack.
        assert!(l("::", Some(false)).blocks(any4, false));
        assert!(!l("::", Some(true)).blocks(any4, false));
        assert!(l("::", None).blocks(any4, false));
        assert!(l("::", Some(true)).blocks(any6, false));
        assert!(l("::ffff:127.0.0.1", None).blocks(lo4, false));
        assert!(!l("::1", None).blocks(any4, false));
        assert!(!l("0.0.0.0", None).blocks("0.0.0.0:81".parse().unwrap(), false));
    }
}
