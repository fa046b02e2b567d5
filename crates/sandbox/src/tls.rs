//! The sandbox's own CA, its server certificate and the TLS 1.3 acceptor.
//!
//! Client certificates are asked for but optional at the handshake: the
//! nixfleet endpoint refuses requests without one, the others ignore it. The
//! certificate a client presented travels with each request as [`PeerCert`],
//! so the admin API can say which serial every request came with.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use evergreen_core::pki::Ca;
use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

use crate::Error;

/// The client certificate (DER) a request's connection presented, if any.
#[derive(Debug, Clone, Default)]
pub struct PeerCert(pub Option<Vec<u8>>);

impl PeerCert {
    /// The certificate's serial in lower-case hex.
    pub fn serial(&self) -> Option<String> {
        let der = self.0.as_ref()?;
        let (_, c) = x509_parser::parse_x509_certificate(der).ok()?;
        Some(hex_lower(c.tbs_certificate.raw_serial()))
    }

    /// The raw public key (the subjectPublicKey bit string).
    pub fn public_key(&self) -> Option<Vec<u8>> {
        let der = self.0.as_ref()?;
        let (_, c) = x509_parser::parse_x509_certificate(der).ok()?;
        Some(c.tbs_certificate.subject_pki.subject_public_key.data.to_vec())
    }

    /// SHA-256 of the certificate's DER, lower-case hex: which certificate
    /// exactly (serials may repeat: nixfleet's control plane derives them
    /// from the public key).
    pub fn fingerprint(&self) -> Option<String> {
        let der = self.0.as_ref()?;
        Some(hex_lower(ring::digest::digest(&ring::digest::SHA256, der).as_ref()))
    }

    /// The certificate's not-before, in seconds since the epoch.
    pub fn not_before(&self) -> Option<i64> {
        let der = self.0.as_ref()?;
        let (_, c) = x509_parser::parse_x509_certificate(der).ok()?;
        Some(c.validity().not_before.timestamp())
    }

    /// The certificate's subject common name.
    pub fn common_name(&self) -> Option<String> {
        let der = self.0.as_ref()?;
        let (_, c) = x509_parser::parse_x509_certificate(der).ok()?;
        let cn = c.subject().iter_common_name().next()?.as_str().ok()?.to_string();
        Some(cn)
    }
}

pub fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server certificate for `localhost` and `127.0.0.1`, and the acceptor.
pub fn acceptor(ca: &Ca) -> Result<TlsAcceptor, Error> {
    acceptor_for(ca, &[&rustls::version::TLS13])
}

/// A server that speaks only TLS 1.2, with a certificate from `ca`: for
/// tests that a client refuses anything below TLS 1.3. It counts completed
/// handshakes and answers nothing. Returns its `https://127.0.0.1:PORT`.
pub async fn tls12_only(ca: &Ca) -> Result<(String, Arc<AtomicU64>, tokio::task::JoinHandle<()>), Error> {
    let acceptor = acceptor_for(ca, &[&rustls::version::TLS12])?;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Listen { addr, source })?;
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    let handshakes = Arc::new(AtomicU64::new(0));
    let count = handshakes.clone();
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, count) = (acceptor.clone(), count.clone());
            tokio::spawn(async move {
                if acceptor.accept(tcp).await.is_ok() {
                    count.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    Ok((format!("https://127.0.0.1:{port}"), handshakes, task))
}

fn acceptor_for(ca: &Ca, versions: &[&'static rustls::SupportedProtocolVersion]) -> Result<TlsAcceptor, Error> {
    let key = KeyPair::generate().map_err(|e| Error::Tls(e.to_string()))?;
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).map_err(|e| Error::Tls(e.to_string()))?;
    params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let now = SystemTime::now();
    params.not_before = (now - Duration::from_secs(3600)).into();
    params.not_after = (now + Duration::from_secs(30 * 86_400)).into();
    let cert_pem = ca.sign(params, &key).map_err(|e| Error::Tls(e.to_string()))?;
    let cert_der = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
        .map_err(|e| Error::Tls(e.to_string()))?
        .1
        .contents;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca.cert_der()))
        .map_err(|e| Error::Tls(e.to_string()))?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .allow_unauthenticated()
        .build()
        .map_err(|e| Error::Tls(e.to_string()))?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(cert_der), CertificateDer::from(ca.cert_der())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .map_err(|e| Error::Tls(e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
