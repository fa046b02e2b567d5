//! The credential model every face shows: kinds, lifetimes, lifecycle states
//! and the status snapshot of one credential.
//!
//! These types are what the UI, the CLI's `--json` and the store see, so they
//! are plain serde data: timestamps are Unix milliseconds, and nothing here
//! ever holds a secret.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::clock::{from_unix_millis, unix_millis};

pub use crate::kind::Kind;

/// The validity window of a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    pub not_before: SystemTime,
    pub not_after: SystemTime,
}

impl Lifetime {
    /// `(not_after − now) / (not_after − not_before)`, clamped to [0, 1].
    /// A degenerate window (not_after ≤ not_before) counts as fully spent.
    pub fn remaining_fraction(&self, now: SystemTime) -> f64 {
        let Ok(total) = self.not_after.duration_since(self.not_before) else {
            return 0.0;
        };
        if total.is_zero() {
            return 0.0;
        }
        match self.not_after.duration_since(now) {
            Ok(left) => (left.as_secs_f64() / total.as_secs_f64()).clamp(0.0, 1.0),
            Err(_) => 0.0,
        }
    }

    pub fn is_expired(&self, now: SystemTime) -> bool {
        now >= self.not_after
    }

    /// Whether both ends lie in the range any real credential can have
    /// (X.509's own: from 1950, and to the end of 9999; an expiry before 1970
    /// is absurd too). A server or a file can send anything; a time outside
    /// this range is refused at the edge, so the scheduler's arithmetic on
    /// lifetimes can never overflow.
    pub fn check(&self) -> std::result::Result<(), String> {
        let secs = |t: SystemTime| match t.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => i128::from(d.as_secs()),
            Err(e) => -i128::from(e.duration().as_secs()),
        };
        let latest = i128::from(LATEST_TIME_SECS);
        for (what, t, earliest, range) in [
            ("not_before", self.not_before, EARLIEST_TIME_SECS, "1950 to 9999"),
            ("not_after", self.not_after, 0, "1970 to 9999"),
        ] {
            let s = secs(t);
            if s < i128::from(earliest) || s > latest {
                return Err(format!(
                    "its {what} ({}) is outside the years {range}",
                    crate::clock::rfc3339(t)
                ));
            }
        }
        Ok(())
    }
}

/// 9999-12-31T23:59:59Z, the latest time an X.509 certificate can name.
pub const LATEST_TIME_SECS: u64 = 253_402_300_799;
/// 1950-01-01T00:00:00Z, the earliest.
pub const EARLIEST_TIME_SECS: i64 = -631_152_000;

/// Lifecycle state of a credential, as the tray and the UI show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    /// Valid and not yet at its renewal point.
    Healthy,
    /// Past its renewal point; a renewal is about to run (or nothing can renew it).
    Due,
    /// A renewal is running now.
    Renewing,
    /// The last `streak` renewals failed; the next try is at `next_retry_at`.
    /// `offline`: the last one failed while the machine had no network, so
    /// it waits for the network, quietly.
    Failing {
        streak: u32,
        next_retry_at: i64,
        #[serde(default)]
        offline: bool,
    },
    /// Past not_after.
    Expired,
    /// Stopped until the user acts (a refresh failed, or the server is unreachable).
    Paused { reason: String },
    /// The server retired this identity; terminal, never retried.
    Retired { reason: String },
    /// The server will not renew this credential any more.
    NotRenewable,
    /// Capped by a maximum lifetime: it will expire at `expires_at` and only a new login helps.
    Final { expires_at: i64 },
    /// The last renewal worked but its issuer capped the new lifetime (it was
    /// already past its renewal point, or expires no later than before):
    /// Evergreen does not renew it again before `next_try_at`, so a capping
    /// CA is never hammered. `reason` says what the issuer did and what helps.
    Capped { reason: String, next_try_at: i64 },
    /// Turned off in the config.
    Disabled,
}

impl State {
    /// Every state's [`State::name`], in the order the metrics list them.
    pub const NAMES: [&'static str; 11] = [
        "healthy",
        "due",
        "renewing",
        "failing",
        "expired",
        "paused",
        "retired",
        "not_renewable",
        "final",
        "capped",
        "disabled",
    ];

    pub fn name(&self) -> &'static str {
        match self {
            State::Healthy => "healthy",
            State::Due => "due",
            State::Renewing => "renewing",
            State::Failing { .. } => "failing",
            State::Expired => "expired",
            State::Paused { .. } => "paused",
            State::Retired { .. } => "retired",
            State::NotRenewable => "not_renewable",
            State::Final { .. } => "final",
            State::Capped { .. } => "capped",
            State::Disabled => "disabled",
        }
    }

    /// The coarse health the tray icon shows.
    pub fn health(&self) -> Health {
        match self {
            State::Healthy | State::Disabled => Health::Healthy,
            State::Due | State::Renewing | State::Final { .. } | State::NotRenewable | State::Capped { .. } => {
                Health::Attention
            }
            State::Failing { offline: true, .. } => Health::Attention,
            State::Failing { .. } | State::Expired => Health::Failing,
            State::Paused { .. } | State::Retired { .. } => Health::Stopped,
        }
    }

    /// States the engine will not leave by itself: no renewals are attempted.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            State::Retired { .. } | State::Paused { .. } | State::NotRenewable | State::Disabled
        )
    }

    /// The state in the words every face shows (the window capitalises
    /// the first letter): "failing (3 in a row)".
    pub fn label(&self) -> String {
        match self {
            State::Healthy => "healthy".into(),
            State::Due => "due for renewal".into(),
            State::Renewing => "renewing".into(),
            State::Failing { offline: true, .. } => "offline — waiting for the network".into(),
            State::Failing { streak, .. } if *streak > 1 => format!("failing ({streak} in a row)"),
            State::Failing { .. } => "failing".into(),
            State::Expired => "expired".into(),
            State::Paused { .. } => "paused".into(),
            State::Retired { .. } => "retired".into(),
            State::NotRenewable => "not renewable".into(),
            State::Final { .. } => "final — cannot be extended".into(),
            State::Capped { .. } => "capped by its issuer".into(),
            State::Disabled => "disabled".into(),
        }
    }

    /// Terminal states that a change of the credential's files (a new login,
    /// a fixed token file) can end: Evergreen looks again and starts over.
    pub fn ends_with_new_files(&self) -> bool {
        matches!(
            self,
            State::Paused { .. } | State::NotRenewable | State::Final { .. } | State::Expired
        )
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Coarse health, ordered from best to worst; the tray shows the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Healthy,
    Attention,
    Stopped,
    Failing,
}

/// Public facts about a certificate, for the detail view. An SSH
/// certificate fills the same places with its own facts: its key ID as the
/// subject, its principals as the names, its CA's key fingerprint as the
/// issuer, its key's SHA-256 fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CertDetails {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub sha256: String,
    pub sans: Vec<String>,
    /// What the faces call the places above, in the kind's own words.
    #[serde(default)]
    pub labels: DetailLabels,
    /// More facts, in the order shown (an SSH certificate's type, its
    /// extensions, whether ssh-agent holds it).
    #[serde(default)]
    pub more: Vec<DetailRow>,
}

/// The words for [`CertDetails`]' places: an X.509 certificate's by
/// default, a kind's own otherwise (an SSH certificate's key ID and
/// principals, a Kerberos ticket's principal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DetailLabels {
    /// The panel's heading: "Certificate".
    pub title: String,
    pub subject: String,
    pub names: String,
    pub issuer: String,
    pub serial: String,
    pub fingerprint: String,
    /// Serial and fingerprint are hexadecimal (shown grouped, copyable).
    pub hex: bool,
}

impl DetailLabels {
    /// A kind's own words; its values are shown as they are.
    pub fn of(title: &str, [subject, names, issuer, serial, fingerprint]: [&str; 5]) -> Self {
        DetailLabels {
            title: title.into(),
            subject: subject.into(),
            names: names.into(),
            issuer: issuer.into(),
            serial: serial.into(),
            fingerprint: fingerprint.into(),
            hex: false,
        }
    }
}

impl Default for DetailLabels {
    fn default() -> Self {
        DetailLabels {
            hex: true,
            ..DetailLabels::of(
                "Certificate",
                ["Subject", "Alternative names", "Issuer", "Serial", "SHA-256"],
            )
        }
    }
}

/// One more fact of a certificate: a label, its value, and a time the faces
/// write in their own way (Unix ms) after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DetailRow {
    pub label: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub at: Option<i64>,
}

/// The outcome of the most recent renewal attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LastResult {
    /// When the attempt finished (Unix ms).
    pub at: i64,
    pub ok: bool,
    /// What happened, in words; for a failure, what went wrong and what to do.
    pub message: String,
    pub duration_ms: u64,
    /// The tail of a renew command's stderr, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub stderr_tail: Option<String>,
    /// What the source said beside "renewed" (a reload that failed, a capped
    /// TTL, a deployment), without the engine's own words: the window writes
    /// its own sentence around it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub note: Option<String>,
}

/// Failures in a row (reads or renewals) and when the run began. Kept with
/// the status across restarts: a credential still failing after one is the
/// same episode, not a new one to announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Streak {
    pub failures: u32,
    /// Unix milliseconds.
    pub since: i64,
}

/// How many renewals ended how, since the credential was configured (kept
/// in the store across restarts; the counters of `evergreen_renewals_total`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RenewalCounts {
    /// Renewed in full.
    pub success: u64,
    pub failure: u64,
    /// Renewals (or start-up checks) that found the server would not renew it.
    pub not_renewable: u64,
    /// Renewed, but the server gave back too short a lifetime (capped).
    #[serde(default)]
    pub capped: u64,
}

/// How many heartbeats the control plane took or missed, since the engine
/// started running the credential (fleet kinds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HeartbeatCounts {
    pub success: u64,
    pub failure: u64,
}

/// What the engine will do next for a credential, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NextAction {
    pub at: i64,
    pub what: Next,
}

/// What happens at a [`NextAction`]'s instant. Each face phrases it (the
/// CLI with [`Next::words`]); the aliases read what earlier versions stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Next {
    /// A renewal runs now.
    #[serde(alias = "renewing now")]
    RenewingNow,
    /// The failed renewal is tried again.
    #[serde(alias = "retry renewal")]
    RetryRenewal,
    /// A credential that could not be read is read again.
    #[serde(alias = "read again")]
    ReadAgain,
    /// The planned renewal.
    Renew,
    /// A capped credential is renewed again, no sooner.
    #[serde(alias = "renew again (capped)")]
    RenewAgain,
    /// It expires, and Evergreen only watches it: renew it by hand.
    #[serde(alias = "expires (renew by hand)")]
    ExpiresUnlessRenewedByHand,
    /// It expires for good: only a new login helps.
    #[serde(alias = "expires for good (log in again)")]
    ExpiresForGood,
    /// It expires, and the server will not renew it.
    #[serde(alias = "expires (cannot be renewed)")]
    ExpiresNotRenewable,
    /// The next heartbeat.
    Heartbeat,
}

impl Next {
    /// The CLI's words: "retry renewal", "expires (renew by hand)".
    pub fn words(self) -> &'static str {
        match self {
            Next::RenewingNow => "renewing now",
            Next::RetryRenewal => "retry renewal",
            Next::ReadAgain => "read again",
            Next::Renew => "renew",
            Next::RenewAgain => "renew again (capped)",
            Next::ExpiresUnlessRenewedByHand => "expires (renew by hand)",
            Next::ExpiresForGood => "expires for good (log in again)",
            Next::ExpiresNotRenewable => "expires (cannot be renewed)",
            Next::Heartbeat => "heartbeat",
        }
    }
}

/// What the user can do with a credential now. The engine decides it from
/// the kind's facts and the state, so the window, the tray and the CLI
/// offer the same things and keep no rule of their own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Offers {
    /// Renew now: Evergreen can renew it and its state lets a renewal run
    /// (not paused, retired, final, not renewable or disabled).
    pub renew: bool,
    /// A renewal helps now (due, expired, or failing while online): the
    /// button stands out.
    pub renew_helps: bool,
    /// Pause (it runs) or Resume (the user paused it); neither when it is
    /// stopped for another reason.
    pub pause: Option<PauseOffer>,
    /// Re-register with a new one-time token of this name ("registration
    /// token"): a kind that enrols, retired or paused by its server.
    pub reregister: Option<String>,
    /// Why Renew now is not offered, when it is not: what the engine
    /// answers a renewal asked for anyway.
    pub renew_refused: Option<String>,
}

/// The pause control a credential offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PauseOffer {
    Pause,
    Resume,
}

impl Offers {
    /// What a credential of `kind` in `state` offers.
    pub fn of(kind: Kind, state: &State, can_renew: bool, user_paused: bool) -> Offers {
        let stopped = matches!(
            state,
            State::Paused { .. } | State::Retired { .. } | State::NotRenewable | State::Disabled | State::Final { .. }
        );
        let enrols = kind.facts().enrolment.map(|e| e.token.to_string());
        let renew_refused = if !can_renew {
            Some("Evergreen only watches it: nothing in its settings renews it".to_string())
        } else if stopped {
            Some(format!("it is {}", state.label()))
        } else {
            None
        };
        Offers {
            renew_refused,
            renew: can_renew && !stopped,
            renew_helps: can_renew
                && matches!(
                    state,
                    State::Due | State::Expired | State::Failing { offline: false, .. }
                ),
            pause: if user_paused {
                Some(PauseOffer::Resume)
            } else {
                (!stopped).then_some(PauseOffer::Pause)
            },
            reregister: enrols.filter(|_| {
                matches!(state, State::Retired { .. }) || matches!(state, State::Paused { .. }) && !user_paused
            }),
        }
    }
}

/// Everything the faces show about one credential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CredentialStatus {
    pub name: String,
    pub kind: Kind,
    #[serde(flatten)]
    pub state: State,
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
    /// Remaining validity in [0, 1] at `updated_at`.
    pub remaining_fraction: Option<f64>,
    /// The (jittered) instant the next renewal is planned for.
    pub renew_at: Option<i64>,
    pub next_action: Option<NextAction>,
    pub last_result: Option<LastResult>,
    pub details: Option<CertDetails>,
    /// Whether Evergreen can renew it (an x509 file without a renew command cannot).
    pub can_renew: bool,
    /// Why the credential could not be read, when it could not.
    pub problem: Option<String>,
    #[serde(default)]
    pub renewals: RenewalCounts,
    #[serde(default)]
    pub heartbeats: HeartbeatCounts,
    /// The kind in words: "Vault token".
    #[serde(default)]
    pub kind_label: String,
    /// The state in words, as every face shows it: "failing (3 in a row)".
    #[serde(default)]
    pub state_label: String,
    /// Whether its registration lives on heartbeats (so "no heartbeat yet" means something).
    #[serde(default)]
    pub has_heartbeats: bool,
    /// What the user can do with it now.
    #[serde(default)]
    pub offers: Offers,
    /// When the control plane last accepted a heartbeat (fleet kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub last_heartbeat: Option<i64>,
    /// Paused by the user (Resume ends it), as opposed to by the server or the engine.
    #[serde(default)]
    pub user_paused: bool,
    /// When the user's pause ends on its own (Unix ms); none for a pause until resumed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub paused_until: Option<i64>,
    /// When a renewal last succeeded (Unix ms), capped or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub last_renewed_at: Option<i64>,
    /// The failures in a row now, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub failure_streak: Option<Streak>,
    /// An end renewals cannot pass, when one is known ahead: a token's
    /// maximum TTL, the issuing CA's own expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub hard_end: Option<HardEnd>,
    /// How the user logs it in, when it asks them to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub login: Option<LoginPrompt>,
    pub updated_at: i64,
}

/// What logging in to a credential asks of its user (`evergreen login
/// NAME`, the window's Log in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LoginPrompt {
    /// "userpass", "ldap", "oidc".
    pub method: String,
    /// The user name from the config; asked for when there is none.
    pub username: Option<String>,
    /// The login happens in a browser (no password is typed here).
    pub browser: bool,
    /// The login is a program the user runs in a terminal (`aws sso login
    /// --sso-session work`): its argv. `evergreen login` runs it in the
    /// foreground; the window opens a terminal for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub command: Option<Vec<String>>,
}

impl LoginPrompt {
    /// A login by the program `argv`, run in a terminal.
    pub fn command(method: &str, argv: Vec<String>) -> LoginPrompt {
        LoginPrompt {
            method: method.into(),
            username: None,
            browser: false,
            command: Some(argv),
        }
    }
}

/// An end renewals cannot pass. The faces write `what`, the time, then
/// `then`: "Renewable until 14:32, then a new login is needed".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HardEnd {
    /// Unix ms.
    pub at: i64,
    pub what: String,
    pub then: String,
    /// Only the user can move it (a new CA certificate, a login Evergreen
    /// cannot make): worth a notification ahead.
    pub needs_you: bool,
}

impl CredentialStatus {
    pub fn new(name: impl Into<String>, kind: Kind, now: SystemTime) -> Self {
        CredentialStatus {
            name: name.into(),
            kind,
            state: State::Due,
            not_before: None,
            not_after: None,
            remaining_fraction: None,
            renew_at: None,
            next_action: None,
            last_result: None,
            details: None,
            can_renew: false,
            problem: None,
            renewals: RenewalCounts::default(),
            heartbeats: HeartbeatCounts::default(),
            last_heartbeat: None,
            user_paused: false,
            paused_until: None,
            last_renewed_at: None,
            failure_streak: None,
            hard_end: None,
            login: None,
            updated_at: unix_millis(now),
            kind_label: String::new(),
            state_label: String::new(),
            has_heartbeats: false,
            offers: Offers::default(),
        }
        .decided()
    }

    /// The status with what the engine decides for the faces (words,
    /// offers) made true to its kind, state and settings again: called
    /// whenever any of these changes, before the status is shown.
    pub fn decided(mut self) -> Self {
        self.decide();
        self
    }

    /// [`CredentialStatus::decided`], in place.
    pub fn decide(&mut self) {
        self.kind_label = self.kind.label().to_string();
        self.state_label = self.state.label();
        self.has_heartbeats = self.kind.facts().heartbeats;
        self.offers = Offers::of(self.kind, &self.state, self.can_renew, self.user_paused);
    }

    pub fn lifetime(&self) -> Option<Lifetime> {
        Some(Lifetime {
            not_before: from_unix_millis(self.not_before?),
            not_after: from_unix_millis(self.not_after?),
        })
    }

    /// The fraction recomputed for `now` (the stored one is as of `updated_at`).
    pub fn remaining_at(&self, now: SystemTime) -> Option<f64> {
        self.lifetime().map(|l| l.remaining_fraction(now))
    }
}

/// Everything a dashboard needs at once: what the tray app's window renders,
/// pushed after every engine change and served over the local socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Snapshot {
    pub credentials: Vec<CredentialStatus>,
    /// Engine wall clock when the snapshot was taken (Unix ms).
    pub now: i64,
    pub worst: Health,
    pub notifications_paused_until: Option<i64>,
    pub demo: bool,
    pub config_path: String,
    /// Why no engine runs the config, when none does (shown as a banner).
    pub config_problem: Option<String>,
    /// Why the history is not being saved, when it is not (a full disk):
    /// renewals go on, and what happens waits in memory meanwhile.
    pub store_problem: Option<String>,
}

impl Snapshot {
    /// The credentials of a running engine.
    pub fn of(
        credentials: Vec<CredentialStatus>,
        now: SystemTime,
        notifications_paused_until: Option<SystemTime>,
        demo: bool,
        config_path: &std::path::Path,
    ) -> Snapshot {
        let worst = credentials
            .iter()
            .map(|c| c.state.health())
            .max()
            .unwrap_or(Health::Healthy);
        Snapshot {
            credentials,
            now: unix_millis(now),
            worst,
            notifications_paused_until: notifications_paused_until.filter(|t| *t > now).map(unix_millis),
            demo,
            config_path: config_path.display().to_string(),
            config_problem: None,
            store_problem: None,
        }
    }

    /// No engine runs, for this reason (a broken config, most often).
    pub fn without_engine(now: SystemTime, config_path: &std::path::Path, problem: String) -> Snapshot {
        Snapshot {
            credentials: Vec::new(),
            now: unix_millis(now),
            worst: Health::Failing,
            notifications_paused_until: None,
            demo: false,
            config_path: config_path.display().to_string(),
            config_problem: Some(problem),
            store_problem: None,
        }
    }
}

/// One line about a set of credentials, as the tray tooltip shows it:
/// "4 credentials, next renewal in 3 h" or "demo-web failing, 3 credentials".
pub fn summary(credentials: &[CredentialStatus], now: SystemTime) -> String {
    let n = credentials.len();
    let count = format!("{n} credential{}", if n == 1 { "" } else { "s" });
    if n == 0 {
        return "no credentials yet".into();
    }
    let worst = credentials.iter().max_by_key(|c| c.state.health());
    if let Some(w) = worst.filter(|w| w.state.health() > Health::Attention) {
        let others = credentials
            .iter()
            .filter(|c| c.state.health() == w.state.health())
            .count()
            - 1;
        let more = if others > 0 {
            format!(" (+{others} more)")
        } else {
            String::new()
        };
        return format!("{} {}{more}; {count}", w.name, w.state.name().replace('_', " "));
    }
    let now_ms = unix_millis(now);
    let next = credentials
        .iter()
        .filter_map(|c| c.renew_at.filter(|_| c.can_renew && !c.state.is_terminal()))
        .min();
    match next {
        Some(at) if at > now_ms => format!(
            "{count}, next renewal in {}",
            crate::clock::short_duration(std::time::Duration::from_millis((at - now_ms) as u64))
        ),
        Some(_) => format!("{count}, renewing now"),
        None => format!("{count}, nothing to renew"),
    }
}

#[cfg(test)]
mod tests {
    use crate::kind::roles;

    #[test]
    fn every_state_has_the_words_every_face_shows() {
        let failing = |streak, offline| State::Failing {
            streak,
            next_retry_at: 0,
            offline,
        };
        let r = || "x".to_string();
        for (s, words) in [
            (State::Healthy, "healthy"),
            (State::Due, "due for renewal"),
            (State::Renewing, "renewing"),
            (failing(3, false), "failing (3 in a row)"),
            (failing(1, false), "failing"),
            (failing(4, true), "offline — waiting for the network"),
            (State::Expired, "expired"),
            (State::Paused { reason: r() }, "paused"),
            (State::Retired { reason: r() }, "retired"),
            (State::NotRenewable, "not renewable"),
            (State::Final { expires_at: 0 }, "final — cannot be extended"),
            (
                State::Capped {
                    reason: r(),
                    next_try_at: 0,
                },
                "capped by its issuer",
            ),
            (State::Disabled, "disabled"),
        ] {
            assert_eq!(s.label(), words);
        }
    }

    #[test]
    fn offers_follow_the_state_and_the_kinds_facts() {
        let x509 = roles::plain();
        let r = || "r".to_string();
        let failing = State::Failing {
            streak: 1,
            next_retry_at: 0,
            offline: false,
        };
        // Renew now: renewable and not stopped; the engine refuses a paused one, whoever paused it.
        assert!(Offers::of(x509, &State::Healthy, true, false).renew);
        assert!(!Offers::of(x509, &State::Healthy, false, false).renew);
        for s in [
            State::Retired { reason: r() },
            State::Disabled,
            State::NotRenewable,
            State::Final { expires_at: 0 },
            State::Paused { reason: r() },
        ] {
            assert!(!Offers::of(x509, &s, true, false).renew, "{s:?}");
            assert!(!Offers::of(x509, &s, true, true).renew, "{s:?}");
        }
        assert!(Offers::of(x509, &State::Healthy, true, false).renew_refused.is_none());
        assert!(Offers::of(x509, &State::NotRenewable, true, false)
            .renew_refused
            .is_some_and(|w| w.contains("not renewable")));
        assert!(Offers::of(x509, &State::Healthy, false, false)
            .renew_refused
            .is_some_and(|w| w.contains("only watches")));
        assert!(Offers::of(x509, &failing, true, false).renew);
        assert!(Offers::of(x509, &State::Expired, true, false).renew);
        // It helps now where it is due, expired or failing while online.
        for (s, helps) in [
            (State::Due, true),
            (State::Expired, true),
            (failing.clone(), true),
            (
                State::Failing {
                    streak: 1,
                    next_retry_at: 0,
                    offline: true,
                },
                false,
            ),
            (State::Healthy, false),
        ] {
            assert_eq!(Offers::of(x509, &s, true, false).renew_helps, helps, "{s:?}");
        }
        // Re-registration: a kind that enrols, retired or paused by its server.
        let rereg = |k: Kind, s: &State, user: bool| Offers::of(k, s, true, user).reregister;
        let (host, machine, agent) = (roles::beats_and_enrols(), roles::enrols_only(), roles::beats_only());
        let token = |k: Kind| k.facts().enrolment.map(|e| e.token.to_string());
        assert_eq!(rereg(host, &State::Retired { reason: r() }, false), token(host));
        assert!(rereg(host, &State::Paused { reason: r() }, false).is_some());
        assert!(rereg(host, &State::Paused { reason: r() }, true).is_none());
        assert!(rereg(host, &State::Healthy, false).is_none());
        assert_eq!(rereg(machine, &State::Retired { reason: r() }, false), token(machine));
        assert!(rereg(agent, &State::Paused { reason: r() }, false).is_none());
        // Resume only when the user paused it; Pause only while it runs.
        assert_eq!(
            Offers::of(x509, &State::Paused { reason: r() }, true, true).pause,
            Some(PauseOffer::Resume)
        );
        assert_eq!(
            Offers::of(x509, &State::Paused { reason: r() }, true, false).pause,
            None
        );
        for s in [State::Healthy, State::Due, State::Renewing, failing, State::Expired] {
            assert_eq!(
                Offers::of(x509, &s, true, false).pause,
                Some(PauseOffer::Pause),
                "{s:?}"
            );
        }
        for s in [
            State::Retired { reason: r() },
            State::NotRenewable,
            State::Disabled,
            State::Final { expires_at: 0 },
        ] {
            assert_eq!(Offers::of(x509, &s, true, false).pause, None, "{s:?}");
        }
    }

    #[test]
    fn a_status_carries_its_kinds_words_and_facts() {
        let now = SystemTime::UNIX_EPOCH;
        let host = roles::beats_and_enrols();
        let s = CredentialStatus::new("h", host, now);
        assert_eq!((s.kind_label.as_str(), s.has_heartbeats), (host.label(), true));
        let plain = roles::plain();
        let s = CredentialStatus::new("c", plain, now);
        assert_eq!((s.kind_label.as_str(), s.has_heartbeats), (plain.label(), false));
        assert_eq!(s.state_label, "due for renewal");
    }

    use super::*;
    use std::time::Duration;

    fn at(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(s)
    }

    #[test]
    fn remaining_fraction_is_linear_and_clamped() {
        let l = Lifetime {
            not_before: at(1000),
            not_after: at(2000),
        };
        assert_eq!(l.remaining_fraction(at(1000)), 1.0);
        assert!((l.remaining_fraction(at(1250)) - 0.75).abs() < 1e-9);
        assert_eq!(l.remaining_fraction(at(2000)), 0.0);
        assert_eq!(l.remaining_fraction(at(5000)), 0.0);
        assert_eq!(l.remaining_fraction(at(10)), 1.0);
    }

    #[test]
    fn absurd_lifetimes_are_refused_and_real_ones_kept() {
        let ok = Lifetime {
            not_before: SystemTime::UNIX_EPOCH - Duration::from_secs(10 * 365 * 86_400),
            not_after: at(LATEST_TIME_SECS),
        };
        assert_eq!(ok.check(), Ok(()));
        let far = Lifetime {
            not_before: at(0),
            not_after: at(u64::MAX / 2),
        };
        let why = far.check().unwrap_err();
        assert!(why.contains("not_after") && why.contains("past the year 9999"), "{why}");
        let early = Lifetime {
            not_before: at(0),
            not_after: SystemTime::UNIX_EPOCH - Duration::from_secs(1),
        };
        assert!(early.check().unwrap_err().contains("1970 to 9999"));
    }

    #[test]
    fn degenerate_lifetime_is_spent() {
        let l = Lifetime {
            not_before: at(2000),
            not_after: at(1000),
        };
        assert_eq!(l.remaining_fraction(at(1500)), 0.0);
        let l = Lifetime {
            not_before: at(1000),
            not_after: at(1000),
        };
        assert_eq!(l.remaining_fraction(at(500)), 0.0);
    }

    #[test]
    fn health_orders_worst_last() {
        assert!(Health::Failing > Health::Stopped);
        assert!(Health::Stopped > Health::Attention);
        assert_eq!(State::Expired.health(), Health::Failing);
        assert_eq!(State::Retired { reason: "x".into() }.health(), Health::Stopped);
    }

    #[test]
    fn summary_names_the_worst_or_the_next_renewal() {
        let now = at(1_000);
        let mut a = CredentialStatus::new("web", crate::kind::roles::plain(), now);
        a.state = State::Healthy;
        a.can_renew = true;
        a.renew_at = Some(unix_millis(at(1_000 + 3 * 3600)));
        let mut b = CredentialStatus::new("db", crate::kind::roles::another_plain(), now);
        b.state = State::Healthy;
        b.can_renew = true;
        b.renew_at = Some(unix_millis(at(1_000 + 5 * 3600)));
        assert_eq!(
            summary(&[a.clone(), b.clone()], now),
            "2 credentials, next renewal in 3h"
        );
        b.state = State::Failing {
            streak: 2,
            next_retry_at: 0,
            offline: false,
        };
        assert_eq!(summary(&[a.clone(), b.clone()], now), "db failing; 2 credentials");
        assert_eq!(summary(&[], now), "no credentials yet");
    }

    #[test]
    fn status_serializes_state_flat() {
        let mut s = CredentialStatus::new("web", crate::kind::roles::plain(), at(0));
        s.state = State::Failing {
            streak: 2,
            next_retry_at: 5,
            offline: false,
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["state"], "failing");
        assert_eq!(v["streak"], 2);
        assert_eq!(v["kind"], crate::kind::roles::plain().as_str());
        let back: CredentialStatus = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn a_snapshot_shows_the_worst_health_and_only_a_pause_still_running() {
        let now = at(1_000);
        let cfg = std::path::Path::new("evergreen/config.toml");
        let mut a = CredentialStatus::new("web", crate::kind::roles::plain(), now);
        a.state = State::Healthy;
        let mut b = CredentialStatus::new("db", crate::kind::roles::another_plain(), now);
        b.state = State::Expired;
        let snap = Snapshot::of(vec![a.clone(), b], now, Some(at(2_000)), true, cfg);
        assert_eq!(snap.worst, Health::Failing);
        assert_eq!(snap.notifications_paused_until, Some(unix_millis(at(2_000))));
        assert_eq!(snap.now, unix_millis(now));
        assert!(snap.demo && snap.config_problem.is_none());
        assert!(snap.config_path.ends_with("config.toml"));
        let over = Snapshot::of(vec![a], now, Some(at(999)), false, cfg);
        assert_eq!(over.worst, Health::Healthy);
        assert_eq!(over.notifications_paused_until, None, "a pause that ended is not shown");
        let none = Snapshot::without_engine(now, cfg, "config.toml:3:1: bad".into());
        assert_eq!(none.worst, Health::Failing, "no engine is never shown as healthy");
        assert!(none.credentials.is_empty() && !none.demo);
        assert_eq!(none.config_problem.as_deref(), Some("config.toml:3:1: bad"));
    }
}
