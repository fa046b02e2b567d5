//! nixfleet's control plane: `POST /v1/agent/renew` over mTLS.
//!
//! The agent proves who it is with its current client certificate (the TLS
//! handshake) and sends a CSR signed by its SSH ed25519 host key; the answer
//! is a new short-lived certificate for the same public key and the same
//! machine. The machine id comes from the presented certificate's common
//! name, never from the body, so a client cannot renew someone else.
//!
//! The wire is upstream's (nixfleet-proto `enroll_wire.rs`, the control
//! plane's `server/middleware.rs`): camelCase bodies, `X-Nixfleet-Protocol:
//! 1` on every request, 426 for another major, and in strict mode 400
//! without the header. 410 for a retired machine is the sandbox's own: a
//! real control plane revokes a machine, and answers it 401.

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
    /// Upstream's `--strict`: a request without the protocol header is
    /// refused (400) instead of accepted for older agents' sake.
    pub strict: bool,
}

/// The protocol header and the major this control plane speaks.
pub const PROTOCOL_HEADER: &str = "x-nixfleet-protocol";
pub const PROTOCOL_MAJOR: &str = "1";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewRequest {
    /// PKCS#10 CSR, PEM.
    pub csr_pem: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewResponse {
    /// The new client certificate, PEM.
    pub cert_pem: String,
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

async fn renew(
    State(s): State<Shared>,
    Extension(peer): Extension<PeerCert>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    match headers.get(PROTOCOL_HEADER).map(|v| v.to_str().unwrap_or("")) {
        Some(PROTOCOL_MAJOR) => {}
        Some(other) => {
            return error(
                StatusCode::UPGRADE_REQUIRED,
                &format!("protocol version {other:?} is not supported; this control plane speaks {PROTOCOL_MAJOR}"),
            )
        }
        None if s.lock().nixfleet.strict => {
            return error(StatusCode::BAD_REQUEST, "missing X-Nixfleet-Protocol header")
        }
        None => {}
    }
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
    let same_key = CertificateSigningRequestParams::from_pem(&req.csr_pem)
        .ok()
        .zip(peer.public_key())
        .is_some_and(|(csr, presented)| rcgen::PublicKeyData::der_bytes(&csr.public_key) == presented.as_slice());
    if !same_key {
        return error(
            StatusCode::BAD_REQUEST,
            "the CSR's public key is not the one of the presented certificate",
        );
    }
    match issue(&s, &machine, &req.csr_pem, lifetime) {
        Ok(cert_pem) => {
            let not_after = humantime::format_rfc3339_seconds(SystemTime::now() + lifetime).to_string();
            (StatusCode::OK, Json(RenewResponse { cert_pem, not_after })).into_response()
        }
        Err(e) => error(StatusCode::BAD_REQUEST, &e),
    }
}
