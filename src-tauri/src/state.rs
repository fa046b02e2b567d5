//! What the tray process holds while it runs (the engine, or why none
//! runs), and the one way its parts reach it: [`AppExt`] on the app handle.

use std::path::PathBuf;
use std::sync::RwLock;
use std::time::SystemTime;

use evergreen_core::engine::{Control, Engine};
use evergreen_core::model::Snapshot;
use evergreen_sandbox::Sandbox;
use tauri::{AppHandle, Manager, State};

/// Tauri-managed state of the tray process.
pub(crate) struct HostState {
    current: RwLock<Current>,
    config_file: PathBuf,
}

/// The engine running now: the user's config, the demo, or none (a broken config).
#[derive(Default)]
pub(crate) struct Current {
    /// Kept to shut it down cleanly on quit or when the config takes over.
    pub(crate) engine: Option<Engine>,
    /// The demo's embedded control plane, alive while the demo runs.
    pub(crate) _sandbox: Option<Sandbox>,
    pub(crate) problem: Option<String>,
    pub(crate) demo: bool,
    /// The engine's notifications, subscribed to before it started (so the
    /// first one is not lost), until `attach` hands them to the desktop.
    pub(crate) notes: Option<tokio::sync::broadcast::Receiver<evergreen_core::notify_policy::Notification>>,
}

impl HostState {
    pub(crate) fn new(current: Current, config_file: PathBuf) -> HostState {
        HostState {
            current: RwLock::new(current),
            config_file,
        }
    }

    /// The running engine's controls; `None` when none runs.
    pub fn control(&self) -> Option<Control> {
        self.read().engine.as_ref().map(|e| e.control().clone())
    }

    pub(crate) fn read(&self) -> std::sync::RwLockReadGuard<'_, Current> {
        self.current.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn write(&self) -> std::sync::RwLockWriteGuard<'_, Current> {
        self.current.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn snapshot(&self) -> Snapshot {
        let cur = self.read();
        match &cur.engine {
            Some(e) => e.control().snapshot(),
            None => Snapshot::without_engine(
                SystemTime::now(),
                &self.config_file,
                cur.problem
                    .clone()
                    .unwrap_or_else(|| "the engine is not running".into()),
            ),
        }
    }
}

/// The tray process's state, from the app handle.
pub(crate) trait AppExt {
    fn host(&self) -> State<'_, HostState>;

    /// The running engine's controls; `None` when none runs.
    fn control(&self) -> Option<Control> {
        self.host().control()
    }

    /// What every face shows: the engine's snapshot, or why none runs.
    fn snapshot(&self) -> Snapshot {
        self.host().snapshot()
    }
}

impl AppExt for AppHandle {
    fn host(&self) -> State<'_, HostState> {
        self.state::<HostState>()
    }
}
