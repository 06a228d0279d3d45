//! Helpers the reboot tests share: fixture roots, fake hosts with a fixed clock.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hostfix::Host;
use hostfix::testing::reboot::Ledger;
use hostfix::testing::{FakeRoot, RecordingSystem};

/// The fixed "now" of fake hosts: 2027-01-15T08:00:00Z.
pub const NOW: u64 = 1_800_000_000;

/// The boot id every fixture root carries.
pub const BOOT_ID: &str = "0f5e7a4c-1b2d-4e8f-9a6b-3c2d1e0f9a8b";

/// The machine id every fixture root carries.
pub const MACHINE_ID: &str = "5d3c0e2f4a6b48c9a1e7f0b2c4d6e8f0";

/// A fixture root, read in place.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/reboot")
        .join(name)
}

/// A writable copy of a fixture root (file modes kept: the executable bit of
/// needs-restarting).
pub fn copy_root(name: &str) -> FakeRoot {
    let root = FakeRoot::new();
    root.copy_tree(fixture(name), "/");
    root
}

/// A host on `root` whose calls are recorded, with the clock at `NOW`.
pub fn host(root: &Path) -> (Host, Arc<RecordingSystem>) {
    let rec = Arc::new(RecordingSystem::new());
    rec.set_now(at(NOW));
    (Host::with_system(root, rec.clone()), rec)
}

/// A point in time from seconds since the epoch.
pub fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// The ledger file under a fake root's default state directory.
pub fn ledger_file(root: &Path) -> PathBuf {
    root.join("var/lib/hostfix/reboot-ledger.json")
}

/// The ledger under a fake root's default state directory.
pub fn read_ledger(root: &Path) -> Ledger {
    Ledger::parse(&std::fs::read_to_string(ledger_file(root)).unwrap()).unwrap()
}

/// Writes a ledger under a fake root's default state directory.
pub fn write_ledger(root: &Path, l: &Ledger) {
    std::fs::create_dir_all(root.join("var/lib/hostfix")).unwrap();
    std::fs::write(ledger_file(root), l.to_bytes()).unwrap();
}
