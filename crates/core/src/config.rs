//! The configuration file: schema, validation and errors people can act on.
//!
//! The file is TOML (`~/.config/evergreen/config.toml` on Linux). Parsing keeps
//! source spans so every mistake is reported with the file, line and column,
//! the field, what was wrong and what would be right. Unknown fields are
//! rejected: a typo must never silently turn a setting off. A config that
//! fails validation is never applied; the engine keeps the last good one.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::backoff::Backoff;
use crate::error::{Error, Result};
use crate::model::Kind;
use crate::policy::RenewPolicy;

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
}

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
        }
    }
}

/// One `[[credential]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CredentialConfig {
    pub name: String,
    pub enabled: bool,
    pub policy: RenewPolicy,
    /// Overrides the engine's jitter for this credential.
    pub jitter: Option<f64>,
    pub spec: CredentialSpec,
}

impl CredentialConfig {
    pub fn kind(&self) -> Kind {
        match self.spec {
            CredentialSpec::X509File(_) => Kind::X509File,
            CredentialSpec::VaultToken(_) => Kind::VaultToken,
            CredentialSpec::VaultPki(_) => Kind::VaultPki,
            CredentialSpec::Nixfleet(_) => Kind::Nixfleet,
            CredentialSpec::Wrenn(_) => Kind::Wrenn,
            CredentialSpec::Certctl(_) => Kind::Certctl,
        }
    }
}

/// Kind-specific settings.
#[derive(Debug, Clone, PartialEq)]
pub enum CredentialSpec {
    X509File(X509FileSpec),
    VaultToken(VaultTokenSpec),
    VaultPki(Box<VaultPkiSpec>),
    Nixfleet(NixfleetSpec),
    Wrenn(WrennSpec),
    Certctl(Box<CertctlSpec>),
}

impl Config {
    /// The environment variables this config reads secrets from: no command
    /// Evergreen runs inherits them.
    pub fn secret_env(&self) -> Vec<String> {
        self.credentials
            .iter()
            .filter_map(|c| match &c.spec {
                CredentialSpec::VaultToken(s) => Some(&s.conn.token),
                CredentialSpec::VaultPki(s) => Some(&s.conn.token),
                CredentialSpec::Certctl(s) => Some(&s.api_key),
                _ => None,
            })
            .filter_map(|t| match t {
                TokenSource::Env(v) if !v.is_empty() => Some(v.clone()),
                _ => None,
            })
            .collect()
    }
}

impl CredentialSpec {
    /// Files whose change means the credential should be looked at again
    /// (the certificate, the token file a `bao login` rewrites).
    pub fn watched_paths(&self) -> Vec<PathBuf> {
        let token_file = |c: &VaultConn| match &c.token {
            TokenSource::File(p) => Some(p.clone()),
            TokenSource::Env(_) => None,
        };
        match self {
            CredentialSpec::X509File(s) => vec![s.path.clone()],
            CredentialSpec::VaultToken(s) => token_file(&s.conn).into_iter().collect(),
            CredentialSpec::VaultPki(s) => std::iter::once(s.cert_path.clone())
                .chain(token_file(&s.conn))
                .collect(),
            CredentialSpec::Nixfleet(s) => vec![s.cert_path.clone(), s.enrollment_token_file.clone()],
            CredentialSpec::Wrenn(s) => vec![s.credentials_file.clone(), s.registration_token_file.clone()],
            CredentialSpec::Certctl(s) => s
                .targets
                .values()
                .map(|t| t.cert_path.clone())
                .chain(match &s.api_key {
                    TokenSource::File(p) => Some(p.clone()),
                    TokenSource::Env(_) => None,
                })
                .collect(),
        }
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

impl std::fmt::Display for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::File(p) => write!(f, "token file {}", p.display()),
            TokenSource::Env(v) => write!(f, "environment variable {v}"),
        }
    }
}

/// A Vault/OpenBao token kept alive with `renew-self`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultTokenSpec {
    pub conn: VaultConn,
    /// The TTL asked for at each renewal; default: the token's own TTL.
    pub increment: Option<Duration>,
}

/// A nixfleet agent's mTLS client certificate, renewed with a CSR
/// signed by the host's SSH ed25519 key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NixfleetSpec {
    /// The control plane, `https://…` (no path).
    pub url: String,
    /// The client certificate, rewritten in place.
    pub cert_path: PathBuf,
    /// The host's OpenSSH ed25519 private key: the certificate's key.
    pub ssh_host_key: PathBuf,
    pub machine_id: String,
    pub ca_bundle: Option<PathBuf>,
    /// Where an enrolment token waits (`evergreen register` writes it): with
    /// no certificate yet, Evergreen enrols with it and then removes it.
    pub enrollment_token_file: PathBuf,
}

/// A wrenn host registration: host JWT, refresh token and
/// certificate in one credentials file, kept alive with heartbeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrennSpec {
    /// The control plane, `https://…` (plain HTTP only on loopback).
    pub url: String,
    /// The credentials file (JSON, 0600), written at registration.
    pub credentials_file: PathBuf,
    /// A file holding a one-time registration token, used (and then
    /// removed) when there is no credentials file.
    pub registration_token_file: PathBuf,
    pub heartbeat_interval: Duration,
    /// This host's externally reachable address, sent at registration.
    pub host_address: String,
    pub ca_bundle: Option<PathBuf>,
}

/// A certctl agent: heartbeats, work polls, CSR and deployment
/// jobs for the targets configured here, and certificate discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertctlSpec {
    /// The control plane, `https://…` only (no path).
    pub url: String,
    /// The agent's id at the control plane.
    pub agent_id: String,
    /// Where the agent's API key is read from, at every request.
    pub api_key: TokenSource,
    pub ca_bundle: Option<PathBuf>,
    /// Where the keys made for CSR jobs live (0700; keys 0600).
    pub key_dir: PathBuf,
    /// Target id (as the control plane names it) → where it is deployed.
    pub targets: BTreeMap<String, CertctlTarget>,
    /// Directories scanned for certificates to report.
    pub discovery_dirs: Vec<PathBuf>,
    pub heartbeat_interval: Duration,
    pub poll_interval: Duration,
    pub discovery_interval: Duration,
}

/// Where one certctl target's certificate and key are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertctlTarget {
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
}

/// How a PKI certificate is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkiMode {
    /// Generate the key here, send a CSR to `<mount>/sign/<role>`: the key never leaves the machine.
    Sign,
    /// Let the server make the key too (`<mount>/issue/<role>`).
    Issue,
}

/// Key algorithm of a PKI credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    EcP256,
    EcP384,
    Ed25519,
}

impl KeyType {
    pub const NAMES: &'static [&'static str] = &["ec-p256", "ec-p384", "ed25519"];

    pub fn name(self) -> &'static str {
        match self {
            KeyType::EcP256 => "ec-p256",
            KeyType::EcP384 => "ec-p384",
            KeyType::Ed25519 => "ed25519",
        }
    }
}

/// A certificate and key pair from a Vault/OpenBao PKI role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultPkiSpec {
    pub conn: VaultConn,
    pub mount: String,
    pub role: String,
    pub common_name: String,
    pub alt_names: Vec<String>,
    pub ip_sans: Vec<String>,
    /// The TTL asked for; default: the role's.
    pub ttl: Option<Duration>,
    pub key_type: KeyType,
    pub mode: PkiMode,
    /// The certificate (leaf first, then the chain).
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    pub reload_command: Option<CommandSpec>,
    pub command_timeout: Duration,
}

/// An X.509 certificate file, optionally renewed by a command.
#[derive(Debug, Clone, PartialEq)]
pub struct X509FileSpec {
    pub path: PathBuf,
    pub renew_command: Option<CommandSpec>,
    pub reload_command: Option<CommandSpec>,
    /// How long a renew or reload command may run before it is killed.
    pub command_timeout: Duration,
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
/// The longest duration any setting takes.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 86_400);

// ---------------------------------------------------------------------------
// Raw, spanned form as it is written in the file.

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    engine: Option<Spanned<RawEngine>>,
    #[serde(default)]
    credential: Vec<Spanned<RawCredential>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEngine {
    jitter: Option<Spanned<f64>>,
    notify_before: Option<Spanned<Vec<Spanned<String>>>>,
    history_days: Option<Spanned<i64>>,
    history_per_credential: Option<Spanned<i64>>,
    retry_base: Option<Spanned<String>>,
    retry_max: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawCommand {
    Argv(Vec<String>),
    Shell(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredential {
    name: Option<Spanned<String>>,
    kind: Option<Spanned<String>>,
    enabled: Option<bool>,
    renew_at_fraction: Option<Spanned<f64>>,
    renew_before: Option<Spanned<String>>,
    jitter: Option<Spanned<f64>>,
    // x509_file, vault_pki
    path: Option<Spanned<String>>,
    renew_command: Option<Spanned<RawCommand>>,
    reload_command: Option<Spanned<RawCommand>>,
    command_timeout: Option<Spanned<String>>,
    shell: Option<Spanned<bool>>,
    // vault_token, vault_pki
    address: Option<Spanned<String>>,
    namespace: Option<Spanned<String>>,
    ca_bundle: Option<Spanned<String>>,
    token_file: Option<Spanned<String>>,
    token_env: Option<Spanned<String>>,
    // vault_token
    increment: Option<Spanned<String>>,
    // vault_pki
    mount: Option<Spanned<String>>,
    role: Option<Spanned<String>>,
    common_name: Option<Spanned<String>>,
    alt_names: Option<Spanned<Vec<String>>>,
    ip_sans: Option<Spanned<Vec<String>>>,
    ttl: Option<Spanned<String>>,
    key_type: Option<Spanned<String>>,
    mode: Option<Spanned<String>>,
    key_path: Option<Spanned<String>>,
    // wrenn
    credentials_file: Option<Spanned<String>>,
    registration_token_file: Option<Spanned<String>>,
    heartbeat_interval: Option<Spanned<String>>,
    host_address: Option<Spanned<String>>,
    // certctl
    agent_id: Option<Spanned<String>>,
    api_key_file: Option<Spanned<String>>,
    api_key_env: Option<Spanned<String>>,
    key_dir: Option<Spanned<String>>,
    targets: Option<Spanned<Vec<String>>>,
    discovery_dirs: Option<Spanned<Vec<String>>>,
    poll_interval: Option<Spanned<String>>,
    discovery_interval: Option<Spanned<String>>,
    // nixfleet, wrenn, certctl
    url: Option<Spanned<String>>,
    ssh_host_key: Option<Spanned<String>>,
    machine_id: Option<Spanned<String>>,
    enrollment_token_file: Option<Spanned<String>>,
}

impl RawCredential {
    /// The kind-specific fields that are set, with where they are.
    fn kind_fields(&self) -> Vec<(&'static str, Range<usize>)> {
        fn at<T>(name: &'static str, f: &Option<Spanned<T>>) -> Option<(&'static str, Range<usize>)> {
            f.as_ref().map(|s| (name, s.span()))
        }
        [
            at("path", &self.path),
            at("renew_command", &self.renew_command),
            at("reload_command", &self.reload_command),
            at("command_timeout", &self.command_timeout),
            at("shell", &self.shell),
            at("address", &self.address),
            at("namespace", &self.namespace),
            at("ca_bundle", &self.ca_bundle),
            at("token_file", &self.token_file),
            at("token_env", &self.token_env),
            at("increment", &self.increment),
            at("mount", &self.mount),
            at("role", &self.role),
            at("common_name", &self.common_name),
            at("alt_names", &self.alt_names),
            at("ip_sans", &self.ip_sans),
            at("ttl", &self.ttl),
            at("key_type", &self.key_type),
            at("mode", &self.mode),
            at("key_path", &self.key_path),
            at("url", &self.url),
            at("ssh_host_key", &self.ssh_host_key),
            at("machine_id", &self.machine_id),
            at("enrollment_token_file", &self.enrollment_token_file),
            at("credentials_file", &self.credentials_file),
            at("registration_token_file", &self.registration_token_file),
            at("heartbeat_interval", &self.heartbeat_interval),
            at("host_address", &self.host_address),
            at("agent_id", &self.agent_id),
            at("api_key_file", &self.api_key_file),
            at("api_key_env", &self.api_key_env),
            at("key_dir", &self.key_dir),
            at("targets", &self.targets),
            at("discovery_dirs", &self.discovery_dirs),
            at("poll_interval", &self.poll_interval),
            at("discovery_interval", &self.discovery_interval),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

pub(crate) const KINDS: &[&str] = &["x509_file", "vault_token", "vault_pki", "nixfleet", "wrenn", "certctl"];

const VAULT_CONN_FIELDS: &[&str] = &["address", "namespace", "ca_bundle", "token_file", "token_env"];

/// The kind-specific fields each kind accepts.
pub(crate) fn fields_of(kind: &str) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = match kind {
        "x509_file" => vec!["path", "renew_command", "reload_command", "command_timeout", "shell"],
        "vault_token" => vec!["increment"],
        "nixfleet" => vec![
            "url",
            "path",
            "ssh_host_key",
            "machine_id",
            "enrollment_token_file",
            "ca_bundle",
        ],
        "wrenn" => vec![
            "url",
            "credentials_file",
            "registration_token_file",
            "heartbeat_interval",
            "host_address",
            "ca_bundle",
        ],
        "certctl" => vec![
            "url",
            "agent_id",
            "api_key_file",
            "api_key_env",
            "ca_bundle",
            "key_dir",
            "targets",
            "discovery_dirs",
            "heartbeat_interval",
            "poll_interval",
            "discovery_interval",
        ],
        "vault_pki" => vec![
            "path",
            "key_path",
            "mount",
            "role",
            "common_name",
            "alt_names",
            "ip_sans",
            "ttl",
            "key_type",
            "mode",
            "reload_command",
            "command_timeout",
            "shell",
        ],
        _ => vec![],
    };
    if kind.starts_with("vault_") {
        v.extend_from_slice(VAULT_CONN_FIELDS);
    }
    v
}

// ---------------------------------------------------------------------------

/// One problem found in a config file, with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub span: Option<Range<usize>>,
    pub message: String,
}

/// A problem placed in the file: 1-based line and column, and the line's text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Located {
    at: Option<(usize, usize, String)>,
    message: String,
}

/// Every problem found in one file, rendered with file, line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ConfigErrors {
    file: PathBuf,
    problems: Vec<Located>,
}

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{} has {} problem{}; nothing in it was applied:",
            self.file.display(),
            n,
            if n == 1 { "" } else { "s" }
        )?;
        for Located { at, message } in &self.problems {
            match at {
                Some((l, c, _)) => write!(f, "\n  {}:{l}:{c}: {message}", self.file.display())?,
                None => write!(f, "\n  {}: {message}", self.file.display())?,
            }
            if let Some((l, c, text)) = at {
                let gutter = l.to_string().len();
                write!(f, "\n   {l} | {text}\n   {:gutter$} | {:>col$}", "", "^", col = c)?;
            }
        }
        Ok(())
    }
}

fn locate(src: &str, offset: usize) -> (usize, usize, String) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = src[line_start..offset].chars().count() + 1;
    let text = src[line_start..].lines().next().unwrap_or("").to_string();
    (line, col, text)
}

fn render(file: &Path, src: &str, problems: Vec<Problem>) -> Error {
    let problems = problems
        .into_iter()
        .map(|p| Located {
            at: p.span.map(|s| locate(src, s.start)),
            message: p.message,
        })
        .collect();
    Error::Config(
        ConfigErrors {
            file: file.to_path_buf(),
            problems,
        }
        .to_string(),
    )
}

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

/// Validates config text; `file` names it in errors and anchors relative paths.
pub fn parse(src: &str, file: &Path) -> Result<Config> {
    validate(src, file).map_err(|problems| render(file, src, problems))
}

/// Validates config text, returning every problem with its span (for a
/// face that places them itself, like the settings form).
pub fn validate(src: &str, file: &Path) -> std::result::Result<Config, Vec<Problem>> {
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
    if msg.contains("data did not match any variant of untagged enum RawCommand") {
        return "a command must be an array of strings, e.g. [\"step\", \"ca\", \"renew\", \"cert.pem\", \"key.pem\"], or a string with `shell = true`".into();
    }
    msg.to_string()
}

struct Validator {
    problems: Vec<Problem>,
    warnings: Vec<String>,
    base: PathBuf,
}

impl Validator {
    fn err(&mut self, span: Option<Range<usize>>, message: String) {
        self.problems.push(Problem { span, message });
    }

    fn config(&mut self, raw: RawConfig) -> Config {
        let engine = match raw.engine {
            Some(e) => self.engine(e.into_inner()),
            None => EngineSettings::default(),
        };
        let mut credentials = Vec::new();
        let mut seen: BTreeMap<String, Range<usize>> = BTreeMap::new();
        for c in raw.credential {
            let span = c.span();
            if let Some(cfg) = self.credential(c.into_inner(), span.clone()) {
                if seen.contains_key(&cfg.name) {
                    self.err(
                        Some(span),
                        format!(
                            "duplicate credential name {:?}; every credential needs its own name",
                            cfg.name
                        ),
                    );
                    continue;
                }
                seen.insert(cfg.name.clone(), span);
                credentials.push(cfg);
            }
        }
        Config {
            engine,
            credentials,
            warnings: std::mem::take(&mut self.warnings),
        }
    }

    fn engine(&mut self, raw: RawEngine) -> EngineSettings {
        let mut e = EngineSettings::default();
        if let Some(j) = raw.jitter {
            e.jitter = self.jitter("[engine] jitter", j);
        }
        if let Some(list) = raw.notify_before {
            let mut out = Vec::new();
            for item in list.into_inner() {
                if let Some(d) = self.duration("[engine] notify_before", &item) {
                    out.push(d);
                }
            }
            out.sort_by(|a, b| b.cmp(a));
            out.dedup();
            e.notify_before = out;
        }
        if let Some(days) = raw.history_days {
            if *days.get_ref() < 1 {
                self.err(
                    Some(days.span()),
                    format!("[engine] history_days = {} must be at least 1", days.get_ref()),
                );
            } else {
                e.history_max_age = Duration::from_secs(*days.get_ref() as u64 * 86_400);
            }
        }
        if let Some(n) = raw.history_per_credential {
            if *n.get_ref() < 10 {
                self.err(
                    Some(n.span()),
                    format!("[engine] history_per_credential = {} must be at least 10", n.get_ref()),
                );
            } else {
                e.history_per_credential = *n.get_ref() as usize;
            }
        }
        if let Some(b) = raw.retry_base {
            if let Some(d) = self.duration("[engine] retry_base", &b) {
                e.backoff.base = d.max(Duration::from_secs(1));
            }
        }
        if let Some(m) = raw.retry_max {
            if let Some(d) = self.duration("[engine] retry_max", &m) {
                e.backoff.cap = d;
            }
        }
        if e.backoff.cap < e.backoff.base {
            self.err(None, "[engine] retry_max must not be shorter than retry_base".into());
        }
        e
    }

    fn jitter(&mut self, what: &str, j: Spanned<f64>) -> f64 {
        let v = *j.get_ref();
        if !(0.0..=0.5).contains(&v) || v.is_nan() {
            self.err(
                Some(j.span()),
                format!("{what} = {v} is out of range; use a fraction from 0 to 0.5 (0.1 means ±10 %)"),
            );
            0.1
        } else {
            v
        }
    }

    /// A duration from [`MIN_DURATION`] to [`MAX_DURATION`]: the engine adds
    /// durations to instants, so an absurd one is refused here, with its line.
    fn duration(&mut self, what: &str, s: &Spanned<String>) -> Option<Duration> {
        let min = MIN_DURATION;
        match humantime::parse_duration(s.get_ref().trim()) {
            Ok(d) if d.is_zero() => {
                self.err(
                    Some(s.span()),
                    format!("{what} = {:?} must be longer than zero", s.get_ref()),
                );
                None
            }
            Ok(d) if d < min => {
                self.err(
                    Some(s.span()),
                    format!(
                        "{what} = {:?} is too short; use at least \"{}\"",
                        s.get_ref(),
                        humantime::format_duration(min)
                    ),
                );
                None
            }
            Ok(d) if d > MAX_DURATION => {
                self.err(
                    Some(s.span()),
                    format!(
                        "{what} = {:?} is longer than 100 years; write a real duration like \"72h\", \"30m\" or \"7d\"",
                        s.get_ref()
                    ),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.err(
                    Some(s.span()),
                    format!(
                        "{what} = {:?} is not a duration ({e}); write it like \"72h\", \"30m\" or \"7d\"",
                        s.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        let expanded = match p.strip_prefix("~/") {
            Some(rest) => match std::env::var_os("HOME") {
                Some(home) => PathBuf::from(home).join(rest),
                None => PathBuf::from(p),
            },
            None => PathBuf::from(p),
        };
        if expanded.is_absolute() {
            expanded
        } else {
            self.base.join(expanded)
        }
    }

    fn command(
        &mut self,
        who: &str,
        field: &str,
        raw: Option<Spanned<RawCommand>>,
        shell: bool,
    ) -> Option<CommandSpec> {
        let raw = raw?;
        let span = raw.span();
        match raw.into_inner() {
            RawCommand::Argv(v) if v.is_empty() || v[0].trim().is_empty() => {
                self.err(Some(span), format!("{who}: {field} is empty; give the program and its arguments, e.g. [\"step\", \"ca\", \"renew\", …]"));
                None
            }
            RawCommand::Argv(v) => Some(CommandSpec::Argv(v)),
            RawCommand::Shell(s) if shell => Some(CommandSpec::Shell(s)),
            RawCommand::Shell(s) => {
                let hint: Vec<String> = s.split_whitespace().map(|w| format!("{w:?}")).collect();
                self.err(
                    Some(span),
                    format!(
                        "{who}: {field} is a string, but commands run without a shell; write it as an array, e.g. [{}], or add `shell = true` to run it through /bin/sh",
                        hint.join(", ")
                    ),
                );
                None
            }
        }
    }

    /// A required, non-empty string field.
    fn required(
        &mut self,
        who: &str,
        kind: &str,
        field: &str,
        why: &str,
        v: &Option<Spanned<String>>,
        span: &Range<usize>,
    ) -> String {
        match v {
            Some(s) if !s.get_ref().trim().is_empty() => s.get_ref().trim().to_string(),
            Some(s) => {
                self.err(Some(s.span()), format!("{who}: {field} is empty; give {why}"));
                String::new()
            }
            None => {
                self.err(Some(span.clone()), format!("{who}: kind {kind} needs `{field}`, {why}"));
                String::new()
            }
        }
    }

    fn vault_conn(&mut self, who: &str, raw: &RawCredential, span: Range<usize>) -> VaultConn {
        let from_env = ["BAO_ADDR", "VAULT_ADDR"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|a| !a.trim().is_empty()).map(|a| (*v, a)));
        let (address, at) = match (&raw.address, from_env) {
            (Some(a), _) => (a.get_ref().trim().to_string(), Some(a.span())),
            (None, Some((_, a))) => (a.trim().to_string(), None),
            (None, None) => {
                self.err(
                    Some(span),
                    format!("{who}: no Vault address; set address = \"https://vault.example.com:8200\", or export VAULT_ADDR (or BAO_ADDR) before starting Evergreen"),
                );
                (String::new(), None)
            }
        };
        let address = address.trim_end_matches('/').to_string();
        if !address.is_empty() {
            let whence = if at.is_some() {
                "address"
            } else {
                "the address from VAULT_ADDR/BAO_ADDR"
            };
            match reqwest::Url::parse(&address) {
                Ok(u) if u.scheme() == "https" => {}
                Ok(u) if u.scheme() == "http" && crate::http::is_loopback(&u) => {
                    self.warnings.push(format!(
                        "{who}: {whence} {address} is plain HTTP; that is only accepted because it is a loopback address (a dev server). Use https for anything else"
                    ));
                }
                Ok(u) if u.scheme() == "http" => self.err(
                    at,
                    format!("{who}: {whence} {address} is plain HTTP to another host, which would send the token in clear text; use https://"),
                ),
                Ok(u) => self.err(
                    at,
                    format!("{who}: {whence} {address} has scheme {:?}; use https://HOST:PORT", u.scheme()),
                ),
                Err(e) => self.err(
                    at,
                    format!("{who}: {whence} {address:?} is not a URL ({e}); write it like \"https://vault.example.com:8200\""),
                ),
            }
        }
        let namespace = raw
            .namespace
            .as_ref()
            .map(|n| n.get_ref().trim().trim_matches('/').to_string())
            .filter(|n| !n.is_empty());
        let ca_bundle = self.ca_bundle(who, &raw.ca_bundle);
        let token = self
            .secret_source(
                who,
                ("token_file", &raw.token_file),
                ("token_env", &raw.token_env),
                "VAULT_TOKEN",
            )
            .unwrap_or_else(|| TokenSource::File(self.path("~/.vault-token")));
        VaultConn {
            address,
            namespace,
            ca_bundle,
            token,
        }
    }

    /// The CA bundle field, checked now so a bad one is a startup error.
    /// A secret read from a file or an environment variable (`*_file` or
    /// `*_env`, not both); `None` when neither is set.
    fn secret_source(
        &mut self,
        who: &str,
        (file_key, file): (&str, &Option<Spanned<String>>),
        (env_key, env): (&str, &Option<Spanned<String>>),
        example_env: &str,
    ) -> Option<TokenSource> {
        match (file, env) {
            (Some(_), Some(e)) => {
                self.err(
                    Some(e.span()),
                    format!("{who}: set either {file_key} or {env_key}, not both"),
                );
                Some(TokenSource::Env(String::new()))
            }
            (Some(f), None) => Some(TokenSource::File(self.path(f.get_ref()))),
            (None, Some(e)) => {
                let v = e.get_ref().trim();
                if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    self.err(
                        Some(e.span()),
                        format!("{who}: {env_key} = {v:?} is not an environment variable name; write e.g. {env_key} = \"{example_env}\""),
                    );
                }
                Some(TokenSource::Env(v.to_string()))
            }
            (None, None) => None,
        }
    }

    fn ca_bundle(&mut self, who: &str, raw: &Option<Spanned<String>>) -> Option<PathBuf> {
        let c = raw.as_ref()?;
        let path = self.path(c.get_ref());
        match crate::http::read_ca_bundle(&path) {
            Ok(_) => Some(path),
            Err(e) => {
                self.err(Some(c.span()), format!("{who}: ca_bundle: {e}"));
                None
            }
        }
    }

    /// A control plane URL: https, or plain http on loopback (with a warning)
    /// when `loopback_http` allows it.
    fn control_plane_url(&mut self, who: &str, raw: &Option<Spanned<String>>, loopback_http: bool) -> String {
        let url = raw
            .as_ref()
            .map(|u| u.get_ref().trim().trim_end_matches('/').to_string())
            .unwrap_or_default();
        let at = raw.as_ref().map(|u| u.span());
        if url.is_empty() {
            return url;
        }
        match reqwest::Url::parse(&url) {
            Ok(u) if u.scheme() == "https" => {}
            Ok(u) if loopback_http && u.scheme() == "http" && crate::http::is_loopback(&u) => {
                self.warnings.push(format!(
                    "{who}: url {url} is plain HTTP; accepted only because it is a loopback address. Use https for anything else"
                ));
            }
            Ok(u) => self.err(
                at,
                format!(
                    "{who}: url {url} uses {:?}; it must be https:// (credentials travel over it)",
                    u.scheme()
                ),
            ),
            Err(e) => self.err(at, format!("{who}: url {url:?} is not a URL ({e})")),
        }
        url
    }

    fn wrenn(&mut self, who: &str, raw: &RawCredential, span: Range<usize>) -> WrennSpec {
        let k = "wrenn";
        self.required(who, k, "url", "the control plane's https:// URL", &raw.url, &span);
        let url = self.control_plane_url(who, &raw.url, true);
        let creds = self.required(
            who,
            k,
            "credentials_file",
            "where the host credentials (JSON, 0600) are kept",
            &raw.credentials_file,
            &span,
        );
        let credentials_file = self.path(&creds);
        let registration_token_file = self.token_file(&raw.registration_token_file, &credentials_file);
        let heartbeat_interval = self.interval(
            who,
            "heartbeat_interval",
            &raw.heartbeat_interval,
            Duration::from_secs(30),
        );
        WrennSpec {
            url,
            credentials_file,
            registration_token_file,
            heartbeat_interval,
            host_address: self.required(
                who,
                k,
                "host_address",
                "this host's ip:port as the control plane reaches it (wrenn refuses a registration without one, and may call back there)",
                &raw.host_address,
                &span,
            ),
            ca_bundle: self.ca_bundle(who, &raw.ca_bundle),
        }
    }

    /// Where a fleet credential's one-time token waits: the field, or the
    /// file it is for with `.token` appended.
    fn token_file(&self, raw: &Option<Spanned<String>>, beside: &Path) -> PathBuf {
        match raw {
            Some(p) => self.path(p.get_ref()),
            None => {
                let mut p = beside.as_os_str().to_owned();
                p.push(".token");
                PathBuf::from(p)
            }
        }
    }

    fn interval(&mut self, who: &str, field: &str, raw: &Option<Spanned<String>>, default: Duration) -> Duration {
        match raw {
            Some(v) => self.duration(&format!("{who}: {field}"), v).unwrap_or(default),
            None => default,
        }
    }

    fn certctl(&mut self, name: &str, who: &str, raw: &RawCredential, span: Range<usize>) -> CertctlSpec {
        let k = "certctl";
        self.required(who, k, "url", "the control plane's https:// URL", &raw.url, &span);
        // certctl's agent's pre-flight check: plain http is refused before any network call.
        let plain = raw
            .url
            .as_ref()
            .filter(|u| reqwest::Url::parse(u.get_ref().trim()).is_ok_and(|p| p.scheme() == "http"));
        let url = match plain {
            Some(u) => {
                self.err(
                    Some(u.span()),
                    format!(
                        "{who}: url {} uses plain http://; the certctl control plane is HTTPS-only (the API key and the certificates travel over it). Use https://HOST:PORT",
                        u.get_ref().trim()
                    ),
                );
                String::new()
            }
            None => self.control_plane_url(who, &raw.url, false),
        };
        let agent_id = self.required(
            who,
            k,
            "agent_id",
            "the agent's id at the control plane",
            &raw.agent_id,
            &span,
        );
        if !agent_id.is_empty() && !agent_id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            self.err(
                raw.agent_id.as_ref().map(|a| a.span()),
                format!("{who}: agent_id {agent_id:?} may only hold letters, digits, '-', '_' and '.'"),
            );
        }
        let api_key = match self.secret_source(
            who,
            ("api_key_file", &raw.api_key_file),
            ("api_key_env", &raw.api_key_env),
            "CERTCTL_API_KEY",
        ) {
            Some(source) => source,
            None => {
                self.err(
                Some(span.clone()),
                format!("{who}: kind certctl needs the agent's API key: api_key_file = \"…\" (a file holding only the key, mode 0600) or api_key_env = \"CERTCTL_API_KEY\""),
            );
                TokenSource::Env(String::new())
            }
        };
        let key_dir = match &raw.key_dir {
            Some(d) if !d.get_ref().trim().is_empty() => self.path(d.get_ref().trim()),
            Some(d) => {
                self.err(
                    Some(d.span()),
                    format!("{who}: key_dir is empty; give a directory for the private keys"),
                );
                PathBuf::new()
            }
            None => match crate::paths::Paths::from_env() {
                Ok(p) => p.data_dir.join("certctl").join(name).join("keys"),
                Err(_) => {
                    self.err(
                        Some(span.clone()),
                        format!("{who}: no data directory to keep the keys in; set key_dir = \"…\""),
                    );
                    PathBuf::new()
                }
            },
        };
        let mut targets = BTreeMap::new();
        match &raw.targets {
            None => self.err(
                Some(span.clone()),
                format!("{who}: kind certctl needs `targets`, the target ids the control plane deploys to and where each certificate goes, e.g. targets = [\"t-web=~/certs/web.pem\"] (its key goes next to it, .key)"),
            ),
            Some(t) if t.get_ref().is_empty() => self.err(
                Some(t.span()),
                format!("{who}: targets is empty; name at least one target id and its certificate file"),
            ),
            Some(t) => {
                for entry in t.get_ref() {
                    let (id, path) = entry.split_once('=').map(|(i, p)| (i.trim(), p.trim())).unwrap_or(("", ""));
                    if id.is_empty() || path.is_empty() {
                        self.err(
                            Some(t.span()),
                            format!("{who}: target {entry:?} is not TARGET_ID=CERTIFICATE_PATH, e.g. \"t-web=~/certs/web.pem\""),
                        );
                        continue;
                    }
                    if !id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                        self.err(
                            Some(t.span()),
                            format!("{who}: target id {id:?} may only hold letters, digits, '-', '_' and '.'"),
                        );
                    }
                    if targets.contains_key(id) {
                        self.err(Some(t.span()), format!("{who}: target {id:?} is listed twice"));
                    }
                    let cert_path = self.path(path.trim());
                    let key_path = cert_path.with_extension("key");
                    if key_path == cert_path {
                        self.err(
                            Some(t.span()),
                            format!("{who}: target {id:?}: {path} ends in .key; give the certificate's path (the key goes next to it)"),
                        );
                    }
                    if targets.values().any(|o: &CertctlTarget| o.cert_path == cert_path) {
                        self.err(
                            Some(t.span()),
                            format!("{who}: two targets write {path}; each target needs its own file"),
                        );
                    }
                    targets.insert(id.to_string(), CertctlTarget { cert_path, key_path });
                }
            }
        }
        let discovery_dirs = raw
            .discovery_dirs
            .as_ref()
            .map(|d| {
                d.get_ref()
                    .iter()
                    .map(|s| s.trim())
                    .filter(|s| !s.is_empty())
                    .map(|s| self.path(s))
                    .collect()
            })
            .unwrap_or_default();
        CertctlSpec {
            url,
            agent_id,
            api_key,
            ca_bundle: self.ca_bundle(who, &raw.ca_bundle),
            key_dir,
            targets,
            discovery_dirs,
            heartbeat_interval: self.interval(
                who,
                "heartbeat_interval",
                &raw.heartbeat_interval,
                Duration::from_secs(60),
            ),
            poll_interval: self.interval(who, "poll_interval", &raw.poll_interval, Duration::from_secs(30)),
            discovery_interval: self.interval(
                who,
                "discovery_interval",
                &raw.discovery_interval,
                Duration::from_secs(6 * 3600),
            ),
        }
    }

    fn nixfleet(&mut self, who: &str, raw: &RawCredential, span: Range<usize>) -> NixfleetSpec {
        /// The common name of the certificate at `path`, if it has one.
        fn enrolled_name(path: &std::path::Path) -> Option<String> {
            let f = crate::x509::read_file(path).ok()?;
            let subject = f.leaf().details.subject.clone();
            subject
                .split(", ")
                .find_map(|rdn| rdn.strip_prefix("CN="))
                .map(str::to_string)
                .filter(|cn| !cn.is_empty())
        }
        let k = "nixfleet";
        self.required(who, k, "url", "the control plane's https:// URL", &raw.url, &span);
        let url = self.control_plane_url(who, &raw.url, false);
        let cert = self.required(who, k, "path", "the client certificate file", &raw.path, &span);
        let ssh_host_key = match &raw.ssh_host_key {
            Some(p) => self.path(p.get_ref()),
            None => PathBuf::from("/etc/ssh/ssh_host_ed25519_key"),
        };
        let machine_id = match &raw.machine_id {
            Some(m) if !m.get_ref().trim().is_empty() => m.get_ref().trim().to_string(),
            Some(m) => {
                self.err(Some(m.span()), format!("{who}: machine_id is empty"));
                String::new()
            }
            // nixfleet names a machine by its hostname; a machine enrolled
            // under another name keeps it (its certificate's common name).
            None => match enrolled_name(&self.path(&cert)).or_else(crate::host::hostname) {
                Some(id) => id,
                None => {
                    self.err(
                        Some(span),
                        format!("{who}: no machine_id, no certificate to take it from and no hostname; set machine_id = \"…\""),
                    );
                    String::new()
                }
            },
        };
        let cert_path = self.path(&cert);
        let enrollment_token_file = self.token_file(&raw.enrollment_token_file, &cert_path);
        NixfleetSpec {
            url,
            cert_path,
            ssh_host_key,
            machine_id,
            ca_bundle: self.ca_bundle(who, &raw.ca_bundle),
            enrollment_token_file,
        }
    }

    fn vault_pki(&mut self, who: &str, raw: &RawCredential, span: Range<usize>, conn: VaultConn) -> VaultPkiSpec {
        let k = "vault_pki";
        let role = self.required(
            who,
            k,
            "role",
            "the PKI role to issue from (pki/roles/NAME)",
            &raw.role,
            &span,
        );
        let common_name = self.required(
            who,
            k,
            "common_name",
            "the certificate's common name",
            &raw.common_name,
            &span,
        );
        let cert = self.required(who, k, "path", "where the certificate is written", &raw.path, &span);
        let cert_path = self.path(&cert);
        let key_path = match &raw.key_path {
            Some(p) if !p.get_ref().trim().is_empty() => self.path(p.get_ref()),
            Some(p) => {
                self.err(
                    Some(p.span()),
                    format!("{who}: key_path is empty; give where the private key is kept"),
                );
                PathBuf::new()
            }
            None => cert_path.with_extension("key"),
        };
        if !cert.is_empty() && key_path == cert_path {
            self.err(
                raw.key_path.as_ref().map(|p| p.span()),
                format!("{who}: key_path and path are the same file; the key needs its own file"),
            );
        }
        let mount = raw
            .mount
            .as_ref()
            .map(|m| m.get_ref().trim().trim_matches('/').to_string())
            .unwrap_or_else(|| "pki".into());
        if mount.is_empty() {
            self.err(
                raw.mount.as_ref().map(|m| m.span()),
                format!("{who}: mount is empty; the default is \"pki\""),
            );
        }
        let ttl = raw.ttl.as_ref().and_then(|t| self.duration(&format!("{who}: ttl"), t));
        let key_type = match raw.key_type.as_ref() {
            None => KeyType::EcP256,
            Some(t) => match t.get_ref().as_str() {
                "ec-p256" => KeyType::EcP256,
                "ec-p384" => KeyType::EcP384,
                "ed25519" => KeyType::Ed25519,
                other => {
                    self.err(
                        Some(t.span()),
                        format!(
                            "{who}: key_type = {other:?} is not supported; use one of: {}",
                            KeyType::NAMES.join(", ")
                        ),
                    );
                    KeyType::EcP256
                }
            },
        };
        let mode = match raw.mode.as_ref() {
            None => PkiMode::Sign,
            Some(m) => match m.get_ref().as_str() {
                "sign" => PkiMode::Sign,
                "issue" => PkiMode::Issue,
                other => {
                    self.err(
                        Some(m.span()),
                        format!("{who}: mode = {other:?} is unknown; use \"sign\" (key made here, CSR sent; the default) or \"issue\" (the server makes the key)"),
                    );
                    PkiMode::Sign
                }
            },
        };
        let list = |v: &Option<Spanned<Vec<String>>>| {
            v.as_ref()
                .map(|l| {
                    l.get_ref()
                        .iter()
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        let ip_sans: Vec<String> = list(&raw.ip_sans);
        for ip in &ip_sans {
            if ip.parse::<std::net::IpAddr>().is_err() {
                self.err(
                    raw.ip_sans.as_ref().map(|l| l.span()),
                    format!("{who}: ip_sans entry {ip:?} is not an IP address"),
                );
            }
        }
        VaultPkiSpec {
            conn,
            mount,
            role,
            common_name,
            alt_names: list(&raw.alt_names),
            ip_sans,
            ttl,
            key_type,
            mode,
            cert_path,
            key_path,
            reload_command: None,
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
        }
    }

    fn credential(&mut self, mut raw: RawCredential, span: Range<usize>) -> Option<CredentialConfig> {
        let before = self.problems.len();
        let kind_fields = raw.kind_fields();
        let Some(name) = raw.name.take() else {
            self.err(
                Some(span),
                "a [[credential]] has no `name`; add e.g. name = \"web\"".into(),
            );
            return None;
        };
        if !valid_name(name.get_ref()) {
            self.err(
                Some(name.span()),
                format!(
                    "name {:?} is not allowed; use 1–64 letters, digits, '-', '_' or '.' (it is typed on the command line)",
                    name.get_ref()
                ),
            );
        }
        let who = format!("credential {:?}", name.get_ref());
        let Some(kind) = raw.kind.take() else {
            self.err(
                Some(span),
                format!("{who} has no `kind`; use one of: {}", KINDS.join(", ")),
            );
            return None;
        };
        let explicit_policy = raw.renew_at_fraction.is_some() || raw.renew_before.is_some();
        let policy = match (raw.renew_at_fraction.take(), raw.renew_before.take()) {
            (Some(_), Some(b)) => {
                self.err(
                    Some(b.span()),
                    format!("{who}: set either renew_at_fraction or renew_before, not both"),
                );
                RenewPolicy::default()
            }
            (Some(f), None) => {
                let v = *f.get_ref();
                if v > 0.0 && v < 1.0 {
                    RenewPolicy::Fraction(v)
                } else {
                    self.err(
                        Some(f.span()),
                        format!("{who}: renew_at_fraction = {v} is out of range; it must be strictly between 0 and 1 (0.33 renews when a third of the lifetime is left)"),
                    );
                    RenewPolicy::default()
                }
            }
            (None, Some(b)) => match self.duration(&format!("{who}: renew_before"), &b) {
                Some(d) => RenewPolicy::Before(d),
                None => RenewPolicy::default(),
            },
            (None, None) => RenewPolicy::default(),
        };
        let jitter = raw.jitter.take().map(|j| self.jitter(&format!("{who}: jitter"), j));
        let shell = raw.shell.as_ref().is_some_and(|s| *s.get_ref());
        if KINDS.contains(&kind.get_ref().as_str()) {
            let allowed = fields_of(kind.get_ref());
            for (field, at) in kind_fields {
                if !allowed.contains(&field) {
                    let owners: Vec<&str> = KINDS
                        .iter()
                        .copied()
                        .filter(|k| fields_of(k).contains(&field))
                        .collect();
                    self.err(
                        Some(at),
                        format!(
                            "{who}: `{field}` does not apply to kind {}; it belongs to {}. Remove it, or change `kind`",
                            kind.get_ref(),
                            owners.join(" and ")
                        ),
                    );
                }
            }
        }
        // Tokens renew at half their TTL, as Vault's own agents and certctl's renewer do.
        let policy = match (&kind.get_ref()[..], explicit_policy) {
            ("vault_token", false) => RenewPolicy::Fraction(0.5),
            _ => policy,
        };
        let spec = match kind.get_ref().as_str() {
            "x509_file" => {
                let path = match raw.path {
                    Some(p) if !p.get_ref().trim().is_empty() => self.path(p.get_ref()),
                    Some(p) => {
                        self.err(
                            Some(p.span()),
                            format!("{who}: path is empty; give the certificate file's path"),
                        );
                        PathBuf::new()
                    }
                    None => {
                        self.err(
                            Some(span.clone()),
                            format!("{who}: kind x509_file needs `path`, the certificate file to watch"),
                        );
                        PathBuf::new()
                    }
                };
                let renew_command = self.command(&who, "renew_command", raw.renew_command, shell);
                let reload_command = self.command(&who, "reload_command", raw.reload_command, shell);
                let command_timeout = match raw.command_timeout {
                    Some(t) => self
                        .duration(&format!("{who}: command_timeout"), &t)
                        .unwrap_or(DEFAULT_COMMAND_TIMEOUT),
                    None => DEFAULT_COMMAND_TIMEOUT,
                };
                CredentialSpec::X509File(X509FileSpec {
                    path,
                    renew_command,
                    reload_command,
                    command_timeout,
                })
            }
            "vault_token" => {
                let conn = self.vault_conn(&who, &raw, span.clone());
                let increment = raw
                    .increment
                    .as_ref()
                    .and_then(|i| self.duration(&format!("{who}: increment"), i));
                CredentialSpec::VaultToken(VaultTokenSpec { conn, increment })
            }
            "nixfleet" => CredentialSpec::Nixfleet(self.nixfleet(&who, &raw, span.clone())),
            "wrenn" => CredentialSpec::Wrenn(self.wrenn(&who, &raw, span.clone())),
            "certctl" => CredentialSpec::Certctl(Box::new(self.certctl(name.get_ref(), &who, &raw, span.clone()))),
            "vault_pki" => {
                let conn = self.vault_conn(&who, &raw, span.clone());
                let pki = self.vault_pki(&who, &raw, span.clone(), conn);
                let reload_command = self.command(&who, "reload_command", raw.reload_command, shell);
                let command_timeout = match raw.command_timeout {
                    Some(t) => self
                        .duration(&format!("{who}: command_timeout"), &t)
                        .unwrap_or(DEFAULT_COMMAND_TIMEOUT),
                    None => DEFAULT_COMMAND_TIMEOUT,
                };
                CredentialSpec::VaultPki(Box::new(VaultPkiSpec {
                    reload_command,
                    command_timeout,
                    ..pki
                }))
            }
            other => {
                let hint = KINDS
                    .iter()
                    .find(|k| k.contains(other) || other.contains(*k))
                    .map(|k| format!(" (did you mean {k:?}?)"))
                    .unwrap_or_default();
                self.err(
                    Some(kind.span()),
                    format!("{who}: unknown kind {other:?}{hint}; use one of: {}", KINDS.join(", ")),
                );
                return None;
            }
        };
        if self.problems.len() > before {
            return None;
        }
        Some(CredentialConfig {
            name: name.into_inner(),
            enabled: raw.enabled.unwrap_or(true),
            policy,
            jitter,
            spec,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> &'static Path {
        Path::new("/home/u/.config/evergreen/config.toml")
    }

    fn err(src: &str) -> String {
        match parse(src, file()) {
            Ok(c) => panic!("expected an error, got {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    const GOOD: &str = r#"
[engine]
jitter = 0.05
notify_before = ["1d", "7d"]

[[credential]]
name = "web"
kind = "x509_file"
path = "certs/web.pem"
renew_at_fraction = 0.25
renew_command = ["step", "ca", "renew", "--force", "certs/web.pem", "certs/web.key"]
reload_command = "systemctl --user reload nginx"
shell = true
command_timeout = "30s"

[[credential]]
name = "api"
kind = "x509_file"
path = "/etc/api/cert.pem"
renew_before = "72h"
enabled = false
"#;

    #[test]
    fn a_good_config_parses_completely() {
        let c = parse(GOOD, file()).unwrap();
        assert_eq!(c.engine.jitter, 0.05);
        assert_eq!(
            c.engine.notify_before,
            vec![Duration::from_secs(7 * 86_400), Duration::from_secs(86_400)]
        );
        assert_eq!(c.credentials.len(), 2);
        let web = &c.credentials[0];
        assert_eq!(web.policy, RenewPolicy::Fraction(0.25));
        let CredentialSpec::X509File(s) = &web.spec else {
            panic!("web is an x509_file")
        };
        assert_eq!(s.path, PathBuf::from("/home/u/.config/evergreen/certs/web.pem"));
        assert_eq!(s.renew_command.as_ref().unwrap().argv()[0], "step");
        assert_eq!(s.reload_command.as_ref().unwrap().argv()[0], "/bin/sh");
        assert_eq!(s.command_timeout, Duration::from_secs(30));
        let api = &c.credentials[1];
        assert!(!api.enabled);
        assert_eq!(api.policy, RenewPolicy::Before(Duration::from_secs(72 * 3600)));
    }

    #[test]
    fn a_nixfleet_machine_is_named_by_its_certificate_or_else_its_hostname() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("client.pem");
        let cfg = format!(
            "[[credential]]\nname = \"fleet\"\nkind = \"nixfleet\"\nurl = \"https://cp.example\"\npath = \"{}\"\n",
            cert.display()
        );
        let id = |c: &Config| match &c.credentials[0].spec {
            CredentialSpec::Nixfleet(n) => n.machine_id.clone(),
            other => panic!("{other:?}"),
        };
        // not enrolled yet: the hostname, as nixfleet's agent defaults to
        assert_eq!(Some(id(&parse(&cfg, file()).unwrap())), crate::host::hostname());
        // enrolled under a name of its own: that name, from the certificate
        let ca = crate::pki::Ca::new("t", std::time::SystemTime::now(), Duration::from_secs(3600)).unwrap();
        let issued = ca
            .issue("ws-42", std::time::SystemTime::now(), Duration::from_secs(600))
            .unwrap();
        std::fs::write(&cert, issued.cert_pem).unwrap();
        assert_eq!(id(&parse(&cfg, file()).unwrap()), "ws-42");
        // and a name in the config wins
        let named = cfg.replace("path =", "machine_id = \"m-7\"\npath =");
        assert_eq!(id(&parse(&named, file()).unwrap()), "m-7");
    }

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

    #[test]
    fn a_wrenn_host_needs_its_address() {
        let e = err("[[credential]]\nname = \"w\"\nkind = \"wrenn\"\nurl = \"https://cp.example\"\ncredentials_file = \"/w.json\"\n");
        assert!(
            e.contains("needs `host_address`") && e.contains("refuses a registration without one"),
            "{e}"
        );
    }

    #[test]
    fn durations_are_bounded_with_their_line() {
        let base = "[[credential]]\nname = \"w\"\nkind = \"wrenn\"\nurl = \"https://cp.example\"\ncredentials_file = \"/w.json\"\nhost_address = \"10.0.0.1:5000\"\n";
        let e = err(&format!("{base}heartbeat_interval = \"300000000000y\"\n"));
        assert!(
            e.contains("heartbeat_interval") && e.contains("longer than 100 years"),
            "{e}"
        );
        assert!(e.contains(":7:"), "names the line: {e}");
        let e = err(&format!("{base}heartbeat_interval = \"10ms\"\n"));
        assert!(e.contains("too short") && e.contains("\"100ms\""), "{e}");
        let e = err(
            "[[credential]]\nname = \"web\"\nkind = \"x509_file\"\npath = \"/c.pem\"\nrenew_before = \"200years\"\n",
        );
        assert!(e.contains("renew_before") && e.contains("longer than 100 years"), "{e}");
        let e = err("[engine]\nretry_max = \"50ms\"\n");
        assert!(e.contains("retry_max") && e.contains("too short"), "{e}");
    }

    #[test]
    fn an_empty_file_is_an_empty_config() {
        let c = parse("", file()).unwrap();
        assert!(c.credentials.is_empty());
        assert_eq!(c.engine, EngineSettings::default());
    }

    #[test]
    fn fraction_out_of_range_names_value_line_and_column() {
        for bad in ["1.5", "0.0", "1.0", "-0.2"] {
            let e = err(&format!(
                "[[credential]]\nname = \"web\"\nkind = \"x509_file\"\npath = \"/c.pem\"\nrenew_at_fraction = {bad}\n"
            ));
            assert!(
                e.contains(&format!("renew_at_fraction = {}", bad.parse::<f64>().unwrap())),
                "{e}"
            );
            assert!(e.contains("strictly between 0 and 1"), "{e}");
            assert!(e.contains("config.toml:5:21"), "{e}");
            assert!(e.contains("credential \"web\""), "{e}");
        }
    }

    #[test]
    fn unknown_fields_are_rejected_with_their_location() {
        let e =
            err("[[credential]]\nname = \"web\"\nkind = \"x509_file\"\npath = \"/c.pem\"\nrenew_at_fracton = 0.3\n");
        assert!(e.contains("unknown field `renew_at_fracton`"), "{e}");
        assert!(e.contains(":5:1"), "{e}");
        let e = err("[engine]\njiter = 0.1\n");
        assert!(e.contains("unknown field `jiter`"), "{e}");
        let e = err("[enigne]\n");
        assert!(e.contains("unknown field `enigne`"), "{e}");
    }

    #[test]
    fn each_kind_of_mistake_gets_its_own_message() {
        let cases: &[(&str, &str)] = &[
            ("[[credential]]\nkind = \"x509_file\"\npath = \"/c\"\n", "has no `name`"),
            ("[[credential]]\nname = \"a\"\npath = \"/c\"\n", "has no `kind`"),
            ("[[credential]]\nname = \"a\"\nkind = \"x509\"\npath = \"/c\"\n", "did you mean \"x509_file\""),
            ("[[credential]]\nname = \"a\"\nkind = \"x509_file\"\n", "needs `path`"),
            ("[[credential]]\nname = \"a b\"\nkind = \"x509_file\"\npath = \"/c\"\n", "is not allowed"),
            ("[[credential]]\nname = \"a\"\nkind = \"x509_file\"\npath = \"/c\"\nrenew_before = \"soon\"\n", "is not a duration"),
            ("[[credential]]\nname = \"a\"\nkind = \"x509_file\"\npath = \"/c\"\nrenew_before = \"1h\"\nrenew_at_fraction = 0.3\n", "not both"),
            ("[[credential]]\nname = \"a\"\nkind = \"x509_file\"\npath = \"/c\"\nrenew_command = \"step ca renew\"\n", "add `shell = true`"),
            ("[[credential]]\nname = \"a\"\nkind = \"x509_file\"\npath = \"/c\"\nrenew_command = []\n", "renew_command is empty"),
            ("[[credential]]\nname = \"a\"\nkind = \"x509_file\"\npath = \"/c\"\nrenew_command = [1, 2]\n", "array of strings"),
            ("[[credential]]\nname = \"a\"\nkind = \"x509_file\"\npath = \"/c\"\n[[credential]]\nname = \"a\"\nkind = \"x509_file\"\npath = \"/d\"\n", "duplicate credential name"),
            ("[engine]\njitter = 0.9\n", "jitter = 0.9 is out of range"),
            ("[engine]\nnotify_before = [\"7 days-ish\"]\n", "is not a duration"),
            ("[engine]\nhistory_days = 0\n", "at least 1"),
            ("[[credential]]\nname = \"a\"\nkind = \"x509_file\"\npath = 5\n", "invalid type"),
            ("[[credential]\nname = \"a\"\n", "config.toml:1:"),
            ("name = \"a\"\n", "unknown field `name`"),
        ];
        for (src, want) in cases {
            let e = err(src);
            assert!(e.contains(want), "for {src:?}\nwanted {want:?} in:\n{e}");
            assert!(e.contains("config.toml"), "error must name the file: {e}");
        }
    }

    #[test]
    fn several_problems_are_all_reported() {
        let e = err("[[credential]]\nname = \"a\"\nkind = \"x509_file\"\npath = \"/c\"\nrenew_at_fraction = 2.0\njitter = 0.7\n");
        assert!(e.contains("2 problems"), "{e}");
        assert!(e.contains(":5:") && e.contains(":6:"), "{e}");
    }

    #[test]
    fn missing_file_says_how_to_start() {
        let e = load(Path::new("/nonexistent/evergreen/config.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("does not exist") && e.contains("docs/configuration.md"),
            "{e}"
        );
    }

    const VAULT: &str = r#"
[[credential]]
name = "vault"
kind = "vault_token"
address = "https://vault.example.test:8200/"
namespace = "team/"
token_file = "~/tokens/vault"
increment = "1h"

[[credential]]
name = "ws"
kind = "vault_pki"
address = "http://127.0.0.1:8200"
token_env = "VAULT_TOKEN"
role = "workstation"
common_name = "ws.example.test"
alt_names = ["ws", "ws.local"]
ip_sans = ["127.0.0.1"]
ttl = "24h"
path = "certs/ws.pem"
reload_command = ["systemctl", "--user", "reload", "app"]
"#;

    #[test]
    fn vault_kinds_parse_with_their_defaults() {
        let c = parse(VAULT, file()).unwrap();
        let CredentialSpec::VaultToken(t) = &c.credentials[0].spec else {
            panic!("vault is a vault_token")
        };
        assert_eq!(t.conn.address, "https://vault.example.test:8200");
        assert_eq!(t.conn.namespace.as_deref(), Some("team"));
        assert!(matches!(&t.conn.token, TokenSource::File(p) if p.ends_with("tokens/vault") && p.is_absolute()));
        assert_eq!(t.increment, Some(Duration::from_secs(3600)));
        // Tokens renew at half their TTL unless told otherwise.
        assert_eq!(c.credentials[0].policy, RenewPolicy::Fraction(0.5));
        let CredentialSpec::VaultPki(p) = &c.credentials[1].spec else {
            panic!("ws is a vault_pki")
        };
        assert_eq!(p.mount, "pki");
        assert_eq!((p.mode, p.key_type), (PkiMode::Sign, KeyType::EcP256));
        assert_eq!(p.cert_path, PathBuf::from("/home/u/.config/evergreen/certs/ws.pem"));
        assert_eq!(p.key_path, PathBuf::from("/home/u/.config/evergreen/certs/ws.key"));
        assert_eq!(p.alt_names, vec!["ws", "ws.local"]);
        assert_eq!(p.conn.token, TokenSource::Env("VAULT_TOKEN".into()));
        assert_eq!(c.credentials[1].policy, RenewPolicy::default());
        // Plain HTTP is accepted for loopback only, with a warning.
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("plain HTTP") && c.warnings[0].contains("\"ws\""));
        assert_eq!(
            c.credentials[1].spec.watched_paths(),
            vec![PathBuf::from("/home/u/.config/evergreen/certs/ws.pem")]
        );
    }

    #[test]
    fn vault_mistakes_are_named() {
        let head = "[[credential]]\nname = \"v\"\n";
        let cases: &[(&str, &str)] = &[
            ("kind = \"vault_token\"\naddress = \"http://vault.example.test\"\n", "clear text"),
            ("kind = \"vault_token\"\naddress = \"ftp://vault.example.test\"\n", "has scheme \"ftp\""),
            ("kind = \"vault_token\"\naddress = \"not a url\"\n", "is not a URL"),
            ("kind = \"vault_token\"\naddress = \"https://v\"\ntoken_file = \"/t\"\ntoken_env = \"T\"\n", "not both"),
            ("kind = \"vault_token\"\naddress = \"https://v\"\ntoken_env = \"MY TOKEN\"\n", "not an environment variable name"),
            ("kind = \"vault_token\"\naddress = \"https://v\"\nrole = \"r\"\n", "`role` does not apply to kind vault_token; it belongs to vault_pki"),
            ("kind = \"x509_file\"\npath = \"/c\"\naddress = \"https://v\"\n", "`address` does not apply to kind x509_file"),
            ("kind = \"vault_pki\"\naddress = \"https://v\"\ncommon_name = \"a\"\npath = \"/c\"\n", "needs `role`"),
            ("kind = \"vault_pki\"\naddress = \"https://v\"\nrole = \"r\"\ncommon_name = \"a\"\npath = \"/c\"\nkey_type = \"rsa-512\"\n", "key_type = \"rsa-512\" is not supported"),
            ("kind = \"vault_pki\"\naddress = \"https://v\"\nrole = \"r\"\ncommon_name = \"a\"\npath = \"/c\"\nmode = \"fetch\"\n", "mode = \"fetch\" is unknown"),
            ("kind = \"vault_pki\"\naddress = \"https://v\"\nrole = \"r\"\ncommon_name = \"a\"\npath = \"/c\"\nip_sans = [\"localhost\"]\n", "is not an IP address"),
            ("kind = \"vault_pki\"\naddress = \"https://v\"\nrole = \"r\"\ncommon_name = \"a\"\npath = \"/c\"\nkey_path = \"/c\"\n", "the same file"),
            ("kind = \"vault_pki\"\naddress = \"https://v\"\nrole = \"r\"\ncommon_name = \"a\"\npath = \"/c\"\nttl = \"a day\"\n", "is not a duration"),
        ];
        for (body, want) in cases {
            let src = format!("{head}{body}");
            let e = err(&src);
            assert!(e.contains(want), "for {src:?}\nwanted {want:?} in:\n{e}");
            assert!(e.contains("credential \"v\""), "{e}");
        }
    }
}
