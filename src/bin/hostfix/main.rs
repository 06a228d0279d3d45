//! `hostfix`: the command-line front of the hostfix library.
//!
//! `main` parses arguments and hands each subcommand to one library function; everything
//! else (plans, risk, verification) lives in the library.

mod ansible;
mod check;
mod container;
mod doctor;
mod logger;
mod output;
mod port;
mod reboot;
mod swap;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use hostfix::host::LiveSystem;
use hostfix::{Host, Policy, Risk};

/// Idempotent, risk-ranked fixes for Linux hosts.
///
/// Every command observes the host, plans its steps least risky first, and takes only the
/// steps that --max-risk allows. A second run on a fixed host changes nothing.
///
/// Exit codes: 0 the desired state holds (changed or not), 1 it does not (a step or a
/// check failed), 2 bad input, 3 refused (a step above --max-risk, a protected target,
/// the reboot guard).
#[derive(Debug, Parser)]
#[command(
    name = "hostfix",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Flags every command takes, before or after the subcommand.
#[derive(Debug, Args, Clone)]
pub struct Global {
    /// Print one JSON document on stdout instead of human text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Observe and print the plan; change nothing.
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// The riskiest step allowed: read-only, additive, disruptive, destructive or reboot
    /// (each command has a conservative default).
    #[arg(long, global = true, value_name = "RISK")]
    pub max_risk: Option<Risk>,
    /// Where hostfix keeps its lock and ledgers.
    #[arg(long, global = true, value_name = "DIR", default_value = Policy::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Show the trail: every observation, decision and step (-vv for commands run).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Read and write the host's files under DIR instead of / (system calls and commands
    /// still act on the running kernel). For tests and image preparation.
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = "/",
        hide = true
    )]
    pub root: PathBuf,
}

impl Global {
    /// The host to work on: the live system, with files under `--root`.
    pub fn host(&self) -> Host {
        if self.root == std::path::Path::new("/") {
            Host::live()
        } else {
            Host::with_system(self.root.clone(), std::sync::Arc::new(LiveSystem))
        }
    }

    /// The policy for a command whose default cap is `default`.
    pub fn policy(&self, default: Risk) -> Policy {
        Policy::new(self.max_risk.unwrap_or(default))
            .dry_run(self.dry_run)
            .state_dir(self.state_dir.clone())
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read-only report of the host, in the order a request meets it: who holds the ports,
    /// containers, memory and swap, disk, reboot need; each finding with its fix.
    Doctor(doctor::DoctorArgs),
    /// Exit 0 when every threshold holds, 1 otherwise (read-only).
    Check(check::CheckArgs),
    /// Swap files: ensure one exists, is active and persisted; or remove it.
    #[command(subcommand)]
    Swap(swap::SwapCmd),
    /// Ports: who holds one, and freeing it by the least risky ladder.
    #[command(subcommand)]
    Port(port::PortCmd),
    /// Reboot only when needed and when the guard allows.
    Reboot(reboot::RebootArgs),
    /// Containers: remove a stuck one by an escalation ladder.
    #[command(subcommand)]
    Container(container::ContainerCmd),
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if let Some(module_args) = ansible::module_args(&argv) {
        return ExitCode::from(u8::try_from(ansible::run(&module_args)).unwrap_or(1));
    }
    let cli = Cli::parse();
    logger::init(cli.global.verbose);
    let code = match cli.command {
        Command::Doctor(a) => doctor::run(&cli.global, a),
        Command::Check(a) => check::run(&cli.global, a),
        Command::Swap(c) => swap::run(&cli.global, c),
        Command::Port(c) => port::run(&cli.global, c),
        Command::Reboot(a) => reboot::run(&cli.global, a),
        Command::Container(c) => container::run(&cli.global, c),
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
