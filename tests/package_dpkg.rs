//! The dpkg backend on fixture roots: the owner of a path (usr-merged both ways, through
//! symlinked directories), package details, and apt's recorded simulations.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hostfix::Host;
use hostfix::testing::package::{self, Dpkg, PackageManager};
use hostfix::testing::{CmdOutput, FakeRoot, RecordingSystem};

#[path = "support/tiers.rs"]
mod tiers;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/package")
}

fn owner(host: &Host, p: &str) -> Option<String> {
    Dpkg::new().owner(host, Path::new(p)).unwrap()
}

#[test]
fn owners_in_the_fixture_root() {
    let host = Host::fake(fixtures().join("dpkg-root"));
    assert_eq!(package::detect(&host).unwrap().name(), "dpkg");
    assert_eq!(
        owner(&host, "/usr/sbin/nginx").as_deref(),
        Some("nginx-light")
    );
    assert_eq!(
        owner(&host, "/lib/systemd/system/nginx.service").as_deref(),
        Some("nginx-common")
    );
    // The database says /bin/bash, the process runs /usr/bin/bash (usr-merge)...
    assert_eq!(owner(&host, "/usr/bin/bash").as_deref(), Some("bash"));
    // ... or the other way round.
    assert_eq!(owner(&host, "/sbin/nginx").as_deref(), Some("nginx-light"));
    // Multi-arch list files are named pkg:arch.list.
    assert_eq!(
        owner(&host, "/usr/lib/x86_64-linux-gnu/libc.so.6").as_deref(),
        Some("libc6")
    );
    assert_eq!(
        owner(&host, "/usr/bin/python3.11").as_deref(),
        Some("python3.11-minimal")
    );
    assert_eq!(owner(&host, "/usr/bin/nothing"), None);
    // A directory is not an executable's owner.
    assert_eq!(owner(&host, "/usr/sbin/"), None);
}

#[test]
fn owners_through_a_usr_merged_root_and_symlinked_dirs() {
    let d = FakeRoot::new();
    d.copy_tree(fixtures().join("dpkg-root"), "/");
    let r = d.path();
    for dir in ["usr/bin", "usr/sbin", "usr/lib", "srv/vendor/bin"] {
        std::fs::create_dir_all(r.join(dir)).unwrap();
    }
    // A merged /usr: /bin → usr/bin, /sbin → usr/sbin, /lib → usr/lib.
    symlink("usr/bin", r.join("bin")).unwrap();
    symlink("usr/sbin", r.join("sbin")).unwrap();
    symlink("usr/lib", r.join("lib")).unwrap();
    // A local symlink: the package installed /opt/vendor/bin/tool, /opt/vendor is a link
    // to /srv/vendor, and the process runs /srv/vendor/bin/tool.
    std::fs::create_dir_all(r.join("opt")).unwrap();
    symlink("../srv/vendor", r.join("opt/vendor")).unwrap();
    std::fs::write(r.join("srv/vendor/bin/tool"), "x").unwrap();
    std::fs::write(r.join("usr/bin/bash"), "x").unwrap();
    let host = Host::fake(r);
    assert_eq!(owner(&host, "/usr/bin/bash").as_deref(), Some("bash"));
    assert_eq!(
        owner(&host, "/srv/vendor/bin/tool").as_deref(),
        Some("vendor-tool")
    );
    assert_eq!(
        owner(&host, "/usr/lib/systemd/system/nginx.service").as_deref(),
        Some("nginx-common")
    );
}

#[test]
fn package_details() {
    let host = Host::fake(fixtures().join("dpkg-root"));
    let d = Dpkg::new();
    let n = d.info(&host, "nginx-light").unwrap().unwrap();
    assert_eq!(
        (n.source.as_str(), n.version.as_deref()),
        ("nginx", Some("1.22.1-9"))
    );
    assert!(hostfix::testing::protect::package(&n).is_none());
    let b = d.info(&host, "bash").unwrap().unwrap();
    assert!(b.essential && b.required);
    assert_eq!(b.source, "bash");
    let base = d.info(&host, "base-files").unwrap().unwrap();
    assert!(hostfix::testing::protect::package(&base).is_some());
    assert_eq!(
        d.info(&host, "libc6:amd64").unwrap().unwrap().source,
        "glibc"
    );
    assert_eq!(
        d.info(&host, "apache2").unwrap().unwrap().source,
        "apache2",
        "no Source: field means the package is its own source"
    );
    assert_eq!(
        d.info(&host, "apache2-bin").unwrap().unwrap().source,
        "apache2"
    );
    assert_eq!(
        d.info(&host, "old-daemon").unwrap(),
        None,
        "config-files only is not installed"
    );
    assert_eq!(d.info(&host, "nope").unwrap(), None);
    let python3 = d.info(&host, "python3").unwrap().unwrap();
    assert_eq!(python3.source, "python3-defaults");
}

fn apt(name: &str) -> String {
    std::fs::read_to_string(fixtures().join("apt").join(name)).unwrap()
}

#[test]
fn recorded_apt_simulations() {
    let rec = Arc::new(RecordingSystem::new());
    rec.respond(
        "apt-get -s -q remove lsof",
        CmdOutput::ok(apt("remove-lsof.txt")),
    );
    rec.respond(
        "apt-get -s -q remove perl-modules-5.36",
        CmdOutput::ok(apt("remove-perl-modules-5.36.txt")),
    );
    let mut fail = CmdOutput::failed(
        100,
        "E: Error, pkgProblemResolver::Resolve generated breaks, this may be caused by held packages.",
    );
    fail.stdout = apt("remove-python3.11-minimal.txt");
    rec.respond("apt-get -s -q remove python3.11-minimal", fail);
    let host = Host::with_system(fixtures().join("dpkg-root"), rec.clone());
    let d = Dpkg::new();
    let s = d.simulate_removal(&host, &["lsof".into()]).unwrap();
    assert_eq!(s.removes, vec!["lsof"]);
    assert!(s.installs.is_empty());
    let s = d
        .simulate_removal(&host, &["perl-modules-5.36".into()])
        .unwrap();
    assert_eq!(s.removes.len(), 24);
    assert!(s.removes.contains(&"git".to_string()));
    assert_eq!(s.installs, vec!["perl-base", "libpq-dev", "libpq5"]);
    let e = d
        .simulate_removal(&host, &["python3.11-minimal".into()])
        .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("status 100"), "{msg}");
    assert!(
        msg.contains("python3 : PreDepends: python3-minimal"),
        "{msg}"
    );
    // The simulation ran non-interactively.
    assert!(
        rec.commands()
            .iter()
            .all(|c| c.starts_with("apt-get -s -q remove"))
    );
}

#[test]
fn the_live_database_and_a_real_simulation() {
    // Read-only: the machine's own dpkg database and `apt-get -s`, which changes nothing.
    let host = Host::live();
    if !Path::new("/var/lib/dpkg/status").is_file() || which::which("apt-get").is_err() {
        tiers::skip(tiers::Tier::Root, "not a dpkg/apt system");
        return;
    }
    let d = Dpkg::new();
    let Some(pkg) = owner(&host, "/usr/bin/dpkg") else {
        panic!("/usr/bin/dpkg has no owner in the live database");
    };
    assert_eq!(pkg, "dpkg");
    let info = d.info(&host, "dpkg").unwrap().unwrap();
    assert!(info.essential, "dpkg is essential on Debian");
    // apt will not remove dpkg without breaking half the system: the simulation fails
    // with the reasons, and nothing is removed.
    let e = d.simulate_removal(&host, &["dpkg".into()]).unwrap_err();
    assert!(e.to_string().contains("Depends: dpkg"), "{e}");
    // lsof (which CI installs) goes alone.
    if d.info(&host, "lsof").unwrap().is_some() {
        let s = d.simulate_removal(&host, &["lsof".into()]).unwrap();
        assert_eq!(s.removes, vec!["lsof"]);
        assert!(d.info(&host, "lsof").unwrap().is_some());
    }
    assert!(d.info(&host, "dpkg").unwrap().is_some());
}

/// Debian 13: nginx is its own package (no nginx-light), installed by name, its unit in
/// nginx-common; apt 3 prints the same simulation lines as apt 2.6.
#[test]
fn trixie_nginx_and_apt_3() {
    let rec = Arc::new(RecordingSystem::new());
    rec.respond(
        "apt-get -s -q remove nginx",
        CmdOutput::ok(apt("trixie-remove-nginx.txt")),
    );
    rec.respond(
        "apt-get -s -q remove containerd",
        CmdOutput::ok(apt("trixie-remove-containerd.txt")),
    );
    let host = Host::with_system(fixtures().join("dpkg-root-trixie"), rec.clone());
    assert_eq!(package::detect(&host).unwrap().name(), "dpkg");
    assert_eq!(owner(&host, "/usr/sbin/nginx").as_deref(), Some("nginx"));
    // /usr-merged both ways: the alias finds the owner too.
    assert_eq!(owner(&host, "/sbin/nginx").as_deref(), Some("nginx"));
    assert_eq!(
        owner(&host, "/lib/systemd/system/nginx.service").as_deref(),
        Some("nginx-common")
    );
    let d = Dpkg::new();
    let nginx = d.info(&host, "nginx").unwrap().unwrap();
    assert_eq!(nginx.source, "nginx");
    // Nothing was installed for it: on trixie there is no metapackage over nginx.
    assert!(nginx.required_by.is_empty(), "{:?}", nginx.required_by);
    let s = d.simulate_removal(&host, &["nginx".into()]).unwrap();
    assert_eq!(s.removes, vec!["nginx"]);
    assert!(s.installs.is_empty());
    let s = d.simulate_removal(&host, &["containerd".into()]).unwrap();
    assert_eq!(s.removes, vec!["docker.io", "containerd"]);
}
