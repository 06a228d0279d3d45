//! Real statvfs numbers on a tmpfs of a known size (root only).

use std::path::Path;

use hostfix::resources::{CheckSpec, check};
use hostfix::size::Threshold;
use hostfix::testing::resources::read_disk;
use hostfix::testing::with;
use hostfix::{Host, Policy, Risk};

#[path = "support/tiers.rs"]
mod tiers;

#[path = "support/mounts.rs"]
mod mounts;

#[test]
#[serial_test::serial]
fn tmpfs_of_known_size_reads_exactly() {
    if !tiers::root("mounting a tmpfs") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let _m = mounts::tmpfs(dir.path(), "size=64m,nr_inodes=1000");
    let host = Host::live();
    let d = read_disk(&host, dir.path()).unwrap();
    assert_eq!(d.total_bytes, 64 << 20);
    assert_eq!(d.free_bytes, 64 << 20);
    assert_eq!(d.inodes_total, 1000);
    // Writing 16 MiB and 10 files shows up exactly.
    std::fs::write(dir.path().join("big"), vec![1u8; 16 << 20]).unwrap();
    for i in 0..9 {
        std::fs::write(dir.path().join(format!("f{i}")), b"x").unwrap();
    }
    let d2 = read_disk(&host, dir.path()).unwrap();
    assert_eq!(d2.free_bytes, (64 << 20) - (16 << 20) - 9 * 4096);
    assert_eq!(d.inodes_free - d2.inodes_free, 10);

    let spec = |t: &str| {
        with(CheckSpec::default(), |it| {
            it.disk_free = vec![(dir.path().to_path_buf(), Threshold::parse_size(t).unwrap())];
        })
    };
    let policy = Policy::new(Risk::ReadOnly);
    assert!(check(&host, &spec("40M"), &policy).is_ok());
    let r = check(&host, &spec("50M"), &policy);
    assert_eq!(r.exit_code(), 1);
    assert!(check(&host, &spec("70%"), &policy).is_ok());
    assert_eq!(check(&host, &spec("80%"), &policy).exit_code(), 1);
    let inodes = with(CheckSpec::default(), |it| {
        it.inodes_free = vec![(
            Path::new(dir.path()).to_path_buf(),
            Threshold::parse_count("990").unwrap(),
        )];
    });
    assert_eq!(check(&host, &inodes, &policy).exit_code(), 1);
}
