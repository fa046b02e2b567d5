//! The loopback redirect of a browser login (RFC 8252): a listener on
//! 127.0.0.1 that takes one request carrying the login's `state` and its
//! `code`, tells the browser it can close the tab, and closes. Vault's OIDC
//! login and the OAuth code grant both end here.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A browser's request line and headers fit well within this.
const MAX_REQUEST: usize = 16 * 1024;

/// A listener waiting for one browser's answer.
pub struct Callback {
    listener: TcpListener,
    path: String,
    /// The address to hand the server as the redirect.
    pub redirect: String,
}

impl Callback {
    /// Listens on 127.0.0.1:`port` (0: any free port) for `path`; the
    /// redirect names the host as `host` ("localhost" or "127.0.0.1").
    pub async fn bind(port: u16, host: &str, path: &str) -> Result<Callback, String> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
            format!("cannot listen on 127.0.0.1:{port} for the browser's answer ({e}); is another login waiting there?")
        })?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        Ok(Callback {
            listener,
            path: path.to_string(),
            redirect: format!("http://{host}:{port}{path}"),
        })
    }

    /// Waits up to `wait` for the request to the callback with our `state`
    /// and returns its `code`; anything else is answered 404 and waited past.
    pub async fn code(&self, state: &str, wait: Duration) -> Result<String, String> {
        tokio::time::timeout(wait, self.answer(state)).await.map_err(|_| {
            format!(
                "no answer from the browser within {} minutes; try again",
                wait.as_secs() / 60
            )
        })?
    }

    async fn answer(&self, state: &str) -> Result<String, String> {
        loop {
            let (mut sock, _) = self
                .listener
                .accept()
                .await
                .map_err(|e| format!("the callback listener failed: {e}"))?;
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
                && parsed.as_ref().is_some_and(|u| u.path() == self.path)
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
                    "Logged in. You can close this tab; Evergreen has the answer.",
                    Ok(code),
                ),
                (None, e) => (
                    "400 Bad Request",
                    "The login did not work; Evergreen says why.",
                    Err(format!(
                        "the provider answered with an error ({}); try again",
                        crate::http::one_line(&e.unwrap_or_else(|| "no code".into()), 200)
                    )),
                ),
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
}
