//! Talking to a Vault or OpenBao server, for both Vault kinds.
//!
//! One place knows the wire: the base URL, the namespace header, the token
//! header, how Vault reports errors (`{"errors": [...]}`) and which status
//! codes mean "try again later" and which mean "this token is dead". The
//! token is read from its file or variable at every request, so a `bao login`
//! in a terminal is picked up without a restart; it is held only in a
//! [`SecretString`] and the request header, never in a message, an event or
//! the store.

use std::sync::OnceLock;

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::{Failure, FailureClass};
use crate::config::{TokenSource, VaultConn};
use crate::http::{self, ClientOptions};

/// A server connection: address, TLS trust, namespace and where the token lives.
#[derive(Debug)]
pub struct VaultClient {
    conn: VaultConn,
    /// Built on first use, so a broken CA bundle becomes a visible failure
    /// of the credential rather than a panic in the source factory.
    http: OnceLock<reqwest::Client>,
}

/// A non-2xx reply, with Vault's own error strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub errors: Vec<String>,
}

impl ApiError {
    /// The server's words, on one line and at most 300 characters however
    /// many errors it sent (they go into history and notifications).
    pub fn text(&self) -> String {
        if self.errors.is_empty() {
            self.status.to_string()
        } else {
            http::one_line(&self.errors.join("; "), 300)
        }
    }
}

/// Vault's `{"errors": ["…"]}` of an error reply; nothing when the body is
/// not that shape.
pub(crate) fn api_errors(body: &[u8]) -> Vec<String> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("errors").cloned())
        .and_then(|e| serde_json::from_value::<Vec<String>>(e).ok())
        .unwrap_or_default()
}

/// Why a call did not produce a JSON reply.
#[derive(Debug)]
pub enum CallError {
    /// Nothing was sent (no token, no client) or nothing came back (network, TLS).
    Failed(Failure),
    /// The server answered with an error status.
    Api(ApiError),
}

impl VaultClient {
    pub fn new(conn: VaultConn) -> Self {
        VaultClient {
            conn,
            http: OnceLock::new(),
        }
    }

    pub fn address(&self) -> &str {
        &self.conn.address
    }

    fn client(&self) -> Result<&reqwest::Client, Failure> {
        if let Some(c) = self.http.get() {
            return Ok(c);
        }
        let c = http::client(&ClientOptions {
            ca_bundle: self.conn.ca_bundle.clone(),
            ..ClientOptions::default()
        })
        .map_err(|e| Failure::paused(format!("{}: {e}", self.conn.address)))?;
        Ok(self.http.get_or_init(|| c))
    }

    /// Reads the token now. A missing, empty or world-readable token file is
    /// a pause: only the user can fix it, and the file watch ends the pause.
    pub fn token(&self) -> Result<SecretString, Failure> {
        use crate::secret::SecretError;
        crate::secret::read(&self.conn.token, "token").map_err(|e| {
            let hint = match (&e, &self.conn.token) {
                (SecretError::Missing(_), TokenSource::File(_)) => {
                    "log in (`bao login` or `vault login` writes it) and Evergreen picks the token up at once"
                }
                (SecretError::Missing(_), TokenSource::Env(_)) => "export it before `evergreen run`, or use token_file",
                (SecretError::Unusable(_), _) => "log in again, or fix the file",
            };
            Failure::paused(format!("{}; {hint}", e.message()))
        })
    }

    /// One API call: `path` is below `/v1/`. Returns the parsed JSON body of a
    /// 2xx reply (`Null` for 204).
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, CallError> {
        let token = self.token().map_err(CallError::Failed)?;
        let (url, status, bytes) = self.send(method, path, body, Some(&token)).await?;
        self.json(&url, status, bytes)
    }

    /// A call made without a token: a login, which answers with one.
    pub async fn call_anonymous(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, CallError> {
        let (url, status, bytes) = self.send(method, path, body, None).await?;
        self.json(&url, status, bytes)
    }

    /// A call without a token over a connection that presents the client
    /// certificate `cert` with its key `key` (TLS certificate auth). Both
    /// are read now, so a certificate renewed a moment ago is the one used.
    pub async fn call_with_identity(
        &self,
        method: Method,
        path: &str,
        body: &Value,
        cert: &std::path::Path,
        key: &std::path::Path,
    ) -> Result<Value, CallError> {
        let read = |p: &std::path::Path, what: &str| {
            let meta = std::fs::metadata(p)
                .map_err(|e| Failure::transient(format!("could not read the {what} {}: {e}", p.display())))?;
            if what == "client key" {
                if let Some(problem) = crate::fsutil::exposed_secret(&meta, what, p) {
                    return Err(Failure::paused(problem));
                }
            }
            std::fs::read(p).map_err(|e| Failure::transient(format!("could not read the {what} {}: {e}", p.display())))
        };
        let mut pem = zeroize::Zeroizing::new(read(cert, "client certificate").map_err(CallError::Failed)?);
        pem.push(b'\n');
        pem.extend_from_slice(&read(key, "client key").map_err(CallError::Failed)?);
        let client = http::client(&ClientOptions {
            ca_bundle: self.conn.ca_bundle.clone(),
            identity: Some(http::ClientIdentity(pem)),
            ..ClientOptions::default()
        })
        .map_err(|e| CallError::Failed(Failure::transient(format!("{}: {e}", cert.display()))))?;
        let (url, status, bytes) = self.send_with(&client, method, path, Some(body), None).await?;
        self.json(&url, status, bytes)
    }

    /// A GET of a public, plain-text endpoint (an SSH engine's CA key).
    pub async fn get_text(&self, path: &str) -> Result<String, CallError> {
        let (url, status, bytes) = self.send(Method::GET, path, None, None).await?;
        if !status.is_success() {
            return Err(CallError::Api(ApiError {
                status,
                errors: api_errors(&bytes),
            }));
        }
        String::from_utf8(bytes)
            .map_err(|_| CallError::Failed(Failure::transient(format!("{url}: the reply is not text"))))
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        token: Option<&SecretString>,
    ) -> Result<(String, StatusCode, Vec<u8>), CallError> {
        let client = self.client().map_err(CallError::Failed)?;
        self.send_with(client, method, path, body, token).await
    }

    async fn send_with(
        &self,
        client: &reqwest::Client,
        method: Method,
        path: &str,
        body: Option<&Value>,
        token: Option<&SecretString>,
    ) -> Result<(String, StatusCode, Vec<u8>), CallError> {
        let url = format!("{}/v1/{}", self.conn.address, path.trim_start_matches('/'));
        let mut req = client.request(method, &url).header("X-Vault-Request", "true");
        if let Some(token) = token {
            req = req.header("X-Vault-Token", token.expose_secret());
        }
        if let Some(ns) = &self.conn.namespace {
            req = req.header("X-Vault-Namespace", ns);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| CallError::Failed(Failure::transient(http::describe(&url, &e))))?;
        let status = resp.status();
        let bytes = http::read_reply(resp, &url)
            .await
            .map_err(|e| CallError::Failed(Failure::transient(e)))?;
        Ok((url, status, bytes))
    }

    fn json(&self, url: &str, status: StatusCode, bytes: Vec<u8>) -> Result<Value, CallError> {
        if status.is_success() {
            if bytes.is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_slice(&bytes).map_err(|e| {
                CallError::Failed(Failure::transient(format!(
                    "{url}: the reply is not JSON ({e}); is {} a Vault/OpenBao server?",
                    self.conn.address
                )))
            });
        }
        Err(CallError::Api(ApiError {
            status,
            errors: api_errors(&bytes),
        }))
    }

    /// The usual meaning of an error reply, for calls that need nothing special.
    pub fn failure(&self, what: &str, e: CallError) -> Failure {
        match e {
            CallError::Failed(f) => f,
            CallError::Api(a) => {
                let class = match a.status.as_u16() {
                    // Sealed, standby, rate limited, server errors: all pass.
                    429 | 500..=599 => FailureClass::Transient,
                    403 => FailureClass::Paused,
                    _ => FailureClass::Transient,
                };
                let hint = match a.status.as_u16() {
                    403 => "; the token expired, was revoked or lacks a policy for this path: log in again (`bao login`), Evergreen picks the new token up at once",
                    503 if a.text().contains("sealed") => "; the server is sealed: unseal it",
                    _ => "",
                };
                Failure::new(
                    class,
                    format!(
                        "{what} at {} failed: HTTP {}: {}{hint}",
                        self.conn.address,
                        a.status.as_u16(),
                        a.text()
                    ),
                )
            }
        }
    }
}

/// A field of a JSON reply, or a failure naming what was missing.
pub fn field<'a>(v: &'a Value, pointer: &str, what: &str) -> Result<&'a Value, Failure> {
    v.pointer(pointer).filter(|x| !x.is_null()).ok_or_else(|| {
        Failure::transient(format!(
            "{what}: the reply has no {pointer}; is this a Vault/OpenBao server?"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_read_from_its_file_at_every_request() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        let write = |t: &str| {
            std::fs::write(&file, t).unwrap();
            std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        };
        write("s.first\n");
        let c = VaultClient::new(VaultConn {
            address: "http://127.0.0.1:8200".into(),
            namespace: None,
            ca_bundle: None,
            token: crate::config::TokenSource::File(file.clone()),
        });
        assert_eq!(c.token().unwrap().expose_secret(), "s.first");
        // A new login replaces the file: the very next request uses it, no watch needed.
        write("s.second");
        assert_eq!(c.token().unwrap().expose_secret(), "s.second");
        std::fs::remove_file(&file).unwrap();
        assert!(c.token().is_err());
    }

    #[test]
    fn a_flood_of_server_errors_is_one_short_line() {
        let a = ApiError {
            status: StatusCode::BAD_REQUEST,
            errors: vec!["permission\ndenied ".repeat(10_000); 50],
        };
        let t = a.text();
        assert!(
            t.chars().count() <= 301 && !t.contains('\n'),
            "{} chars",
            t.chars().count()
        );
        assert!(t.starts_with("permission denied") && t.ends_with('…'), "{t}");
    }
}
