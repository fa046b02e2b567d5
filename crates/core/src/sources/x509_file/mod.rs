//! An X.509 certificate file, renewed (optionally) by an external command.
//!
//! Evergreen does not need to own a certificate to keep it alive: it watches
//! the file, and at the renewal point runs whatever tool the user already
//! trusts. A renewal only counts if the file afterwards parses and changed;
//! "exited 0 but nothing changed" is a failure.

use async_trait::async_trait;

use super::{Failure, Observation, RenewRequest, Renewed, Source};
use crate::kind::Kind;

mod def;
mod discover;

pub use def::{X509FileSpec, KIND};

#[derive(Debug)]
pub struct X509File {
    name: String,
    spec: X509FileSpec,
}

impl X509File {
    pub fn new(name: &str, spec: X509FileSpec) -> Self {
        X509File {
            name: name.to_string(),
            spec,
        }
    }

    fn read(&self) -> Result<Observation, Failure> {
        let path = self.spec.path.clone();
        match crate::x509::read_file(&path) {
            Ok(f) => Ok(Observation::of_cert(&f)),
            Err(e) => Err(Failure::transient(e.to_string())),
        }
    }
}

#[async_trait]
impl Source for X509File {
    fn kind(&self) -> Kind {
        KIND
    }

    fn can_renew(&self) -> bool {
        self.spec.renew_command.is_some()
    }

    async fn observe(&self, _now: std::time::SystemTime) -> Result<Observation, Failure> {
        self.read()
    }

    async fn renew(&self, req: RenewRequest) -> Result<Renewed, Failure> {
        let Some(cmd) = &self.spec.renew_command else {
            return Err(Failure::transient(format!(
                "{} has no renew_command, so Evergreen cannot renew it; add one to the credential in the config, or renew it by hand",
                self.spec.path.display()
            )));
        };
        super::renew_by_command(
            &self.name,
            super::ByCommand {
                renew: cmd,
                reload: self.spec.reload_command.as_ref(),
                timeout: self.spec.command_timeout,
            },
            &self.spec.path,
            &req,
            &self.spec.path.display().to_string(),
            || self.read(),
        )
        .await
    }
}

/// Its file's parser is the x509 target's; nothing of its own.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz(_: &[u8]) {}
