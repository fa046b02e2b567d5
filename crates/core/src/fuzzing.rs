//! Entry points for the fuzz targets (`crates/fuzz`) and for the test that
//! replays their corpora and every crash they found (`tests/fuzz_corpora.rs`).
//!
//! Each takes arbitrary bytes, as a server, a file or a client could send
//! them, and must neither panic nor hang; what it returns does not matter.
//! The parsers behind them are the ones the sources use, not copies.

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::sources::{certctl, nixfleet, vault, vault_pki, vault_token, wrenn};

/// A fuzz target: arbitrary bytes in, nothing out.
pub type Target = fn(&[u8]);

/// Every target, by the name of its corpus directory.
pub const TARGETS: &[(&str, Target)] = &[("x509", x509), ("config", config), ("vault", vault), ("fleet", fleet)];

/// Certificate files (PEM, DER, bundles) and certificate replies.
pub fn x509(data: &[u8]) {
    let _ = crate::x509::parse(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::x509::parse_reply(text);
    }
}

/// The config file, validated, and a request on the local socket.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = crate::config::validate(text, Path::new("/nonexistent/evergreen/config.toml"));
    let _ = serde_json::from_str::<crate::ipc::Request>(text);
}

/// A fixed key for replies that must match one; made once.
fn key() -> &'static rcgen::KeyPair {
    static KEY: OnceLock<rcgen::KeyPair> = OnceLock::new();
    KEY.get_or_init(|| rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("an ed25519 key"))
}

/// A fixed instant, so that a run is the same whenever it replays.
fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

/// The first byte picks the reply, the rest is its body.
fn split(data: &[u8]) -> Option<(u8, &[u8])> {
    data.split_first().map(|(s, rest)| (*s, rest))
}

/// Vault/OpenBao replies: token lookup, token renewal, PKI sign and issue,
/// and an error body.
pub fn vault(data: &[u8]) {
    let Some((pick, body)) = split(data) else { return };
    if pick % 5 == 4 {
        let _ = vault::api_errors(body);
        return;
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let key_path = Path::new("web.key");
    match pick % 5 {
        0 => {
            let _ = vault_token::parse_lookup(&v);
        }
        1 => {
            let _ = vault_token::parse_renew(&v, Some(3600));
        }
        2 => {
            let _ = vault_pki::check_issued("pki/sign/web", key_path, &v, Some(key()), now());
        }
        _ => {
            let _ = vault_pki::check_issued("pki/issue/web", key_path, &v, None, now());
        }
    }
}

/// Fleet control planes' replies: wrenn register/refresh, certctl's work
/// poll, nixfleet's renewal.
pub fn fleet(data: &[u8]) {
    let Some((pick, body)) = split(data) else { return };
    match pick % 3 {
        0 => {
            let _ = wrenn::parse_auth(body, None, now());
        }
        1 => {
            if let Ok(v) = serde_json::from_slice::<Value>(body) {
                let _ = certctl::parse_work(v);
            }
        }
        _ => {
            if let Ok(v) = serde_json::from_slice::<Value>(body) {
                let _ = nixfleet::check_renewed(
                    &v,
                    key(),
                    "the host key",
                    "https://cp/v1/agent/renew",
                    Path::new("agent.pem"),
                    nixfleet::Expect::Same("ws-1"),
                    "ws-1",
                    std::time::SystemTime::now(),
                );
            }
        }
    }
}
