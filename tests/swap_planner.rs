//! Pure planner tests: for each state of the host, the steps `swap ensure` and `swap
//! remove` take (in order, with their risk), or the refusal that protects the host.

use std::path::PathBuf;

use hostfix::error::Refusal;
use hostfix::plan::Risk;
use hostfix::resources::{Disk, MemInfo, Memory, combine};
use hostfix::size::{ByteSize, Threshold};
use hostfix::swap::fs::{FsInfo, FsKind, KernelVersion};
use hostfix::swap::fstab::FstabEntry;
use hostfix::swap::header::{Signature, build_header, read_signature};
use hostfix::swap::observe::{
    Content, FileFacts, FstabFacts, FstabMatch, Observation, Target, TempFacts, UnitFacts,
};
use hostfix::swap::planner::{
    Action, PlannedStep, RemoveSpec, Role, disk_guard, kernel_size_matches, memory_guard,
    plan_ensure, plan_remove, resolve, sysctl_content, temp_size,
};
use hostfix::swap::unit::render_unit;
use hostfix::swap::{Persist, SwapEntry, SwapSize, SwapSpec};

const MIB: u64 = ByteSize::MIB;
const GIB: u64 = ByteSize::GIB;
const UUID: [u8; 16] = [7; 16];

fn memory(total: u64, available: u64, swap_total: u64, swap_free: u64) -> Memory {
    let info = MemInfo {
        mem_total: total,
        mem_free: available,
        mem_available: Some(available),
        swap_total,
        swap_free,
        ..MemInfo::default()
    };
    combine(&info, None, None)
}

fn disk(total: u64, free: u64) -> Disk {
    Disk::from_statvfs("/".into(), 4096, total / 4096, free / 4096, 0, 0)
}

fn fs(kind: FsKind) -> FsInfo {
    FsInfo {
        kind,
        magic: 0,
        btrfs_devices: (kind == FsKind::Btrfs).then_some(1),
        btrfs_fsid: None,
    }
}

/// A host with nothing: no file, no swap, 20 GiB free, 4 GiB of RAM mostly free.
fn empty_host() -> Observation {
    Observation {
        path: "/swapfile".into(),
        real_path: "/swapfile".into(),
        page_size: 4096,
        kernel_release: Some("6.1.0-18-amd64".into()),
        kernel: Some(KernelVersion(6, 1, 0)),
        container: None,
        is_root: true,
        systemd: false,
        target: Target::Missing,
        active: None,
        swaps: vec![],
        parent_exists: true,
        parent_problem: None,
        fs: Some(fs(FsKind::Ext4)),
        disk: Some(disk(25 * GIB, 20 * GIB)),
        memory: Some(memory(4 * GIB, 3 * GIB, 0, 0)),
        fstab: FstabFacts {
            exists: true,
            ..FstabFacts::default()
        },
        unit: UnitFacts {
            name: "swapfile.swap".into(),
            ..UnitFacts::default()
        },
        swappiness: Some(60),
        sysctl_file: None,
        temp: None,
    }
}

fn header(size: u64) -> Content {
    let Signature::Swap(h) = read_signature(&build_header(4096, size, &UUID, "").unwrap()) else {
        panic!()
    };
    Content::Swap(h)
}

fn swap_file(size: u64) -> FileFacts {
    FileFacts {
        size,
        allocated: size,
        holes: false,
        mode: 0o600,
        uid: 0,
        gid: 0,
        dev: 1,
        ino: 2,
        nocow: None,
        content: if size >= 10 * 4096 {
            header(size)
        } else {
            Content::Zeros
        },
    }
}

fn entry(path: &str, size: u64, used: u64) -> SwapEntry {
    SwapEntry {
        path: path.into(),
        deleted: false,
        kind: "file".into(),
        size_bytes: size - 4096,
        used_bytes: used,
        priority: -2,
    }
}

fn fstab_line(n: usize, opts: &str) -> FstabMatch {
    FstabMatch {
        number: n,
        entry: FstabEntry {
            spec: "/swapfile".into(),
            file: "none".into(),
            vfstype: Some("swap".into()),
            options: opts.split(',').map(str::to_string).collect(),
        },
    }
}

/// A converged host with a 1 GiB swap file, active and in fstab.
fn converged() -> Observation {
    let mut o = empty_host();
    o.target = Target::File(swap_file(GIB));
    let e = entry("/swapfile", GIB, 0);
    o.swaps = vec![e.clone()];
    o.active = Some(e);
    o.fstab.lines = vec![fstab_line(2, "sw,nofail")];
    o
}

fn spec(size: u64) -> SwapSpec {
    SwapSpec::new(SwapSize::Bytes(size))
}

fn plan(s: &SwapSpec, o: &Observation) -> Vec<PlannedStep> {
    let d = resolve(s, o).unwrap();
    plan_ensure(&d, o).unwrap_or_else(|r| panic!("refused: {:?}", r.refusal))
}

fn refusal(s: &SwapSpec, o: &Observation) -> Refusal {
    let d = resolve(s, o).unwrap();
    match plan_ensure(&d, o) {
        Ok(steps) => panic!("not refused: {:?}", names(&steps)),
        Err(r) => r.refusal,
    }
}

fn names(steps: &[PlannedStep]) -> Vec<String> {
    steps
        .iter()
        .map(|s| {
            let role = |r: &Role| if *r == Role::Temp { "temp" } else { "file" };
            let n = match &s.action {
                Action::CreateDirs => "mkdir".to_string(),
                Action::Create { role: r } => format!("create {}", role(r)),
                Action::FixOwnerMode { role: r } => format!("chmod {}", role(r)),
                Action::Empty { role: r } => format!("empty {}", role(r)),
                Action::SetNocow { role: r } => format!("nocow {}", role(r)),
                Action::Allocate {
                    role: r,
                    size,
                    zeros,
                } => format!(
                    "allocate {} {}{}",
                    role(r),
                    size / MIB,
                    if *zeros { " zeros" } else { "" }
                ),
                Action::WriteHeader {
                    role: r, keep_uuid, ..
                } => format!(
                    "header {}{}",
                    role(r),
                    if keep_uuid.is_some() {
                        " keep-uuid"
                    } else {
                        ""
                    }
                ),
                Action::Swapon { role: r, .. } => format!("swapon {}", role(r)),
                Action::Swapoff { role: r } => format!("swapoff {}", role(r)),
                Action::Delete { role: r } => format!("delete {}", role(r)),
                Action::PersistFstab => "fstab".into(),
                Action::UnpersistFstab => "unfstab".into(),
                Action::PersistUnit => "unit".into(),
                Action::UnpersistUnit => "ununit".into(),
                Action::SetSwappiness { value } => format!("swappiness {value}"),
                Action::WriteSysctl { value } => format!("sysctl {value}"),
            };
            format!(
                "{n}{}{}",
                match s.risk {
                    Risk::Additive => "",
                    Risk::Disruptive => " [disruptive]",
                    Risk::Destructive => " [destructive]",
                    _ => " [?]",
                },
                if s.optional { " (optional)" } else { "" }
            )
        })
        .collect()
}

#[test]
fn missing_file_is_created_least_risky_first() {
    let o = empty_host();
    assert_eq!(
        names(&plan(&spec(GIB), &o)),
        [
            "create file",
            "allocate file 1024",
            "header file",
            "swapon file",
            "fstab"
        ]
    );
}

#[test]
fn missing_directory_btrfs_and_old_xfs() {
    let mut o = empty_host();
    o.parent_exists = false;
    o.fs = Some(fs(FsKind::Btrfs));
    assert_eq!(
        names(&plan(&spec(GIB), &o)),
        [
            "mkdir",
            "create file",
            "nocow file",
            "allocate file 1024",
            "header file",
            "swapon file",
            "fstab"
        ]
    );
    let mut o = empty_host();
    o.fs = Some(fs(FsKind::Xfs));
    o.kernel = Some(KernelVersion(4, 17, 0));
    assert_eq!(names(&plan(&spec(GIB), &o))[1], "allocate file 1024 zeros");
    o.kernel = Some(KernelVersion(4, 18, 0));
    assert_eq!(names(&plan(&spec(GIB), &o))[1], "allocate file 1024");
}

#[test]
fn converged_host_plans_nothing() {
    assert!(plan(&spec(GIB), &converged()).is_empty());
    // The size is compared in bytes, and a size that is not whole pages rounds down.
    assert!(plan(&spec(GIB + 100), &converged()).is_empty());
}

#[test]
fn interrupted_create_is_completed() {
    // Crash after create: an empty 0600 file.
    let mut o = empty_host();
    let mut f = swap_file(0);
    f.allocated = 0;
    f.content = Content::Zeros;
    o.target = Target::File(f.clone());
    assert_eq!(
        names(&plan(&spec(GIB), &o)),
        ["allocate file 1024", "header file", "swapon file", "fstab"]
    );
    // Crash during allocation: part of the zeros written.
    f.size = 300 * MIB;
    f.allocated = 300 * MIB;
    o.target = Target::File(f.clone());
    assert_eq!(
        names(&plan(&spec(GIB), &o)),
        ["allocate file 1024", "header file", "swapon file", "fstab"]
    );
    // Crash after allocation, before the header.
    f.size = GIB;
    f.allocated = GIB;
    o.target = Target::File(f);
    assert_eq!(
        names(&plan(&spec(GIB), &o)),
        ["allocate file 1024", "header file", "swapon file", "fstab"]
    );
    // Crash after the header, before swapon.
    o.target = Target::File(swap_file(GIB));
    assert_eq!(names(&plan(&spec(GIB), &o)), ["swapon file", "fstab"]);
}

#[test]
fn wrong_size_inactive_is_rebuilt_keeping_its_uuid() {
    let mut o = empty_host();
    o.target = Target::File(swap_file(512 * MIB));
    o.fstab.lines = vec![fstab_line(1, "sw,nofail")];
    assert_eq!(
        names(&plan(&spec(GIB), &o)),
        ["allocate file 1024", "header file keep-uuid", "swapon file"]
    );
    // A header made for another page size is no header for this kernel.
    let mut f = swap_file(GIB);
    if let Content::Swap(h) = &mut f.content {
        h.page_size = 65536;
    }
    o.target = Target::File(f);
    assert_eq!(
        names(&plan(&spec(GIB), &o)),
        ["allocate file 1024", "header file keep-uuid", "swapon file"]
    );
}

#[test]
fn holes_are_filled() {
    let mut o = empty_host();
    let mut f = swap_file(GIB);
    f.holes = true;
    f.allocated = 4096;
    o.target = Target::File(f);
    assert_eq!(
        names(&plan(&spec(GIB), &o)),
        [
            "allocate file 1024",
            "header file keep-uuid",
            "swapon file",
            "fstab"
        ]
    );
}

#[test]
fn world_readable_or_foreign_owned_file_is_fixed_first() {
    let mut o = converged();
    let mut f = swap_file(GIB);
    f.mode = 0o644;
    o.target = Target::File(f.clone());
    let steps = plan(&spec(GIB), &o);
    assert_eq!(names(&steps), ["chmod file"]);
    assert!(steps[0].reason.contains("leaks"), "{}", steps[0].reason);
    f.mode = 0o600;
    f.uid = 1000;
    o.target = Target::File(f);
    assert_eq!(names(&plan(&spec(GIB), &o)), ["chmod file"]);
}

#[test]
fn active_but_not_persisted_and_persisted_but_not_active() {
    let mut o = converged();
    o.fstab.lines.clear();
    assert_eq!(names(&plan(&spec(GIB), &o)), ["fstab"]);
    let mut o = converged();
    o.active = None;
    o.swaps.clear();
    assert_eq!(names(&plan(&spec(GIB), &o)), ["swapon file"]);
}

#[test]
fn duplicate_or_incomplete_fstab_lines() {
    let mut o = converged();
    o.fstab.lines = vec![fstab_line(2, "sw,nofail"), fstab_line(5, "defaults")];
    let steps = plan(&spec(GIB), &o);
    assert_eq!(names(&steps), ["fstab"]);
    assert!(
        steps[0].reason.contains("2 fstab lines"),
        "{}",
        steps[0].reason
    );
    o.fstab.lines = vec![fstab_line(2, "sw")];
    assert_eq!(names(&plan(&spec(GIB), &o)), ["fstab"]);
    let mut s = spec(GIB);
    s.priority = Some(5);
    o.fstab.lines = vec![fstab_line(2, "sw,nofail,pri=5")];
    o.active.as_mut().unwrap().priority = 5;
    assert!(plan(&s, &o).is_empty());
}

#[test]
fn resize_swaps_over_without_a_moment_without_swap() {
    let mut o = converged();
    let e = entry("/swapfile", GIB, 100 * MIB);
    o.active = Some(e.clone());
    o.swaps = vec![e];
    let steps = plan(&spec(2 * GIB), &o);
    assert_eq!(
        names(&steps),
        [
            "create temp",
            "allocate temp 125",
            "header temp",
            "swapon temp",
            "swapoff file [disruptive]",
            "allocate file 2048 [disruptive]",
            "header file keep-uuid [disruptive]",
            "swapon file [disruptive]",
            "swapoff temp [disruptive]",
            "delete temp [disruptive]",
        ]
    );
    assert!(
        steps[4].reason.contains("from 1 GiB to 2 GiB"),
        "{}",
        steps[4].reason
    );
    // Shrinking works the same way.
    assert_eq!(
        names(&plan(&spec(512 * MIB), &o))[5],
        "allocate file 512 [disruptive]"
    );
}

#[test]
fn resize_in_place_when_no_room_for_the_temp_area() {
    let mut o = converged();
    // 1 GiB + 10 MiB free and 1 GiB to keep: no room for a 32 MiB temp area; a shrink
    // needs no room, and memory covers what the file holds.
    o.disk = Some(disk(10 * GIB, GIB + 10 * MIB));
    let mut s = spec(512 * MIB);
    s.keep_free = vec![Threshold::Absolute(GIB)];
    let steps = plan(&s, &o);
    assert_eq!(
        names(&steps),
        [
            "swapoff file [disruptive]",
            "allocate file 512 [disruptive]",
            "header file keep-uuid [disruptive]",
            "swapon file [disruptive]"
        ]
    );
    assert!(steps[0].reason.contains("in place"), "{}", steps[0].reason);
}

#[test]
fn resize_refused_when_memory_cannot_take_the_pages() {
    let mut o = converged();
    let e = entry("/swapfile", GIB, 900 * MIB);
    o.active = Some(e.clone());
    o.swaps = vec![e];
    o.memory = Some(memory(GIB, 100 * MIB, GIB, 124 * MIB));
    o.disk = Some(disk(10 * GIB, GIB + 10 * MIB));
    let mut s = spec(512 * MIB);
    s.keep_free = vec![Threshold::Absolute(GIB)];
    match refusal(&s, &o) {
        Refusal::Guard { rule, detail } => {
            assert_eq!(rule, "memory");
            assert!(detail.contains("MemAvailable"), "{detail}");
        }
        r => panic!("{r:?}"),
    }
}

#[test]
fn priority_change_needs_a_disruptive_swapoff() {
    let mut s = spec(GIB);
    s.priority = Some(10);
    let mut o = converged();
    o.fstab.lines = vec![fstab_line(2, "sw,nofail,pri=10")];
    assert_eq!(
        names(&plan(&s, &o)),
        ["swapoff file [disruptive]", "swapon file [disruptive]"]
    );
}

#[test]
fn refusals_protect_data() {
    let s = spec(GIB);
    let unsafe_why = |r: Refusal| match r {
        Refusal::Unsafe { why, .. } => why,
        r => panic!("{r:?}"),
    };
    let mut o = empty_host();
    o.target = Target::Symlink {
        to: "/etc/passwd".into(),
    };
    assert!(unsafe_why(refusal(&s, &o)).contains("symbolic link"));
    o.target = Target::Directory;
    assert!(unsafe_why(refusal(&s, &o)).contains("directory"));
    o.target = Target::Device;
    assert!(unsafe_why(refusal(&s, &o)).contains("device"));
    let mut f = swap_file(GIB);
    f.content = Content::Data;
    o.target = Target::File(f.clone());
    assert!(unsafe_why(refusal(&s, &o)).contains("neither a swap area nor zeros"));
    f.content = Content::Hibernation {
        magic: "S1SUSPEND".into(),
    };
    o.target = Target::File(f);
    assert!(unsafe_why(refusal(&s, &o)).contains("hibernation"));
    let mut o = empty_host();
    o.parent_problem = Some("the directory /tmp is writable by every user".into());
    assert!(unsafe_why(refusal(&s, &o)).contains("writable"));
}

#[test]
fn filesystems_that_cannot_hold_swap() {
    let s = spec(GIB);
    for kind in [FsKind::Tmpfs, FsKind::Overlay, FsKind::Nfs, FsKind::Zfs] {
        let mut o = empty_host();
        o.fs = Some(fs(kind));
        assert!(
            matches!(refusal(&s, &o), Refusal::Unsafe { .. }),
            "{kind:?} must be refused"
        );
    }
    let mut o = empty_host();
    o.fs = Some(FsInfo {
        btrfs_devices: Some(2),
        ..fs(FsKind::Btrfs)
    });
    let Refusal::Unsafe { why, .. } = refusal(&s, &o) else {
        panic!()
    };
    assert!(why.contains("2 devices"), "{why}");
}

#[test]
fn disk_guard_refuses_and_is_settable() {
    let mut o = empty_host();
    o.disk = Some(disk(20 * GIB, 3 * GIB));
    // 2 GiB leaves 1 GiB, below 10% of 20 GiB.
    match refusal(&spec(2 * GIB), &o) {
        Refusal::Guard { rule, detail } => {
            assert_eq!(rule, "keep-free");
            assert!(detail.contains("--keep-free"), "{detail}");
        }
        r => panic!("{r:?}"),
    }
    let mut s = spec(2 * GIB);
    s.keep_free = vec![Threshold::Percent(5.0)];
    assert_eq!(plan(&s, &o).len(), 5);
    s.keep_free.clear();
    o.disk = Some(disk(20 * GIB, GIB));
    let d = resolve(&s, &o).unwrap();
    assert!(
        plan_ensure(&d, &o).is_err(),
        "never more than the free space"
    );
    // Guard arithmetic: f_bavail is what counts.
    let dk = disk(100 * GIB, 12 * GIB);
    assert!(disk_guard(&dk, &[Threshold::Percent(10.0)], 2 * GIB).is_ok());
    assert!(disk_guard(&dk, &[Threshold::Percent(10.0)], 3 * GIB).is_err());
}

#[test]
fn containers_and_non_root_are_refused_before_anything() {
    let mut o = empty_host();
    o.container = Some("docker".into());
    let Refusal::Unsafe { why, .. } = refusal(&spec(GIB), &o) else {
        panic!()
    };
    assert!(
        why.contains("not permitted here (running in a container: docker)"),
        "{why}"
    );
    // A converged host in a container has nothing to do and nothing to refuse.
    let mut o = converged();
    o.container = Some("lxc".into());
    assert!(plan(&spec(GIB), &o).is_empty());
    let mut o = empty_host();
    o.is_root = false;
    assert!(matches!(refusal(&spec(GIB), &o), Refusal::Unsafe { .. }));
}

#[test]
fn systemd_persistence_and_switching_backends() {
    let mut s = spec(GIB);
    s.persist = Persist::Systemd;
    let o = converged();
    assert_eq!(names(&plan(&s, &o)), ["unit", "unfstab"]);
    let mut o = converged();
    o.fstab.lines.clear();
    o.unit.content = Some(render_unit("/swapfile", None));
    o.unit.ours = true;
    o.unit.enabled = true;
    assert!(plan(&s, &o).is_empty());
    o.unit.enabled = false;
    assert_eq!(names(&plan(&s, &o)), ["unit"]);
    // Back to fstab: hostfix's unit goes.
    assert_eq!(names(&plan(&spec(GIB), &o)), ["fstab", "ununit"]);
    // persist none leaves persistence alone.
    let mut n = spec(GIB);
    n.persist = Persist::None;
    assert!(plan(&n, &converged()).is_empty());
}

#[test]
fn swappiness_now_and_at_boot() {
    let mut s = spec(GIB);
    s.swappiness = Some(10);
    let mut o = converged();
    assert_eq!(names(&plan(&s, &o)), ["swappiness 10", "sysctl 10"]);
    o.swappiness = Some(10);
    o.sysctl_file = Some(sysctl_content(10));
    assert!(plan(&s, &o).is_empty());
}

#[test]
fn btrfs_cow_file_is_emptied_and_marked_nocow() {
    let mut o = empty_host();
    o.fs = Some(fs(FsKind::Btrfs));
    let mut f = swap_file(GIB);
    f.nocow = Some(false);
    o.target = Target::File(f);
    assert_eq!(
        names(&plan(&spec(GIB), &o)),
        [
            "empty file",
            "nocow file",
            "allocate file 1024",
            "header file keep-uuid",
            "swapon file",
            "fstab"
        ]
    );
}

fn temp(active: Option<SwapEntry>, content: Content) -> TempFacts {
    let mut f = swap_file(32 * MIB);
    f.ino = 99;
    f.content = content;
    TempFacts {
        path: "/.swapfile.hostfix-swapover".into(),
        target: Target::File(f),
        active,
    }
}

#[test]
fn leftover_swapover_areas_are_retired_when_allowed() {
    let mut o = converged();
    o.temp = Some(temp(None, header(32 * MIB)));
    assert_eq!(
        names(&plan(&spec(GIB), &o)),
        ["delete temp [disruptive] (optional)"]
    );
    let te = entry("/.swapfile.hostfix-swapover", 32 * MIB, 0);
    o.temp = Some(temp(Some(te.clone()), header(32 * MIB)));
    o.swaps.push(te);
    assert_eq!(
        names(&plan(&spec(GIB), &o)),
        [
            "swapoff temp [disruptive] (optional)",
            "delete temp [disruptive] (optional)"
        ]
    );
    // Something else under that name is left alone.
    o.temp = Some(temp(None, Content::Data));
    assert!(plan(&spec(GIB), &o).is_empty());
}

#[test]
fn crash_in_the_middle_of_a_swap_over_converges() {
    // Crash after swapoff of the old file: the temp area is active, the file inactive and
    // still the old size.
    let mut o = empty_host();
    o.target = Target::File(swap_file(GIB));
    o.fstab.lines = vec![fstab_line(2, "sw,nofail")];
    let te = entry("/.swapfile.hostfix-swapover", 32 * MIB, 0);
    o.temp = Some(temp(Some(te.clone()), header(32 * MIB)));
    o.swaps = vec![te];
    assert_eq!(
        names(&plan(&spec(2 * GIB), &o)),
        [
            "allocate file 2048",
            "header file keep-uuid",
            "swapon file",
            "swapoff temp [disruptive] (optional)",
            "delete temp [disruptive] (optional)"
        ]
    );
    // Crash after the resized file is back on: only the temp area is left.
    let mut o = converged();
    let te = entry("/.swapfile.hostfix-swapover", 32 * MIB, 0);
    o.temp = Some(temp(Some(te.clone()), header(32 * MIB)));
    o.swaps.push(te);
    assert_eq!(
        names(&plan(&spec(GIB), &o)),
        [
            "swapoff temp [disruptive] (optional)",
            "delete temp [disruptive] (optional)"
        ]
    );
    // Crash after the temp area went on, before the old file went off: the resize goes
    // on with the temp area already there.
    let mut o = converged();
    let te = entry("/.swapfile.hostfix-swapover", 32 * MIB, 0);
    o.temp = Some(temp(Some(te.clone()), header(32 * MIB)));
    o.swaps.push(te);
    assert_eq!(
        names(&plan(&spec(2 * GIB), &o)),
        [
            "swapoff file [disruptive]",
            "allocate file 2048 [disruptive]",
            "header file keep-uuid [disruptive]",
            "swapon file [disruptive]",
            "swapoff temp [disruptive]",
            "delete temp [disruptive]"
        ]
    );
}

#[test]
fn auto_size_resolves_and_stays_put() {
    let mut o = empty_host();
    o.memory = Some(memory(1_001_520 * 1024, 90 * MIB, 0, 0));
    o.disk = Some(disk(30 * GIB, 20 * GIB));
    let s = SwapSpec::new(SwapSize::Auto);
    let d = resolve(&s, &o).unwrap();
    assert_eq!(d.size, 1956 * MIB, "twice RAM for a 1 GiB host");
    // Once the file exists, the space it holds counts as free, and a file within a
    // quarter of the size is kept.
    o.target = Target::File(swap_file(2 * GIB));
    o.disk = Some(disk(30 * GIB, 18 * GIB));
    assert_eq!(resolve(&s, &o).unwrap().size, 2 * GIB);
    o.target = Target::File(swap_file(GIB));
    assert_eq!(resolve(&s, &o).unwrap().size, 1956 * MIB);
}

#[test]
fn guards_and_sizes() {
    assert!(memory_guard(GIB, 0, 500 * MIB, 256 * MIB).is_ok());
    assert!(memory_guard(600 * MIB, 0, 500 * MIB, 256 * MIB).is_err());
    assert!(memory_guard(600 * MIB, 200 * MIB, 500 * MIB, 256 * MIB).is_ok());
    assert_eq!(temp_size(0, 4096), 32 * MIB);
    assert_eq!(temp_size(100 * MIB, 4096), 125 * MIB);
    // /proc/swaps: 16 MiB file → 16380 KiB, or a few pages less.
    assert!(kernel_size_matches(16380 * 1024, 16 * MIB, 4096));
    assert!(kernel_size_matches(16372 * 1024, 16 * MIB, 4096));
    assert!(
        kernel_size_matches(93400 * 1024, 96 * MIB, 4096),
        "1K-block ext2"
    );
    assert!(!kernel_size_matches(8000 * 1024, 16 * MIB, 4096));
    assert!(!kernel_size_matches(32764 * 1024, 16 * MIB, 4096));
}

fn remove_spec() -> RemoveSpec {
    RemoveSpec {
        path: PathBuf::from("/swapfile"),
        memory_margin: 256 * MIB,
    }
}

#[test]
fn remove_plans() {
    let steps = plan_remove(&remove_spec(), &converged()).unwrap();
    assert_eq!(
        names(&steps),
        [
            "swapoff file [disruptive]",
            "unfstab [disruptive]",
            "delete file [destructive]"
        ]
    );
    assert!(
        plan_remove(&remove_spec(), &empty_host())
            .unwrap()
            .is_empty()
    );
    // Only verified swap areas are deleted.
    let mut o = empty_host();
    let mut f = swap_file(GIB);
    f.content = Content::Zeros;
    o.target = Target::File(f);
    assert!(plan_remove(&remove_spec(), &o).is_err());
    let mut o = empty_host();
    o.target = Target::Symlink { to: "/x".into() };
    assert!(plan_remove(&remove_spec(), &o).is_err());
    // The memory guard.
    let mut o = converged();
    let e = entry("/swapfile", GIB, 900 * MIB);
    o.active = Some(e.clone());
    o.swaps = vec![e];
    o.memory = Some(memory(GIB, 100 * MIB, GIB, 124 * MIB));
    let r = plan_remove(&remove_spec(), &o).unwrap_err();
    assert!(matches!(r.refusal, Refusal::Guard { .. }));
    // A unit hostfix did not write is not hostfix's to remove.
    let mut o = converged();
    o.unit.content = Some("[Swap]\nWhat=/swapfile\n".into());
    let r = plan_remove(&remove_spec(), &o).unwrap_err();
    assert!(matches!(r.refusal, Refusal::Protected { .. }));
}

/// The first `/proc/swaps` numbers that panicked the resize planner: an active area
/// with 2^64 - 1 bytes in use beside one with 2^63 bytes free (the swap-over computed
/// the other areas' free space plus the temporary area's size with `+`). No disk holds
/// the temporary area and memory cannot take the pages: refused.
#[test]
fn resize_with_huge_numbers_from_the_host_does_not_overflow() {
    let mut o = converged();
    let e = entry("/swapfile", GIB, u64::MAX);
    let other = SwapEntry {
        path: "/other".into(),
        size_bytes: u64::MAX / 2,
        used_bytes: 0,
        ..e.clone()
    };
    o.active = Some(e.clone());
    o.swaps = vec![e, other];
    let d = resolve(&spec(2 * GIB), &o).unwrap();
    assert!(plan_ensure(&d, &o).is_err());
}
