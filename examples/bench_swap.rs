//! How long a 1 GiB `hostfix swap ensure` takes next to the two usual shell recipes, each
//! run as a process, on a loop-mounted ext4 this program makes (run as root, after a
//! release build):
//!
//! ```text
//! cargo build --release --bins --examples
//! sudo target/release/examples/bench_swap [SIZE_MIB [ROUNDS]]
//! ```
//!
//! 1. the `hostfix` binary: `hostfix --root ROOT swap ensure --size 1024M --path
//!    /mnt/swapfile --persist fstab` (create 0600, fallocate, verify no holes, fsync,
//!    header in Rust, swapon, verify in /proc/swaps, atomic fstab edit, fsync; and the
//!    process start, argument parsing, host lock and state record a shell user pays for);
//! 2. `sh -c 'fallocate -l 1G f && chmod 600 f && mkswap f && swapon f'`;
//! 3. `sh -c 'dd if=/dev/zero of=f bs=1M count=1024 && chmod 600 f && mkswap f && swapon f'`.
//!
//! Wall time and CPU time (user + system of the process and its children, from
//! `wait4`), medians of the rounds. Each round swaps the file off and deletes it before
//! the next method. The filesystem lives in a sparse image in a temp directory, mounted
//! with `discard` so deleted files give their space back; everything is swapped off,
//! unmounted and detached on exit, even on a panic. `HOSTFIX_BIN` overrides the binary.

#[path = "support/bench.rs"]
mod common;
use common::{median, run};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use hostfix::testing::{LiveSystem, System};

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
    let text = std::fs::read_to_string("/proc/swaps").unwrap_or_default();
    if let Ok(v) = hostfix::testing::swap::parse_proc_swaps(&text) {
        for e in v.into_iter().filter(|e| e.path.starts_with(dir)) {
            if let Err(err) = LiveSystem.swapoff(&e.path) {
                eprintln!("swapoff {}: {err}", e.path.display());
            }
        }
    }
}

/// Whether `/proc/swaps` lists `file`.
fn active(file: &Path) -> bool {
    let text = std::fs::read_to_string("/proc/swaps").unwrap_or_default();
    hostfix::testing::swap::parse_proc_swaps(&text).is_ok_and(|v| v.iter().any(|e| e.path == file))
}

/// How hostfix allocated the file, from its report's allocation step.
fn allocation(json: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    v["steps"]
        .as_array()
        .and_then(|s| {
            s.iter().find(|s| {
                s["action"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("allocate"))
            })
        })
        .and_then(|s| s["detail"].as_str())
        .unwrap_or("?")
        .to_string()
}

fn reset(root: &Path, file: &Path) {
    swapoff_under(&root.join("mnt"));
    let _ = std::fs::remove_file(file);
    std::fs::write(root.join("etc/fstab"), "# bench\n").expect("fstab");
    sh("sync");
    std::thread::sleep(Duration::from_millis(200));
}

fn hostfix_bin() -> PathBuf {
    std::env::var_os("HOSTFIX_BIN")
        .map(PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            Some(exe.parent()?.parent()?.join("hostfix"))
        })
        .filter(|p| p.is_file())
        .unwrap_or_else(|| {
            eprintln!("bench_swap: the hostfix binary is missing: cargo build --release first (or set HOSTFIX_BIN)");
            std::process::exit(2)
        })
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
    let hostfix = hostfix_bin().display().to_string();
    let root_s = root.display().to_string();
    let size = format!("{size_mib}M");
    let hostfix_args = [
        "--root",
        &root_s,
        "--state-dir",
        "/state",
        "--json",
        "swap",
        "ensure",
        "--size",
        &size,
        "--path",
        "/mnt/swapfile",
        "--persist",
        "fstab",
        "--keep-free",
        "16M",
    ];
    let fallocate =
        format!("fallocate -l {size_mib}M {f} && chmod 600 {f} && mkswap -q {f} && swapon {f}");
    let dd = format!(
        "dd if=/dev/zero of={f} bs=1M count={size_mib} status=none && chmod 600 {f} && mkswap -q {f} && swapon {f}"
    );
    let methods: [(&str, &str, Vec<&str>); 3] = [
        ("hostfix swap ensure", &hostfix, hostfix_args.to_vec()),
        ("fallocate + mkswap + swapon", "sh", vec!["-c", &fallocate]),
        ("dd + mkswap + swapon", "sh", vec!["-c", &dd]),
    ];
    let mut wall: [Vec<f64>; 3] = Default::default();
    let mut cpu: [Vec<f64>; 3] = Default::default();
    let mut how = String::new();
    for round in 1..=rounds {
        for (i, (_, prog, args)) in methods.iter().enumerate() {
            reset(&root, &file);
            let mut argv = vec![*prog];
            argv.extend_from_slice(args);
            let t = run(&argv, Stdio::inherit());
            assert!(
                t.succeeded(),
                "{argv:?} failed (status {}): {}",
                t.status,
                t.stdout
            );
            assert!(active(&file), "{}: {f} is not in /proc/swaps", methods[i].0);
            if i == 0 {
                how = allocation(&t.stdout);
            }
            wall[i].push(t.wall.as_secs_f64());
            cpu[i].push(t.cpu.as_secs_f64());
        }
        println!(
            "round {round}: hostfix {:.3}s  fallocate+mkswap+swapon {:.3}s  dd+mkswap+swapon {:.3}s",
            wall[0][round - 1],
            wall[1][round - 1],
            wall[2][round - 1]
        );
    }
    reset(&root, &file);
    let w: Vec<f64> = wall.iter_mut().map(|v| median(v)).collect();
    let c: Vec<f64> = cpu.iter_mut().map(|v| median(v)).collect();
    println!(
        "\n{size_mib} MiB swap file on loop-mounted ext4, each method a process, median of {rounds} rounds:"
    );
    println!("| method | wall | cpu (user+sys) | wall / hostfix |");
    println!("| --- | --- | --- | --- |");
    for (i, (name, _, _)) in methods.iter().enumerate() {
        println!(
            "| {name} | {:.3} s | {:.3} s | {:.2}x |",
            w[i],
            c[i],
            w[i] / w[0]
        );
    }
    println!("hostfix allocated the file by: {how}");
    drop(lp);
}
