//! How a test of the root or VM tier skips: loudly, on the real stderr (past the test
//! harness's capture, so a passing run still shows it), and never in CI.
//!
//! `HOSTFIX_REQUIRE_ROOT=1` turns every skip outside the VM tier into a failure (not root,
//! a tool missing, a kernel feature missing): `.ci/run` sets it for its run as root, which
//! has every tool it installs. `HOSTFIX_REQUIRE_VM=1` does the same for the VM scenarios.
//! Included by each test crate that can skip (`#[path = "support/tiers.rs"] mod tiers;`).

#![allow(dead_code)]

use std::io::Write as _;

/// The tiers that may skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Real-kernel tests: root, loop devices, namespaces, cgroups, the tools CI installs.
    Root,
    /// VM scenarios (`tests/vm/`): root, qemu, debootstrap.
    Vm,
}

impl Tier {
    /// The variable that turns a skip of this tier into a failure.
    pub fn require_var(self) -> &'static str {
        match self {
            Tier::Root => "HOSTFIX_REQUIRE_ROOT",
            Tier::Vm => "HOSTFIX_REQUIRE_VM",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Tier::Root => "REAL-KERNEL TEST",
            Tier::Vm => "VM SCENARIO",
        }
    }

    fn proves(self) -> &'static str {
        match self {
            Tier::Root => "It proves hostfix against the real kernel and tools; it did NOT run.",
            Tier::Vm => "The VM scenarios prove hostfix on a real Debian host; it did NOT run.",
        }
    }

    /// Whether this run must not skip this tier (`HOSTFIX_REQUIRE_…=1`).
    pub fn required(self) -> bool {
        std::env::var_os(self.require_var()).is_some_and(|v| v == "1")
    }
}

/// The running test's name: libtest names each test's thread after it.
pub fn test_name() -> String {
    std::thread::current()
        .name()
        .filter(|n| *n != "main")
        .unwrap_or("(unnamed test)")
        .to_string()
}

/// Writes to the real stderr, past the test harness's capture.
pub fn loud(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// Skips the running test of `tier` because of `reason`: a banner on the real stderr, or a
/// failure (panic) when the tier is required. The caller returns after it.
#[track_caller]
pub fn skip(tier: Tier, reason: &str) {
    let test = test_name();
    if tier.required() {
        panic!("{}=1 but {test} cannot run: {reason}", tier.require_var());
    }
    let bar = "#".repeat(78);
    loud(&format!(
        "\n{bar}\n## SKIPPED {} {test}\n## {reason}\n## {}\n## (Set {}=1 to make this a \
         failure.)\n{bar}\n",
        tier.what(),
        tier.proves(),
        tier.require_var()
    ));
}

/// Whether this process runs as root; otherwise skips the running root-tier test, saying
/// what needs root (`why`).
#[track_caller]
pub fn root(why: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    skip(Tier::Root, &format!("not root ({why} needs root)"));
    false
}

/// The tools of `tools` that are not on PATH.
pub fn missing_tools(tools: &[&str]) -> Vec<String> {
    tools
        .iter()
        .filter(|t| which::which(t).is_err())
        .map(|t| t.to_string())
        .collect()
}

/// Whether every tool of `tools` is on PATH; otherwise skips the running test of `tier`,
/// naming the missing ones and where they come from (`install`).
#[track_caller]
pub fn tools(tier: Tier, tools: &[&str], install: &str) -> bool {
    let missing = missing_tools(tools);
    if missing.is_empty() {
        return true;
    }
    skip(
        tier,
        &format!("missing: {} ({install})", missing.join(", ")),
    );
    false
}

/// [`root`] and then [`tools`] for the root tier.
#[track_caller]
pub fn root_with(why: &str, needed: &[&str], install: &str) -> bool {
    root(why) && tools(Tier::Root, needed, install)
}
