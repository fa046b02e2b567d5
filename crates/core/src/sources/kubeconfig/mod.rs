//! A Kubernetes user from a kubeconfig.
//!
//! Cluster client certificates expire (kubeadm's after a year) and nothing
//! says so until kubectl fails. Evergreen reads the user's certificate,
//! inline (`client-certificate-data`) or from its file, and shows which
//! contexts use it; it renews only through a `renew_command` the user gives.
//! An exec or OIDC user's id token (kubelogin's cache) is shown by its
//! `exp`, read from the JWT's body alone.

use std::time::SystemTime;

use async_trait::async_trait;

use super::{Failure, Observation, RenewRequest, Renewed, Source};
use crate::kind::Kind;
use crate::model::{CertDetails, DetailLabels, DetailRow};

mod def;
mod discover;
mod file;

pub use def::{KubeconfigSpec, KIND};
use file::Held;

#[derive(Debug)]
pub struct Kubeconfig {
    name: String,
    spec: KubeconfigSpec,
}

impl Kubeconfig {
    pub fn new(name: &str, spec: KubeconfigSpec) -> Self {
        Kubeconfig {
            name: name.to_string(),
            spec,
        }
    }

    fn read(&self) -> Result<(Observation, Held), Failure> {
        let k = file::read(&self.spec.path).map_err(Failure::transient)?;
        let user = &self.spec.user;
        let Some(u) = k.user(user) else {
            let names: Vec<&str> = k.users.iter().map(|u| u.name.as_str()).take(10).collect();
            return Err(Failure::paused(format!(
                "{} has no user {user:?} (it has: {}); set user to one of them",
                self.spec.path.display(),
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )));
        };
        let held = u.held(&self.spec.path, &self.spec.oidc_cache);
        let contexts = k.contexts_of(user);
        let mut obs = observation(&held, &self.spec.path, user)?;
        if let Some(d) = obs.details.as_mut() {
            d.more.push(DetailRow {
                label: "Contexts".into(),
                value: if contexts.is_empty() {
                    "none".into()
                } else {
                    contexts.join(", ")
                },
                at: None,
            });
        }
        Ok((obs, held))
    }
}

/// What a user's credential says.
fn observation(held: &Held, path: &std::path::Path, user: &str) -> Result<Observation, Failure> {
    match held {
        Held::Inline(pem) => {
            let f = crate::x509::parse(pem).map_err(|e| {
                Failure::transient(format!(
                    "the client-certificate-data of user {user:?} in {} is not a certificate: {e}",
                    path.display()
                ))
            })?;
            Ok(Observation::of_cert(&f))
        }
        Held::File(p) => {
            let f = crate::x509::read_file(p).map_err(|e| Failure::transient(e.to_string()))?;
            Ok(Observation::of_cert(&f))
        }
        Held::IdToken { token, from } => {
            let c = file::claims(token).map_err(|e| Failure::transient(format!("{e} (from {from})")))?;
            let lifetime = c
                .lifetime()
                .ok_or_else(|| Failure::transient(format!("the id token's exp is not a time (from {from})")))?;
            let who = c.email.clone().unwrap_or_else(|| c.sub.clone());
            Ok(Observation {
                details: Some(CertDetails {
                    subject: who,
                    issuer: c.iss.clone(),
                    serial: from.clone(),
                    sha256: String::new(),
                    sans: Vec::new(),
                    labels: DetailLabels::of(
                        "OIDC id token",
                        ["Subject", "Other names", "Issuer", "Read from", "Fingerprint"],
                    ),
                    more: Vec::new(),
                }),
                ..Observation::of(lifetime)
            })
        }
        Held::NoToken(why) => Err(Failure::absent(format!("user {user:?}: {why}"))),
        Held::Nothing => Err(Failure::paused(format!(
            "user {user:?} in {} has no certificate or token that expires (a static token or a password); nothing to watch, remove this credential",
            path.display()
        ))),
    }
}

#[async_trait]
impl Source for Kubeconfig {
    fn kind(&self) -> Kind {
        KIND
    }

    fn can_renew(&self) -> bool {
        self.spec.renew_command.is_some()
    }

    async fn observe(&self, _now: SystemTime) -> Result<Observation, Failure> {
        self.read().map(|(o, _)| o)
    }

    async fn renew(&self, req: RenewRequest) -> Result<Renewed, Failure> {
        let Some(cmd) = &self.spec.renew_command else {
            return Err(Failure::transient(format!(
                "user {:?} of {} has no renew_command, so Evergreen only watches it; add one (for example `kubeadm kubeconfig user …`)",
                self.spec.user,
                self.spec.path.display()
            )));
        };
        // The file that changes: the certificate's own, or the kubeconfig.
        let target = match self.read() {
            Ok((_, Held::File(p))) => p,
            _ => self.spec.path.clone(),
        };
        let writes = format!("user {:?}'s certificate to {}", self.spec.user, target.display());
        super::renew_by_command(
            &self.name,
            super::ByCommand {
                renew: cmd,
                reload: self.spec.reload_command.as_ref(),
                timeout: self.spec.command_timeout,
            },
            &target,
            &req,
            &writes,
            || self.read().map(|(o, _)| o),
        )
        .await
    }
}

/// A kubeconfig and an id token of any shape.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz(data: &[u8]) {
    if let Ok(k) = file::parse(data) {
        for u in &k.users {
            let _ = u
                .user
                .held(std::path::Path::new("/k"), std::path::Path::new("/nonexistent"));
            let _ = k.contexts_of(&u.name);
        }
    }
    let _ = file::claims(&String::from_utf8_lossy(data));
}
