//! An OAuth 2.0 / OpenID Connect access token kept fresh with its refresh
//! token, as pizauth and oidc-agent do, with the protocol done by the
//! `oauth2` crate.
//!
//! The first login is the user's: the device grant (RFC 8628, a code entered
//! at the provider's page) or the code grant with PKCE on a loopback
//! redirect, through `evergreen login NAME` or the window's Log in. After
//! that Evergreen refreshes the access token at the usual point of its
//! lifetime. A rotated refresh token replaces the old one before anything
//! else happens (a lost one would cost the user their login), and the
//! tokens are kept in the desktop keyring or a 0600 file ([`store`]). A
//! refused refresh (`invalid_grant`) means a new login is needed: the
//! credential says so, and keeps reminding. `evergreen token NAME` hands the
//! access token to scripts, refreshing it first when it is due.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, DeviceAuthorizationUrl, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, PkceCodeChallenge, RedirectUrl, RefreshToken, RequestTokenError, Scope,
    StandardDeviceAuthorizationResponse, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::OnceCell;

use super::{Failure, FailureClass, Observation, RenewRequest, Renewed, Source};
use crate::clock::{from_unix_secs, rfc3339};
use crate::kind::Kind;
use crate::login::Answer;
use crate::model::{CertDetails, DetailLabels, DetailRow, Lifetime};
use crate::policy::RenewPolicy;

mod def;
mod store;

pub use def::{Flow, OauthSpec, KIND};
use store::{Place, Tokens};

/// How long the user has to log in.
const LOGIN_WAIT: Duration = Duration::from_secs(600);
/// An access token the provider gives no lifetime is taken to last this long.
const UNSAID_LIFETIME: Duration = Duration::from_secs(3600);

type Client = BasicClient<EndpointMaybeSet, EndpointMaybeSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// What `/.well-known/openid-configuration` says of the endpoints.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Endpoints {
    pub token_endpoint: Option<String>,
    pub device_authorization_endpoint: Option<String>,
    pub authorization_endpoint: Option<String>,
}

#[derive(Debug)]
pub struct Oauth {
    name: String,
    spec: OauthSpec,
    endpoints: OnceCell<Endpoints>,
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Oauth {
    pub fn new(name: &str, spec: OauthSpec) -> Self {
        Oauth {
            name: name.to_string(),
            spec,
            endpoints: OnceCell::new(),
        }
    }

    fn ask(&self) -> String {
        format!(
            "log in: `evergreen login {}`, or Log in in Evergreen's window",
            self.name
        )
    }

    fn http(&self) -> Result<reqwest::Client, Failure> {
        crate::http::client(&crate::http::ClientOptions::default()).map_err(|e| Failure::paused(e.to_string()))
    }

    /// The endpoints: the configured ones over the issuer's discovery document.
    async fn endpoints(&self) -> Result<Endpoints, Failure> {
        let found = self
            .endpoints
            .get_or_try_init(|| async {
                let Some(issuer) = &self.spec.issuer else {
                    return Ok(Endpoints::default());
                };
                let url = format!("{issuer}/.well-known/openid-configuration");
                let resp = self
                    .http()?
                    .get(&url)
                    .send()
                    .await
                    .map_err(|e| Failure::transient(crate::http::describe(&url, &e)))?;
                let status = resp.status();
                let body = crate::http::read_reply(resp, &url).await.map_err(Failure::transient)?;
                if !status.is_success() {
                    return Err(Failure::transient(format!(
                        "{url}: HTTP {status}; is {issuer} an OpenID provider?"
                    )));
                }
                serde_json::from_slice::<Endpoints>(&body)
                    .map_err(|e| Failure::transient(format!("{url} is not a discovery document ({e})")))
            })
            .await?
            .clone();
        Ok(Endpoints {
            token_endpoint: self.spec.token_url.clone().or(found.token_endpoint),
            device_authorization_endpoint: self.spec.device_url.clone().or(found.device_authorization_endpoint),
            authorization_endpoint: self.spec.auth_url.clone().or(found.authorization_endpoint),
        })
    }

    async fn client(&self) -> Result<(Client, Endpoints), Failure> {
        let e = self.endpoints().await?;
        let bad = |what: &str, u: &str, err: url::ParseError| {
            Failure::paused(format!("the {what} {u:?} is not a URL ({err})"))
        };
        let token = e
            .token_endpoint
            .as_deref()
            .ok_or_else(|| Failure::paused("the provider names no token endpoint; set token_url"))?;
        let mut c = BasicClient::new(ClientId::new(self.spec.client_id.clone()))
            .set_auth_uri_option(
                e.authorization_endpoint
                    .as_deref()
                    .map(|u| AuthUrl::new(u.to_string()).map_err(|err| bad("authorization endpoint", u, err)))
                    .transpose()?,
            )
            .set_device_authorization_url_option(
                e.device_authorization_endpoint
                    .as_deref()
                    .map(|u| {
                        DeviceAuthorizationUrl::new(u.to_string())
                            .map_err(|err| bad("device authorization endpoint", u, err))
                    })
                    .transpose()?,
            )
            .set_token_uri(TokenUrl::new(token.to_string()).map_err(|err| bad("token endpoint", token, err))?);
        if let Some(f) = &self.spec.client_secret_file {
            let secret = crate::secret::read(&crate::config::TokenSource::File(f.clone()), "client secret")
                .map_err(|e| Failure::paused(e.message()))?;
            c = c.set_client_secret(ClientSecret::new(secret.expose_secret().to_string()));
        }
        Ok((c, e))
    }

    fn tokens_of(&self, t: &impl TokenResponse, old_refresh: Option<&str>, now: SystemTime) -> Tokens {
        let life = t
            .expires_in()
            .unwrap_or(UNSAID_LIFETIME)
            .min(Duration::from_secs(365 * 86_400));
        Tokens {
            access_token: t.access_token().secret().clone(),
            // No new refresh token: the old one goes on (no rotation).
            refresh_token: t
                .refresh_token()
                .map(|r| r.secret().clone())
                .or(old_refresh.map(str::to_string)),
            obtained_at: unix(now),
            expires_at: unix(now) + life.as_secs().max(1),
            scope: t
                .scopes()
                .map(|s| s.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(" ")),
        }
    }

    fn observation(&self, t: &Tokens, place: &Place) -> Result<Observation, Failure> {
        let (Some(not_before), Some(not_after)) = (from_unix_secs(t.obtained_at), from_unix_secs(t.expires_at)) else {
            return Err(Failure::transient("the kept tokens' times are not times; log in again"));
        };
        let lifetime = Lifetime { not_before, not_after };
        lifetime
            .check()
            .map_err(|e| Failure::transient(format!("the kept tokens: {e}")))?;
        let scopes: Vec<String> = t
            .scope
            .as_deref()
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_else(|| self.spec.scopes.clone());
        Ok(Observation {
            details: Some(CertDetails {
                subject: self.spec.client_id.clone(),
                issuer: self
                    .spec
                    .issuer
                    .clone()
                    .or(self.spec.token_url.clone())
                    .unwrap_or_default(),
                serial: place.to_string(),
                sha256: String::new(),
                sans: scopes,
                labels: DetailLabels::of("OAuth token", ["Client", "Scopes", "Provider", "Kept in", ""]),
                more: vec![DetailRow {
                    label: "Refresh token".into(),
                    value: if t.refresh_token.is_some() {
                        "kept"
                    } else {
                        "none: a new login when it expires"
                    }
                    .into(),
                    at: None,
                }],
            }),
            ..Observation::of(lifetime)
        })
    }

    async fn load(&self) -> Result<Option<(Tokens, Place)>, Failure> {
        store::load(&self.name, self.spec.keyring, &self.spec.token_file)
            .await
            .map_err(Failure::paused)
    }

    async fn save(&self, t: &Tokens) -> Result<Place, Failure> {
        store::save(&self.name, self.spec.keyring, &self.spec.token_file, t)
            .await
            .map_err(|e| Failure::transient(format!("could not keep the new tokens: {e}")))
    }

    /// Refreshes (under the lock) and keeps the new tokens.
    async fn refresh(&self, now: SystemTime) -> Result<(Tokens, Place), Failure> {
        let _lock = store::lock(&self.spec.token_file).await.map_err(Failure::transient)?;
        let Some((old, _)) = self.load().await? else {
            return Err(Failure::paused(format!("there are no tokens yet; {}", self.ask())));
        };
        let Some(refresh) = old.refresh_token.clone() else {
            return Err(Failure::new(
                FailureClass::Rejected,
                format!(
                    "the provider gave no refresh token, so only a new login renews the access token; {}",
                    self.ask()
                ),
            ));
        };
        let (client, _) = self.client().await?;
        let http = self.http()?;
        let reply = client
            .exchange_refresh_token(&RefreshToken::new(refresh.clone()))
            .request_async(&http)
            .await;
        let t = match reply {
            Ok(t) => t,
            Err(RequestTokenError::ServerResponse(e)) if *e.error() == BasicErrorResponseType::InvalidGrant => {
                return Err(Failure::new(
                    FailureClass::Rejected,
                    format!(
                        "the provider refused the refresh token (invalid_grant{}): it expired or was revoked; a new login is needed: {}",
                        e.error_description().map(|d| format!(": {}", crate::http::one_line(d, 200))).unwrap_or_default(),
                        self.ask()
                    ),
                ))
            }
            Err(RequestTokenError::ServerResponse(e)) => {
                return Err(Failure::transient(format!(
                    "the provider refused the refresh: {}{}",
                    e.error(),
                    e.error_description().map(|d| format!(": {}", crate::http::one_line(d, 200))).unwrap_or_default()
                )))
            }
            Err(e) => return Err(Failure::transient(format!("refreshing at the token endpoint failed: {}", crate::http::one_line(&e.to_string(), 300)))),
        };
        let tokens = self.tokens_of(&t, Some(&refresh), now);
        // The new refresh token is kept before anything else happens.
        let place = self.save(&tokens).await?;
        Ok((tokens, place))
    }

    /// The first login (or a new one): the device grant or the code grant.
    pub async fn log_in(&self, answer: Answer) -> Result<String, Failure> {
        let Answer::Browser { open } = answer else {
            return Err(Failure::paused(
                "an OAuth login happens in the browser; nothing is typed here",
            ));
        };
        let (client, e) = self.client().await?;
        let http = self.http()?;
        let scopes: Vec<Scope> = self.spec.scopes.iter().map(|s| Scope::new(s.clone())).collect();
        let flow = self.spec.flow.unwrap_or(if e.device_authorization_endpoint.is_some() {
            Flow::Device
        } else {
            Flow::Browser
        });
        let now = || crate::clock::Clock::now(&crate::clock::SystemClock);
        let tokens = match flow {
            Flow::Device => {
                let details: StandardDeviceAuthorizationResponse = client
                    .exchange_device_code()
                    .map_err(|_| {
                        Failure::paused(
                            "the provider has no device authorization endpoint; set device_url, or flow = \"browser\"",
                        )
                    })?
                    .add_scopes(scopes)
                    .request_async(&http)
                    .await
                    .map_err(|e| {
                        Failure::transient(format!(
                            "asking for a device code failed: {}",
                            crate::http::one_line(&e.to_string(), 300)
                        ))
                    })?;
                let url = details
                    .verification_uri_complete()
                    .map(|u| u.secret().clone())
                    .unwrap_or_else(|| details.verification_uri().to_string());
                (open)(&url, Some(details.user_code().secret()));
                let t = client
                    .exchange_device_access_token(&details)
                    .request_async(&http, tokio::time::sleep, Some(LOGIN_WAIT))
                    .await
                    .map_err(|e| {
                        Failure::transient(format!(
                            "the device login did not finish: {}",
                            crate::http::one_line(&e.to_string(), 300)
                        ))
                    })?;
                self.tokens_of(&t, None, now())
            }
            Flow::Browser => {
                let callback = crate::loopback::Callback::bind(0, "127.0.0.1", "/callback")
                    .await
                    .map_err(Failure::transient)?;
                let redirect =
                    RedirectUrl::new(callback.redirect.clone()).map_err(|e| Failure::transient(e.to_string()))?;
                let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
                let (url, state) = client
                    .authorize_url(CsrfToken::new_random)
                    .map_err(|_| {
                        Failure::paused(
                            "the provider has no authorization endpoint; set auth_url, or flow = \"device\"",
                        )
                    })?
                    .add_scopes(scopes)
                    .add_extra_param("prompt", "consent")
                    .set_pkce_challenge(challenge)
                    .set_redirect_uri(std::borrow::Cow::Borrowed(&redirect))
                    .url();
                (open)(url.as_str(), None);
                let code = callback
                    .code(state.secret(), LOGIN_WAIT)
                    .await
                    .map_err(Failure::transient)?;
                let t = client
                    .exchange_code(AuthorizationCode::new(code))
                    .set_pkce_verifier(verifier)
                    .set_redirect_uri(std::borrow::Cow::Borrowed(&redirect))
                    .request_async(&http)
                    .await
                    .map_err(|e| {
                        Failure::transient(format!(
                            "trading the code for tokens failed: {}",
                            crate::http::one_line(&e.to_string(), 300)
                        ))
                    })?;
                self.tokens_of(&t, None, now())
            }
        };
        let _lock = store::lock(&self.spec.token_file).await.map_err(Failure::transient)?;
        let place = self.save(&tokens).await?;
        Ok(format!(
            "logged in; the access token is valid until {}{}, kept in {place}",
            from_unix_secs(tokens.expires_at).map(rfc3339).unwrap_or_default(),
            if tokens.refresh_token.is_some() {
                " and Evergreen refreshes it"
            } else {
                " (no refresh token: log in again then)"
            }
        ))
    }

    /// The access token for a script, refreshed first when `policy` says
    /// it is due (or it expired).
    pub async fn fresh_token(&self, policy: &RenewPolicy) -> Result<SecretString, Failure> {
        // Asked by a script, not the scheduler: the real clock.
        let now = crate::clock::Clock::now(&crate::clock::SystemClock);
        let Some((t, _)) = self.load().await? else {
            return Err(Failure::paused(format!("there are no tokens yet; {}", self.ask())));
        };
        let due = match (from_unix_secs(t.obtained_at), from_unix_secs(t.expires_at)) {
            (Some(a), Some(b)) => {
                policy.is_due(
                    &Lifetime {
                        not_before: a,
                        not_after: b,
                    },
                    now,
                ) || b <= now
            }
            _ => true,
        };
        let t = if due { self.refresh(now).await?.0 } else { t };
        Ok(SecretString::from(t.access_token))
    }
}

#[async_trait]
impl Source for Oauth {
    fn kind(&self) -> Kind {
        KIND
    }

    fn can_renew(&self) -> bool {
        true
    }

    fn remind_every(&self) -> Option<Duration> {
        Some(self.spec.notify_every)
    }

    async fn observe(&self, _now: SystemTime) -> Result<Observation, Failure> {
        match self.load().await? {
            Some((t, place)) => self.observation(&t, &place),
            None => Err(Failure::paused(format!("there are no tokens yet; {}", self.ask()))),
        }
    }

    async fn renew(&self, req: RenewRequest) -> Result<Renewed, Failure> {
        let (t, place) = self.refresh(req.now).await?;
        Ok(Renewed {
            observation: self.observation(&t, &place)?,
            note: String::new(),
        })
    }
}

/// Bytes as a discovery document and as kept tokens.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz(data: &[u8]) {
    let _ = serde_json::from_slice::<Endpoints>(data);
    if let Ok(t) = serde_json::from_slice::<Tokens>(data) {
        let o = Oauth::new("fuzz", def::fuzz_spec());
        let _ = o.observation(&t, &Place::Keyring);
    }
}
