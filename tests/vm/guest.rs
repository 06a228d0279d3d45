//! One scenario's guest: a copy-on-write overlay of the base image, a handoff disk with the
//! hostfix binary and the scenario script, and one or more qemu runs on that overlay.
//!
//! A run ends when the guest powers off (qemu exits) or at its deadline (qemu is killed).
//! When the test fails, the guest's console and the scenario log of every run are printed
//! (their tails), so a failure in CI can be read without the guest.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Lab;
use crate::image;
use crate::proc::{self, Outcome};
use crate::results::Results;

/// The guest's RAM: the incident's small host (a t3.micro has 1 GiB; half of that makes
/// the memory finding real and keeps emulation quick).
pub const MEMORY_MIB: u32 = 512;

/// The units a lean boot masks (`systemd.mask=` on the kernel command line).
const LEAN_MASKED: [&str; 10] = [
    "docker.socket",
    "docker.service",
    "containerd.service",
    "nginx.service",
    "ssh.service",
    "apparmor.service",
    "e2scrub_reap.service",
    "systemd-logind.service",
    "getty@tty1.service",
    "serial-getty@ttyS0.service",
];

/// How one qemu run may go.
#[derive(Debug, Clone, Copy)]
pub struct BootOpts {
    /// Let a guest reboot really happen (no `-no-reboot`). Otherwise a reboot ends qemu.
    pub allow_reboot: bool,
    /// Kill qemu after this long.
    pub timeout: Duration,
    /// Let cloud-init run. Off, the kernel command line says `cloud-init=disabled`: the
    /// image has Debian's cloud-init, and only the cloud-init scenario wants it.
    pub cloud_init: bool,
    /// A qemu user-network NIC (no way out: `restrict=on`) with 127.0.0.1:PORT on this
    /// machine forwarded to the guest's sshd. Without it the guest has no NIC at all.
    pub ssh_port: Option<u16>,
    /// A lean boot, for scenarios that boot many times: a quiet console, and none of the
    /// services they do not need (Docker, containerd, nginx, sshd, AppArmor, logind, the
    /// gettys), masked on the kernel command line for this boot only.
    pub lean: bool,
}

impl BootOpts {
    /// One boot, ended by the runner's poweroff; a guest reboot ends qemu too.
    pub fn once(timeout: Duration) -> Self {
        BootOpts {
            allow_reboot: false,
            timeout,
            cloud_init: false,
            ssh_port: None,
            lean: false,
        }
    }

    /// Boots until the guest powers off; its reboots really happen.
    pub fn with_reboots(timeout: Duration) -> Self {
        BootOpts {
            allow_reboot: true,
            ..BootOpts::once(timeout)
        }
    }

    /// With cloud-init running at boot (reading the seed disk, see [`Guest::attach_seed`]).
    pub fn with_cloud_init(self) -> Self {
        BootOpts {
            cloud_init: true,
            ..self
        }
    }

    /// With the guest's port 22 forwarded from 127.0.0.1:`port` (see [`free_local_port`]).
    pub fn with_ssh(self, port: u16) -> Self {
        BootOpts {
            ssh_port: Some(port),
            ..self
        }
    }

    /// A lean boot (see [`BootOpts::lean`]).
    pub fn lean(self) -> Self {
        BootOpts { lean: true, ..self }
    }

    /// The kernel command line.
    pub fn cmdline(&self) -> String {
        let mut s = "root=/dev/vda rw console=ttyS0 panic=-1".to_string();
        if self.lean {
            s.push_str(" loglevel=3 systemd.show_status=0");
            for unit in LEAN_MASKED {
                s.push_str(" systemd.mask=");
                s.push_str(unit);
            }
        } else {
            s.push_str(" loglevel=4 systemd.show_status=1");
        }
        if !self.cloud_init {
            s.push_str(" cloud-init=disabled");
        }
        s
    }

    /// qemu's `-nic` value.
    pub fn nic(&self) -> String {
        match self.ssh_port {
            None => "none".to_string(),
            Some(p) => {
                format!("user,model=virtio-net-pci,restrict=on,hostfwd=tcp:127.0.0.1:{p}-:22")
            }
        }
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (the kernel picked it), for a
/// forward to the guest.
pub fn free_local_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("finding a free port on 127.0.0.1: {e}"))
}

/// What one qemu run left.
#[derive(Debug)]
pub struct Run {
    /// 1 for the first qemu run of the scenario.
    pub n: usize,
    /// How qemu ended.
    pub outcome: Outcome,
    /// How long it ran.
    pub took: Duration,
    /// How many boots hung before their root filesystem and were started again.
    pub relaunches: usize,
    /// The guest's console (first serial port), escape sequences removed.
    pub console: String,
    /// The scenario log (second serial port), raw.
    pub log: String,
    /// The parsed scenario log.
    pub results: Results,
}

impl Run {
    /// How many times the guest's kernel restarted the machine during this run (each
    /// guest reboot prints "reboot: Restarting system" on the console).
    pub fn kernel_restarts(&self) -> usize {
        self.console.matches("reboot: Restarting system").count()
    }

    /// Whether the run ended with the guest kernel powering the machine off.
    pub fn powered_off(&self) -> bool {
        self.console.contains("reboot: Power down")
    }
}

/// A scenario's guest.
pub struct Guest {
    name: String,
    lab: &'static Lab,
    dir: PathBuf,
    overlay: PathBuf,
    handoff: PathBuf,
    seed: Option<PathBuf>,
    /// Every qemu run so far.
    pub runs: Vec<Run>,
    started: Instant,
}

/// A qemu run in progress (see [`Guest::start`]): the test can read what the guest reports
/// while it runs, and talk to it. Dropped without [`Guest::wait`] (a failed test), qemu is
/// killed and the guest's console and log tails are printed.
pub struct Booting {
    n: usize,
    name: String,
    child: Option<std::process::Child>,
    /// qemu (a test's stand-in in the harness's own tests) and its arguments, for a
    /// relaunch.
    program: OsString,
    argv: Vec<OsString>,
    /// How long a quiet console before the root filesystem means a hung boot.
    hung_boot: Duration,
    timeout: Duration,
    /// How many times a boot that hung before its root filesystem was relaunched.
    relaunches: usize,
    /// The console's length when last looked at, and since when it has not grown.
    console_len: u64,
    console_quiet_since: Instant,
    t: Instant,
    deadline: Instant,
    console: PathBuf,
    results: PathBuf,
    qemu_log: PathBuf,
}

impl Booting {
    /// What the guest reported so far.
    pub fn results(&self) -> Results {
        Results::parse(&String::from_utf8_lossy(
            &fs::read(&self.results).unwrap_or_default(),
        ))
    }

    /// The guest console so far, escape sequences removed.
    pub fn console(&self) -> String {
        strip_escapes(&String::from_utf8_lossy(
            &fs::read(&self.console).unwrap_or_default(),
        ))
    }

    /// When the guest's kernel hung before it mounted its root filesystem (the console
    /// has been quiet for [`HUNG_BOOT`] since the firmware last started, without the
    /// initramfs's "Mounting root file system"), kills qemu and starts it again on the
    /// same disks, with a fresh deadline: nothing of the guest ran yet, so this is the
    /// power cycle a person would do. Seen under TCG about once in 25-40 boots: a
    /// Debian kernel silent after "Probing EDD" until the deadline. At most [`RELAUNCHES`] times.
    fn relaunch_if_hung(&mut self) {
        let len = fs::metadata(&self.console).map_or(0, |m| m.len());
        if len != self.console_len {
            self.console_len = len;
            self.console_quiet_since = Instant::now();
            return;
        }
        if self.console_quiet_since.elapsed() < self.hung_boot
            || self.relaunches >= RELAUNCHES
            || !hung_before_root(&self.console())
        {
            return;
        }
        let Some(child) = self.child.take() else {
            return;
        };
        let _ = proc::wait_deadline(child, Duration::ZERO);
        self.relaunches += 1;
        crate::loud(&format!(
            "hostfix VM tests: {} run {}: the guest's kernel has been silent for {:.0} s before \
             mounting its root filesystem (console: {:?}); qemu killed and started again \
             ({} of at most {RELAUNCHES})",
            self.name,
            self.n,
            self.hung_boot.as_secs_f64(),
            proc::tail(&self.console(), 2),
            self.relaunches
        ));
        self.child = Some(spawn_qemu(&self.program, &self.argv, &self.qemu_log));
        let now = Instant::now();
        self.console_quiet_since = now;
        self.deadline = self.deadline.max(now + self.timeout);
    }

    /// Waits until qemu exits (relaunching a hung boot) or the deadline passes (qemu is
    /// killed).
    fn run_out(&mut self) -> Outcome {
        loop {
            let Some(child) = self.child.as_mut() else {
                return Outcome::TimedOut;
            };
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) => {}
            }
            if Instant::now() >= self.deadline {
                break;
            }
            self.relaunch_if_hung();
            std::thread::sleep(Duration::from_millis(200));
        }
        let child = self.child.take().expect("qemu runs until run_out ends");
        proc::wait_deadline(
            child,
            self.deadline.saturating_duration_since(Instant::now()),
        )
        .unwrap_or_else(|e| panic!("waiting for qemu-system-x86_64: {e}"))
    }

    /// Waits until `ready` holds for what the guest reported, for at most `timeout` (and
    /// never past the run's deadline). Fails the test when it does not come, or when qemu
    /// ended first.
    pub fn wait_until(
        &mut self,
        what: &str,
        timeout: Duration,
        ready: impl Fn(&Results) -> bool,
    ) -> Results {
        let until = (Instant::now() + timeout).min(self.deadline);
        loop {
            let r = self.results();
            if ready(&r) {
                return r;
            }
            self.relaunch_if_hung();
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "{} run {}: qemu ended ({status}) before {what}: {}",
                    self.name,
                    self.n,
                    fs::read_to_string(&self.qemu_log).unwrap_or_default()
                );
            }
            if Instant::now() >= until {
                panic!(
                    "{} run {}: no {what} after {:.0} s",
                    self.name,
                    self.n,
                    self.t.elapsed().as_secs_f64()
                );
            }
            // Often enough for a power cut to follow a pause within a tenth of a second.
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Booting {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(pgid) = i32::try_from(child.id()).map(nix::unistd::Pid::from_raw) {
            // The group qemu leads since its spawn, and it is not reaped yet.
            let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
        }
        let _ = child.kill();
        let _ = child.wait();
        if std::thread::panicking() {
            eprintln!(
                "----- {} run {} (killed after {:.1} s): guest console (last 60 lines) -----\n{}\n\
                 ----- scenario log (last 100 lines) -----\n{}\n-----",
                self.name,
                self.n,
                self.t.elapsed().as_secs_f64(),
                proc::tail(&self.console(), 60),
                proc::tail(
                    &String::from_utf8_lossy(&fs::read(&self.results).unwrap_or_default()),
                    100
                )
            );
        }
    }
}

impl Guest {
    /// Prepares the overlay and the handoff disk for `tests/vm/scenarios/<name>.sh`.
    pub fn new(lab: &'static Lab, name: &str) -> Guest {
        Guest::with_files(lab, name, &[])
    }

    /// [`Guest::new`], with more files on the handoff disk (name, bytes, mode).
    pub fn with_files(lab: &'static Lab, name: &str, extra: &[(&str, &[u8], u32)]) -> Guest {
        let started = Instant::now();
        let runs_dir = image::cache_root().join("runs");
        fs::create_dir_all(&runs_dir).unwrap();
        remove_old_runs(&runs_dir);
        let dir = tempfile::Builder::new()
            .prefix(&format!("{name}-"))
            .tempdir_in(&runs_dir)
            .unwrap()
            .keep();
        let mut g = Guest {
            name: name.to_string(),
            lab,
            overlay: dir.join("root.qcow2"),
            handoff: dir.join("handoff.img"),
            seed: None,
            dir,
            runs: Vec::new(),
            started,
        };
        // From here on, a failure removes the work folder (Drop).
        g.prepare(extra);
        g
    }

    /// Makes the overlay and the handoff disk.
    fn prepare(&mut self, extra: &[(&str, &[u8], u32)]) {
        let status = Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
            .arg(&self.lab.image.base)
            .arg(&self.overlay)
            .stdin(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "qemu-img create of the overlay: {status}");

        let handoff_dir = self.dir.join("handoff");
        fs::create_dir(&handoff_dir).unwrap();
        fs::copy(&self.lab.hostfix, handoff_dir.join("hostfix")).unwrap();
        let scenarios = self.lab.tests_dir.join("scenarios");
        let read = |from: &str| {
            fs::read(scenarios.join(from))
                .unwrap_or_else(|e| panic!("reading scenarios/{from}: {e}"))
        };
        image::write_file(&handoff_dir.join("lib.sh"), &read("lib.sh"), 0o644).unwrap();
        let script = stages_script(&self.name, |stage| read(&format!("{stage}.sh")));
        image::write_file(&handoff_dir.join("scenario.sh"), &script, 0o644).unwrap();
        for (name, bytes, mode) in extra {
            image::write_file(&handoff_dir.join(name), bytes, *mode).unwrap();
        }
        image::mkfs_from_dir(&handoff_dir, &self.handoff, "handoff").unwrap();
        fs::remove_dir_all(&handoff_dir).unwrap();
    }

    /// Attaches a NoCloud seed disk (vfat, label `cidata`) holding `files` (name, bytes):
    /// the guest's third virtio disk, read by cloud-init when it runs (see
    /// [`BootOpts::with_cloud_init`]).
    pub fn attach_seed(&mut self, files: &[(&str, &[u8])]) {
        let img = self.dir.join("seed.img");
        image::make_vfat(&img, "cidata", files)
            .unwrap_or_else(|e| panic!("making the seed disk: {e}"));
        self.seed = Some(img);
    }

    /// Boots the guest (again, on the same overlay) and waits until it powers off. Fails
    /// the test when qemu cannot run or the run passes its deadline.
    pub fn boot(&mut self, opts: BootOpts) -> &Run {
        let b = self.start(opts);
        self.wait(b)
    }

    /// Starts qemu on the overlay and returns while the guest runs.
    pub fn start(&mut self, opts: BootOpts) -> Booting {
        let n = self.runs.len() + 1;
        let console = self.dir.join(format!("console-{n}.log"));
        let results = self.dir.join(format!("results-{n}.log"));
        let qemu_log = self.dir.join(format!("qemu-{n}.log"));
        let img = &self.lab.image;
        let mut argv: Vec<OsString> = vec![
            "-accel".into(),
            "tcg,thread=multi".into(),
            "-smp".into(),
            guest_cpus().to_string().into(),
            "-m".into(),
            MEMORY_MIB.to_string().into(),
            "-kernel".into(),
            img.kernel.clone().into(),
            "-initrd".into(),
            img.initrd.clone().into(),
            "-append".into(),
            opts.cmdline().into(),
        ];
        let mut drive = |spec: String| argv.extend(["-drive".into(), spec.into()]);
        drive(format!(
            "file={},format=qcow2,if=virtio",
            self.overlay.display()
        ));
        drive(format!(
            "file={},format=raw,if=virtio,readonly=on",
            self.handoff.display()
        ));
        if let Some(seed) = &self.seed {
            drive(format!(
                "file={},format=raw,if=virtio,readonly=on",
                seed.display()
            ));
        }
        argv.extend(["-nic".into(), opts.nic().into()]);
        argv.extend(
            ["-nographic", "-monitor", "none", "-display", "none"]
                .into_iter()
                .map(OsString::from),
        );
        // Appended to, not truncated: a relaunch after a boot that hung (see
        // [`Booting::relaunch_if_hung`]) keeps what the run printed before.
        for (id, path) in [("console", &console), ("results", &results)] {
            argv.extend([
                "-chardev".into(),
                chardev_file(id, path).into(),
                "-serial".into(),
                format!("chardev:{id}").into(),
            ]);
        }
        if !opts.allow_reboot {
            argv.push("-no-reboot".into());
        }
        let t = Instant::now();
        let program = OsString::from("qemu-system-x86_64");
        let child = spawn_qemu(&program, &argv, &qemu_log);
        Booting {
            n,
            name: self.name.clone(),
            child: Some(child),
            program,
            argv,
            hung_boot: HUNG_BOOT,
            timeout: opts.timeout,
            relaunches: 0,
            console_len: 0,
            console_quiet_since: t,
            t,
            deadline: t + opts.timeout,
            console,
            results,
            qemu_log,
        }
    }

    /// Waits until the guest of `b` powers off (or its deadline passes: qemu is killed),
    /// and keeps what it left. Fails the test unless qemu exited 0, or when the guest
    /// reported a failure (a `FAIL` line).
    pub fn wait(&mut self, b: Booting) -> &Run {
        let n = self.finish(b, false);
        let run = &self.runs[n - 1];
        match run.outcome {
            Outcome::Exited(0) => {}
            Outcome::TimedOut => panic!(
                "{} run {n}: the guest was still up after {:?}; qemu was killed",
                self.name, run.took
            ),
            other => panic!(
                "{} run {n}: qemu ended with {other:?}: {}",
                self.name,
                fs::read_to_string(self.dir.join(format!("qemu-{n}.log"))).unwrap_or_default()
            ),
        }
        run
    }

    /// Cuts the power of the guest of `b` now: qemu is killed with SIGKILL, so whatever the
    /// guest had not written to its disk is lost, as in a power cut. Keeps what it left;
    /// fails the test when the guest reported a failure before.
    pub fn cut_power(&mut self, b: Booting) -> &Run {
        let n = self.finish(b, true);
        &self.runs[n - 1]
    }

    /// Ends the run of `b` (killing qemu first when `cut`), records it and checks the
    /// guest reported no failure; returns its number.
    fn finish(&mut self, mut b: Booting, cut: bool) -> usize {
        let n = b.n;
        let outcome = if cut {
            let child = b.child.take().expect("a run is waited for once");
            match proc::wait_deadline(child, Duration::ZERO)
                .unwrap_or_else(|e| panic!("waiting for qemu-system-x86_64: {e}"))
            {
                Outcome::TimedOut => Outcome::Signalled(9),
                o => o,
            }
        } else {
            b.run_out()
        };
        let took = b.t.elapsed();
        let log = String::from_utf8_lossy(&fs::read(&b.results).unwrap_or_default()).into_owned();
        let run = Run {
            n,
            outcome,
            took,
            relaunches: b.relaunches,
            console: b.console(),
            results: Results::parse(&log),
            log,
        };
        crate::loud(&format!(
            "hostfix VM tests: {} run {n}: {outcome:?} after {:.1} s, {} boot(s){}",
            self.name,
            took.as_secs_f64(),
            run.results.boots.len(),
            match run.relaunches {
                0 => String::new(),
                k => format!(", {k} hung boot(s) relaunched"),
            }
        ));
        let failures = run.results.failure_text();
        self.runs.push(run);
        assert!(
            failures.is_empty(),
            "{} run {n}: the guest reported failures:\n{failures}",
            self.name
        );
        n
    }

    /// The results of the last run.
    pub fn last(&self) -> &Results {
        &self.runs.last().expect("the guest has not run").results
    }

    fn diagnostics(&self) -> String {
        let mut s = format!(
            "\n===== hostfix VM scenario {:?} failed after {:.0} s (work dir {}) =====\n",
            self.name,
            self.started.elapsed().as_secs_f64(),
            self.dir.display()
        );
        for r in &self.runs {
            s += &format!(
                "----- run {}: {:?} after {:.1} s; boots: {:?}\n",
                r.n,
                r.outcome,
                r.took.as_secs_f64(),
                r.results
                    .boots
                    .iter()
                    .map(|b| (b.n, b.scenario_rc, b.end))
                    .collect::<Vec<_>>()
            );
            s += &format!(
                "----- run {}: guest console (last 50 lines) -----\n{}\n",
                r.n,
                proc::tail(&r.console, 50)
            );
            s += &format!(
                "----- run {}: scenario log (last 150 lines) -----\n{}\n",
                r.n,
                proc::tail(&r.log, 150)
            );
        }
        s += "===== end of the VM scenario's diagnostics =====\n";
        s
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        let keep = std::env::var_os("HOSTFIX_VM_KEEP").is_some_and(|v| v == "1");
        if std::thread::panicking() {
            eprintln!("{}", self.diagnostics());
        }
        if keep {
            crate::loud(&format!(
                "hostfix VM tests: HOSTFIX_VM_KEEP=1: kept {}",
                self.dir.display()
            ));
        } else if let Err(e) = fs::remove_dir_all(&self.dir) {
            eprintln!("removing {}: {e}", self.dir.display());
        }
    }
}

/// How long a console quiet since the firmware started, without the root filesystem
/// mounted, means the guest's kernel hung. A boot reaches the initramfs's "Mounting root
/// file system" within about 3 s here under TCG (6 s beside another guest); the slowest
/// machine seen is twice as slow. A wrong guess costs only a relaunch: nothing ran yet.
const HUNG_BOOT: Duration = Duration::from_secs(30);

/// The guest's vCPUs: `HOSTFIX_VM_CPUS` (1 to 8), or 1: the suite runs one guest per
/// CPU (see `guest_slots` in main.rs), and under TCG two single-vCPU guests do about 1.5x
/// the work of one with two vCPUs.
pub fn guest_cpus() -> usize {
    std::env::var("HOSTFIX_VM_CPUS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| (1..=8).contains(n))
        .unwrap_or(1)
}

/// How many times one run relaunches a hung boot.
const RELAUNCHES: usize = 2;

/// Whether the console shows a boot that has not mounted its root filesystem yet: since
/// the firmware last started (SeaBIOS's banner), no line of the initramfs's "Begin:
/// Mounting root file system". Until then the guest has not written its disks.
pub fn hung_before_root(console: &str) -> bool {
    let Some(at) = console.rfind("SeaBIOS") else {
        return false;
    };
    !console[at..].contains("Mounting root file system")
}

/// qemu's `-chardev` for a file that is appended to (a comma in the path doubled, as qemu
/// reads it).
fn chardev_file(id: &str, path: &Path) -> String {
    format!(
        "file,id={id},path={},append=on",
        path.display().to_string().replace(',', ",,")
    )
}

/// Starts qemu (`program`) with `argv`, its output appended to `log`, in a process group
/// of its own.
fn spawn_qemu(program: &OsString, argv: &[OsString], log: &Path) -> std::process::Child {
    let out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap_or_else(|e| panic!("opening {}: {e}", log.display()));
    let mut cmd = Command::new(program);
    cmd.args(argv)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    proc::spawn_in_own_group(cmd)
        .unwrap_or_else(|e| panic!("starting {}: {e}", program.to_string_lossy()))
}

/// The guest's `scenario.sh` for the scenario `name`: `scenarios/<name>.sh`, or for a name
/// of stages `a+b+c` (scenarios that share one boot) those scripts one after the other in
/// one shell, each after a `NOTE stage <name>` line. A stage must leave the guest as the
/// next one expects it, and stages' result names must not collide.
pub fn stages_script(name: &str, read: impl Fn(&str) -> Vec<u8>) -> Vec<u8> {
    let stages: Vec<&str> = name.split('+').collect();
    if stages.len() == 1 {
        return read(name);
    }
    // lib.sh first: under sh it starts the script again under bash, before any output.
    let mut out = b". \"$SCENARIO_DIR/lib.sh\"\n".to_vec();
    for stage in stages {
        out.extend_from_slice(format!("printf 'NOTE stage %s\\n' '{stage}'\n").as_bytes());
        out.extend(read(stage));
        if out.last() != Some(&b'\n') {
            out.push(b'\n');
        }
    }
    out
}

/// Work folders older than this are what killed test runs (or HOSTFIX_VM_KEEP=1) left.
const OLD_RUN: Duration = Duration::from_secs(6 * 3600);

/// Removes scenario work folders older than [`OLD_RUN`]: a killed test process cannot.
fn remove_old_runs(runs_dir: &std::path::Path) {
    let Ok(entries) = fs::read_dir(runs_dir) else {
        return;
    };
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > OLD_RUN);
        if old && e.file_type().is_ok_and(|t| t.is_dir()) {
            // Best effort: another process may be removing it too.
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// Removes ANSI escape sequences (systemd's colours) from console text.
pub fn strip_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                // Parameters, then one final byte in @..~.
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else if c != '\r' {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the console showed when a Debian 12 guest's kernel hung under TCG (CI, run
    /// "refusals": silent from here until the 360 s deadline).
    const HUNG: &str = "SeaBIOS (version 1.16.2-debian-1.16.2-1)\nBooting from ROM...\n\
                        Probing EDD (edd=off to disable)... ok\n";
    const BOOTED: &str = "Loading, please wait...\nBegin: Loading essential drivers ... done.\n\
                          Begin: Mounting root file system ... Begin: Running /scripts/local-top\n";

    #[test]
    fn a_boot_is_hung_only_before_its_root_filesystem() {
        assert!(hung_before_root(HUNG));
        assert!(!hung_before_root(&format!("{HUNG}{BOOTED}")));
        assert!(
            !hung_before_root(""),
            "qemu has not started the firmware yet"
        );
        let rebooted = format!("{HUNG}{BOOTED}reboot: Restarting system\n{HUNG}");
        assert!(hung_before_root(&rebooted), "the boot after a reboot hung");
        assert!(!hung_before_root(&format!("{rebooted}{BOOTED}")));
    }

    #[test]
    fn chardev_paths_double_their_commas() {
        assert_eq!(
            chardev_file("console", Path::new("/c/a,b/console-1.log")),
            "file,id=console,path=/c/a,,b/console-1.log,append=on"
        );
    }

    /// A run of the stand-in `sh -c script` for qemu, its console in `dir`.
    fn stand_in(dir: &Path, script: String, hung_boot: Duration, timeout: Duration) -> Booting {
        let argv: Vec<OsString> = vec!["-c".into(), script.into()];
        let program = OsString::from("sh");
        let qemu_log = dir.join("qemu-1.log");
        let t = Instant::now();
        Booting {
            n: 1,
            name: "stand-in".into(),
            child: Some(spawn_qemu(&program, &argv, &qemu_log)),
            program,
            argv,
            hung_boot,
            timeout,
            relaunches: 0,
            console_len: 0,
            console_quiet_since: t,
            t,
            deadline: t + timeout,
            console: dir.join("console-1.log"),
            results: dir.join("results-1.log"),
            qemu_log,
        }
    }

    /// A stand-in for qemu whose first launch "hangs" after the firmware banner and whose
    /// second boots and powers off: the run relaunches once, keeps the first console and
    /// ends with the second launch's exit status.
    #[test]
    fn a_boot_that_hangs_before_its_root_filesystem_is_relaunched() {
        let d = tempfile::tempdir().unwrap();
        let console = d.path().join("console-1.log");
        let launches = d.path().join("launches");
        let script = format!(
            "echo x >> {l}; if [ $(wc -l < {l}) -eq 1 ]; then printf '%s' '{HUNG}' >> {c}; \
             exec sleep 60; else printf '%s' '{BOOTED}' >> {c}; exit 0; fi",
            l = launches.display(),
            c = console.display()
        );
        let t = Instant::now();
        let mut b = stand_in(
            d.path(),
            script,
            Duration::from_millis(600),
            Duration::from_secs(20),
        );
        assert_eq!(b.run_out(), Outcome::Exited(0));
        assert_eq!(b.relaunches, 1);
        assert_eq!(fs::read_to_string(&launches).unwrap(), "x\nx\n");
        assert_eq!(
            fs::read_to_string(&console).unwrap(),
            format!("{HUNG}{BOOTED}")
        );
        assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
    }

    #[test]
    fn a_boot_past_its_root_filesystem_is_never_relaunched() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("console-1.log"), format!("{HUNG}{BOOTED}")).unwrap();
        let mut b = stand_in(
            d.path(),
            "exec sleep 60".into(),
            Duration::from_millis(300),
            Duration::from_secs(3),
        );
        assert_eq!(b.run_out(), Outcome::TimedOut);
        assert_eq!(b.relaunches, 0);
    }
    #[test]
    fn cloud_init_is_off_and_there_is_no_nic_unless_asked() {
        use super::BootOpts;
        use std::time::Duration;
        let o = BootOpts::once(Duration::from_secs(1));
        assert!(o.cmdline().ends_with(" cloud-init=disabled"));
        assert_eq!(o.nic(), "none");
        let o = BootOpts::with_reboots(Duration::from_secs(1))
            .with_cloud_init()
            .with_ssh(2222);
        assert!(o.allow_reboot);
        assert!(!o.cmdline().contains("cloud-init"));
        assert_eq!(
            o.nic(),
            "user,model=virtio-net-pci,restrict=on,hostfwd=tcp:127.0.0.1:2222-:22"
        );
        let lean = BootOpts::once(Duration::from_secs(1)).lean().cmdline();
        assert!(lean.contains(" systemd.mask=docker.service "), "{lean}");
        assert!(lean.contains(" systemd.show_status=0 "), "{lean}");
        let p = super::free_local_port();
        assert!(std::net::TcpListener::bind(("127.0.0.1", p)).is_ok());
    }

    #[test]
    fn stages_run_one_after_the_other() {
        let read = |n: &str| format!("echo {n}").into_bytes();
        assert_eq!(super::stages_script("smoke", read), b"echo smoke");
        let two = String::from_utf8(super::stages_script("smoke+incident", read)).unwrap();
        assert_eq!(
            two,
            ". \"$SCENARIO_DIR/lib.sh\"\nprintf 'NOTE stage %s\\n' 'smoke'\necho smoke\n\
             printf 'NOTE stage %s\\n' 'incident'\necho incident\n"
        );
    }

    #[test]
    fn escapes_are_stripped() {
        assert_eq!(
            super::strip_escapes("[\u{1b}[0;32m  OK  \u{1b}[0m] Started x\r\n"),
            "[  OK  ] Started x\n"
        );
    }
}
