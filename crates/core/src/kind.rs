//! What a credential kind is to the engine: one [`KindDef`] value, defined in
//! the kind's own source file and listed once in `sources::kinds::KINDS`.
//!
//! Everything else derives from that value: the validator (fields, types,
//! required-ness, which kind a field belongs to), the settings form, the
//! field tables of docs/configuration.md, the scheduler's and the metrics'
//! facts (does it issue certificates, does it beat, does it enrol), and
//! the words and actions every face shows. A fact about a kind written
//! anywhere else is a bug; `tests/house.rs` looks for `match`es on kinds
//! outside the sources.

use std::any::Any;
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::config::fields::Field;
use crate::config::{RawCredential, Validator};
use crate::policy::RenewPolicy;
use crate::sources::Source;

/// One credential kind: its name and words, its fields, its facts, and how
/// its settings are checked and turned into a running source.
pub struct KindDef {
    /// Its name in the config file (`kind = "…"`), the CLI and the store.
    pub name: &'static str,
    /// Its name in the window and the tray: "Vault token".
    pub label: &'static str,
    /// What it is, in one sentence (the form, the docs).
    pub about: &'static str,
    /// Its fields, in the order the form shows them: its own table, then the
    /// tables it shares with other kinds (the common ones come last, for
    /// every kind, from [`crate::config::fields::of`]).
    pub fields: &'static [&'static [Field]],
    pub facts: Facts,
    /// Its own part of a credential: the fields (already checked against the
    /// table for type, required-ness and belonging) to a spec. Problems go to
    /// the validator; what it returns is dropped when there were any.
    pub(crate) validate: fn(&mut Validator<'_>, &RawCredential) -> Arc<dyn Spec>,
    /// Where credentials of this kind usually live on a workstation, for
    /// `evergreen discover` and the window's first run; `None`: nowhere to look.
    pub(crate) discover: Option<crate::discover::Discoverer>,
    /// Feeds arbitrary bytes to its parsers of what its server or its files
    /// send (the fuzz targets call every kind's): none may panic or hang.
    #[cfg(feature = "fuzzing")]
    pub(crate) fuzz: fn(&[u8]),
}

/// What the engine and the faces need to know about a kind, beyond its fields.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    /// Its renewals bring back a certificate (so a capped lifetime is the
    /// issuer's cap, and an expiry warning names a certificate).
    pub issues_certificates: bool,
    /// It keeps a registration alive with heartbeats.
    pub heartbeats: bool,
    /// It joins its fleet with a one-time token (`evergreen register`, the
    /// window's re-register form).
    pub enrolment: Option<Enrolment>,
    /// Its renewal point when the config sets none.
    pub renew_at: RenewPolicy,
}

impl Facts {
    /// No certificates, no heartbeats, no enrolment, the common renewal point.
    pub const PLAIN: Facts = Facts {
        issues_certificates: false,
        heartbeats: false,
        enrolment: None,
        renew_at: RenewPolicy::DEFAULT,
    };
}

/// How a kind takes the one-time token it joins its fleet with.
#[derive(Debug, Clone, Copy)]
pub struct Enrolment {
    /// What the token is called to the user: "registration token".
    pub token: &'static str,
    /// Checks a token's shape before it is saved, and gives the text to
    /// save; the error says what a right one looks like.
    pub check: fn(&str) -> Result<String, String>,
}

/// A login under way: what to tell the user, or why it failed.
pub type LoginFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, String>> + Send>>;

/// An access token being fetched (refreshed first when due), or why not.
pub type TokenFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<secrecy::SecretString, String>> + Send>>;

/// A kind's validated settings: what the engine needs of them without
/// knowing the kind. Each kind's spec is a plain struct in its source file.
pub trait Spec: SpecAny + Debug + Send + Sync + 'static {
    /// The source that keeps the credential `name` alive.
    fn build(&self, name: &str) -> Arc<dyn Source>;

    /// Files whose change means the credential should be looked at again
    /// (the certificate, its key, the token file a `bao login` rewrites).
    fn watched_paths(&self) -> Vec<PathBuf>;

    /// The certificate files it keeps (what certificate monitoring reads).
    fn certificate_files(&self) -> Vec<PathBuf> {
        Vec::new()
    }

    /// The environment variables it reads secrets from: no command Evergreen
    /// runs inherits them.
    fn secret_env(&self) -> Vec<String> {
        Vec::new()
    }

    /// For a kind that enrols: where its one-time token waits, and the file
    /// whose presence means it was registered before.
    fn token_file(&self) -> Option<(PathBuf, PathBuf)> {
        None
    }

    /// For a kind that logs in to Vault/OpenBao: the connection (address,
    /// token file) another credential may borrow by naming this one.
    fn vault_login(&self) -> Option<&crate::config::VaultConn> {
        None
    }

    /// For a kind that keeps a TLS client certificate: its certificate and
    /// key files, which another credential may log in with by naming it.
    fn tls_identity(&self) -> Option<(PathBuf, PathBuf)> {
        None
    }

    /// What logging it in asks of its user, when it asks (a password, a
    /// browser login).
    fn login_prompt(&self) -> Option<crate::model::LoginPrompt> {
        None
    }

    /// Logs the credential `name` in with what its user answered; `None`
    /// when it takes no login. The result says what happened, in words.
    fn log_in(&self, _name: &str, _answer: crate::login::Answer) -> Option<LoginFuture> {
        None
    }

    /// For a kind that holds a bearer token for other programs (`evergreen
    /// token NAME`): the token, refreshed first when `policy` says it is due.
    fn access_token(&self, _name: &str, _policy: crate::policy::RenewPolicy) -> Option<TokenFuture> {
        None
    }

    /// Settles references to other credentials by name, once every
    /// credential is read: `find` gives another credential's spec. Returns
    /// the settled spec (`None`: nothing to settle), or what is wrong.
    fn resolve(&self, _find: &dyn Fn(&str) -> Option<Arc<dyn Spec>>) -> Result<Option<Arc<dyn Spec>>, String> {
        Ok(None)
    }
}

/// Comparison and downcasting for any spec, written once.
pub trait SpecAny {
    fn as_any(&self) -> &dyn Any;
    fn same_as(&self, other: &dyn Any) -> bool;
}

impl<T: PartialEq + Any> SpecAny for T {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn same_as(&self, other: &dyn Any) -> bool {
        other.downcast_ref::<T>().is_some_and(|o| o == self)
    }
}

impl PartialEq for dyn Spec {
    fn eq(&self, other: &Self) -> bool {
        self.same_as(other.as_any())
    }
}

/// A credential's kind, as every face and the store name it: a handle on
/// its [`KindDef`], serialised as its name.
#[derive(Clone, Copy)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "string"))]
pub struct Kind(&'static KindDef);

impl Kind {
    /// The handle on `def` (each source file has its `KIND`).
    pub const fn of(def: &'static KindDef) -> Kind {
        Kind(def)
    }

    /// The registered kind called `name`.
    pub fn named(name: &str) -> Option<Kind> {
        Kind::all().find(|k| k.as_str() == name)
    }

    /// Every registered kind, in the order the window lists them.
    pub fn all() -> impl Iterator<Item = Kind> {
        crate::sources::KINDS.iter().copied()
    }

    /// Every registered kind's name.
    pub fn names() -> Vec<&'static str> {
        Kind::all().map(Kind::as_str).collect()
    }

    pub fn as_str(self) -> &'static str {
        self.0.name
    }

    pub fn label(self) -> &'static str {
        self.0.label
    }

    pub fn def(self) -> &'static KindDef {
        self.0
    }

    pub fn facts(self) -> Facts {
        self.0.facts
    }
}

impl PartialEq for Kind {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for Kind {}

impl std::hash::Hash for Kind {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.name.hash(state);
    }
}

impl Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kind({})", self.0.name)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name)
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name)
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<str>::deserialize(d)?;
        Kind::named(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown credential kind {name:?}; this Evergreen knows {}",
                Kind::names().join(", ")
            ))
        })
    }
}

/// Kinds picked by their facts, for tests of what the engine does with a
/// fact rather than with a kind.
#[cfg(test)]
pub(crate) mod roles {
    use super::Kind;

    fn find(what: &str, ok: impl Fn(Kind) -> bool) -> Kind {
        Kind::all()
            .find(|k| ok(*k))
            .unwrap_or_else(|| panic!("no registered kind {what}"))
    }

    /// No heartbeats, no enrolment: renewed by what its settings name.
    pub(crate) fn plain() -> Kind {
        find("plain", |k| !k.facts().heartbeats && k.facts().enrolment.is_none())
    }

    /// A second plain one, other than [`plain`].
    pub(crate) fn another_plain() -> Kind {
        find("plain besides the first", |k| {
            !k.facts().heartbeats && k.facts().enrolment.is_none() && k != plain()
        })
    }

    pub(crate) fn beats_and_enrols() -> Kind {
        find("that beats and enrols", |k| {
            k.facts().heartbeats && k.facts().enrolment.is_some()
        })
    }

    pub(crate) fn enrols_only() -> Kind {
        find("that enrols without beating", |k| {
            !k.facts().heartbeats && k.facts().enrolment.is_some()
        })
    }

    pub(crate) fn beats_only() -> Kind {
        find("that beats without enrolling", |k| {
            k.facts().heartbeats && k.facts().enrolment.is_none()
        })
    }
}
