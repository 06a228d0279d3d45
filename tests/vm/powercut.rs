//! Scenario 5: a power cut at any moment loses nothing (`scenarios/powercut.sh`).
//!
//! qemu is killed with SIGKILL at exact points of `swap ensure`, a swap resize, `port free
//! --remove-package` and a reboot-ledger write (hostfix's test-only pause hook stops it
//! there; one cut is inside dpkg's removal instead, where the package's postrm waits), and
//! the same disk boots again. Whatever the guest had not written to its disk is lost, as in a real
//! power cut. After each cut: /etc/fstab parses and keeps every other line byte for byte,
//! the reboot ledger reads, the next run converges (exit 0, the desired state holds) and
//! the run after it reports `changed: false`. The boots are shared: the boot after a cut
//! checks it and arms the next point.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::guest::{BootOpts, Guest};
use crate::results::Results;
use crate::{fstab_lines_for, loud, scenario_with, swaps};

/// What a point runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `swap ensure --size 64M --path /pcK.swap --persist fstab` on a host without it.
    SwapNew,
    /// The same file grown from 64M to 128M (`--max-risk disruptive`: a swap-over).
    SwapResize,
    /// `port free 8080 --remove-package`, the port held by the unit of package `pc-web`.
    PortRemove,
    /// `reboot --if-needed --once pc-K` with a reboot needed.
    Reboot,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::SwapNew => "swap-new",
            Kind::SwapResize => "swap-resize",
            Kind::PortRemove => "port-remove",
            Kind::Reboot => "reboot",
        }
    }
}

/// Where the power is cut.
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// At the first hook point matching the pattern (hostfix waits there).
    Pause(&'static str),
    /// As soon as a point matching the pattern is reported: hostfix runs on, and the
    /// package's postrm waits inside dpkg's removal and reports itself.
    Marker(&'static str),
}

impl Cut {
    fn mode(self) -> &'static str {
        match self {
            Cut::Pause(_) => "pause",
            Cut::Marker(_) => "marker",
        }
    }

    /// The pattern, for point `k`.
    fn pattern(self, k: usize) -> String {
        match self {
            Cut::Pause(p) | Cut::Marker(p) => p.replace("{k}", &k.to_string()),
        }
    }
}

/// The points, in the order they are cut. `{k}` in a pattern is the point's number.
const POINTS: [(Kind, Cut); 10] = [
    // The file allocated, no swap header yet.
    (
        Kind::SwapNew,
        Cut::Pause("before swap ensure: write swap header * to /pc{k}.swap"),
    ),
    // Active, the new fstab written and fsynced beside the old one, not renamed.
    (Kind::SwapNew, Cut::Pause("synced /etc/fstab")),
    // fstab renamed, its directory not fsynced.
    (Kind::SwapNew, Cut::Pause("renamed /etc/fstab")),
    // A resize: the swap-over area built, not active.
    (
        Kind::SwapResize,
        Cut::Pause("before swap ensure: swapon /.pc{k}.swap.hostfix-swapover"),
    ),
    // The file swapped off and grown, its new header not written.
    (
        Kind::SwapResize,
        Cut::Pause("before swap ensure: write swap header * to /pc{k}.swap"),
    ),
    // The file back on at its new size, the swap-over area still active.
    (
        Kind::SwapResize,
        Cut::Pause("before swap ensure: swapoff /.pc{k}.swap.hostfix-swapover"),
    ),
    // The unit stopped and disabled, the package not removed.
    (Kind::PortRemove, Cut::Pause("before port free: remove *")),
    // Inside dpkg's removal: the files gone, the package's postrm running.
    (Kind::PortRemove, Cut::Marker("dpkg: pc-web postrm remove")),
    // The ledger's new version written, fsynced and renamed, the directory not fsynced
    // (its fsynced temp file, with the rename undone by the cut, is the likely result).
    (
        Kind::Reboot,
        Cut::Pause("renamed /var/lib/hostfix/reboot-ledger.json"),
    ),
    // The entry recorded, the reboot not requested.
    (Kind::Reboot, Cut::Pause("before reboot: sync*")),
];

/// The longest one boot may take (boot, checks, the next point's preparation).
const RUN: Duration = Duration::from_secs(300);

/// The table the script reads: one line per point, `KIND|MODE|PATTERN`.
fn table() -> String {
    POINTS
        .iter()
        .enumerate()
        .map(|(k, (kind, cut))| format!("{}|{}|{}\n", kind.name(), cut.mode(), cut.pattern(k)))
        .collect()
}

/// Whether `text` matches `pattern` (`*`: any text), as hostfix's hook matches points.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            let Some(rest) = text.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len())
                .filter(|i| rest.is_char_boundary(*i))
                .any(|i| glob(tail, &rest[i..]))
        }
    }
}

#[test]
fn power_cuts_at_any_point_lose_nothing() {
    let table = table();
    let Some((mut g, _slot, _t)) = scenario_with(
        "power_cuts_at_any_point_lose_nothing",
        "powercut",
        &[("points", table.as_bytes(), 0o644)],
    ) else {
        return;
    };
    let started = Instant::now();
    for (k, (_, cut)) in POINTS.iter().enumerate() {
        let mut b = g.start(BootOpts::once(RUN).lean());
        let p = cut.pattern(k);
        let marker = matches!(cut, Cut::Marker(_));
        b.wait_until(&format!("point {k} ({p})"), RUN, |r| {
            !r.failures.is_empty()
                || if marker {
                    r.points
                        .iter()
                        .any(|x| x.name == "reached" && glob(&p, &x.text))
                } else {
                    r.paused_at().is_some()
                }
        });
        g.cut_power(b);
        loud(&stages(&g.runs[k].results, g.runs[k].took));
    }
    g.boot(BootOpts::once(RUN).lean());
    loud(&stages(g.last(), g.runs[POINTS.len()].took));
    loud(&format!(
        "hostfix VM tests: powercut: {} cuts, {} boots in {:.0} s of guest time",
        POINTS.len(),
        g.runs.len(),
        started.elapsed().as_secs_f64()
    ));
    if let Some(d) = g.runs[0].results.get("pc.docker") {
        loud(&format!(
            "hostfix VM tests: powercut: docker.service at the first (lean) boot: {d}"
        ));
    }
    let problems = check_all(&g);
    assert!(
        problems.is_empty(),
        "after power cuts:\n- {}",
        problems.join("\n- ")
    );
}

/// Where a boot's time went, from the script's uptime stamps: to the script's start (the
/// boot), the checks of the last cut, the next point's preparation, and the armed run up
/// to the cut (or the end).
fn stages(r: &Results, took: Duration) -> String {
    let t = |s: &str| {
        r.get(&format!("pc.t.{s}"))
            .and_then(|v| v.parse::<f64>().ok())
    };
    let (start, checked) = (t("start").unwrap_or(0.0), t("checked").unwrap_or(0.0));
    let armed = t("armed");
    format!(
        "hostfix VM tests: powercut boot {:?}: {:.1} s in all; boot {start:.1} s, checks \
         {:.1} s, preparation {}, armed to the cut {}",
        r.get("pc.next"),
        took.as_secs_f64(),
        checked - start,
        armed.map_or("-".into(), |a| format!("{:.1} s", a - checked)),
        armed.map_or("-".into(), |a| format!(
            "about {:.1} s",
            took.as_secs_f64() - a
        )),
    )
}

/// Every check of every point; what failed, one line each.
fn check_all(g: &Guest) -> Vec<String> {
    let mut problems = Vec::new();
    for (k, (kind, cut)) in POINTS.iter().enumerate() {
        let (armed, after) = (&g.runs[k].results, &g.runs[k + 1].results);
        let mut p = Point {
            k,
            kind: *kind,
            armed,
            after,
            problems: &mut problems,
        };
        p.cut_where_asked(cut);
        p.fstab_kept();
        p.ledger_reads();
        p.converges();
    }
    let last = &g.runs[POINTS.len()].results;
    if last.get("pc.done") != Some(&POINTS.len().to_string()) {
        problems.push(format!(
            "the last boot did not finish: {:?}",
            last.get("pc.done")
        ));
    }
    // At the end, after every later cut and boot: each swap file active from fstab, once.
    let active = swaps(last.block("final.swaps"));
    let fstab = last.block("final.fstab");
    for (k, (kind, _)) in POINTS.iter().enumerate() {
        let mib = match kind {
            Kind::SwapNew => 64,
            Kind::SwapResize => 128,
            _ => continue,
        };
        let path = format!("/pc{k}.swap");
        if !active.iter().any(|s| s.0 == path && s.2 == mib * 1024 - 4) {
            problems.push(format!(
                "at the end, {path} is not active at {mib} MiB: {active:?}"
            ));
        }
        let n = fstab_lines_for(fstab, &path).len();
        if n != 1 {
            problems.push(format!("at the end, fstab has {n} lines for {path}"));
        }
    }
    problems
}

/// One point's evidence: the run that armed it (and was cut), the boot after.
struct Point<'a> {
    k: usize,
    kind: Kind,
    armed: &'a Results,
    after: &'a Results,
    problems: &'a mut Vec<String>,
}

impl Point<'_> {
    fn fail(&mut self, what: String) {
        self.problems
            .push(format!("point {} ({}): {what}", self.k, self.kind.name()));
    }

    fn path(&self) -> String {
        format!("/pc{}.swap", self.k)
    }

    /// The run was cut at the point, and the boot after it is the one that checks it.
    fn cut_where_asked(&mut self, cut: &Cut) {
        let k = self.k;
        if self.armed.get("pc.next") != Some(&k.to_string()) {
            self.fail(format!("armed at boot for {:?}", self.armed.get("pc.next")));
        }
        if self.after.get("pc.next") != Some(&(k + 1).to_string()) {
            self.fail(format!(
                "the boot after the cut saw next={:?}: the synced counter was lost",
                self.after.get("pc.next")
            ));
        }
        let p = cut.pattern(k);
        match cut {
            Cut::Pause(_) => match self.armed.paused_at() {
                Some(at) if glob(&p, at) => {}
                other => self.fail(format!("paused at {other:?}, not at {p:?}")),
            },
            Cut::Marker(_) => {
                let last = self.armed.points.last().map(|x| x.text.as_str());
                if !last.is_some_and(|l| glob(&p, l)) {
                    self.fail(format!("the last point reported was {last:?}, not {p:?}"));
                }
            }
        }
    }

    /// fstab parses (findmnt reads it, every entry has its fields) and keeps every line
    /// that is not this point's byte for byte, right after the cut and after the runs.
    fn fstab_kept(&mut self) {
        let Some(before) = self.exact(self.armed, "fstab-before") else {
            return;
        };
        let path = self.path();
        // Every line but this point's, as bytes (split on newlines only: a trailing blank
        // or a missing last newline counts).
        let others = |t: &str| -> Vec<String> {
            t.split('\n')
                .filter(|l| fstab_lines_for(l, &path).is_empty())
                .map(str::to_string)
                .collect()
        };
        for name in ["fstab", "fstab-after"] {
            let Some(now) = self.exact(self.after, name) else {
                continue;
            };
            if others(&now) != others(&before) {
                self.fail(format!(
                    "{name}: other lines changed:\n--- before ---\n{before}\n--- now ---\n{now}"
                ));
            }
            for l in now.lines().filter(|l| {
                let t = l.trim_start();
                !t.is_empty() && !t.starts_with('#')
            }) {
                let n = l.split_whitespace().count();
                if !(4..=6).contains(&n) {
                    self.fail(format!("{name}: a line with {n} fields: {l:?}"));
                }
            }
        }
        if self.after.exit(&format!("p{}.findmnt", self.k)) != 0 {
            self.fail(format!(
                "findmnt cannot read fstab: {}",
                self.after.stderr(&format!("p{}.findmnt", self.k))
            ));
        }
    }

    /// doctor reads the reboot ledger, and the ledger file (when there is one) is JSON
    /// with no id twice.
    fn ledger_reads(&mut self) {
        let name = format!("p{}.doctor", self.k);
        let Some(doc) = self.json(&name) else {
            return;
        };
        let bad: Vec<String> = doc["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| f.to_string())
            .chain(
                doc["unseen"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|u| u.to_string()),
            )
            .filter(|t| t.contains("ledger") && (t.contains("cannot") || t.contains("broken")))
            .collect();
        if !bad.is_empty() {
            self.fail(format!("doctor: the ledger does not read: {bad:?}"));
        }
        let ledger = format!("p{}.ledger", self.k);
        if self.after.exit(&ledger) == 0 {
            match serde_json::from_str::<Value>(self.after.block(&ledger)) {
                Ok(l) => {
                    let mut ids: Vec<u64> = l["entries"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|e| e["id"].as_u64())
                        .collect();
                    let n = ids.len();
                    ids.sort_unstable();
                    ids.dedup();
                    if ids.len() != n {
                        self.fail(format!("the ledger has an id twice: {l}"));
                    }
                    let key = format!("pc-{}", self.k);
                    let mine = l["entries"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|e| e["key"] == key.as_str())
                        .count();
                    if mine > 1 {
                        self.fail(format!("{mine} ledger entries for {key}: {l}"));
                    }
                }
                Err(e) => self.fail(format!("the ledger is not JSON ({e})")),
            }
        }
    }

    /// The next run converges (exit 0, the desired state holds), the one after changes
    /// nothing, and hostfix left none of its temporary files.
    fn converges(&mut self) {
        let k = self.k;
        for (name, changed) in [("converge", None), ("again", Some(false))] {
            let name = format!("p{k}.{name}");
            let exit = self.after.exit(&name);
            let doc = self.json(&name);
            if exit != 0 {
                self.fail(format!(
                    "{name} exited {exit}: {}\n--- trail ---\n{}",
                    doc.map(|d| d["error"].to_string()).unwrap_or_default(),
                    self.after.stderr(&name)
                ));
            } else if let (Some(want), Some(doc)) = (changed, doc) {
                if doc["changed"] != want {
                    self.fail(format!("{name}: changed is {}, not {want}", doc["changed"]));
                }
            }
        }
        let leftovers = self.after.block(&format!("p{k}.leftovers")).to_string();
        if !leftovers.trim().is_empty() {
            self.fail(format!("hostfix's leftovers after two runs:\n{leftovers}"));
        }
        let active = swaps(self.after.block(&format!("p{k}.swaps")));
        if let Some(a) = active.iter().find(|s| s.0.contains("hostfix-swapover")) {
            self.fail(format!("a swap-over area is still active: {a:?}"));
        }
        match self.kind {
            Kind::SwapNew => self.swap_holds(64),
            Kind::SwapResize => self.swap_holds(128),
            Kind::PortRemove => self.port_free_and_package_gone(),
            Kind::Reboot => {}
        }
    }

    /// /pcK.swap is active at `mib` MiB and in fstab exactly once, as swap.
    fn swap_holds(&mut self, mib: u64) {
        let path = self.path();
        let active = swaps(self.after.block(&format!("p{}.swaps", self.k)));
        // /proc/swaps counts KiB, less the header page.
        let want = mib * 1024 - 4;
        if !active.iter().any(|s| s.0 == path && s.2 == want) {
            self.fail(format!("{path} is not active at {mib} MiB: {active:?}"));
        }
        let Some(fstab) = self.exact(self.after, "fstab-after") else {
            return;
        };
        let lines = fstab_lines_for(&fstab, &path);
        if lines.len() != 1 || lines[0].split_whitespace().nth(2) != Some("swap") {
            self.fail(format!("fstab lines for {path}: {lines:?}"));
        }
    }

    /// Nothing listens on :8080, pc-web is not installed, dpkg's database is whole.
    fn port_free_and_package_gone(&mut self) {
        let k = self.k;
        let listen = self.after.block(&format!("p{k}.listen")).to_string();
        if !listen.trim().is_empty() {
            self.fail(format!(":8080 is still held: {listen}"));
        }
        // dpkg's abbreviated status: the second letter is the package's state, `n` (not
        // installed) or `c` (config files only) once it is removed.
        let pkg = self.after.value(&format!("p{k}.pkg")).to_string();
        if !matches!(pkg.chars().nth(1), None | Some('n' | 'c')) {
            self.fail(format!("pc-web is not removed (dpkg status {pkg:?})"));
        }
        let audit = self.after.block(&format!("p{k}.audit")).to_string();
        if !audit.trim().is_empty() || self.after.exit(&format!("p{k}.audit")) != 0 {
            self.fail(format!("dpkg --audit: {audit}"));
        }
    }

    /// The exact bytes of a file the script printed with its sentinel (`exact`).
    fn exact(&mut self, r: &Results, name: &str) -> Option<String> {
        let name = format!("p{}.{name}", self.k);
        match r.block(&name).strip_suffix("@@END@@") {
            Some(t) => Some(t.to_string()),
            None => {
                self.fail(format!("{name}: cut short (no sentinel)"));
                None
            }
        }
    }

    fn json(&mut self, name: &str) -> Option<Value> {
        match serde_json::from_str(self.after.block(name)) {
            Ok(v) => Some(v),
            Err(e) => {
                let trail = self.after.stderr(name).to_string();
                self.fail(format!("{name}: no JSON report ({e}); trail:\n{trail}"));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_and_the_glob() {
        let t = table();
        assert_eq!(t.lines().count(), POINTS.len());
        assert!(t.lines().next().unwrap().ends_with("to /pc0.swap"));
        assert!(t.contains(
            "swap-resize|pause|before swap ensure: swapon /.pc3.swap.hostfix-swapover\n"
        ));
        assert!(t.contains("port-remove|marker|dpkg: pc-web postrm remove\n"));
        assert!(glob(
            "before port free: remove *",
            "before port free: remove pc-web (apt-get remove -y pc-web)"
        ));
        assert!(glob("a*b*c", "a-b-b-c"));
        assert!(!glob("a*b*c", "a-c"));
        assert!(!glob("renamed /etc/fstab", "renamed /etc/fstab2"));
        assert!(glob(
            "before reboot: sync*",
            "before reboot: sync, systemctl reboot"
        ));
    }
}
