//! The request, sent: a TCP connect to a loopback address and, on an HTTP port, a minimal
//! `HEAD / HTTP/1.0`, of whose answer only the status line and the `Server` header are
//! kept.
//!
//! Nothing the peer does is trusted: the answer is read up to [`ProbeLimits::max_bytes`]
//! and until [`ProbeLimits::answer`] has passed, whatever arrives (a silent listener, one
//! byte a second, a megabyte of garbage); what the peer sends is shown with its control
//! characters replaced and its length bounded. Redirects are not followed. A slow or
//! hostile responder is a result ([`Outcome::NoAnswer`], [`Outcome::NotHttp`]), never a
//! hang.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::text::clean;

/// How long and how much a probe may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeLimits {
    /// The TCP connect (a loopback connect is answered at once, or dropped by a firewall).
    pub connect: Duration,
    /// From the request sent to the end of the answer's headers.
    pub answer: Duration,
    /// The most bytes of the answer read.
    pub max_bytes: usize,
}

impl Default for ProbeLimits {
    fn default() -> Self {
        ProbeLimits {
            connect: Duration::from_millis(500),
            answer: Duration::from_millis(1500),
            max_bytes: 8 * 1024,
        }
    }
}

/// The ports a `HEAD /` is sent to: the usual plain-HTTP ports (443 and 8443 speak TLS
/// and get a TCP connect only). A container's port counts as HTTP when the port inside it
/// is one of these.
pub const HTTP_PORTS: [u16; 7] = [80, 8000, 8008, 8080, 8081, 8888, 3000];

/// Whether a request to `port` (published to `container_port` inside a container, when
/// one publishes it) gets a `HEAD /` (pure).
pub fn is_http_port(port: u16, container_port: Option<u16>) -> bool {
    HTTP_PORTS.contains(&port) || container_port.is_some_and(|c| HTTP_PORTS.contains(&c))
}

/// The loopback addresses a request is sent to, IPv4 first.
pub const LOOPBACKS: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::LOCALHOST),
    IpAddr::V6(Ipv6Addr::LOCALHOST),
];

/// What came of one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Outcome {
    /// The connection was accepted (no HTTP request was sent: not an HTTP port).
    Connected,
    /// An HTTP answer.
    Http {
        /// The status line (`HTTP/1.1 200 OK`).
        status_line: String,
        /// The status code, when the line has one.
        code: Option<u16>,
        /// The `Server` header, when sent.
        server: Option<String>,
        /// The headers did not end within the limits (the peer was slow or sent too
        /// much); what arrived is shown.
        truncated: bool,
    },
    /// The peer answered with something that is not HTTP.
    NotHttp {
        /// Its first bytes, printable.
        first_bytes: String,
    },
    /// The peer accepted, then closed without sending a byte.
    Closed,
    /// The peer accepted and sent no complete answer in time.
    NoAnswer {
        /// How long doctor waited (ms).
        waited_ms: u64,
        /// Bytes received meanwhile.
        bytes: usize,
    },
    /// Nothing listens there (connection refused).
    Refused,
    /// The connect was not answered in time (a firewall dropping it, a full backlog).
    ConnectTimeout {
        /// How long doctor waited (ms).
        waited_ms: u64,
    },
    /// The peer reset the connection.
    Reset,
    /// The address cannot be used on this host (no IPv6 loopback, ...).
    Unreachable {
        /// The error.
        error: String,
    },
    /// Any other failure.
    Failed {
        /// The error.
        error: String,
    },
    /// Not sent: a connection could change the host (start a socket-activated service).
    NotSent {
        /// Why.
        why: String,
    },
}

impl Outcome {
    /// Whether a listener accepted the connection (whatever it then said).
    pub fn connected(&self) -> bool {
        matches!(
            self,
            Outcome::Connected
                | Outcome::Http { .. }
                | Outcome::NotHttp { .. }
                | Outcome::Closed
                | Outcome::NoAnswer { .. }
                | Outcome::Reset
        )
    }

    /// Whether the peer accepted but did not answer as asked (silent, slow, garbled,
    /// closed or reset): a finding of its own.
    pub fn misbehaved(&self) -> bool {
        matches!(
            self,
            Outcome::NotHttp { .. } | Outcome::Closed | Outcome::NoAnswer { .. } | Outcome::Reset
        ) || matches!(
            self,
            Outcome::Http {
                truncated: true,
                ..
            }
        )
    }

    /// One line: `HTTP/1.1 200 OK, Server: nginx/1.22.1`, `refused`, ...
    pub fn describe(&self) -> String {
        match self {
            Outcome::Connected => "connection accepted".into(),
            Outcome::Http {
                status_line,
                server,
                truncated,
                ..
            } => {
                let mut s = status_line.clone();
                if let Some(v) = server {
                    s.push_str(&format!(", Server: {v}"));
                }
                if *truncated {
                    s.push_str(" (headers incomplete within the limits)");
                }
                s
            }
            Outcome::NotHttp { first_bytes } => format!("answered, but not HTTP: {first_bytes}"),
            Outcome::Closed => "accepted, then closed without an answer".into(),
            Outcome::NoAnswer { waited_ms, bytes } => {
                format!("accepted, no complete answer in {waited_ms} ms ({bytes} bytes received)")
            }
            Outcome::Refused => "connection refused (nothing listens)".into(),
            Outcome::ConnectTimeout { waited_ms } => {
                format!("connect not answered in {waited_ms} ms (dropped by a firewall?)")
            }
            Outcome::Reset => "connection reset by the peer".into(),
            Outcome::Unreachable { error } => format!("address not usable here: {error}"),
            Outcome::Failed { error } => format!("failed: {error}"),
            Outcome::NotSent { why } => format!("not sent: {why}"),
        }
    }
}

/// One request sent, and what came of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Probe {
    /// Where it was sent.
    pub addr: SocketAddr,
    /// Whether a `HEAD /` was sent (else only a TCP connect).
    pub http: bool,
    /// What came of it.
    pub outcome: Outcome,
    /// How long it took (ms).
    pub elapsed_ms: u64,
}

/// The request sent to `addr` (pure): `HEAD / HTTP/1.0` with a `Host` header naming the
/// address, asking the server to close.
pub fn request_bytes(addr: SocketAddr) -> Vec<u8> {
    format!(
        "HEAD / HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: hostfix-doctor\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

/// Whether `bytes` hold the end of an answer's headers (a blank line).
pub fn headers_complete(bytes: &[u8]) -> bool {
    bytes.windows(4).any(|w| w == b"\r\n\r\n") || bytes.windows(2).any(|w| w == b"\n\n")
}

/// Reads the status line and the `Server` header from the start of an answer (pure).
/// `truncated` says the headers did not end within the limits.
pub fn parse_answer(bytes: &[u8], truncated: bool) -> Outcome {
    if bytes.is_empty() {
        return Outcome::Closed;
    }
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let first = lines.next().unwrap_or_default();
    if !first.starts_with("HTTP/") {
        return Outcome::NotHttp {
            first_bytes: clean(first, 60),
        };
    }
    let code = first
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|c| (100..=999).contains(c));
    let mut server = None;
    for l in lines {
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.trim().eq_ignore_ascii_case("server") && server.is_none() {
                server = Some(clean(v.trim(), 120));
            }
        }
    }
    Outcome::Http {
        status_line: clean(first, 120),
        code,
        server,
        truncated,
    }
}

/// Maps a connect error to an outcome (pure).
pub fn connect_error(e: &std::io::Error, waited: Duration) -> Outcome {
    match e.kind() {
        ErrorKind::ConnectionRefused => Outcome::Refused,
        ErrorKind::TimedOut | ErrorKind::WouldBlock => Outcome::ConnectTimeout {
            waited_ms: waited.as_millis() as u64,
        },
        ErrorKind::ConnectionReset => Outcome::Reset,
        _ => match e.raw_os_error() {
            Some(
                libc::EADDRNOTAVAIL | libc::ENETUNREACH | libc::EHOSTUNREACH | libc::EAFNOSUPPORT,
            ) => Outcome::Unreachable {
                error: e.to_string(),
            },
            _ => Outcome::Failed {
                error: e.to_string(),
            },
        },
    }
}

/// Sends the request to `addr` and reads the answer within `limits`.
pub fn send(addr: SocketAddr, http: bool, limits: ProbeLimits) -> Probe {
    let start = Instant::now();
    let outcome = match TcpStream::connect_timeout(&addr, limits.connect) {
        Err(e) => connect_error(&e, start.elapsed()),
        Ok(stream) if !http => {
            let _ = stream.shutdown(Shutdown::Both);
            Outcome::Connected
        }
        Ok(stream) => converse(stream, addr, limits),
    };
    let p = Probe {
        addr,
        http,
        outcome,
        elapsed_ms: start.elapsed().as_millis() as u64,
    };
    log::debug!("evidence: request to {addr}: {}", p.outcome.describe());
    p
}

/// Sends `HEAD /` on a connected stream and reads the answer's headers, bounded in time
/// and size.
fn converse(mut stream: TcpStream, addr: SocketAddr, limits: ProbeLimits) -> Outcome {
    let start = Instant::now();
    let deadline = start + limits.answer;
    let wait = |d: Duration| Some(d.max(Duration::from_millis(1)));
    if let Err(e) = stream
        .set_write_timeout(wait(limits.answer))
        .and_then(|()| stream.write_all(&request_bytes(addr)))
    {
        return match e.kind() {
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => Outcome::Reset,
            _ => Outcome::Failed {
                error: format!("sending the request: {e}"),
            },
        };
    }
    let mut got: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    let max = limits.max_bytes.max(1);
    loop {
        if headers_complete(&got) {
            return parse_answer(&got, false);
        }
        if got.len() >= max {
            return parse_answer(&got, true);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return timed_out(&got, start);
        }
        if let Err(e) = stream.set_read_timeout(wait(left)) {
            return Outcome::Failed {
                error: format!("setting a read timeout: {e}"),
            };
        }
        let room = (max - got.len()).min(chunk.len());
        match stream.read(&mut chunk[..room]) {
            Ok(0) => return parse_answer(&got, false),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return timed_out(&got, start);
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                return if got.is_empty() {
                    Outcome::Reset
                } else {
                    parse_answer(&got, true)
                };
            }
            Err(e) => {
                return Outcome::Failed {
                    error: format!("reading the answer: {e}"),
                };
            }
        }
    }
}

/// The outcome when the deadline passed: what arrived, if it starts an HTTP answer.
fn timed_out(got: &[u8], start: Instant) -> Outcome {
    if got.contains(&b'\n') && got.starts_with(b"HTTP/") {
        return parse_answer(got, true);
    }
    Outcome::NoAnswer {
        waited_ms: start.elapsed().as_millis() as u64,
        bytes: got.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_minimal_and_names_the_address() {
        let r = request_bytes("[::1]:8080".parse().unwrap());
        let r = String::from_utf8(r).unwrap();
        assert!(r.starts_with("HEAD / HTTP/1.0\r\nHost: [::1]:8080\r\n"));
        assert!(r.ends_with("\r\n\r\n"));
    }

    #[test]
    fn answers_are_read_for_their_status_line_and_server() {
        let a = b"HTTP/1.1 301 Moved Permanently\r\nLocation: https://x/\r\nsErVeR:  nginx/1.22.1 \r\n\r\n";
        assert!(headers_complete(a));
        assert_eq!(
            parse_answer(a, false),
            Outcome::Http {
                status_line: "HTTP/1.1 301 Moved Permanently".into(),
                code: Some(301),
                server: Some("nginx/1.22.1".into()),
                truncated: false,
            }
        );
        // Bare LF, no Server.
        let Outcome::Http { code, server, .. } = parse_answer(b"HTTP/1.0 200 OK\n\n", false) else {
            panic!()
        };
        assert_eq!((code, server), (Some(200), None));
        // A Server header after the blank line is body, not a header.
        let Outcome::Http { server, .. } =
            parse_answer(b"HTTP/1.0 200 OK\r\n\r\nServer: body\r\n", false)
        else {
            panic!()
        };
        assert_eq!(server, None);
    }

    #[test]
    fn hostile_answers_are_bounded_and_printable() {
        let mut evil = b"HTTP/1.1 200 \x1b[31mOK\x07\r\nServer: ".to_vec();
        evil.extend(std::iter::repeat_n(b'A', 5000));
        let Outcome::Http {
            status_line,
            server,
            truncated,
            ..
        } = parse_answer(&evil, true)
        else {
            panic!()
        };
        assert!(!status_line.contains('\x1b') && !status_line.contains('\x07'));
        let server = server.unwrap();
        assert!(
            server.ends_with("...") && server.chars().count() == 123,
            "{server}"
        );
        assert!(truncated);
        let Outcome::NotHttp { first_bytes } = parse_answer(b"SSH-2.0-OpenSSH_9.2\r\n", false)
        else {
            panic!()
        };
        assert_eq!(first_bytes, "SSH-2.0-OpenSSH_9.2");
        assert_eq!(
            parse_answer(&[0xff, 0xfe, 0, 1], false),
            Outcome::NotHttp {
                first_bytes: "\u{fffd}\u{fffd}??".into()
            }
        );
        assert_eq!(parse_answer(b"", false), Outcome::Closed);
        assert_eq!(
            parse_answer(b"HTTP/1.1 abc\r\n\r\n", false),
            Outcome::Http {
                status_line: "HTTP/1.1 abc".into(),
                code: None,
                server: None,
                truncated: false
            }
        );
    }

    #[test]
    fn connect_errors_are_named() {
        let e = std::io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(connect_error(&e, Duration::ZERO), Outcome::Refused);
        let e = std::io::Error::from_raw_os_error(libc::EADDRNOTAVAIL);
        assert!(matches!(
            connect_error(&e, Duration::ZERO),
            Outcome::Unreachable { .. }
        ));
        let e = std::io::Error::from(ErrorKind::TimedOut);
        assert_eq!(
            connect_error(&e, Duration::from_millis(500)),
            Outcome::ConnectTimeout { waited_ms: 500 }
        );
    }

    #[test]
    fn http_ports() {
        assert!(is_http_port(80, None));
        assert!(!is_http_port(443, None));
        assert!(is_http_port(18080, Some(80)));
        assert!(!is_http_port(5432, Some(5432)));
    }
}
