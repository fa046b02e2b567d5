//! A Kerberos ticket-granting ticket, kept alive with MIT Kerberos itself.
//!
//! The ticket's times come from its credential cache file ([`ccache`]);
//! renewing is `kinit -R`, and a new ticket is `kinit -k -t KEYTAB` (a
//! keytab, as k5start does) or `kinit` with the password the user types
//! (`evergreen login NAME`, the window's Log in), handed to it on standard
//! input and kept nowhere. kinit's own words (its standard error) are the
//! failure's. A ticket is renewable only until its renew-till: that end is
//! shown from the first look, and reaching it is `final` unless a keytab can
//! start a new ticket.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use super::{Failure, FailureClass, Limit, Observation, RenewRequest, Renewed, Source};
use crate::clock::{rfc3339, unix_millis};
use crate::command::{self, Extra};
use crate::config::CommandSpec;
use crate::kind::Kind;
use crate::login::Answer;
use crate::model::{CertDetails, DetailLabels, DetailRow, HardEnd, Lifetime};
use secrecy::ExposeSecret;

mod ccache;
mod def;
mod discover;

pub use def::{KerberosSpec, KIND};

/// How long kinit may take (a KDC that does not answer).
const KINIT_TIMEOUT: Duration = Duration::from_secs(60);

/// What a cache name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CacheKind {
    /// `FILE:path`, or a bare path.
    File(PathBuf),
    /// `DIR:dir`: a collection whose `primary` file names the cache.
    Dir(PathBuf),
}

/// Reads a cache name; the types Evergreen cannot read are refused with
/// what to use instead.
pub(crate) fn cache_kind(name: &str) -> Result<CacheKind, String> {
    let (kind, rest) = match name.split_once(':') {
        Some((k, r)) if !k.contains('/') => (k, r),
        _ => ("FILE", name),
    };
    match kind {
        "FILE" if !rest.is_empty() => Ok(CacheKind::File(PathBuf::from(rest))),
        "DIR" if rest.starts_with(':') => Ok(CacheKind::File(PathBuf::from(&rest[1..]))),
        "DIR" if !rest.is_empty() => Ok(CacheKind::Dir(PathBuf::from(rest))),
        "FILE" | "DIR" => Err(format!("{name:?} names no file")),
        other => Err(format!(
            "{other}: caches are not files Evergreen can read; use a FILE: or DIR: cache (set default_ccache_name = FILE:/tmp/krb5cc_%{{uid}} in krb5.conf, or KRB5CCNAME)"
        )),
    }
}

/// The cache name to use: the configured one, else `KRB5CCNAME` of the
/// engine, else MIT's default file.
fn cache_name(configured: Option<&str>) -> String {
    configured.map(str::to_string).unwrap_or_else(|| {
        std::env::var("KRB5CCNAME")
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| format!("FILE:/tmp/krb5cc_{}", rustix::process::getuid().as_raw()))
    })
}

/// The file holding the cache named (or defaulted) by `configured`.
pub(crate) fn cache_file(configured: Option<&str>) -> Result<PathBuf, String> {
    match cache_kind(&cache_name(configured))? {
        CacheKind::File(p) => Ok(p),
        CacheKind::Dir(d) => {
            let primary = std::fs::read_to_string(d.join("primary"))
                .map_err(|e| format!("the cache collection {} has no primary cache ({e})", d.display()))?;
            let file = primary.trim();
            if file.is_empty() || file.contains('/') || file.starts_with('.') {
                return Err(format!("{} names no cache file", d.join("primary").display()));
            }
            Ok(d.join(file))
        }
    }
}

#[derive(Debug)]
pub struct Kerberos {
    name: String,
    spec: KerberosSpec,
}

impl Kerberos {
    pub fn new(name: &str, spec: KerberosSpec) -> Self {
        Kerberos {
            name: name.to_string(),
            spec,
        }
    }

    fn cache(&self) -> String {
        cache_name(self.spec.cache.as_deref())
    }

    fn ask(&self) -> String {
        let who = self.spec.principal.as_deref().unwrap_or("YOU@REALM");
        format!(
            "log in: `evergreen login {}`, Log in in Evergreen's window, or `kinit {who}`",
            self.name
        )
    }

    fn read(&self) -> Result<ccache::Tgt, Failure> {
        use std::io::Read;
        let path = cache_file(self.spec.cache.as_deref()).map_err(Failure::paused)?;
        let mut bytes = Vec::new();
        match std::fs::File::open(&path) {
            Ok(f) => f.take(ccache::MAX_FILE + 1).read_to_end(&mut bytes).map(|_| ()),
            Err(e) => Err(e),
        }
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                if self.spec.keytab.is_some() {
                    Failure::absent(format!(
                        "there is no ticket in {}; Evergreen gets one from the keytab now",
                        path.display()
                    ))
                } else {
                    Failure::paused(format!("there is no ticket in {}; {}", path.display(), self.ask()))
                }
            } else {
                Failure::transient(format!("could not read the credential cache {}: {e}", path.display()))
            }
        })?;
        if bytes.len() as u64 > ccache::MAX_FILE {
            return Err(Failure::transient(format!(
                "{} is larger than any credential cache",
                path.display()
            )));
        }
        ccache::tgt(&bytes).map_err(|e| match self.spec.keytab {
            Some(_) => Failure::absent(format!(
                "{}: {e}; Evergreen gets a ticket from the keytab now",
                path.display()
            )),
            None => Failure::paused(format!("{}: {e}", path.display())),
        })
    }

    fn observation(&self, t: &ccache::Tgt) -> Result<Observation, Failure> {
        let lifetime = Lifetime {
            not_before: t.start,
            not_after: t.end,
        };
        lifetime
            .check()
            .map_err(|e| Failure::transient(format!("the ticket's times: {e}")))?;
        let keytab = self.spec.keytab.is_some();
        let limit = match t.renew_till {
            _ if keytab => None,
            None => Some(Limit::NotRenewable {
                reason: format!(
                    "the ticket is not renewable (the KDC gave it no renewable life); it ends at {}. {}, asking for a renewable ticket (kinit -r 7d)",
                    rfc3339(t.end),
                    self.ask()
                ),
            }),
            Some(till) if till <= t.end + Duration::from_secs(1) => Some(Limit::Final),
            Some(_) => None,
        };
        let hard_end = t.renew_till.map(|till| HardEnd {
            at: unix_millis(till),
            what: "Renewable until".into(),
            then: if keytab {
                "then Evergreen gets a new ticket from the keytab".into()
            } else {
                format!("then a new login is needed: {}", self.ask())
            },
            needs_you: !keytab,
        });
        let mut more = vec![DetailRow {
            label: "Realm".into(),
            value: t.client.realm.clone(),
            at: None,
        }];
        if let Some(till) = t.renew_till {
            more.push(DetailRow {
                label: "Renewable until".into(),
                value: String::new(),
                at: Some(unix_millis(till)),
            });
        }
        Ok(Observation {
            details: Some(CertDetails {
                subject: t.client.to_string(),
                issuer: t.server.to_string(),
                serial: self.cache(),
                sha256: t.flag_words(),
                sans: Vec::new(),
                labels: DetailLabels::of(
                    "Kerberos ticket",
                    ["Principal", "Other names", "Ticket for", "Cache", "Flags"],
                ),
                more,
            }),
            limit,
            hard_end,
            ..Observation::of(lifetime)
        })
    }

    /// Runs kinit with `args` (and `-c CACHE`), `input` on its standard input.
    async fn kinit(&self, args: &[String], input: Option<&[u8]>, withheld: &[String]) -> Result<(), Failure> {
        let mut argv = vec!["kinit".to_string()];
        argv.extend_from_slice(args);
        argv.extend(["-c".to_string(), self.cache()]);
        let config = self.spec.krb5_config.as_ref().map(|p| p.as_os_str());
        let env: Vec<(&str, &std::ffi::OsStr)> = config.into_iter().map(|c| ("KRB5_CONFIG", c)).collect();
        let file = cache_file(self.spec.cache.as_deref()).unwrap_or_default();
        let out = command::run_with(
            &CommandSpec::Argv(argv),
            &self.name,
            &file,
            KINIT_TIMEOUT,
            withheld,
            &Extra {
                env: &env,
                stdin: input,
                ..Extra::default()
            },
        )
        .await;
        if out.success {
            return Ok(());
        }
        // kinit's last line is its reason: "kinit: Ticket expired while renewing credentials".
        let reason = out
            .stderr_tail
            .as_deref()
            .and_then(|t| t.lines().rev().find(|l| !l.trim().is_empty()))
            .map(|l| format!(": {}", l.trim()))
            .unwrap_or_default();
        Err(Failure {
            class: FailureClass::Transient,
            message: format!("kinit failed ({}){reason}", out.summary),
            stderr_tail: out.stderr_tail,
        })
    }

    /// Arguments asking for a new ticket's lifetimes.
    fn lifetimes(&self) -> Vec<String> {
        let mut a = Vec::new();
        if let Some(l) = self.spec.lifetime {
            a.extend(["-l".to_string(), format!("{}s", l.as_secs())]);
        }
        a.extend(["-r".to_string(), format!("{}s", self.spec.renewable_life.as_secs())]);
        a
    }

    /// A new ticket from the keytab.
    async fn ticket_from_keytab(&self, withheld: &[String]) -> Result<ccache::Tgt, Failure> {
        let (Some(keytab), Some(principal)) = (&self.spec.keytab, &self.spec.principal) else {
            return Err(Failure::paused(format!(
                "no keytab to get a new ticket from; {}",
                self.ask()
            )));
        };
        let meta = std::fs::metadata(keytab)
            .map_err(|e| Failure::paused(format!("could not read the keytab {}: {e}", keytab.display())))?;
        if let Some(problem) = crate::fsutil::exposed_secret(&meta, "keytab", keytab) {
            return Err(Failure::paused(problem));
        }
        let mut args = vec!["-k".to_string(), "-t".to_string(), keytab.display().to_string()];
        args.extend(self.lifetimes());
        args.push(principal.clone());
        self.kinit(&args, None, withheld).await?;
        self.read()
    }

    /// Logs in with the password the user typed (never kept).
    pub async fn log_in(&self, answer: Answer) -> Result<String, Failure> {
        let Answer::Password { username, password } = answer else {
            return Err(Failure::paused("a Kerberos login takes a password"));
        };
        let principal = username
            .or_else(|| self.spec.principal.clone())
            .or_else(|| self.read().ok().map(|t| t.client.to_string()))
            .ok_or_else(|| Failure::paused("no principal to log in as; give one (or set principal in the config)"))?;
        if principal.starts_with('-') || principal.contains(char::is_whitespace) {
            return Err(Failure::paused(format!("{principal:?} is not a Kerberos principal")));
        }
        let mut args = self.lifetimes();
        args.push(principal.clone());
        let mut input = zeroize::Zeroizing::new(password.expose_secret().as_bytes().to_vec());
        input.push(b'\n');
        self.kinit(&args, Some(&input), &[]).await?;
        let t = self.read()?;
        Ok(format!(
            "logged in as {principal}; the ticket is valid until {}{}",
            rfc3339(t.end),
            t.renew_till
                .map(|r| format!(" and renewable until {}", rfc3339(r)))
                .unwrap_or_default()
        ))
    }
}

#[async_trait]
impl Source for Kerberos {
    fn kind(&self) -> Kind {
        KIND
    }

    fn can_renew(&self) -> bool {
        true
    }

    async fn observe(&self, _now: SystemTime) -> Result<Observation, Failure> {
        let t = self.read()?;
        self.observation(&t)
    }

    async fn renew(&self, req: RenewRequest) -> Result<Renewed, Failure> {
        let before = self.read();
        let renewable =
            matches!(&before, Ok(t) if t.renew_till.is_some_and(|r| r > t.end + Duration::from_secs(1) && r > req.now));
        let (after, note) = match before {
            Ok(t) if renewable => {
                // Renewed twice within a second, a ticket keeps its times: a
                // new ticket (and session key) in the file is what tells.
                let file = cache_file(self.spec.cache.as_deref()).ok();
                let before_bytes = file.as_ref().and_then(|f| std::fs::read(f).ok());
                self.kinit(&["-R".to_string()], None, &req.withheld).await?;
                let after = self.read()?;
                let changed = file.as_ref().and_then(|f| std::fs::read(f).ok()) != before_bytes;
                if !changed || after.end < t.end {
                    return Err(Failure::transient(format!(
                        "kinit -R exited 0 but the cache still holds a ticket ending at {}; Evergreen will try again",
                        rfc3339(after.end)
                    )));
                }
                (after, String::new())
            }
            _ if self.spec.keytab.is_some() => (
                self.ticket_from_keytab(&req.withheld).await?,
                "a new ticket from the keytab".to_string(),
            ),
            Ok(t) => {
                return Err(Failure {
                    class: FailureClass::NotRenewable,
                    message: format!(
                        "the ticket can be renewed no further (renewable until {}); {}",
                        t.renew_till.map(rfc3339).unwrap_or_else(|| "never".into()),
                        self.ask()
                    ),
                    stderr_tail: None,
                })
            }
            Err(f) => return Err(f),
        };
        Ok(Renewed {
            observation: self.observation(&after)?,
            note,
        })
    }
}

/// Bytes as a credential cache file.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz(data: &[u8]) {
    if let Ok(t) = ccache::tgt(data) {
        let _ = t.flag_words();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_names_are_files_directories_or_refused_with_the_fix() {
        assert_eq!(
            cache_kind("FILE:/tmp/krb5cc_1000"),
            Ok(CacheKind::File("/tmp/krb5cc_1000".into()))
        );
        assert_eq!(cache_kind("/tmp/krb5cc_7"), Ok(CacheKind::File("/tmp/krb5cc_7".into())));
        assert_eq!(
            cache_kind("DIR:/run/user/1000/krb5cc"),
            Ok(CacheKind::Dir("/run/user/1000/krb5cc".into()))
        );
        assert_eq!(
            cache_kind("DIR::/run/k/tkt1"),
            Ok(CacheKind::File("/run/k/tkt1".into()))
        );
        let e = cache_kind("KEYRING:persistent:1000").unwrap_err();
        assert!(
            e.contains("KEYRING: caches are not files") && e.contains("default_ccache_name"),
            "{e}"
        );
        assert!(cache_kind("FILE:").is_err());
    }

    #[test]
    fn a_collections_primary_names_its_cache() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("primary"), "tktAbC\n").unwrap();
        let name = format!("DIR:{}", d.path().display());
        assert_eq!(cache_file(Some(&name)).unwrap(), d.path().join("tktAbC"));
        std::fs::write(d.path().join("primary"), "../../etc/passwd").unwrap();
        assert!(cache_file(Some(&name)).is_err());
    }
}
