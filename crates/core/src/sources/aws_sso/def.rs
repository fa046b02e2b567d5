//! The aws_sso kind: its fields, its settings and how they are checked.

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::fields::{field, Field, FieldType};
use crate::config::{RawCredential, Validator};
use crate::kind::{Facts, Kind, KindDef, Spec};
use crate::sources::Source;

/// The kind: an AWS IAM Identity Center (SSO) session's token, kept fresh.
pub const KIND: Kind = Kind::of(&DEF);

const DEF: KindDef = KindDef {
    name: "aws_sso",
    label: "AWS SSO session",
    about: "An AWS IAM Identity Center session: its access token refreshed the way the AWS CLI does it, in the cache every AWS tool reads; a new `aws sso login` when the session ends.",
    fields: &[FIELDS],
    facts: Facts::PLAIN,
    validate,
    discover: Some(super::discover::discover),
    #[cfg(feature = "fuzzing")]
    fuzz: super::fuzz,
};

const FIELDS: &[Field] = &[
    field(
        "session",
        "SSO session",
        FieldType::Text,
        true,
        "The name of its [sso-session NAME] section in the AWS config.",
        "work",
    )
    .needs("the sso-session to keep fresh"),
    field(
        "config_file",
        "AWS config",
        FieldType::Path,
        false,
        "Default ~/.aws/config.",
        "~/.aws/config",
    ),
    field(
        "cache_dir",
        "Token cache",
        FieldType::Path,
        false,
        "Where the AWS CLI caches SSO tokens; default ~/.aws/sso/cache.",
        "~/.aws/sso/cache",
    ),
    field(
        "endpoint_url",
        "SSO-OIDC endpoint",
        FieldType::Text,
        false,
        "Default https://oidc.REGION.amazonaws.com, REGION being the session's sso_region.",
        "",
    ),
];

/// An IAM Identity Center session and where its files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSsoSpec {
    pub session: String,
    pub config_file: PathBuf,
    pub cache_dir: PathBuf,
    pub endpoint_url: Option<String>,
}

impl AwsSsoSpec {
    /// The command that starts a new session.
    pub(crate) fn login_argv(&self) -> Vec<String> {
        ["aws", "sso", "login", "--sso-session", &self.session]
            .map(String::from)
            .to_vec()
    }
}

impl Spec for AwsSsoSpec {
    fn build(&self, name: &str) -> Arc<dyn Source> {
        Arc::new(super::AwsSso::new(name, self.clone()))
    }

    /// `aws sso login` and every AWS tool's own refresh rewrite the cache.
    fn watched_paths(&self) -> Vec<PathBuf> {
        vec![
            super::files::cache_file(&self.cache_dir, &self.session),
            self.config_file.clone(),
        ]
    }

    fn login_prompt(&self) -> Option<crate::model::LoginPrompt> {
        Some(crate::model::LoginPrompt::command("aws sso", self.login_argv()))
    }

    fn log_in(&self, _name: &str, answer: crate::login::Answer) -> Option<crate::kind::LoginFuture> {
        Some(crate::login::by_command(self.login_argv(), answer))
    }
}

fn validate(v: &mut Validator<'_>, raw: &RawCredential) -> Arc<dyn Spec> {
    let who = raw.who.as_str();
    let session = raw.required("session").trim().to_string();
    if session.starts_with('-') || session.contains(['[', ']', '\n']) {
        v.err(
            raw.at("session"),
            format!("{who}: session {session:?} is not an sso-session name; write the NAME of [sso-session NAME]"),
        );
    }
    Arc::new(AwsSsoSpec {
        session,
        config_file: raw
            .text("config_file")
            .map(|p| v.path(p.get_ref()))
            .unwrap_or_else(|| v.path("~/.aws/config")),
        cache_dir: raw
            .text("cache_dir")
            .map(|p| v.path(p.get_ref()))
            .unwrap_or_else(|| v.path("~/.aws/sso/cache")),
        endpoint_url: v.secure_url(raw, "endpoint_url"),
    })
}
