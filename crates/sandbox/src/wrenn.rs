//! wrenn's control plane: host registration, token refresh, heartbeats.
//!
//! Shapes and order are wrenn's (`internal/api/handlers_hosts.go`,
//! `middleware_hosttoken.go`, `pkg/auth/jwt.go`): register with a one-time
//! token (201 with the host, a JWT, a refresh token and PEMs), refresh with
//! the refresh token (200, same shape, the refresh token rotated), heartbeat
//! with `X-Host-Token` (204). The heartbeat checks the token first (401: none,
//! or not valid), then that it is this host's (403 "host ID mismatch"), and
//! only then that the host exists (404). A JWT stays valid until its `exp`,
//! also after a refresh (upstream's are stateless). Errors are
//! `{"error": {"code", "message"}}` with upstream's codes and words. The JWT
//! is not signed: the agent only reads its claims (`typ`, `host_id`, `sub`,
//! `iat`, `exp`), and the sandbox knows the tokens it issued.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;

use crate::Shared;

/// One registered host.
#[derive(Debug, Clone)]
pub struct Host {
    /// The JWT issued last (a test may overwrite it to make it invalid).
    pub jwt: String,
    pub jwt_exp: SystemTime,
    /// JWTs issued before the last one, with their expiry: still valid.
    pub earlier_jwts: Vec<(String, SystemTime)>,
    pub refresh_token: String,
    pub deleted: bool,
    pub heartbeats: u64,
}

#[derive(Debug, Default)]
pub struct Hosts {
    /// Unused one-time registration tokens.
    pub tokens: BTreeSet<String>,
    pub hosts: BTreeMap<String, Host>,
    next: u64,
}

impl Hosts {
    pub fn new_token(&mut self) -> String {
        let t = format!("reg-{}", random_hex(12));
        self.tokens.insert(t.clone());
        t
    }
}

fn random_hex(n: usize) -> String {
    (0..n).map(|_| format!("{:02x}", rand::random::<u8>())).collect()
}

fn b64(v: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}

fn jwt(host_id: &str, lifetime: Duration) -> (String, SystemTime) {
    let now = SystemTime::now();
    let secs = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs();
    let exp = now + lifetime;
    let claims = json!({ "typ": "host", "host_id": host_id, "sub": host_id, "iat": secs(now), "exp": secs(exp) });
    let token = format!(
        "{}.{}.{}",
        b64(b"{\"alg\":\"HS256\",\"typ\":\"JWT\"}"),
        b64(claims.to_string().as_bytes()),
        random_hex(16)
    );
    (token, exp)
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": { "code": code, "message": message } }))).into_response()
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/v1/hosts/register", post(register))
        .route("/v1/hosts/auth/refresh", post(refresh))
        .route("/v1/hosts/{id}/heartbeat", post(heartbeat))
}

#[derive(Deserialize)]
struct RegisterRequest {
    #[serde(default)]
    token: String,
    #[serde(default)]
    arch: String,
    #[serde(default)]
    address: String,
}

/// New JWT, rotated refresh token and a certificate for `id`.
fn grant(s: &Shared, id: &str, lifetime: Duration) -> Result<(Host, serde_json::Value), String> {
    let (token, exp) = jwt(id, lifetime);
    let refresh_token = format!("rt-{}", random_hex(16));
    let issued = s.ca.issue(id, SystemTime::now(), lifetime).map_err(|e| e.to_string())?;
    let body = json!({
        "token": token,
        "refresh_token": refresh_token,
        "cert_pem": issued.cert_pem,
        "key_pem": issued.key_pem,
        "ca_cert_pem": s.ca.cert_pem(),
    });
    Ok((
        Host {
            jwt: token,
            jwt_exp: exp,
            earlier_jwts: Vec::new(),
            refresh_token,
            deleted: false,
            heartbeats: 0,
        },
        body,
    ))
}

async fn register(State(s): State<Shared>, body: axum::body::Bytes) -> Response {
    // Upstream's order and words (wrenn `internal/api/handlers_hosts.go`,
    // `Register`): the body is checked before the token is spent.
    let Ok(req) = serde_json::from_slice::<RegisterRequest>(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "invalid JSON body");
    };
    if req.token.is_empty() {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "token is required");
    }
    if req.address.is_empty() {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "address is required");
    }
    let mut g = s.lock();
    if !g.wrenn.tokens.remove(&req.token) {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "invalid or expired credentials",
        );
    }
    g.wrenn.next += 1;
    let id = format!("host-{}", g.wrenn.next);
    let lifetime = g.cert_lifetime;
    let (host, mut reply) = match grant(&s, &id, lifetime) {
        Ok(x) => x,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &e),
    };
    g.wrenn.hosts.insert(id.clone(), host);
    reply["host"] = json!({ "id": id, "arch": req.arch, "address": req.address, "status": "online" });
    (StatusCode::CREATED, Json(reply)).into_response()
}

#[derive(Deserialize)]
struct RefreshRequest {
    #[serde(default)]
    refresh_token: String,
}

async fn refresh(State(s): State<Shared>, body: axum::body::Bytes) -> Response {
    // Upstream decodes the body itself (no content type needed), then
    // requires the token, then looks it up.
    let Ok(req) = serde_json::from_slice::<RefreshRequest>(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "invalid JSON body");
    };
    if req.refresh_token.is_empty() {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "refresh_token is required");
    }
    let mut g = s.lock();
    let lifetime = g.cert_lifetime;
    let Some(id) = g
        .wrenn
        .hosts
        .iter()
        .find(|(_, h)| !h.deleted && h.refresh_token == req.refresh_token)
        .map(|(id, _)| id.clone())
    else {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "invalid or expired credentials",
        );
    };
    let (mut host, mut reply) = match grant(&s, &id, lifetime) {
        Ok(x) => x,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &e),
    };
    if let Some(old) = g.wrenn.hosts.get(&id) {
        host.heartbeats = old.heartbeats;
        let now = SystemTime::now();
        host.earlier_jwts = old
            .earlier_jwts
            .iter()
            .cloned()
            .chain(std::iter::once((old.jwt.clone(), old.jwt_exp)))
            .filter(|(_, exp)| *exp > now)
            .collect();
    }
    g.wrenn.hosts.insert(id.clone(), host);
    reply["host"] = json!({ "id": id });
    (StatusCode::OK, Json(reply)).into_response()
}

/// The host a JWT was issued to, if it is one the sandbox issued and it
/// has not expired.
fn holder(hosts: &Hosts, token: &str, now: SystemTime) -> Option<String> {
    hosts.hosts.iter().find_map(|(id, h)| {
        let current = h.jwt == token && now < h.jwt_exp;
        let earlier = h.earlier_jwts.iter().any(|(t, exp)| t == token && now < *exp);
        (current || earlier).then(|| id.clone())
    })
}

async fn heartbeat(State(s): State<Shared>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let token = headers.get("x-host-token").and_then(|v| v.to_str().ok()).unwrap_or("");
    if token.is_empty() {
        return error(StatusCode::UNAUTHORIZED, "unauthorized", "X-Host-Token header required");
    }
    let mut g = s.lock();
    let Some(owner) = holder(&g.wrenn, token, SystemTime::now()) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "invalid or expired host token",
        );
    };
    if owner != id {
        return error(StatusCode::FORBIDDEN, "forbidden", "host ID mismatch");
    }
    let Some(host) = g.wrenn.hosts.get_mut(&id).filter(|h| !h.deleted) else {
        return error(StatusCode::NOT_FOUND, "not_found", "host not found");
    };
    host.heartbeats += 1;
    StatusCode::NO_CONTENT.into_response()
}

/// Admin: `POST /admin/wrenn/tokens` → a new one-time token.
pub async fn admin_token(State(s): State<Shared>) -> Json<serde_json::Value> {
    Json(json!({ "token": s.lock().wrenn.new_token() }))
}

/// Admin: `POST /admin/wrenn/hosts/{id}/{delete|revoke-refresh|expire-token}`.
pub async fn admin_host(State(s): State<Shared>, Path((id, action)): Path<(String, String)>) -> Response {
    let mut g = s.lock();
    let Some(h) = g.wrenn.hosts.get_mut(&id) else {
        return (StatusCode::NOT_FOUND, "no such host").into_response();
    };
    match action.as_str() {
        "delete" => h.deleted = true,
        "revoke-refresh" => h.refresh_token = format!("revoked-{}", random_hex(8)),
        // Test-only: upstream's nearest is rotating its signing secret.
        "expire-token" => {
            h.jwt = format!("expired-{}", random_hex(8));
            h.earlier_jwts.clear();
        }
        _ => return (StatusCode::NOT_FOUND, "actions: delete, revoke-refresh, expire-token").into_response(),
    }
    StatusCode::NO_CONTENT.into_response()
}

/// Admin: `GET /admin/wrenn/hosts`.
pub async fn admin_hosts(State(s): State<Shared>) -> Json<serde_json::Value> {
    let g = s.lock();
    Json(json!(g
        .wrenn
        .hosts
        .iter()
        .map(|(id, h)| json!({ "id": id, "heartbeats": h.heartbeats, "deleted": h.deleted }))
        .collect::<Vec<_>>()))
}
