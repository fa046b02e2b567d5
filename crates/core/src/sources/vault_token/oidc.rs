//! Logging in to Vault/OpenBao with OIDC, as `bao login -method=oidc` does:
//! ask the server for the provider's address (`auth/<mount>/oidc/auth_url`)
//! with a loopback redirect, let the user log in there in a browser, take
//! the provider's answer on the loopback callback, and trade it for a token
//! (`auth/<mount>/oidc/callback`).
//!
//! The redirect is `http://localhost:8250/oidc/callback`, the one Vault's
//! own CLI uses, so a role that allows `bao login -method=oidc` allows this
//! too. The callback listens on loopback only, answers one request whose
//! `state` matches, and closes.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::super::vault::{field, VaultClient};
use super::Failure;

/// Where the provider sends the browser back.
pub const REDIRECT: &str = "http://localhost:8250/oidc/callback";
const PORT: u16 = 8250;
/// How long the user has to log in in the browser.
const WAIT: Duration = Duration::from_secs(300);
/// A browser's request line and headers fit well within this.
const MAX_REQUEST: usize = 16 * 1024;

/// Runs the login; `open` shows the user the provider's address.
pub(super) async fn login(
    client: &VaultClient,
    mount: &str,
    role: Option<&str>,
    open: Box<dyn Fn(&str) + Send + Sync>,
) -> Result<Value, Failure> {
    let listener = TcpListener::bind(("127.0.0.1", PORT)).await.map_err(|e| {
        Failure::transient(format!(
            "cannot listen on 127.0.0.1:{PORT} for the browser's answer ({e}); is another login (`bao login -method=oidc`) waiting there?"
        ))
    })?;
    let nonce = format!("{:032x}", rand::random::<u128>());
    let mut body = json!({ "redirect_uri": REDIRECT, "client_nonce": nonce });
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
                "the server gave no address to log in at; allow {REDIRECT} in the role's allowed_redirect_uris"
            ))
        })?
        .to_string();
    let state = url::Url::parse(&url)
        .ok()
        .and_then(|u| u.query_pairs().find(|(k, _)| k == "state").map(|(_, v)| v.into_owned()))
        .ok_or_else(|| Failure::transient("the provider's address has no state parameter"))?;
    open(&url);
    let code = tokio::time::timeout(WAIT, answer(&listener, &state))
        .await
        .map_err(|_| {
            Failure::transient(format!(
                "no answer from the browser within {} minutes; try again",
                WAIT.as_secs() / 60
            ))
        })??;
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

/// Waits for the browser's request to the callback with our `state`, and
/// returns its `code`. Anything else is answered 404 and waited past.
async fn answer(listener: &TcpListener, state: &str) -> Result<String, Failure> {
    loop {
        let (mut sock, _) = listener
            .accept()
            .await
            .map_err(|e| Failure::transient(format!("the callback listener failed: {e}")))?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 2048];
        let read = tokio::time::timeout(Duration::from_secs(10), async {
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < MAX_REQUEST {
                match sock.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
        })
        .await;
        let line = String::from_utf8_lossy(&buf)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        let target = line.split(' ').nth(1).unwrap_or_default();
        let parsed = url::Url::parse(&format!("http://localhost{target}")).ok();
        let query = |k: &str| {
            parsed
                .as_ref()
                .and_then(|u| u.query_pairs().find(|(q, _)| q == k).map(|(_, v)| v.into_owned()))
        };
        let ours = read.is_ok()
            && parsed.as_ref().is_some_and(|u| u.path() == "/oidc/callback")
            && query("state").as_deref() == Some(state);
        if !ours {
            let _ = sock
                .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await;
            continue;
        }
        let (status, text, result) = match (query("code"), query("error")) {
            (Some(code), _) => (
                "200 OK",
                "Logged in. You can close this tab; Evergreen has the new token.",
                Ok(code),
            ),
            (None, e) => {
                let why = e.unwrap_or_else(|| "no code".into());
                (
                    "400 Bad Request",
                    "The login did not work; Evergreen says why.",
                    Err(Failure::transient(format!(
                        "the provider answered with an error ({}); try again",
                        crate::http::one_line(&why, 200)
                    ))),
                )
            }
        };
        let page = format!("<!doctype html><title>Evergreen</title><p>{text}</p>");
        let _ = sock
            .write_all(
                format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                )
                .as_bytes(),
            )
            .await;
        return result;
    }
}
