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
    #[serde(default)]
    pub(super) metrics: Option<Spanned<RawMetrics>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    pub(super) listen: Option<Spanned<String>>,
    pub(super) allow_remote: Option<Spanned<bool>>,
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
    pub(super) notify_flap_window: Option<Spanned<String>>,
    pub(super) notify_offline_after: Option<Spanned<String>>,
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
    pub(super) key: Option<Spanned<String>>,
    pub(super) machine_id: Option<Spanned<String>>,
    pub(super) enrollment_token_file: Option<Spanned<String>>,
}

/// A field, if it is set, with where its value is.
/// Each `[[credential]]` as a map from the keys the file gives it to its
/// values, with toml's spans: which fields a credential sets, and where,
/// read from the file itself rather than from a list of names kept here.
#[derive(Deserialize, Default)]
struct Keyed {
    #[serde(default)]
    credential: Vec<BTreeMap<String, Spanned<toml::Value>>>,
}

/// The fields one credential sets, each with its value's span.
pub(super) type SetFields = Vec<(&'static str, Range<usize>)>;

/// The fields each credential of `src` sets, in the file's order (empty
/// when the file does not parse). Keys the tables do not know are left to
/// serde, which refuses them by name.
pub(super) fn set_fields(src: &str) -> Vec<SetFields> {
    let Ok(keyed) = toml::from_str::<Keyed>(src) else {
        return Vec::new();
    };
    keyed.credential.into_iter().map(fields_set).collect()
}

/// One credential's fields, as its keys name them, with their spans.
fn fields_set(c: BTreeMap<String, Spanned<toml::Value>>) -> SetFields {
    c.into_iter()
        .filter_map(|(k, v)| Some((known_key(&k)?, v.span())))
        .collect()
}

/// The table's own spelling of `key` (`name` and `kind` head every table).
fn known_key(key: &str) -> Option<&'static str> {
    ["name", "kind"]
        .into_iter()
        .chain(
            super::fields::KINDS
                .iter()
                .flat_map(|k| super::fields::of(*k))
                .map(|f| f.key),
        )
        .find(|k| *k == key)
}

/// The kind-specific ones among a credential's fields.
pub(super) fn kind_fields(set: &SetFields) -> SetFields {
    let common = |key: &str| {
        key == "name"
            || key == "kind"
            || super::fields::KINDS
                .iter()
                .flat_map(|k| super::fields::of(*k))
                .any(|f| f.key == key && f.common)
    };
    set.iter().filter(|(k, _)| !common(k)).cloned().collect()
}

/// Where each field of credential `name` is in `src` (its value, by toml's
/// own spans, so a value over several lines is one range). Empty when the
/// file does not parse or has no such credential.
pub(crate) fn field_spans(src: &str, name: &str) -> Vec<(&'static str, Range<usize>)> {
    let Ok(keyed) = toml::from_str::<Keyed>(src) else {
        return Vec::new();
    };
    keyed
        .credential
        .into_iter()
        .find(|c| c.get("name").and_then(|n| n.get_ref().as_str()) == Some(name))
        .map(fields_set)
        .unwrap_or_default()
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
