//! `hostfix swap`.

use clap::Subcommand;

use crate::Global;

/// `hostfix swap ...`
#[derive(Debug, Subcommand)]
pub enum SwapCmd {}

/// Runs a swap subcommand.
pub fn run(_g: &Global, c: SwapCmd) -> i32 {
    match c {}
}
