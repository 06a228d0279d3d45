//! Memory pressure over time and swap activity (pure parsers, thin readers): the PSI
//! averages over 10, 60 and 300 seconds of `/proc/pressure/memory` and of a container's
//! cgroup `memory.pressure`, and the swap-in/out counters of `/proc/vmstat`.

use serde::Serialize;

use crate::host::Host;

/// One line of a PSI file (`some` or `full`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PsiLine {
    /// Share of time stalled over the last 10 s (percent).
    pub avg10: f64,
    /// ... 60 s.
    pub avg60: f64,
    /// ... 300 s.
    pub avg300: f64,
    /// Total stall time since boot (µs).
    pub total_us: u64,
}

/// A PSI file: some task stalled, all tasks stalled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Psi {
    /// Some task stalled.
    pub some: PsiLine,
    /// All non-idle tasks stalled at once (absent on old kernels' cpu file).
    pub full: Option<PsiLine>,
}

fn parse_psi_line(rest: &str) -> Option<PsiLine> {
    let mut l = PsiLine::default();
    let mut seen = 0;
    for w in rest.split_whitespace() {
        let (k, v) = w.split_once('=')?;
        let pct = || {
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && (0.0..=100.0).contains(x))
        };
        match k {
            "avg10" => l.avg10 = pct()?,
            "avg60" => l.avg60 = pct()?,
            "avg300" => l.avg300 = pct()?,
            "total" => l.total_us = v.parse().ok()?,
            _ => continue,
        }
        seen += 1;
    }
    (seen == 4).then_some(l)
}

/// Parses a PSI file (pure); `None` without a well-formed `some` line.
pub fn parse_psi(text: &str) -> Option<Psi> {
    let mut some = None;
    let mut full = None;
    for line in text.lines() {
        if let Some(r) = line.strip_prefix("some ") {
            some = parse_psi_line(r);
        } else if let Some(r) = line.strip_prefix("full ") {
            full = parse_psi_line(r);
        }
    }
    Some(Psi { some: some?, full })
}

impl Psi {
    /// `some avg10=1.00% avg60=0.50% avg300=0.10%, full avg10=...`.
    pub fn describe(&self) -> String {
        let one = |n: &str, l: &PsiLine| {
            format!(
                "{n} avg10={:.2}% avg60={:.2}% avg300={:.2}%",
                l.avg10, l.avg60, l.avg300
            )
        };
        match &self.full {
            Some(f) => format!("{}; {}", one("some", &self.some), one("full", f)),
            None => one("some", &self.some),
        }
    }

    /// Whether tasks stall on memory enough to matter: some ≥ 10% over a minute, or all
    /// tasks ≥ 5% over 10 s.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))] // used by hostfix::testing
    pub fn stalling(&self) -> bool {
        self.some.avg60 >= 10.0 || self.full.is_some_and(|f| f.avg10 >= 5.0)
    }
}

/// The swap counters of `/proc/vmstat` (pages).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SwapCounters {
    /// Pages swapped in since boot.
    pub pswpin: u64,
    /// Pages swapped out since boot.
    pub pswpout: u64,
}

/// Reads `pswpin` and `pswpout` from `/proc/vmstat` text (pure); `None` when either is
/// missing.
pub fn parse_vmstat_swap(text: &str) -> Option<SwapCounters> {
    let (mut i, mut o) = (None, None);
    for l in text.lines() {
        let mut w = l.split_whitespace();
        match (w.next(), w.next()) {
            (Some("pswpin"), Some(v)) => i = v.parse().ok(),
            (Some("pswpout"), Some(v)) => o = v.parse().ok(),
            _ => {}
        }
    }
    Some(SwapCounters {
        pswpin: i?,
        pswpout: o?,
    })
}

/// Swap activity: the totals since boot, and the pages moved between two readings when
/// there were two.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SwapActivity {
    /// The totals since boot (the last reading).
    pub since_boot: SwapCounters,
    /// Pages moved between the two readings.
    pub recent: Option<SwapCounters>,
    /// How far apart the readings were (ms).
    pub interval_ms: Option<u64>,
    /// The page size (bytes).
    pub page_size: u64,
}

impl SwapActivity {
    /// Builds the activity from a first and a last reading `interval_ms` apart (pure).
    pub fn between(
        first: Option<SwapCounters>,
        last: SwapCounters,
        interval_ms: u64,
        page_size: u64,
    ) -> SwapActivity {
        let recent = first.filter(|_| interval_ms > 0).map(|f| SwapCounters {
            pswpin: last.pswpin.saturating_sub(f.pswpin),
            pswpout: last.pswpout.saturating_sub(f.pswpout),
        });
        SwapActivity {
            since_boot: last,
            interval_ms: recent.map(|_| interval_ms),
            recent,
            page_size,
        }
    }

    /// Pages per second swapped in and out between the readings.
    pub fn rates(&self) -> Option<(f64, f64)> {
        let (r, ms) = (self.recent?, self.interval_ms?);
        let s = ms as f64 / 1000.0;
        Some((r.pswpin as f64 / s, r.pswpout as f64 / s))
    }

    /// Whether the host swaps now: at least 1 MiB/s in or out between the readings.
    pub fn swapping_now(&self) -> bool {
        let per_mib = (1024 * 1024 / self.page_size.max(1)) as f64;
        self.rates()
            .is_some_and(|(i, o)| i >= per_mib || o >= per_mib)
    }

    /// The lines that show it.
    pub fn lines(&self) -> Vec<String> {
        let mib = |pages: u64| (pages * self.page_size) as f64 / (1024.0 * 1024.0);
        let mut v = vec![format!(
            "since boot: pswpin {} pswpout {} ({:.1} MiB in, {:.1} MiB out)",
            self.since_boot.pswpin,
            self.since_boot.pswpout,
            mib(self.since_boot.pswpin),
            mib(self.since_boot.pswpout)
        )];
        if let (Some(r), Some(ms)) = (self.recent, self.interval_ms) {
            v.push(format!(
                "in the {ms} ms doctor ran: {} pages in, {} out",
                r.pswpin, r.pswpout
            ));
        }
        v
    }
}

/// Reads the swap counters; `None` when `/proc/vmstat` cannot be read or lacks them.
pub fn read_swap_counters(host: &Host) -> Option<SwapCounters> {
    host.read("/proc/vmstat")
        .ok()
        .and_then(|t| parse_vmstat_swap(&t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_files() {
        let p = parse_psi(
            "some avg10=12.50 avg60=10.00 avg300=2.00 total=123456\n\
             full avg10=6.00 avg60=1.00 avg300=0.50 total=654\n",
        )
        .unwrap();
        assert_eq!(p.some.avg300, 2.0);
        assert_eq!(p.full.unwrap().total_us, 654);
        assert!(p.stalling());
        assert_eq!(
            p.describe(),
            "some avg10=12.50% avg60=10.00% avg300=2.00%; full avg10=6.00% avg60=1.00% avg300=0.50%"
        );
        assert!(parse_psi("some avg10=NaN avg60=0 avg300=0 total=0").is_none());
        assert!(parse_psi("some avg10=1 avg60=0 total=0").is_none());
        assert!(parse_psi("").is_none());
        let calm = parse_psi("some avg10=0.00 avg60=0.00 avg300=0.00 total=0").unwrap();
        assert!(!calm.stalling());
        assert!(calm.full.is_none());
    }

    #[test]
    fn swap_activity() {
        let a = parse_vmstat_swap("nr_free_pages 1\npswpin 100\npswpout 300\n").unwrap();
        assert_eq!(
            a,
            SwapCounters {
                pswpin: 100,
                pswpout: 300
            }
        );
        assert!(parse_vmstat_swap("pswpin 1\n").is_none());
        let b = SwapCounters {
            pswpin: 100 + 512,
            pswpout: 300,
        };
        let act = SwapActivity::between(Some(a), b, 500, 4096);
        assert_eq!(act.rates(), Some((1024.0, 0.0)));
        assert!(act.swapping_now());
        assert_eq!(act.lines().len(), 2);
        let once = SwapActivity::between(None, b, 0, 4096);
        assert!(!once.swapping_now());
        assert_eq!(once.lines().len(), 1);
        assert!(once.lines()[0].starts_with("since boot: pswpin 612 pswpout 300 (2.4 MiB in"));
    }
}
