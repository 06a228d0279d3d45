//! `hostfix`: the command-line front of the hostfix library.
//!
//! `main` parses arguments and hands each subcommand to one library function; everything
//! else (plans, risk, verification) lives in the library.

mod ansible;
mod args;
mod check;
mod container;
mod doctor;
mod logger;
mod output;
mod port;
mod reboot;
mod swap;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};
use hostfix::{Host, Policy, Risk};

/// Idempotent, risk-ranked fixes for Linux hosts.
///
/// Every command observes the host, plans its steps least risky first, and takes only the
/// steps that --max-risk allows. A second run on a fixed host changes nothing.
///
/// Exit codes: 0 the desired state holds (changed or not), 1 it does not (a step or a
/// check failed), 2 bad input, 3 refused (a step above --max-risk, a protected target,
/// the reboot guard). With --json, every outcome (usage errors too) is one JSON object.
///
/// With one argument that is not a command, hostfix is an Ansible binary module: the
/// argument must be the args file Ansible writes (a private regular file with Ansible's
/// _ansible_* keys); anything else is bad input.
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
    #[arg(long, global = true, value_name = "RISK", value_parser = args::Utf8(args::risk))]
    pub max_risk: Option<Risk>,
    /// Where hostfix keeps its lock and ledgers.
    #[arg(long, global = true, value_name = "DIR", default_value = Policy::DEFAULT_STATE_DIR, value_parser = args::AnyPath)]
    pub state_dir: PathBuf,
    /// Show the trail: every observation, decision and step (-vv for commands run).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The container engine: docker or podman. Default: detected (the one installed;
    /// both: docker when its daemon socket exists, else podman). Podman's container rm
    /// ladder has no engine restart rung (no daemon) and kills the container's conmon.
    #[arg(long, global = true, value_name = "ENGINE", value_parser = args::Utf8(args::engine))]
    pub engine: Option<hostfix::EngineKind>,
    /// Read and write the host's files under DIR instead of / (system calls and commands
    /// still act on the running kernel). For tests and image preparation.
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = "/",
        hide = true,
        value_parser = args::AnyPath
    )]
    pub root: PathBuf,
}

/// The global flags that take a value: given twice with different values (one before
/// the subcommand, one after), clap would silently keep the last, and for a safety cap
/// (`--max-risk read-only swap ensure --max-risk destructive`) that is bad input instead.
const ONCE: [&str; 4] = ["--max-risk", "--state-dir", "--root", "--engine"];

/// Checks that no flag of [`ONCE`] is given twice with different values. Runs after clap
/// accepted the arguments, so every `--max-risk` word before `--` is that flag (no flag
/// that takes a value starting with `--` would have accepted it as a value).
///
/// # Errors
/// A message naming the flag and its values.
fn check_repeated(argv: &[OsString]) -> Result<(), String> {
    for flag in ONCE {
        let mut values: Vec<&std::ffi::OsStr> = Vec::new();
        let mut words = argv.iter().skip(1).take_while(|w| *w != "--");
        while let Some(w) = words.next() {
            let bytes = w.as_encoded_bytes();
            if w == flag {
                if let Some(v) = words.next() {
                    values.push(v);
                }
            } else if bytes.starts_with(flag.as_bytes()) && bytes.get(flag.len()) == Some(&b'=') {
                values.push(w.as_os_str());
            }
        }
        let first = values.first().map(|v| value_of(flag, v));
        if values.iter().any(|v| Some(value_of(flag, v)) != first) {
            let shown: Vec<String> = values
                .iter()
                .map(|v| String::from_utf8_lossy(value_of(flag, v)).into_owned())
                .collect();
            return Err(format!(
                "{flag} given {} times with different values ({}); give it once",
                values.len(),
                shown.join(", ")
            ));
        }
    }
    Ok(())
}

/// The value of a `--flag=value` word, or the word itself.
fn value_of<'a>(flag: &str, w: &'a std::ffi::OsStr) -> &'a [u8] {
    let b = w.as_encoded_bytes();
    match b
        .strip_prefix(flag.as_bytes())
        .and_then(|r| r.strip_prefix(b"="))
    {
        Some(v) => v,
        None => b,
    }
}

impl Global {
    /// The host to work on: the live system, with files under `--root`.
    pub fn host(&self) -> Host {
        Host::live_at(self.root.clone())
    }

    /// The policy for a command whose default cap is `default` (the spec's
    /// `default_cap()`).
    pub fn policy(&self, default: Risk) -> Policy {
        Policy::new(self.max_risk.unwrap_or(default))
            .dry_run(self.dry_run)
            .state_dir(self.state_dir.clone())
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read-only report of the host, in the order a request meets it: who holds the ports,
    /// containers, memory and swap, disk, reboot need; each finding with its fix. With
    /// --fix: apply the fixes within --max-risk (default additive), least risky first.
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
    let argv: Vec<OsString> = std::env::args_os().collect();
    let code = run(&argv);
    // Every path returns 0 to 3; anything else would be a bug, reported as a failure.
    ExitCode::from(u8::try_from(code).ok().filter(|c| *c <= 3).unwrap_or(1))
}

/// Runs hostfix on an argument vector (the program name first) and returns the exit code.
fn run(argv: &[OsString]) -> i32 {
    let names = subcommand_names();
    match ansible::detect(argv, &names) {
        ansible::Invocation::Module(Ok(module_args)) => return ansible::run(&module_args),
        ansible::Invocation::Module(Err(why)) => return ansible::refuse(&why),
        ansible::Invocation::Cli => {}
    }
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => return output::usage_error(argv, &e),
    };
    if let Err(why) = check_repeated(argv) {
        return output::bad_input(argv, &why);
    }
    logger::init(cli.global.verbose);
    match cli.command {
        Command::Doctor(a) => doctor::run(&cli.global, a),
        Command::Check(a) => check::run(&cli.global, a),
        Command::Swap(c) => swap::run(&cli.global, c),
        Command::Port(c) => port::run(&cli.global, c),
        Command::Reboot(a) => reboot::run(&cli.global, a),
        Command::Container(c) => container::run(&cli.global, c),
    }
}

/// The top-level subcommand names (with clap's `help`): an argument that is one of them
/// always means that subcommand, never a module-arguments file.
fn subcommand_names() -> Vec<String> {
    let mut names: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    names.push("help".to_string());
    names
}
