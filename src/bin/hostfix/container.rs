//! `hostfix container`.

use std::time::Duration;

use clap::{Args, Subcommand};
use hostfix::container::{self, GuardedReboot, RemoveOptions};

use crate::Global;
use crate::args::{self, Utf8};

/// `hostfix container ...`
#[derive(Debug, Subcommand)]
pub enum ContainerCmd {
    /// Remove a stuck container by the least risky ladder: docker stop → docker kill →
    /// docker rm -f → kill its containerd shim → restart containerd and docker → reboot
    /// through the reboot guard. Each rung is verified (the engine no longer lists it and
    /// none of its processes remain) before the next is tried; rungs that cannot work
    /// (processes in uninterruptible sleep, a frozen cgroup) are skipped with the reason.
    ///
    /// Under Podman (detected, or --engine podman) the same rungs run podman, the shim
    /// rung kills the container's conmon (by its pid, only that one), and there is no
    /// engine restart rung: Podman has no daemon (the plan says the rung is absent).
    ///
    /// Default --max-risk disruptive (stop, kill, rm -f). The shim kill and the engine
    /// restart are destructive; the reboot is `reboot`, through the reboot guard (one
    /// reboot per container, ever; recorded in STATE_DIR/reboot-ledger.json): run the same
    /// command after the boot to remove the container and confirm the reboot. Exit 0 when
    /// it is gone, 3 when the next rung is above --max-risk or the guard refuses (the
    /// report names it), 1 when a rung failed in a way that stops the ladder, or the host
    /// is rebooting.
    ///
    /// Example: hostfix container rm web --timeout 20s --max-risk destructive
    Rm(RmArgs),
}

/// `hostfix container rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// The container: its name, or its id (full, or a unique prefix).
    #[arg(value_name = "NAME|ID", value_parser = Utf8(args::text))]
    target: String,
    /// How long `docker stop` lets it shut down before SIGKILL (at most 1d).
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = Utf8(args::wait))]
    timeout: Duration,
    /// How long any other engine command (kill, rm -f, inspect) may take before it
    /// counts as hung: `docker rm -f` hangs on a container whose shim is stuck (at most
    /// 1d).
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = Utf8(args::wait))]
    command_timeout: Duration,
}

/// Runs a container subcommand.
pub fn run(g: &Global, c: ContainerCmd) -> i32 {
    match c {
        ContainerCmd::Rm(a) => {
            let mut opts = RemoveOptions::new(a.target);
            opts.stop_grace = a.timeout;
            opts.command_timeout = a.command_timeout;
            opts.engine = g.engine;
            let report = container::remove(
                &g.host(),
                &opts,
                &g.policy(opts.default_cap()),
                &GuardedReboot::default(),
            );
            crate::output::emit(g, &report)
        }
    }
}
