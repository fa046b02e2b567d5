//! The wrenn kind: its fields, its settings and how they are checked.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::config::fields::{field, Field, FieldType, FLEET_CA_BUNDLE};
use crate::config::{RawCredential, Validator};
use crate::kind::{Enrolment, Facts, Kind, KindDef, Spec};
use crate::sources::Source;

/// The kind: a wrenn host registration kept alive with heartbeats.
pub const KIND: Kind = Kind::of(&DEF);

const DEF: KindDef = KindDef {
    name: "wrenn",
    label: "wrenn host",
    about: "A wrenn host registration kept alive with heartbeats.",
    fields: &[FIELDS],
    facts: Facts {
        issues_certificates: false,
        heartbeats: true,
        enrolment: Some(Enrolment {
            token: "registration token",
            check: check_token,
        }),
        ..Facts::PLAIN
    },
    validate,
    discover: None,
    #[cfg(feature = "fuzzing")]
    fuzz: super::fuzz,
};

const FIELDS: &[Field] = &[
    field(
        "url",
        "Control plane",
        FieldType::Url,
        true,
        "https://…",
        "https://wrenn.example.com",
    )
    .needs("the control plane's https:// URL"),
    field(
        "credentials_file",
        "Credentials file",
        FieldType::Path,
        true,
        "The host credentials (JSON, 0600), written at registration.",
        "~/.local/share/wrenn/host.json",
    )
    .needs("where the host credentials (JSON, 0600) are kept"),
    field(
        "registration_token_file",
        "Registration token file",
        FieldType::Path,
        false,
        "Where a one-time token waits; default <credentials file>.token.",
        "",
    ),
    field(
        "heartbeat_interval",
        "Heartbeat interval",
        FieldType::Duration,
        false,
        "Default 30s.",
        "30s",
    ),
    field(
        "host_address",
        "Host address",
        FieldType::Text,
        true,
        "This host's ip:port as the control plane reaches it; wrenn refuses a registration without one.",
        "10.0.0.5:9000",
    )
    .needs("this host's ip:port as the control plane reaches it (wrenn refuses a registration without one, and may call back there)"),
    FLEET_CA_BUNDLE,
];

/// A wrenn host registration: host JWT, refresh token and
/// certificate in one credentials file, kept alive with heartbeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrennSpec {
    /// The control plane, `https://…` (plain HTTP only on loopback).
    pub url: String,
    /// The credentials file (JSON, 0600), written at registration.
    pub credentials_file: PathBuf,
    /// A file holding a one-time registration token, used (and then
    /// removed) when there is no credentials file.
    pub registration_token_file: PathBuf,
    pub heartbeat_interval: Duration,
    /// This host's externally reachable address, sent at registration.
    pub host_address: String,
    pub ca_bundle: Option<PathBuf>,
}

impl Spec for WrennSpec {
    fn build(&self, name: &str) -> Arc<dyn Source> {
        Arc::new(super::Wrenn::new(name, self.clone()))
    }

    fn watched_paths(&self) -> Vec<PathBuf> {
        vec![self.credentials_file.clone(), self.registration_token_file.clone()]
    }

    fn token_file(&self) -> Option<(PathBuf, PathBuf)> {
        Some((self.registration_token_file.clone(), self.credentials_file.clone()))
    }
}

/// A registration token is one opaque word.
fn check_token(token: &str) -> Result<String, String> {
    let token = token.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err("the registration token must be the one-time token, one word without spaces".into());
    }
    Ok(token.to_string())
}

fn validate(v: &mut Validator<'_>, raw: &RawCredential) -> Arc<dyn Spec> {
    let who = raw.who.as_str();
    let url = v.control_plane_url(who, &raw.text("url"), true);
    let credentials_file = v.path(&raw.required("credentials_file"));
    let registration_token_file = v.token_file(&raw.text("registration_token_file"), &credentials_file);
    let heartbeat_interval = v.interval(
        who,
        "heartbeat_interval",
        &raw.text("heartbeat_interval"),
        Duration::from_secs(30),
        &url,
    );
    Arc::new(WrennSpec {
        url,
        credentials_file,
        registration_token_file,
        heartbeat_interval,
        host_address: raw.required("host_address"),
        ca_bundle: v.ca_bundle(who, &raw.text("ca_bundle")),
    })
}
