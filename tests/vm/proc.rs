//! Running a child process with a deadline: the image build and qemu.
//!
//! The child gets its own process group; on timeout that group (the child and whatever it
//! started: debootstrap's apt, or nothing for qemu) is killed, by the id we got at spawn.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It exited with this code.
    Exited(i32),
    /// A signal ended it.
    Signalled(i32),
    /// It ran past its deadline and was killed.
    TimedOut,
}

/// Runs `cmd` with stdout and stderr to `log`, killing its process group after `timeout`.
pub fn run_logged(mut cmd: Command, log: &Path, timeout: Duration) -> std::io::Result<Outcome> {
    let out = File::create(log)?;
    let err = out.try_clone()?;
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    let child = spawn_in_own_group(cmd)?;
    wait_deadline(child, timeout)
}

/// Spawns `cmd` as the leader of a new process group.
pub fn spawn_in_own_group(mut cmd: Command) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    cmd.spawn()
}

/// Waits for `child` until `timeout`; then kills its process group (SIGKILL) and reaps it.
pub fn wait_deadline(mut child: Child, timeout: Duration) -> std::io::Result<Outcome> {
    use std::os::unix::process::ExitStatusExt;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(match (status.code(), status.signal()) {
                (Some(c), _) => Outcome::Exited(c),
                (None, Some(s)) => Outcome::Signalled(s),
                (None, None) => Outcome::Exited(-1),
            });
        }
        if Instant::now() >= deadline {
            let pgid = i32::try_from(child.id()).map(Pid::from_raw);
            if let Ok(pgid) = pgid {
                // The group we created at spawn: the child is its leader and still unreaped,
                // so the id cannot have been reused.
                let _ = killpg(pgid, Signal::SIGKILL);
            }
            let _ = child.kill();
            let _ = child.wait();
            return Ok(Outcome::TimedOut);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_past_its_deadline_is_killed_with_its_group() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("log");
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30 & echo started; wait"]);
        let t = Instant::now();
        let out = run_logged(cmd, &log, Duration::from_millis(500)).unwrap();
        assert_eq!(out, Outcome::TimedOut);
        assert!(t.elapsed() < Duration::from_secs(10));
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "started\n");
    }

    #[test]
    fn exit_codes_are_kept() {
        let d = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "exit 7"]);
        let out = run_logged(cmd, &d.path().join("log"), Duration::from_secs(10)).unwrap();
        assert_eq!(out, Outcome::Exited(7));
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
    }
}
