//! A provisioning step that refuses to go on when the host is below its thresholds.
//!
//! ```sh
//! cargo run --example check_resources -- 10% 2G
//! ```
//! The first argument is the memory that must be available (size or percent of RAM), the
//! second the free space needed on `/`. Exits 1 (and says which threshold failed) when the
//! host is below either, 2 on bad input.

use std::path::PathBuf;
use std::process::ExitCode;

use hostfix::resources::{CheckSpec, check};
use hostfix::size::Threshold;
use hostfix::{Host, Policy};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mem = args.first().map_or("10%", String::as_str);
    let disk = args.get(1).map_or("1G", String::as_str);
    let spec = match (Threshold::parse_size(mem), Threshold::parse_size(disk)) {
        (Ok(m), Ok(d)) => {
            let mut spec = CheckSpec::default();
            spec.mem_available = vec![m];
            spec.disk_free = vec![(PathBuf::from("/"), d)];
            spec
        }
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let report = check(&Host::live(), &spec, &Policy::new(spec.default_cap()));
    for c in &report.result.checks {
        println!(
            "{:<13} {:>14} available, {:>14} required: {}",
            c.check,
            c.actual,
            c.required,
            if c.holds { "ok" } else { "BELOW" }
        );
    }
    match &report.error {
        None => {
            println!("host meets the thresholds; deploying");
            ExitCode::SUCCESS
        }
        Some(e) => {
            eprintln!("not deploying: {e}");
            ExitCode::from(1)
        }
    }
}
