//! `evergreen register NAME --token TOKEN`: hand a fleet credential the
//! one-time token it registers (or re-registers) with. The work is the
//! core's (`evergreen_core::register`); the token is never printed.

use clap::Args;
use evergreen_core::paths::Paths;
use evergreen_core::register::save_token;

#[derive(Args, Debug)]
pub struct RegisterArgs {
    /// The credential (a `wrenn` one) as named in the config.
    pub name: String,
    /// The one-time registration token from the control plane.
    #[arg(long, env = "EVERGREEN_REGISTRATION_TOKEN", hide_env_values = true)]
    pub token: String,
}

pub fn run(args: &RegisterArgs, paths: &Paths) -> anyhow::Result<i32> {
    let token = args.token.clone().into();
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
