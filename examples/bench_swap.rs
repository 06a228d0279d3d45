//! How long a 1 GiB `hostfix swap ensure` takes next to the two usual shell recipes, on a
//! loop-mounted ext4 this program makes (run as root):
//!
//! ```text
//! cargo run --release --example bench_swap [-- SIZE_MIB [ROUNDS]]
//! ```
//!
//! 1. `hostfix swap ensure` (library call: create 0600, fallocate, verify no holes, fsync,
//!    header in Rust, swapon, verify in /proc/swaps, atomic fstab edit, fsync);
//! 2. `fallocate -l 1G f && mkswap f && swapon f`;
//! 3. `dd if=/dev/zero of=f bs=1M count=1024 && mkswap f && swapon f`.
//!
//! Each round swaps the file off and deletes it before the next method. The filesystem
//! lives in a sparse image in a temp directory, mounted with `discard` so deleted files
//! give their space back; everything is swapped off, unmounted and detached on exit, even
//! on a panic.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

// The raw swapoff of the cleanup: the test supports real system (dev-dependency).
use hostfix::size::Threshold;
use hostfix::swap::{Persist, SwapSize, SwapSpec, ensure_swap_file};
use hostfix::testing::{LiveSystem, System};
use hostfix::{Host, Policy, Risk};

struct Loop {
    mount: PathBuf,
    dev: String,
    _dir: tempfile::TempDir,
}

impl Drop for Loop {
    fn drop(&mut self) {
        swapoff_under(&self.mount);
        let _ = Command::new("umount").arg(&self.mount).status();
        let _ = Command::new("losetup").args(["-d", &self.dev]).status();
    }
}

fn sh(cmd: &str) {
    let st = Command::new("sh").args(["-c", cmd]).status().expect("sh");
    assert!(st.success(), "{cmd} failed");
}

fn out(program: &str, args: &[&str]) -> String {
    let o = Command::new(program).args(args).output().expect(program);
    assert!(
        o.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn swapoff_under(dir: &Path) {
    if let Ok(v) = hostfix::swap::active_swaps(&Host::live()) {
        for e in v.into_iter().filter(|e| e.path.starts_with(dir)) {
            if let Err(err) = LiveSystem.swapoff(&e.path) {
                eprintln!("swapoff {}: {err}", e.path.display());
            }
        }
    }
}

fn reset(root: &Path, file: &Path) {
    swapoff_under(&root.join("mnt"));
    let _ = std::fs::remove_file(file);
    std::fs::write(root.join("etc/fstab"), "# bench\n").expect("fstab");
    sh("sync");
    std::thread::sleep(Duration::from_millis(200));
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("bench_swap: run as root (it loop-mounts an ext4 image and swaps on a file)");
        std::process::exit(2);
    }
    let mut args = std::env::args().skip(1);
    let size_mib: u64 = args.next().map_or(1024, |s| s.parse().expect("SIZE_MIB"));
    let rounds: usize = args.next().map_or(3, |s| s.parse().expect("ROUNDS"));

    let dir = tempfile::Builder::new()
        .prefix("hostfix-bench-")
        .tempdir()
        .expect("tempdir");
    let root = dir.path().join("root");
    for d in ["mnt", "etc", "state", "proc/sys/vm"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    for name in ["swaps", "meminfo", "self", "1", "pressure"] {
        std::os::unix::fs::symlink(Path::new("/proc").join(name), root.join("proc").join(name))
            .expect("symlink");
    }
    std::os::unix::fs::symlink("/proc/sys/kernel", root.join("proc/sys/kernel")).expect("symlink");
    std::fs::write(root.join("proc/sys/vm/swappiness"), "60\n").expect("swappiness");
    std::os::unix::fs::symlink("/sys", root.join("sys")).expect("symlink");
    let img = dir.path().join("ext4.img");
    std::fs::File::create(&img)
        .and_then(|f| f.set_len((size_mib * 2 + 512) << 20))
        .expect("image");
    let dev = out(
        "losetup",
        &["--find", "--show", img.to_str().expect("utf-8")],
    );
    let lp = Loop {
        mount: root.join("mnt"),
        dev: dev.clone(),
        _dir: dir,
    };
    out("mkfs.ext4", &["-q", "-F", &dev]);
    out(
        "mount",
        &["-o", "discard", &dev, lp.mount.to_str().expect("utf-8")],
    );

    let file = lp.mount.join("swapfile");
    let f = file.display().to_string();
    let host = Host::with_system(&root, Arc::new(LiveSystem));
    let mut spec = SwapSpec::new(SwapSize::Bytes(size_mib << 20));
    spec.path = "/mnt/swapfile".into();
    spec.keep_free = vec![Threshold::Absolute(16 << 20)];
    spec.persist = Persist::Fstab;
    let policy = Policy::new(Risk::Additive).state_dir("/state");

    let mut t_hostfix = Vec::new();
    let mut t_fallocate = Vec::new();
    let mut t_dd = Vec::new();
    let mut how = String::new();
    for round in 1..=rounds {
        reset(&root, &file);
        let t = Instant::now();
        let r = ensure_swap_file(&host, &spec, &policy);
        let el = t.elapsed().as_secs_f64();
        assert!(r.is_ok(), "hostfix: {:?}", r.error);
        assert!(r.result.active, "hostfix: not active");
        how = r
            .steps
            .iter()
            .find(|s| s.action.starts_with("allocate"))
            .map(|s| s.detail.clone())
            .unwrap_or_default();
        t_hostfix.push(el);

        reset(&root, &file);
        let t = Instant::now();
        sh(&format!(
            "fallocate -l {size_mib}M {f} && chmod 600 {f} && mkswap -q {f} && swapon {f}"
        ));
        t_fallocate.push(t.elapsed().as_secs_f64());

        reset(&root, &file);
        let t = Instant::now();
        sh(&format!(
            "dd if=/dev/zero of={f} bs=1M count={size_mib} status=none && chmod 600 {f} && mkswap -q {f} && swapon {f}"
        ));
        t_dd.push(t.elapsed().as_secs_f64());
        println!(
            "round {round}: hostfix {:.3}s  fallocate+mkswap+swapon {:.3}s  dd+mkswap+swapon {:.3}s",
            t_hostfix[round - 1],
            t_fallocate[round - 1],
            t_dd[round - 1]
        );
    }
    reset(&root, &file);
    let (h, fa, dd) = (
        median(&mut t_hostfix),
        median(&mut t_fallocate),
        median(&mut t_dd),
    );
    println!("\n{size_mib} MiB swap file on loop-mounted ext4, median of {rounds} rounds:");
    println!("  hostfix swap ensure           {h:>8.3} s   ({how})");
    println!("  fallocate + mkswap + swapon   {fa:>8.3} s");
    println!("  dd + mkswap + swapon          {dd:>8.3} s");
    println!("  hostfix / fallocate recipe    {:>8.3}x", h / fa);
    println!(
        "  hostfix / dd recipe           {:>8.4}x (dd recipe {:.0}x slower)",
        h / dd,
        dd / h
    );
    println!("  dd recipe / fallocate recipe  {:>8.1}x", dd / fa);
    drop(lp);
}
