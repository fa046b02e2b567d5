//! The AWS CLI's files for an IAM Identity Center session: its
//! `[sso-session NAME]` section in `~/.aws/config`, and its token cache
//! `~/.aws/sso/cache/<sha1 of NAME>.json`, in the exact format botocore's
//! `SSOTokenProvider` reads and writes (so every AWS tool on the machine
//! reads what Evergreen writes).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::{Map, Value};
use sha1::Digest as _;

/// The largest config or cache file read.
pub(crate) const MAX_FILE: u64 = 256 * 1024;

/// An `[sso-session NAME]` section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Session {
    pub name: String,
    pub region: String,
    pub start_url: String,
}

/// The `[sso-session …]` sections of an AWS config file's text (an INI file:
/// `[section]`, `key = value`, `#`/`;` comments, indented continuation lines).
pub(crate) fn sessions(text: &str) -> Vec<Session> {
    let mut out: Vec<Session> = Vec::new();
    let mut current: Option<Session> = None;
    for line in text.lines().take(100_000) {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        if let Some(section) = l.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            out.extend(current.take());
            let section = section.trim();
            if let Some(name) = section.strip_prefix("sso-session ") {
                current = Some(Session {
                    name: name.trim().to_string(),
                    ..Session::default()
                });
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let (Some(s), Some((k, v))) = (current.as_mut(), l.split_once('=')) else {
            continue;
        };
        match k.trim() {
            "sso_region" => s.region = v.trim().to_string(),
            "sso_start_url" => s.start_url = v.trim().to_string(),
            _ => {}
        }
    }
    out.extend(current);
    out.retain(|s| !s.name.is_empty());
    out
}

/// The cache file botocore and the AWS CLI use for session `name`.
pub(crate) fn cache_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{}.json", hex::encode(sha1::Sha1::digest(name.as_bytes()))))
}

/// A cached token: the file's JSON object, kept whole so that a rewrite
/// changes only what a refresh changes. Its secrets are never shown.
#[derive(Clone, PartialEq)]
pub(crate) struct Cached(pub Map<String, Value>);

impl std::fmt::Debug for Cached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&String> = self.0.keys().collect();
        write!(f, "Cached {{ keys: {keys:?} }}")
    }
}

/// A time as the AWS tools write it ("2026-12-07T21:51:35Z"; botocore
/// also accepts an offset or a fraction).
pub(crate) fn parse_time(s: &str) -> Option<SystemTime> {
    crate::clock::parse_rfc3339(s)
        .or_else(|| crate::clock::parse_rfc3339(&format!("{}Z", s.trim().trim_end_matches(" UTC"))))
}

/// A time as botocore writes it: `%Y-%m-%dT%H:%M:%SZ`.
pub(crate) fn format_time(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

impl Cached {
    pub(crate) fn parse(bytes: &[u8]) -> Result<Cached, String> {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(m)) => Ok(Cached(m)),
            Ok(_) => Err("it is JSON but not an object".into()),
            Err(e) => Err(format!("it is not JSON ({})", crate::http::json_problem(&e))),
        }
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
    }

    pub(crate) fn expires_at(&self) -> Option<SystemTime> {
        self.text("expiresAt").and_then(parse_time)
    }

    pub(crate) fn registration_expires_at(&self) -> Option<SystemTime> {
        self.text("registrationExpiresAt").and_then(parse_time)
    }

    pub(crate) fn start_url(&self) -> Option<&str> {
        self.text("startUrl")
    }

    pub(crate) fn has_access_token(&self) -> bool {
        self.text("accessToken").is_some()
    }

    /// What a refresh sends: client id, client secret and refresh token,
    /// when the cache has all three.
    pub(crate) fn refresh_grant(&self) -> Option<BTreeMap<&'static str, String>> {
        let mut m = BTreeMap::new();
        m.insert("grantType", "refresh_token".to_string());
        m.insert("clientId", self.text("clientId")?.to_string());
        m.insert("clientSecret", self.text("clientSecret")?.to_string());
        m.insert("refreshToken", self.text("refreshToken")?.to_string());
        Some(m)
    }

    /// The cache after a refresh, as botocore writes it: the new access
    /// token and its expiry, and the new refresh token when one came.
    pub(crate) fn refreshed(&self, access: &str, expires_at: SystemTime, refresh: Option<&str>) -> Cached {
        let mut m = self.0.clone();
        m.insert("accessToken".into(), Value::from(access));
        m.insert("expiresAt".into(), Value::from(format_time(expires_at)));
        if let Some(r) = refresh {
            m.insert("refreshToken".into(), Value::from(r));
        }
        Cached(m)
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.0).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_read_from_the_config() {
        let text = "\
[default]
region = eu-west-1
[profile dev]
sso_session = work
sso_account_id = 111122223333
[sso-session work]
sso_start_url = https://work.awsapps.com/start
sso_region = eu-central-1
sso_registration_scopes = sso:account:access
# a comment
[sso-session   other  ]
sso_region=us-east-1
[services s]
sso_oidc =
  endpoint_url = http://127.0.0.1:1
";
        let s = sessions(text);
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[0],
            Session {
                name: "work".into(),
                region: "eu-central-1".into(),
                start_url: "https://work.awsapps.com/start".into()
            }
        );
        assert_eq!(s[1].name, "other");
        assert_eq!(s[1].region, "us-east-1");
    }

    #[test]
    fn the_cache_file_is_named_by_the_sha1_of_the_session() {
        // What botocore computes: hashlib.sha1("work".encode()).hexdigest().
        assert_eq!(
            cache_file(Path::new("/c"), "work"),
            PathBuf::from("/c/e274eeff768c6396088ec6eb091f4bf4d47ab1e0.json")
        );
        assert_eq!(
            hex::encode(sha1::Sha1::digest(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }

    #[test]
    fn a_refresh_changes_only_what_it_must_and_writes_botocores_time_format() {
        let c = Cached::parse(br#"{"startUrl":"https://x/start","region":"us-east-1","accessToken":"OLD","expiresAt":"2026-12-07T10:00:00Z","clientId":"cid","clientSecret":"cs","registrationExpiresAt":"2027-03-01T00:00:00Z","refreshToken":"RT1","extra":1}"#).unwrap();
        let at = parse_time("2026-12-07T18:00:00Z").unwrap();
        let r = c.refreshed("NEW", at, Some("RT2"));
        assert_eq!(r.0["accessToken"], "NEW");
        assert_eq!(r.0["expiresAt"], "2026-12-07T18:00:00Z");
        assert_eq!(r.0["refreshToken"], "RT2");
        assert_eq!(r.0["extra"], 1);
        assert_eq!(r.0["registrationExpiresAt"], "2027-03-01T00:00:00Z");
        assert_eq!(c.refreshed("N", at, None).0["refreshToken"], "RT1");
        assert!(!format!("{c:?}").contains("RT1"), "no secret in Debug");
        assert_eq!(parse_time("2026-12-07T18:00:00UTC"), None);
        assert_eq!(parse_time("2026-12-07T18:00:00"), Some(at));
    }
}
