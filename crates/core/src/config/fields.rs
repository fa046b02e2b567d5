//! Every credential field, defined once: its key, label, type, whether it is
//! required, its help, an example and its default, and whether it runs a
//! program. The validator's "which kind has which field", the settings form
//! and the field tables of docs/configuration.md all come from here.

use serde::{Deserialize, Serialize};

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
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field {
    pub key: &'static str,
    pub label: &'static str,
    pub ty: FieldType,
    pub required: bool,
    pub help: &'static str,
    /// An example shown in an empty input.
    pub placeholder: &'static str,
    /// What an unset field means, where that is a value (a checkbox's state).
    pub default: Option<&'static str>,
    /// It names a program Evergreen runs (or how it runs it): the window
    /// shows it but cannot set or change it, so a script injected into the
    /// webview cannot make the engine run one; the config file can.
    pub runs_program: bool,
    /// Every kind has it (the renewal policy, enabled).
    pub common: bool,
}

const fn field(
    key: &'static str,
    label: &'static str,
    ty: FieldType,
    required: bool,
    help: &'static str,
    placeholder: &'static str,
) -> Field {
    Field {
        key,
        label,
        ty,
        required,
        help,
        placeholder,
        default: None,
        runs_program: false,
        common: false,
    }
}

impl Field {
    const fn program(mut self) -> Self {
        self.runs_program = true;
        self
    }

    const fn by_default(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self
    }

    const fn common(mut self) -> Self {
        self.common = true;
        self
    }
}

/// Every kind, in the order the window lists them.
pub const KINDS: &[Kind] = &[
    Kind::X509File,
    Kind::VaultToken,
    Kind::VaultPki,
    Kind::Nixfleet,
    Kind::Wrenn,
    Kind::Certctl,
];

/// The fields `kind` has beyond the common ones: what the validator accepts
/// for it.
pub fn accepted(kind: Kind) -> Vec<&'static str> {
    of(kind).iter().filter(|f| !f.common).map(|f| f.key).collect()
}

const COMMON: &[Field] = &[
    field(
        "enabled",
        "Enabled",
        FieldType::Bool,
        false,
        "Off keeps it listed as disabled and never touches it.",
        "true",
    )
    .by_default("true")
    .common(),
    field(
        "renew_at_fraction",
        "Renew when this fraction is left",
        FieldType::Number,
        false,
        "Strictly between 0 and 1.",
        "0.33",
    )
    .common(),
    field(
        "renew_before",
        "Or renew this long before expiry",
        FieldType::Duration,
        false,
        "Instead of a fraction, e.g. 72h. Not both.",
        "72h",
    )
    .common(),
    field(
        "jitter",
        "Jitter",
        FieldType::Number,
        false,
        "Random shift of each deadline, a fraction from 0 to 0.5.",
        "0.1",
    )
    .common(),
];

const VAULT_CONN: &[Field] = &[
    field(
        "address",
        "Server address",
        FieldType::Url,
        false,
        "https://… of the Vault/OpenBao server; default $BAO_ADDR or $VAULT_ADDR.",
        "https://vault.example.com:8200",
    ),
    field(
        "token_file",
        "Token file",
        FieldType::Path,
        false,
        "A file holding only the token, mode 0600; default ~/.vault-token.",
        "~/.vault-token",
    ),
    field(
        "token_env",
        "Or token environment variable",
        FieldType::Text,
        false,
        "Instead of a file: a variable of the engine's process.",
        "VAULT_TOKEN",
    ),
    field(
        "ca_bundle",
        "CA bundle",
        FieldType::Path,
        false,
        "PEM file of the CAs that signed the server's certificate; only these are trusted.",
        "",
    ),
    field(
        "namespace",
        "Namespace",
        FieldType::Text,
        false,
        "Sent as X-Vault-Namespace.",
        "",
    ),
];

const COMMANDS: &[Field] = &[
    field(
        "reload_command",
        "Reload command",
        FieldType::List,
        false,
        "Run after each renewal; one argument per line.",
        "systemctl\n--user\nreload\nnginx",
    )
    .program(),
    field(
        "command_timeout",
        "Command timeout",
        FieldType::Duration,
        false,
        "A command still running after this is killed. Default 2m.",
        "2m",
    ),
    field(
        "shell",
        "Commands are shell strings",
        FieldType::Bool,
        false,
        "Run each command as one line with /bin/sh -c.",
        "false",
    )
    .program()
    .by_default("false"),
];

/// The fleet kinds' CA bundle field.
const FLEET_CA_BUNDLE: Field = field(
    "ca_bundle",
    "CA bundle",
    FieldType::Path,
    false,
    "The control plane's CA (PEM).",
    "",
);

const X509_FILE: &[Field] = &[
    field(
        "path",
        "Certificate file",
        FieldType::Path,
        true,
        "The certificate Evergreen watches.",
        "~/certs/web.pem",
    ),
    field(
        "renew_command",
        "Renew command",
        FieldType::List,
        false,
        "The program that renews it, one argument per line. Without it Evergreen only watches.",
        "step\nca\nrenew\n--force\ncert.pem\nkey.pem",
    )
    .program(),
];

const VAULT_TOKEN: &[Field] = &[field(
    "increment",
    "Renewal increment",
    FieldType::Duration,
    false,
    "The TTL asked for at each renewal; default the token's own.",
    "1h",
)];

const VAULT_PKI: &[Field] = &[
    field(
        "role",
        "PKI role",
        FieldType::Text,
        true,
        "The role under <mount>/roles/.",
        "workstation",
    ),
    field(
        "common_name",
        "Common name",
        FieldType::Text,
        true,
        "The certificate's CN, also sent as a DNS SAN.",
        "ws-42.corp.example.com",
    ),
    field(
        "path",
        "Certificate file",
        FieldType::Path,
        true,
        "Where the certificate (leaf, then chain) is written.",
        "~/.local/share/certs/ws.pem",
    ),
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
    ),
    field(
        "mode",
        "Mode",
        FieldType::Choice,
        false,
        "sign: the key is made here (recommended); issue: the server makes it.",
        "sign",
    ),
];

const NIXFLEET: &[Field] = &[
    field(
        "url",
        "Control plane",
        FieldType::Url,
        true,
        "https://… (mutual TLS).",
        "https://fleet.example.com",
    ),
    field(
        "path",
        "Client certificate",
        FieldType::Path,
        true,
        "Rewritten in place at each renewal.",
        "/var/lib/nixfleet/agent.pem",
    ),
    field(
        "key",
        "Key",
        FieldType::Choice,
        false,
        "ssh_host (default): every CSR is signed by the SSH host key; rotate: a fresh key for every certificate.",
        "",
    ),
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

const WRENN: &[Field] = &[
    field(
        "url",
        "Control plane",
        FieldType::Url,
        true,
        "https://…",
        "https://wrenn.example.com",
    ),
    field(
        "credentials_file",
        "Credentials file",
        FieldType::Path,
        true,
        "The host credentials (JSON, 0600), written at registration.",
        "~/.local/share/wrenn/host.json",
    ),
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
    ),
    FLEET_CA_BUNDLE,
];

const CERTCTL: &[Field] = &[
    field(
        "url",
        "Control plane",
        FieldType::Url,
        true,
        "https://… only (TLS 1.3).",
        "https://certctl.example.com:8443",
    ),
    field(
        "agent_id",
        "Agent id",
        FieldType::Text,
        true,
        "The agent's id at the control plane.",
        "agent-ws42",
    ),
    field(
        "api_key_file",
        "API key file",
        FieldType::Path,
        false,
        "A file holding only the agent's API key, mode 0600.",
        "~/.config/evergreen/certctl.key",
    ),
    field(
        "api_key_env",
        "Or API key variable",
        FieldType::Text,
        false,
        "Instead of a file: a variable of the engine's process.",
        "CERTCTL_API_KEY",
    ),
    field(
        "targets",
        "Targets",
        FieldType::List,
        true,
        "One per line: TARGET_ID=certificate path; the key goes next to it (.key).",
        "t-web=~/certs/web.pem",
    ),
    field(
        "key_dir",
        "Key directory",
        FieldType::Path,
        false,
        "Where keys made for CSRs live (0700). Default: Evergreen's data directory.",
        "",
    ),
    field(
        "discovery_dirs",
        "Discovery directories",
        FieldType::List,
        false,
        "Scanned for certificates every 6 h; one per line.",
        "/etc/ssl/certs",
    ),
    field(
        "heartbeat_interval",
        "Heartbeat interval",
        FieldType::Duration,
        false,
        "Default 60s.",
        "60s",
    ),
    field(
        "poll_interval",
        "Poll interval",
        FieldType::Duration,
        false,
        "Default 30s.",
        "30s",
    ),
    field(
        "discovery_interval",
        "Discovery interval",
        FieldType::Duration,
        false,
        "Default 6h.",
        "6h",
    ),
    FLEET_CA_BUNDLE,
];

/// The fields of `kind`, in the order the form shows them: its own, then
/// the connection or commands it shares with others, then the common ones.
pub fn of(kind: Kind) -> Vec<Field> {
    let (own, shared): (&[Field], &[&[Field]]) = match kind {
        Kind::X509File => (X509_FILE, &[COMMANDS]),
        Kind::VaultToken => (VAULT_TOKEN, &[VAULT_CONN]),
        Kind::VaultPki => (VAULT_PKI, &[VAULT_CONN, COMMANDS]),
        Kind::Nixfleet => (NIXFLEET, &[]),
        Kind::Wrenn => (WRENN, &[]),
        Kind::Certctl => (CERTCTL, &[]),
    };
    let mut v = own.to_vec();
    for s in shared {
        v.extend_from_slice(s);
    }
    v.extend_from_slice(COMMON);
    v
}

/// A kind's name in the window, and what it is.
pub fn label_of(kind: Kind) -> (&'static str, &'static str) {
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

/// The values a choice field takes.
pub fn choices(key: &str) -> Vec<String> {
    let v: &[&str] = match key {
        "key_type" => super::KeyType::NAMES,
        "mode" => &["sign", "issue"],
        "key" => super::NixfleetKey::NAMES,
        _ => &[],
    };
    v.iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields the file's schema knows, read from serde's own refusal of
    /// an unknown one (it lists every field it expected).
    fn schema_fields() -> Vec<String> {
        let err = match toml::from_str::<super::super::raw::RawConfig>("[[credential]]\nzzz_unknown = 1\n") {
            Ok(_) => panic!("an unknown field was accepted"),
            Err(e) => e.to_string(),
        };
        let list = err.split("expected one of").nth(1).unwrap_or_else(|| panic!("{err}"));
        list.split(',')
            .map(|f| {
                f.trim()
                    .trim_matches(|c: char| c == '`' || c.is_whitespace())
                    .to_string()
            })
            .filter(|f| !f.is_empty())
            .collect()
    }

    #[test]
    fn the_table_and_the_files_schema_name_the_same_fields() {
        let schema = schema_fields();
        assert!(schema.len() > 30, "{schema:?}");
        let mut table: Vec<&str> = KINDS.iter().flat_map(|k| of(*k)).map(|f| f.key).collect();
        table.extend(["name", "kind"]);
        table.sort();
        table.dedup();
        let mut schema: Vec<&str> = schema.iter().map(String::as_str).collect();
        schema.sort();
        assert_eq!(table, schema, "a field in one and not the other");
    }

    #[test]
    fn a_field_is_accepted_by_exactly_the_kinds_whose_table_has_it() {
        let all: Vec<&str> = {
            let mut v: Vec<&str> = KINDS.iter().flat_map(|k| of(*k)).map(|f| f.key).collect();
            v.sort();
            v.dedup();
            v
        };
        let value = |key: &str| {
            let f = KINDS.iter().flat_map(|k| of(*k)).find(|f| f.key == key).unwrap();
            match f.ty {
                FieldType::List => "[\"x\"]",
                FieldType::Bool => "true",
                FieldType::Number => "0.5",
                _ => "\"x\"",
            }
        };
        for kind in KINDS {
            for key in &all {
                let src = format!(
                    "[[credential]]\nname = \"c\"\nkind = \"{}\"\n{key} = {}\n",
                    kind.as_str(),
                    value(key)
                );
                let problems = match super::super::validate(&src, std::path::Path::new("/c.toml")) {
                    Ok(_) => String::new(),
                    Err(p) => p.iter().map(|p| p.message.clone()).collect::<Vec<_>>().join("\n"),
                };
                let refused = problems.contains(&format!("`{key}`")) && problems.contains("belongs to");
                assert_eq!(
                    refused,
                    !of(*kind).iter().any(|f| f.key == *key),
                    "{} with {key}:\n{problems}",
                    kind.as_str()
                );
            }
        }
    }

    #[test]
    fn programs_are_marked_and_checkboxes_say_their_default() {
        for kind in KINDS {
            for f in of(*kind) {
                assert_eq!(
                    f.runs_program,
                    ["renew_command", "reload_command", "shell"].contains(&f.key),
                    "{}",
                    f.key
                );
                if f.ty == FieldType::Bool {
                    assert!(f.default.is_some(), "{} needs a default", f.key);
                }
            }
        }
    }
}
