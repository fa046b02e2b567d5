//! Reading X.509 certificates from PEM or DER files.
//!
//! A file may hold one certificate or a chain; the leaf is the first. Every
//! way a file can be wrong (empty, truncated, garbage, a key instead of a
//! certificate, an inverted validity window) gets its own plain message.

use std::path::Path;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::error::{Error, Result};
use crate::model::{CertDetails, Lifetime};

/// A parsed certificate: its lifetime and public details.
#[derive(Debug, Clone, PartialEq)]
pub struct CertInfo {
    pub lifetime: Lifetime,
    pub details: CertDetails,
    /// The subject's and the issuer's common names, where they have one
    /// (the labels certificate monitoring keys on).
    pub subject_cn: Option<String>,
    pub issuer_cn: Option<String>,
    /// The serial number in decimal, as certificate monitoring labels it.
    pub serial_number: String,
}

/// Certificates read from one file, leaf first.
#[derive(Debug, Clone, PartialEq)]
pub struct CertFile {
    pub certs: Vec<CertInfo>,
    pub der_leaf: Vec<u8>,
}

impl CertFile {
    pub fn leaf(&self) -> &CertInfo {
        &self.certs[0]
    }

    /// The certificate in the chain that issued the leaf, if the file has it.
    pub fn issuer(&self) -> Option<&CertInfo> {
        let leaf = self.leaf();
        if leaf.details.issuer == leaf.details.subject {
            return None;
        }
        self.certs[1..]
            .iter()
            .find(|c| c.details.subject == leaf.details.issuer)
    }
}

/// The largest certificate file read: a chain of a dozen certificates is a
/// few tens of KiB, so anything near this is some other file.
pub const MAX_FILE: u64 = 1024 * 1024;

/// Reads and parses a certificate file (at most [`MAX_FILE`] bytes).
pub fn read_file(path: &Path) -> Result<CertFile> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| Error::io("read certificate", path, e))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("read certificate", path, e))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(Error::cert(
            path,
            format!(
                "the file is larger than {} KiB, far more than any certificate chain; is this the certificate file?",
                MAX_FILE / 1024
            ),
        ));
    }
    parse(&bytes).map_err(|reason| Error::cert(path, reason))
}

/// Parses PEM (one or more CERTIFICATE blocks) or a single DER certificate.
/// The error is a sentence about what is wrong with the bytes.
pub fn parse(bytes: &[u8]) -> std::result::Result<CertFile, String> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err("the file is empty; expected a PEM or DER certificate".into());
    }
    if let Some(inline) = openvpn_inline(bytes) {
        parse_pem(&inline)
    } else if looks_like_pem(bytes) {
        parse_pem(bytes)
    } else {
        let info = parse_der(bytes).map_err(|e| {
            format!("not a PEM or DER certificate (DER parse failed: {e}); expected a file starting with -----BEGIN CERTIFICATE-----")
        })?;
        Ok(CertFile {
            certs: vec![info],
            der_leaf: bytes.to_vec(),
        })
    }
}

/// An OpenVPN profile with its certificate inline (`<cert>…</cert>`): that
/// certificate, then the `<ca>` block as its chain. The rest of the profile
/// (its `<key>`, a static key) is not looked at.
fn openvpn_inline(bytes: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let block = |tag: &str| {
        let start = text.find(&format!("<{tag}>"))? + tag.len() + 2;
        let end = start + text[start..].find(&format!("</{tag}>"))?;
        Some(&text[start..end])
    };
    let cert = block("cert")?;
    let mut out = cert.trim().to_string();
    if let Some(ca) = block("ca") {
        out.push('\n');
        out.push_str(ca.trim());
    }
    out.push('\n');
    Some(out.into_bytes())
}

fn looks_like_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

/// Certificates a server sent, checked for what a certificate reply may carry.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyCerts {
    pub file: CertFile,
    /// The certificates alone, armoured afresh: nothing else the reply held
    /// (text between blocks, headers) travels on to disk.
    pub pem: String,
}

/// Parses a server's certificate reply: PEM holding CERTIFICATE blocks only,
/// leaf first. A private key, or any other block, in a certificate reply is
/// refused: Evergreen never writes a key it did not ask for where a
/// certificate belongs.
pub fn parse_reply(text: &str) -> std::result::Result<ReplyCerts, String> {
    if !looks_like_pem(text.as_bytes()) {
        return Err("not PEM; expected -----BEGIN CERTIFICATE-----".into());
    }
    let (file, ders, others) = read_pem(text.as_bytes())?;
    if let Some(label) = others.first() {
        return Err(format!(
            "it holds a {label} block beside the certificates; a certificate reply may carry certificates only"
        ));
    }
    let file = file.ok_or_else(|| "no PEM block found".to_string())?;
    Ok(ReplyCerts {
        file,
        pem: ders.iter().map(|d| pem_of(d)).collect(),
    })
}

/// One certificate, PEM-armoured.
pub fn pem_of(der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

fn parse_pem(bytes: &[u8]) -> std::result::Result<CertFile, String> {
    let (file, _, other_labels) = read_pem(bytes)?;
    match file {
        Some(f) => Ok(f),
        None if !other_labels.is_empty() => Err(format!(
            "holds {} but no certificate; point this at the certificate file, not the key",
            other_labels
                .iter()
                .map(|l| format!("a {l}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        None => Err("no PEM block found".into()),
    }
}

/// The certificates of a PEM text (if any), their DER, and the labels of
/// the other blocks.
type PemParts = (Option<CertFile>, Vec<Vec<u8>>, Vec<String>);

fn read_pem(bytes: &[u8]) -> std::result::Result<PemParts, String> {
    let mut certs = Vec::new();
    let mut ders = Vec::new();
    let mut other_labels = Vec::new();
    for (i, block) in x509_parser::pem::Pem::iter_from_buffer(bytes).enumerate() {
        let pem = block.map_err(|e| match e {
            x509_parser::error::PEMError::MissingHeader if i > 0 => {
                "trailing data after the last PEM block is not PEM".to_string()
            }
            x509_parser::error::PEMError::MissingHeader => "no PEM block found".to_string(),
            x509_parser::error::PEMError::InvalidHeader => {
                format!("PEM block {} is truncated or its BEGIN/END lines are damaged", i + 1)
            }
            x509_parser::error::PEMError::Base64DecodeError => {
                format!("PEM block {} is not valid base64 (truncated or corrupted)", i + 1)
            }
            x509_parser::error::PEMError::IncompletePEM => {
                format!("PEM block {} is truncated (no END line)", i + 1)
            }
            other => format!("PEM block {} could not be read: {other}", i + 1),
        })?;
        if pem.label != "CERTIFICATE" && pem.label != "TRUSTED CERTIFICATE" {
            other_labels.push(pem.label.clone());
            continue;
        }
        let info =
            parse_der(&pem.contents).map_err(|e| format!("PEM block {} is not a valid certificate: {e}", i + 1))?;
        certs.push(info);
        ders.push(pem.contents);
    }
    let file = ders.first().map(|leaf| CertFile {
        certs,
        der_leaf: leaf.clone(),
    });
    Ok((file, ders, other_labels))
}

fn parse_der(der: &[u8]) -> std::result::Result<CertInfo, String> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
    if !rest.is_empty() {
        return Err(format!("{} bytes of trailing data after the certificate", rest.len()));
    }
    let nb = cert.validity().not_before.timestamp();
    let na = cert.validity().not_after.timestamp();
    if nb > na {
        return Err(format!(
            "validity is inverted: not_before {} is after not_after {}; the issuer produced a broken certificate",
            fmt_ts(nb),
            fmt_ts(na)
        ));
    }
    let lifetime = Lifetime {
        not_before: ts(nb),
        not_after: ts(na),
    };
    let cn = |name: &x509_parser::x509::X509Name<'_>| {
        name.iter_common_name()
            .next()
            .and_then(|a| a.as_str().ok())
            .map(String::from)
    };
    Ok(CertInfo {
        lifetime,
        details: details(&cert, der),
        subject_cn: cn(cert.subject()),
        issuer_cn: cn(cert.issuer()),
        serial_number: cert.serial.to_string(),
    })
}

fn details(cert: &X509Certificate<'_>, der: &[u8]) -> CertDetails {
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(s) => sans.push(format!("DNS:{s}")),
                GeneralName::RFC822Name(s) => sans.push(format!("email:{s}")),
                GeneralName::URI(s) => sans.push(format!("URI:{s}")),
                GeneralName::IPAddress(b) => sans.push(format!("IP:{}", ip(b))),
                _ => {}
            }
        }
    }
    CertDetails {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: cert.raw_serial_as_string(),
        sha256: hex::encode(Sha256::digest(der)),
        sans,
        labels: Default::default(),
        more: Vec::new(),
    }
}

fn ip(b: &[u8]) -> String {
    match b.len() {
        4 => std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string(),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => hex::encode(b),
    }
}

fn ts(secs: i64) -> SystemTime {
    if secs >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        SystemTime::UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

fn fmt_ts(secs: i64) -> String {
    crate::clock::rfc3339(ts(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_openvpn_profile_gives_its_inline_certificate_not_its_ca() {
        let now = SystemTime::now();
        let ca = crate::pki::Ca::new("VPN CA", now, Duration::from_secs(86_400)).unwrap();
        let leaf = ca.issue("alice-laptop", now, Duration::from_secs(3600)).unwrap();
        let ovpn = format!(
            "client\nremote vpn.example.org 1194\n<ca>\n{}</ca>\n<cert>\n{}</cert>\n<key>\n{}</key>\n",
            ca.cert_pem(),
            leaf.cert_pem,
            leaf.key_pem
        );
        let f = parse(ovpn.as_bytes()).unwrap();
        assert_eq!(f.leaf().subject_cn.as_deref(), Some("alice-laptop"));
        assert_eq!(
            f.issuer().map(|i| i.subject_cn.clone()),
            Some(Some("VPN CA".to_string()))
        );
    }

    #[test]
    fn a_huge_file_is_refused_without_being_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let ca = crate::pki::Ca::new("CA", now, Duration::from_secs(86_400)).unwrap();
        let leaf = ca.issue("web", now, Duration::from_secs(3600)).unwrap();
        let path = dir.path().join("cert.pem");
        // A real certificate followed by 2 MiB of padding.
        let mut bytes = leaf.cert_pem.into_bytes();
        bytes.resize(2 * 1024 * 1024, b'\n');
        std::fs::write(&path, bytes).unwrap();
        let e = read_file(&path).unwrap_err().to_string();
        assert!(e.contains("larger than 1024 KiB") && e.contains("cert.pem"), "{e}");
        let info = read_file(&dir.path().join("missing.pem")).unwrap_err().to_string();
        assert!(info.contains("missing.pem"), "{info}");
    }

    #[test]
    fn common_names_and_the_decimal_serial_are_read() {
        let now = SystemTime::now();
        let ca = crate::pki::Ca::new("Example CA", now, Duration::from_secs(86_400)).unwrap();
        let leaf = ca.issue("web.example.org", now, Duration::from_secs(3600)).unwrap();
        let f = parse(leaf.cert_pem.as_bytes()).unwrap();
        let l = f.leaf();
        assert_eq!(l.subject_cn.as_deref(), Some("web.example.org"));
        assert_eq!(l.issuer_cn.as_deref(), Some("Example CA"));
        // The hex serial the detail view shows, in decimal by long division.
        let mut digits: Vec<u32> = l.details.serial.chars().filter_map(|c| c.to_digit(16)).collect();
        let mut decimal = Vec::new();
        while digits.iter().any(|d| *d != 0) {
            let mut rest = 0;
            for d in digits.iter_mut() {
                let v = rest * 16 + *d;
                *d = v / 10;
                rest = v % 10;
            }
            decimal.push(char::from_digit(rest, 10).unwrap());
        }
        let decimal: String = decimal.into_iter().rev().collect();
        assert_eq!(l.serial_number, decimal);
    }

    #[test]
    fn a_certificate_reply_carries_certificates_only_armoured_afresh() {
        let now = SystemTime::now();
        let ca = crate::pki::Ca::new("CA", now, Duration::from_secs(86_400)).unwrap();
        let leaf = ca.issue("web", now, Duration::from_secs(3600)).unwrap();
        let chain = format!(
            "note: text a server put between blocks\n{}\n{}",
            leaf.cert_pem,
            ca.cert_pem()
        );
        let r = parse_reply(&chain).unwrap();
        assert_eq!(r.file.certs.len(), 2);
        assert!(!r.pem.contains("note:"), "{}", r.pem);
        assert_eq!(parse(r.pem.as_bytes()).unwrap(), r.file);
        let e = parse_reply(&format!("{}{}", leaf.cert_pem, leaf.key_pem)).unwrap_err();
        assert!(e.contains("PRIVATE KEY block beside the certificates"), "{e}");
        assert!(parse_reply(&leaf.key_pem).is_err());
        assert!(parse_reply("").unwrap_err().contains("not PEM"));
    }
}
