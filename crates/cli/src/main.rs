//! The `evergreen` command: a thin face over evergreen-core.
//!
//! Each subcommand lives in its own module and returns the process exit
//! status; only here does an error become a message on stderr, with the
//! status `exit::of` gives it. Every command's help ends with the same
//! table of exit statuses (`exit::HELP`).

mod check;
mod config_cmd;
mod discover;
mod docs;
mod exit;
mod login;
mod out;
mod register;
mod remote;
mod run;
mod service;
mod term;
mod token;

use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
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
    /// Show the credentials of the running engine (all, or the ones named).
    Status(remote::StatusArgs),
    /// Show one credential in full: certificate details, files, recent history.
    Show(remote::ShowArgs),
    /// Renew one credential now (or every due one), through the running engine.
    Renew(remote::RenewArgs),
    /// Pause one credential's renewals and heartbeats, until resumed or for a while.
    Pause(remote::PauseArgs),
    /// Resume a paused credential.
    Resume(remote::ResumeArgs),
    /// Pause or resume desktop notifications.
    #[command(subcommand)]
    Notifications(remote::NotificationsCmd),
    /// Follow the engine's events as they happen, until Ctrl-C.
    Events(remote::EventsArgs),
    /// Print the running engine's Prometheus metrics once (or write them for node-exporter).
    Metrics(remote::MetricsArgs),
    /// Show the renewal history kept by the running engine.
    History(remote::HistoryArgs),
    /// Give a fleet credential the one-time token it registers (enrols) with.
    Register(register::RegisterArgs),
    /// Log in to a credential that asks you (a password, a browser login).
    Login(login::LoginArgs),
    /// Print an OAuth credential's access token (refreshed first when due).
    Token(token::TokenArgs),
    /// List what expires on this machine (certificates, SSH and Kerberos tickets, AWS SSO, kubeconfig users, GPG keys) and add it.
    Discover(discover::DiscoverArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(config_cmd::ConfigCmd),
    /// Print a shell's completion script (bash, zsh, fish, elvish, powershell).
    Completions(docs::CompletionsArgs),
    /// Write the man pages into a directory (`make man`).
    #[command(hide = true)]
    Man(docs::ManArgs),
    /// Re-issue one demo certificate (the demo's renew_command).
    #[command(hide = true)]
    DemoRenew(evergreen_core::demo::RenewArgs),
}

/// The whole command line, with the exit statuses at the end of every command's help.
pub(crate) fn command() -> clap::Command {
    fn with_exit_help(c: clap::Command) -> clap::Command {
        c.after_long_help(exit::HELP).mut_subcommands(with_exit_help)
    }
    with_exit_help(Cli::command())
}

fn paths(cli: &Cli) -> anyhow::Result<Paths> {
    let mut p = Paths::from_env()?;
    if let Some(c) = &cli.config {
        p.config_file = c.clone();
    }
    Ok(p)
}

fn main() {
    let cli = match Cli::from_arg_matches(&command().get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let result = (|| -> anyhow::Result<i32> {
        match &cli.command {
            Commands::Check(args) => check::run(args),
            Commands::Run(args) => run::run(args, paths(&cli)?),
            Commands::Status(args) => remote::status(args, &paths(&cli)?),
            Commands::Show(args) => remote::show(args, &paths(&cli)?),
            Commands::Renew(args) => remote::renew(args, &paths(&cli)?),
            Commands::Pause(args) => remote::pause(args, &paths(&cli)?),
            Commands::Resume(args) => remote::resume(args, &paths(&cli)?),
            Commands::Notifications(cmd) => remote::notifications(cmd, &paths(&cli)?),
            Commands::Events(args) => remote::events(args, &paths(&cli)?),
            Commands::History(args) => remote::history(args, &paths(&cli)?),
            Commands::Metrics(args) => remote::metrics(args, &paths(&cli)?),
            Commands::Config(cmd) => config_cmd::run(cmd, &paths(&cli)?),
            Commands::Register(args) => register::run(args, &paths(&cli)?),
            Commands::Login(args) => login::run(args, &paths(&cli)?),
            Commands::Token(args) => token::run(args, &paths(&cli)?),
            Commands::Discover(args) => discover::run(args, &paths(&cli)?),
            Commands::Completions(args) => docs::completions(args),
            Commands::Man(args) => docs::man(args),
            Commands::DemoRenew(args) => run::demo_renew(args),
        }
    })();
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(exit::of(&e));
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
