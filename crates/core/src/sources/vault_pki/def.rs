//! The vault_pki kind: its fields, its settings and how they are checked.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::config::fields::{field, Field, FieldType, COMMANDS, VAULT_CONN};
use crate::config::{CommandSpec, RawCredential, Validator, VaultConn};
use crate::kind::{Facts, Kind, KindDef, Spec};
use crate::sources::Source;

/// The kind: a certificate and key from a Vault/OpenBao PKI role.
pub const KIND: Kind = Kind::of(&DEF);

const DEF: KindDef = KindDef {
    name: "vault_pki",
    label: "Vault PKI certificate",
    about: "A certificate from a Vault/OpenBao PKI role; the key stays on this machine.",
    fields: &[FIELDS, VAULT_CONN, COMMANDS],
    facts: Facts {
        issues_certificates: true,
        ..Facts::PLAIN
    },
    validate,
    discover: None,
    #[cfg(feature = "fuzzing")]
    fuzz: super::fuzz,
};

const FIELDS: &[Field] = &[
    field(
        "role",
        "PKI role",
        FieldType::Text,
        true,
        "The role under <mount>/roles/.",
        "workstation",
    )
    .needs("the PKI role to issue from (pki/roles/NAME)"),
    field(
        "common_name",
        "Common name",
        FieldType::Text,
        true,
        "The certificate's CN, also sent as a DNS SAN.",
        "ws-42.corp.example.com",
    )
    .needs("the certificate's common name"),
    field(
        "path",
        "Certificate file",
        FieldType::Path,
        true,
        "Where the certificate (leaf, then chain) is written.",
        "~/.local/share/certs/ws.pem",
    )
    .needs("where the certificate is written"),
    field(
        "key_path",
        "Key file",
        FieldType::Path,
        false,
        "Default: the certificate path with .key.",
        "",
    ),
    field(
        "mount",
        "Mount",
        FieldType::Text,
        false,
        "Where the PKI engine is mounted; default pki.",
        "pki",
    ),
    field(
        "alt_names",
        "More DNS names",
        FieldType::List,
        false,
        "One per line.",
        "",
    ),
    field("ip_sans", "IP addresses", FieldType::List, false, "One per line.", ""),
    field(
        "ttl",
        "TTL",
        FieldType::Duration,
        false,
        "Asked of the server; default the role's.",
        "24h",
    ),
    field(
        "key_type",
        "Key type",
        FieldType::Choice,
        false,
        "Used when a key is generated.",
        "ec-p256",
    )
    .choices(KeyType::NAMES),
    field(
        "mode",
        "Mode",
        FieldType::Choice,
        false,
        "sign: the key is made here (recommended); issue: the server makes it.",
        "sign",
    )
    .choices(&["sign", "issue"]),
];

/// How a PKI certificate is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkiMode {
    /// Generate the key here, send a CSR to `<mount>/sign/<role>`: the key never leaves the machine.
    Sign,
    /// Let the server make the key too (`<mount>/issue/<role>`).
    Issue,
}

/// Key algorithm of a PKI credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    EcP256,
    EcP384,
    Ed25519,
}

impl KeyType {
    pub const NAMES: &'static [&'static str] = &["ec-p256", "ec-p384", "ed25519"];

    pub fn name(self) -> &'static str {
        match self {
            KeyType::EcP256 => "ec-p256",
            KeyType::EcP384 => "ec-p384",
            KeyType::Ed25519 => "ed25519",
        }
    }
}

/// A certificate and key pair from a Vault/OpenBao PKI role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultPkiSpec {
    pub conn: VaultConn,
    pub mount: String,
    pub role: String,
    pub common_name: String,
    pub alt_names: Vec<String>,
    pub ip_sans: Vec<String>,
    /// The TTL asked for; default: the role's.
    pub ttl: Option<Duration>,
    pub key_type: KeyType,
    pub mode: PkiMode,
    /// The certificate (leaf first, then the chain).
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    pub reload_command: Option<CommandSpec>,
    pub command_timeout: Duration,
}

impl Spec for VaultPkiSpec {
    fn build(&self, name: &str) -> Arc<dyn Source> {
        Arc::new(super::VaultPki::new(name, self.clone()))
    }

    fn watched_paths(&self) -> Vec<PathBuf> {
        [self.cert_path.clone(), self.key_path.clone()]
            .into_iter()
            .chain(self.conn.token.file())
            .collect()
    }

    fn certificate_files(&self) -> Vec<PathBuf> {
        vec![self.cert_path.clone()]
    }

    fn tls_identity(&self) -> Option<(PathBuf, PathBuf)> {
        Some((self.cert_path.clone(), self.key_path.clone()))
    }

    fn secret_env(&self) -> Vec<String> {
        self.conn.token.env().into_iter().collect()
    }
}

fn validate(v: &mut Validator<'_>, raw: &RawCredential) -> Arc<dyn Spec> {
    let who = raw.who.as_str();
    let conn = v.vault_conn(raw);
    let cert = raw.required("path");
    let cert_path = v.path(&cert);
    let key_path = v.key_path(raw, &cert, &cert_path);
    let mount_field = raw.text("mount");
    let mount = mount_field
        .as_ref()
        .map(|m| m.get_ref().trim().trim_matches('/').to_string())
        .unwrap_or_else(|| "pki".into());
    if mount.is_empty() {
        v.err(
            mount_field.as_ref().map(|m| m.span()),
            format!("{who}: mount is empty; the default is \"pki\""),
        );
    }
    let ttl = raw.text("ttl").and_then(|t| v.duration(&format!("{who}: ttl"), &t));
    let ip_sans = raw.items("ip_sans");
    for ip in &ip_sans {
        if ip.parse::<std::net::IpAddr>().is_err() {
            v.err(
                raw.at("ip_sans"),
                format!("{who}: ip_sans entry {ip:?} is not an IP address"),
            );
        }
    }
    Arc::new(VaultPkiSpec {
        conn,
        mount,
        role: raw.required("role"),
        common_name: raw.required("common_name"),
        alt_names: raw.items("alt_names"),
        ip_sans,
        ttl,
        key_type: key_type(v, raw),
        mode: pki_mode(v, raw),
        cert_path,
        key_path,
        reload_command: v.command_field(raw, "reload_command"),
        command_timeout: v.command_timeout(raw),
    })
}

fn key_type(v: &mut Validator<'_>, raw: &RawCredential) -> KeyType {
    let Some(t) = raw.text("key_type") else {
        return KeyType::EcP256;
    };
    match t.get_ref().as_str() {
        "ec-p256" => KeyType::EcP256,
        "ec-p384" => KeyType::EcP384,
        "ed25519" => KeyType::Ed25519,
        other => {
            v.err(
                Some(t.span()),
                format!(
                    "{}: key_type = {other:?} is not supported; use one of: {}",
                    raw.who,
                    KeyType::NAMES.join(", ")
                ),
            );
            KeyType::EcP256
        }
    }
}

fn pki_mode(v: &mut Validator<'_>, raw: &RawCredential) -> PkiMode {
    let Some(m) = raw.text("mode") else {
        return PkiMode::Sign;
    };
    match m.get_ref().as_str() {
        "sign" => PkiMode::Sign,
        "issue" => PkiMode::Issue,
        other => {
            v.err(
                Some(m.span()),
                format!("{}: mode = {other:?} is unknown; use \"sign\" (key made here, CSR sent; the default) or \"issue\" (the server makes the key)", raw.who),
            );
            PkiMode::Sign
        }
    }
}
