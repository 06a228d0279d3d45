//! Shared helpers of the swap tests: fake roots, a fake kernel for swapon/swapoff, loop
//! filesystems with guards that swapoff, unmount and detach even when a test fails.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use hostfix::Host;
use hostfix::testing::swap::fstab::escape_field;
use hostfix::testing::swap::header::{Signature, read_signature};
use hostfix::testing::{Call, LiveSystem, RecordingSystem, System};
use nix::errno::Errno;

pub const MIB: u64 = 1 << 20;

#[path = "../support/mounts.rs"]
pub mod mounts;
#[path = "../support/tiers.rs"]
pub mod tiers;

/// Whether root tests can run here; skips the test loudly (a failure under
/// `HOSTFIX_REQUIRE_ROOT=1`) when not.
#[track_caller]
pub fn root_or_skip(tools: &[&str]) -> bool {
    tiers::root_with(
        "swapon, mount and losetup",
        tools,
        "apt-get install util-linux e2fsprogs xfsprogs btrfs-progs",
    )
}

pub use hostfix::testing::FakeRoot;

/// A root for the real kernel: `proc -> /proc` except a fake
/// `proc/sys/vm/swappiness` (so a test never changes the machine's), `sys -> /sys`,
/// an `etc/fstab`, and a `mnt` directory for a loop filesystem.
pub fn live_root() -> FakeRoot {
    let r = FakeRoot::new();
    r.mkdir("/mnt").mkdir("/state");
    for entry in std::fs::read_dir("/proc").unwrap() {
        let name = entry.unwrap().file_name();
        if name != "sys" {
            r.symlink(
                Path::new("/proc").join(&name),
                Path::new("/proc").join(&name),
            );
        }
    }
    for entry in std::fs::read_dir("/proc/sys").unwrap() {
        let name = entry.unwrap().file_name();
        if name != "vm" {
            r.symlink(
                Path::new("/proc/sys").join(&name),
                Path::new("/proc/sys").join(&name),
            );
        }
    }
    r.write("/proc/sys/vm/swappiness", "60\n")
        .symlink("/sys", "/sys")
        .fstab(
            "# fstab of a test root\nUUID=0a1b2c3d-1111-2222-3333-444455556666 / ext4 errors=remount-ro 0 1\n",
        );
    r
}

/// The kernel's swap table, faked in `ROOT/proc/swaps`: a recording system whose
/// `swapon` and `swapoff` hooks edit it as the kernel would (checking the header and
/// that the file has no holes), with scripted failures per path (crash stand-ins).
#[derive(Debug)]
pub struct FakeKernel {
    pub rec: Arc<RecordingSystem>,
    table: Arc<SwapTable>,
}

#[derive(Debug)]
struct SwapTable {
    root: PathBuf,
    lock: Mutex<()>,
    fail_swapon_of: Mutex<Vec<(PathBuf, Errno)>>,
    fail_swapoff_of: Mutex<Vec<(PathBuf, Errno)>>,
}

impl FakeKernel {
    pub fn new(root: &Path) -> Arc<FakeKernel> {
        let rec = Arc::new(RecordingSystem::new());
        let table = Arc::new(SwapTable {
            root: root.to_path_buf(),
            lock: Mutex::new(()),
            fail_swapon_of: Mutex::new(Vec::new()),
            fail_swapoff_of: Mutex::new(Vec::new()),
        });
        let t = table.clone();
        rec.on_swapon(move |path, priority| t.swapon(path, priority));
        let t = table.clone();
        rec.on_swapoff(move |path| t.swapoff(path));
        Arc::new(FakeKernel { rec, table })
    }

    /// A host on `root` whose swap calls go to this kernel.
    pub fn host(&self) -> Host {
        Host::with_system(&self.table.root, self.rec.clone())
    }

    /// Makes the next swapoff of `path` fail with `errno` (a crash stand-in).
    pub fn fail_swapoff_of(&self, path: &Path, errno: Errno) {
        self.table
            .fail_swapoff_of
            .lock()
            .unwrap()
            .push((path.to_path_buf(), errno));
    }

    /// Makes the next swapon of `path` fail with `errno` (a crash stand-in).
    pub fn fail_swapon_of(&self, path: &Path, errno: Errno) {
        self.table
            .fail_swapon_of
            .lock()
            .unwrap()
            .push((path.to_path_buf(), errno));
    }

    /// Lists a file as active (as if swapon had run), with `used` KiB in use.
    pub fn activate(&self, path: &Path, used_kib: u64) {
        self.table.activate(path, used_kib);
    }

    pub fn swapons(&self) -> Vec<PathBuf> {
        self.rec
            .calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Swapon(p, _) => Some(p),
                _ => None,
            })
            .collect()
    }

    pub fn calls(&self) -> Vec<Call> {
        self.rec.calls()
    }
}

impl SwapTable {
    fn swaps_file(&self) -> PathBuf {
        self.root.join("proc/swaps")
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.swaps_file())
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn listed(&self, path: &Path) -> Option<usize> {
        let esc = escape_field(&path.to_string_lossy());
        self.lines()
            .iter()
            .position(|l| l.split_whitespace().next() == Some(esc.as_str()))
    }

    fn activate(&self, path: &Path, used_kib: u64) {
        let size = std::fs::metadata(path).unwrap().len();
        let mut lines = self.lines();
        lines.push(format!(
            "{:<39} file\t\t{}\t\t{used_kib}\t\t-2",
            escape_field(&path.to_string_lossy()),
            size / 1024 - 4
        ));
        std::fs::write(self.swaps_file(), lines.join("\n") + "\n").unwrap();
    }

    fn swapon(&self, path: &Path, priority: Option<i32>) -> std::result::Result<(), Errno> {
        let _g = self.lock.lock().unwrap();
        {
            let mut f = self.fail_swapon_of.lock().unwrap();
            if let Some(i) = f.iter().position(|(p, _)| p == path) {
                return Err(f.remove(i).1);
            }
        }
        if self.listed(path).is_some() {
            return Err(Errno::EBUSY);
        }
        let head = std::fs::read(path).map_err(|_| Errno::ENOENT)?;
        let Signature::Swap(h) = read_signature(&head[..head.len().min(65536)]) else {
            return Err(Errno::EINVAL);
        };
        let meta = std::fs::metadata(path).map_err(|_| Errno::ENOENT)?;
        if meta.blocks() * 512 < meta.len() {
            return Err(Errno::EINVAL);
        }
        let mut lines = self.lines();
        lines.push(format!(
            "{:<39} file\t\t{}\t\t0\t\t{}",
            escape_field(&path.to_string_lossy()),
            u64::from(h.last_page) * 4,
            priority.unwrap_or(-2)
        ));
        std::fs::write(self.swaps_file(), lines.join("\n") + "\n").unwrap();
        Ok(())
    }

    fn swapoff(&self, path: &Path) -> std::result::Result<(), Errno> {
        let _g = self.lock.lock().unwrap();
        {
            let mut f = self.fail_swapoff_of.lock().unwrap();
            if let Some(i) = f.iter().position(|(p, _)| p == path) {
                return Err(f.remove(i).1);
            }
        }
        let Some(i) = self.listed(path) else {
            return Err(Errno::EINVAL);
        };
        let mut lines = self.lines();
        lines.remove(i);
        std::fs::write(self.swaps_file(), lines.join("\n") + "\n").unwrap();
        Ok(())
    }
}

/// Whether this test runs as root; when not, skips the part that needs it loudly (a
/// failure under `HOSTFIX_REQUIRE_ROOT=1`) and the test goes on without it.
#[track_caller]
pub fn is_root_or_note(what: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    tiers::skip(
        tiers::Tier::Root,
        &format!("one part of it: {what} needs root (chown to another user)"),
    );
    false
}

/// The running user and group: the owner of a fake root's files.
pub fn me() -> (u32, u32) {
    (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    )
}

/// Writes hostfix's record of an intent to create `path` (as a run killed between
/// recording the intent and recording the created file leaves it), in the on-disk format
/// of record version 1.
pub fn write_intent_record(root: &Path, state: &str, path: &str, name: &str, uuid: &str) {
    use std::os::unix::fs::PermissionsExt;
    let dir = root.join(state.trim_start_matches('/')).join("swap");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let now = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    std::fs::write(
        dir.join(format!("{name}.json")),
        format!(
            r#"{{"version":1,"path":"{path}","file":{{"uuid":"{uuid}","intent_at":{now},"dev":null,"ino":null,"size":16777216,"how":"created"}},"temp":null,"fstab_lines":[],"units":[]}}"#
        ),
    )
    .unwrap();
}

/// The real kernel, with a failure of `swapon` for a path (a crash stand-in): a live
/// recording system whose swapon hook fails once for `path` with `errno`.
pub fn flaky_swapon(path: &Path, errno: Errno) -> Arc<RecordingSystem> {
    let rec = Arc::new(RecordingSystem::live());
    let pending = Mutex::new(Some((path.to_path_buf(), errno)));
    rec.on_swapon(move |p, priority| {
        let mut pending = pending.lock().unwrap();
        if pending.as_ref().is_some_and(|(f, _)| f == p) {
            if let Some((_, e)) = pending.take() {
                return Err(e);
            }
        }
        LiveSystem.swapon(p, priority)
    });
    rec
}

/// Every file under a directory with its mode, owner and content hash: two snapshots are
/// equal when nothing was touched.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(d: &Path, out: &mut BTreeMap<PathBuf, String>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(m) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if p.file_name()
                .is_some_and(|n| n == "proc" || n == "sys" || n == "lost+found")
            {
                continue;
            }
            let desc = if m.file_type().is_symlink() {
                format!("link {:?}", std::fs::read_link(&p).ok())
            } else if m.is_dir() {
                walk(&p, out);
                format!("dir {:o}", m.mode())
            } else {
                let h = std::fs::read(&p)
                    .map(|b| {
                        b.iter().fold(0xcbf29ce484222325u64, |h, x| {
                            (h ^ u64::from(*x)).wrapping_mul(0x100000001b3)
                        })
                    })
                    .unwrap_or(0);
                format!(
                    "file {:o} {}:{} {} {h:x}",
                    m.mode(),
                    m.uid(),
                    m.gid(),
                    m.len()
                )
            };
            out.insert(p, desc);
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, &mut out);
    out
}

/// Runs a command, panicking with its output when it fails.
pub fn sh(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {}: {}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The real /proc/swaps entries under a directory.
pub fn real_swaps_under(dir: &Path) -> Vec<hostfix::swap::SwapEntry> {
    let text = std::fs::read_to_string("/proc/swaps").unwrap();
    hostfix::testing::swap::parse_proc_swaps(&text)
        .unwrap()
        .into_iter()
        .filter(|e| e.path.starts_with(dir))
        .collect()
}

/// A loop-mounted filesystem image, swapped off, unmounted and detached on drop.
pub struct LoopFs {
    pub mount: PathBuf,
    pub devices: Vec<String>,
    images: Vec<PathBuf>,
    mounted: Option<mounts::Mounted>,
    _images_dir: tempfile::TempDir,
}

impl LoopFs {
    /// Makes `count` sparse images of `size_mib`, attaches them, runs `mkfs` over all the
    /// devices and mounts the first at `mount`.
    pub fn new(mkfs: &[&str], size_mib: u64, count: usize, mount: &Path) -> LoopFs {
        let images_dir = tempfile::Builder::new()
            .prefix("hostfix-img-")
            .tempdir()
            .unwrap();
        let mut fs = LoopFs {
            mount: mount.to_path_buf(),
            devices: Vec::new(),
            images: Vec::new(),
            mounted: None,
            _images_dir: images_dir,
        };
        for i in 0..count {
            let img = fs._images_dir.path().join(format!("disk{i}.img"));
            let f = std::fs::File::create(&img).unwrap();
            f.set_len(size_mib * MIB).unwrap();
            let dev = sh("losetup", &["--find", "--show", img.to_str().unwrap()])
                .trim()
                .to_string();
            fs.devices.push(dev);
            fs.images.push(img);
        }
        let mut args: Vec<&str> = mkfs[1..].to_vec();
        args.extend(fs.devices.iter().map(String::as_str));
        sh(mkfs[0], &args);
        std::fs::create_dir_all(mount).unwrap();
        fs.mounted = Some(mounts::device(Path::new(&fs.devices[0]), mount));
        fs
    }

    pub fn ext4(mount: &Path) -> LoopFs {
        LoopFs::new(&["mkfs.ext4", "-q", "-F"], 256, 1, mount)
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        for e in real_swaps_under(&self.mount) {
            if let Err(err) = LiveSystem.swapoff(&e.path) {
                eprintln!("cleanup: swapoff {}: {err}", e.path.display());
            }
        }
        // Detached here, before the devices.
        self.mounted = None;
        for d in &self.devices {
            let _ = Command::new("losetup").args(["-d", d]).status();
        }
    }
}
