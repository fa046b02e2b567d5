//! A certificate and key pair from a Vault/OpenBao PKI role.
//!
//! By default the key is generated here, once, and only a CSR goes to
//! `<mount>/sign/<role>`: the private key never leaves the machine and stays
//! the same across renewals. `mode = "issue"` lets the server make the key
//! (`<mount>/issue/<role>`) for roles that do not allow signing.
//!
//! Nothing reaches the disk before the reply is checked: the certificate
//! parses and its public key is the key's, and it has not expired. A new key
//! (issue mode, or a first key in sign mode) and its certificate are written
//! as one [`Pair`], so no crash leaves one without the other; a certificate
//! for the key already on disk replaces the old one atomically, the previous
//! one kept as `.bak`. A bad or partial reply overwrites nothing. Reading the
//! credential checks that the key on disk still belongs to the certificate,
//! and a renewal repairs a pair that does not.

use std::time::SystemTime;

use async_trait::async_trait;
use rcgen::{KeyPair, SanType};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use super::vault::{field, VaultClient};
use super::{Failure, Observation, RenewRequest, Renewed, Source};
use crate::clock::rfc3339;
use crate::command;
use crate::fsutil::{self, PUBLIC_FILE_MODE};
use crate::kind::Kind;
use crate::pair::Pair;

mod def;

pub use def::{KeyType, PkiMode, VaultPkiSpec, KIND};

#[derive(Debug)]
pub struct VaultPki {
    name: String,
    spec: VaultPkiSpec,
    client: VaultClient,
}

/// A checked reply, ready to be written.
pub(crate) struct Issued {
    /// Leaf first, then the chain, PEM.
    cert_pem: String,
    /// A key that is not on disk yet: the server's (issue mode) or one made
    /// here for this first request (sign mode).
    key_pem: Option<SecretString>,
    observation: Observation,
}

impl VaultPki {
    pub fn new(name: &str, spec: VaultPkiSpec) -> Self {
        let client = VaultClient::new(spec.conn.clone());
        VaultPki {
            name: name.to_string(),
            spec,
            client,
        }
    }

    fn read(&self) -> Result<Observation, Failure> {
        let path = &self.spec.cert_path;
        if !path.exists() {
            return Err(Failure::absent(format!(
                "{} does not exist yet; Evergreen requests it from {}/{}/{} now",
                path.display(),
                self.client.address(),
                self.spec.mount,
                self.spec.role
            )));
        }
        let f = crate::x509::read_file(path).map_err(|e| Failure::transient(e.to_string()))?;
        if let Some(why) = crate::pair::mismatch(path, &f.der_leaf, &self.spec.key_path) {
            // What a crash between two writes (or another tool) leaves: the
            // credential is not usable as it is, and a renewal makes a pair.
            return Err(Failure::absent(format!("{why}; Evergreen renews the pair now")));
        }
        Ok(Observation::of_cert(&f))
    }

    /// The key to sign with: the existing one, or a new one (with its PEM,
    /// written only together with its certificate).
    fn key(&self) -> Result<(KeyPair, Option<String>), Failure> {
        let path = &self.spec.key_path;
        match std::fs::metadata(path) {
            Ok(meta) => {
                if let Some(problem) = fsutil::exposed_secret(&meta, "private key", path) {
                    return Err(Failure::paused(problem));
                }
                let pem = std::fs::read_to_string(path)
                    .map_err(|e| Failure::paused(format!("could not read the private key {}: {e}", path.display())))?;
                let key = KeyPair::from_pem(&pem).map_err(|e| {
                    Failure::paused(format!(
                        "{} is not a PKCS#8 PEM private key Evergreen can use ({e}); move it away and Evergreen makes a new key",
                        path.display()
                    ))
                })?;
                Ok((key, None))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let alg = match self.spec.key_type {
                    KeyType::EcP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
                    KeyType::EcP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
                    KeyType::Ed25519 => &rcgen::PKCS_ED25519,
                };
                let key = KeyPair::generate_for(alg).map_err(|e| {
                    Failure::transient(format!("could not generate a {} key: {e}", self.spec.key_type.name()))
                })?;
                tracing::info!(
                    "{}: generated a new {} key for {}",
                    self.name,
                    self.spec.key_type.name(),
                    path.display()
                );
                let pem = key.serialize_pem();
                Ok((key, Some(pem)))
            }
            Err(e) => Err(Failure::paused(format!(
                "could not read the private key {}: {e}",
                path.display()
            ))),
        }
    }

    fn pair(&self) -> Pair {
        Pair::new(&self.spec.cert_path, &self.spec.key_path)
    }

    fn csr(&self, key: &KeyPair) -> Result<String, Failure> {
        // The names are DNS names here (the role decides), the addresses IPs.
        let mut sans = Vec::new();
        for n in std::iter::once(&self.spec.common_name).chain(&self.spec.alt_names) {
            if let Ok(ia5) = n.clone().try_into() {
                sans.push(SanType::DnsName(ia5));
            }
        }
        for ip in &self.spec.ip_sans {
            if let Ok(ip) = ip.parse() {
                sans.push(SanType::IpAddress(ip));
            }
        }
        crate::csr::request(key, &self.spec.common_name, sans).map_err(Failure::transient)
    }

    fn request_body(&self, csr: Option<String>) -> Value {
        let mut body = json!({
            "common_name": self.spec.common_name,
            "format": "pem",
        });
        if !self.spec.alt_names.is_empty() {
            body["alt_names"] = json!(self.spec.alt_names.join(","));
        }
        if !self.spec.ip_sans.is_empty() {
            body["ip_sans"] = json!(self.spec.ip_sans.join(","));
        }
        if let Some(ttl) = self.spec.ttl {
            body["ttl"] = json!(format!("{}s", ttl.as_secs()));
        }
        match csr {
            Some(csr) => body["csr"] = json!(csr),
            None => {
                let (kt, bits) = match self.spec.key_type {
                    KeyType::EcP256 => ("ec", 256),
                    KeyType::EcP384 => ("ec", 384),
                    KeyType::Ed25519 => ("ed25519", 0),
                };
                body["key_type"] = json!(kt);
                body["key_bits"] = json!(bits);
                body["private_key_format"] = json!("pkcs8");
            }
        }
        body
    }

    /// Checks a sign/issue reply against the key and the current certificate.
    fn check(&self, path: &str, reply: &Value, key: Option<&KeyPair>, now: SystemTime) -> Result<Issued, Failure> {
        let what = format!("{}/v1/{path}", self.client.address());
        check_issued(&what, &self.spec.key_path, reply, key, now)
    }

    fn write(&self, issued: &Issued) -> Result<(), Failure> {
        if let Some(key) = &issued.key_pem {
            if let Some(dir) = self
                .spec
                .key_path
                .parent()
                .filter(|d| !d.as_os_str().is_empty() && !d.exists())
            {
                fsutil::ensure_private_dir(dir).map_err(|e| Failure::transient(e.to_string()))?;
            }
            // The previous pair stays as the backup generation. A write the
            // machine refused (a full disk, a read-only filesystem) is retried
            // like any failure: it heals when the machine does.
            return self
                .pair()
                .commit(issued.cert_pem.as_bytes(), key.expose_secret().as_bytes())
                .map_err(|e| Failure::transient(e.to_string()));
        }
        if let Some(dir) = self.spec.cert_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Failure::transient(format!("could not create the directory {}: {e}", dir.display())))?;
        }
        fsutil::backup(&self.spec.cert_path, PUBLIC_FILE_MODE).map_err(|e| Failure::transient(e.to_string()))?;
        fsutil::atomic_write(&self.spec.cert_path, issued.cert_pem.as_bytes(), PUBLIC_FILE_MODE)
            .map_err(|e| Failure::transient(e.to_string()))
    }
}

#[async_trait]
impl Source for VaultPki {
    fn kind(&self) -> Kind {
        KIND
    }

    fn can_renew(&self) -> bool {
        true
    }

    fn tidy(&self) -> Vec<std::path::PathBuf> {
        self.pair().tidy()
    }

    async fn observe(&self, _now: SystemTime) -> Result<Observation, Failure> {
        self.read()
    }

    async fn renew(&self, req: RenewRequest) -> Result<Renewed, Failure> {
        let (key, new_key, op) = match self.spec.mode {
            PkiMode::Sign => {
                let (k, pem) = self.key()?;
                (Some(k), pem, "sign")
            }
            PkiMode::Issue => (None, None, "issue"),
        };
        let csr = key.as_ref().map(|k| self.csr(k)).transpose()?;
        let path = format!("{}/{op}/{}", self.spec.mount, self.spec.role);
        let reply = self
            .client
            .call(Method::POST, &path, Some(&self.request_body(csr)))
            .await
            .map_err(|e| self.client.failure(&format!("certificate request to {path}"), e))?;
        let mut issued = self.check(&path, &reply, key.as_ref(), req.now)?;
        issued.key_pem = issued.key_pem.or(new_key.map(SecretString::from));
        self.write(&issued)?;
        let note = command::reload(
            self.spec.reload_command.as_ref(),
            &self.name,
            &self.spec.cert_path,
            self.spec.command_timeout,
            &req.withheld,
        )
        .await;
        Ok(Renewed {
            observation: issued.observation,
            note,
        })
    }
}

/// Checks a sign/issue reply (from `what`) against the key (`key_path`'s, or
/// in issue mode the one sent with it): certificates only, the key's own,
/// not expired, with a chain that parses.
pub(crate) fn check_issued(
    what: &str,
    key_path: &std::path::Path,
    reply: &Value,
    key: Option<&KeyPair>,
    now: SystemTime,
) -> Result<Issued, Failure> {
    let bad = |why: String| {
        Failure::transient(format!(
            "{what} sent a certificate Evergreen did not keep: {why}; the current files are unchanged"
        ))
    };
    let leaf = field(reply, "/data/certificate", what)?
        .as_str()
        .ok_or_else(|| bad("data.certificate is not a string".into()))?;
    let leaf = crate::x509::parse_reply(leaf).map_err(|e| bad(format!("it does not parse ({e})")))?;
    let parsed = &leaf.file;
    let info = parsed.leaf().clone();
    let (server_key, key_pem) = match key {
        Some(_) => (None, None),
        None => {
            let pem = field(reply, "/data/private_key", what)?
                .as_str()
                .ok_or_else(|| bad("data.private_key is not a string".into()))?
                .to_string();
            let k = KeyPair::from_pem(&pem).map_err(|e| bad(format!("its private key does not parse ({e})")))?;
            (Some(k), Some(SecretString::from(pem)))
        }
    };
    let key = key.or(server_key.as_ref()).expect("a key either way");
    if !crate::csr::carries_key(&parsed.der_leaf, key).map_err(bad)? {
        return Err(bad(format!(
            "its public key is not the one of {}",
            if key_pem.is_some() {
                "the private key sent with it".to_string()
            } else {
                key_path.display().to_string()
            }
        )));
    }
    if info.lifetime.not_after <= now {
        return Err(bad(format!(
            "it expired already (not_after {})",
            rfc3339(info.lifetime.not_after)
        )));
    }
    // A shorter lifetime than before is the CA's call (a role's TTL
    // went down); whether it is capped is the scheduler's to judge.
    let chain: Vec<&str> = match reply.pointer("/data/ca_chain").and_then(Value::as_array) {
        Some(c) if !c.is_empty() => c.iter().filter_map(Value::as_str).collect(),
        _ => reply
            .pointer("/data/issuing_ca")
            .and_then(Value::as_str)
            .into_iter()
            .collect(),
    };
    let mut cert_pem = leaf.pem.clone();
    for (i, c) in chain.iter().enumerate() {
        let c = crate::x509::parse_reply(c)
            .map_err(|e| bad(format!("chain certificate {} does not parse ({e})", i + 1)))?;
        cert_pem.push_str(&c.pem);
    }
    // Read back as it will be on disk: the chain names the issuer's expiry.
    let written = crate::x509::parse(cert_pem.as_bytes()).map_err(|e| bad(format!("it does not parse ({e})")))?;
    Ok(Issued {
        cert_pem,
        key_pem,
        observation: Observation::of_cert(&written),
    })
}

/// The first byte picks the reply: a sign reply (for a key made here) or an issue one.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz(data: &[u8]) {
    use crate::fuzzing::{key, now, split};
    let Some((pick, body)) = split(data) else { return };
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let key_path = std::path::Path::new("web.key");
    if pick % 2 == 0 {
        let _ = check_issued("pki/sign/web", key_path, &v, Some(key()), now());
    } else {
        let _ = check_issued("pki/issue/web", key_path, &v, None, now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_sign_or_issue_reply_is_checked_before_anything_is_written() {
        let now = SystemTime::now();
        let hour = Duration::from_secs(3600);
        let ca = crate::pki::Ca::new("CA", now - hour, 100 * hour).unwrap();
        let key = KeyPair::generate().unwrap();
        let ours = ca.sign_key(&key, "ws", now, hour).unwrap();
        let other = ca.issue("ws", now, hour).unwrap();
        let old = ca.sign_key(&key, "ws", now - 3 * hour, hour).unwrap();
        let reply = |cert: &str| json!({"data": {"certificate": cert, "issuing_ca": ca.cert_pem()}});
        let check = |r: &Value, k: Option<&KeyPair>| {
            check_issued(
                "https://vault/v1/pki/sign/ws",
                std::path::Path::new("ws.key"),
                r,
                k,
                now,
            )
        };
        let ok = check(&reply(&ours), Some(&key)).unwrap();
        assert!(ok.key_pem.is_none() && ok.cert_pem.matches("BEGIN CERTIFICATE").count() == 2);
        let refused = |r: Value, k: Option<&KeyPair>, why: &str| {
            let e = check(&r, k)
                .err()
                .unwrap_or_else(|| panic!("kept a reply that {why}"))
                .message;
            assert!(e.contains("did not keep") && e.contains(why), "{e}");
        };
        refused(
            reply(&other.cert_pem),
            Some(&key),
            "its public key is not the one of ws.key",
        );
        refused(reply(&old), Some(&key), "it expired already");
        refused(
            reply(&format!("{ours}{}", key.serialize_pem())),
            Some(&key),
            "PRIVATE KEY block",
        );
        refused(
            json!({"data": {"certificate": 7}}),
            Some(&key),
            "data.certificate is not a string",
        );
        // Issue mode: the key comes with the reply and must be the certificate's.
        let issued = json!({"data": {"certificate": other.cert_pem, "private_key": key.serialize_pem()}});
        refused(issued, None, "not the one of the private key sent with it");
        let issued = json!({"data": {"certificate": other.cert_pem, "private_key": other.key_pem}});
        assert!(check(&issued, None).unwrap().key_pem.is_some());
    }
}
