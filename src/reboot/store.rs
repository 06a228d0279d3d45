//! Where the ledger lives and who may write it: the state directory's check (it must
//! survive a reboot), the host lock taken (or, in a dry run, probed) before the ledger is
//! read for a decision, and the confirmation of reboots that happened.

use std::path::Path;

use super::guard::LockState;
use super::ledger::{self, Ledger, Now};
use super::{LOCK_WAIT, RebootResult};
use crate::error::{Error, InputError, Refusal, Result};
use crate::host::Host;
use crate::plan::{Risk, Runner};
use crate::state::{self, HostLock, LockProbe};

/// The host lock and the ledger. An apply that will write the ledger (a reboot is
/// wanted, or earlier reboots wait to be confirmed) takes the lock and reads the ledger
/// again under it; a dry run only probes the lock.
///
/// # Errors
/// [`Refusal::NeedsRoot`] when an apply cannot take the lock for lack of privilege.
pub(super) fn lock_and_read(
    run: &mut Runner<'_>,
    state_dir: &Path,
    wanted: bool,
    now: &Now<'_>,
) -> Result<(Option<HostLock>, LockState, Result<Ledger>)> {
    let host = run.host();
    let peek = ledger::read_ledger(host, state_dir);
    let must_write = wanted
        || peek.as_ref().is_ok_and(|l| !l.confirmable(now).is_empty())
        // A write cut short (a power cut between the temp file and the rename) left its
        // temp file: the lock's sweep removes it.
        || (!run.dry_run() && state::has_leftovers(host, state_dir));
    if run.dry_run() {
        return Ok((None, probe_lock(host), peek));
    }
    if !must_write {
        return Ok((None, LockState::Free, peek));
    }
    match HostLock::for_edits(host, state_dir, LOCK_WAIT) {
        // Read again under the lock: another run may have written since the peek.
        Ok(l) => Ok((
            Some(l),
            LockState::Held,
            ledger::read_ledger(host, state_dir),
        )),
        Err(Error::Refused(Refusal::Locked { path })) => Ok((
            None,
            LockState::Busy(format!(
                "another hostfix run holds the host lock {}",
                path.display()
            )),
            peek,
        )),
        Err(Error::Refused(r @ Refusal::NeedsRoot { .. })) => {
            Err(run.refuse("take the host lock", Risk::Additive, r))
        }
        Err(e) => Ok((
            None,
            LockState::Error(format!("the host lock cannot be taken: {e}")),
            peek,
        )),
    }
}

/// Confirms, in the ledger, the reboots started in another boot (they happened): a
/// bookkeeping step, taken only under the lock (planned in a dry run).
pub(super) fn confirm_started(
    run: &mut Runner<'_>,
    ledger_file: &Path,
    l: &mut Ledger,
    now: &Now<'_>,
    lock_state: &LockState,
    out: &mut RebootResult,
) -> Result<()> {
    let ids = l.confirmable(now);
    if ids.is_empty() {
        return Ok(());
    }
    let action = format!(
        "confirm reboot {} in the ledger",
        ids.iter()
            .map(|i| format!("#{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let why = "the boot id changed since they were started: they happened";
    let can_write = run.dry_run() || *lock_state == LockState::Held;
    if !run.allows(Risk::Additive) {
        run.skip(
            action,
            Risk::Additive,
            why,
            "not written: --max-risk read-only",
        );
    } else if !can_write {
        run.skip(
            action,
            Risk::Additive,
            why,
            "not written: the lock is not held",
        );
    } else {
        let mut updated = l.clone();
        updated.confirm(now);
        // hostfix's own record, not a change of the host.
        run.bookkeeping(action, why, |_| {
            ledger::write_ledger(ledger_file, &updated)?;
            Ok(format!("{} confirmed", ids.len()))
        })?;
    }
    l.confirm(now);
    out.confirmed = ids;
    Ok(())
}

/// Host paths whose contents do not survive a reboot: a ledger there forgets every
/// reboot, and the guard with it.
const VOLATILE_DIRS: [&str; 5] = ["/tmp", "/var/tmp", "/run", "/var/run", "/dev"];

const RAMFS_MAGIC: i64 = 0x8584_58f6;

/// Checks that a state directory survives a reboot: absolute, not under `/tmp`, `/run`
/// and the like, and (on the live root) not on a tmpfs or ramfs. The path is normalised
/// first ([`state::normalize`]), so `/var/lib/../../run/x` is judged as `/run/x`.
///
/// # Errors
/// [`InputError`] naming the directory and what is accepted.
pub fn check_state_dir(host: &Host, dir: &Path) -> std::result::Result<(), InputError> {
    let given = dir;
    let bad = |why: String| {
        InputError::new(
            "--state-dir",
            given.display().to_string(),
            why,
            "an absolute directory that survives a reboot, such as /var/lib/hostfix",
        )
    };
    if !dir.is_absolute() {
        return Err(bad("not an absolute path".into()));
    }
    let dir = state::state_dir(dir)?;
    if let Some(v) = VOLATILE_DIRS.iter().find(|v| dir.starts_with(v)) {
        let shown = if dir.as_path() == given {
            String::new()
        } else {
            format!(" (it is {})", dir.display())
        };
        return Err(bad(format!(
            "{v} is emptied at boot, so the reboot guard would forget every reboot{shown}"
        )));
    }
    if host.is_live_root() {
        let mut p = dir.as_path();
        while !p.exists() {
            match p.parent() {
                Some(parent) => p = parent,
                None => break,
            }
        }
        if let Ok(st) = nix::sys::statfs::statfs(p) {
            let t = st.filesystem_type();
            // fs_type_t is i64 on x86_64 but narrower on some architectures.
            #[allow(clippy::unnecessary_cast)]
            let raw = t.0 as i64;
            if t == nix::sys::statfs::TMPFS_MAGIC || raw == RAMFS_MAGIC {
                return Err(bad(format!(
                    "{} is on a tmpfs/ramfs, which is emptied at boot, so the reboot guard \
                     would forget every reboot",
                    p.display()
                )));
            }
        }
    }
    Ok(())
}

/// Probes the host lock ([`HOST_LOCK`](state::HOST_LOCK)) without taking it or creating
/// anything.
pub fn probe_lock(host: &Host) -> LockState {
    let shown = state::HOST_LOCK;
    match HostLock::probe(host) {
        LockProbe::Free => LockState::Free,
        LockProbe::Busy => {
            LockState::Busy(format!("another hostfix run holds the host lock {shown}"))
        }
        LockProbe::NeedsRoot => LockState::NeedsRoot(format!(
            "cannot be checked without root: the host lock {shown} is root's"
        )),
        LockProbe::Error(why) => LockState::Error(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_dirs_that_forget_are_refused() {
        let h = Host::fake("/nonexistent-root");
        for bad in ["/tmp/hostfix", "/run/hostfix", "/var/tmp/x", "relative/dir"] {
            assert!(check_state_dir(&h, Path::new(bad)).is_err(), "{bad}");
        }
        assert!(check_state_dir(&h, Path::new("/var/lib/hostfix")).is_ok());
        assert!(check_state_dir(&h, Path::new("/tmpfoo")).is_ok());
        // `..` cannot walk out of the check.
        for sneaky in [
            "/var/lib/../../run/x",
            "/var/lib/hostfix/../../../tmp",
            "/x/./../dev/shm",
        ] {
            let e = check_state_dir(&h, Path::new(sneaky)).unwrap_err();
            assert!(e.to_string().contains("emptied at boot"), "{sneaky}: {e}");
        }
    }
}
