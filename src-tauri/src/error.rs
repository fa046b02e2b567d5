//! The one error every command returns to the UI: a kind to branch on and a
//! message that already says what went wrong and what to do. It never holds a
//! secret, because the core's errors never do.

use serde::Serialize;

/// What kind of failure an [`AppError`] is, for the UI to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "bindings", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No credential of that name.
    UnknownCredential,
    /// The config file is wrong, or could not be written.
    Config,
    /// The engine refused (a retired credential, a pause of a terminal one).
    Refused,
    /// The engine answered the request with an error over its socket.
    Engine,
    /// The engine stopped while the request was under way.
    EngineStopped,
    /// No engine is running.
    NoEngine,
    /// What the window sent is not valid.
    InvalidInput,
    /// A bug: what should not happen did.
    Internal,
}

#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[cfg_attr(feature = "bindings", derive(ts_rs::TS))]
#[error("{message}")]
pub struct AppError {
    pub kind: ErrorKind,
    pub message: String,
}

impl AppError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        AppError {
            kind,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        AppError::new(ErrorKind::InvalidInput, message)
    }
}

impl From<evergreen_core::Error> for AppError {
    fn from(e: evergreen_core::Error) -> Self {
        use evergreen_core::Error as E;
        let kind = match &e {
            E::UnknownCredential { .. } => ErrorKind::UnknownCredential,
            E::Config(_) => ErrorKind::Config,
            E::Refused(_) => ErrorKind::Refused,
            E::EngineStopped => ErrorKind::EngineStopped,
            E::NotRunning { .. } => ErrorKind::NoEngine,
            _ => ErrorKind::Internal,
        };
        AppError::new(kind, e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ui_sees_a_kind_it_can_branch_on_and_the_message() {
        let e = AppError::from(evergreen_core::Error::UnknownCredential { name: "web".into() });
        let j = serde_json::to_value(&e).unwrap();
        assert_eq!(j["kind"], "unknown_credential");
        assert!(j["message"].as_str().unwrap().contains("web"), "{j}");
        assert_eq!(
            serde_json::to_value(AppError::invalid("x")).unwrap()["kind"],
            "invalid_input"
        );
    }
}
