//! The nixfleet credential against evergreen-sandbox, over real mutual TLS.
//!
//! The sandbox is a real HTTPS server (TLS 1.3, its own CA) that records the
//! serial of the client certificate every request presented, so the tests
//! can prove the hot-swap: the request after a renewal presents the new
//! certificate, without a restart.

use std::path::Path;
use std::time::{Duration, SystemTime};

use evergreen_core::events::EventKind;
use evergreen_core::model::State;
use evergreen_core::sources::nixfleet::{csr, host_key};
use evergreen_sandbox::faults::{Fault, FaultKind};
use evergreen_sandbox::{Options, Sandbox};
use evergreen_tests::bao::write_secret;
use evergreen_tests::rig::{is, Rig};

const MACHINE: &str = "ws-42";

/// A host key and the control plane's CA bundle: a machine not enrolled yet.
fn host(sb: &Sandbox, d: &Path) {
    let key = ssh_key::PrivateKey::random(&mut ssh_key::rand_core::OsRng, ssh_key::Algorithm::Ed25519).unwrap();
    write_secret(
        &d.join("ssh_host_ed25519_key"),
        &key.to_openssh(ssh_key::LineEnding::LF).unwrap(),
    );
    std::fs::write(d.join("ca.pem"), sb.ca_pem()).unwrap();
}

/// A host key, a CA bundle and a first certificate enrolled with the sandbox.
fn enrol(sb: &Sandbox, d: &Path) {
    host(sb, d);
    let kp = host_key(&d.join("ssh_host_ed25519_key")).unwrap();
    let lifetime = sb.state.lock().cert_lifetime;
    let cert = evergreen_sandbox::nixfleet::issue(&sb.state, MACHINE, &csr(&kp, MACHINE).unwrap(), lifetime).unwrap();
    std::fs::write(d.join("client.pem"), cert).unwrap();
}

fn config(sb: &Sandbox, d: &Path, extra: &str) -> String {
    format!(
        "[[credential]]\nname = \"fleet\"\nkind = \"nixfleet\"\nurl = \"{}\"\npath = \"{}\"\nssh_host_key = \"{}\"\nmachine_id = \"{MACHINE}\"\nca_bundle = \"{}\"\n{extra}\n",
        sb.url,
        d.join("client.pem").display(),
        d.join("ssh_host_ed25519_key").display(),
        d.join("ca.pem").display()
    )
}

fn cert_of(d: &Path) -> (String, Vec<u8>, SystemTime) {
    let f = evergreen_core::x509::read_file(&d.join("client.pem")).unwrap();
    let (_, c) = x509_parser::parse_x509_certificate(&f.der_leaf).unwrap();
    (
        f.leaf().details.serial.clone(),
        c.tbs_certificate.subject_pki.subject_public_key.data.to_vec(),
        f.leaf().lifetime.not_after,
    )
}

/// SHA-256 of the certificate on disk (hex, as the sandbox records what
/// was presented): which certificate exactly.
fn fingerprint_of(d: &Path) -> String {
    evergreen_core::x509::read_file(&d.join("client.pem"))
        .unwrap()
        .leaf()
        .details
        .sha256
        .clone()
}

async fn sandbox(lifetime: Duration) -> Sandbox {
    Sandbox::start(Options {
        cert_lifetime: lifetime,
        ..Options::default()
    })
    .await
    .unwrap()
}

/// The certificate each renewal request presented (its SHA-256).
fn renew_requests(sb: &Sandbox) -> Vec<Option<String>> {
    sb.state
        .lock()
        .seen
        .iter()
        .filter(|s| s.endpoint == "POST /v1/agent/renew")
        .map(|s| s.fingerprint.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewals_keep_the_host_key_and_the_next_request_presents_the_new_certificate() {
    let sb = sandbox(Duration::from_secs(8)).await;
    // As strict as a control plane gets: Evergreen's requests carry the
    // header, and its CSRs name the machine its certificate names (a check
    // nixfleet-proto describes).
    sb.state.lock().nixfleet.strict = true;
    sb.state.lock().nixfleet.require_same_cn = true;
    let mut rig = Rig::start(|d| {
        enrol(&sb, d);
        config(&sb, d, "renew_at_fraction = 0.5")
    })
    .await;
    let d = rig.dir.path().to_path_buf();
    let host_public = host_key(&d.join("ssh_host_ed25519_key"))
        .unwrap()
        .public_key_raw()
        .to_vec();
    let (first_serial, first_key, first_after) = cert_of(&d);
    assert_eq!(first_key, host_public);
    let mut issued = vec![fingerprint_of(&d)];
    let mut last_after = first_after;
    for i in 1..=3 {
        rig.wait(
            &format!("renewal {i}"),
            Duration::from_secs(15),
            is("renewal_succeeded"),
        )
        .await;
        let (serial, key, after) = cert_of(&d);
        assert_eq!(key, host_public, "renewal {i} changed the public key");
        assert!(after > last_after, "renewal {i} did not extend the certificate");
        // As nixfleet's control plane: no serial set, so rcgen derives it
        // from the key, and every certificate of the host key repeats it.
        assert_eq!(serial, first_serial, "renewal {i}: the serial is the key's");
        last_after = after;
        issued.push(fingerprint_of(&d));
    }
    // Request k presented the certificate renewal k-1 wrote: hot-swapped, no
    // restart, although the serial never changed.
    let presented: Vec<String> = renew_requests(&sb).into_iter().map(|s| s.unwrap_or_default()).collect();
    assert_eq!(presented, issued[..3].to_vec(), "certificates presented vs issued");
    assert!(std::path::Path::new(&format!("{}.bak", d.join("client.pem").display())).exists());
    let st = rig.status("fleet");
    assert_eq!(st.state, State::Healthy);
    assert_eq!(st.renewals.success, 3);
    rig.stop().await;
}

/// `key = "rotate"`: every renewal makes a fresh key and writes it with its
/// certificate as one pair, against a control plane that refuses a renewal
/// for the presented key (nixfleet-proto's rule for rotation).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_makes_a_fresh_key_for_every_renewal() {
    let sb = sandbox(Duration::from_secs(8)).await;
    sb.state.lock().nixfleet.strict = true;
    sb.state.lock().nixfleet.renew_key = evergreen_sandbox::nixfleet::RenewKey::Differs;
    let key_path = |d: &Path| d.join("keys/client.key");
    let mut rig = Rig::start(|d| {
        host(&sb, d);
        let first = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let lifetime = sb.state.lock().cert_lifetime;
        let cert =
            evergreen_sandbox::nixfleet::issue(&sb.state, MACHINE, &csr(&first, MACHINE).unwrap(), lifetime).unwrap();
        std::fs::write(d.join("client.pem"), cert).unwrap();
        std::fs::create_dir_all(d.join("keys")).unwrap();
        write_secret(&key_path(d), &first.serialize_pem());
        format!(
            "[[credential]]\nname = \"fleet\"\nkind = \"nixfleet\"\nurl = \"{}\"\npath = \"{}\"\nkey = \"rotate\"\nkey_path = \"{}\"\nmachine_id = \"{MACHINE}\"\nca_bundle = \"{}\"\nrenew_at_fraction = 0.5\n",
            sb.url,
            d.join("client.pem").display(),
            key_path(d).display(),
            d.join("ca.pem").display()
        )
    })
    .await;
    let d = rig.dir.path().to_path_buf();
    let (_, first_key, _) = cert_of(&d);
    let mut keys = vec![first_key];
    let mut issued = vec![fingerprint_of(&d)];
    for i in 1..=3 {
        rig.wait(
            &format!("renewal {i}"),
            Duration::from_secs(15),
            is("renewal_succeeded"),
        )
        .await;
        let (_, key, _) = cert_of(&d);
        assert!(!keys.contains(&key), "renewal {i} reused a key");
        let kp = rcgen::KeyPair::from_pem(&std::fs::read_to_string(key_path(&d)).unwrap()).unwrap();
        assert_eq!(
            kp.public_key_raw(),
            key.as_slice(),
            "renewal {i}: the key file is the certificate's"
        );
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(key_path(&d)).unwrap().permissions());
        assert_eq!(
            mode & 0o777,
            0o600,
            "renewal {i}: the key is readable by its owner only"
        );
        keys.push(key);
        issued.push(fingerprint_of(&d));
    }
    // Each renewal presented the pair the one before it wrote.
    let presented: Vec<String> = renew_requests(&sb).into_iter().map(|s| s.unwrap_or_default()).collect();
    assert_eq!(presented, issued[..3].to_vec(), "certificates presented vs issued");
    assert_eq!(rig.status("fleet").state, State::Healthy);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_replies_fail_by_name_and_never_touch_the_certificate() {
    let sb = sandbox(Duration::from_secs(3600)).await;
    let mut rig = Rig::start(|d| {
        enrol(&sb, d);
        config(&sb, d, "")
    })
    .await;
    rig.wait("the first look", Duration::from_secs(10), is("observed"))
        .await;
    let d = rig.dir.path().to_path_buf();
    let before = std::fs::read(d.join("client.pem")).unwrap();
    // A certificate for another key, and an expired one, both from the sandbox's own CA.
    let other = rcgen::KeyPair::generate().unwrap();
    let lifetime = Duration::from_secs(3600);
    let foreign =
        evergreen_sandbox::nixfleet::issue(&sb.state, MACHINE, &csr(&other, MACHINE).unwrap(), lifetime).unwrap();
    let kp = host_key(&d.join("ssh_host_ed25519_key")).unwrap();
    let now = SystemTime::now();
    let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, MACHINE);
    params.not_before = (now - Duration::from_secs(7200)).into();
    params.not_after = (now - Duration::from_secs(3600)).into();
    let expired = sb.state.ca.sign(params, &kp).unwrap();
    // The host key's certificate, but issued to another machine.
    let renamed =
        evergreen_sandbox::nixfleet::issue(&sb.state, "ws-other", &csr(&kp, MACHINE).unwrap(), lifetime).unwrap();
    let json = |cert: &str| serde_json::json!({ "certPem": cert }).to_string();
    let cases: Vec<(FaultKind, &str)> = vec![
        (
            FaultKind::Status {
                status: 500,
                body: "<html><body>Internal Server Error</body></html>".into(),
                content_type: Some("text/html".into()),
            },
            "HTTP 500",
        ),
        (FaultKind::Malformed, "not with JSON"),
        (FaultKind::Drop, "renew"),
        (
            FaultKind::Status {
                status: 200,
                body: "{\"cert\": 1}".into(),
                content_type: Some("application/json".into()),
            },
            "no \"certPem\"",
        ),
        (
            FaultKind::Status {
                status: 426,
                body: "{\"error\": \"protocol version 1 is not supported\"}".into(),
                content_type: Some("application/json".into()),
            },
            "does not speak nixfleet protocol 1",
        ),
        (
            FaultKind::Status {
                status: 503,
                body: String::new(),
                content_type: None,
            },
            "not ready yet",
        ),
        (
            FaultKind::Status {
                status: 200,
                body: json(&foreign),
                content_type: Some("application/json".into()),
            },
            "public key is not the host key",
        ),
        (
            FaultKind::Status {
                status: 200,
                body: json(&expired),
                content_type: Some("application/json".into()),
            },
            "expired already",
        ),
        (
            FaultKind::Status {
                status: 200,
                body: "{\"certPem\": \"garbage\"}".into(),
                content_type: Some("text/plain".into()),
            },
            "does not parse",
        ),
        (
            FaultKind::Status {
                status: 200,
                body: json(&renamed),
                content_type: Some("application/json".into()),
            },
            "it is issued to \"ws-other\", not to \"ws-42\"",
        ),
    ];
    for (kind, want) in cases {
        sb.state.lock().add_fault(Fault {
            path_prefix: "/v1/agent/renew".into(),
            count: 1,
            kind: kind.clone(),
        });
        let out = rig.engine().handle().renew("fleet").await.unwrap();
        assert!(!out.ok, "{kind:?} was accepted");
        assert!(
            out.message.contains(want) && out.message.contains("/v1/agent/renew"),
            "{kind:?}: {}",
            out.message
        );
        assert_eq!(
            std::fs::read(d.join("client.pem")).unwrap(),
            before,
            "{kind:?} changed the certificate"
        );
        assert!(matches!(rig.status("fleet").state, State::Failing { .. }), "{kind:?}");
    }
    // Each failure after the control plane answered was reported to it, as
    // nixfleet's agent reports `renewal-failed` (a dropped connection has
    // nobody to tell).
    let reports = |sb: &Sandbox| sb.state.lock().nixfleet.reports.clone();
    let reported = |sb: &Sandbox, words: &str| {
        reports(sb).iter().any(|r| {
            r["event"] == "renewal-failed"
                && r["hostname"] == MACHINE
                && r["details"]["reason"].as_str().is_some_and(|why| why.contains(words))
        })
    };
    evergreen_tests::env::wait_for("the failure reports", Duration::from_secs(20), || {
        [
            "HTTP 500",
            "not ready yet",
            "is issued to \"ws-other\"",
            "expired already",
        ]
        .iter()
        .all(|w| reported(&sb, w))
    });
    assert!(
        reports(&sb)
            .iter()
            .all(|r| r["occurredAt"].as_str().is_some() && r["rollout"].is_null()),
        "{:#?}",
        reports(&sb)
    );
    // And a good reply ends the episode (a longer lifetime: certificate
    // times have one-second resolution, and a renewal must extend it).
    sb.state.lock().cert_lifetime = Duration::from_secs(7200);
    let out = rig.engine().handle().renew("fleet").await.unwrap();
    assert!(out.ok, "{out:?}");
    rig.wait("recovery", Duration::from_secs(5), is("recovered")).await;
    // A slow control plane is only slow: the renewal waits for it and succeeds.
    sb.state.lock().cert_lifetime = Duration::from_secs(10_800);
    sb.state.lock().add_fault(Fault {
        path_prefix: "/v1/agent/renew".into(),
        count: 1,
        kind: FaultKind::Delay { ms: 1500 },
    });
    let out = rig.engine().handle().renew("fleet").await.unwrap();
    assert!(out.ok && out.duration_ms >= 1500, "{out:?}");
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retired_machine_is_retired_for_good() {
    let sb = sandbox(Duration::from_secs(3600)).await;
    let mut rig = Rig::start(|d| {
        enrol(&sb, d);
        config(&sb, d, "")
    })
    .await;
    rig.wait("the first look", Duration::from_secs(10), is("observed"))
        .await;
    sb.state.lock().nixfleet.retired.insert(MACHINE.into(), true);
    let out = rig.engine().handle().renew("fleet").await.unwrap();
    assert!(!out.ok && out.message.contains("410"), "{out:?}");
    rig.wait("retired", Duration::from_secs(5), is("retired")).await;
    assert!(matches!(rig.status("fleet").state, State::Retired { .. }));
    let out = rig.engine().handle().renew("fleet").await.unwrap();
    assert!(!out.ok && out.message.contains("retired"), "{out:?}");
    rig.drain_for(Duration::from_secs(2)).await;
    assert_eq!(renew_requests(&sb).len(), 1, "a retired machine kept asking");
    assert_eq!(rig.count(|k| matches!(k, EventKind::RenewalStarted { .. })), 1);
    rig.stop().await;
}

#[test]
fn a_plain_http_url_or_a_bad_threshold_is_a_config_error() {
    let d = tempfile::tempdir().unwrap();
    for (extra, url, want) in [
        ("", "http://fleet.example.test", "must be https://"),
        (
            "renew_at_fraction = 1.0\n",
            "https://fleet.example.test",
            "strictly between 0 and 1",
        ),
    ] {
        let src = format!(
            "[[credential]]\nname = \"f\"\nkind = \"nixfleet\"\nurl = \"{url}\"\npath = \"/c.pem\"\nmachine_id = \"m\"\n{extra}"
        );
        let e = evergreen_core::config::parse(&src, &d.path().join("config.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_protocol_header_is_upstreams_a_strict_control_plane_refuses_without_it() {
    let sb = sandbox(Duration::from_secs(3600)).await;
    sb.state.lock().nixfleet.strict = true;
    let d = tempfile::tempdir().unwrap();
    enrol(&sb, d.path());
    // The machine's own mTLS identity, but a request of another agent's making.
    let key = host_key(&d.path().join("ssh_host_ed25519_key")).unwrap();
    let mut identity = std::fs::read_to_string(d.path().join("client.pem")).unwrap();
    identity.push_str(&key.serialize_pem());
    let client = evergreen_core::http::client(&evergreen_core::http::ClientOptions {
        ca_bundle: Some(d.path().join("ca.pem")),
        tls13_only: true,
        identity: Some(evergreen_core::http::ClientIdentity(identity.into_bytes().into())),
        ..Default::default()
    })
    .unwrap();
    let url = format!("{}/v1/agent/renew", sb.url);
    let body = serde_json::json!({ "csrPem": csr(&key, MACHINE).unwrap() });
    let without = client.post(&url).json(&body).send().await.unwrap();
    assert_eq!(without.status(), 400);
    assert_eq!(
        without.text().await.unwrap(),
        "",
        "upstream's refusals have empty bodies"
    );
    let other = client
        .post(&url)
        .header("X-Nixfleet-Protocol", "2")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 426);
    // The JSON extractor's answers: a body of the wrong shape, one that is
    // not JSON, one without a JSON content type.
    let shaped = |b: reqwest::RequestBuilder| b.header("X-Nixfleet-Protocol", "1");
    let wrong = shaped(client.post(&url))
        .json(&serde_json::json!({ "csr": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 422);
    let not_json = shaped(client.post(&url))
        .header("content-type", "application/json")
        .body("{csrPem")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    let untyped = shaped(client.post(&url)).body(body.to_string()).send().await.unwrap();
    assert_eq!(untyped.status(), 415);
    let ok = client
        .post(&url)
        .header("X-Nixfleet-Protocol", "1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let reply: serde_json::Value = ok.json().await.unwrap();
    assert!(
        reply["certPem"].as_str().unwrap().contains("BEGIN CERTIFICATE"),
        "{reply}"
    );
    assert!(evergreen_core::clock::parse_rfc3339(reply["notAfter"].as_str().unwrap()).is_some());
    // Outside strict mode a request without the header is served, as upstream
    // does for older agents.
    sb.state.lock().nixfleet.strict = false;
    let lenient = client.post(&url).json(&body).send().await.unwrap();
    assert_eq!(lenient.status(), 200);
}

/// `evergreen register NAME --token-file FILE`, as a user runs it.
fn register(d: &Path, token: &serde_json::Value) {
    let file = d.join("token.json");
    std::fs::write(&file, token.to_string()).unwrap();
    let out = std::process::Command::new(evergreen_tests::evergreen_bin())
        .args(["register", "fleet", "--token-file"])
        .arg(&file)
        .env("EVERGREEN_CONFIG", d.join("config.toml"))
        .env("EVERGREEN_DATA_DIR", d.join("data"))
        .env("EVERGREEN_RUNTIME_DIR", d.join("run"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("token saved to") && !stdout.contains("signature"),
        "{stdout}"
    );
}

fn paused_with(words: &'static str) -> impl Fn(&evergreen_core::events::Event) -> bool {
    move |e| matches!(&e.kind, EventKind::Paused { reason } if reason.contains(words))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_enrols_with_its_token_and_an_expired_or_replayed_token_is_refused() {
    let sb = sandbox(Duration::from_secs(3600)).await;
    sb.state.lock().nixfleet.strict = true;
    let mut rig = Rig::start(|d| {
        host(&sb, d);
        config(&sb, d, "")
    })
    .await;
    let d = rig.dir.path().to_path_buf();
    let cert = d.join("client.pem");
    // Not enrolled: paused, with the next step.
    let e = rig
        .wait("not enrolled", Duration::from_secs(10), paused_with("not enrolled yet"))
        .await;
    let EventKind::Paused { reason } = e.kind else {
        unreachable!()
    };
    assert!(reason.contains("evergreen register NAME --token-file"), "{reason}");
    let key = host_key(&d.join("ssh_host_ed25519_key"))
        .unwrap()
        .public_key_raw()
        .to_vec();
    let now = SystemTime::now();
    // An expired token: refused by name, nothing written.
    let expired = sb.state.lock().nixfleet.mint_token(
        MACHINE,
        &key,
        now - Duration::from_secs(7200),
        now - Duration::from_secs(3600),
    );
    register(&d, &expired);
    rig.wait(
        "the expired token refused",
        Duration::from_secs(10),
        paused_with("refused the enrolment token"),
    )
    .await;
    assert!(!cert.exists());
    // A valid one: enrolled with the host key, the token spent.
    let good = sb.state.lock().nixfleet.mint_token(
        MACHINE,
        &key,
        now - Duration::from_secs(60),
        now + Duration::from_secs(3600),
    );
    register(&d, &good);
    let e = rig
        .wait("enrolled", Duration::from_secs(10), is("renewal_succeeded"))
        .await;
    let EventKind::RenewalSucceeded { message, .. } = e.kind else {
        unreachable!()
    };
    assert_eq!(message, "enrolled");
    let (_, cert_key, _) = cert_of(&d);
    assert_eq!(cert_key, key, "the certificate carries the host key");
    assert!(!d.join("client.pem.token").exists(), "the spent token was kept");
    // and the certificate works for renewals over mutual TLS
    let out = rig.engine().handle().renew("fleet").await.unwrap();
    assert!(out.ok, "{out:?}");
    let host_key_text = std::fs::read_to_string(d.join("ssh_host_ed25519_key")).unwrap();
    rig.stop().await;
    // The same token on another install of the machine (a replay): 409.
    let mut again = Rig::start(|d2| {
        write_secret(&d2.join("ssh_host_ed25519_key"), &host_key_text);
        std::fs::write(d2.join("ca.pem"), sb.ca_pem()).unwrap();
        config(&sb, d2, "")
    })
    .await;
    let d2 = again.dir.path().to_path_buf();
    again
        .wait("not enrolled", Duration::from_secs(10), paused_with("not enrolled yet"))
        .await;
    register(&d2, &good);
    again
        .wait(
            "the replay refused",
            Duration::from_secs(10),
            paused_with("has seen this enrolment token before"),
        )
        .await;
    assert!(!d2.join("client.pem").exists());
    again.stop().await;
}

/// A control plane that revoked the machine's certificate answers its
/// renewals 401; the operator's new token, registered beside the old
/// certificate, enrols the machine again (the old certificate kept as .bak).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_machine_is_paused_and_enrols_again_with_a_new_token() {
    let sb = sandbox(Duration::from_secs(3600)).await;
    sb.state.lock().nixfleet.strict = true;
    let mut rig = Rig::start(|d| {
        enrol(&sb, d);
        config(&sb, d, "")
    })
    .await;
    let d = rig.dir.path().to_path_buf();
    rig.wait("the first look", Duration::from_secs(10), is("observed"))
        .await;
    let (_, key, _) = cert_of(&d);
    let old = fingerprint_of(&d);
    // Upstream's revocation: certificates issued before a cutoff.
    let issued_at = evergreen_core::x509::read_file(&d.join("client.pem"))
        .unwrap()
        .leaf()
        .lifetime
        .not_before;
    let cutoff = issued_at + Duration::from_secs(1);
    let unix = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64;
    sb.state
        .lock()
        .nixfleet
        .revoked_before
        .insert(MACHINE.into(), unix(cutoff));
    let out = rig.engine().handle().renew("fleet").await.unwrap();
    assert!(!out.ok && out.message.contains("401"), "{out:?}");
    rig.wait(
        "paused for a new enrolment",
        Duration::from_secs(10),
        paused_with("needs a new enrolment"),
    )
    .await;
    // A certificate issued at the cutoff's second or later passes: the
    // clock must reach it before the new enrolment.
    evergreen_tests::env::wait_for(
        "the clock to pass the revocation cutoff",
        Duration::from_secs(5),
        || SystemTime::now() >= cutoff,
    );
    let now = SystemTime::now();
    let token = sb.state.lock().nixfleet.mint_token(
        MACHINE,
        &key,
        now - Duration::from_secs(60),
        now + Duration::from_secs(3600),
    );
    register(&d, &token);
    let e = rig
        .wait("enrolled again", Duration::from_secs(10), is("renewal_succeeded"))
        .await;
    let EventKind::RenewalSucceeded { message, .. } = e.kind else {
        unreachable!()
    };
    assert_eq!(message, "enrolled");
    let (_, new_key, _) = cert_of(&d);
    assert_ne!(fingerprint_of(&d), old, "a new certificate");
    assert_eq!(new_key, key, "for the same host key");
    assert!(d.join("client.pem.bak").exists(), "the replaced certificate is kept");
    assert!(!d.join("client.pem.token").exists(), "the spent token was kept");
    let out = rig.engine().handle().renew("fleet").await.unwrap();
    assert!(out.ok, "the new certificate renews over mutual TLS: {out:?}");
    rig.stop().await;
}
