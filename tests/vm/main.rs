//! VM scenarios: hostfix against a real Debian host, with systemd, the distro nginx, Docker,
//! dpkg/apt and real reboots, one throwaway guest per scenario.
//!
//! # Guest flavours
//!
//! A scenario runs on one [`Flavour`] of guest (`image/flavours/<name>.sh`):
//!
//! | flavour | Debian | PID 1 | engine | also |
//! | --- | --- | --- | --- | --- |
//! | `Flavour::Bookworm` (default) | 12 | systemd | Docker | nginx-light on :80, sshd, cloud-init |
//! | `Flavour::Trixie` | 13 | systemd 257 | Docker | nginx on :80, sshd, cloud-init |
//! | `Flavour::BookwormSysv` | 12 | sysvinit | none | nginx-light and sshd from init scripts, no journal |
//! | `Flavour::TrixiePodman` | 13 | systemd 257 | Podman (conmon, crun) | nginx on :80, sshd |
//!
//! Pick it when taking the guest; the rest is the same for every flavour:
//!
//! ```ignore
//! // tests/vm/scenarios/my-thing.sh runs on a Debian 12 sysvinit guest:
//! let Some((mut g, _slot, _t)) =
//!     scenario_on(Flavour::BookwormSysv, "my_test_name", "my-thing")
//! else {
//!     return; // skipped (loudly): no qemu, not root, HOSTFIX_VM=0
//! };
//! g.boot(BootOpts::once(Duration::from_secs(300)));
//! assert_clean_single_boot(&g);
//! ```
//!
//! A name `a+b` runs the scenarios `a.sh` then `b.sh` in one boot (stages sharing a guest,
//! e.g. `"smoke+incident"` on trixie): cheap where an earlier stage leaves the guest as the
//! later expects it (smoke only reads) and their result names do not collide.
//!
//! `scenario(test, name)` and `scenario_with(test, name, files)` are the bookworm guest;
//! `scenario_on(flavour, ..)` / `scenario_with_on(flavour, ..)` take a flavour, and
//! `lab_on(flavour, test)` gives the lab for a guest built by hand (as `clients.rs` does).
//! Each flavour's image is built once per recipe, the first time a scenario of that flavour
//! runs (never for a flavour no selected scenario uses), and cached under
//! `<flavour>-<hash>`; a flavour's hash covers `build-rootfs.sh`, `image/rootfs/` and only its
//! own `flavours/<name>.sh` and `flavours/<name>/` (see `image.rs`). The runner
//! (`hostfix-scenario-runner`) works under systemd and sysvinit alike; `lib.sh` has
//! `svc_state` and `has_systemd` for scripts that run on both.
//!
//! # How a scenario runs
//!
//! The guest image is built once (debootstrap, see `image/build-rootfs.sh`) and cached
//! outside the checkout under a hash of its recipe; each scenario boots a copy-on-write
//! overlay of it under software-emulated qemu, with the freshly built `hostfix` and the
//! scenario script (`scenarios/*.sh`) on a second disk. The script gathers facts into the
//! second serial port; the assertions are here. The scripts run under `set -Eeuo
//! pipefail`: the first command that fails unexpectedly ends the scenario with a `FAIL`
//! line, and any `FAIL` line fails the test ([`guest::Guest::wait`]).
//!
//! Skipped (`tests/support/tiers.rs`), with a loud notice, when not root, when qemu-system-x86_64, qemu-img,
//! debootstrap or mkfs.ext4 is missing, or with `HOSTFIX_VM=0`; with `HOSTFIX_REQUIRE_VM=1`
//! (CI) each of those is a failure instead. `HOSTFIX_VM_CACHE` moves the image cache
//! (default `/var/cache/hostfix-vm`), `HOSTFIX_VM_MIRROR` overrides the mirror read from
//! the machine's apt sources, `HOSTFIX_VM_KEEP=1` keeps each scenario's work folder, and
//! `HOSTFIX_VM_GUESTS=N` sets how many guests run at once (default: one per CPU; cargo's
//! test threads bound it too) and `HOSTFIX_VM_CPUS=N` each guest's vCPUs (default 1).

mod clients;
mod container;
mod doctor_fix;
mod guest;
mod image;
mod podman;
mod powercut;
mod proc;
mod results;
mod sysv;
#[path = "../support/tiers.rs"]
mod tiers;

use std::fs::File;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use serde_json::Value;

use guest::{BootOpts, Guest};
pub use image::Flavour;
use results::{End, Results};

/// What every scenario of one flavour shares: the image, the binary under test, this folder.
pub struct Lab {
    /// The guest flavour.
    pub flavour: Flavour,
    /// The cached base image.
    pub image: image::Image,
    /// The `hostfix` binary cargo built for this test run.
    pub hostfix: PathBuf,
    /// `tests/vm` in the checkout.
    pub tests_dir: PathBuf,
}

/// One lab per flavour (indexed by [`Flavour::index`]), made on first use.
static LABS: [OnceLock<Result<Lab, String>>; 4] = [
    OnceLock::new(),
    OnceLock::new(),
    OnceLock::new(),
    OnceLock::new(),
];
/// The right to run a guest: one of the machine's guest slots (`guest-N.lock` in the image
/// cache, held with flock), so test threads of one run and test runs from two checkouts
/// share the machine's cores.
pub struct Slot {
    _machine: Flock<File>,
}

/// How many guests may run at once: `HOSTFIX_VM_GUESTS`, or one per CPU (each guest has
/// one vCPU, see [`guest::guest_cpus`]). Measured on two cores, the whole VM tier: one
/// guest of two vCPUs at a time 38 min; two guests of one vCPU each 26.5 min (each
/// scenario 1.1-1.9x slower, e.g. the container ladder 268 -> 307 s). Two guests of two
/// vCPUs each were only about 15% faster than one.
fn guest_slots() -> usize {
    std::env::var("HOSTFIX_VM_GUESTS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
}

/// Waits for a free guest slot, saying so once when every slot is taken.
fn machine_slot() -> Result<Flock<File>, String> {
    let root = image::cache_root();
    std::fs::create_dir_all(&root).map_err(|e| format!("creating {}: {e}", root.display()))?;
    let mut told = false;
    loop {
        for n in 0..guest_slots() {
            let path = root.join(format!("guest-{n}.lock"));
            let f = File::create(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
            match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
                Ok(l) => return Ok(l),
                Err((_, nix::errno::Errno::EWOULDBLOCK)) => {}
                Err((_, e)) => return Err(format!("locking {}: {e}", path.display())),
            }
        }
        if !told {
            loud(&format!(
                "hostfix VM tests: all {} guest slots are taken (other scenarios or another \
                 test run); waiting",
                guest_slots()
            ));
            told = true;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Writes to the real stderr, past the test harness's capture: notices that must be seen
/// even when the test passes (a skip, an image build).
pub use tiers::loud;

/// Skips the running scenario loudly, or fails it under `HOSTFIX_REQUIRE_VM=1`.
#[track_caller]
pub fn skip(reason: &str) {
    tiers::skip(tiers::Tier::Vm, reason);
}

/// Why the VM scenarios cannot run here, if they cannot.
fn skip_reason() -> Option<String> {
    if std::env::var_os("HOSTFIX_VM").is_some_and(|v| v == "0") {
        return Some("HOSTFIX_VM=0 is set".into());
    }
    if !nix::unistd::geteuid().is_root() {
        return Some("not root (debootstrap and the image cache need root)".into());
    }
    let missing: Vec<&str> = ["qemu-system-x86_64", "qemu-img", "debootstrap", "mkfs.ext4"]
        .into_iter()
        .filter(|t| which::which(t).is_err())
        .collect();
    if !missing.is_empty() {
        return Some(format!(
            "missing: {} (apt-get install qemu-system-x86 qemu-utils debootstrap e2fsprogs)",
            missing.join(", ")
        ));
    }
    None
}

/// The bookworm lab and the guest slot: [`lab_on`] with [`Flavour::Bookworm`].
fn lab(test: &str) -> Option<(&'static Lab, Slot)> {
    lab_on(Flavour::Bookworm, test)
}

/// The lab of `flavour` (its image built first when the cache has none) and the guest slot,
/// or `None` after a loud notice when VM scenarios cannot run here (a failure instead under
/// `HOSTFIX_REQUIRE_VM=1`).
fn lab_on(flavour: Flavour, test: &str) -> Option<(&'static Lab, Slot)> {
    if let Some(reason) = skip_reason() {
        skip(&reason);
        return None;
    }
    prefetch_images(flavour);
    // The image first: a build holds no guest slot.
    let lab = LABS[flavour.index()].get_or_init(|| {
        let tests_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vm");
        let image = image::ensure(&tests_dir.join("image"), flavour, false)?;
        loud(&format!(
            "hostfix VM tests: image {} {} in {:.0} s",
            image.hash,
            if image.built {
                "built"
            } else {
                "found in the cache"
            },
            image.took.as_secs_f64()
        ));
        Ok(Lab {
            flavour,
            image,
            hostfix: PathBuf::from(env!("CARGO_BIN_EXE_hostfix")),
            tests_dir,
        })
    });
    let lab = match lab {
        Ok(l) => l,
        Err(e) => panic!("{test}: the VM scenarios' guest image ({flavour}) is not available: {e}"),
    };
    let machine = machine_slot().unwrap_or_else(|e| panic!("the VM guest slot: {e}"));
    Some((lab, Slot { _machine: machine }))
}

/// When the whole suite runs (no test name filter, see [`whole_suite`]), starts building
/// the image of every flavour but `first` (which the first scenario asking for a lab
/// builds itself, at full priority) that is not cached yet, each in a thread of its own
/// under `nice`: from a cold cache the builds (mostly downloads and unpacking) overlap
/// each other and the first guests, instead of each waiting for the first scenario of its
/// flavour. A scenario needing an image still waits for it (the build's lock); a failed
/// build fails that flavour's scenarios with its log, as before.
fn prefetch_images(first: Flavour) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if !whole_suite(&args) {
            return;
        }
        let recipe = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vm/image");
        for flavour in Flavour::ALL.into_iter().filter(|f| *f != first) {
            let recipe = recipe.clone();
            std::thread::spawn(move || {
                // The scenario that needs it reports a failure, with the build's log.
                let _ = image::ensure(&recipe, flavour, true);
            });
        }
    });
}

/// Whether the test binary's arguments (`args`, without the program) run every scenario:
/// no name filter, nothing skipped and not only the ignored tests. The values of options
/// that take one (`--test-threads N`, ...) are not filters.
fn whole_suite(args: &[String]) -> bool {
    const WITH_VALUE: [&str; 6] = [
        "--test-threads",
        "--format",
        "--color",
        "--logfile",
        "--shuffle-seed",
        "-Z",
    ];
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--ignored" || a == "--skip" || a.starts_with("--skip=") || !a.starts_with('-') {
            return false;
        }
        if WITH_VALUE.contains(&a.as_str()) {
            it.next();
        }
    }
    true
}

/// Builds (or finds) the images of the flavours named in `HOSTFIX_VM_FLAVOURS` (names
/// separated by commas or spaces, e.g. `trixie,bookworm-sysv`), without taking a guest
/// slot: run by hand (`cargo test --test vm build_images -- --ignored`) to warm the cache
/// while guests run; the build is mostly download and unpacking.
#[test]
#[ignore = "builds images by hand; the scenarios build what they need"]
fn build_images() {
    if let Some(reason) = skip_reason() {
        skip(&reason);
        return;
    }
    let names = std::env::var("HOSTFIX_VM_FLAVOURS").unwrap_or_default();
    let recipe = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vm/image");
    for name in names.split([',', ' ']).filter(|n| !n.is_empty()) {
        let flavour = Flavour::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .unwrap_or_else(|| panic!("HOSTFIX_VM_FLAVOURS: no flavour {name:?}"));
        let img =
            image::ensure(&recipe, flavour, false).unwrap_or_else(|e| panic!("{flavour}: {e}"));
        loud(&format!(
            "hostfix VM tests: image {} {} in {:.0} s",
            img.hash,
            if img.built {
                "built"
            } else {
                "found in the cache"
            },
            img.took.as_secs_f64()
        ));
    }
}

/// A bookworm guest for one scenario (`scenarios/NAME.sh`), its slot, and its timer;
/// `None` after the loud notice when VM scenarios cannot run here.
fn scenario(test: &str, name: &'static str) -> Option<(Guest, Slot, Timer)> {
    scenario_with_on(Flavour::Bookworm, test, name, &[])
}

/// [`scenario`] on a guest of `flavour`.
fn scenario_on(flavour: Flavour, test: &str, name: &'static str) -> Option<(Guest, Slot, Timer)> {
    scenario_with_on(flavour, test, name, &[])
}

/// [`scenario`], with more files on the guest's handoff disk (name, bytes, mode).
fn scenario_with(
    test: &str,
    name: &'static str,
    files: &[(&str, &[u8], u32)],
) -> Option<(Guest, Slot, Timer)> {
    scenario_with_on(Flavour::Bookworm, test, name, files)
}

/// [`scenario_with`] on a guest of `flavour`.
fn scenario_with_on(
    flavour: Flavour,
    test: &str,
    name: &'static str,
    files: &[(&str, &[u8], u32)],
) -> Option<(Guest, Slot, Timer)> {
    let (lab, slot) = lab_on(flavour, test)?;
    let t = Timer(format!("{name} ({flavour})"), Instant::now());
    Some((Guest::with_files(lab, name, files), slot, t))
}

/// Times a scenario, printed past the capture.
struct Timer(String, Instant);

impl Drop for Timer {
    fn drop(&mut self) {
        loud(&format!(
            "hostfix VM tests: scenario {} took {:.1} s{}",
            self.0,
            self.1.elapsed().as_secs_f64(),
            if std::thread::panicking() {
                " (FAILED)"
            } else {
                ""
            }
        ));
    }
}

// ---------------------------------------------------------------------------------------
// Reading hostfix's JSON reports.

/// Asserts a report's exit code, outcome and `changed`.
#[track_caller]
fn assert_report(r: &Results, name: &str, exit: i32, changed: bool) -> Value {
    let doc = r.json(name);
    let ctx = || {
        format!(
            "{name}: {}\n--- trail ---\n{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default(),
            r.stderr(name)
        )
    };
    assert_eq!(r.exit(name), exit, "exit code of {}", ctx());
    assert_eq!(doc["exit_code"], exit, "exit_code in {}", ctx());
    let outcome = match exit {
        0 => "ok",
        1 => "failed",
        2 => "bad-input",
        _ => "refused",
    };
    assert_eq!(doc["outcome"], outcome, "outcome in {}", ctx());
    assert_eq!(doc["changed"], changed, "changed in {}", ctx());
    assert_eq!(doc["dry_run"], false, "{}", ctx());
    doc
}

/// The findings of a doctor report.
fn findings(doc: &Value) -> Vec<Value> {
    doc["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("a doctor report without findings: {doc}"))
        .clone()
}

/// A finding's title, evidence and fix, as one text to search.
fn finding_text(f: &Value) -> String {
    let mut s = f["title"].as_str().unwrap_or_default().to_string();
    for e in f["evidence"].as_array().into_iter().flatten() {
        s.push_str(" | ");
        s.push_str(e.as_str().unwrap_or_default());
    }
    s
}

fn fix_command(f: &Value) -> &str {
    f["fix"]["command"].as_str().unwrap_or_default()
}

/// The words of a text: split on whitespace and punctuation other than `.`, `-` and `+`
/// (so `nginx.service`, `nginx-light` and `nginx` are three different words).
fn words(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+')))
        .map(|w| w.trim_end_matches('.'))
        .filter(|w| !w.is_empty())
        .collect()
}

/// The packages `apt-get -s remove` says it would remove ("Remv PKG [VERSION]" lines).
fn apt_removals(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.strip_prefix("Remv "))
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

/// The active swap areas of a /proc/swaps text: (path, type, size in KiB).
fn swaps(text: &str) -> Vec<(String, String, u64)> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((
                f.first()?.to_string(),
                f.get(1)?.to_string(),
                f.get(2)?.parse().ok()?,
            ))
        })
        .collect()
}

/// fstab lines (not comments or blank) whose first field is `path`.
fn fstab_lines_for<'a>(fstab: &'a str, path: &str) -> Vec<&'a str> {
    fstab
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter(|l| l.split_whitespace().next() == Some(path))
        .collect()
}

/// Asserts the guest ran its scenario to the end on every boot of `r` and powered off.
#[track_caller]
fn assert_clean_single_boot(g: &Guest) {
    let run = g.runs.last().unwrap();
    let r = &run.results;
    assert_eq!(r.boots.len(), 1, "boots: {:?}", r.boots);
    assert_eq!(
        r.boots[0].scenario_rc,
        Some(0),
        "the scenario script failed"
    );
    assert_eq!(r.boots[0].end, Some(End::Poweroff));
    assert!(run.powered_off(), "the guest kernel did not power off");
    assert_eq!(run.kernel_restarts(), 0);
}

/// A kept guest run (`HOSTFIX_VM_KEEP=1`) named by the variable `var`, for a replay test:
/// what the guest reported (its first results log), how many times its kernel restarted
/// and whether it powered off (from its console). `None`, said loudly, when `var` is not
/// set.
pub fn kept_run(var: &str) -> Option<(Results, usize, bool)> {
    let Some(dir) = std::env::var_os(var).map(std::path::PathBuf::from) else {
        loud(&format!("{var} is not set: nothing to replay"));
        return None;
    };
    let read = |name: &str| {
        let bytes = std::fs::read(dir.join(name))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()));
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let console = guest::strip_escapes(&read("console-1.log"));
    Some((
        Results::parse(&read("results-1.log")),
        console.matches("reboot: Restarting system").count(),
        console.contains("reboot: Power down"),
    ))
}

// ---------------------------------------------------------------------------------------
// The scenarios.

/// The smoke checks on Debian 12 with sysvinit as PID 1 (on Debian 12 and 13 with
/// systemd they run as the first stage of the incident's boot: `smoke+incident`).
#[test]
fn smoke_bookworm_sysv() {
    smoke_on(Flavour::BookwormSysv, "smoke_bookworm_sysv");
}

/// The smoke checks on Debian 13 with Podman.
#[test]
fn smoke_trixie_podman() {
    smoke_on(Flavour::TrixiePodman, "smoke_trixie_podman");
}

/// The smoke scenario on a guest of `flavour`: the guest is what the flavour promises
/// (release, PID 1, engine, nginx on :80, sshd, no swap) and hostfix's doctor runs there.
fn smoke_on(flavour: Flavour, test: &str) {
    let Some((mut g, _slot, _t)) = scenario_on(flavour, test, "smoke") else {
        return;
    };
    g.boot(BootOpts::once(Duration::from_secs(240)));
    assert_clean_single_boot(&g);
    check_smoke(flavour, g.last());
}

/// What the smoke scenario (or stage) on a guest of `flavour` must have found.
fn check_smoke(flavour: Flavour, r: &Results) {
    assert!(
        r.value("kernel").ends_with("-cloud-amd64"),
        "{}",
        r.value("kernel")
    );
    assert_eq!(r.value("os"), flavour.codename());
    let (pid1, init) = if flavour.systemd() {
        ("systemd", "systemd")
    } else {
        ("init", "sysv")
    };
    assert_eq!(r.value("pid1"), pid1);
    assert_eq!(r.value("init"), init);
    for u in ["nginx", "ssh"] {
        assert_eq!(r.value(&format!("active.{u}")), "active", "{u} ({flavour})");
    }
    let docker = if flavour.engine() == Some("docker") {
        "active"
    } else if flavour.systemd() {
        "inactive"
    } else {
        "absent"
    };
    assert_eq!(r.value("active.docker"), docker, "docker ({flavour})");
    for e in ["docker", "podman"] {
        assert_eq!(
            !r.value(&format!("engine.{e}")).is_empty(),
            flavour.engine() == Some(e),
            "{e} on {flavour}"
        );
    }
    let listeners = r.block("listeners");
    assert!(
        listeners
            .lines()
            .any(|l| l.starts_with("0.0.0.0:80 ") && l.contains("\"nginx\"")),
        "nginx is not listening on :80:\n{listeners}"
    );
    assert!(
        r.block("nginx-owner").ends_with(": /usr/sbin/nginx"),
        "{}",
        r.block("nginx-owner")
    );
    if flavour.codename() == "bookworm" {
        assert_eq!(r.value("nginx-light"), "ii ");
    }
    assert!(swaps(r.block("swaps")).is_empty(), "the guest has swap");

    let doc = assert_report(r, "doctor", 0, false);
    assert_eq!(doc["operation"], "doctor");
    let mem = &doc["facts"]["memory"];
    let total = mem["mem_total"].as_u64().unwrap();
    assert!(
        (400 << 20..=512 << 20).contains(&total),
        "MemTotal {total} is not the 512 MiB guest's"
    );
    assert_eq!(mem["swap_total"], 0);
    let f = findings(&doc);
    assert!(
        f.iter().any(|f| f["area"] == "memory"),
        "no memory finding: {f:?}"
    );
    assert!(
        f.iter()
            .any(|f| finding_text(f).contains("no swap") && fix_command(f).contains("swap ensure")),
        "no 'no swap' finding with its fix: {f:?}"
    );
    // A request to :80 reaches nginx (on the sysvinit guest too: its loopback is up).
    assert!(
        f.iter().any(|f| f["area"] == "request"
            && f["title"]
                .as_str()
                .is_some_and(|t| t.starts_with("requests to :80 reach"))),
        "no request to :80 reached nginx: {f:#?}"
    );
    // A fresh guest's filesystems are nearly empty (trixie's /tmp is a small tmpfs).
    let disk_alarms: Vec<&Value> = f
        .iter()
        .filter(|f| f["area"] == "disk" && f["severity"] != "ok")
        .collect();
    assert!(disk_alarms.is_empty(), "{disk_alarms:#?}");
}

/// A doctor report found the holders of `port` through the cgroup the kernel names for
/// its sockets (no walk over `/proc`), each such cgroup's path ending in `unit`; `-v`
/// (the block's stderr) says so too.
fn assert_found_by_cgroup(r: &Results, block: &str, doc: &Value, port: u64, unit: &str) {
    let ports = doc["facts"]["ports"].as_array().expect("facts.ports");
    let h = ports
        .iter()
        .find(|h| h["port"] == port)
        .unwrap_or_else(|| panic!("{block}: no facts for port {port}: {ports:#?}"));
    assert_eq!(h["scan"]["path"], "cgroup", "{block}: {:#}", h["scan"]);
    let cgroups = h["scan"]["cgroups"].as_array().expect("scan.cgroups");
    assert!(
        !cgroups.is_empty()
            && cgroups
                .iter()
                .all(|c| c["path"].as_str().is_some_and(|p| p.ends_with(unit))),
        "{block}: the sockets of :{port} were not made in {unit}: {cgroups:#?}"
    );
    assert!(
        r.stderr(block).contains("holders found by cgroup"),
        "{block}: -v does not say the cgroup answered:\n{}",
        r.stderr(block)
    );
}

/// Scenario 1: the incident, fixed by running hostfix; a second run changes nothing.
#[test]
fn incident_is_fixed_and_a_second_run_changes_nothing() {
    incident_on(
        Flavour::Bookworm,
        "incident_is_fixed_and_a_second_run_changes_nothing",
    );
}

/// Scenario 1 on Debian 13 (apt 3, systemd 257, nginx without nginx-light).
#[test]
fn incident_on_trixie() {
    incident_on(Flavour::Trixie, "incident_on_trixie");
}

/// Whether a text names the package `pkg` ("package PKG" among its words).
fn names_package(text: &str, pkg: &str) -> bool {
    words(text)
        .windows(2)
        .any(|p| p[0] == "package" && p[1] == pkg)
}

/// The incident on a guest of `flavour` (one with Docker), after the smoke checks in the
/// same boot (read-only: they leave the incident's host as it was).
fn incident_on(flavour: Flavour, test: &str) {
    let Some((mut g, _slot, _t)) = scenario_on(flavour, test, "smoke+incident") else {
        return;
    };
    g.boot(BootOpts::once(Duration::from_secs(480)));
    assert_clean_single_boot(&g);
    check_smoke(flavour, g.last());
    check_incident(flavour, g.last());
}

/// What the incident scenario (or stage) on a guest of `flavour` must have found.
fn check_incident(flavour: Flavour, r: &Results) {
    // Before: the container cannot get :80.
    assert_ne!(
        r.exit("web-run"),
        0,
        "docker run succeeded while nginx held :80"
    );
    assert!(
        r.stderr("web-run").contains("address already in use"),
        "docker run failed for another reason: {}",
        r.stderr("web-run")
    );
    assert_eq!(r.value("web-state-before"), "created");
    assert!(swaps(r.block("swaps-before")).is_empty());

    // doctor: in request order, the port and who holds it, then memory, each with its fix.
    let doc = assert_report(r, "doctor-before", 0, false);
    let f = findings(&doc);
    // The package: dpkg's owner of nginx's binary ("nginx" on bookworm and trixie), read in
    // the guest; on bookworm it was installed for the metapackage nginx-light ("package
    // nginx (installed for nginx-light)"), on trixie by name. apt's simulation of its
    // removal (what must go, e.g. nginx-light and its modules) was recorded before.
    let owner = r.value("nginx-owner");
    let simulated = apt_removals(r.block("apt-simulate"));
    assert!(
        simulated.contains(&owner),
        "apt -s remove {owner} does not remove it:\n{}",
        r.block("apt-simulate")
    );
    let installed_for: &[&str] = if flavour.codename() == "bookworm" {
        &["nginx-light"]
    } else {
        &[]
    };
    let port = f
        .iter()
        .position(|f| {
            let text = f.to_string();
            let w = words(&text);
            f["area"] == "ports"
                && w.contains(&"80")
                && w.contains(&"nginx.service")
                && names_package(&text, owner)
                && installed_for.iter().all(|p| w.contains(p))
        })
        .unwrap_or_else(|| {
            panic!(
                "doctor did not report :80 held by nginx.service from the package {owner} \
                 (installed for {installed_for:?}): {f:#?}"
            )
        });
    assert!(
        fix_command(&f[port]).contains("port free 80"),
        "the port finding has no fix: {:#?}",
        f[port]
    );
    let mem = f
        .iter()
        .position(|f| {
            f["area"] == "memory"
                && finding_text(f).contains("no swap")
                && (f["severity"] == "warning" || f["severity"] == "problem")
        })
        .unwrap_or_else(|| {
            panic!(
                "doctor did not report memory short with no swap (MemAvailable {}%): {f:#?}",
                r.value("mem_available_pct")
            )
        });
    assert!(
        fix_command(&f[mem]).contains("swap ensure"),
        "the memory finding has no fix: {:#?}",
        f[mem]
    );
    assert!(port < mem, "findings are not in request order: {f:#?}");
    // nginx's sockets were found through nginx.service's cgroup, without a walk.
    assert_found_by_cgroup(r, "doctor-before", &doc, 80, "nginx.service");

    // The fix. Before the swap the package manager is not started (exit 3, nothing
    // stopped, the swap named), then the swap, then the port with its package.
    let short = assert_report(r, "port-free-short", 3, false);
    let why = short["error"].as_str().unwrap_or_default();
    assert!(
        why.contains("memory is too short") && why.contains("hostfix swap ensure"),
        "{short:#}"
    );
    assert_eq!(r.value("nginx-active-short"), "active");
    assert_report(r, "swap-ensure", 0, true);
    assert_report(r, "port-free", 0, true);
    let active = swaps(r.block("swaps-after"));
    assert_eq!(active.len(), 1, "{active:?}");
    assert_eq!(active[0].1, "file");
    // /proc/swaps shows the size in KiB, less the header page.
    assert!(
        (1_048_572..=1_048_576).contains(&active[0].2),
        "the swap file is not 1 GiB: {active:?}"
    );
    assert_ne!(r.value("nginx-active"), "active");
    assert!(
        !r.block("dpkg-owner")
            .contains("Status: install ok installed"),
        "{owner} is still installed:\n{}",
        r.block("dpkg-owner")
    );
    // Removed: the package that held the port and what apt said goes with it, and nothing
    // but nginx's own packages.
    let removed: Vec<&str> = r.block("packages-removed").lines().collect();
    for p in &simulated {
        assert!(
            removed.contains(p),
            "{p} was not removed: {removed:?} (apt said removing {owner} takes {simulated:?})"
        );
    }
    assert!(
        removed.iter().all(|p| p.contains("nginx")),
        "removed beyond nginx: {removed:?}; apt said removing {owner} takes {:?}",
        apt_removals(r.block("apt-simulate"))
    );
    assert_eq!(r.block("packages-added"), "");

    // A second run changes nothing.
    assert_report(r, "port-free-again", 0, false);
    assert_report(r, "swap-ensure-again", 0, false);

    // The container starts and serves on :80.
    assert_eq!(r.exit("web-start"), 0, "{}", r.stderr("web-start"));
    assert_eq!(r.value("web-state"), "running");
    let listeners = r.block("listeners-after");
    assert!(
        listeners
            .lines()
            .any(|l| l.starts_with("0.0.0.0:80 ") && l.contains("docker-proxy")),
        "the container does not hold :80:\n{listeners}"
    );
    assert_eq!(r.block("web-http"), r.value("token"));

    // With the container on :80, freeing it is refused and the container keeps serving.
    assert_report(r, "port-free-container", 3, false);
    assert_eq!(r.value("web-pid"), r.value("web-pid-after"));
    assert_eq!(r.block("web-http-still"), r.value("token"));

    let after = assert_report(r, "doctor-after", 0, false);
    // docker-proxy's sockets, made by the proxy dockerd starts in its own cgroup, were
    // found through that cgroup, without a walk.
    assert_found_by_cgroup(r, "doctor-after", &after, 80, "docker.service");
    let f = findings(&after);
    assert!(
        !f.iter()
            .any(|f| simulated.iter().any(|p| names_package(&f.to_string(), p))),
        "doctor still sees one of {simulated:?}: {f:#?}"
    );
    assert!(
        !f.iter().any(|f| finding_text(f).contains("no swap")),
        "doctor still sees no swap: {f:#?}"
    );
    assert!(after["facts"]["memory"]["swap_total"].as_u64().unwrap() > 1000 << 20);
}

/// Scenario 2: the swap file is active again after a real reboot, from fstab alone.
#[test]
fn swap_survives_a_reboot_from_fstab() {
    persistence_on(Flavour::Bookworm, "swap_survives_a_reboot_from_fstab");
}

/// Scenario 2 on Debian 13.
#[test]
fn swap_survives_a_reboot_on_trixie() {
    persistence_on(Flavour::Trixie, "swap_survives_a_reboot_on_trixie");
}

/// Scenario 2 on a guest of `flavour` (one with systemd).
fn persistence_on(flavour: Flavour, test: &str) {
    let Some((mut g, _slot, _t)) = scenario_on(flavour, test, "persistence") else {
        return;
    };
    let run = g.boot(BootOpts::with_reboots(Duration::from_secs(420)));
    let r = &run.results;
    let ends: Vec<_> = r
        .boots
        .iter()
        .map(|b| (b.n, b.scenario_rc, b.end))
        .collect();
    assert_eq!(
        ends,
        vec![
            (1, Some(0), Some(End::Reboot)),
            (2, Some(0), Some(End::Poweroff))
        ]
    );
    assert_ne!(r.boots[0].id, r.boots[1].id, "the boot id did not change");
    assert_eq!(run.kernel_restarts(), 1);

    assert_report(r, "swap-ensure", 0, true);
    let before = swaps(r.block("swaps-1"));
    assert!(before.iter().any(|s| s.0 == "/swapfile"), "{before:?}");
    let fstab1 = r.block("fstab-1");
    assert_eq!(fstab_lines_for(fstab1, "/swapfile").len(), 1, "{fstab1}");
    let swap_line = fstab_lines_for(fstab1, "/swapfile")[0];
    assert_eq!(
        swap_line.split_whitespace().nth(2),
        Some("swap"),
        "{swap_line}"
    );
    // Every other line of fstab kept, in order.
    let mut kept = fstab1.lines();
    for l in r.block("fstab-before").lines() {
        assert!(kept.any(|k| k == l), "fstab lost {l:?}:\n{fstab1}");
    }

    // After the reboot, before hostfix ran again.
    let after = swaps(r.block("swaps-2"));
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].0, "/swapfile");
    assert!(
        (524_284..=524_288).contains(&after[0].2),
        "not the 512 MiB file: {after:?}"
    );
    assert_eq!(
        r.value("swap-unit"),
        "active",
        "swapfile.swap is not active"
    );
    assert_eq!(r.value("swap-unit-source"), "/etc/fstab");
    assert_eq!(r.value("hostfix-on-root-disk"), "");
    assert_eq!(r.block("fstab-2"), fstab1);

    // And running it again changes nothing.
    assert_report(r, "swap-ensure-again", 0, false);
    assert_eq!(r.block("fstab-3"), fstab1);
    assert_eq!(swaps(r.block("swaps-3")), after);
}

/// One line of the at-boot log: (boot id, unit name, "start" or "rc=N").
fn at_boot_log(text: &str) -> Vec<(String, String, String)> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.into(), w.next()?.into(), w.next()?.into()))
        })
        .collect()
}

/// The boot ids at which the at-boot unit `unit` started, in order.
fn at_boot_starts(log: &[(String, String, String)], unit: &str) -> Vec<String> {
    log.iter()
        .filter(|(_, n, w)| n == unit && w == "start")
        .map(|(id, ..)| id.clone())
        .collect()
}

/// Asserts that the at-boot run of `unit` in boot `id` was refused by the guard, with a
/// reason that contains `because`, and requested no reboot.
#[track_caller]
fn assert_guard_refused(r: &Results, id: &str, unit: &str, because: &str) {
    let name = format!("at-boot.{id}.{unit}");
    let doc = r.json(&name);
    let ctx = format!(
        "{doc:#}\n--- trail ---\n{}",
        r.get_block(&format!("{name}.trail")).unwrap_or("")
    );
    assert_eq!(doc["exit_code"], 3, "{unit} at boot {id}: {ctx}");
    assert_eq!(doc["outcome"], "refused", "{unit} at boot {id}: {ctx}");
    assert_eq!(doc["requested"], false, "{unit} at boot {id}: {ctx}");
    let why = doc["error"].as_str().unwrap_or_default();
    assert!(
        why.contains(because),
        "{unit} at boot {id}: the refusal does not say {because:?}: {ctx}"
    );
}

/// Scenario 3: the reboot guard. With a need at every boot, `--once` reboots exactly once
/// over three boots; `--min-uptime` stops a unit that would otherwise reboot forever.
#[test]
fn reboot_guard_reboots_once_and_stops_a_loop() {
    let Some((mut g, _slot, _t)) =
        scenario("reboot_guard_reboots_once_and_stops_a_loop", "reboot-guard")
    else {
        return;
    };

    // Run 1, reboots allowed: the setup boot (the runner installs the units and reboots),
    // the units' first boot (the provisioning unit reboots, the runner never runs), their
    // second boot (refused; the runner installs the loop unit and powers off).
    let run1 = g.boot(BootOpts::with_reboots(Duration::from_secs(480)));
    let restarts1 = run1.kernel_restarts();
    let r1 = run1.results.clone();
    if r1.get("provision-runs") != Some("2") {
        let log = r1.get_block("at-boot-log").unwrap_or("(none)");
        let trails: Vec<&str> = r1
            .blocks
            .iter()
            .filter(|b| b.name.starts_with("at-boot.") && b.name.ends_with(".provision.trail"))
            .map(|b| b.text.as_str())
            .collect();
        panic!(
            "the provisioning unit did not reboot the guest once and then refuse (runs seen \
             by the last boot: {:?}); at-boot log:\n{log}\ntrails:\n{}",
            r1.get("provision-runs"),
            trails.join("\n---\n")
        );
    }
    let ends: Vec<_> = r1
        .boots
        .iter()
        .map(|b| (b.n, b.scenario_rc, b.end))
        .collect();
    assert_eq!(
        ends,
        vec![
            (1, Some(0), Some(End::Reboot)),
            (2, Some(0), Some(End::Poweroff))
        ]
    );
    // Two restarts: the runner's (setup) and exactly one more, the provisioning unit's.
    assert_eq!(restarts1, 2, "guest restarts in run 1");

    // Run 2, a cold start with -no-reboot: both units refuse at boot; then the command of
    // the loop unit without its guard reboots the guest, which ends qemu.
    let run2 = g.boot(BootOpts::once(Duration::from_secs(300)));
    let restarts2 = run2.kernel_restarts();
    let r2 = run2.results.clone();
    assert_eq!(r2.get("provision-runs"), Some("3"));
    assert_eq!(r2.boots.len(), 1);
    assert_eq!(r2.boots[0].n, 3);
    assert_ne!(
        r2.boots[0].end,
        Some(End::Poweroff),
        "the runner powered off: the unguarded reboot did not happen"
    );
    assert_eq!(r2.value("unguarded"), "starting");
    assert_eq!(restarts2, 1, "the unguarded reboot did not happen");
    assert_eq!(r2.value("reboot-required"), "/run/reboot-required");

    // The provisioning unit ran at three boots, three boot ids: the first is the boot it
    // rebooted (the runner never ran there), then the two the runner saw.
    let log = at_boot_log(r2.block("at-boot-log"));
    let provision = at_boot_starts(&log, "provision");
    assert_eq!(provision.len(), 3, "provision runs: {log:?}");
    assert!(!r1.boots.iter().any(|b| b.id == provision[0]));
    assert_eq!(provision[1], r1.boots[1].id);
    assert_eq!(provision[2], r2.boots[0].id);
    assert_ne!(provision[0], provision[1]);
    assert_ne!(r1.boots[0].id, provision[0]);
    // The journal saw four boots in all: setup and the three.
    let journal = r2.block("journal-boots");
    assert_eq!(
        journal.lines().count(),
        4,
        "journalctl --list-boots:\n{journal}"
    );
    for id in provision.iter().chain([&r1.boots[0].id]) {
        assert!(
            journal.contains(&id.replace('-', "")),
            "boot {id} is not in the journal:\n{journal}"
        );
    }

    // Its first run requested the reboot (its report, when it was written before the
    // shutdown stopped the unit, says so).
    let first = format!("at-boot.{}.provision", provision[0]);
    if let Some(text) = r2.get_block(&first).filter(|t| !t.is_empty()) {
        let doc: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(doc["requested"], true, "{doc:#}");
        assert_eq!(doc["outcome"], "ok", "{doc:#}");
    }
    // The later runs: refused by the --once guard, saying so.
    for id in &provision[1..] {
        assert_guard_refused(&r2, id, "provision", "provision-v1");
    }

    // The loop unit ran at the last boot only, and --min-uptime stopped it.
    assert_eq!(at_boot_starts(&log, "loop"), vec![provision[2].clone()]);
    assert_guard_refused(&r2, &provision[2], "loop", "min-uptime");
    // Without that guard, the same command reboots (what it would do at every boot).
    if let Some(text) = r2.get_block("unguarded").filter(|t| !t.is_empty()) {
        let doc: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(doc["requested"], true, "{doc:#}");
    }
}

/// Scenario 4: refusals that must hold on a real host.
#[test]
fn refusals_hold_and_change_nothing() {
    let Some((mut g, _slot, _t)) = scenario("refusals_hold_and_change_nothing", "refusals") else {
        return;
    };
    g.boot(BootOpts::once(Duration::from_secs(360)));
    assert_clean_single_boot(&g);
    let r = g.last();
    // The symlinked swap path: refused, and the file it points to is untouched.
    assert_report(r, "swap-symlink", 3, false);
    assert_eq!(r.block("precious-after"), r.block("precious-before"));
    assert_eq!(
        r.block("swap-link-after"),
        "symbolic link '/swap-link' -> '/srv/precious.img'"
    );
    assert!(swaps(r.block("swaps-after")).is_empty());
    assert_eq!(
        r.exit("fstab-diff"),
        0,
        "fstab changed:\n{}",
        r.block("fstab-diff")
    );

    assert_eq!(r.exit("held-run"), 0, "{}", r.stderr("held-run"));
    assert!(
        r.block("before.listeners")
            .lines()
            .any(|l| l.starts_with("0.0.0.0:8080 ") && l.contains("docker-proxy")),
        "the container does not publish :8080:\n{}",
        r.block("before.listeners")
    );
    assert!(r.block("before.listeners").contains("\"sshd\""));

    for name in [
        "free-22",
        "free-22-destructive",
        "free-8080",
        "free-8080-destructive",
    ] {
        assert_report(r, name, 3, false);
    }
    for what in ["listeners", "packages", "services", "container", "sshd"] {
        assert_eq!(
            r.block(&format!("after.{what}")),
            r.block(&format!("before.{what}")),
            "{what} changed"
        );
    }
    assert_eq!(r.block("held-http"), "held by a container");
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_an_unfiltered_run_is_the_whole_suite() {
        let whole = |a: &str| {
            super::whole_suite(&a.split_whitespace().map(String::from).collect::<Vec<_>>())
        };
        assert!(whole(""));
        assert!(whole("--test-threads 2 --nocapture"));
        assert!(whole("--test-threads=2 --include-ignored --format pretty"));
        assert!(!whole("sysv"));
        assert!(!whole("--test-threads 2 smoke_trixie_podman --exact"));
        assert!(!whole("--ignored"));
        assert!(!whole("--skip podman"));
        assert!(!whole("--skip=podman"));
    }
    use super::*;

    #[test]
    fn words_keep_unit_and_package_names_apart() {
        let w = words(r#"{"title":"port 80: unit nginx.service, package nginx."}"#);
        assert!(w.contains(&"nginx.service"));
        assert!(w.contains(&"nginx"));
        assert!(w.contains(&"80"));
        assert!(!w.contains(&"nginx-light"));
    }

    #[test]
    fn apt_simulation_and_proc_swaps_and_fstab() {
        let sim = "The following packages will be REMOVED:\n  nginx nginx-light\n\
                   Remv nginx-light [1.22.1-9]\nRemv nginx [1.22.1-9]\n";
        assert_eq!(apt_removals(sim), vec!["nginx-light", "nginx"]);
        let s = "Filename\tType\tSize\tUsed\tPriority\n/swapfile file 1048572 0 -2\n";
        assert_eq!(
            swaps(s),
            vec![("/swapfile".to_string(), "file".to_string(), 1_048_572)]
        );
        let fstab = "# /swapfile none swap sw 0 0\n/dev/vda / ext4 defaults 0 1\n\
                     /swapfile none swap sw,nofail 0 0\n";
        assert_eq!(
            fstab_lines_for(fstab, "/swapfile"),
            vec!["/swapfile none swap sw,nofail 0 0"]
        );
        let log = "id-1 provision start uptime=20.1\nid-1 provision rc=0\n";
        assert_eq!(at_boot_log(log)[1].2, "rc=0");
    }
}
