//! The incident's fixes as one setup binary: the host gets 2 GiB of swap, port 80 is
//! freed for the nginx container (the distro nginx in its way stopped and its package
//! removed), and the host reboots when it needs to, once, through the reboot guard.
//!
//! ```text
//! cargo run --example setup_host                 # dry run: every plan, nothing changed
//! cargo run --example setup_host -- --apply      # apply (as root)
//! ```
//!
//! Every fix is one typed call (`ensure_swap_file`, `free_port`, `reboot`) with its own
//! default cap; the dry run walks the same code and prints the same plans. The binary
//! stops at the first fix that does not hold and exits with its code (1 failed, 2 bad
//! input, 3 refused: the report names the rule or the cap). A second run on a set-up host
//! changes nothing. [`run`] is the whole logic; the tests below run it on a fake host.

use std::process::ExitCode;

use hostfix::port::{FreeResult, FreeSpec, free_port};
use hostfix::reboot::{RebootResult, RebootSpec, reboot};
use hostfix::size::ByteSize;
use hostfix::swap::{SwapSize, SwapSpec, SwapStatus, ensure_swap_file};
use hostfix::{Host, Policy, Report};

/// What this host needs.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The swap file.
    pub swap: SwapSpec,
    /// The port the front container publishes.
    pub port: FreeSpec,
    /// The reboot, when the host needs one.
    pub reboot: RebootSpec,
}

impl Setup {
    /// The incident's host: a 2 GiB swap file in fstab, port 80 freed with the distro
    /// package holding it removed (the consent: `remove_package`), and a reboot only
    /// when the host says it needs one, at most once for this setup round.
    pub fn incident(round: &str) -> Setup {
        let swap = SwapSpec::new(SwapSize::Bytes(2 * ByteSize::GIB));
        let mut port = FreeSpec::tcp(80);
        port.remove_package = true;
        let mut reboot = RebootSpec::default();
        reboot.if_needed = true;
        reboot.rules.once = Some(format!("setup-{round}"));
        reboot.reason = Some("host setup".into());
        Setup { swap, port, reboot }
    }
}

/// The reports, in the order the fixes ran; a fix after one that did not hold is not run.
#[derive(Debug)]
pub struct Done {
    /// The swap file.
    pub swap: Report<SwapStatus>,
    /// Port 80.
    pub port: Option<Report<FreeResult>>,
    /// The reboot.
    pub reboot: Option<Report<RebootResult>>,
}

impl Done {
    /// 0 when every fix holds, else the exit code of the first that does not.
    pub fn exit_code(&self) -> i32 {
        [
            Some(self.swap.exit_code()),
            self.port.as_ref().map(Report::exit_code),
            self.reboot.as_ref().map(Report::exit_code),
        ]
        .into_iter()
        .flatten()
        .find(|c| *c != 0)
        .unwrap_or(0)
    }

    /// Whether any fix changed the host (or would, in a dry run).
    pub fn changed(&self) -> bool {
        self.swap.changed
            || self.port.as_ref().is_some_and(|r| r.changed)
            || self.reboot.as_ref().is_some_and(|r| r.changed)
    }
}

/// Applies the setup to `host`, or plans it (`dry_run`), each fix under the cap its
/// command uses by default, hostfix's state under `state_dir`.
pub fn run(host: &Host, setup: &Setup, dry_run: bool, state_dir: &str) -> Done {
    let policy = |cap| Policy::new(cap).dry_run(dry_run).state_dir(state_dir);
    let swap = ensure_swap_file(host, &setup.swap, &policy(setup.swap.default_cap()));
    let mut done = Done {
        swap,
        port: None,
        reboot: None,
    };
    if !done.swap.is_ok() {
        return done;
    }
    let port = free_port(host, &setup.port, &policy(setup.port.default_cap()));
    let port_ok = port.is_ok();
    done.port = Some(port);
    if port_ok {
        let spec = &setup.reboot;
        done.reboot = Some(reboot(host, spec, &policy(spec.default_cap())));
    }
    done
}

fn main() -> ExitCode {
    let apply = std::env::args().skip(1).any(|a| a == "--apply");
    let done = run(
        &Host::live(),
        &Setup::incident("1"),
        !apply,
        Policy::DEFAULT_STATE_DIR,
    );
    print!("{}", done.swap);
    if let Some(r) = &done.port {
        print!("{r}");
    }
    if let Some(r) = &done.reboot {
        print!("{r}");
    }
    ExitCode::from(u8::try_from(done.exit_code()).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use hostfix::host::Errno;
    use hostfix::testing::{CmdOutput, FakeProcess, FakeRoot, RecordingSystem, dpkg_mark_removed};
    use hostfix::{Outcome, StepStatus};

    use super::*;

    fn fixture(rel: &str) -> String {
        format!("{}/tests/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"))
    }

    /// The incident's host, faked: 1 GiB of RAM, 128 MiB of it available, and no swap
    /// (with the test's 64 MiB swap file, enough for hostfix to start the package
    /// manager: 160 MiB of memory and swap); the distro's nginx
    /// (`nginx-light`, unit `nginx.service`) holding port 80; systemd; a pending
    /// `/run/reboot-required`.
    fn incident_host() -> (FakeRoot, Host, Arc<RecordingSystem>) {
        let root = FakeRoot::for_swap();
        root.meminfo(1 << 30, 128 << 20)
            .systemd()
            .boot_id("0f5e7a4c-1b2d-4e8f-9a6b-3c2d1e0f9a8b")
            .uptime(3600)
            .write("/etc/machine-id", "5d3c0e2f4a6b48c9a1e7f0b2c4d6e8f0\n")
            .write("/run/reboot-required", "")
            .copy_tree(fixture("port/proc_net"), "/proc/net")
            .write("/proc/stat", "cpu  1 2 3 4\nbtime 1700000000\n")
            .copy_tree(fixture("package/dpkg-root/var/lib/dpkg"), "/var/lib/dpkg")
            .init();
        // The inodes of 0.0.0.0:80 and [::]:80 in the recorded tables.
        for (pid, ppid, uid) in [(812, 1, 0), (813, 812, 33)] {
            root.add(
                &FakeProcess::new(pid, "nginx", "/usr/sbin/nginx")
                    .ppid(ppid)
                    .uid(uid)
                    .cgroup("/system.slice/nginx.service")
                    .sockets(&[94484, 94486]),
            );
        }
        let (host, rec) = root.host();
        root.swap_table(&rec);
        fake_systemd_and_apt(&root, &rec);
        (root, host, rec)
    }

    /// The commands' effects: `systemctl stop nginx.service` frees the port (until then
    /// the bind probe gets `EADDRINUSE`); `apt-get -y remove` marks the packages removed
    /// in the fake dpkg database, as the recorded simulation says it would.
    fn fake_systemd_and_apt(root: &FakeRoot, rec: &RecordingSystem) {
        let simulation =
            std::fs::read_to_string(fixture("package/apt/remove-nginx-light-nginx-common.txt"))
                .unwrap();
        rec.respond(
            "systemctl show -p FragmentPath --value nginx.service",
            CmdOutput::ok("/lib/systemd/system/nginx.service\n"),
        );
        rec.respond(
            "apt-get -s -q remove nginx-light nginx-common",
            CmdOutput::ok(simulation),
        );
        let held = Arc::new(Mutex::new(true));
        let h = held.clone();
        let status = root.join("/var/lib/dpkg/status");
        rec.after_run(move |cmd, _| {
            let line = cmd.display();
            if line.starts_with("systemctl stop nginx.service") {
                *h.lock().unwrap() = false;
            }
            if line.starts_with("apt-get -y") {
                for pkg in ["nginx-light", "nginx-common"] {
                    dpkg_mark_removed(&status, pkg);
                }
            }
        });
        rec.on_bind(move |_, _| {
            if *held.lock().unwrap() {
                Err(Errno::EADDRINUSE)
            } else {
                Ok(())
            }
        });
    }

    fn setup() -> Setup {
        let mut s = Setup::incident("test");
        // The fake root lives on this machine's disk; keep its free-space guard small.
        s.swap.keep_free.clear();
        s.swap.size = SwapSize::Bytes(64 << 20);
        s.port.timeout = std::time::Duration::from_millis(200);
        s
    }

    #[test]
    fn a_dry_run_plans_every_fix_and_changes_nothing() {
        let (root, host, rec) = incident_host();
        let fstab = root.read("/etc/fstab");
        let done = run(&host, &setup(), true, "/state");
        assert_eq!(done.exit_code(), 0, "{:#?}", done);
        assert!(done.changed());
        for steps in [
            &done.swap.steps,
            &done.port.as_ref().unwrap().steps,
            &done.reboot.as_ref().unwrap().steps,
        ] {
            assert!(steps.iter().any(|s| s.status == StepStatus::Planned));
            assert!(
                steps
                    .iter()
                    .all(|s| s.status != StepStatus::Done || s.risk == hostfix::Risk::ReadOnly)
            );
        }
        assert!(!root.join("/swapfile").exists());
        assert_eq!(root.read("/etc/fstab"), fstab);
        assert!(root.dpkg_installed("nginx-light"));
        assert!(rec.signals().is_empty());
        let cmds = rec.commands();
        assert!(
            cmds.iter().all(|c| !c.starts_with("systemctl stop")
                && !c.starts_with("systemctl disable")
                && !c.starts_with("apt-get -y")
                && c != "systemctl reboot"),
            "{cmds:?}"
        );
    }

    #[test]
    fn applied_the_host_is_set_up_and_a_second_boot_changes_nothing() {
        let (root, host, rec) = incident_host();
        let done = run(&host, &setup(), false, "/state");
        assert_eq!(done.exit_code(), 0, "{:#?}", done);
        // Swap: the file is listed by the (fake) kernel and persisted.
        assert!(root.read("/proc/swaps").contains("/swapfile"));
        assert!(
            root.read("/etc/fstab")
                .contains("/swapfile none swap sw,nofail 0 0")
        );
        // Port 80: free, its unit stopped and the package gone.
        assert!(done.port.as_ref().unwrap().result.free);
        assert!(!root.dpkg_installed("nginx-light") && !root.dpkg_installed("nginx-common"));
        assert!(
            rec.commands()
                .iter()
                .any(|c| c == "systemctl stop nginx.service")
        );
        // The reboot: requested once, through systemd.
        let r = done.reboot.as_ref().unwrap();
        assert!(r.result.requested);
        assert_eq!(
            rec.commands()
                .iter()
                .filter(|c| *c == "systemctl reboot")
                .count(),
            1
        );

        // The same boot again: the guard refuses a second reboot for this round (exit 3)
        // and nothing else changes.
        let again = run(&host, &setup(), false, "/state");
        assert!(!again.swap.changed && !again.port.as_ref().unwrap().changed);
        assert_eq!(again.reboot.as_ref().unwrap().outcome(), Outcome::Refused);
        assert_eq!(again.exit_code(), 3);

        // After the reboot: a new boot id, /run emptied (the swap came back from fstab).
        root.boot_id("a1a2a3a4-b1b2-4c1c-8d1d-e1e2e3e4e5e6");
        std::fs::remove_file(root.join("/run/reboot-required")).unwrap();
        let after = run(&host, &setup(), false, "/state");
        assert_eq!(after.exit_code(), 0, "{:#?}", after);
        assert!(!after.changed(), "{:#?}", after);
        assert_eq!(after.reboot.as_ref().unwrap().result.confirmed, vec![1]);
        assert_eq!(
            rec.commands()
                .iter()
                .filter(|c| *c == "systemctl reboot")
                .count(),
            1
        );
    }
}
