//! Keys and certificate requests, as every kind that makes its key here
//! (nixfleet, Vault PKI in CSR mode, certctl's CSR jobs) needs them: one
//! CSR builder, one way to read a SAN, one check that a certificate carries
//! a key.

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};

/// A SAN as a CSR carries it: an e-mail address (with `@`), an IP address,
/// or else a DNS name; `None` when it fits none of them.
pub fn san(name: &str) -> Option<SanType> {
    let name = name.trim();
    if name.contains('@') {
        name.to_string().try_into().ok().map(SanType::Rfc822Name)
    } else if let Ok(ip) = name.parse() {
        Some(SanType::IpAddress(ip))
    } else {
        name.to_string().try_into().ok().map(SanType::DnsName)
    }
}

/// A PEM certificate request for `common_name` with `sans`, signed by `key`.
pub fn request(key: &KeyPair, common_name: &str, sans: Vec<SanType>) -> Result<String, String> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.subject_alt_names = sans;
    params
        .serialize_request(key)
        .and_then(|r| r.pem())
        .map_err(|e| format!("could not make a CSR for {common_name}: {e}"))
}

/// Whether the certificate (DER) carries `key`'s public key.
pub fn carries_key(cert_der: &[u8], key: &KeyPair) -> Result<bool, String> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(cert_der).map_err(|e| format!("the certificate does not parse ({e})"))?;
    Ok(cert.tbs_certificate.subject_pki.subject_public_key.data.as_ref() == key.public_key_raw())
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::FromDer;

    #[test]
    fn a_request_says_its_name_and_sans_and_a_certificate_its_key() {
        let key = KeyPair::generate().unwrap();
        let sans = ["web.example", "10.0.0.7", "ops@example.com"]
            .iter()
            .map(|n| san(n).unwrap())
            .collect::<Vec<_>>();
        assert!(matches!(sans[0], SanType::DnsName(_)));
        assert!(matches!(sans[1], SanType::IpAddress(_)));
        assert!(matches!(sans[2], SanType::Rfc822Name(_)));
        assert!(san("wéb.example").is_none(), "not ASCII, so no IA5 string");
        let pem = request(&key, "web.example", sans).unwrap();
        let der = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap().1.contents;
        let (_, csr) = x509_parser::certification_request::X509CertificationRequest::from_der(&der).unwrap();
        assert_eq!(csr.certification_request_info.subject.to_string(), "CN=web.example");
        let issued = crate::pki::Ca::new("CA", std::time::SystemTime::now(), std::time::Duration::from_secs(60))
            .unwrap()
            .issue(
                "web.example",
                std::time::SystemTime::now(),
                std::time::Duration::from_secs(60),
            )
            .unwrap();
        let cert_der = x509_parser::pem::parse_x509_pem(issued.cert_pem.as_bytes())
            .unwrap()
            .1
            .contents;
        let own = KeyPair::from_pem(&issued.key_pem).unwrap();
        assert_eq!(carries_key(&cert_der, &own), Ok(true));
        assert_eq!(carries_key(&cert_der, &key), Ok(false));
        assert!(carries_key(b"junk", &key).unwrap_err().contains("does not parse"));
    }
}
