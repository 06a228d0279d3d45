//! Test support, with the `testing` feature: a fake host to run every operation on, and
//! the internals hostfix's own tests exercise.
//!
//! ```toml
//! [dev-dependencies]
//! hostfix = { version = "0.1", features = ["testing"] }
//! ```
//!
//! - [`FakeRoot`]: a host's files under a temporary directory, with builders for the
//!   files operations read, and [`FakeProcess`] for processes in its `/proc`;
//! - [`RecordingSystem`]: the seam on a fake host. It records every command and system
//!   call ([`Call`]), answers commands from a script, fails a call with an errno, and
//!   runs a test's closure on a call (a port that frees on `SIGTERM`, a fake kernel's
//!   `swapon` listing the file in the fake `/proc/swaps`, a fake container engine). No
//!   test needs its own [`System`];
//! - the internals (parsers, planners, ledgers), mirrored under the module path they have
//!   in the crate: [`swap::header`], [`port::table`], [`reboot::guard`], ... They are not
//!   part of the stable API.
//!
//! # The files each operation reads
//!
//! Paths are under the host's root ([`FakeRoot::path`]); what is missing counts as absent
//! (no swap, no systemd, no package manager), except where marked *needed*.
//!
//! | operation | reads |
//! | --- | --- |
//! | [`crate::swap::ensure_swap_file`], [`crate::swap::remove_swap_file`] | `/proc/swaps` (*needed*), `/proc/meminfo` (*needed*), `/proc/sys/vm/swappiness`, `/proc/sys/kernel/osrelease`, `/proc/sys/kernel/random/uuid` (a new header's UUID), `/etc/fstab`, `/run/systemd/system` and `/etc/systemd/system` (`--persist systemd`), the swap file's directory (its filesystem, through `statfs`), the state directory's `swap/` records; writes the file, `/etc/fstab`, `/etc/sysctl.d`, units, records, and takes `/run/hostfix/lock`. [`FakeRoot::for_swap`] makes such a root |
//! | [`crate::port::who`], [`crate::port::find_holders`] | the socket table (`/proc/net/{tcp,tcp6,udp,udp6}` on a fake root), `/proc/PID/{fd/,stat,cmdline,status,cgroup,exe}` of each process ([`FakeRoot::add`]), `/proc/stat` (`btime`), `/etc/passwd`, `/run/systemd/system`, the package database (`/var/lib/dpkg/status`, `/var/lib/rpm`, `/lib/apk/db/installed`, `/var/lib/pacman/local`), `/run/docker.sock` |
//! | [`crate::port::free_port`] | as `who`, plus `/proc/sys/net/ipv6/bindv6only`, the init system's marks (`/run/systemd/system`, `/run/openrc`, `/run/initctl`, `/etc/inittab`); without systemd `/etc/init.d/*`, their pidfiles, `/etc/rc[2-5].d` or `/etc/runlevels/*` and the `service`/`invoke-rc.d`/`rc-service` programs; the state directory's removal ledgers and `disabled-services.json`, and with `remove_package` dpkg's journal `/var/lib/dpkg/updates/` (a removal dpkg was cut off in); binds through the seam ([`RecordingSystem::on_bind`]) |
//! | [`crate::resources::check`] | `/proc/meminfo` (*needed* for memory thresholds), `/proc/pressure/memory`, `/proc/self/cgroup` and the cgroup's `memory.max`, `memory.current`, `memory.stat` under `/sys/fs/cgroup`; each disk path's filesystem (`statvfs` of the real path under the root) |
//! | [`crate::reboot::reboot`] | `/proc/sys/kernel/random/boot_id` (*needed*), `/etc/machine-id`, `/proc/uptime`, `/run/reboot-required(.pkgs)`, `/proc/sys/kernel/osrelease`, `/boot` and `/lib/modules` (a newer kernel), the init system's marks (`/run/systemd/system`, `/run/openrc`, `/run/initctl`, `/etc/inittab`: systemctl, or `shutdown -r now` without systemd), the state directory's `reboot-ledger.json` |
//! | [`crate::container::remove`] | the engine's program (`/usr/bin/docker`, [`FakeRoot::program`]), whose commands the recorder answers ([`RecordingSystem::on_run`]); `/proc/PID/...` of the container's processes and shims; its cgroup under `/sys/fs/cgroup`; the state directory's reboot records |
//! | [`crate::doctor::diagnose`] | everything above, read-only |
//!
//! # Example
//!
//! A fake kernel whose `swapon` fails with `EINVAL`, as on a filesystem that cannot hold
//! swap: the report keeps the errno and names its likely cause, and the host keeps its
//! fstab.
//!
//! ```
//! use hostfix::host::Errno;
//! use hostfix::swap::{ensure_swap_file, SwapSize, SwapSpec};
//! use hostfix::testing::FakeRoot;
//! use hostfix::{Policy, Risk};
//!
//! let root = FakeRoot::for_swap();
//! let (host, rec) = root.host();
//! rec.on_swapon(|_path, _priority| Err(Errno::EINVAL));
//! let fstab = root.read("/etc/fstab");
//! let mut spec = SwapSpec::new(SwapSize::Bytes(64 << 20));
//! spec.path = "/swapfile".into();
//! let policy = Policy::new(Risk::Additive).state_dir("/state");
//! let report = ensure_swap_file(&host, &spec, &policy);
//! assert_eq!(report.exit_code(), 1);
//! let error = report.error.unwrap();
//! assert_eq!(error.errno(), Some(Errno::EINVAL));
//! assert!(error.to_string().contains("filesystem cannot hold swap"), "{error}");
//! assert_eq!(root.read("/etc/fstab"), fstab);
//! ```

mod fake_root;

pub use crate::host::recording::{Call, RecordingSystem};
pub use crate::host::system::{Cmd, CmdOutput, LiveSystem, System};
pub use fake_root::{FakeProcess, FakeRoot, dpkg_mark_removed};

/// `value`, changed by `f`: how a test builds a value of one of hostfix's
/// `#[non_exhaustive]` types (specs, results, records) from a constructor or its
/// default, since struct expressions cannot name them outside the crate.
///
/// ```
/// use hostfix::reboot::RebootSpec;
/// use hostfix::testing::with;
///
/// let spec = with(RebootSpec::default(), |s| {
///     s.if_needed = true;
///     s.rules.once = Some("kernel-2024-05".into());
/// });
/// assert!(spec.validate().is_ok());
/// ```
pub fn with<T>(mut value: T, f: impl FnOnce(&mut T)) -> T {
    f(&mut value);
    value
}

/// Internals of [`crate::swap`].
pub mod swap {
    pub use crate::swap::proc_swaps::*;

    /// `swap::diagnose`.
    pub mod diagnose {
        pub use crate::swap::diagnose::*;
    }
    /// `swap::fs`.
    pub mod fs {
        pub use crate::swap::fs::*;
    }
    /// `swap::fstab`.
    pub mod fstab {
        pub use crate::swap::fstab::*;
    }
    /// `swap::header`.
    pub mod header {
        pub use crate::swap::header::*;
    }
    /// `swap::observe`.
    pub mod observe {
        pub use crate::swap::observe::*;
    }
    /// `swap::planner`.
    pub mod planner {
        pub use crate::swap::planner::*;
    }
    /// `swap::record`.
    pub mod record {
        pub use crate::swap::record::*;
    }
    /// `swap::spec`.
    pub mod spec {
        pub use crate::swap::spec::*;
    }
    /// `swap::unit`.
    pub mod unit {
        pub use crate::swap::unit::*;
    }
}

/// Internals of [`crate::port`].
pub mod port {
    pub use crate::port::findings::port_findings;
    pub use crate::port::free::{
        FreeObservation, FreeRung, decide as decide_free, protected_refusal, signalled, targets,
        units_of,
    };
    pub use crate::port::removal::tied_to_family;

    /// `port::initd`: init scripts on hosts without systemd.
    pub mod initd {
        pub use crate::port::initd::record::{DisabledService, parse_record};
        pub use crate::port::initd::*;
    }
    /// `port::cgroup`.
    pub mod cgroup {
        pub use crate::port::cgroup::*;
    }
    /// `port::diag`.
    pub mod diag {
        pub use crate::port::diag::*;
    }
    /// `port::docker`.
    pub mod docker {
        pub use crate::port::docker::*;
    }
    /// `port::owner`.
    pub mod owner {
        pub use crate::port::owner::*;
    }
    /// `port::scan`.
    pub mod scan {
        pub use crate::port::scan::*;
    }
    /// `port::table`.
    pub mod table {
        pub use crate::port::table::*;
    }
}

/// Internals of [`crate::host`].
pub mod host {
    pub use crate::host::{InitMarks, detect_init};
}

/// Internals of [`crate::container`].
pub mod container {
    pub use crate::container::diag::*;
    pub use crate::engine::{ContainerInfo, PsEntry, PublishedPort};

    /// `container::ladder`.
    pub mod ladder {
        pub use crate::container::ladder::*;
    }
    /// `container::procs`.
    pub mod procs {
        pub use crate::container::procs::*;
    }
    /// `container::record`.
    pub mod record {
        pub use crate::container::record::*;
    }
}

/// Internals of [`crate::reboot`].
pub mod reboot {
    pub use crate::reboot::diagnose::*;
    pub use crate::reboot::guard::{GuardInput, LedgerInput, LockState};
    pub use crate::reboot::ledger::{Ledger, Now};
    pub use crate::reboot::need::detect_need;
    pub use crate::reboot::store::*;

    /// `reboot::guard`.
    pub mod guard {
        pub use crate::reboot::guard::*;
    }
    /// `reboot::kernel`.
    pub mod kernel {
        pub use crate::reboot::kernel::*;
    }
    /// `reboot::ledger`.
    pub mod ledger {
        pub use crate::reboot::ledger::*;
    }
    /// `reboot::need`.
    pub mod need {
        pub use crate::reboot::need::*;
    }
}

/// Internals of [`crate::resources`]: the readings.
pub mod resources {
    pub use crate::resources::disk::*;
    pub use crate::resources::memory::*;
}

/// The plan ladder's types.
pub mod plan {
    pub use crate::plan::ladder::*;
}

/// Internals of `doctor`'s evidence: the request it sends and the logs it reads.
pub mod evidence {
    pub use crate::evidence::*;
}

/// The container-engine client and its parsers.
pub mod engine {
    pub use crate::engine::*;
}

/// `/proc/PID` readers and parsers.
pub mod process {
    pub use crate::process::*;
}

/// The package-manager backends and their parsers.
pub mod package {
    pub use crate::package::*;
}

/// What hostfix never touches, and why.
pub mod protect {
    pub use crate::protect::*;
}

/// hostfix's own state: the directory, the host lock, regular-file reads.
pub mod state {
    pub use crate::state::*;
}

/// Atomic file writes.
pub mod fsutil {
    pub use crate::fsutil::*;
}

/// Program lookup.
pub mod program {
    pub use crate::program::*;
}

/// Internals of [`crate::doctor`]: `doctor --fix`'s planning core.
pub mod doctor {
    pub use crate::doctor::plan::*;
}
