//! Sources: the kinds of credential Evergreen can read and renew, and the
//! registry of them.
//!
//! A source knows how to observe one credential (what is its lifetime now?)
//! and how to renew it. It knows nothing about scheduling, retries, state or
//! who is watching; the scheduler owns all of that, the same way for every
//! kind.

pub mod vault;

// The registry: a kind is its module (its `KIND`: fields, facts,
// validation, source) plus its two lines here. docs/architecture.md has
// the recipe.
pub mod aws_sso;
pub mod certctl;
pub mod expiry_command;
pub mod gpg_key;
pub mod kerberos;
pub mod kubeconfig;
pub mod nixfleet;
pub mod oauth;
pub mod ssh_cert;
pub mod vault_pki;
pub mod vault_token;
pub mod wrenn;
pub mod x509_file;

/// Every kind, in the order the window lists them.
pub const KINDS: &[Kind] = &[
    x509_file::KIND,
    vault_token::KIND,
    vault_pki::KIND,
    ssh_cert::KIND,
    kerberos::KIND,
    oauth::KIND,
    kubeconfig::KIND,
    aws_sso::KIND,
    gpg_key::KIND,
    expiry_command::KIND,
    nixfleet::KIND,
    wrenn::KIND,
    certctl::KIND,
];

/// Builds the source for a configured credential.
pub fn build(cfg: &CredentialConfig) -> Arc<dyn Source> {
    cfg.spec.build(&cfg.name)
}

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::config::CredentialConfig;
use crate::model::{CertDetails, HardEnd, Kind, Lifetime};

/// An id a server sent (`what`) that Evergreen puts into a file name or a
/// URL path: plain letters, digits, '-', '_' and '.', not hidden, not long.
pub(crate) fn safe_id<'a>(what: &str, id: &'a str) -> Result<&'a str, String> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(id)
    } else {
        Err(format!(
            "the server's {what} {:?} is not a plain id (letters, digits, '-', '_', '.'); Evergreen does not put it into a path or URL",
            crate::http::one_line(id, 80)
        ))
    }
}

/// What a source saw when it looked at its credential.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub lifetime: Lifetime,
    pub details: Option<CertDetails>,
    /// Set when the server has said this lifetime cannot be extended.
    pub limit: Option<Limit>,
    /// When the certificate of whoever issued it expires, where known (a
    /// chain in the file or the reply): a lifetime capped there can only be
    /// extended by a new CA certificate.
    pub issuer_not_after: Option<SystemTime>,
    /// An end renewals cannot pass, known ahead (see [`HardEnd`]).
    pub hard_end: Option<HardEnd>,
}

impl Observation {
    /// A lifetime with no limit and no certificate details.
    pub fn of(lifetime: Lifetime) -> Self {
        Observation {
            lifetime,
            details: None,
            limit: None,
            issuer_not_after: None,
            hard_end: None,
        }
    }

    /// What a certificate file (leaf first, then its chain) says.
    pub fn of_cert(file: &crate::x509::CertFile) -> Self {
        let leaf = file.leaf();
        let issuer_not_after = file.issuer().map(|i| i.lifetime.not_after);
        Observation {
            lifetime: leaf.lifetime,
            details: Some(leaf.details.clone()),
            limit: None,
            issuer_not_after,
            hard_end: issuer_not_after.and_then(|ca| ca_end(&leaf.lifetime, ca)),
        }
    }
}

/// The issuing CA's expiry as a hard end, when it falls within the leaf's
/// next lifetime: a renewal at the usual point gets a certificate capped
/// there (or none), and only a new CA certificate helps.
pub fn ca_end(leaf: &Lifetime, ca_not_after: SystemTime) -> Option<HardEnd> {
    let span = leaf.not_after.duration_since(leaf.not_before).unwrap_or_default();
    let next_end = leaf.not_after.checked_add(span)?;
    (ca_not_after < next_end).then(|| HardEnd {
        at: crate::clock::unix_millis(ca_not_after),
        what: "The issuing CA's certificate expires".into(),
        then: "no certificate it signs can outlive it, so a new CA certificate is needed before then".into(),
        needs_you: true,
    })
}

impl Observation {
    /// Sets the hard end.
    pub fn ending(mut self, end: Option<HardEnd>) -> Self {
        self.hard_end = end;
        self
    }
}

/// Why a credential that is still valid will not be renewed again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Limit {
    /// Renewals are capped by a maximum lifetime that has been reached: the
    /// credential expires at its not_after and only a new login helps.
    Final,
    /// The server says it is not renewable at all.
    NotRenewable { reason: String },
}

/// A successful renewal.
#[derive(Debug, Clone, PartialEq)]
pub struct Renewed {
    pub observation: Observation,
    /// Anything worth saying beside "renewed" (e.g. the reload command failed).
    pub note: String,
}

/// A heartbeat the control plane accepted.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Beat {
    /// Set when the heartbeat led to new credentials (a refresh after a 401).
    pub observation: Option<Observation>,
    /// The control plane has work for this credential (certctl's poll found
    /// jobs): the scheduler renews it now, and the renewal does the work.
    pub renew: bool,
}

/// How a source reports in to its control plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// Time between heartbeats; the first goes out at start.
    pub every: Duration,
    /// After this many network failures in a row the credential shows
    /// `paused` (heartbeats go on, and the next success recovers it).
    /// `None`: failures show as `failing` until a heartbeat works again.
    pub pause_after: Option<u32>,
}

/// How a failure should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// Try again later with backoff.
    Transient,
    /// Nothing there yet (a certificate Evergreen has not issued yet):
    /// renewing creates it, so this is not a failure when it can renew.
    Absent,
    /// The server retired this identity: stop for good.
    Retired,
    /// Stop until the user acts.
    Paused,
    /// The server will not renew it any more.
    NotRenewable,
    /// The server rejected the credential itself (expired or revoked):
    /// retrying cannot help, only a new one.
    Rejected,
}

/// A failed observation or renewal. The message names the credential's file
/// or URL, says what went wrong and what to do; it never contains a secret.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub class: FailureClass,
    pub message: String,
    pub stderr_tail: Option<String>,
}

impl Failure {
    pub fn new(class: FailureClass, message: impl Into<String>) -> Self {
        Failure {
            class,
            message: message.into(),
            stderr_tail: None,
        }
    }

    pub fn transient(message: impl Into<String>) -> Self {
        Failure::new(FailureClass::Transient, message)
    }

    /// Only the user can fix it (a token file, a setting).
    pub fn paused(message: impl Into<String>) -> Self {
        Failure::new(FailureClass::Paused, message)
    }

    /// Not there yet; a renewal makes it.
    pub fn absent(message: impl Into<String>) -> Self {
        Failure::new(FailureClass::Absent, message)
    }

    /// A job that panicked: a bug of Evergreen's, retried with backoff like
    /// any other failure so that one bad reply never wedges a credential.
    pub fn internal(credential: &str, doing: &str, panic: &(dyn std::any::Any + Send)) -> Self {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        let what: String = what.chars().take(200).collect();
        Failure::transient(format!(
            "internal error while {doing} {credential} ({what}); this is a bug in Evergreen, please report it. Evergreen retries with backoff"
        ))
    }
}

/// Facts the scheduler hands a source when it asks for a renewal.
#[derive(Debug, Clone)]
pub struct RenewRequest {
    /// The lifetime before renewing, if it was known.
    pub current: Option<Lifetime>,
    /// Asked for (by the user, or by the control plane through
    /// [`Beat::renew`]) rather than planned at a deadline.
    pub manual: bool,
    /// The scheduler's clock when the renewal started: what a reply is
    /// judged by (already expired?), so tests can move time.
    pub now: SystemTime,
    /// The environment variables the config reads secrets from: a command
    /// the renewal runs does not inherit them.
    pub withheld: Arc<[String]>,
}

#[async_trait]
pub trait Source: Send + Sync + std::fmt::Debug + 'static {
    fn kind(&self) -> Kind;

    /// Whether this credential can be renewed by Evergreen at all.
    fn can_renew(&self) -> bool;

    /// The shortest wait before a planned renewal (for Vault tokens: TTL/2,
    /// floored at 5 s, as certctl's Vault renewer does), so a tiny lifetime cannot make the engine spin.
    fn min_wait(&self) -> Duration {
        Duration::ZERO
    }

    /// While it waits for its user to log in again, how often to say so
    /// again; `None`: once is enough.
    fn remind_every(&self) -> Option<Duration> {
        None
    }

    /// Whether (and how often) this credential sends heartbeats.
    fn heartbeat(&self) -> Option<Heartbeat> {
        None
    }

    /// When the next heartbeat is due: `first` at start, else right after
    /// one finished at `now`. By default the first goes out at once, then
    /// one every [`Heartbeat::every`]; a source with its own timing (certctl:
    /// startup jitter, jittered ticks, backoff) plans it here.
    fn next_beat(&self, now: SystemTime, first: bool) -> Option<SystemTime> {
        self.heartbeat().map(|h| if first { now } else { now + h.every })
    }

    /// One heartbeat. Only called when [`Source::heartbeat`] says so.
    async fn beat(&self, _now: SystemTime) -> Result<Beat, Failure> {
        Ok(Beat::default())
    }

    /// Removes what an earlier run left half-written beside this credential's
    /// files (temporary files, a key and certificate generation never
    /// switched to). The scheduler runs it once, before the first look, and
    /// never while another job of the credential runs. Returns what it removed.
    fn tidy(&self) -> Vec<std::path::PathBuf> {
        Vec::new()
    }

    /// Reads the credential's current lifetime; `now` is the scheduler's
    /// clock (what "expired" is judged by).
    async fn observe(&self, now: SystemTime) -> Result<Observation, Failure>;

    /// [`Source::observe`] for a kind that runs a program to look (`gpg`, a
    /// user's expiry command): `withheld` are the variables that program
    /// must not inherit, as for a renewal.
    async fn observe_with(&self, now: SystemTime, _withheld: &[String]) -> Result<Observation, Failure> {
        self.observe(now).await
    }

    /// For a credential no file change announces (an expiry a command
    /// reports): how often to look again.
    fn look_every(&self) -> Option<Duration> {
        None
    }

    /// Renews the credential. Succeeds only if the new lifetime was verified.
    async fn renew(&self, req: RenewRequest) -> Result<Renewed, Failure>;
}

/// The commands of a credential renewed by the user's own.
pub(crate) struct ByCommand<'a> {
    pub renew: &'a crate::config::CommandSpec,
    pub reload: Option<&'a crate::config::CommandSpec>,
    pub timeout: Duration,
}

/// A renewal by the user's own command (x509_file, kubeconfig): run it on
/// `target`, read the credential again with `read`, and count it only when
/// the file changed and still reads; then the reload command, whose failure
/// is a note, not a failed renewal. `writes` says what the command should
/// write, for the message when it wrote nothing.
pub(crate) async fn renew_by_command(
    name: &str,
    by: ByCommand<'_>,
    target: &std::path::Path,
    req: &RenewRequest,
    writes: &str,
    read: impl Fn() -> Result<Observation, Failure>,
) -> Result<Renewed, Failure> {
    let ByCommand { renew, reload, timeout } = by;
    let out = crate::command::renew_file(renew, name, target, timeout, &req.withheld).await?;
    let obs = read().map_err(|f| Failure {
        message: format!(
            "renew command exited 0 but the certificate is not readable afterwards: {}",
            f.message
        ),
        stderr_tail: out.stderr_tail.clone(),
        ..f
    })?;
    // A certificate that expires earlier than before is accepted: a CA
    // may shorten lifetimes. Whether it is capped is the scheduler's call.
    if !out.changed {
        return Err(Failure {
            class: FailureClass::Transient,
            message: format!(
                "renew command exited 0 but the certificate did not change (not_after still {}); check that the command writes {writes}",
                crate::clock::rfc3339(obs.lifetime.not_after),
            ),
            stderr_tail: out.stderr_tail,
        });
    }
    let note = crate::command::reload(reload, name, target, timeout, &req.withheld).await;
    Ok(Renewed { observation: obs, note })
}

/// Makes the source for a configured credential; the engine uses [`build`],
/// tests may hand the scheduler their own.
pub type SourceFactory = Arc<dyn Fn(&CredentialConfig) -> Arc<dyn Source> + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issuer_that_ends_within_the_next_lifetime_is_a_hard_end() {
        let at = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + s);
        let leaf = Lifetime {
            not_before: at(0),
            not_after: at(3600),
        };
        // The next certificate would end at 7200: a CA ending before then caps it.
        let end = ca_end(&leaf, at(7000)).expect("a hard end");
        assert_eq!(end.at, crate::clock::unix_millis(at(7000)));
        assert!(end.what.contains("CA") && end.needs_you, "{end:?}");
        assert_eq!(ca_end(&leaf, at(7200)), None);
        assert_eq!(ca_end(&leaf, at(86_400 * 365)), None);
    }

    #[test]
    fn server_ids_must_be_plain() {
        assert!(safe_id("id", "mc-web.1_a").is_ok());
        for bad in ["", "..", ".hidden", "a/b", "../../etc/passwd", "a b", "a?b", "a%2fb"] {
            assert!(safe_id("id", bad).is_err(), "{bad}");
        }
        assert!(safe_id("id", &"a".repeat(129)).is_err());
    }
}
