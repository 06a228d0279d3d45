//! The module-arguments file: opened through its directory without following a link or
//! blocking, trusted only when its owner, its directory and Ansible's own keys say it is
//! Ansible's (see the module documentation of [`super`]).

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{OFlag, open, openat};
use nix::sys::stat::{Mode, SFlag};
use serde_json::{Map, Value};

/// The largest module-arguments file read (Ansible's are a few hundred bytes).
const MAX_ARGS_FILE: u64 = 1024 * 1024;

/// The keys Ansible adds to every module's arguments (`_update_module_args`, in every
/// release since 2.9), each with the JSON type it has.
pub const ANSIBLE_KEYS: [(&str, Kind); 10] = [
    ("_ansible_module_name", Kind::String),
    ("_ansible_version", Kind::String),
    ("_ansible_check_mode", Kind::Bool),
    ("_ansible_no_log", Kind::Bool),
    ("_ansible_debug", Kind::Bool),
    ("_ansible_diff", Kind::Bool),
    ("_ansible_verbosity", Kind::Count),
    ("_ansible_keep_remote_files", Kind::Bool),
    ("_ansible_remote_tmp", Kind::String),
    ("_ansible_tmpdir", Kind::StringOrNull),
];

/// The JSON type of an Ansible key.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A non-empty string.
    String,
    /// A string or null.
    StringOrNull,
    /// true or false.
    Bool,
    /// A whole number, 0 or more.
    Count,
}

impl Kind {
    fn accepts(self, v: &Value) -> bool {
        match self {
            Kind::String => v.as_str().is_some_and(|s| !s.is_empty()),
            Kind::StringOrNull => v.is_null() || v.is_string(),
            Kind::Bool => v.is_boolean(),
            Kind::Count => v.is_u64(),
        }
    }
}

/// Reads and checks a module-arguments file (see the module documentation).
///
/// # Errors
/// A message naming the file, what was found and what is accepted.
pub fn load(path: &Path) -> Result<Map<String, Value>, String> {
    let shown = path.display();
    let refuse = |why: String| {
        format!(
            "{shown} is not an Ansible module-arguments file hostfix trusts: {why}; \
             hostfix takes one argument only as the args file Ansible writes (a JSON \
             object with Ansible's _ansible_* keys, a regular file owned by this user in a \
             directory no one else can write to), otherwise a command: hostfix --help"
        )
    };
    let trusted = trusted_uids();
    let file = open_args_file(path, &trusted).map_err(refuse)?;
    let mut text = Vec::new();
    file.take(MAX_ARGS_FILE + 1)
        .read_to_end(&mut text)
        .map_err(|e| refuse(format!("reading it: {e}")))?;
    if text.len() as u64 > MAX_ARGS_FILE {
        return Err(refuse(format!("larger than {MAX_ARGS_FILE} bytes")));
    }
    let m = match serde_json::from_slice::<Value>(&text) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err(refuse("not a JSON object".into())),
        Err(e) => return Err(refuse(format!("not JSON ({e})"))),
    };
    check_ansible_keys(&m, path).map_err(refuse)?;
    Ok(m)
}

/// The users whose files may hold module arguments: the effective user, and the owner of
/// the running binary (who already decides what runs).
fn trusted_uids() -> Vec<u32> {
    let mut uids = vec![nix::unistd::geteuid().as_raw()];
    match std::fs::metadata("/proc/self/exe") {
        Ok(m) => uids.push(m.uid()),
        Err(e) => log::debug!("ansible: cannot stat /proc/self/exe: {e}"),
    }
    uids
}

/// Opens the args file through its directory, checking both by `fstat`.
fn open_args_file(path: &Path, trusted: &[u32]) -> Result<File, String> {
    let (dir, name) = match (path.parent(), path.file_name()) {
        (Some(d), Some(n)) if !d.as_os_str().is_empty() => (d.to_path_buf(), n),
        (_, Some(n)) => (PathBuf::from("."), n),
        _ => return Err("it names no file".into()),
    };
    let dflags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let dirfd = open(&dir, dflags, Mode::empty())
        .map_err(|e| format!("opening its directory {}: {e}", dir.display()))?;
    let d = nix::sys::stat::fstat(&dirfd)
        .map_err(|e| format!("inspecting its directory {}: {e}", dir.display()))?;
    let sticky = d.st_mode & libc::S_ISVTX != 0;
    if !(d.st_uid == 0 || trusted.contains(&d.st_uid)) || (d.st_mode & 0o022 != 0 && !sticky) {
        return Err(format!(
            "its directory {} is owned by uid {} with mode {:04o}: others could have put \
             the file there",
            dir.display(),
            d.st_uid,
            d.st_mode & 0o7777
        ));
    }
    // Look before opening: opening a device can have side effects (a tape rewinds).
    let seen = nix::sys::stat::fstatat(&dirfd, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(|e| format!("inspecting it: {e}"))?;
    let kind = SFlag::from_bits_truncate(seen.st_mode & libc::S_IFMT);
    if kind != SFlag::S_IFREG {
        return Err(format!("it is not a regular file ({})", kind_name(kind)));
    }
    let fflags = OFlag::O_RDONLY
        | OFlag::O_NOFOLLOW
        | OFlag::O_NONBLOCK
        | OFlag::O_NOCTTY
        | OFlag::O_CLOEXEC;
    let fd = openat(&dirfd, name, fflags, Mode::empty()).map_err(|e| match e {
        nix::errno::Errno::ELOOP => "it is a symbolic link".to_string(),
        e => format!("opening it: {e}"),
    })?;
    let f = nix::sys::stat::fstat(&fd).map_err(|e| format!("inspecting it: {e}"))?;
    let kind = SFlag::from_bits_truncate(f.st_mode & libc::S_IFMT);
    if kind != SFlag::S_IFREG {
        return Err(format!("it is not a regular file ({})", kind_name(kind)));
    }
    if !trusted.contains(&f.st_uid) {
        return Err(format!(
            "it is owned by uid {}, not by this user (uid {}) or the owner of this binary",
            f.st_uid, trusted[0]
        ));
    }
    if (f.st_dev, f.st_ino) != (seen.st_dev, seen.st_ino) {
        return Err("it was replaced while hostfix opened it".into());
    }
    // Kernel files (/proc, /sys) report size 0, and Ansible never writes an empty file:
    // nothing is read from them (some, like /proc/kmsg, change by being read).
    if f.st_size == 0 {
        return Err("it is empty".into());
    }
    if f.st_mode & 0o022 != 0 {
        return Err(format!(
            "others can write to it (mode {:04o})",
            f.st_mode & 0o7777
        ));
    }
    Ok(File::from(fd))
}

fn kind_name(k: SFlag) -> &'static str {
    match k {
        SFlag::S_IFDIR => "a directory",
        SFlag::S_IFIFO => "a FIFO",
        SFlag::S_IFSOCK => "a socket",
        SFlag::S_IFCHR => "a character device",
        SFlag::S_IFBLK => "a block device",
        SFlag::S_IFLNK => "a symbolic link",
        _ => "an unknown kind of file",
    }
}

/// Checks the keys Ansible adds, and that the file is in `_ansible_tmpdir` when that is
/// set.
fn check_ansible_keys(m: &Map<String, Value>, path: &Path) -> Result<(), String> {
    for (key, kind) in ANSIBLE_KEYS {
        match m.get(key) {
            Some(v) if kind.accepts(v) => {}
            Some(v) => return Err(format!("its {key} is {v}, not what Ansible sends")),
            None => return Err(format!("it lacks {key}, which Ansible always sends")),
        }
    }
    if let Some(tmpdir) = m.get("_ansible_tmpdir").and_then(Value::as_str) {
        let here = absolute(path);
        let parent = here.parent().map(lexical);
        if parent.as_deref() != Some(lexical(Path::new(tmpdir)).as_path()) {
            return Err(format!(
                "it is not in its _ansible_tmpdir {tmpdir:?}, where Ansible writes it"
            ));
        }
    }
    Ok(())
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        return p.to_path_buf();
    }
    std::env::current_dir().map_or_else(|_| p.to_path_buf(), |cwd| cwd.join(p))
}

/// `.` and `..` resolved without touching the filesystem (a relative path, or one
/// holding a NUL byte, stays as it is).
fn lexical(p: &Path) -> PathBuf {
    use std::path::Component;
    if !p.is_absolute() || p.as_os_str().as_encoded_bytes().contains(&0) {
        return p.to_path_buf();
    }
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
        }
    }
    out
}
