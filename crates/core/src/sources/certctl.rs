//! A certctl agent: heartbeats, work polls, CSR and deployment
//! jobs, and certificate discovery, against a certctl control plane.
//!
//! Why it exists: certctl renews certificates on the server's schedule, but
//! only an agent on the machine can make the keys (they never leave it),
//! deploy what the server signed, and tell the server it is alive and what
//! certificates lie around. Evergreen runs that agent, so the certificates it
//! deploys are watched and shown like every other credential, and a control
//! plane that stops answering or retires the agent is seen at once.
//!
//! As certctl's own agent (`cmd/agent`) does:
//! - HTTPS only (the config check refuses `http://` before any network call),
//!   TLS 1.3 minimum, an optional CA bundle that fails loudly when unreadable
//!   or empty, `Authorization: Bearer <API key>`; the key is read from its
//!   file (or variable) at every request and never shown anywhere.
//! - A heartbeat every 60 s with {version, hostname, os, architecture,
//!   ip_address} and a work poll every 30 s; the first of each after a startup
//!   jitter in [0, interval), drawn independently, then ±10 % per tick. After
//!   failures (heartbeats and polls alike, as certctl's agent counts them) the next
//!   poll waits consecutive_failures × poll interval, capped at 5 minutes.
//! - 410 Gone from the control plane: the agent was retired. Terminal: the
//!   credential shows `retired`, and not one more request is sent.
//! - A CSR job (`AwaitingCSR`): a P-256 key is made here, in the key
//!   directory (0700; keys 0600), and only the CSR is sent. A deployment job:
//!   the signed certificate is fetched, checked (it parses, its key is the one
//!   made for it, it has not expired), and written to its target atomically;
//!   deployments to one target run in the order handed out (the target ends
//!   with the later one), different targets at once. Every job's outcome is reported,
//!   with the error text when it failed.
//! - Discovery: the configured directories are scanned every 6 h (and on
//!   demand, with `evergreen renew NAME`) and the certificates found are
//!   reported. Keys are never read into a report.
//!
//! Beyond certctl's agent: the server can only deploy to targets configured here
//! (target id → file); a path it names is never written. A bad certificate
//! overwrites nothing, and the previous pair is kept as `.bak`.
//!
//! How it maps onto the engine: the credential's lifetime is the earliest
//! expiry among its targets. The heartbeat loop carries the agent's own
//! timing ([`Source::next_beat`]); a poll that finds work asks the scheduler
//! for a renewal ([`Beat::renew`]) and the renewal runs the jobs, so a
//! deployment is a renewal with its history, events and retries, and a
//! failing control plane shows as `failing` with the time of the next poll.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rcgen::KeyPair;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{Beat, Failure, FailureClass, Heartbeat, Observation, RenewRequest, Renewed, Source};
use crate::backoff::{self, Backoff, Growth};
use crate::clock::rfc3339;
use crate::config::{CertctlSpec, CertctlTarget, TokenSource};
use crate::fsutil::{self, SECRET_FILE_MODE};
use crate::http::{self, ClientOptions};
use crate::model::Kind;
use crate::pair::Pair;

/// ±10 % on every tick (certctl's `DefaultSchedulerJitter`).
pub const TICK_JITTER: f64 = 0.1;
/// The longest wait between two polls after failures.
pub const POLL_BACKOFF_CAP: Duration = Duration::from_secs(300);
/// Work rounds in one renewal: a CSR job, then the deployment it leads to.
const MAX_ROUNDS: usize = 3;
/// Discovery stops after this many entries, and skips files larger than 1 MiB.
const SCAN_MAX_ENTRIES: usize = 10_000;
const SCAN_MAX_FILE: u64 = 1024 * 1024;
const SCAN_MAX_DEPTH: usize = 32;

// ---------------------------------------------------------------------------
// The wire

/// One answer of the control plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// How the agent reaches its control plane: real HTTPS in the engine
/// ([`HttpWire`]), a script in the tests of its timing.
#[async_trait]
pub trait Wire: Send + Sync + std::fmt::Debug + 'static {
    /// Sends `method` to `path` (under the control plane's URL) with an
    /// optional JSON body. A failure names the URL, never the API key.
    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Reply, Failure>;
}

/// The real wire: the one HTTP client builder, TLS 1.3 only, Bearer API key.
#[derive(Debug)]
pub struct HttpWire {
    url: String,
    api_key: TokenSource,
    ca_bundle: Option<PathBuf>,
    client: OnceLock<reqwest::Client>,
}

impl HttpWire {
    pub fn new(spec: &CertctlSpec) -> Self {
        HttpWire {
            url: spec.url.clone(),
            api_key: spec.api_key.clone(),
            ca_bundle: spec.ca_bundle.clone(),
            client: OnceLock::new(),
        }
    }

    fn client(&self) -> Result<&reqwest::Client, Failure> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        let c = http::client(&ClientOptions {
            ca_bundle: self.ca_bundle.clone(),
            tls13_only: true,
            timeout: Some(Duration::from_secs(30)),
            ..ClientOptions::default()
        })
        .map_err(|e| Failure::transient(format!("{}: {e}", self.url)))?;
        Ok(self.client.get_or_init(|| c))
    }

    /// The API key, read now. Problems are failures the next poll retries,
    /// so fixing the file is all it takes.
    fn api_key(&self) -> Result<SecretString, Failure> {
        crate::secret::read(&self.api_key, "API key").map_err(|e| {
            Failure::transient(format!(
                "{}; put the agent's certctl API key there (a file of mode 0600, or api_key_env); the key was not sent",
                e.message()
            ))
        })
    }
}

#[async_trait]
impl Wire for HttpWire {
    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Reply, Failure> {
        let url = format!("{}{path}", self.url);
        let key = self.api_key()?;
        let mut req = self
            .client()?
            .request(method, &url)
            .bearer_auth(key.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| Failure::transient(http::describe(&url, &e)))?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = http::read_reply(resp, &url).await.map_err(Failure::transient)?;
        Ok(Reply {
            status,
            content_type,
            body: body.to_vec(),
        })
    }
}

/// A reply body in a few words, for a message (the one summary every source uses).
fn body_text(r: &Reply) -> String {
    http::error_body(&r.content_type, &r.body)
}

/// A 2xx reply's JSON, checked: the content type says JSON and the body is.
fn json_body(url: &str, r: &Reply) -> Result<Value, String> {
    let ct = r.content_type.to_ascii_lowercase();
    let is_json = ct.starts_with("application/json") || (ct.starts_with("application/") && ct.contains("+json"));
    if !is_json {
        return Err(format!(
            "{url} answered {} with content type {:?}, not application/json",
            r.status,
            if r.content_type.is_empty() {
                "none"
            } else {
                &r.content_type
            }
        ));
    }
    serde_json::from_slice(&r.body)
        .map_err(|e| format!("{url} answered {} but its body is not valid JSON ({e})", r.status))
}

// ---------------------------------------------------------------------------
// The agent's own timing

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Task {
    Heartbeat,
    Poll,
    Discovery,
}

/// When the heartbeat, the poll and the discovery scan are next due. The
/// scheduler asks it through [`Source::next_beat`] with its (injected) clock,
/// so the timing runs on paused time in tests.
#[derive(Debug)]
struct Plan {
    heartbeat: Duration,
    poll: Duration,
    discovery: Option<Duration>,
    next_heartbeat: SystemTime,
    next_poll: SystemTime,
    next_discovery: Option<SystemTime>,
    started: bool,
    /// certctl's consecutive_failures: heartbeats and polls that failed in a row.
    failures: u32,
    /// What the next beat does, and what the last one did.
    due: Vec<Task>,
    done: Vec<Task>,
    rng: StdRng,
}

impl Plan {
    fn new(spec: &CertctlSpec, rng: StdRng) -> Plan {
        Plan {
            heartbeat: spec.heartbeat_interval,
            poll: spec.poll_interval,
            discovery: (!spec.discovery_dirs.is_empty()).then_some(spec.discovery_interval),
            next_heartbeat: SystemTime::UNIX_EPOCH,
            next_poll: SystemTime::UNIX_EPOCH,
            next_discovery: None,
            started: false,
            failures: 0,
            due: Vec::new(),
            done: Vec::new(),
            rng,
        }
    }

    /// consecutive_failures × poll interval, capped at 5 minutes, ±10 %.
    fn backoff(&self) -> Backoff {
        Backoff {
            base: self.poll,
            growth: Growth::Linear,
            cap: POLL_BACKOFF_CAP.max(self.poll),
            jitter: TICK_JITTER,
        }
    }

    /// Startup jitter in [0, interval), drawn independently for the
    /// heartbeat and the poll; the first scan goes with the first poll.
    fn start(&mut self, now: SystemTime) {
        self.next_heartbeat = now + backoff::startup_jitter(self.heartbeat, &mut self.rng);
        self.next_poll = now + backoff::startup_jitter(self.poll, &mut self.rng);
        self.next_discovery = self.discovery.map(|_| self.next_poll);
        self.started = true;
        self.done.clear();
    }

    /// Plans again whatever the last beat did, from `now`.
    fn after(&mut self, now: SystemTime) {
        for t in std::mem::take(&mut self.done) {
            match t {
                Task::Heartbeat => {
                    self.next_heartbeat = now + backoff::jitter(self.heartbeat, TICK_JITTER, &mut self.rng);
                }
                Task::Poll => {
                    let wait = if self.failures > 0 {
                        self.backoff().delay(self.failures, &mut self.rng)
                    } else {
                        backoff::jitter(self.poll, TICK_JITTER, &mut self.rng)
                    };
                    self.next_poll = now + wait;
                }
                Task::Discovery => {
                    self.next_discovery = self
                        .discovery
                        .map(|d| now + backoff::jitter(d, TICK_JITTER, &mut self.rng));
                }
            }
        }
    }

    /// The next instant something is due, remembering what.
    fn next(&mut self) -> SystemTime {
        let all = [
            (Task::Heartbeat, Some(self.next_heartbeat)),
            (Task::Poll, Some(self.next_poll)),
            (Task::Discovery, self.next_discovery),
        ];
        let at = all.iter().filter_map(|(_, t)| *t).min().unwrap_or(self.next_heartbeat);
        self.due = all
            .iter()
            .filter(|(_, t)| t.is_some_and(|t| t <= at))
            .map(|(k, _)| *k)
            .collect();
        at
    }
}

// ---------------------------------------------------------------------------
// Jobs

/// A job as the work poll lists it (upstream's `JobItem`).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Job {
    pub id: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub certificate_id: String,
    #[serde(default)]
    pub common_name: Option<String>,
    #[serde(default)]
    pub sans: Option<Vec<String>>,
    #[serde(default)]
    pub target_id: Option<String>,
    #[serde(default)]
    pub status: String,
}

impl Job {
    fn is_csr(&self) -> bool {
        self.status == "AwaitingCSR"
    }

    fn is_deployment(&self) -> bool {
        !self.is_csr() && self.kind == "Deployment"
    }
}

/// Deployments the control plane handed out, kept on disk until their
/// outcome is reported. certctl claims a pending deployment when a poll
/// returns it and never hands it out again (`internal/repository/postgres/
/// job.go`), so a deployment held only in memory is lost for good when the
/// engine stops between the poll and the report; this file keeps it.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Claimed {
    pending: Vec<ClaimedJob>,
    /// Jobs finished lately, so one the server lists again is not run twice.
    done: std::collections::VecDeque<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ClaimedJob {
    job: Job,
    /// Decided once; reported until the control plane has it.
    outcome: Option<Outcome>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Outcome {
    Deployed(String),
    Failed(String),
}

/// How many finished job ids are remembered.
const DONE_KEPT: usize = 256;

impl Claimed {
    fn path(spec: &CertctlSpec) -> PathBuf {
        spec.key_dir.join("deployments.json")
    }

    /// The saved queue; a damaged file is moved aside (and said so) rather
    /// than overwritten, since it may name a deployment still owed.
    fn load(spec: &CertctlSpec, name: &str) -> Claimed {
        let path = Self::path(spec);
        let Ok(bytes) = std::fs::read(&path) else {
            return Claimed::default();
        };
        match serde_json::from_slice(&bytes) {
            Ok(c) => c,
            Err(e) => {
                let mut aside = path.as_os_str().to_owned();
                aside.push(".broken");
                let _ = std::fs::rename(&path, &aside);
                tracing::error!(
                    "{name}: {} is not a deployment queue ({e}); moved to {}",
                    path.display(),
                    PathBuf::from(aside).display()
                );
                Claimed::default()
            }
        }
    }

    fn save(&self, spec: &CertctlSpec) -> Result<(), String> {
        fsutil::ensure_private_dir(&spec.key_dir).map_err(|e| e.to_string())?;
        let json = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        fsutil::atomic_write(&Self::path(spec), &json, SECRET_FILE_MODE).map_err(|e| e.to_string())
    }

    fn knows(&self, id: &str) -> bool {
        self.pending.iter().any(|c| c.job.id == id) || self.done.iter().any(|d| d == id)
    }

    fn finish(&mut self, id: &str) {
        self.pending.retain(|c| c.job.id != id);
        self.done.push_back(id.to_string());
        while self.done.len() > DONE_KEPT {
            self.done.pop_front();
        }
    }
}

#[derive(Debug, Deserialize)]
struct Work {
    #[serde(default)]
    jobs: Option<Vec<Job>>,
}

/// Why a job did not complete.
enum JobError {
    /// The control plane retired the agent meanwhile (410).
    Retired(Failure),
    /// The job failed; reported to the control plane with this text.
    Failed(String),
}

/// What one renewal's work rounds did.
#[derive(Default)]
struct Round {
    deployed: Vec<String>,
    submitted: Vec<String>,
    failed: Vec<String>,
}

/// A work poll's answer: the jobs whose ids Evergreen may use in paths and
/// URLs, and why the others were skipped.
pub(crate) fn parse_work(v: Value) -> Result<(Vec<Job>, Vec<String>), String> {
    let work: Work = serde_json::from_value(v).map_err(|e| format!("answered JSON that is not a job list ({e})"))?;
    let mut refused = Vec::new();
    let jobs = work
        .jobs
        .unwrap_or_default()
        .into_iter()
        .filter(|j| match super::safe_id("job id", &j.id) {
            Ok(_) => true,
            Err(e) => {
                refused.push(e);
                false
            }
        })
        .collect();
    Ok((jobs, refused))
}

// ---------------------------------------------------------------------------
// The source

#[derive(Debug)]
pub struct Certctl {
    name: String,
    spec: CertctlSpec,
    wire: Arc<dyn Wire>,
    plan: Mutex<Plan>,
    /// Jobs the last beat's poll found, and when, for the renewal it asked for.
    stash: Mutex<Option<(tokio::time::Instant, Vec<Job>)>>,
    /// Serializes this source's reads and writes of the claimed-deployments
    /// file (the file itself is the only copy).
    queue: Mutex<()>,
    /// The last renewal failed (a manual renew with nothing to do then
    /// fails too, instead of hiding the failure).
    last_failed: Mutex<bool>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Certctl {
    pub fn new(name: &str, spec: CertctlSpec) -> Self {
        let wire = Arc::new(HttpWire::new(&spec));
        Self::build(name, spec, wire, StdRng::from_entropy())
    }

    /// A source that talks through `wire` and draws its jitter from `seed`
    /// (tests of the agent's timing).
    pub fn with_wire(name: &str, spec: CertctlSpec, wire: Arc<dyn Wire>, seed: u64) -> Self {
        Self::build(name, spec, wire, StdRng::seed_from_u64(seed))
    }

    fn build(name: &str, spec: CertctlSpec, wire: Arc<dyn Wire>, rng: StdRng) -> Self {
        Certctl {
            name: name.to_string(),
            plan: Mutex::new(Plan::new(&spec, rng)),
            queue: Mutex::new(()),
            spec,
            wire,
            stash: Mutex::new(None),
            last_failed: Mutex::new(false),
        }
    }

    fn agent_path(&self, rest: &str) -> String {
        format!("/api/v1/agents/{}{rest}", self.spec.agent_id)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.spec.url)
    }

    fn retired(&self, what: &str, r: &Reply) -> Failure {
        Failure::new(
            FailureClass::Retired,
            format!(
                "{} answered 410 Gone to the {what}: the control plane retired agent {} ({}). Evergreen sends it nothing more; a new agent needs a new agent_id and API key",
                self.url(&self.agent_path("")),
                self.spec.agent_id,
                body_text(r)
            ),
        )
    }

    /// A non-2xx answer in words, with what to do for the usual ones.
    fn refused(&self, path: &str, r: &Reply) -> String {
        let hint = match r.status {
            401 | 403 => format!(
                "; the control plane refused the API key: check {}",
                match &self.spec.api_key {
                    TokenSource::File(p) => format!("the API key file {}", p.display()),
                    TokenSource::Env(v) => format!("the environment variable {v}"),
                }
            ),
            404 => format!(
                "; the control plane does not know agent {}: check agent_id",
                self.spec.agent_id
            ),
            _ => String::new(),
        };
        format!("{} answered HTTP {}: {}{hint}", self.url(path), r.status, body_text(r))
    }

    // --- heartbeat, poll, discovery -------------------------------------

    async fn heartbeat_body(&self) -> Value {
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "hostname": crate::host::hostname().unwrap_or_else(|| "unknown".into()),
            "os": crate::host::go_os(),
            "architecture": crate::host::go_arch(),
            "ip_address": outbound_ip(&self.spec.url).await.unwrap_or_default(),
        })
    }

    async fn send_heartbeat(&self) -> Result<(), Failure> {
        let path = self.agent_path("/heartbeat");
        let body = self.heartbeat_body().await;
        let r = self.wire.call(Method::POST, &path, Some(&body)).await?;
        match r.status {
            200..=299 => Ok(()),
            410 => Err(self.retired("heartbeat", &r)),
            _ => Err(Failure::transient(format!("heartbeat: {}", self.refused(&path, &r)))),
        }
    }

    /// `GET …/work`: the jobs waiting for this agent.
    async fn poll(&self) -> Result<Vec<Job>, Failure> {
        let path = self.agent_path("/work");
        let url = self.url(&path);
        let r = self.wire.call(Method::GET, &path, None).await?;
        match r.status {
            200..=299 => {}
            410 => return Err(self.retired("work poll", &r)),
            _ => return Err(Failure::transient(format!("work poll: {}", self.refused(&path, &r)))),
        }
        let v = json_body(&url, &r).map_err(|e| Failure::transient(format!("work poll: {e}")))?;
        let (jobs, refused) = parse_work(v).map_err(|e| Failure::transient(format!("work poll: {url} {e}")))?;
        for e in refused {
            tracing::warn!("{}: work poll: a job was skipped: {e}", self.name);
        }
        // A deployment in this answer is ours alone now: on disk before
        // anything else happens, so no stop loses it.
        self.claimed(|c| {
            let mut changed = false;
            for j in jobs.iter().filter(|j| j.is_deployment()) {
                if !c.knows(&j.id) {
                    c.pending.push(ClaimedJob {
                        job: j.clone(),
                        outcome: None,
                    });
                    changed = true;
                }
            }
            ((), changed)
        });
        Ok(jobs)
    }

    /// The claimed-deployments queue as `f` sees it, read from disk and
    /// written back when `f` says it changed it. Never held in memory: a
    /// reloaded credential's new source is built while the job of the old
    /// one may still be claiming and reporting deployments.
    fn claimed<R>(&self, f: impl FnOnce(&mut Claimed) -> (R, bool)) -> R {
        let _one_at_a_time = lock(&self.queue);
        let mut c = Claimed::load(&self.spec, &self.name);
        let (r, changed) = f(&mut c);
        if changed {
            if let Err(e) = c.save(&self.spec) {
                tracing::error!(
                    "{}: could not keep the deployments owed to the control plane: {e}",
                    self.name
                );
            }
        }
        r
    }

    /// Deployments handed out and not reported yet.
    fn owed(&self) -> Vec<ClaimedJob> {
        self.claimed(|c| (c.pending.clone(), false))
    }

    /// Whether any deployment is owed.
    fn owes(&self) -> bool {
        self.claimed(|c| (!c.pending.is_empty(), false))
    }

    /// Records what became of a claimed deployment (before it is reported).
    fn settle(&self, id: &str, outcome: Outcome) {
        self.claimed(|c| {
            if let Some(j) = c.pending.iter_mut().find(|j| j.job.id == id) {
                j.outcome = Some(outcome);
            }
            ((), true)
        });
    }

    /// The control plane has a deployment's outcome: it is done.
    fn reported(&self, id: &str) {
        self.claimed(|c| {
            c.finish(id);
            ((), true)
        });
    }

    /// Scans the discovery directories and reports what it found: the
    /// number of certificates, or `None` when there was nothing to report.
    /// Like upstream's agent (`cmd/agent/main.go`), an empty scan is not
    /// sent: certctl's server answers a report with no certificates and no
    /// errors with a 500.
    async fn discover(&self) -> Result<Option<usize>, Failure> {
        let started = Instant::now();
        let (certificates, errors) = scan(&self.spec.discovery_dirs);
        let found = certificates.len();
        if certificates.is_empty() && errors.is_empty() {
            return Ok(None);
        }
        let report = json!({
            "agent_id": self.spec.agent_id,
            "directories": self.spec.discovery_dirs,
            "certificates": certificates,
            "errors": errors,
            "scan_duration_ms": started.elapsed().as_millis() as u64,
        });
        let path = self.agent_path("/discoveries");
        let r = self.wire.call(Method::POST, &path, Some(&report)).await?;
        match r.status {
            200..=299 => Ok(Some(found)),
            410 => Err(self.retired("discovery report", &r)),
            _ => Err(Failure::transient(format!(
                "discovery report: {}",
                self.refused(&path, &r)
            ))),
        }
    }

    // --- jobs -----------------------------------------------------------

    async fn report(&self, job: &Job, status: &str, error: Option<&str>) -> Result<(), JobError> {
        let path = self.agent_path(&format!("/jobs/{}/status", job.id));
        let mut body = json!({ "status": status });
        if let Some(e) = error {
            body["error"] = json!(e);
        }
        let r = self
            .wire
            .call(Method::POST, &path, Some(&body))
            .await
            .map_err(|f| JobError::Failed(f.message))?;
        match r.status {
            200..=299 => Ok(()),
            410 => Err(JobError::Retired(self.retired("job status report", &r))),
            _ => Err(JobError::Failed(self.refused(&path, &r))),
        }
    }

    fn key_file(&self, cert_id: &str, next: bool) -> PathBuf {
        let name = if next {
            format!("{cert_id}.next.key")
        } else {
            format!("{cert_id}.key")
        };
        self.spec.key_dir.join(name)
    }

    /// `AwaitingCSR`: a key made and kept here, only the CSR sent.
    async fn csr_job(&self, job: &Job) -> Result<(), JobError> {
        let cert_id = super::safe_id("certificate_id", &job.certificate_id).map_err(JobError::Failed)?;
        let cn = job.common_name.as_deref().unwrap_or("").trim();
        if cn.is_empty() {
            return Err(JobError::Failed("the CSR job has no common_name".into()));
        }
        fsutil::ensure_private_dir(&self.spec.key_dir).map_err(|e| JobError::Failed(format!("key directory: {e}")))?;
        let key = KeyPair::generate().map_err(|e| JobError::Failed(format!("could not generate a P-256 key: {e}")))?;
        let key_path = self.key_file(cert_id, true);
        fsutil::atomic_write(&key_path, key.serialize_pem().as_bytes(), SECRET_FILE_MODE)
            .map_err(|e| JobError::Failed(format!("could not store the new key: {e}")))?;
        let mut sans = Vec::new();
        for san in job.sans.iter().flatten() {
            match crate::csr::san(san) {
                Some(e) => sans.push(e),
                None => {
                    return Err(JobError::Failed(format!(
                        "the SAN {:?} cannot go into a CSR",
                        san.trim()
                    )))
                }
            }
        }
        let csr = crate::csr::request(&key, cn, sans).map_err(JobError::Failed)?;
        let path = self.agent_path("/csr");
        let r = self
            .wire
            .call(
                Method::POST,
                &path,
                Some(&json!({ "csr_pem": csr, "certificate_id": cert_id })),
            )
            .await
            .map_err(|f| JobError::Failed(format!("CSR submission failed: {}", f.message)))?;
        match r.status {
            200..=299 => Ok(()),
            410 => Err(JobError::Retired(self.retired("CSR submission", &r))),
            _ => Err(JobError::Failed(format!("CSR rejected: {}", self.refused(&path, &r)))),
        }
    }

    /// The checked certificate of a deployment: PEM (leaf and chain), the key
    /// that matches it (and whether it is the one a CSR job just made).
    fn check(&self, cert_id: &str, pem: &str, url: &str) -> Result<(String, SecretString, bool, Observation), String> {
        let bad =
            |why: String| format!("{url} sent a certificate Evergreen did not deploy: {why}; nothing was written");
        let reply = crate::x509::parse_reply(pem).map_err(|e| bad(format!("it does not parse ({e})")))?;
        let parsed = &reply.file;
        let leaf = parsed.leaf().clone();
        if leaf.lifetime.not_after <= SystemTime::now() {
            return Err(bad(format!(
                "it expired already (not_after {})",
                rfc3339(leaf.lifetime.not_after)
            )));
        }
        let mut tried = Vec::new();
        let mut found = None;
        for next in [true, false] {
            let p = self.key_file(cert_id, next);
            let Ok(meta) = std::fs::metadata(&p) else { continue };
            tried.push(p.display().to_string());
            if let Some(problem) = fsutil::exposed_secret(&meta, "private key", &p) {
                return Err(problem);
            }
            let text = SecretString::from(
                std::fs::read_to_string(&p).map_err(|e| format!("could not read {}: {e}", p.display()))?,
            );
            let key = KeyPair::from_pem(text.expose_secret())
                .map_err(|e| format!("{} is not a private key Evergreen can use ({e})", p.display()))?;
            if crate::csr::carries_key(&parsed.der_leaf, &key).map_err(bad)? {
                found = Some((text, next));
                break;
            }
        }
        let Some((key_pem, from_next)) = found else {
            return Err(bad(if tried.is_empty() {
                format!(
                    "no key was made here for certificate {cert_id} (no CSR job ran for it; the key never leaves this machine)"
                )
            } else {
                format!(
                    "its public key does not match the key made here for it ({})",
                    tried.join(", ")
                )
            }));
        };
        Ok((reply.pem, key_pem, from_next, Observation::of_cert(parsed)))
    }

    /// Writes the key and the certificate as one [`Pair`]: both change in
    /// one rename, and the previous pair stays as the backup generation.
    fn write_target(&self, t: &CertctlTarget, cert_pem: &str, key_pem: &SecretString) -> Result<(), String> {
        Pair::new(&t.cert_path, &t.key_path)
            .commit(cert_pem.as_bytes(), key_pem.expose_secret().as_bytes())
            .map_err(|e| e.to_string())
    }

    /// `Deployment`: fetch, check, deploy to a configured target, report.
    async fn deploy_job(&self, job: &Job) -> Result<String, JobError> {
        let cert_id = super::safe_id("certificate_id", &job.certificate_id).map_err(JobError::Failed)?;
        let target_id = job
            .target_id
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| JobError::Failed("the deployment job names no target_id".into()))?;
        let Some(target) = self.spec.targets.get(target_id) else {
            let known: Vec<&str> = self.spec.targets.keys().map(String::as_str).collect();
            return Err(JobError::Failed(format!(
                "target {target_id:?} is not configured on this machine (it has {}); Evergreen deploys only to targets named in its config",
                known.join(", ")
            )));
        };
        match self.report(job, "Running", None).await {
            Err(JobError::Retired(f)) => return Err(JobError::Retired(f)),
            Err(JobError::Failed(e)) => tracing::warn!("{}: could not report job {} running: {e}", self.name, job.id),
            Ok(()) => {}
        }
        let path = self.agent_path(&format!("/certificates/{cert_id}"));
        let url = self.url(&path);
        let r = self
            .wire
            .call(Method::GET, &path, None)
            .await
            .map_err(|f| JobError::Failed(format!("certificate fetch failed: {}", f.message)))?;
        match r.status {
            200..=299 => {}
            410 => return Err(JobError::Retired(self.retired("certificate fetch", &r))),
            _ => {
                return Err(JobError::Failed(format!(
                    "certificate fetch: {}; nothing was written",
                    self.refused(&path, &r)
                )))
            }
        }
        let v = json_body(&url, &r).map_err(|e| JobError::Failed(format!("{e}; nothing was written")))?;
        let pem = v.get("certificate_pem").and_then(Value::as_str).ok_or_else(|| {
            JobError::Failed(format!(
                "{url} answered without a \"certificate_pem\" string; nothing was written"
            ))
        })?;
        let (cert_pem, key_pem, from_next, obs) = self.check(cert_id, pem, &url).map_err(JobError::Failed)?;
        self.write_target(target, &cert_pem, &key_pem)
            .map_err(|e| JobError::Failed(format!("deployment to {} failed: {e}", target.cert_path.display())))?;
        if from_next {
            // The new key is the deployed one now.
            let _ = std::fs::rename(self.key_file(cert_id, true), self.key_file(cert_id, false));
        }
        Ok(format!(
            "deployed certificate {cert_id} to target {target_id} ({}, valid until {})",
            target.cert_path.display(),
            rfc3339(obs.lifetime.not_after)
        ))
    }

    /// Deploys `group` (one target's) one job after another; a retirement ends it.
    async fn deploy_in_turn<'a>(&self, group: Vec<&'a ClaimedJob>) -> Vec<(&'a ClaimedJob, Result<String, JobError>)> {
        let mut results = Vec::new();
        for c in group {
            let r = self.deploy_job(&c.job).await;
            let retired = matches!(r, Err(JobError::Retired(_)));
            results.push((c, r));
            if retired {
                break;
            }
        }
        results
    }

    /// Runs one poll's jobs: CSR jobs first (a deployment needs the key one
    /// makes), then deployments, each group concurrently; one deployment per
    /// target at a time. A failed job is reported with its error text.
    async fn run(&self, jobs: Vec<Job>, round: &mut Round) -> Result<usize, Failure> {
        let csr: Vec<&Job> = jobs.iter().filter(|j| j.is_csr()).collect();
        let mut submitted = 0;
        let csr_results = futures_util::future::join_all(csr.iter().map(|j| self.csr_job(j))).await;
        for (j, r) in csr.iter().zip(csr_results) {
            match r {
                Ok(()) => {
                    submitted += 1;
                    round
                        .submitted
                        .push(format!("CSR for certificate {} submitted", j.certificate_id));
                }
                Err(JobError::Retired(f)) => return Err(f),
                Err(JobError::Failed(e)) => {
                    tracing::warn!("{}: job {} failed: {e}", self.name, j.id);
                    let reported = match self.report(j, "Failed", Some(&e)).await {
                        Ok(()) => String::new(),
                        Err(JobError::Retired(f)) => return Err(f),
                        Err(JobError::Failed(r)) => format!(" (and reporting it failed: {r})"),
                    };
                    round.failed.push(format!("job {} failed: {e}{reported}", j.id));
                }
            }
        }
        // Deployments come from the claimed queue, not from this answer: one
        // handed out before a restart is still owed.
        // Deployments to one target run one after another in the order they
        // were handed out, so the target ends with the later one whichever
        // certificate arrives first; different targets go at once.
        let owed = self.owed();
        let mut by_target: Vec<(Option<&str>, Vec<&ClaimedJob>)> = Vec::new();
        for c in owed.iter().filter(|c| c.outcome.is_none()) {
            let target = c.job.target_id.as_deref();
            match by_target.iter_mut().find(|(t, _)| *t == target) {
                Some((_, group)) => group.push(c),
                None => by_target.push((target, vec![c])),
            }
        }
        let results = futures_util::future::join_all(by_target.into_iter().map(|(_, g)| self.deploy_in_turn(g))).await;
        for (c, r) in results.into_iter().flatten() {
            match r {
                Ok(what) => self.settle(&c.job.id, Outcome::Deployed(what)),
                Err(JobError::Retired(f)) => return Err(f),
                Err(JobError::Failed(e)) => {
                    tracing::warn!("{}: job {} failed: {e}", self.name, c.job.id);
                    self.settle(&c.job.id, Outcome::Failed(e));
                }
            }
        }
        // Report every outcome the control plane does not have yet.
        for c in self.owed() {
            let Some(outcome) = &c.outcome else { continue };
            let (status, error) = match outcome {
                Outcome::Deployed(_) => ("Completed", None),
                Outcome::Failed(e) => ("Failed", Some(e.as_str())),
            };
            let report = match self.report(&c.job, status, error).await {
                Ok(()) => {
                    self.reported(&c.job.id);
                    String::new()
                }
                Err(JobError::Retired(f)) => return Err(f),
                Err(JobError::Failed(r)) => format!(
                    "; reporting it {} failed ({r}), retried at the next poll",
                    status.to_lowercase()
                ),
            };
            match outcome {
                Outcome::Deployed(what) => round.deployed.push(format!("{what}{report}")),
                Outcome::Failed(e) => round.failed.push(format!("job {} failed: {e}{report}", c.job.id)),
            }
        }
        Ok(submitted)
    }

    /// The targets' certificates: the earliest expiry is the credential's.
    fn read(&self) -> Result<Observation, Failure> {
        let mut best: Option<Observation> = None;
        for t in self.spec.targets.values() {
            if !t.cert_path.exists() {
                continue;
            }
            let f = crate::x509::read_file(&t.cert_path).map_err(|e| Failure::transient(e.to_string()))?;
            if best
                .as_ref()
                .is_none_or(|b| f.leaf().lifetime.not_after < b.lifetime.not_after)
            {
                best = Some(Observation::of_cert(&f));
            }
        }
        best.ok_or_else(|| {
            let paths: Vec<String> = self
                .spec
                .targets
                .values()
                .map(|t| t.cert_path.display().to_string())
                .collect();
            Failure::new(
                FailureClass::Absent,
                format!(
                    "no certificate deployed yet ({} does not exist); Evergreen asks {} for work",
                    paths.join(", "),
                    self.spec.url
                ),
            )
        })
    }

    async fn work(&self, req: &RenewRequest) -> Result<Renewed, Failure> {
        let mut round = Round::default();
        // The jobs the beat's poll just found; anything older is asked for again.
        let fresh = lock(&self.stash)
            .take()
            .filter(|(at, _)| at.elapsed() < self.spec.poll_interval)
            .map(|(_, jobs)| jobs);
        let mut jobs = match fresh {
            Some(jobs) => jobs,
            None => self.poll().await?,
        };
        for i in 0..MAX_ROUNDS {
            if !jobs.iter().any(Job::is_csr) && !self.owes() {
                break;
            }
            let submitted = self.run(jobs, &mut round).await?;
            if submitted == 0 || i + 1 == MAX_ROUNDS {
                break;
            }
            // The server signs a submitted CSR and queues its deployment.
            jobs = self.poll().await?;
        }
        let mut notes = round.deployed.clone();
        if req.manual && !self.spec.discovery_dirs.is_empty() {
            match self.discover().await {
                Ok(Some(n)) => notes.push(format!("discovery reported {n} certificates")),
                Ok(None) => notes.push("discovery found nothing to report (none sent)".into()),
                Err(f) if f.class == FailureClass::Retired => return Err(f),
                Err(f) => notes.push(format!("discovery failed: {}", f.message)),
            }
        }
        if !round.failed.is_empty() {
            let mut msg = round.failed.join("; ");
            if !round.deployed.is_empty() {
                msg.push_str(&format!(" (meanwhile {})", round.deployed.join("; ")));
            }
            return Err(Failure::transient(msg));
        }
        let current = self.read();
        if !round.deployed.is_empty() {
            return Ok(Renewed {
                observation: current?,
                note: notes.join("; "),
            });
        }
        let waiting = if round.submitted.is_empty() {
            format!("the control plane has no job for agent {}", self.spec.agent_id)
        } else {
            format!(
                "{}; the control plane has not queued its deployment yet",
                round.submitted.join(", ")
            )
        };
        match current {
            Ok(obs) if req.manual && !*lock(&self.last_failed) => {
                notes.insert(0, format!("unchanged: {waiting}"));
                Ok(Renewed {
                    observation: obs,
                    note: notes.join("; "),
                })
            }
            Ok(obs) => Err(Failure::transient(format!(
                "not renewed: {waiting}; certctl renews on the control plane's schedule (the certificate here is valid until {}), and Evergreen keeps asking",
                rfc3339(obs.lifetime.not_after)
            ))),
            Err(f) if f.class == FailureClass::Absent => Err(Failure::transient(format!(
                "no certificate deployed yet: {waiting}; Evergreen keeps asking"
            ))),
            Err(f) => Err(f),
        }
    }
}

#[async_trait]
impl Source for Certctl {
    fn kind(&self) -> Kind {
        Kind::Certctl
    }

    fn can_renew(&self) -> bool {
        true
    }

    fn heartbeat(&self) -> Option<Heartbeat> {
        Some(Heartbeat {
            every: self.spec.heartbeat_interval,
            // certctl never pauses: failures show as failing and it backs off.
            pause_after: None,
        })
    }

    fn next_beat(&self, now: SystemTime, first: bool) -> Option<SystemTime> {
        let mut p = lock(&self.plan);
        if first || !p.started {
            p.start(now);
        } else {
            p.after(now);
        }
        Some(p.next())
    }

    async fn beat(&self) -> Result<Beat, Failure> {
        let due = {
            let mut p = lock(&self.plan);
            let due = if p.due.is_empty() {
                vec![Task::Heartbeat]
            } else {
                p.due.clone()
            };
            p.done = due.clone();
            due
        };
        let mut problems = Vec::new();
        let mut work = false;
        for task in due {
            let r = match task {
                Task::Heartbeat => self.send_heartbeat().await.map(|_| false),
                Task::Poll => self.poll().await.map(|jobs| {
                    // Deployments owed from before count too (a restart).
                    let actionable = jobs.iter().any(|j| j.is_csr() || j.is_deployment()) || self.owes();
                    if actionable {
                        *lock(&self.stash) = Some((tokio::time::Instant::now(), jobs));
                    }
                    actionable
                }),
                Task::Discovery => match self.discover().await {
                    Ok(_) => Ok(false),
                    Err(f) if f.class == FailureClass::Retired => Err(f),
                    Err(f) => {
                        // Not a control-plane failure in certctl's agent's count.
                        problems.push(f.message);
                        continue;
                    }
                },
            };
            match r {
                Ok(w) => {
                    work |= w;
                    lock(&self.plan).failures = 0;
                }
                Err(f) if f.class == FailureClass::Retired => return Err(f),
                Err(f) => {
                    lock(&self.plan).failures += 1;
                    problems.push(f.message);
                }
            }
        }
        if problems.is_empty() {
            Ok(Beat {
                observation: None,
                renew: work,
            })
        } else {
            let failures = lock(&self.plan).failures;
            Err(Failure::transient(format!(
                "{} ({failures} failed in a row; polls back off)",
                problems.join("; ")
            )))
        }
    }

    fn tidy(&self) -> Vec<PathBuf> {
        let mut removed = fsutil::clean_temps_in(&self.spec.key_dir);
        for t in self.spec.targets.values() {
            removed.extend(Pair::new(&t.cert_path, &t.key_path).tidy());
        }
        removed
    }

    async fn observe(&self) -> Result<Observation, Failure> {
        self.read()
    }

    async fn renew(&self, req: RenewRequest) -> Result<Renewed, Failure> {
        let r = self.work(&req).await;
        *lock(&self.last_failed) = r.is_err();
        r
    }
}

// ---------------------------------------------------------------------------
// Facts about this machine, for the heartbeat

/// The local address this machine reaches the control plane from (a UDP
/// "connect" sends nothing; it only picks the route).
async fn outbound_ip(url: &str) -> Option<String> {
    let u = reqwest::Url::parse(url).ok()?;
    let host = u.host_str()?.trim_start_matches('[').trim_end_matches(']').to_string();
    let port = u.port_or_known_default().unwrap_or(443);
    let target = tokio::net::lookup_host((host.as_str(), port)).await.ok()?.next()?;
    let bind = if target.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let sock = tokio::net::UdpSocket::bind(bind).await.ok()?;
    sock.connect(target).await.ok()?;
    Some(sock.local_addr().ok()?.ip().to_string())
}

// ---------------------------------------------------------------------------
// Discovery

/// Walks `dirs` (no symlinks followed, bounded) and describes every
/// certificate found; private keys are never read into the report.
fn scan(dirs: &[PathBuf]) -> (Vec<Value>, Vec<String>) {
    let mut certs = Vec::new();
    let mut errors = Vec::new();
    let mut seen = 0usize;
    let mut stack: Vec<(PathBuf, usize)> = dirs.iter().rev().map(|d| (d.clone(), 0)).collect();
    while let Some((dir, depth)) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                errors.push(format!("cannot read {}: {e}", dir.display()));
                continue;
            }
        };
        let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        names.sort();
        for path in names {
            seen += 1;
            if seen > SCAN_MAX_ENTRIES {
                errors.push(format!("stopped after {SCAN_MAX_ENTRIES} entries"));
                return (certs, errors);
            }
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                if depth < SCAN_MAX_DEPTH {
                    stack.push((path, depth + 1));
                }
                continue;
            }
            if !meta.is_file() || meta.len() > SCAN_MAX_FILE {
                continue;
            }
            let ext = path
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            if ext.is_empty() || ext == "key" {
                continue;
            }
            certs.extend(describe(&path, &ext));
        }
    }
    (certs, errors)
}

/// The certificates of one file, as certctl's agent reports them
/// (`certToEntry` in `cmd/agent/main.go`): a hex SHA-256 of the DER, the
/// bare DNS names of the SAN extension, the serial as lower-case hex without
/// leading zeros, the DNs as Go prints them (most specific first, `,`
/// between RDNs), the key's algorithm and size, whether it is a CA, and its
/// PEM. Never a key: only CERTIFICATE blocks are read.
fn describe(path: &Path, ext: &str) -> Vec<Value> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let (format, ders): (&str, Vec<Vec<u8>>) = if ext == "der" {
        ("DER", vec![bytes])
    } else {
        let blocks = x509_parser::pem::Pem::iter_from_buffer(&bytes)
            .map_while(Result::ok)
            .filter(|p| p.label == "CERTIFICATE")
            .map(|p| p.contents)
            .collect();
        ("PEM", blocks)
    };
    ders.iter()
        .filter_map(|der| {
            let (_, c) = x509_parser::parse_x509_certificate(der).ok()?;
            let cn = c
                .subject()
                .iter_common_name()
                .next()
                .and_then(|a| a.as_str().ok())
                .unwrap_or("")
                .to_string();
            let sans: Vec<String> = match c.subject_alternative_name() {
                Ok(Some(ext)) => ext
                    .value
                    .general_names
                    .iter()
                    .filter_map(|n| match n {
                        x509_parser::extensions::GeneralName::DNSName(d) => Some(d.to_string()),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let (key_algorithm, key_size) = key_info(&c);
            let is_ca = matches!(c.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
            let lifetime = crate::model::Lifetime {
                not_before: crate::clock::from_unix_millis(c.validity().not_before.timestamp() * 1000),
                not_after: crate::clock::from_unix_millis(c.validity().not_after.timestamp() * 1000),
            };
            Some(json!({
                "fingerprint_sha256": hex::encode(<sha2::Sha256 as sha2::Digest>::digest(der)),
                "common_name": cn,
                "sans": sans,
                "serial_number": format!("{:x}", c.tbs_certificate.serial),
                "issuer_dn": go_dn(c.issuer()),
                "subject_dn": go_dn(c.subject()),
                "not_before": rfc3339(lifetime.not_before),
                "not_after": rfc3339(lifetime.not_after),
                "key_algorithm": key_algorithm,
                "key_size": key_size,
                "is_ca": is_ca,
                "pem_data": crate::x509::pem_of(der),
                "source_path": path.display().to_string(),
                "source_format": format,
            }))
        })
        .collect()
}

/// Go's names and sizes for a certificate's key (`certKeyInfo`).
fn key_info(c: &x509_parser::certificate::X509Certificate) -> (String, usize) {
    use x509_parser::public_key::PublicKey;
    match c.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) => ("RSA".into(), rsa.key_size()),
        Ok(PublicKey::EC(ec)) => ("ECDSA".into(), ec.key_size()),
        _ if c.public_key().algorithm.algorithm.to_id_string() == "1.3.101.112" => ("Ed25519".into(), 256),
        _ => (c.public_key().algorithm.algorithm.to_id_string(), 0),
    }
}

/// A distinguished name as Go's `pkix.Name.String()` prints it: the RDNs in
/// reverse order, `,` between them, `+` inside one, RFC 4514 escapes.
fn go_dn(name: &x509_parser::x509::X509Name) -> String {
    let short = |oid: &str| match oid {
        "2.5.4.3" => Some("CN"),
        "2.5.4.6" => Some("C"),
        "2.5.4.10" => Some("O"),
        "2.5.4.11" => Some("OU"),
        "2.5.4.7" => Some("L"),
        "2.5.4.8" => Some("ST"),
        "2.5.4.9" => Some("STREET"),
        "2.5.4.17" => Some("POSTALCODE"),
        "2.5.4.5" => Some("SERIALNUMBER"),
        _ => None,
    };
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|a| {
                    let oid = a.attr_type().to_id_string();
                    match (short(&oid), a.as_str()) {
                        (Some(t), Ok(v)) => format!("{t}={}", escape_dn_value(v)),
                        _ => format!("{oid}=#{}", hex::encode(a.attr_value().as_bytes())),
                    }
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

fn escape_dn_value(v: &str) -> String {
    let mut out = String::new();
    let last = v.chars().count().saturating_sub(1);
    for (i, ch) in v.chars().enumerate() {
        let special = matches!(ch, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (ch == '#' || ch == ' '))
            || (i == last && ch == ' ');
        if special {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// One certificate as PEM.
#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DistinguishedName, DnType, SanType};
    use std::collections::BTreeMap;

    fn spec(dirs: Vec<PathBuf>) -> CertctlSpec {
        CertctlSpec {
            url: "https://127.0.0.1:1".into(),
            agent_id: "a-1".into(),
            api_key: TokenSource::Env("UNUSED".into()),
            ca_bundle: None,
            key_dir: PathBuf::from("/unused"),
            targets: BTreeMap::new(),
            discovery_dirs: dirs,
            heartbeat_interval: Duration::from_secs(60),
            poll_interval: Duration::from_secs(30),
            discovery_interval: Duration::from_secs(6 * 3600),
        }
    }

    fn at(s: f64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_900_000_000) + Duration::from_secs_f64(s)
    }

    fn secs(t: SystemTime) -> f64 {
        t.duration_since(at(0.0)).unwrap().as_secs_f64()
    }

    #[test]
    fn startup_jitter_is_below_each_interval_and_drawn_independently() {
        let mut hb = Vec::new();
        let mut poll = Vec::new();
        for seed in 0..500 {
            let mut p = Plan::new(&spec(vec![]), StdRng::seed_from_u64(seed));
            p.start(at(0.0));
            hb.push(secs(p.next_heartbeat));
            poll.push(secs(p.next_poll));
        }
        assert!(hb.iter().all(|s| (0.0..60.0).contains(s)), "{hb:?}");
        assert!(poll.iter().all(|s| (0.0..30.0).contains(s)), "{poll:?}");
        assert!(hb.iter().cloned().fold(0.0, f64::max) > 50.0 && hb.iter().cloned().fold(60.0, f64::min) < 10.0);
        // Independent draws: the poll is not simply half the heartbeat.
        assert!(hb.iter().zip(&poll).any(|(h, p)| (h / 2.0 - p).abs() > 1.0));
    }

    #[test]
    fn ticks_are_jittered_ten_percent_and_failures_back_off_linearly_to_five_minutes() {
        let mut p = Plan::new(&spec(vec![]), StdRng::seed_from_u64(9));
        p.start(at(0.0));
        for _ in 0..200 {
            p.done = vec![Task::Heartbeat, Task::Poll];
            p.after(at(100.0));
            let h = secs(p.next_heartbeat) - 100.0;
            let q = secs(p.next_poll) - 100.0;
            assert!((54.0..=66.0).contains(&h), "{h}");
            assert!((27.0..=33.0).contains(&q), "{q}");
        }
        for (failures, nominal) in [
            (1u32, 30.0),
            (2, 60.0),
            (4, 120.0),
            (9, 270.0),
            (10, 300.0),
            (50, 300.0),
        ] {
            p.failures = failures;
            for _ in 0..50 {
                p.done = vec![Task::Poll];
                p.after(at(0.0));
                let q = secs(p.next_poll);
                assert!(
                    q >= nominal * 0.9 - 1e-6 && q <= (nominal * 1.1f64).min(300.0) + 1e-6,
                    "{failures}: {q}"
                );
            }
        }
    }

    #[test]
    fn the_plan_says_what_is_due_and_discovery_follows_the_first_poll() {
        let mut p = Plan::new(&spec(vec![PathBuf::from("/d")]), StdRng::seed_from_u64(3));
        p.start(at(0.0));
        let first = p.next();
        assert_eq!(first, p.next_heartbeat.min(p.next_poll));
        assert_eq!(p.next_discovery, Some(p.next_poll));
        let mut p = Plan::new(&spec(vec![]), StdRng::seed_from_u64(3));
        p.start(at(0.0));
        p.next_heartbeat = at(5.0);
        p.next_poll = at(5.0);
        assert_eq!(p.next(), at(5.0));
        assert_eq!(p.due, vec![Task::Heartbeat, Task::Poll]);
        p.done = vec![Task::Heartbeat];
        p.after(at(5.0));
        assert_eq!(p.next(), at(5.0), "the poll is still due");
        assert_eq!(p.due, vec![Task::Poll]);
    }

    #[test]
    fn discovery_reports_certificates_not_keys_and_names_unreadable_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let ca = crate::pki::Ca::new("Scan CA", now, Duration::from_secs(3600)).unwrap();
        let leaf = ca.issue("found.example", now, Duration::from_secs(600)).unwrap();
        std::fs::create_dir_all(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/web.pem"), &leaf.cert_pem).unwrap();
        std::fs::write(dir.path().join("sub/web.key"), &leaf.key_pem).unwrap();
        std::fs::write(
            dir.path().join("bundle.crt"),
            format!("{}{}", leaf.cert_pem, ca.cert_pem()),
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
        let (certs, errors) = scan(&[dir.path().to_path_buf(), dir.path().join("missing")]);
        assert_eq!(certs.len(), 3, "{certs:?}");
        assert!(certs.iter().any(|c| c["common_name"] == "found.example"));
        assert!(certs.iter().any(|c| c["common_name"] == "Scan CA"));
        let text = serde_json::to_string(&certs).unwrap();
        assert!(!text.contains("PRIVATE KEY"), "a key leaked into the report");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("missing"), "{errors:?}");
    }

    #[test]
    fn a_discovered_certificate_is_described_as_certctls_agent_does() {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec!["web.example.com".into()]).unwrap();
        p.subject_alt_names
            .push(SanType::Rfc822Name("ops@example.com".try_into().unwrap()));
        p.subject_alt_names
            .push(SanType::IpAddress("10.0.0.5".parse().unwrap()));
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, "DE");
        dn.push(DnType::OrganizationName, "Acme, Inc.");
        dn.push(DnType::CommonName, "web.example.com");
        p.distinguished_name = dn;
        // a serial whose first byte is zero: Go prints no leading zeros
        p.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x00, 0x0a, 0xbc, 0xde]));
        let cert = p.self_signed(&key).unwrap();
        std::fs::write(dir.path().join("web.pem"), cert.pem()).unwrap();
        let (certs, _) = scan(&[dir.path().to_path_buf()]);
        let c = &certs[0];
        assert_eq!(c["subject_dn"], "CN=web.example.com,O=Acme\\, Inc.,C=DE", "{c}");
        assert_eq!(c["issuer_dn"], c["subject_dn"]);
        assert_eq!(c["sans"], json!(["web.example.com"]), "bare DNS names only");
        assert_eq!(c["serial_number"], "abcde");
        assert_eq!(
            (c["key_algorithm"].as_str(), c["key_size"].as_u64()),
            (Some("ECDSA"), Some(256))
        );
        assert_eq!(c["is_ca"], false);
        let pem = c["pem_data"].as_str().unwrap();
        assert_eq!(
            crate::x509::parse(pem.as_bytes()).unwrap().der_leaf,
            cert.der().to_vec()
        );
        assert_eq!(c["fingerprint_sha256"].as_str().unwrap().len(), 64);
        assert_eq!(c["source_format"], "PEM");
    }

    /// A control plane whose every poll lists one deployment.
    #[derive(Debug)]
    struct OneDeployment;

    #[async_trait]
    impl Wire for OneDeployment {
        async fn call(&self, _: Method, _: &str, _: Option<&Value>) -> Result<Reply, Failure> {
            Ok(Reply {
                status: 200,
                content_type: "application/json".into(),
                body: br#"{"jobs":[{"id":"job-9","type":"Deployment","certificate_id":"mc","target_id":"t","status":"Running"}],"count":1}"#.to_vec(),
            })
        }
    }

    #[tokio::test]
    async fn a_source_built_before_a_claim_sees_it_and_not_again_once_reported() {
        // A config reload builds the new source while the old one's job runs.
        let dir = tempfile::tempdir().unwrap();
        let mut s = spec(vec![]);
        s.key_dir = dir.path().join("keys");
        let old = Certctl::with_wire("edge", s.clone(), Arc::new(OneDeployment), 1);
        let new = Certctl::with_wire("edge", s, Arc::new(OneDeployment), 2);
        old.poll().await.unwrap();
        let owed: Vec<String> = new.owed().into_iter().map(|c| c.job.id).collect();
        assert_eq!(
            owed,
            vec!["job-9"],
            "the new source missed a deployment the old one claimed"
        );
        old.settle("job-9", Outcome::Deployed("deployed".into()));
        old.reported("job-9");
        assert!(
            new.owed().is_empty(),
            "the new source would run a reported deployment again"
        );
        // the control plane listing it once more does not make it owed again
        new.poll().await.unwrap();
        assert!(!new.owes());
    }

    #[test]
    fn json_replies_must_say_so_and_be_json() {
        let r = |ct: &str, body: &str| Reply {
            status: 200,
            content_type: ct.into(),
            body: body.as_bytes().to_vec(),
        };
        assert!(json_body("u", &r("application/json; charset=utf-8", "{}")).is_ok());
        let e = json_body("u", &r("text/html", "{}")).unwrap_err();
        assert!(e.contains("content type \"text/html\""), "{e}");
        let e = json_body("u", &r("application/json", "{\"jobs\": [")).unwrap_err();
        assert!(e.contains("not valid JSON"), "{e}");
        assert_eq!(body_text(&r("text/html", "<html>boom</html>")), "an HTML error page");
    }
}
