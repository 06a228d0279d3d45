//! [`FakeRoot`]: a host's files under a temporary directory, and [`FakeProcess`], a
//! process to put in its `/proc`.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::host::Host;
use crate::host::recording::RecordingSystem;

/// A fake host root: a fresh temporary directory that the builder methods fill with the
/// files an operation reads (`proc/meminfo`, `proc/swaps`, `etc/fstab`, processes under
/// `proc/`, ...), removed when it is dropped. [`FakeRoot::host`] makes a [`Host`] that
/// reads there and records its calls in a [`RecordingSystem`].
///
/// Paths are host paths (`/etc/fstab`) or relative to the root (`etc/fstab`): both name
/// the same file under the root.
///
/// The builder methods panic when a file cannot be written (a full temporary
/// filesystem): it is for tests.
///
/// ```
/// use hostfix::testing::FakeRoot;
/// use hostfix::resources::{check, CheckSpec};
/// use hostfix::size::Threshold;
/// use hostfix::{Policy, Risk};
///
/// let root = FakeRoot::new();
/// root.meminfo(4 << 30, 1 << 30); // 4 GiB of RAM, 1 GiB available
/// let (host, _calls) = root.host();
/// let mut spec = CheckSpec::default();
/// spec.mem_available.push(Threshold::parse_size("10%")?);
/// let report = check(&host, &spec, &Policy::new(Risk::ReadOnly));
/// assert!(report.is_ok(), "{report}");
/// spec.mem_available.push(Threshold::parse_size("2G")?);
/// assert!(!check(&host, &spec, &Policy::new(Risk::ReadOnly)).is_ok());
/// # Ok::<(), hostfix::Error>(())
/// ```
#[derive(Debug)]
pub struct FakeRoot {
    dir: PathBuf,
}

impl Drop for FakeRoot {
    fn drop(&mut self) {
        // Best effort: a test that left something unremovable (a mount) says so itself.
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Default for FakeRoot {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeRoot {
    /// An empty root in a fresh directory under the system's temporary directory.
    ///
    /// # Panics
    /// When the directory cannot be made.
    #[track_caller]
    pub fn new() -> FakeRoot {
        let template = std::env::temp_dir().join("hostfix-root-XXXXXX");
        let dir = nix::unistd::mkdtemp(&template)
            .unwrap_or_else(|e| panic!("making a fake root in {}: {e}", template.display()));
        FakeRoot { dir }
    }

    /// The root directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// A host path (`/etc/fstab`) joined to the root.
    pub fn join(&self, host_path: impl AsRef<Path>) -> PathBuf {
        let p = host_path.as_ref();
        self.dir.join(p.strip_prefix("/").unwrap_or(p))
    }

    /// A host on this root whose calls are recorded, and the recorder, to give calls a
    /// behaviour and see what ran.
    pub fn host(&self) -> (Host, Arc<RecordingSystem>) {
        let rec = Arc::new(RecordingSystem::new());
        (Host::with_system(self.path(), rec.clone()), rec)
    }

    /// Writes a file (and its parent directories).
    ///
    /// # Panics
    /// When it cannot be written.
    #[track_caller]
    pub fn write(&self, host_path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> &Self {
        let p = self.join(host_path);
        if let Some(parent) = p.parent() {
            self.create_dirs(parent);
        }
        fs::write(&p, contents).unwrap_or_else(|e| panic!("writing {}: {e}", p.display()));
        self
    }

    /// A file's text.
    ///
    /// # Panics
    /// When it cannot be read.
    #[track_caller]
    pub fn read(&self, host_path: impl AsRef<Path>) -> String {
        let p = self.join(host_path);
        fs::read_to_string(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
    }

    /// Makes a directory (and its parents).
    ///
    /// # Panics
    /// When it cannot be made.
    #[track_caller]
    pub fn mkdir(&self, host_path: impl AsRef<Path>) -> &Self {
        self.create_dirs(&self.join(host_path));
        self
    }

    /// A symbolic link at `host_path` to `target` (taken as is: an absolute target
    /// points outside the root, as `proc -> /proc` does for a test on the real kernel).
    ///
    /// # Panics
    /// When it cannot be made.
    #[track_caller]
    pub fn symlink(&self, host_path: impl AsRef<Path>, target: impl AsRef<Path>) -> &Self {
        let p = self.join(host_path);
        if let Some(parent) = p.parent() {
            self.create_dirs(parent);
        }
        symlink(target.as_ref(), &p).unwrap_or_else(|e| panic!("linking {}: {e}", p.display()));
        self
    }

    /// An (empty) executable program, such as `/usr/bin/docker`: hostfix looks programs
    /// up as executable files under the root.
    ///
    /// # Panics
    /// When it cannot be written.
    #[track_caller]
    pub fn program(&self, host_path: impl AsRef<Path>) -> &Self {
        let p = self.join(host_path.as_ref());
        self.write(host_path, "");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()));
        self
    }

    /// Copies a directory tree (fixture files) to `host_path`, keeping file modes.
    ///
    /// # Panics
    /// When it cannot be copied.
    #[track_caller]
    pub fn copy_tree(&self, from: impl AsRef<Path>, host_path: impl AsRef<Path>) -> &Self {
        copy_tree(from.as_ref(), &self.join(host_path));
        self
    }

    /// Makes the host look run by systemd (`/run/systemd/system`).
    #[track_caller]
    pub fn systemd(&self) -> &Self {
        self.mkdir("/run/systemd/system")
    }

    /// `/proc/meminfo` with this much RAM and this much of it available (bytes), no
    /// swap.
    #[track_caller]
    pub fn meminfo(&self, total: u64, available: u64) -> &Self {
        let kib = |b: u64| b / 1024;
        self.write(
            "/proc/meminfo",
            format!(
                "MemTotal:       {:>10} kB\nMemFree:        {:>10} kB\n\
                 MemAvailable:   {:>10} kB\nBuffers:             10000 kB\n\
                 Cached:             100000 kB\nSwapTotal:               0 kB\n\
                 SwapFree:                0 kB\n",
                kib(total),
                kib(available).saturating_sub(100_000),
                kib(available)
            ),
        )
    }

    /// `/proc/swaps` with no swap area (its header line only).
    #[track_caller]
    pub fn no_swap(&self) -> &Self {
        self.write(
            "/proc/swaps",
            "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n",
        )
    }

    /// `/etc/fstab`.
    #[track_caller]
    pub fn fstab(&self, text: &str) -> &Self {
        self.write("/etc/fstab", text)
    }

    /// The running kernel's release (`/proc/sys/kernel/osrelease`).
    #[track_caller]
    pub fn kernel(&self, release: &str) -> &Self {
        self.write("/proc/sys/kernel/osrelease", format!("{release}\n"))
    }

    /// The boot id (`/proc/sys/kernel/random/boot_id`).
    #[track_caller]
    pub fn boot_id(&self, id: &str) -> &Self {
        self.write("/proc/sys/kernel/random/boot_id", format!("{id}\n"))
    }

    /// How long the host has been up (`/proc/uptime`).
    #[track_caller]
    pub fn uptime(&self, secs: u64) -> &Self {
        self.write("/proc/uptime", format!("{secs}.00 {secs}.00\n"))
    }

    /// Makes `rec`'s `swapon(2)` and `swapoff(2)` act on this root's `/proc/swaps` as the
    /// kernel's swap table would: `swapon` lists the file (its size less the header
    /// page, nothing used, the priority given or -2; `EBUSY` when already listed),
    /// `swapoff` unlists it (`EINVAL` when not listed); both count it in `/proc/meminfo`'s
    /// `SwapTotal` and `SwapFree`. Errnos scripted with
    /// [`RecordingSystem::fail_next`] still come first.
    pub fn swap_table(&self, rec: &RecordingSystem) -> &Self {
        if !self.join("/proc/swaps").exists() {
            self.no_swap();
        }
        let table = self.join("/proc/swaps");
        let meminfo = self.join("/proc/meminfo");
        let meminfo2 = meminfo.clone();
        rec.on_swapon(move |path, priority| {
            let mut lines = swap_lines(&table)?;
            let name = escape_swap_path(path);
            if lines
                .iter()
                .any(|l| l.split_whitespace().next() == Some(&name))
            {
                return Err(nix::errno::Errno::EBUSY);
            }
            let kib = fs::metadata(path)
                .map_err(|_| nix::errno::Errno::ENOENT)?
                .len()
                / 1024;
            lines.push(format!(
                "{name:<39} file\t\t{}\t\t0\t\t{}",
                kib.saturating_sub(4),
                priority.unwrap_or(-2)
            ));
            fs::write(&table, lines.join("\n") + "\n").map_err(|_| nix::errno::Errno::EIO)?;
            count_swap(&meminfo, kib.saturating_sub(4) as i64)
        });
        let table = self.join("/proc/swaps");
        rec.on_swapoff(move |path| {
            let mut lines = swap_lines(&table)?;
            let name = escape_swap_path(path);
            let Some(gone) = lines
                .iter()
                .position(|l| l.split_whitespace().next() == Some(&name))
            else {
                return Err(nix::errno::Errno::EINVAL);
            };
            let line = lines.remove(gone);
            let kib: i64 = line
                .split_whitespace()
                .nth(2)
                .and_then(|k| k.parse().ok())
                .unwrap_or(0);
            fs::write(&table, lines.join("\n") + "\n").map_err(|_| nix::errno::Errno::EIO)?;
            count_swap(&meminfo2, -kib)
        });
        self
    }

    /// The root `swap ensure` needs, on a kernel faked by the test: 4 GiB of RAM with
    /// 3 GiB available, no swap, `vm.swappiness` 60, kernel 6.1, a random UUID source,
    /// an fstab with one root filesystem line, and an empty `/state` for a state
    /// directory.
    #[track_caller]
    pub fn for_swap() -> FakeRoot {
        let r = FakeRoot::new();
        r.write(
            "/proc/meminfo",
            "MemTotal:        4194304 kB\nMemFree:         3000000 kB\n\
             MemAvailable:    3145728 kB\nBuffers:           10000 kB\nCached:           100000 kB\n\
             SwapTotal:             0 kB\nSwapFree:              0 kB\n",
        )
        .no_swap()
            .kernel("6.1.0-test")
            .write(
                "/proc/sys/kernel/random/uuid",
                "5a5a5a5a-1234-4abc-8def-0123456789ab\n",
            )
            .write("/proc/sys/vm/swappiness", "60\n")
            .fstab("# fstab\nUUID=0a1b2c3d-1111-2222-3333-444455556666 / ext4 errors=remount-ro 0 1\n")
            .mkdir("/state");
        r
    }

    /// PID 1 (systemd) without sockets.
    #[track_caller]
    pub fn init(&self) -> &Self {
        self.add(
            &FakeProcess::new(1, "systemd", "/usr/lib/systemd/systemd")
                .ppid(0)
                .cgroup("/init.scope"),
        )
    }

    /// Adds a process: `/proc/PID/` with `stat`, `cmdline`, `status`, `cgroup`, an `exe`
    /// link, `fd/` (two ordinary files, then its sockets) and `task/PID/children`.
    ///
    /// # Panics
    /// When a file cannot be written.
    #[track_caller]
    pub fn add(&self, p: &FakeProcess) -> &Self {
        let d = format!("/proc/{}", p.pid);
        self.write(
            format!("{d}/stat"),
            format!(
                "{} ({}) {} {} {} {} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 {} 1000 10\n",
                p.pid,
                p.comm,
                p.state,
                p.ppid,
                p.pid,
                p.pid,
                1000 + i64::from(p.pid)
            ),
        );
        let mut cmd = Vec::new();
        for a in &p.cmdline {
            cmd.extend_from_slice(a.as_bytes());
            cmd.push(0);
        }
        self.write(format!("{d}/cmdline"), cmd);
        self.write(
            format!("{d}/status"),
            format!("Name:\t{}\nUid:\t{u}\t{u}\t{u}\t{u}\n", p.comm, u = p.uid),
        );
        self.write(format!("{d}/cgroup"), format!("0::{}\n", p.cgroup));
        self.symlink(format!("{d}/exe"), &p.exe);
        // Some ordinary files first, as a real process has.
        self.symlink(format!("{d}/fd/0"), "/dev/null");
        self.symlink(format!("{d}/fd/1"), "pipe:[11]");
        for (i, s) in p.sockets.iter().enumerate() {
            self.symlink(format!("{d}/fd/{}", i + 3), format!("socket:[{s}]"));
        }
        let kids: Vec<String> = p.children.iter().map(ToString::to_string).collect();
        self.write(
            format!("{d}/task/{}/children", p.pid),
            if kids.is_empty() {
                String::new()
            } else {
                kids.join(" ") + " "
            },
        )
    }

    /// A process that exited while a walk ran: its directory is there, its files not.
    #[track_caller]
    pub fn vanished(&self, pid: i32) -> &Self {
        self.mkdir(format!("/proc/{pid}"))
    }

    /// `n` ordinary processes without sockets, pids from `first`.
    #[track_caller]
    pub fn fillers(&self, first: i32, n: i32) -> &Self {
        for pid in first..first.saturating_add(n) {
            self.add(&FakeProcess::new(pid, "sleep", "/usr/bin/sleep"));
        }
        self
    }

    /// Whether dpkg's status file under this root lists `package` as installed.
    #[track_caller]
    pub fn dpkg_installed(&self, package: &str) -> bool {
        self.read("/var/lib/dpkg/status").split("\n\n").any(|p| {
            p.lines().any(|l| l == format!("Package: {package}"))
                && p.contains("Status: install ok installed")
        })
    }

    #[track_caller]
    fn create_dirs(&self, p: &Path) {
        fs::create_dir_all(p).unwrap_or_else(|e| panic!("making {}: {e}", p.display()));
    }
}

/// Marks `package` removed (`deinstall ok config-files`) in the dpkg status file at
/// `status` (a real path: `root.join("/var/lib/dpkg/status")`), as a fake `apt-get
/// remove` answering through [`RecordingSystem::on_run`](crate::testing::RecordingSystem::on_run) does.
#[track_caller]
pub fn dpkg_mark_removed(status: &Path, package: &str) {
    let text =
        fs::read_to_string(status).unwrap_or_else(|e| panic!("reading {}: {e}", status.display()));
    let out: Vec<String> = text
        .split("\n\n")
        .map(|p| {
            if p.lines().any(|l| l == format!("Package: {package}")) {
                p.replace("install ok installed", "deinstall ok config-files")
            } else {
                p.to_string()
            }
        })
        .collect();
    fs::write(status, out.join("\n\n"))
        .unwrap_or_else(|e| panic!("writing {}: {e}", status.display()));
}

/// A path as `/proc/swaps` prints it: space, tab, newline and backslash in octal.
fn escape_swap_path(path: &Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            ' ' | '\t' | '\n' | '\\' => out.push_str(&format!("\\{:03o}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Adds `kib` (negative: takes it away) to `SwapTotal` and `SwapFree` in a fake
/// `/proc/meminfo`, as the kernel counts an area switched on or off; nothing when the
/// root has no `/proc/meminfo`.
fn count_swap(meminfo: &Path, kib: i64) -> Result<(), nix::errno::Errno> {
    let Ok(text) = fs::read_to_string(meminfo) else {
        return Ok(());
    };
    let out: Vec<String> = text
        .lines()
        .map(|l| match l.split_once(':') {
            Some((key @ ("SwapTotal" | "SwapFree"), rest)) => {
                let now: i64 = rest
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                format!("{key}: {:>15} kB", (now + kib).max(0))
            }
            _ => l.to_string(),
        })
        .collect();
    fs::write(meminfo, out.join("\n") + "\n").map_err(|_| nix::errno::Errno::EIO)
}

fn swap_lines(table: &Path) -> Result<Vec<String>, nix::errno::Errno> {
    let text = fs::read_to_string(table).map_err(|_| nix::errno::Errno::EIO)?;
    Ok(text.lines().map(str::to_string).collect())
}

#[track_caller]
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap_or_else(|e| panic!("making {}: {e}", to.display()));
    let entries = fs::read_dir(from).unwrap_or_else(|e| panic!("reading {}: {e}", from.display()));
    for e in entries {
        let e = e.unwrap_or_else(|e| panic!("reading {}: {e}", from.display()));
        let dest = to.join(e.file_name());
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if is_dir {
            copy_tree(&e.path(), &dest);
        } else {
            // fs::copy keeps the mode (an executable fixture stays executable).
            fs::copy(e.path(), &dest)
                .unwrap_or_else(|err| panic!("copying {}: {err}", e.path().display()));
        }
    }
}

/// A process to put in a [`FakeRoot`]'s `/proc` ([`FakeRoot::add`]).
///
/// ```
/// use hostfix::testing::{FakeProcess, FakeRoot};
///
/// let root = FakeRoot::new();
/// root.init().add(
///     &FakeProcess::new(812, "nginx", "/usr/sbin/nginx")
///         .cgroup("/system.slice/nginx.service")
///         .sockets(&[94484]),
/// );
/// assert!(root.read("/proc/812/stat").starts_with("812 (nginx) S 1 "));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeProcess {
    /// Its pid.
    pub pid: i32,
    /// Its parent's pid (default 1).
    pub ppid: i32,
    /// Its name (`comm`).
    pub comm: String,
    /// Its executable (the `exe` link's target).
    pub exe: String,
    /// Its arguments (default: the executable alone).
    pub cmdline: Vec<String>,
    /// Its user id (default 0).
    pub uid: u32,
    /// Its cgroup v2 path (default `/`).
    pub cgroup: String,
    /// The inodes of the sockets it holds (`fd/N -> socket:[INODE]`).
    pub sockets: Vec<u64>,
    /// Its children's pids.
    pub children: Vec<i32>,
    /// Its state letter in `stat` (default `S`; `D` is uninterruptible sleep).
    pub state: char,
}

impl FakeProcess {
    /// A sleeping root process with this pid, name and executable, child of PID 1.
    pub fn new(pid: i32, comm: impl Into<String>, exe: impl Into<String>) -> Self {
        let exe = exe.into();
        FakeProcess {
            pid,
            ppid: 1,
            comm: comm.into(),
            cmdline: vec![exe.clone()],
            exe,
            uid: 0,
            cgroup: "/".into(),
            sockets: Vec::new(),
            children: Vec::new(),
            state: 'S',
        }
    }

    /// With this parent.
    pub fn ppid(mut self, ppid: i32) -> Self {
        self.ppid = ppid;
        self
    }

    /// With this user id.
    pub fn uid(mut self, uid: u32) -> Self {
        self.uid = uid;
        self
    }

    /// In this cgroup (`/system.slice/nginx.service`).
    pub fn cgroup(mut self, cg: impl Into<String>) -> Self {
        self.cgroup = cg.into();
        self
    }

    /// Holding these sockets (inodes of `/proc/net` rows).
    pub fn sockets(mut self, s: &[u64]) -> Self {
        self.sockets = s.to_vec();
        self
    }

    /// With these children.
    pub fn children(mut self, c: &[i32]) -> Self {
        self.children = c.to_vec();
        self
    }

    /// With these arguments.
    pub fn cmdline(mut self, c: &[&str]) -> Self {
        self.cmdline = c.iter().map(|a| (*a).to_string()).collect();
        self
    }

    /// In this state (`D`: uninterruptible sleep, `T`: stopped, `Z`: zombie).
    pub fn state(mut self, s: char) -> Self {
        self.state = s;
        self
    }
}
