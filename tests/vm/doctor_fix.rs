//! `doctor --fix` on the incident host, broken as it was: the fixes doctor names, taken
//! least risky first within the cap, and a second run that changes nothing.

use std::time::Duration;

use serde_json::Value;

use crate::guest::BootOpts;
use crate::{assert_clean_single_boot, assert_report, scenario, swaps};

/// The commands of the fixes a `doctor --fix` report took (or planned), in order.
fn fix_commands(doc: &Value) -> Vec<String> {
    doc["fixes"]
        .as_array()
        .unwrap_or_else(|| panic!("a doctor --fix report without fixes: {doc}"))
        .iter()
        .map(|f| f["command"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn doctor_fix_repairs_the_incident_host_within_the_cap() {
    let Some((mut g, _slot, _t)) = scenario(
        "doctor_fix_repairs_the_incident_host_within_the_cap",
        "doctor-fix",
    ) else {
        return;
    };
    g.boot(BootOpts::once(Duration::from_secs(480)));
    assert_clean_single_boot(&g);
    let r = g.last();
    assert_eq!(
        r.value("web-state-before"),
        "created",
        "web started beside nginx"
    );
    assert!(swaps(r.block("swaps-before")).is_empty());

    // At the default cap: swap made, then a stop at the port naming the cap it needs.
    let additive = assert_report(r, "fix-additive", 3, true);
    let done = fix_commands(&additive);
    assert!(
        done.len() == 1 && done[0].starts_with("hostfix swap ensure"),
        "{done:?}"
    );
    let next = additive["next"]["command"].as_str().unwrap_or_default();
    assert!(next.starts_with("hostfix port free 80"), "next: {next:?}");
    assert!(
        additive["error"]
            .as_str()
            .unwrap_or_default()
            .contains("--max-risk disruptive"),
        "{additive:#}"
    );
    assert_eq!(swaps(r.block("swaps-additive")).len(), 1);

    // The dry run shows the rest and takes none of it.
    let dry = r.json("fix-dry");
    assert_eq!(r.exit("fix-dry"), 0, "{dry:#}\n{}", r.stderr("fix-dry"));
    assert_eq!(dry["dry_run"], true);
    // Under --dry-run, `changed` says the run would change the host.
    assert_eq!(dry["changed"], true);
    let planned = fix_commands(&dry);
    assert!(
        planned
            .first()
            .is_some_and(|c| c.starts_with("hostfix port free 80 --remove-package")),
        "{planned:?}"
    );
    assert!(
        planned
            .iter()
            .any(|c| c.contains("start") && c.contains("web")),
        "the dry run does not show web started after the port: {planned:?}"
    );
    assert_eq!(r.value("nginx-active-after-dry"), "active");

    // Taken: the port freed (the package removed), web started and reached.
    let fixed = assert_report(r, "fix", 0, true);
    let taken = fix_commands(&fixed);
    assert_eq!(taken.len(), 2, "{taken:?}");
    assert!(
        taken[0].starts_with("hostfix port free 80 --remove-package"),
        "{taken:?}"
    );
    assert!(
        taken[1].contains("start") && taken[1].contains("web"),
        "{taken:?}"
    );
    assert_ne!(r.value("nginx-active"), "active");
    assert_eq!(r.value("web-state"), "running");
    assert_eq!(r.block("web-http"), r.value("token"));
    let removed: Vec<&str> = r.block("packages-removed").lines().collect();
    assert!(removed.contains(&"nginx-light"), "{removed:?}");
    assert!(removed.iter().all(|p| p.contains("nginx")), "{removed:?}");
    // doctor's request after the start reached the container.
    let after = serde_json::to_string(&fixed["after"]).unwrap_or_default();
    assert!(
        after.contains("web") && !after.contains("nginx.service"),
        "the diagnosis after the fixes: {after}"
    );

    // A second run: nothing to fix.
    let again = assert_report(r, "fix-again", 0, false);
    assert_eq!(again["nothing_to_fix"], true, "{again:#}");
    assert!(fix_commands(&again).is_empty());
}
