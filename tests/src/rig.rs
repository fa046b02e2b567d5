//! The engine in-process, on the real clock, with its file watch and store:
//! for tests against real servers (OpenBao, the sandbox), whose lifetimes are
//! real seconds. Waiting is for real events, always with a bound.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use evergreen_core::engine::{Engine, EngineOptions};
use evergreen_core::events::{Event, EventBus, EventKind};
use evergreen_core::model::CredentialStatus;
use evergreen_core::paths::Paths;
use tokio::sync::broadcast;

/// Matches events by name (`"renewal_succeeded"`).
pub fn is(name: &'static str) -> impl Fn(&Event) -> bool {
    move |e: &Event| e.kind.name() == name
}

pub struct Rig {
    pub dir: tempfile::TempDir,
    engine: Option<Engine>,
    rx: broadcast::Receiver<Event>,
    pub seen: Vec<Event>,
}

impl Rig {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub async fn start(config: impl FnOnce(&Path) -> String) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let text = config(dir.path());
        let file = dir.path().join("config.toml");
        std::fs::write(
            &file,
            format!("[engine]\nretry_base = \"1s\"\nretry_max = \"3s\"\n\n{text}"),
        )
        .unwrap();
        // 0600 whatever the umask: Evergreen refuses a config others can change.
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        let bus = EventBus::default();
        let rx = bus.subscribe();
        let mut opts = EngineOptions::new(Paths::under(dir.path()));
        opts.listen = None;
        opts.follow_logind = false;
        opts.bus = bus;
        let engine = Engine::start(opts)
            .await
            .unwrap_or_else(|e| panic!("engine start: {e}"));
        Rig {
            dir,
            engine: Some(engine),
            rx,
            seen: Vec::new(),
        }
    }

    pub fn engine(&self) -> &Engine {
        self.engine.as_ref().unwrap()
    }

    pub fn status(&self, name: &str) -> CredentialStatus {
        self.engine()
            .handle()
            .statuses()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} has no status"))
    }

    /// Waits (real time, bounded) for an event of `name` matching `pred`.
    pub async fn wait(&mut self, what: &str, limit: Duration, pred: impl Fn(&Event) -> bool) -> Event {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.rx.recv()).await {
                Ok(Ok(e)) => {
                    self.seen.push(e.clone());
                    if pred(&e) {
                        return e;
                    }
                }
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                Ok(Err(e)) => panic!("event stream ended while waiting for {what}: {e}"),
                Err(_) => panic!(
                    "timed out after {limit:?} waiting for {what}; events so far:\n{}",
                    self.log()
                ),
            }
        }
    }

    /// [`Rig::wait`], content with an event already seen: for one of two
    /// events that may come in either order.
    pub async fn seen_or_wait(&mut self, what: &str, limit: Duration, pred: impl Fn(&Event) -> bool) -> Event {
        match self.seen.iter().find(|e| pred(e)) {
            Some(e) => e.clone(),
            None => self.wait(what, limit, pred).await,
        }
    }

    /// Collects events for `d` of real time and then until the scheduler has
    /// acted on everything due by then: to check what did *not* happen, with
    /// proof that the engine got there (on a loaded machine a wrong retry
    /// could otherwise simply be late).
    pub async fn drain_for(&mut self, d: Duration) {
        let deadline = Instant::now() + d;
        while let Ok(Ok(e)) =
            tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), self.rx.recv()).await
        {
            self.seen.push(e);
        }
        tokio::time::timeout(Duration::from_secs(30), self.engine().handle().settle())
            .await
            .expect("the scheduler answers within 30 s")
            .expect("the engine is running");
        // What that pass did is on the bus before the answer.
        loop {
            match self.rx.try_recv() {
                Ok(e) => self.seen.push(e),
                Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                Err(_) => break,
            }
        }
    }

    pub fn log(&self) -> String {
        self.seen.iter().map(|e| format!("  {e}\n")).collect()
    }

    pub fn count(&self, pred: impl Fn(&EventKind) -> bool) -> usize {
        self.seen.iter().filter(|e| pred(&e.kind)).count()
    }

    /// The secret must appear in no event, no status and no history row.
    pub fn assert_never_shows(&self, secret: &str) {
        for e in &self.seen {
            let j = serde_json::to_string(e).unwrap();
            assert!(
                !j.contains(secret) && !e.to_string().contains(secret),
                "secret leaked in event {j}"
            );
        }
        for s in self.engine().handle().statuses() {
            assert!(
                !serde_json::to_string(&s).unwrap().contains(secret),
                "secret leaked in status"
            );
        }
        for h in self.engine().store().history(None, 10_000).unwrap() {
            assert!(!format!("{h:?}").contains(secret), "secret leaked in history: {h:?}");
        }
    }

    pub async fn stop(mut self) {
        if let Some(e) = self.engine.take() {
            e.shutdown().await;
        }
    }
}
