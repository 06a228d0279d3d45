//! `hostfix reboot`.

use clap::Args;

use crate::Global;

/// `hostfix reboot`
#[derive(Debug, Args)]
pub struct RebootArgs {}

/// Runs `reboot`.
pub fn run(_g: &Global, _a: RebootArgs) -> i32 {
    eprintln!("hostfix: reboot is not implemented in this build");
    1
}
