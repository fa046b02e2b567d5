//! Which events deserve a desktop notification, deduplicated and persisted.
//!
//! Pure policy lives in [`decide`]: it maps an event to a notification with a
//! stable dedupe key (credential / what / episode or threshold). The
//! [`Notifier`] adds memory: a key is delivered once, ever, because sent keys
//! are stored, so a restart never repeats a notification; and the user can
//! pause notifications for a while. Delivery (notify-rust, a log line) is the
//! face's job.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::clock::{from_unix_millis, rfc3339, short_duration, unix_millis};
use crate::events::{Event, EventKind};
use crate::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Low,
    Normal,
    Critical,
}

/// Buttons a notification offers where the server supports actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyAction {
    RenewNow,
    Open,
    /// Log in again: the credential's login program in a terminal, or its
    /// Log in form in the window.
    LogIn,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub key: String,
    pub credential: Option<String>,
    pub title: String,
    pub body: String,
    pub urgency: Urgency,
    pub actions: Vec<NotifyAction>,
}

const META_PAUSED_UNTIL: &str = "notifications_paused_until";

/// The notification an event deserves, if any.
pub fn decide(ev: &Event) -> Option<Notification> {
    if let EventKind::StillOffline { since, waiting } = &ev.kind {
        let spell = Duration::from_millis(ev.at.saturating_sub(*since).max(0) as u64);
        return Some(Notification {
            key: format!("offline/{since}"),
            credential: None,
            title: "Evergreen has no network".into(),
            body: format!(
                "There has been no route off this machine for {}; {waiting} credential(s) wait for it and renew as soon as the network is back.",
                short_duration(spell)
            ),
            urgency: Urgency::Normal,
            actions: vec![NotifyAction::Open],
        });
    }
    let c = ev.credential.clone()?;
    let t = |ms: i64| rfc3339(from_unix_millis(ms));
    let n = |key: String, title: String, body: String, urgency: Urgency, actions: Vec<NotifyAction>| Notification {
        key,
        credential: Some(c.clone()),
        title,
        body,
        urgency,
        actions,
    };
    use NotifyAction::{LogIn, Open, RenewNow};
    Some(match &ev.kind {
        // Offline is nobody's fault: it waits for the network quietly.
        EventKind::RenewalFailed { offline: true, .. } => return None,
        EventKind::RenewalFailed {
            message,
            streak: 1,
            since,
            next_retry_at,
            ..
        } => n(
            format!("{c}/failed/{since}"),
            format!("{c}: renewal failed"),
            match next_retry_at {
                Some(at) => format!("{message}\nEvergreen retries at {}.", t(*at)),
                None => message.clone(),
            },
            Urgency::Normal,
            vec![RenewNow, Open],
        ),
        EventKind::RenewalFailed {
            message,
            streak: 3,
            since,
            ..
        } => n(
            format!("{c}/failing3/{since}"),
            format!("{c}: renewal failed 3 times in a row"),
            format!("{message}\nEvergreen keeps retrying with backoff; the credential needs attention."),
            Urgency::Critical,
            vec![RenewNow, Open],
        ),
        EventKind::Recovered { after_failures, since } => n(
            format!("{c}/recovered/{since}"),
            format!("{c}: renewed again"),
            format!("Renewal works again after {after_failures} failed attempt(s)."),
            Urgency::Low,
            vec![Open],
        ),
        EventKind::ExpiryApproaching {
            threshold_secs,
            not_after,
            advice,
            login,
        } => n(
            format!("{c}/expiry/{threshold_secs}/{not_after}"),
            format!(
                "{c} expires within {}",
                short_duration(Duration::from_secs(*threshold_secs))
            ),
            match advice {
                Some(how) => format!("Valid until {}. To extend it: {how}.", t(*not_after)),
                None => format!("Valid until {}. Renew it before then.", t(*not_after)),
            },
            if *threshold_secs <= 3600 {
                Urgency::Critical
            } else {
                Urgency::Normal
            },
            if *login {
                vec![LogIn, Open]
            } else {
                vec![RenewNow, Open]
            },
        ),
        EventKind::StillWaitsForYou { reason, .. } => n(
            format!("{c}/still/{}", ev.at),
            format!("{c} still needs you"),
            reason.clone(),
            Urgency::Normal,
            vec![LogIn, Open],
        ),
        EventKind::HardEndAhead { at, what, then } => n(
            format!("{c}/hard_end/{at}"),
            format!("{c}: renewals end at {}", t(*at)),
            format!("{what} {}: {then}.", t(*at)),
            Urgency::Normal,
            vec![Open],
        ),
        EventKind::Expired { not_after } => n(
            format!("{c}/expired/{not_after}"),
            format!("{c} has expired"),
            format!(
                "It stopped being valid at {}. Anything that uses it will fail until it is renewed.",
                t(*not_after)
            ),
            Urgency::Critical,
            vec![RenewNow, Open],
        ),
        EventKind::Retired { reason } => n(
            format!("{c}/retired"),
            format!("{c} was retired"),
            format!("{reason}\nEvergreen stopped renewing it; it needs a new registration."),
            Urgency::Critical,
            vec![Open],
        ),
        EventKind::Paused { reason } => n(
            format!("{c}/paused/{}", ev.at),
            format!("{c} is paused"),
            reason.clone(),
            Urgency::Critical,
            vec![Open],
        ),
        EventKind::NotRenewable { reason } => n(
            format!("{c}/not_renewable"),
            format!("{c} can no longer be renewed"),
            format!("{reason}\nIt will expire; only a new login helps."),
            Urgency::Normal,
            vec![Open],
        ),
        EventKind::Final { expires_at } => n(
            format!("{c}/final/{expires_at}"),
            format!("{c} reached its maximum lifetime"),
            format!("It will expire for good at {}; only a new login helps.", t(*expires_at)),
            Urgency::Normal,
            vec![Open],
        ),
        EventKind::Capped { reason, since, .. } => n(
            format!("{c}/capped/{since}"),
            format!("{c}: renewed, but capped by its issuer"),
            format!("{reason}."),
            Urgency::Normal,
            vec![Open],
        ),
        EventKind::Rejected { reason } => n(
            format!("{c}/rejected/{}", ev.at),
            format!("{c} was rejected by the server"),
            format!("{reason}\nEvergreen stopped renewing it; log in again to get a new one."),
            Urgency::Critical,
            vec![LogIn, Open],
        ),
        _ => return None,
    })
}

/// [`decide`] plus persistent dedupe and a pause switch.
#[derive(Debug, Clone)]
pub struct Notifier {
    store: Arc<Store>,
    /// At most one failure and one recovery notification per credential
    /// in this window: a credential that flaps is told once, with a count.
    flap_window: Duration,
}

/// The default [`Notifier`] flap window.
pub const DEFAULT_FLAP_WINDOW: Duration = Duration::from_secs(3600);

impl Notifier {
    pub fn new(store: Arc<Store>) -> Self {
        Notifier {
            store,
            flap_window: DEFAULT_FLAP_WINDOW,
        }
    }

    /// The same, telling a flapping credential's failures and recoveries at
    /// most once per `window`.
    pub fn with_flap_window(self, window: Duration) -> Self {
        Notifier {
            flap_window: window,
            ..self
        }
    }

    /// The notification to deliver for `ev`, or `None` when it deserves none,
    /// was delivered before, or notifications are paused.
    pub fn consider(&self, ev: &Event) -> Option<Notification> {
        let mut n = decide(ev)?;
        let c = ev.credential.as_deref().unwrap_or_default();
        if let EventKind::Recovered { since, .. } = &ev.kind {
            // "Renewed again" only makes sense to someone who was told it failed.
            if !self.store.was_notified(&format!("{c}/failed/{since}")).unwrap_or(false) {
                return None;
            }
        }
        if self.paused_until().is_some_and(|until| from_unix_millis(ev.at) < until) {
            return None;
        }
        if !self.past_flapping(c, ev, &mut n) {
            return None;
        }
        match self.store.mark_notified(&n.key, ev.at) {
            Ok(true) => Some(n),
            Ok(false) => None,
            Err(e) => {
                tracing::warn!("notification dedupe unavailable ({e}); delivering anyway");
                Some(n)
            }
        }
    }

    /// Whether a failure or recovery notification may go out: the first of
    /// its sort for this credential in the flap window goes, the others are
    /// counted, and the next failure told says how many there were.
    fn past_flapping(&self, c: &str, ev: &Event, n: &mut Notification) -> bool {
        let sort = match &ev.kind {
            EventKind::RenewalFailed { streak: 1, .. } => "failed",
            EventKind::Recovered { .. } => "recovered",
            _ => return true,
        };
        let window = i64::try_from(self.flap_window.as_millis()).unwrap_or(i64::MAX);
        let last = self.store.last_notified(&format!("{c}/{sort}/")).unwrap_or(None);
        let within = last.is_some_and(|at| ev.at.saturating_sub(at) < window);
        if sort != "failed" {
            return !within;
        }
        let counter = format!("flaps/{c}");
        let flaps: u64 = self
            .store
            .get_meta(&counter)
            .ok()
            .flatten()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if within {
            if let Err(e) = self.store.set_meta(&counter, &(flaps + 1).to_string()) {
                tracing::error!("could not count a failure of {c} kept quiet (the next notice will not say it): {e}");
            }
            return false;
        }
        if flaps > 0 {
            n.title = format!("{c}: renewal failed again");
            n.body = format!(
                "{}\nIt also failed {flaps} more time(s) within {} of the last notice, recovering in between; those were not announced one by one.",
                n.body,
                short_duration(self.flap_window)
            );
            if let Err(e) = self.store.set_meta(&counter, "0") {
                tracing::error!(
                    "could not reset the count of {c}'s quiet failures (the next notice may count them again): {e}"
                );
            }
        }
        true
    }

    /// Silences notifications until `now + for_`.
    pub fn pause(&self, now: SystemTime, for_: Duration) -> crate::Result<SystemTime> {
        let until = now + for_;
        self.store
            .set_meta(META_PAUSED_UNTIL, &unix_millis(until).to_string())?;
        Ok(until)
    }

    pub fn resume(&self) -> crate::Result<()> {
        self.store.set_meta(META_PAUSED_UNTIL, "0")
    }

    pub fn paused_until(&self) -> Option<SystemTime> {
        let v = self.store.get_meta(META_PAUSED_UNTIL).ok()??;
        let ms: i64 = v.parse().ok()?;
        (ms > 0).then(|| from_unix_millis(ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: EventKind) -> Event {
        Event {
            at: 1_000,
            credential: Some("web".into()),
            kind,
        }
    }

    #[test]
    fn a_credential_retired_paused_or_no_longer_renewable_is_notified_with_its_reason() {
        let retired = decide(&ev(EventKind::Retired {
            reason: "the control plane retired this machine".into(),
        }))
        .unwrap();
        assert_eq!(retired.title, "web was retired");
        assert!(
            retired.body.starts_with("the control plane retired this machine\n"),
            "{}",
            retired.body
        );
        assert_eq!(
            (retired.key.as_str(), retired.urgency),
            ("web/retired", Urgency::Critical)
        );
        let paused = decide(&ev(EventKind::Paused {
            reason: "no one-time token".into(),
        }))
        .unwrap();
        assert_eq!(
            (paused.title.as_str(), paused.body.as_str()),
            ("web is paused", "no one-time token")
        );
        assert_eq!(paused.key, "web/paused/1000");
        let ended = decide(&ev(EventKind::NotRenewable {
            reason: "the token is not renewable".into(),
        }))
        .unwrap();
        assert_eq!(ended.title, "web can no longer be renewed");
        assert!(ended.body.contains("only a new login helps"), "{}", ended.body);
        // Retired and not renewable are said once for good; each pause is its own.
        let store = Arc::new(Store::open_in_memory().unwrap());
        let n = Notifier::new(store);
        let again = |k: EventKind| n.consider(&ev(k)).is_some();
        assert!(again(EventKind::Retired { reason: "r".into() }));
        assert!(!again(EventKind::Retired { reason: "r".into() }));
        assert!(again(EventKind::NotRenewable { reason: "r".into() }));
        assert!(!again(EventKind::NotRenewable { reason: "r".into() }));
    }

    #[test]
    fn first_failure_third_failure_recovery_and_expiry_are_notified() {
        let fail = |streak| {
            ev(EventKind::RenewalFailed {
                message: "boom".into(),
                streak,
                since: 5,
                next_retry_at: Some(9),
                offline: false,
            })
        };
        assert_eq!(decide(&fail(1)).unwrap().key, "web/failed/5");
        assert!(decide(&fail(2)).is_none(), "the second failure is not news");
        assert_eq!(decide(&fail(3)).unwrap().urgency, Urgency::Critical);
        assert!(decide(&fail(4)).is_none());
        assert!(decide(&ev(EventKind::ExpiryApproaching {
            threshold_secs: 86_400,
            not_after: 7,
            advice: None,
            login: false,
        }))
        .unwrap()
        .title
        .contains("1d"));
        let advised = decide(&ev(EventKind::ExpiryApproaching {
            threshold_secs: 86_400,
            not_after: 7,
            advice: Some("gpg --quick-set-expire ABCD 1y".into()),
            login: false,
        }))
        .unwrap();
        assert!(
            advised.body.contains("To extend it: gpg --quick-set-expire ABCD 1y"),
            "{advised:?}"
        );
        let login = decide(&ev(EventKind::ExpiryApproaching {
            threshold_secs: 86_400,
            not_after: 7,
            advice: None,
            login: true,
        }))
        .unwrap();
        assert_eq!(
            login.actions,
            vec![NotifyAction::LogIn, NotifyAction::Open],
            "{login:?}"
        );
        assert!(decide(&ev(EventKind::Observed {
            not_after: 1,
            remaining_fraction: 0.5
        }))
        .is_none());
        assert!(decide(&Event {
            credential: None,
            ..ev(EventKind::Expired { not_after: 1 })
        })
        .is_none());
        let body = decide(&fail(1)).unwrap().body;
        assert!(body.contains("boom") && body.contains("retries at"), "{body}");
    }

    /// A credential that fails and recovers every few minutes: one failure
    /// and one recovery notice per window, and the next failure after the
    /// window says how many went unannounced.
    #[test]
    fn a_flapping_credential_is_told_once_per_window_with_a_count() {
        let n = Notifier::new(Arc::new(Store::open_in_memory().unwrap()));
        let min = 60_000;
        let at = |ms: i64, kind| Event {
            at: ms,
            credential: Some("web".into()),
            kind,
        };
        let mut told = Vec::new();
        // Every 5 minutes a failure run starts, and ends a minute later.
        for i in 0..12 {
            let since = i * 5 * min;
            let failed = at(
                since,
                EventKind::RenewalFailed {
                    message: "connection refused".into(),
                    streak: 1,
                    since,
                    next_retry_at: None,
                    offline: false,
                },
            );
            let recovered = at(
                since + min,
                EventKind::Recovered {
                    after_failures: 1,
                    since,
                },
            );
            told.extend(n.consider(&failed));
            told.extend(n.consider(&recovered));
        }
        let titles: Vec<&str> = told.iter().map(|t| t.title.as_str()).collect();
        assert_eq!(titles, ["web: renewal failed", "web: renewed again"], "within the hour");
        // An hour after the first notice, the next failure is told, with the count.
        let next = at(
            60 * min,
            EventKind::RenewalFailed {
                message: "connection refused".into(),
                streak: 1,
                since: 60 * min,
                next_retry_at: None,
                offline: false,
            },
        );
        let told = n.consider(&next).expect("a new window, a new notice");
        assert!(told.body.contains("11 more time(s)"), "{}", told.body);
        let recovered = at(
            61 * min,
            EventKind::Recovered {
                after_failures: 1,
                since: 60 * min,
            },
        );
        assert!(n.consider(&recovered).is_some(), "and its recovery");
    }

    #[test]
    fn a_capped_episode_is_announced_once_whatever_its_expiries() {
        let n = Notifier::new(Arc::new(Store::open_in_memory().unwrap()));
        let capped = |not_after, next_try_at| {
            ev(EventKind::Capped {
                reason: "the issuer gave a certificate valid only until …, already past its renewal point".into(),
                not_after,
                next_try_at,
                since: 7,
            })
        };
        let first = n.consider(&capped(100, 200)).expect("the first capped renewal is news");
        assert_eq!(first.key, "web/capped/7");
        assert!(first.title.contains("capped by its issuer"), "{}", first.title);
        assert!(first.body.contains("already past its renewal point"), "{}", first.body);
        // each later try of the same episode brings a new expiry, and no news
        assert!(n.consider(&capped(300, 400)).is_none());
        assert!(n.consider(&capped(500, 600)).is_none());
    }

    #[test]
    fn a_hard_end_ahead_is_notified_once_per_end() {
        let n = decide(&ev(EventKind::HardEndAhead {
            at: 1_800_000_000_000,
            what: "The issuing CA's certificate expires".into(),
            then: "a new CA certificate is needed before then".into(),
        }))
        .expect("a notification");
        assert_eq!(n.key, "web/hard_end/1800000000000");
        assert!(n.title.contains("renewals end at"), "{}", n.title);
        assert!(
            n.body.starts_with("The issuing CA's certificate expires 2027-"),
            "{}",
            n.body
        );
    }

    #[test]
    fn dedupe_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let e = ev(EventKind::Expired { not_after: 42 });
        {
            let n = Notifier::new(Arc::new(Store::open(&path).unwrap()));
            assert!(n.consider(&e).is_some());
            assert!(n.consider(&e).is_none());
        }
        let n = Notifier::new(Arc::new(Store::open(&path).unwrap()));
        assert!(n.consider(&e).is_none(), "a restart must not repeat it");
        // a new certificate expiring is a new notification
        assert!(n.consider(&ev(EventKind::Expired { not_after: 43 })).is_some());
    }

    #[test]
    fn recovery_is_only_announced_after_an_announced_failure() {
        let n = Notifier::new(Arc::new(Store::open_in_memory().unwrap()));
        let rec = ev(EventKind::Recovered {
            after_failures: 1,
            since: 5,
        });
        assert!(n.consider(&rec).is_none());
        n.consider(&ev(EventKind::RenewalFailed {
            message: "x".into(),
            streak: 1,
            since: 5,
            next_retry_at: None,
            offline: false,
        }))
        .unwrap();
        assert!(n.consider(&rec).is_some());
    }

    #[test]
    fn pause_silences_until_it_ends() {
        let n = Notifier::new(Arc::new(Store::open_in_memory().unwrap()));
        let now = from_unix_millis(1_000);
        n.pause(now, Duration::from_secs(3600)).unwrap();
        assert!(n.consider(&ev(EventKind::Expired { not_after: 1 })).is_none());
        let later = Event {
            at: 1_000 + 3_600_001,
            ..ev(EventKind::Expired { not_after: 2 })
        };
        assert!(n.consider(&later).is_some());
    }
}
