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
    discover: Some(super::discover::discover),
    #[cfg(feature = "fuzzing")]
    fuzz: super::fuzz,
};

const FIELDS: &[fields::Field] = &[
    fields::field(
        "increment",
        "Renewal increment",
        FieldType::Duration,
        false,
        "The TTL asked for at each renewal; default the token's own.",
        "1h",
    ),
    fields::field(
        "auth",
        "Log in again with",
        FieldType::Choice,
        false,
        "approle and cert: Evergreen logs in again on its own when the token cannot go on. userpass, ldap and oidc: it asks you (`evergreen login NAME`, or Log in in the window). The new token goes to the token file.",
        "approle",
    )
    .choices(&["approle", "cert", "userpass", "ldap", "oidc"]),
    fields::field(
        "auth_mount",
        "Auth mount",
        FieldType::Text,
        false,
        "Where the auth method is mounted; default its name (approle, cert, userpass, ldap, oidc).",
        "approle",
    ),
    fields::field(
        "role_id_file",
        "AppRole role_id file",
        FieldType::Path,
        false,
        "approle: a file holding only the role_id, mode 0600.",
        "~/.config/evergreen/role_id",
    ),
    fields::field(
        "secret_id_file",
        "AppRole secret_id file",
        FieldType::Path,
        false,
        "approle: a file holding only the secret_id, mode 0600.",
        "~/.config/evergreen/secret_id",
    ),
    fields::field(
        "login_cert",
        "Log in with the certificate of",
        FieldType::Text,
        false,
        "cert: the name of a credential Evergreen keeps (a Vault PKI certificate) whose certificate and key log in.",
        "",
    ),
    fields::field(
        "login_cert_file",
        "Or client certificate file",
        FieldType::Path,
        false,
        "cert: the client certificate (PEM), with login_key_file.",
        "",
    ),
    fields::field(
        "login_key_file",
        "Client key file",
        FieldType::Path,
        false,
        "cert: the client certificate's key (PEM, 0600).",
        "",
    ),
    fields::field(
        "auth_role",
        "Login role",
        FieldType::Text,
        false,
        "cert: the role under auth/cert/certs/ (default the one the certificate matches); oidc: the role (default the mount's).",
        "",
    ),
    fields::field(
        "username",
        "User name",
        FieldType::Text,
        false,
        "userpass and ldap: who logs in; asked for when not set. The password is always asked, never kept.",
        "alice",
    ),
];

/// How a new token is obtained when the old one cannot go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// AppRole: a role_id and a secret_id, each in a 0600 file.
    AppRole {
        mount: String,
        role_id: PathBuf,
        secret_id: PathBuf,
    },
    /// TLS certificate auth.
    Cert {
        mount: String,
        role: Option<String>,
        identity: LoginIdentity,
    },
    /// A user name and a password the user types each time (never kept).
    Password {
        method: PasswordMethod,
        mount: String,
        username: Option<String>,
    },
    /// OIDC: the user logs in in a browser; Evergreen receives the answer on
    /// a loopback callback.
    Oidc { mount: String, role: Option<String> },
}

impl Login {
    /// The method's name, as the user writes it.
    pub fn method(&self) -> &'static str {
        match self {
            Login::AppRole { .. } => "approle",
            Login::Cert { .. } => "cert",
            Login::Password { method, .. } => method.name(),
            Login::Oidc { .. } => "oidc",
        }
    }

    /// Evergreen can log in with it on its own (nothing to ask the user).
    pub fn automatic(&self) -> bool {
        matches!(self, Login::AppRole { .. } | Login::Cert { .. })
    }
}

/// The methods that take a user name and a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordMethod {
    Userpass,
    Ldap,
}

impl PasswordMethod {
    pub fn name(self) -> &'static str {
        match self {
            PasswordMethod::Userpass => "userpass",
            PasswordMethod::Ldap => "ldap",
        }
    }
}

/// Where cert auth's client certificate and key are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginIdentity {
    Files {
        cert: PathBuf,
        key: PathBuf,
    },
    /// Another credential's (settled into files once every credential is read).
    Credential(String),
}

/// A Vault/OpenBao token kept alive with `renew-self`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultTokenSpec {
    pub conn: VaultConn,
    /// The TTL asked for at each renewal; default: the token's own TTL.
    pub increment: Option<Duration>,
    /// How to log in again; without it a token that cannot go on needs the user.
    pub login: Option<Login>,
}

impl Spec for VaultTokenSpec {
    fn build(&self, name: &str) -> Arc<dyn Source> {
        Arc::new(VaultToken::new(name, self.clone()))
    }

    fn watched_paths(&self) -> Vec<PathBuf> {
        let login_files = match &self.login {
            Some(Login::AppRole { role_id, secret_id, .. }) => vec![role_id.clone(), secret_id.clone()],
            _ => Vec::new(),
        };
        self.conn.token.file().into_iter().chain(login_files).collect()
    }

    fn secret_env(&self) -> Vec<String> {
        self.conn.token.env().into_iter().collect()
    }

    fn vault_login(&self) -> Option<&VaultConn> {
        Some(&self.conn)
    }

    fn login_prompt(&self) -> Option<crate::model::LoginPrompt> {
        let login = self.login.as_ref().filter(|l| !l.automatic())?;
        Some(crate::model::LoginPrompt {
            method: login.method().to_string(),
            username: match login {
                Login::Password { username, .. } => username.clone(),
                _ => None,
            },
            browser: matches!(login, Login::Oidc { .. }),
            command: None,
        })
    }

    fn log_in(&self, name: &str, answer: crate::login::Answer) -> Option<crate::kind::LoginFuture> {
        let source = VaultToken::new(name, self.clone());
        Some(Box::pin(
            async move { source.log_in(answer).await.map_err(|f| f.message) },
        ))
    }

    fn resolve(&self, find: &dyn Fn(&str) -> Option<Arc<dyn Spec>>) -> Result<Option<Arc<dyn Spec>>, String> {
        let Some(Login::Cert {
            mount,
            role,
            identity: LoginIdentity::Credential(other),
        }) = &self.login
        else {
            return Ok(None);
        };
        let (cert, key) = find(other)
            .ok_or_else(|| format!("login_cert = {other:?} names no credential; give the name of a credential that keeps a client certificate and key (a Vault PKI certificate)"))?
            .tls_identity()
            .ok_or_else(|| format!("login_cert = {other:?} keeps no client certificate and key of its own; name a Vault PKI credential, or give login_cert_file and login_key_file"))?;
        let mut spec = self.clone();
        spec.login = Some(Login::Cert {
            mount: mount.clone(),
            role: role.clone(),
            identity: LoginIdentity::Files { cert, key },
        });
        Ok(Some(Arc::new(spec)))
    }
}

fn validate(v: &mut Validator<'_>, raw: &RawCredential) -> Arc<dyn Spec> {
    let conn = v.vault_conn(raw);
    let increment = raw
        .text("increment")
        .and_then(|i| v.duration(&format!("{}: increment", raw.who), &i));
    let login = login(v, raw, &conn);
    Arc::new(VaultTokenSpec { conn, increment, login })
}

/// Each method's own fields: any other login field beside it is a mistake.
const METHOD_FIELDS: &[(&str, &[&str])] = &[
    ("approle", &["role_id_file", "secret_id_file"]),
    (
        "cert",
        &["login_cert", "login_cert_file", "login_key_file", "auth_role"],
    ),
    ("userpass", &["username"]),
    ("ldap", &["username"]),
    ("oidc", &["auth_role"]),
];

fn login(v: &mut Validator<'_>, raw: &RawCredential, conn: &VaultConn) -> Option<Login> {
    let who = raw.who.as_str();
    let method = raw.text("auth").map(|m| m.into_inner());
    let Some(method) = method else {
        let mut keys: Vec<&str> = METHOD_FIELDS.iter().flat_map(|(_, ks)| ks.iter().copied()).collect();
        keys.push("auth_mount");
        keys.sort_unstable();
        keys.dedup();
        for k in keys {
            if raw.at(k).is_some() {
                v.err(
                    raw.at(k),
                    format!("{who}: {k} is for logging in again, and auth is not set; set auth or remove {k}"),
                );
            }
        }
        return None;
    };
    let own: &[&str] = METHOD_FIELDS
        .iter()
        .find(|(m, _)| *m == method)
        .map(|(_, ks)| *ks)
        .unwrap_or(&[]);
    for (m, keys) in METHOD_FIELDS {
        for k in keys.iter().filter(|k| !own.contains(k)) {
            if raw.at(k).is_some() && *m != method {
                v.err(
                    raw.at(k),
                    format!("{who}: {k} is for auth = \"{m}\", not \"{method}\"; remove it"),
                );
            }
        }
    }
    if let crate::config::TokenSource::Env(var) = &conn.token {
        v.err(
            raw.at("token_env"),
            format!("{who}: auth needs a token file to write each new token to, and the token comes from the variable {var}; use token_file (default ~/.vault-token)"),
        );
    }
    let mount = raw
        .text("auth_mount")
        .map(|m| m.get_ref().trim().trim_matches('/').to_string())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| method.clone());
    let text = |key: &str| {
        raw.text(key)
            .map(|t| t.into_inner().trim().to_string())
            .filter(|t| !t.is_empty())
    };
    match method.as_str() {
        "approle" => {
            let mut file = |key: &str| match raw.text(key) {
                Some(p) => v.path(p.get_ref()),
                None => {
                    v.err(
                        Some(raw.span.clone()),
                        format!(
                            "{who}: auth = \"approle\" needs {key}, a 0600 file holding only the {}",
                            key.trim_end_matches("_file")
                        ),
                    );
                    PathBuf::new()
                }
            };
            Some(Login::AppRole {
                mount,
                role_id: file("role_id_file"),
                secret_id: file("secret_id_file"),
            })
        }
        "cert" => {
            let identity = match (
                raw.text("login_cert"),
                raw.text("login_cert_file"),
                raw.text("login_key_file"),
            ) {
                (Some(name), None, None) => LoginIdentity::Credential(name.into_inner().trim().to_string()),
                (None, Some(c), Some(k)) => LoginIdentity::Files {
                    cert: v.path(c.get_ref()),
                    key: v.path(k.get_ref()),
                },
                _ => {
                    v.err(
                        Some(raw.span.clone()),
                        format!("{who}: auth = \"cert\" needs either login_cert (the name of a Vault PKI credential) or both login_cert_file and login_key_file"),
                    );
                    LoginIdentity::Credential(String::new())
                }
            };
            if !conn.address.starts_with("https://") {
                v.err(
                    raw.at("auth"),
                    format!(
                        "{who}: auth = \"cert\" logs in with a TLS client certificate, which needs an https:// address"
                    ),
                );
            }
            Some(Login::Cert {
                mount,
                role: text("auth_role"),
                identity,
            })
        }
        m @ ("userpass" | "ldap") => {
            let username = text("username");
            if username.as_deref().is_some_and(|u| u.contains(['/', '?', '#', ' '])) {
                v.err(
                    raw.at("username"),
                    format!("{who}: username contains '/', '?', '#' or a space, which no {m} user name has"),
                );
            }
            Some(Login::Password {
                method: if m == "ldap" {
                    PasswordMethod::Ldap
                } else {
                    PasswordMethod::Userpass
                },
                mount,
                username,
            })
        }
        "oidc" => Some(Login::Oidc {
            mount,
            role: text("auth_role"),
        }),
        other => {
            v.err(
                raw.at("auth"),
                format!("{who}: auth = {other:?} is not a method Evergreen knows; use \"approle\" or \"cert\" (Evergreen logs in on its own), or \"userpass\", \"ldap\" or \"oidc\" (it asks you)"),
            );
            None
        }
    }
}
