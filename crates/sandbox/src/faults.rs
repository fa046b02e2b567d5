//! Request accounting and injected faults, in front of every endpoint.
//!
//! Each request is counted under `METHOD /path` with the serial of the client
//! certificate it came with. A queued fault whose path prefix matches takes
//! the request instead of the endpoint: a status (with any body and content
//! type, e.g. a 500 with an HTML page), a delay before the real answer, a
//! dropped connection (the response body breaks off), or a 200 whose body is
//! not JSON.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::tls::PeerCert;
use crate::Shared;

/// What a fault does to the request it takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer with this status and body instead of the endpoint.
    Status {
        status: u16,
        #[serde(default)]
        body: String,
        #[serde(default)]
        content_type: Option<String>,
    },
    /// Wait this long, then let the endpoint answer.
    Delay { ms: u64 },
    /// Start a 200 response and break the connection before the body ends.
    Drop,
    /// A 200 with a body that is not JSON.
    Malformed,
}

/// One injected fault: it takes the next `count` requests under `path_prefix`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    #[serde(default)]
    pub path_prefix: String,
    #[serde(default = "one")]
    pub count: u32,
    #[serde(flatten)]
    pub kind: FaultKind,
}

fn one() -> u32 {
    1
}

/// One request as the sandbox saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub endpoint: String,
    /// Serial (hex) of the client certificate presented, if any.
    pub serial: Option<String>,
    /// SHA-256 (hex) of the client certificate presented, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Milliseconds since the sandbox started.
    pub at_ms: u64,
}

pub async fn layer(State(s): State<Shared>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let endpoint = format!("{} {path}", req.method());
    let peer = req.extensions().get::<PeerCert>();
    let (serial, fingerprint) = (peer.and_then(PeerCert::serial), peer.and_then(PeerCert::fingerprint));
    let fault = {
        let mut g = s.lock();
        g.record(Seen {
            endpoint,
            serial,
            fingerprint,
            at_ms: s.started.elapsed().as_millis() as u64,
        });
        g.take_fault(&path)
    };
    match fault {
        None => next.run(req).await,
        Some(FaultKind::Delay { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            next.run(req).await
        }
        Some(FaultKind::Status {
            status,
            body,
            content_type,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let ct = content_type.unwrap_or_else(|| "text/plain".into());
            (status, [(header::CONTENT_TYPE, ct)], body).into_response()
        }
        Some(FaultKind::Malformed) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"certificate\": \"-----BEGIN CERT",
        )
            .into_response(),
        Some(FaultKind::Drop) => {
            let chunks: Vec<Result<&'static str, std::io::Error>> = vec![
                Ok("{\"partial\": "),
                Err(std::io::Error::other("connection dropped by an injected fault")),
            ];
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::CONTENT_LENGTH, "4096")
                .body(Body::from_stream(futures_util::stream::iter(chunks)))
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}
