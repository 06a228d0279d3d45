//! The human rendering of `port`'s results: what the CLI prints without `--json`.

use std::fmt::{self, Write as _};

use super::{FreeResult, Holders, InitService, Listener, ScanPath, ScanStats};

/// The human rendering of [`Holders`] (`hostfix port who`): the sockets, then each
/// group of owners with its processes, and how to stop a container or why an owner is
/// protected.
impl fmt::Display for Holders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&describe_holders(self))
    }
}

fn describe_holders(h: &Holders) -> String {
    let mut s = String::new();
    if h.listeners.is_empty() {
        let _ = writeln!(s, "{} port {}: free (nothing holds it)", h.proto, h.port);
        return s;
    }
    let _ = writeln!(
        s,
        "{} port {}: {}",
        h.proto,
        h.port,
        h.listeners
            .iter()
            .map(Listener::describe)
            .collect::<Vec<_>>()
            .join(", ")
    );
    for g in &h.groups {
        let _ = writeln!(s, "{}", g.summary);
        for pid in &g.pids {
            if let Some(o) = h.owners.iter().find(|o| o.pid == *pid) {
                let _ = writeln!(
                    s,
                    "  {:>7} {:<10} {}",
                    o.pid,
                    o.user
                        .clone()
                        .or(o.uid.map(|u| u.to_string()))
                        .unwrap_or_default(),
                    one_line(if o.cmdline.is_empty() {
                        o.name.clone()
                    } else {
                        o.cmdline.join(" ")
                    })
                );
            }
        }
        if let Some(l) = g
            .pids
            .first()
            .and_then(|p| h.owners.iter().find(|o| o.pid == *p))
        {
            if let Some(c) = &l.container {
                let _ = writeln!(s, "  stop it with: {}", c.stop_command);
            } else if let Some(p) = &l.protected {
                let _ = writeln!(s, "  protected: {p}");
            }
        }
    }
    for v in &h.services {
        let _ = writeln!(s, "{}", describe_service(v));
    }
    for u in &h.unowned {
        let _ = writeln!(s, "no process found for {u}");
    }
    for n in &h.notes {
        let _ = writeln!(s, "note: {n}");
    }
    s
}

/// `service nginx (sysvinit: /etc/init.d/nginx, starts at boot in runlevels 2 3 4 5) runs
/// pids 812, 813`, then what ties them and the commands `port free` would run.
fn describe_service(v: &InitService) -> String {
    let boot = if v.enabled_in.is_empty() {
        "does not start at boot".to_string()
    } else {
        format!("starts at boot in runlevels {}", v.enabled_in.join(" "))
    };
    let pids: Vec<String> = v.pids.iter().map(ToString::to_string).collect();
    format!(
        "service {} ({}: /etc/init.d/{}, {boot}) runs pid{} {}\n  tied by: {}\n  port free \
         would run: {}",
        v.name,
        v.init,
        v.name,
        if pids.len() == 1 { "" } else { "s" },
        pids.join(", "),
        v.evidence.join("; "),
        v.commands.join("; ")
    )
}

/// A command line on one line of at most 120 characters.
fn one_line(s: String) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 120 {
        format!("{}...", flat.chars().take(117).collect::<String>())
    } else {
        flat
    }
}

/// The human rendering of a [`FreeResult`] (`hostfix port free`): whether the
/// addresses bind, who held the port, and the package removal.
impl fmt::Display for FreeResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let addrs: Vec<String> = self.addresses.iter().map(ToString::to_string).collect();
        writeln!(
            f,
            "{} port {} on {}: {}",
            self.proto,
            self.port,
            addrs.join(", "),
            if self.free {
                "free"
            } else {
                "not verified free"
            }
        )?;
        for g in &self.groups {
            writeln!(f, "held by {}", g.summary)?;
            if let Some(c) = self
                .holders
                .iter()
                .find(|o| o.pid == g.leader)
                .and_then(|o| o.container.as_ref())
            {
                writeln!(f, "  stop it with: {}", c.stop_command)?;
            }
        }
        if let Some(p) = &self.removal {
            writeln!(
                f,
                "package removal ({}): {} (removes {})",
                p.manager,
                p.command,
                p.removes.join(", ")
            )?;
        }
        Ok(())
    }
}

impl ScanStats {
    /// Which way the holders were found, in words: the cgroups read and why the walk over
    /// `/proc` ran (what `hostfix port who -v` prints).
    pub fn summary(&self) -> String {
        let cgroups: Vec<String> = self
            .cgroups
            .iter()
            .map(|c| {
                format!(
                    "cgroup {} ({} process(es){})",
                    c.path.clone().unwrap_or_else(|| format!("id {}", c.id)),
                    c.processes,
                    match (&c.error, c.answered) {
                        (Some(e), _) => format!(": {e}"),
                        (None, true) => ", holds its sockets".to_string(),
                        (None, false) => ", not all its sockets".to_string(),
                    }
                )
            })
            .collect();
        let mut parts = Vec::new();
        if !cgroups.is_empty() {
            parts.push(format!("read {}", cgroups.join(", ")));
        }
        match self.path {
            ScanPath::Cgroup => parts.push("no walk over /proc needed".into()),
            ScanPath::Walk | ScanPath::CgroupAndWalk => parts.push(format!(
                "walked /proc ({}{})",
                self.walk_reasons.join("; "),
                if self.stopped_early {
                    ", stopped at the last socket"
                } else {
                    ""
                }
            )),
            ScanPath::None => {}
        }
        parts.join("; ")
    }
}
