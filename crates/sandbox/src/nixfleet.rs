//! nixfleet's control plane: `POST /v1/agent/renew` over mTLS.
//!
//! The agent proves who it is with its current client certificate (the TLS
//! handshake) and sends a CSR signed by its SSH ed25519 host key; the answer
//! is a new short-lived certificate for the same public key and the same
//! machine. The machine id comes from the presented certificate's common
//! name, never from the body, so a client cannot renew someone else.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use rcgen::{CertificateParams, CertificateSigningRequestParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose};
use serde::{Deserialize, Serialize};

use crate::tls::PeerCert;
use crate::Shared;

/// What the sandbox knows about each machine.
#[derive(Debug, Default)]
pub struct Machines {
    /// Machines an admin retired: their renewals get 410 Gone.
    pub retired: BTreeMap<String, bool>,
}

#[derive(Debug, Deserialize)]
pub struct RenewRequest {
    /// PKCS#10 CSR, PEM.
    pub csr: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RenewResponse {
    /// The new client certificate, PEM.
    pub cert: String,
    /// Its expiry, RFC 3339.
    pub not_after: String,
}

pub fn routes() -> Router<Shared> {
    Router::new().route("/v1/agent/renew", post(renew))
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// Issues a client certificate for `machine_id` and `csr`'s public key.
pub fn issue(s: &Shared, machine_id: &str, csr_pem: &str, lifetime: Duration) -> Result<String, String> {
    let csr = CertificateSigningRequestParams::from_pem(csr_pem).map_err(|e| format!("the CSR does not parse: {e}"))?;
    let mut params = CertificateParams::new(vec![]).map_err(|e| e.to_string())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, machine_id);
    params.distinguished_name = dn;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let now = SystemTime::now();
    params.not_before = now.into();
    params.not_after = (now + lifetime).into();
    s.ca.sign(params, &csr.public_key).map_err(|e| e.to_string())
}

async fn renew(State(s): State<Shared>, Extension(peer): Extension<PeerCert>, body: axum::body::Bytes) -> Response {
    let Some(machine) = peer.common_name() else {
        return error(StatusCode::UNAUTHORIZED, "a client certificate is required");
    };
    let lifetime = {
        let g = s.lock();
        if g.nixfleet.retired.get(&machine).copied().unwrap_or(false) {
            return error(StatusCode::GONE, "this machine was retired");
        }
        g.cert_lifetime
    };
    let req: RenewRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("bad request body: {e}")),
    };
    // nixfleet renews the same key: a CSR for any other key is refused.
    let same_key = CertificateSigningRequestParams::from_pem(&req.csr)
        .ok()
        .zip(peer.public_key())
        .is_some_and(|(csr, presented)| rcgen::PublicKeyData::der_bytes(&csr.public_key) == presented.as_slice());
    if !same_key {
        return error(
            StatusCode::BAD_REQUEST,
            "the CSR's public key is not the one of the presented certificate",
        );
    }
    match issue(&s, &machine, &req.csr, lifetime) {
        Ok(cert) => {
            let not_after = humantime::format_rfc3339_seconds(SystemTime::now() + lifetime).to_string();
            (StatusCode::OK, Json(RenewResponse { cert, not_after })).into_response()
        }
        Err(e) => error(StatusCode::BAD_REQUEST, &e),
    }
}
