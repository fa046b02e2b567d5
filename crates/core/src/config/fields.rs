//! Every credential field, defined once: its key, label, type, whether it is
//! required, its help, an example and its default, and whether it runs a
//! program. The validator's "which kind has which field", the settings form
//! and the field tables of docs/configuration.md all come from here.

use serde::{Deserialize, Serialize};

use crate::model::Kind;

/// How a field is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Path,
    Url,
    Duration,
    /// One item per line.
    List,
    Bool,
    Number,
    Choice,
}

/// One field of a credential kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field {
    pub key: &'static str,
    pub label: &'static str,
    pub ty: FieldType,
    pub required: bool,
    pub help: &'static str,
    /// An example shown in an empty input.
    pub placeholder: &'static str,
    /// What an unset field means, where that is a value (a checkbox's state).
    pub default: Option<&'static str>,
    /// It names a program Evergreen runs (or how it runs it): the window
    /// shows it but cannot set or change it, so a script injected into the
    /// webview cannot make the engine run one; the config file can.
    pub runs_program: bool,
    /// Every kind has it (the renewal policy, enabled).
    pub common: bool,
    /// The values a choice field takes.
    pub choices: &'static [&'static str],
    /// What a required field gives, for the message when it is missing or
    /// empty: "kind K needs `path`, {why}".
    pub why: &'static str,
}

pub(crate) const fn field(
    key: &'static str,
    label: &'static str,
    ty: FieldType,
    required: bool,
    help: &'static str,
    placeholder: &'static str,
) -> Field {
    Field {
        key,
        label,
        ty,
        required,
        help,
        placeholder,
        default: None,
        runs_program: false,
        common: false,
        choices: &[],
        why: "",
    }
}

impl Field {
    pub(crate) const fn program(mut self) -> Self {
        self.runs_program = true;
        self
    }

    pub(crate) const fn by_default(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self
    }

    const fn common(mut self) -> Self {
        self.common = true;
        self
    }

    pub(crate) const fn choices(mut self, values: &'static [&'static str]) -> Self {
        self.choices = values;
        self
    }

    /// A required field, and what it gives.
    pub(crate) const fn needs(mut self, why: &'static str) -> Self {
        self.required = true;
        self.why = why;
        self
    }
}

pub(crate) const COMMON: &[Field] = &[
    field(
        "enabled",
        "Enabled",
        FieldType::Bool,
        false,
        "Off keeps it listed as disabled and never touches it.",
        "true",
    )
    .by_default("true")
    .common(),
    field(
        "renew_at_fraction",
        "Renew when this fraction is left",
        FieldType::Number,
        false,
        "Strictly between 0 and 1.",
        "0.33",
    )
    .common(),
    field(
        "renew_before",
        "Or renew this long before expiry",
        FieldType::Duration,
        false,
        "Instead of a fraction, e.g. 72h. Not both.",
        "72h",
    )
    .common(),
    field(
        "jitter",
        "Jitter",
        FieldType::Number,
        false,
        "Random shift of each deadline, a fraction from 0 to 0.5.",
        "0.1",
    )
    .common(),
];

pub(crate) const VAULT_CONN: &[Field] = &[
    field(
        "address",
        "Server address",
        FieldType::Url,
        false,
        "https://… of the Vault/OpenBao server; default $BAO_ADDR or $VAULT_ADDR.",
        "https://vault.example.com:8200",
    ),
    field(
        "token_file",
        "Token file",
        FieldType::Path,
        false,
        "A file holding only the token, mode 0600; default ~/.vault-token.",
        "~/.vault-token",
    ),
    field(
        "token_env",
        "Or token environment variable",
        FieldType::Text,
        false,
        "Instead of a file: a variable of the engine's process.",
        "VAULT_TOKEN",
    ),
    field(
        "ca_bundle",
        "CA bundle",
        FieldType::Path,
        false,
        "PEM file of the CAs that signed the server's certificate; only these are trusted.",
        "",
    ),
    field(
        "namespace",
        "Namespace",
        FieldType::Text,
        false,
        "Sent as X-Vault-Namespace.",
        "",
    ),
];

pub(crate) const COMMANDS: &[Field] = &[
    field(
        "reload_command",
        "Reload command",
        FieldType::List,
        false,
        "Run after each renewal; one argument per line.",
        "systemctl\n--user\nreload\nnginx",
    )
    .program(),
    field(
        "command_timeout",
        "Command timeout",
        FieldType::Duration,
        false,
        "A command still running after this is killed. Default 2m.",
        "2m",
    ),
    field(
        "shell",
        "Commands are shell strings",
        FieldType::Bool,
        false,
        "Run each command as one line with /bin/sh -c.",
        "false",
    )
    .program()
    .by_default("false"),
];

/// The fleet kinds' CA bundle field.
pub(crate) const FLEET_CA_BUNDLE: Field = field(
    "ca_bundle",
    "CA bundle",
    FieldType::Path,
    false,
    "The control plane's CA (PEM).",
    "",
);

/// The fields of `kind` beyond the common ones, from its definition: what
/// the validator accepts for it.
pub fn own(kind: Kind) -> impl Iterator<Item = &'static Field> {
    kind.def().fields.iter().flat_map(|group| group.iter())
}

/// The keys of [`own`].
pub fn accepted(kind: Kind) -> Vec<&'static str> {
    own(kind).map(|f| f.key).collect()
}

/// The fields of `kind`, in the order the form shows them: its own, then
/// the connection or commands it shares with others, then the common ones.
pub fn of(kind: Kind) -> Vec<Field> {
    own(kind).chain(COMMON).copied().collect()
}

/// The common field called `key`.
pub fn common(key: &str) -> Option<&'static Field> {
    COMMON.iter().find(|f| f.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_required_field_says_what_it_gives_and_a_choice_what_it_takes() {
        for kind in Kind::all() {
            for f in of(kind) {
                assert_eq!(f.required, !f.why.is_empty(), "{kind}: {}", f.key);
                assert_eq!(f.ty == FieldType::Choice, !f.choices.is_empty(), "{kind}: {}", f.key);
            }
        }
    }

    #[test]
    fn a_key_has_one_type_in_every_kind() {
        for a in Kind::all().flat_map(of) {
            for b in Kind::all().flat_map(of).filter(|b| b.key == a.key) {
                assert_eq!(a.ty, b.ty, "{} has two types", a.key);
            }
        }
    }

    #[test]
    fn a_field_is_accepted_by_exactly_the_kinds_whose_table_has_it() {
        let all: Vec<&str> = {
            let mut v: Vec<&str> = Kind::all().flat_map(of).map(|f| f.key).collect();
            v.sort();
            v.dedup();
            v
        };
        let value = |key: &str| {
            let f = Kind::all().flat_map(of).find(|f| f.key == key).unwrap();
            match f.ty {
                FieldType::List => "[\"x\"]",
                FieldType::Bool => "true",
                FieldType::Number => "0.5",
                _ => "\"x\"",
            }
        };
        for kind in Kind::all() {
            for key in &all {
                let src = format!(
                    "[[credential]]\nname = \"c\"\nkind = \"{}\"\n{key} = {}\n",
                    kind.as_str(),
                    value(key)
                );
                let problems = match super::super::validate(&src, std::path::Path::new("/c.toml")) {
                    Ok(_) => String::new(),
                    Err(p) => p.iter().map(|p| p.message.clone()).collect::<Vec<_>>().join("\n"),
                };
                let refused = problems.contains(&format!("`{key}`")) && problems.contains("belongs to");
                assert_eq!(
                    refused,
                    !of(kind).iter().any(|f| f.key == *key),
                    "{} with {key}:\n{problems}",
                    kind.as_str()
                );
            }
        }
    }

    #[test]
    fn programs_are_marked_and_checkboxes_say_their_default() {
        for kind in Kind::all() {
            for f in of(kind) {
                assert_eq!(
                    f.runs_program,
                    ["renew_command", "reload_command", "shell", "command", "login_command"].contains(&f.key),
                    "{}",
                    f.key
                );
                if f.ty == FieldType::Bool {
                    assert!(f.default.is_some(), "{} needs a default", f.key);
                }
            }
        }
    }
}
