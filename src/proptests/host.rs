//! `/proc/PID/{stat,status,cmdline,cgroup}`, `/proc/meminfo`, pressure, cgroup files,
//! mounts, PID 1's environment, state paths, and the readers that join them to a root.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, PathBuf};

use proptest::prelude::*;

use super::{cfg, lines_of, maybe_mangled, text, weird_token};
use crate::host::{Host, container_from_environ, root_fs_type};
use crate::process::{
    Process, container_id_from_cgroup, parse_cgroup, parse_cmdline, parse_stat, parse_status_uid,
    unit_from_cgroup,
};
use crate::resources::memory::{
    CgroupMemory, MemInfo, Pressure, parse_cgroup_v2_path, parse_inactive_file, parse_memory_max,
};

// ---- /proc/PID/* ----------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Stat {
    pid: i32,
    comm: String,
    state: char,
    ppid: i32,
    flags: u64,
    start: u64,
}

fn stat() -> impl Strategy<Value = Stat> {
    (
        1..=i32::MAX,
        prop_oneof!["\\PC{0,15}", "[() a-z]{0,15}", "[^\u{0}]{0,15}"],
        proptest::sample::select("RSDZTtIXxKWP".chars().collect::<Vec<_>>()),
        0..=i32::MAX,
        any::<u64>(),
        any::<u64>(),
    )
        .prop_map(|(pid, comm, state, ppid, flags, start)| Stat {
            pid,
            comm,
            state,
            ppid,
            flags,
            start,
        })
}

/// The 52 fields of `/proc/PID/stat` as the kernel prints them.
fn stat_fields(s: &Stat) -> Vec<String> {
    let mut f = vec![
        s.pid.to_string(),
        format!("({})", s.comm),
        s.state.to_string(),
        s.ppid.to_string(),
    ];
    f.extend(["1", "1", "0", "-1"].map(String::from));
    f.push(s.flags.to_string());
    f.extend(std::iter::repeat_n("0".to_string(), 12));
    f.push(s.start.to_string());
    f.extend(std::iter::repeat_n("0".to_string(), 30));
    f
}

proptest! {
    // 512 cases of pure parsing: each test under ~0.6 s of CPU in a debug build.
    #![proptest_config(cfg(512))]

    #[test]
    fn stat_never_panics(s in prop_oneof![
        text(),
        maybe_mangled(stat().prop_map(|s| stat_fields(&s)), " "),
    ]) {
        if let Some(st) = parse_stat(&s) {
            prop_assert!(st.pid > 0, "pid {}", st.pid);
            let _ = st.is_kernel_thread();
        }
    }

    #[test]
    fn stat_round_trip(s in stat()) {
        let line = format!("{}\n", stat_fields(&s).join(" "));
        let st = parse_stat(&line).ok_or_else(|| TestCaseError::fail(line.clone()))?;
        prop_assert_eq!(st.pid, s.pid);
        prop_assert_eq!(&st.comm, &s.comm);
        prop_assert_eq!(st.state, s.state);
        prop_assert_eq!(st.ppid, s.ppid);
        prop_assert_eq!(st.flags, s.flags);
        prop_assert_eq!(st.start_time, s.start);
    }

    /// A pid that is not a positive `i32` is no process: signalling it would reach a
    /// process group, or every process.
    #[test]
    fn stat_pid_must_be_positive(s in stat(), pid in prop_oneof![
        Just("0".to_string()), Just("-1".to_string()), (i32::MIN..0).prop_map(|p| p.to_string()),
        Just("2147483648".to_string()),
    ]) {
        let mut f = stat_fields(&s);
        f[0] = pid;
        prop_assert_eq!(parse_stat(&f.join(" ")), None);
    }

    #[test]
    fn cmdline_keeps_every_argument(args in proptest::collection::vec(proptest::collection::vec(1..=255u8, 1..12), 0..6)) {
        let mut b = Vec::new();
        for a in &args {
            b.extend_from_slice(a);
            b.push(0);
        }
        let parsed = parse_cmdline(&b);
        prop_assert_eq!(parsed.len(), args.len());
        for (p, a) in parsed.iter().zip(&args) {
            prop_assert_eq!(p.clone(), String::from_utf8_lossy(a).into_owned());
        }
    }

    #[test]
    fn status_uid(s in text(), uids in any::<[u32; 4]>(), tok in weird_token()) {
        let _ = parse_status_uid(&s);
        let text = format!("Name:\tx\nUid:\t{}\t{}\t{}\t{}\nGid:\t0\t0\t0\t0\n", uids[0], uids[1], uids[2], uids[3]);
        prop_assert_eq!(parse_status_uid(&text), Some(uids[1]));
        let _ = parse_status_uid(&format!("Uid:\t0\t{tok}\t0\t0\n"));
    }

    #[test]
    fn cgroups(s in text(), path in "(/[a-z0-9@.:-]{1,12}){0,5}", id in "[0-9a-f]{64}", shape in 0..4usize) {
        let _ = (parse_cgroup(&s), unit_from_cgroup(&s), container_id_from_cgroup(&s));
        let _ = parse_cgroup_v2_path(&s);
        prop_assert_eq!(parse_cgroup(&format!("0::{path}\n")), Some(path.clone()));
        prop_assert_eq!(
            parse_cgroup(&format!("12:pids:/x\n1:name=systemd:{path}\n")),
            Some(path.clone())
        );
        let in_container = match shape {
            0 => format!("/system.slice/docker-{id}.scope"),
            1 => format!("/docker/{id}"),
            2 => format!("/machine.slice/libpod-{id}.scope"),
            _ => format!("/kubepods/burstable/pod1/cri-containerd-{id}.scope"),
        };
        prop_assert_eq!(container_id_from_cgroup(&in_container), Some(id));
        if let Some(found) = container_id_from_cgroup(&s) {
            prop_assert!(found.len() == 64 && found.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }
}

// ---- memory ---------------------------------------------------------------------------

const MEMINFO_KEYS: [&str; 10] = [
    "MemTotal",
    "MemFree",
    "MemAvailable",
    "Buffers",
    "Cached",
    "SReclaimable",
    "Shmem",
    "SwapTotal",
    "SwapFree",
    "HugePages_Total",
];

fn meminfo_line() -> impl Strategy<Value = String> {
    let fields = (
        proptest::sample::select(MEMINFO_KEYS.to_vec()),
        prop_oneof![any::<u64>(), 0..(u64::MAX / 1024)],
        prop_oneof![Just("kB"), Just("")],
    )
        .prop_map(|(k, v, u)| vec![format!("{k}:"), v.to_string(), u.to_string()]);
    maybe_mangled(fields, "   ")
}

proptest! {
    // 512 cases of pure parsing: each test under ~0.6 s of CPU in a debug build.
    #![proptest_config(cfg(512))]

    /// Any text parses or not; what parses has an availability that never overflows and
    /// never exceeds the total when estimated.
    #[test]
    fn meminfo_never_panics(s in prop_oneof![text(), lines_of(meminfo_line(), 12)]) {
        if let Ok(m) = MemInfo::parse(&s) {
            let (avail, estimated) = m.available();
            if estimated {
                prop_assert!(avail <= m.mem_total);
            }
        }
    }

    /// Values in kB read back as bytes; a value whose bytes overflow 64 bits is bad input.
    #[test]
    fn meminfo_round_trip(total in any::<u64>(), free in any::<u64>(), cached in any::<u64>()) {
        let text = format!("MemTotal: {total} kB\nMemFree:  {free} kB\nCached: {cached} kB\n");
        let fits = |v: u64| v <= u64::MAX / 1024;
        match MemInfo::parse(&text) {
            Ok(m) => {
                prop_assert!(fits(total) && fits(free) && fits(cached));
                prop_assert_eq!(m.mem_total, total * 1024);
                prop_assert_eq!(m.mem_free, free * 1024);
                prop_assert_eq!(m.cached, cached * 1024);
                let _ = m.available();
            }
            Err(_) => prop_assert!(!(fits(total) && fits(free) && fits(cached))),
        }
    }

    #[test]
    fn pressure_is_finite_or_bad(s in prop_oneof![
        text(),
        lines_of(
            ("(some|full)", proptest::collection::vec(("(avg10|avg60|avg300|total)", weird_token()), 0..5))
                .prop_map(|(k, kv)| format!("{k} {}", kv.iter().map(|(a, b)| format!("{a}={b}")).collect::<Vec<_>>().join(" "))),
            3,
        ),
    ]) {
        if let Ok(p) = Pressure::parse(&s) {
            for v in [p.some_avg10, p.some_avg60, p.some_avg300, p.full_avg10] {
                prop_assert!(v.is_finite() && v >= 0.0, "{v} from {s:?}");
            }
        }
    }

    #[test]
    fn cgroup_memory_files(s in text(), n in any::<u64>(), tok in weird_token(), c in any::<[u64; 3]>()) {
        let _ = (parse_memory_max(&s), parse_inactive_file(&s));
        prop_assert_eq!(parse_memory_max(&format!("{n}\n")), Some(n));
        prop_assert_eq!(parse_memory_max("max\n"), None);
        let _ = parse_memory_max(&tok);
        prop_assert_eq!(parse_inactive_file(&format!("anon 1\ninactive_file {n}\n")), n);
        let cg = CgroupMemory { cgroup: "/".into(), max: c[0], current: c[1], inactive_file: c[2] };
        prop_assert!(cg.available() <= cg.max);
    }
}

/// The first input that made `MemInfo::available` overflow: no `MemAvailable` (a kernel
/// before 3.14) and free plus cache above 2^64 bytes.
#[test]
fn meminfo_estimate_does_not_overflow() {
    let text = "MemTotal: 1 kB\nMemFree: 18014398509481983 kB\nBuffers: 18014398509481983 kB\n";
    let m = MemInfo::parse(text).unwrap();
    assert_eq!(m.available(), (1024, true));
}

/// A value in kB whose bytes do not fit 64 bits used to saturate silently to 16 EiB.
#[test]
fn meminfo_kb_beyond_64_bits_is_bad_input() {
    assert!(MemInfo::parse("MemTotal: 18014398509481984 kB\nMemFree: 0 kB\n").is_err());
}

// ---- mounts, environ, state paths -----------------------------------------------------

proptest! {
    // 512 cases of pure parsing: each test under ~0.6 s of CPU in a debug build.
    #![proptest_config(cfg(512))]

    #[test]
    fn mounts_and_environ(
        s in text(),
        b in proptest::collection::vec(any::<u8>(), 0..200),
        ty in "[a-z0-9_.-]{1,12}",
        other in "[a-z0-9]{1,8}",
    ) {
        let _ = root_fs_type(&s);
        let _ = container_from_environ(&b);
        let mounts = format!("/dev/vda1 / ext4 rw 0 0\nproc /proc proc rw 0 0\noverlay / {ty} rw 0 0\n");
        prop_assert_eq!(root_fs_type(&mounts), Some(ty.clone()));
        let env = format!("PATH=/bin\0container={other}\0HOME=/\0");
        prop_assert_eq!(container_from_environ(env.as_bytes()), Some(other));
    }

    /// `state::normalize` gives an absolute path without `.` or `..` that normalises to
    /// itself, and never climbs above the root.
    #[test]
    fn state_paths_normalise(p in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|b| PathBuf::from(OsStr::from_bytes(&b))),
        proptest::collection::vec(prop_oneof![Just(".."), Just("."), Just(""), Just("a"), Just("tmp")], 0..8)
            .prop_map(|c| PathBuf::from(format!("/{}", c.join("/")))),
    ]) {
        match crate::state::normalize("state directory", &p) {
            Ok(n) => {
                prop_assert!(n.is_absolute());
                prop_assert!(n.components().all(|c| matches!(c, Component::RootDir | Component::Normal(_))));
                prop_assert!(!n.as_os_str().as_bytes().contains(&0));
                prop_assert_eq!(crate::state::normalize("x", &n).ok(), Some(n.clone()));
            }
            Err(e) => prop_assert!(!p.is_absolute() || p.as_os_str().as_bytes().contains(&0), "{e}"),
        }
    }
}

// ---- readers over a fake root, with arbitrary bytes -------------------------------------

proptest! {
    // Each case writes a few files to a temp directory: ~1 ms.
    #![proptest_config(cfg(64))]

    /// The thin readers hand any bytes (not UTF-8, empty, huge numbers) to their parsers
    /// and never panic.
    #[test]
    fn readers_of_arbitrary_bytes(
        files in proptest::collection::vec(
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..300),
                text().prop_map(String::into_bytes),
                lines_of(meminfo_line(), 10).prop_map(String::into_bytes),
                maybe_mangled(stat().prop_map(|s| stat_fields(&s)), " ").prop_map(String::into_bytes),
            ],
            8,
        ),
    ) {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        let put = |rel: &str, bytes: &[u8]| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        };
        put("proc/meminfo", &files[0]);
        put("proc/pressure/memory", &files[1]);
        put("proc/self/cgroup", &files[2]);
        put("proc/42/stat", &files[3]);
        put("proc/42/status", &files[4]);
        put("proc/42/cgroup", &files[5]);
        put("proc/42/cmdline", &files[6]);
        put("proc/net/tcp", &files[7]);
        put("proc/net/udp6", &files[0]);
        put("proc/1/environ", &files[6]);
        put("proc/self/mounts", &files[7]);
        put(".dockerenv", b"");
        put("sys/fs/cgroup/memory.max", &files[1]);
        let host = Host::fake(root);
        let _ = crate::resources::read_memory(&host);
        let _ = Process::read(&host, 42);
        let _ = crate::process::ancestry(&host, 42);
        let _ = crate::port::table::read_proc_net(&host, crate::port::Proto::Tcp, 80);
        let _ = crate::port::table::read_proc_net(&host, crate::port::Proto::Udp, 80);
        let _ = host.container();
    }
}

/// The first pressure value read as a share of time that is none: `avg10=NaN` (and
/// negative numbers).
#[test]
fn pressure_nan_is_bad_input() {
    assert!(Pressure::parse("some avg10=NaN avg60=0 avg300=0 total=0\n").is_err());
    assert!(Pressure::parse("some avg10=-9223372036854775808\n").is_err());
    assert!(Pressure::parse("some avg10=1.50 avg60=0.00 avg300=0.00 total=9\n").is_ok());
}
