//! The `evergreen` command: a thin face over evergreen-core.
//!
//! Each subcommand lives in its own module and returns the process exit code;
//! only here does an error become a message on stderr and exit status 2.

mod check;
mod config_cmd;
mod register;
mod remote;
mod run;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use evergreen_core::paths::Paths;

#[derive(Parser, Debug)]
#[command(
    name = "evergreen",
    version,
    about = "Keeps short-lived credentials (certificates, tokens, fleet registrations) from expiring unnoticed.",
    after_help = "Start with `evergreen run` (a demo when there is no config yet), then `evergreen status` in another terminal."
)]
struct Cli {
    /// Config file to use instead of the platform default.
    #[arg(long, global = true, env = "EVERGREEN_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand, Debug)]
enum Commands {
    /// Check certificate files: how long each has left and whether it needs renewing.
    Check(check::CheckArgs),
    /// Run the engine in the foreground (headless), printing one line per event.
    Run(run::RunArgs),
    /// Show every credential of the running engine.
    Status(remote::StatusArgs),
    /// Renew one credential now, through the running engine, and wait for the result.
    Renew(remote::RenewArgs),
    /// Show the renewal history kept by the running engine.
    History(remote::HistoryArgs),
    /// Give a fleet (wrenn) credential the one-time token to register with.
    Register(register::RegisterArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(config_cmd::ConfigCmd),
    /// Re-issue one demo certificate (the demo's renew_command).
    #[command(hide = true)]
    DemoRenew(evergreen_core::demo::RenewArgs),
}

fn paths(cli: &Cli) -> anyhow::Result<Paths> {
    let mut p = Paths::from_env()?;
    if let Some(c) = &cli.config {
        p.config_file = c.clone();
    }
    Ok(p)
}

fn main() {
    let cli = Cli::parse();
    let result = (|| -> anyhow::Result<i32> {
        match &cli.command {
            Commands::Check(args) => check::run(args),
            Commands::Run(args) => run::run(args, paths(&cli)?),
            Commands::Status(args) => remote::status(args, &paths(&cli)?),
            Commands::Renew(args) => remote::renew(args, &paths(&cli)?),
            Commands::History(args) => remote::history(args, &paths(&cli)?),
            Commands::Config(cmd) => config_cmd::run(cmd, &paths(&cli)?),
            Commands::Register(args) => register::run(args, &paths(&cli)?),
            Commands::DemoRenew(args) => run::demo_renew(args),
        }
    })();
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}

/// A tokio runtime for the commands that need one.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
