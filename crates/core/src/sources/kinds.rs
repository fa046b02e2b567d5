//! Which source each configured kind gets: the one place a new kind is
//! registered with the engine.

use std::sync::Arc;

use super::{certctl, nixfleet, vault_pki, vault_token, wrenn, x509_file, Source};
use crate::config::{CredentialConfig, CredentialSpec};

/// Builds the source for a configured credential.
pub fn build(cfg: &CredentialConfig) -> Arc<dyn Source> {
    match &cfg.spec {
        CredentialSpec::X509File(spec) => Arc::new(x509_file::X509File::new(&cfg.name, spec.clone())),
        CredentialSpec::VaultToken(spec) => Arc::new(vault_token::VaultToken::new(&cfg.name, spec.clone())),
        CredentialSpec::Wrenn(spec) => Arc::new(wrenn::Wrenn::new(&cfg.name, spec.clone())),
        CredentialSpec::Nixfleet(spec) => Arc::new(nixfleet::Nixfleet::new(&cfg.name, spec.clone())),
        CredentialSpec::VaultPki(spec) => Arc::new(vault_pki::VaultPki::new(&cfg.name, spec.as_ref().clone())),
        CredentialSpec::Certctl(spec) => Arc::new(certctl::Certctl::new(&cfg.name, spec.as_ref().clone())),
    }
}
