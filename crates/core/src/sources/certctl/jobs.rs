//! Jobs: CSR jobs make a key here, deployments are checked and written to
//! configured targets, and every outcome is reported once.

use super::*;

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
    pub(super) fn is_csr(&self) -> bool {
        self.status == "AwaitingCSR"
    }

    pub(super) fn is_deployment(&self) -> bool {
        !self.is_csr() && self.kind == "Deployment"
    }
}

/// Deployments the control plane handed out, kept on disk until their
/// outcome is reported. certctl claims a pending deployment when a poll
/// returns it and never hands it out again (`internal/repository/postgres/
/// job.go`), so a deployment held only in memory is lost for good when the
/// engine stops between the poll and the report; this file keeps it.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Claimed {
    pub(super) pending: Vec<ClaimedJob>,
    /// Jobs finished lately, so one the server lists again is not run twice.
    pub(super) done: std::collections::VecDeque<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ClaimedJob {
    pub(super) job: Job,
    /// Decided once; reported until the control plane has it.
    pub(super) outcome: Option<Outcome>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) enum Outcome {
    Deployed(String),
    Failed(String),
}

/// How many finished job ids are remembered.
pub(super) const DONE_KEPT: usize = 256;

impl Claimed {
    pub(super) fn path(spec: &CertctlSpec) -> PathBuf {
        spec.key_dir.join("deployments.json")
    }

    /// The saved queue; a damaged file is moved aside (and said so) rather
    /// than overwritten, since it may name a deployment still owed.
    pub(super) fn load(spec: &CertctlSpec, name: &str) -> Claimed {
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

    pub(super) fn save(&self, spec: &CertctlSpec) -> Result<(), String> {
        fsutil::ensure_private_dir(&spec.key_dir).map_err(|e| e.to_string())?;
        let json = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        fsutil::atomic_write(&Self::path(spec), &json, SECRET_FILE_MODE).map_err(|e| e.to_string())
    }

    pub(super) fn knows(&self, id: &str) -> bool {
        self.pending.iter().any(|c| c.job.id == id) || self.done.iter().any(|d| d == id)
    }

    pub(super) fn finish(&mut self, id: &str) {
        self.pending.retain(|c| c.job.id != id);
        self.done.push_back(id.to_string());
        while self.done.len() > DONE_KEPT {
            self.done.pop_front();
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct Work {
    #[serde(default)]
    pub(super) jobs: Option<Vec<Job>>,
}

/// Why a job did not complete.
pub(super) enum JobError {
    /// The control plane retired the agent meanwhile (410).
    Retired(Failure),
    /// The job failed; reported to the control plane with this text.
    Failed(String),
}

/// What one renewal's work rounds did.
#[derive(Default)]
pub(super) struct Round {
    pub(super) deployed: Vec<String>,
    pub(super) submitted: Vec<String>,
    pub(super) failed: Vec<String>,
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
        .filter(|j| match crate::sources::safe_id("job id", &j.id) {
            Ok(_) => true,
            Err(e) => {
                refused.push(e);
                false
            }
        })
        .collect();
    Ok((jobs, refused))
}

impl Certctl {
    pub(super) async fn report(&self, job: &Job, status: &str, error: Option<&str>) -> Result<(), JobError> {
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

    pub(super) fn key_file(&self, cert_id: &str, next: bool) -> PathBuf {
        let name = if next {
            format!("{cert_id}.next.key")
        } else {
            format!("{cert_id}.key")
        };
        self.spec.key_dir.join(name)
    }

    /// `AwaitingCSR`: a key made and kept here, only the CSR sent.
    pub(super) async fn csr_job(&self, job: &Job) -> Result<(), JobError> {
        let cert_id = crate::sources::safe_id("certificate_id", &job.certificate_id).map_err(JobError::Failed)?;
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
    pub(super) fn check(
        &self,
        cert_id: &str,
        pem: &str,
        url: &str,
        now: SystemTime,
    ) -> Result<(String, SecretString, bool, Observation), String> {
        let bad =
            |why: String| format!("{url} sent a certificate Evergreen did not deploy: {why}; nothing was written");
        let reply = crate::x509::parse_reply(pem).map_err(|e| bad(format!("it does not parse ({e})")))?;
        let parsed = &reply.file;
        let leaf = parsed.leaf().clone();
        if leaf.lifetime.not_after <= now {
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
    pub(super) fn write_target(&self, t: &CertctlTarget, cert_pem: &str, key_pem: &SecretString) -> Result<(), String> {
        Pair::new(&t.cert_path, &t.key_path)
            .commit(cert_pem.as_bytes(), key_pem.expose_secret().as_bytes())
            .map_err(|e| e.to_string())
    }

    /// `Deployment`: fetch, check, deploy to a configured target, report.
    pub(super) async fn deploy_job(&self, job: &Job, now: SystemTime) -> Result<String, JobError> {
        let cert_id = crate::sources::safe_id("certificate_id", &job.certificate_id).map_err(JobError::Failed)?;
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
        let (cert_pem, key_pem, from_next, _) = self.check(cert_id, pem, &url, now).map_err(JobError::Failed)?;
        self.write_target(target, &cert_pem, &key_pem)
            .map_err(|e| JobError::Failed(format!("deployment to {} failed: {e}", target.cert_path.display())))?;
        if from_next {
            // The new key is the deployed one now.
            let _ = std::fs::rename(self.key_file(cert_id, true), self.key_file(cert_id, false));
        }
        // No path here: this line ends up on a card, and the detail view
        // lists the target's files from the config.
        Ok(format!("deployed certificate {cert_id} to target {target_id}"))
    }

    /// Deploys `group` (one target's) one job after another; a retirement ends it.
    pub(super) async fn deploy_in_turn<'a>(
        &self,
        group: Vec<&'a ClaimedJob>,
        now: SystemTime,
    ) -> Vec<(&'a ClaimedJob, Result<String, JobError>)> {
        let mut results = Vec::new();
        for c in group {
            let r = self.deploy_job(&c.job, now).await;
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
    pub(super) async fn run(&self, jobs: Vec<Job>, round: &mut Round, now: SystemTime) -> Result<usize, Failure> {
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
        let results =
            futures_util::future::join_all(by_target.into_iter().map(|(_, g)| self.deploy_in_turn(g, now))).await;
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
}
