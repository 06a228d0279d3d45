//! The Debian package holds the binary and its copyright file, nothing else, and declares
//! what it needs. (Installing and removing it is proved in the VM scenarios.)

use std::process::Command;

#[path = "support/tiers.rs"]
mod tiers;

use tiers::Tier;

#[test]
fn deb_holds_the_binary_and_nothing_else() {
    if !tiers::tools(
        Tier::Root,
        &["dpkg-deb", "objdump"],
        "apt-get install dpkg binutils",
    ) {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/deb/build.sh");
    let run = Command::new("sh")
        .arg(script)
        .args(["--binary", env!("CARGO_BIN_EXE_hostfix"), "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let deb = String::from_utf8(run.stdout).unwrap().trim().to_string();
    assert!(deb.ends_with(".deb"), "{deb}");
    let contents = Command::new("dpkg-deb")
        .args(["-c", &deb])
        .output()
        .unwrap();
    let files: Vec<String> = String::from_utf8_lossy(&contents.stdout)
        .lines()
        .filter(|l| !l.starts_with('d'))
        .filter_map(|l| l.split_whitespace().last().map(str::to_string))
        .collect();
    assert_eq!(
        files,
        ["./usr/bin/hostfix", "./usr/share/doc/hostfix/copyright"]
    );
    let info = Command::new("dpkg-deb")
        .args(["-f", &deb, "Package", "Version", "Depends"])
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("Package: hostfix"), "{info}");
    assert!(
        info.contains(&format!("Version: {}", env!("CARGO_PKG_VERSION"))),
        "{info}"
    );
    assert!(info.contains("Depends: libc6 (>= 2."), "{info}");
    // The packaged binary runs.
    let x = tempfile::tempdir().unwrap();
    assert!(
        Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(x.path())
            .status()
            .unwrap()
            .success()
    );
    let v = Command::new(x.path().join("usr/bin/hostfix"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("hostfix "));
}
