//! `hostfix container`.

use clap::Subcommand;

use crate::Global;

/// `hostfix container ...`
#[derive(Debug, Subcommand)]
pub enum ContainerCmd {}

/// Runs a container subcommand.
pub fn run(_g: &Global, c: ContainerCmd) -> i32 {
    match c {}
}
