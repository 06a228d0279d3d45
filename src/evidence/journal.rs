//! The journal and systemd units: the state of a unit (`systemctl show`), its last
//! journal lines (`journalctl -u`), and the kernel's messages when `/dev/kmsg` cannot be
//! read (`journalctl -k`). Pure parsers of what they print and the arguments hostfix
//! gives them; the commands run under `timeout` (see [`super::sources::run_bounded`]).

use std::time::Duration;

use serde::Serialize;

use super::text;
use crate::host::Host;

/// The properties read from `systemctl show`.
pub const UNIT_PROPERTIES: &str = "LoadState,ActiveState,SubState,Result,NRestarts,ExecMainCode,ExecMainStatus,StateChangeTimestamp";

/// `systemctl show UNIT -p ...` (pure).
pub fn unit_show_args(unit: &str) -> Vec<String> {
    vec![
        "show".into(),
        "--no-pager".into(),
        "-p".into(),
        UNIT_PROPERTIES.into(),
        "--".into(),
        unit.into(),
    ]
}

/// `--since=-Ns` for a window, none for everything (pure).
fn since_arg(since: Option<Duration>) -> Option<String> {
    since.map(|d| format!("--since=-{}s", d.as_secs().max(1)))
}

/// `journalctl -u UNIT -n N -o short-iso --no-pager -q [--since=-Ns]` (pure).
pub fn unit_journal_args(unit: &str, lines: usize, since: Option<Duration>) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "-u".into(),
        unit.into(),
        "-n".into(),
        lines.to_string(),
        "-o".into(),
        "short-iso".into(),
        "--no-pager".into(),
        "-q".into(),
    ];
    a.extend(since_arg(since));
    a
}

/// `journalctl -k -n N -o short-iso --no-pager -q [--since=-Ns]`: the kernel's messages
/// of this boot (pure).
pub fn kernel_journal_args(lines: usize, since: Option<Duration>) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "-k".into(),
        "-n".into(),
        lines.to_string(),
        "-o".into(),
        "short-iso".into(),
        "--no-pager".into(),
        "-q".into(),
    ];
    a.extend(since_arg(since));
    a
}

/// A unit's state, as `systemctl show` prints it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UnitState {
    /// The unit.
    pub unit: String,
    /// `LoadState` (`loaded`, `not-found`, `masked`).
    pub load: String,
    /// `ActiveState` (`active`, `failed`, `activating`, ...).
    pub active: String,
    /// `SubState` (`running`, `auto-restart`, `dead`, ...).
    pub sub: String,
    /// `Result` (`success`, `exit-code`, `oom-kill`, `signal`, ...).
    pub result: String,
    /// `NRestarts` (systemd 235+).
    pub restarts: Option<u64>,
    /// The main process's last exit (`ExecMainCode`/`ExecMainStatus`: `exited 1`,
    /// `killed 9`), when it has one.
    pub main_exit: Option<String>,
    /// `StateChangeTimestamp`.
    pub since: Option<String>,
}

impl UnitState {
    /// Whether it runs and its last result was a success.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))] // used by hostfix::testing
    pub fn healthy(&self) -> bool {
        self.active == "active" && matches!(self.result.as_str(), "" | "success")
    }

    /// `nginx.service: active (running) since ..., result success, 0 restarts`.
    pub fn describe(&self) -> String {
        let mut s = format!("{}: {} ({})", self.unit, self.active, self.sub);
        if let Some(t) = &self.since {
            s.push_str(&format!(" since {t}"));
        }
        if !self.result.is_empty() {
            s.push_str(&format!(", result {}", self.result));
        }
        if let Some(e) = &self.main_exit {
            s.push_str(&format!(", main process {e}"));
        }
        if let Some(n) = self.restarts {
            s.push_str(&format!(", {n} restart{}", if n == 1 { "" } else { "s" }));
        }
        s
    }
}

/// Parses `systemctl show -p ...` output (pure); `None` when it names no state.
pub fn parse_unit_show(unit: &str, out: &str) -> Option<UnitState> {
    let mut u = UnitState {
        unit: text::clean(unit, 128),
        ..UnitState::default()
    };
    let (mut code, mut status) = (None, None);
    for l in out.lines() {
        let Some((k, v)) = l.split_once('=') else {
            continue;
        };
        let v = text::clean(v.trim(), 128);
        match k {
            "LoadState" => u.load = v,
            "ActiveState" => u.active = v,
            "SubState" => u.sub = v,
            "Result" => u.result = v,
            "NRestarts" => u.restarts = v.parse().ok(),
            "ExecMainCode" => code = v.parse::<i32>().ok(),
            "ExecMainStatus" => status = v.parse::<i32>().ok(),
            "StateChangeTimestamp" if !v.is_empty() => u.since = Some(v),
            _ => {}
        }
    }
    // ExecMainCode is a CLD_* code: 1 exited, 2 killed, 3 dumped; 0 when it never ran.
    u.main_exit = match (code, status) {
        (Some(1), Some(s)) => Some(format!("exited {s}")),
        (Some(2), Some(s)) => Some(format!("killed by signal {s}")),
        (Some(3), Some(s)) => Some(format!("dumped core on signal {s}")),
        _ => None,
    };
    (!u.active.is_empty()).then_some(u)
}

/// One line of `journalctl -o short-iso`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JournalLine {
    /// Its timestamp (`2024-05-01T10:00:00+0000`).
    pub time: String,
    /// Who logged it (`nginx[812]`, `kernel`).
    pub ident: String,
    /// The message.
    pub text: String,
}

/// Parses one line of `journalctl -o short-iso` (pure): `TIME HOST IDENT: MESSAGE`;
/// `None` for `-- Boot ... --` markers and anything else.
pub fn parse_journal_line(line: &str) -> Option<(&str, &str, &str)> {
    let (time, rest) = line.split_once(' ')?;
    if !time.starts_with(|c: char| c.is_ascii_digit()) || !time.contains('T') {
        return None;
    }
    let (_host, rest) = rest.split_once(' ')?;
    let (ident, text) = rest
        .split_once(": ")
        .or_else(|| rest.strip_suffix(':').map(|i| (i, "")))?;
    Some((time, ident, text))
}

/// The lines of `journalctl -o short-iso` output, made safe to show (pure).
pub fn parse_journal(out: &str) -> Vec<JournalLine> {
    out.lines()
        .filter_map(parse_journal_line)
        .map(|(time, ident, text)| JournalLine {
            time: text::clean(time, 40),
            ident: text::clean(ident, 64),
            text: text::line(text),
        })
        .collect()
}

/// Whether this host keeps a journal; `Err` says plainly why not.
///
/// # Errors
/// A sentence naming what is missing.
pub fn journal_present(host: &Host) -> Result<(), String> {
    let dirs = ["/run/log/journal", "/var/log/journal"];
    if dirs.iter().any(|d| host.path(d).is_dir()) {
        Ok(())
    } else {
        Err(format!(
            "no journal on this host ({} are missing): its services log elsewhere \
             (/var/log, or their own files)",
            dirs.join(" and ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_state() {
        let out = "LoadState=loaded\nActiveState=failed\nSubState=failed\nResult=exit-code\n\
                   NRestarts=5\nExecMainCode=1\nExecMainStatus=1\n\
                   StateChangeTimestamp=Wed 2024-05-01 10:00:00 UTC\n";
        let u = parse_unit_show("nginx.service", out).unwrap();
        assert!(!u.healthy());
        assert_eq!(
            u.describe(),
            "nginx.service: failed (failed) since Wed 2024-05-01 10:00:00 UTC, result \
             exit-code, main process exited 1, 5 restarts"
        );
        let ok = parse_unit_show(
            "a.service",
            "ActiveState=active\nSubState=running\nResult=success\nExecMainCode=0\n",
        )
        .unwrap();
        assert!(ok.healthy());
        assert_eq!(ok.main_exit, None);
        assert_eq!(parse_unit_show("x", "garbage"), None);
    }

    #[test]
    fn journal_lines() {
        let out = "-- Boot 1234 --\n\
                   2024-05-01T10:00:00+0000 web1 nginx[812]: 2024/05/01 [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)\n\
                   2024-05-01T10:00:01+00:00 web1 systemd[1]: nginx.service: Failed with result 'exit-code'.\n\
                   2024-05-01T10:00:02+0000 web1 kernel: Out of memory: Killed process 1 (x)\n\
                   2024-05-01T10:00:03+0000 web1 empty:\n\
                   not a line\n";
        let l = parse_journal(out);
        assert_eq!(l.len(), 4);
        assert_eq!(l[0].ident, "nginx[812]");
        assert!(l[0].text.ends_with("(98: Address already in use)"));
        assert_eq!(l[1].time, "2024-05-01T10:00:01+00:00");
        assert_eq!(l[2].ident, "kernel");
        assert_eq!(l[3].text, "");
    }

    #[test]
    fn arguments() {
        assert_eq!(
            unit_journal_args("nginx.service", 20, Some(Duration::from_secs(3600))).join(" "),
            "-u nginx.service -n 20 -o short-iso --no-pager -q --since=-3600s"
        );
        assert_eq!(
            kernel_journal_args(100, None).join(" "),
            "-k -n 100 -o short-iso --no-pager -q"
        );
        assert_eq!(unit_show_args("-x").last().unwrap(), "-x");
    }
}
