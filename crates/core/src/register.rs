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
    let spec = match &c.spec {
        CredentialSpec::Wrenn(spec) => spec,
        CredentialSpec::Nixfleet(spec) => {
            let token = token.expose_secret().trim();
            let v: serde_json::Value = serde_json::from_str(token).map_err(|e| {
                Error::Refused(format!(
                    "a nixfleet enrolment token is the JSON the fleet operator minted ({{\"version\", \"claims\", \"signature\"}}); this is not JSON ({e})"
                ))
            })?;
            let shaped = v.get("claims").is_some_and(serde_json::Value::is_object)
                && v.get("signature").is_some_and(serde_json::Value::is_string)
                && v.get("version").is_some_and(serde_json::Value::is_u64);
            if !shaped {
                return Err(Error::Refused(
                    "a nixfleet enrolment token has \"version\", \"claims\" and \"signature\"; this JSON lacks one of them".into(),
                ));
            }
            atomic_write(&spec.enrollment_token_file, token.as_bytes(), SECRET_FILE_MODE)?;
            return Ok(Saved {
                token_file: spec.enrollment_token_file.clone(),
                again: spec.cert_path.exists(),
            });
        }
        _ => {
            return Err(Error::Refused(format!(
                "{} is a {} credential; registering with a token is for wrenn and nixfleet credentials",
                c.name,
                c.kind()
            )))
        }
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
