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
                .env("OIDC_ACCESS_TTL", "10")
                .arg(dir().join("provider.mjs"))
                .arg(port.to_string())
                .arg(clients.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("node runs");
            // Its first line says it is ready; it goes on logging to stdout,
            // which is read to the end so that it never writes to a closed pipe.
            let out = child.stdout.take().expect("piped stdout");
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
            match rx.recv_timeout(Duration::from_secs(30)).ok() {
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

/// The attribute `name` of an HTML tag's text.
fn attr(tag: &str, name: &str) -> Option<String> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag[at..].find('"')?;
    Some(tag[at..at + end].replace("&amp;", "&"))
}

/// A form's fields, in order.
type Fields = Vec<(String, String)>;

/// The first form of a page: where it posts, and its fields filled in as a
/// user would (any password; the provider's development pages take any).
fn form(page: &str, user: &str) -> Option<(Option<String>, Fields)> {
    let start = page.find("<form")?;
    let end = page[start..].find("</form>").map(|e| start + e).unwrap_or(page.len());
    let body = &page[start..end];
    let head = &body[..body.find('>').unwrap_or(body.len())];
    let action = attr(head, "action");
    let mut fields = Vec::new();
    for input in body.split("<input").skip(1) {
        let tag = &input[..input.find('>').unwrap_or(input.len())];
        let Some(name) = attr(tag, "name") else { continue };
        let value = match name.as_str() {
            "login" => user.to_string(),
            "password" => "any".to_string(),
            _ => attr(tag, "value").unwrap_or_default(),
        };
        fields.push((name, value));
    }
    // A device confirmation form says yes with its button.
    if body.contains("name=\"confirm\"") && !fields.iter().any(|(n, _)| n == "confirm") {
        fields.push(("confirm".into(), "yes".into()));
    }
    Some((action, fields))
}

/// Logs in as `user` starting at `url`, as a browser would: follows the
/// redirects, keeps the cookies, submits each page's form (the device code
/// confirmation, the login, the consent), and at last either requests the
/// address the provider sends it back to (a login's callback, whose
/// address it returns) or stops at the provider's "Sign-in Success" page (a
/// device login, which returns "").
pub async fn browse(url: &str, user: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client");
    let mut jar: BTreeMap<String, String> = BTreeMap::new();
    let mut next = url.to_string();
    let mut post: Option<Vec<(String, String)>> = None;
    for _ in 0..30 {
        let cookie = jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let req = match post.take() {
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
        let base = reqwest::Url::parse(&next).expect("a URL");
        if let Some(loc) = resp.headers().get("location") {
            let to = base
                .join(loc.to_str().expect("a text location"))
                .expect("a location")
                .to_string();
            if !to.starts_with(&format!("{}://{}", base.scheme(), base.host_str().unwrap_or_default()))
                || to.contains("/callback")
            {
                // Back to the login's own callback, which the browser requests once.
                let _ = http.get(&to).send().await;
                return to;
            }
            next = to;
            continue;
        }
        let body = resp.text().await.unwrap_or_default();
        if body.contains("Sign-in Success") {
            return String::new();
        }
        let Some((action, fields)) = form(&body, user) else {
            panic!("the provider showed a page without a form at {next}:\n{body}");
        };
        if let Some(a) = action {
            next = base.join(&a).expect("a form action").to_string();
        }
        post = Some(fields);
    }
    panic!("the login did not finish within 30 pages")
}

/// What a login through the command line printed.
pub struct LoggedIn {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
    /// The address it printed, where the scripted browser logged in.
    pub url: String,
    /// Where the provider sent the browser back ("" for a device login).
    pub back: String,
}

/// Runs `cmd` (an `evergreen login NAME --no-browser`), and as `user` logs
/// in with the scripted browser at the address it prints; standard error is
/// read to its end, so the command never writes into a closed pipe.
pub async fn login_through(mut cmd: std::process::Command, user: &str) -> LoggedIn {
    use std::io::BufRead;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("evergreen login runs");
    let err = child.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    let said = std::thread::spawn(move || {
        let mut all = String::new();
        for l in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            if l.trim().starts_with("http") {
                let _ = tx.send(l.trim().to_string());
            }
            all.push_str(&l);
            all.push('\n');
        }
        all
    });
    let url = rx.recv_timeout(Duration::from_secs(30)).expect("the login address");
    let back = browse(&url, user).await;
    let out = child.wait_with_output().expect("evergreen login ends");
    LoggedIn {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: said.join().unwrap_or_default(),
        url,
        back,
    }
}
