//! The nixfleet kind: its fields, its settings and how they are checked.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

use crate::config::fields::{field, Field, FieldType, FLEET_CA_BUNDLE};
use crate::config::{RawCredential, Validator};
use crate::kind::{Enrolment, Facts, Kind, KindDef, Spec};
use crate::sources::Source;

/// The kind: a nixfleet agent's mTLS client certificate.
pub const KIND: Kind = Kind::of(&DEF);

const DEF: KindDef = KindDef {
    name: "nixfleet",
    label: "nixfleet agent",
    about: "A nixfleet agent's mTLS client certificate, renewed with a CSR signed by the SSH host key.",
    fields: &[FIELDS],
    facts: Facts {
        issues_certificates: true,
        heartbeats: false,
        enrolment: Some(Enrolment {
            token: "enrolment token",
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
        "https://… (mutual TLS).",
        "https://fleet.example.com",
    )
    .needs("the control plane's https:// URL"),
    field(
        "path",
        "Client certificate",
        FieldType::Path,
        true,
        "Rewritten in place at each renewal.",
        "/var/lib/nixfleet/agent.pem",
    )
    .needs("the client certificate file"),
    field(
        "key",
        "Key",
        FieldType::Choice,
        false,
        "ssh_host (default): every CSR is signed by the SSH host key; rotate: a fresh key for every certificate.",
        "",
    )
    .choices(NixfleetKey::NAMES),
    field(
        "ssh_host_key",
        "SSH host key",
        FieldType::Path,
        false,
        "With key = \"ssh_host\": the OpenSSH ed25519 private key; default /etc/ssh/ssh_host_ed25519_key.",
        "",
    ),
    field(
        "key_path",
        "Key file",
        FieldType::Path,
        false,
        "With key = \"rotate\": where the current key is kept (0600); default the certificate's path with .key.",
        "",
    ),
    field(
        "machine_id",
        "Machine id",
        FieldType::Text,
        false,
        "Default: the certificate's common name, else the hostname.",
        "",
    ),
    field(
        "enrollment_token_file",
        "Enrolment token file",
        FieldType::Path,
        false,
        "Where an enrolment token waits; default <certificate>.token.",
        "",
    ),
    FLEET_CA_BUNDLE,
];

/// A nixfleet agent's mTLS client certificate, renewed with a CSR
/// signed by the host's SSH ed25519 key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NixfleetSpec {
    /// The control plane, `https://…` (no path).
    pub url: String,
    /// The client certificate, rewritten in place.
    pub cert_path: PathBuf,
    /// Which key the certificate is for.
    pub key: NixfleetKey,
    pub machine_id: String,
    pub ca_bundle: Option<PathBuf>,
    /// Where an enrolment token waits (`evergreen register` writes it): with
    /// no certificate yet, Evergreen enrols with it and then removes it.
    pub enrollment_token_file: PathBuf,
}

/// The key of a nixfleet machine's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NixfleetKey {
    /// `key = "ssh_host"`: the host's OpenSSH ed25519 private key signs
    /// every CSR, so the public key never changes.
    SshHost(PathBuf),
    /// `key = "rotate"`: a fresh key for every enrolment and renewal, kept
    /// at this path together with its certificate (one pair).
    Rotate(PathBuf),
}

impl NixfleetKey {
    pub const NAMES: &'static [&'static str] = &["ssh_host", "rotate"];
}

impl Spec for NixfleetSpec {
    fn build(&self, name: &str) -> Arc<dyn Source> {
        Arc::new(super::Nixfleet::new(name, self.clone()))
    }

    fn watched_paths(&self) -> Vec<PathBuf> {
        vec![self.cert_path.clone(), self.enrollment_token_file.clone()]
    }

    fn certificate_files(&self) -> Vec<PathBuf> {
        vec![self.cert_path.clone()]
    }

    fn token_file(&self) -> Option<(PathBuf, PathBuf)> {
        Some((self.enrollment_token_file.clone(), self.cert_path.clone()))
    }
}

/// An enrolment token is the JSON the fleet operator minted.
fn check_token(token: &str) -> Result<String, String> {
    let token = SecretString::from(token.trim());
    let v: serde_json::Value = serde_json::from_str(token.expose_secret()).map_err(|e| {
        format!("a nixfleet enrolment token is the JSON the fleet operator minted ({{\"version\", \"claims\", \"signature\"}}); this is not JSON ({e})")
    })?;
    let shaped = v.get("claims").is_some_and(serde_json::Value::is_object)
        && v.get("signature").is_some_and(serde_json::Value::is_string)
        && v.get("version").is_some_and(serde_json::Value::is_u64);
    if !shaped {
        return Err(
            "a nixfleet enrolment token has \"version\", \"claims\" and \"signature\"; this JSON lacks one of them"
                .into(),
        );
    }
    Ok(token.expose_secret().to_string())
}

fn validate(v: &mut Validator<'_>, raw: &RawCredential) -> Arc<dyn Spec> {
    let who = raw.who.as_str();
    // The common name of the certificate at `path`, if it has one.
    let enrolled_name = |v: &Validator<'_>, path: &Path| -> Option<String> {
        let f = crate::x509::parse(&(v.around.read)(path).ok()?).ok()?;
        let subject = f.leaf().details.subject.clone();
        subject
            .split(", ")
            .find_map(|rdn| rdn.strip_prefix("CN="))
            .map(str::to_string)
            .filter(|cn| !cn.is_empty())
    };
    let url = v.control_plane_url(who, &raw.text("url"), false);
    let cert = raw.required("path");
    let machine_id = match raw.text("machine_id") {
        Some(m) if !m.get_ref().trim().is_empty() => m.get_ref().trim().to_string(),
        Some(m) => {
            v.err(Some(m.span()), format!("{who}: machine_id is empty"));
            String::new()
        }
        // nixfleet names a machine by its hostname; a machine enrolled
        // under another name keeps it (its certificate's common name).
        None => {
            match enrolled_name(v, &v.path(&cert)).or_else(|| v.around.hostname.clone()) {
                Some(id) => id,
                None => {
                    v.err(
                    Some(raw.span.clone()),
                    format!("{who}: no machine_id, no certificate to take it from and no hostname; set machine_id = \"…\""),
                );
                    String::new()
                }
            }
        }
    };
    let cert_path = v.path(&cert);
    let enrollment_token_file = v.token_file(&raw.text("enrollment_token_file"), &cert_path);
    let key = key(v, raw, &cert, &cert_path);
    Arc::new(NixfleetSpec {
        url,
        cert_path,
        key,
        machine_id,
        ca_bundle: v.ca_bundle(who, &raw.text("ca_bundle")),
        enrollment_token_file,
    })
}

/// `key`: the SSH host key (the default) or a fresh key per certificate;
/// each takes only its own path field.
fn key(v: &mut Validator<'_>, raw: &RawCredential, cert: &str, cert_path: &Path) -> NixfleetKey {
    let who = raw.who.as_str();
    let mode = raw.text("key");
    match mode.as_ref().map(|k| (k.get_ref().as_str(), k.span())) {
        None | Some(("ssh_host", _)) => {
            if let Some(at) = raw.at("key_path") {
                v.err(
                    Some(at),
                    format!("{who}: key_path is for key = \"rotate\"; with the SSH host key set ssh_host_key instead, or remove key_path"),
                );
            }
            NixfleetKey::SshHost(match raw.text("ssh_host_key") {
                Some(p) => v.path(p.get_ref()),
                None => PathBuf::from("/etc/ssh/ssh_host_ed25519_key"),
            })
        }
        Some(("rotate", _)) => {
            if let Some(at) = raw.at("ssh_host_key") {
                v.err(
                    Some(at),
                    format!("{who}: ssh_host_key is for key = \"ssh_host\"; with key = \"rotate\" Evergreen makes its own keys (key_path says where), so remove ssh_host_key"),
                );
            }
            NixfleetKey::Rotate(v.key_path(raw, cert, cert_path))
        }
        Some((other, span)) => {
            v.err(
                Some(span),
                format!("{who}: key = {other:?} is not a way to hold the key; use \"ssh_host\" (every CSR signed by the SSH host key) or \"rotate\" (a fresh key for every certificate)"),
            );
            NixfleetKey::SshHost(PathBuf::new())
        }
    }
}
