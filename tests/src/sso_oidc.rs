//! A minimal AWS SSO-OIDC `CreateToken` endpoint on loopback, for the
//! aws_sso kind and botocore. PyPI's `moto` does not serve SSO-OIDC, so this
//! is the one server of the tests written here: it speaks the wire shape
//! botocore uses (POST /token, JSON in and out, errors as HTTP 400 with
//! `error` in the body and `x-amzn-ErrorType`), and behaves as the real one
//! does where it matters: each refresh rotates the refresh token, and an
//! old one is refused with `invalid_grant`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

/// What the server has seen and will do.
#[derive(Debug, Default)]
pub struct Seen {
    /// Every request body, in order.
    pub requests: Vec<Value>,
    /// The refresh token it accepts next.
    pub current: String,
    /// How many tokens it has issued.
    pub issued: u32,
    /// Refuse every refresh: the session has ended.
    pub ended: bool,
    /// The access tokens' lifetime, in seconds.
    pub expires_in: u64,
}

pub struct SsoOidc {
    pub url: String,
    pub seen: Arc<Mutex<Seen>>,
    _server: tokio::task::JoinHandle<()>,
}

impl SsoOidc {
    /// Serves on a free loopback port; `refresh` is the refresh token the
    /// cache holds at first.
    pub async fn start(refresh: &str, expires_in: u64) -> SsoOidc {
        let seen = Arc::new(Mutex::new(Seen {
            current: refresh.to_string(),
            expires_in,
            ..Seen::default()
        }));
        let app = Router::new().route("/token", post(token)).with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        SsoOidc {
            url,
            seen,
            _server: server,
        }
    }

    /// From now on every refresh is refused: the session has ended.
    pub fn end_session(&self) {
        self.seen.lock().unwrap().ended = true;
    }

    pub fn requests(&self) -> Vec<Value> {
        self.seen.lock().unwrap().requests.clone()
    }
}

fn refused(code: &str, exception: &str, description: &str) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert("x-amzn-ErrorType", exception.parse().unwrap());
    (
        StatusCode::BAD_REQUEST,
        headers,
        Json(json!({"error": code, "error_description": description})),
    )
        .into_response()
}

async fn token(State(seen): State<Arc<Mutex<Seen>>>, body: Json<Value>) -> Response {
    let mut s = seen.lock().unwrap();
    s.requests.push(body.0.clone());
    let field = |k: &str| body.0.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    if field("grantType") != "refresh_token" || field("clientId").is_empty() || field("clientSecret").is_empty() {
        return refused(
            "invalid_request",
            "InvalidRequestException",
            "grantType, clientId and clientSecret are required",
        );
    }
    if s.ended || field("refreshToken") != s.current {
        return refused(
            "invalid_grant",
            "InvalidGrantException",
            "Invalid refresh token provided",
        );
    }
    s.issued += 1;
    let n = s.issued;
    s.current = format!("RT-SECRET-{n}");
    Json(json!({
        "accessToken": format!("AT-SECRET-{n}"),
        "tokenType": "Bearer",
        "expiresIn": s.expires_in,
        "refreshToken": s.current,
        "idToken": "",
    }))
    .into_response()
}
