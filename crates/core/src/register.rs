//! Handing a fleet credential (a `wrenn` registration) the one-time token it
//! registers, or re-registers, with.
//!
//! The token goes into the credential's `registration_token_file` (0600,
//! written atomically); the running engine sees the file appear, leaves the
//! `paused` state and registers at once. `evergreen register` and the tray
//! app's re-register form both come here. The token is never printed.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::config::{self, CredentialSpec};
use crate::error::{Error, Result};
use crate::fsutil::{atomic_write, SECRET_FILE_MODE};

/// Where the token went, and whether the host was registered before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub token_file: PathBuf,
    pub again: bool,
}

/// Saves `token` for the credential `name` of the config at `config_file`.
pub fn save_token(config_file: &Path, name: &str, token: &SecretString) -> Result<Saved> {
    let cfg = config::load(config_file)?;
    let Some(c) = cfg.credentials.iter().find(|c| c.name == name) else {
        let names: Vec<&str> = cfg.credentials.iter().map(|c| c.name.as_str()).collect();
        return Err(Error::Refused(format!(
            "no credential named {name:?} in {}; it has: {}",
            config_file.display(),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        )));
    };
    let CredentialSpec::Wrenn(spec) = &c.spec else {
        return Err(Error::Refused(format!(
            "{} is a {} credential; registering with a token is for wrenn registrations",
            c.name,
            c.kind()
        )));
    };
    let token = token.expose_secret().trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(Error::Refused(
            "the registration token must be the one-time token, one word without spaces".into(),
        ));
    }
    atomic_write(&spec.registration_token_file, token.as_bytes(), SECRET_FILE_MODE)?;
    Ok(Saved {
        token_file: spec.registration_token_file.clone(),
        again: spec.credentials_file.exists(),
    })
}
