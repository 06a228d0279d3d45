//! The guests' base images: one per [`Flavour`], each built once from `tests/vm/image/`
//! (debootstrap of a Debian release, `build-rootfs.sh OUT MIRROR FLAVOUR`), cached outside
//! the checkout under a key made of the flavour's name and a hash of its recipe, shared
//! read-only by every scenario of that flavour (each boots on its own copy-on-write
//! overlay). A flavour's recipe is `build-rootfs.sh`, `rootfs/` and its own
//! `flavours/<name>.sh` and `flavours/<name>/`: an edit of another flavour's files leaves
//! its image valid. An image is built only when a scenario of its flavour runs.
//!
//! Cache layout (`$HOSTFIX_VM_CACHE`, default `/var/cache/hostfix-vm`), `<key>` being
//! `<flavour>-<hash>`:
//! - `<key>/base.img`, `<key>/vmlinuz`, `<key>/initrd.img`: a finished image. The
//!   directory appears by one `rename` of a finished build, so it is never half there;
//! - `<key>.lock`: held (flock) while building, so two test processes never build at once;
//! - `<key>.build-<pid>`: a build in progress, or the remains of a killed one (removed by
//!   the next build, after unmounting anything debootstrap left mounted in it).

use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};

use crate::proc::{self, Outcome};

/// The longest a cold build may take (debootstrap and apt download about 500 MB).
const BUILD_TIMEOUT: Duration = Duration::from_secs(25 * 60);

/// A kind of guest: which Debian release, which init as PID 1, which container engine.
/// Its recipe is `tests/vm/image/flavours/<name>.sh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavour {
    /// Debian 12 (bookworm), systemd, the distro nginx (`nginx-light`) on :80, Docker, sshd,
    /// cloud-init: the guest of every scenario that does not ask for another.
    Bookworm,
    /// Debian 13 (trixie): systemd 257, cgroup v2 only, apt 3, `/usr` merged; the distro
    /// nginx (package `nginx`) on :80, Docker, sshd, cloud-init.
    Trixie,
    /// Debian 12 with `sysvinit-core` as PID 1 (no systemd running, no journal): nginx and
    /// sshd from their init scripts; no Docker, no cloud-init.
    BookwormSysv,
    /// Debian 13 with systemd and Podman (podman, conmon, crun, netavark) instead of
    /// Docker; nginx on :80, sshd; no cloud-init.
    TrixiePodman,
}

impl Flavour {
    /// Every flavour.
    pub const ALL: [Flavour; 4] = [
        Flavour::Bookworm,
        Flavour::Trixie,
        Flavour::BookwormSysv,
        Flavour::TrixiePodman,
    ];

    /// Its name: the recipe's `flavours/<name>.sh`, the cache key's prefix.
    pub fn name(self) -> &'static str {
        match self {
            Flavour::Bookworm => "bookworm",
            Flavour::Trixie => "trixie",
            Flavour::BookwormSysv => "bookworm-sysv",
            Flavour::TrixiePodman => "trixie-podman",
        }
    }

    /// The Debian release (`VERSION_CODENAME` in the guest's /etc/os-release).
    pub fn codename(self) -> &'static str {
        match self {
            Flavour::Bookworm | Flavour::BookwormSysv => "bookworm",
            Flavour::Trixie | Flavour::TrixiePodman => "trixie",
        }
    }

    /// Whether systemd is PID 1 (otherwise sysvinit's `init`).
    pub fn systemd(self) -> bool {
        self != Flavour::BookwormSysv
    }

    /// The container engine installed: `docker`, `podman`, or none.
    pub fn engine(self) -> Option<&'static str> {
        match self {
            Flavour::Bookworm | Flavour::Trixie => Some("docker"),
            Flavour::TrixiePodman => Some("podman"),
            Flavour::BookwormSysv => None,
        }
    }

    /// Its position in [`Flavour::ALL`].
    pub fn index(self) -> usize {
        Flavour::ALL.iter().position(|f| *f == self).unwrap_or(0)
    }
}

impl std::fmt::Display for Flavour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A finished base image.
#[derive(Debug, Clone)]
pub struct Image {
    /// Its cache key: `<flavour>-<recipe hash>`.
    pub hash: String,
    /// The raw ext4 root disk (the guest's `/dev/vda`), never written to.
    pub base: PathBuf,
    /// The guest kernel.
    pub kernel: PathBuf,
    /// The guest initrd.
    pub initrd: PathBuf,
    /// How long getting it took (building, or waiting for another process's build).
    pub took: Duration,
    /// Whether this process built it.
    pub built: bool,
}

/// The cache folder: `$HOSTFIX_VM_CACHE`, or `/var/cache/hostfix-vm`.
pub fn cache_root() -> PathBuf {
    std::env::var_os("HOSTFIX_VM_CACHE")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("/var/cache/hostfix-vm"), PathBuf::from)
}

/// Returns the cached image of `flavour` for the recipe in `recipe`, building it first when
/// missing. `ahead`: a build ahead of need, run under `nice -n 10` so that guests running
/// meanwhile keep the CPU they need (the build is mostly downloads anyway).
pub fn ensure(recipe: &Path, flavour: Flavour, ahead: bool) -> Result<Image, String> {
    let name = flavour.name();
    ensure_in(&cache_root(), recipe, name, &mirror, &crate::loud, ahead)
}

/// [`ensure`] with the cache in `root`, the flavour named `flavour`, the mirror from
/// `mirror` (called only to build), progress notices to `notify`, and a build under `nice`
/// when `ahead`.
fn ensure_in(
    root: &Path,
    recipe: &Path,
    flavour: &str,
    mirror: &dyn Fn() -> Result<String, String>,
    notify: &dyn Fn(&str),
    ahead: bool,
) -> Result<Image, String> {
    let start = Instant::now();
    let hash = flavour_key(recipe, flavour)
        .map_err(|e| format!("hashing {} ({flavour}): {e}", recipe.display()))?;
    fs::create_dir_all(root).map_err(|e| format!("creating {}: {e}", root.display()))?;
    let done = root.join(&hash);
    if let Some(img) = finished(&done, &hash, start, false) {
        return Ok(img);
    }
    let lock_path = root.join(format!("{hash}.lock"));
    let lock_file =
        File::create(&lock_path).map_err(|e| format!("creating {}: {e}", lock_path.display()))?;
    let _lock = match Flock::lock(lock_file, FlockArg::LockExclusiveNonblock) {
        Ok(l) => l,
        Err((f, nix::errno::Errno::EWOULDBLOCK)) => {
            notify(&format!(
                "hostfix VM tests: another test process is building the image; waiting for \
                 {}",
                lock_path.display()
            ));
            Flock::lock(f, FlockArg::LockExclusive)
                .map_err(|(_, e)| format!("locking {}: {e}", lock_path.display()))?
        }
        Err((_, e)) => return Err(format!("locking {}: {e}", lock_path.display())),
    };
    if let Some(img) = finished(&done, &hash, start, false) {
        return Ok(img);
    }
    remove_stale_builds(root, &hash, notify)?;
    let mirror = mirror()?;
    let work = root.join(format!("{hash}.build-{}", std::process::id()));
    fs::create_dir_all(&work).map_err(|e| format!("creating {}: {e}", work.display()))?;
    notify(&format!(
        "hostfix VM tests: building the guest image {hash} (flavour {flavour} from \
         {mirror}; a few minutes, once) in {}",
        work.display()
    ));
    let script = recipe.join("build-rootfs.sh");
    let log = work.join("build.log");
    let mut cmd = if ahead {
        let mut c = Command::new("nice");
        c.args(["-n", "10", "bash"]);
        c
    } else {
        Command::new("bash")
    };
    cmd.arg(&script).arg(&work).arg(&mirror).arg(flavour);
    let out = proc::run_logged(cmd, &log, BUILD_TIMEOUT)
        .map_err(|e| format!("running {}: {e}", script.display()))?;
    if out != Outcome::Exited(0) {
        let tail = proc::tail(&fs::read_to_string(&log).unwrap_or_default(), 60);
        // Its log tail goes into the error; nothing of a failed build stays.
        let _ = remove_build_dir(&work);
        return Err(format!(
            "building the guest image failed ({out:?}); the build log ends:\n{tail}"
        ));
    }
    for f in ["base.img", "vmlinuz", "initrd.img"] {
        if !work.join(f).is_file() {
            return Err(format!("the image build left no {f} in {}", work.display()));
        }
    }
    File::open(&work)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("syncing {}: {e}", work.display()))?;
    fs::rename(&work, &done)
        .map_err(|e| format!("renaming {} to {}: {e}", work.display(), done.display()))?;
    finished(&done, &hash, start, true)
        .ok_or_else(|| format!("{} vanished after the build", done.display()))
}

fn finished(dir: &Path, hash: &str, start: Instant, built: bool) -> Option<Image> {
    let img = Image {
        hash: hash.to_string(),
        base: dir.join("base.img"),
        kernel: dir.join("vmlinuz"),
        initrd: dir.join("initrd.img"),
        took: start.elapsed(),
        built,
    };
    (img.base.is_file() && img.kernel.is_file() && img.initrd.is_file()).then_some(img)
}

/// Removes what killed builds of this recipe left (their folders `<hash>.build-*`).
fn remove_stale_builds(root: &Path, hash: &str, notify: &dyn Fn(&str)) -> Result<(), String> {
    let prefix = format!("{hash}.build-");
    let entries = fs::read_dir(root).map_err(|e| format!("reading {}: {e}", root.display()))?;
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            notify(&format!(
                "hostfix VM tests: removing the remains of a killed build: {}",
                e.path().display()
            ));
            remove_build_dir(&e.path())?;
        }
    }
    Ok(())
}

/// Removes a build folder, after unmounting whatever debootstrap left mounted inside it
/// (a killed debootstrap leaves the chroot's /proc and /sys mounted). Refuses to remove
/// anything while a mount remains under it.
fn remove_build_dir(dir: &Path) -> Result<(), String> {
    let canon = fs::canonicalize(dir).map_err(|e| format!("resolving {}: {e}", dir.display()))?;
    let mut mounts = mounts_under(&canon)?;
    // Deepest first.
    mounts.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    for m in &mounts {
        if let Err(e) = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH) {
            return Err(format!(
                "unmounting {} (left by a killed build): {e}",
                m.display()
            ));
        }
    }
    if !mounts_under(&canon)?.is_empty() {
        return Err(format!(
            "{} still has mounts under it; not removing it",
            canon.display()
        ));
    }
    fs::remove_dir_all(&canon).map_err(|e| format!("removing {}: {e}", canon.display()))
}

/// Mount points at or under `dir` (from /proc/self/mountinfo).
fn mounts_under(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let text = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("reading /proc/self/mountinfo: {e}"))?;
    Ok(parse_mount_points(&text)
        .into_iter()
        .filter(|m| m.starts_with(dir))
        .collect())
}

/// The mount points (field 5) of a mountinfo text, octal escapes undone.
pub fn parse_mount_points(mountinfo: &str) -> Vec<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(hostfix::testing::swap::unescape_octal(p)))
        .collect()
}

/// The cache key of `flavour`'s image: `<flavour>-<hash>`, the hash over the recipe's files
/// that flavour uses (see [`flavour_files`]) and its name.
pub fn flavour_key(dir: &Path, flavour: &str) -> std::io::Result<String> {
    let mut files = Vec::new();
    collect_files(dir, dir, &mut files)?;
    files.retain(|rel| flavour_files(rel, flavour));
    let mut h = hash_files(dir, files)?;
    h.write(b"flavour\0");
    h.write(flavour.as_bytes());
    Ok(format!("{flavour}-{:016x}", h.0))
}

/// Whether the recipe file `rel` (relative to the recipe folder) is part of `flavour`'s
/// recipe: everything outside `flavours/`, and that flavour's `flavours/<name>.sh` and
/// `flavours/<name>/`.
pub fn flavour_files(rel: &Path, flavour: &str) -> bool {
    match rel.strip_prefix("flavours") {
        Err(_) => true,
        Ok(rest) => {
            rest == Path::new(&format!("{flavour}.sh"))
                || rest.components().count() > 1 && rest.starts_with(flavour)
        }
    }
}

/// A stable hash of the recipe folder: every file's relative path, executable bit and
/// bytes, in path order (FNV-1a, 64 bits; it only has to notice edits).
pub fn recipe_hash(dir: &Path) -> std::io::Result<String> {
    let mut files = Vec::new();
    collect_files(dir, dir, &mut files)?;
    Ok(format!("{:016x}", hash_files(dir, files)?.0))
}

/// The hash of `files` (relative to `dir`), in path order.
fn hash_files(dir: &Path, mut files: Vec<PathBuf>) -> std::io::Result<Fnv> {
    use std::os::unix::fs::PermissionsExt;
    files.sort();
    let mut h = Fnv::default();
    for rel in files {
        let path = dir.join(&rel);
        let meta = fs::symlink_metadata(&path)?;
        h.write(rel.to_string_lossy().as_bytes());
        h.write(&[0, u8::from(meta.permissions().mode() & 0o111 != 0)]);
        if meta.file_type().is_symlink() {
            h.write(fs::read_link(&path)?.to_string_lossy().as_bytes());
        } else {
            h.write(&fs::read(&path)?);
        }
        h.write(&[0xff]);
    }
    Ok(h)
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in fs::read_dir(dir)? {
        let e = e?;
        let path = e.path();
        if e.file_type()?.is_dir() {
            collect_files(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_path_buf());
        }
    }
    Ok(())
}

struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// The Debian mirror to debootstrap from: `$HOSTFIX_VM_MIRROR`, else the machine's own apt
/// configuration (the first bookworm `URIs:` stanza under /etc/apt/sources.list.d/*.sources,
/// else the first `URIs:` line there, else the first `deb` line of /etc/apt/sources.list).
pub fn mirror() -> Result<String, String> {
    if let Some(m) = std::env::var_os("HOSTFIX_VM_MIRROR").filter(|v| !v.is_empty()) {
        return Ok(m.to_string_lossy().into_owned());
    }
    let mut sources: Vec<PathBuf> = fs::read_dir("/etc/apt/sources.list.d")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "sources"))
                .collect()
        })
        .unwrap_or_default();
    sources.sort();
    let texts: Vec<String> = sources
        .iter()
        .filter_map(|p| fs::read_to_string(p).ok())
        .collect();
    let found = texts
        .iter()
        .find_map(|t| mirror_from_sources(t, "bookworm"))
        .or_else(|| texts.iter().find_map(|t| first_uri_in_sources(t)))
        .or_else(|| {
            fs::read_to_string("/etc/apt/sources.list")
                .ok()
                .and_then(|t| mirror_from_list(&t))
        });
    found.ok_or_else(|| {
        "no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list \
         (set HOSTFIX_VM_MIRROR)"
            .to_string()
    })
}

/// The first URI of a deb822 `.sources` stanza of type `deb` whose suites include `suite`.
pub fn mirror_from_sources(text: &str, suite: &str) -> Option<String> {
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim().to_string())
            })
        };
        let enabled = field("Enabled").is_none_or(|v| v != "no");
        let deb = field("Types").is_some_and(|t| t.split_whitespace().any(|w| w == "deb"));
        let has_suite = field("Suites").is_some_and(|s| s.split_whitespace().any(|w| w == suite));
        if enabled && deb && has_suite {
            if let Some(uri) =
                field("URIs").and_then(|u| u.split_whitespace().next().map(String::from))
            {
                return Some(uri);
            }
        }
    }
    None
}

/// The first `URIs:` value of a deb822 text.
pub fn first_uri_in_sources(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        if k.trim() != "URIs" {
            return None;
        }
        v.split_whitespace().next().map(String::from)
    })
}

/// The URI of the first `deb` line of a one-line-style sources.list.
pub fn mirror_from_list(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let mut words = l.split_whitespace();
        if words.next()? != "deb" {
            return None;
        }
        let mut w = words.next()?;
        if w.starts_with('[') {
            // Options: "[arch=amd64 signed-by=...]" may span several words.
            while !w.ends_with(']') {
                w = words.next()?;
            }
            w = words.next()?;
        }
        Some(w.to_string())
    })
}

/// Writes a small file, for the scenario's handoff folder.
pub fn write_file(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)?;
    f.write_all(bytes)
}

/// Runs `mkfs.ext4 -d` to make a small ext4 image holding `dir` (the handoff disk).
pub fn mkfs_from_dir(dir: &Path, img: &Path, label: &str) -> Result<(), String> {
    let bytes: u64 = fs::read_dir(dir)
        .map_err(|e| format!("reading {}: {e}", dir.display()))?
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    let mib = (bytes / (1 << 20)) * 5 / 4 + 16;
    let out = Command::new("mkfs.ext4")
        .args(["-q", "-F", "-L", label, "-d"])
        .arg(dir)
        .arg(img)
        .arg(format!("{mib}M"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running mkfs.ext4: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "mkfs.ext4 -d {} {}: {}: {}",
            dir.display(),
            img.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// Makes a small vfat image `img` labelled `label` holding `files` (name, bytes) at its
/// root, with `mkfs.vfat` (dosfstools) and `mcopy` (mtools): a NoCloud seed disk as
/// cloud-init reads it, made without mounting anything.
pub fn make_vfat(img: &Path, label: &str, files: &[(&str, &[u8])]) -> Result<(), String> {
    let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    // FAT's own tables and slack: 10 % and 2 MiB more than the files.
    let kib = (bytes / 1024) * 11 / 10 + 2048;
    let _ = fs::remove_file(img);
    let run = |cmd: &mut Command| -> Result<(), String> {
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running {cmd:?}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{cmd:?}: {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    };
    run(Command::new("mkfs.vfat")
        .args(["-n", label, "-C"])
        .arg(img)
        .arg(kib.to_string()))?;
    let staging = tempfile::tempdir().map_err(|e| format!("a temporary folder: {e}"))?;
    for (name, data) in files {
        let path = staging.path().join(name);
        write_file(&path, data, 0o644).map_err(|e| format!("writing {}: {e}", path.display()))?;
        run(Command::new("mcopy")
            .arg("-i")
            .arg(img)
            .arg(&path)
            .arg(format!("::{name}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_from_deb822_prefers_the_suites_stanza() {
        let text = "Types: deb\nURIs: http://mirror.example/debian-security\n\
                    Suites: bookworm-security\nComponents: main\n\n\
                    Types: deb deb-src\n# a comment\nURIs: http://mirror.example/debian\n\
                    Suites: bookworm bookworm-updates\nComponents: main\n";
        assert_eq!(
            mirror_from_sources(text, "bookworm").as_deref(),
            Some("http://mirror.example/debian")
        );
        assert_eq!(
            first_uri_in_sources(text).as_deref(),
            Some("http://mirror.example/debian-security")
        );
        let disabled = "Enabled: no\nTypes: deb\nURIs: http://a.example/\nSuites: bookworm\n";
        assert_eq!(mirror_from_sources(disabled, "bookworm"), None);
    }

    #[test]
    fn mirror_from_one_line_list() {
        let text = "# deb http://old.example/debian buster main\n\
                    deb-src http://src.example/debian bookworm main\n\
                    deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://mirror.example/debian bookworm main\n";
        assert_eq!(
            mirror_from_list(text).as_deref(),
            Some("http://mirror.example/debian")
        );
        assert_eq!(mirror_from_list("deb [trusted=yes]\n"), None);
    }

    #[test]
    fn mount_points_are_unescaped() {
        let info = "22 1 8:1 / / rw - ext4 /dev/vda rw\n\
                    30 22 0:5 / /var/cache/x\\040y/proc rw - proc proc rw\n";
        assert_eq!(
            parse_mount_points(info),
            vec![PathBuf::from("/"), PathBuf::from("/var/cache/x y/proc")]
        );
    }

    /// A recipe whose build writes dummy outputs, slowly, and counts its runs.
    fn fake_recipe(dir: &Path, count: &Path) {
        fs::write(
            dir.join("build-rootfs.sh"),
            format!(
                "set -e\necho build >>'{}'\nsleep 1\ntest \"$2\" = http://mirror.example/debian\n\
                 test \"$3\" = bookworm\n\
                 for f in base.img vmlinuz initrd.img; do echo x >\"$1/$f\"; done\n",
                count.display()
            ),
        )
        .unwrap();
    }

    #[test]
    fn two_builders_build_once_and_stale_builds_go() {
        let d = tempfile::tempdir().unwrap();
        let (recipe, cache, count) = (d.path().join("r"), d.path().join("c"), d.path().join("n"));
        fs::create_dir_all(&recipe).unwrap();
        fake_recipe(&recipe, &count);
        let hash = flavour_key(&recipe, "bookworm").unwrap();
        // What a killed build leaves.
        let stale = cache.join(format!("{hash}.build-999999"));
        fs::create_dir_all(stale.join("rootfs/etc")).unwrap();
        let mirror = || Ok("http://mirror.example/debian".to_string());
        let imgs: Vec<Image> = std::thread::scope(|s| {
            let a = s.spawn(|| ensure_in(&cache, &recipe, "bookworm", &mirror, &|_| {}, false));
            let b = s.spawn(|| ensure_in(&cache, &recipe, "bookworm", &mirror, &|_| {}, false));
            vec![a.join().unwrap().unwrap(), b.join().unwrap().unwrap()]
        });
        assert_eq!(fs::read_to_string(&count).unwrap(), "build\n");
        assert_eq!(imgs.iter().filter(|i| i.built).count(), 1);
        assert_eq!(imgs[0].base, cache.join(&hash).join("base.img"));
        assert!(!stale.exists());
        let names: Vec<String> = fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names
                .iter()
                .all(|n| *n == hash || *n == format!("{hash}.lock")),
            "{names:?}"
        );
        // A failed build leaves no image behind.
        fs::write(recipe.join("build-rootfs.sh"), "echo broken; exit 3\n").unwrap();
        let err = ensure_in(&cache, &recipe, "bookworm", &mirror, &|_| {}, true).unwrap_err();
        assert!(err.contains("broken"), "{err}");
        let hash2 = flavour_key(&recipe, "bookworm").unwrap();
        assert!(!cache.join(&hash2).exists());
    }

    #[test]
    fn vfat_seed_holds_its_files() {
        for tool in ["mkfs.vfat", "mcopy", "mdir", "blkid"] {
            if which::which(tool).is_err() {
                eprintln!("SKIP vfat_seed_holds_its_files: {tool} is missing");
                return;
            }
        }
        let d = tempfile::tempdir().unwrap();
        let img = d.path().join("seed.img");
        let big = vec![7u8; 3 << 20];
        make_vfat(
            &img,
            "cidata",
            &[("user-data", b"#cloud-config\n"), ("hostfix.deb", &big)],
        )
        .unwrap();
        let out = Command::new("mdir")
            .arg("-i")
            .arg(&img)
            .arg("-b")
            .arg("::")
            .output()
            .unwrap();
        let listing = String::from_utf8_lossy(&out.stdout);
        assert!(listing.contains("user-data"), "{listing}");
        assert!(listing.contains("hostfix.deb"), "{listing}");
        let out = Command::new("mtype")
            .arg("-i")
            .arg(&img)
            .arg("::user-data")
            .output()
            .unwrap();
        assert_eq!(out.stdout, b"#cloud-config\n");
        let label = Command::new("blkid")
            .args(["-o", "value", "-s", "LABEL"])
            .arg(&img)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&label.stdout).trim(), "cidata");
    }

    #[test]
    fn each_flavour_has_its_own_key_and_only_its_files_count() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::create_dir_all(r.join("rootfs/etc")).unwrap();
        fs::create_dir_all(r.join("flavours/bookworm-sysv/rootfs")).unwrap();
        fs::write(r.join("build-rootfs.sh"), "build").unwrap();
        fs::write(r.join("rootfs/etc/hostname"), "vm").unwrap();
        for f in Flavour::ALL {
            fs::write(r.join(format!("flavours/{f}.sh")), f.name()).unwrap();
        }
        let keys = |r: &Path| -> Vec<String> {
            Flavour::ALL
                .iter()
                .map(|f| flavour_key(r, f.name()).unwrap())
                .collect()
        };
        let k1 = keys(r);
        for (f, k) in Flavour::ALL.iter().zip(&k1) {
            assert!(k.starts_with(&format!("{f}-")), "{k}");
        }
        let mut uniq = k1.clone();
        uniq.dedup();
        assert_eq!(uniq.len(), 4, "{k1:?}");
        // A file of the sysv flavour changes its key only ("bookworm" is a prefix of
        // "bookworm-sysv": still only that flavour's).
        fs::write(r.join("flavours/bookworm-sysv/rootfs/x"), "1").unwrap();
        let k2 = keys(r);
        let changed: Vec<bool> = k1.iter().zip(&k2).map(|(a, b)| a != b).collect();
        assert_eq!(changed, vec![false, false, true, false]);
        // trixie.sh changes trixie's only; a common file changes them all.
        fs::write(r.join("flavours/trixie.sh"), "trixie 2").unwrap();
        let k3 = keys(r);
        let changed: Vec<bool> = k2.iter().zip(&k3).map(|(a, b)| a != b).collect();
        assert_eq!(changed, vec![false, true, false, false]);
        fs::write(r.join("rootfs/etc/hostname"), "vm2").unwrap();
        assert!(keys(r).iter().zip(&k3).all(|(a, b)| a != b));
        assert!(flavour_files(Path::new("flavours/trixie.sh"), "trixie"));
        assert!(!flavour_files(
            Path::new("flavours/trixie-podman.sh"),
            "trixie"
        ));
        assert!(!flavour_files(
            Path::new("flavours/bookworm-sysv/rootfs/x"),
            "bookworm"
        ));
        assert!(flavour_files(Path::new("rootfs/etc/fstab"), "trixie"));
    }

    #[test]
    fn the_recipe_has_every_flavour() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vm/image");
        for f in Flavour::ALL {
            let text = fs::read_to_string(dir.join(format!("flavours/{f}.sh"))).unwrap();
            assert!(text.contains(&format!("suite={}\n", f.codename())), "{f}");
            let init = if f.systemd() { "systemd" } else { "sysv" };
            assert!(text.contains(&format!("init={init}\n")), "{f}");
            let packages: Vec<&str> = text
                .lines()
                .find_map(|l| l.strip_prefix("packages="))
                .unwrap_or_default()
                .trim_matches('"')
                .split_whitespace()
                .collect();
            for engine in ["docker.io", "podman"] {
                let want = f.engine().is_some_and(|e| engine.starts_with(e));
                assert_eq!(packages.contains(&engine), want, "{f}: {engine}");
            }
        }
    }

    #[test]
    fn recipe_hash_notices_edits_and_exec_bits() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        fs::create_dir(d.path().join("sub")).unwrap();
        fs::write(d.path().join("sub/a"), "one").unwrap();
        let h1 = recipe_hash(d.path()).unwrap();
        assert_eq!(h1, recipe_hash(d.path()).unwrap());
        fs::set_permissions(d.path().join("sub/a"), fs::Permissions::from_mode(0o755)).unwrap();
        let h2 = recipe_hash(d.path()).unwrap();
        assert_ne!(h1, h2);
        fs::write(d.path().join("sub/a"), "two").unwrap();
        assert_ne!(h2, recipe_hash(d.path()).unwrap());
    }
}
