//! The rpm and pacman backends against the real tools (Debian's `rpm` and
//! `pacman-package-manager` packages), on packages built here and installed into a test
//! root. Skipped, with the reason, when not root or a tool is missing.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use hostfix::Host;
use hostfix::testing::LiveSystem;
use hostfix::testing::package::{self, PackageManager, Pacman, Rpm};

#[path = "support/tiers.rs"]
mod tiers;

fn ready(tools: &[&str]) -> bool {
    tiers::root_with(
        "installing packages into a test root",
        tools,
        "apt-get install rpm pacman-package-manager",
    )
}

fn sh(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const DEMO_SPEC: &str = "Name: demo
Version: 1.0
Release: 1
Summary: demo
License: MIT
BuildArch: noarch
AutoReqProv: no
%description
demo
%package server
Summary: server
Requires: demo-common
%description server
server
%package common
Summary: common
%description common
common
%install
mkdir -p %{buildroot}/usr/sbin %{buildroot}/usr/share/demo
echo server > %{buildroot}/usr/sbin/demo-server
echo conf > %{buildroot}/usr/share/demo/conf
%files server
/usr/sbin/demo-server
%files common
/usr/share/demo/conf
";

const OTHER_SPEC: &str = "Name: other-tool
Version: 2.0
Release: 1
Summary: other
License: MIT
BuildArch: noarch
AutoReqProv: no
Requires: demo-server
%description
other
%install
mkdir -p %{buildroot}/usr/bin
echo x > %{buildroot}/usr/bin/other-tool
%files
/usr/bin/other-tool
";

#[test]
#[serial_test::serial]
fn rpm_for_real_in_a_test_root() {
    if !ready(&["rpm", "rpmbuild"]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let top = t.path().join("build");
    std::fs::create_dir_all(top.join("SPECS")).unwrap();
    std::fs::write(top.join("SPECS/demo.spec"), DEMO_SPEC).unwrap();
    std::fs::write(top.join("SPECS/other.spec"), OTHER_SPEC).unwrap();
    sh(Command::new("rpmbuild")
        .arg("--quiet")
        .arg("--define")
        .arg(format!("_topdir {}", top.display()))
        .arg("-bb")
        .arg(top.join("SPECS/demo.spec"))
        .arg(top.join("SPECS/other.spec")));
    let root = t.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    // Where rpm distros keep it (Debian's rpm defaults to ~/.rpmdb).
    std::fs::create_dir_all(root.join("var/lib/rpm")).unwrap();
    let db = ["--dbpath", "/var/lib/rpm"];
    sh(Command::new("rpm")
        .arg("--root")
        .arg(&root)
        .args(db)
        .arg("--initdb"));
    let rpms: Vec<_> = std::fs::read_dir(top.join("RPMS/noarch"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(rpms.len(), 3);
    sh(Command::new("rpm")
        .arg("--root")
        .arg(&root)
        .args(db)
        .arg("-i")
        .args(&rpms));

    let host = Host::with_system(&root, Arc::new(LiveSystem));
    assert_eq!(package::detect(&host).unwrap().name(), "rpm");
    let rpm = Rpm::for_host(&host);
    assert_eq!(
        rpm.owner(&host, Path::new("/usr/sbin/demo-server"))
            .unwrap()
            .as_deref(),
        Some("demo-server")
    );
    assert_eq!(
        rpm.owner(&host, Path::new("/sbin/demo-server"))
            .unwrap()
            .as_deref(),
        Some("demo-server"),
        "usr-merge twin"
    );
    assert_eq!(rpm.owner(&host, Path::new("/usr/sbin/none")).unwrap(), None);
    let i = rpm.info(&host, "demo-server").unwrap().unwrap();
    assert_eq!(
        (i.source.as_str(), i.version.as_deref()),
        ("demo", Some("1.0-1"))
    );
    assert_eq!(
        rpm.info(&host, "demo-common").unwrap().unwrap().source,
        "demo"
    );
    assert_eq!(
        rpm.info(&host, "other-tool").unwrap().unwrap().source,
        "other-tool"
    );
    assert_eq!(rpm.info(&host, "absent").unwrap(), None);
    // other-tool (another source) needs demo-server: the simulation names it.
    let s = rpm
        .simulate_removal(&host, &["demo-server".into()])
        .unwrap();
    assert_eq!(s.removes, vec!["demo-server", "other-tool"]);
    // Remove for real, and see it gone.
    rpm.remove(&host, &["other-tool".into()]).unwrap();
    assert_eq!(rpm.info(&host, "other-tool").unwrap(), None);
    let s = rpm
        .simulate_removal(&host, &["demo-server".into(), "demo-common".into()])
        .unwrap();
    assert_eq!(s.removes, vec!["demo-server", "demo-common"]);
    rpm.remove(&host, &s.removes).unwrap();
    assert_eq!(rpm.info(&host, "demo-server").unwrap(), None);
    assert!(!root.join("usr/sbin/demo-server").exists());
}

fn pacman_pkg(
    dir: &Path,
    name: &str,
    base: &str,
    ver: &str,
    file: &str,
    deps: &[&str],
) -> std::path::PathBuf {
    let work = dir.join(format!("work-{name}"));
    std::fs::create_dir_all(work.join(Path::new(file).parent().unwrap())).unwrap();
    std::fs::write(work.join(file), "x\n").unwrap();
    let mut info = format!(
        "pkgname = {name}\npkgbase = {base}\npkgver = {ver}\npkgdesc = test\n\
         url = https://example.invalid\nbuilddate = 1700000000\npackager = hostfix tests\n\
         size = 2\narch = any\nlicense = MIT\n"
    );
    for d in deps {
        info.push_str(&format!("depend = {d}\n"));
    }
    std::fs::write(work.join(".PKGINFO"), info).unwrap();
    let out = dir.join(format!("{name}-{ver}-any.pkg.tar.gz"));
    let top = Path::new(file)
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_owned();
    sh(Command::new("tar")
        .arg("-C")
        .arg(&work)
        .arg("-czf")
        .arg(&out)
        .arg(".PKGINFO")
        .arg(top));
    out
}

#[test]
#[serial_test::serial]
fn pacman_for_real_in_a_test_root() {
    if !ready(&["pacman", "tar"]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    for d in ["etc", "var/lib/pacman", "var/cache/pacman/pkg", "var/log"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(
        root.join("etc/pacman.conf"),
        "[options]\nArchitecture = auto\nSigLevel = Never\nLocalFileSigLevel = Never\nHoldPkg = demo-common\n",
    )
    .unwrap();
    let pkgs = [
        pacman_pkg(
            t.path(),
            "demo-server",
            "demo",
            "1.0-1",
            "usr/sbin/demo-server",
            &["demo-common"],
        ),
        pacman_pkg(
            t.path(),
            "demo-common",
            "demo",
            "1.0-1",
            "usr/share/demo/conf",
            &[],
        ),
        pacman_pkg(
            t.path(),
            "other-tool",
            "other",
            "2.0-1",
            "usr/bin/other-tool",
            &["demo-server"],
        ),
    ];
    let host = Host::with_system(&root, Arc::new(LiveSystem));
    let p = Pacman::for_host(&host);
    // Install through the backend's own root arguments.
    let mut install = p.removal_command(&host, &[]);
    let n = install.args.len();
    install.args.truncate(n - 2); // drop "-R --noconfirm"
    sh(Command::new("pacman")
        .args(&install.args)
        .arg("--cachedir")
        .arg(root.join("var/cache/pacman/pkg"))
        .args(["--noconfirm", "-U"])
        .args(&pkgs));

    assert_eq!(package::detect(&host).unwrap().name(), "pacman");
    assert_eq!(
        p.owner(&host, Path::new("/usr/sbin/demo-server"))
            .unwrap()
            .as_deref(),
        Some("demo-server")
    );
    assert_eq!(p.owner(&host, Path::new("/usr/sbin/none")).unwrap(), None);
    let i = p.info(&host, "demo-server").unwrap().unwrap();
    assert_eq!(
        (i.source.as_str(), i.version.as_deref()),
        ("demo", Some("1.0-1"))
    );
    assert!(!i.required);
    assert!(
        p.info(&host, "demo-common").unwrap().unwrap().required,
        "HoldPkg counts as required"
    );
    let s = p.simulate_removal(&host, &["demo-server".into()]).unwrap();
    let mut removes = s.removes.clone();
    removes.sort();
    assert_eq!(removes, vec!["demo-server", "other-tool"]);
    p.remove(&host, &["other-tool".into(), "demo-server".into()])
        .unwrap();
    assert_eq!(p.info(&host, "demo-server").unwrap(), None);
    assert!(!root.join("usr/sbin/demo-server").exists());
}
