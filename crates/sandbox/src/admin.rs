//! The admin API: plain HTTP on loopback, for tests, the demo and benchmarks.
//!
//! It shapes the world the agents see (lifetimes, retirements, faults) and
//! tells what the agents did (request counts, the serial each request
//! presented). Every route is listed in `docs/protocols.md`.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::faults::Fault;
use crate::Shared;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/admin/ca", get(ca))
        .route("/admin/counts", get(counts))
        .route("/admin/requests", get(requests))
        .route("/admin/faults", post(fault))
        .route("/admin/cert-lifetime", post(lifetime))
        .route("/admin/nixfleet/{machine}/retire", post(nixfleet_retire))
        .route("/admin/wrenn/tokens", post(crate::wrenn::admin_token))
        .route("/admin/wrenn/hosts", get(crate::wrenn::admin_hosts))
        .route("/admin/wrenn/hosts/{id}/{action}", post(crate::wrenn::admin_host))
        .route(
            "/admin/certctl/agents",
            post(crate::certctl::admin_create).get(crate::certctl::admin_list),
        )
        .route("/admin/certctl/agents/{id}/jobs", post(crate::certctl::admin_job))
        .route("/admin/certctl/agents/{id}/{action}", post(crate::certctl::admin_agent))
}

async fn ca(State(s): State<Shared>) -> String {
    s.ca.cert_pem()
}

async fn counts(State(s): State<Shared>) -> Json<serde_json::Value> {
    Json(json!(s.lock().counts))
}

async fn requests(State(s): State<Shared>) -> Json<serde_json::Value> {
    Json(json!(s.lock().seen))
}

async fn fault(State(s): State<Shared>, Json(f): Json<Fault>) -> StatusCode {
    s.lock().add_fault(f);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Lifetime {
    seconds: u64,
}

async fn lifetime(State(s): State<Shared>, Json(l): Json<Lifetime>) -> Response {
    if l.seconds == 0 {
        return (StatusCode::BAD_REQUEST, "seconds must be more than 0").into_response();
    }
    s.lock().cert_lifetime = Duration::from_secs(l.seconds);
    StatusCode::NO_CONTENT.into_response()
}

/// A machine's renewals get 410 from now on (the sandbox's own retirement).
async fn nixfleet_retire(State(s): State<Shared>, Path(machine): Path<String>) -> StatusCode {
    s.lock().nixfleet.retired.insert(machine, true);
    StatusCode::NO_CONTENT
}
