//! A real OpenID Connect provider for the tests: npm's `oidc-provider`
//! (`tests/oidc`, which `make test` installs with `npm ci`) on a free
//! loopback port, killed on drop; and a scripted browser that logs in on its
//! development pages as a user would.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Oidc {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub issuer: String,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc")
}

impl Oidc {
    /// Starts the provider with `clients` (oidc-provider's client metadata)
    /// and waits until it says it listens.
    pub fn start(clients: serde_json::Value) -> Oidc {
        assert!(
            dir().join("node_modules/oidc-provider").is_dir(),
            "tests/oidc has no node_modules; `make test` installs them (cd tests/oidc && npm ci)"
        );
        for _ in 0..5 {
            let port = {
                let l = TcpListener::bind("127.0.0.1:0").expect("a free port");
                l.local_addr().expect("its address").port()
            };
            let mut child = Command::new("node")
                .arg(dir().join("provider.mjs"))
                .arg(port.to_string())
                .arg(clients.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("node runs");
            match crate::first_line(&mut child, Duration::from_secs(30)) {
                Some(line) if line.starts_with("ready ") => {
                    return Oidc {
                        child,
                        issuer: line.trim_start_matches("ready ").to_string(),
                    }
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
        panic!("the OpenID Connect provider did not start (five ports tried)")
    }
}

impl Drop for Oidc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Logs in as `user` starting at `url`, as a browser would: follows the
/// redirects, keeps the cookies, submits the provider's login and consent
/// pages, and finally requests the address the provider sends it back to
/// (the login's callback). Returns that last address.
pub async fn browse(url: &str, user: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client");
    let mut jar: BTreeMap<String, String> = BTreeMap::new();
    let mut next = url.to_string();
    let mut form: Option<Vec<(&str, String)>> = None;
    for _ in 0..20 {
        let cookie = jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let req = match form.take() {
            Some(f) => http.post(&next).form(&f),
            None => http.get(&next),
        };
        let resp = req
            .header("Cookie", cookie)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{next}: {e}"));
        for c in resp.headers().get_all("set-cookie") {
            if let Some((k, v)) = c
                .to_str()
                .unwrap_or_default()
                .split(';')
                .next()
                .and_then(|kv| kv.split_once('='))
            {
                jar.insert(k.trim().to_string(), v.to_string());
            }
        }
        if let Some(loc) = resp.headers().get("location") {
            let loc = loc.to_str().expect("a text location");
            let base = reqwest::Url::parse(&next).expect("a URL");
            let to = base.join(loc).expect("a location").to_string();
            if !to.starts_with("http://127.0.0.1") || to.contains("/oidc/callback") {
                // Where the provider sends the browser back: the login's own
                // callback, which the browser requests once.
                let _ = http.get(&to).send().await;
                return to;
            }
            next = to;
            continue;
        }
        let body = resp.text().await.unwrap_or_default();
        if body.contains("name=\"prompt\" value=\"login\"") {
            form = Some(vec![
                ("prompt", "login".into()),
                ("login", user.into()),
                ("password", "any".into()),
            ]);
        } else if body.contains("name=\"prompt\" value=\"consent\"") {
            form = Some(vec![("prompt", "consent".into())]);
        } else {
            panic!("the provider showed a page the scripted browser does not know at {next}:\n{body}");
        }
        // The form posts back to the page it came from.
    }
    panic!("the login did not finish within 20 pages")
}
