//! `evergreen-app`: the tray app. `--hidden` starts it in the tray only (as
//! start-at-login does). `--window [--show NAME]` is the window alone, a
//! process of its own that reaches the running tray's engine (the tray starts
//! it as `--window --attached`). `demo-renew …` is the demo's renew command,
//! so the demo needs nothing but this binary.

use clap::{Parser, Subcommand};

/// Evergreen's tray app: keeps short-lived credentials alive and shows them.
#[derive(Parser, Debug)]
#[command(
    name = "evergreen-app",
    version,
    after_help = "Without arguments: the tray, and its window opened."
)]
struct Cli {
    /// Start in the tray only, as start-at-login does.
    #[arg(long, conflicts_with = "window")]
    hidden: bool,
    /// Open the window of a running Evergreen.
    #[arg(long)]
    window: bool,
    /// With --window: open this credential's details.
    #[arg(long, requires = "window", value_name = "NAME", value_parser = credential_name)]
    show: Option<String>,
    /// With --window: started by the tray, which steers it over stdin.
    #[arg(long, requires = "window", hide = true)]
    attached: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Re-issue one demo certificate (the demo's renew_command).
    #[command(hide = true)]
    DemoRenew(evergreen_core::demo::RenewArgs),
}

fn credential_name(name: &str) -> Result<String, String> {
    if evergreen_core::config::valid_name(name) {
        Ok(name.to_string())
    } else {
        Err(format!(
            "{name:?} is not a credential name; `evergreen status` lists them"
        ))
    }
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::DemoRenew(args)) => std::process::exit(args.run(std::time::SystemTime::now())),
        None if cli.window => evergreen_app::run_window(evergreen_app::WindowOptions {
            show: cli.show,
            attached: cli.attached,
        }),
        None => evergreen_app::run_tray(cli.hidden),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(a: &[&str]) -> Result<Cli, String> {
        Cli::try_parse_from(std::iter::once("evergreen-app").chain(a.iter().copied())).map_err(|e| e.to_string())
    }

    #[test]
    fn window_arguments_are_checked() {
        let o = parse(&["--window", "--attached", "--show", "web"]).unwrap();
        assert!(o.window && o.attached);
        assert_eq!(o.show.as_deref(), Some("web"));
        let e = parse(&["--window", "--show"]).unwrap_err();
        assert!(e.contains("--show <NAME>"), "{e}");
        let e = parse(&["--window", "--show", "../etc"]).unwrap_err();
        assert!(e.contains("is not a credential name"), "{e}");
        let e = parse(&["--bogus"]).unwrap_err();
        assert!(e.contains("'--bogus'"), "{e}");
        let e = parse(&["--show", "web"]).unwrap_err();
        assert!(e.contains("--window"), "--show is for the window: {e}");
        assert!(parse(&["--hidden", "--window"]).is_err());
    }

    #[test]
    fn the_demo_renew_command_the_demo_writes_is_the_one_parsed() {
        let args = evergreen_core::demo::RenewArgs {
            dir: "/tmp/demo".into(),
            name: "demo-web".into(),
            lifetime: std::time::Duration::from_secs(90),
            flaky: true,
        };
        let argv = args.argv(std::path::Path::new("evergreen-app"));
        let cli = Cli::try_parse_from(&argv).unwrap();
        let Some(Command::DemoRenew(parsed)) = cli.command else {
            panic!("{argv:?} is not demo-renew")
        };
        assert_eq!(parsed, args);
    }
}
