//! What a guest reported: the lines the runner and the scenario script wrote to the second
//! serial port (`results.log`), parsed.
//!
//! The protocol (written by `image/rootfs/usr/local/sbin/hostfix-scenario-runner` and
//! `scenarios/lib.sh`):
//! - `HOSTFIX-VM BOOT n=N id=BOOT_ID uptime=S`: a boot began (the runner, at every boot);
//! - `HOSTFIX-VM SCENARIO-EXIT boot=N rc=RC`, then `HOSTFIX-VM POWEROFF`, `HOSTFIX-VM REBOOT`
//!   or `HOSTFIX-VM SHUTDOWN-IN-PROGRESS`: how that boot's scenario run ended;
//! - `HOSTFIX-VM ERROR text`: the runner could not run the scenario (a failure);
//! - `RESULT key=value`: one value (the rest of the line);
//! - `BEGIN name` ... `END name`: a verbatim block (a command's stdout, a file);
//! - `FAIL text`: the script failed (`lib.sh`'s `fail`, or its ERR trap: the first command
//!   that failed unexpectedly, where and what); the harness fails the test on any;
//! - `NOTE text`: something to show (a command stopped by a shutdown the scenario wanted);
//! - `HOSTFIX-POINT point` and `HOSTFIX-PAUSED point`: hostfix's test-only pause hook
//!   (`HOSTFIX_TEST_POINTS`, `HOSTFIX_TEST_PAUSE_AT`) passed or stopped at a point.
//!
//! Everything else is the scenario's log, shown on failure.

use serde_json::Value;

/// How a boot's scenario run ended, from the runner's last line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The runner powered the guest off.
    Poweroff,
    /// The runner rebooted the guest because the scenario asked for it.
    Reboot,
    /// Something else (hostfix) had already started a shutdown or reboot.
    ShutdownInProgress,
}

/// One boot of the guest, as the runner saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boot {
    /// The runner's boot counter, kept on the guest's root disk (1 = first boot ever).
    pub n: u32,
    /// `/proc/sys/kernel/random/boot_id`.
    pub id: String,
    /// The uptime when the runner started, as printed.
    pub uptime: String,
    /// The scenario script's exit code, once it returned.
    pub scenario_rc: Option<i32>,
    /// How the runner ended this boot, when it got that far.
    pub end: Option<End>,
}

/// A value or block, with the boot it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The runner's boot counter when it was written (0 before any BOOT line).
    pub boot: u32,
    /// Its name.
    pub name: String,
    /// Its text.
    pub text: String,
}

/// Everything one qemu run reported.
#[derive(Debug, Clone, Default)]
pub struct Results {
    /// Boots, in order.
    pub boots: Vec<Boot>,
    /// `RESULT` values, in order.
    pub values: Vec<Item>,
    /// `BEGIN`/`END` blocks, in order.
    pub blocks: Vec<Item>,
    /// `FAIL` lines and the runner's `ERROR` lines: the script or the runner failed.
    pub failures: Vec<Item>,
    /// `NOTE` lines.
    pub notes: Vec<Item>,
    /// hostfix's test points, in order: name `reached` or `paused`, text the point.
    pub points: Vec<Item>,
}

impl Results {
    /// Parses results.log. Never fails: a torn last line or an unterminated block (the guest
    /// died mid-write) is kept as far as it got.
    pub fn parse(text: &str) -> Results {
        let mut r = Results::default();
        let mut block: Option<(String, Vec<&str>)> = None;
        for raw in text.split('\n') {
            let line = raw.trim_end_matches('\r');
            let boot = r.boots.last().map_or(0, |b| b.n);
            if let Some((name, lines)) = &mut block {
                if line.strip_prefix("END ") == Some(name.as_str()) {
                    let name = std::mem::take(name);
                    let text = trim_block(lines);
                    r.blocks.push(Item { boot, name, text });
                    block = None;
                } else {
                    lines.push(line);
                }
                continue;
            }
            let item = |name: &str, text: &str| Item {
                boot,
                name: name.to_string(),
                text: text.to_string(),
            };
            if let Some(rest) = line.strip_prefix("HOSTFIX-VM ERROR ") {
                r.failures.push(item("runner", rest));
            } else if let Some(rest) = line.strip_prefix("HOSTFIX-VM ") {
                r.runner_line(rest);
            } else if let Some(rest) = line.strip_prefix("FAIL ") {
                r.failures.push(item("script", rest));
            } else if let Some(rest) = line.strip_prefix("NOTE ") {
                r.notes.push(item("note", rest));
            } else if let Some(rest) = line.strip_prefix("HOSTFIX-POINT ") {
                r.points.push(item("reached", rest));
            } else if let Some(rest) = line.strip_prefix("HOSTFIX-PAUSED ") {
                r.points.push(item("paused", rest));
            } else if let Some(rest) = line.strip_prefix("RESULT ") {
                let (name, text) = rest.split_once('=').unwrap_or((rest, ""));
                r.values.push(Item {
                    boot,
                    name: name.to_string(),
                    text: text.to_string(),
                });
            } else if let Some(name) = line.strip_prefix("BEGIN ") {
                block = Some((name.to_string(), Vec::new()));
            }
        }
        if let Some((name, lines)) = block {
            let boot = r.boots.last().map_or(0, |b| b.n);
            r.blocks.push(Item {
                boot,
                name: format!("{name} (unterminated)"),
                text: trim_block(&lines),
            });
        }
        r
    }

    fn runner_line(&mut self, rest: &str) {
        let mut words = rest.split_whitespace();
        let what = words.next().unwrap_or_default();
        let field = |key: &str| {
            rest.split_whitespace()
                .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
                .unwrap_or_default()
                .to_string()
        };
        match what {
            "BOOT" => self.boots.push(Boot {
                n: field("n").parse().unwrap_or(0),
                id: field("id"),
                uptime: field("uptime"),
                scenario_rc: None,
                end: None,
            }),
            "SCENARIO-EXIT" => {
                if let Some(b) = self.boots.last_mut() {
                    b.scenario_rc = field("rc").parse().ok();
                }
            }
            "POWEROFF" | "REBOOT" | "SHUTDOWN-IN-PROGRESS" => {
                if let Some(b) = self.boots.last_mut() {
                    b.end = Some(match what {
                        "POWEROFF" => End::Poweroff,
                        "REBOOT" => End::Reboot,
                        _ => End::ShutdownInProgress,
                    });
                }
            }
            _ => {}
        }
    }

    /// The last `RESULT` value named `name`, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|i| i.name == name)
            .map(|i| i.text.as_str())
    }

    /// The last `RESULT` value named `name`; panics (failing the test) when there is none.
    pub fn value(&self, name: &str) -> &str {
        self.get(name).unwrap_or_else(|| {
            panic!(
                "the guest reported no value {name:?}; it reported: {:?}",
                self.values.iter().map(|i| &i.name).collect::<Vec<_>>()
            )
        })
    }

    /// The last block named `name`, if any.
    pub fn get_block(&self, name: &str) -> Option<&str> {
        self.blocks
            .iter()
            .rev()
            .find(|i| i.name == name)
            .map(|i| i.text.as_str())
    }

    /// The last block named `name`; panics when there is none.
    pub fn block(&self, name: &str) -> &str {
        self.get_block(name).unwrap_or_else(|| {
            panic!(
                "the guest reported no block {name:?}; it reported: {:?}",
                self.blocks.iter().map(|i| &i.name).collect::<Vec<_>>()
            )
        })
    }

    /// The exit code of the command the scenario ran as `name` (its `name.exit` value).
    pub fn exit(&self, name: &str) -> i32 {
        let v = self.value(&format!("{name}.exit"));
        v.parse()
            .unwrap_or_else(|_| panic!("{name}.exit is not a number: {v:?}"))
    }

    /// The JSON document hostfix printed as `name`; panics, with its exit code and stderr,
    /// when there is none (a subcommand this build does not have prints only to stderr).
    pub fn json(&self, name: &str) -> Value {
        let text = self.block(name);
        serde_json::from_str(text).unwrap_or_else(|e| {
            panic!(
                "{name}: hostfix printed no JSON document ({e}); exit code {:?}\n\
                 --- stdout ---\n{text}\n--- stderr ---\n{}",
                self.get(&format!("{name}.exit")),
                self.get_block(&format!("{name}.stderr"))
                    .unwrap_or("(empty)")
            )
        })
    }

    /// The failures the guest reported (`FAIL` lines, the runner's `ERROR`), one per line
    /// with its boot; empty when there were none.
    pub fn failure_text(&self) -> String {
        self.failures
            .iter()
            .map(|f| format!("boot {}: {}", f.boot, f.text))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The point hostfix paused at, if it did.
    pub fn paused_at(&self) -> Option<&str> {
        self.points
            .iter()
            .find(|p| p.name == "paused")
            .map(|p| p.text.as_str())
    }

    /// The stderr block of the command run as `name` (empty when it wrote nothing).
    pub fn stderr(&self, name: &str) -> &str {
        self.get_block(&format!("{name}.stderr")).unwrap_or("")
    }
}

fn trim_block(lines: &[&str]) -> String {
    let mut text = lines.join("\n");
    let kept = text.trim_end().len();
    text.truncate(kept);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "noise from the script\r\n\
        HOSTFIX-VM BOOT n=1 id=aaaa uptime=12.5\r\n\
        RESULT kernel=6.1.0-cloud-amd64\r\n\
        BEGIN doctor\r\n\
        {\"operation\": \"doctor\",\r\n\
        \"changed\": false}\r\n\
        \r\n\
        END doctor\r\n\
        RESULT doctor.exit=0\r\n\
        RESULT empty=\r\n\
        HOSTFIX-VM SCENARIO-EXIT boot=1 rc=0\r\n\
        HOSTFIX-VM REBOOT\r\n\
        HOSTFIX-VM BOOT n=2 id=bbbb uptime=11.0\r\n\
        RESULT kernel=again\r\n\
        BEGIN torn\r\n\
        half a li";

    #[test]
    fn parses_boots_values_and_blocks() {
        let r = Results::parse(LOG);
        assert_eq!(r.boots.len(), 2);
        assert_eq!(r.boots[0].id, "aaaa");
        assert_eq!(r.boots[0].scenario_rc, Some(0));
        assert_eq!(r.boots[0].end, Some(End::Reboot));
        assert_eq!(r.boots[1].n, 2);
        assert_eq!(r.boots[1].end, None);
        assert_eq!(r.value("kernel"), "again");
        assert_eq!(r.values[0].boot, 1);
        assert_eq!(r.value("empty"), "");
        assert_eq!(r.exit("doctor"), 0);
        assert_eq!(r.json("doctor")["operation"], "doctor");
        assert_eq!(r.get_block("torn (unterminated)"), Some("half a li"));
        assert_eq!(r.stderr("doctor"), "");
    }

    #[test]
    fn failures_notes_and_points_are_read() {
        let r = Results::parse(
            "HOSTFIX-VM BOOT n=1 id=a uptime=1\n\
             HOSTFIX-POINT before swap ensure: create /s\n\
             HOSTFIX-PAUSED rename /etc/fstab\n\
             NOTE stopped by the shutdown: rc=143 at scenario.sh:3: sleep 60\n\
             BEGIN b\nFAIL inside a block is text\nEND b\n\
             FAIL rc=1 at scenario.sh:7: hf swap-ensure swap ensure\n\
             HOSTFIX-VM ERROR cannot mount the handoff disk /dev/vdb\n",
        );
        assert_eq!(r.failures.len(), 2, "{:?}", r.failures);
        assert_eq!(
            r.failure_text(),
            "boot 1: rc=1 at scenario.sh:7: hf swap-ensure swap ensure\n\
             boot 1: cannot mount the handoff disk /dev/vdb"
        );
        assert_eq!(r.notes.len(), 1);
        assert_eq!(r.points.len(), 2);
        assert_eq!(r.paused_at(), Some("rename /etc/fstab"));
        assert_eq!(r.block("b"), "FAIL inside a block is text");
    }

    #[test]
    #[should_panic(expected = "printed no JSON document")]
    fn missing_json_fails_with_the_commands_stderr() {
        let r = Results::parse(
            "BEGIN swap\nEND swap\nBEGIN swap.stderr\nerror: unrecognized subcommand\nEND swap.stderr\n",
        );
        r.json("swap");
    }
}
