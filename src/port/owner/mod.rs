//! The processes holding a port: who they are, what runs them (a systemd unit, a socket
//! unit, a container, a distro package), whether hostfix may touch them, and how they
//! group into process trees.

mod build;
mod classify;
mod group;
mod sockets;

use std::path::PathBuf;

use serde::Serialize;

use super::docker::ContainerRef;
use crate::package::PackageInfo;

#[cfg_attr(not(feature = "testing"), allow(unused_imports))] // used by hostfix::testing
pub use build::{build_owners, lookup_package, may_be_packaged, parse_btime, parse_passwd};
#[cfg_attr(not(feature = "testing"), allow(unused_imports))] // used by hostfix::testing
pub use classify::{Context, classify, is_docker_proxy};
#[cfg_attr(not(feature = "testing"), allow(unused_imports))] // used by hostfix::testing
pub use group::{describe_group, group_owners};
#[cfg_attr(not(feature = "testing"), allow(unused_imports))] // used by hostfix::testing
pub use sockets::{LIST_SOCKETS_ARGS, SocketUnit, parse_list_sockets};

/// What runs a port's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum OwnerKind {
    /// PID 1 on a host whose init is not systemd.
    Init,
    /// PID 1 (systemd) holds the socket for a `.socket` unit.
    SocketActivated,
    /// A process of a system service (`/system.slice/nginx.service`).
    Service,
    /// A container's process, or the `docker-proxy` publishing a container's port.
    Container,
    /// Any other process (started by hand, from a login session, a user unit).
    #[default]
    Process,
}

/// A process holding a port.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PortOwner {
    /// Its pid.
    pub pid: i32,
    /// Its parent's pid.
    pub ppid: i32,
    /// Its name (`comm`).
    pub name: String,
    /// Its executable (` (deleted)` stripped).
    pub exe: Option<PathBuf>,
    /// Whether the executable was deleted or replaced (an upgrade since it started).
    pub exe_deleted: bool,
    /// Its command line.
    pub cmdline: Vec<String>,
    /// Its effective uid.
    pub uid: Option<u32>,
    /// That uid's name.
    pub user: Option<String>,
    /// Its start time in clock ticks since boot (with the pid, identifies the process).
    pub start_time: u64,
    /// Its start time in seconds since the epoch, when the boot time is known.
    pub started_at: Option<u64>,
    /// Its state letter (`S`, `R`, `D`, ...).
    pub state: char,
    /// Its cgroup.
    pub cgroup: Option<String>,
    /// The sockets of the port it holds (`0.0.0.0:80/tcp`).
    pub sockets: Vec<String>,
    /// Their inodes.
    pub inodes: Vec<u64>,
    /// What runs it.
    pub kind: OwnerKind,
    /// The systemd unit its cgroup belongs to (a user unit or a session scope too).
    pub unit: Option<String>,
    /// The `.socket` units that hand it this port (or that PID 1 holds it for).
    pub socket_units: Vec<String>,
    /// The container, for a container's process or `docker-proxy`.
    pub container: Option<ContainerRef>,
    /// The distro package its executable belongs to.
    pub package: Option<PackageInfo>,
    /// Why hostfix never signals it, when it never does.
    pub protected: Option<String>,
}

/// Owners in one process tree: an nginx master and its workers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OwnerGroup {
    /// The topmost owner of the tree.
    pub leader: i32,
    /// Every owner in it, the leader first.
    pub pids: Vec<i32>,
    /// One line: `pid 812 nginx (master) and 3 workers, unit nginx.service, package
    /// nginx-light`.
    pub summary: String,
}
