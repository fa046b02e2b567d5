//! The window process's way to the engine: requests over the engine's local
//! socket (one connection per request, so a slow renewal never holds up a
//! click elsewhere), and what to show when no engine answers.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;
use std::time::SystemTime;

use evergreen_core::ipc::{Client, Reply, Request};
use evergreen_core::model::Snapshot;
use evergreen_core::paths::Paths;

use crate::error::{AppError, ErrorKind, Result};

pub(crate) struct Remote {
    socket: PathBuf,
    pub config_file: PathBuf,
    /// The credential to show once the page is listening (`--show NAME`).
    pub show_first: Mutex<Option<String>>,
    /// Whether the page has asked for its first snapshot yet.
    pub greeted: AtomicBool,
}

impl Remote {
    pub fn new(paths: &Paths, show: Option<String>) -> Remote {
        Remote {
            socket: paths.socket(),
            config_file: paths.config_file.clone(),
            show_first: Mutex::new(show),
            greeted: AtomicBool::new(false),
        }
    }

    /// Asks the engine; its refusals come back as errors.
    pub async fn call(&self, req: Request) -> Result<Reply> {
        let mut c = Client::connect(&self.socket).await?;
        match c.request(&req).await? {
            Reply::Error { message } => Err(AppError::new(ErrorKind::Engine, message)),
            r => Ok(r),
        }
    }

    /// Asks for something answered with `Done`.
    pub async fn act(&self, req: Request) -> Result<()> {
        match self.call(req).await? {
            Reply::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// A connection streaming the engine's events and snapshots.
    pub async fn subscribe(&self) -> evergreen_core::Result<Client> {
        let mut c = Client::connect(&self.socket).await?;
        c.subscribe().await?;
        Ok(c)
    }

    /// A connection streaming the engine's notifications.
    pub async fn notifications(&self) -> evergreen_core::Result<Client> {
        let mut c = Client::connect(&self.socket).await?;
        c.notifications().await?;
        Ok(c)
    }

    pub async fn snapshot(&self) -> Snapshot {
        match self.call(Request::Snapshot).await {
            Ok(Reply::Snapshot { snapshot }) => *snapshot,
            Ok(other) => self.without_engine(unexpected(other).message),
            Err(e) => self.without_engine(e.message),
        }
    }

    /// No engine answered: the config's own error when it has one (the tray
    /// could not start the engine on it), otherwise why the engine is unreachable.
    pub fn without_engine(&self, why: String) -> Snapshot {
        let problem = match evergreen_core::config::load(&self.config_file) {
            Err(e) if self.config_file.exists() => e.to_string(),
            _ => why,
        };
        Snapshot::without_engine(SystemTime::now(), &self.config_file, problem)
    }
}

pub(crate) fn unexpected(r: Reply) -> AppError {
    AppError::new(
        ErrorKind::Internal,
        format!("unexpected reply from the engine: {r:?}; are the app and the engine the same Evergreen version?"),
    )
}
