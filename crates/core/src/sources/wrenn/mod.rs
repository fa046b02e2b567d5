//! A wrenn host registration, kept alive with heartbeats.
//!
//! With no credentials file, the host registers with a one-time token
//! (`POST /v1/hosts/register`, 201) and keeps the answer — host JWT, refresh
//! token, certificate, key, CA — in a JSON file, mode 0600. Then it sends a
//! heartbeat at once and every interval (`POST /v1/hosts/{id}/heartbeat` with
//! `X-Host-Token`, 204). As wrenn's own host agent does:
//!
//! - 401/403 → refresh once (`POST /v1/hosts/auth/refresh`); the new JWT is
//!   used from the next request on (the file is read per request: hot-swap).
//!   A failed refresh → `paused`: only a new registration helps
//!   (`evergreen register NAME --token …`).
//! - 404 with the control plane's own `not_found` answer → the host was
//!   deleted: its credentials file is moved to `.bak` (0600), `retired`. Any
//!   other 404 (a proxy's page, a wrong URL) is a failure that retries.
//! - 3 network failures in a row → `paused`; heartbeats go on and the next
//!   204 recovers it.
//!
//! Beyond that agent, the JWT's own lifetime (`iat`..`exp`) is the credential's
//! lifetime, so it is refreshed before it expires instead of after a 401.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{Beat, Failure, FailureClass, Heartbeat, Observation, RenewRequest, Renewed, Source};
use crate::fsutil::{self, SECRET_FILE_MODE};
use crate::http::{self, ClientOptions};
use crate::kind::Kind;
use crate::model::Lifetime;

mod def;

pub use def::{WrennSpec, KIND};

/// The credentials file, field for field as the wrenn agent writes it.
#[derive(Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub host_id: String,
    #[serde(serialize_with = "exposed")]
    pub jwt: SecretString,
    #[serde(serialize_with = "exposed")]
    pub refresh_token: SecretString,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cert_pem: String,
    #[serde(default = "no_secret", serialize_with = "exposed", skip_serializing_if = "is_empty")]
    pub key_pem: SecretString,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ca_cert_pem: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("host_id", &self.host_id)
            .finish_non_exhaustive()
    }
}

/// Secrets are written to the credentials file (0600) and nowhere else.
fn exposed<S: serde::Serializer>(s: &SecretString, to: S) -> Result<S::Ok, S::Error> {
    to.serialize_str(s.expose_secret())
}

fn no_secret() -> SecretString {
    SecretString::from(String::new())
}

fn is_empty(s: &SecretString) -> bool {
    s.expose_secret().is_empty()
}

/// The register and refresh replies.
#[derive(Deserialize)]
struct AuthResponse {
    token: SecretString,
    refresh_token: SecretString,
    #[serde(default)]
    cert_pem: String,
    #[serde(default = "no_secret")]
    key_pem: SecretString,
    #[serde(default)]
    ca_cert_pem: String,
}

#[derive(Deserialize)]
struct Claims {
    host_id: Option<String>,
    iat: Option<u64>,
    exp: Option<u64>,
}

fn claims(jwt: &str) -> Result<Claims, String> {
    let payload = jwt
        .split('.')
        .nth(1)
        .filter(|_| jwt.split('.').count() == 3)
        .ok_or("the host token is not a JWT")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| format!("the host token's payload is not base64url ({e})"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("the host token's claims are not JSON ({e})"))
}

/// Whether a 404 is the control plane's own verdict on the host: its error
/// shape `{"error": {"code": "not_found", …}}` (wrenn's `serviceErrToHTTP`
/// in `internal/api/handlers_hosts.go`), or `host_not_found` from the error
/// catalog of newer wrenn (`pkg/apperr`), not a proxy's page or a wrong path.
fn host_not_found(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/code")
                .and_then(Value::as_str)
                .map(|c| c == "not_found" || c == "host_not_found")
        })
        .unwrap_or(false)
}

/// The JWT's `iat`..`exp`, or the certificate's validity when it has no `exp`.
fn lifetime(c: &Credentials) -> Result<Lifetime, String> {
    let cl = claims(c.jwt.expose_secret())?;
    let t = |what: &str, s: u64| {
        crate::clock::from_unix_secs(s)
            .ok_or_else(|| format!("the host token's {what} claim ({s}) is not a time before the year 10000"))
    };
    match (cl.iat, cl.exp) {
        (Some(iat), Some(exp)) if exp > iat => Ok(Lifetime {
            not_before: t("iat", iat)?,
            not_after: t("exp", exp)?,
        }),
        _ if !c.cert_pem.is_empty() => crate::x509::parse(c.cert_pem.as_bytes())
            .map(|f| f.leaf().lifetime)
            .map_err(|e| format!("the host token has no expiry and the certificate does not parse ({e})")),
        _ => Err("the host token has no iat/exp claims and there is no certificate: its lifetime is unknown".into()),
    }
}

/// A register or refresh reply, checked: the host id (from the JWT when
/// registering) is a plain id, the token is a JWT with a lifetime that has
/// not ended, the certificates are certificates only and the key is theirs.
pub(crate) fn parse_auth(
    body: &[u8],
    host_id: Option<&str>,
    now: SystemTime,
) -> Result<(Credentials, Lifetime), String> {
    let r: AuthResponse =
        serde_json::from_slice(body).map_err(|e| format!("the reply is not the expected JSON ({e})"))?;
    let id = match host_id {
        Some(id) => id.to_string(),
        None => claims(r.token.expose_secret())
            .ok()
            .and_then(|c| c.host_id)
            .ok_or("the host token carries no host_id")?,
    };
    super::safe_id("host_id", &id)?;
    let certs = |what: &str, pem: &str| -> Result<Option<crate::x509::ReplyCerts>, String> {
        if pem.trim().is_empty() {
            return Ok(None);
        }
        crate::x509::parse_reply(pem)
            .map(Some)
            .map_err(|e| format!("its {what} does not parse ({e})"))
    };
    let cert = certs("cert_pem", &r.cert_pem)?;
    if let Some(cert) = &cert {
        if crate::pair::key_matches(&cert.file.der_leaf, r.key_pem.expose_secret()) != Some(true) {
            return Err("its key_pem is not the private key of its cert_pem".into());
        }
    }
    let pem = |c: Option<crate::x509::ReplyCerts>| c.map(|c| c.pem).unwrap_or_default();
    let c = Credentials {
        host_id: id,
        jwt: r.token,
        refresh_token: r.refresh_token,
        cert_pem: pem(cert),
        key_pem: r.key_pem,
        ca_cert_pem: pem(certs("ca_cert_pem", &r.ca_cert_pem)?),
    };
    let l = lifetime(&c)?;
    if l.not_after <= now {
        return Err("the new host token has already expired".into());
    }
    Ok((c, l))
}

pub struct Wrenn {
    spec: WrennSpec,
    client: OnceLock<reqwest::Client>,
    /// Credentials the control plane gave that the disk did not take yet (it
    /// was full, or read-only). They are the only copy: the registration
    /// token is spent and the refresh token rotated, so losing them would
    /// mean registering again. They are used, and written at each look,
    /// until the file takes them.
    unsaved: std::sync::Mutex<Option<Credentials>>,
}

impl std::fmt::Debug for Wrenn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wrenn")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl Wrenn {
    pub fn new(_name: &str, spec: WrennSpec) -> Self {
        Wrenn {
            spec,
            client: OnceLock::new(),
            unsaved: std::sync::Mutex::new(None),
        }
    }

    fn client(&self) -> Result<&reqwest::Client, Failure> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        let c = http::client(&ClientOptions {
            ca_bundle: self.spec.ca_bundle.clone(),
            timeout: Some(Duration::from_secs(15)),
            ..ClientOptions::default()
        })
        .map_err(|e| Failure::new(FailureClass::Paused, e.to_string()))?;
        Ok(self.client.get_or_init(|| c))
    }

    /// The credentials file: `None` when there is none yet. Credentials the
    /// disk has not taken yet come first (and are written again now).
    fn load(&self) -> Result<Option<Credentials>, Failure> {
        let pending = self.unsaved.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(c) = pending {
            if self.save(&c).is_ok() {
                // What they replaced: a spent registration token.
                let _ = std::fs::remove_file(&self.spec.registration_token_file);
                tracing::info!(
                    "{}: the host credentials are written at last",
                    self.spec.credentials_file.display()
                );
            }
            return Ok(Some(c));
        }
        let path = &self.spec.credentials_file;
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Failure::transient(format!("cannot read {}: {e}", path.display()))),
        };
        if let Some(problem) = fsutil::exposed_secret(&meta, "host credentials", path) {
            return Err(Failure::new(FailureClass::Paused, problem));
        }
        let text =
            std::fs::read(path).map_err(|e| Failure::transient(format!("cannot read {}: {e}", path.display())))?;
        serde_json::from_slice(&text)
            .map(Some)
            .map_err(|e| Failure::transient(format!("{} is not a wrenn credentials file ({e})", path.display())))
    }

    /// Writes the credentials file; when the disk refuses, keeps them in
    /// memory to be used and written later (see `unsaved`).
    fn save(&self, c: &Credentials) -> Result<(), Failure> {
        let json = serde_json::to_vec_pretty(c).map_err(|e| Failure::transient(e.to_string()))?;
        let written = fsutil::atomic_write(&self.spec.credentials_file, &json, SECRET_FILE_MODE);
        let mut unsaved = self.unsaved.lock().unwrap_or_else(|p| p.into_inner());
        match written {
            Ok(()) => {
                *unsaved = None;
                Ok(())
            }
            Err(e) => {
                *unsaved = Some(c.clone());
                Err(Failure::transient(format!(
                    "{e}; the new host credentials are kept in memory, used, and written as soon as the disk takes them"
                )))
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.spec.url)
    }

    async fn post(&self, path: &str, body: Option<Value>, jwt: Option<&str>) -> Result<(u16, Vec<u8>), Failure> {
        let url = self.url(path);
        let mut req = self.client()?.post(&url);
        if let Some(b) = &body {
            req = req.json(b);
        }
        if let Some(t) = jwt {
            req = req.header("X-Host-Token", t);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| Failure::transient(http::describe(&url, &e)))?;
        let status = resp.status().as_u16();
        let bytes = http::read_reply(resp, &url).await.map_err(Failure::transient)?;
        Ok((status, bytes))
    }

    /// Vault-style `{"error": {"code", "message"}}`, or the start of the body.
    fn why(body: &[u8]) -> String {
        http::error_body("", body)
    }

    fn reregister(&self, why: String) -> Failure {
        Failure::new(
            FailureClass::Paused,
            format!(
                "{why}; re-registration needed: get a one-time token from the control plane and run `evergreen register NAME --token TOKEN` (it writes {})",
                self.spec.registration_token_file.display()
            ),
        )
    }

    /// Turns a register/refresh reply into credentials, checked before saving.
    fn accept(
        &self,
        what: &str,
        body: &[u8],
        host_id: Option<&str>,
        now: SystemTime,
    ) -> Result<(Credentials, Lifetime), Failure> {
        parse_auth(body, host_id, now)
            .map_err(|e| Failure::transient(format!("{}: {e}; nothing was saved", self.url(what))))
    }

    async fn register(&self, now: SystemTime) -> Result<Lifetime, Failure> {
        let tf = &self.spec.registration_token_file;
        let token = match std::fs::read_to_string(tf) {
            Ok(t) if !t.trim().is_empty() => t.trim().to_string(),
            _ => return Err(self.reregister(format!("not registered yet and no one-time token in {}", tf.display()))),
        };
        let body = json!({
            "token": token,
            "arch": crate::host::go_arch(),
            "cpu_cores": crate::host::cpu_cores(),
            "memory_mb": crate::host::memory_mb(),
            "disk_gb": 0,
            "address": self.spec.host_address,
        });
        let (status, reply) = self.post("/v1/hosts/register", Some(body), None).await?;
        match status {
            201 => {}
            // A bad request is not a bad token (wrenn checks the body first,
            // and the token is not spent): say what the server said.
            400 => {
                return Err(Failure::new(
                    FailureClass::Paused,
                    format!(
                        "{}: the control plane refused the registration (HTTP 400: {}); fix the credential's settings (host_address is sent as the address) and Evergreen registers again",
                        self.url("/v1/hosts/register"),
                        Self::why(&reply)
                    ),
                ))
            }
            401 | 403 | 404 | 409 | 410 => {
                return Err(self.reregister(format!(
                    "the control plane refused the one-time token (HTTP {status}: {})",
                    Self::why(&reply)
                )))
            }
            _ => {
                return Err(Failure::transient(format!(
                    "{}: HTTP {status}: {}",
                    self.url("/v1/hosts/register"),
                    Self::why(&reply)
                )))
            }
        }
        let (c, l) = self.accept("/v1/hosts/register", &reply, None, now)?;
        self.save(&c)?;
        // One-time: it is spent now.
        let _ = std::fs::remove_file(tf);
        Ok(l)
    }

    /// Exchanges the refresh token; a refusal means only a new registration helps.
    async fn refresh(&self, old: &Credentials, now: SystemTime) -> Result<Lifetime, Failure> {
        let (status, reply) = self
            .post(
                "/v1/hosts/auth/refresh",
                Some(json!({ "refresh_token": old.refresh_token.expose_secret() })),
                None,
            )
            .await?;
        match status {
            200 => {}
            400 | 401 | 403 | 404 => {
                return Err(self.reregister(format!(
                    "the control plane refused the refresh token (HTTP {status}: {})",
                    Self::why(&reply)
                )))
            }
            _ => {
                return Err(Failure::transient(format!(
                    "{}: HTTP {status}: {}",
                    self.url("/v1/hosts/auth/refresh"),
                    Self::why(&reply)
                )))
            }
        }
        let (c, l) = self.accept("/v1/hosts/auth/refresh", &reply, Some(&old.host_id), now)?;
        self.save(&c)?;
        Ok(l)
    }

    fn observation(l: Lifetime) -> Observation {
        Observation::of(l)
    }
}

#[async_trait]
impl Source for Wrenn {
    fn kind(&self) -> Kind {
        KIND
    }

    fn can_renew(&self) -> bool {
        true
    }

    fn heartbeat(&self) -> Option<Heartbeat> {
        Some(Heartbeat {
            every: self.spec.heartbeat_interval,
            pause_after: Some(3),
        })
    }

    fn tidy(&self) -> Vec<std::path::PathBuf> {
        crate::fsutil::clean_temps(&self.spec.credentials_file)
    }

    async fn observe(&self, _now: SystemTime) -> Result<Observation, Failure> {
        let tf = &self.spec.registration_token_file;
        if self.spec.credentials_file.exists() && tf.exists() {
            // `evergreen register` left a token: the user asks for a new registration.
            return Err(Failure::new(
                FailureClass::Absent,
                format!("a one-time token is waiting in {}: registering again", tf.display()),
            ));
        }
        match self.load()? {
            Some(c) => lifetime(&c)
                .map(Self::observation)
                .map_err(|e| Failure::transient(format!("{}: {e}", self.spec.credentials_file.display()))),
            None => Err(Failure::new(
                FailureClass::Absent,
                format!(
                    "not registered yet ({} does not exist); Evergreen registers with the one-time token in {}",
                    self.spec.credentials_file.display(),
                    self.spec.registration_token_file.display()
                ),
            )),
        }
    }

    async fn renew(&self, req: RenewRequest) -> Result<Renewed, Failure> {
        let pending = self.spec.registration_token_file.exists();
        let (l, note) = match self.load()? {
            Some(c) if !pending => (self.refresh(&c, req.now).await?, String::new()),
            _ => (self.register(req.now).await?, "registered".to_string()),
        };
        Ok(Renewed {
            observation: Self::observation(l),
            note,
        })
    }

    async fn beat(&self, now: SystemTime) -> Result<Beat, Failure> {
        let Some(c) = self.load()? else {
            return Err(Failure::new(FailureClass::Absent, "not registered yet"));
        };
        let path = format!("/v1/hosts/{}/heartbeat", c.host_id);
        let (status, reply) = self.post(&path, None, Some(c.jwt.expose_secret())).await?;
        match status {
            204 | 200 => Ok(Beat::default()),
            401 | 403 => {
                let l = self.refresh(&c, now).await?;
                Ok(Beat {
                    observation: Some(Self::observation(l)),
                    ..Beat::default()
                })
            }
            404 if host_not_found(&reply) => {
                // Kept, not destroyed: a control plane restored from a backup
                // may know the host again.
                let f = &self.spec.credentials_file;
                let kept = match fsutil::backup(f, SECRET_FILE_MODE) {
                    Ok(()) => {
                        let _ = std::fs::remove_file(f);
                        format!("{} was moved to {}.bak", f.display(), f.display())
                    }
                    Err(e) => format!("{} was kept, since it could not be backed up ({e})", f.display()),
                };
                Err(Failure::new(
                    FailureClass::Retired,
                    format!(
                        "the control plane no longer knows host {} (404 on heartbeat): it was deleted; {kept}",
                        c.host_id
                    ),
                ))
            }
            404 => Err(Failure::transient(format!(
                "{}: heartbeat answered HTTP 404 without the control plane's own \"not found\" answer ({}); a proxy or a wrong url? The credentials are kept and heartbeats go on",
                self.url(&path),
                Self::why(&reply)
            ))),
            _ => Err(Failure::transient(format!(
                "{}: heartbeat answered HTTP {status}: {}",
                self.url(&path),
                Self::why(&reply)
            ))),
        }
    }
}

/// A register or refresh reply.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz(data: &[u8]) {
    let Some((_, body)) = crate::fuzzing::split(data) else {
        return;
    };
    let _ = parse_auth(body, None, crate::fuzzing::now());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_control_planes_own_not_found_retires_a_host() {
        assert!(host_not_found(
            br#"{"error":{"code":"not_found","message":"resource not found"}}"#
        ));
        assert!(host_not_found(
            br#"{"error":{"code":"host_not_found","message":"host not found","request_id":"r","retryable":false}}"#
        ));
        for other in [
            &b"<html><h1>404 Not Found</h1>nginx</html>"[..],
            br#"{"error":{"code":"invalid_request","message":"x"}}"#,
            br#"{"error":"not_found"}"#,
            b"",
        ] {
            assert!(!host_not_found(other), "{}", String::from_utf8_lossy(other));
        }
    }

    fn jwt(claims: Value) -> String {
        let e = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!("{}.{}.sig", e(b"{\"alg\":\"HS256\"}"), e(claims.to_string().as_bytes()))
    }

    fn creds(jwt: String) -> Credentials {
        Credentials {
            host_id: "h".into(),
            jwt: jwt.into(),
            refresh_token: "r".into(),
            cert_pem: String::new(),
            key_pem: no_secret(),
            ca_cert_pem: String::new(),
        }
    }

    #[test]
    fn the_jwt_claims_give_the_lifetime_and_the_host() {
        let c = creds(jwt(
            json!({"host_id": "h-1", "iat": 1_900_000_000u64, "exp": 1_900_003_600u64}),
        ));
        let l = lifetime(&c).unwrap();
        assert_eq!(
            l.not_after.duration_since(l.not_before).unwrap(),
            Duration::from_secs(3600)
        );
        assert_eq!(claims(c.jwt.expose_secret()).unwrap().host_id.as_deref(), Some("h-1"));
    }

    #[test]
    fn absurd_claim_times_are_an_error_not_a_panic() {
        for (iat, exp, named) in [
            (1_900_000_000u64, u64::MAX, "exp"),
            (u64::MAX - 1, u64::MAX, "iat"),
            (1_900_000_000, 300_000_000_000, "exp"),
        ] {
            let why = lifetime(&creds(jwt(json!({"host_id": "h", "iat": iat, "exp": exp})))).unwrap_err();
            assert!(
                why.contains(&format!("{named} claim")) && why.contains("year 10000"),
                "{iat}..{exp}: {why}"
            );
        }
    }

    #[test]
    fn bad_tokens_say_what_is_wrong_and_debug_hides_secrets() {
        assert!(lifetime(&creds("nope".into())).unwrap_err().contains("not a JWT"));
        assert!(lifetime(&creds("a.!!!.c".into())).unwrap_err().contains("base64url"));
        assert!(lifetime(&creds(jwt(json!({"host_id": "h"}))))
            .unwrap_err()
            .contains("lifetime is unknown"));
        let c = creds(jwt(json!({"host_id": "h"})));
        assert!(!format!("{c:?}").contains(c.jwt.expose_secret()) && !format!("{c:?}").contains("\"r\""));
    }

    #[test]
    fn a_reply_is_kept_only_with_a_plain_host_id_certificates_only_and_their_own_key() {
        let now = SystemTime::now();
        let ca = crate::pki::Ca::new("CA", now, Duration::from_secs(86_400)).unwrap();
        let a = ca.issue("h-1", now, Duration::from_secs(3600)).unwrap();
        let b = ca.issue("h-1", now, Duration::from_secs(3600)).unwrap();
        let t = crate::clock::unix_millis(now) as u64 / 1000;
        let reply = |id: &str, cert: &str, key: &str| {
            json!({
                "token": jwt(json!({"host_id": id, "iat": t, "exp": t + 3600})),
                "refresh_token": "r-1",
                "cert_pem": cert,
                "key_pem": key,
                "ca_cert_pem": ca.cert_pem(),
            })
            .to_string()
        };
        let (c, _) = parse_auth(reply("h-1", &a.cert_pem, &a.key_pem).as_bytes(), None, now).unwrap();
        assert_eq!(c.host_id, "h-1");
        let e = parse_auth(reply("../admin", &a.cert_pem, &a.key_pem).as_bytes(), None, now).unwrap_err();
        assert!(e.contains("host_id \"../admin\" is not a plain id"), "{e}");
        let with_key = format!("{}{}", a.cert_pem, a.key_pem);
        let e = parse_auth(reply("h-1", &with_key, &a.key_pem).as_bytes(), None, now).unwrap_err();
        assert!(e.contains("PRIVATE KEY block beside the certificates"), "{e}");
        let e = parse_auth(reply("h-1", &a.cert_pem, &b.key_pem).as_bytes(), None, now).unwrap_err();
        assert!(e.contains("not the private key of its cert_pem"), "{e}");
        // Saved, the secrets are in the file; formatted, nowhere.
        let saved = serde_json::to_string(&c).unwrap();
        assert!(saved.contains("\"refresh_token\":\"r-1\""), "{saved}");
        assert!(!format!("{c:?}").contains("r-1"));
    }
}
