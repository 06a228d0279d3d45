//! Applying a finding's [`Fix`]: its [`FixOp`] turned into the operation's spec and run
//! through that operation, its plan, its guards and the caller's [`Policy`], exactly as
//! the command the fix names would run it.
//!
//! Above the operations (swap, port, container, reboot) and below [`crate::doctor`],
//! whose `--fix` loop applies fixes one at a time.

use std::fmt;

use serde::Serialize;

use crate::container::{self, GuardedReboot, Removal, RemoveOptions, StartSpec, Started};
use crate::finding::{Fix, FixOp};
use crate::host::Host;
use crate::plan::{Policy, Report, Risk};
use crate::port::{self, FreeResult, FreeSpec};
use crate::reboot::{self, RebootResult, RebootSpec};
use crate::swap::{self, Persist, SwapSize, SwapSpec, SwapStatus};

/// What the caller of `doctor --fix` consents to beyond the risk cap. Read from a config
/// (`serde`), every field is optional: `{"remove_package": true}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Consent {
    /// A port fix may remove the distro package holding the port (as `port free
    /// --remove-package`). Taken only under a cap of at least [`Risk::Destructive`]: a
    /// package is never removed without both. Default `false`.
    pub remove_package: bool,
}

impl Consent {
    /// The fix as this consent under `cap` takes it: a port fix removes the package too
    /// when the consent is given and the cap is at least [`Risk::Destructive`] (its risk
    /// and command line then say so); every other fix as it is.
    pub fn grant(&self, fix: &Fix, cap: Risk) -> Fix {
        match &fix.op {
            FixOp::FreePort {
                port,
                proto,
                remove_package: false,
            } if self.remove_package && cap >= Risk::Destructive => {
                let op = FixOp::FreePort {
                    port: *port,
                    proto: *proto,
                    remove_package: true,
                };
                Fix::new(op, fix.risk.max(Risk::Destructive))
            }
            _ => fix.clone(),
        }
    }
}

/// What applying a fix did: the operation's own result.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(tag = "kind", content = "result", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Applied {
    /// Nothing ran (the report's error says why).
    #[default]
    Nothing,
    /// `swap ensure`.
    Swap(SwapStatus),
    /// `port free`.
    Port(FreeResult),
    /// `container rm`.
    Removed(Removal),
    /// `container start`.
    Started(Started),
    /// `reboot --if-needed`.
    Reboot(RebootResult),
}

impl fmt::Display for Applied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Applied::Nothing => Ok(()),
            Applied::Swap(r) => r.fmt(f),
            Applied::Port(r) => r.fmt(f),
            Applied::Removed(r) => r.fmt(f),
            Applied::Started(r) => r.fmt(f),
            Applied::Reboot(r) => r.fmt(f),
        }
    }
}

impl FixOp {
    /// The swap spec of an [`FixOp::EnsureSwap`].
    fn swap_spec(path: &std::path::Path, size: Option<u64>, persist_systemd: bool) -> SwapSpec {
        let mut s = SwapSpec::new(size.map_or(SwapSize::Auto, SwapSize::Bytes));
        s.path = path.to_path_buf();
        if persist_systemd {
            s.persist = Persist::Systemd;
        }
        s
    }
}

impl Fix {
    /// Applies the fix through its operation ([`swap::ensure_swap_file`],
    /// [`port::free_port`], [`container::remove`] with the reboot guard,
    /// [`container::start`], [`reboot::reboot`] with `if_needed`) under `policy`: a
    /// step above `policy.max_risk` is refused as that operation refuses it, a dry run
    /// plans. A port fix removes the package holding the port only when its op says
    /// `remove_package` (the consent, as `port free --remove-package`), and then needs a
    /// cap of at least [`Risk::Destructive`] as `port free` does.
    ///
    /// # Example
    ///
    /// The swap fix doctor names on a host without swap, applied on a fake host as a
    /// dry run:
    ///
    /// ```
    /// use hostfix::doctor::{diagnose, DoctorOptions};
    /// use hostfix::testing::FakeRoot;
    /// use hostfix::{Policy, Risk};
    ///
    /// let root = FakeRoot::for_swap();
    /// root.meminfo(1 << 30, 50 << 20);
    /// let (host, _) = root.host();
    /// let mut opts = DoctorOptions::default();
    /// opts.ports.clear();
    /// let d = diagnose(&host, &opts, &Policy::new(Risk::ReadOnly)).result;
    /// let fix = d.findings.iter().find_map(|f| f.fix.clone()).unwrap();
    /// assert_eq!(fix.command, "hostfix swap ensure --size auto");
    /// let policy = Policy::new(Risk::Additive).dry_run(true).state_dir("/state");
    /// let report = fix.apply(&host, &policy);
    /// assert!(report.is_ok() && report.changed, "{report}");
    /// assert!(!root.join("/swapfile").exists());
    /// ```
    pub fn apply(&self, host: &Host, policy: &Policy) -> Report<Applied> {
        log::info!("fix: {} (risk {})", self.command, self.risk);
        match &self.op {
            FixOp::EnsureSwap {
                path,
                size,
                persist_systemd,
            } => {
                let spec = FixOp::swap_spec(path, *size, *persist_systemd);
                swap::ensure_swap_file(host, &spec, policy).map(Applied::Swap)
            }
            FixOp::FreePort {
                port,
                proto,
                remove_package,
            } => {
                let mut spec = FreeSpec::tcp(*port);
                spec.proto = *proto;
                spec.remove_package = *remove_package;
                port::free_port(host, &spec, policy).map(Applied::Port)
            }
            FixOp::RemoveContainer { target, engine } => {
                let mut opts = RemoveOptions::new(target.clone());
                opts.engine = Some(*engine);
                container::remove(host, &opts, policy, &GuardedReboot::default())
                    .map(Applied::Removed)
            }
            FixOp::StartContainer {
                name,
                ports,
                engine,
                ..
            } => {
                let mut spec = StartSpec::new(name.clone());
                spec.ports = ports.clone();
                spec.engine = Some(*engine);
                let mut report = container::start(host, &spec, policy);
                if report.is_ok() && !report.dry_run {
                    report.result.requests = request_again(host, ports);
                }
                report.map(Applied::Started)
            }
            FixOp::Reboot => {
                let spec = RebootSpec {
                    if_needed: true,
                    reason: Some("hostfix doctor --fix".into()),
                    ..RebootSpec::default()
                };
                reboot::reboot(host, &spec, policy).map(Applied::Reboot)
            }
        }
    }
}

/// Sends the request doctor sends to each port again, now that the container runs, to
/// show who answers there; only on the live root (a fake root's ports are not its own).
fn request_again(host: &Host, ports: &[u16]) -> Vec<String> {
    use crate::evidence::{ProbeLimits, probe};
    if !host.is_live_root() {
        return vec!["not sent: the host is not the live root".into()];
    }
    let mut out = Vec::new();
    for &port in ports {
        let holders = port::find_holders(host, &port::WhoSpec::tcp(port)).ok();
        for ip in probe::LOOPBACKS {
            let addr = std::net::SocketAddr::new(ip, port);
            // Never where a connection would change the host (a socket unit, inetd).
            if let Err(why) = crate::evidence::request::may_send(holders.as_ref(), ip) {
                out.push(format!("{addr}: not sent: {why}"));
                continue;
            }
            let p = probe::send(
                addr,
                probe::is_http_port(port, None),
                ProbeLimits::default(),
            );
            let mut line = format!("{addr}: {}", p.outcome.describe());
            if let Some(h) = holders.as_ref().filter(|_| p.outcome.connected()) {
                let who: Vec<String> = crate::evidence::request::answerers(h, ip)
                    .into_iter()
                    .map(|a| a.name)
                    .collect();
                if !who.is_empty() {
                    line.push_str(&format!(", reached {}", who.join(" and ")));
                }
            }
            out.push(line);
        }
    }
    out
}
