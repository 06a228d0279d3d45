//! `hostfix port`.

use clap::Subcommand;

use crate::Global;

/// `hostfix port ...`
#[derive(Debug, Subcommand)]
pub enum PortCmd {}

/// Runs a port subcommand.
pub fn run(_g: &Global, c: PortCmd) -> i32 {
    match c {}
}
