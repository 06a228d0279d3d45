//! Ensure a swap file the way a provisioning tool or a setup binary would: one library
//! call, a typed report, an exit code.
//!
//! ```text
//! cargo run --example ensure_swap -- [SIZE|auto] [PATH] [--dry-run] [--persist systemd]
//! ```
//!
//! Run it with `--dry-run` first: it prints the plan and changes nothing. Applying needs
//! root. The cap is `additive`: a missing swap file is created, enabled and persisted; an
//! active file of another size is not resized (that needs `Risk::Disruptive`).

use std::process::ExitCode;

use hostfix::swap::{Persist, SwapSize, SwapSpec, ensure_swap_file};
use hostfix::{Host, Policy};

fn main() -> ExitCode {
    let mut positional = Vec::new();
    let mut dry_run = false;
    let mut persist = Persist::Fstab;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--dry-run" => dry_run = true,
            "--persist" => match args.next().map(|p| p.parse::<Persist>()) {
                Some(Ok(p)) => persist = p,
                Some(Err(e)) => return bad(&e.to_string()),
                None => return bad("--persist needs fstab, systemd or none"),
            },
            _ => positional.push(a),
        }
    }
    let size = match positional.first().map_or(Ok(SwapSize::Auto), |s| s.parse()) {
        Ok(s) => s,
        Err(e) => return bad(&e.to_string()),
    };
    let mut spec = SwapSpec::new(size);
    if let Some(p) = positional.get(1) {
        spec.path = p.into();
    }
    spec.persist = persist;

    // The cap `hostfix swap ensure` uses: additive.
    let policy = Policy::new(spec.default_cap()).dry_run(dry_run);
    let report = ensure_swap_file(&Host::live(), &spec, &policy);

    for step in &report.steps {
        println!(
            "[{:>7}] {:<11} {}: {}",
            step.status, step.risk, step.action, step.detail
        );
    }
    let s = &report.result;
    println!(
        "{}: {} bytes wanted, file {:?} bytes, active {}, persisted in {:?}, changed {}",
        s.path.display(),
        s.size_bytes,
        s.file_bytes,
        s.active,
        s.persisted_in,
        report.changed
    );
    if let Some(e) = &report.error {
        eprintln!("ensure_swap: {} ({})", e, report.outcome());
    }
    ExitCode::from(u8::try_from(report.exit_code()).unwrap_or(1))
}

fn bad(msg: &str) -> ExitCode {
    eprintln!("ensure_swap: {msg}");
    eprintln!("usage: ensure_swap [SIZE|auto] [PATH] [--dry-run] [--persist fstab|systemd|none]");
    ExitCode::from(2)
}
