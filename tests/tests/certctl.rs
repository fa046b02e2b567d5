//! The certctl credential against evergreen-sandbox over real TLS 1.3: the
//! CSR job flow (key made here, CSR sent, certificate checked and deployed
//! atomically, job status reported), heartbeats with the agent's facts,
//! polls, retirement by 410 on either, every injected fault and bad reply
//! (each ends in a named state and overwrites nothing), TLS below 1.3, the
//! config check refusing `http://` and bad CA bundles, and discovery.
//!
//! The agent's timing (startup jitter, ±10 % ticks, backoff) is tested on
//! paused time in `crates/core/tests/certctl.rs`; here intervals are short
//! and real, and waiting is for results, always bounded.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use evergreen_core::events::{Event, EventKind};
use evergreen_core::model::State;
use evergreen_sandbox::certctl::Job;
use evergreen_sandbox::faults::{Fault, FaultKind};
use evergreen_sandbox::{Options, Sandbox};
use evergreen_tests::bao::write_secret;
use evergreen_tests::rig::{is, Rig};
use serde_json::{json, Value};

async fn sandbox() -> Sandbox {
    Sandbox::start(Options::default()).await.unwrap()
}

/// A new agent at the sandbox: (id, API key).
fn agent(sb: &Sandbox) -> (String, String) {
    sb.state.lock().certctl.create()
}

/// The sandbox asks `agent` for a key and CSR for certificate `cert`, to be
/// deployed to `target`.
fn request(sb: &Sandbox, agent: &str, cert: &str, target: &str) -> String {
    sb.state
        .lock()
        .certctl
        .request(
            agent,
            cert,
            target,
            "web.edge.test",
            &["web.edge.test".into(), "ops@edge.test".into()],
        )
        .unwrap()
}

fn jobs(sb: &Sandbox, agent: &str) -> Vec<Job> {
    sb.state.lock().certctl.jobs(agent)
}

fn count(sb: &Sandbox, prefix: &str) -> u64 {
    sb.state
        .lock()
        .counts
        .iter()
        .filter(|(k, _)| k.contains(prefix))
        .map(|(_, v)| *v)
        .sum()
}

fn heartbeats(sb: &Sandbox, agent: &str) -> u64 {
    sb.state.lock().certctl.agents.get(agent).map_or(0, |a| a.heartbeats)
}

fn polls(sb: &Sandbox, agent: &str) -> u64 {
    sb.state.lock().certctl.agents.get(agent).map_or(0, |a| a.polls)
}

fn fault(sb: &Sandbox, path_prefix: String, kind: FaultKind) {
    sb.state.lock().add_fault(Fault {
        path_prefix,
        count: 1,
        kind,
    });
}

fn config(sb: &Sandbox, d: &Path, agent: &str, key: &str, extra: &str) -> String {
    std::fs::write(d.join("ca.pem"), sb.ca_pem()).unwrap();
    write_secret(&d.join("certctl.key"), key);
    let d = d.display();
    format!(
        r#"[[credential]]
name = "edge"
kind = "certctl"
url = "{url}"
agent_id = "{agent}"
api_key_file = "{d}/certctl.key"
ca_bundle = "{d}/ca.pem"
key_dir = "{d}/keys"
targets = ["t-web={d}/certs/web.pem"]
heartbeat_interval = "300ms"
poll_interval = "200ms"
{extra}
"#,
        url = sb.url
    )
}

/// Polls `ok` (real time, bounded) until it holds.
async fn until(what: &str, limit: Duration, ok: impl Fn() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Matches a change to the state `name`.
fn to(name: &'static str) -> impl Fn(&Event) -> bool {
    move |e: &Event| matches!(&e.kind, EventKind::StateChanged { to, .. } if to == name)
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The target's previous certificate and key, kept beside the live pair.
fn backup(d: &Path) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    evergreen_core::pair::Pair::new(&d.join("certs/web.pem"), &d.join("certs/web.key")).backup()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// The raw public key of a certificate file's leaf.
fn cert_key(pem: &[u8]) -> Vec<u8> {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem).unwrap();
    let (_, c) = x509_parser::parse_x509_certificate(&p.contents).unwrap();
    c.tbs_certificate.subject_pki.subject_public_key.data.to_vec()
}

fn serial(pem: &[u8]) -> String {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem).unwrap();
    let (_, c) = x509_parser::parse_x509_certificate(&p.contents).unwrap();
    c.raw_serial_as_string()
}

/// An agent whose first certificate was deployed at start.
async fn deployed(sb: &Sandbox, extra: &str) -> (Rig, String, String) {
    let (id, key) = agent(sb);
    request(sb, &id, "mc-web", "t-web");
    let rig = Rig::start(|d| config(sb, d, &id, &key, extra)).await;
    let mut rig = rig;
    let e = rig
        .wait("the first deployment", Duration::from_secs(15), is("renewal_succeeded"))
        .await;
    let EventKind::RenewalSucceeded { message, .. } = e.kind else {
        unreachable!()
    };
    assert!(
        message.contains("deployed certificate mc-web to target t-web"),
        "{message}"
    );
    rig.wait("healthy", Duration::from_secs(5), to("healthy")).await;
    (rig, id, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csr_job_makes_the_key_here_and_deploys_the_signed_certificate() {
    let sb = sandbox().await;
    let (rig, id, key) = deployed(&sb, "").await;
    let d = rig.dir.path().to_path_buf();
    let cert = read(&d.join("certs/web.pem"));
    let target_key = read(&d.join("certs/web.key"));
    let kept_key = read(&d.join("keys/mc-web.key"));
    assert_eq!(mode(&d.join("keys")), 0o700, "key dir");
    assert_eq!(mode(&d.join("keys/mc-web.key")), 0o600);
    assert_eq!(mode(&d.join("certs/web.key")), 0o600);
    assert!(!d.join("keys/mc-web.next.key").exists(), "the new key was promoted");
    assert_eq!(target_key, kept_key);
    let pair = rcgen::KeyPair::from_pem(std::str::from_utf8(&kept_key).unwrap()).unwrap();
    assert_eq!(
        cert_key(&cert),
        pair.public_key_raw(),
        "the certificate carries the key made here"
    );
    let text = String::from_utf8_lossy(&cert).to_string();
    assert_eq!(text.matches("BEGIN CERTIFICATE").count(), 2, "leaf and CA chain");
    // Both jobs were reported: the CSR job by the server, the deployment by Evergreen.
    let j = jobs(&sb, &id);
    assert_eq!(
        j.iter()
            .map(|j| (j.kind.as_str(), j.status.as_str()))
            .collect::<Vec<_>>(),
        vec![("Renewal", "Completed"), ("Deployment", "Completed")],
        "{j:?}"
    );
    let st = rig.status("edge");
    assert_eq!(st.state, State::Healthy);
    assert!(st.details.as_ref().unwrap().subject.contains("web.edge.test"));
    assert!(st
        .details
        .as_ref()
        .unwrap()
        .sans
        .contains(&"email:ops@edge.test".to_string()));
    // Neither the API key nor a line of the private key shows anywhere.
    let key_line = std::str::from_utf8(&kept_key)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    rig.assert_never_shows(&key);
    rig.assert_never_shows(&key_line);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_carry_the_agents_facts_with_the_bearer_key_and_polls_follow() {
    let sb = sandbox().await;
    let (mut rig, id, _) = deployed(&sb, "").await;
    until("heartbeats and polls", Duration::from_secs(10), || {
        heartbeats(&sb, &id) >= 3 && polls(&sb, &id) >= 5
    })
    .await;
    let hb = sb.state.lock().certctl.agents[&id].last_heartbeat.clone().unwrap();
    assert_eq!(hb["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(hb["os"], "linux");
    assert!(
        ["amd64", "arm64"].contains(&hb["architecture"].as_str().unwrap()),
        "{hb}"
    );
    assert!(!hb["hostname"].as_str().unwrap().is_empty(), "{hb}");
    assert_eq!(
        hb["ip_address"], "127.0.0.1",
        "the address this machine reaches the control plane from"
    );
    until("the heartbeat in the status", Duration::from_secs(5), || {
        rig.status("edge").last_heartbeat.is_some()
    })
    .await;
    // A wrong key in the file: every request is refused (401) and it shows.
    write_secret(&rig.dir.path().join("certctl.key"), "cc-wrong");
    let e = rig
        .wait("a refused key", Duration::from_secs(5), is("heartbeat_failed"))
        .await;
    let EventKind::HeartbeatFailed { message, .. } = e.kind else {
        unreachable!()
    };
    assert!(
        message.contains("HTTP 401") && message.contains("certctl.key"),
        "{message}"
    );
    assert!(matches!(rig.status("edge").state, State::Failing { .. }));
    // The right key again: the next request works.
    let key = sb.state.lock().certctl.agents[&id].api_key.clone();
    write_secret(&rig.dir.path().join("certctl.key"), &key);
    rig.wait("recovery", Duration::from_secs(10), is("recovered")).await;
    rig.drain_for(Duration::from_millis(100)).await;
    assert_eq!(rig.status("edge").state, State::Healthy);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_job_found_by_a_poll_replaces_the_certificate_and_keeps_the_old_pair() {
    let sb = sandbox().await;
    let (mut rig, id, _) = deployed(&sb, "").await;
    let d = rig.dir.path().to_path_buf();
    let old_cert = read(&d.join("certs/web.pem"));
    let old_key = read(&d.join("certs/web.key"));
    sb.state.lock().cert_lifetime = Duration::from_secs(7200);
    request(&sb, &id, "mc-web", "t-web");
    let e = rig
        .wait("the renewal", Duration::from_secs(10), is("renewal_succeeded"))
        .await;
    let EventKind::RenewalSucceeded {
        old_not_after,
        new_not_after,
        ..
    } = e.kind
    else {
        unreachable!()
    };
    assert!(new_not_after > old_not_after.unwrap());
    let new_cert = read(&d.join("certs/web.pem"));
    assert_ne!(serial(&new_cert), serial(&old_cert));
    assert_ne!(read(&d.join("certs/web.key")), old_key, "a new key for each CSR");
    let (bak_cert, bak_key) = backup(&d).expect("the previous pair is kept");
    assert_eq!(read(&bak_cert), old_cert);
    assert_eq!(read(&bak_key), old_key);
    assert_eq!(mode(&bak_key), 0o600);
    assert!(jobs(&sb, &id).iter().all(|j| j.status == "Completed"));
    let h = rig.engine().store().history(Some("edge"), 50).unwrap();
    assert_eq!(
        h.iter()
            .filter(|e| e.action == "renew" && e.outcome == "success")
            .count(),
        2
    );
    rig.stop().await;
}

async fn retired_after(sb: &Sandbox, mut rig: Rig, id: &str, what: &str) {
    let e = rig.wait("retired", Duration::from_secs(5), is("retired")).await;
    let EventKind::Retired { reason } = e.kind else {
        unreachable!()
    };
    assert!(
        reason.contains("410") && reason.contains(id) && reason.contains(what),
        "{reason}"
    );
    assert!(matches!(rig.status("edge").state, State::Retired { .. }));
    let sent = count(sb, "/api/v1/agents/");
    rig.drain_for(Duration::from_millis(1500)).await;
    assert_eq!(count(sb, "/api/v1/agents/"), sent, "a retired agent sent requests");
    let out = rig.engine().handle().renew("edge").await.unwrap();
    assert!(!out.ok && out.message.contains("retired"), "{out:?}");
    assert_eq!(
        count(sb, "/api/v1/agents/"),
        sent,
        "a manual renew of a retired agent sent requests"
    );
    let h = rig.engine().store().history(Some("edge"), 50).unwrap();
    assert!(h.iter().any(|e| e.outcome == "retired"), "{h:?}");
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_410_on_the_heartbeat_retires_and_nothing_is_sent_again() {
    let sb = sandbox().await;
    let (rig, id, _) = deployed(&sb, "").await;
    fault(
        &sb,
        format!("/api/v1/agents/{id}/heartbeat"),
        FaultKind::Status {
            status: 410,
            body: "{\"error\": \"agent has been retired\"}".into(),
            content_type: Some("application/json".into()),
        },
    );
    retired_after(&sb, rig, &id, "heartbeat").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_410_on_the_work_poll_retires_and_nothing_is_sent_again() {
    let sb = sandbox().await;
    let (rig, id, _) = deployed(&sb, "").await;
    fault(
        &sb,
        format!("/api/v1/agents/{id}/work"),
        FaultKind::Status {
            status: 410,
            body: String::new(),
            content_type: None,
        },
    );
    retired_after(&sb, rig, &id, "work poll").await;
}

/// The admin API over HTTP: create, request a certificate, retire, delete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_creates_retires_and_deletes_agents() {
    let sb = sandbox().await;
    let http = reqwest::Client::new();
    let admin = |p: &str| format!("{}{p}", sb.admin_url);
    let created: Value = http
        .post(admin("/admin/certctl/agents"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    let key = created["api_key"].as_str().unwrap().to_string();
    let r = http
        .post(admin(&format!("/admin/certctl/agents/{id}/jobs")))
        .json(&json!({ "certificate_id": "mc-web", "target_id": "t-web", "common_name": "web.edge.test" }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{r:?}");
    let r = http
        .post(admin("/admin/cert-lifetime"))
        .json(&json!({ "seconds": 900 }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let mut rig = Rig::start(|d| config(&sb, d, &id, &key, "")).await;
    rig.wait("the deployment", Duration::from_secs(15), is("renewal_succeeded"))
        .await;
    let l = rig.status("edge").lifetime().unwrap();
    assert_eq!(
        l.not_after.duration_since(l.not_before).unwrap(),
        Duration::from_secs(900)
    );
    let agents: Value = http
        .get(admin("/admin/certctl/agents"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(agents[0]["jobs"][1]["status"], "Completed", "{agents}");
    let counts: Value = http
        .get(admin("/admin/counts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        counts[format!("POST /api/v1/agents/{id}/csr")].as_u64() == Some(1),
        "per-endpoint counts: {counts}"
    );
    // Deleted: the control plane no longer knows the agent (404): failing, with what to check.
    let r = http
        .post(admin(&format!("/admin/certctl/agents/{id}/delete")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // The heartbeat says 404; a work poll in between fails in its own words
    // (upstream's 500 "Failed to get pending work").
    let e = rig
        .wait("the heartbeat's 404", Duration::from_secs(10), |e| {
            is("heartbeat_failed")(e) && e.to_string().contains("HTTP 404")
        })
        .await;
    assert!(e.to_string().contains("check agent_id"), "{e}");
    assert!(matches!(rig.status("edge").state, State::Failing { .. }));
    // Created again and retired through the admin API: 410, retired.
    let (id2, key2) = agent(&sb);
    rig.stop().await;
    let rig = Rig::start(|d| {
        std::fs::create_dir_all(d.join("certs")).unwrap();
        config(&sb, d, &id2, &key2, "")
    })
    .await;
    let r = http
        .post(admin(&format!("/admin/certctl/agents/{id2}/retire")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    retired_after(&sb, rig, &id2, "410").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_plane_faults_show_as_failing_and_the_next_poll_recovers() {
    let sb = sandbox().await;
    let (mut rig, id, _) = deployed(&sb, "").await;
    let d = rig.dir.path().to_path_buf();
    let files = ["certs/web.pem", "certs/web.key", "keys/mc-web.key"].map(|f| (f, read(&d.join(f))));
    let work = format!("/api/v1/agents/{id}/work");
    let cases: Vec<(FaultKind, &str)> = vec![
        (
            FaultKind::Status {
                status: 500,
                body: "<html><body><h1>500 Internal Server Error</h1></body></html>".into(),
                content_type: Some("text/html".into()),
            },
            "HTTP 500: an HTML error page",
        ),
        (FaultKind::Drop, "/work"),
        (FaultKind::Malformed, "not valid JSON"),
        (
            FaultKind::Status {
                status: 200,
                body: "{\"jobs\": [], \"count\": 0}".into(),
                content_type: Some("text/plain".into()),
            },
            "content type \"text/plain\", not application/json",
        ),
        (
            FaultKind::Status {
                status: 200,
                body: "{\"jobs\": \"none\"}".into(),
                content_type: Some("application/json".into()),
            },
            "not a job list",
        ),
    ];
    for (kind, want) in cases {
        let mark = rig.seen.len();
        fault(&sb, work.clone(), kind.clone());
        let e = rig
            .wait(&format!("{kind:?}"), Duration::from_secs(5), is("heartbeat_failed"))
            .await;
        let EventKind::HeartbeatFailed { message, .. } = e.kind else {
            unreachable!()
        };
        assert!(message.contains(&work) && message.contains(want), "{kind:?}: {message}");
        rig.wait("healthy again", Duration::from_secs(5), to("healthy")).await;
        let states: Vec<String> = rig.seen[mark..]
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::StateChanged { to, .. } => Some(to.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(states, vec!["failing", "healthy"], "{kind:?}: {}", rig.log());
    }
    // A slow answer is only slow.
    let mark = rig.seen.len();
    let before = polls(&sb, &id);
    fault(&sb, work.clone(), FaultKind::Delay { ms: 400 });
    until("polls after a delay", Duration::from_secs(5), || {
        polls(&sb, &id) >= before + 3
    })
    .await;
    rig.drain_for(Duration::from_millis(100)).await;
    assert_eq!(
        rig.count(|k| matches!(k, EventKind::HeartbeatFailed { .. })),
        rig.seen[..mark]
            .iter()
            .filter(|e| matches!(e.kind, EventKind::HeartbeatFailed { .. }))
            .count(),
        "a delay is not a failure"
    );
    assert_eq!(rig.status("edge").state, State::Healthy);
    for (f, bytes) in &files {
        assert_eq!(&read(&d.join(f)), bytes, "{f} was touched");
    }
    rig.stop().await;
}

/// Waits for the failure of a job (not the "no job yet" of a retry).
async fn failed_job(rig: &mut Rig) -> String {
    let e = rig
        .wait(
            "a failed job",
            Duration::from_secs(10),
            |e| matches!(&e.kind, EventKind::RenewalFailed { message, .. } if message.starts_with("job ")),
        )
        .await;
    let EventKind::RenewalFailed { message, .. } = e.kind else {
        unreachable!()
    };
    message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_certificates_are_reported_failed_and_overwrite_nothing() {
    let sb = sandbox().await;
    let (mut rig, id, _) = deployed(&sb, "").await;
    let d = rig.dir.path().to_path_buf();
    let files = ["certs/web.pem", "certs/web.key", "keys/mc-web.key"].map(|f| (f, read(&d.join(f))));
    let now = std::time::SystemTime::now();
    let stranger = sb
        .state
        .ca
        .issue("web.edge.test", now, Duration::from_secs(3600))
        .unwrap();
    let expired = sb
        .state
        .ca
        .issue(
            "web.edge.test",
            now - Duration::from_secs(7200),
            Duration::from_secs(3600),
        )
        .unwrap();
    let json200 = |pem: &str| FaultKind::Status {
        status: 200,
        body: json!({ "certificate_id": "mc-web", "certificate_pem": pem }).to_string(),
        content_type: Some("application/json".into()),
    };
    let cases: Vec<(FaultKind, &str)> = vec![
        (json200(&stranger.cert_pem), "does not match the key made here"),
        (json200(&expired.cert_pem), "expired already"),
        (
            json200("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"),
            "does not parse",
        ),
        (FaultKind::Malformed, "not valid JSON"),
        (
            FaultKind::Status {
                status: 200,
                body: json!({ "certificate_pem": stranger.cert_pem }).to_string(),
                content_type: Some("text/html".into()),
            },
            "content type \"text/html\"",
        ),
        (
            FaultKind::Status {
                status: 500,
                body: "<!DOCTYPE html><html><body>Internal Server Error</body></html>".into(),
                content_type: Some("text/html".into()),
            },
            "HTTP 500: an HTML error page",
        ),
        (FaultKind::Drop, "certificate fetch failed"),
    ];
    for (kind, want) in cases {
        fault(&sb, format!("/api/v1/agents/{id}/certificates/"), kind.clone());
        request(&sb, &id, "mc-web", "t-web");
        let message = failed_job(&mut rig).await;
        assert!(message.contains(want), "{kind:?}: {message}");
        assert!(!message.contains("PRIVATE KEY"));
        // The job is reported failed, with the error text.
        let deployment = jobs(&sb, &id).into_iter().rfind(|j| j.kind == "Deployment").unwrap();
        assert_eq!(deployment.status, "Failed", "{kind:?}");
        assert!(
            deployment.error.as_deref().unwrap_or("").contains(want),
            "{deployment:?}"
        );
        assert!(matches!(rig.status("edge").state, State::Failing { .. }), "{kind:?}");
        for (f, bytes) in &files {
            assert_eq!(&read(&d.join(f)), bytes, "{kind:?}: {f} was overwritten");
        }
        assert!(backup(&d).is_none(), "{kind:?}: a backup means a write");
    }
    // A good certificate at last: deployed, healthy again.
    request(&sb, &id, "mc-web", "t-web");
    rig.wait("the good one", Duration::from_secs(10), is("renewal_succeeded"))
        .await;
    rig.drain_for(Duration::from_millis(200)).await;
    assert_eq!(rig.status("edge").state, State::Healthy);
    assert_eq!(read(&backup(&d).unwrap().0), files[0].1);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_to_a_target_not_configured_here_is_refused() {
    let sb = sandbox().await;
    let (mut rig, id, _) = deployed(&sb, "").await;
    let d = rig.dir.path().to_path_buf();
    let before: Vec<_> = std::fs::read_dir(d.join("certs"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    request(&sb, &id, "mc-other", "t-elsewhere");
    let message = failed_job(&mut rig).await;
    assert!(
        message.contains("\"t-elsewhere\" is not configured on this machine"),
        "{message}"
    );
    let dep = jobs(&sb, &id).into_iter().rfind(|j| j.kind == "Deployment").unwrap();
    assert_eq!(dep.status, "Failed");
    let after: Vec<_> = std::fs::read_dir(d.join("certs"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_below_1_3_is_refused() {
    let sb = sandbox().await;
    let (url, handshakes, _server) = evergreen_sandbox::tls::tls12_only(&sb.state.ca).await.unwrap();
    let (id, key) = agent(&sb);
    let mut rig = Rig::start(|d| config(&sb, d, &id, &key, "").replace(&sb.url, &url)).await;
    let e = rig
        .wait("a refused handshake", Duration::from_secs(10), is("heartbeat_failed"))
        .await;
    let text = e.to_string();
    assert!(text.contains(&url), "{text}");
    assert!(
        text.to_lowercase().contains("version"),
        "the message names the protocol version: {text}"
    );
    assert_eq!(
        handshakes.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a TLS 1.2 handshake completed"
    );
    assert!(matches!(rig.status("edge").state, State::Failing { .. }));
    rig.stop().await;
}

#[test]
fn config_check_refuses_plain_http_before_any_network_call() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("config.toml");
    write_secret(&d.path().join("k"), "cc-key");
    std::fs::write(
        &path,
        format!(
            "[[credential]]\nname = \"edge\"\nkind = \"certctl\"\nurl = \"http://127.0.0.1:{port}\"\nagent_id = \"a-1\"\napi_key_file = \"{}/k\"\ntargets = [\"t=/tmp/x.pem\"]\nkey_dir = \"{}/keys\"\n",
            d.path().display(),
            d.path().display()
        ),
    )
    .unwrap();
    let r = evergreen_tests::evergreen(["config", "check", path.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("config.toml:4:")
            && r.stderr.contains("HTTPS-only")
            && r.stderr.contains("credential \"edge\""),
        "{}",
        r.stderr
    );
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the check connected to the control plane"
    );
    assert!(!d.path().join("keys").exists(), "the check created the key directory");
}

#[test]
fn an_unreadable_or_empty_ca_bundle_is_a_loud_startup_error() {
    let d = tempfile::tempdir().unwrap();
    let src = |bundle: &Path| {
        format!(
            "[[credential]]\nname = \"edge\"\nkind = \"certctl\"\nurl = \"https://certctl.example.test:8443\"\nagent_id = \"a-1\"\napi_key_env = \"CERTCTL_API_KEY\"\ntargets = [\"t=/tmp/x.pem\"]\nkey_dir = \"/tmp/k\"\nca_bundle = \"{}\"\n",
            bundle.display()
        )
    };
    let missing = d.path().join("missing-ca.pem");
    let empty = d.path().join("empty-ca.pem");
    std::fs::write(&empty, "").unwrap();
    for (bundle, want) in [
        (&missing, "could not read CA bundle"),
        (&empty, "contains no PEM certificates"),
    ] {
        let path = d.path().join("config.toml");
        std::fs::write(&path, src(bundle)).unwrap();
        let r = evergreen_tests::evergreen(["config", "check", path.to_str().unwrap()]);
        assert_eq!(r.code, 2, "{r:?}");
        assert!(
            r.stderr.contains(want)
                && r.stderr.contains(&bundle.display().to_string())
                && r.stderr.contains("ca_bundle"),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn config_mistakes_of_the_certctl_kind_are_named() {
    let file = Path::new("/home/u/.config/evergreen/config.toml");
    let head = "[[credential]]\nname = \"edge\"\nkind = \"certctl\"\nurl = \"https://cp.example.test\"\n";
    let cases: &[(&str, &str)] = &[
        ("agent_id = \"a\"\ntargets = [\"t=/c.pem\"]\nkey_dir = \"/k\"\n", "needs the agent's API key"),
        ("api_key_env = \"K\"\ntargets = [\"t=/c.pem\"]\nkey_dir = \"/k\"\n", "needs `agent_id`"),
        ("agent_id = \"a\"\napi_key_env = \"K\"\nkey_dir = \"/k\"\n", "needs `targets`"),
        ("agent_id = \"a\"\napi_key_env = \"K\"\ntargets = [\"/c.pem\"]\nkey_dir = \"/k\"\n", "is not TARGET_ID=CERTIFICATE_PATH"),
        ("agent_id = \"a\"\napi_key_env = \"K\"\ntargets = [\"t=/c.pem\", \"u=/c.pem\"]\nkey_dir = \"/k\"\n", "each target needs its own file"),
        ("agent_id = \"a\"\napi_key_env = \"K\"\napi_key_file = \"/k\"\ntargets = [\"t=/c.pem\"]\nkey_dir = \"/k\"\n", "not both"),
        ("agent_id = \"a/b\"\napi_key_env = \"K\"\ntargets = [\"t=/c.pem\"]\nkey_dir = \"/k\"\n", "agent_id \"a/b\""),
        ("agent_id = \"a\"\napi_key_env = \"K\"\ntargets = [\"t=/c.pem\"]\nkey_dir = \"/k\"\npoll_interval = \"often\"\n", "is not a duration"),
        ("agent_id = \"a\"\napi_key_env = \"K\"\ntargets = [\"t=/c.pem\"]\nkey_dir = \"/k\"\nmachine_id = \"m\"\n", "`machine_id` does not apply to kind certctl"),
    ];
    for (body, want) in cases {
        let src = format!("{head}{body}");
        let e = evergreen_core::config::parse(&src, file).unwrap_err().to_string();
        assert!(
            e.contains(want) && e.contains("credential \"edge\""),
            "for {src}\nwanted {want:?} in:\n{e}"
        );
    }
    let ok = evergreen_core::config::parse(
        &format!("{head}agent_id = \"a\"\napi_key_file = \"keys/certctl.key\"\ntargets = [\"t-web = certs/web.pem\"]\nkey_dir = \"keys\"\ndiscovery_dirs = [\"/etc/ssl\"]\n"),
        file,
    )
    .unwrap();
    let s = ok.credentials[0]
        .spec_as::<evergreen_core::sources::certctl::CertctlSpec>()
        .expect("a certctl spec");
    assert_eq!(
        (s.heartbeat_interval, s.poll_interval, s.discovery_interval),
        (
            Duration::from_secs(60),
            Duration::from_secs(30),
            Duration::from_secs(6 * 3600)
        )
    );
    assert_eq!(
        s.targets["t-web"].cert_path,
        Path::new("/home/u/.config/evergreen/certs/web.pem")
    );
    assert_eq!(
        s.targets["t-web"].key_path,
        Path::new("/home/u/.config/evergreen/certs/web.key")
    );
    assert_eq!(ok.credentials[0].kind().as_str(), "certctl");
    assert_eq!(serde_json::to_value(ok.credentials[0].kind()).unwrap(), "certctl");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_reports_the_configured_directories_at_the_first_poll_and_on_demand() {
    let sb = sandbox().await;
    let (id, key) = agent(&sb);
    request(&sb, &id, "mc-web", "t-web");
    let now = std::time::SystemTime::now();
    let found = sb
        .state
        .ca
        .issue("found.edge.test", now, Duration::from_secs(3600))
        .unwrap();
    let mut rig = Rig::start(|d| {
        std::fs::create_dir_all(d.join("scan/deep")).unwrap();
        std::fs::write(d.join("scan/deep/found.crt"), &found.cert_pem).unwrap();
        std::fs::write(d.join("scan/deep/found.key"), &found.key_pem).unwrap();
        config(
            &sb,
            d,
            &id,
            &key,
            &format!(
                "discovery_dirs = [\"{}/scan\"]\ndiscovery_interval = \"1h\"",
                d.display()
            ),
        )
    })
    .await;
    rig.wait("the deployment", Duration::from_secs(15), is("renewal_succeeded"))
        .await;
    let discoveries = |sb: &Sandbox| sb.state.lock().certctl.agents[&id].discoveries.clone();
    until("the first scan", Duration::from_secs(5), || discoveries(&sb).len() == 1).await;
    let report = discoveries(&sb)[0].clone();
    assert_eq!(report["agent_id"], id.as_str());
    let certs = report["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 1, "{report}");
    assert_eq!(certs[0]["common_name"], "found.edge.test");
    assert!(certs[0]["source_path"]
        .as_str()
        .unwrap()
        .ends_with("scan/deep/found.crt"));
    assert_eq!(certs[0]["fingerprint_sha256"].as_str().unwrap().len(), 64);
    assert!(
        !report.to_string().contains("PRIVATE KEY"),
        "a key went into the report"
    );
    // On demand: a manual renew scans again (and has no job to do).
    let out = rig.engine().handle().renew("edge").await.unwrap();
    assert!(
        out.ok && out.message.contains("discovery reported 1 certificates"),
        "{out:?}"
    );
    assert!(
        out.message.contains("unchanged: the control plane has no job"),
        "{out:?}"
    );
    assert_eq!(discoveries(&sb).len(), 2);
    // Nothing left to find: nothing is sent (the server would answer 500).
    std::fs::remove_file(rig.path("scan/deep/found.crt")).unwrap();
    std::fs::remove_file(rig.path("scan/deep/found.key")).unwrap();
    let posts = count(&sb, "/discoveries");
    let out = rig.engine().handle().renew("edge").await.unwrap();
    assert!(
        out.ok && out.message.contains("discovery found nothing to report (none sent)"),
        "{out:?}"
    );
    assert_eq!(count(&sb, "/discoveries"), posts, "an empty report was sent");
    assert_eq!(discoveries(&sb).len(), 2);
    rig.stop().await;
}

/// `evergreen-sandbox --print-config DIR` includes a certctl agent that works as printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_prints_a_certctl_agent_that_evergreen_runs() {
    let sb = sandbox().await;
    let mut printed = String::new();
    let mut rig = Rig::start(|d| {
        printed = evergreen_sandbox::demo_config(&sb, &d.join("sandbox")).unwrap();
        printed.clone()
    })
    .await;
    assert!(printed.contains("kind = \"certctl\""));
    rig.wait("the certctl deployment", Duration::from_secs(15), |e| {
        e.credential.as_deref() == Some("sandbox-certctl") && e.kind.name() == "renewal_succeeded"
    })
    .await;
    assert!(rig.dir.path().join("sandbox/certctl-demo.pem").exists());
    rig.stop().await;
}

/// Like certctl's server, the sandbox queues a renewal when a certificate is
/// half through its life; the agent's poll picks it up and it is deployed
/// before Evergreen's own renewal point, so nothing ever shows as failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_plane_renews_on_its_own_schedule_and_the_agent_keeps_up() {
    let sb = sandbox().await;
    // 10 s certificates: each round is due within seconds, and a loaded
    // machine gets twice a lifetime to deliver it.
    sb.state.lock().cert_lifetime = Duration::from_secs(10);
    let (mut rig, id, _) = deployed(&sb, "").await;
    let mut previous = rig.status("edge").not_after.unwrap();
    for round in 0..2 {
        let e = rig
            .wait(
                "a renewal the server asked for",
                Duration::from_secs(20),
                is("renewal_succeeded"),
            )
            .await;
        let EventKind::RenewalSucceeded { new_not_after, .. } = e.kind else {
            unreachable!()
        };
        // Each round extends the one before it, not merely the first.
        assert!(
            new_not_after > previous,
            "round {round}: {new_not_after} after {previous}"
        );
        previous = new_not_after;
    }
    assert_eq!(
        rig.count(|k| matches!(k, EventKind::RenewalFailed { .. })),
        0,
        "{}",
        rig.log()
    );
    let j = jobs(&sb, &id);
    assert_eq!(j.len(), 6, "three CSR jobs and three deployments: {j:?}");
    assert!(j.iter().all(|j| j.status == "Completed"), "{j:?}");
    rig.stop().await;
}

/// certctl hands a deployment out once (the poll that returns it claims it):
/// one handed out just before the engine dies is deployed after the restart,
/// exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_handed_out_before_a_restart_runs_exactly_once() {
    use evergreen_tests::env::{wait_for, Env};
    let sb = sandbox().await;
    let (id, key) = agent(&sb);
    let env = Env::new();
    let d = env.dir.path().to_path_buf();
    env.write_config(&config(&sb, &d, &id, &key, ""));
    request(&sb, &id, "mc-web", "t-web");
    // The deployment's certificate fetch hangs: the engine dies during it.
    fault(
        &sb,
        format!("/api/v1/agents/{id}/certificates/"),
        FaultKind::Delay { ms: 60_000 },
    );
    let deployment = |sb: &Sandbox| jobs(sb, &id).into_iter().find(|j| j.kind == "Deployment");
    tokio::task::block_in_place(|| {
        let daemon = env.spawn(&["run", "--json"]);
        wait_for("the deployment to be handed out", Duration::from_secs(20), || {
            deployment(&sb).is_some_and(|j| j.reported.iter().any(|r| r == "Running"))
        });
        daemon.kill9();
        let j = deployment(&sb).unwrap();
        assert_eq!(j.status, "Running", "{j:?}");
        assert!(!d.join("certs/web.pem").exists());
        // The control plane will not hand it out again; Evergreen kept it.
        let daemon = env.start();
        wait_for("the deployment to complete", Duration::from_secs(20), || {
            deployment(&sb).is_some_and(|j| j.status == "Completed")
        });
        let j = deployment(&sb).unwrap();
        let count = |what: &str| j.reported.iter().filter(|r| *r == what).count();
        assert_eq!(count("delivered"), 1, "{:?}", j.reported);
        assert_eq!(count("Completed"), 1, "{:?}", j.reported);
        assert_eq!(count("Failed"), 0, "{:?}", j.reported);
        let cert = read(&d.join("certs/web.pem"));
        let pair = rcgen::KeyPair::from_pem(std::str::from_utf8(&read(&d.join("certs/web.key"))).unwrap()).unwrap();
        assert_eq!(cert_key(&cert), pair.public_key_raw());
        assert_eq!(daemon.stop(), 0);
    });
    // Done means done: nothing is owed any more.
    let owed: Value = serde_json::from_slice(&read(&d.join("keys/deployments.json"))).unwrap();
    assert_eq!(owed["pending"].as_array().unwrap().len(), 0, "{owed}");
}

/// The sandbox answers as upstream's handlers do (`internal/api/handler/
/// agents.go`, `discovery.go`): the key first (401), 410 and 404 only from
/// the heartbeat, 500 in each endpoint's own words for what its service
/// refuses, and upstream's error body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_answers_with_upstreams_codes_and_bodies() {
    let sb = sandbox().await;
    let (id, key) = agent(&sb);
    let ca = reqwest::Certificate::from_pem(sb.ca_pem().as_bytes()).unwrap();
    let http = reqwest::Client::builder().add_root_certificate(ca).build().unwrap();
    let url = |p: &str| format!("{}/api/v1/agents/{id}{p}", sb.url);
    let send = |r: reqwest::RequestBuilder, key: &str| {
        let r = r.bearer_auth(key);
        async move {
            let r = r.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let upstream_error = |body: &Value, status_text: &str, message: &str| {
        assert_eq!(body["error"], status_text, "{body}");
        assert_eq!(body["message"], message, "{body}");
        assert!(body["request_id"].as_str().is_some_and(|r| !r.is_empty()), "{body}");
    };

    // The auth middleware: a JSON text in a plain-text body, only `error`.
    let (s, b) = send(http.post(url("/heartbeat")), "not-a-key").await;
    assert_eq!((s, &b), (401, &json!({ "error": "Invalid API key" })), "{b}");
    let r = http.post(url("/heartbeat")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(
        r.headers().get("www-authenticate").and_then(|v| v.to_str().ok()),
        Some("Bearer realm=\"certctl\"")
    );
    assert_eq!(
        r.text().await.unwrap(),
        "{\"error\":\"Authorization header required\"}\n"
    );
    // Keys are the server's: any valid key serves any agent id.
    let (other, _) = agent(&sb);
    let (s, b) = send(http.post(format!("{}/api/v1/agents/{other}/heartbeat", sb.url)), &key).await;
    assert_eq!(s, 200, "{b}");
    // The metadata is optional: a heartbeat without a body counts.
    let (s, b) = send(http.post(url("/heartbeat")), &key).await;
    assert_eq!((s, &b["status"]), (200, &json!("heartbeat_recorded")), "{b}");
    assert_eq!(heartbeats(&sb, &id), 1);
    // An empty discovery report: 500, which is why agents never send one.
    let (s, b) = send(
        http.post(url("/discoveries"))
            .json(&json!({ "agent_id": id, "certificates": [], "errors": [] })),
        &key,
    )
    .await;
    assert_eq!(s, 500);
    assert_eq!(
        b,
        json!({ "error": "Internal Server Error", "message": "failed to process discovery report: report must contain at least one certificate or error" }),
        "the discovery handler's errors carry no request id"
    );
    // A CSR nothing waits for, a job the server does not know, an empty status.
    let csr = "-----BEGIN CERTIFICATE REQUEST-----\nnot one\n-----END CERTIFICATE REQUEST-----";
    let (s, b) = send(
        http.post(url("/csr"))
            .json(&json!({ "csr_pem": csr, "certificate_id": "mc-none" })),
        &key,
    )
    .await;
    assert_eq!(
        s, 500,
        "a CSR with the PEM header that does not parse fails in the service: {b}"
    );
    upstream_error(&b, "Internal Server Error", "Failed to submit CSR");
    let (s, b) = send(
        http.post(url("/csr"))
            .json(&json!({ "csr_pem": "MIIB…", "certificate_id": "mc-none" })),
        &key,
    )
    .await;
    assert_eq!(s, 400, "{b}");
    upstream_error(
        &b,
        "Bad Request",
        "csr_pem must be a valid PEM-encoded certificate request",
    );
    let kp = rcgen::KeyPair::generate().unwrap();
    let real_csr = rcgen::CertificateParams::new(vec!["web.edge.test".to_string()])
        .unwrap()
        .serialize_request(&kp)
        .unwrap()
        .pem()
        .unwrap();
    let (s, b) = send(
        http.post(url("/csr"))
            .json(&json!({ "csr_pem": real_csr, "certificate_id": "mc-none" })),
        &key,
    )
    .await;
    assert_eq!(s, 500);
    upstream_error(&b, "Internal Server Error", "Failed to submit CSR");
    let (s, b) = send(
        http.post(url("/jobs/job-none/status"))
            .json(&json!({ "status": "Completed" })),
        &key,
    )
    .await;
    assert_eq!(s, 500);
    upstream_error(&b, "Internal Server Error", "Failed to update job status");
    let (s, b) = send(
        http.post(url("/jobs/job-none/status")).json(&json!({ "status": "" })),
        &key,
    )
    .await;
    assert_eq!(s, 400);
    upstream_error(&b, "Bad Request", "Status is required");
    let (s, b) = send(http.get(url("/certificates/mc-none")), &key).await;
    assert_eq!(s, 404);
    upstream_error(&b, "Not Found", "Certificate not found or not ready");
    // Retired: the heartbeat says so; a work poll lists nothing.
    sb.state.lock().certctl.agents.get_mut(&id).unwrap().retired = true;
    let (s, b) = send(http.post(url("/heartbeat")), &key).await;
    assert_eq!(s, 410);
    upstream_error(&b, "Gone", "Agent has been retired");
    let (s, b) = send(http.get(url("/work")), &key).await;
    assert_eq!((s, b), (200, json!({ "jobs": [], "count": 0 })));
    // An agent the server does not know: its service fails the poll.
    let (s, b) = send(http.get(format!("{}/api/v1/agents/a-unknown/work", sb.url)), &key).await;
    assert_eq!(s, 500);
    upstream_error(&b, "Internal Server Error", "Failed to get pending work");
}
