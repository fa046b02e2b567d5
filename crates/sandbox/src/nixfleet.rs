//! nixfleet's control plane: `POST /v1/agent/renew` over mTLS.
//!
//! The agent proves who it is with its current client certificate (the TLS
//! handshake) and sends a CSR signed by its SSH ed25519 host key; the answer
//! is a new short-lived certificate for the same public key and the same
//! machine. The machine id comes from the presented certificate's common
//! name, never from the body, so a client cannot renew someone else.
//!
//! The wire is upstream's (nixfleet-proto `enroll_wire.rs`, the control
//! plane's `server/middleware.rs` and `server/routes/enrollment.rs`):
//! camelCase bodies, `X-Nixfleet-Protocol: 1` on every request, 426 for
//! another major, and in strict mode 400 without the header. Where upstream
//! does what a client might not assume, the sandbox does too:
//! - it sets no serial, so rcgen derives one from the public key: every
//!   certificate of one key has the same serial;
//! - its refusals are bare status codes with empty bodies;
//! - a body of the wrong shape gets the JSON extractor's 422 (400 for bad
//!   JSON, 415 without a JSON content type), with the extractor's text;
//! - revocation is a per-machine cutoff: a certificate whose not-before is
//!   earlier is refused (401), a later one (a new enrolment) passes;
//! - the issued common name is the CSR's.
//!
//! Two checks that nixfleet's wire types describe but its control plane does
//! not enforce can be switched on: that a renewal's key differs from the
//! presented certificate's (key rotation), and that the CSR's common name is
//! the presented certificate's. 410 for a retired machine is the sandbox's
//! own.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use axum::extract::rejection::JsonRejection;
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
#[derive(Default)]
pub struct Machines {
    /// Machines an admin retired: their renewals get 410 Gone.
    pub retired: BTreeMap<String, bool>,
    /// Per machine, the revocation cutoff (seconds since the epoch): a
    /// client certificate whose not-before is earlier gets 401, and only a
    /// new enrolment helps (upstream's `cert_revoked_before`).
    pub revoked_before: BTreeMap<String, i64>,
    /// Which key a renewal's CSR must carry.
    pub renew_key: RenewKey,
    /// Whether a renewal's CSR must name the presented certificate's common
    /// name (the wire types say so; the control plane does not check).
    pub require_same_cn: bool,
    /// A common name stamped on every certificate instead of the CSR's: a
    /// control plane whose records and certificates disagree.
    pub stamp_cn: Option<String>,
    /// Random serials instead of upstream's serials derived from the key.
    pub random_serials: bool,
    /// The events agents reported (`POST /v1/agent/report`), as sent.
    pub reports: Vec<serde_json::Value>,
    /// Upstream's `--strict`: a request without the protocol header is
    /// refused (400) instead of accepted for older agents' sake.
    pub strict: bool,
    /// The fleet's org root key, which signs enrolment tokens.
    org_key: std::sync::OnceLock<ring::signature::Ed25519KeyPair>,
    /// Enrolment token nonces already used (a replay is 409).
    nonces: std::collections::BTreeSet<String>,
}

/// What a renewal's CSR key must be, compared with the presented
/// certificate's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RenewKey {
    /// The same key (today's control plane: the machine's declared SSH host key).
    #[default]
    Same,
    /// Another key (nixfleet-proto's `RenewRequest`: "key rotation is the
    /// point of /renew").
    Differs,
    /// Any key (an older control plane checked nothing).
    Any,
}

impl std::fmt::Debug for Machines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machines")
            .field("retired", &self.retired)
            .field("strict", &self.strict)
            .finish_non_exhaustive()
    }
}

/// Base64 of SHA-256 of a raw ed25519 public key: nixfleet's
/// `expectedPubkeyFingerprint` (`auth/issuance.rs`, `fingerprint`).
pub fn pubkey_fingerprint(raw: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(ring::digest::digest(&ring::digest::SHA256, raw))
}

/// The claims as signed: JCS (RFC 8785) of a flat object of strings, which
/// is the object with its keys sorted and no white space.
fn canonical(claims: &serde_json::Map<String, serde_json::Value>) -> String {
    let sorted: BTreeMap<&String, &serde_json::Value> = claims.iter().collect();
    serde_json::to_string(&sorted).unwrap_or_default()
}

impl Machines {
    fn org_key(&self) -> &ring::signature::Ed25519KeyPair {
        self.org_key.get_or_init(|| {
            let rng = ring::rand::SystemRandom::new();
            let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).expect("the system has randomness");
            ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("a key ring just made")
        })
    }

    /// An enrolment token for `hostname` whose CSR must carry `host_key`
    /// (raw ed25519), valid from `issued_at` to `expires_at`, signed with the
    /// fleet's key as nixfleet's mint tool does: upstream's `BootstrapToken`.
    pub fn mint_token(
        &self,
        hostname: &str,
        host_key: &[u8],
        issued_at: SystemTime,
        expires_at: SystemTime,
    ) -> serde_json::Value {
        use base64::Engine as _;
        let t = |at: SystemTime| humantime::format_rfc3339_seconds(at).to_string();
        let nonce: String = (0..16).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
        let claims = serde_json::json!({
            "hostname": hostname,
            "expectedPubkeyFingerprint": pubkey_fingerprint(host_key),
            "issuedAt": t(issued_at),
            "expiresAt": t(expires_at),
            "nonce": nonce,
        });
        let map = claims.as_object().cloned().unwrap_or_default();
        let key = self.org_key();
        let signature = key.sign(canonical(&map).as_bytes());
        serde_json::json!({
            "version": 1,
            "claims": claims,
            "signature": base64::engine::general_purpose::STANDARD.encode(signature.as_ref()),
        })
    }

    /// Checks a token as nixfleet's `enroll` does; the status and words of a refusal.
    fn admit(
        &mut self,
        token: &serde_json::Value,
        csr_cn: &str,
        csr_key: &[u8],
        now: SystemTime,
    ) -> Result<(), (StatusCode, String)> {
        use base64::Engine as _;
        use ring::signature::KeyPair as _;
        let no = |why: &str| (StatusCode::UNAUTHORIZED, why.to_string());
        if token.get("version").and_then(serde_json::Value::as_u64) != Some(1) {
            return Err((StatusCode::BAD_REQUEST, "unsupported token version".into()));
        }
        let claims = token
            .get("claims")
            .and_then(serde_json::Value::as_object)
            .ok_or_else(|| (StatusCode::BAD_REQUEST, "token has no claims".to_string()))?;
        let claim = |k: &str| claims.get(k).and_then(serde_json::Value::as_str).unwrap_or_default();
        let nonce = claim("nonce").to_string();
        if self.nonces.contains(&nonce) {
            return Err((StatusCode::CONFLICT, "token replay".into()));
        }
        let time = |k: &str| evergreen_core::clock::parse_rfc3339(claim(k));
        match (time("issuedAt"), time("expiresAt")) {
            (Some(from), Some(to)) if from <= now && now < to => {}
            _ => return Err(no("token outside validity window")),
        }
        let signature = token
            .get("signature")
            .and_then(serde_json::Value::as_str)
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
            .unwrap_or_default();
        let org = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ED25519,
            self.org_key().public_key().as_ref().to_vec(),
        );
        if org.verify(canonical(claims).as_bytes(), &signature).is_err() {
            return Err(no("token signature did not verify against the org root key"));
        }
        if csr_cn != claim("hostname") {
            return Err(no("CSR CN does not match token hostname"));
        }
        if csr_key.len() != 32 {
            return Err((StatusCode::BAD_REQUEST, "CSR pubkey is not ed25519".into()));
        }
        if pubkey_fingerprint(csr_key) != claim("expectedPubkeyFingerprint") {
            return Err(no("CSR pubkey fingerprint does not match the token"));
        }
        self.nonces.insert(nonce);
        Ok(())
    }
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
    Router::new()
        .route("/v1/agent/renew", post(renew))
        .route("/v1/enroll", post(enroll))
        .route("/v1/agent/report", post(report))
}

/// The protocol header, as the control plane's middleware checks it.
fn protocol(s: &Shared, headers: &axum::http::HeaderMap) -> Option<Response> {
    match headers.get(PROTOCOL_HEADER).map(|v| v.to_str().unwrap_or("")) {
        Some(PROTOCOL_MAJOR) => None,
        Some(other) => Some(error(
            StatusCode::UPGRADE_REQUIRED,
            &format!("protocol version {other:?} is not supported; this control plane speaks {PROTOCOL_MAJOR}"),
        )),
        None if s.lock().nixfleet.strict => Some(error(StatusCode::BAD_REQUEST, "missing X-Nixfleet-Protocol header")),
        None => None,
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollRequest {
    pub token: serde_json::Value,
    pub csr_pem: String,
}

/// `POST /v1/enroll` (TLS, no client certificate): a machine's first
/// certificate for a bootstrap token, checked as nixfleet's control plane
/// does (`server/routes/enrollment.rs`): replay 409, outside its window or
/// a bad signature 401, a CSR whose CN is not the token's hostname or whose
/// key is not the token's fingerprint 401.
async fn enroll(
    State(s): State<Shared>,
    headers: axum::http::HeaderMap,
    body: Result<Json<EnrollRequest>, JsonRejection>,
) -> Response {
    if let Some(refused) = protocol(&s, &headers) {
        return refused;
    }
    let req = match body {
        Ok(Json(r)) => r,
        Err(rejection) => return rejection.into_response(),
    };
    let Ok(csr) = CertificateSigningRequestParams::from_pem(&req.csr_pem) else {
        return error(StatusCode::BAD_REQUEST, "enroll: parse CSR PEM");
    };
    let Some(cn) = csr_cn(&csr) else {
        return error(StatusCode::BAD_REQUEST, "CSR has no CN");
    };
    let key = rcgen::PublicKeyData::der_bytes(&csr.public_key).to_vec();
    let lifetime = {
        let mut g = s.lock();
        if let Err((status, why)) = g.nixfleet.admit(&req.token, &cn, &key, SystemTime::now()) {
            return error(status, &why);
        }
        g.cert_lifetime
    };
    match issue(&s, &cn, &req.csr_pem, lifetime) {
        Ok(cert_pem) => {
            let not_after = humantime::format_rfc3339_seconds(SystemTime::now() + lifetime).to_string();
            (StatusCode::OK, Json(RenewResponse { cert_pem, not_after })).into_response()
        }
        Err(e) => error(StatusCode::BAD_REQUEST, &e),
    }
}

/// A refusal as upstream's handlers answer one: the status alone, with an
/// empty body (the reason only in the control plane's log).
fn error(status: StatusCode, message: &str) -> Response {
    tracing::debug!("nixfleet: {} {message}", status.as_u16());
    status.into_response()
}

/// Issues a client certificate named `cn` for `csr`'s public key, as
/// upstream's `issue_cert`: client auth only, not-before now (to the
/// second), no serial unless random serials are asked for.
pub fn issue(s: &Shared, cn: &str, csr_pem: &str, lifetime: Duration) -> Result<String, String> {
    let csr = CertificateSigningRequestParams::from_pem(csr_pem).map_err(|e| format!("the CSR does not parse: {e}"))?;
    let (stamp, random) = {
        let g = s.lock();
        (g.nixfleet.stamp_cn.clone(), g.nixfleet.random_serials)
    };
    let cn = stamp.as_deref().unwrap_or(cn);
    let mut params = CertificateParams::new(vec![]).map_err(|e| e.to_string())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let now = SystemTime::UNIX_EPOCH
        + Duration::from_secs(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs(),
        );
    params.not_before = now.into();
    params.not_after = (now + lifetime).into();
    let signed = if random {
        s.ca.sign(params, &csr.public_key)
    } else {
        s.ca.sign_serial_of_key(params, &csr.public_key)
    };
    signed.map_err(|e| e.to_string())
}

/// The common name a CSR asks for.
fn csr_cn(csr: &CertificateSigningRequestParams) -> Option<String> {
    match csr.params.distinguished_name.get(&DnType::CommonName) {
        Some(rcgen::DnValue::Utf8String(s)) => Some(s.clone()),
        Some(rcgen::DnValue::PrintableString(s)) => Some(s.as_str().to_string()),
        _ => None,
    }
}

async fn renew(
    State(s): State<Shared>,
    Extension(peer): Extension<PeerCert>,
    headers: axum::http::HeaderMap,
    body: Result<Json<RenewRequest>, JsonRejection>,
) -> Response {
    if let Some(refused) = protocol(&s, &headers) {
        return refused;
    }
    let Some(machine) = peer.common_name() else {
        return error(StatusCode::UNAUTHORIZED, "a client certificate is required");
    };
    let (lifetime, renew_key, same_cn) = {
        let g = s.lock();
        if g.nixfleet.retired.get(&machine).copied().unwrap_or(false) {
            return error(StatusCode::GONE, "this machine was retired");
        }
        let cutoff = g.nixfleet.revoked_before.get(&machine).copied();
        if cutoff.is_some_and(|c| peer.not_before().is_none_or(|nb| nb < c)) {
            return error(StatusCode::UNAUTHORIZED, "this certificate was revoked");
        }
        (g.cert_lifetime, g.nixfleet.renew_key, g.nixfleet.require_same_cn)
    };
    let req = match body {
        Ok(Json(r)) => r,
        Err(rejection) => return rejection.into_response(),
    };
    let Ok(csr) = CertificateSigningRequestParams::from_pem(&req.csr_pem) else {
        return error(StatusCode::BAD_REQUEST, "renew: parse CSR PEM");
    };
    let csr_key = rcgen::PublicKeyData::der_bytes(&csr.public_key).to_vec();
    // Today's control plane binds the machine to its ed25519 host key.
    if renew_key == RenewKey::Same && csr_key.len() != 32 {
        return error(StatusCode::BAD_REQUEST, "renew: CSR pubkey is not ed25519");
    }
    let presented = peer.public_key().unwrap_or_default();
    let key_ok = match renew_key {
        RenewKey::Same => csr_key == presented,
        RenewKey::Differs => csr_key != presented,
        RenewKey::Any => true,
    };
    if !key_ok {
        return error(
            StatusCode::UNAUTHORIZED,
            &format!("the CSR's public key breaks the rule {renew_key:?} against the presented certificate's"),
        );
    }
    let Some(cn) = csr_cn(&csr) else {
        return error(StatusCode::BAD_REQUEST, "CSR has no CN");
    };
    if same_cn && cn != machine {
        return error(
            StatusCode::UNAUTHORIZED,
            "the CSR's CN is not the presented certificate's",
        );
    }
    match issue(&s, &cn, &req.csr_pem, lifetime) {
        Ok(cert_pem) => {
            let not_after = humantime::format_rfc3339_seconds(SystemTime::now() + lifetime).to_string();
            (StatusCode::OK, Json(RenewResponse { cert_pem, not_after })).into_response()
        }
        Err(e) => error(StatusCode::BAD_REQUEST, &e),
    }
}

/// `POST /v1/agent/report` (mTLS): an event an agent reports, such as
/// `renewal-failed`. Upstream answers `{"eventId"}`, and 403 when the
/// report's hostname is not the presented certificate's machine.
async fn report(
    State(s): State<Shared>,
    Extension(peer): Extension<PeerCert>,
    headers: axum::http::HeaderMap,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Response {
    if let Some(refused) = protocol(&s, &headers) {
        return refused;
    }
    let Some(machine) = peer.common_name() else {
        return error(StatusCode::UNAUTHORIZED, "a client certificate is required");
    };
    let event = match body {
        Ok(Json(v)) => v,
        Err(rejection) => return rejection.into_response(),
    };
    let hostname = event
        .get("hostname")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    if hostname != machine && !evergreen_core::sources::nixfleet::names_machine(&machine, hostname) {
        return error(StatusCode::FORBIDDEN, "report hostname is not the certificate's");
    }
    let id = {
        let mut g = s.lock();
        if g.nixfleet.reports.len() < 10_000 {
            g.nixfleet.reports.push(event);
        }
        g.nixfleet.reports.len()
    };
    (
        StatusCode::OK,
        Json(serde_json::json!({ "eventId": format!("evt-{id}") })),
    )
        .into_response()
}
