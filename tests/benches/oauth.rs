//! `make bench`: one OAuth refresh round trip against a real OpenID Connect
//! provider (oidc-provider) on loopback, median of 50. `evergreen renew
//! mail` asks the running release engine to refresh (take the lock, read
//! the kept tokens, refresh, keep the rotated refresh token, answer); beside
//! it, `curl` posting the refresh grant to the token endpoint, which is what
//! a hand-written script does (without keeping anything).
//!
//! Run with `cargo bench -p evergreen-tests --bench oauth` after the release
//! build (scripts/bench-oauth.sh does both). Prints the two medians in ms.

use std::process::Command;
use std::time::{Duration, Instant};

use evergreen_tests::env::{wait_for, Env};
use evergreen_tests::oidc::{login_through, Oidc};

const ROUNDS: usize = 50;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let p = Oidc::start(serde_json::json!([{
        "client_id": "cli",
        "application_type": "native",
        "token_endpoint_auth_method": "none",
        "grant_types": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
        "response_types": [],
    }]));
    let env = Env::new();
    let tokens = env.dir.path().join("mail.json");
    env.write_config(&format!(
        "[[credential]]\nname = \"mail\"\nkind = \"oauth\"\nissuer = \"{}\"\nclient_id = \"cli\"\nscopes = [\"openid\", \"offline_access\"]\nkeyring = false\ntoken_file = \"{}\"\n",
        p.issuer,
        tokens.display()
    ));
    let daemon = env.start();
    let mut login = env.cmd();
    login.args(["login", "mail", "--no-browser"]);
    assert!(login_through(login, "alice").await.ok, "the login worked");
    wait_for("the engine to see the tokens", Duration::from_secs(20), || {
        env.status_of("mail")["state"] == "healthy"
    });
    let mut eg = Vec::new();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let r = env.run(&["renew", "mail"]);
        eg.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(r.code, 0, "{r:?}");
    }
    let mut curl = Vec::new();
    for _ in 0..ROUNDS {
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&tokens).unwrap()).unwrap();
        let refresh = v["refresh_token"].as_str().unwrap().to_string();
        let t = Instant::now();
        let out = Command::new("curl")
            .args([
                "-s",
                "--noproxy",
                "*",
                "-d",
                "grant_type=refresh_token",
                "-d",
                "client_id=cli",
                "-d",
            ])
            .arg(format!("refresh_token={refresh}"))
            .arg(format!("{}/token", p.issuer))
            .output()
            .unwrap();
        curl.push(t.elapsed().as_secs_f64() * 1000.0);
        // Keep the rotated refresh token where the next round reads it.
        let reply: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a token reply");
        let mut kept = v.clone();
        kept["refresh_token"] = reply["refresh_token"].clone();
        std::fs::write(&tokens, kept.to_string()).unwrap();
    }
    drop(daemon);
    println!("{:.1} {:.1}", median(eg), median(curl));
}
