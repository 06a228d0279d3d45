//! `hostfix check`: thresholds on memory, disk space and inodes, checked against the
//! readings of the parent module.
//!
//! Input is checked before anything is read: at least one threshold, percentages finite
//! and in (0, 100], absolute paths (normalised), and no path on a kernel pseudo
//! filesystem, whose sizes say nothing about storage.

use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

use super::{Disk, Memory, read_disk, read_memory};
use crate::error::{Error, InputError, Result};
use crate::host::Host;
use crate::plan::{Policy, Report, Runner};
use crate::size::{ByteSize, Threshold};

/// What `hostfix check` is asked to verify: [`CheckSpec::default`] (nothing, which
/// [`CheckSpec::validate`] refuses), then the thresholds.
///
/// Read from a config (`serde`), with the CLI's syntax:
/// `{"mem_available": ["10%"], "disk_free": ["/=2G", "/var=10%"], "inodes_free": ["/=5%"]}`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CheckSpec {
    /// Lower bounds on available memory (absolute, or percent of the total). Default
    /// none.
    pub mem_available: Vec<Threshold>,
    /// Lower bounds on free bytes, per absolute path (`PATH=SIZE|PCT` in a config).
    /// Default none.
    #[serde(deserialize_with = "disk_thresholds")]
    pub disk_free: Vec<(PathBuf, Threshold)>,
    /// Lower bounds on free inodes, per absolute path (`PATH=N|PCT` in a config).
    /// Default none.
    #[serde(deserialize_with = "inode_thresholds")]
    pub inodes_free: Vec<(PathBuf, Threshold)>,
}

impl CheckSpec {
    /// The risk cap `hostfix check` runs under: [`Risk::ReadOnly`](crate::Risk::ReadOnly)
    /// (it only reads).
    pub fn default_cap(&self) -> crate::risk::Risk {
        crate::risk::Risk::ReadOnly
    }

    /// Parses a `PATH=THRESHOLD` argument of `--disk-free` (size) or `--inodes-free`
    /// (count, when `count` is true).
    ///
    /// # Errors
    /// [`InputError`] naming the argument when there is no `=`, no path, or a bad
    /// threshold.
    pub fn parse_path_threshold(
        text: &str,
        count: bool,
    ) -> std::result::Result<(PathBuf, Threshold), InputError> {
        let (path, t) = text.rsplit_once('=').ok_or_else(|| {
            InputError::new(
                "path threshold",
                text,
                "no '='",
                if count {
                    "PATH=N or PATH=PCT, such as /=10000 or /var=5%"
                } else {
                    "PATH=SIZE or PATH=PCT, such as /=2G or /var=10%"
                },
            )
        })?;
        if path.is_empty() {
            return Err(InputError::new(
                "path threshold",
                text,
                "no path before '='",
                "PATH=THRESHOLD, such as /=2G",
            ));
        }
        let threshold = if count {
            Threshold::parse_count(t)
        } else {
            Threshold::parse_size(t)
        }
        .map_err(|mut e| {
            e.input = text.to_string();
            e.reason = format!("{} in {t:?}", e.reason);
            e
        })?;
        Ok((PathBuf::from(path), threshold))
    }
}

impl CheckSpec {
    /// Checks the spec as [`check`] does before reading anything: at least one
    /// threshold, every threshold valid (an amount above 0, a finite percentage above 0%
    /// and at most 100%), every path absolute.
    ///
    /// # Errors
    /// [`InputError`] naming the flag and what it accepts.
    pub fn validate(&self) -> std::result::Result<(), InputError> {
        self.normalized().map(drop)
    }

    /// The spec with every path normalised (`.` and `..` resolved lexically, without
    /// touching the filesystem), after checking it can be checked: at least one
    /// threshold, every percentage finite and in (0, 100], every path absolute.
    ///
    /// # Errors
    /// [`InputError`] naming the flag and what it accepts.
    pub fn normalized(&self) -> std::result::Result<CheckSpec, InputError> {
        if self.mem_available.is_empty() && self.disk_free.is_empty() && self.inodes_free.is_empty()
        {
            return Err(InputError::new(
                "check",
                "",
                "no threshold given: a check of nothing would always hold",
                "at least one of --mem-available SIZE|PCT, --disk-free PATH=SIZE|PCT, \
                 --inodes-free PATH=N|PCT",
            ));
        }
        let threshold = |what: &str, t: &Threshold| {
            if t.is_valid() {
                Ok(*t)
            } else {
                Err(InputError::new(
                    what,
                    t.to_string(),
                    "not a finite percentage above 0% and at most 100%",
                    "an amount, or a percentage such as 10%",
                ))
            }
        };
        let paths = |what: &str, list: &[(PathBuf, Threshold)]| {
            list.iter()
                .map(|(p, t)| Ok((crate::state::normalize(what, p)?, threshold(what, t)?)))
                .collect::<std::result::Result<Vec<_>, InputError>>()
        };
        Ok(CheckSpec {
            mem_available: self
                .mem_available
                .iter()
                .map(|t| threshold("--mem-available", t))
                .collect::<std::result::Result<_, _>>()?,
            disk_free: paths("--disk-free", &self.disk_free)?,
            inodes_free: paths("--inodes-free", &self.inodes_free)?,
        })
    }
}

/// The name of a kernel pseudo filesystem for a `statfs` `f_type` magic, `None` for a
/// filesystem that stores files.
///
/// Pseudo filesystems (`/proc`, `/sys`, cgroups, `/dev/pts`, debugfs, ...) report sizes
/// and inode counts that say nothing about storage, so a threshold on them would pass or
/// fail for no reason: `check` refuses them as bad input. tmpfs is storage (in memory)
/// and stays allowed; so does devtmpfs (`/dev`), which is a tmpfs with the same magic and
/// the same real space and inode accounting.
pub fn pseudo_filesystem(magic: u64) -> Option<&'static str> {
    Some(match magic {
        0x9fa0 => "proc",
        0x6265_6572 => "sysfs",
        0x0027_e0eb => "cgroup",
        0x6367_7270 => "cgroup2",
        0x1cd1 => "devpts",
        0x6462_6720 => "debugfs",
        0x7472_6163 => "tracefs",
        0x7363_6673 => "securityfs",
        0x6165_676c => "pstore",
        0xcafe_4a11 => "bpf",
        0x6265_6570 => "configfs",
        0xde5e_81e4 => "efivarfs",
        0xf97c_ff8c => "selinuxfs",
        0x4341_5d53 => "smackfs",
        0x5a3c_69f0 => "apparmorfs",
        0x1980_0202 => "mqueue",
        0x4249_4e4d => "binfmt_misc",
        0x6e73_6673 => "nsfs",
        0x5049_5045 => "pipefs",
        0x534f_434b => "sockfs",
        0x0187 => "autofs",
        0x6573_5543 => "fusectl",
        0x6759_6969 => "rpc_pipefs",
        0x0765_5821 => "resctrl",
        0xabba_1974 => "xenfs",
        _ => return None,
    })
}

/// Refuses a path on a pseudo filesystem for the threshold flag `what`.
fn refuse_pseudo(host: &Host, what: &str, path: &Path) -> Result<()> {
    let real = host.path(path);
    let st = match nix::sys::statfs::statfs(&real) {
        Ok(st) => st,
        // A missing path is reported by `read_disk`, with the words for it.
        Err(_) => return Ok(()),
    };
    #[allow(clippy::unnecessary_cast)]
    let magic = st.filesystem_type().0 as u64;
    match pseudo_filesystem(magic) {
        None => Ok(()),
        Some(fs) => Err(InputError::new(
            what,
            path.display().to_string(),
            format!(
                "it is on {fs}, a kernel pseudo filesystem: its sizes and inode counts are \
                 not storage"
            ),
            "a path on a filesystem that stores files (ext4, xfs, btrfs, tmpfs, ...)",
        )
        .into()),
    }
}

/// One threshold compared with its reading.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CheckItem {
    /// `mem-available`, `disk-free` or `inodes-free`.
    pub check: String,
    /// The path, for disk checks.
    pub path: Option<PathBuf>,
    /// The threshold as given.
    pub threshold: String,
    /// The amount it asks for (bytes or inodes).
    pub required: u64,
    /// The amount there is.
    pub actual: u64,
    /// The total it is a share of.
    pub total: u64,
    /// Whether it holds.
    pub holds: bool,
}

impl CheckItem {
    /// What it checks, with its path: `mem-available`, `disk-free /var`.
    pub(crate) fn subject(&self) -> String {
        match &self.path {
            Some(p) => format!("{} {}", self.check, p.display()),
            None => self.check.clone(),
        }
    }
}

/// The result of `hostfix check`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CheckResult {
    /// Every threshold with its reading.
    pub checks: Vec<CheckItem>,
    /// The memory reading, when a memory threshold was asked for.
    pub memory: Option<Memory>,
    /// The disk readings, one per path asked about.
    pub disks: Vec<Disk>,
}

/// Checks every threshold; the report's error is [`Error::Unmet`] when any does not hold.
///
/// Read-only ([`CheckSpec::default_cap`]): it never changes the host. Bad input (exit 2):
/// no threshold at all, a percentage that is not finite or not in (0, 100], a relative
/// path, a path on a kernel pseudo filesystem (`/proc`, `/sys`, cgroups, ...) or one that
/// does not exist. Paths are normalised first (`/var/../proc` is `/proc`).
///
/// # Example
///
/// ```
/// use hostfix::resources::{check, CheckSpec};
/// use hostfix::size::Threshold;
/// use hostfix::testing::FakeRoot;
/// use hostfix::{Outcome, Policy};
///
/// let root = FakeRoot::new();
/// root.meminfo(4 << 30, 1 << 30); // 4 GiB of RAM, 1 GiB available
/// let (host, _) = root.host();
///
/// let mut spec = CheckSpec::default();
/// spec.mem_available.push(Threshold::parse_size("10%")?);
/// spec.disk_free.push(CheckSpec::parse_path_threshold("/=1M", false)?);
/// let report = check(&host, &spec, &Policy::new(spec.default_cap()));
/// assert!(report.is_ok(), "{report}");
/// assert!(report.result.checks.iter().all(|c| c.holds));
///
/// spec.mem_available.push(Threshold::parse_size("2G")?);
/// let report = check(&host, &spec, &Policy::new(spec.default_cap()));
/// assert_eq!(report.outcome(), Outcome::Failed);
/// assert_eq!(report.exit_code(), 1);
/// # Ok::<(), hostfix::Error>(())
/// ```
pub fn check(host: &Host, spec: &CheckSpec, policy: &Policy) -> Report<CheckResult> {
    let mut run = Runner::new("check", host, policy);
    let mut out = CheckResult::default();
    match check_inner(host, spec, &mut run, &mut out) {
        Ok(()) => run.finish_with(out, None),
        Err(e) => run.finish_with(out, Some(e)),
    }
}

fn check_inner(
    host: &Host,
    spec: &CheckSpec,
    run: &mut Runner<'_>,
    out: &mut CheckResult,
) -> Result<()> {
    let spec = &spec.normalized()?;
    for (p, _) in &spec.disk_free {
        refuse_pseudo(host, "--disk-free", p)?;
    }
    for (p, _) in &spec.inodes_free {
        refuse_pseudo(host, "--inodes-free", p)?;
    }
    if !spec.mem_available.is_empty() {
        check_memory(host, spec, run, out)?;
    }
    let mut disk_of = |path: &Path, run: &mut Runner<'_>| -> Result<Disk> {
        if let Some(d) = out.disks.iter().find(|d| d.path == path) {
            return Ok(d.clone());
        }
        let d = read_disk(host, path)?;
        run.observe(
            format!("statvfs {}", path.display()),
            format!(
                "{} free of {}, {} inodes free of {}",
                ByteSize(d.free_bytes),
                ByteSize(d.total_bytes),
                d.inodes_free,
                d.inodes_total
            ),
        );
        out.disks.push(d.clone());
        Ok(d)
    };
    let mut items = Vec::new();
    for (p, t) in &spec.disk_free {
        let d = disk_of(p, run)?;
        items.push(item("disk-free", Some(p), t, d.free_bytes, d.total_bytes));
    }
    for (p, t) in &spec.inodes_free {
        let d = disk_of(p, run)?;
        let mut it = item("inodes-free", Some(p), t, d.inodes_free, d.inodes_total);
        if d.inodes_total == 0 {
            // btrfs and others allocate inodes dynamically: there is no limit to run into.
            it.holds = true;
        }
        items.push(it);
    }
    out.checks.extend(items);
    match failed_checks(out) {
        None => Ok(()),
        Some(failed) => Err(Error::Unmet(failed)),
    }
}

/// Reads memory and checks every `--mem-available` threshold.
fn check_memory(
    host: &Host,
    spec: &CheckSpec,
    run: &mut Runner<'_>,
    out: &mut CheckResult,
) -> Result<()> {
    let m = read_memory(host)?;
    run.observe(
        "read memory",
        format!(
            "available {} of {}{}",
            ByteSize(m.available),
            ByteSize(m.total),
            if m.cgroup.is_some() {
                " (cgroup limit)"
            } else {
                ""
            }
        ),
    );
    for t in &spec.mem_available {
        out.checks
            .push(item("mem-available", None, t, m.available, m.total));
    }
    out.memory = Some(m);
    Ok(())
}

/// The checks that do not hold, in words; `None` when every one holds.
fn failed_checks(out: &CheckResult) -> Option<String> {
    let failed: Vec<String> = out
        .checks
        .iter()
        .filter(|c| !c.holds)
        .map(|c| {
            format!(
                "{} is {}, below {}",
                c.subject(),
                show_amount(&c.check, c.actual),
                c.threshold
            )
        })
        .collect();
    (!failed.is_empty()).then(|| failed.join("; "))
}

/// An amount in the unit its check uses.
pub fn show_amount(check: &str, v: u64) -> String {
    if check == "inodes-free" {
        format!("{v} inodes")
    } else {
        ByteSize(v).to_string()
    }
}

fn item(check: &str, path: Option<&Path>, t: &Threshold, actual: u64, total: u64) -> CheckItem {
    let threshold = match t {
        Threshold::Absolute(v) => show_amount(check, *v),
        Threshold::Percent(p) => format!("{p}%"),
    };
    CheckItem {
        check: check.to_string(),
        path: path.map(Path::to_path_buf),
        threshold,
        required: t.required(total),
        actual,
        total,
        holds: t.holds(actual, total),
    }
}

/// `PATH=SIZE|PCT` (`/=2G`, `/var=10%`) for disk space, as `--disk-free` reads it.
pub(crate) fn disk_thresholds<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<(PathBuf, Threshold)>, D::Error> {
    path_thresholds(d, false)
}

/// `PATH=N|PCT` (`/=10000`, `/var=5%`) for inodes, as `--inodes-free` reads it.
pub(crate) fn inode_thresholds<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<(PathBuf, Threshold)>, D::Error> {
    path_thresholds(d, true)
}

fn path_thresholds<'de, D: Deserializer<'de>>(
    d: D,
    count: bool,
) -> Result<Vec<(PathBuf, Threshold)>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|t| CheckSpec::parse_path_threshold(t, count).map_err(de::Error::custom))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_thresholds() {
        let (p, t) = CheckSpec::parse_path_threshold("/var=10%", false).unwrap();
        assert_eq!(p, PathBuf::from("/var"));
        assert_eq!(t, Threshold::Percent(10.0));
        let (_, t) = CheckSpec::parse_path_threshold("/=5000", true).unwrap();
        assert_eq!(t, Threshold::Absolute(5000));
        for bad in ["/", "=1G", "/=bogus", "/=101%", "/=0%"] {
            let e = CheckSpec::parse_path_threshold(bad, false).unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
    }

    #[test]
    fn a_check_of_nothing_or_of_a_nan_is_bad_input() {
        let e = CheckSpec::default().normalized().unwrap_err();
        for flag in ["--mem-available", "--disk-free", "--inodes-free"] {
            assert!(e.to_string().contains(flag), "{e}");
        }
        for t in [f64::NAN, f64::INFINITY, 0.0, -3.0, 101.0] {
            let spec = CheckSpec {
                mem_available: vec![Threshold::Percent(t)],
                ..CheckSpec::default()
            };
            let e = spec.normalized().unwrap_err();
            assert_eq!(e.what, "--mem-available", "{t}");
        }
        let spec = CheckSpec {
            disk_free: vec![("var/lib".into(), Threshold::Absolute(1))],
            ..CheckSpec::default()
        };
        assert_eq!(spec.normalized().unwrap_err().what, "--disk-free");
        let spec = CheckSpec {
            inodes_free: vec![("/var/lib/../../proc/./".into(), Threshold::Absolute(1))],
            ..CheckSpec::default()
        };
        assert_eq!(
            spec.normalized().unwrap().inodes_free[0].0,
            PathBuf::from("/proc")
        );
    }

    #[test]
    fn pseudo_filesystems_by_magic() {
        // Magics from linux/magic.h.
        assert_eq!(pseudo_filesystem(0x9fa0), Some("proc"));
        assert_eq!(pseudo_filesystem(0x6265_6572), Some("sysfs"));
        assert_eq!(pseudo_filesystem(0x6367_7270), Some("cgroup2"));
        assert_eq!(pseudo_filesystem(0x1cd1), Some("devpts"));
        for storage in [0xEF53, 0x5846_5342, 0x9123_683E, 0x0102_1994, 0x794c_7630] {
            assert_eq!(pseudo_filesystem(storage), None, "{storage:#x}");
        }
    }
}
