//! `evergreen register NAME --token TOKEN` (or `--token-file FILE`): hand a
//! fleet credential the one-time token it registers, or enrols, with. The
//! work is the core's (`evergreen_core::register`); the token is never printed.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use evergreen_core::paths::Paths;
use evergreen_core::register::save_token;

#[derive(Args, Debug)]
pub struct RegisterArgs {
    /// The credential (a `wrenn` or `nixfleet` one) as named in the config.
    pub name: String,
    /// The one-time token: wrenn's registration token, or nixfleet's JSON
    /// enrolment token.
    #[arg(
        long,
        env = "EVERGREEN_REGISTRATION_TOKEN",
        hide_env_values = true,
        required_unless_present = "token_file",
        conflicts_with = "token_file"
    )]
    pub token: Option<String>,
    /// Read the token from this file instead (a nixfleet enrolment token as
    /// the fleet operator handed it over).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

pub fn run(args: &RegisterArgs, paths: &Paths) -> anyhow::Result<i32> {
    let token = match (&args.token, &args.token_file) {
        (Some(t), _) => t.clone(),
        (None, Some(f)) => {
            std::fs::read_to_string(f).with_context(|| format!("cannot read the token file {}", f.display()))?
        }
        (None, None) => anyhow::bail!("give the token with --token TOKEN or --token-file FILE"),
    };
    let token = token.into();
    match save_token(&paths.config_file, &args.name, &token) {
        Ok(saved) => {
            let again = if saved.again { " again" } else { "" };
            println!(
                "token saved to {}; a running engine registers {}{again} now (`evergreen status` shows it), or start one with `evergreen run`",
                saved.token_file.display(),
                args.name
            );
            Ok(0)
        }
        Err(evergreen_core::Error::Refused(msg)) => {
            eprintln!("error: {msg}");
            Ok(2)
        }
        Err(e) => Err(e.into()),
    }
}
