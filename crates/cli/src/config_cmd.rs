//! `evergreen config check` and `evergreen config path`.

use crate::out::say;
use std::path::PathBuf;

use clap::Subcommand;
use evergreen_core::config;
use evergreen_core::paths::Paths;

#[derive(Subcommand, Debug)]
pub enum ConfigCmd {
    /// Validate the config file without starting anything.
    Check {
        /// The file to check (default: the config Evergreen would use).
        file: Option<PathBuf>,
    },
    /// Print where the config file is (or would be).
    Path,
}

pub fn run(cmd: &ConfigCmd, paths: &Paths) -> anyhow::Result<i32> {
    match cmd {
        ConfigCmd::Path => {
            say!("{}", paths.config_file.display());
            if !paths.config_file.exists() {
                eprintln!("(it does not exist yet; docs/configuration.md shows what to put in it)");
            }
            Ok(0)
        }
        ConfigCmd::Check { file } => {
            let file = file.clone().unwrap_or_else(|| paths.config_file.clone());
            match config::load(&file) {
                Ok(cfg) => {
                    say!("{}: ok, {} credential(s)", file.display(), cfg.credentials.len());
                    for c in &cfg.credentials {
                        let state = if c.enabled { "" } else { " (disabled)" };
                        say!("  {} ({}){state}", c.name, c.kind());
                    }
                    for w in &cfg.warnings {
                        say!("warning: {w}");
                    }
                    Ok(0)
                }
                Err(e) => {
                    eprintln!("{e}");
                    Ok(2)
                }
            }
        }
    }
}
