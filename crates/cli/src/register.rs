//! `evergreen register NAME --token TOKEN`: hand a fleet credential the
//! one-time token it registers (or re-registers) with.
//!
//! The token goes into the credential's `registration_token_file` (0600,
//! written atomically); a running engine sees the file appear, leaves the
//! `paused` state and registers at once. The token is never printed.

use clap::Args;
use evergreen_core::config::{self, CredentialSpec};
use evergreen_core::fsutil::{atomic_write, SECRET_FILE_MODE};
use evergreen_core::paths::Paths;

#[derive(Args, Debug)]
pub struct RegisterArgs {
    /// The credential (a `wrenn` one) as named in the config.
    pub name: String,
    /// The one-time registration token from the control plane.
    #[arg(long, env = "EVERGREEN_REGISTRATION_TOKEN", hide_env_values = true)]
    pub token: String,
}

pub fn run(args: &RegisterArgs, paths: &Paths) -> anyhow::Result<i32> {
    let cfg = config::load(&paths.config_file)?;
    let Some(c) = cfg.credentials.iter().find(|c| c.name == args.name) else {
        let names: Vec<&str> = cfg.credentials.iter().map(|c| c.name.as_str()).collect();
        eprintln!(
            "error: no credential named {:?} in {}; it has: {}",
            args.name,
            paths.config_file.display(),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        );
        return Ok(2);
    };
    let CredentialSpec::Wrenn(spec) = &c.spec else {
        eprintln!(
            "error: {} is a {} credential; `evergreen register` is for wrenn registrations",
            c.name,
            c.kind()
        );
        return Ok(2);
    };
    let token = args.token.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        eprintln!("error: --token must be the one-time token, one word without spaces");
        return Ok(2);
    }
    atomic_write(&spec.registration_token_file, token.as_bytes(), SECRET_FILE_MODE)?;
    let again = if spec.credentials_file.exists() { " again" } else { "" };
    println!(
        "token saved to {}; a running engine registers {}{again} now (`evergreen status` shows it), or start one with `evergreen run`",
        spec.registration_token_file.display(),
        c.name
    );
    Ok(0)
}
