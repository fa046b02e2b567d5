//! The one HTTP client builder.
//!
//! Every source that talks HTTPS gets its client here: rustls, connect and
//! request timeouts, an optional CA bundle that fails loudly when it is
//! unreadable or empty (never a silent fallback to the system roots, which
//! would turn a typo into a cryptic "unknown issuer" later), an optional
//! minimum of TLS 1.3, and an optional client identity for mTLS.
//!
//! Proxies: `HTTPS_PROXY`, `HTTP_PROXY` and `ALL_PROXY` (or their lower-case
//! forms) are honoured, with `NO_PROXY`, except for loopback addresses
//! (`localhost`, `127.0.0.0/8`, `::1`), which are always reached directly: a
//! local Vault agent or control plane answers on loopback, often over plain
//! `http://`, and its token must not travel to a proxy.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// A client certificate and its private key (PEM, concatenated), for mTLS;
/// wiped from memory when dropped, never formatted.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientIdentity(pub zeroize::Zeroizing<Vec<u8>>);

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientIdentity(<redacted>)")
    }
}

/// How a client should be built.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientOptions {
    /// Trust exactly these CAs (PEM bundle) instead of the system's.
    pub ca_bundle: Option<PathBuf>,
    /// Refuse anything below TLS 1.3.
    pub tls13_only: bool,
    /// Whole-request timeout; default 30 s.
    pub timeout: Option<Duration>,
    /// Present this certificate (mTLS).
    pub identity: Option<ClientIdentity>,
}

/// Reads a PEM CA bundle; an unreadable file or one without certificates is an error naming it.
pub fn read_ca_bundle(path: &Path) -> Result<Vec<reqwest::Certificate>> {
    let pem = std::fs::read(path).map_err(|e| Error::io("read CA bundle", path, e))?;
    parse_ca_bundle(&pem, path)
}

/// The certificates of a PEM CA bundle read from `path`.
pub fn parse_ca_bundle(pem: &[u8], path: &Path) -> Result<Vec<reqwest::Certificate>> {
    let certs: Vec<reqwest::Certificate> = x509_parser::pem::Pem::iter_from_buffer(pem)
        .filter_map(|p| p.ok())
        .filter(|p| p.label == "CERTIFICATE")
        .filter_map(|p| reqwest::Certificate::from_der(&p.contents).ok())
        .collect();
    if certs.is_empty() {
        return Err(Error::cert(
            path,
            "the CA bundle contains no PEM certificates; point ca_bundle at the PEM file of the CA that signed the server's certificate",
        ));
    }
    Ok(certs)
}

/// Builds a client; the only place a `reqwest::Client` is made.
pub fn client(opts: &ClientOptions) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(Duration::from_secs(10))
        .timeout(opts.timeout.unwrap_or(Duration::from_secs(30)))
        .user_agent(concat!("evergreen/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .proxy(proxies());
    if let Some(path) = &opts.ca_bundle {
        b = b.tls_built_in_root_certs(false);
        for c in read_ca_bundle(path)? {
            b = b.add_root_certificate(c);
        }
    }
    if let Some(id) = &opts.identity {
        let id = reqwest::Identity::from_pem(&id.0)
            .map_err(|e| Error::Ipc(format!("the client certificate and key cannot be used for TLS: {e}")))?;
        b = b.identity(id);
    }
    if opts.tls13_only {
        b = b.min_tls_version(reqwest::tls::Version::TLS_1_3);
    }
    b.build()
        .map_err(|e| Error::Ipc(format!("could not build an HTTPS client: {e}")))
}

/// The environment's proxies, never for loopback (a custom proxy also turns
/// off reqwest's own reading of the environment).
fn proxies() -> reqwest::Proxy {
    proxies_from(|k| std::env::var(k).ok())
}

/// [`proxies`] with the environment read through `var`. `NO_PROXY` is
/// matched here: reqwest keeps a custom proxy's no-proxy list but does not
/// consult it.
fn proxies_from(var: impl Fn(&str) -> Option<String>) -> reqwest::Proxy {
    let get = |name: &str| {
        [name.to_string(), name.to_ascii_lowercase()]
            .iter()
            .find_map(|k| var(k))
            .filter(|v| !v.trim().is_empty())
    };
    let http = get("HTTP_PROXY").or_else(|| get("ALL_PROXY"));
    let https = get("HTTPS_PROXY").or_else(|| get("ALL_PROXY"));
    let no_proxy = get("NO_PROXY").unwrap_or_default();
    reqwest::Proxy::custom(move |url| {
        if no_proxy_matches(&no_proxy, url) {
            return None;
        }
        proxy_for(url, http.as_deref(), https.as_deref()).map(str::to_string)
    })
}

/// Whether `NO_PROXY` (comma-separated: `*`, domains that also match their
/// subdomains, with or without a leading `.`, IP addresses, CIDR ranges)
/// sends `url` direct.
fn no_proxy_matches(list: &str, url: &reqwest::Url) -> bool {
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.trim_end_matches('.').to_ascii_lowercase(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return false,
    };
    let ip = host.parse::<std::net::IpAddr>().ok();
    list.split(',').map(str::trim).filter(|e| !e.is_empty()).any(|entry| {
        if entry == "*" {
            return true;
        }
        if let Some((net, bits)) = entry.split_once('/') {
            let (Ok(net), Ok(bits), Some(ip)) = (net.parse::<std::net::IpAddr>(), bits.parse::<u32>(), ip) else {
                return false;
            };
            return in_range(ip, net, bits);
        }
        let entry = entry.trim_start_matches('[').split(']').next().unwrap_or(entry);
        if let (Ok(e), Some(ip)) = (entry.parse::<std::net::IpAddr>(), ip) {
            return e == ip;
        }
        let d = entry
            .trim_start_matches("*.")
            .trim_start_matches('.')
            .to_ascii_lowercase();
        let d = d.split(':').next().unwrap_or_default();
        !d.is_empty() && (host == d || host.ends_with(&format!(".{d}")))
    })
}

fn in_range(ip: std::net::IpAddr, net: std::net::IpAddr, bits: u32) -> bool {
    use std::net::IpAddr::{V4, V6};
    match (ip, net) {
        (V4(a), V4(n)) if bits <= 32 => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (V6(a), V6(n)) if bits <= 128 => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Whether `url` names this machine: `localhost` or a loopback address.
/// Plain `http://` is accepted only there, and no proxy is used for it.
pub fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.trim_end_matches('.').eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        None => false,
    }
}

fn proxy_for<'a>(url: &reqwest::Url, http: Option<&'a str>, https: Option<&'a str>) -> Option<&'a str> {
    if is_loopback(url) || url.host().is_none() {
        return None;
    }
    match url.scheme() {
        "https" => https,
        "http" => http,
        _ => None,
    }
}

/// Says what went wrong with a request in words, naming the URL, and never
/// including headers (tokens live there).
pub fn describe(url: &str, e: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut root = String::new();
    while let Some(s) = source {
        root = s.to_string();
        source = s.source();
    }
    let what = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        format!("could not connect ({root})")
    } else if e.is_decode() {
        format!("the reply could not be decoded ({root})")
    } else if root.is_empty() {
        e.to_string()
    } else {
        root
    };
    let hint = if what.contains("UnknownIssuer") || what.contains("invalid peer certificate") {
        "; the server's certificate is not signed by a trusted CA: set ca_bundle to its CA's PEM file"
    } else {
        ""
    };
    format!("{url}: {what}{hint}")
}

/// The largest reply body any server may send Evergreen. Every reply it
/// reads (Vault, PKI, wrenn, nixfleet, certctl) is a small JSON document;
/// anything larger is a misbehaving server or a wrong URL.
pub const MAX_REPLY: usize = 1024 * 1024;

/// Reads a reply body, never more than [`MAX_REPLY`]: an announced length
/// over the cap is refused before reading, and a body that keeps coming is
/// cut off at the cap, so memory stays bounded whatever the server sends.
/// The error names the URL and says what happened.
pub async fn read_reply(mut resp: reqwest::Response, url: &str) -> Result<Vec<u8>, String> {
    let too_large = || {
        format!(
            "{url}: the reply is larger than {} KiB; Evergreen reads no further (a misbehaving server, or a wrong url?)",
            MAX_REPLY / 1024
        )
    };
    if resp.content_length().is_some_and(|n| n > MAX_REPLY as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| describe(url, &e))? {
        if body.len() + chunk.len() > MAX_REPLY {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A server's error reply in a few words, for a message a person reads: the
/// `error` of a JSON body, "an HTML error page" rather than its markup, or
/// the start of plain text on one line.
pub fn error_body(content_type: &str, body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        // wrenn nests its words; certctl puts the status text in "error" and
        // its words in "message" (`{"error": "Gone", "message": "…"}`).
        for p in ["/error/message", "/message", "/error", "/errors/0"] {
            if let Some(e) = v.pointer(p).and_then(serde_json::Value::as_str) {
                return one_line(e, 200);
            }
        }
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(2048)]);
    let text = text.trim();
    if content_type.to_ascii_lowercase().starts_with("text/html") || text.starts_with('<') {
        let title = text
            .split_once("<title>")
            .and_then(|(_, rest)| rest.split_once("</title>"))
            .map(|(t, _)| one_line(t, 80))
            .filter(|t| !t.is_empty());
        return match title {
            Some(t) => format!("an HTML error page ({t})"),
            None => "an HTML error page".into(),
        };
    }
    if text.is_empty() {
        "an empty body".into()
    } else {
        one_line(text, 200)
    }
}

/// What is wrong with a JSON text, without quoting it (a value in it may
/// be a secret): its category and where.
pub fn json_problem(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Data => "JSON of an unexpected shape",
        serde_json::error::Category::Eof => "truncated JSON",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

/// `s` on one line, at most `max` characters (then an ellipsis): what a
/// server says reaches history, events and notifications only this way.
pub fn one_line(s: &str, max: usize) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > max {
        format!("{}…", flat.chars().take(max).collect::<String>())
    } else {
        flat
    }
}

#[cfg(test)]
mod error_body_tests {
    use super::error_body;

    #[test]
    fn summarizes_json_html_text_and_nothing() {
        assert_eq!(
            error_body("application/json", br#"{"error":"csr rejected"}"#),
            "csr rejected"
        );
        assert_eq!(
            error_body("application/json", br#"{"error":{"message":"no such host"}}"#),
            "no such host"
        );
        assert_eq!(
            error_body(
                "text/html",
                b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
            ),
            "an HTML error page (502 Bad Gateway)"
        );
        assert_eq!(
            error_body("", b"<html><body>Internal Server Error</body></html>"),
            "an HTML error page"
        );
        // certctl's shape: the status text in "error", the words in "message"
        assert_eq!(
            error_body(
                "application/json",
                br#"{"error":"Gone","message":"agent has been retired","request_id":"r-1"}"#
            ),
            "agent has been retired"
        );
        assert_eq!(error_body("text/plain", b"  upstream\n  down  "), "upstream down");
        assert_eq!(error_body("text/plain", b""), "an empty body");
        assert!(error_body("text/plain", "x".repeat(500).as_bytes()).ends_with('…'));
    }
}

#[cfg(test)]
mod read_reply_tests {
    use super::*;
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A loopback server that answers one request with `head`, then writes
    /// `chunk` up to `total` bytes; returns its URL and how much it got out.
    fn server(head: &'static str, chunk: usize, total: usize) -> (String, Arc<AtomicUsize>) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1/x", l.local_addr().unwrap());
        let sent = Arc::new(AtomicUsize::new(0));
        let counter = sent.clone();
        std::thread::spawn(move || {
            let Ok((mut s, _)) = l.accept() else { return };
            let mut req = [0u8; 4096];
            let _ = s.read(&mut req);
            if s.write_all(head.as_bytes()).is_err() {
                return;
            }
            let block = vec![b'x'; chunk];
            while counter.load(Ordering::SeqCst) < total {
                let framed = if head.contains("chunked") {
                    [format!("{chunk:x}\r\n").into_bytes(), block.clone(), b"\r\n".to_vec()].concat()
                } else {
                    block.clone()
                };
                if s.write_all(&framed).is_err() {
                    return;
                }
                counter.fetch_add(chunk, Ordering::SeqCst);
            }
            let _ = s.write_all(b"0\r\n\r\n");
        });
        (url, sent)
    }

    async fn get(url: &str) -> Result<Vec<u8>, String> {
        let c = client(&ClientOptions::default()).unwrap();
        let resp = c.get(url).send().await.map_err(|e| describe(url, &e))?;
        read_reply(resp, url).await
    }

    #[tokio::test]
    async fn an_announced_huge_body_is_refused_before_reading() {
        let (url, _) = server("HTTP/1.1 200 OK\r\nContent-Length: 536870912\r\n\r\n", 0, 0);
        let e = get(&url).await.unwrap_err();
        assert!(e.contains(&url) && e.contains("larger than 1024 KiB"), "{e}");
    }

    #[tokio::test]
    async fn an_endless_body_is_cut_off_at_the_cap() {
        let total = 256 * 1024 * 1024;
        let (url, sent) = server(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            64 * 1024,
            total,
        );
        let e = get(&url).await.unwrap_err();
        assert!(e.contains("larger than 1024 KiB"), "{e}");
        // the closed connection stopped the server long before its end
        assert!(sent.load(Ordering::SeqCst) < 64 * 1024 * 1024, "Evergreen kept reading");
    }

    #[tokio::test]
    async fn a_slow_body_ends_at_the_request_timeout_not_never() {
        // A byte every 100 ms, for ever (until the client hangs up).
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1/x", l.local_addr().unwrap());
        std::thread::spawn(move || {
            let Ok((mut s, _)) = l.accept() else { return };
            let _ = s.read(&mut [0u8; 4096]);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n");
            while s.write_all(b" ").is_ok() {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        });
        let c = client(&ClientOptions {
            timeout: Some(std::time::Duration::from_secs(1)),
            ..ClientOptions::default()
        })
        .unwrap();
        let resp = c.get(&url).send().await.unwrap();
        let read = tokio::time::timeout(std::time::Duration::from_secs(20), read_reply(resp, &url));
        let e = read
            .await
            .expect("the client's own timeout ends a slow body")
            .unwrap_err();
        assert!(e.contains(&url) && e.contains("timed out"), "{e}");
    }

    #[tokio::test]
    async fn a_server_that_accepts_and_never_answers_is_a_timeout_named_with_its_url() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1/x", l.local_addr().unwrap());
        // Accepts, reads the request, says nothing, keeps the connection.
        std::thread::spawn(move || {
            let Ok((mut s, _)) = l.accept() else { return };
            let _ = s.read(&mut [0u8; 4096]);
            std::thread::sleep(std::time::Duration::from_secs(30));
        });
        let c = client(&ClientOptions {
            timeout: Some(std::time::Duration::from_secs(1)),
            ..ClientOptions::default()
        })
        .unwrap();
        let sent = tokio::time::timeout(std::time::Duration::from_secs(20), c.get(&url).send());
        let e = sent.await.expect("the client's own timeout ends the wait").unwrap_err();
        let said = describe(&url, &e);
        assert!(said.contains(&url) && said.contains("timed out"), "{said}");
    }

    #[tokio::test]
    async fn a_reply_within_the_cap_is_read_whole() {
        let (url, _) = server("HTTP/1.1 200 OK\r\nContent-Length: 2048\r\n\r\n", 1024, 2048);
        assert_eq!(get(&url).await.unwrap(), vec![b'x'; 2048]);
    }
}

#[cfg(test)]
mod proxy_tests {
    use super::{no_proxy_matches, proxies_from, proxy_for};

    #[test]
    fn no_proxy_entries_match_as_curl_does() {
        let m = |list: &str, url: &str| no_proxy_matches(list, &reqwest::Url::parse(url).unwrap());
        assert!(m("*", "https://anything.example/"));
        assert!(m("example.com", "https://example.com/"));
        assert!(m("example.com", "https://vault.example.com:8200/"));
        assert!(m(".example.com", "https://vault.example.com/"));
        assert!(m("*.example.com", "https://vault.example.com/"));
        assert!(!m("example.com", "https://notexample.com/"));
        assert!(m("a.test, 10.0.0.0/8", "http://10.1.2.3:8200/"));
        assert!(!m("10.0.0.0/8", "http://11.1.2.3/"));
        assert!(m("192.168.1.5", "http://192.168.1.5/"));
        assert!(m("fd00::/8", "http://[fd12::1]/"));
        assert!(m("example.com:8200", "https://example.com/"));
        assert!(!m("", "https://example.com/"));
    }

    /// Whether a request to `url` through a client with `vars` reaches the proxy.
    async fn proxied(url: &str, vars: &[(&str, &str)]) -> bool {
        let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = format!("http://{}", proxy.local_addr().unwrap());
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.replace("PROXY_ADDR", &addr)))
            .collect();
        let client = reqwest::Client::builder()
            .proxy(proxies_from(move |k| {
                vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
            }))
            .timeout(std::time::Duration::from_secs(5))
            .build()
            .unwrap();
        let sent = client.get(url).send();
        // Reached the proxy, or went direct (and failed: the name resolves nowhere).
        let reached = async {
            tokio::select! {
                _ = proxy.accept() => true,
                _ = sent => false,
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(5), reached)
            .await
            .unwrap_or(false)
    }

    #[tokio::test]
    async fn no_proxy_is_honoured_and_the_proxy_is_used_otherwise() {
        // A name that resolves nowhere: only a proxy can take the request.
        let url = "http://vault.evergreen.invalid:8200/v1/sys/health";
        assert!(
            proxied(url, &[("HTTP_PROXY", "PROXY_ADDR")]).await,
            "the proxy was not used"
        );
        assert!(
            proxied(url, &[("http_proxy", "PROXY_ADDR")]).await,
            "lower case is read too"
        );
        assert!(!proxied(url, &[("HTTP_PROXY", "PROXY_ADDR"), ("NO_PROXY", "evergreen.invalid")]).await);
        assert!(
            !proxied(
                url,
                &[
                    ("HTTP_PROXY", "PROXY_ADDR"),
                    ("no_proxy", ".evergreen.invalid,10.0.0.0/8")
                ]
            )
            .await
        );
    }

    #[test]
    fn loopback_is_never_proxied_and_the_rest_by_scheme() {
        let (http, https) = (Some("http://proxy:3128"), Some("http://sproxy:3128"));
        for direct in [
            "http://127.0.0.1:8200/v1/auth/token/lookup-self",
            "http://127.9.9.9/",
            "http://localhost:8200/",
            "https://LOCALHOST./",
            "http://[::1]:8200/",
            "http://[::ffff:127.0.0.1]/",
        ] {
            let u = reqwest::Url::parse(direct).unwrap();
            assert_eq!(proxy_for(&u, http, https), None, "{direct}");
        }
        let u = reqwest::Url::parse("https://vault.example.com/").unwrap();
        assert_eq!(proxy_for(&u, http, https), https);
        let u = reqwest::Url::parse("http://10.0.0.5:8200/").unwrap();
        assert_eq!(proxy_for(&u, http, https), http);
        // Only this machine: a name that merely ends in "localhost" is not it.
        let u = reqwest::Url::parse("http://vault.localhost/").unwrap();
        assert_eq!(proxy_for(&u, http, https), http);
    }
}

#[cfg(test)]
mod redirect_tests {
    use super::*;
    use std::io::{Read, Write};

    #[tokio::test]
    async fn a_redirect_is_answered_not_followed() {
        // A token sent to the server must not travel on to wherever it points.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let url = format!("http://{addr}/v1/auth/token/lookup-self");
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = seen.clone();
        std::thread::spawn(move || {
            for s in l.incoming().take(2) {
                let Ok(mut s) = s else { return };
                let _ = s.read(&mut [0u8; 4096]);
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = s.write_all(
                    format!("HTTP/1.1 302 Found\r\nLocation: http://{addr}/elsewhere\r\nContent-Length: 0\r\n\r\n")
                        .as_bytes(),
                );
            }
        });
        let c = client(&ClientOptions::default()).unwrap();
        let resp = c.get(&url).header("X-Vault-Token", "t").send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 302);
        assert_eq!(
            seen.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "the redirect was followed"
        );
    }
}
