//! The engine: everything wired together behind one API.
//!
//! `Engine::start` takes the single-engine lock, opens the store, loads the
//! config, starts the scheduler, the notifier, the file and config watchers,
//! the logind follower and the local socket. The tray app and `evergreen run`
//! call exactly this; neither knows anything about renewals.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::activity::Activity;
use crate::clock::{unix_millis, ClockHandle};
use crate::config::{self, Config};
pub use crate::control::{Control, MAX_NOTIFICATION_PAUSE_MINUTES};
use crate::error::Result;
use crate::events::{Event, EventBus, EventKind};
use crate::ipc;
use crate::lock::{self, EngineLock};
use crate::notify_policy::{Notification, Notifier};
use crate::paths::Paths;
use crate::scheduler::{self, Handle, SchedulerDeps};
use crate::store::Store;
use crate::watch::{self, FileWatcher};

/// How to start an engine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub paths: Paths,
    pub clock: ClockHandle,
    /// Run this config instead of the file at `paths.config_file` (the demo);
    /// the config file is then not watched.
    pub config: Option<Config>,
    /// Serve the local socket for `evergreen status` / `renew`, within these limits.
    pub listen: Option<ipc::Limits>,
    /// Follow logind's suspend/resume signals.
    pub follow_logind: bool,
    /// Follow the kernel's network changes (netlink routes).
    pub follow_network: bool,
    /// The event bus; subscribe to it before `start` to see every event.
    pub bus: EventBus,
    /// Where the notifications the policy decides on go; subscribe before
    /// `start` to see every one (each is decided once, ever: one sent before
    /// anyone listens is lost for good).
    pub notifications: broadcast::Sender<Notification>,
    /// Run the demo in this directory, renewed by this `evergreen` executable
    /// (prepared only once the engine lock is held).
    pub demo: Option<(PathBuf, PathBuf)>,
    /// More demo credentials (the tray app's, against its embedded control
    /// plane), run beside the demo certificates.
    pub demo_extra: Vec<crate::config::CredentialConfig>,
}

impl EngineOptions {
    pub fn new(paths: Paths) -> Self {
        EngineOptions {
            paths,
            clock: Arc::new(crate::clock::SystemClock),
            config: None,
            listen: Some(ipc::Limits::default()),
            follow_logind: true,
            follow_network: true,
            bus: EventBus::default(),
            notifications: broadcast::channel(256).0,
            demo: None,
            demo_extra: Vec::new(),
        }
    }
}

/// The config to run, and whether to watch its file: the one handed in,
/// the demo's, or the user's file.
fn which_config(opts: &mut EngineOptions) -> Result<(Config, bool)> {
    match (opts.config.take(), &opts.demo) {
        (Some(c), _) => Ok((c, false)),
        (None, Some((dir, exe))) => {
            let mut c = crate::demo::prepare(dir, exe, opts.clock.now())?;
            c.credentials.append(&mut opts.demo_extra);
            Ok((c, false))
        }
        (None, None) => {
            let c = config::load(&opts.paths.config_file)?;
            for w in &c.warnings {
                tracing::warn!("{w}");
            }
            Ok((c, true))
        }
    }
}

/// Opens (or recovers) the store and prunes old history. A store that had
/// to be recovered says so in its own history.
fn open_store(paths: &Paths, demo: bool, config: &Config, now: std::time::SystemTime) -> Result<Arc<Store>> {
    let file = if demo {
        paths.demo_store_file()
    } else {
        paths.store_file()
    };
    let (store, problem) = Store::open_or_recover(&file, now)?;
    let store = Arc::new(store);
    store
        .write_in_background()
        .map_err(|e| crate::Error::io("start the history writer", &file, e))?;
    if let Some(problem) = problem {
        tracing::error!("{problem}");
        let noted = store.append_history(&crate::store::HistoryEntry {
            id: 0,
            at: unix_millis(now),
            credential: String::new(),
            action: crate::history::Action::Store,
            outcome: crate::history::Outcome::Recovered,
            message: problem,
            duration_ms: None,
            old_not_after: None,
            new_not_after: None,
        });
        if let Err(e) = noted {
            tracing::error!("the history lost its note of the store's recovery: {e}");
        }
    }
    match store.prune(now, config.engine.history_max_age, config.engine.history_per_credential) {
        Ok(n) if n > 0 => tracing::info!("pruned {n} old history rows"),
        Ok(_) => {}
        Err(e) => tracing::warn!("could not prune history: {e}"),
    }
    Ok(store)
}

/// Every event: into the activity log, and to the desktop when the policy
/// says it deserves a notification.
async fn notify_and_record(
    mut events: broadcast::Receiver<Event>,
    notifier: Notifier,
    notifications: broadcast::Sender<Notification>,
    activity: Activity,
) {
    loop {
        match events.recv().await {
            Ok(ev) => {
                activity.record(&ev);
                if let Some(n) = notifier.consider(&ev) {
                    let _ = notifications.send(n);
                }
            }
            Err(broadcast::error::RecvError::Lagged(k)) => tracing::warn!("notifier fell behind by {k} events"),
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
}

/// Daily retention upkeep, with the retention settings the engine started with.
async fn prune_daily(store: Arc<Store>, clock: ClockHandle, engine: crate::config::EngineSettings) {
    let mut tick = tokio::time::interval(Duration::from_secs(86_400));
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = store.prune(clock.now(), engine.history_max_age, engine.history_per_credential) {
            tracing::error!("could not prune the history (old rows stay until the next try, tomorrow): {e}");
        }
    }
}

pub struct Engine {
    control: Control,
    notifications: broadcast::Sender<Notification>,
    scheduler: JoinHandle<()>,
    tasks: Vec<JoinHandle<()>>,
    _server: Option<ipc::Server>,
    _lock: EngineLock,
    paths: Paths,
}

impl Engine {
    pub async fn start(mut opts: EngineOptions) -> Result<Engine> {
        let lock = lock::acquire(&opts.paths)?;
        let demo = opts.config.is_none() && opts.demo.is_some();
        let (config, watch_config) = which_config(&mut opts)?;
        let store = open_store(&opts.paths, demo, &config, opts.clock.now())?;
        let bus = opts.bus.clone();
        let notifier = Notifier::new(store.clone()).with_flap_window(config.engine.flap_window);
        let notifications = opts.notifications.clone();
        let mut tasks = Vec::new();

        // Subscribe before the scheduler starts so no early event is missed.
        let events = bus.subscribe();
        let deps = SchedulerDeps::new(opts.clock.clone(), store.clone(), bus.clone());
        let (handle, scheduler) = scheduler::spawn(config.clone(), deps);

        let activity = Activity::default();
        tasks.push(tokio::spawn(notify_and_record(
            events,
            notifier.clone(),
            notifications.clone(),
            activity.clone(),
        )));

        let (config_tx, config_rx) = tokio::sync::watch::channel(Arc::new(config.clone()));
        match FileWatcher::new() {
            Ok(w) => {
                let config_file = watch_config.then(|| absolute(&opts.paths.config_file));
                tasks.push(tokio::spawn(watch_files(
                    w,
                    config_tx,
                    config_file,
                    handle.clone(),
                    bus.clone(),
                    opts.clock.clone(),
                )));
            }
            Err(e) => tracing::warn!("file changes will only be noticed at deadlines: {e}"),
        }
        let control = Control {
            handle: handle.clone(),
            store: store.clone(),
            notifier: notifier.clone(),
            activity: activity.clone(),
            bus: bus.clone(),
            clock: opts.clock.clone(),
            demo,
            config_file: opts.paths.config_file.clone(),
            config: config_rx.clone(),
            notifications: notifications.clone(),
        };
        tasks.push(tokio::spawn(crate::metrics::follow(control.clone(), config_rx)));
        let server = if let Some(limits) = opts.listen {
            let (server, listener) = ipc::Server::bind(&opts.paths.socket())?;
            tasks.push(tokio::spawn(ipc::Server::serve(listener, control.clone(), limits)));
            Some(server)
        } else {
            None
        };
        if opts.follow_network {
            tasks.push(tokio::spawn(crate::network::follow(handle.clone())));
        }
        if opts.follow_logind {
            tasks.push(tokio::spawn(crate::sleep::follow_logind(
                handle.clone(),
                opts.clock.clone(),
            )));
        }
        tasks.push(tokio::spawn(prune_daily(
            store.clone(),
            opts.clock.clone(),
            config.engine.clone(),
        )));
        Ok(Engine {
            control,
            notifications,
            scheduler,
            tasks,
            _server: server,
            _lock: lock,
            paths: opts.paths,
        })
    }

    pub fn handle(&self) -> &Handle {
        &self.control.handle
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.control.store
    }

    /// The parts a face uses, to keep beside the engine.
    pub fn control(&self) -> &Control {
        &self.control
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// Notifications the policy decided to deliver (already deduplicated).
    pub fn notifications(&self) -> broadcast::Receiver<Notification> {
        self.notifications.subscribe()
    }

    /// Stops everything; waits for the scheduler to finish its last event.
    pub async fn shutdown(self) {
        self.control.handle.shutdown();
        let _ = self.scheduler.await;
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn absolute(p: &std::path::Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

fn credential_files(config: &Config) -> BTreeMap<PathBuf, Vec<String>> {
    let mut m: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    for c in &config.credentials {
        for p in c.spec.watched_paths() {
            m.entry(absolute(&p)).or_default().push(c.name.clone());
        }
    }
    m
}

async fn watch_files(
    mut w: FileWatcher,
    running: tokio::sync::watch::Sender<Arc<Config>>,
    config_file: Option<PathBuf>,
    handle: Handle,
    bus: EventBus,
    clock: ClockHandle,
) {
    let mut config = Config::clone(&running.borrow());
    let mut files = credential_files(&config);
    let watch_set = |files: &BTreeMap<PathBuf, Vec<String>>| -> Vec<PathBuf> {
        files.keys().cloned().chain(config_file.clone()).collect()
    };
    w.set_files(watch_set(&files).iter().map(PathBuf::as_path));
    while let Some(batch) = w.changed().await {
        if let Some(cf) = config_file.as_ref().filter(|cf| batch.contains(*cf)) {
            match config::load(cf) {
                Ok(new) if new == config => {}
                Ok(new) => {
                    config = new.clone();
                    if handle.apply(new).await.is_err() {
                        return;
                    }
                    running.send_replace(Arc::new(config.clone()));
                    files = credential_files(&config);
                    w.set_files(watch_set(&files).iter().map(PathBuf::as_path));
                }
                Err(e) => bus.send(Event {
                    at: unix_millis(clock.now()),
                    credential: None,
                    kind: EventKind::ConfigRejected { message: e.to_string() },
                }),
            }
        }
        for name in watch::affected(&batch, &files) {
            handle.reevaluate(Some(name));
        }
    }
}
