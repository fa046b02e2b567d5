//! The parts of a kubeconfig Evergreen reads: users' client certificates
//! (inline or a file), exec/OIDC users' tokens, and which contexts use
//! whom. Keys and tokens are not deserialised into anything kept.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use serde::Deserialize;

/// The largest kubeconfig read.
pub(crate) const MAX_FILE: u64 = 1024 * 1024;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct KubeConfig {
    #[serde(default)]
    pub users: Vec<NamedUser>,
    #[serde(default)]
    pub contexts: Vec<NamedContext>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct NamedUser {
    pub name: String,
    #[serde(default)]
    pub user: User,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct User {
    #[serde(rename = "client-certificate-data")]
    pub cert_data: Option<String>,
    #[serde(rename = "client-certificate")]
    pub cert_file: Option<String>,
    pub exec: Option<Exec>,
    #[serde(rename = "auth-provider")]
    pub auth_provider: Option<AuthProvider>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Exec {
    #[serde(default)]
    pub command: String,
    #[serde(default)]
    pub args: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AuthProvider {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct NamedContext {
    pub name: String,
    pub context: Context,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Context {
    #[serde(default)]
    pub user: String,
}

/// Reads and parses a kubeconfig; the error is a sentence.
pub(crate) fn read(path: &Path) -> Result<KubeConfig, String> {
    let bytes =
        crate::fsutil::read_bounded(path, MAX_FILE).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse(&bytes).map_err(|e| format!("{} is not a kubeconfig Evergreen can read: {e}", path.display()))
}

pub(crate) fn parse(bytes: &[u8]) -> Result<KubeConfig, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_string())?;
    if text.trim().is_empty() {
        return Ok(KubeConfig::default());
    }
    // The parser's words may quote a value, and a value may be a key:
    // only where it went wrong is said.
    serde_norway::from_str(text).map_err(|e| match e.location() {
        Some(at) => format!(
            "its YAML is not a kubeconfig (line {}, column {})",
            at.line(),
            at.column()
        ),
        None => "its YAML is not a kubeconfig".to_string(),
    })
}

impl KubeConfig {
    pub(crate) fn user(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name).map(|u| &u.user)
    }

    /// The contexts that log in as `user`.
    pub(crate) fn contexts_of(&self, user: &str) -> Vec<String> {
        self.contexts
            .iter()
            .filter(|c| c.context.user == user)
            .map(|c| c.name.clone())
            .collect()
    }
}

/// Where a user's credential is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Held {
    /// PEM bytes inline (decoded from base64).
    Inline(Vec<u8>),
    /// A certificate file (resolved against the kubeconfig's directory).
    File(PathBuf),
    /// An OIDC id token (its JWT), inline or in kubelogin's cache.
    IdToken { token: String, from: String },
    /// An exec plugin or provider whose token is not on disk yet.
    NoToken(String),
    /// Nothing that expires (a static token, a password).
    Nothing,
}

impl User {
    /// What holds this user's expiring credential.
    pub(crate) fn held(&self, kubeconfig: &Path, cache_dir: &Path) -> Held {
        if let Some(d) = &self.cert_data {
            let clean: String = d.chars().filter(|c| !c.is_whitespace()).collect();
            return match base64::engine::general_purpose::STANDARD.decode(clean) {
                Ok(pem) => Held::Inline(pem),
                Err(_) => Held::Inline(Vec::new()),
            };
        }
        if let Some(f) = &self.cert_file {
            let p = PathBuf::from(f);
            let p = if p.is_absolute() {
                p
            } else {
                kubeconfig.parent().unwrap_or(Path::new(".")).join(p)
            };
            return Held::File(p);
        }
        if let Some(a) = self.auth_provider.as_ref().filter(|a| a.name == "oidc") {
            return match a.config.get("id-token") {
                Some(t) => Held::IdToken {
                    token: t.clone(),
                    from: "the kubeconfig's auth-provider".into(),
                },
                None => Held::NoToken("the oidc auth-provider has no id-token yet".into()),
            };
        }
        if let Some(e) = &self.exec {
            let arg = |flag: &str| {
                e.args
                    .iter()
                    .find_map(|a| a.strip_prefix(&format!("--{flag}=")).map(str::to_string))
            };
            let issuer = arg("oidc-issuer-url");
            let client = arg("oidc-client-id");
            if let (Some(issuer), Some(client)) = (issuer, client) {
                return match cached_id_token(cache_dir, &issuer, &client) {
                    Some(token) => Held::IdToken {
                        token,
                        from: format!("kubelogin's cache in {}", cache_dir.display()),
                    },
                    None => Held::NoToken(format!(
                        "kubelogin has no token for {issuer} cached yet; run a kubectl command once to log in"
                    )),
                };
            }
            return Held::NoToken(format!(
                "`{}` makes its token when kubectl runs, and keeps no expiry Evergreen can read",
                e.command
            ));
        }
        Held::Nothing
    }
}

/// What an id token's body says (its signature is not Evergreen's to check:
/// only its dates are shown).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Claims {
    pub exp: u64,
    #[serde(default)]
    pub iat: Option<u64>,
    #[serde(default)]
    pub iss: String,
    #[serde(default)]
    pub sub: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub aud: Option<serde_json::Value>,
}

/// The body of a JWT.
pub(crate) fn claims(jwt: &str) -> Result<Claims, String> {
    let body = jwt.split('.').nth(1).ok_or("the id token is not a JWT")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body.trim_end_matches('='))
        .map_err(|_| "the id token's body is not base64url")?;
    serde_json::from_slice(&bytes).map_err(|e| format!("the id token's body is not the JSON claims expected ({e})"))
}

impl Claims {
    pub(crate) fn lifetime(&self) -> Option<crate::model::Lifetime> {
        let at = |s: u64| crate::clock::from_unix_secs(s);
        let not_after = at(self.exp)?;
        let not_before = self.iat.and_then(at).unwrap_or_else(|| {
            not_after
                .checked_sub(Duration::from_secs(3600))
                .unwrap_or(SystemTime::UNIX_EPOCH)
        });
        Some(crate::model::Lifetime {
            not_before: not_before.min(not_after),
            not_after,
        })
    }

    fn for_client(&self, client: &str) -> bool {
        match &self.aud {
            Some(serde_json::Value::String(a)) => a == client,
            Some(serde_json::Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(client)),
            _ => false,
        }
    }
}

/// kubelogin's cached id token for `issuer` and `client`: its cache files
/// are JSON with an `id_token` (and a refresh token, which is not kept).
fn cached_id_token(dir: &Path, issuer: &str, client: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Cached {
        id_token: String,
    }
    let rd = std::fs::read_dir(dir).ok()?;
    rd.flatten().take(500).find_map(|e| {
        let bytes = crate::fsutil::read_bounded(&e.path(), 256 * 1024).ok()?;
        let c: Cached = serde_json::from_slice(&bytes).ok()?;
        let claims = claims(&c.id_token).ok()?;
        (claims.iss.trim_end_matches('/') == issuer.trim_end_matches('/') && claims.for_client(client))
            .then_some(c.id_token)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(body: &str) -> String {
        let b = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(body);
        format!("eyJhbGciOiJub25lIn0.{b}.sig")
    }

    #[test]
    fn users_contexts_and_where_their_credentials_are() {
        let yaml = r#"
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://k.example:6443"}}]
contexts:
- {name: admin@c, context: {cluster: c, user: admin}}
- {name: ops, context: {cluster: c, user: admin}}
- {name: dev, context: {cluster: c, user: dev}}
users:
- name: admin
  user:
    client-certificate-data: aGVsbG8=
    client-key-data: c2VjcmV0
- name: dev
  user:
    client-certificate: certs/dev.crt
    client-key: certs/dev.key
- name: sso
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubectl
      args: [oidc-login, get-token, --oidc-issuer-url=https://idp.example, --oidc-client-id=kube]
- name: static
  user: {token: abc}
"#;
        let k = parse(yaml.as_bytes()).unwrap();
        let cfg = Path::new("/home/a/.kube/config");
        let cache = Path::new("/nonexistent");
        assert_eq!(k.contexts_of("admin"), vec!["admin@c", "ops"]);
        assert_eq!(
            k.user("admin").unwrap().held(cfg, cache),
            Held::Inline(b"hello".to_vec())
        );
        assert_eq!(
            k.user("dev").unwrap().held(cfg, cache),
            Held::File("/home/a/.kube/certs/dev.crt".into())
        );
        assert!(matches!(k.user("sso").unwrap().held(cfg, cache), Held::NoToken(_)));
        assert_eq!(k.user("static").unwrap().held(cfg, cache), Held::Nothing);
    }

    #[test]
    fn an_id_token_gives_its_dates_and_the_cache_is_matched_by_issuer_and_client() {
        let dir = tempfile::tempdir().unwrap();
        let token =
            jwt(r#"{"iss":"https://idp.example/","aud":"kube","sub":"alice","iat":1800000000,"exp":1800003600}"#);
        let other = jwt(r#"{"iss":"https://other.example","aud":"kube","exp":1800003600}"#);
        std::fs::write(
            dir.path().join("a"),
            format!(r#"{{"id_token":"{other}","refresh_token":"r"}}"#),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("b"),
            format!(r#"{{"id_token":"{token}","refresh_token":"r"}}"#),
        )
        .unwrap();
        assert_eq!(
            cached_id_token(dir.path(), "https://idp.example", "kube"),
            Some(token.clone())
        );
        assert_eq!(cached_id_token(dir.path(), "https://idp.example", "other-client"), None);
        let l = claims(&token).unwrap().lifetime().unwrap();
        assert_eq!(l.not_after, SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_003_600));
        for bad in ["", "a", "a.!!!.c", &jwt("[]"), &jwt(r#"{"exp":"soon"}"#)] {
            assert!(claims(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for junk in ["users: 5", "[", "users:\n- name: [x]", "\u{0}", "a: &a [*a]"] {
            let _ = parse(junk.as_bytes());
        }
        assert!(parse(b"users: 5").is_err());
    }
}
