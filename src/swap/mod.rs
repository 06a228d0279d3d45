//! Swap files: create, enable, persist, resize and remove, without ever losing data.
//!
//! [`ensure_swap_file`] observes the host, plans the steps least risky first (a pure
//! function of the observation) and takes them through the plan runner, so a dry run
//! walks the same path. The plan for a missing file: create it (`O_CREAT|O_EXCL|O_NOFOLLOW`, mode
//! 0600) → on btrfs set NOCOW on the empty file → allocate (`fallocate`, verified to leave
//! no holes; zeros in 4 MiB blocks otherwise) → fsync → write the swap header in Rust
//! (`blkid` and `swaplabel` read it) → `swapon` (verified in `/proc/swaps`) → persist
//! (an atomic fstab edit with `nofail`, or a systemd `.swap` unit) → swappiness.
//!
//! Every state converges: a missing file, an interrupted create (zeros), a wrong size, a
//! missing header, a world-readable file, an active but unpersisted file, a persisted but
//! inactive one, duplicate fstab lines. A converged host gives `changed: false`.
//!
//! Refusals (exit 3, nothing touched): a symlink, directory or device at the path; a file
//! holding data that is neither a swap area nor zeros (or a hibernation image); a
//! filesystem that cannot hold swap (tmpfs, overlay, NFS, ZFS, multi-device btrfs); the
//! disk guard (keep 10% and at least 1 GiB free by default); a container.
//!
//! Resizing an active file needs `--max-risk disruptive` and never leaves the host
//! without swap: a temporary area beside the file takes over (swapon), the file is
//! swapped off (only when `MemAvailable` covers its pages plus a margin), resized, swapped
//! on, and the temporary area retired. (The kernel refuses to rename an active swap file,
//! so the swap-over goes through the temporary area rather than a rename.)

mod apply;
mod climb;
pub(crate) mod diagnose;
pub(crate) mod fs;
pub(crate) mod fstab;
pub(crate) mod header;
pub(crate) mod observe;
pub(crate) mod planner;
pub(crate) mod proc_swaps;
pub(crate) mod record;
mod remove;
mod render;
pub(crate) mod spec;
pub(crate) mod unit;

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use serde::Serialize;

pub(crate) use diagnose::diagnose;
pub(crate) use observe::{Observation, observe};
pub(crate) use planner::{Desired, plan_ensure, resolve, root_refusal};
pub use proc_swaps::SwapEntry;
pub(crate) use proc_swaps::{parse_proc_swaps, unescape_octal};
pub use remove::{RemoveOptions, RemoveStatus, remove_swap_file};
pub use spec::{AutoSize, Persist, SwapSize, SwapSpec};

pub use crate::error::SwapError;
use crate::error::{Error, Result};
use crate::host::Host;
use crate::plan::{Policy, Report, Runner};
use crate::state::HostLock;
use apply::{Applier, Ctx};
use planner::PlanRefusal;

/// The likely cause of a `swapon` errno, in words.
pub(crate) fn swapon_cause(e: Errno) -> Option<&'static str> {
    Some(match e {
        Errno::EPERM => "not permitted (running in a container?)",
        Errno::EINVAL => "file has holes / filesystem cannot hold swap",
        Errno::EBUSY => "already active",
        Errno::ENOENT => "no such file",
        Errno::ENOMEM => "not enough memory for the swap map",
        Errno::EACCES => "permission denied (the filesystem is mounted noexec or read-only?)",
        _ => return None,
    })
}

/// The likely cause of a `swapoff` errno, in words.
pub(crate) fn swapoff_cause(e: Errno) -> Option<&'static str> {
    Some(match e {
        Errno::EPERM => "not permitted (running in a container?)",
        Errno::EINVAL => "not an active swap area",
        Errno::ENOMEM => "not enough memory to take the swapped-out pages back",
        _ => return None,
    })
}

/// The active swap areas (`/proc/swaps`).
///
/// # Errors
/// [`crate::Error::Io`] or [`crate::Error::Parse`].
pub fn active_swaps(host: &Host) -> Result<Vec<SwapEntry>> {
    parse_proc_swaps(&host.read("/proc/swaps")?)
}

/// A swap file's state, as `swap ensure` leaves it (or found it).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SwapStatus {
    /// The host path.
    pub path: PathBuf,
    /// The wanted size in bytes.
    pub size_bytes: u64,
    /// How `auto` decided, when asked.
    pub auto: Option<AutoSize>,
    /// The file's size, when it exists.
    pub file_bytes: Option<u64>,
    /// Whether `/proc/swaps` lists it.
    pub active: bool,
    /// The size the kernel reports for it (KiB in `/proc/swaps`, without the header page).
    pub kernel_size_bytes: Option<u64>,
    /// Swap in use on it.
    pub used_bytes: Option<u64>,
    /// Its priority, when active.
    pub priority: Option<i32>,
    /// The wanted persistence.
    pub persist: Persist,
    /// Where it is persisted (`fstab line 12`, `swapfile.swap`).
    pub persisted_in: Vec<String>,
    /// The header's UUID.
    pub uuid: Option<String>,
    /// The header's label.
    pub label: Option<String>,
    /// The filesystem holding it.
    pub filesystem: Option<String>,
    /// Owner and mode (`0600 0:0`).
    pub mode: Option<String>,
    /// `vm.swappiness`.
    pub swappiness: Option<u32>,
}

impl SwapStatus {
    fn from_observation(o: &Observation, d: Option<&Desired>, persist: Persist) -> Self {
        let f = o.target.file();
        let h = f.and_then(|f| f.content.header());
        let mut persisted_in: Vec<String> = o
            .fstab
            .lines
            .iter()
            .map(|l| format!("/etc/fstab line {}", l.number))
            .collect();
        if o.unit.content.is_some() {
            persisted_in.push(format!(
                "{}/{}{}",
                unit::UNIT_DIR,
                o.unit.name,
                if o.unit.enabled { "" } else { " (not enabled)" }
            ));
        }
        SwapStatus {
            path: o.path.clone(),
            size_bytes: d.map_or(0, |d| d.size),
            auto: d.and_then(|d| d.auto.clone()),
            file_bytes: f.map(|f| f.size),
            active: o.active.is_some(),
            kernel_size_bytes: o.active.as_ref().map(|e| e.size_bytes),
            used_bytes: o.active.as_ref().map(|e| e.used_bytes),
            priority: o.active.as_ref().map(|e| e.priority),
            persist,
            persisted_in,
            uuid: h.map(|h| h.uuid.clone()),
            label: h.map(|h| h.label.clone()).filter(|l| !l.is_empty()),
            filesystem: o.fs.as_ref().map(|f| f.kind.name().to_string()),
            mode: f.map(|f| format!("{:04o} {}:{}", f.mode, f.uid, f.gid)),
            swappiness: o.swappiness,
        }
    }
}

/// Makes the swap file exist with the wanted size, active and persisted (`hostfix swap
/// ensure`). The report's `changed` is false on a converged host.
///
/// Takes the host lock (waiting up to [`SwapSpec::lock_wait`]) unless this is a dry run.
/// The cap `hostfix swap ensure` uses is [`SwapSpec::default_cap`] (additive); resizing
/// an active file needs [`Risk::Disruptive`](crate::Risk::Disruptive).
///
/// The report's error is an [`InputError`](crate::error::InputError) for a bad spec
/// (exit 2), a [`Refusal`](crate::error::Refusal) for what is not hostfix's to touch, a
/// guard or the cap (exit 3), or the failure of a step (exit 1, with its errno).
///
/// # Example
///
/// On a fake host (the `testing` feature) whose recorder lists the file in the fake
/// `/proc/swaps` when it is swapped on, as the kernel would:
///
/// ```
/// use hostfix::size::Threshold;
/// use hostfix::swap::{ensure_swap_file, SwapSize, SwapSpec};
/// use hostfix::testing::FakeRoot;
/// use hostfix::{Policy, StepStatus};
///
/// let root = FakeRoot::for_swap();
/// let (host, rec) = root.host();
/// root.swap_table(&rec);
///
/// let mut spec = SwapSpec::new(SwapSize::Bytes(64 << 20));
/// spec.keep_free = vec![Threshold::Absolute(128 << 20)];
/// let policy = Policy::new(spec.default_cap()).state_dir("/state");
///
/// // A dry run: the plan, and nothing changed.
/// let plan = ensure_swap_file(&host, &spec, &policy.clone().dry_run(true));
/// assert!(plan.is_ok() && plan.changed);
/// assert!(plan.steps.iter().any(|s| s.status == StepStatus::Planned));
/// assert!(!root.join("/swapfile").exists());
///
/// // Applied: created, swapped on, persisted.
/// let report = ensure_swap_file(&host, &spec, &policy);
/// assert!(report.is_ok(), "{report}");
/// assert!(report.result.active);
/// assert!(root.read("/etc/fstab").contains("/swapfile none swap sw,nofail 0 0"));
///
/// // Converged: a second run changes nothing.
/// let again = ensure_swap_file(&host, &spec, &policy);
/// assert!(again.is_ok() && !again.changed);
/// ```
pub fn ensure_swap_file(host: &Host, spec: &SwapSpec, policy: &Policy) -> Report<SwapStatus> {
    let mut run = Runner::new("swap ensure", host, policy);
    let mut status = SwapStatus {
        path: spec.path.clone(),
        persist: spec.persist,
        ..SwapStatus::default()
    };
    let err = ensure_inner(&mut run, spec, &mut status).err();
    run.finish_with(status, err)
}

fn ensure_inner(run: &mut Runner<'_>, spec: &SwapSpec, status: &mut SwapStatus) -> Result<()> {
    spec.validate()?;
    let host = run.host();
    let _lock = take_lock(run, spec.lock_wait)?;
    let state_dir = run.policy().state_dir.clone();
    let o = observe(host, &spec.path, &state_dir)?;
    *status = SwapStatus::from_observation(&o, None, spec.persist);
    run.observe(format!("swap file {}", o.path.display()), summarize(&o));
    let d = resolve(spec, &o)?;
    if let Some(a) = &d.auto {
        run.observe(
            "size auto",
            format!("{} ({})", crate::size::ByteSize(a.bytes), a.reason),
        );
    }
    *status = SwapStatus::from_observation(&o, Some(&d), spec.persist);
    let steps = plan_ensure(&d, &o).map_err(|r| refuse(run, r))?;
    refuse_without_root(run, &d.path, &o, &steps)?;
    let ctx = Ctx {
        path: o.path.clone(),
        memory_margin: d.memory_margin,
        page_size: o.page_size,
        size: d.size,
        state_dir: state_dir.clone(),
    };
    let app = Applier::new(host, ctx, &o);
    let climb = climb::walk(run, app, &steps, o, &state_dir);
    if let Some(e) = climb.error {
        return Err(e);
    }
    if !run.dry_run() {
        *status = SwapStatus::from_observation(&climb.last, Some(&d), spec.persist);
        verify_ensured(&d, &climb.last)?;
    }
    climb.deferred.map_or(Ok(()), Err)
}

/// Takes the machine-wide host lock (fstab and swap areas are the host's, whatever the
/// state directory), waiting up to `wait`; a dry run edits nothing and takes none.
fn take_lock(run: &Runner<'_>, wait: std::time::Duration) -> Result<Option<HostLock>> {
    if run.dry_run() {
        return Ok(None);
    }
    HostLock::for_edits(run.host(), &run.policy().state_dir, wait).map(Some)
}

/// A real run without root refuses before its first change; a dry run goes on and shows
/// the whole plan, each step marked as needing root.
fn refuse_without_root(
    run: &mut Runner<'_>,
    path: &std::path::Path,
    o: &Observation,
    steps: &[planner::PlannedStep],
) -> Result<()> {
    match root_refusal(path, o, steps) {
        Some(r) if !run.dry_run() => Err(refuse(run, r)),
        _ => Ok(()),
    }
}

fn refuse(run: &mut Runner<'_>, r: PlanRefusal) -> Error {
    run.refuse(r.action, r.risk, r.refusal)
}

/// One line about what was found.
fn summarize(o: &Observation) -> String {
    use observe::Target;
    let what = match &o.target {
        Target::Missing => "missing".to_string(),
        Target::File(f) => planner::describe_file(f),
        other => format!("{other:?}").to_lowercase(),
    };
    format!(
        "{what}; {}; fstab lines {:?}; unit {}; filesystem {}; free {}",
        if o.active.is_some() {
            "active"
        } else {
            "inactive"
        },
        o.fstab.lines.iter().map(|l| l.number).collect::<Vec<_>>(),
        if o.unit.content.is_some() {
            o.unit.name.as_str()
        } else {
            "none"
        },
        o.fs.as_ref().map_or("unknown", |f| f.kind.name()),
        o.disk
            .as_ref()
            .map_or("unknown".to_string(), |d| crate::size::ByteSize(
                d.free_bytes
            )
            .to_string())
    )
}

/// Checks the desired state holds after the steps.
fn verify_ensured(d: &Desired, o: &Observation) -> Result<()> {
    let mut unmet = Vec::new();
    match o.target.file() {
        Some(f) => {
            let ok = f.size == d.size
                && f.content
                    .header()
                    .is_some_and(|h| h.fits(o.page_size, d.size));
            if !ok {
                unmet.push(format!(
                    "{} is not a {} swap area",
                    o.path.display(),
                    crate::size::ByteSize(d.size)
                ));
            }
            if !f.owner_mode_ok(o.owner) {
                unmet.push(format!(
                    "{} is mode {:04o} {}:{}",
                    o.path.display(),
                    f.mode,
                    f.uid,
                    f.gid
                ));
            }
        }
        None => unmet.push(format!("{} does not exist", o.path.display())),
    }
    if o.active.is_none() {
        unmet.push(format!("/proc/swaps does not list {}", o.path.display()));
    }
    let own = planner::ownership(o);
    unmet.extend(unmet_persistence(d, o, &own));
    if !own.file.as_ref().is_some_and(planner::Own::is_ours) {
        unmet.push(format!("{} is not recorded as hostfix's", o.path.display()));
    }
    if let Some(v) = d.swappiness {
        if o.swappiness != Some(v) {
            unmet.push(format!("vm.swappiness is {:?}, not {v}", o.swappiness));
        }
    }
    if unmet.is_empty() {
        Ok(())
    } else {
        Err(Error::Unmet(format!(
            "after the steps: {}",
            unmet.join("; ")
        )))
    }
}

/// What does not hold of the wanted persistence: exactly hostfix's one line, or its unit
/// written and enabled.
fn unmet_persistence(d: &Desired, o: &Observation, own: &planner::Ownership) -> Vec<String> {
    let mut unmet = Vec::new();
    match d.persist {
        Persist::Fstab => {
            let own_lines: Vec<_> = o
                .fstab
                .lines
                .iter()
                .filter(|m| own.own_lines.contains(&m.number))
                .collect();
            let ok = match own_lines.as_slice() {
                [m] => {
                    let prio = d.priority.or(m.entry.priority());
                    m.raw == planner::wanted_line(&d.path, prio).trim_end()
                }
                _ => false,
            };
            if !ok || !own.foreign_lines.is_empty() {
                unmet.push(format!(
                    "/etc/fstab has {} line(s) of hostfix's and {} other line(s) for the \
                     file, not exactly hostfix's one line",
                    own_lines.len(),
                    own.foreign_lines.len()
                ));
            }
        }
        Persist::Systemd => {
            if !(own.unit.as_ref().is_some_and(planner::Own::is_ours) && o.unit.enabled) {
                unmet.push(format!(
                    "{} is not hostfix's unit, written and enabled",
                    o.unit.name
                ));
            }
        }
        Persist::None => {}
    }
    unmet
}

/// Whether a host path names hostfix's temporary swap-over area.
pub(crate) fn is_swapover_path(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.') && n.ends_with(observe::SWAPOVER_SUFFIX))
}
