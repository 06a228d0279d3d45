//! The `.socket` units systemd lists: which hand a port to a service, or which PID 1
//! holds a port for.

use serde::Serialize;

use crate::port::table::Proto;

/// A line of `systemctl list-sockets --show-types`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SocketUnit {
    /// What it listens on (`[::]:80`, `0.0.0.0:80`, `/run/x.sock`).
    pub listen: String,
    /// `Stream`, `Datagram`, ... when shown.
    pub socket_type: Option<String>,
    /// The `.socket` unit.
    pub unit: String,
    /// The units it activates.
    pub activates: Vec<String>,
}

impl SocketUnit {
    /// The port it listens on, for an IP listener.
    pub fn port(&self) -> Option<u16> {
        if self.listen.starts_with(['/', '@']) {
            return None;
        }
        self.listen.rsplit(':').next()?.parse().ok()
    }

    /// Whether it listens on `port`/`proto`.
    pub fn matches(&self, port: u16, proto: Proto) -> bool {
        let type_ok = match (self.socket_type.as_deref(), proto) {
            (None, _) => true,
            (Some(t), Proto::Tcp) => t == "Stream",
            (Some(t), Proto::Udp) => t == "Datagram",
        };
        type_ok && self.port() == Some(port)
    }
}

/// The arguments of the `systemctl list-sockets` hostfix runs.
pub const LIST_SOCKETS_ARGS: [&str; 6] = [
    "list-sockets",
    "--all",
    "--full",
    "--no-legend",
    "--no-pager",
    "--show-types",
];

/// Parses `systemctl list-sockets --all --full --no-legend --show-types` (pure; the TYPE
/// column may be absent).
pub fn parse_list_sockets(stdout: &str) -> Vec<SocketUnit> {
    stdout
        .lines()
        .filter_map(|l| {
            let toks: Vec<&str> = l.split_whitespace().collect();
            let ui = toks.iter().position(|t| t.ends_with(".socket"))?;
            if ui == 0 {
                return None;
            }
            Some(SocketUnit {
                listen: toks[0].to_string(),
                socket_type: (ui == 2).then(|| toks[1].to_string()),
                unit: toks[ui].to_string(),
                activates: toks[ui + 1..]
                    .iter()
                    .map(|t| t.trim_end_matches(',').to_string())
                    .filter(|t| !t.is_empty())
                    .collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_sockets_with_and_without_types() {
        let v = parse_list_sockets(
            "[::]:22  Stream  ssh.socket  ssh.service\n\
             /run/dbus/system_bus_socket dbus.socket dbus.service\n\
             0.0.0.0:53 Datagram dns.socket dns.service, dns2.service\n",
        );
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].port(), Some(22));
        assert!(v[0].matches(22, Proto::Tcp));
        assert_eq!(v[1].socket_type, None);
        assert_eq!(v[1].port(), None);
        assert!(v[2].matches(53, Proto::Udp) && !v[2].matches(53, Proto::Tcp));
        assert_eq!(v[2].activates, vec!["dns.service", "dns2.service"]);
    }
}
