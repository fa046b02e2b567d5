//! No secret leaves where it lives: the real `evergreen run`, logging at
//! debug level, keeps a Vault token, a Vault PKI certificate whose key the
//! server made, and the three fleet kinds (a nixfleet host key, a wrenn JWT
//! and refresh token, a certctl API key and the keys made for its
//! deployments) alive against a real OpenBao and a real control plane; then
//! every place Evergreen writes words is searched for every secret: its log
//! (stderr), its events and notifications (stdout), the status, the history,
//! the CLI's output and what the window is sent over the socket.

use std::path::Path;
use std::time::Duration;

use evergreen_sandbox::{Options, Sandbox};
use evergreen_tests::bao::Bao;
use evergreen_tests::env::{wait_for, Env};

/// What of a secret file would show if it leaked: a token whole, a PEM key
/// by each line of its body (a log may cut or wrap it).
fn fingerprints(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if text.contains("-----BEGIN") {
        return text
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() >= 24)
            .map(str::to_string)
            .collect();
    }
    vec![text.trim().to_string()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_key_or_api_key_reaches_a_log_an_event_the_status_the_history_or_the_window() {
    let bao = Bao::dev();
    bao.pki("60s");
    let sb = Sandbox::start(Options {
        cert_lifetime: Duration::from_secs(30),
        ..Options::default()
    })
    .await
    .unwrap();
    let env = Env::new();
    let d = env.dir.path();
    let fleet = d.join("fleet");
    let fleet_config = evergreen_sandbox::demo_config(&sb, &fleet).unwrap();
    let token = bao.pki_token_file(&d.join("token"), "12s");
    env.write_config(&format!(
        "[[credential]]\nname = \"login\"\nkind = \"vault_token\"\naddress = \"{addr}\"\ntoken_file = \"{t}\"\n\n\
         [[credential]]\nname = \"ws\"\nkind = \"vault_pki\"\naddress = \"{addr}\"\ntoken_file = \"{t}\"\nrole = \"ws\"\nmode = \"issue\"\ncommon_name = \"ws.example.test\"\npath = \"{d}/certs/ws.pem\"\nkey_path = \"{d}/keys/ws.key\"\nttl = \"60s\"\nrenew_before = \"50s\"\n\n{fleet_config}",
        addr = bao.addr,
        t = d.join("token").display(),
        d = d.display(),
    ));
    let daemon = env.start_with(&[("EVERGREEN_LOG", "debug")]);
    let renewed = |name: &str, n: u64| env.status_of(name)["renewals"]["success"].as_u64().unwrap_or(0) >= n;
    wait_for(
        "every credential renewed, the PKI one twice",
        Duration::from_secs(60),
        || {
            renewed("login", 1)
                && renewed("ws", 2)
                && renewed("sandbox-nixfleet", 1)
                && renewed("sandbox-wrenn", 1)
                && env.status_of("sandbox-certctl")["state"] == "healthy"
        },
    );

    let mut secrets = vec![token];
    for file in [
        d.join("keys/ws.key"),
        fleet.join("ssh_host_ed25519_key"),
        fleet.join("certctl.key"),
    ] {
        secrets.extend(fingerprints(&file));
    }
    let wrenn: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fleet.join("wrenn.json")).unwrap()).unwrap();
    for field in ["jwt", "refresh_token"] {
        secrets.push(wrenn[field].as_str().unwrap().to_string());
    }
    for k in std::fs::read_dir(fleet.join("certctl-keys")).unwrap().flatten() {
        if k.path().extension().is_some_and(|e| e == "key") {
            secrets.extend(fingerprints(&k.path()));
        }
    }
    assert!(secrets.len() > 8, "{} secrets", secrets.len());

    // What the window is sent: a snapshot, and a renewal's answer.
    let mut c = evergreen_core::ipc::Client::connect(&d.join("run/evergreen.sock"))
        .await
        .unwrap();
    let snapshot = c.request(&evergreen_core::ipc::Request::Snapshot).await.unwrap();
    let renew = c
        .request(&evergreen_core::ipc::Request::Renew { name: "ws".into() })
        .await
        .unwrap();
    let mut places = vec![
        ("the window's snapshot", serde_json::to_string(&snapshot).unwrap()),
        ("a renewal's answer", serde_json::to_string(&renew).unwrap()),
    ];
    for args in [
        &["status", "--json"][..],
        &["status"],
        &["history", "--json"],
        &["history"],
    ] {
        let r = env.run(args);
        places.push(("the CLI's output", format!("{}{}", r.stdout, r.stderr)));
    }
    let (log, events) = (daemon.err.clone(), daemon.log.clone());
    assert_eq!(daemon.stop(), 0);
    let log = std::fs::read_to_string(log).unwrap();
    assert!(log.contains("DEBUG"), "the engine logged at debug level");
    places.push(("the log", log));
    places.push(("the events and notifications", std::fs::read_to_string(events).unwrap()));
    for db in ["evergreen.db", "evergreen.db-wal"] {
        if let Ok(bytes) = std::fs::read(d.join("data").join(db)) {
            places.push(("the store", String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    for (place, text) in &places {
        for (i, s) in secrets.iter().enumerate() {
            // Named by number: a failing test must not print the secret either.
            assert!(
                !text.contains(s.as_str()),
                "secret #{i} (of {}) is in {place}",
                secrets.len()
            );
        }
    }
}
