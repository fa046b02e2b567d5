//! The scheduler: one task that drives every credential's deadlines.
//!
//! Deadlines are wall-clock instants, because a laptop that slept through a
//! renewal must renew the moment it wakes, and tokio's monotonic clock does
//! not advance during suspend. The task sleeps until the earliest deadline
//! (capped by a drift-check interval that also notices the wall clock jumping
//! ahead of the monotonic one), wakes for commands (manual renew, config
//! reload, resume, file changed) and for finished jobs, and is otherwise idle.
//!
//! Observations and renewals run as spawned jobs, at most one per credential
//! at a time, also across config reloads; a manual renew that arrives while
//! one runs joins it and gets the same result (single flight). A job that
//! panics ends as a failure of its credential, never as a wedge, and every
//! lifetime a job brings back is checked before any arithmetic is done on it.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::clock::{unix_millis, ClockHandle};
use crate::config::{Config, CredentialConfig, EngineSettings};
use crate::error::{Error, Result};
use crate::events::{Event, EventBus, EventKind};
use crate::model::{CredentialStatus, LastResult, Lifetime, NextAction, State, Streak};
use crate::policy;
use crate::sources::{
    self, Beat, Failure, FailureClass, Limit, Observation, RenewRequest, Renewed, Source, SourceFactory,
};
use crate::store::{HistoryEntry, Store};

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

enum Cmd {
    Renew {
        name: String,
        reply: oneshot::Sender<Result<RenewOutcome>>,
    },
    RenewAllDue {
        reply: oneshot::Sender<Vec<String>>,
    },
    Apply {
        config: Box<Config>,
        reply: oneshot::Sender<(usize, usize, usize)>,
    },
    Reevaluate {
        name: Option<String>,
        resumed: Option<(u64, String)>,
    },
    SetPaused {
        name: String,
        paused: bool,
        reply: oneshot::Sender<Result<()>>,
    },
    Settle {
        reply: oneshot::Sender<()>,
    },
    Shutdown,
}

/// The reason shown for a credential the user paused.
pub const USER_PAUSE_REASON: &str = "paused by you; resume it to renew it again";

/// Store meta key remembering a user's pause across restarts.
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

/// A cheap, cloneable handle every face uses to talk to the scheduler.
#[derive(Clone)]
pub struct Handle {
    tx: mpsc::UnboundedSender<Cmd>,
    statuses: Arc<RwLock<BTreeMap<String, CredentialStatus>>>,
    clock: ClockHandle,
    bus: EventBus,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

impl Handle {
    /// Every credential's status, with the remaining fraction as of now.
    pub fn statuses(&self) -> Vec<CredentialStatus> {
        let now = self.clock.now();
        let map = self.statuses.read().unwrap_or_else(|p| p.into_inner());
        map.values()
            .cloned()
            .map(|mut s| {
                s.remaining_fraction = s.remaining_at(now);
                s
            })
            .collect()
    }

    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.bus.subscribe()
    }

    /// Events in bursts of whole batches, for faces that redraw.
    pub fn follow(&self) -> crate::events::Follower {
        self.bus.follow()
    }

    pub fn bus(&self) -> &EventBus {
        &self.bus
    }

    /// Renews `name` now and waits for the result. A request while a renewal
    /// of the same credential runs joins that renewal.
    pub async fn renew(&self, name: &str) -> Result<RenewOutcome> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Renew {
                name: name.to_string(),
                reply,
            })
            .map_err(|_| Error::EngineStopped)?;
        rx.await.map_err(|_| Error::EngineStopped)?
    }

    /// Starts a renewal of every credential that is due or failing; returns their names.
    pub async fn renew_all_due(&self) -> Result<Vec<String>> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::RenewAllDue { reply })
            .map_err(|_| Error::EngineStopped)?;
        rx.await.map_err(|_| Error::EngineStopped)
    }

    /// Applies a validated config; returns (added, removed, changed).
    pub async fn apply(&self, config: Config) -> Result<(usize, usize, usize)> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Apply {
                config: Box::new(config),
                reply,
            })
            .map_err(|_| Error::EngineStopped)?;
        rx.await.map_err(|_| Error::EngineStopped)
    }

    /// Looks at one credential (or all) again, e.g. because its file changed.
    pub fn reevaluate(&self, name: Option<String>) {
        let _ = self.tx.send(Cmd::Reevaluate { name, resumed: None });
    }

    /// The machine woke from suspend: look at everything again now.
    pub fn resumed(&self, slept_secs: u64, source: &str) {
        let _ = self.tx.send(Cmd::Reevaluate {
            name: None,
            resumed: Some((slept_secs, source.to_string())),
        });
    }

    /// Pauses (no renewals, no heartbeats) or resumes one credential at the
    /// user's request; the pause survives a restart. Resuming only ends a
    /// pause the user made: a pause the server caused needs what its reason says.
    pub async fn set_paused(&self, name: &str, paused: bool) -> Result<()> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::SetPaused {
                name: name.to_string(),
                paused,
                reply,
            })
            .map_err(|_| Error::EngineStopped)?;
        rx.await.map_err(|_| Error::EngineStopped)?
    }

    /// Returns once the scheduler has made a full pass after this call:
    /// whatever was due by now has started and said so on the bus. The
    /// witness for "nothing happened": what has not happened after it was
    /// not merely late on a busy machine.
    pub async fn settle(&self) -> Result<()> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Cmd::Settle { reply }).map_err(|_| Error::EngineStopped)?;
        rx.await.map_err(|_| Error::EngineStopped)
    }

    pub fn shutdown(&self) {
        let _ = self.tx.send(Cmd::Shutdown);
    }
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
        slots: BTreeMap::new(),
        deps,
        statuses,
        done_tx,
        rng,
        next_gen: 0,
        pending: Default::default(),
        settling: Vec::new(),
        busy: BTreeMap::new(),
    };
    crate::command::set_secret_env(config.secret_env());
    // Before the task runs: from the moment `spawn` returns, every
    // credential is in `statuses` (a client asking at once sees them all).
    sched.start(config);
    let join = tokio::spawn(async move {
        sched.run(rx, done_rx).await;
    });
    (handle, join)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Observe,
    Renew { manual: bool },
    Beat,
}

struct Slot {
    cfg: CredentialConfig,
    source: Arc<dyn Source>,
    gen: u64,
    status: CredentialStatus,
    lifetime: Option<Lifetime>,
    observed_at: Option<SystemTime>,
    /// Jittered renewal deadline for the current lifetime.
    deadline: Option<SystemTime>,
    /// Consecutive failures (reads or renewals) and when the streak began.
    streak: u32,
    since: Option<i64>,
    next_retry: Option<SystemTime>,
    op: Option<(Op, SystemTime)>,
    waiters: Vec<oneshot::Sender<Result<RenewOutcome>>>,
    /// The finished renewal's result, sent to the waiters once the status shows it.
    outcome: Option<RenewOutcome>,
    renew_requested: bool,
    observe_requested: bool,
    /// The expiry band already announced for the current not_after.
    announced: Option<(SystemTime, Duration)>,
    expired_announced: Option<SystemTime>,
    terminal: Option<State>,
    /// When the next heartbeat is due (fleet kinds).
    next_beat: Option<SystemTime>,
    /// Heartbeats that failed in a row, and since when.
    beat_streak: u32,
    beat_since: Option<i64>,
    last_beat: Option<i64>,
    /// The user paused it (as opposed to the server or the engine).
    user_paused: bool,
    /// The last renewal was capped by its issuer.
    capped: Option<Capped>,
    /// Stale files of an earlier run were looked for.
    tidied: bool,
}

impl Slot {
    /// Whether what this credential's renewals bring back is a certificate.
    fn kind_issues_certificates(&self) -> bool {
        use crate::model::Kind::*;
        matches!(self.source.kind(), X509File | VaultPki | Nixfleet | Certctl)
    }
}

struct Scheduler {
    settings: EngineSettings,
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
}

impl Scheduler {
    fn now(&self) -> SystemTime {
        self.deps.clock.now()
    }

    /// Queues an event; [`Scheduler::flush`] sends them once the statuses
    /// they describe are published, so a face that reacts to an event and
    /// reads the status sees the new one.
    fn emit(&self, credential: Option<&str>, kind: EventKind) {
        self.pending.borrow_mut().push(Event {
            at: unix_millis(self.now()),
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
        action: &str,
        outcome: &str,
        message: &str,
        duration_ms: Option<u64>,
        (old, new): (Option<SystemTime>, Option<SystemTime>),
    ) {
        let e = HistoryEntry {
            id: 0,
            at: unix_millis(self.now()),
            credential: name.to_string(),
            action: action.to_string(),
            outcome: outcome.to_string(),
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
        let mut terminal = None;
        let mut streak = None;
        if let Some(prev) = previous.filter(|p| p.kind == cfg.kind()) {
            status.last_result = prev.last_result.clone();
            // A run of failures goes on where it was: the same episode.
            streak = prev.failure_streak;
            status.failure_streak = prev.failure_streak;
            // Only the server's verdict survives a restart; every other
            // terminal state is found again by looking at the credential.
            if matches!(prev.state, State::Retired { .. }) {
                terminal = Some(prev.state.clone());
            }
            status.renewals = prev.renewals;
        }
        let user_paused =
            cfg.enabled && matches!(self.deps.store.get_meta(&pause_key(&cfg.name)), Ok(Some(v)) if v == "1");
        if user_paused {
            terminal = Some(State::Paused {
                reason: USER_PAUSE_REASON.into(),
            });
        }
        if !cfg.enabled {
            terminal = Some(State::Disabled);
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
            streak: streak.map_or(0, |k| k.failures),
            since: streak.map(|k| k.since),
            next_retry: None,
            op: None,
            waiters: Vec::new(),
            outcome: None,
            renew_requested: false,
            observe_requested: true,
            announced: None,
            expired_announced: None,
            terminal,
            next_beat: first_beat,
            beat_streak: 0,
            beat_since: None,
            last_beat: None,
            user_paused,
            capped,
            tidied: false,
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
                let _ = self.deps.store.remove_status(name);
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
            shown.insert(name.clone(), slot.status.clone());
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
            tokio::select! {
                _ = tokio::time::sleep(nap) => {}
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
            }
        }
        for slot in self.slots.values_mut() {
            for w in slot.waiters.drain(..) {
                let _ = w.send(Err(Error::EngineStopped));
            }
        }
        self.emit(None, EventKind::Stopped);
        self.flush();
    }

    fn resumed(&mut self, slept_secs: u64, source: String) {
        self.emit(None, EventKind::Resumed { slept_secs, source });
        for slot in self.slots.values_mut() {
            slot.observe_requested = true;
        }
    }

    fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Renew { name, reply } => self.request_renew(&name, reply),
            Cmd::RenewAllDue { reply } => {
                let now = self.now();
                let mut names = Vec::new();
                for (name, slot) in self.slots.iter_mut() {
                    let due = slot.lifetime.is_none_or(|l| slot.cfg.policy.is_due(&l, now)) || slot.streak > 0;
                    if due && slot.terminal.is_none() && slot.source.can_renew() {
                        slot.renew_requested = true;
                        names.push(name.clone());
                    }
                }
                let _ = reply.send(names);
            }
            Cmd::Apply { config, reply } => {
                let r = self.apply(*config);
                let _ = reply.send(r);
            }
            Cmd::Reevaluate { name, resumed } => {
                if let Some((secs, source)) = resumed {
                    self.resumed(secs, source);
                } else {
                    for (n, slot) in self.slots.iter_mut() {
                        if name.as_ref().is_none_or(|want| want == n) {
                            slot.observe_requested = true;
                        }
                        // A file of this credential changed (a new login, a fixed
                        // token file): what stopped it may be over, so start over.
                        // A pause the user made is ended only by the user.
                        if name.as_ref() == Some(n)
                            && !slot.user_paused
                            && slot.terminal.as_ref().is_some_and(State::ends_with_new_files)
                        {
                            slot.terminal = None;
                            slot.streak = 0;
                            slot.since = None;
                            slot.next_retry = None;
                        }
                    }
                }
            }
            Cmd::SetPaused { name, paused, reply } => {
                let r = self.set_paused(&name, paused);
                let _ = reply.send(r);
            }
            Cmd::Settle { reply } => self.settling.push(reply),
            Cmd::Shutdown => {}
        }
    }

    fn set_paused(&mut self, name: &str, paused: bool) -> Result<()> {
        let Some(slot) = self.slots.get_mut(name) else {
            return Err(Error::UnknownCredential { name: name.to_string() });
        };
        if paused == slot.user_paused {
            return Ok(());
        }
        if paused {
            if let Some(t) = slot.terminal.as_ref().filter(|t| !matches!(t, State::Paused { .. })) {
                return Err(Error::Refused(format!("{name} is {t}; there is nothing to pause")));
            }
            slot.terminal = Some(State::Paused {
                reason: USER_PAUSE_REASON.into(),
            });
        } else {
            slot.terminal = None;
            slot.streak = 0;
            slot.since = None;
            slot.next_retry = None;
            slot.observe_requested = true;
            slot.beat_streak = 0;
            if slot.source.heartbeat().is_some() {
                slot.next_beat = Some(self.deps.clock.now());
            }
        }
        slot.user_paused = paused;
        let value = if paused { "1" } else { "0" };
        self.deps.store.set_meta(&pause_key(name), value)?;
        let what = if paused {
            "paused by the user"
        } else {
            "resumed by the user"
        };
        self.history(
            name,
            "state",
            if paused { "paused" } else { "resumed" },
            what,
            None,
            (None, None),
        );
        Ok(())
    }

    fn request_renew(&mut self, name: &str, reply: oneshot::Sender<Result<RenewOutcome>>) {
        let Some(slot) = self.slots.get_mut(name) else {
            let _ = reply.send(Err(Error::UnknownCredential { name: name.to_string() }));
            return;
        };
        let refuse = |msg: String| RenewOutcome {
            credential: name.to_string(),
            ok: false,
            message: msg,
            not_after: None,
            duration_ms: 0,
        };
        if let Some(t) = &slot.terminal {
            let why = match t {
                State::Disabled => "it is disabled in the config; set enabled = true to renew it".to_string(),
                State::Retired { reason } => format!("it was retired ({reason}); it needs a new registration"),
                State::Paused { reason } => format!("it is paused ({reason})"),
                State::NotRenewable => "the server will not renew it any more; it needs a new login".to_string(),
                State::Final { expires_at } => format!(
                    "it reached its maximum lifetime and expires for good at {}; only a new login helps",
                    crate::clock::rfc3339(crate::clock::from_unix_millis(*expires_at))
                ),
                State::Expired => "the server rejected it (expired or revoked); it needs a new login".to_string(),
                other => format!("it is {other}"),
            };
            let _ = reply.send(Ok(refuse(format!("{name} was not renewed: {why}"))));
            return;
        }
        if !slot.source.can_renew() {
            let _ = reply.send(Ok(refuse(format!(
                "{name} cannot be renewed by Evergreen: it has no renew_command; add one in the config (`evergreen config path` shows where)"
            ))));
            return;
        }
        slot.waiters.push(reply);
        if !matches!(slot.op, Some((Op::Renew { .. }, _))) {
            slot.renew_requested = true;
        }
    }

    fn apply(&mut self, config: Config) -> (usize, usize, usize) {
        crate::command::set_secret_env(config.secret_env());
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
            let _ = self.deps.store.remove_status(&name);
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
                        slot.renew_requested = true;
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

    /// Starts whatever jobs are due and refreshes every status.
    fn tick(&mut self) {
        let now = self.now();
        let names: Vec<String> = self.slots.keys().cloned().collect();
        for name in names {
            self.plan(&name, now);
            self.refresh(&name, now);
        }
    }

    fn plan(&mut self, name: &str, now: SystemTime) {
        let busy = self.busy.contains_key(name);
        let Some(slot) = self.slots.get_mut(name) else { return };
        if slot.op.is_some() || busy {
            return;
        }
        if slot.terminal.is_some() {
            // Nothing runs for a terminal credential; a request left standing
            // would make `next_wake` say "now" forever and spin the loop.
            slot.renew_requested = false;
            slot.observe_requested = false;
            return;
        }
        let retry_ready = slot.next_retry.is_none_or(|t| t <= now);
        let can_renew = slot.source.can_renew();
        let op = if slot.renew_requested {
            Some(Op::Renew { manual: true })
        } else if slot.observe_requested {
            Some(Op::Observe)
        } else if slot.lifetime.is_none() && retry_ready {
            // Nothing readable yet: renew if we can (the command may create the file), else re-read.
            Some(if can_renew {
                Op::Renew { manual: false }
            } else {
                Op::Observe
            })
        } else if slot.next_beat.is_some_and(|t| t <= now) {
            // Heartbeats go on while a retry waits, even with nothing readable
            // yet (a certctl agent heartbeats before its first certificate).
            Some(Op::Beat)
        } else if slot.lifetime.is_none() {
            None
        } else if slot.streak > 0 && retry_ready {
            Some(if can_renew {
                Op::Renew { manual: false }
            } else {
                Op::Observe
            })
        } else if can_renew && slot.streak == 0 && slot.deadline.is_some_and(|d| d <= now) {
            // Look at the file once more before renewing: someone may have renewed it already.
            if slot.observed_at.is_some_and(|o| o >= slot.deadline.unwrap_or(o)) {
                Some(Op::Renew { manual: false })
            } else {
                Some(Op::Observe)
            }
        } else {
            None
        };
        let Some(op) = op else { return };
        slot.renew_requested = false;
        slot.observe_requested = false;
        slot.op = Some((op, now));
        let tidy = !std::mem::replace(&mut slot.tidied, true);
        let source = slot.source.clone();
        let gen = slot.gen;
        let current = slot.lifetime;
        let tx = self.done_tx.clone();
        let job_name = name.to_string();
        if let Op::Renew { manual } = op {
            self.emit(Some(name), EventKind::RenewalStarted { manual });
        }
        self.busy.insert(name.to_string(), gen);
        tokio::spawn(async move {
            // The job runs in a task of its own so that a panic in it (a bug,
            // an absurd value) ends as this credential's failure: the
            // scheduler hears back either way and nobody waits forever.
            let job = tokio::spawn(async move {
                if tidy {
                    for p in source.tidy() {
                        tracing::info!("removed {}, left half-written by an earlier run", p.display());
                    }
                }
                match op {
                    Op::Observe => JobResult::Observed(source.observe().await),
                    Op::Renew { manual } => JobResult::Renewed(source.renew(RenewRequest { current, manual }).await),
                    Op::Beat => JobResult::Beat(source.beat().await),
                }
            });
            let result = match job.await {
                Ok(r) => r,
                Err(e) => {
                    let panic: Box<dyn std::any::Any + Send> = if e.is_panic() {
                        e.into_panic()
                    } else {
                        Box::new("the job was cancelled")
                    };
                    let f = |doing: &str| Failure::internal(&job_name, doing, panic.as_ref());
                    match op {
                        Op::Observe => JobResult::Observed(Err(f("reading"))),
                        Op::Renew { .. } => JobResult::Renewed(Err(f("renewing"))),
                        Op::Beat => JobResult::Beat(Err(f("sending a heartbeat for"))),
                    }
                }
            };
            let _ = tx.send(Done {
                name: job_name,
                gen,
                result,
            });
        });
    }

    /// Refuses a lifetime no real credential can have before the scheduler
    /// computes with it: it becomes a failure of that one credential.
    fn checked(name: &str, result: JobResult) -> JobResult {
        let bad = |o: &Observation| {
            o.lifetime.check().err().map(|why| {
                Failure::transient(format!(
                    "{name}: Evergreen refused what it read, because {why}; check the server or the file"
                ))
            })
        };
        let mut result = match result {
            JobResult::Observed(Ok(o)) => JobResult::Observed(bad(&o).map_or(Ok(o), Err)),
            JobResult::Renewed(Ok(r)) => JobResult::Renewed(bad(&r.observation).map_or(Ok(r), Err)),
            JobResult::Beat(Ok(b)) => match b.observation.as_ref().and_then(bad) {
                Some(f) => JobResult::Beat(Err(f)),
                None => JobResult::Beat(Ok(b)),
            },
            other => other,
        };
        // An issuer's expiry out of range is only a hint: drop it.
        let obs = match &mut result {
            JobResult::Observed(Ok(o)) => Some(o),
            JobResult::Renewed(Ok(r)) => Some(&mut r.observation),
            JobResult::Beat(Ok(b)) => b.observation.as_mut(),
            _ => None,
        };
        if let Some(o) = obs {
            let sane = |t: SystemTime| {
                Lifetime {
                    not_before: t,
                    not_after: t,
                }
                .check()
                .is_ok()
            };
            o.issuer_not_after = o.issuer_not_after.filter(|t| sane(*t));
        }
        result
    }

    fn set_lifetime(&mut self, name: &str, obs: &Observation, now: SystemTime) -> bool {
        let jitter_default = self.settings.jitter;
        let Some(slot) = self.slots.get_mut(name) else {
            return false;
        };
        slot.observed_at = Some(now);
        slot.status.details = obs.details.clone();
        let changed = slot.lifetime.map(|l| l.not_after) != Some(obs.lifetime.not_after)
            || slot.lifetime.map(|l| l.not_before) != Some(obs.lifetime.not_before);
        if changed {
            slot.lifetime = Some(obs.lifetime);
            let jitter = slot.cfg.jitter.unwrap_or(jitter_default);
            slot.deadline = Some(policy::deadline(
                &slot.cfg.policy,
                &obs.lifetime,
                now,
                jitter,
                slot.source.min_wait(),
                &mut self.rng,
            ));
            slot.announced = None;
        }
        // A capped renewal's floor holds for as long as the lifetime it
        // capped is the one in place; a new one (renewed outside Evergreen,
        // or by a renewal that was not capped) ends it.
        if let Some(c) = slot.capped.clone() {
            if c.not_after == unix_millis(obs.lifetime.not_after) {
                let until = crate::clock::from_unix_millis(c.until);
                slot.deadline = slot.deadline.map(|d| d.max(until)).or(Some(until));
            } else {
                slot.capped = None;
                self.store_capped(name, None);
            }
        }
        changed
    }

    fn finished(&mut self, done: Done) {
        let now = self.now();
        if self.busy.get(&done.name) == Some(&done.gen) {
            self.busy.remove(&done.name);
        }
        let Some(slot) = self.slots.get_mut(&done.name) else {
            return;
        };
        if slot.gen != done.gen {
            // A job of the config before a reload: its result speaks of the
            // old settings, but it may have changed the files. Look again.
            slot.observe_requested = true;
            return;
        }
        let (op, started) = slot.op.take().unwrap_or((Op::Observe, now));
        let manual = matches!(op, Op::Renew { manual: true });
        let duration_ms = now.duration_since(started).unwrap_or_default().as_millis() as u64;
        let name = done.name.clone();
        match Self::checked(&name, done.result) {
            JobResult::Observed(Ok(obs)) => {
                let old = self.slots.get(&name).and_then(|s| s.lifetime);
                let changed = self.set_lifetime(&name, &obs, now);
                let slot = self.slots.get_mut(&name).expect("slot exists");
                slot.status.problem = None;
                if changed {
                    let remaining = obs.lifetime.remaining_fraction(now);
                    let fresh = !slot.cfg.policy.is_due(&obs.lifetime, now);
                    let recovered = slot.streak > 0 && (fresh || !slot.source.can_renew());
                    let (streak, since) = (slot.streak, slot.since);
                    // The first read after read failures ends them; a run that
                    // holds a failed renewal (one carried over a restart, too)
                    // ends only with a fresh credential or a renewal that works.
                    let reads_only = slot
                        .status
                        .last_result
                        .as_ref()
                        .is_none_or(|r| r.ok || slot.since.is_some_and(|since| r.at < since));
                    if recovered || (slot.streak > 0 && old.is_none() && reads_only) {
                        slot.streak = 0;
                        slot.since = None;
                        slot.next_retry = None;
                    }
                    self.emit(
                        Some(&name),
                        EventKind::Observed {
                            not_after: unix_millis(obs.lifetime.not_after),
                            remaining_fraction: remaining,
                        },
                    );
                    if recovered {
                        self.emit(
                            Some(&name),
                            EventKind::Recovered {
                                after_failures: streak,
                                since: since.unwrap_or_default(),
                            },
                        );
                    }
                    if old.is_some() {
                        self.history(
                            &name,
                            "observe",
                            "changed",
                            "its lifetime changed outside Evergreen",
                            None,
                            (old.map(|l| l.not_after), Some(obs.lifetime.not_after)),
                        );
                    }
                } else if slot.streak > 0 && !slot.source.can_renew() {
                    // A read that works again after read failures.
                    let (streak, since) = (slot.streak, slot.since.unwrap_or_default());
                    slot.streak = 0;
                    slot.since = None;
                    slot.next_retry = None;
                    self.emit(
                        Some(&name),
                        EventKind::Recovered {
                            after_failures: streak,
                            since,
                        },
                    );
                }
                self.limit(&name, obs.limit.as_ref());
            }
            JobResult::Observed(Err(f)) if f.class == FailureClass::Absent && slot.source.can_renew() => {
                // Not issued yet: plan() renews at once, and that is no failure.
                slot.status.problem = Some(f.message);
                slot.lifetime = None;
            }
            JobResult::Observed(Err(f)) => {
                slot.status.problem = Some(f.message.clone());
                if slot.lifetime.is_none() || !slot.source.can_renew() {
                    self.fail(&name, f, now, duration_ms, false);
                } else if slot.deadline.is_some_and(|d| d <= now) && slot.streak == 0 {
                    // The look before a due renewal failed: renew anyway. If the
                    // server is down, that fails and the backoff takes over.
                    slot.observed_at = Some(now);
                    self.emit(Some(&name), EventKind::ReadFailed { message: f.message });
                } else {
                    // Keep the last good lifetime; look again with backoff.
                    let delay = self.settings.backoff.delay(1, &mut self.rng);
                    let slot = self.slots.get_mut(&name).expect("slot exists");
                    slot.next_retry = Some(now + delay);
                    self.emit(Some(&name), EventKind::ReadFailed { message: f.message });
                }
            }
            JobResult::Renewed(Ok(renewed)) => {
                let old = slot.lifetime;
                let (streak, since) = (slot.streak, slot.since);
                slot.streak = 0;
                slot.since = None;
                slot.next_retry = None;
                slot.status.problem = None;
                let new = renewed.observation.lifetime;
                let noun = if slot.kind_issues_certificates() {
                    "certificate"
                } else {
                    "credential"
                };
                // A limit (a token at its maximum TTL) is the server saying
                // so itself, and stops renewals on its own.
                let why = renewed.observation.limit.is_none().then(|| {
                    let r = policy::Renewal {
                        old: old.as_ref(),
                        new: &new,
                        issuer_not_after: renewed.observation.issuer_not_after,
                        took: Duration::from_millis(duration_ms),
                        manual,
                    };
                    policy::capped(&slot.cfg.policy, &r, now, noun)
                });
                let capped_since = slot.capped.as_ref().map_or(unix_millis(now), |c| c.since);
                let capped = why.flatten().map(|why| {
                    let until = now + policy::capped_floor(&new, now, self.settings.backoff.base);
                    Capped {
                        not_after: unix_millis(new.not_after),
                        until: unix_millis(until),
                        since: capped_since,
                        reason: why,
                    }
                });
                let was_capped = slot.capped.is_some();
                slot.capped = capped.clone();
                if capped.is_some() || was_capped {
                    self.store_capped(&name, capped.as_ref());
                }
                self.set_lifetime(&name, &renewed.observation, now);
                let new_after = new.not_after;
                let mut msg = match &capped {
                    Some(c) => format!(
                        "renewed, but capped: {}; Evergreen renews it again at {} at the earliest (Renew now tries at once)",
                        c.reason,
                        crate::clock::rfc3339(crate::clock::from_unix_millis(c.until))
                    ),
                    None => format!("renewed; valid until {}", crate::clock::rfc3339(new_after)),
                };
                if !renewed.note.is_empty() {
                    msg = format!("{msg}, {}", renewed.note);
                }
                let slot = self.slots.get_mut(&name).expect("slot exists");
                slot.status.renewals.success += 1;
                slot.status.last_result = Some(LastResult {
                    at: unix_millis(now),
                    ok: true,
                    message: msg.clone(),
                    duration_ms,
                    stderr_tail: None,
                });
                let outcome = RenewOutcome {
                    credential: name.clone(),
                    ok: true,
                    message: msg.clone(),
                    not_after: Some(unix_millis(new_after)),
                    duration_ms,
                };
                slot.outcome = Some(outcome);
                self.history(
                    &name,
                    "renew",
                    if capped.is_some() { "capped" } else { "success" },
                    &msg,
                    Some(duration_ms),
                    (old.map(|l| l.not_after), Some(new_after)),
                );
                self.emit(
                    Some(&name),
                    EventKind::RenewalSucceeded {
                        old_not_after: old.map(|l| unix_millis(l.not_after)),
                        new_not_after: unix_millis(new_after),
                        duration_ms,
                        message: renewed.note,
                    },
                );
                if let Some(c) = capped {
                    tracing::warn!("{name}: {msg}");
                    self.emit(
                        Some(&name),
                        EventKind::Capped {
                            reason: c.reason,
                            not_after: c.not_after,
                            next_try_at: c.until,
                            since: c.since,
                        },
                    );
                }
                if streak > 0 {
                    self.emit(
                        Some(&name),
                        EventKind::Recovered {
                            after_failures: streak,
                            since: since.unwrap_or_default(),
                        },
                    );
                }
                self.limit(&name, renewed.observation.limit.as_ref());
            }
            JobResult::Renewed(Err(f)) => self.fail(&name, f, now, duration_ms, true),
            JobResult::Beat(r) => self.beaten(&name, r, now, duration_ms),
        }
        self.refresh(&name, now);
        self.flush();
        if let Some(slot) = self.slots.get_mut(&name) {
            if let Some(o) = slot.outcome.take() {
                Self::reply(slot, &o);
            }
        }
    }

    /// A heartbeat's result: the next one is due an interval later whatever
    /// happened; network failures count toward `paused`, a success recovers.
    fn beaten(&mut self, name: &str, r: std::result::Result<Beat, Failure>, now: SystemTime, duration_ms: u64) {
        let Some(slot) = self.slots.get_mut(name) else { return };
        let Some(hb) = slot.source.heartbeat() else { return };
        slot.next_beat = slot.source.next_beat(now, false);
        match r {
            Ok(beat) => {
                slot.last_beat = Some(unix_millis(now));
                if beat.renew {
                    slot.renew_requested = true;
                }
                let (streak, since) = (slot.beat_streak, slot.beat_since.take());
                slot.beat_streak = 0;
                if streak > 0 {
                    self.emit(
                        Some(name),
                        EventKind::Recovered {
                            after_failures: streak,
                            since: since.unwrap_or_default(),
                        },
                    );
                }
                if let Some(obs) = beat.observation {
                    let old = self.slots.get(name).and_then(|s| s.lifetime.map(|l| l.not_after));
                    if self.set_lifetime(name, &obs, now) {
                        self.history(
                            name,
                            "refresh",
                            "success",
                            "the control plane refused the old token; refreshed and swapped in",
                            Some(duration_ms),
                            (old, Some(obs.lifetime.not_after)),
                        );
                        self.emit(
                            Some(name),
                            EventKind::Observed {
                                not_after: unix_millis(obs.lifetime.not_after),
                                remaining_fraction: obs.lifetime.remaining_fraction(now),
                            },
                        );
                    }
                }
            }
            // Nothing to beat for yet (not registered): not the control plane's failure.
            Err(f) if f.class == FailureClass::Absent => {}
            Err(f) if f.class == FailureClass::Transient => {
                slot.beat_streak += 1;
                let at = unix_millis(now);
                slot.beat_since.get_or_insert(at);
                let streak = slot.beat_streak;
                self.emit(
                    Some(name),
                    EventKind::HeartbeatFailed {
                        message: f.message.clone(),
                        streak,
                    },
                );
                if hb.pause_after == Some(streak) {
                    let reason = format!(
                        "the control plane was unreachable for {streak} heartbeats in a row ({}); heartbeats go on and the next one that works ends the pause",
                        f.message
                    );
                    self.history(name, "heartbeat", "paused", &reason, Some(duration_ms), (None, None));
                    self.emit(Some(name), EventKind::Paused { reason });
                }
            }
            Err(f) => {
                slot.next_beat = None;
                self.fail(name, f, now, duration_ms, false);
            }
        }
    }

    /// The server said the current lifetime cannot be extended: stop renewing,
    /// keep watching it run out.
    fn limit(&mut self, name: &str, limit: Option<&Limit>) {
        let Some(limit) = limit else { return };
        let Some(slot) = self.slots.get_mut(name) else { return };
        let Some(l) = slot.lifetime else { return };
        let (state, event, message) = match limit {
            Limit::Final => {
                let at = unix_millis(l.not_after);
                (
                    State::Final { expires_at: at },
                    EventKind::Final { expires_at: at },
                    format!(
                        "it reached its maximum lifetime: it expires for good at {} and only a new login helps",
                        crate::clock::rfc3339(l.not_after)
                    ),
                )
            }
            Limit::NotRenewable { reason } => (
                State::NotRenewable,
                EventKind::NotRenewable { reason: reason.clone() },
                reason.clone(),
            ),
        };
        if slot.terminal.as_ref() == Some(&state) {
            return;
        }
        if matches!(limit, Limit::NotRenewable { .. }) {
            slot.status.renewals.not_renewable += 1;
        }
        slot.terminal = Some(state.clone());
        slot.streak = 0;
        slot.since = None;
        slot.next_retry = None;
        tracing::warn!("{name}: {message}");
        self.history(name, "observe", state.name(), &message, None, (Some(l.not_after), None));
        self.emit(Some(name), event);
    }

    fn fail(&mut self, name: &str, f: Failure, now: SystemTime, duration_ms: u64, renewal: bool) {
        let delay_streak = self.slots.get(name).map(|s| s.streak + 1).unwrap_or(1);
        let delay = self.settings.backoff.delay(delay_streak, &mut self.rng);
        let Some(slot) = self.slots.get_mut(name) else { return };
        let at = unix_millis(now);
        let not_after = slot.lifetime.map(|l| l.not_after);
        let terminal = match f.class {
            FailureClass::Transient | FailureClass::Absent => None,
            FailureClass::Retired => Some((
                State::Retired {
                    reason: f.message.clone(),
                },
                EventKind::Retired {
                    reason: f.message.clone(),
                },
            )),
            FailureClass::Paused => Some((
                State::Paused {
                    reason: f.message.clone(),
                },
                EventKind::Paused {
                    reason: f.message.clone(),
                },
            )),
            FailureClass::NotRenewable => Some((
                State::NotRenewable,
                EventKind::NotRenewable {
                    reason: f.message.clone(),
                },
            )),
            FailureClass::Rejected => Some((
                State::Expired,
                EventKind::Rejected {
                    reason: f.message.clone(),
                },
            )),
        };
        match f.class {
            FailureClass::NotRenewable => slot.status.renewals.not_renewable += 1,
            _ if renewal => slot.status.renewals.failure += 1,
            _ => {}
        }
        if renewal {
            slot.status.last_result = Some(LastResult {
                at,
                ok: false,
                message: f.message.clone(),
                duration_ms,
                stderr_tail: f.stderr_tail.clone(),
            });
        }
        let outcome = RenewOutcome {
            credential: name.to_string(),
            ok: false,
            message: f.message.clone(),
            not_after: not_after.map(unix_millis),
            duration_ms,
        };
        slot.outcome = Some(outcome);
        let action = if renewal { "renew" } else { "observe" };
        if let Some((state, event)) = terminal {
            slot.terminal = Some(state.clone());
            slot.next_retry = None;
            self.history(
                name,
                action,
                state.name(),
                &f.message,
                Some(duration_ms),
                (not_after, None),
            );
            self.emit(Some(name), event);
            return;
        }
        slot.streak += 1;
        let since = *slot.since.get_or_insert(at);
        let streak = slot.streak;
        slot.next_retry = Some(now + delay);
        self.history(
            name,
            action,
            "failure",
            &f.message,
            Some(duration_ms),
            (not_after, None),
        );
        self.emit(
            Some(name),
            EventKind::RenewalFailed {
                message: f.message,
                streak,
                since,
                next_retry_at: Some(unix_millis(now + delay)),
            },
        );
    }

    /// The state a slot is in at `now`.
    fn derive_state(slot: &Slot, now: SystemTime) -> State {
        if let Some(t) = &slot.terminal {
            let runs_out = matches!(t, State::Final { .. } | State::NotRenewable);
            if runs_out && slot.lifetime.is_some_and(|l| l.is_expired(now)) {
                return State::Expired;
            }
            return t.clone();
        }
        if matches!(slot.op, Some((Op::Renew { .. }, _))) {
            return State::Renewing;
        }
        if let Some(n) = slot.source.heartbeat().and_then(|h| h.pause_after) {
            if slot.beat_streak >= n {
                return State::Paused {
                    reason: format!(
                        "control plane unreachable ({} heartbeats failed in a row)",
                        slot.beat_streak
                    ),
                };
            }
        }
        if slot.lifetime.is_some_and(|l| l.is_expired(now)) {
            return State::Expired;
        }
        if slot.streak > 0 {
            return State::Failing {
                streak: slot.streak,
                next_retry_at: slot.next_retry.map(unix_millis).unwrap_or_default(),
            };
        }
        if let Some(c) = &slot.capped {
            return State::Capped {
                reason: c.reason.clone(),
                next_try_at: c.until,
            };
        }
        // Heartbeats that never pause (certctl) show their failures as failing.
        if slot.beat_streak > 0 && slot.source.heartbeat().is_some_and(|h| h.pause_after.is_none()) {
            return State::Failing {
                streak: slot.beat_streak,
                next_retry_at: slot.next_beat.map(unix_millis).unwrap_or_default(),
            };
        }
        match slot.lifetime {
            Some(l) if !slot.cfg.policy.is_due(&l, now) => State::Healthy,
            _ => State::Due,
        }
    }

    /// Updates the visible status, announces state changes and expiry bands, persists.
    fn refresh(&mut self, name: &str, now: SystemTime) {
        let thresholds = self.settings.notify_before.clone();
        let Some(slot) = self.slots.get_mut(name) else { return };
        let state = Self::derive_state(slot, now);
        let mut events = Vec::new();
        if let Some(l) = slot.lifetime {
            let total = l.not_after.duration_since(l.not_before).unwrap_or_default();
            let worrying = slot.terminal.is_some() || slot.streak > 0 || !slot.source.can_renew();
            if l.is_expired(now) {
                if slot.expired_announced != Some(l.not_after) {
                    slot.expired_announced = Some(l.not_after);
                    events.push(EventKind::Expired {
                        not_after: unix_millis(l.not_after),
                    });
                }
            } else if worrying {
                let left = l.not_after.duration_since(now).unwrap_or_default();
                let band = thresholds.iter().copied().filter(|t| left <= *t && total > *t).min();
                if let Some(band) = band {
                    let already = slot.announced.is_some_and(|(na, b)| na == l.not_after && b <= band);
                    if !already {
                        slot.announced = Some((l.not_after, band));
                        events.push(EventKind::ExpiryApproaching {
                            threshold_secs: band.as_secs(),
                            not_after: unix_millis(l.not_after),
                        });
                    }
                }
            }
        }
        let old_state = slot.status.state.clone();
        let mut st = slot.status.clone();
        st.state = state.clone();
        st.can_renew = slot.source.can_renew();
        if let Some(l) = slot.lifetime {
            st.not_before = Some(unix_millis(l.not_before));
            st.not_after = Some(unix_millis(l.not_after));
            st.remaining_fraction = Some(l.remaining_fraction(now));
        }
        st.renew_at = slot.deadline.filter(|_| st.can_renew).map(unix_millis);
        st.last_heartbeat = slot.last_beat.or(st.last_heartbeat);
        st.next_action = Self::next_action(slot, &state);
        st.user_paused = slot.user_paused;
        st.failure_streak = (slot.streak > 0).then(|| Streak {
            failures: slot.streak,
            since: slot.since.unwrap_or_else(|| unix_millis(now)),
        });
        // Only a change other than the fraction ticking down is worth a write.
        // (A heartbeat's time is shown at once but not worth a write either.)
        let mut cmp = st.clone();
        cmp.remaining_fraction = slot.status.remaining_fraction;
        cmp.last_heartbeat = slot.status.last_heartbeat;
        cmp.updated_at = slot.status.updated_at;
        let changed = cmp != slot.status;
        let beat_changed = st.last_heartbeat != slot.status.last_heartbeat;
        if changed {
            st.updated_at = unix_millis(now);
        }
        slot.status = st.clone();
        if changed {
            if let Err(e) = self.deps.store.put_status(&st) {
                tracing::error!("could not store the status of {name}: {e}");
            }
        }
        if changed || beat_changed {
            self.statuses
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(name.to_string(), st);
        }
        if old_state.name() != state.name() {
            events.insert(
                0,
                EventKind::StateChanged {
                    from: old_state.name().into(),
                    to: state.name().into(),
                },
            );
        }
        for e in events {
            self.emit(Some(name), e);
        }
    }

    fn next_action(slot: &Slot, state: &State) -> Option<NextAction> {
        let at = |t: SystemTime, what: &str| {
            Some(NextAction {
                at: unix_millis(t),
                what: what.to_string(),
            })
        };
        match state {
            State::Renewing => at(slot.op.map(|(_, t)| t)?, "renewing now"),
            State::Failing { .. } => at(
                slot.next_retry.or(slot.next_beat)?,
                if slot.source.can_renew() {
                    "retry renewal"
                } else {
                    "read again"
                },
            ),
            State::Healthy | State::Due | State::Expired if slot.source.can_renew() => at(slot.deadline?, "renew"),
            State::Healthy | State::Due => at(slot.lifetime?.not_after, "expires (renew by hand)"),
            State::Final { .. } => at(slot.lifetime?.not_after, "expires for good (log in again)"),
            State::Capped { next_try_at, .. } => {
                at(crate::clock::from_unix_millis(*next_try_at), "renew again (capped)")
            }
            State::Paused { .. } if slot.terminal.is_none() => at(slot.next_beat?, "heartbeat"),
            State::NotRenewable => at(slot.lifetime?.not_after, "expires (cannot be renewed)"),
            _ => None,
        }
    }

    /// The earliest instant anything needs to happen.
    fn next_wake(&self, now: SystemTime) -> Option<SystemTime> {
        let mut best: Option<SystemTime> = None;
        let mut consider = |t: SystemTime| best = Some(best.map_or(t, |b| b.min(t)));
        for (name, slot) in &self.slots {
            // A credential with a job running waits for it: its end wakes the
            // loop, and a request standing until then must not read as "now"
            // (that would spin the loop instead of sleeping).
            if slot.op.is_some() || self.busy.contains_key(name) {
                continue;
            }
            if slot.renew_requested || slot.observe_requested {
                consider(now);
            }
            // Final and not-renewable credentials still run out: wake for
            // their expiry and bands, but never to renew.
            let runs_out = matches!(slot.terminal, Some(State::Final { .. } | State::NotRenewable));
            if slot.terminal.is_some() && !runs_out {
                continue;
            }
            if let Some(t) = slot.next_retry {
                consider(t);
            }
            if let Some(t) = slot.next_beat {
                consider(t);
            }
            let Some(l) = slot.lifetime else { continue };
            if slot.streak == 0 && slot.source.can_renew() && !runs_out {
                if let Some(d) = slot.deadline {
                    consider(d);
                }
            }
            // State flips (healthy → due → expired) and expiry bands.
            for t in [slot.cfg.policy.renewal_point(&l), l.not_after] {
                if t > now {
                    consider(t);
                }
            }
            for band in &self.settings.notify_before {
                if let Some(t) = l.not_after.checked_sub(*band) {
                    if t > now {
                        consider(t);
                    }
                }
            }
        }
        best
    }
}
