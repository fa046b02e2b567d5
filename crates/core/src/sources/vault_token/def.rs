//! The vault_token kind: its fields, its settings and how they are checked.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::VaultToken;
use crate::config::fields::{self, FieldType, VAULT_CONN};
use crate::config::{RawCredential, Validator, VaultConn};
use crate::kind::{Facts, Kind, KindDef, Spec};
use crate::policy::RenewPolicy;
use crate::sources::Source;

/// The kind: a Vault/OpenBao login token kept alive with renew-self.
pub const KIND: Kind = Kind::of(&DEF);

const DEF: KindDef = KindDef {
    name: "vault_token",
    label: "Vault token",
    about: "A Vault/OpenBao login token kept alive with renew-self.",
    fields: &[FIELDS, VAULT_CONN],
    // At half its TTL, as Vault's own agent and certctl's renewer do.
    facts: Facts {
        renew_at: RenewPolicy::Fraction(0.5),
        ..Facts::PLAIN
    },
    validate,
    #[cfg(feature = "fuzzing")]
    fuzz: super::fuzz,
};

const FIELDS: &[fields::Field] = &[fields::field(
    "increment",
    "Renewal increment",
    FieldType::Duration,
    false,
    "The TTL asked for at each renewal; default the token's own.",
    "1h",
)];

/// A Vault/OpenBao token kept alive with `renew-self`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultTokenSpec {
    pub conn: VaultConn,
    /// The TTL asked for at each renewal; default: the token's own TTL.
    pub increment: Option<Duration>,
}

impl Spec for VaultTokenSpec {
    fn build(&self, name: &str) -> Arc<dyn Source> {
        Arc::new(VaultToken::new(name, self.clone()))
    }

    fn watched_paths(&self) -> Vec<PathBuf> {
        self.conn.token.file().into_iter().collect()
    }

    fn secret_env(&self) -> Vec<String> {
        self.conn.token.env().into_iter().collect()
    }
}

fn validate(v: &mut Validator<'_>, raw: &RawCredential) -> Arc<dyn Spec> {
    let conn = v.vault_conn(raw);
    let increment = raw
        .text("increment")
        .and_then(|i| v.duration(&format!("{}: increment", raw.who), &i));
    Arc::new(VaultTokenSpec { conn, increment })
}
