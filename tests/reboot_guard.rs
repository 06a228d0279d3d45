//! Every guard rule and their combinations, as a table of cases (pure: ledger, lock, clock
//! and uptime are values).

mod reboot_common;

use std::time::Duration;

use hostfix::error::Refusal;
use hostfix::reboot::{EntryState, LedgerEntry};
use hostfix::testing::reboot::guard::{
    self, GuardInput, GuardVerdict, LedgerInput, LockState, Rules,
};
use hostfix::testing::reboot::{Ledger, Now};
use hostfix::testing::with;
use reboot_common::NOW;

const BOOT: &str = "boot-now";
const MACHINE: &str = "machine-1";
const MIN: u64 = 60;
const HOUR: u64 = 3600;

/// An entry started `ago` seconds before NOW in `boot`.
fn e(id: u64, key: Option<&str>, boot: &str, ago: i64, state: EntryState) -> LedgerEntry {
    with(LedgerEntry::default(), |it| {
        it.id = id;
        it.key = key.map(Into::into);
        it.reason = "test".into();
        it.boot_id = boot.into();
        it.machine_id = Some(MACHINE.into());
        it.started_at = (NOW as i64 - ago) as u64;
        it.delay_secs = 0;
        it.method = "systemctl reboot".into();
        it.state = state;
        it.requested_at = None;
        it.confirmed_at = None;
        it.confirmed_boot_id = None;
        it.error = None;
    })
}

fn with_delay(mut x: LedgerEntry, secs: u64) -> LedgerEntry {
    x.delay_secs = secs;
    x
}

fn requested(mut x: LedgerEntry) -> LedgerEntry {
    x.requested_at = Some(x.started_at);
    x
}

fn foreign(mut x: LedgerEntry) -> LedgerEntry {
    x.machine_id = Some("image-builder".into());
    x
}

use EntryState::{Confirmed, Failed, Started};

struct Case {
    name: &'static str,
    entries: Vec<LedgerEntry>,
    /// The ledger cannot be read.
    corrupt: bool,
    lock: LockState,
    rules: Rules,
    uptime: Option<u64>,
    /// The rules expected to refuse, in report order.
    refusing: &'static [&'static str],
}

fn rules(once: Option<&str>, max: u32, window: u64, min_uptime: Option<u64>) -> Rules {
    with(Rules::default(), |it| {
        it.once = once.map(Into::into);
        it.max_attempts = max;
        it.window = Duration::from_secs(window);
        it.min_uptime = min_uptime.map(Duration::from_secs);
    })
}

fn case(
    name: &'static str,
    entries: Vec<LedgerEntry>,
    r: Rules,
    refusing: &'static [&'static str],
) -> Case {
    Case {
        name,
        entries,
        corrupt: false,
        lock: LockState::Held,
        rules: r,
        uptime: Some(2 * HOUR),
        refusing,
    }
}

#[test]
fn guard_table() {
    let d = Rules::default();
    let mut cases = vec![
        case("empty ledger, defaults", vec![], d.clone(), &[]),
        // once
        case(
            "once: key used by a completed reboot",
            vec![e(1, Some("k"), "boot-old", 5 * HOUR as i64, Confirmed)],
            rules(Some("k"), 3, HOUR, None),
            &["once"],
        ),
        case(
            "once: key used, started in an earlier boot but not yet confirmed",
            vec![e(1, Some("k"), "boot-old", 5 * HOUR as i64, Started)],
            rules(Some("k"), 3, HOUR, None),
            &["once"],
        ),
        case(
            "once: key used by a requested reboot that never happened (same boot, long ago)",
            vec![requested(e(1, Some("k"), BOOT, 5 * HOUR as i64, Started))],
            rules(Some("k"), 3, HOUR, None),
            &["once"],
        ),
        case(
            "once: key used by a run killed before it asked (same boot, never requested)",
            vec![e(1, Some("k"), BOOT, 5 * HOUR as i64, Started)],
            rules(Some("k"), 3, HOUR, None),
            &[],
        ),
        case(
            "once: key used only by a failed request",
            vec![e(1, Some("k"), BOOT, 5 * HOUR as i64, Failed)],
            rules(Some("k"), 3, HOUR, None),
            &[],
        ),
        case(
            "once: another key",
            vec![e(1, Some("j"), "boot-old", 5 * HOUR as i64, Confirmed)],
            rules(Some("k"), 3, HOUR, None),
            &[],
        ),
        case(
            "once: key used on another machine (ledger baked into an image)",
            vec![foreign(e(
                1,
                Some("k"),
                "boot-img",
                50 * HOUR as i64,
                Confirmed,
            ))],
            rules(Some("k"), 3, HOUR, None),
            &[],
        ),
        case(
            "no once key: a used key does not matter",
            vec![e(1, Some("k"), "boot-old", 5 * HOUR as i64, Confirmed)],
            d.clone(),
            &[],
        ),
        // pending
        case(
            "pending: requested a minute ago in this boot",
            vec![e(1, None, BOOT, MIN as i64, Started)],
            d.clone(),
            &["pending"],
        ),
        case(
            "pending: delay of an hour, started 30 minutes ago",
            vec![with_delay(e(1, None, BOOT, 30 * MIN as i64, Started), HOUR)],
            d.clone(),
            &["pending"],
        ),
        case(
            "not pending: same boot, due long ago (never happened)",
            vec![e(1, None, BOOT, 2 * HOUR as i64, Started)],
            d.clone(),
            &[],
        ),
        case(
            "not pending: a failed request a minute ago",
            vec![e(1, None, BOOT, MIN as i64, Failed)],
            d.clone(),
            &[],
        ),
        // max-attempts
        case(
            "max-attempts: 3 in the last hour (default 3/1h)",
            vec![
                e(1, None, "b1", 50 * MIN as i64, Confirmed),
                e(2, None, "b2", 30 * MIN as i64, Confirmed),
                e(3, None, "b3", 20 * MIN as i64, Confirmed),
            ],
            d.clone(),
            &["max-attempts"],
        ),
        case(
            "max-attempts: 2 in the last hour, 1 older",
            vec![
                e(1, None, "b1", 61 * MIN as i64, Confirmed),
                e(2, None, "b2", 30 * MIN as i64, Confirmed),
                e(3, None, "b3", 20 * MIN as i64, Confirmed),
            ],
            d.clone(),
            &[],
        ),
        case(
            "max-attempts: failed requests count as attempts",
            vec![
                e(1, None, BOOT, 40 * MIN as i64, Failed),
                e(2, None, BOOT, 30 * MIN as i64, Failed),
                e(3, None, BOOT, 20 * MIN as i64, Failed),
            ],
            d.clone(),
            &["max-attempts"],
        ),
        case(
            "max-attempts 1 per day: one 23 hours ago",
            vec![e(1, None, "b1", 23 * HOUR as i64, Confirmed)],
            rules(None, 1, 24 * HOUR, None),
            &["max-attempts"],
        ),
        case(
            "max-attempts: an entry from the future (clock went back) counts",
            vec![e(1, None, "b1", -(2 * HOUR as i64), Confirmed)],
            rules(None, 1, HOUR, None),
            &["max-attempts"],
        ),
        case(
            "max-attempts: foreign entries do not count",
            vec![
                foreign(e(1, None, "b1", 10 * MIN as i64, Confirmed)),
                foreign(e(2, None, "b2", 10 * MIN as i64, Confirmed)),
                foreign(e(3, None, "b3", 10 * MIN as i64, Confirmed)),
            ],
            d.clone(),
            &[],
        ),
        // min-uptime
        Case {
            uptime: Some(5 * MIN),
            ..case(
                "min-uptime: up 5m, needs 10m",
                vec![],
                rules(None, 3, HOUR, Some(10 * MIN)),
                &["min-uptime"],
            )
        },
        Case {
            uptime: Some(15 * MIN),
            ..case(
                "min-uptime: up 15m, needs 10m",
                vec![],
                rules(None, 3, HOUR, Some(10 * MIN)),
                &[],
            )
        },
        Case {
            uptime: None,
            ..case(
                "min-uptime: uptime unreadable",
                vec![],
                rules(None, 3, HOUR, Some(10 * MIN)),
                &["min-uptime"],
            )
        },
        Case {
            uptime: None,
            ..case(
                "no min-uptime: unreadable uptime does not matter",
                vec![],
                d.clone(),
                &[],
            )
        },
        // lock
        Case {
            lock: LockState::Busy(
                "another hostfix run holds the lock /var/lib/hostfix/lock".into(),
            ),
            ..case("lock: held by another run", vec![], d.clone(), &["lock"])
        },
        Case {
            lock: LockState::Error("permission denied".into()),
            ..case("lock: cannot be taken", vec![], d.clone(), &["lock"])
        },
        Case {
            lock: LockState::Free,
            ..case("lock: free (dry run probe)", vec![], d.clone(), &[])
        },
        // ledger (fail closed)
        Case {
            corrupt: true,
            ..case(
                "ledger corrupt, defaults",
                vec![],
                d.clone(),
                &["ledger", "pending", "max-attempts"],
            )
        },
        Case {
            corrupt: true,
            ..case(
                "ledger corrupt, with a key",
                vec![],
                rules(Some("k"), 3, HOUR, None),
                &["ledger", "once", "pending", "max-attempts"],
            )
        },
        // combinations
        Case {
            uptime: Some(MIN),
            ..case(
                "once and min-uptime both refuse",
                vec![e(1, Some("k"), "boot-old", 5 * HOUR as i64, Confirmed)],
                rules(Some("k"), 3, HOUR, Some(10 * MIN)),
                &["once", "min-uptime"],
            )
        },
        Case {
            lock: LockState::Busy("busy".into()),
            ..case(
                "lock and max-attempts both refuse",
                vec![
                    e(1, None, "b1", 10 * MIN as i64, Confirmed),
                    e(2, None, "b2", 5 * MIN as i64, Confirmed),
                ],
                rules(None, 2, HOUR, None),
                &["lock", "max-attempts"],
            )
        },
        case(
            "a loop: once key reused in a pending boot at the attempt cap",
            vec![
                e(1, Some("k"), "b1", 40 * MIN as i64, Confirmed),
                e(2, Some("k2"), "b2", 20 * MIN as i64, Confirmed),
                e(3, Some("k3"), BOOT, MIN as i64, Started),
            ],
            rules(Some("k"), 3, HOUR, None),
            &["once", "pending", "max-attempts"],
        ),
        Case {
            uptime: Some(3 * HOUR),
            ..case(
                "every rule set, every rule allows",
                vec![
                    e(1, Some("old"), "b1", 5 * HOUR as i64, Confirmed),
                    e(2, None, BOOT, 2 * HOUR as i64, Failed),
                ],
                rules(Some("new"), 2, HOUR, Some(HOUR)),
                &[],
            )
        },
    ];
    let mut failures = Vec::new();
    for c in cases.drain(..) {
        let ledger = Ledger {
            version: 1,
            entries: c.entries.clone(),
        };
        let corrupt_why = "the reboot ledger /var/lib/hostfix/reboot-ledger.json is corrupt";
        let input = GuardInput {
            ledger: if c.corrupt {
                LedgerInput::Unusable(corrupt_why)
            } else {
                LedgerInput::Read(&ledger)
            },
            lock: &c.lock,
            now: Now {
                boot_id: BOOT,
                machine_id: Some(MACHINE),
                time: NOW,
            },
            uptime: c.uptime.map(Duration::from_secs).ok_or("no /proc/uptime"),
        };
        let verdicts = guard::evaluate(&input, &c.rules);
        let names: Vec<&str> = verdicts.iter().map(|v| v.rule.as_str()).collect();
        assert_eq!(
            names,
            [
                "ledger",
                "lock",
                "once",
                "pending",
                "max-attempts",
                "min-uptime"
            ],
            "{}: every rule has a verdict, in order",
            c.name
        );
        let refusing: Vec<&str> = verdicts
            .iter()
            .filter(|v| v.verdict == GuardVerdict::Refuse)
            .map(|v| v.rule.as_str())
            .collect();
        if refusing != c.refusing {
            failures.push(format!(
                "{}: refusing {refusing:?}, expected {:?}\n  {verdicts:#?}",
                c.name, c.refusing
            ));
            continue;
        }
        // Every verdict says why.
        assert!(verdicts.iter().all(|v| !v.detail.is_empty()), "{}", c.name);
        // Off exactly when the rule was not asked for.
        assert_eq!(
            verdicts[2].verdict == GuardVerdict::Off,
            c.rules.once.is_none(),
            "{}",
            c.name
        );
        assert_eq!(
            verdicts[5].verdict == GuardVerdict::Off,
            c.rules.min_uptime.is_none(),
            "{}",
            c.name
        );
        match (guard::refusal(&verdicts), c.refusing.first()) {
            (None, None) => {}
            (Some(Refusal::Guard { rule, detail }), Some(first)) => {
                assert_eq!(&rule, first, "{}", c.name);
                for other in &c.refusing[1..] {
                    assert!(detail.contains(other), "{}: {detail}", c.name);
                }
                let e: hostfix::Error = Refusal::Guard { rule, detail }.into();
                assert_eq!(e.exit_code(), 3);
            }
            (r, f) => failures.push(format!("{}: refusal {r:?}, expected {f:?}", c.name)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn verdicts_say_why() {
    let ledger = Ledger {
        version: 1,
        entries: vec![
            e(1, None, "b1", 50 * MIN as i64, Confirmed),
            e(2, Some("first-boot"), "b2", 30 * MIN as i64, Confirmed),
        ],
    };
    let lock = LockState::Held;
    let input = GuardInput {
        ledger: LedgerInput::Read(&ledger),
        lock: &lock,
        now: Now {
            boot_id: BOOT,
            machine_id: Some(MACHINE),
            time: NOW,
        },
        uptime: Ok(Duration::from_secs(5 * MIN)),
    };
    let v = guard::evaluate(&input, &rules(Some("first-boot"), 2, HOUR, Some(10 * MIN)));
    assert!(
        v[2].detail
            .contains("\"first-boot\" was already used by reboot #2"),
        "{}",
        v[2].detail
    );
    assert!(
        v[4].detail.starts_with("2 reboots started in the last 1h"),
        "{}",
        v[4].detail
    );
    assert_eq!(v[5].detail, "up 5m, less than the 10m required");
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json[2]["rule"], "once");
    assert_eq!(json[2]["verdict"], "refuse");
}
