//! Port holders: who holds a port, and freeing it by the least risky ladder.
//!
//! [`who`] answers "what holds port 80?" in milliseconds: the kernel's socket table
//! (netlink sock_diag, filtered on state and port in the kernel, with each socket's
//! cgroup; `/proc/net/*` as the fallback), then the open files of the processes in those
//! cgroups, or where that does not find them a parallel walk over `/proc/*/fd` that stops
//! at the last wanted socket, then each owner classified ([`OwnerKind`]): a
//! systemd service, a socket unit
//! PID 1 holds the socket for, a container (`docker-proxy` or a process in a container's
//! cgroup), the distro package of its executable, or a bare process.
//!
//! [`free_port`] makes the port bindable with the softest fix that works, verifying each
//! rung by binding the exact addresses the caller needs: stop and disable the unit (and
//! its `.socket`; on sysvinit or OpenRC, the init script tied to the holder) → SIGTERM,
//! wait → SIGKILL; with [`FreeSpec::remove_package`], the
//! distro package holding the port is removed after a simulated removal shows nothing
//! else would go.
//!
//! Never touched: PID 1, the caller and its ancestors, kernel threads, sshd, the
//! container engine and containers (reported with the command that would stop them),
//! essential or required packages.
//!
//! ```no_run
//! use hostfix::port::{self, FreeSpec, WhoSpec};
//! use hostfix::{Host, Policy};
//!
//! let host = Host::live();
//! // "pid 812 nginx (master) and 3 workers, unit nginx.service, package nginx-light"
//! for g in port::find_holders(&host, &WhoSpec::tcp(80))?.groups {
//!     println!("{}", g.summary);
//! }
//! let mut spec = FreeSpec::tcp(80);
//! spec.remove_package = true; // the consent: the default cap becomes destructive
//! let report = port::free_port(&host, &spec, &Policy::new(spec.default_cap()));
//! if let Some(e) = &report.error {
//!     eprintln!("port 80 not freed (exit {}): {e}", report.exit_code());
//! }
//! # Ok::<(), hostfix::Error>(())
//! ```
//!
//! `examples/free_port.rs` is this as a program.

pub(crate) mod cglook;
pub(crate) mod cgroup;
pub(crate) mod diag;
pub(crate) mod docker;
pub(crate) mod fds;
pub(crate) mod findings;
pub(crate) mod free;
pub(crate) mod initd;
pub(crate) mod owner;
pub(crate) mod relatives;
pub(crate) mod removal;
mod render;
pub(crate) mod scan;
pub(crate) mod table;

use serde::Serialize;

pub use free::{FreeResult, FreeSpec, RemovalPlan, free_port};
pub use initd::InitService;
pub use owner::{OwnerGroup, OwnerKind, PortOwner, SocketUnit};
pub use scan::{CgroupLook, ScanPath, ScanStats};
pub use table::{Listener, Proto, SocketState, TableSource};

pub use crate::package::PackageInfo;
pub use docker::ContainerRef;
pub(crate) use findings::diagnose;

pub use crate::error::PortError;
use crate::error::{InputError, Result};
use crate::host::Host;
use crate::plan::{Policy, Report, Risk, Runner};

/// What [`who`] looks up: [`WhoSpec::tcp`] or [`WhoSpec::udp`], then the fields.
///
/// Read from a config (`serde`), only `port` is required:
/// `{"port": 80, "proto": "udp", "exhaustive": true}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct WhoSpec {
    /// The port (1-65535; required).
    pub port: u16,
    /// The protocol. Default `tcp`.
    #[serde(default)]
    pub proto: Proto,
    /// Walk every process instead of stopping at the last wanted socket (finds owners
    /// that received the socket from outside their process tree and service). Default
    /// `false`.
    #[serde(default)]
    pub exhaustive: bool,
    /// Look up the distro package of each owner's executable. Default `true`.
    #[serde(default = "yes")]
    pub packages: bool,
    /// Look among the processes of each socket's cgroup before walking every process
    /// (live host, cgroup v2; the owners found are the same either way). Default `true`.
    #[serde(default = "yes")]
    pub cgroups: bool,
    /// The container engine asked to name a container holding the port (`--engine`);
    /// `None` detects it.
    #[serde(default)]
    pub engine: Option<crate::engine::EngineKind>,
}

fn yes() -> bool {
    true
}

impl WhoSpec {
    /// The risk cap `hostfix port who` runs under: [`Risk::ReadOnly`] (it only reads).
    pub fn default_cap(&self) -> Risk {
        Risk::ReadOnly
    }

    /// A TCP lookup with package names, stopping early.
    pub fn tcp(port: u16) -> Self {
        WhoSpec {
            port,
            proto: Proto::Tcp,
            exhaustive: false,
            packages: true,
            cgroups: true,
            engine: None,
        }
    }

    /// Checks the spec: the port is not 0.
    ///
    /// # Errors
    /// [`InputError`] for port 0.
    pub fn validate(&self) -> Result<()> {
        check_port(self.port)
    }

    /// A UDP lookup with package names, stopping early.
    pub fn udp(port: u16) -> Self {
        WhoSpec {
            proto: Proto::Udp,
            ..Self::tcp(port)
        }
    }
}

/// Who holds a port.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Holders {
    /// The port.
    pub port: u16,
    /// The protocol.
    pub proto: Proto,
    /// The sockets holding it.
    pub listeners: Vec<Listener>,
    /// The processes holding those sockets.
    pub owners: Vec<PortOwner>,
    /// The owners grouped by process tree, with a one-line summary each.
    pub groups: Vec<OwnerGroup>,
    /// Sockets no process was found for (a kernel socket, or a process hostfix could not
    /// read).
    pub unowned: Vec<String>,
    /// Where the socket table came from.
    pub source: Option<TableSource>,
    /// How the walk over `/proc/*/fd` went.
    pub scan: ScanStats,
    /// What the caller should know (missing permissions, an owner that only resembles an
    /// init script's service).
    pub notes: Vec<String>,
    /// On a host without systemd (sysvinit, OpenRC), the init scripts' services that run
    /// the owners, with what ties each to them and the commands `port free` would run
    /// (filled by [`who`]; empty on systemd hosts, whose owners name their unit).
    pub services: Vec<InitService>,
}

impl Holders {
    /// Whether nothing holds the port.
    pub fn is_free(&self) -> bool {
        self.listeners.is_empty()
    }
}

/// Port 0 is a bad input: nothing is ever held on it.
pub(crate) fn check_port(port: u16) -> Result<()> {
    if port == 0 {
        return Err(InputError::new(
            "port",
            "0",
            "port 0 is never held",
            "a port from 1 to 65535",
        )
        .into());
    }
    Ok(())
}

/// Finds the sockets holding a port and the processes holding them, classified.
///
/// On a live host the socket table comes from netlink (`/proc/net` when netlink is
/// refused); on a fake root from its `/proc/net/{tcp,tcp6,udp,udp6}`.
///
/// # Example
///
/// ```
/// use hostfix::port::{find_holders, OwnerKind, WhoSpec};
/// use hostfix::testing::{FakeProcess, FakeRoot};
///
/// // A fake host: `python3 -m http.server 80` holds 0.0.0.0:80 (socket inode 4242).
/// let root = FakeRoot::new();
/// root.write(
///     "/proc/net/tcp",
///     "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   \
///      0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242\n",
/// );
/// root.init().add(
///     &FakeProcess::new(900, "python3", "/usr/bin/python3")
///         .cmdline(&["python3", "-m", "http.server", "80"])
///         .sockets(&[4242]),
/// );
/// let (host, rec) = root.host();
/// # let _ = rec;
///
/// let holders = find_holders(&host, &WhoSpec::tcp(80))?;
/// assert_eq!(holders.owners[0].pid, 900);
/// assert_eq!(holders.owners[0].kind, OwnerKind::Process);
/// assert_eq!(holders.groups[0].summary, "pid 900 python3");
/// assert!(holders.to_string().contains("python3 -m http.server 80"));
/// # Ok::<(), hostfix::Error>(())
/// ```
///
/// # Errors
/// [`InputError`] for port 0; [`crate::Error::Io`] or [`crate::Error::Parse`] when
/// neither netlink nor `/proc/net` can be read.
pub fn find_holders(host: &Host, spec: &WhoSpec) -> Result<Holders> {
    check_port(spec.port)?;
    let t0 = std::time::Instant::now();
    let (listeners, source) = read_listeners(host, spec.proto, spec.port)?;
    log::debug!(
        "port: {} socket(s) on {}/{} from {source:?} in {:?}",
        listeners.len(),
        spec.port,
        spec.proto,
        t0.elapsed()
    );
    let mut h = Holders {
        port: spec.port,
        proto: spec.proto,
        source: Some(source),
        ..Holders::default()
    };
    if listeners.is_empty() {
        h.listeners = listeners;
        return Ok(h);
    }
    let t1 = std::time::Instant::now();
    let opts = scan::ScanOptions {
        exhaustive: spec.exhaustive,
        cgroups: spec.cgroups,
    };
    let scan = scan::scan_sockets(host, &listeners, opts);
    log::info!(
        "port: holders found by {} in {:?}: {}",
        scan.stats.path.as_str(),
        t1.elapsed(),
        scan.stats.summary()
    );
    let t2 = std::time::Instant::now();
    h.owners = owner::build_owners(
        host,
        &listeners,
        &scan,
        spec.port,
        spec.proto,
        spec.packages,
        spec.engine,
    );
    log::debug!("port: owners read and classified in {:?}", t2.elapsed());
    h.groups = owner::group_owners(&h.owners);
    h.unowned = listeners
        .iter()
        .filter(|l| !h.owners.iter().any(|o| o.inodes.contains(&l.inode)))
        .map(|l| format!("{} (inode {}, uid {})", l.describe(), l.inode, l.uid))
        .collect();
    if scan.stats.denied > 0 {
        h.notes.push(format!(
            "not root: the open files of {} processes could not be read; owners among them are missing",
            scan.stats.denied
        ));
    }
    h.listeners = listeners;
    h.scan = scan.stats;
    Ok(h)
}

/// `hostfix port who`: every process holding the port, with its unit, package or
/// container. Read-only ([`WhoSpec::default_cap`]): [`find_holders`] as a report.
///
/// # Example
///
/// ```
/// use hostfix::port::{who, WhoSpec};
/// use hostfix::Policy;
/// use hostfix::testing::{FakeProcess, FakeRoot};
///
/// // A fake host: `python3 -m http.server 80` holds 0.0.0.0:80 (socket inode 4242).
/// let root = FakeRoot::new();
/// root.write(
///     "/proc/net/tcp",
///     "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   \
///      0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242\n",
/// );
/// root.init().add(
///     &FakeProcess::new(900, "python3", "/usr/bin/python3")
///         .cmdline(&["python3", "-m", "http.server", "80"])
///         .sockets(&[4242]),
/// );
/// let (host, rec) = root.host();
/// # let _ = rec;
///
/// let spec = WhoSpec::tcp(80);
/// let report = who(&host, &spec, &Policy::new(spec.default_cap()));
/// assert!(report.is_ok() && !report.changed);
/// assert!(!report.result.is_free());
/// assert!(report.to_string().contains("tcp port 80: 0.0.0.0:80/tcp"));
/// ```
pub fn who(host: &Host, spec: &WhoSpec, policy: &Policy) -> Report<Holders> {
    let policy = Policy {
        max_risk: Risk::ReadOnly,
        ..policy.clone()
    };
    let mut run = Runner::new("port who", host, &policy);
    let mut res = find_holders(host, spec);
    if let Ok(h) = &mut res {
        add_init_services(host, h);
    }
    if let Ok(h) = &res {
        run.observe(
            format!("read the {} socket table", h.proto),
            format!(
                "{} socket(s) on port {}{}",
                h.listeners.len(),
                h.port,
                match h.source {
                    Some(TableSource::SockDiag) => " (sock_diag)",
                    Some(TableSource::ProcNet) => " (/proc/net)",
                    None => "",
                }
            ),
        );
        if !h.listeners.is_empty() {
            run.observe(
                format!("find the sockets' processes ({})", h.scan.path.as_str()),
                format!(
                    "{} owner(s) in {} process(es) read: {}",
                    h.owners.len(),
                    h.scan.processes,
                    h.scan.summary()
                ),
            );
        }
    }
    run.finish(res)
}

/// On a host whose services are init scripts, names the scripts that run the owners
/// (as `port free` ties them), or notes why an owner is not tied for certain.
fn add_init_services(host: &Host, h: &mut Holders) {
    if h.owners.is_empty() {
        return;
    }
    let init = host.init_system();
    if !init.has_init_scripts() {
        return;
    }
    match initd::services_of(host, init, &h.owners) {
        Ok(s) => h.services = s,
        Err(r) => h.notes.push(format!("{r}")),
    }
}

/// The sockets holding `port`: netlink sock_diag on a live host (the kernel filters on
/// state and port), `/proc/net` when netlink is refused or the host is a fake root.
///
/// # Errors
/// As [`table::read_proc_net`] when the fallback fails too.
pub(crate) fn read_listeners(
    host: &Host,
    proto: Proto,
    port: u16,
) -> Result<(Vec<Listener>, TableSource)> {
    if host.is_live_root() {
        match diag::sock_diag(proto, port) {
            Ok(v) => return Ok((v, TableSource::SockDiag)),
            Err(e) => log::info!("port: sock_diag: {e}; reading /proc/net instead"),
        }
    }
    Ok((
        table::read_proc_net(host, proto, port)?,
        TableSource::ProcNet,
    ))
}
