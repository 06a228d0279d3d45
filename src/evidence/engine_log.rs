//! A container's own log, through the engine's log command (`docker logs --tail N
//! --timestamps`), and the lines in it that matter: a bind error, a crash, memory or disk
//! running out (pure). The command runs through the engine client, under its `timeout`.

use std::time::Duration;

use serde::Serialize;

use super::text;

/// `logs --tail N --timestamps [--since Ns] TARGET` (pure).
pub fn logs_args(target: &str, tail: usize, since: Option<Duration>) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "logs".into(),
        "--tail".into(),
        tail.to_string(),
        "--timestamps".into(),
    ];
    if let Some(d) = since {
        a.push("--since".into());
        a.push(format!("{}s", d.as_secs().max(1)));
    }
    a.push(target.into());
    a
}

/// Whether `name` is a container name as the engine makes them (`[A-Za-z0-9][A-Za-z0-9_.-]*`),
/// safe to pass as an argument (pure).
pub fn is_plain_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// What a log line tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// It could not bind its port.
    Bind,
    /// Memory ran out.
    Memory,
    /// A disk or its inodes ran out, or became read-only.
    Disk,
    /// It crashed (a panic, a fatal error, a segfault, a traceback).
    Crash,
    /// Some other error.
    Error,
}

/// What a log line tells, if anything (pure; `line` lowercased by the caller).
pub fn classify(lower: &str) -> Option<Class> {
    let any = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    if any(&[
        "address already in use",
        "eaddrinuse",
        "bind() to",
        "could not bind",
        "failed to bind",
        "cannot assign requested address",
        "port is already allocated",
    ]) {
        Some(Class::Bind)
    } else if any(&[
        "out of memory",
        "outofmemoryerror",
        "cannot allocate memory",
        "enomem",
        "memoryerror",
        "oom-kill",
        "oomkilled",
    ]) {
        Some(Class::Memory)
    } else if any(&[
        "no space left on device",
        "enospc",
        "disk quota exceeded",
        "read-only file system",
    ]) {
        Some(Class::Disk)
    } else if any(&[
        "panic",
        "fatal",
        "segmentation fault",
        "segfault",
        "core dumped",
        "traceback (most recent call last)",
        "uncaught",
        "unhandled exception",
        "exception in thread",
        "[emerg]",
        "[crit]",
        "[alert]",
    ]) {
        Some(Class::Crash)
    } else if any(&["error", "[err]", "err:"]) {
        Some(Class::Error)
    } else {
        None
    }
}

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line of a container's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// The engine's timestamp (`--timestamps`), when the line has one.
    pub time: Option<String>,
    /// The stream.
    pub stream: Stream,
    /// The text, made safe to show.
    pub text: String,
    /// What it tells, if anything.
    pub class: Option<Class>,
}

impl LogLine {
    /// `TIME TEXT`, as shown in a proof.
    pub fn show(&self) -> String {
        match &self.time {
            Some(t) => format!("{t} {}", self.text),
            None => self.text.clone(),
        }
    }
}

fn split_time(line: &str) -> (Option<&str>, &str) {
    match line.split_once(' ') {
        Some((t, rest))
            if t.len() >= 20
                && t.as_bytes()[0].is_ascii_digit()
                && t.as_bytes().get(10) == Some(&b'T') =>
        {
            (Some(t), rest)
        }
        _ => (None, line),
    }
}

/// The lines of `docker logs --timestamps` (its stdout and stderr, the container's own
/// two streams), merged in time order and classified (pure).
pub fn parse_logs(stdout: &str, stderr: &str) -> Vec<LogLine> {
    let read = |text: &str, stream: Stream| -> Vec<LogLine> {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let (time, rest) = split_time(l);
                LogLine {
                    time: time.map(|t| text::clean(t, 40)),
                    stream,
                    class: classify(&rest.to_ascii_lowercase()),
                    text: text::line(rest),
                }
            })
            .collect()
    };
    let mut all = read(stdout, Stream::Stdout);
    all.extend(read(stderr, Stream::Stderr));
    // The engine's timestamps are fixed-width RFC 3339 in UTC: text order is time order.
    // A stable sort keeps each stream's order for lines without one.
    all.sort_by(|a, b| a.time.cmp(&b.time));
    all
}

/// The lines that matter (pure): the last `max` lines that tell something (a bind error,
/// a crash, memory or disk), with plain errors only when nothing stronger is there; the
/// last 3 lines when nothing tells anything.
pub fn significant(lines: &[LogLine], max: usize) -> Vec<LogLine> {
    let strong: Vec<&LogLine> = lines
        .iter()
        .filter(|l| l.class.is_some_and(|c| c != Class::Error))
        .collect();
    let pick: Vec<&LogLine> = if !strong.is_empty() {
        strong
    } else {
        let errors: Vec<&LogLine> = lines.iter().filter(|l| l.class.is_some()).collect();
        if errors.is_empty() {
            lines.iter().collect::<Vec<_>>()
        } else {
            errors
        }
    };
    let keep = if pick.iter().any(|l| l.class.is_some()) {
        max
    } else {
        3.min(max)
    };
    pick[pick.len().saturating_sub(keep)..]
        .iter()
        .map(|l| (*l).clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_merge_in_time_order_and_bind_errors_stand_out() {
        let out = "2024-05-01T10:00:00.000000001Z starting\n\
                   2024-05-01T10:00:02.000000000Z listening\n";
        let err = "2024-05-01T10:00:01.000000000Z nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)\n";
        let l = parse_logs(out, err);
        assert_eq!(
            l.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(),
            [
                "starting",
                "nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)",
                "listening"
            ]
        );
        assert_eq!(l[1].stream, Stream::Stderr);
        assert_eq!(l[1].class, Some(Class::Bind));
        let s = significant(&l, 10);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].class, Some(Class::Bind));
    }

    #[test]
    fn without_anything_telling_the_last_lines_are_kept() {
        let l = parse_logs("a\nb\nc\nd\n", "");
        let s = significant(&l, 10);
        assert_eq!(
            s.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(),
            ["b", "c", "d"]
        );
        assert_eq!(s[0].time, None);
        assert!(significant(&[], 10).is_empty());
    }

    #[test]
    fn plain_errors_only_without_stronger_lines() {
        let l = parse_logs("x error: retrying\nFATAL: out of memory\n", "");
        let s = significant(&l, 10);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].class, Some(Class::Memory));
        let l = parse_logs("error one\nok\nerror two\n", "");
        assert_eq!(significant(&l, 1)[0].text, "error two");
    }

    #[test]
    fn only_plain_names_are_passed() {
        assert!(is_plain_name("web_1.prod-a"));
        assert!(!is_plain_name("-f"));
        assert!(!is_plain_name("a b"));
        assert!(!is_plain_name(""));
    }

    #[test]
    fn arguments() {
        assert_eq!(
            logs_args("web", 50, Some(Duration::from_secs(600))).join(" "),
            "logs --tail 50 --timestamps --since 600s web"
        );
    }
}
