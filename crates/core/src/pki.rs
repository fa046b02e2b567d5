//! A small certificate authority built on `rcgen`.
//!
//! It issues the demo's short-lived certificates, the test fixtures and the
//! benchmark's corpus; the sandbox control plane signs with it too. It is
//! real X.509 (ECDSA P-256), just kept in files instead of an HSM.

use std::path::Path;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SerialNumber,
};

use crate::error::{Error, Result};
use crate::fsutil::{atomic_write, PUBLIC_FILE_MODE, SECRET_FILE_MODE};

/// A CA: its certificate and signing key.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
    cert_der: Vec<u8>,
}

/// An issued certificate and its private key, PEM-encoded.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

fn rc(e: rcgen::Error) -> Error {
    Error::Ipc(format!("certificate generation failed: {e}"))
}

fn odt(t: SystemTime) -> time::OffsetDateTime {
    time::OffsetDateTime::from(t)
}

fn random_serial() -> SerialNumber {
    let mut b: [u8; 16] = rand::random();
    b[0] &= 0x7f; // positive
    SerialNumber::from_slice(&b)
}

impl Ca {
    /// A new self-signed CA valid from `not_before` for `lifetime`.
    pub fn new(common_name: &str, not_before: SystemTime, lifetime: Duration) -> Result<Ca> {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        dn.push(DnType::OrganizationName, "Evergreen");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = odt(not_before);
        params.not_after = odt(not_before + lifetime);
        params.serial_number = Some(random_serial());
        let key = KeyPair::generate().map_err(rc)?;
        let cert = params.self_signed(&key).map_err(rc)?;
        Ok(Ca {
            issuer: Issuer::new(params, key),
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
        })
    }

    /// Loads a CA previously written by [`Ca::save`].
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Ca> {
        let cert_pem =
            std::fs::read_to_string(cert_path).map_err(|e| Error::io("read CA certificate", cert_path, e))?;
        let key_pem = std::fs::read_to_string(key_path).map_err(|e| Error::io("read CA key", key_path, e))?;
        let key =
            KeyPair::from_pem(&key_pem).map_err(|e| Error::cert(key_path, format!("not a usable CA key: {e}")))?;
        let cert_der = crate::x509::parse(cert_pem.as_bytes())
            .map_err(|e| Error::cert(cert_path, format!("not a usable CA certificate: {e}")))?
            .der_leaf;
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key)
            .map_err(|e| Error::cert(cert_path, format!("not a usable CA certificate: {e}")))?;
        Ok(Ca {
            issuer,
            cert_pem: crate::x509::pem_of(&cert_der),
            cert_der,
        })
    }

    /// Writes the CA certificate (0644) and key (0600).
    pub fn save(&self, cert_path: &Path, key_path: &Path) -> Result<()> {
        atomic_write(cert_path, self.cert_pem.as_bytes(), PUBLIC_FILE_MODE)?;
        atomic_write(key_path, self.issuer.key().serialize_pem().as_bytes(), SECRET_FILE_MODE)
    }

    pub fn cert_pem(&self) -> String {
        self.cert_pem.clone()
    }

    pub fn cert_der(&self) -> Vec<u8> {
        self.cert_der.clone()
    }

    /// Issues a leaf for `common_name` (also its DNS SAN) with a fresh key.
    pub fn issue(&self, common_name: &str, not_before: SystemTime, lifetime: Duration) -> Result<Issued> {
        let key = KeyPair::generate().map_err(rc)?;
        let cert_pem = self.sign_key(&key, common_name, not_before, lifetime)?;
        Ok(Issued {
            cert_pem,
            key_pem: key.serialize_pem(),
        })
    }

    /// Signs `params` (the caller chose names, lifetime, usages) for `public_key`;
    /// a fresh random serial is set. Returns the PEM certificate.
    pub fn sign(&self, mut params: CertificateParams, public_key: &impl rcgen::PublicKeyData) -> Result<String> {
        params.serial_number = Some(random_serial());
        let cert = params.signed_by(public_key, &self.issuer).map_err(rc)?;
        Ok(cert.pem())
    }

    /// Signs `params` leaving the serial unset, as a CA built on rcgen that
    /// sets none does: rcgen then derives it from the public key (the first
    /// 20 bytes of its SHA-256), so every certificate of one key has the
    /// same serial. Returns the PEM certificate.
    pub fn sign_serial_of_key(
        &self,
        mut params: CertificateParams,
        public_key: &impl rcgen::PublicKeyData,
    ) -> Result<String> {
        params.serial_number = None;
        let cert = params.signed_by(public_key, &self.issuer).map_err(rc)?;
        Ok(cert.pem())
    }

    /// Issues a leaf for an existing public key (a key that never leaves its owner).
    pub fn sign_key(
        &self,
        public_key: &impl rcgen::PublicKeyData,
        common_name: &str,
        not_before: SystemTime,
        lifetime: Duration,
    ) -> Result<String> {
        let mut params = CertificateParams::new(vec![common_name.to_string()]).map_err(rc)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        params.distinguished_name = dn;
        params.not_before = odt(not_before);
        params.not_after = odt(not_before + lifetime);
        params.serial_number = Some(random_serial());
        let cert = params.signed_by(public_key, &self.issuer).map_err(rc)?;
        Ok(cert.pem())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_leaf_parses_with_the_requested_window() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let ca = Ca::new("Test CA", now, Duration::from_secs(86_400)).unwrap();
        let leaf = ca.issue("demo.local", now, Duration::from_secs(180)).unwrap();
        let f = crate::x509::parse(leaf.cert_pem.as_bytes()).unwrap();
        assert_eq!(f.leaf().lifetime.not_before, now);
        assert_eq!(f.leaf().lifetime.not_after, now + Duration::from_secs(180));
        assert!(f.leaf().details.issuer.contains("Test CA"));
        assert_eq!(f.leaf().details.sans, vec!["DNS:demo.local".to_string()]);
    }

    #[test]
    fn saved_ca_loads_and_still_signs() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let ca = Ca::new("Round Trip CA", now, Duration::from_secs(3600)).unwrap();
        let (c, k) = (dir.path().join("ca.pem"), dir.path().join("ca.key"));
        ca.save(&c, &k).unwrap();
        let again = Ca::load(&c, &k).unwrap();
        let leaf = again.issue("x", now, Duration::from_secs(60)).unwrap();
        let f = crate::x509::parse(leaf.cert_pem.as_bytes()).unwrap();
        assert!(f.leaf().details.issuer.contains("Round Trip CA"));
    }
}
