//! A nixfleet agent's mTLS client certificate, renewed as nixfleet's agent
//! renews it, and beyond.
//!
//! The certificate's key is the host's SSH ed25519 key: the CSR is signed
//! with it, so every renewed certificate carries the same public key (the
//! control plane knows the machine by it). The renewal goes to
//! `POST /v1/agent/renew` over mutual TLS with the current certificate, and
//! the new one replaces the old at the same path atomically, after it was
//! checked: it parses, carries the host key, and lasts longer than the old.
//!
//! Beyond nixfleet's agent, the HTTP client of this identity is hot-swapped: it is
//! keyed by the serial of the certificate on disk, so the request after a
//! renewal (or after someone else rewrote the file) presents the new
//! certificate on a new connection, without a restart.

use std::path::Path;
use std::sync::Mutex;
use std::time::SystemTime;

use async_trait::async_trait;
use rcgen::KeyPair;
use serde_json::{json, Value};

use super::{Failure, FailureClass, Observation, RenewRequest, Renewed, Source};
use crate::clock::rfc3339;
use crate::config::NixfleetSpec;
use crate::fsutil::{self, PUBLIC_FILE_MODE};
use crate::http::{self, ClientIdentity, ClientOptions};
use crate::model::Kind;

/// The header every nixfleet agent request carries, and the protocol major
/// Evergreen speaks (nixfleet-proto's `PROTOCOL_VERSION_HEADER`).
pub const PROTOCOL_HEADER: &str = "X-Nixfleet-Protocol";
pub const PROTOCOL_MAJOR: &str = "1";

#[derive(Debug)]
pub struct Nixfleet {
    spec: NixfleetSpec,
    /// The client of the current identity, and the serial it presents.
    client: Mutex<Option<(String, reqwest::Client)>>,
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

    /// The client presenting the certificate now on disk: the cached one if
    /// the serial is unchanged, else a new one (the hot-swap).
    fn client(&self, cert_pem: &str, serial: &str, key: &KeyPair) -> Result<reqwest::Client, Failure> {
        let mut cached = self.client.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((s, c)) = cached.as_ref() {
            if s == serial {
                return Ok(c.clone());
            }
        }
        let mut pem = cert_pem.trim_end().to_string();
        pem.push('\n');
        pem.push_str(&key.serialize_pem());
        let c = http::client(&ClientOptions {
            ca_bundle: self.spec.ca_bundle.clone(),
            tls13_only: true,
            identity: Some(ClientIdentity(pem.into_bytes().into())),
            ..ClientOptions::default()
        })
        .map_err(|e| Failure::new(FailureClass::Paused, e.to_string()))?;
        *cached = Some((serial.to_string(), c.clone()));
        Ok(c)
    }

    fn check(
        &self,
        reply: &Value,
        key: &KeyPair,
        url: &str,
        now: SystemTime,
    ) -> Result<(String, Observation), Failure> {
        check_renewed(reply, key, url, &self.spec.cert_path, &self.spec.ssh_host_key, now)
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

    /// A 200's `{"certPem", "notAfter"}`, checked against the host key.
    fn accept(&self, url: &str, body: &[u8], key: &KeyPair, now: SystemTime) -> Result<(String, Observation), Failure> {
        let reply: Value = serde_json::from_slice(body).map_err(|e| {
            Failure::transient(format!(
                "{url} answered 200 but not with JSON ({e}); {} is unchanged",
                self.spec.cert_path.display()
            ))
        })?;
        self.check(&reply, key, url, now)
    }

    /// `POST /v1/enroll`: the machine's first certificate, for the one-time
    /// bootstrap token the fleet operator minted for it (over TLS, without
    /// a client certificate). The token is spent: it is removed once the
    /// certificate is written.
    async fn enroll(&self, key: &KeyPair, now: SystemTime) -> Result<Renewed, Failure> {
        let tf = &self.spec.enrollment_token_file;
        let register = format!(
            "get an enrolment token from the fleet operator and run `evergreen register NAME --token-file TOKEN.json` (it writes {})",
            tf.display()
        );
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
        let csr = csr(key, &self.spec.machine_id).map_err(Failure::transient)?;
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
                        "{url} refused the enrolment token (HTTP {status}: {}): it expired, is not for machine {}, was not signed by the fleet's key, or names another host key than {}; {register}",
                        text(),
                        self.spec.machine_id,
                        self.spec.ssh_host_key.display()
                    ),
                ))
            }
            s => return Err(refusal(&url, s, &text())),
        }
        let (pem, observation) = self.accept(&url, &body, key, now)?;
        if let Some(dir) = self.spec.cert_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Failure::transient(format!("could not create {}: {e}", dir.display())))?;
        }
        // A re-enrolment keeps the certificate it replaces, as a renewal does.
        fsutil::backup(&self.spec.cert_path, PUBLIC_FILE_MODE).map_err(|e| Failure::transient(e.to_string()))?;
        fsutil::atomic_write(&self.spec.cert_path, pem.as_bytes(), PUBLIC_FILE_MODE)
            .map_err(|e| Failure::transient(e.to_string()))?;
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
        Kind::Nixfleet
    }

    fn can_renew(&self) -> bool {
        true
    }

    fn tidy(&self) -> Vec<std::path::PathBuf> {
        crate::fsutil::clean_temps(&self.spec.cert_path)
    }

    async fn observe(&self) -> Result<Observation, Failure> {
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
        Ok(Observation::of_cert(&self.read()?))
    }

    async fn renew(&self, req: RenewRequest) -> Result<Renewed, Failure> {
        let key = host_key(&self.spec.ssh_host_key).map_err(|m| Failure::new(FailureClass::Paused, m))?;
        if !self.spec.cert_path.exists() || self.spec.enrollment_token_file.exists() {
            return self.enroll(&key, req.now).await;
        }
        let current = self.read()?;
        let cert_pem = std::fs::read_to_string(&self.spec.cert_path)
            .map_err(|e| Failure::transient(format!("cannot read {}: {e}", self.spec.cert_path.display())))?;
        let client = self.client(&cert_pem, &current.leaf().details.serial, &key)?;
        let csr = csr(&key, &self.spec.machine_id).map_err(Failure::transient)?;
        let url = format!("{}/v1/agent/renew", self.spec.url);
        // The wire of nixfleet's control plane (nixfleet-proto's
        // `enroll_wire.rs`): camelCase bodies, and the protocol major on
        // every agent request (a strict control plane refuses without it).
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
            s => return Err(refusal(&url, s, &text())),
        }
        let (pem, observation) = self.accept(&url, &body, &key, req.now)?;
        fsutil::backup(&self.spec.cert_path, PUBLIC_FILE_MODE).map_err(|e| Failure::transient(e.to_string()))?;
        fsutil::atomic_write(&self.spec.cert_path, pem.as_bytes(), PUBLIC_FILE_MODE)
            .map_err(|e| Failure::transient(e.to_string()))?;
        // The hot-swap: the next request presents the new certificate.
        let serial = observation
            .details
            .as_ref()
            .map(|d| d.serial.clone())
            .unwrap_or_default();
        self.client(&pem, &serial, &key)?;
        Ok(Renewed {
            observation,
            note: String::new(),
        })
    }
}

/// Checks a renew reply from `url`: a certificate (only) for the host key,
/// not expired. The paths name what stays unchanged when it is refused.
pub(crate) fn check_renewed(
    reply: &Value,
    key: &KeyPair,
    url: &str,
    cert_path: &Path,
    host_key: &Path,
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
        return Err(bad(format!(
            "its public key is not the host key {}",
            host_key.display()
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
