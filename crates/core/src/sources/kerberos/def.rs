//! The kerberos kind: its fields, its settings and how they are checked.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::config::fields::{field, Field, FieldType};
use crate::config::{RawCredential, Validator};
use crate::kind::{Facts, Kind, KindDef, Spec};
use crate::sources::Source;

/// The kind: a Kerberos ticket-granting ticket, renewed with MIT's `kinit -R`.
pub const KIND: Kind = Kind::of(&DEF);

const DEF: KindDef = KindDef {
    name: "kerberos",
    label: "Kerberos ticket",
    about: "A Kerberos ticket-granting ticket, renewed with MIT's kinit until its renew-till; from a keytab after that, or by asking you.",
    fields: &[FIELDS],
    facts: Facts::PLAIN,
    validate,
    discover: Some(super::discover::discover),
    #[cfg(feature = "fuzzing")]
    fuzz: super::fuzz,
};

const FIELDS: &[Field] = &[
    field(
        "cache",
        "Credential cache",
        FieldType::Text,
        false,
        "FILE:/path or DIR:/path. Default $KRB5CCNAME, else FILE:/tmp/krb5cc_UID.",
        "FILE:/tmp/krb5cc_1000",
    ),
    field(
        "principal",
        "Principal",
        FieldType::Text,
        false,
        "Who logs in (with the keytab, or when you log in again); default the cache's own.",
        "alice@EXAMPLE.COM",
    ),
    field(
        "keytab",
        "Keytab",
        FieldType::Path,
        false,
        "A keytab (0600) to get a fresh ticket from when renewals end, as k5start does. Needs principal.",
        "~/.config/evergreen/alice.keytab",
    ),
    field(
        "lifetime",
        "Ticket lifetime",
        FieldType::Duration,
        false,
        "Asked for when a new ticket is got (keytab or login); default the KDC's.",
        "10h",
    ),
    field(
        "renewable_life",
        "Renewable for",
        FieldType::Duration,
        false,
        "Asked for when a new ticket is got; default 7d.",
        "7d",
    ),
    field(
        "krb5_config",
        "krb5.conf",
        FieldType::Path,
        false,
        "A Kerberos configuration other than the system's, for kinit (KRB5_CONFIG).",
        "",
    ),
];

/// A Kerberos ticket cache and how a new ticket is got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KerberosSpec {
    /// As written (`FILE:…`, `DIR:…`, a path); `None`: the engine's
    /// `KRB5CCNAME`, else the system's default file.
    pub cache: Option<String>,
    pub principal: Option<String>,
    pub keytab: Option<PathBuf>,
    pub lifetime: Option<Duration>,
    pub renewable_life: Duration,
    pub krb5_config: Option<PathBuf>,
}

impl Spec for KerberosSpec {
    fn build(&self, name: &str) -> Arc<dyn Source> {
        Arc::new(super::Kerberos::new(name, self.clone()))
    }

    fn watched_paths(&self) -> Vec<PathBuf> {
        super::cache_file(self.cache.as_deref()).ok().into_iter().collect()
    }

    fn login_prompt(&self) -> Option<crate::model::LoginPrompt> {
        Some(crate::model::LoginPrompt {
            method: "kerberos".into(),
            username: self.principal.clone(),
            browser: false,
            command: None,
        })
    }

    fn log_in(&self, name: &str, answer: crate::login::Answer) -> Option<crate::kind::LoginFuture> {
        let source = super::Kerberos::new(name, self.clone());
        Some(Box::pin(
            async move { source.log_in(answer).await.map_err(|f| f.message) },
        ))
    }
}

fn validate(v: &mut Validator<'_>, raw: &RawCredential) -> Arc<dyn Spec> {
    let who = raw.who.as_str();
    let cache = raw.text("cache").map(|c| c.into_inner().trim().to_string());
    if let Some(c) = &cache {
        if let Err(why) = super::cache_kind(c) {
            v.err(raw.at("cache"), format!("{who}: cache: {why}"));
        }
    }
    let principal = raw
        .text("principal")
        .map(|p| p.into_inner().trim().to_string())
        .filter(|p| !p.is_empty());
    if principal
        .as_deref()
        .is_some_and(|p| p.starts_with('-') || p.contains(char::is_whitespace))
    {
        v.err(
            raw.at("principal"),
            format!("{who}: principal is not a Kerberos principal; write it like \"alice@EXAMPLE.COM\""),
        );
    }
    let keytab = raw.text("keytab").map(|k| v.path(k.get_ref()));
    if keytab.is_some() && principal.is_none() {
        v.err(
            raw.at("keytab"),
            format!("{who}: a keytab needs principal, the name it logs in as (e.g. \"alice@EXAMPLE.COM\")"),
        );
    }
    let duration =
        |v: &mut Validator<'_>, key: &str| raw.text(key).and_then(|d| v.duration(&format!("{who}: {key}"), &d));
    Arc::new(KerberosSpec {
        cache,
        principal,
        keytab,
        lifetime: duration(v, "lifetime"),
        renewable_life: duration(v, "renewable_life").unwrap_or(Duration::from_secs(7 * 86_400)),
        krb5_config: raw.text("krb5_config").map(|k| v.path(k.get_ref())),
    })
}
