//! A nixfleet agent's mTLS client certificate, renewed as nixfleet's agent
//! renews it, and beyond.
//!
//! Two ways to hold the key, as nixfleet's agents have done:
//! - `key = "ssh_host"` (the default): the CSR is signed with the host's SSH
//!   ed25519 key, so every certificate carries the same public key (the
//!   control plane knows the machine by it). The new certificate replaces
//!   the old at the same path atomically; the old one is kept as `.bak`.
//! - `key = "rotate"`: a fresh ECDSA P-256 key for every enrolment and
//!   renewal (the key nixfleet's agent made before it signed with the host
//!   key, and one every TLS stack reads), written with its certificate as
//!   one [`Pair`]: no crash leaves a key beside a certificate it does not
//!   match.
//!
//! The renewal goes to `POST /v1/agent/renew` over mutual TLS with the
//! current certificate. The reply is checked before anything is written: it
//! parses, carries the key the CSR was signed with, names the same machine
//! (its common name), and has not expired. A renewal that fails after the
//! control plane answered is reported to it (`POST /v1/agent/report`, as
//! nixfleet's agent reports `renewal-failed`), best effort and never
//! holding the renewal up.
//!
//! The HTTP client of the identity is cached by a digest of the exact
//! certificate and key bytes it presents, never by the serial: a control
//! plane that sets no serial gets one derived from the public key, the same
//! for every certificate of a key. So the request after a renewal (or after
//! someone else rewrote the file) presents the new certificate on a new
//! connection, without a restart.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use rcgen::KeyPair;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{Failure, FailureClass, Observation, RenewRequest, Renewed, Source};
use crate::clock::rfc3339;
use crate::fsutil::{self, PUBLIC_FILE_MODE};
use crate::http::{self, ClientIdentity, ClientOptions};
use crate::kind::Kind;
use crate::pair::Pair;

mod def;

pub use def::{NixfleetKey, NixfleetSpec, KIND};

/// The header every nixfleet agent request carries, and the protocol major
/// Evergreen speaks (nixfleet-proto's `PROTOCOL_VERSION_HEADER`).
pub const PROTOCOL_HEADER: &str = "X-Nixfleet-Protocol";
pub const PROTOCOL_MAJOR: &str = "1";

/// How long a failure report may take: it never holds a renewal up, and
/// one that cannot be delivered in this time is dropped.
const REPORT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct Nixfleet {
    spec: NixfleetSpec,
    /// The client of the current identity, and the digest of the exact
    /// certificate and key bytes it presents.
    client: Mutex<Option<([u8; 32], reqwest::Client)>>,
}

/// The identity a client presents: the certificate (with its chain) and
/// its key, PEM, in the form rustls reads.
struct Identity(Zeroizing<String>);

impl Identity {
    fn new(cert_pem: &str, key_pem: &str) -> Identity {
        let mut pem = Zeroizing::new(cert_pem.trim_end().to_string());
        pem.push('\n');
        pem.push_str(key_pem);
        Identity(pem)
    }

    fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }
}

/// The SSH host key as a signing key: an OpenSSH ed25519 private key,
/// readable by its owner only.
pub fn host_key(path: &Path) -> Result<KeyPair, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read the SSH host key {}: {e}", path.display()))?;
    if let Some(problem) = fsutil::exposed_secret(&meta, "SSH host key", path) {
        return Err(problem);
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read the SSH host key {}: {e}", path.display()))?;
    let key = ssh_key::PrivateKey::from_openssh(normalized_armor(&text).as_deref().unwrap_or(&text))
        .map_err(|e| format!("{} is not an OpenSSH private key ({e})", path.display()))?;
    if key.is_encrypted() {
        return Err(format!(
            "{} is protected by a passphrase; Evergreen needs the host key as the SSH daemon uses it",
            path.display()
        ));
    }
    let pair = key.key_data().ed25519().ok_or_else(|| {
        format!(
            "{} is a {} key; nixfleet uses the ed25519 host key",
            path.display(),
            key.algorithm()
        )
    })?;
    // PKCS#8 v1 for an Ed25519 seed: a fixed 16-byte prefix, then the seed.
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
    ];
    der.extend_from_slice(&pair.private.to_bytes());
    KeyPair::try_from(der.as_slice()).map_err(|e| format!("{}: the ed25519 key cannot be used: {e}", path.display()))
}

/// The key file re-wrapped as `ssh-key` reads it. OpenSSH accepts the base64
/// body wrapped at any width and CRLF line ends (Python's `cryptography`
/// writes 76 columns, OpenSSH 70); `ssh-key` wants exactly 70. `None` when
/// the text has no OpenSSH armour at all (the parser then says what is wrong).
fn normalized_armor(text: &str) -> Option<String> {
    const BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
    const END: &str = "-----END OPENSSH PRIVATE KEY-----";
    let start = text.find(BEGIN)? + BEGIN.len();
    let end = start + text[start..].find(END)?;
    let body: String = text[start..end].chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = format!("{BEGIN}\n");
    for chunk in body.as_bytes().chunks(70) {
        out.push_str(std::str::from_utf8(chunk).ok()?);
        out.push('\n');
    }
    out.push_str(END);
    out.push('\n');
    Some(out)
}

/// A CSR for `machine_id` signed by `key`, PEM.
pub fn csr(key: &KeyPair, machine_id: &str) -> Result<String, String> {
    crate::csr::request(key, machine_id, Vec::new())
}

/// Whether a certificate's common name names `machine_id`: the id itself,
/// or the control plane's canonical form `agent-<id>.<suffix>` (nixfleet's
/// control plane stamps that form on what it issues).
pub fn names_machine(cn: &str, machine_id: &str) -> bool {
    cn == machine_id
        || cn
            .strip_prefix("agent-")
            .and_then(|rest| rest.strip_prefix(machine_id))
            .is_some_and(|rest| rest.starts_with('.') && rest.len() > 1)
}

impl Nixfleet {
    pub fn new(_name: &str, spec: NixfleetSpec) -> Self {
        Nixfleet {
            spec,
            client: Mutex::new(None),
        }
    }

    fn read(&self) -> Result<crate::x509::CertFile, Failure> {
        crate::x509::read_file(&self.spec.cert_path).map_err(|e| Failure::transient(e.to_string()))
    }

    fn pair(&self, key_path: &Path) -> Pair {
        Pair::new(&self.spec.cert_path, key_path)
    }

    /// The key that signs the CSR of this request, and the PEM of a new key
    /// (rotation), which is written only together with its certificate.
    fn next_key(&self) -> Result<(KeyPair, Option<Zeroizing<String>>), Failure> {
        match &self.spec.key {
            NixfleetKey::SshHost(path) => Ok((host_key(path).map_err(Failure::paused)?, None)),
            NixfleetKey::Rotate(_) => {
                let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
                    .map_err(|e| Failure::transient(format!("could not make a new P-256 key: {e}")))?;
                let pem = Zeroizing::new(key.serialize_pem());
                Ok((key, Some(pem)))
            }
        }
    }

    /// The key the certificate on disk was issued for, PEM: what the client
    /// presents beside it.
    fn current_key_pem(&self) -> Result<Zeroizing<String>, Failure> {
        match &self.spec.key {
            NixfleetKey::SshHost(path) => Ok(Zeroizing::new(host_key(path).map_err(Failure::paused)?.serialize_pem())),
            NixfleetKey::Rotate(path) => {
                let meta = std::fs::metadata(path).map_err(|e| {
                    Failure::paused(format!(
                        "cannot read the client key {}: {e}; {}",
                        path.display(),
                        self.enrol_hint()
                    ))
                })?;
                if let Some(problem) = fsutil::exposed_secret(&meta, "client key", path) {
                    return Err(Failure::paused(problem));
                }
                std::fs::read_to_string(path)
                    .map(Zeroizing::new)
                    .map_err(|e| Failure::paused(format!("cannot read the client key {}: {e}", path.display())))
            }
        }
    }

    fn enrol_hint(&self) -> String {
        format!(
            "get an enrolment token from the fleet operator and run `evergreen register NAME --token-file TOKEN.json` (it writes {})",
            self.spec.enrollment_token_file.display()
        )
    }

    /// The client presenting `identity`: the cached one if it presents the
    /// same bytes, else a new one (the hot-swap).
    fn client(&self, identity: &Identity) -> Result<reqwest::Client, Failure> {
        let digest = identity.digest();
        let mut cached = self.client.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((d, c)) = cached.as_ref() {
            if *d == digest {
                return Ok(c.clone());
            }
        }
        let c = http::client(&ClientOptions {
            ca_bundle: self.spec.ca_bundle.clone(),
            tls13_only: true,
            identity: Some(ClientIdentity(Zeroizing::new(identity.0.as_bytes().to_vec()))),
            ..ClientOptions::default()
        })
        .map_err(|e| Failure::new(FailureClass::Paused, e.to_string()))?;
        *cached = Some((digest, c.clone()));
        Ok(c)
    }

    /// What names the key a reply must carry, for its messages.
    fn key_words(&self) -> String {
        match &self.spec.key {
            NixfleetKey::SshHost(path) => format!("the host key {}", path.display()),
            NixfleetKey::Rotate(_) => "the new key the CSR was signed with".to_string(),
        }
    }

    /// Writes a checked certificate (and in rotation its new key, as one pair).
    fn write(&self, pem: &str, new_key: Option<&Zeroizing<String>>) -> Result<(), Failure> {
        if let Some(dir) = self.spec.cert_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Failure::transient(format!("could not create {}: {e}", dir.display())))?;
        }
        match (&self.spec.key, new_key) {
            (NixfleetKey::Rotate(key_path), Some(key_pem)) => {
                if let Some(dir) = key_path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
                    fsutil::ensure_private_dir(dir).map_err(|e| Failure::transient(e.to_string()))?;
                }
                // The previous pair stays as the backup generation.
                self.pair(key_path)
                    .commit(pem.as_bytes(), key_pem.as_bytes())
                    .map_err(|e| Failure::transient(e.to_string()))
            }
            _ => {
                // The certificate it replaces is kept, as nixfleet's agent keeps it.
                fsutil::backup(&self.spec.cert_path, PUBLIC_FILE_MODE)
                    .map_err(|e| Failure::transient(e.to_string()))?;
                fsutil::atomic_write(&self.spec.cert_path, pem.as_bytes(), PUBLIC_FILE_MODE)
                    .map_err(|e| Failure::transient(e.to_string()))
            }
        }
    }

    /// Tells the control plane that a renewal failed (nixfleet's agent
    /// reports `renewal-failed` the same way), so the fleet's view shows the
    /// machine's trouble. Best effort: sent on a task of its own, bounded
    /// in time, and nothing waits for it.
    fn report_failure(&self, client: reqwest::Client, reason: &str, now: SystemTime) {
        let url = format!("{}/v1/agent/report", self.spec.url);
        let body = json!({
            "hostname": self.spec.machine_id,
            "agentVersion": concat!("evergreen/", env!("CARGO_PKG_VERSION")),
            "occurredAt": rfc3339(now),
            "rollout": null,
            "event": "renewal-failed",
            "details": { "reason": http::one_line(reason, 1000) },
        });
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let sent = client
                .post(&url)
                .header(PROTOCOL_HEADER, PROTOCOL_MAJOR)
                .timeout(REPORT_TIMEOUT)
                .json(&body)
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => tracing::debug!("reported the failed renewal to {url}"),
                Ok(r) => tracing::debug!("{url} did not take the failure report (HTTP {})", r.status().as_u16()),
                Err(e) => tracing::debug!(
                    "the failure report to {url} was not delivered: {}",
                    http::describe(&url, &e)
                ),
            }
        });
    }
}

/// What any answer but the expected ones means, the same for every endpoint.
fn refusal(url: &str, status: u16, text: &str) -> Failure {
    Failure::transient(match status {
        426 => format!(
            "{url} does not speak nixfleet protocol {PROTOCOL_MAJOR}, the one Evergreen speaks (HTTP 426 Upgrade Required: {text}); update Evergreen or the control plane"
        ),
        503 => format!("{url} is not ready yet (HTTP 503: {text}); Evergreen retries with backoff"),
        _ => format!("{url} answered HTTP {status}: {text}"),
    })
}

impl Nixfleet {
    /// One agent request: the protocol header, a JSON body; the answer's
    /// status, body and content type.
    async fn post(&self, client: &reqwest::Client, url: &str, body: Value) -> Result<(u16, Vec<u8>, String), Failure> {
        // The wire of nixfleet's control plane (nixfleet-proto's
        // `enroll_wire.rs`): camelCase bodies, and the protocol major on
        // every agent request (a strict control plane refuses without it).
        let resp = client
            .post(url)
            .header(PROTOCOL_HEADER, PROTOCOL_MAJOR)
            .json(&body)
            .send()
            .await
            .map_err(|e| Failure::transient(http::describe(url, &e)))?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = http::read_reply(resp, url).await.map_err(Failure::transient)?;
        Ok((status, body, content_type))
    }

    /// A 200's `{"certPem", "notAfter"}`, checked against the key the CSR
    /// was signed with and the name it must carry.
    fn accept(
        &self,
        url: &str,
        body: &[u8],
        key: &KeyPair,
        name: Expect<'_>,
        now: SystemTime,
    ) -> Result<(String, Observation), Failure> {
        let reply: Value = serde_json::from_slice(body).map_err(|e| {
            Failure::transient(format!(
                "{url} answered 200 but not with JSON ({e}); {} is unchanged",
                self.spec.cert_path.display()
            ))
        })?;
        check_renewed(
            &reply,
            key,
            &self.key_words(),
            url,
            &self.spec.cert_path,
            name,
            &self.spec.machine_id,
            now,
        )
    }

    /// `POST /v1/enroll`: the machine's first certificate, for the one-time
    /// bootstrap token the fleet operator minted for it (over TLS, without
    /// a client certificate). The token is spent: it is removed once the
    /// certificate is written.
    async fn enroll(&self, now: SystemTime) -> Result<Renewed, Failure> {
        let tf = &self.spec.enrollment_token_file;
        let register = self.enrol_hint();
        let text = match std::fs::read_to_string(tf) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Failure::new(
                    FailureClass::Paused,
                    format!(
                        "{} does not exist: this machine is not enrolled yet; {register}",
                        self.spec.cert_path.display()
                    ),
                ))
            }
            Err(e) => {
                return Err(Failure::new(
                    FailureClass::Paused,
                    format!("cannot read {}: {e}", tf.display()),
                ))
            }
        };
        let token: Value = serde_json::from_str(text.trim()).map_err(|e| {
            Failure::new(
                FailureClass::Paused,
                format!("{} is not a nixfleet enrolment token ({e}); {register}", tf.display()),
            )
        })?;
        let client = http::client(&ClientOptions {
            ca_bundle: self.spec.ca_bundle.clone(),
            tls13_only: true,
            ..ClientOptions::default()
        })
        .map_err(|e| Failure::new(FailureClass::Paused, e.to_string()))?;
        let (key, new_key) = self.next_key()?;
        let csr = csr(&key, &self.spec.machine_id).map_err(Failure::transient)?;
        let url = format!("{}/v1/enroll", self.spec.url);
        let (status, body, content_type) = self
            .post(&client, &url, json!({ "token": token, "csrPem": csr }))
            .await?;
        let text = || http::error_body(&content_type, &body);
        match status {
            200 => {}
            409 => {
                return Err(Failure::new(
                    FailureClass::Paused,
                    format!("{url} has seen this enrolment token before (HTTP 409: a token is good for one enrolment); {register}"),
                ))
            }
            401 | 403 => {
                return Err(Failure::new(
                    FailureClass::Paused,
                    format!(
                        "{url} refused the enrolment token (HTTP {status}: {}): it expired, is not for machine {}, was not signed by the fleet's key, or names another key than {}; {register}",
                        text(),
                        self.spec.machine_id,
                        self.key_words()
                    ),
                ))
            }
            s => return Err(refusal(&url, s, &text())),
        }
        let (pem, observation) = self.accept(&url, &body, &key, Expect::Machine, now)?;
        // A re-enrolment keeps the certificate it replaces, as a renewal does.
        self.write(&pem, new_key.as_ref())?;
        // Spent: the control plane will not take it again.
        let _ = std::fs::remove_file(tf);
        Ok(Renewed {
            observation,
            note: "enrolled".into(),
        })
    }
}

#[async_trait]
impl Source for Nixfleet {
    fn kind(&self) -> Kind {
        KIND
    }

    fn can_renew(&self) -> bool {
        true
    }

    fn tidy(&self) -> Vec<std::path::PathBuf> {
        match &self.spec.key {
            NixfleetKey::SshHost(_) => crate::fsutil::clean_temps(&self.spec.cert_path),
            NixfleetKey::Rotate(key_path) => self.pair(key_path).tidy(),
        }
    }

    async fn observe(&self, _now: SystemTime) -> Result<Observation, Failure> {
        let tf = &self.spec.enrollment_token_file;
        if self.spec.cert_path.exists() && tf.exists() {
            // A new token beside a certificate: the operator re-enrols the
            // machine (its certificate was revoked, or it moves fleets);
            // renewing enrols with it at once.
            return Err(Failure::new(
                FailureClass::Absent,
                format!(
                    "an enrolment token waits in {}; Evergreen enrols this machine again with it now",
                    tf.display()
                ),
            ));
        }
        if !self.spec.cert_path.exists() {
            // Not enrolled yet: with a token waiting, renewing enrols; without
            // one, only the user can act (the token file appearing ends it).
            return Err(if tf.exists() {
                Failure::new(
                    FailureClass::Absent,
                    format!(
                        "{} does not exist yet; Evergreen enrols with the token in {} now",
                        self.spec.cert_path.display(),
                        tf.display()
                    ),
                )
            } else {
                Failure::new(
                    FailureClass::Paused,
                    format!(
                        "{} does not exist: this machine is not enrolled yet; get an enrolment token from the fleet operator and run `evergreen register NAME --token-file TOKEN.json`",
                        self.spec.cert_path.display()
                    ),
                )
            });
        }
        let f = self.read()?;
        if let NixfleetKey::Rotate(key_path) = &self.spec.key {
            if let Some(why) = crate::pair::mismatch(&self.spec.cert_path, &f.der_leaf, key_path) {
                // Another tool wrote one of the two: the control plane knows
                // the machine only by a certificate and its own key.
                return Err(Failure::paused(format!("{why}; {}", self.enrol_hint())));
            }
        }
        Ok(Observation::of_cert(&f))
    }

    async fn renew(&self, req: RenewRequest) -> Result<Renewed, Failure> {
        if !self.spec.cert_path.exists() || self.spec.enrollment_token_file.exists() {
            return self.enroll(req.now).await;
        }
        let current = self.read()?;
        let cert_pem = std::fs::read_to_string(&self.spec.cert_path)
            .map_err(|e| Failure::transient(format!("cannot read {}: {e}", self.spec.cert_path.display())))?;
        let identity = Identity::new(&cert_pem, &self.current_key_pem()?);
        let client = self.client(&identity)?;
        let (key, new_key) = self.next_key()?;
        let csr = csr(&key, &self.spec.machine_id).map_err(Failure::transient)?;
        let url = format!("{}/v1/agent/renew", self.spec.url);
        let (status, body, content_type) = self.post(&client, &url, json!({ "csrPem": csr })).await?;
        let text = || http::error_body(&content_type, &body);
        match status {
            200 => {}
            410 => {
                return Err(Failure::new(
                    FailureClass::Retired,
                    format!(
                        "{url} answered 410 Gone: the control plane retired this machine; it needs a new enrolment"
                    ),
                ))
            }
            401 | 403 => {
                return Err(Failure::new(
                    FailureClass::Paused,
                    format!(
                        "{url} refused the client certificate (HTTP {status}: {}): it is unknown to the control plane or revoked, or the CSR's key is not the host key the fleet declares; the machine needs a new enrolment",
                        text()
                    ),
                ))
            }
            s => {
                let failure = refusal(&url, s, &text());
                self.report_failure(client, &failure.message, req.now);
                return Err(failure);
            }
        }
        let current_cn = current.leaf().subject_cn.clone().unwrap_or_default();
        let (pem, observation) = match self.accept(&url, &body, &key, Expect::Same(&current_cn), req.now) {
            Ok(ok) => ok,
            Err(failure) => {
                self.report_failure(client, &failure.message, req.now);
                return Err(failure);
            }
        };
        self.write(&pem, new_key.as_ref())?;
        // The next request presents the new certificate: the client is
        // keyed by the bytes it presents, so it is rebuilt on first use.
        Ok(Renewed {
            observation,
            note: String::new(),
        })
    }
}

/// The name a reply's certificate must carry.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Expect<'a> {
    /// An enrolment: the machine id, or the control plane's canonical form of it.
    Machine,
    /// A renewal: exactly the common name of the certificate it renews.
    Same(&'a str),
}

/// Checks a renew reply from `url`: a certificate (only) for `key` (named
/// `key_words` in messages), naming this machine, not expired. The path
/// names what stays unchanged when it is refused.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_renewed(
    reply: &Value,
    key: &KeyPair,
    key_words: &str,
    url: &str,
    cert_path: &Path,
    name: Expect<'_>,
    machine_id: &str,
    now: SystemTime,
) -> Result<(String, Observation), Failure> {
    let bad = |why: String| {
        Failure::transient(format!(
            "{url} sent a certificate Evergreen did not keep: {why}; {} is unchanged",
            cert_path.display()
        ))
    };
    let pem = reply
        .get("certPem")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("the reply has no \"certPem\" string".into()))?;
    let reply = crate::x509::parse_reply(pem).map_err(|e| bad(format!("it does not parse ({e})")))?;
    let parsed = &reply.file;
    if !crate::csr::carries_key(&parsed.der_leaf, key).map_err(bad)? {
        return Err(bad(format!("its public key is not {key_words}")));
    }
    let cn = parsed.leaf().subject_cn.clone().unwrap_or_default();
    let named = match name {
        Expect::Machine => names_machine(&cn, machine_id),
        Expect::Same(current) => cn == current,
    };
    if !named {
        let wanted = match name {
            Expect::Machine => format!("machine {machine_id:?}"),
            Expect::Same(current) => format!("{current:?}, the name of the certificate it renews"),
        };
        return Err(bad(format!(
            "it is issued to {cn:?}, not to {wanted}; the control plane's records and this certificate would disagree, so tell the fleet operator"
        )));
    }
    let life = parsed.leaf().lifetime;
    if life.not_after <= now {
        return Err(bad(format!(
            "it expired already (not_after {})",
            rfc3339(life.not_after)
        )));
    }
    // A shorter lifetime than before is the control plane's call (a CA
    // that shortens lifetimes); whether it is capped is the scheduler's.
    Ok((reply.pem, Observation::of_cert(parsed)))
}

/// A renewal's reply.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz(data: &[u8]) {
    use crate::fuzzing::{key, now, split};
    let Some((_, body)) = split(data) else { return };
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let _ = check_renewed(
            &v,
            key(),
            "the host key",
            "https://cp/v1/agent/renew",
            std::path::Path::new("agent.pem"),
            Expect::Same("ws-1"),
            "ws-1",
            now(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same key as OpenSSH writes it, re-wrapped at `width` columns with `eol`.
    fn rewrapped(openssh: &str, width: usize, eol: &str) -> String {
        let lines: Vec<&str> = openssh.lines().collect();
        let body: String = lines[1..lines.len() - 1].concat();
        let mut out = format!("{}{eol}", lines[0]);
        for chunk in body.as_bytes().chunks(width) {
            out.push_str(std::str::from_utf8(chunk).unwrap());
            out.push_str(eol);
        }
        out.push_str(lines[lines.len() - 1]);
        out.push_str(eol);
        out
    }

    #[test]
    fn a_machine_is_named_by_its_id_or_the_control_planes_canonical_form() {
        assert!(names_machine("ws-42", "ws-42"));
        assert!(names_machine("agent-ws-42.fleet.lab.internal", "ws-42"));
        assert!(!names_machine("agent-ws-42", "ws-42"), "no suffix");
        assert!(!names_machine("agent-ws-42.", "ws-42"), "an empty suffix");
        assert!(!names_machine("agent-ws-420.fleet", "ws-42"), "another machine");
        assert!(!names_machine("ws-4", "ws-42"));
        assert!(!names_machine("", "ws-42"));
    }

    #[test]
    fn the_client_identity_follows_the_bytes_not_the_serial() {
        // Two certificates with one serial (a control plane that derives it
        // from the key) are two identities.
        let a = Identity::new("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "KEY");
        let b = Identity::new("-----BEGIN CERTIFICATE-----\nAAAB\n-----END CERTIFICATE-----\n", "KEY");
        let a_again = Identity::new("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", "KEY");
        assert_ne!(a.digest(), b.digest());
        assert_eq!(a.digest(), a_again.digest(), "a trailing newline is the same identity");
        let other_key = Identity::new("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "KEY2");
        assert_ne!(a.digest(), other_key.digest());
    }

    #[test]
    fn every_armour_openssh_accepts_is_read() {
        let key = ssh_key::PrivateKey::random(&mut ssh_key::rand_core::OsRng, ssh_key::Algorithm::Ed25519).unwrap();
        let openssh = key.to_openssh(ssh_key::LineEnding::LF).unwrap().to_string();
        let want = key.public_key().key_data().ed25519().unwrap().0.to_vec();
        let dir = tempfile::tempdir().unwrap();
        for (width, eol) in [(70, "\n"), (76, "\n"), (64, "\r\n"), (1000, "\n")] {
            let text = rewrapped(&openssh, width, eol);
            if width == 76 {
                // what ssh-key alone makes of it
                assert!(
                    ssh_key::PrivateKey::from_openssh(&text).is_err(),
                    "76 columns parse without help now"
                );
            }
            let p = dir.path().join(format!("key-{width}"));
            crate::fsutil::atomic_write(&p, text.as_bytes(), crate::fsutil::SECRET_FILE_MODE).unwrap();
            let pair = host_key(&p).unwrap_or_else(|e| panic!("{width} columns: {e}"));
            assert_eq!(pair.public_key_raw(), want.as_slice(), "{width} columns");
        }
        let p = dir.path().join("garbage");
        crate::fsutil::atomic_write(&p, b"not a key", crate::fsutil::SECRET_FILE_MODE).unwrap();
        assert!(host_key(&p).unwrap_err().contains("is not an OpenSSH private key"));
    }
}
