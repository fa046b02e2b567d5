//! The Prometheus endpoint against a real Prometheus: `[metrics] listen`
//! scraped each second by a `prometheus` the test starts on loopback, its
//! query API returning each series with the value the engine holds;
//! `promtool check metrics` on what `evergreen metrics` prints; the
//! textfile written for node-exporter; the endpoint moved by a config edit.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};

use evergreen_tests::desktop::free_port;
use evergreen_tests::env::{wait_for, Env};
use evergreen_tests::prometheus::{self, Prometheus};

fn need_prometheus() {
    if let Some(tool) = prometheus::missing() {
        panic!("{tool} is not installed; `scripts/install-deps.sh` (run by `make test`) installs Debian's prometheus");
    }
}

fn not_after_secs(path: &std::path::Path) -> f64 {
    let f = evergreen_core::x509::read_file(path).unwrap();
    f.leaf()
        .lifetime
        .not_after
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as f64
}

fn config(env: &Env, port: u16) -> String {
    let day = Duration::from_secs(86_400);
    // A certificate two thirds through 30 days, renewed by a command that works…
    env.cert("web", 20 * day, 30 * day);
    // …one due and renewed by a command that fails…
    env.cert("api", 25 * day, 30 * day);
    // …and one only watched, expired.
    let old = env.cert("old", 40 * day, 30 * day);
    format!(
        "[metrics]\nlisten = \"127.0.0.1:{port}\"\n\n[engine]\nretry_base = \"1h\"\nretry_max = \"2h\"\n\n{}\n[[credential]]\nname = \"api\"\nkind = \"x509_file\"\npath = \"{}\"\nrenew_command = [\"false\"]\n\n[[credential]]\nname = \"old\"\nkind = \"x509_file\"\npath = \"{}\"\n",
        env.renewing("web", "30d", "renew_at_fraction = 0.5"),
        env.certs().join("api.pem").display(),
        old.display(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_every_series_with_its_value() {
    need_prometheus();
    let env = Env::new();
    let port = free_port();
    env.write_config(&config(&env, port));
    let engine = env.start();
    let prom = Prometheus::start(&[format!("127.0.0.1:{port}")]).await;

    // The failing one: one-hot state, its failures, its renewal counts.
    let q = |s: &str| s.to_string();
    prom.wait_value(&q("up{job=\"evergreen\"}"), |v| v == 1.0).await;
    prom.wait_value(
        &q("evergreen_credential_state{credential=\"api\",state=\"failing\"}"),
        |v| v == 1.0,
    )
    .await;
    let states = prom.query("evergreen_credential_state{credential=\"api\"}").await;
    assert_eq!(states.len(), 11, "every state is a series: {states:?}");
    assert_eq!(states.iter().filter(|(_, v)| *v == 1.0).count(), 1, "{states:?}");
    prom.wait_value("evergreen_credential_consecutive_failures{credential=\"api\"}", |v| {
        v >= 1.0
    })
    .await;
    prom.wait_value(
        "evergreen_renewals_total{credential=\"api\",kind=\"x509_file\",result=\"failure\"}",
        |v| v >= 1.0,
    )
    .await;

    // The renewed one: a success counted, its new expiry, its fraction.
    prom.wait_value("evergreen_renewals_total{credential=\"web\",result=\"success\"}", |v| {
        v >= 1.0
    })
    .await;
    prom.wait_value(
        "evergreen_credential_state{credential=\"web\",state=\"healthy\"}",
        |v| v == 1.0,
    )
    .await;
    let web = env.certs().join("web.pem");
    let renewed_until = not_after_secs(&web);
    prom.wait_value("evergreen_credential_not_after_seconds{credential=\"web\"}", |v| {
        v == renewed_until
    })
    .await;
    let ratio = prom
        .wait_value("evergreen_credential_remaining_ratio{credential=\"web\"}", |v| v > 0.99)
        .await;
    assert!(ratio <= 1.0, "{ratio}");
    let last = prom
        .wait_value(
            "evergreen_credential_last_renewal_success_timestamp_seconds{credential=\"web\"}",
            |v| v > 0.0,
        )
        .await;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - last).abs() < 120.0, "renewed at {last}, now {now}");

    // The watched one, under certificate monitoring's own names.
    let old = env.certs().join("old.pem");
    let x509 = prom.query("x509_cert_not_after{credential=\"old\"}").await;
    assert_eq!(x509.len(), 1, "{x509:?}");
    let (labels, value) = &x509[0];
    assert_eq!(*value, not_after_secs(&old));
    assert_eq!(labels["filepath"], old.display().to_string());
    assert_eq!(labels["filename"], "old.pem");
    assert_eq!(labels["subject_CN"], "old");
    assert_eq!(labels["issuer_CN"], "Test CA");
    prom.wait_value("x509_cert_expired{credential=\"old\"}", |v| v == 1.0)
        .await;
    prom.wait_value(
        "evergreen_credential_state{credential=\"old\",state=\"expired\"}",
        |v| v == 1.0,
    )
    .await;
    prom.wait_value("x509_cert_expired{credential=\"web\"}", |v| v == 0.0)
        .await;

    // What `evergreen metrics` prints is what promtool accepts.
    let out = env.run(&["metrics"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("evergreen_credential_state{credential=\"api\""),
        "{}",
        out.stdout
    );
    prometheus::check_metrics(&out.stdout).unwrap_or_else(|e| panic!("promtool check metrics: {e}\n{}", out.stdout));

    // For node-exporter's textfile collector: written whole, readable by it.
    let textfile = env.dir.path().join("evergreen.prom");
    let out = env.run(&["metrics", "--textfile", textfile.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    let text = std::fs::read_to_string(&textfile).unwrap();
    prometheus::check_metrics(&text).unwrap();
    assert_eq!(
        std::fs::metadata(&textfile).unwrap().permissions().mode() & 0o777,
        0o644
    );
    let out = env.run(&[
        "metrics",
        "--textfile",
        env.dir.path().join("evergreen.txt").to_str().unwrap(),
    ]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("ending in .prom"), "{}", out.stderr);

    // An edit moves the endpoint, without a restart.
    let moved = free_port();
    env.write_config(&config(&env, moved).replace(&format!(":{port}\""), &format!(":{moved}\"")));
    let get = |p: u16| async move {
        reqwest::get(format!("http://127.0.0.1:{p}/metrics"))
            .await
            .ok()
            .map(|r| r.status().is_success())
    };
    let start = std::time::Instant::now();
    while get(moved).await != Some(true) || get(port).await.is_some() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the endpoint did not move to {moved}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    engine.stop();
}

#[test]
fn without_an_engine_metrics_says_so_and_writes_nothing() {
    let env = Env::new();
    let textfile = env.dir.path().join("evergreen.prom");
    let out = env.run(&["metrics", "--textfile", textfile.to_str().unwrap()]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("evergreen run"), "{}", out.stderr);
    assert!(!textfile.exists());
}

#[test]
fn a_taken_port_is_logged_and_renewals_go_on() {
    let env = Env::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    env.cert(
        "web",
        Duration::from_secs(20 * 86_400),
        Duration::from_secs(30 * 86_400),
    );
    env.write_config(&format!(
        "[metrics]\nlisten = \"127.0.0.1:{port}\"\n\n{}",
        env.renewing("web", "30d", "renew_at_fraction = 0.5")
    ));
    let engine = env.start();
    wait_for("the renewal", Duration::from_secs(20), || {
        env.status_of("web")["renewals"]["success"].as_u64() >= Some(1)
    });
    wait_for("the log line", Duration::from_secs(5), || {
        engine.stderr().contains("cannot listen on")
    });
    let log = engine.stderr();
    assert!(
        log.contains(&format!("127.0.0.1:{port}")) && log.contains("pick another port"),
        "{log}"
    );
    engine.stop();
}

/// The alert rules docs/monitoring.md shows are the file Prometheus loads,
/// valid, and fire when they should (`promtool test rules`).
#[test]
fn the_documented_alert_rules_are_valid_and_fire_when_they_should() {
    need_prometheus();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let rules = root.join("docs/evergreen.rules.yml");
    prometheus::check_rules(&rules).unwrap_or_else(|e| panic!("promtool check rules: {e}"));
    let doc = std::fs::read_to_string(root.join("docs/monitoring.md")).unwrap();
    assert!(
        doc.contains(&std::fs::read_to_string(&rules).unwrap()),
        "docs/monitoring.md quotes docs/evergreen.rules.yml as it is"
    );
    let out = std::process::Command::new("promtool")
        .args(["test", "rules", "rules_test.yml"])
        .current_dir(root.join("tests/prometheus"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool test rules:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
