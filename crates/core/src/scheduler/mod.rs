//! The scheduler: one task that drives every credential's deadlines.
//!
//! Deadlines are wall-clock instants, because a laptop that slept through a
//! renewal must renew the moment it wakes, and tokio's monotonic clock does
//! not advance during suspend. The task sleeps until the earliest deadline
//! (capped by a drift-check interval that also notices the wall clock jumping
//! ahead of the monotonic one) and, beside that sleep, waits on the clock's
//! alarm, which fires at the same wall-clock instant after a suspend and
//! rings when the wall clock is set. It wakes for commands (manual renew,
//! config reload, resume, file changed) and for finished jobs, and is
//! otherwise idle.
//!
//! Observations and renewals run as spawned jobs, at most one per credential
//! at a time, also across config reloads; a manual renew that arrives while
//! one runs joins it and gets the same result (single flight). A job that
//! panics ends as a failure of its credential, never as a wedge, and every
//! lifetime a job brings back is checked before any arithmetic is done on it.
//!
//! The rooms: `handle` (what faces hold and the commands it sends), `slot`
//! (one credential's state: a `Retry` run for renewals and one for
//! heartbeats, and why it is stopped, if it is), `plan` (what to start now
//! and when to wake), `finish` (a finished job's result taken in) and
//! `publish` (the state the faces see, announced and stored). This file
//! holds the loop and the commands.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::clock::{unix_millis, Alarm, ClockHandle, Ring};
use crate::config::{Config, CredentialConfig, EngineSettings};
use crate::error::{Error, Result};
use crate::events::{Event, EventBus, EventKind};
use crate::history::{Action, Outcome};
use crate::model::{CredentialStatus, LastResult, Lifetime, Next, NextAction, State, Streak};
use crate::policy;
use crate::sources::{
    self, Beat, Failure, FailureClass, Limit, Observation, RenewRequest, Renewed, Source, SourceFactory,
};
use crate::store::{HistoryEntry, Store};

mod finish;
mod handle;
mod plan;
mod publish;
mod slot;
#[cfg(test)]
mod testing;

use handle::Cmd;
pub use handle::Handle;
use slot::{Announced, Asked, Beats, Op, Retry, Run, Slot, Stop, Verdict};

/// A wall clock that runs this much ahead of the monotonic one between two
/// looks means the machine slept (or the clock was stepped).
const JUMP_THRESHOLD: Duration = Duration::from_secs(30);

/// The result of a renewal, as `evergreen renew` and the UI report it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RenewOutcome {
    pub credential: String,
    pub ok: bool,
    pub message: String,
    pub not_after: Option<i64>,
    pub duration_ms: u64,
    /// When the result was recorded as the credential's last result (Unix
    /// ms); none for a renewal refused before it started (paused, busy).
    #[serde(default)]
    pub recorded_at: Option<i64>,
}

/// What the scheduler needs from the outside world.
#[derive(Clone)]
pub struct SchedulerDeps {
    pub clock: ClockHandle,
    pub store: Arc<Store>,
    pub bus: EventBus,
    /// Longest sleep between two looks at the wall clock.
    pub drift_check: Duration,
    /// Seed for jitter; `None` draws one from the OS.
    pub seed: Option<u64>,
    pub sources: SourceFactory,
}

impl SchedulerDeps {
    /// Real sources, a 60 s drift check, OS-seeded jitter.
    pub fn new(clock: ClockHandle, store: Arc<Store>, bus: EventBus) -> Self {
        SchedulerDeps {
            clock,
            store,
            bus,
            drift_check: DEFAULT_DRIFT_CHECK,
            seed: None,
            sources: Arc::new(sources::build),
        }
    }
}

/// How often the scheduler looks at the wall clock even with nothing due. It
/// bounds how late a renewal can be after a suspend that logind did not
/// announce; one cheap wakeup a minute is not busy polling.
pub const DEFAULT_DRIFT_CHECK: Duration = Duration::from_secs(60);

/// A network change while online makes failing credentials try again at
/// most this often: routes that churn must not become a retry storm.
pub const NETWORK_KICK_GAP: Duration = Duration::from_secs(60);

/// The reason shown for a credential the user paused.
pub const USER_PAUSE_REASON: &str = "paused by you; resume it to renew it again";

/// The next ring of the alarm, or never without one.
async fn ring(alarm: &mut Option<Box<dyn Alarm>>) -> Ring {
    match alarm {
        Some(a) => a.ring().await,
        None => std::future::pending().await,
    }
}

/// Store meta key remembering a user's pause across restarts.
/// How a user's pause is kept in the store: "1" until resumed, or when it ends.
fn pause_meta(until: Option<SystemTime>) -> String {
    match until {
        None => "1".into(),
        Some(t) => format!("until {}", crate::clock::unix_millis(t)),
    }
}

/// A stored pause: `Some(until)` when there is one ("0" is none).
fn pause_from_meta(v: &str) -> Option<Option<SystemTime>> {
    match v {
        "1" => Some(None),
        v => v
            .strip_prefix("until ")
            .and_then(|ms| ms.parse::<i64>().ok())
            .map(|ms| Some(crate::clock::from_unix_millis(ms))),
    }
}

fn pause_key(name: &str) -> String {
    format!("user_paused/{name}")
}

/// Store meta key remembering a capped renewal's floor across restarts, so a
/// restart does not buy a capping CA one more request.
fn capped_key(name: &str) -> String {
    format!("capped/{name}")
}

/// A renewal whose issuer capped the lifetime: no automatic renewal of this
/// `not_after` before `until`; `since` is the first capped renewal in a row
/// (all Unix ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Capped {
    not_after: i64,
    until: i64,
    since: i64,
    reason: String,
}

enum JobResult {
    Observed(std::result::Result<Observation, Failure>),
    Renewed(std::result::Result<Renewed, Failure>),
    Beat(std::result::Result<Beat, Failure>),
}

struct Done {
    name: String,
    gen: u64,
    result: JobResult,
}

/// Starts the scheduler task.
pub fn spawn(config: Config, deps: SchedulerDeps) -> (Handle, JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let statuses = Arc::new(RwLock::new(BTreeMap::new()));
    let handle = Handle {
        tx,
        statuses: statuses.clone(),
        clock: deps.clock.clone(),
        bus: deps.bus.clone(),
    };
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let rng = match deps.seed {
        Some(s) => StdRng::seed_from_u64(s),
        None => StdRng::from_entropy(),
    };
    let mut sched = Scheduler {
        settings: config.engine.clone(),
        withheld: config.secret_env().into(),
        slots: BTreeMap::new(),
        deps,
        statuses,
        done_tx,
        rng,
        next_gen: 0,
        pending: Default::default(),
        settling: Vec::new(),
        busy: BTreeMap::new(),
        online: true,
        kicked_at: None,
        offline_since: None,
    };
    // Before the task runs: from the moment `spawn` returns, every
    // credential is in `statuses` (a client asking at once sees them all).
    sched.start(config);
    let join = tokio::spawn(async move {
        sched.run(rx, done_rx).await;
    });
    (handle, join)
}

struct Scheduler {
    settings: EngineSettings,
    /// The variables the running config reads secrets from: no command a
    /// renewal runs inherits them (a value per scheduler, so two engines in
    /// one process keep their own).
    withheld: Arc<[String]>,
    slots: BTreeMap<String, Slot>,
    deps: SchedulerDeps,
    statuses: Arc<RwLock<BTreeMap<String, CredentialStatus>>>,
    done_tx: mpsc::UnboundedSender<Done>,
    rng: StdRng,
    next_gen: u64,
    pending: std::cell::RefCell<Vec<Event>>,
    /// Answered after the next full pass (see [`Handle::settle`]).
    settling: Vec<oneshot::Sender<()>>,
    /// The generation of the job running for each credential name. Kept
    /// apart from the slots: a reloaded credential gets a new slot while its
    /// old job may still be writing its files, and must wait for it.
    busy: BTreeMap<String, u64>,
    /// Whether the machine has a route off itself, as the network watch last
    /// said (online until told otherwise).
    online: bool,
    /// When the network last made failing credentials try again.
    kicked_at: Option<SystemTime>,
    /// Since when the machine has had no network, and whether that was told.
    offline_since: Option<(SystemTime, bool)>,
}

impl Scheduler {
    fn now(&self) -> SystemTime {
        self.deps.clock.now()
    }

    /// Queues an event; [`Scheduler::flush`] sends them once the statuses
    /// they describe are published, so a face that reacts to an event and
    /// reads the status sees the new one.
    fn emit(&self, credential: Option<&str>, kind: EventKind) {
        self.emit_at(self.now(), credential, kind);
    }

    /// An event of what happened at `at`.
    fn emit_at(&self, at: SystemTime, credential: Option<&str>, kind: EventKind) {
        self.pending.borrow_mut().push(Event {
            at: unix_millis(at),
            credential: credential.map(str::to_string),
            kind,
        });
    }

    /// What one step did goes out as one batch: a face redraws once.
    fn flush(&self) {
        let events = self.pending.take();
        if !events.is_empty() {
            self.deps.bus.send_all(events);
        }
    }

    /// Answers everyone waiting on this credential's renewal.
    fn reply(slot: &mut Slot, outcome: &RenewOutcome) {
        for w in slot.waiters.drain(..) {
            let _ = w.send(Ok(outcome.clone()));
        }
    }

    fn history(
        &self,
        name: &str,
        action: Action,
        outcome: Outcome,
        message: &str,
        duration_ms: Option<u64>,
        (old, new): (Option<SystemTime>, Option<SystemTime>),
    ) {
        let e = HistoryEntry {
            id: 0,
            at: unix_millis(self.now()),
            credential: name.to_string(),
            action,
            outcome,
            message: message.to_string(),
            duration_ms,
            old_not_after: old.map(unix_millis),
            new_not_after: new.map(unix_millis),
        };
        if let Err(err) = self.deps.store.append_history(&e) {
            tracing::error!("could not record history for {name}: {err}");
        }
    }

    fn new_slot(&mut self, cfg: CredentialConfig, previous: Option<&CredentialStatus>) -> Slot {
        self.next_gen += 1;
        let source = (self.deps.sources)(&cfg);
        let mut status = CredentialStatus::new(&cfg.name, cfg.kind(), self.now());
        status.can_renew = source.can_renew();
        let first_beat = source.next_beat(self.now(), true);
        let mut stop = None;
        let mut streak = None;
        if let Some(prev) = previous.filter(|p| p.kind == cfg.kind()) {
            status.last_result = prev.last_result.clone();
            // A run of failures goes on where it was: the same episode.
            streak = prev.failure_streak;
            status.failure_streak = prev.failure_streak;
            // Only the server's verdict survives a restart; every other
            // terminal state is found again by looking at the credential.
            if let State::Retired { reason } = &prev.state {
                stop = Some(Stop::Verdict(Verdict::Retired { reason: reason.clone() }));
            }
            status.renewals = prev.renewals;
        }
        if let Ok(Some(v)) = self.deps.store.get_meta(&pause_key(&cfg.name)) {
            if let Some(until) = pause_from_meta(&v) {
                stop = Some(Stop::ByUser { until });
            }
        }
        if !cfg.enabled {
            stop = Some(Stop::Disabled);
        }
        let capped = match self.deps.store.get_meta(&capped_key(&cfg.name)) {
            Ok(Some(v)) => serde_json::from_str(&v).ok(),
            _ => None,
        };
        Slot {
            cfg,
            source,
            gen: self.next_gen,
            status,
            lifetime: None,
            observed_at: None,
            deadline: None,
            retry: Retry::carried(streak),
            run: Run::Idle,
            waiters: Vec::new(),
            asked: Asked::Look,
            announced: Announced::default(),
            stop,
            beat: Beats {
                next: first_beat,
                retry: Retry::default(),
                last: None,
                counts: Default::default(),
            },
            capped,
            tidied: false,
            told_at: None,
        }
    }

    /// Remembers (or forgets) a slot's capped floor in the store.
    fn store_capped(&self, name: &str, capped: Option<&Capped>) {
        // An empty value reads back as no floor.
        let value = capped.and_then(|c| serde_json::to_string(c).ok()).unwrap_or_default();
        if let Err(e) = self.deps.store.set_meta(&capped_key(name), &value) {
            tracing::error!("could not store the capped floor of {name}: {e}");
        }
    }

    fn start(&mut self, config: Config) {
        let stored: BTreeMap<String, CredentialStatus> = match self.deps.store.statuses() {
            Ok(v) => v.into_iter().map(|s| (s.name.clone(), s)).collect(),
            Err(e) => {
                tracing::error!("could not read stored statuses: {e}");
                BTreeMap::new()
            }
        };
        for name in stored.keys() {
            if !config.credentials.iter().any(|c| &c.name == name) {
                if let Err(e) = self.deps.store.remove_status(name) {
                    tracing::error!("could not forget the stored status of {name}, no longer configured: {e}");
                }
            }
        }
        for cfg in config.credentials {
            let prev = stored.get(&cfg.name).cloned();
            let slot = self.new_slot(cfg, prev.as_ref());
            self.slots.insert(slot.cfg.name.clone(), slot);
        }
        // Shown at once as they stand (stored or new); the first tick
        // brings each up to date.
        let mut shown = self.statuses.write().unwrap_or_else(|p| p.into_inner());
        for (name, slot) in &self.slots {
            shown.insert(name.clone(), slot.status.clone().decided());
        }
        drop(shown);
        self.emit(
            None,
            EventKind::Started {
                credentials: self.slots.len(),
            },
        );
    }

    async fn run(&mut self, mut rx: mpsc::UnboundedReceiver<Cmd>, mut done_rx: mpsc::UnboundedReceiver<Done>) {
        // After a finished job only that credential needs another look; a full
        // pass over every credential happens on wakeups and commands.
        let mut only: Option<String> = None;
        // The wall-clock alarm beside tokio's monotonic sleep: it fires at a
        // deadline that passed while the machine slept, and rings when the
        // wall clock is set.
        let mut alarm = self.deps.clock.alarm();
        tracing::debug!(
            "wall-clock alarm: {}",
            if alarm.is_some() {
                "armed at each wake"
            } else {
                "none; the drift check alone"
            }
        );
        loop {
            match only.take() {
                None => self.tick(),
                Some(name) => {
                    let now = self.now();
                    self.plan(&name, now);
                    self.refresh(&name, now);
                }
            }
            self.flush();
            for s in self.settling.drain(..) {
                let _ = s.send(());
            }
            let wall_before = self.now();
            let mono_before = tokio::time::Instant::now();
            let nap = self
                .next_wake(wall_before)
                .map(|t| t.duration_since(wall_before).unwrap_or_default());
            let nap = nap.unwrap_or(self.deps.drift_check).min(self.deps.drift_check);
            if let Some(a) = alarm.as_mut() {
                a.arm(wall_before + nap);
            }
            let mut clock_set = false;
            tokio::select! {
                _ = tokio::time::sleep(nap) => {}
                ring = ring(&mut alarm) => {
                    tracing::debug!("the wall-clock alarm rang: {ring:?}");
                    clock_set = ring == Ring::ClockSet;
                }
                cmd = rx.recv() => match cmd {
                    None | Some(Cmd::Shutdown) => break,
                    Some(cmd) => self.command(cmd),
                },
                Some(done) = done_rx.recv() => {
                    only = Some(done.name.clone());
                    self.finished(done);
                }
            }
            let wall = self.now().duration_since(wall_before).unwrap_or_default();
            let mono = mono_before.elapsed();
            if wall > mono + JUMP_THRESHOLD {
                self.resumed((wall - mono).as_secs(), "wall clock jumped ahead".into());
                only = None;
            } else if clock_set {
                // Set back, or forward by less than a sleep: deadlines are
                // wall-clock instants, so a new plan from the new time is all
                // it takes, and nothing is renewed early.
                tracing::info!("the wall clock was set; planning again");
                only = None;
            }
        }
        for slot in self.slots.values_mut() {
            for w in slot.waiters.drain(..) {
                let _ = w.send(Err(Error::EngineStopped));
            }
        }
        self.emit(None, EventKind::Stopped);
        self.flush();
        // What the last steps wrote is on disk before the engine is gone
        // (the writer thread ends with the store). Blocking, once, at the end.
        let store = self.deps.store.clone();
        let _ = tokio::task::spawn_blocking(move || store.flush()).await;
    }

    /// The network watch's news. Coming online re-tries every failing
    /// renewal and heartbeat within a second (jittered, so a fleet that
    /// shares a network does not arrive at once); a change while online (a
    /// VPN joining) does the same, at most once every [`NETWORK_KICK_GAP`].
    fn network(&mut self, online: bool, changed: bool) {
        let was = std::mem::replace(&mut self.online, online);
        let now = self.now();
        if was != online {
            self.emit(None, EventKind::Network { online });
            self.offline_since = (!online).then_some((now, false));
        }
        if !online {
            return;
        }
        let recent = self
            .kicked_at
            .is_some_and(|k| now.duration_since(k).unwrap_or_default() < NETWORK_KICK_GAP);
        // Online before and after: only a change of the routes is news (a
        // report of the same state, such as the watch's first look, re-tried
        // a renewal that had just failed, within a second of it).
        if was && (recent || !changed) {
            return;
        }
        self.kicked_at = Some(now);
        for slot in self.slots.values_mut() {
            if slot.stop.is_some() {
                continue;
            }
            let soon = now + Duration::from_millis(self.rng.gen_range(0..1000));
            if slot.retry.failing() {
                slot.retry.next_at = Some(soon);
            }
            if slot.beat.retry.failing() && slot.beat.next.is_some() {
                slot.beat.next = Some(soon);
            }
        }
    }

    fn resumed(&mut self, slept_secs: u64, source: String) {
        self.emit(None, EventKind::Resumed { slept_secs, source });
        for slot in self.slots.values_mut() {
            slot.ask(Asked::Look);
        }
    }

    fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Renew { name, reply } => self.request_renew(&name, reply),
            Cmd::RenewAllDue { reply } => {
                let now = self.now();
                let mut names = Vec::new();
                for (name, slot) in self.slots.iter_mut() {
                    let due = slot.lifetime.is_none_or(|l| slot.cfg.policy.is_due(&l, now)) || slot.retry.failing();
                    if due && slot.stop.is_none() && slot.source.can_renew() {
                        slot.ask(Asked::Renew);
                        names.push(name.clone());
                    }
                }
                let _ = reply.send(names);
            }
            Cmd::Apply { config, reply } => {
                let r = self.apply(*config);
                let _ = reply.send(r);
            }
            Cmd::Network { online, changed } => self.network(online, changed),
            Cmd::Reevaluate { name, resumed } => {
                if let Some((secs, source)) = resumed {
                    self.resumed(secs, source);
                } else {
                    for (n, slot) in self.slots.iter_mut() {
                        if name.as_ref().is_none_or(|want| want == n) {
                            slot.ask(Asked::Look);
                        }
                        // A file of this credential changed (a new login, a fixed
                        // token file): what stopped it may be over, so start over.
                        // A pause the user made is ended only by the user.
                        if name.as_ref() == Some(n) && slot.stop.as_ref().is_some_and(Stop::ends_with_new_files) {
                            slot.stop = None;
                            slot.retry.end();
                        }
                    }
                }
            }
            Cmd::SetPaused {
                name,
                paused,
                until,
                reply,
            } => {
                let r = self.set_paused(&name, paused, until);
                let _ = reply.send(r);
            }
            Cmd::Settle { reply } => self.settling.push(reply),
            Cmd::Shutdown => {}
        }
    }

    fn set_paused(&mut self, name: &str, paused: bool, until: Option<SystemTime>) -> Result<()> {
        let now = self.deps.clock.now();
        let Some(slot) = self.slots.get_mut(name) else {
            return Err(Error::UnknownCredential { name: name.to_string() });
        };
        if until.is_some_and(|t| t <= now) {
            return Err(Error::Refused(format!("a pause of {name} must end in the future")));
        }
        if paused && slot.user_paused() {
            // Paused already: only how long may change.
            if slot.paused_until() != until {
                slot.stop = Some(Stop::ByUser { until });
                self.deps.store.set_meta(&pause_key(name), &pause_meta(until))?;
            }
            return Ok(());
        }
        if paused == slot.user_paused() {
            return Ok(());
        }
        if paused {
            if let Some(t) = slot
                .stop
                .as_ref()
                .filter(|t| !matches!(t, Stop::Verdict(Verdict::Paused { .. })))
            {
                return Err(Error::Refused(format!(
                    "{name} is {}; there is nothing to pause",
                    t.state()
                )));
            }
            slot.stop = Some(Stop::ByUser { until });
        } else {
            slot.stop = None;
            slot.retry.end();
            slot.beat.retry.end();
            slot.ask(Asked::Look);
            if slot.source.heartbeat().is_some() {
                slot.beat.next = Some(self.deps.clock.now());
            }
        }
        let value = if paused { pause_meta(until) } else { "0".into() };
        self.deps.store.set_meta(&pause_key(name), &value)?;
        let what = match (paused, until) {
            (true, None) => "paused by the user".to_string(),
            (true, Some(t)) => format!("paused by the user until {}", crate::clock::rfc3339(t)),
            (false, _) => "resumed by the user".to_string(),
        };
        self.history(
            name,
            Action::State,
            if paused { Outcome::Paused } else { Outcome::Resumed },
            &what,
            None,
            (None, None),
        );
        Ok(())
    }

    fn apply(&mut self, config: Config) -> (usize, usize, usize) {
        self.withheld = config.secret_env().into();
        self.settings = config.engine.clone();
        let (mut added, mut removed, mut changed) = (0, 0, 0);
        let wanted: BTreeMap<String, CredentialConfig> =
            config.credentials.into_iter().map(|c| (c.name.clone(), c)).collect();
        let gone: Vec<String> = self
            .slots
            .keys()
            .filter(|n| !wanted.contains_key(*n))
            .cloned()
            .collect();
        for name in gone {
            if let Some(mut slot) = self.slots.remove(&name) {
                for w in slot.waiters.drain(..) {
                    let _ = w.send(Err(Error::UnknownCredential { name: name.clone() }));
                }
            }
            if let Err(e) = self.deps.store.remove_status(&name) {
                tracing::error!("could not forget the stored status of {name}, removed from the config: {e}");
            }
            self.statuses.write().unwrap_or_else(|p| p.into_inner()).remove(&name);
            self.emit(Some(&name), EventKind::CredentialRemoved);
            removed += 1;
        }
        for (name, cfg) in wanted {
            match self.slots.get(&name) {
                Some(s) if s.cfg == cfg => {}
                Some(s) => {
                    let prev = s.status.clone();
                    let mut old = self.slots.remove(&name).map(|s| s.waiters).unwrap_or_default();
                    let mut slot = self.new_slot(cfg, Some(&prev));
                    slot.waiters.append(&mut old);
                    if !slot.waiters.is_empty() {
                        slot.ask(Asked::Renew);
                    }
                    self.slots.insert(name, slot);
                    changed += 1;
                }
                None => {
                    let slot = self.new_slot(cfg, None);
                    self.slots.insert(name.clone(), slot);
                    self.emit(Some(&name), EventKind::CredentialAdded);
                    added += 1;
                }
            }
        }
        self.emit(
            None,
            EventKind::ConfigReloaded {
                added,
                removed,
                changed,
            },
        );
        (added, removed, changed)
    }
}
