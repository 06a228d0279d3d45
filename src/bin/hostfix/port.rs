//! `hostfix port`.

use std::net::IpAddr;
use std::time::Duration;

use clap::{Args, Subcommand};
use hostfix::port::{self, FreeSpec, Proto, WhoSpec};

use crate::Global;
use crate::args::{self, Utf8};

/// `hostfix port ...`
#[derive(Debug, Subcommand)]
pub enum PortCmd {
    /// Every process holding PORT, with its unit, package or container (read-only).
    ///
    /// Example: `hostfix port who 80`
    Who(WhoArgs),
    /// Make PORT bindable by the least risky ladder: stop and disable the unit (and its
    /// .socket; without systemd, the init script tied to the holder: update-rc.d/service
    /// or rc-update/rc-service) → SIGTERM → SIGKILL, each rung verified by binding the
    /// addresses.
    ///
    /// Default --max-risk: disruptive; with --remove-package: destructive. Never touches
    /// PID 1, the caller's process tree, sshd, the container engine, containers (it
    /// prints the command that would stop them) or essential packages.
    ///
    /// Examples: `hostfix port free 80`, `hostfix port free 80 --remove-package`
    Free(FreeArgs),
}

/// `hostfix port who PORT [--udp]`
#[derive(Debug, Args)]
pub struct WhoArgs {
    /// The port (1-65535).
    #[arg(value_parser = Utf8(args::port))]
    port: u16,
    /// UDP instead of TCP.
    #[arg(long)]
    udp: bool,
    /// Read every process's open files instead of stopping at the last socket found
    /// (finds owners that received the socket from an unrelated process).
    #[arg(long)]
    exhaustive: bool,
}

/// `hostfix port free PORT [--remove-package]`
#[derive(Debug, Args)]
pub struct FreeArgs {
    /// The port (1-65535).
    #[arg(value_parser = Utf8(args::port))]
    port: u16,
    /// UDP instead of TCP.
    #[arg(long)]
    udp: bool,
    /// Also remove the distro package whose program holds the port, after a simulated
    /// removal shows nothing essential and nothing built from another source would go,
    /// but for add-ons its own packages pulled in (risk destructive; this flag is the
    /// consent and raises the default --max-risk to destructive).
    #[arg(long)]
    remove_package: bool,
    /// An address that must bind afterwards; may repeat (default 0.0.0.0 and ::).
    #[arg(long = "address", value_name = "ADDR", value_parser = Utf8(args::ip))]
    addresses: Vec<IpAddr>,
    /// How long to wait for the owners to exit after each signal (at most 1d).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = Utf8(args::wait))]
    timeout: Duration,
}

/// Runs a port subcommand.
pub fn run(g: &Global, c: PortCmd) -> i32 {
    let host = g.host();
    match c {
        PortCmd::Who(a) => {
            let mut spec = if a.udp {
                WhoSpec::udp(a.port)
            } else {
                WhoSpec::tcp(a.port)
            };
            spec.exhaustive = a.exhaustive;
            spec.engine = g.engine;
            let report = port::who(&host, &spec, &g.policy(spec.default_cap()));
            crate::output::emit(g, &report)
        }
        PortCmd::Free(a) => {
            let mut spec = FreeSpec::tcp(a.port);
            if a.udp {
                spec.proto = Proto::Udp;
            }
            if !a.addresses.is_empty() {
                spec.addresses = a.addresses;
            }
            spec.remove_package = a.remove_package;
            spec.timeout = a.timeout;
            spec.engine = g.engine;
            // --remove-package is the consent: it raises the default cap to destructive.
            let report = port::free_port(&host, &spec, &g.policy(spec.default_cap()));
            crate::output::emit(g, &report)
        }
    }
}
