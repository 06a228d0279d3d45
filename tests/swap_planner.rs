//! Pure planner tests: for each state of the host, the steps `swap ensure` and `swap
//! remove` take (in order, with their risk), or the refusal that protects the host; what
//! hostfix recognises as its own (its record, an interrupted run's file, an earlier
//! version's setup) and what it refuses to touch; and, for every point at which a resize
//! can be killed, what the next run at the default cap does and what `doctor` advises.

use std::path::{Path, PathBuf};

use hostfix::error::Refusal;
use hostfix::plan::Risk;
use hostfix::resources::{Disk, Memory};
use hostfix::size::{ByteSize, Threshold};
use hostfix::swap::{Persist, SwapEntry, SwapSize, SwapSpec};
use hostfix::testing::resources::{MemInfo, combine};
use hostfix::testing::swap::fs::{FsInfo, FsKind, KernelVersion};
use hostfix::testing::swap::fstab::FstabEntry;
use hostfix::testing::swap::header::{Signature, build_header, format_uuid, read_signature};
use hostfix::testing::swap::observe::{
    Content, FileFacts, FstabFacts, FstabMatch, Observation, Target, TempFacts, UnitFacts,
};
use hostfix::testing::swap::planner::{
    Action, PlannedStep, RemoveSpec, Role, disk_guard, kernel_size_matches, memory_guard,
    plan_ensure, plan_remove, resolve, root_refusal, sysctl_content, temp_size,
};
use hostfix::testing::swap::record::{MadeFile, RecordFacts, SwapRecord};
use hostfix::testing::swap::unit::render_unit;
use hostfix::testing::with;

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
        owner: (0, 0),
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
        record_path: "/var/lib/hostfix/swap/swapfile.swap.json".into(),
        record: RecordFacts::Absent,
    }
}

/// The UUID of every header these tests make.
fn uuid() -> String {
    format_uuid(&UUID)
}

/// hostfix's record of a file it made: device 1, inode `ino`, [`uuid`].
fn made(ino: u64, size: u64) -> MadeFile {
    MadeFile {
        uuid: uuid(),
        intent_at: 1_000,
        dev: Some(1),
        ino: Some(ino),
        born: Some(500),
        size,
        how: "created".into(),
    }
}

/// The record's entry of a file hostfix was about to create (intent only).
fn intent(size: u64) -> MadeFile {
    MadeFile {
        dev: None,
        ino: None,
        born: None,
        ..made(0, size)
    }
}

/// The observation's record, created empty when absent.
fn record(o: &mut Observation) -> &mut SwapRecord {
    if o.record.record().is_none() {
        o.record = RecordFacts::Present(SwapRecord::new(&o.path));
    }
    match &mut o.record {
        RecordFacts::Present(r) => r,
        _ => unreachable!(),
    }
}

/// hostfix's line for /swapfile.
const LINE: &str = "/swapfile none swap sw,nofail 0 0";

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
        nlink: 1,
        born: Some(500),
        ctime: 2_000,
        mount_point: false,
        nocow: None,
        content: if size >= 10 * 4096 {
            header(size)
        } else {
            Content::Zeros
        },
    }
}

fn entry(path: &str, size: u64, used: u64) -> SwapEntry {
    with(SwapEntry::default(), |it| {
        it.path = path.into();
        it.deleted = false;
        it.kind = "file".into();
        it.size_bytes = size - 4096;
        it.used_bytes = used;
        it.priority = -2;
    })
}

fn fstab_line(n: usize, opts: &str) -> FstabMatch {
    FstabMatch {
        number: n,
        raw: format!("/swapfile none swap {opts} 0 0"),
        entry: FstabEntry {
            spec: "/swapfile".into(),
            file: "none".into(),
            vfstype: Some("swap".into()),
            options: opts.split(',').map(str::to_string).collect(),
        },
    }
}

/// A converged host with hostfix's 1 GiB swap file, active and in fstab, as recorded.
fn converged() -> Observation {
    let mut o = empty_host();
    o.target = Target::File(swap_file(GIB));
    let e = entry("/swapfile", GIB, 0);
    o.swaps = vec![e.clone()];
    o.active = Some(e);
    o.fstab.lines = vec![fstab_line(2, "sw,nofail")];
    let r = record(&mut o);
    r.file = Some(made(2, GIB));
    r.fstab_lines = vec![LINE.into()];
    o
}

/// A host with hostfix's inactive file `f` (recorded as made) and its fstab line.
fn own_file(f: FileFacts) -> Observation {
    let mut o = empty_host();
    let r = record(&mut o);
    r.file = Some(made(f.ino, f.size));
    r.fstab_lines = vec![LINE.into()];
    o.fstab.lines = vec![fstab_line(1, "sw,nofail")];
    o.target = Target::File(f);
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
                Action::PersistFstab { .. } => "fstab".into(),
                Action::UnpersistFstab => "unfstab".into(),
                Action::PersistUnit { .. } => "unit".into(),
                Action::UnpersistUnit => "ununit".into(),
                Action::SetSwappiness { value } => format!("swappiness {value}"),
                Action::WriteSysctl { value } => format!("sysctl {value}"),
                Action::Record { role: r, .. } => format!("record {}", role(r)),
                Action::Forget { role: r } => format!("forget {}", role(r)),
                Action::LeaveAlone { what, .. } => format!("leave {what}"),
            };
            format!(
                "{n}{}{}",
                match s.risk {
                    Risk::Additive | Risk::ReadOnly => "",
                    Risk::Disruptive => " [disruptive]",
                    Risk::Destructive => " [destructive]",
                    _ => " [?]",
                },
                if s.cleanup { " (cleanup)" } else { "" }
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
    // Killed after recording the intent and creating the file, before recording its
    // device and inode: an empty 0600 file, recognised by the intent, recorded first.
    let mut o = empty_host();
    record(&mut o).file = Some(intent(GIB));
    let mut f = swap_file(0);
    f.allocated = 0;
    f.content = Content::Zeros;
    o.target = Target::File(f.clone());
    assert_eq!(
        names(&plan(&spec(GIB), &o)),
        [
            "record file",
            "allocate file 1024",
            "header file",
            "swapon file",
            "fstab"
        ]
    );
    // Killed during allocation (recorded): part of the zeros written.
    f.size = 300 * MIB;
    f.allocated = 300 * MIB;
    let mut o = own_file(f.clone());
    o.fstab.lines.clear();
    assert_eq!(
        names(&plan(&spec(GIB), &o)),
        ["allocate file 1024", "header file", "swapon file", "fstab"]
    );
    // Killed after allocation, before the header.
    f.size = GIB;
    f.allocated = GIB;
    o.target = Target::File(f);
    assert_eq!(
        names(&plan(&spec(GIB), &o)),
        ["allocate file 1024", "header file", "swapon file", "fstab"]
    );
    // Killed after the header, before swapon.
    o.target = Target::File(swap_file(GIB));
    assert_eq!(names(&plan(&spec(GIB), &o)), ["swapon file", "fstab"]);
}

#[test]
fn a_file_hostfix_did_not_create_is_refused() {
    let protected = |o: &Observation| match refusal(&spec(GIB), o) {
        Refusal::Protected { target, why } => {
            assert_eq!(target, "/swapfile");
            why
        }
        r => panic!("{r:?}"),
    };
    // The case: another user's zero-filled 0644 file, no record.
    let mut o = empty_host();
    let mut f = swap_file(16 * MIB);
    f.content = Content::Zeros;
    f.mode = 0o644;
    f.uid = 1000;
    f.gid = 1000;
    o.target = Target::File(f.clone());
    let why = protected(&o);
    for part in [
        "hostfix did not create it",
        "no record",
        "16 MiB file, mode 0644, owner 1000:1000, holding only zeros",
        "remove it yourself",
        "pick another --path",
        "/var/lib/hostfix/swap/swapfile.swap.json",
    ] {
        assert!(why.contains(part), "{part:?} not in {why}");
    }
    // Even a root 0600 swap area, when nothing says hostfix made it.
    o.target = Target::File(swap_file(GIB));
    assert!(protected(&o).contains("no record"));
    // The record names another inode: the file was replaced.
    let mut o = converged();
    let mut f = swap_file(GIB);
    f.ino = 77;
    o.target = Target::File(f);
    assert!(protected(&o).contains("another file was put in its place"));
    // The same inode number, but born later: the file was deleted and the number reused.
    let mut o = converged();
    let mut f = swap_file(GIB);
    f.born = Some(501);
    o.target = Target::File(f);
    assert!(protected(&o).contains("took its number"));
    // The same file under another device number (LVM and btrfs number devices as they
    // come at boot): still hostfix's, by its inode and birth time.
    let mut o = converged();
    let mut f = swap_file(GIB);
    f.dev = 9;
    o.target = Target::File(f.clone());
    assert!(plan(&spec(GIB), &o).is_empty());
    // Without birth times, the device decides.
    f.born = None;
    o.target = Target::File(f);
    assert!(protected(&o).contains("another file was put in its place"));
    // The same inode, re-made by someone else (another UUID).
    let mut o = converged();
    let mut f = swap_file(GIB);
    let Content::Swap(h) = &mut f.content else {
        panic!()
    };
    h.uuid = "00000000-0000-4000-8000-000000000000".into();
    o.target = Target::File(f);
    assert!(protected(&o).contains("rewritten by someone else"));
    // A second name (hard link), or a bind mount over the path.
    let mut o = converged();
    let mut f = swap_file(GIB);
    f.nlink = 2;
    o.target = Target::File(f.clone());
    assert!(protected(&o).contains("2 names (hard links)"));
    f.nlink = 1;
    f.mount_point = true;
    o.target = Target::File(f);
    assert!(protected(&o).contains("bind mount"));
    // Data or a hibernation image without a record: not hostfix's, and said what it is.
    let mut o = empty_host();
    let mut f = swap_file(GIB);
    f.content = Content::Data;
    o.target = Target::File(f);
    assert!(protected(&o).contains("holding data"));
    // A half-made file must look like one: the host's owner, 0600, no older than the intent.
    let mut o = empty_host();
    record(&mut o).file = Some(intent(GIB));
    let mut f = swap_file(0);
    f.content = Content::Zeros;
    f.ctime = 1_000 - 301;
    o.target = Target::File(f.clone());
    assert!(protected(&o).contains("about to create a file here"));
    f.ctime = 1_000 - 299;
    o.target = Target::File(f.clone());
    assert_eq!(names(&plan(&spec(GIB), &o))[0], "record file");
    f.mode = 0o644;
    o.target = Target::File(f);
    assert!(protected(&o).contains("is not it"));
}

#[test]
fn fstab_lines_and_units_hostfix_did_not_write_are_refused() {
    let protected = |o: &Observation| match refusal(&spec(GIB), o) {
        Refusal::Protected { target, why } => format!("{target}: {why}"),
        r => panic!("{r:?}"),
    };
    // The case: the user's own line for the path (pri=5, noauto).
    let mut o = converged();
    o.fstab.lines.push(fstab_line(7, "pri=5,noauto"));
    let msg = protected(&o);
    assert!(msg.starts_with("/etc/fstab line 7:"), "{msg}");
    assert!(
        msg.contains("`/swapfile none swap pri=5,noauto 0 0` names /swapfile"),
        "{msg}"
    );
    assert!(msg.contains("remove or change that line yourself"), "{msg}");
    // Without any file, too: hostfix would create a file the user's line then governs.
    let mut o = empty_host();
    o.fstab.lines = vec![fstab_line(3, "sw")];
    assert!(protected(&o).starts_with("/etc/fstab line 3"));
    // Even hostfix's exact line is not hostfix's without a record or an earlier
    // hostfix's file beside it.
    o.fstab.lines = vec![fstab_line(3, "sw,nofail")];
    assert!(protected(&o).starts_with("/etc/fstab line 3"));
    // \040-escaped paths: hostfix's line is recognised byte for byte, another is not.
    let mut o = converged();
    o.path = "/var/my swap".into();
    let mine = "/var/my\\040swap none swap sw,nofail 0 0";
    let theirs = "/var/my\\040swap\tnone\tswap\tsw,nofail\t0\t0";
    record(&mut o).fstab_lines = vec![mine.into()];
    let with_raw = |raw: &str| FstabMatch {
        raw: raw.into(),
        number: 4,
        entry: FstabEntry {
            spec: "/var/my swap".into(),
            ..fstab_line(4, "sw,nofail").entry
        },
    };
    o.fstab.lines = vec![with_raw(mine)];
    let mut s = spec(GIB);
    s.path = "/var/my swap".into();
    assert!(plan(&s, &o).is_empty());
    o.fstab.lines = vec![with_raw(theirs)];
    assert!(matches!(
        refusal(&s, &o),
        Refusal::Protected { target, .. } if target == "/etc/fstab line 4"
    ));
    // A unit the admin wrote, one hostfix wrote but someone edited, a unit of that name
    // elsewhere, a drop-in, a wants link pointing elsewhere.
    let mut o = converged();
    o.unit.content = Some("[Swap]\nWhat=/swapfile\n".into());
    assert!(protected(&o).contains("swapfile.swap: a .swap unit for /swapfile"));
    let mut o = converged();
    o.unit.content = Some(render_unit("/swapfile", None).replace("Swap file", "My swap"));
    assert!(protected(&o).contains("edited since"));
    for part in [
        "/usr/lib/systemd/system/swapfile.swap",
        "/etc/systemd/system/swapfile.swap.d",
    ] {
        let mut o = converged();
        o.unit.elsewhere = vec![part.into()];
        assert!(protected(&o).starts_with(part), "{part}");
    }
    let mut o = converged();
    o.unit.link = Some("/dev/null".into());
    assert!(protected(&o).contains("swap.target.wants/swapfile.swap (-> /dev/null)"));
}

#[test]
fn earlier_hostfix_setups_are_adopted() {
    // No record, a root 0600 swap area, and exactly the line an earlier hostfix wrote:
    // recorded first (bookkeeping), otherwise converged.
    let mut o = converged();
    o.record = RecordFacts::Absent;
    let steps = plan(&spec(GIB), &o);
    assert_eq!(names(&steps), ["record file"]);
    match &steps[0].action {
        Action::Record { lines, unit, .. } => {
            assert_eq!(lines, &[LINE.to_string()]);
            assert_eq!(unit, &None);
        }
        a => panic!("{a:?}"),
    }
    // The line with the priority that version wrote, and its unit.
    o.fstab.lines = vec![fstab_line(2, "sw,nofail,pri=5")];
    assert_eq!(names(&plan(&spec(GIB), &o)), ["record file"]);
    let mut u = converged();
    u.record = RecordFacts::Absent;
    u.fstab.lines.clear();
    u.unit.content = Some(render_unit("/swapfile", Some(3)));
    u.unit.enabled = true;
    u.unit.link = Some("../swapfile.swap".into());
    let mut s = spec(GIB);
    s.persist = Persist::Systemd;
    assert_eq!(names(&plan(&s, &u)), ["record file"]);
    // Not an earlier hostfix's: a changed line, a world-readable file, zeros, no
    // persistence at all.
    let refused = |o: &Observation| matches!(refusal(&spec(GIB), o), Refusal::Protected { .. });
    let mut x = o.clone();
    x.fstab.lines = vec![fstab_line(2, "sw,nofail,discard")];
    assert!(refused(&x));
    let mut x = o.clone();
    let mut f = swap_file(GIB);
    f.mode = 0o644;
    x.target = Target::File(f);
    assert!(refused(&x));
    let mut x = o.clone();
    let mut f = swap_file(GIB);
    f.content = Content::Zeros;
    x.target = Target::File(f);
    assert!(refused(&x));
    let mut x = o.clone();
    x.fstab.lines.clear();
    assert!(refused(&x));
}

#[test]
fn wrong_size_inactive_is_rebuilt_keeping_its_uuid() {
    let o = own_file(swap_file(512 * MIB));
    assert_eq!(
        names(&plan(&spec(GIB), &o)),
        ["allocate file 1024", "header file keep-uuid", "swapon file"]
    );
    // A header made for another page size is no header for this kernel.
    let mut f = swap_file(GIB);
    if let Content::Swap(h) = &mut f.content {
        h.page_size = 65536;
    }
    let o = own_file(f);
    assert_eq!(
        names(&plan(&spec(GIB), &o)),
        ["allocate file 1024", "header file keep-uuid", "swapon file"]
    );
}

#[test]
fn holes_are_filled() {
    let mut f = swap_file(GIB);
    f.holes = true;
    f.allocated = 4096;
    let o = own_file(f);
    assert_eq!(
        names(&plan(&spec(GIB), &o)),
        ["allocate file 1024", "header file keep-uuid", "swapon file"]
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
    o.target = Target::File(f.clone());
    assert_eq!(names(&plan(&spec(GIB), &o)), ["chmod file"]);
    // The owner is the host's: on a root whose owner is uid 1000, that is right.
    o.owner = (1000, 0);
    assert!(plan(&spec(GIB), &o).is_empty());
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
fn own_duplicate_lines_collapse_and_priorities_follow() {
    let mut o = converged();
    o.fstab.lines = vec![fstab_line(2, "sw,nofail"), fstab_line(5, "sw,nofail")];
    let steps = plan(&spec(GIB), &o);
    assert_eq!(names(&steps), ["fstab"]);
    assert!(steps[0].reason.contains("2 times"), "{}", steps[0].reason);
    let mut s = spec(GIB);
    s.priority = Some(5);
    o.fstab.lines = vec![fstab_line(2, "sw,nofail")];
    o.active.as_mut().unwrap().priority = 5;
    let steps = plan(&s, &o);
    assert_eq!(names(&steps), ["fstab"]);
    assert_eq!(steps[0].action, Action::PersistFstab { priority: Some(5) });
    // hostfix's line with a priority keeps it when none is asked for.
    record(&mut o).fstab_lines = vec!["/swapfile none swap sw,nofail,pri=5 0 0".into()];
    o.fstab.lines = vec![fstab_line(2, "sw,nofail,pri=5")];
    assert!(plan(&s, &o).is_empty());
    assert!(plan(&spec(GIB), &o).is_empty());
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
            "delete temp",
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
    record(&mut o).fstab_lines = vec!["/swapfile none swap sw,nofail,pri=10 0 0".into()];
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
    // hostfix's own file (its inode) holding a hibernation image: never touched.
    let mut o = converged();
    let mut f = swap_file(GIB);
    f.content = Content::Hibernation {
        magic: "S1SUSPEND".into(),
    };
    o.target = Target::File(f);
    let r = refusal(&s, &o);
    assert!(r.to_string().contains("hibernation"), "{r}");
    let mut o = empty_host();
    o.parent_problem = Some("the directory /tmp is writable by every user".into());
    assert!(unsafe_why(refusal(&s, &o)).contains("writable"));
    // A record that cannot be trusted stops everything.
    let mut o = converged();
    o.record = RecordFacts::Unreadable {
        why: "it is owned by uid 1000".into(),
    };
    let Refusal::Protected { target, why } = refusal(&s, &o) else {
        panic!()
    };
    assert_eq!(target, "/var/lib/hostfix/swap/swapfile.swap.json");
    assert!(why.contains("uid 1000"), "{why}");
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
    // Without root the whole plan is made (a dry run shows it); a real run is refused
    // before its first change.
    let mut o = empty_host();
    o.is_root = false;
    let steps = plan(&spec(GIB), &o);
    assert!(steps.len() > 1, "{:?}", names(&steps));
    let r = root_refusal(Path::new("/swapfile"), &o, &steps).expect("refused without root");
    let Refusal::NeedsRoot { action } = r.refusal else {
        panic!("{:?}", r.refusal)
    };
    assert!(action.starts_with("create /swapfile"), "{action}");
    o.is_root = true;
    assert!(root_refusal(Path::new("/swapfile"), &o, &steps).is_none());
    // Nothing to change: nothing to refuse, root or not.
    let mut o = converged();
    o.is_root = false;
    let steps = plan(&spec(GIB), &o);
    assert!(root_refusal(Path::new("/swapfile"), &o, &steps).is_none());
    // Without root, hostfix's record cannot be read: whose the file is stays unknown,
    // and that needs root, not a verdict on the file. doctor says so and offers no fix.
    let mut o = converged();
    o.is_root = false;
    o.record = RecordFacts::Unseen {
        why: "/var/lib/hostfix/swap: permission denied".into(),
    };
    let Refusal::NeedsRoot { action } = refusal(&spec(GIB), &o) else {
        panic!()
    };
    assert!(action.contains("read hostfix's record"), "{action}");
    assert!(matches!(
        plan_remove(&remove_spec(), &o).unwrap_err().refusal,
        Refusal::NeedsRoot { .. }
    ));
    let mut f = swap_file(GIB);
    f.mode = 0o644;
    o.target = Target::File(f);
    let (finding, _) = hostfix::testing::swap::diagnose::file_finding(&o);
    assert!(finding.fix.is_none());
    assert!(
        finding
            .evidence
            .iter()
            .any(|e| e.contains("run doctor as root")),
        "{finding:#?}"
    );
    assert!(
        !finding
            .evidence
            .iter()
            .any(|e| e.contains("not created by hostfix"))
    );
}

#[test]
fn systemd_persistence_and_switching_backends() {
    let mut s = spec(GIB);
    s.persist = Persist::Systemd;
    let o = converged();
    assert_eq!(names(&plan(&s, &o)), ["unit", "unfstab"]);
    let mut o = converged();
    o.fstab.lines.clear();
    let unit = render_unit("/swapfile", None);
    record(&mut o).units = vec![unit.clone()];
    o.unit.content = Some(unit);
    o.unit.enabled = true;
    o.unit.link = Some("../swapfile.swap".into());
    assert!(plan(&s, &o).is_empty());
    o.unit.enabled = false;
    o.unit.link = None;
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
    let mut f = swap_file(GIB);
    f.nocow = Some(false);
    let mut o = own_file(f);
    o.fs = Some(fs(FsKind::Btrfs));
    assert_eq!(
        names(&plan(&spec(GIB), &o)),
        [
            "empty file",
            "nocow file",
            "allocate file 1024",
            "header file keep-uuid",
            "swapon file",
        ]
    );
}

/// hostfix's swap-over area (recorded as made, for a resize to `resize_to`).
fn temp(o: &mut Observation, active: Option<SwapEntry>, content: Content, resize_to: u64) {
    let mut f = swap_file(32 * MIB);
    f.ino = 99;
    f.content = content;
    record(o).temp = Some(made(99, resize_to));
    if let Some(e) = &active {
        o.swaps.push(e.clone());
    }
    o.temp = Some(TempFacts {
        path: "/.swapfile.hostfix-swapover".into(),
        target: Target::File(f),
        active,
    });
}

fn temp_entry() -> SwapEntry {
    entry("/.swapfile.hostfix-swapover", 32 * MIB, 0)
}

#[test]
fn leftover_swapover_areas_are_retired_when_allowed() {
    let mut o = converged();
    temp(&mut o, None, header(32 * MIB), GIB);
    let steps = plan(&spec(GIB), &o);
    assert_eq!(names(&steps), ["delete temp (cleanup)"]);
    assert_eq!(steps[0].risk, Risk::Additive, "hostfix's own inactive file");
    let mut o = converged();
    temp(&mut o, Some(temp_entry()), header(32 * MIB), GIB);
    assert_eq!(
        names(&plan(&spec(GIB), &o)),
        [
            "swapoff temp [disruptive] (cleanup)",
            "delete temp (cleanup)"
        ]
    );
    // Something else under that name is left alone, and said so.
    let mut o = converged();
    temp(&mut o, None, header(32 * MIB), GIB);
    record(&mut o).temp = None;
    let steps = plan(&spec(GIB), &o);
    assert_eq!(names(&steps), ["leave /.swapfile.hostfix-swapover"]);
    let Action::LeaveAlone { why, .. } = &steps[0].action else {
        panic!()
    };
    assert!(why.contains("no record"), "{why}");
    // A swap-over area the record names but that is gone is forgotten.
    let mut o = converged();
    record(&mut o).temp = Some(made(99, GIB));
    assert_eq!(names(&plan(&spec(GIB), &o)), ["forget temp (cleanup)"]);
}

/// The host at each point a resize from 1 GiB to 2 GiB (100 MiB in use) can be killed,
/// in the order the steps are taken.
fn killed_resize(point: &str) -> Observation {
    let mut o = converged();
    let e = entry("/swapfile", GIB, 100 * MIB);
    o.active = Some(e.clone());
    o.swaps = vec![e];
    let target_off = |o: &mut Observation, f: FileFacts| {
        o.active = None;
        o.swaps.clear();
        o.target = Target::File(f);
    };
    let mut grown = swap_file(2 * GIB);
    grown.content = header(GIB);
    match point {
        "intent for the temp area" => record(&mut o).temp = Some(intent(2 * GIB)),
        "temp area created" => {
            let mut f = swap_file(0);
            f.content = Content::Zeros;
            temp(&mut o, None, Content::Zeros, 2 * GIB);
            if let Some(t) = &mut o.temp {
                t.target = Target::File(FileFacts { ino: 99, ..f });
            }
        }
        "temp area allocated" => temp(&mut o, None, Content::Zeros, 2 * GIB),
        "temp header written" => temp(&mut o, None, header(32 * MIB), 2 * GIB),
        "temp area on" => temp(&mut o, Some(temp_entry()), header(32 * MIB), 2 * GIB),
        "file off" => {
            temp(&mut o, Some(temp_entry()), header(32 * MIB), 2 * GIB);
            target_off(&mut o, swap_file(GIB));
        }
        "file grown" => {
            temp(&mut o, Some(temp_entry()), header(32 * MIB), 2 * GIB);
            target_off(&mut o, grown);
        }
        "file header written" => {
            temp(&mut o, Some(temp_entry()), header(32 * MIB), 2 * GIB);
            target_off(&mut o, swap_file(2 * GIB));
        }
        "file back on" | "temp area off" | "temp area deleted" => {
            let e = entry("/swapfile", 2 * GIB, 0);
            o.target = Target::File(swap_file(2 * GIB));
            o.active = Some(e.clone());
            o.swaps = vec![e];
            match point {
                "file back on" => temp(&mut o, Some(temp_entry()), header(32 * MIB), 2 * GIB),
                "temp area off" => temp(&mut o, None, header(32 * MIB), 2 * GIB),
                _ => record(&mut o).temp = Some(made(99, 2 * GIB)),
            }
        }
        p => panic!("{p}"),
    }
    o
}

#[test]
fn a_resize_killed_at_any_point_converges_at_the_default_cap() {
    // What the next `swap ensure --size 2G` plans; at the default cap (additive) the
    // needed steps run when all are additive, clean-up that is additive runs, and
    // anything disruptive is refused naming --max-risk disruptive.
    let resize = [
        "create temp",
        "allocate temp 125",
        "header temp",
        "swapon temp",
        "swapoff file [disruptive]",
        "allocate file 2048 [disruptive]",
        "header file keep-uuid [disruptive]",
        "swapon file [disruptive]",
        "swapoff temp [disruptive]",
        "delete temp",
    ];
    let with_cleanup = |first: &str| {
        let mut v = vec![first.to_string()];
        v.extend(resize.iter().map(|s| s.to_string()));
        v
    };
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "intent for the temp area",
            with_cleanup("forget temp (cleanup)"),
        ),
        ("temp area created", with_cleanup("delete temp (cleanup)")),
        ("temp area allocated", with_cleanup("delete temp (cleanup)")),
        ("temp header written", with_cleanup("delete temp (cleanup)")),
        (
            "temp area on",
            [
                "swapoff file [disruptive]",
                "allocate file 2048 [disruptive]",
                "header file keep-uuid [disruptive]",
                "swapon file [disruptive]",
                "swapoff temp [disruptive]",
                "delete temp",
            ]
            .map(String::from)
            .to_vec(),
        ),
        (
            "file off",
            [
                "allocate file 2048",
                "header file keep-uuid",
                "swapon file",
                "swapoff temp [disruptive] (cleanup)",
                "delete temp (cleanup)",
            ]
            .map(String::from)
            .to_vec(),
        ),
        (
            "file grown",
            [
                "allocate file 2048",
                "header file keep-uuid",
                "swapon file",
                "swapoff temp [disruptive] (cleanup)",
                "delete temp (cleanup)",
            ]
            .map(String::from)
            .to_vec(),
        ),
        (
            "file header written",
            [
                "swapon file",
                "swapoff temp [disruptive] (cleanup)",
                "delete temp (cleanup)",
            ]
            .map(String::from)
            .to_vec(),
        ),
        (
            "file back on",
            [
                "swapoff temp [disruptive] (cleanup)",
                "delete temp (cleanup)",
            ]
            .map(String::from)
            .to_vec(),
        ),
        (
            "temp area off",
            ["delete temp (cleanup)"].map(String::from).to_vec(),
        ),
        (
            "temp area deleted",
            ["forget temp (cleanup)"].map(String::from).to_vec(),
        ),
    ];
    for (point, want) in cases {
        let o = killed_resize(point);
        let steps = plan(&spec(2 * GIB), &o);
        assert_eq!(names(&steps), want, "killed after: {point}");
        // Never a step that persists the swap-over area, never one on a file that is
        // not hostfix's.
        assert!(
            steps.iter().all(|s| !matches!(
                s.action,
                Action::PersistFstab { .. } | Action::PersistUnit { .. }
            )),
            "{point}"
        );
        // doctor's advice for the same host: the swap file's own command, never one
        // naming the swap-over area, disruptive exactly when something must be swapped
        // off.
        let (finding, _) = hostfix::testing::swap::diagnose::file_finding(&o);
        let temp_on = o.temp.as_ref().is_some_and(|t| t.active.is_some());
        let resize_left = o.active.as_ref().is_some_and(|e| e.size_bytes < GIB + MIB)
            && o.record.record().is_some_and(|r| r.temp.is_some())
            && o.temp.is_some();
        match finding.fix {
            Some(fix) => {
                assert!(
                    !fix.command.contains("swapover"),
                    "{point}: {}",
                    fix.command
                );
                assert!(fix.command.starts_with("hostfix swap ensure --size 2G"));
                assert_eq!(
                    fix.risk == Risk::Disruptive,
                    temp_on || resize_left,
                    "{point}: {}",
                    fix.command
                );
                assert_eq!(
                    fix.command.ends_with("--max-risk disruptive"),
                    fix.risk == Risk::Disruptive
                );
            }
            None => assert!(o.temp.is_none(), "{point}: a leftover without a fix"),
        }
    }
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
    // hostfix's own swap-over area goes too; an earlier hostfix's setup is recorded first.
    let mut o = converged();
    temp(&mut o, Some(temp_entry()), header(32 * MIB), 2 * GIB);
    assert_eq!(
        names(&plan_remove(&remove_spec(), &o).unwrap())[3..],
        ["swapoff temp [disruptive]", "delete temp"]
    );
    let mut o = converged();
    o.record = RecordFacts::Absent;
    assert_eq!(
        names(&plan_remove(&remove_spec(), &o).unwrap())[0],
        "record file"
    );
}

#[test]
fn remove_takes_only_what_hostfix_made() {
    let protected = |o: &Observation| match plan_remove(&remove_spec(), o) {
        Err(r) => match r.refusal {
            Refusal::Protected { target, why } => format!("{target}: {why}"),
            x => panic!("{x:?}"),
        },
        Ok(s) => panic!("not refused: {:?}", names(&s)),
    };
    // The case: another user's zero-filled file and their own fstab line.
    let mut o = empty_host();
    let mut f = swap_file(16 * MIB);
    f.content = Content::Zeros;
    f.mode = 0o644;
    f.uid = 1000;
    o.target = Target::File(f);
    o.fstab.lines = vec![fstab_line(3, "pri=5,noauto")];
    assert!(protected(&o).contains("hostfix did not create it"));
    // hostfix's file, but a line hostfix did not write still names it: deleting the
    // file would leave that line pointing at nothing.
    let mut o = converged();
    o.fstab.lines.push(fstab_line(3, "pri=5,noauto"));
    assert!(protected(&o).starts_with("/etc/fstab line 3"));
    let mut o = converged();
    o.unit.content = Some("[Swap]\nWhat=/swapfile\n".into());
    assert!(protected(&o).contains("swapfile.swap"));
    // No file: the lines and units that are not hostfix's stay, and the report says so;
    // hostfix's own line goes.
    let mut o = empty_host();
    record(&mut o).fstab_lines = vec![LINE.into()];
    o.fstab.lines = vec![fstab_line(2, "sw,nofail"), fstab_line(3, "pri=5,noauto")];
    o.unit.content = Some("[Swap]\nWhat=/swapfile\n".into());
    assert_eq!(
        names(&plan_remove(&remove_spec(), &o).unwrap()),
        [
            "leave /etc/fstab line 3 `/swapfile none swap pri=5,noauto 0 0`",
            "leave /etc/systemd/system/swapfile.swap",
            "unfstab [disruptive]",
        ]
    );
}

/// The first `/proc/swaps` numbers that panicked the resize planner: an active area
/// with 2^64 - 1 bytes in use beside one with 2^63 bytes free (the swap-over computed
/// the other areas' free space plus the temporary area's size with `+`). No disk holds
/// the temporary area and memory cannot take the pages: refused.
#[test]
fn resize_with_huge_numbers_from_the_host_does_not_overflow() {
    let mut o = converged();
    let e = entry("/swapfile", GIB, u64::MAX);
    let other = with(e.clone(), |it| {
        it.path = "/other".into();
        it.size_bytes = u64::MAX / 2;
        it.used_bytes = 0;
    });
    o.active = Some(e.clone());
    o.swaps = vec![e, other];
    let d = resolve(&spec(2 * GIB), &o).unwrap();
    assert!(plan_ensure(&d, &o).is_err());
}
