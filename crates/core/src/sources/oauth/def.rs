//! The oauth kind: its fields, its settings and how they are checked.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::config::fields::{field, Field, FieldType};
use crate::config::{RawCredential, Validator};
use crate::kind::{Facts, Kind, KindDef, Spec};
use crate::policy::RenewPolicy;
use crate::sources::Source;

/// The kind: an OAuth 2.0 / OpenID Connect access token kept fresh with its
/// refresh token.
pub const KIND: Kind = Kind::of(&DEF);

const DEF: KindDef = KindDef {
    name: "oauth",
    label: "OAuth token",
    about: "An OAuth 2.0 / OpenID Connect access token, refreshed before it expires; `evergreen token NAME` hands it to scripts and tools.",
    fields: &[FIELDS],
    facts: Facts::PLAIN,
    validate,
    discover: None,
    #[cfg(feature = "fuzzing")]
    fuzz: super::fuzz,
};

const FIELDS: &[Field] = &[
    field(
        "client_id",
        "Client ID",
        FieldType::Text,
        true,
        "The client registered with the provider.",
        "evergreen-cli",
    )
    .needs("the OAuth client's id"),
    field(
        "issuer",
        "Issuer",
        FieldType::Url,
        false,
        "The provider; its endpoints are read from /.well-known/openid-configuration.",
        "https://login.example.com",
    ),
    field(
        "token_url",
        "Token endpoint",
        FieldType::Url,
        false,
        "Instead of (or over) the issuer's.",
        "",
    ),
    field(
        "device_url",
        "Device authorization endpoint",
        FieldType::Url,
        false,
        "Instead of (or over) the issuer's.",
        "",
    ),
    field(
        "auth_url",
        "Authorization endpoint",
        FieldType::Url,
        false,
        "Instead of (or over) the issuer's.",
        "",
    ),
    field(
        "client_secret_file",
        "Client secret file",
        FieldType::Path,
        false,
        "A confidential client's secret, alone in a 0600 file.",
        "",
    ),
    field(
        "scopes",
        "Scopes",
        FieldType::List,
        false,
        "Asked for at login, one per line; offline_access brings a refresh token from OpenID providers.",
        "openid\noffline_access",
    ),
    field(
        "flow",
        "First login",
        FieldType::Choice,
        false,
        "device: a code to enter at the provider's page (default when it has one); browser: a login in this machine's browser.",
        "device",
    )
    .choices(&["device", "browser"]),
    field(
        "keyring",
        "Keep tokens in the keyring",
        FieldType::Bool,
        false,
        "In the desktop keyring (Secret Service) when one runs; else, or with false, in a 0600 file.",
        "true",
    )
    .by_default("true"),
    field(
        "token_file",
        "Token file",
        FieldType::Path,
        false,
        "Where the tokens are kept without a keyring; default in Evergreen's data directory.",
        "",
    ),
    field(
        "notify_every",
        "Remind every",
        FieldType::Duration,
        false,
        "While a new login is needed, a notification says so again this often; default 1h.",
        "1h",
    ),
];

/// How the first login happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// RFC 8628: a code entered at the provider's page, on any device.
    Device,
    /// The code grant with PKCE and a loopback redirect.
    Browser,
}

/// An OAuth client and where its tokens are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OauthSpec {
    pub client_id: String,
    pub issuer: Option<String>,
    pub token_url: Option<String>,
    pub device_url: Option<String>,
    pub auth_url: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    pub scopes: Vec<String>,
    /// `None`: device when the provider has the endpoint, else browser.
    pub flow: Option<Flow>,
    pub keyring: bool,
    pub token_file: PathBuf,
    pub notify_every: Duration,
}

impl Spec for OauthSpec {
    fn build(&self, name: &str) -> Arc<dyn Source> {
        Arc::new(super::Oauth::new(name, self.clone()))
    }

    fn watched_paths(&self) -> Vec<PathBuf> {
        [Some(self.token_file.clone()), self.client_secret_file.clone()]
            .into_iter()
            .flatten()
            .collect()
    }

    fn login_prompt(&self) -> Option<crate::model::LoginPrompt> {
        Some(crate::model::LoginPrompt {
            method: "oauth".into(),
            username: None,
            browser: true,
            command: None,
        })
    }

    fn log_in(&self, name: &str, answer: crate::login::Answer) -> Option<crate::kind::LoginFuture> {
        let source = super::Oauth::new(name, self.clone());
        Some(Box::pin(
            async move { source.log_in(answer).await.map_err(|f| f.message) },
        ))
    }

    fn access_token(&self, name: &str, policy: RenewPolicy) -> Option<crate::kind::TokenFuture> {
        let source = super::Oauth::new(name, self.clone());
        Some(Box::pin(async move {
            source.fresh_token(&policy).await.map_err(|f| f.message)
        }))
    }
}

/// A spec for the fuzz target's parsers.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_spec() -> OauthSpec {
    OauthSpec {
        client_id: "fuzz".into(),
        issuer: None,
        token_url: Some("http://127.0.0.1:1/token".into()),
        device_url: None,
        auth_url: None,
        client_secret_file: None,
        scopes: Vec::new(),
        flow: None,
        keyring: false,
        token_file: PathBuf::from("/nonexistent/evergreen/fuzz.json"),
        notify_every: Duration::from_secs(3600),
    }
}

fn validate(v: &mut Validator<'_>, raw: &RawCredential) -> Arc<dyn Spec> {
    let who = raw.who.as_str();
    let url = |v: &mut Validator<'_>, key: &str| v.secure_url(raw, key);
    let issuer = url(v, "issuer");
    let token_url = url(v, "token_url");
    if issuer.is_none() && token_url.is_none() {
        v.err(
            Some(raw.span.clone()),
            format!("{who}: needs issuer (the provider, whose endpoints Evergreen reads) or token_url"),
        );
    }
    let flow = match raw.text("flow").as_ref().map(|f| f.get_ref().as_str()) {
        None => None,
        Some("device") => Some(Flow::Device),
        Some("browser") => Some(Flow::Browser),
        Some(other) => {
            v.err(
                raw.at("flow"),
                format!("{who}: flow = {other:?} is unknown; use \"device\" or \"browser\""),
            );
            None
        }
    };
    let token_file = match raw.text("token_file") {
        Some(p) => v.path(p.get_ref()),
        None => match &v.around.data_dir {
            Some(d) => d.join("oauth").join(format!("{}.json", raw.name)),
            None => {
                v.err(
                    Some(raw.span.clone()),
                    format!("{who}: no data directory to keep the tokens in; set token_file = \"…\""),
                );
                PathBuf::new()
            }
        },
    };
    let notify_every = raw
        .text("notify_every")
        .and_then(|d| v.duration(&format!("{who}: notify_every"), &d))
        .unwrap_or(Duration::from_secs(3600));
    Arc::new(OauthSpec {
        client_id: raw.required("client_id").trim().to_string(),
        issuer,
        token_url,
        device_url: url(v, "device_url"),
        auth_url: url(v, "auth_url"),
        client_secret_file: raw.text("client_secret_file").map(|p| v.path(p.get_ref())),
        scopes: raw.items("scopes"),
        flow,
        keyring: raw.flag("keyring").unwrap_or(true),
        token_file,
        notify_every,
    })
}
