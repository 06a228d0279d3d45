//! `swap ensure` / `swap remove` end to end on a fake root with a fake kernel: files are
//! really created under a tempdir, swapon/swapoff only edit `ROOT/proc/swaps`. Every
//! convergence state is set up on disk and healed; every refusal leaves the tree as it
//! was. What hostfix did not create (a file, an fstab line, a unit) is refused and left
//! as it was; a resize killed at each call through the seam converges.
//!
//! These run as any user: the fake root's files belong to whoever runs the test, and that
//! is the owner the fake host expects ([`Host::owner`]). The few checks that need another
//! user's file (chown) run only as root and say so otherwise.

mod swap_support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::Arc;

use hostfix::swap::{
    Persist, RemoveOptions, SwapSize, SwapSpec, ensure_swap_file, remove_swap_file,
};
use hostfix::testing::swap::header::{Signature, read_signature};
use hostfix::testing::with;
use hostfix::testing::{Call, System};
use hostfix::{Host, Policy, Risk, StepStatus};
use nix::errno::Errno;
use swap_support::{FakeKernel, FakeRoot, MIB, is_root_or_note, me, snapshot, write_intent_record};

fn spec(size: u64) -> SwapSpec {
    let mut s = SwapSpec::new(SwapSize::Bytes(size));
    s.keep_free = vec![];
    s
}

fn policy(_root: &FakeRoot, risk: Risk) -> Policy {
    Policy::new(risk).state_dir("/state")
}

struct Env {
    root: FakeRoot,
    kernel: Arc<FakeKernel>,
    host: Host,
}

fn env() -> Env {
    let root = FakeRoot::for_swap();
    let kernel = FakeKernel::new(root.path());
    let host = kernel.host();
    Env { root, kernel, host }
}

impl Env {
    /// Every file of the fake root but hostfix's lock files (taken by every run).
    fn tree(&self) -> std::collections::BTreeMap<PathBuf, String> {
        let mut t = snapshot(self.root.path());
        t.retain(|p, _| {
            !p.starts_with(self.root.join("/state/lock")) && !p.starts_with(self.root.join("/run"))
        });
        t
    }

    fn ensure(&self, s: &SwapSpec, risk: Risk) -> hostfix::Report<hostfix::swap::SwapStatus> {
        ensure_swap_file(&self.host, s, &policy(&self.root, risk))
    }
    fn file(&self) -> PathBuf {
        self.root.join("/swapfile")
    }
    fn proc_swaps(&self) -> String {
        std::fs::read_to_string(self.root.join("/proc/swaps")).unwrap()
    }
    fn header_uuid(&self) -> String {
        let b = std::fs::read(self.file()).unwrap();
        match read_signature(&b[..65536.min(b.len())]) {
            Signature::Swap(h) => h.uuid,
            s => panic!("no swap header: {s:?}"),
        }
    }
    /// The desired state holds: a 0600 root swap area of `size`, listed, one fstab line.
    fn assert_converged(&self, size: u64) {
        let m = std::fs::metadata(self.file()).unwrap();
        assert_eq!(m.len(), size);
        assert_eq!(m.mode() & 0o7777, 0o600);
        assert_eq!((m.uid(), m.gid()), me(), "the fake root's owner");
        assert!(m.blocks() * 512 >= size, "fully allocated");
        self.header_uuid();
        assert!(
            self.proc_swaps()
                .contains(&self.file().display().to_string()),
            "{}",
            self.proc_swaps()
        );
        let fstab = self.root.read("/etc/fstab");
        assert_eq!(
            fstab.matches("/swapfile none swap").count(),
            1,
            "one fstab line:\n{fstab}"
        );
        assert!(
            fstab.contains("/swapfile none swap sw,nofail 0 0"),
            "{fstab}"
        );
        // The host path goes into fstab, never the path under the test root.
        assert!(!fstab.contains(&self.root.path().display().to_string()));
    }
}

#[test]
fn creates_then_changes_nothing() {
    let e = env();
    let r = e.ensure(&spec(16 * MIB), Risk::Additive);
    assert!(r.is_ok(), "{:?}", r.error);
    assert!(r.changed);
    e.assert_converged(16 * MIB);
    assert_eq!(
        r.result.uuid.as_deref(),
        Some("5a5a5a5a-1234-4abc-8def-0123456789ab")
    );
    let actions: Vec<&str> = r.steps.iter().map(|s| s.action.as_str()).collect();
    assert!(actions[1].starts_with("create /swapfile"), "{actions:?}");
    let before = snapshot(e.root.path());
    let r2 = e.ensure(&spec(16 * MIB), Risk::Additive);
    assert!(r2.is_ok(), "{:?}", r2.error);
    assert!(!r2.changed, "{:?}", r2.steps);
    assert!(r2.steps.iter().all(|s| s.risk == Risk::ReadOnly));
    assert_eq!(e.kernel.swapons().len(), 1, "swapon only once");
    assert_eq!(
        snapshot(e.root.path()),
        before,
        "second run touched nothing"
    );
    // JSON has the contract fields.
    let j = serde_json::to_value(&r2).unwrap();
    assert_eq!(j["operation"], "swap ensure");
    assert_eq!(j["changed"], false);
    assert_eq!(j["active"], true);
    assert_eq!(j["exit_code"], 0);
}

#[test]
fn dry_run_walks_the_same_plan_and_touches_nothing() {
    let e = env();
    let before = snapshot(e.root.path());
    let p = Policy::new(Risk::Additive)
        .state_dir("/state")
        .dry_run(true);
    let r = ensure_swap_file(&e.host, &spec(16 * MIB), &p);
    assert!(r.is_ok(), "{:?}", r.error);
    assert!(r.changed && r.dry_run);
    let planned: Vec<&str> = r
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Planned)
        .map(|s| s.action.as_str())
        .collect();
    assert_eq!(planned.len(), 5, "{planned:?}");
    assert_eq!(snapshot(e.root.path()), before);
    assert!(e.kernel.calls().is_empty());
    // Applying takes exactly the planned steps.
    let r = e.ensure(&spec(16 * MIB), Risk::Additive);
    let done: Vec<&str> = r
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Done && s.risk > Risk::ReadOnly)
        .map(|s| s.action.as_str())
        .collect();
    assert_eq!(done, planned);
}

#[test]
fn interrupted_create_states_converge() {
    // Each state a create killed after recording its intent leaves on disk, with that
    // intent record: recognised as hostfix's own half-made file and completed.
    type Setup = fn(&std::path::Path);
    let states: [(&str, Setup); 3] = [
        ("empty file", |p| {
            std::fs::write(p, b"").unwrap();
        }),
        ("half the zeros", |p| {
            std::fs::write(p, vec![0u8; 8 << 20]).unwrap();
        }),
        ("zeros, no header", |p| {
            std::fs::write(p, vec![0u8; 16 << 20]).unwrap();
        }),
    ];
    for (name, setup) in states {
        let e = env();
        setup(&e.file());
        std::fs::set_permissions(e.file(), std::fs::Permissions::from_mode(0o600)).unwrap();
        let before = e.tree();
        // Without the intent record, the same file is not hostfix's: refused, untouched.
        let r = e.ensure(&spec(16 * MIB), Risk::Additive);
        assert_eq!(r.exit_code(), 3, "{name}: {:?}", r.error);
        assert!(
            r.error
                .unwrap()
                .to_string()
                .contains("hostfix did not create it"),
            "{name}"
        );
        assert_eq!(e.tree(), before, "{name}: nothing touched");
        write_intent_record(
            e.root.path(),
            "/state",
            "/swapfile",
            "swapfile.swap",
            "11111111-2222-4333-8444-555555555555",
        );
        let r = e.ensure(&spec(16 * MIB), Risk::Additive);
        assert!(r.is_ok(), "{name}: {:?}", r.error);
        assert!(
            r.steps
                .iter()
                .any(|s| s.action == "record /swapfile as hostfix's"),
            "{name}: {:#?}",
            r.steps
        );
        e.assert_converged(16 * MIB);
        assert_eq!(
            e.header_uuid(),
            "11111111-2222-4333-8444-555555555555",
            "{name}: the header carries the UUID the intent recorded"
        );
        assert!(!e.ensure(&spec(16 * MIB), Risk::Additive).changed, "{name}");
    }
}

#[test]
fn crash_after_header_before_swapon_converges() {
    let e = env();
    e.kernel.rec.fail_next("swapon", Errno::EIO);
    let r = e.ensure(&spec(16 * MIB), Risk::Additive);
    assert_eq!(r.exit_code(), 1, "the 'crash'");
    let uuid = e.header_uuid();
    let r = e.ensure(&spec(16 * MIB), Risk::Additive);
    assert!(r.is_ok(), "{:?}", r.error);
    e.assert_converged(16 * MIB);
    assert_eq!(e.header_uuid(), uuid, "the header was kept, not rewritten");
}

#[test]
fn swapon_einval_on_fallocated_file_falls_back_to_zeros() {
    let e = env();
    e.kernel.rec.fail_next("swapon", Errno::EINVAL);
    let r = e.ensure(&spec(16 * MIB), Risk::Additive);
    assert!(r.is_ok(), "{:?}", r.error);
    let swapon = r
        .steps
        .iter()
        .find(|s| s.action.starts_with("swapon"))
        .unwrap();
    assert!(
        swapon.detail.contains("rewritten with zeros"),
        "{}",
        swapon.detail
    );
    assert_eq!(e.kernel.swapons().len(), 2);
    e.assert_converged(16 * MIB);
}

#[test]
fn wrong_size_inactive_is_resized_additively() {
    let e = env();
    e.ensure(&spec(16 * MIB), Risk::Additive)
        .into_result()
        .unwrap();
    let uuid = e.header_uuid();
    // Swap it off behind hostfix's back: persisted but not active, and the wrong size.
    e.kernel.rec.swapoff(&e.file()).unwrap();
    let r = e.ensure(&spec(24 * MIB), Risk::Additive);
    assert!(r.is_ok(), "{:?}", r.error);
    e.assert_converged(24 * MIB);
    assert_eq!(e.header_uuid(), uuid, "resizing keeps the UUID");
}

#[test]
fn active_wrong_size_needs_disruptive_and_swaps_over() {
    let e = env();
    e.ensure(&spec(16 * MIB), Risk::Additive)
        .into_result()
        .unwrap();
    let before = snapshot(e.root.path());
    let r = e.ensure(&spec(32 * MIB), Risk::Additive);
    assert_eq!(r.exit_code(), 3);
    let msg = r.error.as_ref().unwrap().to_string();
    assert!(msg.contains("needs --max-risk disruptive"), "{msg}");
    assert!(msg.contains("from 16 MiB to 32 MiB"), "{msg}");
    assert_eq!(snapshot(e.root.path()), before, "refused: nothing touched");
    let r = e.ensure(&spec(32 * MIB), Risk::Disruptive);
    assert!(r.is_ok(), "{:?}", r.error);
    e.assert_converged(32 * MIB);
    // The temporary area went on before the file went off.
    let calls: Vec<String> = e
        .kernel
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Swapon(p, _) => Some(format!("on {}", p.file_name().unwrap().to_string_lossy())),
            Call::Swapoff(p) => Some(format!("off {}", p.file_name().unwrap().to_string_lossy())),
            _ => None,
        })
        .collect();
    assert_eq!(
        calls,
        [
            "on swapfile",
            "on .swapfile.hostfix-swapover",
            "off swapfile",
            "on swapfile",
            "off .swapfile.hostfix-swapover"
        ]
    );
    assert!(!e.root.join("/.swapfile.hostfix-swapover").exists());
}

#[test]
fn crash_during_swap_over_converges() {
    let e = env();
    e.ensure(&spec(16 * MIB), Risk::Additive)
        .into_result()
        .unwrap();
    // Crash at the resized file's swapon: the temp area is on, the file is off.
    e.kernel.fail_swapon_of(&e.file(), Errno::EIO);
    let r = e.ensure(&spec(32 * MIB), Risk::Disruptive);
    assert_eq!(r.exit_code(), 1, "{:?}", r.steps);
    let swaps = e.proc_swaps();
    assert!(swaps.contains("hostfix-swapover"), "{swaps}");
    assert!(!swaps.contains("/swapfile "), "{swaps}");
    // A run at the default cap brings the file back, and ends refused: retiring the
    // active temp area needs a swapoff, and the refusal says which cap that needs.
    let r = e.ensure(&spec(32 * MIB), Risk::Additive);
    assert_eq!(r.exit_code(), 3, "{:?}", r.error);
    let msg = r.error.as_ref().unwrap().to_string();
    assert!(
        msg.contains("swapoff /.swapfile.hostfix-swapover: needs --max-risk disruptive"),
        "{msg}"
    );
    e.assert_converged(32 * MIB);
    assert!(
        !e.root.read("/etc/fstab").contains("swapover"),
        "the temp area is never persisted"
    );
    // ...and a disruptive one retires it.
    let r = e.ensure(&spec(32 * MIB), Risk::Disruptive);
    assert!(r.is_ok(), "{:?}", r.error);
    assert!(!e.proc_swaps().contains("hostfix-swapover"));
    assert!(!e.root.join("/.swapfile.hostfix-swapover").exists());
    let r = e.ensure(&spec(32 * MIB), Risk::Disruptive);
    assert!(!r.changed);
    e.assert_converged(32 * MIB);
}

#[test]
fn world_readable_file_is_fixed() {
    let e = env();
    e.ensure(&spec(16 * MIB), Risk::Additive)
        .into_result()
        .unwrap();
    std::fs::set_permissions(e.file(), std::fs::Permissions::from_mode(0o644)).unwrap();
    if is_root_or_note("giving hostfix's file to uid 1000") {
        nix::unistd::chown(&e.file(), Some(1000.into()), Some(1000.into())).unwrap();
    }
    let r = e.ensure(&spec(16 * MIB), Risk::Additive);
    assert!(r.is_ok(), "{:?}", r.error);
    assert!(r.changed);
    e.assert_converged(16 * MIB);
    assert!(
        r.steps
            .iter()
            .any(|s| s.reason.contains("leaks memory contents"))
    );
}

#[test]
fn active_not_persisted_and_persisted_not_active() {
    let e = env();
    e.ensure(&spec(16 * MIB), Risk::Additive)
        .into_result()
        .unwrap();
    e.root.fstab("# emptied\n");
    let r = e.ensure(&spec(16 * MIB), Risk::Additive);
    assert!(r.is_ok() && r.changed);
    assert_eq!(
        e.root.read("/etc/fstab"),
        "# emptied\n/swapfile none swap sw,nofail 0 0\n"
    );
    e.kernel.rec.swapoff(&e.file()).unwrap();
    let r = e.ensure(&spec(16 * MIB), Risk::Additive);
    assert!(r.is_ok() && r.changed);
    e.assert_converged(16 * MIB);
}

#[test]
fn auto_size_is_capped_and_stable() {
    let e = env();
    let mut s = SwapSpec::new(SwapSize::Auto);
    s.keep_free = vec![];
    s.auto_max = 24 * MIB;
    let r = e.ensure(&s, Risk::Additive);
    assert!(r.is_ok(), "{:?}", r.error);
    let auto = r.result.auto.clone().unwrap();
    assert_eq!(
        auto.ram_based,
        24 * MIB,
        "4 GiB of RAM suggests 4 GiB, capped"
    );
    assert!(auto.reason.contains("the maximum"), "{}", auto.reason);
    e.assert_converged(24 * MIB);
    let r = e.ensure(&s, Risk::Additive);
    assert!(r.is_ok() && !r.changed, "{:#?}", r.steps);
}

#[test]
fn missing_fstab_is_created() {
    let e = env();
    std::fs::remove_file(e.root.join("/etc/fstab")).unwrap();
    let r = e.ensure(&spec(16 * MIB), Risk::Additive);
    assert!(r.is_ok(), "{:?}", r.error);
    assert_eq!(
        e.root.read("/etc/fstab"),
        "/swapfile none swap sw,nofail 0 0\n"
    );
    let m = std::fs::metadata(e.root.join("/etc/fstab")).unwrap();
    assert_eq!(m.mode() & 0o777, 0o644);
}

#[test]
fn own_duplicate_lines_collapse_and_other_lines_are_refused() {
    let e = env();
    e.ensure(&spec(16 * MIB), Risk::Additive)
        .into_result()
        .unwrap();
    // hostfix's own line twice (copied by hand): collapsed to one, where it stood.
    e.root.fstab(
        "# keep\n/swapfile none swap sw,nofail 0 0\nUUID=x / ext4 defaults 0 1\n\
         /swapfile none swap sw,nofail 0 0\n",
    );
    let r = e.ensure(&spec(16 * MIB), Risk::Additive);
    assert!(r.is_ok(), "{:?}", r.error);
    assert_eq!(
        e.root.read("/etc/fstab"),
        "# keep\n/swapfile none swap sw,nofail 0 0\nUUID=x / ext4 defaults 0 1\n"
    );
    e.assert_converged(16 * MIB);
    // Lines that name the file and are not hostfix's, however written: refused, kept.
    for theirs in [
        "/swapfile none swap sw 0 0\n",
        "/swapfile\tnone\tswap\tdefaults\t0\t0\n",
        "//swapfile none swap sw,nofail 0 0\n",
        "/swapfile none swap sw,nofail,pri=5 0 0\n",
    ] {
        let text = format!("# keep\n/swapfile none swap sw,nofail 0 0\n{theirs}");
        e.root.fstab(&text);
        let before = e.tree();
        let r = e.ensure(&spec(16 * MIB), Risk::Destructive);
        assert_eq!(r.exit_code(), 3, "{theirs:?}: {:?}", r.error);
        let msg = r.error.unwrap().to_string();
        assert!(msg.contains("/etc/fstab line 3"), "{msg}");
        assert!(
            msg.contains("hostfix never changes or removes a line it did not write"),
            "{msg}"
        );
        assert_eq!(e.tree(), before, "{theirs:?}");
    }
}

#[test]
fn refusals_touch_nothing() {
    type Setup = fn(&Env);
    let cases: [(&str, Setup, &str); 13] = [
        (
            "symlink",
            |e| std::os::unix::fs::symlink("/etc/passwd", e.file()).unwrap(),
            "symbolic link",
        ),
        (
            "directory",
            |e| std::fs::create_dir(e.file()).unwrap(),
            "directory",
        ),
        (
            "data",
            |e| std::fs::write(e.file(), b"precious data\n").unwrap(),
            "holding data",
        ),
        (
            "hibernation image",
            |e| {
                let mut b = vec![0u8; 16 << 20];
                b[4086..4095].copy_from_slice(b"S1SUSPEND");
                std::fs::write(e.file(), b).unwrap();
            },
            "holding a hibernation image",
        ),
        (
            "container",
            |e| {
                std::fs::create_dir_all(e.root.path().join("run/systemd")).unwrap();
                std::fs::write(e.root.path().join("run/systemd/container"), b"docker\n").unwrap();
            },
            "running in a container: docker",
        ),
        (
            "world-writable directory",
            |e| {
                std::fs::set_permissions(e.root.path(), std::fs::Permissions::from_mode(0o1777))
                    .unwrap();
            },
            "writable by every user",
        ),
        (
            "another user's zero-filled file (the issue's case)",
            |e| {
                std::fs::write(e.file(), vec![0u8; 16 << 20]).unwrap();
                std::fs::set_permissions(e.file(), std::fs::Permissions::from_mode(0o644)).unwrap();
                if is_root_or_note("a zero-filled file of uid 1000") {
                    nix::unistd::chown(&e.file(), Some(1000.into()), Some(1000.into())).unwrap();
                }
            },
            "holding only zeros",
        ),
        (
            "a swap area someone else made (mkswap), root 0600, no fstab line",
            |e| {
                let mut b = vec![0u8; 16 << 20];
                let h = hostfix::testing::swap::header::build_header(4096, 16 << 20, &[9; 16], "")
                    .unwrap();
                b[..4096].copy_from_slice(&h);
                std::fs::write(e.file(), b).unwrap();
                std::fs::set_permissions(e.file(), std::fs::Permissions::from_mode(0o600)).unwrap();
            },
            "hostfix has no record of creating it",
        ),
        (
            "the user's own fstab line for the path (pri=5, noauto)",
            |e| {
                e.root
                    .fstab("# mine\n/swapfile none swap pri=5,noauto 0 0\n");
            },
            "`/swapfile none swap pri=5,noauto 0 0` names /swapfile",
        ),
        (
            "a .swap unit the admin wrote",
            |e| {
                let dir = e.root.join("/etc/systemd/system");
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join("swapfile.swap"), "[Swap]\nWhat=/swapfile\n").unwrap();
            },
            "a .swap unit for /swapfile",
        ),
        (
            "a hard link to another file",
            |e| {
                std::fs::write(e.root.join("/precious"), vec![0u8; 16 << 20]).unwrap();
                std::fs::hard_link(e.root.join("/precious"), e.file()).unwrap();
            },
            "2 names (hard links)",
        ),
        (
            "a planted directory on the way",
            |e| {
                std::fs::create_dir(e.root.join("/var")).unwrap();
                std::fs::set_permissions(
                    e.root.join("/var"),
                    std::fs::Permissions::from_mode(0o777),
                )
                .unwrap();
            },
            "/var is writable by every user",
        ),
        (
            "a symbolic link on the way",
            |e| {
                std::fs::create_dir(e.root.join("/real")).unwrap();
                std::os::unix::fs::symlink("real", e.root.join("/var")).unwrap();
            },
            "/var is a symbolic link",
        ),
    ];
    for (name, setup, why) in cases {
        let e = env();
        setup(&e);
        let before = e.tree();
        let mut s = spec(16 * MIB);
        if name.contains("on the way") {
            s.path = "/var/swap/swapfile".into();
        }
        let r = e.ensure(&s, Risk::Destructive);
        assert_eq!(r.exit_code(), 3, "{name}: {:?}", r.error);
        let msg = r.error.as_ref().unwrap().to_string();
        assert!(msg.contains(why), "{name}: {msg}");
        assert_eq!(e.tree(), before, "{name}: nothing touched");
        assert!(e.kernel.swapons().is_empty(), "{name}");
    }
}

#[test]
fn disk_guard_refuses_and_is_settable() {
    let e = env();
    let mut s = spec(16 * MIB);
    s.keep_free = vec![hostfix::size::Threshold::Percent(100.0)];
    let r = e.ensure(&s, Risk::Additive);
    assert_eq!(r.exit_code(), 3);
    assert!(
        r.error
            .unwrap()
            .to_string()
            .contains("guard rule keep-free")
    );
    assert!(!e.file().exists());
    s.keep_free = vec![hostfix::size::Threshold::Absolute(MIB)];
    assert!(e.ensure(&s, Risk::Additive).is_ok());
}

#[test]
fn eperm_names_the_container_cause() {
    let e = env();
    e.kernel.rec.fail_next("swapon", Errno::EPERM);
    let r = e.ensure(&spec(16 * MIB), Risk::Additive);
    let msg = r.error.unwrap().to_string();
    assert!(
        msg.contains("not permitted (running in a container?)"),
        "{msg}"
    );
}

#[test]
fn systemd_unit_persistence_and_back() {
    let e = env();
    let mut s = spec(16 * MIB);
    s.persist = Persist::Systemd;
    s.priority = Some(7);
    let r = e.ensure(&s, Risk::Additive);
    assert!(r.is_ok(), "{:?}", r.error);
    let unit = std::fs::read_to_string(e.root.join("/etc/systemd/system/swapfile.swap")).unwrap();
    assert!(unit.contains("What=/swapfile\nPriority=7\n"), "{unit}");
    let link = std::fs::read_link(
        e.root
            .join("/etc/systemd/system/swap.target.wants/swapfile.swap"),
    )
    .unwrap();
    assert_eq!(link, PathBuf::from("../swapfile.swap"));
    assert!(!e.root.read("/etc/fstab").contains("/swapfile"));
    assert!(!e.ensure(&s, Risk::Additive).changed);
    // Back to fstab: the unit goes, one line comes.
    s.persist = Persist::Fstab;
    let r = e.ensure(&s, Risk::Additive);
    assert!(r.is_ok(), "{:?}", r.error);
    assert!(!e.root.join("/etc/systemd/system/swapfile.swap").exists());
    assert!(
        e.root
            .read("/etc/fstab")
            .contains("/swapfile none swap sw,nofail,pri=7 0 0")
    );
}

#[test]
fn escaped_paths_in_fstab_and_unit() {
    let e = env();
    std::fs::create_dir(e.root.join("/var")).unwrap();
    let mut s = spec(16 * MIB);
    s.path = "/var/my swap".into();
    let r = e.ensure(&s, Risk::Additive);
    assert!(r.is_ok(), "{:?}", r.error);
    assert!(
        e.root
            .read("/etc/fstab")
            .contains("/var/my\\040swap none swap sw,nofail 0 0")
    );
    assert!(e.proc_swaps().contains("my\\040swap"));
    assert!(
        !e.ensure(&s, Risk::Additive).changed,
        "the escaped line and entry are recognised"
    );
    s.persist = Persist::Systemd;
    e.ensure(&s, Risk::Additive).into_result().unwrap();
    assert!(
        e.root
            .join("/etc/systemd/system/var-my\\x20swap.swap")
            .exists()
    );
}

#[test]
fn swappiness_now_and_in_sysctl_d() {
    let e = env();
    let mut s = spec(16 * MIB);
    s.swappiness = Some(10);
    e.ensure(&s, Risk::Additive).into_result().unwrap();
    assert_eq!(
        std::fs::read_to_string(e.root.join("/proc/sys/vm/swappiness")).unwrap(),
        "10\n"
    );
    let conf = std::fs::read_to_string(e.root.join("/etc/sysctl.d/90-hostfix-swap.conf")).unwrap();
    assert!(conf.contains("vm.swappiness = 10\n"));
    assert!(!e.ensure(&s, Risk::Additive).changed);
}

#[test]
fn bad_input_is_exit_2_and_touches_nothing() {
    let e = env();
    let before = snapshot(e.root.path());
    for s in [
        {
            let mut s = spec(16 * MIB);
            s.priority = Some(40000);
            s
        },
        {
            let mut s = spec(16 * MIB);
            s.path = "relative".into();
            s
        },
        {
            let mut s = spec(16 * MIB);
            s.swappiness = Some(500);
            s
        },
        spec(1000),
    ] {
        let r = e.ensure(&s, Risk::Additive);
        assert_eq!(r.exit_code(), 2, "{:?}", r.error);
    }
    assert_eq!(snapshot(e.root.path()), before);
}

#[test]
fn remove_verifies_before_deleting() {
    let e = env();
    e.ensure(&spec(16 * MIB), Risk::Additive)
        .into_result()
        .unwrap();
    let opts = with(RemoveOptions::default(), |it| {
        it.path = "/swapfile".into();
    });
    // Not without the destructive cap: nothing touched.
    let r = remove_swap_file(
        &e.host,
        &opts,
        &Policy::new(Risk::Disruptive).state_dir("/state"),
    );
    assert_eq!(r.exit_code(), 3);
    assert!(e.proc_swaps().contains("/swapfile"));
    let r = remove_swap_file(
        &e.host,
        &opts,
        &Policy::new(Risk::Destructive).state_dir("/state"),
    );
    assert!(r.is_ok(), "{:?}", r.error);
    assert!(r.result.gone && r.result.was_active);
    assert!(!e.file().exists());
    assert!(!e.proc_swaps().contains("/swapfile"));
    assert!(!e.root.read("/etc/fstab").contains("/swapfile"));
    // Again: nothing to do.
    let r = remove_swap_file(
        &e.host,
        &opts,
        &Policy::new(Risk::Destructive).state_dir("/state"),
    );
    assert!(r.is_ok() && !r.changed);
    // A file that is not a swap area is never deleted.
    std::fs::write(e.file(), vec![0u8; 1 << 20]).unwrap();
    let r = remove_swap_file(
        &e.host,
        &opts,
        &Policy::new(Risk::Destructive).state_dir("/state"),
    );
    assert_eq!(r.exit_code(), 3);
    assert!(e.file().exists());
}

#[test]
fn remove_respects_the_memory_guard() {
    let e = env();
    e.ensure(&spec(16 * MIB), Risk::Additive)
        .into_result()
        .unwrap();
    // The kernel says 15 MiB of it is in use, and memory has 3 GiB: fine. Say memory is
    // short instead.
    std::fs::write(
        e.root.join("/proc/meminfo"),
        "MemTotal: 1048576 kB\nMemFree: 10000 kB\nMemAvailable: 20000 kB\nSwapTotal: 16380 kB\nSwapFree: 1000 kB\n",
    )
    .unwrap();
    let swaps = e.proc_swaps().replace("\t\t0\t\t", "\t\t15000\t\t");
    std::fs::write(e.root.join("/proc/swaps"), swaps).unwrap();
    let r = remove_swap_file(
        &e.host,
        &RemoveOptions::default(),
        &Policy::new(Risk::Destructive).state_dir("/state"),
    );
    assert_eq!(r.exit_code(), 3);
    assert!(r.error.unwrap().to_string().contains("MemAvailable"));
    assert!(e.file().exists());
    assert!(
        e.kernel
            .calls()
            .iter()
            .all(|c| !matches!(c, Call::Swapoff(_)))
    );
}

impl Env {
    fn doctor(&self) -> hostfix::doctor::Diagnosis {
        hostfix::doctor::diagnose(
            &self.host,
            &with(hostfix::doctor::DoctorOptions::default(), |it| {
                it.ports = vec![];
                it.disk_paths = vec![];
                it.state_dir = "/state".into();
            }),
            &Policy::new(Risk::ReadOnly).state_dir("/state"),
        )
        .result
    }

    fn swap_findings(&self) -> Vec<hostfix::doctor::Finding> {
        self.doctor()
            .findings
            .into_iter()
            .filter(|f| f.title.starts_with("swap file") || f.title.contains("fstab line"))
            .collect()
    }
}

#[test]
fn doctor_reports_swap_file_health_and_fixes() {
    let e = env();
    e.ensure(&spec(16 * MIB), Risk::Additive)
        .into_result()
        .unwrap();
    std::fs::set_permissions(e.file(), std::fs::Permissions::from_mode(0o644)).unwrap();
    e.root
        .fstab("/swapfile none swap sw,nofail 0 0\n/gone none swap sw,nofail 0 0\n");
    let swap = e.swap_findings();
    assert_eq!(swap.len(), 2, "{swap:#?}");
    let leak = swap.iter().find(|f| f.title.contains("/swapfile")).unwrap();
    assert_eq!(leak.severity, hostfix::doctor::Severity::Problem);
    assert_eq!(
        leak.fix.as_ref().unwrap().command,
        "hostfix swap ensure --size 16M"
    );
    // A line hostfix did not write, for a file that is not there: reported, and no
    // `swap ensure` offered (it would be refused).
    let gone = swap.iter().find(|f| f.title.contains("/gone")).unwrap();
    assert!(gone.title.contains("does not exist"), "{}", gone.title);
    assert!(
        gone.evidence
            .iter()
            .any(|e| e.contains("was not written by hostfix")),
        "{gone:#?}"
    );
    assert!(gone.fix.is_none(), "{gone:#?}");
    // The same for the user's own line naming hostfix's file.
    e.root.fstab("/swapfile none swap sw 0 0\n");
    let swap = e.swap_findings();
    let f = &swap[0];
    assert!(f.evidence.iter().any(|e| e.contains("lacks nofail")));
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("was not written by hostfix")),
        "{f:#?}"
    );
    assert!(f.fix.is_none());
    assert!(e.doctor().facts.contains_key("swap_files"));
}

#[test]
fn lock_serialises_runs() {
    let e = env();
    let _held =
        hostfix::testing::state::HostLock::acquire(&e.host, std::time::Duration::ZERO).unwrap();
    let mut s = spec(16 * MIB);
    s.lock_wait = std::time::Duration::from_millis(100);
    let r = e.ensure(&s, Risk::Additive);
    assert_eq!(r.exit_code(), 3);
    assert!(r.error.unwrap().to_string().contains("lock"));
    assert!(!e.file().exists());
}

#[test]
fn a_file_and_line_hostfix_did_not_make_are_never_adopted_changed_or_deleted() {
    // The case, whole: another user's zero-filled 0644 file at the path, and the
    // user's own fstab line for it (pri=5, noauto). ensure at every cap and remove at
    // every cap leave both byte for byte, and say what to do.
    let e = env();
    std::fs::write(e.file(), vec![0u8; 16 << 20]).unwrap();
    std::fs::set_permissions(e.file(), std::fs::Permissions::from_mode(0o644)).unwrap();
    if is_root_or_note("a zero-filled file of uid 1000") {
        nix::unistd::chown(&e.file(), Some(1000.into()), Some(1000.into())).unwrap();
    }
    e.root
        .fstab("# mine\n/swapfile none swap pri=5,noauto 0 0\n");
    let before = e.tree();
    for risk in [Risk::Additive, Risk::Disruptive, Risk::Destructive] {
        let r = e.ensure(&spec(16 * MIB), risk);
        assert_eq!(r.exit_code(), 3, "{risk}: {:?}", r.error);
        let msg = r.error.unwrap().to_string();
        assert!(msg.contains("hostfix did not create it"), "{msg}");
        assert!(msg.contains("remove it yourself"), "{msg}");
        let r = remove_swap_file(
            &e.host,
            &RemoveOptions::default(),
            &Policy::new(risk).state_dir("/state"),
        );
        assert_eq!(r.exit_code(), 3, "{risk}: {:?}", r.error);
        assert_eq!(e.tree(), before, "{risk}: nothing touched");
    }
    assert!(e.kernel.calls().is_empty(), "{:?}", e.kernel.calls());
}

#[test]
fn remove_takes_hostfix_lines_only_and_says_what_it_left() {
    let e = env();
    e.ensure(&spec(16 * MIB), Risk::Additive)
        .into_result()
        .unwrap();
    let own = "/swapfile none swap sw,nofail 0 0\n";
    // Another line names the file: deleting it would leave that line dangling. Refused.
    e.root.fstab(&format!(
        "# keep\n{own}/swapfile none swap pri=5,noauto 0 0\n"
    ));
    let before = e.tree();
    let destructive = Policy::new(Risk::Destructive).state_dir("/state");
    let r = remove_swap_file(&e.host, &RemoveOptions::default(), &destructive);
    assert_eq!(r.exit_code(), 3, "{:?}", r.error);
    assert!(r.error.unwrap().to_string().contains("/etc/fstab line 3"));
    assert_eq!(e.tree(), before);
    // Without it, hostfix's file, line and record go; the other lines stay byte for byte.
    e.root
        .fstab(&format!("# keep\n{own}UUID=x / ext4 defaults 0 1\n"));
    let r = remove_swap_file(&e.host, &RemoveOptions::default(), &destructive);
    assert!(r.is_ok(), "{:?}", r.error);
    assert!(!e.file().exists());
    assert_eq!(
        e.root.read("/etc/fstab"),
        "# keep\nUUID=x / ext4 defaults 0 1\n"
    );
    assert!(!e.root.join("/state/swap/swapfile.swap.json").exists());
    // The file gone, a line hostfix did not write stays, and the report says so.
    e.root
        .fstab("# keep\n/swapfile none swap pri=5,noauto 0 0\n");
    let r = remove_swap_file(&e.host, &RemoveOptions::default(), &destructive);
    assert!(r.is_ok() && !r.changed, "{:?}", r.error);
    let left = r
        .steps
        .iter()
        .find(|s| s.status == StepStatus::Skipped)
        .unwrap();
    assert_eq!(
        left.action,
        "leave /etc/fstab line 2 `/swapfile none swap pri=5,noauto 0 0` alone"
    );
    assert_eq!(left.detail, "not written by hostfix");
    assert_eq!(
        e.root.read("/etc/fstab"),
        "# keep\n/swapfile none swap pri=5,noauto 0 0\n"
    );
}

#[test]
fn an_earlier_hostfix_setup_is_adopted_then_managed() {
    // What hostfix before records wrote: a 0600 swap area of the host's owner and its
    // exact fstab line. Recognised, recorded (bookkeeping: no change), then managed.
    let e = env();
    let mut b = vec![0u8; 16 << 20];
    let h = hostfix::testing::swap::header::build_header(4096, 16 << 20, &[3; 16], "").unwrap();
    b[..4096].copy_from_slice(&h);
    std::fs::write(e.file(), b).unwrap();
    std::fs::set_permissions(e.file(), std::fs::Permissions::from_mode(0o600)).unwrap();
    e.root
        .fstab("# keep\n/swapfile none swap sw,nofail,pri=4 0 0\n");
    let r = e.ensure(&spec(16 * MIB), Risk::Additive);
    assert!(r.is_ok(), "{:?}", r.error);
    assert!(
        r.steps
            .iter()
            .any(|s| s.action == "record /swapfile as hostfix's"
                && s.detail.starts_with("recorded (adopted)")),
        "{:#?}",
        r.steps
    );
    let rec = std::fs::read_to_string(e.root.join("/state/swap/swapfile.swap.json")).unwrap();
    assert!(
        rec.contains("/swapfile none swap sw,nofail,pri=4 0 0"),
        "{rec}"
    );
    assert_eq!(
        e.root.read("/etc/fstab"),
        "# keep\n/swapfile none swap sw,nofail,pri=4 0 0\n",
        "its priority kept"
    );
    assert!(e.proc_swaps().contains("/swapfile"));
    assert!(!e.ensure(&spec(16 * MIB), Risk::Additive).changed);
    let r = remove_swap_file(
        &e.host,
        &RemoveOptions::default(),
        &Policy::new(Risk::Destructive).state_dir("/state"),
    );
    assert!(r.is_ok(), "{:?}", r.error);
    assert!(!e.file().exists());
    assert_eq!(e.root.read("/etc/fstab"), "# keep\n");
}

/// A crash point of a resize reachable through the seam: the call that fails.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// The temp area's swapon (it is built, inactive).
    TempSwapon,
    /// The file's swapoff (the temp area is on, the file still on).
    FileSwapoff,
    /// The resized file's swapon (the temp area is on, the file off and resized).
    FileSwapon,
    /// The temp area's swapoff (both on).
    TempSwapoff,
}

#[test]
fn a_resize_killed_at_each_call_converges_and_doctor_says_how() {
    let temp_path = "/.swapfile.hostfix-swapover";
    for kill in [
        Kill::TempSwapon,
        Kill::FileSwapoff,
        Kill::FileSwapon,
        Kill::TempSwapoff,
    ] {
        let e = env();
        e.ensure(&spec(16 * MIB), Risk::Additive)
            .into_result()
            .unwrap();
        let temp = e.root.join(temp_path);
        match kill {
            Kill::TempSwapon => e.kernel.fail_swapon_of(&temp, Errno::EIO),
            Kill::FileSwapoff => e.kernel.fail_swapoff_of(&e.file(), Errno::EIO),
            Kill::FileSwapon => e.kernel.fail_swapon_of(&e.file(), Errno::EIO),
            Kill::TempSwapoff => e.kernel.fail_swapoff_of(&temp, Errno::EIO),
        }
        let r = e.ensure(&spec(32 * MIB), Risk::Disruptive);
        assert_eq!(r.exit_code(), 1, "{kill:?}: {:#?}", r.steps);
        let temp_on = e.proc_swaps().contains("hostfix-swapover");
        // doctor: the swap file's own command, disruptive exactly when the temp area is
        // on or the resize is still to do; never one naming or persisting the temp area.
        let findings = e.swap_findings();
        assert_eq!(findings.len(), 1, "{kill:?}: {findings:#?}");
        let fix = findings[0].fix.clone().expect("a fix");
        assert!(
            !fix.command.contains("swapover"),
            "{kill:?}: {}",
            fix.command
        );
        assert!(
            fix.command.starts_with("hostfix swap ensure --size 32M"),
            "{kill:?}: {}",
            fix.command
        );
        let resize_left = matches!(kill, Kill::TempSwapon | Kill::FileSwapoff);
        assert_eq!(
            fix.risk == Risk::Disruptive,
            temp_on || resize_left,
            "{kill:?}"
        );
        // The next run at the default cap: its own leftovers that additive allows are
        // cleaned, and it ends either converged or refused naming the cap it needs.
        let r = e.ensure(&spec(32 * MIB), Risk::Additive);
        match r.exit_code() {
            0 => e.assert_converged(32 * MIB),
            3 => {
                let msg = r.error.as_ref().unwrap().to_string();
                assert!(
                    msg.contains("needs --max-risk disruptive"),
                    "{kill:?}: {msg}"
                );
            }
            c => panic!("{kill:?}: exit {c}: {:?}", r.error),
        }
        assert!(!e.root.read("/etc/fstab").contains("swapover"), "{kill:?}");
        if !e.proc_swaps().contains("hostfix-swapover") {
            assert!(
                !temp.exists(),
                "{kill:?}: an inactive leftover was left on disk"
            );
        }
        // doctor's command, as given, converges the host.
        let r = e.ensure(&spec(32 * MIB), fix.risk);
        assert!(r.is_ok(), "{kill:?}: {:?}\n{:#?}", r.error, r.steps);
        e.assert_converged(32 * MIB);
        assert!(!temp.exists() && !e.proc_swaps().contains("hostfix-swapover"));
        assert!(
            !e.ensure(&spec(32 * MIB), Risk::Additive).changed,
            "{kill:?}"
        );
        let rec = std::fs::read_to_string(e.root.join("/state/swap/swapfile.swap.json")).unwrap();
        assert!(rec.contains("\"temp\": null"), "{kill:?}: {rec}");
    }
}

#[test]
fn doctor_flags_a_persisted_swap_over_area_and_never_offers_to_persist_one() {
    // What following an earlier doctor's advice left: the swap-over area of a killed
    // resize active, and persisted in fstab as if it were a swap file.
    let e = env();
    e.ensure(&spec(16 * MIB), Risk::Additive)
        .into_result()
        .unwrap();
    e.kernel.fail_swapon_of(&e.file(), Errno::EIO);
    assert_eq!(e.ensure(&spec(32 * MIB), Risk::Disruptive).exit_code(), 1);
    let mut fstab = e.root.read("/etc/fstab");
    fstab.push_str("/.swapfile.hostfix-swapover none swap sw,nofail 0 0\n");
    e.root.fstab(&fstab);
    let findings = e.swap_findings();
    let persisted = findings
        .iter()
        .find(|f| f.title.contains("persists /.swapfile.hostfix-swapover"))
        .unwrap_or_else(|| panic!("{findings:#?}"));
    assert!(persisted.fix.is_none());
    assert!(
        persisted
            .evidence
            .iter()
            .any(|e| e.contains("remove this line from /etc/fstab yourself"))
    );
    for f in &findings {
        if let Some(fix) = &f.fix {
            assert!(!fix.command.contains("swapover"), "{}", fix.command);
        }
    }
    // ensure refuses the swap-over name as a path: it is never persisted by hostfix.
    let mut s = spec(32 * MIB);
    s.path = "/.swapfile.hostfix-swapover".into();
    assert_eq!(e.ensure(&s, Risk::Destructive).exit_code(), 2);
}
