//! The gpg_key kind: its fields, its settings and how they are checked.

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::fields::{field, Field, FieldType};
use crate::config::{RawCredential, Validator};
use crate::kind::{Facts, Kind, KindDef, Spec};
use crate::sources::Source;

/// The kind: a GPG key or subkey with an expiry date, watched.
pub const KIND: Kind = Kind::of(&DEF);

const DEF: KindDef = KindDef {
    name: "gpg_key",
    label: "GPG key",
    about: "A GnuPG key or subkey with an expiry date, watched; its notices say the gpg command that extends it.",
    fields: &[FIELDS],
    facts: Facts::PLAIN,
    validate,
    discover: Some(super::discover::discover),
    #[cfg(feature = "fuzzing")]
    fuzz: super::fuzz,
};

const FIELDS: &[Field] = &[
    field(
        "fingerprint",
        "Fingerprint",
        FieldType::Text,
        true,
        "The key's or subkey's full fingerprint (gpg --list-secret-keys --with-subkey-fingerprints).",
        "0123456789ABCDEF0123456789ABCDEF01234567",
    )
    .needs("the fingerprint of the key to watch"),
    field(
        "gnupg_home",
        "GnuPG home",
        FieldType::Path,
        false,
        "Where the keyring is; default $GNUPGHOME, else ~/.gnupg.",
        "~/.gnupg",
    ),
    field(
        "extend_by",
        "Extend by",
        FieldType::Text,
        false,
        "The new expiry the suggested command sets (gpg's words: 1y, 6m, 2026-12-31); default 1y.",
        "1y",
    ),
];

/// A key in a GnuPG keyring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpgKeySpec {
    /// Upper-case hex.
    pub fingerprint: String,
    pub gnupg_home: Option<PathBuf>,
    pub extend_by: String,
}

impl Spec for GpgKeySpec {
    fn build(&self, name: &str) -> Arc<dyn Source> {
        Arc::new(super::GpgKey::new(name, self.clone()))
    }

    /// `gpg --quick-set-expire` rewrites the keyring.
    fn watched_paths(&self) -> Vec<PathBuf> {
        let home = self.home();
        vec![home.join("pubring.kbx"), home.join("pubring.gpg")]
    }
}

fn validate(v: &mut Validator<'_>, raw: &RawCredential) -> Arc<dyn Spec> {
    let who = raw.who.as_str();
    let fingerprint: String = raw
        .required("fingerprint")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    let hex = fingerprint.chars().all(|c| c.is_ascii_hexdigit());
    if !fingerprint.is_empty() && (!hex || !(fingerprint.len() == 40 || fingerprint.len() == 64)) {
        v.err(
            raw.at("fingerprint"),
            format!("{who}: fingerprint must be a key's full fingerprint (40 or 64 hex digits); `gpg --list-secret-keys --with-subkey-fingerprints` shows them"),
        );
    }
    let extend_by = raw
        .text("extend_by")
        .map(|t| t.into_inner().trim().to_string())
        .unwrap_or_else(|| "1y".into());
    if extend_by.is_empty() || !extend_by.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        v.err(
            raw.at("extend_by"),
            format!("{who}: extend_by {extend_by:?} is not an expiry gpg takes; write it like \"1y\", \"6m\" or \"2027-12-31\""),
        );
    }
    Arc::new(GpgKeySpec {
        fingerprint,
        gnupg_home: raw.text("gnupg_home").map(|h| v.path(h.get_ref())),
        extend_by,
    })
}
