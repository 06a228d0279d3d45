//! dpkg's status file and relation fields, apt/rpm/pacman/apk simulation and query
//! output, and the dpkg backend over a root of arbitrary bytes.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::{cfg, lines_of, text, weird_token};
use crate::host::Host;
use crate::package::{
    Dpkg, PackageManager, list_owns, parse_apk_del_simulation, parse_apk_installed,
    parse_apk_who_owns, parse_apt_simulation, parse_dpkg_relation_names, parse_dpkg_status,
    parse_pacman_breaks, parse_pacman_desc, parse_pacman_hold_pkgs, parse_pacman_relations,
    parse_rpm_needed_by, rpm_source_name, split_name_version, strip_arch, usr_merge_twins,
};

/// A package name as Debian, RPM, Alpine and Arch spell them.
fn name() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9+.]{0,8}(-[a-z][a-z0-9+.]{0,5}){0,2}"
}

fn version() -> impl Strategy<Value = String> {
    "([0-9]:)?[0-9]{1,3}(\\.[0-9]{1,3}){0,2}(-[0-9a-z.~+]{1,6})?"
}

/// Noise with the field names and markers the parsers look for.
fn package_text() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        weird_token(),
        proptest::sample::select(vec![
            "Package:",
            "Status:",
            "Depends:",
            "Pre-Depends:",
            "Provides:",
            "Source:",
            "Essential: yes",
            "Remv",
            "Inst",
            "P:",
            "V:",
            "o:",
            "%NAME%",
            "%VERSION%",
            "%BASE%",
            "%DEPENDS%",
            "%PROVIDES%",
            "HoldPkg =",
            "required by ",
            "is needed by (installed) ",
            " is owned by ",
            "not removed due to",
            "Purging",
            "(1/2) ",
            "install ok installed",
            "\n",
            "\n\n",
            " ",
            ":",
            "|",
            ",",
            "(",
            ")",
        ])
        .prop_map(String::from),
        name(),
    ];
    prop_oneof![
        text(),
        proptest::collection::vec(token, 0..40).prop_map(|t| t.concat()),
    ]
}

#[derive(Debug, Clone)]
struct Para {
    package: String,
    version: String,
    state: String,
    source: Option<String>,
    essential: bool,
    depends: Vec<String>,
}

fn para() -> impl Strategy<Value = Para> {
    (
        name(),
        version(),
        prop_oneof![
            Just("installed"),
            Just("config-files"),
            Just("half-configured")
        ],
        proptest::option::of(name()),
        any::<bool>(),
        proptest::collection::vec(name(), 0..4),
    )
        .prop_map(
            |(package, version, state, source, essential, depends)| Para {
                package,
                version,
                state: state.to_string(),
                source,
                essential,
                depends,
            },
        )
}

fn para_text(p: &Para) -> String {
    let mut s = format!(
        "Package: {}\nStatus: install ok {}\nPriority: optional\nArchitecture: amd64\n",
        p.package, p.state
    );
    if p.essential {
        s.push_str("Essential: yes\n");
    }
    if let Some(src) = &p.source {
        s.push_str(&format!("Source: {src} ({})\n", p.version));
    }
    s.push_str(&format!("Version: {}\n", p.version));
    if !p.depends.is_empty() {
        let deps: Vec<String> = p
            .depends
            .iter()
            .enumerate()
            .map(|(i, d)| match i % 3 {
                0 => format!("{d} (>= 1.0)"),
                1 => format!("{d}:any"),
                _ => format!("{d} [amd64] | {d}"),
            })
            .collect();
        s.push_str(&format!("Depends: {}\n", deps.join(", ")));
    }
    s.push_str("Description: a package\n multi-line\n .\n");
    s
}

fn dedup(v: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for x in v {
        if !out.contains(x) {
            out.push(x.clone());
        }
    }
    out
}

proptest! {
    // 256 cases: each test builds output of up to eight packages, ~1 ms of CPU a case.
    #![proptest_config(cfg(256))]

    #[test]
    fn dpkg_never_panics(s in prop_oneof![
        package_text(),
        proptest::collection::vec(para(), 0..4)
            .prop_flat_map(|ps| (Just(ps), 0..200usize, weird_token()))
            .prop_map(|(ps, at, tok)| {
                let mut t: String = ps.iter().map(|p| para_text(p) + "\n").collect();
                let at = (0..=at.min(t.len())).rev().find(|i| t.is_char_boundary(*i)).unwrap_or(0);
                t.insert_str(at, &tok);
                t
            }),
    ]) {
        for e in parse_dpkg_status(&s) {
            prop_assert!(!e.package.is_empty());
            let _ = (e.to_info(), e.relations(), e.is_installed());
        }
        let _ = parse_dpkg_relation_names(&s);
        let _ = list_owns(&s, &[PathBuf::from("/usr/sbin/nginx")]);
    }

    #[test]
    fn dpkg_round_trip(ps in proptest::collection::vec(para(), 0..5), crlf_gap in "\n{1,3}") {
        let text: String = ps.iter().map(|p| para_text(p) + &crlf_gap).collect();
        let got = parse_dpkg_status(&text);
        prop_assert_eq!(got.len(), ps.len());
        for (e, p) in got.iter().zip(&ps) {
            prop_assert_eq!(&e.package, &p.package);
            prop_assert_eq!(e.version.as_deref(), Some(p.version.as_str()));
            prop_assert_eq!(&e.state, &p.state);
            prop_assert_eq!(&e.source, &p.source);
            prop_assert_eq!(e.essential, p.essential);
            prop_assert_eq!(&e.depends, &dedup(&p.depends));
            prop_assert_eq!(e.is_installed(), p.state != "config-files");
        }
    }

    #[test]
    fn apt_simulation(s in package_text(), rm in proptest::collection::vec((name(), version()), 0..5), arch in "(:amd64)?") {
        let _ = parse_apt_simulation(&s);
        let out: String = rm.iter().map(|(n, v)| format!("Remv {n}{arch} [{v}]\nInst {n}-new ({v} Debian:12/stable [amd64])\n")).collect();
        let sim = parse_apt_simulation(&format!("NOTE: This is only a simulation!\n{out}"));
        let names: Vec<String> = rm.iter().map(|(n, _)| n.clone()).collect();
        prop_assert_eq!(sim.removes, dedup(&names));
        prop_assert_eq!(sim.installs, dedup(&names.iter().map(|n| format!("{n}-new")).collect::<Vec<_>>()));
    }

    #[test]
    fn apk_output(
        s in package_text(),
        pkgs in proptest::collection::vec((name(), version(), proptest::option::of(name())), 0..5),
    ) {
        let _ = (parse_apk_who_owns(&s), parse_apk_installed(&s), parse_apk_del_simulation(&s));
        let db: String = pkgs
            .iter()
            .map(|(n, v, o)| format!("C:Q1abc=\nP:{n}\nV:{v}\n{}A:x86_64\n\n", o.as_ref().map(|o| format!("o:{o}\n")).unwrap_or_default()))
            .collect();
        let got = parse_apk_installed(&db);
        prop_assert_eq!(got.len(), pkgs.len());
        for ((n, v, o), (gn, gv, go)) in pkgs.iter().zip(&got) {
            prop_assert_eq!(n, gn);
            prop_assert_eq!(Some(v), gv.as_ref());
            prop_assert_eq!(o.as_ref(), go.as_ref());
        }
        if let Some((n, v, _)) = pkgs.first() {
            // An apk version has no dash of its own: `-rN` is the only one.
            let owns = format!("/usr/sbin/x is owned by {n}-{}-r7\n", v.replace('-', "_"));
            prop_assert_eq!(parse_apk_who_owns(&owns), Some(n.clone()));
        }
        let del: String = pkgs.iter().enumerate().map(|(i, (n, v, _))| format!("({}/{}) Purging {n} ({v})\n", i + 1, pkgs.len())).collect();
        let (removed, blockers) = parse_apk_del_simulation(&del);
        prop_assert_eq!(removed, pkgs.iter().map(|p| p.0.clone()).collect::<Vec<_>>());
        prop_assert!(blockers.is_empty());
    }

    #[test]
    fn rpm_output(s in package_text(), pkgs in proptest::collection::vec((name(), version()), 0..5)) {
        let _ = (split_name_version(&s), rpm_source_name(&s), parse_rpm_needed_by(&s));
        let err: String = pkgs.iter().map(|(n, v)| format!("\tnginx = 1 is needed by (installed) {n}-{v}-1.fc39.x86_64\n")).collect();
        let want: Vec<String> = pkgs.iter().map(|(n, v)| {
            // rpm's NVR splits at the last two dashes: a version with its own dash moves
            // into the release, and the name keeps what is left.
            let nvr = format!("{n}-{v}-1.fc39.x86_64");
            let mut parts: Vec<&str> = nvr.rsplitn(3, '-').collect();
            parts.pop().unwrap().to_string()
        }).collect();
        prop_assert_eq!(parse_rpm_needed_by(&format!("error: Failed dependencies:\n{err}")), dedup(&want));
        for (n, v) in &pkgs {
            if !v.contains('-') {
                prop_assert_eq!(rpm_source_name(&format!("{n}-{v}-1.fc39.src.rpm")), Some(n.clone()));
            }
        }
    }

    #[test]
    fn pacman_output(
        s in package_text(),
        n in name(), v in version(), b in proptest::option::of(name()),
        deps in proptest::collection::vec((name(), prop_oneof![Just(""), Just(">=1.0"), Just("=2"), Just(": why")]), 0..4),
        holds in proptest::collection::vec(name(), 0..4),
    ) {
        let _ = (parse_pacman_desc(&s), parse_pacman_relations(&s), parse_pacman_hold_pkgs(&s), parse_pacman_breaks(&s));
        let deps_text: String = deps.iter().map(|(d, c)| format!("{d}{c}\n")).collect();
        let desc = format!(
            "%NAME%\n{n}\n\n%VERSION%\n{v}\n\n{}%DEPENDS%\n{deps_text}\n%PROVIDES%\n{n}-x\n\n",
            b.as_ref().map(|b| format!("%BASE%\n{b}\n\n")).unwrap_or_default()
        );
        prop_assert_eq!(parse_pacman_desc(&desc), Some((n.clone(), Some(v), b)));
        let rel = parse_pacman_relations(&desc);
        prop_assert_eq!(rel.depends, dedup(&deps.iter().map(|d| d.0.clone()).collect::<Vec<_>>()));
        prop_assert_eq!(rel.provides, vec![format!("{n}-x")]);
        let conf = format!("[options]\nHoldPkg = {} # keep\n#HoldPkg = no\n", holds.join(" "));
        prop_assert_eq!(parse_pacman_hold_pkgs(&conf), holds);
        let breaks = format!(":: removing {n} breaks dependency '{n}' required by {n}-dep\n");
        prop_assert_eq!(parse_pacman_breaks(&breaks), vec![format!("{n}-dep")]);
    }

    #[test]
    fn names_and_paths(s in text(), n in name(), arch in "[a-z0-9_]{1,8}") {
        let _ = (strip_arch(&s), usr_merge_twins(Path::new(&s)));
        let qualified = format!("{n}:{arch}");
        prop_assert_eq!(strip_arch(&qualified), n.as_str());
        let rel = parse_dpkg_relation_names(&format!("{n} (>= 1) | {n}:{arch}, {n}-2 [amd64] <!nocheck>"));
        prop_assert_eq!(rel, vec![n.clone(), format!("{n}-2")]);
        let twins = usr_merge_twins(Path::new(&format!("/usr/sbin/{n}")));
        prop_assert_eq!(twins, vec![PathBuf::from(format!("/usr/sbin/{n}")), PathBuf::from(format!("/sbin/{n}"))]);
    }
}

proptest! {
    // Each case writes a dpkg database of a few files to a temp directory: ~2 ms.
    #![proptest_config(cfg(48))]

    /// The dpkg backend reads a database of arbitrary bytes without panicking.
    #[test]
    fn dpkg_backend_over_arbitrary_files(
        status in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            lines_of(package_text(), 6).prop_map(String::into_bytes),
            proptest::collection::vec(para(), 0..3).prop_map(|ps| ps.iter().map(|p| para_text(p) + "\n").collect::<String>().into_bytes()),
        ],
        list in proptest::collection::vec(any::<u8>(), 0..200),
        pkg in prop_oneof![name(), text()],
    ) {
        let d = tempfile::tempdir().unwrap();
        let info = d.path().join("var/lib/dpkg/info");
        std::fs::create_dir_all(&info).unwrap();
        std::fs::write(d.path().join("var/lib/dpkg/status"), &status).unwrap();
        let mut l = b"/usr/sbin/nginx\n".to_vec();
        l.extend_from_slice(&list);
        std::fs::write(info.join("nginx.list"), &l).unwrap();
        std::fs::write(info.join("x:amd64.list"), &list).unwrap();
        let host = Host::fake(d.path());
        let dpkg = Dpkg::new();
        let _ = dpkg.owner(&host, Path::new("/usr/sbin/nginx"));
        let _ = dpkg.owner(&host, Path::new(&pkg));
        let _ = dpkg.info(&host, &pkg);
        let _ = dpkg.relations(&host, &pkg);
    }
}
