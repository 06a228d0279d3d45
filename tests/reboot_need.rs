//! Need detection from fixture roots: each source alone, all together, and the kernel
//! comparison's traps (initrds, `.old` images, other flavours, leftover module trees,
//! custom kernels).

mod reboot_common;

use hostfix::reboot::{NeedReason, NeedSource, NeedVerdict, RebootNeed};
use hostfix::testing::reboot::detect_need;
use hostfix::testing::{CmdOutput, RecordingSystem};
use reboot_common::{fixture, host};

fn verdict(n: &RebootNeed, s: NeedSource) -> NeedVerdict {
    n.check(s)
        .unwrap_or_else(|| panic!("{s:?} not checked"))
        .verdict
}

fn needs_restarting_calls(rec: &RecordingSystem) -> Vec<String> {
    rec.commands()
        .into_iter()
        .filter(|c| c.contains("needs-restarting"))
        .collect()
}

#[test]
fn nothing_needed_despite_the_traps() {
    // Newer rt kernel, newer initrd, newer .old image and a leftover module tree: none is
    // an installed kernel of the running flavour.
    let (h, rec) = host(&fixture("none"));
    let n = detect_need(&h, None);
    assert!(!n.needed, "{n:?}");
    assert!(n.reasons.is_empty());
    assert_eq!(
        verdict(&n, NeedSource::RebootRequired),
        NeedVerdict::NotNeeded
    );
    assert_eq!(verdict(&n, NeedSource::Kernel), NeedVerdict::NotNeeded);
    // No needs-restarting in this root: absent, and nothing was run.
    assert_eq!(
        verdict(&n, NeedSource::NeedsRestarting),
        NeedVerdict::Absent
    );
    assert!(needs_restarting_calls(&rec).is_empty());
    // No condition given: the caller source is not consulted.
    assert!(n.check(NeedSource::Caller).is_none());
    assert_eq!(n.summary(), "no reason found");
}

#[test]
fn reboot_required_alone_with_its_packages() {
    let (h, _) = host(&fixture("reboot-required"));
    let n = detect_need(&h, None);
    assert!(n.needed);
    assert_eq!(
        n.reasons,
        vec![NeedReason::RebootRequired {
            packages: vec!["linux-image-6.1.0-18-cloud-amd64".into(), "libc6".into()]
        }]
    );
    assert_eq!(verdict(&n, NeedSource::Kernel), NeedVerdict::NotNeeded);
    assert!(n.summary().contains("libc6"), "{}", n.summary());
}

#[test]
fn newer_kernel_alone() {
    let (h, _) = host(&fixture("kernel"));
    let n = detect_need(&h, None);
    assert_eq!(
        n.reasons,
        vec![NeedReason::Kernel {
            running: "6.1.0-9-cloud-amd64".into(),
            newest: "6.1.0-18-cloud-amd64".into()
        }]
    );
    assert_eq!(
        verdict(&n, NeedSource::RebootRequired),
        NeedVerdict::NotNeeded
    );
}

#[test]
fn newer_kernel_from_module_trees_only() {
    // Fedora-style: images under /usr/lib/modules/REL/vmlinuz; +debug is another flavour.
    let (h, _) = host(&fixture("modules-only"));
    let n = detect_need(&h, None);
    assert_eq!(
        n.reasons,
        vec![NeedReason::Kernel {
            running: "6.7.4-200.fc39.x86_64".into(),
            newest: "6.8.5-301.fc40.x86_64".into()
        }]
    );
}

#[test]
fn custom_kernel_is_unknown_not_a_reason() {
    let (h, _) = host(&fixture("custom-kernel"));
    let n = detect_need(&h, None);
    assert!(!n.needed);
    let k = n.check(NeedSource::Kernel).unwrap();
    assert_eq!(k.verdict, NeedVerdict::Unknown);
    assert!(k.detail.contains("6.18.44-custom"), "{}", k.detail);
}

#[test]
fn needs_restarting_alone_by_exit_code() {
    let out = "Core libraries or services have been updated since boot-up:\n  * kernel\n  \
               * glibc\n\nReboot is required to fully utilize these updates.\n";
    let (h, rec) = host(&fixture("needs-restarting"));
    rec.respond(
        "/usr/bin/needs-restarting -r",
        CmdOutput {
            status: Some(1),
            stdout: out.into(),
            stderr: String::new(),
        },
    );
    let n = detect_need(&h, None);
    assert_eq!(
        n.reasons,
        vec![NeedReason::NeedsRestarting {
            packages: vec!["kernel".into(), "glibc".into()]
        }]
    );
    assert_eq!(
        needs_restarting_calls(&rec),
        vec!["/usr/bin/needs-restarting -r"]
    );

    // Exit 0: not needed.
    let (h, rec) = host(&fixture("needs-restarting"));
    rec.respond(
        "/usr/bin/needs-restarting",
        CmdOutput::ok("No core libraries..."),
    );
    let n = detect_need(&h, None);
    assert!(!n.needed);
    assert_eq!(
        verdict(&n, NeedSource::NeedsRestarting),
        NeedVerdict::NotNeeded
    );

    // Any other exit: unknown, never a reason.
    let (h, rec) = host(&fixture("needs-restarting"));
    rec.respond(
        "/usr/bin/needs-restarting",
        CmdOutput::failed(2, "not root"),
    );
    let n = detect_need(&h, None);
    assert!(!n.needed);
    let c = n.check(NeedSource::NeedsRestarting).unwrap();
    assert_eq!(c.verdict, NeedVerdict::Unknown);
    assert!(c.detail.contains("status 2"), "{}", c.detail);
}

#[test]
fn caller_condition_alone() {
    let (h, rec) = host(&fixture("none"));
    rec.respond_once("sh -c", CmdOutput::ok(""));
    let n = detect_need(&h, Some("test -e /var/lib/app/upgraded"));
    assert_eq!(
        n.reasons,
        vec![NeedReason::Caller {
            command: "test -e /var/lib/app/upgraded".into()
        }]
    );
    assert!(
        rec.commands()
            .contains(&"sh -c 'test -e /var/lib/app/upgraded'".to_string())
    );

    rec.respond_once("sh -c", CmdOutput::failed(1, ""));
    let n = detect_need(&h, Some("false"));
    assert!(!n.needed);
    assert_eq!(verdict(&n, NeedSource::Caller), NeedVerdict::NotNeeded);

    rec.respond_once("sh -c", CmdOutput::failed(127, "sh: nosuch: not found"));
    let n = detect_need(&h, Some("nosuch"));
    assert!(!n.needed);
    assert_eq!(verdict(&n, NeedSource::Caller), NeedVerdict::Unknown);
}

#[test]
fn every_source_together() {
    let (h, rec) = host(&fixture("all"));
    rec.respond(
        "/usr/bin/needs-restarting -r",
        CmdOutput {
            status: Some(1),
            stdout: "  * kernel\n".into(),
            stderr: String::new(),
        },
    );
    rec.respond("sh -c", CmdOutput::ok(""));
    let n = detect_need(&h, Some("true"));
    assert!(n.needed);
    let sources: Vec<&str> = n
        .reasons
        .iter()
        .map(|r| match r {
            NeedReason::RebootRequired { .. } => "reboot-required",
            NeedReason::NeedsRestarting { .. } => "needs-restarting",
            NeedReason::Kernel { .. } => "kernel",
            NeedReason::Caller { .. } => "caller",
            other => panic!("a reason this test does not know: {other:?}"),
        })
        .collect();
    assert_eq!(
        sources,
        ["reboot-required", "needs-restarting", "kernel", "caller"]
    );
    assert!(n.checks.iter().all(|c| c.verdict == NeedVerdict::Needed));
    // One typed answer, serialized with every reason.
    let json = serde_json::to_value(&n).unwrap();
    assert_eq!(json["needed"], true);
    assert_eq!(json["reasons"][2]["source"], "kernel");
    assert_eq!(json["reasons"][2]["newest"], "6.1.0-18-cloud-amd64");
    assert_eq!(json["checks"][1]["verdict"], "needed");
}
