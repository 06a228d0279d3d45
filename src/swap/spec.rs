//! What `swap ensure` is asked for: the typed spec, its validation, and the automatic
//! size (cloud-init's `size: auto`, capped by a maximum and a share of free disk).

use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;

use crate::error::InputError;
use crate::risk::Risk;
use crate::size::{ByteSize, Threshold};

/// The swap file's size. In a config: `"auto"`, a size (`"2G"`), or bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum SwapSize {
    /// Exactly this many bytes (rounded down to whole pages).
    Bytes(u64),
    /// Sized from RAM as cloud-init's `size: auto` does, capped by
    /// [`SwapSpec::auto_max`] and by [`SwapSpec::auto_disk_share`] of the free disk.
    Auto,
}

impl FromStr for SwapSize {
    type Err = InputError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().eq_ignore_ascii_case("auto") {
            return Ok(SwapSize::Auto);
        }
        ByteSize::parse(s)
            .map(|b| SwapSize::Bytes(b.0))
            .map_err(|e| InputError {
                expected: format!("auto or {}", e.expected),
                ..e
            })
    }
}

impl<'de> serde::Deserialize<'de> for SwapSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Text(String),
            Bytes(u64),
            Tagged { bytes: u64 },
        }
        match Wire::deserialize(d)? {
            Wire::Text(s) => s.parse().map_err(serde::de::Error::custom),
            Wire::Bytes(b) | Wire::Tagged { bytes: b } => Ok(SwapSize::Bytes(b)),
        }
    }
}

impl fmt::Display for SwapSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SwapSize::Bytes(b) => write!(f, "{}", ByteSize(*b)),
            SwapSize::Auto => f.write_str("auto"),
        }
    }
}

/// How the swap file is activated at boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Persist {
    /// A line in `/etc/fstab` (with `nofail`).
    #[default]
    Fstab,
    /// A systemd `.swap` unit in `/etc/systemd/system`, enabled for `swap.target`.
    Systemd,
    /// Not persisted: active until the next boot only. Existing persistence is left alone.
    None,
}

impl Persist {
    /// The name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Persist::Fstab => "fstab",
            Persist::Systemd => "systemd",
            Persist::None => "none",
        }
    }
}

impl FromStr for Persist {
    type Err = InputError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "fstab" => Ok(Persist::Fstab),
            "systemd" => Ok(Persist::Systemd),
            "none" => Ok(Persist::None),
            _ => Err(InputError::new(
                "persistence",
                s,
                "unknown backend",
                "fstab, systemd or none",
            )),
        }
    }
}

/// The desired swap file: [`SwapSpec::new`] with a size, then the fields.
///
/// Read from a config (`serde`), every field is optional (`size` defaults to `auto`),
/// sizes and durations as the CLI writes them:
/// `{"size": "2G", "persist": "systemd", "swappiness": 10, "lock_wait": "1m"}`.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(default = "SwapSpec::auto", deny_unknown_fields)]
#[non_exhaustive]
pub struct SwapSpec {
    /// Where (a host path, absolute). Default `/swapfile`.
    pub path: PathBuf,
    /// How big. Default in a config: `auto`.
    pub size: SwapSize,
    /// How it comes back after a reboot. Default fstab.
    pub persist: Persist,
    /// The swap priority (0..=32767). Default `None`: the kernel chooses (and an
    /// existing area's priority is left alone).
    pub priority: Option<i32>,
    /// `vm.swappiness` to set now and at boot (0..=200). Default `None`: left alone.
    pub swappiness: Option<u32>,
    /// The label written into a new swap header (at most 16 bytes). Default none.
    pub label: Option<String>,
    /// Free disk that must remain after the file is created: the largest of these.
    /// Default 10% and 1 GiB; empty: no guard.
    pub keep_free: Vec<Threshold>,
    /// The largest size `auto` picks. Default 8 GiB.
    #[serde(deserialize_with = "crate::de::bytes")]
    pub auto_max: u64,
    /// The largest share of free disk (percent) `auto` picks. Default 25.
    pub auto_disk_share: f64,
    /// Memory that must remain available on top of the swap moved back into RAM before
    /// any `swapoff`. Default 256 MiB.
    #[serde(deserialize_with = "crate::de::bytes")]
    pub memory_margin: u64,
    /// How long to wait for another hostfix run's lock (at most a day). Default 5
    /// minutes.
    #[serde(skip_serializing, deserialize_with = "crate::de::duration")]
    pub lock_wait: Duration,
}

/// The default swap file path.
pub const DEFAULT_PATH: &str = "/swapfile";
/// The smallest swap file hostfix makes.
pub const MIN_SIZE: u64 = ByteSize::MIB;

impl SwapSpec {
    /// The default swap file path, `/swapfile`.
    pub const DEFAULT_PATH: &'static str = DEFAULT_PATH;

    /// The risk cap `hostfix swap ensure` runs under unless `--max-risk` says otherwise:
    /// [`Risk::Additive`]. A missing file is created, enabled and persisted; resizing an
    /// active file swaps it off, which needs [`Risk::Disruptive`].
    pub fn default_cap(&self) -> Risk {
        Risk::Additive
    }

    /// The spec a config without a size asks for: [`SwapSize::Auto`], every default.
    fn auto() -> Self {
        Self::new(SwapSize::Auto)
    }

    /// A spec with this size and every default (`/swapfile`, fstab, keep 10% and 1 GiB of
    /// the disk free).
    pub fn new(size: SwapSize) -> Self {
        SwapSpec {
            path: PathBuf::from(DEFAULT_PATH),
            size,
            persist: Persist::Fstab,
            priority: None,
            swappiness: None,
            label: None,
            keep_free: default_keep_free(),
            auto_max: 8 * ByteSize::GIB,
            auto_disk_share: 25.0,
            memory_margin: 256 * ByteSize::MIB,
            lock_wait: Duration::from_secs(300),
        }
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`InputError`] naming the field and what it accepts.
    pub fn validate(&self) -> Result<(), InputError> {
        check_path(&self.path)?;
        if let SwapSize::Bytes(b) = self.size {
            if b < MIN_SIZE {
                return Err(InputError::new(
                    "size",
                    b.to_string(),
                    "too small for a useful swap file",
                    "at least 1M",
                ));
            }
        }
        if let Some(p) = self.priority {
            if !(0..=32767).contains(&p) {
                return Err(InputError::new(
                    "priority",
                    p.to_string(),
                    "out of range",
                    "0 to 32767",
                ));
            }
        }
        if let Some(s) = self.swappiness {
            if s > 200 {
                return Err(InputError::new(
                    "swappiness",
                    s.to_string(),
                    "out of range",
                    "0 to 200 (0 to 100 before Linux 5.8)",
                ));
            }
        }
        if let Some(l) = &self.label {
            super::header::check_label(l)?;
        }
        if !(self.auto_disk_share > 0.0 && self.auto_disk_share <= 100.0) {
            return Err(InputError::new(
                "auto disk share",
                self.auto_disk_share.to_string(),
                "out of range",
                "a percentage above 0 and at most 100",
            ));
        }
        crate::size::check_duration("--lock-wait", self.lock_wait, crate::size::MAX_WAIT)?;
        if self.auto_max < MIN_SIZE {
            return Err(InputError::new(
                "auto maximum",
                self.auto_max.to_string(),
                "too small",
                "at least 1M",
            ));
        }
        for t in &self.keep_free {
            if !t.is_valid() {
                return Err(InputError::new(
                    "keep-free threshold",
                    t.to_string(),
                    "not a finite share above 0% and at most 100%",
                    "a size such as 1G, or a percentage such as 10%",
                ));
            }
        }
        Ok(())
    }

    /// The path as the booted host sees it, as text.
    pub fn host_path_str(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }
}

/// The default disk guard: keep 10% and at least 1 GiB free.
pub fn default_keep_free() -> Vec<Threshold> {
    vec![Threshold::Percent(10.0), Threshold::Absolute(ByteSize::GIB)]
}

/// Checks a swap file path: absolute, no `..`, not a directory path, not `/`, UTF-8
/// without control characters, not ending in whitespace or a backslash.
///
/// # Errors
/// [`InputError`] naming the path.
pub fn check_path(path: &Path) -> Result<(), InputError> {
    let text = path.to_string_lossy();
    let bad = |why: &str| {
        InputError::new(
            "swap path",
            text.as_ref(),
            why,
            "an absolute path to a file, such as /swapfile or /var/swap/swapfile",
        )
    };
    if path.to_str().is_none() {
        return Err(bad("not valid UTF-8"));
    }
    if !path.is_absolute() {
        return Err(bad("not absolute"));
    }
    if text.ends_with('/') || path.file_name().is_none() {
        return Err(bad("names a directory"));
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(bad("has '..'"));
    }
    if text.chars().any(|c| c.is_control()) {
        return Err(bad("has control characters (newline, tab, ...)"));
    }
    if super::is_swapover_path(path) {
        return Err(bad(
            "is named like hostfix's temporary swap-over area (.NAME.hostfix-swapover), which \
             is never persisted",
        ));
    }
    // A unit file's `What=` loses trailing whitespace and joins the next line after a
    // trailing backslash: such a path (or its normal form, `/x /.` is `/x `) cannot be
    // written down for systemd.
    let bad_end = |s: &str| s.ends_with(|c: char| c.is_whitespace() || c == '\\');
    if bad_end(&text)
        || path
            .file_name()
            .is_some_and(|n| bad_end(&n.to_string_lossy()))
    {
        return Err(bad("ends with whitespace or a backslash"));
    }
    Ok(())
}

/// The lexical normal form of an absolute path: `.` and repeated slashes removed.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        if let Component::Normal(p) = c {
            out.push(p);
        }
    }
    out
}

/// How `auto` sized the file, with its reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AutoSize {
    /// The size chosen (bytes, whole MiB).
    pub bytes: u64,
    /// What RAM alone suggests.
    pub ram_based: u64,
    /// The cap from the disk share.
    pub disk_cap: u64,
    /// Which rule decided.
    pub reason: String,
}

/// What RAM suggests, as cloud-init's table: up to 1 GiB twice RAM, up to 2 GiB 2 GiB,
/// up to 4 GiB as much as RAM, up to 16 GiB 4 GiB, up to 64 GiB half of RAM, above that
/// the maximum.
pub fn ram_based_size(mem_total: u64, max: u64) -> u64 {
    const GIB: u64 = ByteSize::GIB;
    let s = if mem_total <= GIB {
        mem_total * 2
    } else if mem_total <= 2 * GIB {
        2 * GIB
    } else if mem_total <= 4 * GIB {
        mem_total
    } else if mem_total <= 16 * GIB {
        4 * GIB
    } else if mem_total <= 64 * GIB {
        mem_total / 2
    } else {
        max
    };
    s.min(max)
}

/// Sizes `auto` (pure): the RAM-based size, capped by `max` and by `share_pct` of the
/// disk space free for the file (`free_for_file`: free space plus what the file itself
/// already holds, so the size does not shrink because the file exists), rounded down to
/// whole MiB.
pub fn auto_size(mem_total: u64, max: u64, share_pct: f64, free_for_file: u64) -> AutoSize {
    let ram_based = ram_based_size(mem_total, max);
    let disk_cap = (free_for_file as f64 * share_pct / 100.0) as u64;
    let (raw, reason) = if disk_cap < ram_based {
        (
            disk_cap,
            format!(
                "{share_pct}% of {} free disk (RAM {} suggests {})",
                ByteSize(free_for_file),
                ByteSize(mem_total),
                ByteSize(ram_based)
            ),
        )
    } else {
        (
            ram_based,
            format!(
                "RAM {} suggests {}{}",
                ByteSize(mem_total),
                ByteSize(ram_based),
                if ram_based == max {
                    " (the maximum)"
                } else {
                    ""
                }
            ),
        )
    };
    AutoSize {
        bytes: raw / ByteSize::MIB * ByteSize::MIB,
        ram_based,
        disk_cap,
        reason,
    }
}

/// Whether an existing swap file of `actual` bytes is close enough to an `auto` size:
/// within a quarter of it, so a kernel update that moves `MemTotal` a little, or a disk
/// that fills a little, does not resize the swap on every boot.
pub fn auto_size_accepts(actual: u64, auto: u64) -> bool {
    let lo = auto - auto / 4;
    let hi = auto + auto / 4;
    (lo..=hi).contains(&actual)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = ByteSize::GIB;
    const MIB: u64 = ByteSize::MIB;

    #[test]
    fn swap_over_names_are_never_a_swap_path() {
        // Persisting hostfix's temporary area is what an earlier doctor advised by mistake.
        let e = check_path(Path::new("/.swapfile.hostfix-swapover")).unwrap_err();
        assert!(e.to_string().contains("swap-over"), "{e}");
        assert!(check_path(Path::new("/var/.swap.hostfix-swapover")).is_err());
        assert!(check_path(Path::new("/swapfile")).is_ok());
        assert!(check_path(Path::new("/var/hostfix-swapover")).is_ok());
    }

    #[test]
    fn sizes_parse() {
        assert_eq!("auto".parse::<SwapSize>().unwrap(), SwapSize::Auto);
        assert_eq!("AUTO".parse::<SwapSize>().unwrap(), SwapSize::Auto);
        assert_eq!("2G".parse::<SwapSize>().unwrap(), SwapSize::Bytes(2 * GIB));
        let e = "2X".parse::<SwapSize>().unwrap_err();
        assert!(e.to_string().contains("auto or"), "{e}");
        assert_eq!("systemd".parse::<Persist>().unwrap(), Persist::Systemd);
        assert!("crontab".parse::<Persist>().is_err());
    }

    #[test]
    fn validation() {
        let mut s = SwapSpec::new(SwapSize::Bytes(64 * MIB));
        s.validate().unwrap();
        for bad in ["swapfile", "/", "/var/", "/a/../b", "/a\nb"] {
            s.path = PathBuf::from(bad);
            assert!(s.validate().is_err(), "{bad}");
        }
        s.path = PathBuf::from("/var/swap file");
        s.validate().unwrap();
        s.priority = Some(40000);
        assert!(s.validate().is_err());
        s.priority = Some(10);
        s.swappiness = Some(201);
        assert!(s.validate().is_err());
        s.swappiness = Some(10);
        s.size = SwapSize::Bytes(1000);
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("at least 1M")
        );
        s.size = SwapSize::Auto;
        s.label = Some("x".repeat(17));
        assert!(s.validate().is_err());
    }

    #[test]
    fn auto_follows_cloud_init() {
        let max = 8 * GIB;
        assert_eq!(ram_based_size(GIB - 10 * MIB, max), 2 * (GIB - 10 * MIB));
        assert_eq!(ram_based_size(1536 * MIB, max), 2 * GIB);
        assert_eq!(ram_based_size(3 * GIB, max), 3 * GIB);
        assert_eq!(ram_based_size(8 * GIB, max), 4 * GIB);
        assert_eq!(ram_based_size(32 * GIB, max), 8 * GIB);
        assert_eq!(ram_based_size(128 * GIB, max), 8 * GIB);
        assert_eq!(ram_based_size(128 * GIB, 2 * GIB), 2 * GIB);
        // The incident host: 1 GiB of RAM (less what the kernel keeps), a 30 GiB disk.
        let a = auto_size(1_001_520 * 1024, max, 25.0, 30 * GIB);
        assert_eq!(a.bytes, 1956 * MIB);
        assert!(a.reason.starts_with("RAM"), "{}", a.reason);
        // A small disk caps it.
        let a = auto_size(4 * GIB, max, 25.0, 2 * GIB);
        assert_eq!(a.bytes, 512 * MIB);
        assert!(a.reason.contains("25% of 2 GiB free disk"), "{}", a.reason);
    }

    #[test]
    fn auto_tolerance() {
        assert!(auto_size_accepts(2 * GIB, 2 * GIB));
        assert!(auto_size_accepts(2 * GIB - 100 * MIB, 2 * GIB));
        assert!(!auto_size_accepts(GIB, 2 * GIB));
        assert!(!auto_size_accepts(3 * GIB, 2 * GIB));
    }

    #[test]
    fn normal_form() {
        assert_eq!(
            normalize(Path::new("//var/./swap//f")),
            PathBuf::from("/var/swap/f")
        );
    }
}
