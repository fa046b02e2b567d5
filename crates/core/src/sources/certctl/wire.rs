//! The wire: one authenticated call to the control plane, and reading its replies.

use super::*;

/// One answer of the control plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// How the agent reaches its control plane: real HTTPS in the engine
/// ([`HttpWire`]), a script in the tests of its timing.
#[async_trait]
pub trait Wire: Send + Sync + std::fmt::Debug + 'static {
    /// Sends `method` to `path` (under the control plane's URL) with an
    /// optional JSON body. A failure names the URL, never the API key.
    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Reply, Failure>;
}

/// The real wire: the one HTTP client builder, TLS 1.3 only, Bearer API key.
#[derive(Debug)]
pub struct HttpWire {
    pub(super) url: String,
    pub(super) api_key: TokenSource,
    pub(super) ca_bundle: Option<PathBuf>,
    pub(super) client: OnceLock<reqwest::Client>,
}

impl HttpWire {
    pub fn new(spec: &CertctlSpec) -> Self {
        HttpWire {
            url: spec.url.clone(),
            api_key: spec.api_key.clone(),
            ca_bundle: spec.ca_bundle.clone(),
            client: OnceLock::new(),
        }
    }

    pub(super) fn client(&self) -> Result<&reqwest::Client, Failure> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        let c = http::client(&ClientOptions {
            ca_bundle: self.ca_bundle.clone(),
            tls13_only: true,
            timeout: Some(Duration::from_secs(30)),
            ..ClientOptions::default()
        })
        .map_err(|e| Failure::transient(format!("{}: {e}", self.url)))?;
        Ok(self.client.get_or_init(|| c))
    }

    /// The API key, read now. Problems are failures the next poll retries,
    /// so fixing the file is all it takes.
    pub(super) fn api_key(&self) -> Result<SecretString, Failure> {
        crate::secret::read(&self.api_key, "API key").map_err(|e| {
            Failure::transient(format!(
                "{}; put the agent's certctl API key there (a file of mode 0600, or api_key_env); the key was not sent",
                e.message()
            ))
        })
    }
}

#[async_trait]
impl Wire for HttpWire {
    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Reply, Failure> {
        let url = format!("{}{path}", self.url);
        let key = self.api_key()?;
        let mut req = self
            .client()?
            .request(method, &url)
            .bearer_auth(key.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| Failure::transient(http::describe(&url, &e)))?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = http::read_reply(resp, &url).await.map_err(Failure::transient)?;
        Ok(Reply {
            status,
            content_type,
            body: body.to_vec(),
        })
    }
}

/// A reply body in a few words, for a message (the one summary every source uses).
pub(super) fn body_text(r: &Reply) -> String {
    http::error_body(&r.content_type, &r.body)
}

/// A 2xx reply's JSON, checked: the content type says JSON and the body is.
pub(super) fn json_body(url: &str, r: &Reply) -> Result<Value, String> {
    let ct = r.content_type.to_ascii_lowercase();
    let is_json = ct.starts_with("application/json") || (ct.starts_with("application/") && ct.contains("+json"));
    if !is_json {
        return Err(format!(
            "{url} answered {} with content type {:?}, not application/json",
            r.status,
            if r.content_type.is_empty() {
                "none"
            } else {
                &r.content_type
            }
        ));
    }
    serde_json::from_slice(&r.body)
        .map_err(|e| format!("{url} answered {} but its body is not valid JSON ({e})", r.status))
}
