//! The file as serde reads it: every field optional and spanned, so that
//! each mistake is reported where it is.

use super::*;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) engine: Option<Spanned<RawEngine>>,
    #[serde(default)]
    pub(super) credential: Vec<Spanned<RawTable>>,
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

/// A command as the file writes it.
pub(crate) enum RawCommand {
    Argv(Vec<String>),
    Shell(String),
}

/// One `[[credential]]` as the file gives it: each key and its value, both
/// with their spans. Which keys a kind takes, and of what type, is its field
/// table's to say (the validator checks them), not a struct's here.
pub(super) type RawTable = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

/// One credential's fields once the validator checked them against its
/// kind's table: each present one is of its field's type, so a kind's
/// `validate` reads them without checking types again.
pub(crate) struct RawCredential {
    /// The credential's name.
    pub(crate) name: String,
    /// How messages name it: `credential "web"`.
    pub(crate) who: String,
    /// The whole `[[credential]]` table, for a problem with no field of its own.
    pub(crate) span: Range<usize>,
    pub(super) values: BTreeMap<&'static str, Spanned<toml::Value>>,
}

impl RawCredential {
    fn get(&self, key: &str) -> Option<&Spanned<toml::Value>> {
        self.values.get(key)
    }

    /// A text field (text, path, URL, duration, choice), untrimmed.
    pub(crate) fn text(&self, key: &str) -> Option<Spanned<String>> {
        let v = self.get(key)?;
        Some(Spanned::new(v.span(), v.get_ref().as_str()?.to_string()))
    }

    /// A required text field, trimmed; empty when missing or blank (the
    /// validator has said so already, from the table).
    pub(crate) fn required(&self, key: &str) -> String {
        self.text(key)
            .map(|s| s.get_ref().trim().to_string())
            .unwrap_or_default()
    }

    /// A list field's items.
    pub(crate) fn list(&self, key: &str) -> Option<Spanned<Vec<String>>> {
        let v = self.get(key)?;
        let items = v.get_ref().as_array()?;
        let items = items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect();
        Some(Spanned::new(v.span(), items))
    }

    /// A list field's entries, trimmed, the empty ones dropped.
    pub(crate) fn items(&self, key: &str) -> Vec<String> {
        self.list(key)
            .map(|l| {
                l.into_inner()
                    .iter()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A command: an argv list, or one string for a shell.
    pub(crate) fn command(&self, key: &str) -> Option<Spanned<RawCommand>> {
        let v = self.get(key)?;
        let cmd = match v.get_ref() {
            toml::Value::String(s) => RawCommand::Shell(s.clone()),
            _ => RawCommand::Argv(self.list(key)?.into_inner()),
        };
        Some(Spanned::new(v.span(), cmd))
    }

    pub(crate) fn flag(&self, key: &str) -> Option<bool> {
        self.get(key)?.get_ref().as_bool()
    }

    /// Where a field's value is, when it is set.
    pub(crate) fn at(&self, key: &str) -> Option<Range<usize>> {
        self.get(key).map(|v| v.span())
    }
}

/// The type a field's value must have, as a message ends: "is a list,
/// written [\"…\", \"…\"]".
pub(super) fn type_problem(f: &super::fields::Field, v: &toml::Value) -> Option<String> {
    use super::fields::FieldType as T;
    let strings = |a: &Vec<toml::Value>| a.iter().all(toml::Value::is_str);
    let ok = match (f.ty, v) {
        (T::List, toml::Value::Array(a)) => strings(a),
        (T::List, toml::Value::String(_)) => f.runs_program,
        (T::Bool, toml::Value::Boolean(_)) => true,
        (T::Number, toml::Value::Float(_) | toml::Value::Integer(_)) => true,
        (T::Text | T::Path | T::Url | T::Duration | T::Choice, toml::Value::String(_)) => true,
        _ => false,
    };
    if ok {
        return None;
    }
    let expected = match f.ty {
        T::List if f.runs_program => "an array of strings, e.g. [\"step\", \"ca\", \"renew\", \"cert.pem\", \"key.pem\"], or a string with `shell = true`",
        T::List => "a list, written [\"…\", \"…\"]",
        T::Bool => "true or false",
        T::Number => "a number",
        T::Duration => "a duration in quotes, e.g. \"72h\"",
        T::Text | T::Path | T::Url | T::Choice => "a string, written \"…\"",
    };
    let found = match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a number",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "a list with an item that is not a string",
        toml::Value::Table(_) => "a table { … }",
    };
    Some(format!("invalid type: {found}; {} is {expected}", f.key))
}

/// Each `[[credential]]` as a plain map, for [`field_spans`].
#[derive(Deserialize, Default)]
struct Keyed {
    #[serde(default)]
    credential: Vec<BTreeMap<String, Spanned<toml::Value>>>,
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
        .map(|c| {
            c.into_iter()
                .filter_map(|(k, v)| Some((known_key(&k)?, v.span())))
                .collect()
        })
        .unwrap_or_default()
}

/// The tables' own spelling of `key` (`name` and `kind` head every table).
pub(super) fn known_key(key: &str) -> Option<&'static str> {
    ["name", "kind"]
        .into_iter()
        .chain(super::fields::COMMON.iter().map(|f| f.key))
        .chain(Kind::all().flat_map(super::fields::own).map(|f| f.key))
        .find(|k| *k == key)
}
