//! The wrenn credential against evergreen-sandbox over real TLS: one-time
//! registration, heartbeats, refresh and hot-swap after a 401, a refused
//! refresh (paused until a new registration), a deleted host (retired,
//! credentials moved to `.bak`; a 404 that is not the control plane's own
//! answer retires nothing), and a control plane that stops answering (paused
//! after three heartbeats, recovered on the next one).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use evergreen_core::events::EventKind;
use evergreen_core::model::State;
use evergreen_sandbox::faults::{Fault, FaultKind};
use evergreen_sandbox::{Options, Sandbox};
use evergreen_tests::bao::write_secret;
use evergreen_tests::rig::{is, Rig};
use serde_json::Value;

async fn sandbox() -> Sandbox {
    Sandbox::start(Options::default()).await.unwrap()
}

fn config(sb: &Sandbox, d: &Path) -> String {
    std::fs::write(d.join("ca.pem"), sb.ca_pem()).unwrap();
    format!(
        "[[credential]]\nname = \"host\"\nkind = \"wrenn\"\nurl = \"{}\"\ncredentials_file = \"{}\"\nca_bundle = \"{}\"\nheartbeat_interval = \"1s\"\nhost_address = \"10.0.0.5:9000\"\n",
        sb.url,
        d.join("host-credentials.json").display(),
        d.join("ca.pem").display()
    )
}

fn token(sb: &Sandbox, d: &Path) -> String {
    let t = sb.state.lock().wrenn.new_token();
    write_secret(&d.join("host-credentials.json.token"), &t);
    t
}

fn creds(d: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(d.join("host-credentials.json")).unwrap()).unwrap()
}

fn heartbeats(sb: &Sandbox) -> u64 {
    sb.state.lock().wrenn.hosts.values().map(|h| h.heartbeats).sum()
}

fn count(sb: &Sandbox, endpoint: &str) -> u64 {
    sb.state
        .lock()
        .counts
        .iter()
        .filter(|(k, _)| k.starts_with(endpoint))
        .map(|(_, v)| *v)
        .sum()
}

async fn registered(sb: &Sandbox) -> (Rig, String) {
    let mut tok = String::new();
    let mut rig = Rig::start(|d| {
        tok = token(sb, d);
        config(sb, d)
    })
    .await;
    let e = rig
        .wait("registration", Duration::from_secs(10), is("renewal_succeeded"))
        .await;
    let EventKind::RenewalSucceeded { message, .. } = e.kind else {
        unreachable!()
    };
    assert_eq!(message, "registered");
    (rig, tok)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_once_with_the_token_then_heartbeats_every_interval() {
    let sb = sandbox().await;
    let (mut rig, tok) = registered(&sb).await;
    let d = rig.dir.path().to_path_buf();
    let c = creds(&d);
    for field in ["host_id", "jwt", "refresh_token", "cert_pem", "key_pem", "ca_cert_pem"] {
        assert!(c[field].as_str().is_some_and(|v| !v.is_empty()), "{field} missing: {c}");
    }
    let mode = std::fs::metadata(d.join("host-credentials.json"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        !d.join("host-credentials.json.token").exists(),
        "the one-time token was kept"
    );
    assert!(sb.state.lock().wrenn.tokens.is_empty(), "the token was not spent");
    // An immediate heartbeat, then one a second.
    for _ in 0..40 {
        if heartbeats(&sb) >= 3 {
            break;
        }
        rig.drain_for(Duration::from_millis(100)).await;
    }
    assert!(heartbeats(&sb) >= 3, "heartbeats: {}", heartbeats(&sb));
    // The metrics count what the control plane took (one may be on its way back).
    let taken = heartbeats(&sb);
    let text = rig.engine().control().metrics().unwrap();
    let counted: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("evergreen_heartbeats_total{credential=\"host\",result=\"success\"} "))
        .unwrap_or_else(|| panic!("no heartbeat series in\n{text}"))
        .parse()
        .unwrap();
    assert!(
        counted + 1 >= taken && counted <= heartbeats(&sb),
        "counted {counted}, the server took {taken}"
    );
    let st = rig.status("host");
    assert_eq!(st.state, State::Healthy);
    assert!(st.last_heartbeat.is_some());
    assert_eq!(count(&sb, "POST /v1/hosts/register"), 1);
    for secret in [
        tok.as_str(),
        c["jwt"].as_str().unwrap(),
        c["refresh_token"].as_str().unwrap(),
    ] {
        rig.assert_never_shows(secret);
    }
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_refreshed_once_and_the_next_heartbeat_uses_the_new_one() {
    let sb = sandbox().await;
    let (mut rig, _) = registered(&sb).await;
    let d = rig.dir.path().to_path_buf();
    let old = creds(&d);
    let id = old["host_id"].as_str().unwrap().to_string();
    rig.drain_for(Duration::from_millis(1500)).await;
    sb.state.lock().wrenn.hosts.get_mut(&id).unwrap().jwt = "invalidated".into();
    rig.wait("the refresh", Duration::from_secs(5), is("observed")).await;
    let new = creds(&d);
    assert_ne!(new["jwt"], old["jwt"]);
    assert_ne!(new["refresh_token"], old["refresh_token"], "the refresh token rotates");
    let before = heartbeats(&sb);
    let start = std::time::Instant::now();
    while heartbeats(&sb) <= before {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "heartbeats with the new token are accepted"
        );
        rig.drain_for(Duration::from_millis(100)).await;
    }
    assert_eq!(count(&sb, "POST /v1/hosts/auth/refresh"), 1);
    assert_eq!(rig.status("host").state, State::Healthy);
    let h = rig.engine().store().history(Some("host"), 50).unwrap();
    assert!(h.iter().any(|e| e.action == "refresh"), "{h:?}");
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_pauses_until_a_new_token_registers_again() {
    let sb = sandbox().await;
    let (mut rig, _) = registered(&sb).await;
    let d = rig.dir.path().to_path_buf();
    let id = creds(&d)["host_id"].as_str().unwrap().to_string();
    {
        let mut g = sb.state.lock();
        let h = g.wrenn.hosts.get_mut(&id).unwrap();
        h.jwt = "invalidated".into();
        h.refresh_token = "revoked".into();
    }
    let e = rig.wait("paused", Duration::from_secs(5), is("paused")).await;
    let EventKind::Paused { reason } = e.kind else {
        unreachable!()
    };
    assert!(
        reason.contains("re-registration needed") && reason.contains("evergreen register"),
        "{reason}"
    );
    assert!(matches!(rig.status("host").state, State::Paused { .. }));
    let beats = count(&sb, "POST /v1/hosts/");
    rig.drain_for(Duration::from_secs(2)).await;
    assert_eq!(count(&sb, "POST /v1/hosts/"), beats, "the loop did not stop");
    // `evergreen register host --token …` writes the token file: registered again.
    token(&sb, &d);
    let e = rig
        .wait("re-registration", Duration::from_secs(10), is("renewal_succeeded"))
        .await;
    let EventKind::RenewalSucceeded { message, .. } = e.kind else {
        unreachable!()
    };
    assert_eq!(message, "registered");
    assert_ne!(creds(&d)["host_id"].as_str().unwrap(), id, "a new host");
    rig.wait(
        "healthy again",
        Duration::from_secs(5),
        |e| matches!(&e.kind, EventKind::StateChanged { to, .. } if to == "healthy"),
    )
    .await;
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_host_is_retired_and_its_credentials_kept_as_bak() {
    let sb = sandbox().await;
    let (mut rig, _) = registered(&sb).await;
    let d = rig.dir.path().to_path_buf();
    let before = std::fs::read(d.join("host-credentials.json")).unwrap();
    let id = creds(&d)["host_id"].as_str().unwrap().to_string();
    // A proxy's 404 page first: a failure, never a deletion.
    let beats = heartbeats(&sb);
    sb.state.lock().add_fault(Fault {
        path_prefix: "/v1/hosts/host-".into(),
        count: 1,
        kind: FaultKind::Status {
            status: 404,
            body: "<html><body><h1>404 Not Found</h1>nginx</body></html>".into(),
            content_type: Some("text/html".into()),
        },
    });
    let e = rig
        .wait("a failed heartbeat", Duration::from_secs(5), is("heartbeat_failed"))
        .await;
    let EventKind::HeartbeatFailed { message, .. } = e.kind else {
        unreachable!()
    };
    assert!(
        message.contains("404") && message.contains("credentials are kept"),
        "{message}"
    );
    assert_eq!(std::fs::read(d.join("host-credentials.json")).unwrap(), before);
    // and the next heartbeat goes through as before
    evergreen_tests::desktop::poll("a heartbeat after the proxy's 404", Duration::from_secs(5), || {
        (heartbeats(&sb) > beats).then_some(())
    })
    .await;
    sb.state.lock().wrenn.hosts.get_mut(&id).unwrap().deleted = true;
    let e = rig.wait("retired", Duration::from_secs(5), is("retired")).await;
    let EventKind::Retired { reason } = e.kind else {
        unreachable!()
    };
    assert!(reason.contains("deleted") && reason.contains(&id), "{reason}");
    assert!(
        !d.join("host-credentials.json").exists(),
        "the credentials file is still in place"
    );
    let bak = d.join("host-credentials.json.bak");
    assert_eq!(
        std::fs::read(&bak).unwrap(),
        before,
        "the credentials were not kept as .bak"
    );
    assert_eq!(std::fs::metadata(&bak).unwrap().permissions().mode() & 0o777, 0o600);
    let h = rig.engine().store().history(Some("host"), 50).unwrap();
    assert!(h.iter().any(|e| e.outcome == "retired"), "{h:?}");
    let beats = count(&sb, "POST /v1/hosts/");
    rig.drain_for(Duration::from_secs(2)).await;
    assert_eq!(count(&sb, "POST /v1/hosts/"), beats, "a retired host kept calling");
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_lost_heartbeats_pause_and_the_next_one_recovers() {
    let sb = sandbox().await;
    let (mut rig, _) = registered(&sb).await;
    let d = rig.dir.path().to_path_buf();
    let before = std::fs::read(d.join("host-credentials.json")).unwrap();
    rig.drain_for(Duration::from_millis(1200)).await;
    sb.state.lock().add_fault(Fault {
        path_prefix: "/v1/hosts/host-".into(),
        count: 3,
        kind: FaultKind::Drop,
    });
    let e = rig.wait("paused", Duration::from_secs(8), is("paused")).await;
    let EventKind::Paused { reason } = e.kind else {
        unreachable!()
    };
    assert!(reason.contains("3 heartbeats"), "{reason}");
    assert_eq!(rig.count(|k| matches!(k, EventKind::HeartbeatFailed { .. })), 3);
    assert!(matches!(rig.status("host").state, State::Paused { .. }));
    let e = rig.wait("recovery", Duration::from_secs(5), is("recovered")).await;
    let EventKind::Recovered { after_failures, .. } = e.kind else {
        unreachable!()
    };
    assert_eq!(after_failures, 3);
    assert_eq!(rig.status("host").state, State::Healthy);
    assert_eq!(
        std::fs::read(d.join("host-credentials.json")).unwrap(),
        before,
        "credentials touched"
    );
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_refresh_reply_saves_nothing() {
    let sb = sandbox().await;
    let (rig, _) = registered(&sb).await;
    let d = rig.dir.path().to_path_buf();
    let before = std::fs::read(d.join("host-credentials.json")).unwrap();
    for kind in [
        FaultKind::Malformed,
        FaultKind::Status {
            status: 200,
            body: "{\"token\": \"not-a-jwt\", \"refresh_token\": \"x\"}".into(),
            content_type: Some("application/json".into()),
        },
        FaultKind::Status {
            status: 500,
            body: "<html>oops</html>".into(),
            content_type: Some("text/html".into()),
        },
    ] {
        sb.state.lock().add_fault(Fault {
            path_prefix: "/v1/hosts/auth/refresh".into(),
            count: 1,
            kind: kind.clone(),
        });
        let out = rig.engine().handle().renew("host").await.unwrap();
        assert!(!out.ok, "{kind:?}");
        assert!(
            out.message.contains("/v1/hosts/auth/refresh"),
            "{kind:?}: {}",
            out.message
        );
        assert_eq!(
            std::fs::read(d.join("host-credentials.json")).unwrap(),
            before,
            "{kind:?}"
        );
    }
    rig.stop().await;
}

#[test]
fn plain_http_is_refused_except_on_loopback() {
    let d = tempfile::tempdir().unwrap();
    let src = |url: &str| {
        format!("[[credential]]\nname = \"w\"\nkind = \"wrenn\"\nurl = \"{url}\"\ncredentials_file = \"/w.json\"\nhost_address = \"10.0.0.5:9000\"\n")
    };
    let e = evergreen_core::config::parse(&src("http://cp.example.test"), &d.path().join("c.toml")).unwrap_err();
    assert!(e.to_string().contains("must be https://"), "{e}");
    let ok = evergreen_core::config::parse(&src("http://127.0.0.1:8000"), &d.path().join("c.toml")).unwrap();
    assert!(ok.warnings[0].contains("plain HTTP"));
}

/// `evergreen-sandbox --print-config DIR`: the config it prints works as is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_prints_a_config_that_evergreen_runs() {
    let sb = sandbox().await;
    let mut printed = String::new();
    let mut rig = Rig::start(|d| {
        printed = evergreen_sandbox::demo_config(&sb, &d.join("sandbox")).unwrap();
        printed.clone()
    })
    .await;
    rig.wait("the wrenn registration", Duration::from_secs(10), |e| {
        e.credential.as_deref() == Some("sandbox-wrenn") && e.kind.name() == "renewal_succeeded"
    })
    .await;
    assert_eq!(rig.status("sandbox-nixfleet").state, State::Healthy);
    // Longer certificates from now on: a renewal must extend the one just enrolled.
    sb.state.lock().cert_lifetime = Duration::from_secs(7200);
    let out = rig.engine().handle().renew("sandbox-nixfleet").await.unwrap();
    assert!(out.ok, "{out:?}");
    assert!(printed.contains(&sb.url));
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_heartbeat_is_only_slow_and_an_html_500_is_named_not_pasted() {
    let sb = sandbox().await;
    let (mut rig, _) = registered(&sb).await;
    rig.drain_for(Duration::from_millis(1200)).await;
    let beats = heartbeats(&sb);
    sb.state.lock().add_fault(Fault {
        path_prefix: "/v1/hosts/host-".into(),
        count: 1,
        kind: FaultKind::Delay { ms: 1500 },
    });
    // The delayed heartbeat and the next one both land; none counts as lost.
    let start = std::time::Instant::now();
    while heartbeats(&sb) < beats + 2 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "heartbeats stopped after a slow one"
        );
        rig.drain_for(Duration::from_millis(100)).await;
    }
    assert_eq!(rig.count(|k| matches!(k, EventKind::HeartbeatFailed { .. })), 0);
    sb.state.lock().add_fault(Fault {
        path_prefix: "/v1/hosts/host-".into(),
        count: 1,
        kind: FaultKind::Status {
            status: 500,
            body: "<html><head><title>Oops</title></head><body><pre>stack trace</pre></body></html>".into(),
            content_type: Some("text/html".into()),
        },
    });
    let e = rig
        .wait("the failed heartbeat", Duration::from_secs(8), is("heartbeat_failed"))
        .await;
    let EventKind::HeartbeatFailed { message, .. } = e.kind else {
        unreachable!()
    };
    assert!(
        message.contains("HTTP 500") && message.contains("an HTML error page (Oops)") && !message.contains("<pre>"),
        "{message}"
    );
    rig.wait("recovery", Duration::from_secs(8), is("recovered")).await;
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_without_an_address_is_refused_as_upstream_does_and_the_token_kept() {
    let sb = sandbox().await;
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("ca.pem"), sb.ca_pem()).unwrap();
    let client = evergreen_core::http::client(&evergreen_core::http::ClientOptions {
        ca_bundle: Some(d.path().join("ca.pem")),
        ..Default::default()
    })
    .unwrap();
    let url = format!("{}/v1/hosts/register", sb.url);
    let t = sb.state.lock().wrenn.new_token();
    let r = client
        .post(&url)
        .json(&serde_json::json!({ "token": t, "address": "" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["message"], "address is required", "{body}");
    // the token was not spent on a bad request
    let r = client
        .post(&url)
        .json(&serde_json::json!({ "token": t, "address": "10.0.0.5:9000" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_400_at_registration_shows_the_servers_words_and_blames_no_token() {
    let sb = sandbox().await;
    sb.state.lock().add_fault(Fault {
        path_prefix: "/v1/hosts/register".into(),
        count: 1,
        kind: FaultKind::Status {
            status: 400,
            body: r#"{"error":{"code":"invalid_request","message":"address is required"}}"#.into(),
            content_type: Some("application/json".into()),
        },
    });
    let mut rig = Rig::start(|d| {
        token(&sb, d);
        config(&sb, d)
    })
    .await;
    let e = rig.wait("paused", Duration::from_secs(10), is("paused")).await;
    let EventKind::Paused { reason } = e.kind else {
        unreachable!()
    };
    assert!(reason.contains("HTTP 400: address is required"), "{reason}");
    assert!(
        reason.contains("host_address") && !reason.contains("one-time token"),
        "{reason}"
    );
    assert!(
        rig.path("host-credentials.json.token").exists(),
        "the token file is kept for the next try"
    );
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evergreen_register_with_a_token_then_run_registers_the_host() {
    use evergreen_tests::env::{wait_for, Env};
    use std::os::unix::fs::PermissionsExt;
    let sb = sandbox().await;
    let env = Env::new();
    let d = env.dir.path();
    env.write_config(&config(&sb, d));
    let t = sb.state.lock().wrenn.new_token();
    // As a user runs it: the token piped in (a command line is visible to
    // every user), written 0600, never echoed.
    let mut child = env
        .cmd()
        .args(["register", "host"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{t}\n").as_bytes())
            .unwrap();
    }
    let o = child.wait_with_output().unwrap();
    let out = evergreen_tests::Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    };
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stdout.contains(&t) && !out.stderr.contains(&t), "{out:?}");
    let file = d.join("host-credentials.json.token");
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), t);
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let daemon = env.start();
    wait_for("the registration", Duration::from_secs(20), || {
        env.status_of("host")["renewals"]["success"].as_u64().unwrap_or(0) >= 1
    });
    assert!(creds(d)["host_id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(!file.exists(), "the one-time token is spent");
    assert_eq!(daemon.stop(), 0);
}
