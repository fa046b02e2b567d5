//! The one error every command returns to the UI: a kind to branch on and a
//! message that already says what went wrong and what to do. It never holds a
//! secret, because the core's errors never do.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error, ts_rs::TS)]
#[error("{message}")]
pub struct AppError {
    /// "unknown_credential", "config", "refused", "engine" (the engine refused over its socket), "engine_stopped", "no_engine", "invalid_input" or "internal".
    pub kind: String,
    pub message: String,
}

impl AppError {
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        AppError {
            kind: kind.into(),
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        AppError::new("invalid_input", message)
    }
}

impl From<evergreen_core::Error> for AppError {
    fn from(e: evergreen_core::Error) -> Self {
        use evergreen_core::Error as E;
        let kind = match &e {
            E::UnknownCredential { .. } => "unknown_credential",
            E::Config(_) => "config",
            E::Refused(_) => "refused",
            E::EngineStopped => "engine_stopped",
            E::NotRunning { .. } => "no_engine",
            _ => "internal",
        };
        AppError::new(kind, e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, AppError>;
