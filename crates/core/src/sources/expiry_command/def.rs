//! The expiry_command kind: its fields, its settings and how they are checked.

use std::sync::Arc;
use std::time::Duration;

use crate::config::fields::{field, Field, FieldType};
use crate::config::{CommandSpec, RawCredential, Validator};
use crate::kind::{Facts, Kind, KindDef, Spec};
use crate::sources::Source;

/// The kind: any credential whose expiry a command can print.
pub const KIND: Kind = Kind::of(&DEF);

const DEF: KindDef = KindDef {
    name: "expiry_command",
    label: "Expiry command",
    about: "Anything else that expires: a command prints its expiry (a date, or a JSON field), Evergreen runs it on a schedule and warns ahead; a login command can be offered.",
    fields: &[FIELDS],
    facts: Facts::PLAIN,
    validate,
    discover: None,
    #[cfg(feature = "fuzzing")]
    fuzz: super::fuzz,
};

const FIELDS: &[Field] = &[
    field(
        "command",
        "Command",
        FieldType::List,
        true,
        "Prints the expiry: a line with an RFC 3339 time (or \"2026-12-31 10:00:00 UTC\", or Unix seconds), or JSON with json_path. One argument per line.",
        "tailscale\nstatus\n--json",
    )
    .program()
    .needs("the command that prints the expiry"),
    field(
        "json_path",
        "JSON path",
        FieldType::Text,
        false,
        "Where the expiry is in the command's JSON output: .Self.KeyExpiry, .items[0].expires.",
        ".Self.KeyExpiry",
    ),
    field(
        "every",
        "Look every",
        FieldType::Duration,
        false,
        "How often the command runs; default 1h.",
        "1h",
    ),
    field(
        "lifetime",
        "Full lifetime",
        FieldType::Duration,
        false,
        "How long one lasts when new (Tailscale: 180d), to show how much is left; default: from when Evergreen first saw this expiry.",
        "180d",
    ),
    field(
        "login_command",
        "Login command",
        FieldType::List,
        false,
        "What gets a new one, offered as Log in (run in a terminal). One argument per line.",
        "tailscale\nup\n--force-reauth",
    )
    .program(),
    field(
        "command_timeout",
        "Command timeout",
        FieldType::Duration,
        false,
        "How long the command may run before it is stopped; default 2m.",
        "30s",
    ),
];

/// A command that tells an expiry.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpiryCommandSpec {
    pub command: CommandSpec,
    pub json_path: Option<super::path::JsonPath>,
    pub every: Duration,
    pub lifetime: Option<Duration>,
    pub login_command: Option<Vec<String>>,
    pub command_timeout: Duration,
}

impl Spec for ExpiryCommandSpec {
    fn build(&self, name: &str) -> Arc<dyn Source> {
        Arc::new(super::ExpiryCommand::new(name, self.clone()))
    }

    fn watched_paths(&self) -> Vec<std::path::PathBuf> {
        Vec::new()
    }

    fn login_prompt(&self) -> Option<crate::model::LoginPrompt> {
        self.login_command
            .clone()
            .map(|argv| crate::model::LoginPrompt::command("command", argv))
    }

    fn log_in(&self, _name: &str, answer: crate::login::Answer) -> Option<crate::kind::LoginFuture> {
        Some(crate::login::by_command(self.login_command.clone()?, answer))
    }
}

fn validate(v: &mut Validator<'_>, raw: &RawCredential) -> Arc<dyn Spec> {
    let who = raw.who.as_str();
    let command = v.command_field(raw, "command");
    let json_path = raw
        .text("json_path")
        .and_then(|p| match super::path::JsonPath::parse(p.get_ref()) {
            Ok(p) => Some(p),
            Err(why) => {
                v.err(Some(p.span()), format!("{who}: json_path: {why}"));
                None
            }
        });
    let duration =
        |v: &mut Validator<'_>, key: &str| raw.text(key).and_then(|d| v.duration(&format!("{who}: {key}"), &d));
    let every = duration(v, "every").unwrap_or(Duration::from_secs(3600));
    if every < Duration::from_secs(10) {
        v.err(
            raw.at("every"),
            format!("{who}: every must be at least 10s; an expiry does not change that often"),
        );
    }
    let login_command = v.command_field(raw, "login_command").map(|c| c.argv());
    Arc::new(ExpiryCommandSpec {
        command: command.unwrap_or(CommandSpec::Argv(vec!["true".into()])),
        json_path,
        every,
        lifetime: duration(v, "lifetime"),
        login_command,
        command_timeout: duration(v, "command_timeout").unwrap_or(crate::config::DEFAULT_COMMAND_TIMEOUT),
    })
}
