//! The network vocabulary every layer shares (below `error`, which names a port's
//! protocol in its messages).

use std::fmt;

use serde::Serialize;

/// A transport protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// TCP: a port is held by a listening socket.
    #[default]
    Tcp,
    /// UDP: a port is held by any socket bound to it.
    Udp,
}

impl Proto {
    /// `tcp` or `udp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kernel's state of a socket holding a port, as `/proc/net` and sock_diag give it.
/// Serialized as the kernel's number (`10` listen, `7` unconnected UDP, `1` connected),
/// as the JSON has always carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SocketState {
    /// `TCP_LISTEN` (10): a TCP socket accepting connections.
    Listen,
    /// `TCP_CLOSE` (7): an unconnected UDP socket.
    Unconnected,
    /// `TCP_ESTABLISHED` (1): a connected UDP socket (or an accepted TCP connection).
    Established,
    /// Another kernel state, by number.
    Other(u8),
}

impl SocketState {
    /// The state of the kernel's number.
    pub fn from_raw(state: u8) -> Self {
        match state {
            10 => SocketState::Listen,
            7 => SocketState::Unconnected,
            1 => SocketState::Established,
            n => SocketState::Other(n),
        }
    }

    /// The kernel's number.
    pub fn raw(self) -> u8 {
        match self {
            SocketState::Listen => 10,
            SocketState::Unconnected => 7,
            SocketState::Established => 1,
            SocketState::Other(n) => n,
        }
    }
}

impl fmt::Display for SocketState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocketState::Listen => f.write_str("listen"),
            SocketState::Unconnected => f.write_str("unconnected"),
            SocketState::Established => f.write_str("established"),
            SocketState::Other(n) => write!(f, "state {n}"),
        }
    }
}

impl Serialize for SocketState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.raw())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_states_keep_the_kernels_numbers() {
        for n in 0..=u8::MAX {
            assert_eq!(SocketState::from_raw(n).raw(), n);
        }
        assert_eq!(SocketState::from_raw(10), SocketState::Listen);
        assert_eq!(
            serde_json::to_string(&SocketState::Unconnected).unwrap(),
            "7"
        );
        assert_eq!(SocketState::Other(6).to_string(), "state 6");
    }
}
