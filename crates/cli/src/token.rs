//! `evergreen token NAME`: the access token of an OAuth credential on
//! standard output, for scripts and tools (`git credential`, msmtp's
//! `passwordeval`, `curl -H "Authorization: Bearer $(evergreen token NAME)"`).
//! It is refreshed first when it is due, under the same lock the engine
//! takes, so the two never refresh at once. When a login is needed it says
//! so on standard error and exits 1.

use clap::Args;
use evergreen_core::paths::Paths;
use secrecy::ExposeSecret;

use crate::out::say;

#[derive(Args, Debug)]
pub struct TokenArgs {
    /// The credential, as named in the config.
    pub name: String,
}

pub fn run(args: &TokenArgs, paths: &Paths) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    match rt.block_on(evergreen_core::login::token(&paths.config_file, &args.name)) {
        Ok(t) => {
            say!("{}", t.expose_secret());
            Ok(0)
        }
        Err(evergreen_core::Error::Refused(msg)) => {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "error: {}: {msg}", args.name);
            Ok(1)
        }
        Err(e) => Err(e.into()),
    }
}
