//! Root tests on the real kernel: loop-mounted ext4, xfs, btrfs and ext2 images made by
//! the test get real swap files that `/proc/swaps` lists (and `blkid`/`swaplabel` read),
//! then resized and removed; tmpfs and multi-device btrfs are refused; every convergence
//! state is set up on disk and healed; eight real `hostfix` processes race.
//!
//! Files live under a fake root (`ROOT/mnt` is the loop mount, `ROOT/etc/fstab` the
//! fstab, `ROOT/proc` links to the real `/proc` except a fake `vm/swappiness`), so the
//! machine's own fstab and sysctls are never touched. Guards swap off, unmount and detach
//! even when a test fails.

mod swap_support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use hostfix::size::Threshold;
use hostfix::swap::{RemoveOptions, SwapSize, SwapSpec, ensure_swap_file, remove_swap_file};
use hostfix::testing::LiveSystem;
use hostfix::testing::swap::header::{Signature, read_signature};
use hostfix::testing::swap::planner::kernel_size_matches;
use hostfix::testing::with;
use hostfix::{Host, Policy, Risk};
use nix::errno::Errno;
use serial_test::serial;
use swap_support::{
    FakeRoot, LoopFs, MIB, flaky_swapon, live_root, real_swaps_under, root_or_skip, sh, snapshot,
    write_intent_record,
};

const FILE: &str = "/mnt/swapfile";

fn host(root: &FakeRoot) -> Host {
    Host::live_at(root.path())
}

fn spec(size: u64) -> SwapSpec {
    let mut s = SwapSpec::new(SwapSize::Bytes(size));
    s.path = FILE.into();
    s.keep_free = vec![Threshold::Absolute(8 * MIB)];
    s.label = Some("hostfix-test".into());
    s
}

fn policy(risk: Risk) -> Policy {
    Policy::new(risk).state_dir("/state")
}

fn header_uuid(file: &Path) -> String {
    let b = std::fs::read(file).unwrap();
    match read_signature(&b[..b.len().min(65536)]) {
        Signature::Swap(h) => h.uuid,
        s => panic!("{}: no swap header: {s:?}", file.display()),
    }
}

/// The file is a real, active swap area of `size` that blkid and swaplabel read, mode
/// 0600 root, with exactly one fstab line naming the host path.
fn assert_active(root: &FakeRoot, fs: &LoopFs, size: u64) {
    let real = root.join(FILE);
    let entries = real_swaps_under(&fs.mount);
    assert_eq!(entries.len(), 1, "{entries:#?}");
    assert_eq!(
        std::fs::canonicalize(&entries[0].path).unwrap(),
        std::fs::canonicalize(&real).unwrap()
    );
    assert!(
        kernel_size_matches(entries[0].size_bytes, size, 4096),
        "/proc/swaps says {} for a {size}-byte file",
        entries[0].size_bytes
    );
    let m = std::fs::metadata(&real).unwrap();
    assert_eq!(m.len(), size);
    assert_eq!(m.mode() & 0o7777, 0o600);
    assert_eq!((m.uid(), m.gid()), (0, 0));
    let uuid = header_uuid(&real);
    let blkid = sh("blkid", &["-p", "-o", "export", real.to_str().unwrap()]);
    assert!(blkid.contains("TYPE=swap"), "{blkid}");
    assert!(blkid.contains(&format!("UUID={uuid}")), "{blkid}");
    let label = sh("swaplabel", &[real.to_str().unwrap()]);
    assert!(label.contains(&uuid), "{label}");
    let fstab = root.read("/etc/fstab");
    assert_eq!(fstab.matches(FILE).count(), 1, "{fstab}");
    assert!(
        fstab.contains("/mnt/swapfile none swap sw,nofail 0 0\n"),
        "{fstab}"
    );
}

/// ensure → unchanged second run → grow and shrink (disruptive, swap-over) → remove.
fn full_cycle(mkfs: &[&str], image_mib: u64) -> Option<(FakeRoot, LoopFs)> {
    if !root_or_skip(&[mkfs[0], "losetup", "blkid", "swaplabel"]) {
        return None;
    }
    let root = live_root();
    let fs = LoopFs::new(mkfs, image_mib, 1, &root.join("/mnt"));
    let h = host(&root);
    let r = ensure_swap_file(&h, &spec(32 * MIB), &policy(Risk::Additive));
    assert!(r.is_ok(), "{:?}\n{:#?}", r.error, r.steps);
    assert!(r.changed);
    assert_active(&root, &fs, 32 * MIB);
    let label = sh("swaplabel", &[root.join(FILE).to_str().unwrap()]);
    assert!(label.contains("LABEL: hostfix-test"), "{label}");
    let uuid = header_uuid(&root.join(FILE));

    let before = snapshot(&fs.mount);
    let r = ensure_swap_file(&h, &spec(32 * MIB), &policy(Risk::Additive));
    assert!(r.is_ok() && !r.changed, "{:?} {:#?}", r.error, r.steps);
    assert_eq!(snapshot(&fs.mount), before);

    // Resizing an active file needs disruptive; refused without, nothing touched.
    let r = ensure_swap_file(&h, &spec(48 * MIB), &policy(Risk::Additive));
    assert_eq!(r.exit_code(), 3);
    assert_eq!(snapshot(&fs.mount), before);
    for size in [48 * MIB, 24 * MIB] {
        let r = ensure_swap_file(&h, &spec(size), &policy(Risk::Disruptive));
        assert!(r.is_ok(), "{:?}\n{:#?}", r.error, r.steps);
        assert_active(&root, &fs, size);
        assert_eq!(
            header_uuid(&root.join(FILE)),
            uuid,
            "a resize keeps the UUID"
        );
        assert!(!root.join("/mnt/.swapfile.hostfix-swapover").exists());
    }

    let r = remove_swap_file(
        &h,
        &with(RemoveOptions::default(), |it| {
            it.path = FILE.into();
        }),
        &policy(Risk::Destructive),
    );
    assert!(r.is_ok(), "{:?}\n{:#?}", r.error, r.steps);
    assert!(real_swaps_under(&fs.mount).is_empty());
    assert!(!root.join(FILE).exists());
    assert!(!root.read("/etc/fstab").contains(FILE));
    Some((root, fs))
}

#[test]
#[serial]
fn ext4_create_resize_remove() {
    full_cycle(&["mkfs.ext4", "-q", "-F"], 256);
}

#[test]
#[serial]
fn xfs_create_resize_remove() {
    full_cycle(&["mkfs.xfs", "-q", "-f"], 320);
}

#[test]
#[serial]
fn btrfs_create_resize_remove_with_nocow() {
    if !root_or_skip(&["mkfs.btrfs", "lsattr"]) {
        return;
    }
    let root = live_root();
    let fs = LoopFs::new(&["mkfs.btrfs", "-q", "-f"], 256, 1, &root.join("/mnt"));
    let h = host(&root);
    let r = ensure_swap_file(&h, &spec(32 * MIB), &policy(Risk::Additive));
    assert!(r.is_ok(), "{:?}\n{:#?}", r.error, r.steps);
    assert!(r.steps.iter().any(|s| s.action.starts_with("set NOCOW")));
    assert_active(&root, &fs, 32 * MIB);
    let attrs = sh("lsattr", &[root.join(FILE).to_str().unwrap()]);
    assert!(
        attrs.split_whitespace().next().unwrap().contains('C'),
        "{attrs}"
    );
    drop(fs);
    // The whole cycle, on a fresh filesystem.
    full_cycle(&["mkfs.btrfs", "-q", "-f"], 256);
}

#[test]
#[serial]
fn ext2_without_fallocate_falls_back_to_zeros() {
    if !root_or_skip(&["mkfs.ext2"]) {
        return;
    }
    let root = live_root();
    let fs = LoopFs::new(&["mkfs.ext2", "-q", "-F"], 128, 1, &root.join("/mnt"));
    let r = ensure_swap_file(&host(&root), &spec(32 * MIB), &policy(Risk::Additive));
    assert!(r.is_ok(), "{:?}\n{:#?}", r.error, r.steps);
    let alloc = r
        .steps
        .iter()
        .find(|s| s.action.starts_with("allocate"))
        .unwrap();
    assert!(alloc.detail.contains("zeros"), "{}", alloc.detail);
    assert!(alloc.detail.contains("not supported"), "{}", alloc.detail);
    assert_active(&root, &fs, 32 * MIB);
}

#[test]
#[serial]
fn tmpfs_is_refused_clearly() {
    if !root_or_skip(&[]) {
        return;
    }
    let root = live_root();
    let mnt = root.join("/mnt");
    let _guard = swap_support::mounts::tmpfs(&mnt, "size=64M,mode=0755");
    let r = ensure_swap_file(&host(&root), &spec(16 * MIB), &policy(Risk::Destructive));
    assert_eq!(r.exit_code(), 3);
    let msg = r.error.unwrap().to_string();
    assert!(msg.contains("tmpfs"), "{msg}");
    assert!(!root.join(FILE).exists());
    assert!(!root.read("/etc/fstab").contains(FILE));
}

#[test]
#[serial]
fn multi_device_btrfs_is_refused() {
    if !root_or_skip(&["mkfs.btrfs"]) {
        return;
    }
    let root = live_root();
    let fs = LoopFs::new(
        &["mkfs.btrfs", "-q", "-f", "-d", "single", "-m", "single"],
        256,
        2,
        &root.join("/mnt"),
    );
    let r = ensure_swap_file(&host(&root), &spec(16 * MIB), &policy(Risk::Destructive));
    assert_eq!(r.exit_code(), 3, "{:#?}", r.steps);
    let msg = r.error.unwrap().to_string();
    assert!(msg.contains("2 devices"), "{msg}");
    assert!(!root.join(FILE).exists());
    assert!(real_swaps_under(&fs.mount).is_empty());
}

/// hostfix's record for [`FILE`] under the test root.
const RECORD: &str = "/state/swap/mnt-swapfile.swap.json";

/// Resets the filesystem (and hostfix's record) between convergence cases.
fn reset(root: &FakeRoot, fs: &LoopFs) {
    for e in real_swaps_under(&fs.mount) {
        LiveSystem.swapoff_path(&e.path);
    }
    for entry in std::fs::read_dir(&fs.mount).unwrap() {
        let p = entry.unwrap().path();
        if p.file_name().is_some_and(|n| n != "lost+found") {
            std::fs::remove_file(&p).unwrap();
        }
    }
    let _ = std::fs::remove_file(root.join(RECORD));
    root.fstab("# fstab of a test root\n");
}

trait SwapoffPath {
    fn swapoff_path(&self, p: &Path);
}

impl SwapoffPath for LiveSystem {
    fn swapoff_path(&self, p: &Path) {
        use hostfix::testing::System;
        self.swapoff(p).unwrap();
    }
}

fn mkswap(file: &Path, mode: u32) {
    sh("mkswap", &["-q", file.to_str().unwrap()]);
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
#[serial]
fn every_state_converges_on_disk() {
    if !root_or_skip(&["mkfs.ext4", "fallocate", "dd"]) {
        return;
    }
    let root = live_root();
    let fs = LoopFs::ext4(&root.join("/mnt"));
    let h = host(&root);
    let file = root.join(FILE);
    let f = file.to_str().unwrap().to_string();
    let make = |size: u64| {
        ensure_swap_file(&h, &spec(size), &policy(Risk::Additive))
            .into_result()
            .unwrap();
    };
    let intent = || {
        write_intent_record(
            root.path(),
            "/state",
            FILE,
            "mnt-swapfile.swap",
            "33333333-4444-4555-8666-777777777777",
        )
    };
    type Setup<'a> = Box<dyn Fn() + 'a>;
    // Every state is hostfix's own: made by it, then changed, or left by a killed run.
    let cases: Vec<(&str, Setup<'_>)> = vec![
        ("missing", Box::new(|| {})),
        (
            "zeros, no header (create killed before it was recorded)",
            Box::new(|| {
                intent();
                sh(
                    "dd",
                    &[
                        "if=/dev/zero",
                        &format!("of={f}"),
                        "bs=1M",
                        "count=16",
                        "status=none",
                    ],
                );
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
            }),
        ),
        (
            "empty file (create killed before it was recorded)",
            Box::new(|| {
                intent();
                std::fs::write(&file, b"").unwrap();
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
            }),
        ),
        (
            "holes punched into hostfix's inactive file",
            Box::new(|| {
                make(16 * MIB);
                LiveSystem.swapoff_path(&file);
                sh("fallocate", &["--punch-hole", "-o", "4M", "-l", "4M", &f]);
            }),
        ),
        (
            "wrong size, inactive",
            Box::new(|| {
                make(8 * MIB);
                LiveSystem.swapoff_path(&file);
            }),
        ),
        (
            "world-readable, active, not persisted",
            Box::new(|| {
                make(16 * MIB);
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
                root.fstab("# fstab of a test root\n");
            }),
        ),
        (
            "persisted, not active",
            Box::new(|| {
                make(16 * MIB);
                LiveSystem.swapoff_path(&file);
            }),
        ),
        (
            "hostfix's line twice",
            Box::new(|| {
                make(16 * MIB);
                root.fstab(
                    "/mnt/swapfile none swap sw,nofail 0 0\n# comment\n\
                     /mnt/swapfile none swap sw,nofail 0 0\n",
                );
            }),
        ),
    ];
    for (name, setup) in cases {
        reset(&root, &fs);
        setup();
        let r = ensure_swap_file(&h, &spec(16 * MIB), &policy(Risk::Additive));
        assert!(r.is_ok(), "{name}: {:?}\n{:#?}", r.error, r.steps);
        assert!(r.changed, "{name}");
        assert_active(&root, &fs, 16 * MIB);
        let again = ensure_swap_file(&h, &spec(16 * MIB), &policy(Risk::Additive));
        assert!(
            again.is_ok() && !again.changed,
            "{name}: second run {:#?}",
            again.steps
        );
    }
    drop(fs);
}

#[test]
#[serial]
fn a_swap_file_hostfix_did_not_make_is_never_touched() {
    if !root_or_skip(&["mkfs.ext4", "mkswap", "fallocate"]) {
        return;
    }
    let root = live_root();
    let fs = LoopFs::ext4(&root.join("/mnt"));
    let h = host(&root);
    let file = root.join(FILE);
    let f = file.to_str().unwrap().to_string();
    // Made by hand (fallocate + mkswap, root 0600), with the admin's own line; and the
    // same after hostfix's own file was deleted and replaced (the record names another
    // file now, even where the inode number is reused).
    for replaced in [false, true] {
        reset(&root, &fs);
        if replaced {
            ensure_swap_file(&h, &spec(16 * MIB), &policy(Risk::Additive))
                .into_result()
                .unwrap();
            LiveSystem.swapoff_path(&file);
            std::fs::remove_file(&file).unwrap();
        }
        sh("fallocate", &["-l", "16M", &f]);
        mkswap(&file, 0o600);
        root.fstab("# mine\n/mnt/swapfile none swap pri=5,noauto 0 0\n");
        let before = snapshot(root.path());
        let before: Vec<_> = before
            .into_iter()
            // The host lock (ROOT/run/hostfix) is hostfix's own.
            .filter(|(p, _)| !p.ends_with("lock") && !p.starts_with(root.join("/run")))
            .collect();
        for risk in [Risk::Additive, Risk::Destructive] {
            let r = ensure_swap_file(&h, &spec(16 * MIB), &policy(risk));
            assert_eq!(r.exit_code(), 3, "{replaced} {risk}: {:?}", r.error);
            let msg = r.error.unwrap().to_string();
            assert!(msg.contains("hostfix did not create it"), "{msg}");
            let r = remove_swap_file(
                &h,
                &with(RemoveOptions::default(), |it| {
                    it.path = FILE.into();
                }),
                &policy(risk),
            );
            assert_eq!(r.exit_code(), 3, "{replaced} {risk}: {:?}", r.error);
        }
        let after: Vec<_> = snapshot(root.path())
            .into_iter()
            // The host lock (ROOT/run/hostfix) is hostfix's own.
            .filter(|(p, _)| !p.ends_with("lock") && !p.starts_with(root.join("/run")))
            .collect();
        assert_eq!(after, before, "replaced={replaced}: nothing touched");
        assert!(real_swaps_under(&fs.mount).is_empty());
    }
}

#[test]
#[serial]
fn crashes_between_steps_converge() {
    if !root_or_skip(&["mkfs.ext4"]) {
        return;
    }
    let root = live_root();
    let fs = LoopFs::ext4(&root.join("/mnt"));
    let real = root.join(FILE);
    // Crash at swapon (after create, allocate, header).
    let fh = Host::with_system(root.path(), flaky_swapon(&real, Errno::EIO));
    let r = ensure_swap_file(&fh, &spec(16 * MIB), &policy(Risk::Additive));
    assert_eq!(r.exit_code(), 1);
    assert!(real_swaps_under(&fs.mount).is_empty());
    let r = ensure_swap_file(&host(&root), &spec(16 * MIB), &policy(Risk::Additive));
    assert!(r.is_ok(), "{:?}", r.error);
    assert_active(&root, &fs, 16 * MIB);

    // Crash in the middle of a swap-over: the temp area is on, the file off and resized.
    let fh = Host::with_system(root.path(), flaky_swapon(&real, Errno::EIO));
    let r = ensure_swap_file(&fh, &spec(32 * MIB), &policy(Risk::Disruptive));
    assert_eq!(r.exit_code(), 1, "{:#?}", r.steps);
    let on = real_swaps_under(&fs.mount);
    assert_eq!(on.len(), 1);
    assert!(
        on[0].path.ends_with(".swapfile.hostfix-swapover"),
        "swap never went away: {on:?}"
    );
    let r = ensure_swap_file(&host(&root), &spec(32 * MIB), &policy(Risk::Disruptive));
    assert!(r.is_ok(), "{:?}\n{:#?}", r.error, r.steps);
    assert_active(&root, &fs, 32 * MIB);
    assert!(!root.join("/mnt/.swapfile.hostfix-swapover").exists());
}

#[test]
#[serial]
fn kill_dash_nine_at_any_moment_converges() {
    if !root_or_skip(&["mkfs.ext2"]) {
        return;
    }
    let root = live_root();
    // ext2: no fallocate, so the file is written with zeros and there is time to die in.
    let fs = LoopFs::new(&["mkfs.ext2", "-q", "-F"], 256, 1, &root.join("/mnt"));
    let bin = env!("CARGO_BIN_EXE_hostfix");
    let args = |extra: &[&str]| {
        let mut a = vec![
            "--root".to_string(),
            root.path().display().to_string(),
            "--state-dir".into(),
            "/state".into(),
            "swap".into(),
            "ensure".into(),
            "--path".into(),
            FILE.into(),
            "--keep-free".into(),
            "8M".into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    for delay_ms in [0u64, 5, 20, 60, 150] {
        let mut child = Command::new(bin)
            .args(args(&["--size", "64M"]))
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        // Our own child, by its pid.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = child.wait();
        let real = root.join(FILE);
        eprintln!(
            "killed at {delay_ms} ms: file {:?}, active {}",
            std::fs::metadata(&real)
                .ok()
                .map(|m| (m.len(), m.blocks() * 512)),
            !real_swaps_under(&fs.mount).is_empty()
        );
        let out = Command::new(bin)
            .args(args(&["--size", "64M"]))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "after kill at {delay_ms} ms: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_active(&root, &fs, 64 * MIB);
        reset(&root, &fs);
    }
}

#[test]
#[serial]
fn a_file_bind_mounted_over_the_path_is_refused() {
    if !root_or_skip(&["mkfs.ext4", "mount", "umount"]) {
        return;
    }
    let root = live_root();
    let fs = LoopFs::ext4(&root.join("/mnt"));
    let h = host(&root);
    // hostfix's own file, then another file bind-mounted over its path.
    ensure_swap_file(&h, &spec(16 * MIB), &policy(Risk::Additive))
        .into_result()
        .unwrap();
    LiveSystem.swapoff_path(&root.join(FILE));
    let other = root.join("/mnt/other");
    std::fs::write(&other, vec![0u8; 16 << 20]).unwrap();
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o600)).unwrap();
    let target = root.join(FILE);
    let guard = swap_support::mounts::bind(&other, &target);
    let before = std::fs::read(&other).unwrap();
    for risk in [Risk::Additive, Risk::Destructive] {
        let r = ensure_swap_file(&h, &spec(16 * MIB), &policy(risk));
        assert_eq!(r.exit_code(), 3, "{risk}: {:?}", r.error);
        assert!(
            r.error.unwrap().to_string().contains("bind mount"),
            "{risk}"
        );
        let r = remove_swap_file(
            &h,
            &with(RemoveOptions::default(), |it| {
                it.path = FILE.into();
            }),
            &policy(risk),
        );
        assert_eq!(r.exit_code(), 3, "{risk}: {:?}", r.error);
    }
    assert_eq!(
        std::fs::read(&other).unwrap(),
        before,
        "the bound file untouched"
    );
    assert!(real_swaps_under(&fs.mount).is_empty());
    drop(guard);
    // Unmounted, hostfix's own file is its own again.
    let r = ensure_swap_file(&h, &spec(16 * MIB), &policy(Risk::Additive));
    assert!(r.is_ok(), "{:?}", r.error);
    assert_active(&root, &fs, 16 * MIB);
}

/// Runs hostfix on the test root; (exit code, stdout, stderr).
fn run_hostfix(root: &FakeRoot, args: &[String]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hostfix"))
        .arg("--root")
        .arg(root.path())
        .args(["--state-dir", "/state"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
#[serial]
fn a_resize_killed_for_real_converges_and_doctor_names_the_fix() {
    if !root_or_skip(&["mkfs.ext2"]) {
        return;
    }
    let root = live_root();
    // ext2: no fallocate, so both areas are written with zeros and there is time to die.
    // 4 KiB blocks: on 1 KiB blocks the kernel uses only the pages whose blocks happen to
    // be page-aligned, which after a resize can be a third of the file.
    let fs = LoopFs::new(
        &["mkfs.ext2", "-q", "-F", "-b", "4096"],
        256,
        1,
        &root.join("/mnt"),
    );
    let h = host(&root);
    let temp = root.join("/mnt/.swapfile.hostfix-swapover");
    let ensure = |size: &str, extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = ["swap", "ensure", "--path", FILE, "--keep-free", "8M"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.extend(["--size".to_string(), size.to_string()]);
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    // How long a whole resize takes here, to spread the kills over it.
    reset(&root, &fs);
    assert_eq!(run_hostfix(&root, &ensure("32M", &[])).0, 0);
    let started = std::time::Instant::now();
    let (code, out, err) = run_hostfix(&root, &ensure("96M", &["--max-risk", "disruptive"]));
    assert_eq!(code, 0, "{out}{err}");
    let whole = started.elapsed().as_millis() as u64;
    eprintln!("a whole resize took {whole} ms");
    let mut seen = std::collections::BTreeSet::new();
    for delay_ms in (0..=12).map(|k| whole * k / 12) {
        reset(&root, &fs);
        let (code, out, err) = run_hostfix(&root, &ensure("32M", &[]));
        assert_eq!(code, 0, "{out}{err}");
        let mut child = Command::new(env!("CARGO_BIN_EXE_hostfix"))
            .arg("--root")
            .arg(root.path())
            .args(["--state-dir", "/state"])
            .args(ensure("96M", &["--max-risk", "disruptive"]))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        // Our own child, by its pid.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = child.wait();
        let temp_on = real_swaps_under(&fs.mount)
            .iter()
            .any(|e| e.path.ends_with(".swapfile.hostfix-swapover"));
        let state = format!(
            "file {:?} on {}, temp {:?} on {temp_on}",
            std::fs::metadata(root.join(FILE))
                .ok()
                .map(|m| m.len() >> 20),
            real_swaps_under(&fs.mount)
                .iter()
                .any(|e| e.path.ends_with("swapfile")),
            std::fs::metadata(&temp).ok().map(|m| m.len() >> 20),
        );
        eprintln!("killed at {delay_ms} ms: {state}");
        seen.insert(state.clone());
        // doctor, before anything else runs: the swap file's own command, never one
        // that names (and would persist) the temporary area.
        let d = hostfix::doctor::diagnose(
            &h,
            &with(hostfix::doctor::DoctorOptions::default(), |it| {
                it.ports = vec![];
                it.disk_paths = vec![];
                it.state_dir = "/state".into();
            }),
            &policy(Risk::ReadOnly),
        )
        .result;
        // (The test root's /proc is the machine's: only this test's file counts. Swap
        // areas of other roots, another test's for instance, show with their real path,
        // which may end in /mnt/swapfile too: a finding is ours when it names a host path
        // under this root's /mnt, never when it merely contains FILE. Running a foreign
        // finding's fix here would make and swap on a file for it.)
        let ours: Vec<_> = d
            .findings
            .iter()
            .filter(|f| {
                f.title.starts_with("swap file /mnt/") || f.title.contains(" persists /mnt/")
            })
            .collect();
        let fixes: Vec<_> = ours.iter().filter_map(|f| f.fix.clone()).collect();
        for fix in &fixes {
            assert!(
                !fix.command.contains("swapover"),
                "{state}: {}",
                fix.command
            );
            assert!(fix.command.contains(FILE), "{state}: {}", fix.command);
        }
        // The next run at the default cap: converged, or refused naming the cap; its
        // own inactive leftovers gone, the temporary area never in fstab.
        let (code, out, err) = run_hostfix(&root, &ensure("96M", &[]));
        assert!(
            code == 0 || (code == 3 && out.contains("needs --max-risk disruptive")),
            "{state}: exit {code}\n{out}{err}"
        );
        assert!(!root.read("/etc/fstab").contains("swapover"), "{state}");
        let temp_on = real_swaps_under(&fs.mount)
            .iter()
            .any(|e| e.path.ends_with(".swapfile.hostfix-swapover"));
        assert!(
            temp_on || !temp.exists(),
            "{state}: an inactive leftover stayed"
        );
        // doctor's fix, as given (plus this small disk's --keep-free), converges.
        let fix = fixes.first().map(|f| f.command.clone());
        let args: Vec<String> = match &fix {
            Some(c) => {
                let mut a: Vec<String> = c.split_whitespace().skip(1).map(String::from).collect();
                a.extend(["--keep-free".into(), "8M".into()]);
                a
            }
            None => ensure("96M", &["--max-risk", "disruptive"]),
        };
        let (code, out, err) = run_hostfix(&root, &args);
        assert_eq!(code, 0, "{state}: {fix:?}\n{out}{err}");
        assert_active(&root, &fs, 96 * MIB);
        assert!(!temp.exists(), "{state}");
        let (code, out, _) = run_hostfix(&root, &ensure("96M", &["--json"]));
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("\"changed\": false"), "{state}: {out}");
    }
    eprintln!("states seen: {seen:#?}");
}

#[test]
#[serial]
fn data_and_symlinks_are_never_touched() {
    if !root_or_skip(&["mkfs.ext4"]) {
        return;
    }
    let root = live_root();
    let fs = LoopFs::ext4(&root.join("/mnt"));
    let h = host(&root);
    std::fs::write(root.join("/mnt/precious"), b"do not lose me").unwrap();
    std::os::unix::fs::symlink("precious", root.join(FILE)).unwrap();
    let before = snapshot(&fs.mount);
    let r = ensure_swap_file(&h, &spec(16 * MIB), &policy(Risk::Destructive));
    assert_eq!(r.exit_code(), 3);
    assert!(r.error.unwrap().to_string().contains("symbolic link"));
    assert_eq!(snapshot(&fs.mount), before);
    std::fs::remove_file(root.join(FILE)).unwrap();
    std::fs::write(root.join(FILE), vec![7u8; 1 << 20]).unwrap();
    let before = snapshot(&fs.mount);
    for risk in [Risk::Additive, Risk::Destructive] {
        let r = ensure_swap_file(&h, &spec(16 * MIB), &policy(risk));
        assert_eq!(r.exit_code(), 3);
        let r = remove_swap_file(
            &h,
            &with(RemoveOptions::default(), |it| {
                it.path = FILE.into();
            }),
            &policy(risk),
        );
        assert_eq!(r.exit_code(), 3);
    }
    assert_eq!(snapshot(&fs.mount), before);
    assert!(real_swaps_under(&fs.mount).is_empty());
}

fn cli(root: &FakeRoot, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hostfix"))
        .arg("--root")
        .arg(root.path())
        .args(["--state-dir", "/state"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
#[serial]
fn cli_contract_json_and_exit_codes() {
    if !root_or_skip(&["mkfs.ext4"]) {
        return;
    }
    let root = live_root();
    let fs = LoopFs::ext4(&root.join("/mnt"));
    let base = ["swap", "ensure", "--path", FILE, "--keep-free", "8M"];
    let with = |extra: &[&'static str]| -> Vec<&str> {
        let mut v = base.to_vec();
        v.extend_from_slice(extra);
        v
    };
    let (code, out, err) = cli(&root, &with(&["--size", "16M", "--json"]));
    assert_eq!(code, 0, "{out}{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["operation"], "swap ensure");
    assert_eq!(j["changed"], true);
    assert_eq!(j["dry_run"], false);
    assert_eq!(j["active"], true);
    assert!(
        j["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["action"].is_string()
                && s["risk"].is_string()
                && s["status"].is_string()
                && s["detail"].is_string())
    );
    assert_active(&root, &fs, 16 * MIB);
    // Global flags after the subcommand, second run unchanged.
    let (code, out, _) = cli(&root, &with(&["--json", "--size", "16M"]));
    assert_eq!(code, 0);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["changed"], false);
    // Bad input: 2.
    assert_eq!(cli(&root, &with(&["--size", "10X"])).0, 2);
    assert_eq!(
        cli(&root, &with(&["--size", "16M", "--priority", "99999"])).0,
        2
    );
    assert_eq!(
        cli(&root, &with(&["--size", "16M", "--persist", "cron"])).0,
        2
    );
    // A resize without the cap: 3, saying what it needs.
    let (code, out, _) = cli(&root, &with(&["--size", "32M"]));
    assert_eq!(code, 3);
    assert!(out.contains("needs --max-risk disruptive"), "{out}");
    // Dry run of the resize at the right cap: plans, changes nothing.
    let before = snapshot(&fs.mount);
    let (code, out, _) = cli(
        &root,
        &with(&["--size", "32M", "--max-risk", "disruptive", "--dry-run"]),
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("would change the host"), "{out}");
    assert_eq!(snapshot(&fs.mount), before);
    // Progress and trail with -v.
    let (code, _, err) = cli(
        &root,
        &with(&["--size", "32M", "--max-risk", "disruptive", "-v"]),
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("swap ensure: done swapoff"), "{err}");
    assert_active(&root, &fs, 32 * MIB);
    // Remove: default cap destructive.
    let (code, out, err) = cli(&root, &["swap", "remove", "--path", FILE]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!root.join(FILE).exists());
    assert!(real_swaps_under(&fs.mount).is_empty());
}

#[test]
#[serial]
fn eight_concurrent_runs_leave_one_swap_and_one_line() {
    if !root_or_skip(&["mkfs.ext4"]) {
        return;
    }
    let root = live_root();
    let fs = LoopFs::ext4(&root.join("/mnt"));
    let bin = env!("CARGO_BIN_EXE_hostfix");
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(bin)
                .arg("--root")
                .arg(root.path())
                .args([
                    "--state-dir",
                    "/state",
                    "--json",
                    "swap",
                    "ensure",
                    "--size",
                    "32M",
                ])
                .args(["--path", FILE, "--keep-free", "8M"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut changed = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let j: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        if j["changed"] == true {
            changed += 1;
        }
    }
    assert_eq!(changed, 1, "exactly one run changed the host");
    assert_active(&root, &fs, 32 * MIB);
    let files: Vec<_> = std::fs::read_dir(&fs.mount)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "lost+found")
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
}
