//! Observing everything a swap decision depends on, all from the host's root: the file
//! (type, owner, mode, size, allocated blocks, header), `/proc/swaps`, fstab, the systemd
//! unit, the filesystem, free disk and memory, the kernel, and whether this is a container.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::fs::{self as swapfs, FsInfo, FsKind, KernelVersion};
use super::fstab::FstabEntry;
use super::header::{Signature, SwapHeader, read_signature};
use super::proc_swaps::SwapEntry;
use super::record::{RecordFacts, read_record, record_path};
use super::spec::normalize;
use crate::error::{Error, Result};
use crate::host::{Host, InitSystem};
use crate::resources::{self, Disk, Memory};

pub mod path;
mod persist;

pub use path::path_problem;
#[cfg(any(test, feature = "testing"))]
pub use path::{dir_problem, mount_points};
#[cfg(any(test, feature = "testing"))]
pub use persist::OTHER_UNIT_DIRS;
pub use persist::{fstab_names, fstab_real_path, read_fstab};

/// The `sysctl.d` file hostfix writes `vm.swappiness` to (a host path).
pub const SYSCTL_FILE: &str = "/etc/sysctl.d/90-hostfix-swap.conf";
/// The suffix of the temporary swap area a resize swaps over to.
pub const SWAPOVER_SUFFIX: &str = ".hostfix-swapover";

/// What a file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Content {
    /// A version 1 swap area.
    Swap(SwapHeader),
    /// A version 0 swap area.
    OldSwap,
    /// A hibernation image (a suspended system): never overwritten.
    Hibernation {
        /// The signature found.
        magic: String,
    },
    /// Nothing but zeros (or empty): a file hostfix may complete.
    Zeros,
    /// Anything else: data that is never touched.
    Data,
}

impl Content {
    /// The header, when this is a version 1 swap area.
    pub fn header(&self) -> Option<&SwapHeader> {
        match self {
            Content::Swap(h) => Some(h),
            _ => None,
        }
    }

    /// Whether this is a swap area of any version.
    pub fn is_swap(&self) -> bool {
        matches!(self, Content::Swap(_) | Content::OldSwap)
    }
}

/// A regular file at the swap path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileFacts {
    /// Its size (`st_size`).
    pub size: u64,
    /// Bytes allocated on disk (`st_blocks * 512`).
    pub allocated: u64,
    /// Whether it has holes (`SEEK_HOLE` before the end, or fewer blocks than bytes).
    pub holes: bool,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Device of the filesystem.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Its number of names (hard links); hostfix's own file has one.
    pub nlink: u64,
    /// Its birth time in nanoseconds since the epoch, where the filesystem keeps one.
    pub born: Option<u64>,
    /// When its inode last changed (seconds since the epoch).
    pub ctime: i64,
    /// Whether something is mounted over it (a bind mount).
    pub mount_point: bool,
    /// For btrfs: whether `FS_NOCOW_FL` is set.
    pub nocow: Option<bool>,
    /// What it holds.
    pub content: Content,
}

impl FileFacts {
    /// Whether owner, group and mode are what a swap file needs: the host's owner
    /// (root:root on a live host, [`Host::owner`]) and 0600.
    pub fn owner_mode_ok(&self, owner: (u32, u32)) -> bool {
        (self.uid, self.gid) == owner && self.mode == 0o600
    }

    /// Whether users other than the host's owner can read it (a leak of memory contents).
    pub fn readable_by_others(&self, owner: (u32, u32)) -> bool {
        self.mode & 0o044 != 0 || self.uid != owner.0
    }
}

/// What is at the swap path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Target {
    /// Nothing.
    Missing,
    /// A symbolic link (never followed).
    Symlink {
        /// Where it points.
        to: String,
    },
    /// A directory.
    Directory,
    /// A block or character device.
    Device,
    /// A FIFO or socket.
    Special,
    /// A regular file.
    File(FileFacts),
}

impl Target {
    /// The file's facts, when it is a regular file.
    pub fn file(&self) -> Option<&FileFacts> {
        match self {
            Target::File(f) => Some(f),
            _ => None,
        }
    }
}

/// A matching fstab line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FstabMatch {
    /// Line number (1-based).
    pub number: usize,
    /// The line byte for byte, without its newline.
    pub raw: String,
    /// The entry.
    pub entry: FstabEntry,
}

/// fstab, as it concerns the swap file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct FstabFacts {
    /// Whether `/etc/fstab` exists.
    pub exists: bool,
    /// Swap lines naming the file (by path, or by a path to the same inode).
    pub lines: Vec<FstabMatch>,
    /// Swap lines naming the file's UUID or label, which boot cannot resolve for a file.
    pub by_uuid_or_label: Vec<usize>,
}

/// The systemd unit for the swap file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct UnitFacts {
    /// The unit name (`swapfile.swap`).
    pub name: String,
    /// Its content, when the file exists in `/etc/systemd/system`.
    pub content: Option<String>,
    /// Whether `swap.target.wants` links to it (`../NAME`, as hostfix links it).
    pub enabled: bool,
    /// What `swap.target.wants/NAME` is, when there is something: the link's target, or
    /// the kind of file in parentheses.
    pub link: Option<String>,
    /// Other units of that name, or drop-in folders for it, that systemd would read (host
    /// paths): hostfix wrote none of them.
    pub elsewhere: Vec<String>,
}

/// The temporary swap area of an interrupted resize.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TempFacts {
    /// Its host path.
    pub path: PathBuf,
    /// What is there.
    pub target: Target,
    /// Its `/proc/swaps` entry when active.
    pub active: Option<SwapEntry>,
}

/// Everything a swap decision depends on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observation {
    /// The swap file's host path.
    pub path: PathBuf,
    /// The same on the live system (under the host's root).
    pub real_path: PathBuf,
    /// The kernel's page size.
    pub page_size: u64,
    /// The kernel release.
    pub kernel_release: Option<String>,
    /// The kernel version.
    pub kernel: Option<KernelVersion>,
    /// The container hostfix runs in, if any.
    pub container: Option<String>,
    /// Whether hostfix runs as root.
    pub is_root: bool,
    /// The owner (`uid`, `gid`) the swap file must have ([`Host::owner`]).
    pub owner: (u32, u32),
    /// Whether systemd is PID 1.
    pub systemd: bool,
    /// What is at the path.
    pub target: Target,
    /// The `/proc/swaps` entry of the file, when active.
    pub active: Option<SwapEntry>,
    /// Every active swap area.
    pub swaps: Vec<SwapEntry>,
    /// Whether the parent directory exists.
    pub parent_exists: bool,
    /// Why the way to the file is unsafe, when it is: a directory on the way that another
    /// user can write to, or a symbolic link ([`path_problem`]).
    pub parent_problem: Option<String>,
    /// The filesystem that holds (or would hold) the file.
    pub fs: Option<FsInfo>,
    /// Its free space.
    pub disk: Option<Disk>,
    /// Memory.
    pub memory: Option<Memory>,
    /// fstab.
    pub fstab: FstabFacts,
    /// The systemd unit.
    pub unit: UnitFacts,
    /// `vm.swappiness` now.
    pub swappiness: Option<u32>,
    /// The content of hostfix's `sysctl.d` file.
    pub sysctl_file: Option<String>,
    /// A leftover temporary area of an interrupted resize.
    pub temp: Option<TempFacts>,
    /// hostfix's record for the path (a host path under the state directory).
    pub record_path: PathBuf,
    /// What the record says hostfix made.
    pub record: RecordFacts,
}

impl Observation {
    /// The swap-over path beside the file (`/dir/.NAME.hostfix-swapover`).
    pub fn temp_path(&self) -> PathBuf {
        temp_path_for(&self.path)
    }
}

/// The swap-over path for a swap file (a host path).
pub fn temp_path_for(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}{SWAPOVER_SUFFIX}"))
}

/// The kernel's page size (4096 when it cannot be read).
pub fn page_size() -> u64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE) {
        Ok(Some(n)) if n > 0 => n as u64,
        _ => 4096,
    }
}

/// Observes the host for a swap file at `path` (a host path), with hostfix's records in
/// `state_dir` (a host path).
///
/// # Errors
/// [`Error::Io`] or [`Error::Parse`] when `/proc/swaps` or the file cannot be read;
/// unreadable optional facts (memory, disk, kernel) are left `None` and logged.
pub fn observe(host: &Host, path: &Path, state_dir: &Path) -> Result<Observation> {
    let path = normalize(path);
    let real_path = host.path(&path);
    let swaps = super::active_swaps(host)?;
    let target = read_target(&real_path, &path)?;
    let active = find_active(&swaps, &real_path, target.file().map(|f| (f.dev, f.ino)));
    let parent = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let real_parent = host.path(&parent);
    let parent_exists = real_parent.is_dir();
    let existing = nearest_existing(host, &parent);
    let parent_problem = path_problem(host, &path);
    let fs = match swapfs::read_fs_info(&host.path(&existing)) {
        Ok(f) => Some(f),
        Err(e) => {
            log::warn!("swap: statfs {}: {e}", existing.display());
            None
        }
    };
    let disk = resources::read_disk(host, &existing)
        .map_err(|e| log::warn!("swap: free disk of {}: {e}", existing.display()))
        .ok();
    let memory = resources::read_memory(host)
        .map_err(|e| log::warn!("swap: memory: {e}"))
        .ok();
    // Optional facts: a root without them (an image being prepared) still gets a plan.
    let kernel_release = host.kernel_release().ok();
    let kernel = kernel_release.as_deref().and_then(KernelVersion::parse);
    let identity = target.file().map(|f| (f.dev, f.ino));
    let fstab = persist::read_fstab_facts(host, &path, identity, target.file())?;
    let unit = persist::read_unit_facts(host, &path)?;
    let swappiness = host
        .read_opt("/proc/sys/vm/swappiness")
        .ok()
        .flatten()
        .and_then(|s| s.trim().parse().ok());
    // hostfix's own file: a regular file or refused, never followed or blocked on.
    let sysctl_file = crate::state::read_regular(&host.path(SYSCTL_FILE))?
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    let tpath = temp_path_for(&path);
    let treal = host.path(&tpath);
    let temp = match read_target(&treal, &tpath)? {
        Target::Missing => None,
        t => {
            let active = find_active(&swaps, &treal, t.file().map(|f| (f.dev, f.ino)));
            Some(TempFacts {
                path: tpath,
                target: t,
                active,
            })
        }
    };
    let record = read_record(host, state_dir, &path);
    let o = Observation {
        record_path: record_path(state_dir, &path)?,
        record,
        path,
        real_path,
        page_size: page_size(),
        kernel_release,
        kernel,
        container: host.container(),
        is_root: host.is_root(),
        owner: host.owner(),
        systemd: host.init_system() == InitSystem::Systemd,
        target,
        active,
        swaps,
        parent_exists,
        parent_problem,
        fs,
        disk,
        memory,
        fstab,
        unit,
        swappiness,
        sysctl_file,
        temp,
    };
    log::debug!("swap: observed {o:?}");
    Ok(o)
}

/// The nearest existing ancestor directory of a host path (`/` at worst).
fn nearest_existing(host: &Host, dir: &Path) -> PathBuf {
    let mut d = dir.to_path_buf();
    while !host.path(&d).is_dir() {
        if !d.pop() {
            return PathBuf::from("/");
        }
    }
    d
}

/// Reads what is at a path without following a final symlink.
///
/// # Errors
/// [`Error::Io`] when it exists but cannot be examined.
pub fn read_target(real: &Path, host_path: &Path) -> Result<Target> {
    let meta = match std::fs::symlink_metadata(real) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Target::Missing),
        Err(e) => return Err(Error::io("examining", host_path, e)),
    };
    let ft = meta.file_type();
    if ft.is_symlink() {
        let to = std::fs::read_link(real)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        return Ok(Target::Symlink { to });
    }
    if ft.is_dir() {
        return Ok(Target::Directory);
    }
    if ft.is_block_device() || ft.is_char_device() {
        return Ok(Target::Device);
    }
    if !ft.is_file() {
        return Ok(Target::Special);
    }
    let mut f = open_nofollow(real).map_err(|e| Error::io("opening", host_path, e))?;
    let mut facts = file_facts(&mut f, host_path)?;
    facts.mount_point = path::is_mount_point(real);
    Ok(Target::File(facts))
}

/// Opens a file read-only without following a final symlink (and without blocking on a
/// FIFO that replaced it).
///
/// # Errors
/// The I/O error.
pub fn open_nofollow(real: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(real)
}

/// The facts of an open regular file.
///
/// # Errors
/// [`Error::Io`] naming the file.
pub fn file_facts(f: &mut File, host_path: &Path) -> Result<FileFacts> {
    let meta = f
        .metadata()
        .map_err(|e| Error::io("examining", host_path, e))?;
    let size = meta.len();
    let holes = swapfs::has_holes(f, size).unwrap_or_else(|e| {
        log::warn!("swap: hole check of {}: {e}", host_path.display());
        true
    });
    let nocow = match swapfs::get_flags(f) {
        Ok(flags) => Some(flags & swapfs::FS_NOCOW_FL != 0),
        Err(_) => None,
    };
    let head = swapfs::read_head(f).map_err(|e| Error::io("reading", host_path, e))?;
    let content = match read_signature(&head) {
        Signature::Swap(h) => Content::Swap(h),
        Signature::SwapV0 { .. } => Content::OldSwap,
        Signature::Hibernation { magic, .. } => Content::Hibernation { magic },
        Signature::None => {
            if swapfs::is_all_zeros(f).map_err(|e| Error::io("reading", host_path, e))? {
                Content::Zeros
            } else {
                Content::Data
            }
        }
    };
    Ok(FileFacts {
        size,
        allocated: meta.blocks().saturating_mul(512),
        holes,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        dev: meta.dev(),
        ino: meta.ino(),
        nlink: meta.nlink(),
        born: born_nanos(&meta),
        ctime: meta.ctime(),
        mount_point: false,
        nocow,
        content,
    })
}

/// A file's birth time in nanoseconds since the epoch (`statx` btime), where the
/// filesystem keeps one.
pub fn born_nanos(meta: &std::fs::Metadata) -> Option<u64> {
    let t = meta.created().ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    u64::try_from(d.as_nanos()).ok()
}

/// The `/proc/swaps` entry of a file: same canonical path, or same device and inode.
/// Entries of deleted files never match (the path now names something else).
pub fn find_active(
    swaps: &[SwapEntry],
    real: &Path,
    identity: Option<(u64, u64)>,
) -> Option<SwapEntry> {
    let canon = std::fs::canonicalize(real).ok();
    swaps
        .iter()
        .filter(|e| !e.deleted)
        .find(|e| {
            if canon.is_some() && std::fs::canonicalize(&e.path).ok() == canon {
                return true;
            }
            match (identity, std::fs::metadata(&e.path)) {
                (Some((dev, ino)), Ok(m)) => m.dev() == dev && m.ino() == ino,
                _ => false,
            }
        })
        .cloned()
}

/// Whether a filesystem kind needs the NOCOW flag for swap.
pub fn needs_nocow(fs: Option<&FsInfo>) -> bool {
    fs.is_some_and(|f| f.kind == FsKind::Btrfs)
}
