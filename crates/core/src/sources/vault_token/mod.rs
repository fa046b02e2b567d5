//! A Vault/OpenBao token kept alive with `renew-self`.
//!
//! The behaviour of certctl's Vault token renewer: look the token up
//! (`auth/token/lookup-self`), renew it at half its TTL (the credential's
//! default policy, floored at 5 s), stop for good when the server says it is
//! not renewable, and keep retrying (with the engine's backoff) when a renewal
//! fails. Beyond that renewer:
//!
//! - A renewal the server caps at the token's maximum TTL puts the credential
//!   in `final`: it will expire at a known time and only a new login helps.
//! - A 403 means the token is dead (expired or revoked): `expired` with that
//!   message, not an endless retry loop.
//! - The lifetime shown is the lease granted at the last renewal (from
//!   `last_renewal`, or the issue time, to `expire_time`), so the remaining
//!   fraction is "TTL left / lease granted", in the server's own timestamps.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{json, Value};

use super::vault::{field, CallError, VaultClient};
use super::{Failure, FailureClass, Limit, Observation, RenewRequest, Renewed, Source};
use crate::clock::{parse_rfc3339, rfc3339};
use crate::fsutil;
use crate::kind::Kind;
use crate::model::{HardEnd, Lifetime};
use secrecy::ExposeSecret;

mod def;
mod discover;
mod oidc;

pub use def::{Login, LoginIdentity, PasswordMethod, VaultTokenSpec, KIND};

use crate::login::Answer;

/// certctl's renewer's `minRenewInterval`: never renew more often than this.
const MIN_RENEW_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct VaultToken {
    name: String,
    spec: VaultTokenSpec,
    client: VaultClient,
}

/// What `lookup-self` says about the token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lookup {
    lifetime: Lifetime,
    renewable: bool,
    /// The TTL the token was created with (its period for periodic tokens).
    creation_ttl: u64,
    /// The expiry is already at the explicit max TTL.
    at_max_ttl: bool,
    /// Where the explicit max TTL ends renewals, when the token has one.
    max_end: Option<std::time::SystemTime>,
}

impl VaultToken {
    pub fn new(name: &str, spec: VaultTokenSpec) -> Self {
        let client = VaultClient::new(spec.conn.clone());
        VaultToken {
            name: name.to_string(),
            spec,
            client,
        }
    }

    /// What the user does when a login needs them.
    fn ask(&self) -> String {
        format!(
            "log in again: `evergreen login {}` in a terminal, or Log in in Evergreen's window",
            self.name
        )
    }

    /// The login the engine makes on its own, if the config gives one.
    fn automatic(&self) -> Option<&Login> {
        self.spec.login.as_ref().filter(|l| l.automatic())
    }

    /// A failure that only a login helps, telling how when Evergreen asks.
    fn with_ask(&self, mut f: Failure) -> Failure {
        if self.spec.login.as_ref().is_some_and(|l| !l.automatic())
            && matches!(
                f.class,
                FailureClass::Rejected | FailureClass::Paused | FailureClass::NotRenewable
            )
        {
            f.message = format!("{}; or {}", f.message, self.ask().trim_start_matches("log in again: "));
        }
        f
    }

    fn rejected(&self, what: &str, e: CallError) -> Failure {
        match e {
            CallError::Api(a) if a.status.as_u16() == 403 => Failure {
                class: FailureClass::Rejected,
                message: format!(
                    "{} rejected the token at {what} (HTTP 403: {}): it expired or was revoked; log in again (`bao login` or `vault login`) and Evergreen picks the new token up at once",
                    self.client.address(),
                    a.text()
                ),
                stderr_tail: None,
            },
            e => self.client.failure(what, e),
        }
    }

    async fn lookup(&self) -> Result<Lookup, Failure> {
        let v = self
            .client
            .call(Method::GET, "auth/token/lookup-self", None)
            .await
            .map_err(|e| self.rejected("token lookup", e))?;
        parse_lookup(&v)
    }

    fn not_renewable(&self, l: &Lookup) -> String {
        format!(
            "the server says this token is not renewable; it expires at {}. Log in again (or ask for a renewable token) before then",
            rfc3339(l.lifetime.not_after)
        )
    }

    fn observation(&self, l: &Lookup, capped: bool) -> Observation {
        // With a way to log in, a token that cannot go on is replaced at its
        // renewal point like any other: no state that waits for the user.
        let limit = if self.automatic().is_some() {
            None
        } else if !l.renewable {
            Some(Limit::NotRenewable {
                reason: self.not_renewable(l),
            })
        } else if capped || l.at_max_ttl {
            Some(Limit::Final)
        } else {
            None
        };
        let hard_end = l.max_end.map(|end| HardEnd {
            at: crate::clock::unix_millis(end),
            what: "Renewable until".into(),
            then: match &self.spec.login {
                Some(login) if login.automatic() => format!(
                    "then Evergreen logs in again ({}) and writes the new token to its file",
                    login.method()
                ),
                Some(login) => format!("then a new {} login is needed: {}", login.method(), self.ask()),
                None => "then a new login is needed (`bao login`), or set auth for Evergreen to log in again".into(),
            },
            needs_you: self.automatic().is_none(),
        });
        Observation {
            limit,
            hard_end,
            ..Observation::of(l.lifetime)
        }
    }

    /// Whether renewing this token is no use and a new login is the way on.
    fn spent(&self, l: &Lookup, now: std::time::SystemTime) -> bool {
        let increment = self.spec.increment.map(|d| d.as_secs()).unwrap_or(l.creation_ttl);
        !l.renewable
            || l.at_max_ttl
            || l.max_end
                .is_some_and(|end| end < now + Duration::from_secs(increment.max(1)))
    }

    /// Logs in with the configured method, writes the new token to the
    /// token file (0600, atomically) and reads it back.
    async fn login(&self, login: &Login, answer: Option<Answer>, why: &str) -> Result<Observation, Failure> {
        let addr = self.client.address().to_string();
        let failed = |e: CallError, mount: &str, hint: &str| {
            let base = self
                .client
                .failure(&format!("logging in again with {} at auth/{mount}", login.method()), e);
            Failure::transient(format!("{}{hint}", base.message))
        };
        let reply = match login {
            Login::AppRole {
                mount,
                role_id,
                secret_id,
            } => {
                let read = |path: &std::path::PathBuf, noun: &str| {
                    crate::secret::read(&crate::config::TokenSource::File(path.clone()), noun).map_err(|e| {
                        Failure::transient(format!(
                            "{}; Evergreen cannot log in again until it is fixed",
                            e.message()
                        ))
                    })
                };
                let body = json!({
                    "role_id": read(role_id, "role_id")?.expose_secret(),
                    "secret_id": read(secret_id, "secret_id")?.expose_secret(),
                });
                self.client
                    .call_anonymous(Method::POST, &format!("auth/{mount}/login"), Some(&body))
                    .await
                    .map_err(|e| {
                        failed(
                            e,
                            mount,
                            &format!(
                                "; if the secret_id was revoked or used up, put a new one in {} (`bao write -f auth/{mount}/role/ROLE/secret-id`)",
                                secret_id.display()
                            ),
                        )
                    })?
            }
            Login::Cert { mount, role, identity } => {
                let LoginIdentity::Files { cert, key } = identity else {
                    return Err(Failure::paused(
                        "the certificate to log in with was not settled; this is a bug in Evergreen, please report it",
                    ));
                };
                let body = match role {
                    Some(r) => json!({ "name": r }),
                    None => json!({}),
                };
                self.client
                    .call_with_identity(Method::POST, &format!("auth/{mount}/login"), &body, cert, key)
                    .await
                    .map_err(|e| {
                        failed(
                            e,
                            mount,
                            &format!(
                                "; check that {} is valid and trusted by a role under auth/{mount}/certs",
                                cert.display()
                            ),
                        )
                    })?
            }
            Login::Password { mount, username, .. } => {
                let Some(Answer::Password {
                    username: typed,
                    password,
                }) = answer
                else {
                    return Err(Failure::paused(format!("the token {why}; {}", self.ask())));
                };
                let Some(user) = typed.or(username.clone()).filter(|u| !u.trim().is_empty()) else {
                    return Err(Failure::paused(
                        "no user name to log in as; give one (or set username in the config)",
                    ));
                };
                let user = user.trim().to_string();
                if user.contains(['/', '?', '#']) {
                    return Err(Failure::paused(format!("{user:?} is not a user name")));
                }
                let body = json!({ "password": password.expose_secret() });
                self.client
                    .call_anonymous(Method::POST, &format!("auth/{mount}/login/{user}"), Some(&body))
                    .await
                    .map_err(|e| failed(e, mount, "; check the user name and the password, and try again"))?
            }
            Login::Oidc { mount, role } => {
                let Some(Answer::Browser { open }) = answer else {
                    return Err(Failure::paused(format!("the token {why}; {}", self.ask())));
                };
                oidc::login(&self.client, mount, role.as_deref(), open)
                    .await
                    .map_err(|f| Failure::transient(format!("logging in with oidc at auth/{mount}: {}", f.message)))?
            }
        };
        let token = field(&reply, "/auth/client_token", &format!("{addr} login"))?
            .as_str()
            .filter(|t| !t.is_empty() && t.len() <= 4096 && !t.contains(char::is_whitespace))
            .ok_or_else(|| Failure::transient(format!("{addr}: the login reply's auth.client_token is not a token")))?;
        let Some(file) = self.spec.conn.token.file() else {
            return Err(Failure::paused(
                "auth needs a token file to write the new token to; use token_file",
            ));
        };
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            fsutil::ensure_private_dir(dir).map_err(|e| Failure::transient(e.to_string()))?;
        }
        fsutil::atomic_write(&file, format!("{token}\n").as_bytes(), fsutil::SECRET_FILE_MODE)
            .map_err(|e| Failure::transient(format!("logged in again, but {e}")))?;
        tracing::info!("logged in again at {addr} with {} ({why})", login.method());
        let after = self.lookup().await?;
        Ok(self.observation(&after, false))
    }

    /// Logs in with what the user answered (a password, a browser login)
    /// and writes the new token: `evergreen login NAME`, the window's Log in.
    pub async fn log_in(&self, answer: Answer) -> Result<String, Failure> {
        let Some(login) = &self.spec.login else {
            return Err(Failure::paused(format!(
                "{} has no auth method to log in with; set auth (userpass, ldap, oidc, approle or cert), or log in with `bao login`",
                self.name
            )));
        };
        let o = self.login(login, Some(answer), "was asked for by you").await?;
        Ok(format!(
            "logged in to {} with {}; the new token is valid until {} and Evergreen keeps it alive",
            self.client.address(),
            login.method(),
            rfc3339(o.lifetime.not_after)
        ))
    }

    async fn renew_self(&self, before: Lookup) -> Result<Renewed, Failure> {
        if !before.renewable {
            return Err(Failure {
                class: FailureClass::NotRenewable,
                message: self.not_renewable(&before),
                stderr_tail: None,
            });
        }
        let increment = self
            .spec
            .increment
            .map(|d| d.as_secs())
            .or(Some(before.creation_ttl))
            .filter(|s| *s > 0);
        let body = match increment {
            Some(s) => json!({ "increment": format!("{s}s") }),
            None => json!({}),
        };
        let reply = self
            .client
            .call(Method::POST, "auth/token/renew-self", Some(&body))
            .await
            .map_err(|e| match e {
                CallError::Api(a) if a.status.as_u16() == 400 && a.text().contains("not renewable") => Failure {
                    class: FailureClass::NotRenewable,
                    message: self.not_renewable(&before),
                    stderr_tail: None,
                },
                e => self.rejected("token renewal", e),
            })?;
        let (lease, capped) = parse_renew(&reply, increment)?;
        let after = self.lookup().await?;
        if after.lifetime.not_after <= before.lifetime.not_after && !capped {
            return Err(Failure::transient(format!(
                "{} accepted the renewal but the token still expires at {}; Evergreen will try again",
                self.client.address(),
                rfc3339(after.lifetime.not_after)
            )));
        }
        let note = match increment {
            Some(s) if capped => format!("capped at the token's maximum TTL (asked for {s}s, got {lease}s)"),
            _ => String::new(),
        };
        Ok(Renewed {
            observation: self.observation(&after, capped),
            note,
        })
    }
}

/// A renew-self reply: the lease granted, and whether the server capped it
/// below the `asked` increment (seconds).
pub(crate) fn parse_renew(reply: &Value, asked: Option<u64>) -> Result<(u64, bool), Failure> {
    let lease = field(reply, "/auth/lease_duration", "token renewal")?
        .as_u64()
        .unwrap_or(0);
    let warnings: Vec<String> = reply
        .get("warnings")
        .and_then(|w| serde_json::from_value(w.clone()).ok())
        .unwrap_or_default();
    // Vault says so in a warning when it caps the TTL; a lease shorter than
    // asked for means the same when no warning came.
    let capped = warnings.iter().any(|w| w.contains("max_ttl") || w.contains("capped"))
        || asked.is_some_and(|asked| lease.saturating_add(1) < asked);
    Ok((lease, capped))
}

pub(crate) fn parse_lookup(v: &Value) -> Result<Lookup, Failure> {
    const WHAT: &str = "token lookup";
    let data = field(v, "/data", WHAT)?;
    let secs = |k: &str| data.get(k).and_then(Value::as_u64).unwrap_or(0);
    let ttl = secs("ttl");
    let expire = data.get("expire_time").and_then(Value::as_str);
    let Some(expire) = expire.filter(|_| ttl > 0) else {
        return Err(Failure {
            class: FailureClass::NotRenewable,
            message: "the token has no TTL (a root or other non-expiring token): it never expires, so there is nothing to renew; use a token with a TTL".into(),
            stderr_tail: None,
        });
    };
    let not_after = parse_rfc3339(expire)
        .ok_or_else(|| Failure::transient(format!("{WHAT}: expire_time {expire:?} is not an RFC 3339 time")))?;
    // Every number here is the server's: checked, never trusted to fit.
    let absurd = |k: &str, v: &dyn std::fmt::Display| {
        Failure::transient(format!(
            "{WHAT}: {k} {v} is not a time any token can have; check the server's reply"
        ))
    };
    let creation_time = match data.get("creation_time").and_then(Value::as_u64) {
        Some(s) => Some(crate::clock::from_unix_secs(s).ok_or_else(|| absurd("creation_time", &s))?),
        None => None,
    };
    let not_before = match ["last_renewal", "issue_time"]
        .iter()
        .find_map(|k| data.get(*k).and_then(Value::as_str).and_then(parse_rfc3339))
        .or(creation_time)
    {
        Some(t) => t,
        None => not_after
            .checked_sub(Duration::from_secs(ttl))
            .ok_or_else(|| absurd("ttl", &ttl))?,
    };
    let max = secs("explicit_max_ttl");
    let max_end = creation_time
        .filter(|_| max > 0)
        .and_then(|c| c.checked_add(Duration::from_secs(max)));
    let at_max_ttl = max_end.is_some_and(|end| not_after + Duration::from_secs(2) >= end);
    Ok(Lookup {
        lifetime: Lifetime { not_before, not_after },
        renewable: data.get("renewable").and_then(Value::as_bool).unwrap_or(false),
        creation_ttl: secs("creation_ttl"),
        at_max_ttl,
        max_end,
    })
}

#[async_trait]
impl Source for VaultToken {
    fn kind(&self) -> Kind {
        KIND
    }

    fn can_renew(&self) -> bool {
        true
    }

    fn min_wait(&self) -> Duration {
        MIN_RENEW_INTERVAL
    }

    async fn observe(&self, _now: std::time::SystemTime) -> Result<Observation, Failure> {
        match self.lookup().await {
            Ok(l) => Ok(self.observation(&l, false)),
            // No token, or a dead one: with a way to log in, renewing makes one.
            Err(f)
                if self.automatic().is_some() && matches!(f.class, FailureClass::Rejected | FailureClass::Paused) =>
            {
                Err(Failure::absent(format!("{}; Evergreen logs in again now", f.message)))
            }
            Err(f) => Err(self.with_ask(f)),
        }
    }

    async fn renew(&self, req: RenewRequest) -> Result<Renewed, Failure> {
        let before = self.lookup().await;
        let Some(login) = self.automatic() else {
            return self
                .renew_self(before.map_err(|f| self.with_ask(f))?)
                .await
                .map_err(|f| self.with_ask(f));
        };
        let why = match before {
            Ok(l) if !self.spent(&l, req.now) => match self.renew_self(l).await {
                Ok(r) if r.note.is_empty() => return Ok(r),
                Ok(_) => "the renewal was capped at the token's maximum TTL".to_string(),
                Err(f) if matches!(f.class, FailureClass::Transient) => return Err(f),
                Err(f) => f.message,
            },
            Ok(_) => "the token cannot be renewed past its maximum TTL".into(),
            Err(f) if matches!(f.class, FailureClass::Transient) => return Err(f),
            Err(f) => f.message,
        };
        let observation = self.login(login, None, &why).await?;
        Ok(Renewed {
            observation,
            note: format!("logged in again with {}", login.method()),
        })
    }
}

/// The first byte picks the reply: a token lookup or a renewal.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz(data: &[u8]) {
    let Some((pick, body)) = crate::fuzzing::split(data) else {
        return;
    };
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    if pick % 2 == 0 {
        let _ = parse_lookup(&v);
    } else {
        let _ = parse_renew(&v, Some(3600));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(extra: Value) -> Value {
        let mut data = json!({
            "creation_time": 1_795_520_216u64,
            "creation_ttl": 10,
            "expire_time": "2026-11-24T11:37:06.623773267Z",
            "explicit_max_ttl": 0,
            "issue_time": "2026-11-24T11:36:56.623777052Z",
            "renewable": true,
            "ttl": 9,
            "id": "s.secret-token-value",
        });
        for (k, v) in extra.as_object().unwrap() {
            data[k] = v.clone();
        }
        json!({ "data": data })
    }

    #[test]
    fn the_lease_runs_from_the_last_renewal_to_expire_time() {
        let l = parse_lookup(&lookup(json!({}))).unwrap();
        assert_eq!(
            l.lifetime.not_after,
            parse_rfc3339("2026-11-24T11:37:06.623773267Z").unwrap()
        );
        assert_eq!(
            l.lifetime.not_before,
            parse_rfc3339("2026-11-24T11:36:56.623777052Z").unwrap()
        );
        assert!(l.renewable && !l.at_max_ttl);
        assert_eq!(l.creation_ttl, 10);
        let l = parse_lookup(&lookup(json!({"last_renewal": "2026-11-24T11:37:00Z"}))).unwrap();
        assert_eq!(l.lifetime.not_before, parse_rfc3339("2026-11-24T11:37:00Z").unwrap());
    }

    #[test]
    fn an_expiry_at_the_explicit_max_ttl_is_final() {
        // created at …:56 (1795520216), max 10 s → the cap is …:37:06, where it expires
        let l = parse_lookup(&lookup(json!({"explicit_max_ttl": 10}))).unwrap();
        assert!(l.at_max_ttl);
        let l = parse_lookup(&lookup(json!({"explicit_max_ttl": 60}))).unwrap();
        assert!(!l.at_max_ttl);
    }

    #[test]
    fn a_token_without_ttl_has_nothing_to_renew() {
        let f = parse_lookup(&lookup(json!({"ttl": 0, "expire_time": null}))).unwrap_err();
        assert_eq!(f.class, FailureClass::NotRenewable);
        assert!(f.message.contains("never expires"), "{}", f.message);
    }

    #[test]
    fn bad_replies_are_failures_that_never_echo_the_token() {
        for bad in [
            json!({}),
            json!({"data": null}),
            lookup(json!({"expire_time": "tomorrow"})),
        ] {
            let f = parse_lookup(&bad).unwrap_err();
            assert_eq!(f.class, FailureClass::Transient);
            assert!(!f.message.contains("secret-token-value"), "{}", f.message);
        }
    }
}
