//! The one error type of evergreen-core.
//!
//! Every message names the thing (credential, file, URL), says what was wrong
//! and, where there is one, what to do next. No variant ever carries a secret.

use std::path::PathBuf;

/// Result with the core's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file is wrong; the message already names file, line,
    /// column, field and the fix.
    #[error("{0}")]
    Config(String),

    /// A certificate file could not be used.
    #[error("{path}: {reason}")]
    Certificate { path: PathBuf, reason: String },

    /// A file operation failed.
    #[error("could not {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The history store failed.
    #[error("history store {path}: {message}")]
    Store { path: PathBuf, message: String },

    /// Another engine already runs for this user.
    #[error("another Evergreen engine is already running (pid {pid}, socket {socket}); stop it first, or talk to it with `evergreen status`")]
    AlreadyRunning { pid: String, socket: PathBuf },

    /// The running engine could not be reached.
    #[error("no Evergreen engine is running (socket {socket}: {reason}); start one with `evergreen run`")]
    NotRunning { socket: PathBuf, reason: String },

    /// The engine was asked about a credential it does not hold.
    #[error("no credential named {name:?}; `evergreen status` lists them")]
    UnknownCredential { name: String },

    /// A request over the local socket was malformed or refused.
    #[error("{0}")]
    Ipc(String),

    /// The engine will not do what was asked; the message says why and what to do.
    #[error("{0}")]
    Refused(String),

    /// The engine has shut down.
    #[error("the Evergreen engine has stopped")]
    EngineStopped,
}

impl Error {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn cert(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Certificate {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
