//! Entry points for the fuzz targets (`crates/fuzz`) and for the test that
//! replays their corpora and every crash they found (`tests/fuzz_corpora.rs`).
//!
//! Each takes arbitrary bytes, as a server, a file or a client could send
//! them, and must neither panic nor hang; what it returns does not matter.
//! The parsers behind them are the ones the sources use, not copies.

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use crate::sources::vault;

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
pub(crate) fn key() -> &'static rcgen::KeyPair {
    static KEY: OnceLock<rcgen::KeyPair> = OnceLock::new();
    KEY.get_or_init(|| rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("an ed25519 key"))
}

/// A fixed instant, so that a run is the same whenever it replays.
pub(crate) fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

/// The first byte picks the reply, the rest is its body.
pub(crate) fn split(data: &[u8]) -> Option<(u8, &[u8])> {
    data.split_first().map(|(s, rest)| (*s, rest))
}

/// Vault/OpenBao replies: an error body, then what every kind makes of it.
pub fn vault(data: &[u8]) {
    if let Some((_, body)) = split(data) {
        let _ = vault::api_errors(body);
    }
    replies(data);
}

/// Fleet control planes' replies: what every kind makes of it.
pub fn fleet(data: &[u8]) {
    replies(data);
}

/// The bytes to every registered kind's parsers of replies: a new kind's
/// are fuzzed with the others' corpora from the day it is registered.
fn replies(data: &[u8]) {
    for kind in crate::model::Kind::all() {
        (kind.def().fuzz)(data);
    }
}
