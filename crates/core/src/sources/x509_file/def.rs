//! The x509_file kind: its fields, its settings and how they are checked.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::X509File;
use crate::config::fields::{field, FieldType, COMMANDS};
use crate::config::{CommandSpec, RawCredential, Validator};
use crate::kind::{Facts, Kind, KindDef, Spec};
use crate::sources::Source;

/// The kind: a certificate file, watched, and renewed by a command if given.
pub const KIND: Kind = Kind::of(&DEF);

const DEF: KindDef = KindDef {
    name: "x509_file",
    label: "X.509 file",
    about: "A certificate file, renewed by a command you give (step, certbot, a script) or only watched.",
    fields: &[FIELDS, COMMANDS],
    facts: Facts {
        issues_certificates: true,
        ..Facts::PLAIN
    },
    validate,
    discover: Some(super::discover::discover),
    #[cfg(feature = "fuzzing")]
    fuzz: super::fuzz,
};

const FIELDS: &[crate::config::fields::Field] = &[
    field(
        "path",
        "Certificate file",
        FieldType::Path,
        true,
        "The certificate Evergreen watches.",
        "~/certs/web.pem",
    )
    .needs("the certificate file to watch"),
    field(
        "renew_command",
        "Renew command",
        FieldType::List,
        false,
        "The program that renews it, one argument per line. Without it Evergreen only watches.",
        "step\nca\nrenew\n--force\ncert.pem\nkey.pem",
    )
    .program(),
];

/// An X.509 certificate file, optionally renewed by a command.
#[derive(Debug, Clone, PartialEq)]
pub struct X509FileSpec {
    pub path: PathBuf,
    pub renew_command: Option<CommandSpec>,
    pub reload_command: Option<CommandSpec>,
    /// How long a renew or reload command may run before it is killed.
    pub command_timeout: Duration,
}

impl Spec for X509FileSpec {
    fn build(&self, name: &str) -> Arc<dyn Source> {
        Arc::new(X509File::new(name, self.clone()))
    }

    fn watched_paths(&self) -> Vec<PathBuf> {
        vec![self.path.clone()]
    }

    fn certificate_files(&self) -> Vec<PathBuf> {
        vec![self.path.clone()]
    }
}

fn validate(v: &mut Validator<'_>, raw: &RawCredential) -> Arc<dyn Spec> {
    let path = raw.required("path");
    Arc::new(X509FileSpec {
        path: if path.is_empty() { PathBuf::new() } else { v.path(&path) },
        renew_command: v.command_field(raw, "renew_command"),
        reload_command: v.command_field(raw, "reload_command"),
        command_timeout: v.command_timeout(raw),
    })
}
