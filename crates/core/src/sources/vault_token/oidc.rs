//! Logging in to Vault/OpenBao with OIDC, as `bao login -method=oidc` does:
//! ask the server for the provider's address (`auth/<mount>/oidc/auth_url`)
//! with a loopback redirect, let the user log in there in a browser, take
//! the provider's answer on the loopback callback ([`crate::loopback`]), and
//! trade it for a token (`auth/<mount>/oidc/callback`).
//!
//! The redirect is `http://localhost:8250/oidc/callback`, the one Vault's
//! own CLI uses, so a role that allows `bao login -method=oidc` allows this
//! too.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use super::super::vault::{field, VaultClient};
use super::Failure;
use crate::loopback::Callback;

const PORT: u16 = 8250;
/// How long the user has to log in in the browser.
const WAIT: Duration = Duration::from_secs(300);

/// Runs the login; `open` shows the user the provider's address.
pub(super) async fn login(
    client: &VaultClient,
    mount: &str,
    role: Option<&str>,
    open: crate::login::ShowLogin,
) -> Result<Value, Failure> {
    let callback = Callback::bind(PORT, "localhost", "/oidc/callback")
        .await
        .map_err(Failure::transient)?;
    let nonce = format!("{:032x}", rand::random::<u128>());
    let mut body = json!({ "redirect_uri": callback.redirect, "client_nonce": nonce });
    if let Some(r) = role {
        body["role"] = json!(r);
    }
    let reply = client
        .call_anonymous(Method::POST, &format!("auth/{mount}/oidc/auth_url"), Some(&body))
        .await
        .map_err(|e| client.failure("asking for the provider's address", e))?;
    let url = field(&reply, "/data/auth_url", "the OIDC auth_url reply")?
        .as_str()
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .ok_or_else(|| {
            Failure::transient(format!(
                "the server gave no address to log in at; allow {} in the role's allowed_redirect_uris",
                callback.redirect
            ))
        })?
        .to_string();
    let state = url::Url::parse(&url)
        .ok()
        .and_then(|u| u.query_pairs().find(|(k, _)| k == "state").map(|(_, v)| v.into_owned()))
        .ok_or_else(|| Failure::transient("the provider's address has no state parameter"))?;
    open(&url, None);
    let code = callback.code(&state, WAIT).await.map_err(Failure::transient)?;
    let path = format!(
        "auth/{mount}/oidc/callback?state={}&code={}&client_nonce={nonce}",
        enc(&state),
        enc(&code)
    );
    client
        .call_anonymous(Method::GET, &path, None)
        .await
        .map_err(|e| client.failure("trading the provider's answer for a token", e))
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
