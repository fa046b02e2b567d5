//! What the tray process holds while it runs (the engine, or why none
//! runs), and the one way its parts reach it: [`AppExt`] on the app handle.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use evergreen_core::engine::{Control, Engine};
use evergreen_core::ipc::{Reply, Request};
use evergreen_core::model::Snapshot;
use evergreen_sandbox::Sandbox;
use tauri::{AppHandle, Manager, State};

use crate::remote::Remote;

/// Tauri-managed state of the tray process.
pub(crate) struct HostState {
    current: RwLock<Current>,
    pub(crate) config_file: PathBuf,
}

/// The engine running now: the user's config, the demo, an engine running
/// elsewhere (the user service) that the tray attached to, or none (a broken config).
#[derive(Default)]
pub(crate) struct Current {
    /// Kept to shut it down cleanly on quit or when the config takes over.
    pub(crate) engine: Option<Engine>,
    /// The engine of another process (`evergreen run`, the user service),
    /// steered over its socket, and the last snapshot it streamed.
    pub(crate) service: Option<(Arc<Remote>, Option<Snapshot>)>,
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

    /// Whichever engine the tray steers: its own, or the service's.
    pub fn steer(&self) -> Option<Steer> {
        let cur = self.read();
        match (&cur.engine, &cur.service) {
            (Some(e), _) => Some(Steer::Own(e.control().clone())),
            (None, Some((remote, _))) => Some(Steer::Service(remote.clone())),
            (None, None) => None,
        }
    }

    pub(crate) fn read(&self) -> std::sync::RwLockReadGuard<'_, Current> {
        self.current.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn write(&self) -> std::sync::RwLockWriteGuard<'_, Current> {
        self.current.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn snapshot(&self) -> Snapshot {
        let cur = self.read();
        if let (None, Some((_, Some(snapshot)))) = (&cur.engine, &cur.service) {
            return snapshot.clone();
        }
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

    /// Whichever engine the tray steers; `None` when none runs.
    fn steer(&self) -> Option<Steer> {
        self.host().steer()
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

/// What the tray's menu and notification buttons ask of the engine, the same
/// whether it runs in this process or as the user service.
#[derive(Clone)]
pub(crate) enum Steer {
    Own(Control),
    Service(Arc<Remote>),
}

impl Steer {
    pub async fn renew(&self, name: &str) -> Result<(), String> {
        match self {
            Steer::Own(c) => c.handle.renew(name).await.map(drop).map_err(|e| e.to_string()),
            Steer::Service(r) => Self::call(r, Request::Renew { name: name.into() }).await,
        }
    }

    pub async fn set_paused(&self, name: &str, paused: bool) -> Result<(), String> {
        match self {
            Steer::Own(c) => c.handle.set_paused(name, paused).await.map_err(|e| e.to_string()),
            Steer::Service(r) => {
                let req = Request::SetPaused {
                    name: name.into(),
                    paused,
                    until: None,
                };
                Self::call(r, req).await
            }
        }
    }

    pub async fn renew_all_due(&self) -> Result<(), String> {
        match self {
            Steer::Own(c) => c.handle.renew_all_due().await.map(drop).map_err(|e| e.to_string()),
            Steer::Service(r) => Self::call(r, Request::RenewAllDue).await,
        }
    }

    pub async fn pause_notifications(&self, minutes: u32) -> Result<(), String> {
        match self {
            Steer::Own(c) => c.pause_notifications(minutes).map(drop).map_err(|e| e.to_string()),
            Steer::Service(r) => Self::call(r, Request::PauseNotifications { minutes }).await,
        }
    }

    pub async fn resume_notifications(&self) -> Result<(), String> {
        match self {
            Steer::Own(c) => c.resume_notifications().map_err(|e| e.to_string()),
            Steer::Service(r) => Self::call(r, Request::ResumeNotifications).await,
        }
    }

    async fn call(r: &Remote, req: Request) -> Result<(), String> {
        match r.call(req).await {
            Ok(Reply::Error { message }) => Err(message),
            Ok(_) => Ok(()),
            Err(e) => Err(e.message),
        }
    }
}
