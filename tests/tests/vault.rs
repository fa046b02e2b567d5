//! Vault/OpenBao credentials against a real OpenBao server.
//!
//! Every test starts its own `bao server` (see `evergreen_tests::bao`) and
//! runs the real engine in-process, with its file watch and store, on the real
//! clock: the server's TTLs are real seconds, so these tests wait for real
//! events with bounded timeouts. No mock stands in for OpenBao.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use evergreen_core::events::EventKind;
use evergreen_core::model::State;
use evergreen_tests::bao::{write_secret, Bao};
use evergreen_tests::rig::{is, Rig};

fn token_cred(name: &str, bao: &Bao, token_file: &Path, extra: &str) -> String {
    format!(
        "[[credential]]\nname = \"{name}\"\nkind = \"vault_token\"\naddress = \"{}\"\ntoken_file = \"{}\"\n{extra}\n",
        bao.addr,
        token_file.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10s_token_is_renewed_again_and_again_at_half_its_ttl() {
    let bao = Bao::dev();
    let mut token = String::new();
    let mut rig = Rig::start(|d| {
        token = bao.token_file(&d.join("token"), &["-ttl=10s"]);
        token_cred("tok", &bao, &d.join("token"), "")
    })
    .await;
    let first = rig
        .wait("the first lookup", Duration::from_secs(10), is("observed"))
        .await;
    let EventKind::Observed { remaining_fraction, .. } = first.kind else {
        unreachable!()
    };
    assert!(remaining_fraction > 0.5, "a fresh token: {remaining_fraction}");
    let started = Instant::now();
    for i in 1..=3 {
        rig.wait(
            &format!("renewal {i}"),
            Duration::from_secs(12),
            is("renewal_succeeded"),
        )
        .await;
    }
    // Half of a 10 s TTL, three times: about 15 s, never the 1 s a tight loop would take.
    assert!(
        started.elapsed() >= Duration::from_secs(10),
        "renewed too often: {:?}",
        started.elapsed()
    );
    let st = rig.status("tok");
    assert_eq!(st.state, State::Healthy, "{st:?}");
    assert!(
        st.renewals.success >= 3 && st.renewals.failure == 0,
        "{:?}",
        st.renewals
    );
    assert!(st.last_result.as_ref().is_some_and(|r| r.ok));
    // The server agrees the token is alive, with a fresh TTL.
    let ttl: u64 = bao
        .cli(&["token", "lookup", "-format=json", &token])
        .split("\"ttl\":")
        .nth(1)
        .unwrap()
        .trim()
        .split([',', '\n'])
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(ttl >= 3, "the server sees ttl {ttl}");
    rig.assert_never_shows(&token);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_with_max_ttl_40s_goes_final_then_expired_without_retrying() {
    let bao = Bao::dev();
    let mut rig = Rig::start(|d| {
        bao.token_file(&d.join("token"), &["-ttl=10s", "-explicit-max-ttl=40s"]);
        token_cred("capped", &bao, &d.join("token"), "")
    })
    .await;
    rig.wait("the first lookup", Duration::from_secs(10), is("observed"))
        .await;
    // Its hard end is known from the first lookup, long before the cap.
    let end = rig.status("capped").hard_end.expect("a hard end from the first lookup");
    assert!(end.then.contains("a new login is needed"), "{end:?}");
    let fin = rig
        .wait("the token to reach its max TTL", Duration::from_secs(45), is("final"))
        .await;
    let EventKind::Final { expires_at } = fin.kind else {
        unreachable!()
    };
    assert!(
        (expires_at - end.at).abs() <= 2_000,
        "it ends where the first lookup said: {expires_at} vs {}",
        end.at
    );
    let st = rig.status("capped");
    assert_eq!(st.state, State::Final { expires_at }, "{st:?}");
    assert_eq!(st.not_after, Some(expires_at));
    assert!(
        st.next_action
            .as_ref()
            .is_some_and(|a| a.what == evergreen_core::model::Next::ExpiresForGood),
        "{st:?}"
    );
    let renewals_before = rig.count(|k| matches!(k, EventKind::RenewalStarted { .. }));
    assert!(renewals_before >= 2, "renewed before reaching the cap:\n{}", rig.log());
    // A manual renew is refused with the reason, not attempted.
    let out = rig.engine().handle().renew("capped").await.unwrap();
    assert!(!out.ok && out.message.contains("maximum lifetime"), "{out:?}");
    rig.wait("the token to expire", Duration::from_secs(45), is("expired"))
        .await;
    assert_eq!(rig.status("capped").state, State::Expired);
    rig.drain_for(Duration::from_secs(2)).await;
    assert_eq!(
        rig.count(|k| matches!(k, EventKind::RenewalStarted { .. })),
        renewals_before,
        "renewals were attempted after final:\n{}",
        rig.log()
    );
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_renewable_token_stops_the_loop_once_with_one_warning() {
    let bao = Bao::dev();
    let mut rig = Rig::start(|d| {
        bao.token_file(&d.join("token"), &["-ttl=60s", "-renewable=false"]);
        token_cred("fixed", &bao, &d.join("token"), "")
    })
    .await;
    rig.wait("not_renewable", Duration::from_secs(10), is("not_renewable"))
        .await;
    let st = rig.status("fixed");
    assert_eq!(st.state, State::NotRenewable);
    assert_eq!(st.renewals.not_renewable, 1);
    assert!(st.not_after.is_some(), "its expiry is still shown: {st:?}");
    let out = rig.engine().handle().renew("fixed").await.unwrap();
    assert!(!out.ok && out.message.contains("will not renew"), "{out:?}");
    rig.drain_for(Duration::from_secs(3)).await;
    assert_eq!(
        rig.count(|k| matches!(k, EventKind::NotRenewable { .. })),
        1,
        "{}",
        rig.log()
    );
    assert_eq!(
        rig.count(|k| matches!(k, EventKind::RenewalStarted { .. })),
        0,
        "{}",
        rig.log()
    );
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_expired_not_retried_and_a_new_login_brings_it_back() {
    let bao = Bao::dev();
    let mut token = String::new();
    let mut rig = Rig::start(|d| {
        token = bao.token_file(&d.join("token"), &["-ttl=1h"]);
        token_cred("rev", &bao, &d.join("token"), "")
    })
    .await;
    rig.wait("the first lookup", Duration::from_secs(10), is("observed"))
        .await;
    bao.cli(&["token", "revoke", &token]);
    let out = rig.engine().handle().renew("rev").await.unwrap();
    assert!(
        !out.ok && out.message.contains("403") && out.message.contains("log in again"),
        "{out:?}"
    );
    rig.wait("rejected", Duration::from_secs(5), is("rejected")).await;
    assert_eq!(rig.status("rev").state, State::Expired);
    rig.drain_for(Duration::from_secs(4)).await;
    assert_eq!(
        rig.count(|k| matches!(k, EventKind::RenewalStarted { .. })),
        1,
        "retried a dead token:\n{}",
        rig.log()
    );
    // `bao login` writes a new token: the file watch ends the episode.
    let fresh = bao.cli(&["token", "create", "-field=token", "-ttl=1h"]);
    write_secret(&rig.path("token"), &fresh);
    rig.wait(
        "the new token to be seen",
        Duration::from_secs(10),
        |e| matches!(&e.kind, EventKind::StateChanged { to, .. } if to == "healthy"),
    )
    .await;
    rig.assert_never_shows(&token);
    rig.assert_never_shows(&fresh);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_outage_is_failing_with_backoff_then_recovers() {
    let mut bao = Bao::persistent();
    let mut rig = Rig::start(|d| {
        bao.token_file(&d.join("token"), &["-ttl=30s"]);
        token_cred("tok", &bao, &d.join("token"), "")
    })
    .await;
    rig.wait("the first lookup", Duration::from_secs(10), is("observed"))
        .await;
    bao.stop();
    let mut retry_at = Vec::new();
    for n in 1..=3u32 {
        let e = rig
            .wait(
                &format!("failure {n}"),
                Duration::from_secs(25),
                |e| matches!(&e.kind, EventKind::RenewalFailed { streak, .. } if *streak == n),
            )
            .await;
        let EventKind::RenewalFailed {
            next_retry_at, message, ..
        } = e.kind
        else {
            unreachable!()
        };
        assert!(
            message.contains("could not connect") && message.contains(&bao.addr),
            "{message}"
        );
        retry_at.push(next_retry_at.unwrap() - e.at);
    }
    // 1 s, 2 s, then the 3 s cap, each ±10 % jitter (the delay is planned
    // from the failure's own instant, so no machine load stretches it).
    for (got, want) in retry_at.iter().zip([1_000, 2_000, 3_000]) {
        assert!(
            (want * 9 / 10..=want * 11 / 10).contains(got),
            "backoff {retry_at:?}, wanted 1 s, 2 s, 3 s ±10 %"
        );
    }
    assert!(matches!(rig.status("tok").state, State::Failing { streak: 3.., .. }));
    bao.start();
    let rec = rig.wait("recovery", Duration::from_secs(15), is("recovered")).await;
    let EventKind::Recovered { after_failures, .. } = rec.kind else {
        unreachable!()
    };
    assert!(after_failures >= 3);
    assert_eq!(rig.status("tok").state, State::Healthy);
    rig.stop().await;
}

fn pki_cred(name: &str, bao: &Bao, d: &Path, extra: &str) -> String {
    format!(
        "[[credential]]\nname = \"{name}\"\nkind = \"vault_pki\"\naddress = \"{}\"\ntoken_file = \"{}\"\nrole = \"ws\"\ncommon_name = \"{name}.example.test\"\nalt_names = [\"{name}-alt.example.test\"]\npath = \"{}\"\nkey_path = \"{}\"\n{extra}\n",
        bao.addr,
        d.join("token").display(),
        d.join("certs/ws.pem").display(),
        d.join("keys/ws.key").display(),
    )
}

fn leaf_key(cert: &Path) -> Vec<u8> {
    let f = evergreen_core::x509::read_file(cert).unwrap();
    let (_, c) = x509_parser::parse_x509_certificate(&f.der_leaf).unwrap();
    c.tbs_certificate.subject_pki.subject_public_key.data.to_vec()
}

fn key_public(key: &Path) -> Vec<u8> {
    rcgen::KeyPair::from_pem(&std::fs::read_to_string(key).unwrap())
        .unwrap()
        .public_key_raw()
        .to_vec()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pki_certificates_of_60s_are_renewed_with_a_csr_and_the_key_never_changes() {
    let bao = Bao::dev();
    bao.pki("60s");
    std::fs::create_dir_all(tempfile::tempdir().unwrap().path()).unwrap();
    let mut rig = Rig::start(|d| {
        std::fs::create_dir_all(d.join("certs")).unwrap();
        bao.pki_token_file(&d.join("token"), "1h");
        pki_cred("ws", &bao, d, "renew_before = \"50s\"\nttl = \"60s\"")
    })
    .await;
    let (cert, key) = (rig.path("certs/ws.pem"), rig.path("keys/ws.key"));
    rig.wait(
        "the first certificate",
        Duration::from_secs(15),
        is("renewal_succeeded"),
    )
    .await;
    let key_bytes = std::fs::read(&key).unwrap();
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(&rig.path("keys")), 0o700);
    assert_eq!(leaf_key(&cert), key_public(&key));
    let first = evergreen_core::x509::read_file(&cert).unwrap();
    assert!(first.certs.len() >= 2, "the chain follows the leaf");
    assert_eq!(first.leaf().details.subject, "CN=ws.example.test");
    assert!(
        first
            .leaf()
            .details
            .sans
            .iter()
            .any(|s| s.contains("ws-alt.example.test")),
        "{:?}",
        first.leaf().details.sans
    );
    let mut last = first.leaf().lifetime.not_after;
    for i in 1..=2 {
        let e = rig
            .wait(
                &format!("renewal {i}"),
                Duration::from_secs(30),
                is("renewal_succeeded"),
            )
            .await;
        let EventKind::RenewalSucceeded {
            old_not_after,
            new_not_after,
            ..
        } = e.kind
        else {
            unreachable!()
        };
        assert!(old_not_after.is_some());
        let now = evergreen_core::x509::read_file(&cert)
            .unwrap()
            .leaf()
            .lifetime
            .not_after;
        assert_eq!(evergreen_core::clock::unix_millis(now), new_not_after);
        assert!(now > last, "not_after moved forward");
        last = now;
        assert_eq!(
            std::fs::read(&key).unwrap(),
            key_bytes,
            "the key changed on renewal {i}"
        );
        assert_eq!(leaf_key(&cert), key_public(&key));
    }
    // The previous certificate is kept beside the new one.
    let bak = evergreen_core::x509::read_file(&rig.path("certs/ws.pem.bak")).unwrap();
    assert!(bak.leaf().lifetime.not_after < last);
    let st = rig.status("ws");
    assert_eq!(st.state, State::Healthy);
    assert!(st.renewals.success >= 3);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_shortens_lifetimes_is_followed_and_a_missing_role_overwrites_nothing() {
    let bao = Bao::dev();
    bao.pki("1h");
    let mut rig = Rig::start(|d| {
        bao.pki_token_file(&d.join("token"), "1h");
        pki_cred("ws", &bao, d, "ttl = \"1h\"")
    })
    .await;
    rig.wait(
        "the first certificate",
        Duration::from_secs(15),
        is("renewal_succeeded"),
    )
    .await;
    let (cert, key) = (rig.path("certs/ws.pem"), rig.path("keys/ws.key"));
    let (first_cert, key_bytes) = (std::fs::read(&cert).unwrap(), std::fs::read(&key).unwrap());
    // The role now issues 5-minute certificates: a valid, newer certificate
    // that ends before the 1-hour one it replaces. The CA decides lifetimes;
    // a fresh shorter certificate is an ordinary renewal, not a refusal.
    bao.cli(&[
        "write",
        "pki/roles/ws",
        "allow_any_name=true",
        "key_type=any",
        "max_ttl=5m",
        "ttl=5m",
    ]);
    let out = rig.engine().handle().renew("ws").await.unwrap();
    assert!(out.ok && out.message.starts_with("renewed; valid until"), "{out:?}");
    let cert_bytes = std::fs::read(&cert).unwrap();
    assert_ne!(cert_bytes, first_cert);
    let life = evergreen_core::x509::read_file(&cert).unwrap().leaf().lifetime;
    let left = life.not_after.duration_since(std::time::SystemTime::now()).unwrap();
    assert!(left <= Duration::from_secs(300), "{left:?}");
    assert_eq!(std::fs::read(&key).unwrap(), key_bytes, "sign mode keeps its key");
    assert_eq!(rig.status("ws").state, State::Healthy);
    // A role that does not exist: the server's own words, files untouched.
    bao.cli(&["delete", "pki/roles/ws"]);
    let out = rig.engine().handle().renew("ws").await.unwrap();
    assert!(!out.ok && out.message.contains("pki/sign/ws"), "{}", out.message);
    assert_eq!(std::fs::read(&cert).unwrap(), cert_bytes);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pki_issue_mode_writes_the_servers_ed25519_key_0600_matching_the_certificate() {
    let bao = Bao::dev();
    bao.pki("1h");
    let mut rig = Rig::start(|d| {
        bao.pki_token_file(&d.join("token"), "1h");
        pki_cred("ws", &bao, d, "mode = \"issue\"\nkey_type = \"ed25519\"\nttl = \"10m\"")
    })
    .await;
    rig.wait(
        "the first certificate",
        Duration::from_secs(15),
        is("renewal_succeeded"),
    )
    .await;
    let (cert, key) = (rig.path("certs/ws.pem"), rig.path("keys/ws.key"));
    assert_eq!(mode(&key), 0o600);
    assert_eq!(leaf_key(&cert), key_public(&key));
    let first_key = std::fs::read(&key).unwrap();
    // Certificate times have one-second resolution: a renewal in the next
    // second gets a later not_after, so it is plainly a new certificate.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let out = rig.engine().handle().renew("ws").await.unwrap();
    assert!(out.ok, "{out:?}");
    assert_ne!(
        std::fs::read(&key).unwrap(),
        first_key,
        "issue mode gets a new key each time"
    );
    assert_eq!(leaf_key(&cert), key_public(&key));
    // The pair changed as one, the previous pair kept whole beside it.
    let (bak_cert, bak_key) = evergreen_core::pair::Pair::new(&cert, &key).backup().unwrap();
    assert_eq!(std::fs::read(&bak_key).unwrap(), first_key);
    assert_eq!(mode(&bak_key), 0o600);
    assert_eq!(leaf_key(&bak_cert), key_public(&bak_key));
    rig.stop().await;
}

/// A key that no longer belongs to its certificate (another tool wrote it)
/// is seen by the next look, and a renewal makes the pair whole again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_beside_the_wrong_certificate_is_seen_and_a_renewal_repairs_the_pair() {
    let bao = Bao::dev();
    bao.pki("1h");
    let mut rig = Rig::start(|d| {
        bao.pki_token_file(&d.join("token"), "1h");
        pki_cred("ws", &bao, d, "mode = \"issue\"\nkey_type = \"ed25519\"\nttl = \"10m\"")
    })
    .await;
    rig.wait(
        "the first certificate",
        Duration::from_secs(15),
        is("renewal_succeeded"),
    )
    .await;
    let (cert, key) = (rig.path("certs/ws.pem"), rig.path("keys/ws.key"));
    // Another tool writes its own key in place (a new file renamed over the path).
    let stranger = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let tmp = rig.path("keys/.other-tool");
    std::fs::write(&tmp, stranger.serialize_pem()).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::rename(&tmp, &key).unwrap();
    assert_ne!(leaf_key(&cert), key_public(&key));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // The file watcher's look finds the mismatch; the renewal it asks for repairs it.
    rig.wait(
        "the pair renewed after the mismatch",
        Duration::from_secs(20),
        is("renewal_succeeded"),
    )
    .await;
    // A 10-minute certificate is not due for minutes: only the look's finding
    // made Evergreen renew it now.
    assert_eq!(leaf_key(&cert), key_public(&key), "the pair matches again");
    assert_ne!(key_public(&key), stranger.public_key_raw().to_vec());
    assert_eq!(rig.status("ws").problem, None, "the problem ends with the repair");
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_the_right_ca_bundle_works_and_a_wrong_one_says_why() {
    let bao = Bao::dev_tls();
    let other =
        evergreen_core::pki::Ca::new("Some Other CA", std::time::SystemTime::now(), Duration::from_secs(3600)).unwrap();
    let mut rig = Rig::start(|d| {
        other.save(&d.join("other-ca.pem"), &d.join("other-ca.key")).unwrap();
        bao.token_file(&d.join("token"), &["-ttl=1h"]);
        let good = token_cred(
            "good",
            &bao,
            &d.join("token"),
            &format!("ca_bundle = \"{}\"", bao.ca_file().display()),
        );
        let bad = token_cred(
            "bad",
            &bao,
            &d.join("token"),
            &format!("ca_bundle = \"{}\"", d.join("other-ca.pem").display()),
        );
        format!("{good}\n{bad}")
    })
    .await;
    let mut good_seen = false;
    let mut bad_msg = None;
    while !(good_seen && bad_msg.is_some()) {
        let e = rig
            .wait("both credentials to be looked at", Duration::from_secs(15), |e| {
                matches!(e.kind, EventKind::Observed { .. } | EventKind::RenewalFailed { .. })
            })
            .await;
        match (e.credential.as_deref(), e.kind) {
            (Some("good"), EventKind::Observed { .. }) => good_seen = true,
            (Some("bad"), EventKind::RenewalFailed { message, .. }) => bad_msg = Some(message),
            (c, k) => panic!("unexpected {c:?} {k:?}"),
        }
    }
    let msg = bad_msg.unwrap();
    assert!(msg.contains(&bao.addr) && msg.contains("set ca_bundle"), "{msg}");
    rig.stop().await;
}

#[test]
fn an_empty_or_missing_ca_bundle_is_a_config_error_at_start() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("empty.pem"), "").unwrap();
    for (bundle, want) in [
        ("empty.pem", "contains no PEM certificates"),
        ("missing.pem", "could not read CA bundle"),
    ] {
        let src = format!(
            "[[credential]]\nname = \"t\"\nkind = \"vault_token\"\naddress = \"https://vault.example.test:8200\"\nca_bundle = \"{}\"\n",
            d.path().join(bundle).display()
        );
        let e = evergreen_core::config::parse(&src, &d.path().join("config.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(want) && e.contains("config.toml:5:13") && e.contains("ca_bundle"),
            "{e}"
        );
    }
}

/// The issue's "done when": `evergreen run` keeps a token and a PKI
/// certificate alive against a dev server, and `evergreen status` shows both.
#[test]
fn evergreen_run_keeps_a_token_and_a_pki_certificate_alive_and_status_shows_them() {
    use evergreen_tests::env::{wait_for, Env};
    let bao = Bao::dev();
    bao.pki("60s");
    let env = Env::new();
    let d = env.dir.path();
    let token = bao.pki_token_file(&d.join("token"), "12s");
    // The PKI token itself is the token credential: one login, both kept alive.
    env.write_config(&format!(
        "{}\n{}",
        token_cred("login", &bao, &d.join("token"), ""),
        pki_cred("ws", &bao, d, "renew_before = \"50s\"\nttl = \"60s\""),
    ));
    let checked = env.run(&["config", "check"]);
    assert_eq!(checked.code, 0, "{checked:?}");
    assert!(
        checked.stdout.contains("plain HTTP") && checked.stdout.contains("loopback"),
        "{checked:?}"
    );
    let daemon = env.start();
    let renewed = |name: &str, n: u64| {
        let s = env.status_of(name);
        s["renewals"]["success"].as_u64().unwrap_or(0) >= n && s["state"] == "healthy"
    };
    wait_for("two renewals of each", Duration::from_secs(45), || {
        renewed("login", 2) && renewed("ws", 3)
    });
    let table = env.run(&["status"]);
    assert_eq!(table.code, 0, "{table:?}");
    for want in ["login", "vault_token", "ws", "vault_pki", "healthy", "✓ "] {
        assert!(table.stdout.contains(want), "{want:?} missing from:\n{}", table.stdout);
    }
    let history = env.run(&["history"]);
    assert!(history.stdout.contains("renewed; valid until"), "{history:?}");
    for out in [&table.stdout, &history.stdout] {
        assert!(!out.contains(&token), "the token leaked into the CLI output");
    }
    let log = std::fs::read_to_string(&daemon.log).unwrap();
    assert!(!log.contains(&token), "the token leaked into the event log");
    assert_eq!(daemon.stop(), 0);
}

/// A renewal of `name` whose message says it logged in again.
fn relogin(name: &'static str) -> impl Fn(&evergreen_core::events::Event) -> bool {
    move |e| {
        e.credential.as_deref() == Some(name)
            && matches!(&e.kind, EventKind::RenewalSucceeded { message, .. } if message.contains("logged in again"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_at_its_max_ttl_is_replaced_by_an_approle_login_and_a_revoked_secret_id_is_named() {
    let bao = Bao::dev();
    let keys = tempfile::tempdir().unwrap();
    let (role_file, secret_file) = (keys.path().join("role_id"), keys.path().join("secret_id"));
    let (role_id, secret_id) = bao.approle("10s", "30s", "default", &role_file, &secret_file);
    let token_file = keys.path().join("vault-token");
    let first = bao.cli(&[
        "write",
        "-field=token",
        "auth/approle/login",
        &format!("role_id={role_id}"),
        &format!("secret_id={secret_id}"),
    ]);
    write_secret(&token_file, &first);
    let extra = format!(
        "auth = \"approle\"\nrole_id_file = \"{}\"\nsecret_id_file = \"{}\"\n",
        role_file.display(),
        secret_file.display()
    );
    let mut rig = Rig::start(|_| token_cred("login", &bao, &token_file, &extra)).await;
    rig.wait("the first lookup", Duration::from_secs(10), is("observed"))
        .await;
    // The hard end is known from the first lookup, and what happens then.
    let end = rig.status("login").hard_end.expect("a hard end");
    assert_eq!(end.what, "Renewable until");
    assert!(end.then.contains("logs in again (approle)"), "{end:?}");
    rig.wait("a new login", Duration::from_secs(45), relogin("login")).await;
    let second = std::fs::read_to_string(&token_file).unwrap().trim().to_string();
    assert_ne!(second, first, "a new token in the file");
    assert_eq!(
        std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    bao.cli(&["token", "lookup", &second]);
    let st = rig.status("login");
    assert_eq!(st.state, State::Healthy, "{st:?}");
    assert!(
        st.hard_end.is_some_and(|e| e.at > end.at),
        "the new token's end is later"
    );
    assert_eq!(
        rig.count(|k| matches!(k, EventKind::Final { .. })),
        0,
        "never final:\n{}",
        rig.log()
    );

    // The secret_id revoked and the token gone: the next login fails, and says what to do.
    bao.cli(&[
        "write",
        "auth/approle/role/ev/secret-id/destroy",
        &format!("secret_id={secret_id}"),
    ]);
    bao.cli(&["token", "revoke", &second]);
    let failed = rig
        .wait("the failed login", Duration::from_secs(45), |e| {
            e.credential.as_deref() == Some("login") && e.kind.name() == "renewal_failed"
        })
        .await;
    let EventKind::RenewalFailed { message, .. } = &failed.kind else {
        unreachable!()
    };
    assert!(
        message.contains("logging in again with approle")
            && message.contains(&secret_file.display().to_string())
            && message.contains("bao write -f auth/approle/role/ROLE/secret-id"),
        "{message}"
    );
    for secret in [&first, &second, &role_id, &secret_id] {
        rig.assert_never_shows(secret);
    }
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_logs_in_again_with_the_certificate_evergreen_keeps() {
    let bao = Bao::dev_tls();
    bao.pki("1h");
    let keys = tempfile::tempdir().unwrap();
    let token_file = keys.path().join("vault-token");
    let first = bao.pki_token_file(&token_file, "10s");
    // Renewable to 20 s at most: the login comes within seconds.
    let first = {
        let t = bao.token_file(&token_file, &["-policy=pki-user", "-ttl=10s", "-explicit-max-ttl=20s"]);
        bao.cli(&["token", "revoke", &first]);
        t
    };
    let ca = keys.path().join("pki-ca.pem");
    std::fs::write(&ca, bao.cli(&["read", "-field=certificate", "pki/cert/ca"])).unwrap();
    bao.cli(&["auth", "enable", "cert"]);
    bao.cli(&[
        "write",
        "auth/cert/certs/ws",
        &format!("certificate=@{}", ca.display()),
        "token_policies=pki-user",
        "token_ttl=10s",
        "token_explicit_max_ttl=20s",
    ]);
    let cert = keys.path().join("ws.pem");
    let mut rig = Rig::start(|_| {
        format!(
            "[[credential]]\nname = \"machine\"\nkind = \"vault_pki\"\naddress = \"{addr}\"\nca_bundle = \"{bundle}\"\ntoken_file = \"{token}\"\nrole = \"ws\"\ncommon_name = \"ws.example.test\"\npath = \"{cert}\"\n\n\
             [[credential]]\nname = \"login\"\nkind = \"vault_token\"\naddress = \"{addr}\"\nca_bundle = \"{bundle}\"\ntoken_file = \"{token}\"\nauth = \"cert\"\nlogin_cert = \"machine\"\nauth_role = \"ws\"\n",
            addr = bao.addr,
            bundle = bao.ca_file().display(),
            token = token_file.display(),
            cert = cert.display(),
        )
    })
    .await;
    rig.wait(
        "a login with the certificate",
        Duration::from_secs(45),
        relogin("login"),
    )
    .await;
    let second = std::fs::read_to_string(&token_file).unwrap().trim().to_string();
    assert_ne!(second, first);
    // The new token came from cert auth.
    let info = bao.cli(&["token", "lookup", "-format=json", &second]);
    assert!(info.contains("auth/cert/login"), "{info}");
    assert_eq!(rig.status("login").state, State::Healthy);
    assert_eq!(rig.status("machine").state, State::Healthy);
    rig.assert_never_shows(&first);
    rig.assert_never_shows(&second);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_userpass_token_at_its_end_asks_you_and_evergreen_login_brings_it_back() {
    let bao = Bao::dev();
    bao.cli(&["auth", "enable", "userpass"]);
    let password = "correct horse battery staple";
    bao.cli(&[
        "write",
        "auth/userpass/users/alice",
        &format!("password={password}"),
        "token_ttl=10s",
        "token_explicit_max_ttl=20s",
    ]);
    let keys = tempfile::tempdir().unwrap();
    let token_file = keys.path().join("vault-token");
    let first = bao.cli(&[
        "write",
        "-field=token",
        "auth/userpass/login/alice",
        &format!("password={password}"),
    ]);
    write_secret(&token_file, &first);
    let mut rig = Rig::start(|_| {
        token_cred(
            "vault",
            &bao,
            &token_file,
            "auth = \"userpass\"\nusername = \"alice\"\n",
        )
    })
    .await;
    rig.wait("the first lookup", Duration::from_secs(10), is("observed"))
        .await;
    let st = rig.status("vault");
    let prompt = st.login.clone().expect("it asks its user");
    assert_eq!(
        (prompt.method.as_str(), prompt.username.as_deref(), prompt.browser),
        ("userpass", Some("alice"), false)
    );
    let end = st.hard_end.expect("a hard end");
    assert!(end.needs_you && end.then.contains("`evergreen login vault`"), "{end:?}");
    // Evergreen cannot log in on its own: at its max TTL the token is final.
    rig.wait("the token's end", Duration::from_secs(30), is("final")).await;
    let config = rig.path("config.toml");
    let login = |input: &str| {
        evergreen_tests::evergreen_with_input(
            [
                "--config".as_ref(),
                config.as_os_str(),
                "login".as_ref(),
                "vault".as_ref(),
                "--password-stdin".as_ref(),
            ],
            input,
        )
    };
    let wrong = login("not the password\n");
    assert_eq!(wrong.code, 1, "{wrong:?}");
    assert!(
        wrong.stderr.contains("check the user name and the password"),
        "{wrong:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&token_file).unwrap().trim(),
        first,
        "a failed login writes nothing"
    );
    let ok = login(&format!("{password}\n"));
    assert_eq!(ok.code, 0, "{ok:?}");
    assert!(
        ok.stdout.contains("logged in to") && ok.stdout.contains("with userpass"),
        "{ok:?}"
    );
    assert!(
        !format!("{ok:?}{wrong:?}").contains(password),
        "the password is never printed"
    );
    let second = std::fs::read_to_string(&token_file).unwrap().trim().to_string();
    assert_ne!(second, first);
    // The running engine picks the new token up from its file at once.
    rig.wait("the new token", Duration::from_secs(20), |e| {
        e.kind.name() == "observed" && e.credential.as_deref() == Some("vault")
    })
    .await;
    let st = rig.status("vault");
    assert_eq!(st.state, State::Healthy, "{st:?}");
    for secret in [password, first.as_str(), second.as_str()] {
        rig.assert_never_shows(secret);
    }
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oidc_login_happens_in_the_browser_and_comes_back_on_the_loopback_callback() {
    let provider = evergreen_tests::oidc::Oidc::start(serde_json::json!([{
        "client_id": "bao",
        "client_secret": "bao-client-secret",
        "redirect_uris": ["http://localhost:8250/oidc/callback"],
    }]));
    let bao = Bao::dev();
    bao.cli(&["auth", "enable", "oidc"]);
    bao.cli(&[
        "write",
        "auth/oidc/config",
        &format!("oidc_discovery_url={}", provider.issuer),
        "oidc_client_id=bao",
        "oidc_client_secret=bao-client-secret",
        "default_role=dev",
    ]);
    bao.cli(&[
        "write",
        "auth/oidc/role/dev",
        "user_claim=sub",
        "allowed_redirect_uris=http://localhost:8250/oidc/callback",
        "token_policies=default",
        "token_ttl=1h",
    ]);
    let keys = tempfile::tempdir().unwrap();
    let token_file = keys.path().join("vault-token");
    let mut rig = Rig::start(|_| token_cred("vault", &bao, &token_file, "auth = \"oidc\"\n")).await;
    // No token yet: it waits for its user, and says how.
    let paused = rig.wait("the first look", Duration::from_secs(10), is("paused")).await;
    assert!(paused.to_string().contains("`evergreen login vault`"), "{paused}");
    let st = rig.status("vault");
    assert!(
        st.login.as_ref().is_some_and(|p| p.browser && p.method == "oidc"),
        "{st:?}"
    );
    let config = rig.path("config.toml");
    let mut cli = std::process::Command::new(evergreen_tests::evergreen_bin());
    cli.arg("--config")
        .arg(&config)
        .args(["login", "vault", "--no-browser"]);
    // The address it prints is where the user logs in: the scripted browser does.
    let done = evergreen_tests::oidc::login_through(cli, "alice").await;
    assert!(done.url.starts_with(&provider.issuer), "{}", done.url);
    assert!(
        done.back.starts_with("http://localhost:8250/oidc/callback?"),
        "{}",
        done.back
    );
    assert!(
        done.ok && done.stdout.contains("with oidc"),
        "{}\n{}",
        done.stdout,
        done.stderr
    );
    let token = std::fs::read_to_string(&token_file).unwrap().trim().to_string();
    let info = bao.cli(&["token", "lookup", "-format=json", &token]);
    assert!(info.contains("auth/oidc/oidc/callback"), "{info}");
    rig.wait("the new token", Duration::from_secs(20), is("observed")).await;
    assert_eq!(rig.status("vault").state, State::Healthy);
    rig.assert_never_shows(&token);
    rig.stop().await;
}
