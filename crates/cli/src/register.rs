//! `evergreen register NAME` (the token on standard input, or
//! `--token-file FILE`): hand a fleet credential the one-time token it
//! registers, or enrols, with. A token on the command line is visible to
//! every user of the machine (`ps`), so it is read from a file or standard
//! input. The work is the core's (`evergreen_core::register`); the token is
//! never printed.

use crate::out::say;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use evergreen_core::paths::Paths;
use evergreen_core::register::save_token;

#[derive(Args, Debug)]
pub struct RegisterArgs {
    /// The credential, as named in the config, of a kind that joins its
    /// fleet with a one-time token (a wrong kind is refused with the kinds
    /// that do).
    pub name: String,
    /// The one-time token itself, as the fleet's operator handed it out.
    /// Other users can see a command line: prefer standard input or
    /// --token-file.
    #[arg(
        long,
        env = "EVERGREEN_REGISTRATION_TOKEN",
        hide_env_values = true,
        conflicts_with = "token_file"
    )]
    pub token: Option<String>,
    /// Read the token from this file (`-` for standard input, which is also
    /// where it is read from when neither option is given).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

/// The token from standard input: everything up to its end, or one line when
/// someone types or pastes it at a terminal.
fn from_stdin() -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal, Read};
    let stdin = std::io::stdin();
    let mut token = String::new();
    if stdin.is_terminal() {
        eprint!("Paste the one-time token, then press Enter: ");
        stdin.lock().read_line(&mut token)
    } else {
        stdin.lock().take(1 << 20).read_to_string(&mut token)
    }
    .context("cannot read the token from standard input")?;
    Ok(token)
}

pub fn run(args: &RegisterArgs, paths: &Paths) -> anyhow::Result<i32> {
    let token = match (&args.token, &args.token_file) {
        (Some(t), _) => t.clone(),
        (None, Some(f)) if f.as_os_str() != "-" => {
            std::fs::read_to_string(f).with_context(|| format!("cannot read the token file {}", f.display()))?
        }
        _ => from_stdin()?,
    };
    if token.trim().is_empty() {
        anyhow::bail!(
            "the token is empty; pipe it in (`evergreen register {} < token-file`) or give --token-file FILE",
            args.name
        );
    }
    let token = token.trim().to_string().into();
    match save_token(&paths.config_file, &args.name, &token) {
        Ok(saved) => {
            let again = if saved.again { " again" } else { "" };
            say!(
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
