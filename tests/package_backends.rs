//! The rpm, pacman and apk backends against recorded command outputs and fixture
//! databases.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hostfix::Host;
use hostfix::testing::package::{self, Apk, PackageManager, Pacman, Rpm};
use hostfix::testing::{CmdOutput, RecordingSystem};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/package")
}

fn text(rel: &str) -> String {
    std::fs::read_to_string(fixtures().join(rel)).unwrap()
}

#[test]
fn apk_owner_origin_and_simulation() {
    let root = fixtures().join("apk-root");
    let rec = Arc::new(RecordingSystem::new());
    let r = root.display().to_string();
    rec.respond(
        format!("apk --root {r} info --who-owns /usr/sbin/nginx"),
        CmdOutput::ok(text("apk/who-owns-nginx.txt")),
    );
    rec.respond(
        format!("apk --root {r} info --who-owns"),
        CmdOutput::failed(1, "ERROR: /x: Could not find owner package"),
    );
    rec.respond(
        format!("apk --root {r} del -s nginx nginx-mod-http-echo"),
        CmdOutput::ok(text("apk/del-s-nginx-nginx-mod-http-echo.txt")),
    );
    rec.respond(
        format!("apk --root {r} del -s nginx"),
        CmdOutput::ok(text("apk/del-s-nginx.txt")),
    );
    let host = Host::with_system(&root, rec.clone());
    let pm = package::detect(&host).unwrap();
    assert_eq!(pm.name(), "apk");
    let apk = Apk::for_host(&host);
    assert_eq!(
        apk.owner(&host, Path::new("/usr/sbin/nginx"))
            .unwrap()
            .as_deref(),
        Some("nginx")
    );
    assert_eq!(apk.owner(&host, Path::new("/usr/bin/x")).unwrap(), None);
    let mod_ = apk.info(&host, "nginx-mod-http-echo").unwrap().unwrap();
    assert_eq!(mod_.source, "nginx");
    assert!(apk.info(&host, "busybox").unwrap().unwrap().required);
    let musl = apk.info(&host, "musl").unwrap().unwrap();
    assert!(hostfix::testing::protect::package(&musl).is_some());
    // `apk del -s nginx` names the module that keeps nginx; the set grows by it.
    let s = apk.simulate_removal(&host, &["nginx".into()]).unwrap();
    assert_eq!(s.removes, vec!["nginx-mod-http-echo", "nginx"]);
    assert_eq!(
        apk.removal_command(&host, &["nginx".into()]).display(),
        format!("apk --root {r} del --no-progress nginx")
    );
}

#[test]
fn pacman_base_hold_and_breaks() {
    let root = fixtures().join("pacman-root");
    let r = root.display().to_string();
    let rec = Arc::new(RecordingSystem::new());
    rec.respond(
        format!("pacman --root {r} --dbpath {r}/var/lib/pacman --logfile {r}/var/log/pacman.log -Qqo {r}/usr/sbin/nginx"),
        CmdOutput::ok("nginx\n"),
    );
    rec.respond(
        format!(
            "pacman --root {r} --dbpath {r}/var/lib/pacman --logfile {r}/var/log/pacman.log -Qqo"
        ),
        CmdOutput::failed(1, "error: No package owns /x\n"),
    );
    rec.respond_once(
        format!("pacman --root {r} --dbpath {r}/var/lib/pacman --logfile {r}/var/log/pacman.log -Rp --print-format %n nginx"),
        CmdOutput {
            status: Some(1),
            stdout: String::new(),
            stderr: "error: failed to prepare transaction (could not satisfy dependencies)\n\
                     :: removing nginx breaks dependency 'nginx' required by nginx-mod-brotli\n"
                .into(),
        },
    );
    rec.respond(
        format!("pacman --root {r} --dbpath {r}/var/lib/pacman --logfile {r}/var/log/pacman.log -Rp --print-format %n nginx nginx-mod-brotli"),
        CmdOutput::ok("nginx-mod-brotli\nnginx\n"),
    );
    let host = Host::with_system(&root, rec.clone());
    assert_eq!(package::detect(&host).unwrap().name(), "pacman");
    let p = Pacman::for_host(&host);
    assert_eq!(
        p.owner(&host, Path::new("/usr/sbin/nginx"))
            .unwrap()
            .as_deref(),
        Some("nginx")
    );
    assert_eq!(p.owner(&host, Path::new("/usr/bin/x")).unwrap(), None);
    let i = p.info(&host, "nginx").unwrap().unwrap();
    assert_eq!(
        (i.source.as_str(), i.version.as_deref()),
        ("nginx", Some("1.24.0-1"))
    );
    assert!(!i.required);
    assert_eq!(p.info(&host, "nginx-mainline").unwrap(), None);
    let s = p.simulate_removal(&host, &["nginx".into()]).unwrap();
    assert_eq!(s.removes, vec!["nginx-mod-brotli", "nginx"]);
    assert!(
        p.removal_command(&host, &["nginx".into()])
            .display()
            .ends_with("-R --noconfirm nginx")
    );
}

#[test]
fn rpm_recorded_queries() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("var/lib/rpm")).unwrap();
    let r = d.path().display().to_string();
    let rec = Arc::new(RecordingSystem::new());
    rec.respond(
        format!("rpm --root {r} --dbpath /var/lib/rpm -qf --qf %{{NAME}}\\n /usr/sbin/nginx"),
        CmdOutput::ok("nginx-core\n"),
    );
    rec.respond(
        format!("rpm --root {r} --dbpath /var/lib/rpm -q --qf"),
        CmdOutput::ok("nginx-core\t1.24.0-1.fc39\tnginx-1.24.0-1.fc39.src.rpm\n"),
    );
    let host = Host::with_system(d.path(), rec.clone());
    assert_eq!(package::detect(&host).unwrap().name(), "rpm");
    let rpm = Rpm::for_host(&host);
    assert_eq!(
        rpm.owner(&host, Path::new("/usr/sbin/nginx"))
            .unwrap()
            .as_deref(),
        Some("nginx-core")
    );
    assert_eq!(
        rpm.info(&host, "nginx-core").unwrap().unwrap().source,
        "nginx"
    );
    // dnf's protected packages count as required.
    std::fs::create_dir_all(d.path().join("etc/dnf/protected.d")).unwrap();
    std::fs::write(
        d.path().join("etc/dnf/protected.d/x.conf"),
        "# local\nnginx-core\n",
    )
    .unwrap();
    assert!(rpm.info(&host, "nginx-core").unwrap().unwrap().required);
}

#[test]
fn no_manager() {
    let d = tempfile::tempdir().unwrap();
    let e = package::detect(&Host::fake(d.path())).unwrap_err();
    assert!(
        e.to_string().contains("no supported package manager"),
        "{e}"
    );
    assert_eq!(e.exit_code(), 1);
}
