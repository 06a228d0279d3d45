//! The library's typed surface as a caller sees it from outside the crate: specs read
//! from a provisioning config equal the ones built in code, unknown or bad fields are
//! refused, every command's default cap and consent rule, the typed outcome and the
//! human rendering.

use std::time::Duration;

use hostfix::container::RemoveOptions as ContainerRemove;
use hostfix::doctor::DoctorOptions;
use hostfix::port::{FreeSpec, Proto, WhoSpec};
use hostfix::reboot::{RebootMethod, RebootSpec};
use hostfix::resources::{CheckSpec, check};
use hostfix::size::Threshold;
use hostfix::swap::{Persist, RemoveOptions, SwapSize, SwapSpec};
use hostfix::testing::{FakeRoot, with};
use hostfix::{Outcome, Policy, Risk, StepStatus};

fn json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

#[test]
fn specs_from_a_config_equal_the_specs_built_in_code() {
    let s: SwapSpec = json(
        r#"{"size": "2G", "persist": "systemd", "swappiness": 10, "lock_wait": "1m",
            "keep_free": ["5%", "512M"], "auto_max": "4G"}"#,
    )
    .unwrap();
    let want = with(SwapSpec::new(SwapSize::Bytes(2 << 30)), |w| {
        w.persist = Persist::Systemd;
        w.swappiness = Some(10);
        w.lock_wait = Duration::from_secs(60);
        w.keep_free = vec![Threshold::Percent(5.0), Threshold::Absolute(512 << 20)];
        w.auto_max = 4 << 30;
    });
    assert_eq!(s, want);
    // Without a size, `auto` (cloud-init's default); every other field its default.
    assert_eq!(
        json::<SwapSpec>("{}").unwrap(),
        SwapSpec::new(SwapSize::Auto)
    );
    assert_eq!(
        json::<SwapSpec>(r#"{"size": 1048576}"#).unwrap().size,
        SwapSize::Bytes(1 << 20)
    );

    let r: RemoveOptions = json(r#"{"path": "/var/swap", "memory_margin": "1G"}"#).unwrap();
    assert_eq!(
        r,
        with(RemoveOptions::default(), |w| {
            w.path = "/var/swap".into();
            w.memory_margin = 1 << 30;
        })
    );

    let f: FreeSpec = json(r#"{"port": 80, "remove_package": true, "timeout": "20s"}"#).unwrap();
    assert_eq!(
        f,
        with(FreeSpec::tcp(80), |w| {
            w.remove_package = true;
            w.timeout = Duration::from_secs(20);
        })
    );
    assert_eq!(
        json::<FreeSpec>(r#"{"port": 53, "proto": "udp"}"#)
            .unwrap()
            .proto,
        Proto::Udp
    );
    assert_eq!(
        json::<WhoSpec>(r#"{"port": 443}"#).unwrap(),
        WhoSpec::tcp(443)
    );

    let b: RebootSpec = json(
        r#"{"if_needed": true, "rules": {"once": "k1", "window": "2h", "min_uptime": 600},
            "delay": "90s", "method": "auto"}"#,
    )
    .unwrap();
    let want = with(RebootSpec::default(), |w| {
        w.if_needed = true;
        w.rules.once = Some("k1".into());
        w.rules.window = Duration::from_secs(7200);
        w.rules.min_uptime = Some(Duration::from_secs(600));
        w.delay = Duration::from_secs(90);
        w.method = RebootMethod::Auto;
    });
    assert_eq!(b, want);

    let c: CheckSpec =
        json(r#"{"mem_available": ["10%"], "disk_free": ["/=2G"], "inodes_free": ["/=5%"]}"#)
            .unwrap();
    assert_eq!(c.mem_available, [Threshold::Percent(10.0)]);
    assert_eq!(c.disk_free, [("/".into(), Threshold::Absolute(2 << 30))]);
    assert_eq!(c.inodes_free, [("/".into(), Threshold::Percent(5.0))]);
    assert!(c.validate().is_ok());

    let o: ContainerRemove = json(r#"{"target": "web", "stop_grace": "20s"}"#).unwrap();
    assert_eq!(
        o,
        with(ContainerRemove::new("web"), |w| w.stop_grace =
            Duration::from_secs(20))
    );
    let d: DoctorOptions = json(r#"{"ports": [8080]}"#).unwrap();
    assert_eq!(d, with(DoctorOptions::default(), |w| w.ports = vec![8080]));
}

#[test]
fn a_config_with_an_unknown_field_a_missing_target_or_a_bad_value_is_refused() {
    for (what, err) in [
        ("swap typo", json::<SwapSpec>(r#"{"sise": "2G"}"#).err()),
        ("bad size", json::<SwapSpec>(r#"{"size": "2X"}"#).err()),
        (
            "bad wait",
            json::<SwapSpec>(r#"{"lock_wait": "-1s"}"#).err(),
        ),
        (
            "no port",
            json::<FreeSpec>(r#"{"remove_package": true}"#).err(),
        ),
        (
            "no target",
            json::<ContainerRemove>(r#"{"stop_grace": 5}"#).err(),
        ),
        (
            "bad rule",
            json::<RebootSpec>(r#"{"rules": {"onse": "k"}}"#).err(),
        ),
        (
            "zero %",
            json::<CheckSpec>(r#"{"mem_available": ["0%"]}"#).err(),
        ),
        (
            "no =",
            json::<CheckSpec>(r#"{"disk_free": ["/var"]}"#).err(),
        ),
        (
            "NaN-ish",
            json::<CheckSpec>(r#"{"mem_available": [{"percent": 1000}]}"#).err(),
        ),
    ] {
        assert!(err.is_some(), "{what} was accepted");
    }
}

#[test]
fn validate_refuses_what_a_hand_built_spec_gets_wrong() {
    // A percentage built by hand, past the parsers.
    for t in [f64::NAN, f64::INFINITY, 0.0, -5.0, 100.5] {
        let mut c = CheckSpec::default();
        c.mem_available.push(Threshold::Percent(t));
        let e = c.validate().unwrap_err();
        assert!(e.to_string().contains("--mem-available"), "{t}: {e}");
        let s = with(SwapSpec::new(SwapSize::Auto), |s| {
            s.keep_free = vec![Threshold::Percent(t)];
        });
        assert!(s.validate().is_err(), "keep_free {t}");
    }
    assert!(
        CheckSpec::default().validate().is_err(),
        "a check of nothing"
    );
    assert!(WhoSpec::tcp(0).validate().is_err());
    assert!(FreeSpec::tcp(0).validate().is_err());
    let far = with(RemoveOptions::default(), |o| {
        o.lock_wait = Duration::from_secs(2 * 86400);
    });
    assert!(far.validate().is_err());
    assert!(RemoveOptions::default().validate().is_ok());
}

#[test]
fn each_command_has_its_default_cap_and_remove_package_is_the_consent() {
    assert_eq!(SwapSpec::new(SwapSize::Auto).default_cap(), Risk::Additive);
    assert_eq!(RemoveOptions::default().default_cap(), Risk::Destructive);
    assert_eq!(WhoSpec::tcp(80).default_cap(), Risk::ReadOnly);
    assert_eq!(FreeSpec::tcp(80).default_cap(), Risk::Disruptive);
    let consent = with(FreeSpec::tcp(80), |s| s.remove_package = true);
    assert_eq!(consent.default_cap(), Risk::Destructive);
    assert_eq!(CheckSpec::default().default_cap(), Risk::ReadOnly);
    assert_eq!(RebootSpec::default().default_cap(), Risk::Reboot);
    assert_eq!(ContainerRemove::new("web").default_cap(), Risk::Disruptive);
    assert_eq!(DoctorOptions::default().default_cap(), Risk::ReadOnly);
}

#[test]
fn outcomes_and_statuses_are_typed_and_display_as_the_json_spells_them() {
    for (o, text, code) in [
        (Outcome::Ok, "ok", 0),
        (Outcome::Failed, "failed", 1),
        (Outcome::BadInput, "bad-input", 2),
        (Outcome::Refused, "refused", 3),
    ] {
        assert_eq!(o.to_string(), text);
        assert_eq!(serde_json::to_value(o).unwrap(), text);
        assert_eq!(o.exit_code(), code);
    }
    for (s, text) in [
        (StepStatus::Planned, "planned"),
        (StepStatus::Done, "done"),
        (StepStatus::Skipped, "skipped"),
        (StepStatus::Refused, "refused"),
        (StepStatus::Failed, "failed"),
    ] {
        assert_eq!(s.to_string(), text);
        assert_eq!(serde_json::to_value(s).unwrap(), text);
    }
    assert_eq!(Risk::Destructive.to_string(), "destructive");
}

#[test]
fn a_report_renders_for_people_and_keeps_its_json() {
    let root = FakeRoot::new();
    root.meminfo(4 << 30, 1 << 30);
    let (host, _) = root.host();
    let mut spec = CheckSpec::default();
    spec.mem_available = vec![Threshold::parse_size("50%").unwrap()];
    let report = check(&host, &spec, &Policy::new(spec.default_cap()));
    assert_eq!(report.outcome(), Outcome::Failed);
    let text = report.to_string();
    assert!(text.starts_with("check: FAILED\n"), "{text}");
    assert!(
        text.contains("  [BELOW] mem-available: 1 GiB available, needs 50% (2 GiB of 4 GiB)\n"),
        "{text}"
    );
    assert!(
        text.ends_with("failed: mem-available is 1 GiB, below 50%\n"),
        "{text}"
    );
    let doc = serde_json::to_value(&report).unwrap();
    assert_eq!(doc["outcome"], "failed");
    assert_eq!(doc["exit_code"], 1);
    assert_eq!(doc["checks"][0]["holds"], false);
}
