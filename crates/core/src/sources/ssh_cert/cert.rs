//! Reading and checking OpenSSH certificates: what is on disk, and what a
//! signer sent back before anything is written.

use std::time::SystemTime;

use ssh_key::public::KeyData;
use ssh_key::{Certificate, HashAlg, PublicKey};

use crate::clock::{from_unix_secs, rfc3339};
use crate::model::{CertDetails, DetailLabels, DetailRow, Lifetime};
use crate::sources::Observation;

/// No certificate or public key Evergreen reads is longer (an RSA-16384
/// certificate with many principals is a few KiB).
pub(crate) const MAX_TEXT: usize = 64 * 1024;

/// One certificate in OpenSSH's one-line form.
pub(crate) fn parse(text: &str) -> Result<Certificate, String> {
    if text.len() > MAX_TEXT {
        return Err(format!("it is {} bytes, more than any SSH certificate", text.len()));
    }
    let line = text.trim();
    if line.is_empty() {
        return Err("it is empty".into());
    }
    Certificate::from_openssh(line).map_err(|e| format!("it is not an OpenSSH certificate ({e})"))
}

/// A public key in OpenSSH's one-line form (a CA's, or a key's `.pub`).
pub(crate) fn parse_public(text: &str) -> Result<PublicKey, String> {
    if text.len() > MAX_TEXT {
        return Err(format!("it is {} bytes, more than any SSH public key", text.len()));
    }
    PublicKey::from_openssh(text.trim()).map_err(|e| format!("it is not an OpenSSH public key ({e})"))
}

/// The certificate's validity as a lifetime; `None` when it never ends.
pub(crate) fn lifetime(cert: &Certificate) -> Result<Option<Lifetime>, String> {
    // OpenSSH's "forever" is all ones; the parser stops at i64::MAX.
    if cert.valid_before() >= i64::MAX as u64 {
        return Ok(None);
    }
    let not_before = from_unix_secs(cert.valid_after())
        .ok_or_else(|| format!("its valid_after {} is not a time", cert.valid_after()))?;
    let not_after = from_unix_secs(cert.valid_before())
        .ok_or_else(|| format!("its valid_before {} is not a time", cert.valid_before()))?;
    if not_after <= not_before {
        return Err(format!(
            "it is valid before {} but only after {}: never",
            rfc3339(not_after),
            rfc3339(not_before)
        ));
    }
    Ok(Some(Lifetime { not_before, not_after }))
}

/// Whether ssh-agent holds it, as the detail view says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InAgent {
    /// Not asked (no agent wanted, or a certificate another tool keeps).
    NotAsked,
    /// Held until the certificate ends (Unix ms).
    Until(i64),
    /// Not there, and why.
    Missing(String),
}

/// What the faces show of a certificate and its place in ssh-agent.
pub(crate) fn details(cert: &Certificate, agent: &InAgent) -> CertDetails {
    let mut ext: Vec<&str> = cert.extensions().keys().map(String::as_str).collect();
    ext.sort_unstable();
    let mut more = vec![
        DetailRow {
            label: "Type".into(),
            value: format!("{} certificate", cert.cert_type().as_str_lossy()),
            at: None,
        },
        DetailRow {
            label: "Extensions".into(),
            value: if ext.is_empty() { "none".into() } else { ext.join(", ") },
            at: None,
        },
    ];
    match agent {
        InAgent::NotAsked => {}
        InAgent::Until(at) => more.push(DetailRow {
            label: "ssh-agent".into(),
            value: "holds it until".into(),
            at: Some(*at),
        }),
        InAgent::Missing(why) => more.push(DetailRow {
            label: "ssh-agent".into(),
            value: format!("not in it: {why}"),
            at: None,
        }),
    }
    CertDetails {
        subject: cert.key_id().to_string(),
        issuer: cert.signature_key().fingerprint(HashAlg::Sha256).to_string(),
        serial: cert.serial().to_string(),
        sha256: cert.public_key().fingerprint(HashAlg::Sha256).to_string(),
        sans: cert.valid_principals().to_vec(),
        labels: DetailLabels::of(
            "SSH certificate",
            ["Key ID", "Principals", "CA", "Serial", "Key fingerprint"],
        ),
        more,
    }
}

/// What a certificate says: its lifetime and details.
pub(crate) fn observation(cert: &Certificate, agent: &InAgent) -> Result<Observation, String> {
    let lifetime = lifetime(cert)?.ok_or_else(|| {
        "it never expires (valid_before is \"forever\"), so there is nothing to keep alive; remove the credential, or ask for certificates with a TTL".to_string()
    })?;
    Ok(Observation {
        details: Some(details(cert, agent)),
        ..Observation::of(lifetime)
    })
}

/// Checks what the signer sent for `key` before it is written: it parses,
/// certifies our key, carries every principal asked for, is signed by `ca`
/// (the key the engine publishes) and is valid at `now`.
pub(crate) fn check_signed(
    text: &str,
    key: &KeyData,
    ca: &PublicKey,
    principals: &[String],
    now: SystemTime,
) -> Result<Certificate, String> {
    let cert = parse(text)?;
    if cert.public_key() != key {
        return Err(format!(
            "it certifies the key {}, not ours ({})",
            cert.public_key().fingerprint(HashAlg::Sha256),
            key.fingerprint(HashAlg::Sha256)
        ));
    }
    let missing: Vec<&str> = principals
        .iter()
        .filter(|p| !cert.valid_principals().contains(p))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "it lacks the principals {} that were asked for (it has: {})",
            missing.join(", "),
            cert.valid_principals().join(", ")
        ));
    }
    let ca_fp = ca.fingerprint(HashAlg::Sha256);
    if cert.signature_key() != ca.key_data() {
        return Err(format!(
            "it is signed by {}, not by the engine's CA {ca_fp}",
            cert.signature_key().fingerprint(HashAlg::Sha256)
        ));
    }
    let at = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    if cert.verify_signature().is_err() {
        return Err(format!("its signature does not verify with the CA key {ca_fp}"));
    }
    let life = lifetime(&cert)?;
    if let Some(l) = life {
        if l.not_after <= now {
            return Err(format!("it expired already (valid before {})", rfc3339(l.not_after)));
        }
    }
    if cert.validate_at(at.max(cert.valid_after()), [&ca_fp]).is_err() {
        return Err(format!("it does not validate against the CA key {ca_fp}"));
    }
    Ok(cert)
}

trait CertTypeWords {
    fn as_str_lossy(&self) -> &'static str;
}

impl CertTypeWords for ssh_key::certificate::CertType {
    fn as_str_lossy(&self) -> &'static str {
        if self.is_host() {
            "host"
        } else {
            "user"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssh_key::certificate::{Builder, CertType};
    use ssh_key::{Algorithm, PrivateKey};
    use std::time::Duration;

    fn key() -> PrivateKey {
        PrivateKey::random(&mut ssh_key::rand_core::OsRng, Algorithm::Ed25519).unwrap()
    }

    fn sign(ca: &PrivateKey, subject: &PrivateKey, from: u64, to: u64, principals: &[&str]) -> String {
        let mut b =
            Builder::new_with_random_nonce(&mut ssh_key::rand_core::OsRng, subject.public_key(), from, to).unwrap();
        b.serial(42)
            .unwrap()
            .key_id("alice@ws")
            .unwrap()
            .cert_type(CertType::User)
            .unwrap();
        for p in principals {
            b.valid_principal(*p).unwrap();
        }
        b.extension("permit-pty", "").unwrap();
        b.sign(ca).unwrap().to_openssh().unwrap()
    }

    fn at(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(s)
    }

    #[test]
    fn a_good_reply_passes_and_says_what_it_is() {
        let (ca, me) = (key(), key());
        let now = 1_800_000_000;
        let text = sign(&ca, &me, now - 30, now + 3600, &["alice", "ops"]);
        let cert = check_signed(
            &text,
            me.public_key().key_data(),
            ca.public_key(),
            &["alice".into()],
            at(now),
        )
        .unwrap();
        let o = observation(&cert, &InAgent::Until(1)).unwrap();
        assert_eq!(o.lifetime.not_after, at(now + 3600));
        let d = o.details.unwrap();
        assert_eq!((d.subject.as_str(), d.serial.as_str()), ("alice@ws", "42"));
        assert_eq!(d.sans, ["alice", "ops"]);
        assert!(d.issuer.starts_with("SHA256:"), "{}", d.issuer);
        assert!(d.more.iter().any(|r| r.value == "permit-pty"), "{:?}", d.more);
        assert!(d.more.iter().any(|r| r.at == Some(1)), "{:?}", d.more);
    }

    #[test]
    fn a_reply_for_another_key_another_ca_or_fewer_principals_is_refused() {
        let (ca, me, other) = (key(), key(), key());
        let now = 1_800_000_000;
        let ours = me.public_key().key_data();
        let wrong_key = sign(&ca, &other, now - 30, now + 3600, &["alice"]);
        let e = check_signed(&wrong_key, ours, ca.public_key(), &[], at(now)).unwrap_err();
        assert!(e.contains("not ours"), "{e}");
        let wrong_ca = sign(&other, &me, now - 30, now + 3600, &["alice"]);
        let e = check_signed(&wrong_ca, ours, ca.public_key(), &[], at(now)).unwrap_err();
        assert!(e.contains("not by the engine's CA"), "{e}");
        let few = sign(&ca, &me, now - 30, now + 3600, &["alice"]);
        let e = check_signed(&few, ours, ca.public_key(), &["alice".into(), "root".into()], at(now)).unwrap_err();
        assert!(e.contains("lacks the principals root"), "{e}");
        let old = sign(&ca, &me, now - 7200, now - 3600, &["alice"]);
        let e = check_signed(&old, ours, ca.public_key(), &[], at(now)).unwrap_err();
        assert!(e.contains("expired already"), "{e}");
        for junk in ["", "ssh-ed25519-cert-v01@openssh.com AAAA", &"x".repeat(MAX_TEXT + 1)] {
            assert!(check_signed(junk, ours, ca.public_key(), &[], at(now)).is_err());
        }
    }

    #[test]
    fn a_certificate_that_never_ends_has_nothing_to_renew() {
        let (ca, me) = (key(), key());
        let text = sign(&ca, &me, 0, i64::MAX as u64, &["alice"]);
        let e = observation(&parse(&text).unwrap(), &InAgent::NotAsked).unwrap_err();
        assert!(e.contains("never expires"), "{e}");
    }
}
