//! The kubeconfig kind: its fields, its settings and how they are checked.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::config::fields::{field, Field, FieldType, COMMANDS};
use crate::config::{CommandSpec, RawCredential, Validator};
use crate::kind::{Facts, Kind, KindDef, Spec};
use crate::sources::Source;

/// The kind: one user of a kubeconfig, its client certificate or id token.
pub const KIND: Kind = Kind::of(&DEF);

const DEF: KindDef = KindDef {
    name: "kubeconfig",
    label: "Kubernetes user",
    about: "A kubeconfig user's client certificate (inline or a file) or OIDC id token, watched; renewed by a command you give (kubeadm, a Vault PKI role, a script).",
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

const FIELDS: &[Field] = &[
    field(
        "user",
        "User",
        FieldType::Text,
        true,
        "The name of the users: entry (kubectl config view shows them).",
        "kubernetes-admin",
    )
    .needs("the kubeconfig user to watch"),
    field(
        "path",
        "Kubeconfig",
        FieldType::Path,
        false,
        "The kubeconfig file; default ~/.kube/config.",
        "~/.kube/config",
    ),
    field(
        "oidc_cache",
        "kubelogin cache",
        FieldType::Path,
        false,
        "Where kubelogin caches id tokens, for exec users; default ~/.kube/cache/oidc-login.",
        "~/.kube/cache/oidc-login",
    ),
    field(
        "renew_command",
        "Renew command",
        FieldType::List,
        false,
        "The program that writes a new certificate for this user, one argument per line. Without it Evergreen only watches.",
        "kubeadm\nkubeconfig\nuser\n--client-name=alice",
    )
    .program(),
];

/// One user of a kubeconfig.
#[derive(Debug, Clone, PartialEq)]
pub struct KubeconfigSpec {
    pub path: PathBuf,
    pub user: String,
    pub oidc_cache: PathBuf,
    pub renew_command: Option<CommandSpec>,
    pub reload_command: Option<CommandSpec>,
    pub command_timeout: Duration,
}

impl Spec for KubeconfigSpec {
    fn build(&self, name: &str) -> Arc<dyn Source> {
        Arc::new(super::Kubeconfig::new(name, self.clone()))
    }

    fn watched_paths(&self) -> Vec<PathBuf> {
        let mut paths = vec![self.path.clone()];
        if let Ok(k) = super::file::read(&self.path) {
            if let Some(super::file::Held::File(p)) = k.user(&self.user).map(|u| u.held(&self.path, &self.oidc_cache)) {
                paths.push(p);
            }
        }
        paths
    }
}

fn validate(v: &mut Validator<'_>, raw: &RawCredential) -> Arc<dyn Spec> {
    let path = raw
        .text("path")
        .map(|p| v.path(p.get_ref()))
        .unwrap_or_else(|| v.path("~/.kube/config"));
    Arc::new(KubeconfigSpec {
        path,
        user: raw.required("user").trim().to_string(),
        oidc_cache: raw
            .text("oidc_cache")
            .map(|p| v.path(p.get_ref()))
            .unwrap_or_else(|| v.path("~/.kube/cache/oidc-login")),
        renew_command: v.command_field(raw, "renew_command"),
        reload_command: v.command_field(raw, "reload_command"),
        command_timeout: v.command_timeout(raw),
    })
}
