//! Real-kernel tests (root): what the ladder reads from `/proc` and `/sys/fs/cgroup`, and
//! what it does with pidfds, on processes these tests start and in cgroups they create.
//!
//! No container engine runs here, so the engine is played by a scripted `docker`; the
//! processes, cgroups, frozen filesystem and signals are real. Each cgroup test runs in
//! the host's cgroup v2 hierarchy (at /sys/fs/cgroup, or /sys/fs/cgroup/unified on a
//! hybrid host) and again in the v1 freezer hierarchy when the host has one. Each test
//! skips loudly (a failure under `HOSTFIX_REQUIRE_ROOT=1`) when not root or when the
//! kernel or a tool it needs is missing, and cleans up (thaw, kill, reap, umount,
//! losetup -d, rmdir) through guards even when it fails.

use std::io::Write as _;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use hostfix::container::{self, NoRebootGate, RemoveOptions};
use hostfix::testing::container::ladder::ContainerRung;
use hostfix::testing::container::procs::{self, Futility, Sampling};
use hostfix::testing::with;
use hostfix::testing::{Cmd, CmdOutput, FakeRoot, RecordingSystem};
use hostfix::{Host, Policy, Risk, StepStatus};
use nix::sys::signal::Signal;
use serde_json::json;

#[path = "support/tiers.rs"]
mod tiers;

use tiers::Tier;

fn skip(why: &str) {
    tiers::skip(Tier::Root, why);
}

fn not_root() -> bool {
    !tiers::root("cgroups, loop devices and signals to other users' processes")
}

/// A fresh random-looking container id, so nothing else on the host can match it.
fn test_id() -> String {
    let t = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:032x}{:016x}{:016x}", t, std::process::id(), t >> 7)
}

/// A cgroup hierarchy a stand-in container can live in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hier {
    /// The cgroup v1 `freezer` hierarchy (hybrid and legacy hosts).
    V1Freezer,
    /// The cgroup v2 (unified) hierarchy: every modern host, alone or beside v1.
    V2,
}

impl Hier {
    /// Where this host mounts the hierarchy, checked by filesystem type: v2 at
    /// /sys/fs/cgroup (v2 only) or /sys/fs/cgroup/unified (hybrid), v1's freezer at
    /// /sys/fs/cgroup/freezer.
    fn mount(self) -> Option<&'static Path> {
        use nix::sys::statfs::{CGROUP_SUPER_MAGIC, CGROUP2_SUPER_MAGIC, statfs};
        let (candidates, magic): (&[&'static str], _) = match self {
            Hier::V1Freezer => (&["/sys/fs/cgroup/freezer"], CGROUP_SUPER_MAGIC),
            Hier::V2 => (
                &["/sys/fs/cgroup", "/sys/fs/cgroup/unified"],
                CGROUP2_SUPER_MAGIC,
            ),
        };
        candidates
            .iter()
            .map(Path::new)
            .find(|p| statfs(*p).is_ok_and(|s| s.filesystem_type() == magic))
    }

    /// The hierarchies these tests run on here: v2 always (a skip, a failure under
    /// `HOSTFIX_REQUIRE_ROOT=1`, when the host mounts none), v1's freezer too when the host
    /// has it (a v2-only host has no v1 path to test). Each with its mount.
    fn available() -> Option<Vec<(Hier, &'static Path)>> {
        let Some(v2) = Hier::V2.mount() else {
            skip(
                "no cgroup v2 hierarchy is mounted (at /sys/fs/cgroup or /sys/fs/cgroup/unified): \
                 the v2 path cannot be tested",
            );
            return None;
        };
        let mut all = Vec::new();
        match Hier::V1Freezer.mount() {
            Some(v1) => all.push((Hier::V1Freezer, v1)),
            None => tiers::loud(&format!(
                "{}: no cgroup v1 freezer hierarchy here (a v2-only host): v2 only",
                tiers::test_name()
            )),
        }
        all.push((Hier::V2, v2));
        Some(all)
    }
}

/// A cgroup this test created, removed on drop (thawed first).
struct Cgroup {
    dir: PathBuf,
    v1_freezer: bool,
}

impl Cgroup {
    /// Creates the cgroup `hostfix-<id>` in a hierarchy mounted at `mount`; fails the test
    /// when the kernel does not make it a cgroup with the freezer knob.
    fn create(hier: Hier, mount: &Path, id: &str) -> Cgroup {
        let dir = mount.join(format!("hostfix-{id}"));
        let v1_freezer = hier == Hier::V1Freezer;
        let knob = if v1_freezer {
            "freezer.state"
        } else {
            "cgroup.freeze"
        };
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let cg = Cgroup { dir, v1_freezer };
        assert!(
            cg.dir.join(knob).exists(),
            "{}: the kernel made no {knob}",
            cg.dir.display()
        );
        cg
    }
    fn add(&self, pid: u32) {
        std::fs::write(self.dir.join("cgroup.procs"), pid.to_string()).unwrap();
    }
    fn freeze(&self, on: bool) {
        if self.v1_freezer {
            std::fs::write(
                self.dir.join("freezer.state"),
                if on { "FROZEN" } else { "THAWED" },
            )
            .unwrap();
        } else {
            std::fs::write(self.dir.join("cgroup.freeze"), if on { "1" } else { "0" }).unwrap();
        }
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // Never create a file: write only to a knob the kernel made.
        let (knob, thawed) = if self.v1_freezer {
            ("freezer.state", "THAWED")
        } else {
            ("cgroup.freeze", "0")
        };
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .write(true)
            .open(self.dir.join(knob))
        {
            let _ = f.write_all(thawed.as_bytes());
        }
        // The tasks must be gone before the directory can go.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("could not remove cgroup {}", self.dir.display());
    }
}

/// Children this test started: killed and reaped on drop. A reaper thread waits for
/// each, so a killed child never lingers as a zombie in its cgroup.
struct Kids {
    pids: Vec<u32>,
    status: Arc<Mutex<Vec<(u32, std::process::ExitStatus)>>>,
}

impl Kids {
    fn new() -> Kids {
        Kids {
            pids: Vec::new(),
            status: Arc::new(Mutex::new(Vec::new())),
        }
    }
    fn adopt(&mut self, mut child: Child) -> u32 {
        let pid = child.id();
        self.pids.push(pid);
        let st = self.status.clone();
        std::thread::spawn(move || {
            if let Ok(s) = child.wait() {
                st.lock().unwrap().push((pid, s));
            }
        });
        pid
    }
    fn exit_signal(&self, pid: u32, within: Duration) -> Option<i32> {
        let end = Instant::now() + within;
        while Instant::now() < end {
            if let Some((_, s)) = self.status.lock().unwrap().iter().find(|(p, _)| *p == pid) {
                return s.signal();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Kids {
    fn drop(&mut self) {
        for p in &self.pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*p as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

fn sleeper() -> Child {
    Command::new("sleep")
        .arg("600")
        .stdin(Stdio::null())
        .spawn()
        .unwrap()
}

fn state_of(pid: u32) -> Option<char> {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| hostfix::testing::process::parse_stat(&s))
        .map(|s| s.state)
}

fn wait_state(pid: u32, want: char, within: Duration) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if state_of(pid) == Some(want) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// The real kernel (signals, sleeps and the clock are real), with a scripted engine
/// that lists one container (or none): a live recording system whose run hook is the
/// engine. Every engine command line (without its `timeout` wrapper) is kept in `calls`;
/// the signals are in the recorder's calls.
#[derive(Debug)]
struct KernelWithFakeEngine {
    rec: Arc<RecordingSystem>,
    calls: Arc<Mutex<Vec<String>>>,
}

/// What the scripted engine answers to `args` (the docker arguments).
fn engine_answer(id: &str, listed_as: Option<&str>, args: &[String]) -> CmdOutput {
    let Some(status) = listed_as else {
        return match args[0].as_str() {
            "ps" => CmdOutput::ok(""),
            "info" => CmdOutput::ok("false\n"),
            _ => CmdOutput::failed(
                1,
                format!(
                    "Error response from daemon: No such container: {}",
                    args.last().unwrap()
                ),
            ),
        };
    };
    match args[0].as_str() {
        "ps" => CmdOutput::ok(
            json!({"ID": id, "Names": "stuck", "State": status, "Status": "Up"}).to_string() + "\n",
        ),
        "container" => CmdOutput::ok(
            json!({"Id": id, "Name": "/stuck",
                   "State": {"Status": status, "Running": true, "Pid": 0}})
            .to_string()
                + "\n",
        ),
        "info" => CmdOutput::ok("false\n"),
        _ => CmdOutput::failed(
            1,
            "Error response from daemon: cannot remove - tried to kill container, but did not receive an exit event",
        ),
    }
}

/// A root whose `usr/bin` holds the `docker` and `timeout` the ladder finds, while every
/// other path (`/proc`, `/sys`) is the live one, through symlinks.
fn live_root() -> FakeRoot {
    let root = FakeRoot::new();
    for d in ["/proc", "/sys", "/run"] {
        root.symlink(d, d);
    }
    root.program("/usr/bin/docker").program("/usr/bin/timeout");
    root
}

fn engine(id: &str, listed_as: Option<&'static str>) -> Arc<KernelWithFakeEngine> {
    let rec = Arc::new(RecordingSystem::live());
    let calls = Arc::new(Mutex::new(Vec::new()));
    let (seen, id) = (calls.clone(), id.to_string());
    rec.on_run(move |cmd: &Cmd| {
        let mut args = cmd.args.clone();
        if cmd.program.ends_with("timeout") {
            args = args[4..].to_vec();
        }
        seen.lock().unwrap().push(args.join(" "));
        Some(engine_answer(&id, listed_as, &args))
    });
    rec.on_swapon(|_, _| panic!("swapon"));
    rec.on_swapoff(|_| panic!("swapoff"));
    rec.on_bind(|_, _| panic!("bind"));
    rec.on_reboot(|| panic!("reboot"));
    Arc::new(KernelWithFakeEngine { rec, calls })
}

#[test]
#[serial_test::serial]
fn frozen_cgroups_are_seen_on_the_real_kernel() {
    if not_root() {
        return;
    }
    let Some(hiers) = Hier::available() else {
        return;
    };
    let id = test_id();
    let host = Host::live();
    let mut kids = Kids::new();
    for (hier, mount) in hiers {
        let cg = Cgroup::create(hier, mount, &id);
        let v1 = hier == Hier::V1Freezer;
        let pid = kids.adopt(sleeper());
        cg.add(pid);
        let found = procs::scan(&host).processes_of(&id);
        assert_eq!(
            found.len(),
            1,
            "{hier:?}: the scan finds the process by its cgroup"
        );
        assert_eq!(found[0].pid, pid as i32);
        assert_eq!(
            procs::futility(&host, &found, false, Sampling::default()),
            None
        );

        cg.freeze(true);
        let end = Instant::now() + Duration::from_secs(5);
        let mut f = None;
        while f.is_none() && Instant::now() < end {
            f = procs::futility(&host, &found, false, Sampling::default());
        }
        match f {
            Some(Futility::Frozen { cgroup_version, .. }) => {
                assert_eq!(cgroup_version, if v1 { 1 } else { 2 }, "{hier:?}")
            }
            other => panic!("{hier:?}: {other:?}"),
        }
        if !v1 {
            // The v2-only fact the ladder relies on (it skips SIGTERM but keeps SIGKILL):
            // a fatal signal ends a task in a frozen v2 cgroup. On v1 it would not until
            // the cgroup is thawed.
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGKILL);
            assert_eq!(
                kids.exit_signal(pid, Duration::from_secs(5)),
                Some(9),
                "SIGKILL did not end a task in a frozen v2 cgroup"
            );
            cg.freeze(false);
            continue;
        }
        cg.freeze(false);
        assert!(
            procs::futility(&host, &found, false, Sampling::default()).is_none(),
            "{hier:?}: thawed"
        );
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGKILL);
        assert_eq!(kids.exit_signal(pid, Duration::from_secs(5)), Some(9));
    }
}

/// A loop-mounted ext4, frozen with fsfreeze by [`FrozenFs::freeze`]; thawed, unmounted
/// and detached on drop.
struct FrozenFs {
    dir: tempfile::TempDir,
    mnt: PathBuf,
    loopdev: String,
    frozen: bool,
}

impl FrozenFs {
    fn new() -> Option<FrozenFs> {
        for tool in ["mkfs.ext4", "losetup", "mount", "umount", "fsfreeze"] {
            if which::which(tool).is_err() {
                skip(&format!("{tool} is missing"));
                return None;
            }
        }
        let dir = tempfile::tempdir().ok()?;
        let img = dir.path().join("fs.img");
        let f = std::fs::File::create(&img).ok()?;
        f.set_len(16 << 20).ok()?;
        let ok = |c: &mut Command| c.output().is_ok_and(|o| o.status.success());
        if !ok(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&img)) {
            skip("mkfs.ext4 failed");
            return None;
        }
        let out = Command::new("losetup")
            .args(["-f", "--show"])
            .arg(&img)
            .output()
            .ok()?;
        if !out.status.success() {
            skip("no loop device");
            return None;
        }
        let loopdev = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).ok()?;
        let me = FrozenFs {
            dir,
            mnt,
            loopdev,
            frozen: false,
        };
        if !ok(Command::new("mount").arg(&me.loopdev).arg(&me.mnt)) {
            skip("mount of the loop device failed");
            return None;
        }
        Some(me)
    }
    fn freeze(&mut self) {
        let s = Command::new("fsfreeze")
            .arg("-f")
            .arg(&self.mnt)
            .status()
            .unwrap();
        assert!(s.success());
        self.frozen = true;
    }
    fn thaw(&mut self) {
        if self.frozen {
            let _ = Command::new("fsfreeze").arg("-u").arg(&self.mnt).status();
            self.frozen = false;
        }
    }
}

impl Drop for FrozenFs {
    fn drop(&mut self) {
        self.thaw();
        for _ in 0..50 {
            if Command::new("umount")
                .arg(&self.mnt)
                .status()
                .is_ok_and(|s| s.success())
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("losetup")
            .arg("-d")
            .arg(&self.loopdev)
            .status();
        let _ = &self.dir;
    }
}

#[test]
#[serial_test::serial]
fn a_writer_on_a_frozen_filesystem_makes_the_ladder_skip_to_the_reboot() {
    if not_root() {
        return;
    }
    let Some(hiers) = Hier::available() else {
        return;
    };
    for (hier, mount) in hiers {
        if !writer_in_d_skips_to_the_reboot(hier, mount) {
            return;
        }
    }
}

/// One hierarchy's run of the test above; false when it skipped (no frozen filesystem).
fn writer_in_d_skips_to_the_reboot(hier: Hier, mount: &Path) -> bool {
    let id = test_id();
    let cg = Cgroup::create(hier, mount, &id);
    let Some(mut fs) = FrozenFs::new() else {
        return false;
    };
    let mut kids = Kids::new();
    // On a failure the guards drop in reverse order: the writer is killed (the kill
    // waits in D), then the filesystem thawed (the writer dies), then the cgroup goes.
    let file = fs.mnt.join("f");
    let writer = Command::new("sh")
        .arg("-c")
        .arg(format!("while :; do echo x > '{}'; done", file.display()))
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = kids.adopt(writer);
    cg.add(pid);
    fs.freeze();
    assert!(
        wait_state(pid, 'D', Duration::from_secs(10)),
        "{hier:?}: the writer never reached D: {:?}",
        state_of(pid)
    );

    let root = live_root();
    let sys = engine(&id, Some("running"));
    let host = Host::with_system(root.path(), sys.rec.clone());
    let mut o = RemoveOptions::new(&id);
    o.sampling = with(Sampling::default(), |it| {
        it.samples = 3;
        it.interval = Duration::from_millis(200);
    });
    let policy = Policy::new(Risk::Destructive).state_dir("/var/lib/hostfix");
    let r = container::remove(&host, &o, &policy, &NoRebootGate);
    assert_eq!(r.exit_code(), 3, "{:?}\n{:#?}", r.error, r.steps);
    assert!(matches!(
        r.result.futility,
        Some(Futility::Uninterruptible { .. })
    ));
    let mutating: Vec<_> = r
        .steps
        .iter()
        .filter(|s| s.risk > Risk::ReadOnly)
        .map(|s| s.status)
        .collect();
    assert_eq!(
        mutating,
        vec![
            StepStatus::Skipped,
            StepStatus::Skipped,
            StepStatus::Skipped,
            StepStatus::Skipped,
            StepStatus::Skipped,
            StepStatus::Refused
        ],
        "{:#?}",
        r.steps
    );
    assert_eq!(r.result.next.as_ref().unwrap().rung, ContainerRung::Reboot);
    let calls = sys.calls.lock().unwrap().clone();
    assert!(
        calls.iter().all(|c| c.starts_with("ps")
            || c.starts_with("container inspect")
            || c.starts_with("info")),
        "nothing but reads: {calls:?}"
    );
    assert!(sys.rec.signals().is_empty(), "{:?}", sys.rec.signals());
    assert_eq!(
        state_of(pid),
        Some('D'),
        "the writer is still stuck, untouched"
    );

    // Thawed, the writer leaves D and the same observation no longer calls it stuck.
    fs.thaw();
    let end = Instant::now() + Duration::from_secs(5);
    let mut f = Some(());
    while f.is_some() && Instant::now() < end {
        let p = procs::scan(&Host::live()).processes_of(&id);
        f = procs::persistently_uninterruptible(&Host::live(), &p, o.sampling).map(|_| ());
    }
    assert!(f.is_none(), "thawed writer still in D");
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGKILL);
    assert_eq!(kids.exit_signal(pid, Duration::from_secs(5)), Some(9));
    drop(kids);
    drop(fs);
    drop(cg);
    true
}

#[test]
#[serial_test::serial]
fn a_stopped_shim_and_leftovers_the_engine_forgot_die_through_pidfds() {
    if not_root() {
        return;
    }
    let Some(hiers) = Hier::available() else {
        return;
    };
    for (hier, mount) in hiers {
        stopped_shim_and_leftover_die(hier, mount);
    }
}

/// One hierarchy's run of the test above.
fn stopped_shim_and_leftover_die(hier: Hier, mount: &Path) {
    let id = test_id();
    let mut kids = Kids::new();
    // A stand-in shim: a shell named containerd-shim-runc-v2 with the shim's arguments,
    // waiting on a pipe (no children), then stopped as in the incident's reproduction.
    let tmp = tempfile::tempdir().unwrap();
    let shim_bin = tmp.path().join("containerd-shim-runc-v2");
    std::fs::copy("/bin/sh", &shim_bin).unwrap();
    let mut shim = Command::new(&shim_bin)
        .args([
            "-c",
            "read x",
            "-namespace",
            "moby",
            "-id",
            &id,
            "-address",
            "/run/x.sock",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut shim_stdin = shim.stdin.take().unwrap();
    let shim_pid = kids.adopt(shim);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(shim_pid as i32), Signal::SIGSTOP).unwrap();
    assert!(wait_state(shim_pid, 'T', Duration::from_secs(5)));

    // A leftover container process, in a cgroup that stands for the container.
    let cg = Cgroup::create(hier, mount, &id);
    let leftover = kids.adopt(sleeper());
    cg.add(leftover);

    let root = live_root();
    let sys = engine(&id, None);
    let host = Host::with_system(root.path(), sys.rec.clone());
    let state = tempfile::tempdir().unwrap();
    let policy = Policy::new(Risk::Disruptive).state_dir(state.path());

    // At the default cap the engine rungs are skipped (it lists nothing) and the shim
    // rung is refused: nothing is signalled.
    let r = container::remove(&host, &RemoveOptions::new(&id), &policy, &NoRebootGate);
    assert_eq!(r.exit_code(), 3, "{:?}", r.error);
    assert_eq!(
        r.result.next.as_ref().unwrap().rung,
        ContainerRung::KillShim
    );
    assert!(sys.rec.signals().is_empty());
    assert_eq!(state_of(shim_pid), Some('T'));

    let policy = Policy::new(Risk::Destructive).state_dir(state.path());
    let r = container::remove(
        &host,
        &RemoveOptions::new(&id[..16]),
        &policy,
        &NoRebootGate,
    );
    assert_eq!(r.exit_code(), 0, "{:?}\n{:#?}", r.error, r.steps);
    assert_eq!(r.result.removed_by, Some(ContainerRung::KillShim));
    assert_eq!(kids.exit_signal(shim_pid, Duration::from_secs(5)), Some(9));
    assert_eq!(
        kids.exit_signal(leftover, Duration::from_secs(5)),
        Some(9),
        "{hier:?}: the leftover"
    );
    assert!(procs::scan(&Host::live()).ids().iter().all(|i| i != &id));
    // The stopped shim never read its stdin.
    let _ = shim_stdin.write_all(b"x\n");
    drop(cg);
}
