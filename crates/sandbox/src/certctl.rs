//! certctl's control plane: agents, heartbeats, work polls, the CSR job flow,
//! deployments, job status reports and discovery reports.
//!
//! Paths, bodies and status codes follow upstream certctl's agent API
//! (`internal/api/handler/agents.go` and `discovery.go`, with its agent
//! `cmd/agent/main.go`): every request carries `Authorization: Bearer <API
//! key>` (a wrong key is 401); only the heartbeat tells a retired agent 410
//! Gone (and an unknown one 404); the other endpoints answer a failure of
//! their service with 500 and their own words ("Failed to submit CSR"),
//! a certificate that is not there with 404. A certificate is asked for by an admin (a CSR job,
//! `AwaitingCSR`); the agent's CSR is signed with the current certificate
//! lifetime, the CSR job completes and a `Deployment` job is queued for the
//! certificate's target. Like certctl's server, the sandbox renews on its
//! own schedule: a certificate past half its lifetime gets a new CSR job at
//! the agent's next poll. Errors are upstream's `{"error": "<status text>",
//! "message": "…", "request_id": "…"}`.

use std::collections::BTreeMap;
use std::time::SystemTime;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rcgen::CertificateSigningRequestParams;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::{Inner, Shared};

/// One job, as the work poll lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Job {
    pub id: String,
    /// `Renewal` (a CSR job) or `Deployment`.
    #[serde(rename = "type")]
    pub kind: String,
    pub certificate_id: String,
    pub common_name: String,
    pub sans: Vec<String>,
    pub target_id: String,
    /// `AwaitingCSR`, `Pending`, `Running`, `Completed` or `Failed`.
    pub status: String,
    /// The error text of a failed job, as the agent reported it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Every status the agent reported for it, in order (for tests).
    #[serde(skip)]
    pub reported: Vec<String>,
}

/// A managed certificate and its latest signed version.
#[derive(Debug, Clone, Default)]
pub struct Certificate {
    pub common_name: String,
    pub sans: Vec<String>,
    pub target_id: String,
    /// Leaf then CA, PEM; `None` until a CSR was signed.
    pub pem: Option<String>,
    pub versions: u32,
}

/// One agent.
#[derive(Debug, Clone, Default)]
pub struct Agent {
    pub api_key: String,
    pub retired: bool,
    pub heartbeats: u64,
    /// The body of the last heartbeat.
    pub last_heartbeat: Option<Value>,
    pub polls: u64,
    pub jobs: Vec<Job>,
    pub certificates: BTreeMap<String, Certificate>,
    pub discoveries: Vec<Value>,
}

#[derive(Debug, Default)]
pub struct Agents {
    pub agents: BTreeMap<String, Agent>,
    /// Every API key handed out. Upstream's keys are the server's, not the
    /// agent's: one stays valid when its agent is deleted.
    keys: std::collections::BTreeSet<String>,
    next: u64,
    next_job: u64,
}

impl Agents {
    /// A new agent: its id and API key.
    pub fn create(&mut self) -> (String, String) {
        self.next += 1;
        let id = format!("agent-{}", self.next);
        let key = format!("cc-{}", random_hex(16));
        self.keys.insert(key.clone());
        self.agents.insert(
            id.clone(),
            Agent {
                api_key: key.clone(),
                ..Agent::default()
            },
        );
        (id, key)
    }

    /// Asks `agent` for a new key and CSR for `certificate_id`, deployed to
    /// `target_id` once signed. Returns the job id.
    pub fn request(
        &mut self,
        agent: &str,
        certificate_id: &str,
        target_id: &str,
        common_name: &str,
        sans: &[String],
    ) -> Result<String, String> {
        self.next_job += 1;
        let id = format!("job-{}", self.next_job);
        let a = self.agents.get_mut(agent).ok_or_else(|| format!("no agent {agent}"))?;
        let c = a.certificates.entry(certificate_id.to_string()).or_default();
        c.common_name = common_name.to_string();
        c.sans = sans.to_vec();
        c.target_id = target_id.to_string();
        a.jobs.push(Job {
            id: id.clone(),
            kind: "Renewal".into(),
            certificate_id: certificate_id.into(),
            common_name: common_name.into(),
            sans: sans.to_vec(),
            target_id: target_id.into(),
            status: "AwaitingCSR".into(),
            error: None,
            reported: Vec::new(),
        });
        Ok(id)
    }

    fn queue_deployment(&mut self, agent: &str, certificate_id: &str) {
        self.next_job += 1;
        let id = format!("job-{}", self.next_job);
        let Some(a) = self.agents.get_mut(agent) else { return };
        let Some(c) = a.certificates.get(certificate_id) else {
            return;
        };
        let job = Job {
            id,
            kind: "Deployment".into(),
            certificate_id: certificate_id.into(),
            common_name: c.common_name.clone(),
            sans: c.sans.clone(),
            target_id: c.target_id.clone(),
            status: "Pending".into(),
            error: None,
            reported: Vec::new(),
        };
        a.jobs.push(job);
    }

    /// certctl renews on the server's schedule: a signed certificate past
    /// half its lifetime, with no job under way, gets a new CSR job (checked
    /// at each work poll, so the poll that finds it due also gets the job).
    pub fn renew_due(&mut self, agent: &str, now: SystemTime) {
        let Some(a) = self.agents.get(agent) else { return };
        let due: Vec<(String, Certificate)> = a
            .certificates
            .iter()
            .filter(|(id, c)| {
                let busy = a.jobs.iter().any(|j| {
                    &j.certificate_id == *id && ["AwaitingCSR", "Pending", "Running"].contains(&j.status.as_str())
                });
                !busy && c.pem.as_deref().and_then(half_life).is_some_and(|t| now >= t)
            })
            .map(|(id, c)| (id.clone(), c.clone()))
            .collect();
        for (id, c) in due {
            let _ = self.request(agent, &id, &c.target_id, &c.common_name, &c.sans);
        }
    }

    /// Every job of `agent`, for tests.
    pub fn jobs(&self, agent: &str) -> Vec<Job> {
        self.agents.get(agent).map(|a| a.jobs.clone()).unwrap_or_default()
    }
}

/// The middle of a PEM certificate's validity.
fn half_life(pem: &str) -> Option<SystemTime> {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
    let (_, c) = x509_parser::parse_x509_certificate(&p.contents).ok()?;
    let nb = c.validity().not_before.timestamp();
    let na = c.validity().not_after.timestamp();
    let mid = u64::try_from(nb + (na - nb) / 2).ok()?;
    Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(mid))
}

fn random_hex(n: usize) -> String {
    (0..n).map(|_| format!("{:02x}", rand::random::<u8>())).collect()
}

/// certctl's error shape (`internal/api/handler`): the status text, the
/// words, and a request id.
fn error(status: StatusCode, message: &str) -> Response {
    let text = status.canonical_reason().unwrap_or("Error");
    (
        status,
        Json(json!({ "error": text, "message": message, "request_id": format!("req-{}", random_hex(8)) })),
    )
        .into_response()
}

/// certctl's `Error` (without a request id), used by its discovery handler.
fn plain_error(status: StatusCode, message: &str) -> Response {
    let text = status.canonical_reason().unwrap_or("Error");
    (status, Json(json!({ "error": text, "message": message }))).into_response()
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/agents/{id}/heartbeat", post(heartbeat))
        .route("/api/v1/agents/{id}/work", get(work))
        .route("/api/v1/agents/{id}/csr", post(csr))
        .route("/api/v1/agents/{id}/certificates/{cert}", get(certificate))
        .route("/api/v1/agents/{id}/jobs/{job}/status", post(job_status))
        .route("/api/v1/agents/{id}/discoveries", post(discoveries))
}

/// A refused request: its status and error text.
type Refusal = (StatusCode, &'static str);

/// Who is asking, once the key was accepted.
enum Caller<'a> {
    Agent(&'a mut Agent),
    /// An agent id the server does not know: upstream's service fails, and
    /// each endpoint says so its own way.
    Unknown,
    Retired,
}

/// Upstream's auth middleware (`internal/auth/middleware.go`), which runs
/// before every handler: `http.Error` with a JSON text as a `text/plain`
/// body, and `WWW-Authenticate` when the header is missing. Its keys are
/// the server's, not an agent's: any valid key serves any agent id.
fn authorize(g: &Inner, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let refuse = |text: &str, challenge: bool| {
        let mut r = (
            StatusCode::UNAUTHORIZED,
            [
                (axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            format!("{}\n", json!({ "error": text })),
        )
            .into_response();
        if challenge {
            r.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"certctl\""),
            );
        }
        r
    };
    let Some(header) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Err(Box::new(refuse("Authorization header required", true)));
    };
    let Some(key) = header.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")) else {
        return Err(Box::new(refuse(
            "Invalid Authorization header format, expected: Bearer <token>",
            false,
        )));
    };
    if !g.certctl.keys.contains(key) {
        return Err(Box::new(refuse("Invalid API key", false)));
    }
    Ok(())
}

fn caller<'a>(g: &'a mut Inner, id: &str) -> Caller<'a> {
    match g.certctl.agents.get_mut(id) {
        Some(a) if a.retired => Caller::Retired,
        Some(a) => Caller::Agent(a),
        None => Caller::Unknown,
    }
}

/// The live agent behind a request, or the endpoint's own failure.
fn live<'a>(g: &'a mut Inner, id: &str, fails: Refusal) -> Result<&'a mut Agent, Refusal> {
    match caller(g, id) {
        Caller::Agent(a) => Ok(a),
        Caller::Unknown | Caller::Retired => Err(fails),
    }
}

async fn heartbeat(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut g = s.lock();
    if let Err(refused) = authorize(&g, &headers) {
        return *refused;
    }
    let a = match caller(&mut g, &id) {
        Caller::Agent(a) => a,
        Caller::Retired => return error(StatusCode::GONE, "Agent has been retired"),
        Caller::Unknown => return error(StatusCode::NOT_FOUND, "Agent not found"),
    };
    // The metadata is optional upstream: a body that is not the object is ignored.
    a.heartbeats += 1;
    a.last_heartbeat = serde_json::from_slice::<Value>(&body).ok().filter(Value::is_object);
    Json(json!({ "status": "heartbeat_recorded" })).into_response()
}

async fn work(State(s): State<Shared>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let mut g = s.lock();
    if let Err(refused) = authorize(&g, &headers) {
        return *refused;
    }
    match caller(&mut g, &id) {
        Caller::Agent(_) => {}
        // Upstream looks the agent up first (`GetPendingWork`), and a
        // retired one is still there: it has no work.
        Caller::Retired => return Json(json!({ "jobs": [], "count": 0 })).into_response(),
        Caller::Unknown => return error(StatusCode::INTERNAL_SERVER_ERROR, "Failed to get pending work"),
    }
    g.certctl.renew_due(&id, SystemTime::now());
    let Some(a) = g.certctl.agents.get_mut(&id) else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "Failed to get pending work");
    };
    a.polls += 1;
    // As certctl does (`internal/repository/postgres/job.go`): a pending
    // deployment is claimed by the poll that returns it, and comes back as
    // Running exactly once; a job awaiting a CSR comes back every time.
    for j in a.jobs.iter_mut().filter(|j| j.status == "Pending") {
        j.status = "Running".into();
        j.reported.push("claimed".into());
    }
    let jobs: Vec<&Job> = a
        .jobs
        .iter()
        .filter(|j| j.status == "AwaitingCSR" || j.reported.last().is_some_and(|r| r == "claimed"))
        .collect();
    let body = json!({ "jobs": jobs, "count": jobs.len() });
    for j in a
        .jobs
        .iter_mut()
        .filter(|j| j.reported.last().is_some_and(|r| r == "claimed"))
    {
        j.reported.push("delivered".into());
    }
    Json(body).into_response()
}

#[derive(Deserialize)]
struct CsrRequest {
    #[serde(default)]
    csr_pem: String,
    #[serde(default)]
    certificate_id: String,
}

/// `POST …/csr`, as upstream's `SubmitCSR`: the body is validated first
/// (400 only for a missing CSR or one without the PEM header), then the
/// service signs it: for the job waiting for it (and queues the
/// deployment), or ad hoc when none waits; a CSR without a certificate id
/// is only accepted. A CSR that does not parse is the service's failure: 500.
async fn csr(State(s): State<Shared>, Path(id): Path<String>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let mut g = s.lock();
    if let Err(refused) = authorize(&g, &headers) {
        return *refused;
    }
    let Ok(req) = serde_json::from_slice::<CsrRequest>(&body) else {
        return error(StatusCode::BAD_REQUEST, "Invalid request body");
    };
    if req.csr_pem.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "csr_pem is required");
    }
    if !req.csr_pem.trim().starts_with("-----BEGIN CERTIFICATE REQUEST-----") {
        return error(
            StatusCode::BAD_REQUEST,
            "csr_pem must be a valid PEM-encoded certificate request",
        );
    }
    let lifetime = g.cert_lifetime;
    const FAILED: Refusal = (StatusCode::INTERNAL_SERVER_ERROR, "Failed to submit CSR");
    let a = match live(&mut g, &id, FAILED) {
        Ok(a) => a,
        Err((status, why)) => return error(status, why),
    };
    if req.certificate_id.is_empty() {
        return (StatusCode::ACCEPTED, Json(json!({ "status": "csr_accepted" }))).into_response();
    }
    let Ok(parsed) = CertificateSigningRequestParams::from_pem(&req.csr_pem) else {
        return error(FAILED.0, FAILED.1);
    };
    let waiting = a
        .jobs
        .iter()
        .position(|j| j.certificate_id == req.certificate_id && j.status == "AwaitingCSR");
    if waiting.is_none() && !a.certificates.contains_key(&req.certificate_id) {
        // A certificate the server does not manage.
        return error(FAILED.0, FAILED.1);
    }
    let mut params = parsed.params;
    let now = SystemTime::now();
    params.not_before = now.into();
    params.not_after = (now + lifetime).into();
    let leaf = match s.ca.sign(params, &parsed.public_key) {
        Ok(p) => p,
        Err(_) => return error(FAILED.0, FAILED.1),
    };
    let cert = a.certificates.entry(req.certificate_id.clone()).or_default();
    cert.pem = Some(format!("{}\n{}", leaf.trim(), s.ca.cert_pem().trim()));
    cert.versions += 1;
    if let Some(i) = waiting {
        a.jobs[i].status = "Completed".into();
        g.certctl.queue_deployment(&id, &req.certificate_id);
    }
    // Without a waiting job upstream signs it all the same (its "ad-hoc CSR
    // submission"), and queues no deployment.
    (StatusCode::ACCEPTED, Json(json!({ "status": "csr_signed" }))).into_response()
}

async fn certificate(
    State(s): State<Shared>,
    Path((id, cert)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut g = s.lock();
    if let Err(refused) = authorize(&g, &headers) {
        return *refused;
    }
    const MISSING: Refusal = (StatusCode::NOT_FOUND, "Certificate not found or not ready");
    let a = match live(&mut g, &id, MISSING) {
        Ok(a) => a,
        Err((status, why)) => return error(status, why),
    };
    match a.certificates.get(&cert).and_then(|c| c.pem.clone()) {
        Some(pem) => Json(json!({ "certificate_pem": pem })).into_response(),
        None => error(MISSING.0, MISSING.1),
    }
}

#[derive(Deserialize)]
struct StatusReport {
    #[serde(default)]
    status: String,
    #[serde(default)]
    error: Option<String>,
}

async fn job_status(
    State(s): State<Shared>,
    Path((_agent, job)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut g = s.lock();
    if let Err(refused) = authorize(&g, &headers) {
        return *refused;
    }
    // Upstream (`ReportJobStatus`) validates the body, then looks the job
    // up by its id alone: no agent or owner check, any status passed on.
    let Ok(r) = serde_json::from_slice::<StatusReport>(&body) else {
        return error(StatusCode::BAD_REQUEST, "Invalid request body");
    };
    if r.status.is_empty() {
        return error(StatusCode::BAD_REQUEST, "Status is required");
    }
    let Some(j) = g
        .certctl
        .agents
        .values_mut()
        .flat_map(|a| a.jobs.iter_mut())
        .find(|j| j.id == job)
    else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "Failed to update job status");
    };
    j.reported.push(r.status.clone());
    j.status = r.status;
    j.error = r.error;
    Json(json!({ "status": "updated" })).into_response()
}

async fn discoveries(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut g = s.lock();
    if let Err(refused) = authorize(&g, &headers) {
        return *refused;
    }
    // Upstream's discovery handler answers with `Error`: no request id.
    let m = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return plain_error(StatusCode::BAD_REQUEST, "invalid request body: not an object"),
        Err(e) => return plain_error(StatusCode::BAD_REQUEST, &format!("invalid request body: {e}")),
    };
    let n = m.get("certificates").and_then(Value::as_array).map_or(0, Vec::len);
    let errors = m.get("errors").and_then(Value::as_array).map_or(0, Vec::len);
    if n == 0 && errors == 0 {
        // The service's explicit check: why agents never send an empty report.
        return plain_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "failed to process discovery report: report must contain at least one certificate or error",
        );
    }
    let a = match live(
        &mut g,
        &id,
        (StatusCode::INTERNAL_SERVER_ERROR, "failed to process discovery report"),
    ) {
        Ok(a) => a,
        Err((status, why)) => return plain_error(status, why),
    };
    a.discoveries.push(Value::Object(m));
    // Upstream answers with the scan it recorded.
    let scan = json!({
        "id": format!("scan-{}", random_hex(8)),
        "agent_id": id,
        "certificates_found": n,
        "errors_count": errors,
    });
    (StatusCode::ACCEPTED, Json(scan)).into_response()
}

// --- admin -------------------------------------------------------------

/// Admin: `POST /admin/certctl/agents` → `{"id", "api_key"}`.
pub async fn admin_create(State(s): State<Shared>) -> Json<Value> {
    let (id, key) = s.lock().certctl.create();
    Json(json!({ "id": id, "api_key": key }))
}

/// Admin: `GET /admin/certctl/agents`.
pub async fn admin_list(State(s): State<Shared>) -> Json<Value> {
    let g = s.lock();
    Json(json!(g
        .certctl
        .agents
        .iter()
        .map(|(id, a)| json!({
            "id": id,
            "retired": a.retired,
            "heartbeats": a.heartbeats,
            "last_heartbeat": a.last_heartbeat,
            "polls": a.polls,
            "jobs": a.jobs,
            "discoveries": a.discoveries.len(),
        }))
        .collect::<Vec<_>>()))
}

/// Admin: `POST /admin/certctl/agents/{id}/{retire|delete}`.
pub async fn admin_agent(State(s): State<Shared>, Path((id, action)): Path<(String, String)>) -> Response {
    let mut g = s.lock();
    match action.as_str() {
        "retire" => match g.certctl.agents.get_mut(&id) {
            Some(a) => a.retired = true,
            None => return (StatusCode::NOT_FOUND, "no such agent").into_response(),
        },
        "delete" => {
            if g.certctl.agents.remove(&id).is_none() {
                return (StatusCode::NOT_FOUND, "no such agent").into_response();
            }
        }
        _ => return (StatusCode::NOT_FOUND, "actions: retire, delete").into_response(),
    }
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
pub struct JobRequest {
    certificate_id: String,
    target_id: String,
    common_name: String,
    #[serde(default)]
    sans: Vec<String>,
}

/// Admin: `POST /admin/certctl/agents/{id}/jobs` → `{"job_id"}`: a CSR job.
pub async fn admin_job(State(s): State<Shared>, Path(id): Path<String>, Json(r): Json<JobRequest>) -> Response {
    match s
        .lock()
        .certctl
        .request(&id, &r.certificate_id, &r.target_id, &r.common_name, &r.sans)
    {
        Ok(job) => Json(json!({ "job_id": job })).into_response(),
        Err(e) => (StatusCode::NOT_FOUND, e).into_response(),
    }
}
