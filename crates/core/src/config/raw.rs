//! The file as serde reads it: every field optional and spanned, so that
//! each mistake is reported where it is.

use super::*;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) engine: Option<Spanned<RawEngine>>,
    #[serde(default)]
    pub(super) credential: Vec<Spanned<RawCredential>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEngine {
    pub(super) jitter: Option<Spanned<f64>>,
    pub(super) notify_before: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) history_days: Option<Spanned<i64>>,
    pub(super) history_per_credential: Option<Spanned<i64>>,
    pub(super) retry_base: Option<Spanned<String>>,
    pub(super) retry_max: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawCommand {
    Argv(Vec<String>),
    Shell(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCredential {
    pub(super) name: Option<Spanned<String>>,
    pub(super) kind: Option<Spanned<String>>,
    pub(super) enabled: Option<Spanned<bool>>,
    pub(super) renew_at_fraction: Option<Spanned<f64>>,
    pub(super) renew_before: Option<Spanned<String>>,
    pub(super) jitter: Option<Spanned<f64>>,
    // x509_file, vault_pki
    pub(super) path: Option<Spanned<String>>,
    pub(super) renew_command: Option<Spanned<RawCommand>>,
    pub(super) reload_command: Option<Spanned<RawCommand>>,
    pub(super) command_timeout: Option<Spanned<String>>,
    pub(super) shell: Option<Spanned<bool>>,
    // vault_token, vault_pki
    pub(super) address: Option<Spanned<String>>,
    pub(super) namespace: Option<Spanned<String>>,
    pub(super) ca_bundle: Option<Spanned<String>>,
    pub(super) token_file: Option<Spanned<String>>,
    pub(super) token_env: Option<Spanned<String>>,
    // vault_token
    pub(super) increment: Option<Spanned<String>>,
    // vault_pki
    pub(super) mount: Option<Spanned<String>>,
    pub(super) role: Option<Spanned<String>>,
    pub(super) common_name: Option<Spanned<String>>,
    pub(super) alt_names: Option<Spanned<Vec<String>>>,
    pub(super) ip_sans: Option<Spanned<Vec<String>>>,
    pub(super) ttl: Option<Spanned<String>>,
    pub(super) key_type: Option<Spanned<String>>,
    pub(super) mode: Option<Spanned<String>>,
    pub(super) key_path: Option<Spanned<String>>,
    // wrenn
    pub(super) credentials_file: Option<Spanned<String>>,
    pub(super) registration_token_file: Option<Spanned<String>>,
    pub(super) heartbeat_interval: Option<Spanned<String>>,
    pub(super) host_address: Option<Spanned<String>>,
    // certctl
    pub(super) agent_id: Option<Spanned<String>>,
    pub(super) api_key_file: Option<Spanned<String>>,
    pub(super) api_key_env: Option<Spanned<String>>,
    pub(super) key_dir: Option<Spanned<String>>,
    pub(super) targets: Option<Spanned<Vec<String>>>,
    pub(super) discovery_dirs: Option<Spanned<Vec<String>>>,
    pub(super) poll_interval: Option<Spanned<String>>,
    pub(super) discovery_interval: Option<Spanned<String>>,
    // nixfleet, wrenn, certctl
    pub(super) url: Option<Spanned<String>>,
    pub(super) ssh_host_key: Option<Spanned<String>>,
    pub(super) machine_id: Option<Spanned<String>>,
    pub(super) enrollment_token_file: Option<Spanned<String>>,
}

/// A field, if it is set, with where its value is.
fn at<T>(key: &'static str, f: &Option<Spanned<T>>) -> Option<(&'static str, Range<usize>)> {
    f.as_ref().map(|s| (key, s.span()))
}

impl RawCredential {
    /// The kind-specific fields that are set, with where they are.
    pub(super) fn kind_fields(&self) -> Vec<(&'static str, Range<usize>)> {
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

/// Where each field of credential `name` is in `src` (its value, by toml's
/// own spans, so a value over several lines is one range). Empty when the
/// file does not parse or has no such credential.
pub(crate) fn field_spans(src: &str, name: &str) -> Vec<(&'static str, Range<usize>)> {
    let Ok(raw) = toml::from_str::<RawConfig>(src) else {
        return Vec::new();
    };
    let Some(c) = raw
        .credential
        .iter()
        .map(|c| c.get_ref())
        .find(|c| c.name.as_ref().is_some_and(|n| n.get_ref() == name))
    else {
        return Vec::new();
    };
    let mut v: Vec<_> = [
        at("name", &c.name),
        at("kind", &c.kind),
        at("enabled", &c.enabled),
        at("renew_at_fraction", &c.renew_at_fraction),
        at("renew_before", &c.renew_before),
        at("jitter", &c.jitter),
    ]
    .into_iter()
    .flatten()
    .collect();
    v.extend(c.kind_fields());
    v
}

/// The kinds by the names the file gives them (from [`super::fields::KINDS`]).
pub(crate) static KINDS: std::sync::LazyLock<Vec<&'static str>> =
    std::sync::LazyLock::new(|| super::fields::KINDS.iter().map(|k| k.as_str()).collect());

/// The kind-specific fields a kind accepts (from its field table).
pub(crate) fn fields_of(kind: &str) -> Vec<&'static str> {
    super::fields::KINDS
        .iter()
        .find(|k| k.as_str() == kind)
        .map_or_else(Vec::new, |k| super::fields::accepted(*k))
}
