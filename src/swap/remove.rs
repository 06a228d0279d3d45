//! `swap remove`: swap off (only when memory can take the pages), unpersist and delete
//! only what hostfix created.

use std::path::PathBuf;

use serde::Serialize;

use super::apply::{Applier, Ctx};
use super::observe::{self, observe};
use super::planner::{self, RemoveSpec, plan_remove};
use super::{Persist, SwapStatus, climb, refuse, refuse_without_root, spec, summarize, take_lock};
use crate::error::{Error, Result};
use crate::host::Host;
use crate::plan::{Policy, Report, Risk, Runner};

/// What `swap remove` leaves.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct RemoveStatus {
    /// The host path.
    pub path: PathBuf,
    /// Whether a file was there when hostfix looked.
    pub existed: bool,
    /// Whether it was active when hostfix looked.
    pub was_active: bool,
    /// Whether the file is gone now.
    pub gone: bool,
    /// Where it is still persisted (should be empty).
    pub persisted_in: Vec<String>,
}

/// Options of [`remove_swap_file`]: [`RemoveOptions::default`], then the fields (every
/// field optional in a config).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RemoveOptions {
    /// The swap file (a host path). Default `/swapfile`.
    pub path: PathBuf,
    /// Memory that must remain available on top of the pages moved back into RAM.
    /// Default 256 MiB.
    #[serde(deserialize_with = "crate::de::bytes")]
    pub memory_margin: u64,
    /// How long to wait for another hostfix run's lock (at most a day). Default 5
    /// minutes.
    #[serde(deserialize_with = "crate::de::duration")]
    pub lock_wait: std::time::Duration,
}

impl RemoveOptions {
    /// Checks the options: the path as [`SwapSpec::validate`](super::SwapSpec::validate) checks it, and the lock
    /// wait at most a day.
    ///
    /// # Errors
    /// [`crate::error::InputError`] naming the field and what it accepts.
    pub fn validate(&self) -> std::result::Result<(), crate::error::InputError> {
        spec::check_path(&self.path)?;
        crate::size::check_duration("--lock-wait", self.lock_wait, crate::size::MAX_WAIT)
    }

    /// The risk cap `hostfix swap remove` runs under unless `--max-risk` says otherwise:
    /// [`Risk::Destructive`] (the command is the consent to delete the file).
    pub fn default_cap(&self) -> Risk {
        Risk::Destructive
    }
}

impl Default for RemoveOptions {
    fn default() -> Self {
        RemoveOptions {
            path: PathBuf::from(spec::DEFAULT_PATH),
            memory_margin: 256 * crate::size::ByteSize::MIB,
            lock_wait: std::time::Duration::from_secs(300),
        }
    }
}

/// Removes a swap file (`hostfix swap remove`): swapoff when memory can take its pages,
/// remove its fstab lines and hostfix's `.swap` unit, and delete the file only after
/// verifying it is a swap area.
///
/// The cap `hostfix swap remove` uses is [`RemoveOptions::default_cap`] (destructive).
/// A file hostfix cannot verify is a swap area is refused (exit 3), as is a swapoff the
/// available memory cannot take.
///
/// # Example
///
/// ```
/// use hostfix::swap::{ensure_swap_file, remove_swap_file, RemoveOptions, SwapSize, SwapSpec};
/// use hostfix::testing::FakeRoot;
/// use hostfix::Policy;
///
/// let root = FakeRoot::for_swap();
/// let (host, rec) = root.host();
/// root.swap_table(&rec);
/// # let mut spec = SwapSpec::new(SwapSize::Bytes(64 << 20));
/// # spec.keep_free.clear();
/// # let made = ensure_swap_file(&host, &spec, &Policy::new(spec.default_cap()).state_dir("/state"));
/// # assert!(made.is_ok(), "{made}");
/// // ... a swap file made by `ensure_swap_file` is active at /swapfile.
/// let opts = RemoveOptions::default();
/// let report = remove_swap_file(&host, &opts, &Policy::new(opts.default_cap()).state_dir("/state"));
/// assert!(report.is_ok() && report.result.gone, "{report}");
/// assert!(!root.join("/swapfile").exists());
/// assert!(!root.read("/etc/fstab").contains("/swapfile"));
/// ```
pub fn remove_swap_file(
    host: &Host,
    opts: &RemoveOptions,
    policy: &Policy,
) -> Report<RemoveStatus> {
    let mut run = Runner::new("swap remove", host, policy);
    let mut status = RemoveStatus {
        path: opts.path.clone(),
        ..RemoveStatus::default()
    };
    let err = remove_inner(&mut run, opts, &mut status).err();
    run.finish_with(status, err)
}

fn remove_inner(
    run: &mut Runner<'_>,
    opts: &RemoveOptions,
    status: &mut RemoveStatus,
) -> Result<()> {
    opts.validate()?;
    let host = run.host();
    let _lock = take_lock(run, opts.lock_wait)?;
    let state_dir = run.policy().state_dir.clone();
    let o = observe(host, &opts.path, &state_dir)?;
    run.observe(format!("swap file {}", o.path.display()), summarize(&o));
    status.path = o.path.clone();
    status.existed = o.target != observe::Target::Missing;
    status.was_active = o.active.is_some();
    status.gone = !status.existed;
    status.persisted_in = SwapStatus::from_observation(&o, None, Persist::None).persisted_in;
    let r = RemoveSpec {
        path: o.path.clone(),
        memory_margin: opts.memory_margin,
    };
    let steps = plan_remove(&r, &o).map_err(|r| refuse(run, r))?;
    refuse_without_root(run, &r.path, &o, &steps)?;
    let ctx = Ctx {
        path: o.path.clone(),
        memory_margin: opts.memory_margin,
        page_size: o.page_size,
        size: 0,
        state_dir: state_dir.clone(),
    };
    let app = Applier::new(host, ctx, &o);
    let path = o.path.clone();
    let climb = climb::walk(run, app, &steps, o, &state_dir);
    if let Some(e) = climb.error.or(climb.deferred) {
        return Err(e);
    }
    if run.dry_run() {
        return Ok(());
    }
    let after = climb.last;
    status.gone = after.target == observe::Target::Missing;
    status.persisted_in = SwapStatus::from_observation(&after, None, Persist::None).persisted_in;
    let own = planner::ownership(&after);
    let mut unmet = Vec::new();
    if after.active.is_some() {
        unmet.push("it is still active".to_string());
    }
    if !own.own_lines.is_empty() || own.unit.as_ref().is_some_and(planner::Own::is_ours) {
        unmet.push(format!(
            "hostfix's persistence remains in {}",
            status.persisted_in.join(", ")
        ));
    }
    if !status.gone {
        unmet.push("the file still exists".to_string());
    }
    if own.temp.as_ref().is_some_and(planner::Own::is_ours) {
        unmet.push(format!(
            "hostfix's swap-over area {} remains",
            after.temp_path().display()
        ));
    }
    if unmet.is_empty() {
        Ok(())
    } else {
        Err(Error::Unmet(format!(
            "{}: {}",
            path.display(),
            unmet.join("; ")
        )))
    }
}
