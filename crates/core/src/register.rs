//! Handing a fleet credential the one-time token it joins its fleet with: a
//! `wrenn` registration token, or a `nixfleet` enrolment token (the JSON
//! bootstrap token the fleet operator minted for this host).
//!
//! The token goes into the credential's token file (`registration_token_file`
//! or `enrollment_token_file`, 0600, written atomically); the running engine
//! sees the file appear, leaves the `paused` state and registers (enrols) at
//! once. `evergreen register` and the tray app's re-register form both come
//! here. The token is never printed.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::config;
use crate::error::{Error, Result};
use crate::fsutil::{atomic_write, SECRET_FILE_MODE};
use crate::kind::Kind;

/// Where the token went, and whether the host was registered before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub token_file: PathBuf,
    pub again: bool,
}

/// Saves `token` for the credential `name` of the config at `config_file`.
pub fn save_token(config_file: &Path, name: &str, token: &SecretString) -> Result<Saved> {
    let c = config::credential_named(config_file, name)?;
    let (Some(enrolment), Some((token_file, registered))) = (c.kind.facts().enrolment, c.spec.token_file()) else {
        let enrolling: Vec<&str> = Kind::all()
            .filter(|k| k.facts().enrolment.is_some())
            .map(Kind::as_str)
            .collect();
        return Err(Error::Refused(format!(
            "{} is a {} credential; registering with a token is for {} credentials",
            c.name,
            c.kind(),
            enrolling.join(" and ")
        )));
    };
    let token = (enrolment.check)(token.expose_secret()).map_err(Error::Refused)?;
    atomic_write(&token_file, token.as_bytes(), SECRET_FILE_MODE)?;
    Ok(Saved {
        token_file,
        again: registered.exists(),
    })
}
