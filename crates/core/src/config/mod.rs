//! The configuration file: schema, validation and errors people can act on.
//!
//! The file is TOML (`~/.config/evergreen/config.toml` on Linux). Parsing keeps
//! source spans so every mistake is reported with the file, line and column,
//! the field, what was wrong and what would be right. Unknown fields are
//! rejected: a typo must never silently turn a setting off. A config that
//! fails validation is never applied; the engine keeps the last good one.
//!
//! The rooms: this file holds the validated types and `load`; `raw` is the
//! file as serde reads it, `validate` turns it into a [`Config`] (with a
//! room per kind family), and `diagnostics` renders the problems.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::backoff::Backoff;
use crate::error::{Error, Result};
use crate::kind::Spec;
use crate::model::Kind;
use crate::policy::RenewPolicy;

mod diagnostics;
pub mod fields;
mod raw;
mod surroundings;
mod validate;

pub use diagnostics::Problem;
use diagnostics::*;
pub(crate) use raw::field_spans;
pub(crate) use raw::RawCredential;
use raw::*;
pub use surroundings::Surroundings;
pub(crate) use validate::Validator;

/// A validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub engine: EngineSettings,
    pub credentials: Vec<CredentialConfig>,
    /// Things that work but deserve a second look (e.g. plain HTTP to a
    /// loopback Vault); shown by `evergreen config check` and logged at start.
    pub warnings: Vec<String>,
}

/// Engine-wide settings (`[engine]`).
#[derive(Debug, Clone, PartialEq)]
pub struct EngineSettings {
    /// Symmetric jitter on every renewal deadline, as a fraction of the wait.
    pub jitter: f64,
    /// Time-left thresholds that deserve an "expires soon" notification.
    pub notify_before: Vec<Duration>,
    /// History older than this is pruned.
    pub history_max_age: Duration,
    /// At most this many history rows are kept per credential.
    pub history_per_credential: usize,
    /// Retry policy after a failed renewal.
    pub backoff: Backoff,
    /// A flapping credential's failures and recoveries are each told at
    /// most once in this window.
    pub flap_window: Duration,
    /// A spell without network this long is told once (when something
    /// waits for the network).
    pub offline_notice: Duration,
    /// The Prometheus endpoint (`[metrics]`), when one is asked for.
    pub metrics: Option<MetricsSettings>,
}

/// `[metrics]`: where `/metrics` is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsSettings {
    pub listen: std::net::SocketAddr,
}

/// The port `[metrics] listen` uses when it names an address alone.
pub const METRICS_PORT: u16 = 9419;

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            jitter: 0.1,
            notify_before: vec![
                Duration::from_secs(7 * 86_400),
                Duration::from_secs(86_400),
                Duration::from_secs(3600),
            ],
            history_max_age: Duration::from_secs(90 * 86_400),
            history_per_credential: 5000,
            backoff: Backoff::default(),
            flap_window: crate::notify_policy::DEFAULT_FLAP_WINDOW,
            offline_notice: Duration::from_secs(3600),
            metrics: None,
        }
    }
}

/// One `[[credential]]`.
#[derive(Debug, Clone)]
pub struct CredentialConfig {
    pub name: String,
    pub enabled: bool,
    pub policy: RenewPolicy,
    /// Overrides the engine's jitter for this credential.
    pub jitter: Option<f64>,
    pub kind: Kind,
    /// The kind's own settings (a struct in its source file).
    pub spec: Arc<dyn Spec>,
}

impl PartialEq for CredentialConfig {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name
            && self.enabled == o.enabled
            && self.policy == o.policy
            && self.jitter == o.jitter
            && self.kind == o.kind
            && *self.spec == *o.spec
    }
}

impl CredentialConfig {
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The kind's own settings as their type, when they are of it.
    pub fn spec_as<T: Spec>(&self) -> Option<&T> {
        self.spec.as_any().downcast_ref::<T>()
    }
}

impl Config {
    /// The environment variables this config reads secrets from: no command
    /// Evergreen runs inherits them.
    pub fn secret_env(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .credentials
            .iter()
            .flat_map(|c| c.spec.secret_env())
            .filter(|v| !v.is_empty())
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// How to reach a Vault or OpenBao server, shared by both Vault kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultConn {
    /// Base URL without a trailing slash, e.g. `https://vault.example:8200`.
    pub address: String,
    pub namespace: Option<String>,
    pub ca_bundle: Option<PathBuf>,
    pub token: TokenSource,
}

/// Where the Vault token is read from, at every request (so a new login is
/// picked up at once). The token itself is never part of the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// A file holding only the token, mode 0600 (`~/.vault-token` by default).
    File(PathBuf),
    /// An environment variable of the engine's process.
    Env(String),
}

impl TokenSource {
    /// The file, when the secret is kept in one (a file Evergreen watches).
    pub fn file(&self) -> Option<PathBuf> {
        match self {
            TokenSource::File(p) => Some(p.clone()),
            TokenSource::Env(_) => None,
        }
    }

    /// The variable, when the secret is read from one (which no command
    /// Evergreen runs may inherit).
    pub fn env(&self) -> Option<String> {
        match self {
            TokenSource::Env(v) if !v.is_empty() => Some(v.clone()),
            _ => None,
        }
    }
}

impl std::fmt::Display for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::File(p) => write!(f, "token file {}", p.display()),
            TokenSource::Env(v) => write!(f, "environment variable {v}"),
        }
    }
}

/// A command to run: an argv array, or a string for `/bin/sh -c` when the
/// credential sets `shell = true`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandSpec {
    Argv(Vec<String>),
    Shell(String),
}

impl CommandSpec {
    /// The argv that is actually executed.
    pub fn argv(&self) -> Vec<String> {
        match self {
            CommandSpec::Argv(v) => v.clone(),
            CommandSpec::Shell(s) => vec!["/bin/sh".into(), "-c".into(), s.clone()],
        }
    }
}

/// Default timeout for renew and reload commands.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// The shortest duration any setting takes: anything shorter is a typo that
/// would have Evergreen hammer a server.
pub const MIN_DURATION: Duration = Duration::from_millis(100);

/// The shortest heartbeat, poll or discovery interval against a control
/// plane on another machine: Evergreen never asks a server more often.
/// Shorter ones are for a control plane on this machine (a dev server, the
/// sandbox).
pub const MIN_SERVER_INTERVAL: Duration = Duration::from_secs(5);
/// The longest duration any setting takes.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 86_400);

// ---------------------------------------------------------------------------
// Raw, spanned form as it is written in the file.

/// Whether `name` may name a credential: 1–64 letters, digits, '-', '_' or
/// '.', because it is typed on the command line and sent over the socket.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Config> {
    let src = std::fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Config(format!(
                "{} does not exist; create it (see docs/configuration.md), or run `evergreen run` without a config for the demo",
                path.display()
            ))
        } else {
            Error::io("read config", path, e)
        }
    })?;
    if let Ok(meta) = std::fs::metadata(path) {
        if let Some(problem) = unsafe_config(&meta, path, rustix::process::geteuid().as_raw()) {
            return Err(Error::Config(problem));
        }
    }
    parse(&src, path)
}

/// A config names programs Evergreen runs: one another user can change is
/// refused, as ssh refuses such a config. The problem, with the fix.
fn unsafe_config(meta: &std::fs::Metadata, path: &Path, uid: u32) -> Option<String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mode = meta.permissions().mode() & 0o777;
    if meta.uid() != uid {
        return Some(format!(
            "{} is owned by uid {}, not by you (uid {uid}); it names programs Evergreen runs, so Evergreen only reads a config of your own: copy it and `chown` the copy",
            path.display(),
            meta.uid()
        ));
    }
    (mode & 0o022 != 0).then(|| {
        format!(
            "{} can be changed by other users (mode {mode:04o}); it names programs Evergreen runs, so Evergreen refuses it: run `chmod 600 {}`",
            path.display(),
            path.display()
        )
    })
}

/// Validates config text; `file` names it in errors and anchors relative
/// paths. What it needs from outside is read from this process.
/// The credential `name` of the config at `file`, or a refusal that lists
/// the names it has (for commands given a name: register, login).
pub fn credential_named(file: &Path, name: &str) -> Result<CredentialConfig> {
    let cfg = load(file)?;
    let names: Vec<String> = cfg.credentials.iter().map(|c| c.name.clone()).collect();
    cfg.credentials.into_iter().find(|c| c.name == name).ok_or_else(|| {
        Error::Refused(format!(
            "no credential named {name:?} in {}; it has: {}",
            file.display(),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        ))
    })
}

pub fn parse(src: &str, file: &Path) -> Result<Config> {
    parse_in(src, file, &Surroundings::of_process())
}

/// [`parse`] in the given surroundings.
pub fn parse_in(src: &str, file: &Path, around: &Surroundings) -> Result<Config> {
    validate_in(src, file, around).map_err(|problems| render(file, src, problems))
}

/// Validates config text, returning every problem with its span (for a
/// face that places them itself, like the settings form).
pub fn validate(src: &str, file: &Path) -> std::result::Result<Config, Vec<Problem>> {
    validate_in(src, file, &Surroundings::of_process())
}

/// [`validate`] in the given surroundings: a pure function of its inputs.
pub fn validate_in(src: &str, file: &Path, around: &Surroundings) -> std::result::Result<Config, Vec<Problem>> {
    let raw: RawConfig = toml::from_str(src).map_err(|e| {
        let msg = e.message().trim_end().to_string();
        let msg = friendlier_serde_message(&msg);
        vec![Problem {
            span: e.span(),
            message: msg,
        }]
    })?;
    let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut v = Validator {
        problems: Vec::new(),
        warnings: Vec::new(),
        base,
        around,
    };
    let cfg = v.config(raw);
    if v.problems.is_empty() {
        Ok(cfg)
    } else {
        Err(v.problems)
    }
}

fn friendlier_serde_message(msg: &str) -> String {
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        if let Some((field, expected)) = rest.split_once('`') {
            return format!(
                "unknown field `{field}`{}; check the spelling (docs/configuration.md lists every field)",
                expected.trim_start_matches(',')
            );
        }
    }
    msg.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_others_can_change_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        std::fs::write(&p, "").unwrap();
        for mode in [0o600, 0o644] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            assert!(load(&p).is_ok(), "{mode:o}");
        }
        for mode in [0o666, 0o620, 0o602] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            let e = load(&p).unwrap_err().to_string();
            assert!(
                e.contains("can be changed by other users") && e.contains("chmod 600"),
                "{e}"
            );
        }
        // someone else's file, whatever its mode
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let meta = std::fs::metadata(&p).unwrap();
        let mine = rustix::process::geteuid().as_raw();
        let why = unsafe_config(&meta, &p, mine.wrapping_add(1)).unwrap();
        assert!(why.contains("not by you"), "{why}");
    }
}
