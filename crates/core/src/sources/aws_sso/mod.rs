//! An AWS IAM Identity Center (SSO) session.
//!
//! `aws sso login` leaves an access token (about an hour) and a refresh
//! token in `~/.aws/sso/cache`. The AWS tools refresh it only when one of
//! them runs, so a session that still has days left looks expired to a
//! prompt or a script. Evergreen refreshes it ahead, exactly as botocore
//! does (SSO-OIDC `CreateToken` with the refresh_token grant, at the
//! session's region), and rewrites the cache file atomically in the format
//! botocore reads, so every AWS tool keeps working. The session's own end
//! is set by IAM Identity Center and written nowhere locally: it shows when
//! a refresh is refused, and then only `aws sso login` helps, which the
//! notification offers to run.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde::Deserialize;

use super::{Failure, FailureClass, Limit, Observation, RenewRequest, Renewed, Source};
use crate::clock::{rfc3339, unix_millis};
use crate::kind::Kind;
use crate::model::{CertDetails, DetailLabels, DetailRow, HardEnd, Lifetime};

mod def;
mod discover;
mod files;

pub use def::{AwsSsoSpec, KIND};
use files::Cached;

/// The longest access token believed: a reply claiming more is absurd.
const MAX_TOKEN_LIFE: Duration = Duration::from_secs(30 * 86_400);

#[derive(Debug)]
pub struct AwsSso {
    name: String,
    spec: AwsSsoSpec,
}

/// CreateToken's reply (its other fields, an id token, are not kept).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenReply {
    access_token: String,
    expires_in: u64,
    #[serde(default)]
    refresh_token: Option<String>,
}

impl AwsSso {
    pub fn new(name: &str, spec: AwsSsoSpec) -> Self {
        AwsSso {
            name: name.to_string(),
            spec,
        }
    }

    fn login_hint(&self) -> String {
        format!(
            "start a new one with `aws sso login --sso-session {}` (`evergreen login {}`, or Log in in the window, runs it)",
            self.spec.session, self.name
        )
    }

    fn session(&self) -> Result<files::Session, Failure> {
        let path = &self.spec.config_file;
        let text = crate::fsutil::read_bounded(path, files::MAX_FILE)
            .map_err(|e| Failure::paused(format!("cannot read the AWS config {}: {e}", path.display())))?;
        files::sessions(&String::from_utf8_lossy(&text))
            .into_iter()
            .find(|s| s.name == self.spec.session)
            .ok_or_else(|| {
                Failure::paused(format!(
                    "{} has no [sso-session {}] section; add it with `aws configure sso-session`",
                    path.display(),
                    self.spec.session
                ))
            })
    }

    fn cache_path(&self) -> std::path::PathBuf {
        files::cache_file(&self.spec.cache_dir, &self.spec.session)
    }

    fn cached(&self) -> Result<Cached, Failure> {
        let path = self.cache_path();
        let bytes = match crate::fsutil::read_bounded(&path, files::MAX_FILE) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Failure::new(
                    FailureClass::Rejected,
                    format!(
                        "no token is cached for sso-session {} ({}); {}",
                        self.spec.session,
                        path.display(),
                        self.login_hint()
                    ),
                ))
            }
            Err(e) => return Err(Failure::transient(format!("cannot read {}: {e}", path.display()))),
        };
        Cached::parse(&bytes).map_err(|why| {
            Failure::transient(format!(
                "{} is not an SSO token cache ({why}); {}",
                path.display(),
                self.login_hint()
            ))
        })
    }

    fn observation(&self, c: &Cached, written: Option<SystemTime>) -> Result<Observation, Failure> {
        let path = self.cache_path();
        let not_after = c.expires_at().filter(|_| c.has_access_token()).ok_or_else(|| {
            Failure::transient(format!(
                "{} has no accessToken with an expiresAt; {}",
                path.display(),
                self.login_hint()
            ))
        })?;
        let not_before = written.filter(|w| *w < not_after).unwrap_or_else(|| {
            not_after
                .checked_sub(Duration::from_secs(3600))
                .unwrap_or(SystemTime::UNIX_EPOCH)
        });
        let registration = c.registration_expires_at();
        let mut more = vec![DetailRow {
            label: "Session ends".into(),
            value: "not written on this machine: IAM Identity Center ends it (its admin sets how long); Evergreen learns of it when a refresh is refused".into(),
            at: None,
        }];
        if let Some(r) = registration {
            more.push(DetailRow {
                label: "Client registration ends".into(),
                value: rfc3339(r),
                at: Some(unix_millis(r)),
            });
        }
        let limit = c.refresh_grant().is_none().then(|| Limit::NotRenewable {
            reason: format!(
                "the cached token of sso-session {} has no refresh token, so it cannot be refreshed; {}",
                self.spec.session,
                self.login_hint()
            ),
        });
        Ok(Observation {
            details: Some(CertDetails {
                subject: self.spec.session.clone(),
                issuer: c.start_url().unwrap_or_default().to_string(),
                serial: path.display().to_string(),
                sha256: String::new(),
                sans: Vec::new(),
                labels: DetailLabels::of(
                    "AWS SSO session",
                    ["sso-session", "Other names", "Start URL", "Token cache", "Fingerprint"],
                ),
                more,
            }),
            limit,
            hard_end: registration.filter(|_| c.refresh_grant().is_some()).map(|r| HardEnd {
                at: unix_millis(r),
                what: "The SSO client registration expires".into(),
                then: format!("then no refresh works; {}", self.login_hint()),
                needs_you: true,
            }),
            ..Observation::of(Lifetime {
                not_before: not_before.min(not_after),
                not_after,
            })
        })
    }

    fn look(&self) -> Result<Observation, Failure> {
        let c = self.cached()?;
        let written = std::fs::metadata(self.cache_path()).and_then(|m| m.modified()).ok();
        self.observation(&c, written)
    }

    /// The SSO-OIDC token endpoint of the session's region.
    fn endpoint(&self, region: &str) -> Result<String, Failure> {
        match &self.spec.endpoint_url {
            Some(u) => Ok(format!("{u}/token")),
            None if !region.is_empty() && region.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => {
                Ok(format!("https://oidc.{region}.amazonaws.com/token"))
            }
            None => Err(Failure::paused(format!(
                "[sso-session {}] has no usable sso_region ({region:?}); set it in {}",
                self.spec.session,
                self.spec.config_file.display()
            ))),
        }
    }

    /// Whether an error reply means the session (or its client) is over.
    fn refused(status: reqwest::StatusCode, error_type: &str, body: &[u8]) -> Option<String> {
        let code = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .unwrap_or_default();
        let ended = [
            ("invalid_grant", "InvalidGrantException"),
            ("expired_token", "ExpiredTokenException"),
            ("unauthorized_client", "UnauthorizedClientException"),
            ("invalid_client", "InvalidClientException"),
        ];
        (status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS)
            .then(|| {
                ended
                    .iter()
                    .find(|(c, t)| code == *c || error_type.starts_with(t))
                    .map(|(c, _)| c.to_string())
            })
            .flatten()
    }
}

#[async_trait]
impl Source for AwsSso {
    fn kind(&self) -> Kind {
        KIND
    }

    fn can_renew(&self) -> bool {
        true
    }

    fn remind_every(&self) -> Option<Duration> {
        Some(Duration::from_secs(3600))
    }

    async fn observe(&self, _now: SystemTime) -> Result<Observation, Failure> {
        self.look()
    }

    async fn renew(&self, req: RenewRequest) -> Result<Renewed, Failure> {
        let session = self.session()?;
        let cached = self.cached()?;
        let Some(grant) = cached.refresh_grant() else {
            return Err(Failure::new(
                FailureClass::NotRenewable,
                format!(
                    "the cached token of sso-session {} has no refresh token, so it cannot be refreshed; {}",
                    self.spec.session,
                    self.login_hint()
                ),
            ));
        };
        if let Some(r) = cached.registration_expires_at().filter(|r| *r <= req.now) {
            return Err(Failure::new(
                FailureClass::Rejected,
                format!(
                    "the SSO client registration of sso-session {} ended at {}, so the token cannot be refreshed; {}",
                    self.spec.session,
                    rfc3339(r),
                    self.login_hint()
                ),
            ));
        }
        let url = self.endpoint(&session.region)?;
        let http =
            crate::http::client(&crate::http::ClientOptions::default()).map_err(|e| Failure::paused(e.to_string()))?;
        let resp = http
            .post(&url)
            .json(&grant)
            .send()
            .await
            .map_err(|e| Failure::transient(crate::http::describe(&url, &e)))?;
        let status = resp.status();
        let error_type = resp
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = crate::http::read_reply(resp, &url).await.map_err(Failure::transient)?;
        if !status.is_success() {
            if let Some(code) = Self::refused(status, &error_type, &body) {
                return Err(Failure::new(
                    FailureClass::Rejected,
                    format!(
                        "the IAM Identity Center session {} has ended: the refresh was refused ({code}); {}",
                        self.spec.session,
                        self.login_hint()
                    ),
                ));
            }
            return Err(Failure::transient(format!(
                "{url}: HTTP {status}: {}",
                crate::http::error_body(&content_type, &body)
            )));
        }
        let reply: TokenReply = serde_json::from_slice(&body).map_err(|e| {
            Failure::transient(format!(
                "{url} answered HTTP {status} with something that is not a CreateToken reply ({})",
                crate::http::json_problem(&e)
            ))
        })?;
        let life = Duration::from_secs(reply.expires_in);
        if reply.access_token.is_empty() || life < Duration::from_secs(60) || life > MAX_TOKEN_LIFE {
            return Err(Failure::transient(format!(
                "{url} sent an access token that lives {} s; Evergreen does not believe it and keeps the cached one",
                reply.expires_in
            )));
        }
        let expires = req.now + life;
        let next = cached.refreshed(&reply.access_token, expires, reply.refresh_token.as_deref());
        let path = self.cache_path();
        crate::fsutil::atomic_write(&path, &next.to_bytes(), 0o600).map_err(|e| Failure::transient(e.to_string()))?;
        let observation = self.observation(&next, Some(req.now))?;
        Ok(Renewed {
            observation,
            note: String::new(),
        })
    }
}

/// A cache file, a config file and a reply of any shape.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = files::sessions(&text);
    if let Ok(c) = Cached::parse(data) {
        let _ = (c.expires_at(), c.registration_expires_at(), c.refresh_grant().is_some());
        let _ = c.refreshed("a", SystemTime::UNIX_EPOCH, Some("r")).to_bytes();
    }
    let _ = serde_json::from_slice::<TokenReply>(data);
    let _ = AwsSso::refused(reqwest::StatusCode::BAD_REQUEST, &text, data);
}
