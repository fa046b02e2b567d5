//! A GnuPG key or subkey with an expiry date.
//!
//! GPG keys expire on purpose and are extended by their owner with
//! `gpg --quick-set-expire`, which needs the key's passphrase: Evergreen
//! watches the date (from `gpg --with-colons`, never the secret key) and
//! says, ahead of it, the command that extends it. A change to the keyring
//! is noticed at once.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use super::{Failure, FailureClass, Observation, RenewRequest, Renewed, Source};
use crate::clock::unix_millis;
use crate::command::{self, Extra};
use crate::config::CommandSpec;
use crate::kind::Kind;
use crate::model::{CertDetails, DetailLabels, HardEnd, Lifetime};

mod colons;
mod def;
mod discover;

pub use def::{GpgKeySpec, KIND};

/// How long gpg may take to list keys (an agent that does not answer).
const GPG_TIMEOUT: Duration = Duration::from_secs(30);

impl GpgKeySpec {
    /// The keyring's directory.
    pub(crate) fn home(&self) -> PathBuf {
        self.gnupg_home.clone().unwrap_or_else(|| {
            std::env::var_os("GNUPGHOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| directories::BaseDirs::new().map(|b| b.home_dir().join(".gnupg")))
                .unwrap_or_else(|| PathBuf::from(".gnupg"))
        })
    }
}

#[derive(Debug)]
pub struct GpgKey {
    name: String,
    spec: GpgKeySpec,
}

impl GpgKey {
    pub fn new(name: &str, spec: GpgKeySpec) -> Self {
        GpgKey {
            name: name.to_string(),
            spec,
        }
    }

    /// What the key's listing says about it.
    fn observation(&self, key: &colons::Key) -> Result<Observation, Failure> {
        let fpr = &self.spec.fingerprint;
        if key.validity == 'r' {
            return Err(Failure::new(
                FailureClass::Rejected,
                format!(
                    "the GPG key {fpr} is revoked; make a new one (gpg --quick-add-key) and remove this credential"
                ),
            ));
        }
        let extend = key.extend_command(&self.spec.extend_by);
        let Some(expires) = key.expires else {
            return Err(Failure::paused(format!(
                "the GPG key {fpr} has no expiry date, so there is nothing to watch; remove this credential, or give it one with `{extend}`"
            )));
        };
        let what = if key.subkey { "subkey" } else { "key" };
        Ok(Observation {
            details: Some(CertDetails {
                subject: key.uid.clone(),
                issuer: if key.subkey { key.primary.clone() } else { String::new() },
                serial: format!("{} ({})", key.usage_words(), algo_name(&key.algo, &key.bits)),
                sha256: key.fingerprint.clone(),
                sans: Vec::new(),
                labels: DetailLabels::of(
                    if key.subkey { "GPG subkey" } else { "GPG key" },
                    ["User ID", "Other names", "Primary key", "Usage", "Fingerprint"],
                ),
                more: Vec::new(),
            }),
            hard_end: Some(HardEnd {
                at: unix_millis(expires),
                what: format!("The {what} expires"),
                then: format!("extend it with `{extend}` (it asks for the passphrase)"),
                // Extending is the owner's job, told at the expiry bands.
                needs_you: false,
            }),
            ..Observation::of(Lifetime {
                not_before: key.created.min(expires),
                not_after: expires,
            })
        })
    }
}

/// OpenPGP's algorithm numbers, in words.
fn algo_name(algo: &str, bits: &str) -> String {
    match algo {
        "1" | "2" | "3" => format!("RSA {bits}"),
        "16" => format!("Elgamal {bits}"),
        "17" => format!("DSA {bits}"),
        "18" => "ECDH".into(),
        "19" => "ECDSA".into(),
        "22" => "EdDSA".into(),
        other => format!("algorithm {other}"),
    }
}

/// The argv that lists secret keys, public facts only.
pub(crate) fn listing_argv(pattern: Option<&str>) -> Vec<String> {
    let mut argv: Vec<String> = [
        "gpg",
        "--batch",
        "--no-tty",
        "--with-colons",
        "--fixed-list-mode",
        "--with-subkey-fingerprint",
        "--list-secret-keys",
    ]
    .map(String::from)
    .to_vec();
    if let Some(p) = pattern {
        argv.extend(["--".to_string(), p.to_string()]);
    }
    argv
}

#[async_trait]
impl Source for GpgKey {
    fn kind(&self) -> Kind {
        KIND
    }

    fn can_renew(&self) -> bool {
        false
    }

    async fn observe(&self, now: SystemTime) -> Result<Observation, Failure> {
        self.observe_with(now, &[]).await
    }

    async fn observe_with(&self, _now: SystemTime, withheld: &[String]) -> Result<Observation, Failure> {
        let home = self.spec.home();
        let env = [("GNUPGHOME", home.as_os_str())];
        let out = command::run_with(
            &CommandSpec::Argv(listing_argv(Some(&self.spec.fingerprint))),
            &self.name,
            &home,
            GPG_TIMEOUT,
            withheld,
            &Extra {
                env: &env,
                stdout: true,
                ..Extra::default()
            },
        )
        .await;
        let text = String::from_utf8_lossy(&out.stdout[..out.stdout.len().min(colons::MAX_LISTING)]);
        let keys = colons::parse(&text);
        match keys.iter().find(|k| k.fingerprint == self.spec.fingerprint) {
            Some(k) => self.observation(k),
            None if !out.success && out.summary.contains("could not start") => Err(Failure::transient(format!(
                "{}; Evergreen reads GPG keys with gpg (Debian: apt install gnupg)",
                out.summary
            ))),
            None => Err(Failure {
                class: FailureClass::Paused,
                message: format!(
                    "no secret key {} in {} ({}); check the fingerprint with `gpg --list-secret-keys --with-subkey-fingerprints`, or set gnupg_home",
                    self.spec.fingerprint,
                    home.display(),
                    out.summary
                ),
                stderr_tail: out.stderr_tail,
            }),
        }
    }

    async fn renew(&self, _req: RenewRequest) -> Result<Renewed, Failure> {
        Err(Failure::transient(format!(
            "Evergreen does not extend GPG keys (that needs the passphrase); run `gpg --quick-set-expire {} {}`",
            self.spec.fingerprint, self.spec.extend_by
        )))
    }
}

/// A listing as gpg might print it, however garbled.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz(data: &[u8]) {
    for k in colons::parse(&String::from_utf8_lossy(data)) {
        let _ = (k.usage_words(), k.extend_command("1y"));
    }
}
