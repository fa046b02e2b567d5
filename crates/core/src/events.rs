//! Typed engine events on a broadcast channel.
//!
//! Every face (tray app, CLI, tests, the notifier) subscribes to the same
//! stream; the engine never knows who is watching. Events carry no secrets.

use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast;

/// Something that happened, to one credential or to the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Event {
    /// Unix milliseconds (engine wall clock).
    pub at: i64,
    /// The credential it concerns; `None` for engine-wide events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub credential: Option<String>,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// The engine started with these credentials.
    Started {
        credentials: usize,
    },
    /// The credential was (re)read and its lifetime is known.
    Observed {
        not_after: i64,
        remaining_fraction: f64,
    },
    /// The credential could not be read.
    ReadFailed {
        message: String,
    },
    StateChanged {
        from: String,
        to: String,
    },
    RenewalStarted {
        manual: bool,
    },
    RenewalSucceeded {
        old_not_after: Option<i64>,
        new_not_after: i64,
        duration_ms: u64,
        message: String,
    },
    /// `since` is when the current failure streak began (stable per episode).
    /// `offline`: the machine had no network; the failure waits for it
    /// quietly (no notification).
    RenewalFailed {
        message: String,
        streak: u32,
        since: i64,
        next_retry_at: Option<i64>,
        #[serde(default)]
        offline: bool,
    },
    /// Renewals work again after a failure streak that began at `since`.
    Recovered {
        after_failures: u32,
        since: i64,
    },
    /// Still stopped until the user logs in again, since `since`: said again
    /// at the kind's interval.
    StillWaitsForYou {
        reason: String,
        since: i64,
    },
    /// Renewals cannot pass `at` (a token's maximum TTL, the issuing CA's
    /// expiry), and only the user can move it: said once, when first known.
    HardEndAhead {
        at: i64,
        what: String,
        then: String,
    },
    /// Less than `threshold_secs` of validity is left.
    ExpiryApproaching {
        threshold_secs: u64,
        not_after: i64,
        /// What extends it, when only its user can and the kind knows how
        /// (a GPG key's `gpg --quick-set-expire …`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", ts(optional))]
        advice: Option<String>,
        /// Logging in gets a new one (its kind asks its user): the notice
        /// offers Log in.
        #[serde(default)]
        login: bool,
    },
    Expired {
        not_after: i64,
    },
    Retired {
        reason: String,
    },
    Paused {
        reason: String,
    },
    NotRenewable {
        reason: String,
    },
    Final {
        expires_at: i64,
    },
    /// A renewal worked but its issuer capped the new lifetime (ending at
    /// `not_after`); no automatic renewal before `next_try_at`. `since` is
    /// the first capped renewal in a row (stable per episode).
    Capped {
        reason: String,
        not_after: i64,
        next_try_at: i64,
        since: i64,
    },
    /// A heartbeat did not reach the control plane (`streak` in a row).
    HeartbeatFailed {
        message: String,
        streak: u32,
    },
    /// The server rejected the credential itself (expired early or revoked).
    Rejected {
        reason: String,
    },
    CredentialAdded,
    CredentialRemoved,
    ConfigReloaded {
        added: usize,
        removed: usize,
        changed: usize,
    },
    /// A config edit was rejected; the previous config keeps running.
    ConfigRejected {
        message: String,
    },
    /// Desktop notifications were silenced until `until` (Unix ms), or
    /// turned back on (`None`).
    NotificationsPaused {
        until: Option<i64>,
    },
    /// The machine woke up (or the wall clock jumped) and everything was re-checked.
    Resumed {
        slept_secs: u64,
        source: String,
    },
    /// The machine gained or lost its last route off itself.
    Network {
        online: bool,
    },
    /// The machine has had no network since `since` (Unix ms) for as long
    /// as `[engine] notify_offline_after` says, and `waiting` credentials
    /// wait for it: told once per offline spell.
    StillOffline {
        since: i64,
        waiting: usize,
    },
    Stopped,
}

impl EventKind {
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Started { .. } => "started",
            EventKind::Observed { .. } => "observed",
            EventKind::ReadFailed { .. } => "read_failed",
            EventKind::StateChanged { .. } => "state_changed",
            EventKind::RenewalStarted { .. } => "renewal_started",
            EventKind::RenewalSucceeded { .. } => "renewal_succeeded",
            EventKind::RenewalFailed { .. } => "renewal_failed",
            EventKind::Recovered { .. } => "recovered",
            EventKind::HardEndAhead { .. } => "hard_end_ahead",
            EventKind::StillWaitsForYou { .. } => "still_waits_for_you",
            EventKind::ExpiryApproaching { .. } => "expiry_approaching",
            EventKind::Expired { .. } => "expired",
            EventKind::Retired { .. } => "retired",
            EventKind::Paused { .. } => "paused",
            EventKind::NotRenewable { .. } => "not_renewable",
            EventKind::Final { .. } => "final",
            EventKind::Capped { .. } => "capped",
            EventKind::Rejected { .. } => "rejected",
            EventKind::HeartbeatFailed { .. } => "heartbeat_failed",
            EventKind::CredentialAdded => "credential_added",
            EventKind::CredentialRemoved => "credential_removed",
            EventKind::ConfigReloaded { .. } => "config_reloaded",
            EventKind::ConfigRejected { .. } => "config_rejected",
            EventKind::NotificationsPaused { .. } => "notifications_paused",
            EventKind::Resumed { .. } => "resumed",
            EventKind::Network { .. } => "network",
            EventKind::StillOffline { .. } => "still_offline",
            EventKind::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for Event {
    /// One readable line, as `evergreen run` prints it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::clock::{from_unix_millis, rfc3339, short_duration};
        let t = |ms: i64| rfc3339(from_unix_millis(ms));
        if let Some(c) = &self.credential {
            write!(f, "{c}: ")?;
        }
        match &self.kind {
            EventKind::Started { credentials } => write!(f, "engine started with {credentials} credential(s)"),
            EventKind::Observed {
                not_after,
                remaining_fraction,
            } => {
                write!(
                    f,
                    "valid until {} ({:.0} % left)",
                    t(*not_after),
                    remaining_fraction * 100.0
                )
            }
            EventKind::ReadFailed { message } => write!(f, "cannot read: {message}"),
            EventKind::StateChanged { from, to } => write!(f, "{from} → {to}"),
            EventKind::RenewalStarted { manual } => {
                write!(f, "renewing{}", if *manual { " (requested)" } else { "" })
            }
            EventKind::RenewalSucceeded {
                new_not_after,
                duration_ms,
                message,
                ..
            } => {
                write!(f, "renewed in {duration_ms} ms, now valid until {}", t(*new_not_after))?;
                if !message.is_empty() {
                    write!(f, " ({message})")?;
                }
                Ok(())
            }
            EventKind::RenewalFailed {
                message,
                streak,
                next_retry_at,
                offline,
                ..
            } => {
                if *offline {
                    // The message already says so ("offline: waiting for the network (…)").
                    write!(f, "{message}")?;
                } else {
                    write!(f, "renewal failed ({streak} in a row): {message}")?;
                }
                if let Some(n) = next_retry_at {
                    write!(f, "; retrying at {}", t(*n))?;
                }
                Ok(())
            }
            EventKind::Recovered { after_failures, .. } => {
                write!(f, "recovered after {after_failures} failed attempt(s)")
            }
            EventKind::StillWaitsForYou { reason, since } => {
                write!(f, "still waits for you since {}: {reason}", t(*since))
            }
            EventKind::HardEndAhead { at, what, then } => {
                write!(f, "{} {}, {then}", what.to_lowercase(), t(*at))
            }
            EventKind::ExpiryApproaching {
                threshold_secs,
                not_after,
                ..
            } => write!(
                f,
                "expires within {} (at {})",
                short_duration(std::time::Duration::from_secs(*threshold_secs)),
                t(*not_after)
            ),
            EventKind::Expired { not_after } => write!(f, "EXPIRED at {}", t(*not_after)),
            EventKind::Retired { reason } => write!(f, "retired: {reason}"),
            EventKind::Paused { reason } => write!(f, "paused: {reason}"),
            EventKind::NotRenewable { reason } => write!(f, "not renewable: {reason}"),
            EventKind::Capped {
                reason, next_try_at, ..
            } => {
                write!(f, "capped: {reason}; next automatic renewal at {}", t(*next_try_at))
            }
            EventKind::Final { expires_at } => {
                write!(
                    f,
                    "final: expires for good at {}; only a new login helps",
                    t(*expires_at)
                )
            }
            EventKind::Rejected { reason } => write!(f, "REJECTED by the server: {reason}"),
            EventKind::HeartbeatFailed { message, streak } => {
                write!(f, "heartbeat failed ({streak} in a row): {message}")
            }
            EventKind::CredentialAdded => write!(f, "added"),
            EventKind::CredentialRemoved => write!(f, "removed"),
            EventKind::ConfigReloaded {
                added,
                removed,
                changed,
            } => {
                write!(
                    f,
                    "config reloaded: {added} added, {removed} removed, {changed} changed"
                )
            }
            EventKind::ConfigRejected { message } => {
                write!(f, "config edit rejected, still running the previous config:\n{message}")
            }
            EventKind::NotificationsPaused { until: Some(until) } => {
                write!(f, "desktop notifications paused until {}", t(*until))
            }
            EventKind::NotificationsPaused { until: None } => write!(f, "desktop notifications on again"),
            EventKind::Resumed { slept_secs, source } => write!(
                f,
                "woke up after {} ({source}); re-checking every credential",
                short_duration(std::time::Duration::from_secs(*slept_secs))
            ),
            EventKind::Network { online: true } => write!(f, "the network is back; re-trying what failed"),
            EventKind::Network { online: false } => {
                write!(f, "offline: no route off this machine; failures wait for the network")
            }
            EventKind::StillOffline { since, waiting } => {
                write!(f, "no network since {}; {waiting} credential(s) wait for it", t(*since))
            }
            EventKind::Stopped => write!(f, "engine stopped"),
        }
    }
}

/// The sending half every engine part shares.
#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
    /// Held while a batch goes out and while a [`Follower`] drains, so a
    /// follower never sees part of a batch: what one scheduler step did is
    /// redrawn once, not once per event.
    batch: Arc<Mutex<()>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new(1024)
    }
}

impl EventBus {
    pub fn new(capacity: usize) -> Self {
        EventBus {
            tx: broadcast::channel(capacity).0,
            batch: Arc::default(),
        }
    }

    pub fn send(&self, e: Event) {
        self.send_all([e]);
    }

    /// Sends events as one batch: a follower gets all of them in one burst.
    pub fn send_all(&self, events: impl IntoIterator<Item = Event>) {
        let _batch = self.batch.lock().unwrap_or_else(|p| p.into_inner());
        for e in events {
            tracing::info!(target: "evergreen::event", event = e.kind.name(), credential = e.credential.as_deref().unwrap_or(""), "{e}");
            // No subscriber is fine: the engine runs whether or not anyone watches.
            let _ = self.tx.send(e);
        }
    }

    /// Every event, one at a time.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// Every event, in bursts of whole batches (for faces that redraw).
    pub fn follow(&self) -> Follower {
        Follower {
            rx: self.tx.subscribe(),
            batch: self.batch.clone(),
        }
    }
}

/// What a follower of the bus reads at once: one event awaited, then every
/// event already queued, so a burst (a reload, a wake-up) is redrawn once.
#[derive(Debug, Default)]
pub struct Burst {
    pub events: Vec<Event>,
    /// The engine stopped (its `Stopped` is the last event) or the bus closed:
    /// nothing more will come.
    pub ended: bool,
}

/// Reads the bus in [`Burst`]s; see [`EventBus::follow`].
#[derive(Debug)]
pub struct Follower {
    rx: broadcast::Receiver<Event>,
    batch: Arc<Mutex<()>>,
}

impl Follower {
    /// The next [`Burst`]: whole batches only. Cancel-safe: it awaits only
    /// the first event.
    pub async fn next_burst(&mut self) -> Burst {
        use broadcast::error::RecvError;
        let mut burst = Burst::default();
        let first = match self.rx.recv().await {
            Ok(e) => Some(e),
            Err(RecvError::Lagged(_)) => None,
            Err(RecvError::Closed) => {
                burst.ended = true;
                return burst;
            }
        };
        self.drain(first, &mut burst);
        burst
    }

    /// `burst` together with the bursts that follow it closely, each within
    /// `quiet` of the one before and all within `most`: a renewal that starts
    /// and ends a few milliseconds apart is one change on a screen, drawn
    /// once. Stops early at the engine's end.
    pub async fn settle(&mut self, mut burst: Burst, quiet: Duration, most: Duration) -> Burst {
        let deadline = tokio::time::Instant::now() + most;
        while !burst.ended {
            let wait = quiet.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
            if wait.is_zero() {
                break;
            }
            // next_burst is cancel-safe, so a timeout loses nothing.
            match tokio::time::timeout(wait, self.next_burst()).await {
                Ok(more) => {
                    burst.events.extend(more.events);
                    burst.ended = more.ended;
                }
                Err(_) => break,
            }
        }
        burst
    }

    fn drain(&mut self, mut next: Option<Event>, burst: &mut Burst) {
        use broadcast::error::TryRecvError;
        // The first event's batch is complete once the sender lets go; while
        // this holds the lock no batch is half sent, so what is queued is
        // whole batches.
        let _batch = self.batch.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(e) = next.take() {
                let stopped = matches!(e.kind, EventKind::Stopped);
                burst.events.push(e);
                if stopped {
                    burst.ended = true;
                    return;
                }
            }
            match self.rx.try_recv() {
                Ok(e) => next = Some(e),
                Err(TryRecvError::Lagged(_)) => {}
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Closed) => {
                    burst.ended = true;
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: EventKind) -> Event {
        Event {
            at: 1,
            credential: Some("web".into()),
            kind,
        }
    }

    #[tokio::test]
    async fn a_burst_is_everything_queued_and_ends_at_stopped() {
        let bus = EventBus::new(16);
        let mut rx = bus.follow();
        for _ in 0..3 {
            bus.send(ev(EventKind::CredentialAdded));
        }
        let b = rx.next_burst().await;
        assert_eq!((b.events.len(), b.ended), (3, false));

        bus.send(ev(EventKind::CredentialRemoved));
        bus.send(ev(EventKind::Stopped));
        bus.send(ev(EventKind::CredentialAdded));
        let b = rx.next_burst().await;
        assert!(b.ended, "nothing after Stopped belongs to this engine");
        let kinds: Vec<_> = b.events.iter().map(|e| e.kind.name()).collect();
        assert_eq!(kinds, ["credential_removed", "stopped"]);

        drop(bus);
        let _ = rx.next_burst().await;
        assert!(rx.next_burst().await.ended, "a closed bus ends the follower");
    }

    #[tokio::test(start_paused = true)]
    async fn bursts_close_together_settle_into_one_and_a_steady_stream_still_ends() {
        const QUIET: Duration = Duration::from_millis(30);
        const MOST: Duration = Duration::from_millis(250);
        let bus = EventBus::new(256);
        let mut rx = bus.follow();
        let sender = {
            let bus = bus.clone();
            tokio::spawn(async move {
                // A renewal: started, then done 6 ms later; a change 100 ms after that.
                bus.send(ev(EventKind::CredentialAdded));
                tokio::time::sleep(Duration::from_millis(6)).await;
                bus.send(ev(EventKind::CredentialRemoved));
                tokio::time::sleep(Duration::from_millis(100)).await;
                bus.send(ev(EventKind::CredentialAdded));
                tokio::time::sleep(Duration::from_millis(100)).await;
                // A steady stream, one event every 10 ms for a second.
                for _ in 0..100 {
                    bus.send(ev(EventKind::CredentialAdded));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        };
        let first = rx.next_burst().await;
        let b = rx.settle(first, QUIET, MOST).await;
        let kinds: Vec<_> = b.events.iter().map(|e| e.kind.name()).collect();
        assert_eq!(kinds, ["credential_added", "credential_removed"]);
        let first = rx.next_burst().await;
        assert_eq!(
            rx.settle(first, QUIET, MOST).await.events.len(),
            1,
            "100 ms later is a change of its own"
        );

        let first = rx.next_burst().await;
        let started = tokio::time::Instant::now();
        let b = rx.settle(first, QUIET, MOST).await;
        assert!(
            tokio::time::Instant::now() - started <= MOST,
            "a steady stream is cut at `most`"
        );
        assert!(
            (20..=30).contains(&b.events.len()),
            "{} events in 250 ms",
            b.events.len()
        );
        sender.await.unwrap();

        bus.send(ev(EventKind::Stopped));
        let first = rx.next_burst().await;
        let b = rx.settle(first, QUIET, MOST).await;
        assert!(b.ended);
    }

    /// A follower on another thread wakes at a batch's first event; it must
    /// still see the whole batch, never a part of it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_follower_never_sees_part_of_a_batch() {
        const BATCHES: usize = 300;
        const SIZE: usize = 40;
        let bus = EventBus::new(4096);
        let mut rx = bus.follow();
        let (ack, acked) = std::sync::mpsc::channel();
        let sender = {
            let bus = bus.clone();
            std::thread::spawn(move || {
                for _ in 0..BATCHES {
                    bus.send_all((0..SIZE).map(|_| ev(EventKind::CredentialAdded)));
                    // The next batch only once this one was read.
                    acked.recv().unwrap();
                }
            })
        };
        let mut sizes = Vec::new();
        let mut got = 0;
        while got < BATCHES * SIZE {
            let b = rx.next_burst().await;
            got += b.events.len();
            sizes.push(b.events.len());
            if got % SIZE == 0 {
                ack.send(()).unwrap();
            }
        }
        sender.join().unwrap();
        let split = sizes.iter().filter(|&&n| n != SIZE).count();
        assert_eq!(split, 0, "{split} of {} bursts held part of a batch", sizes.len());
    }
}
