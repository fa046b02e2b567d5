//! The ssh_cert kind: its fields, its settings and how they are checked.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::config::fields::{field, Field, FieldType, COMMANDS, VAULT_CONN};
use crate::config::{CommandSpec, RawCredential, Validator, VaultConn};
use crate::kind::{Facts, Kind, KindDef, Spec};
use crate::sources::Source;

/// The kind: an OpenSSH certificate, signed by a Vault/OpenBao SSH engine
/// for a key that stays here, or written by another tool and watched.
pub const KIND: Kind = Kind::of(&DEF);

const DEF: KindDef = KindDef {
    name: "ssh_cert",
    label: "SSH certificate",
    about: "An OpenSSH certificate: signed by a Vault/OpenBao SSH engine for a key that stays here (and put into ssh-agent), or written by another tool (step ssh, tsh) and watched.",
    fields: &[FIELDS, VAULT_CONN, COMMANDS],
    facts: Facts {
        issues_certificates: true,
        ..Facts::PLAIN
    },
    validate,
    discover: Some(super::discover::discover),
    #[cfg(feature = "fuzzing")]
    fuzz: super::fuzz,
};

const FIELDS: &[Field] = &[
    field(
        "role",
        "SSH role",
        FieldType::Text,
        false,
        "The SSH engine's role (<mount>/sign/ROLE). Without role and address Evergreen only watches the certificate file.",
        "workstation",
    ),
    field(
        "key_path",
        "Key file",
        FieldType::Path,
        false,
        "The private key the certificate is for; made (ed25519, 0600) if absent. Default ~/.ssh/id_ed25519.",
        "~/.ssh/id_ed25519",
    ),
    field(
        "path",
        "Certificate file",
        FieldType::Path,
        false,
        "Default: the key's path with -cert.pub, where ssh looks for it.",
        "~/.ssh/id_ed25519-cert.pub",
    ),
    field(
        "mount",
        "Mount",
        FieldType::Text,
        false,
        "Where the SSH engine is mounted; default ssh.",
        "ssh",
    ),
    field(
        "principals",
        "Principals",
        FieldType::List,
        false,
        "The user (or host) names asked for, one per line; default the role's.",
        "alice",
    ),
    field(
        "ttl",
        "TTL",
        FieldType::Duration,
        false,
        "Asked of the server; default the role's.",
        "8h",
    ),
    field(
        "cert_type",
        "Certificate type",
        FieldType::Choice,
        false,
        "user (logging in to servers) or host (a server's own key).",
        "user",
    )
    .choices(&["user", "host"]),
    field(
        "extensions",
        "Extensions",
        FieldType::List,
        false,
        "Asked for, one per line; default the role's.",
        "permit-pty\npermit-port-forwarding",
    ),
    field(
        "token_from",
        "Borrow the token of",
        FieldType::Text,
        false,
        "The name of a Vault token credential: its address and token (and its new logins) serve this one too.",
        "",
    ),
    field(
        "add_to_agent",
        "Put into ssh-agent",
        FieldType::Bool,
        false,
        "After each renewal, the key with its new certificate, for as long as the certificate is valid.",
        "true",
    )
    .by_default("true"),
    field(
        "agent_socket",
        "ssh-agent socket",
        FieldType::Path,
        false,
        "Default $SSH_AUTH_SOCK of the engine.",
        "",
    ),
    field(
        "renew_command",
        "Renew command",
        FieldType::List,
        false,
        "For a certificate another tool writes: the program that renews it, one argument per line.",
        "step\nssh\nrenew\n--force\n/home/alice/.ssh/id_ecdsa-cert.pub\n/home/alice/.ssh/id_ecdsa",
    )
    .program(),
];

/// What a certificate's type is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertType {
    User,
    Host,
}

impl CertType {
    pub fn name(self) -> &'static str {
        match self {
            CertType::User => "user",
            CertType::Host => "host",
        }
    }
}

/// How the certificate is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keeper {
    /// Evergreen signs the key at a Vault/OpenBao SSH engine.
    Vault(Box<Signer>),
    /// Another tool writes it; Evergreen watches it and runs the command, if
    /// any, when it is due.
    Watch { renew_command: Option<CommandSpec> },
}

/// What is asked of the SSH engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    pub conn: VaultConn,
    /// The name of the Vault token credential whose connection this one borrows
    /// (already resolved into `conn`).
    pub borrowed_from: Option<String>,
    pub mount: String,
    pub role: String,
    pub principals: Vec<String>,
    pub ttl: Option<Duration>,
    pub cert_type: CertType,
    pub extensions: Vec<String>,
}

/// Which ssh-agent gets the key and its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentUse {
    Off,
    /// `$SSH_AUTH_SOCK` of the engine's process, when it has one.
    FromEnv,
    Socket(PathBuf),
}

/// An SSH certificate and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshCertSpec {
    pub keeper: Keeper,
    pub key_path: PathBuf,
    pub cert_path: PathBuf,
    pub agent: AgentUse,
    pub reload_command: Option<CommandSpec>,
    pub command_timeout: Duration,
}

impl Spec for SshCertSpec {
    fn build(&self, name: &str) -> Arc<dyn Source> {
        Arc::new(super::SshCert::new(name, self.clone()))
    }

    fn watched_paths(&self) -> Vec<PathBuf> {
        let token = match &self.keeper {
            Keeper::Vault(s) => s.conn.token.file(),
            Keeper::Watch { .. } => None,
        };
        [self.cert_path.clone(), self.key_path.clone()]
            .into_iter()
            .chain(token)
            .collect()
    }

    fn secret_env(&self) -> Vec<String> {
        match &self.keeper {
            Keeper::Vault(s) => s.conn.token.env().into_iter().collect(),
            Keeper::Watch { .. } => Vec::new(),
        }
    }

    fn resolve(&self, find: &dyn Fn(&str) -> Option<Arc<dyn Spec>>) -> Result<Option<Arc<dyn Spec>>, String> {
        let Keeper::Vault(signer) = &self.keeper else {
            return Ok(None);
        };
        let Some(other) = &signer.borrowed_from else {
            return Ok(None);
        };
        let conn = find(other)
            .ok_or_else(|| format!("token_from = {other:?} names no credential; give the name of a Vault token credential"))?
            .vault_login()
            .cloned()
            .ok_or_else(|| {
                format!("token_from = {other:?} is not a Vault token credential; give the name of one, or set address and token_file here")
            })?;
        let mut spec = self.clone();
        spec.keeper = Keeper::Vault(Box::new(Signer {
            conn,
            ..(**signer).clone()
        }));
        Ok(Some(Arc::new(spec)))
    }
}

/// Where ssh looks for the certificate of `key`: beside it, with `-cert.pub`.
pub fn cert_path_of(key: &std::path::Path) -> PathBuf {
    let mut s = key.as_os_str().to_os_string();
    s.push("-cert.pub");
    PathBuf::from(s)
}

fn validate(v: &mut Validator<'_>, raw: &RawCredential) -> Arc<dyn Spec> {
    let who = raw.who.as_str();
    let role = raw.text("role");
    let borrowed = raw.text("token_from").map(|t| t.into_inner().trim().to_string());
    let signs = role.is_some() || raw.text("address").is_some() || borrowed.is_some();
    let keeper = if signs {
        let Some(role) = role
            .map(|r| r.into_inner().trim().to_string())
            .filter(|r| !r.is_empty())
        else {
            v.err(
                Some(raw.span.clone()),
                format!("{who}: role is missing; Evergreen signs the key at <mount>/sign/ROLE, so name the SSH engine's role (or remove address and token_from to only watch the certificate)"),
            );
            return Arc::new(placeholder());
        };
        if raw.at("renew_command").is_some() {
            v.err(
                raw.at("renew_command"),
                format!("{who}: renew_command is for a certificate another tool writes; with role set Evergreen signs it itself, so remove one of them"),
            );
        }
        let conn = match &borrowed {
            // The other credential's connection replaces this placeholder
            // once every credential is read.
            Some(_) => {
                for k in ["address", "token_file", "token_env", "ca_bundle", "namespace"] {
                    if raw.at(k).is_some() {
                        v.err(
                            raw.at(k),
                            format!("{who}: {k} comes from the credential named by token_from; remove one of them"),
                        );
                    }
                }
                VaultConn {
                    address: String::new(),
                    namespace: None,
                    ca_bundle: None,
                    token: crate::config::TokenSource::Env(String::new()),
                }
            }
            None => v.vault_conn(raw),
        };
        let mount_field = raw.text("mount");
        let mount = mount_field
            .as_ref()
            .map(|m| m.get_ref().trim().trim_matches('/').to_string())
            .unwrap_or_else(|| "ssh".into());
        if mount.is_empty() {
            v.err(
                mount_field.as_ref().map(|m| m.span()),
                format!("{who}: mount is empty; the default is \"ssh\""),
            );
        }
        let cert_type = match raw.text("cert_type").as_ref().map(|t| t.get_ref().as_str()) {
            None | Some("user") => CertType::User,
            Some("host") => CertType::Host,
            Some(other) => {
                v.err(
                    raw.at("cert_type"),
                    format!("{who}: cert_type = {other:?} is unknown; use \"user\" or \"host\""),
                );
                CertType::User
            }
        };
        let extensions = raw.items("extensions");
        for e in &extensions {
            if e.is_empty() || e.contains(|c: char| c.is_whitespace() || c == ',' || c == '=') {
                v.err(
                    raw.at("extensions"),
                    format!("{who}: extension {e:?} is not an extension name; write one name per entry, e.g. \"permit-pty\""),
                );
            }
        }
        let principals = raw.items("principals");
        for p in &principals {
            if p.is_empty() || p.contains(|c: char| c.is_whitespace() || c == ',') {
                v.err(
                    raw.at("principals"),
                    format!("{who}: principal {p:?} is not a user or host name; write one name per entry"),
                );
            }
        }
        Keeper::Vault(Box::new(Signer {
            conn,
            borrowed_from: borrowed,
            mount,
            role,
            principals,
            ttl: raw.text("ttl").and_then(|t| v.duration(&format!("{who}: ttl"), &t)),
            cert_type,
            extensions,
        }))
    } else {
        for k in ["mount", "principals", "ttl", "cert_type", "extensions"] {
            if raw.at(k).is_some() {
                v.err(
                    raw.at(k),
                    format!("{who}: {k} is asked of a Vault/OpenBao SSH engine, and this credential has no role, so Evergreen only watches it; set role (and address) or remove {k}"),
                );
            }
        }
        if raw.at("path").is_none() && raw.at("key_path").is_none() {
            v.err(
                Some(raw.span.clone()),
                format!("{who}: a watched SSH certificate needs path, the certificate file (e.g. \"~/.ssh/id_ed25519-cert.pub\"); or set role and address for Evergreen to sign one"),
            );
        }
        Keeper::Watch {
            renew_command: v.command_field(raw, "renew_command"),
        }
    };
    let key_given = raw.text("key_path");
    let cert_given = raw.text("path");
    let key_path = match (&key_given, &cert_given) {
        (Some(k), _) => v.path(k.get_ref()),
        (None, Some(c)) if matches!(keeper, Keeper::Watch { .. }) => {
            let p = v.path(c.get_ref());
            let s = p.to_string_lossy();
            PathBuf::from(s.strip_suffix("-cert.pub").unwrap_or(&s).to_string())
        }
        _ => v.path("~/.ssh/id_ed25519"),
    };
    let cert_path = match &cert_given {
        Some(c) => v.path(c.get_ref()),
        None => cert_path_of(&key_path),
    };
    if cert_path == key_path {
        v.err(
            raw.at("path").or(raw.at("key_path")),
            format!("{who}: path and key_path are the same file; the certificate goes beside the key, as KEY-cert.pub"),
        );
    }
    let agent = match (raw.flag("add_to_agent"), raw.text("agent_socket")) {
        (Some(false), Some(_)) => {
            v.err(
                raw.at("agent_socket"),
                format!("{who}: agent_socket is set but add_to_agent = false; remove one of them"),
            );
            AgentUse::Off
        }
        (Some(false), None) => AgentUse::Off,
        (_, Some(s)) => AgentUse::Socket(v.path(s.get_ref())),
        (_, None) => AgentUse::FromEnv,
    };
    Arc::new(SshCertSpec {
        keeper,
        key_path,
        cert_path,
        agent,
        reload_command: v.command_field(raw, "reload_command"),
        command_timeout: v.command_timeout(raw),
    })
}

/// What validation returns beside a problem (dropped with it).
fn placeholder() -> SshCertSpec {
    SshCertSpec {
        keeper: Keeper::Watch { renew_command: None },
        key_path: PathBuf::new(),
        cert_path: PathBuf::new(),
        agent: AgentUse::Off,
        reload_command: None,
        command_timeout: Duration::ZERO,
    }
}
