//! The certctl kind: its fields, its settings and how they are checked.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::config::fields::{field, Field, FieldType, FLEET_CA_BUNDLE};
use crate::config::{RawCredential, TokenSource, Validator};
use crate::kind::{Facts, Kind, KindDef, Spec};
use crate::sources::Source;

/// The kind: a certctl agent.
pub const KIND: Kind = Kind::of(&DEF);

const DEF: KindDef = KindDef {
    name: "certctl",
    label: "certctl agent",
    about: "A certctl agent: heartbeats, work polls, and the certificates it deploys (keys made here).",
    fields: &[FIELDS],
    facts: Facts {
        issues_certificates: true,
        heartbeats: true,
        ..Facts::PLAIN
    },
    validate,
    discover: None,
    #[cfg(feature = "fuzzing")]
    fuzz: super::fuzz,
};

const FIELDS: &[Field] = &[
    field(
        "url",
        "Control plane",
        FieldType::Url,
        true,
        "https://… only (TLS 1.3).",
        "https://certctl.example.com:8443",
    )
    .needs("the control plane's https:// URL"),
    field(
        "agent_id",
        "Agent id",
        FieldType::Text,
        true,
        "The agent's id at the control plane.",
        "agent-ws42",
    )
    .needs("the agent's id at the control plane"),
    field(
        "api_key_file",
        "API key file",
        FieldType::Path,
        false,
        "A file holding only the agent's API key, mode 0600.",
        "~/.config/evergreen/certctl.key",
    ),
    field(
        "api_key_env",
        "Or API key variable",
        FieldType::Text,
        false,
        "Instead of a file: a variable of the engine's process.",
        "CERTCTL_API_KEY",
    ),
    field(
        "targets",
        "Targets",
        FieldType::List,
        true,
        "One per line: TARGET_ID=certificate path; the key goes next to it (.key).",
        "t-web=~/certs/web.pem",
    )
    .needs("the target ids the control plane deploys to and where each certificate goes, e.g. targets = [\"t-web=~/certs/web.pem\"] (its key goes next to it, .key)"),
    field(
        "key_dir",
        "Key directory",
        FieldType::Path,
        false,
        "Where keys made for CSRs live (0700). Default: Evergreen's data directory.",
        "",
    ),
    field(
        "discovery_dirs",
        "Discovery directories",
        FieldType::List,
        false,
        "Scanned for certificates every 6 h; one per line.",
        "/etc/ssl/certs",
    ),
    field(
        "heartbeat_interval",
        "Heartbeat interval",
        FieldType::Duration,
        false,
        "Default 60s.",
        "60s",
    ),
    field(
        "poll_interval",
        "Poll interval",
        FieldType::Duration,
        false,
        "Default 30s.",
        "30s",
    ),
    field(
        "discovery_interval",
        "Discovery interval",
        FieldType::Duration,
        false,
        "Default 6h.",
        "6h",
    ),
    FLEET_CA_BUNDLE,
];

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

impl Spec for CertctlSpec {
    fn build(&self, name: &str) -> Arc<dyn Source> {
        Arc::new(super::Certctl::new(name, self.clone()))
    }

    fn watched_paths(&self) -> Vec<PathBuf> {
        self.targets
            .values()
            .flat_map(|t| [t.cert_path.clone(), t.key_path.clone()])
            .chain(self.api_key.file())
            .collect()
    }

    fn certificate_files(&self) -> Vec<PathBuf> {
        self.targets.values().map(|t| t.cert_path.clone()).collect()
    }

    fn secret_env(&self) -> Vec<String> {
        self.api_key.env().into_iter().collect()
    }
}

fn validate(v: &mut Validator<'_>, raw: &RawCredential) -> Arc<dyn Spec> {
    let who = raw.who.as_str();
    let url = url(v, raw);
    let agent_id = raw.required("agent_id");
    if !agent_id.is_empty() && !agent_id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        v.err(
            raw.at("agent_id"),
            format!("{who}: agent_id {agent_id:?} may only hold letters, digits, '-', '_' and '.'"),
        );
    }
    let api_key = api_key(v, raw);
    let key_dir = key_dir(v, raw);
    let targets = targets(v, raw);
    let discovery_dirs = raw.items("discovery_dirs").iter().map(|s| v.path(s)).collect();
    let heartbeat_interval = v.interval(
        who,
        "heartbeat_interval",
        &raw.text("heartbeat_interval"),
        Duration::from_secs(60),
        &url,
    );
    let poll_interval = v.interval(
        who,
        "poll_interval",
        &raw.text("poll_interval"),
        Duration::from_secs(30),
        &url,
    );
    let discovery_interval = v.interval(
        who,
        "discovery_interval",
        &raw.text("discovery_interval"),
        Duration::from_secs(6 * 3600),
        &url,
    );
    Arc::new(CertctlSpec {
        url,
        agent_id,
        api_key,
        ca_bundle: v.ca_bundle(who, &raw.text("ca_bundle")),
        key_dir,
        targets,
        discovery_dirs,
        heartbeat_interval,
        poll_interval,
        discovery_interval,
    })
}

/// certctl's agent's pre-flight check: plain http is refused before any network call.
fn url(v: &mut Validator<'_>, raw: &RawCredential) -> String {
    let field = raw.text("url");
    let plain = field
        .as_ref()
        .filter(|u| reqwest::Url::parse(u.get_ref().trim()).is_ok_and(|p| p.scheme() == "http"));
    let Some(u) = plain else {
        return v.control_plane_url(&raw.who, &field, false);
    };
    v.err(
        Some(u.span()),
        format!(
            "{}: url {} uses plain http://; the certctl control plane is HTTPS-only (the API key and the certificates travel over it). Use https://HOST:PORT",
            raw.who,
            u.get_ref().trim()
        ),
    );
    String::new()
}

/// The agent's API key: from a file or an environment variable, one of them.
fn api_key(v: &mut Validator<'_>, raw: &RawCredential) -> TokenSource {
    let source = v.secret_source(
        &raw.who,
        ("api_key_file", &raw.text("api_key_file")),
        ("api_key_env", &raw.text("api_key_env")),
        "CERTCTL_API_KEY",
    );
    source.unwrap_or_else(|| {
        v.err(
            Some(raw.span.clone()),
            format!("{}: kind certctl needs the agent's API key: api_key_file = \"…\" (a file holding only the key, mode 0600) or api_key_env = \"CERTCTL_API_KEY\"", raw.who),
        );
        TokenSource::Env(String::new())
    })
}

/// Where the keys made for CSR jobs live: `key_dir`, else under the data directory.
fn key_dir(v: &mut Validator<'_>, raw: &RawCredential) -> PathBuf {
    let who = raw.who.as_str();
    match raw.text("key_dir") {
        Some(d) if !d.get_ref().trim().is_empty() => v.path(d.get_ref().trim()),
        Some(d) => {
            v.err(
                Some(d.span()),
                format!("{who}: key_dir is empty; give a directory for the private keys"),
            );
            PathBuf::new()
        }
        None => match &v.around.data_dir {
            Some(d) => d.join("certctl").join(&raw.name).join("keys"),
            None => {
                v.err(
                    Some(raw.span.clone()),
                    format!("{who}: no data directory to keep the keys in; set key_dir = \"…\""),
                );
                PathBuf::new()
            }
        },
    }
}

/// `targets = ["ID=CERT_PATH", …]`: each id once, each file once, the key beside it.
fn targets(v: &mut Validator<'_>, raw: &RawCredential) -> BTreeMap<String, CertctlTarget> {
    let who = raw.who.as_str();
    let mut targets = BTreeMap::new();
    let Some(t) = raw.list("targets") else {
        return targets;
    };
    if t.get_ref().is_empty() {
        v.err(
            Some(t.span()),
            format!("{who}: targets is empty; name at least one target id and its certificate file"),
        );
    }
    for entry in t.get_ref() {
        let (id, path) = entry
            .split_once('=')
            .map(|(i, p)| (i.trim(), p.trim()))
            .unwrap_or(("", ""));
        if id.is_empty() || path.is_empty() {
            v.err(
                Some(t.span()),
                format!("{who}: target {entry:?} is not TARGET_ID=CERTIFICATE_PATH, e.g. \"t-web=~/certs/web.pem\""),
            );
            continue;
        }
        if !id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            v.err(
                Some(t.span()),
                format!("{who}: target id {id:?} may only hold letters, digits, '-', '_' and '.'"),
            );
        }
        if targets.contains_key(id) {
            v.err(Some(t.span()), format!("{who}: target {id:?} is listed twice"));
        }
        let cert_path = v.path(path);
        let key_path = cert_path.with_extension("key");
        if key_path == cert_path {
            v.err(
                Some(t.span()),
                format!(
                    "{who}: target {id:?}: {path} ends in .key; give the certificate's path (the key goes next to it)"
                ),
            );
        }
        if targets.values().any(|o: &CertctlTarget| o.cert_path == cert_path) {
            v.err(
                Some(t.span()),
                format!("{who}: two targets write {path}; each target needs its own file"),
            );
        }
        targets.insert(id.to_string(), CertctlTarget { cert_path, key_path });
    }
    targets
}
