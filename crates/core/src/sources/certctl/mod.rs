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
//! The rooms: `wire` (one authenticated call and reading its reply),
//! `timing` (the agent's ticks and backoff), `jobs` (CSR jobs, deployments
//! and their reports) and `discovery` (the directory scan); this file is the
//! source itself.
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
use crate::config::TokenSource;
use crate::fsutil::{self, SECRET_FILE_MODE};
use crate::http::{self, ClientOptions};
use crate::kind::Kind;
use crate::pair::Pair;

/// ±10 % on every tick (certctl's `DefaultSchedulerJitter`).
pub const TICK_JITTER: f64 = 0.1;
/// The longest wait between two polls after failures.
pub const POLL_BACKOFF_CAP: Duration = Duration::from_secs(300);
/// Work rounds in one renewal: a CSR job, then the deployment it leads to.
const MAX_ROUNDS: usize = 3;

mod def;
mod discovery;
mod jobs;
mod timing;
mod wire;

pub use def::{CertctlSpec, CertctlTarget, KIND};
pub(crate) use jobs::parse_work;
pub use jobs::Job;
use jobs::*;
use timing::*;
use wire::{body_text, json_body};
pub use wire::{HttpWire, Reply, Wire};

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

    /// The targets' certificates: the earliest expiry is the credential's.
    fn read(&self) -> Result<Observation, Failure> {
        let mut best: Option<Observation> = None;
        for t in self.spec.targets.values() {
            if !t.cert_path.exists() {
                continue;
            }
            let f = crate::x509::read_file(&t.cert_path).map_err(|e| Failure::transient(e.to_string()))?;
            if let Some(why) = crate::pair::mismatch(&t.cert_path, &f.der_leaf, &t.key_path) {
                // Evergreen writes a target's pair as one; another tool (or a
                // hand) broke it. The control plane decides deployments, so
                // say what to do rather than pretend a renewal mends it.
                return Err(Failure::transient(format!(
                    "{why}; the service using it will fail: restore the pair kept as .bak, or have the control plane deploy the certificate again"
                )));
            }
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
            let submitted = self.run(jobs, &mut round, req.now).await?;
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
        KIND
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

    async fn beat(&self, _now: SystemTime) -> Result<Beat, Failure> {
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

    async fn observe(&self, _now: SystemTime) -> Result<Observation, Failure> {
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

/// A work poll's reply.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz(data: &[u8]) {
    let Some((_, body)) = crate::fuzzing::split(data) else {
        return;
    };
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        let _ = parse_work(v);
    }
}

#[cfg(test)]
mod tests {
    use super::discovery::*;
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
    fn a_targets_key_that_is_not_its_certificates_is_reported_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let (cert_path, key_path) = (dir.path().join("web.pem"), dir.path().join("web.key"));
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["web.test".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        let mut sp = spec(vec![]);
        sp.targets.insert(
            "t-web".into(),
            CertctlTarget {
                cert_path: cert_path.clone(),
                key_path: key_path.clone(),
            },
        );
        let source = Certctl::new("edge", sp);
        assert!(source.read().is_ok(), "a matching pair is fine");
        std::fs::write(&key_path, rcgen::KeyPair::generate().unwrap().serialize_pem()).unwrap();
        let f = source.read().expect_err("a key of another certificate");
        assert!(
            f.message.contains("does not belong to the certificate") && f.message.contains(".bak"),
            "{}",
            f.message
        );
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
