//! Logging in when a credential needs its user: a password typed, a login in
//! a browser. What `evergreen login NAME` and the window's Log in do. What
//! the user types goes to the server and nowhere else: never to a file, a
//! log, an event or the store. The new token goes where the credential keeps
//! it, and the running engine picks it up from there at once.

use std::path::Path;

use secrecy::SecretString;

use crate::config;
use crate::error::{Error, Result};
use crate::model::LoginPrompt;

/// Shows the user where to log in: the address, and a device login's code.
pub type ShowLogin = Box<dyn Fn(&str, Option<&str>) + Send + Sync>;

/// What the user answers.
pub enum Answer {
    /// A user name (when the config has none) and a password.
    Password {
        username: Option<String>,
        password: SecretString,
    },
    /// A login in a browser: `open` shows the user the address to visit
    /// (opens it, prints it) and, for a device login, the code to enter
    /// there; the answer comes back on a loopback callback, or by polling.
    Browser { open: ShowLogin },
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Password { username, .. } => {
                write!(f, "Password {{ username: {username:?}, password: <redacted> }}")
            }
            Answer::Browser { .. } => f.write_str("Browser"),
        }
    }
}

/// Opens `url` in the user's browser (`xdg-open`), without waiting.
pub fn open_browser(url: &str) {
    use std::process::{Command, Stdio};
    let _ = Command::new("xdg-open")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

/// What logging in to `name` asks of the user.
pub fn prompt(config_file: &Path, name: &str) -> Result<LoginPrompt> {
    let c = config::credential_named(config_file, name)?;
    c.spec.login_prompt().ok_or_else(|| {
        Error::Refused(format!(
            "{name} does not ask you to log in ({} credential); only credentials with auth = \"userpass\", \"ldap\" or \"oidc\" do",
            c.kind().label()
        ))
    })
}

/// The access token of `name` for a script or tool, refreshed first when it
/// is due (`evergreen token NAME`).
pub async fn token(config_file: &Path, name: &str) -> Result<SecretString> {
    let c = config::credential_named(config_file, name)?;
    match c.spec.access_token(name, c.policy) {
        Some(t) => t.await.map_err(Error::Refused),
        None => Err(Error::Refused(format!(
            "{name} holds no token for other programs ({} credential); `evergreen token` is for OAuth credentials",
            c.kind().label()
        ))),
    }
}

/// Logs `name` in with `answer`; returns what to tell the user.
pub async fn log_in(config_file: &Path, name: &str, answer: Answer) -> Result<String> {
    let c = config::credential_named(config_file, name)?;
    prompt(config_file, name)?;
    match c.spec.log_in(name, answer) {
        Some(login) => login.await.map_err(Error::Refused),
        None => Err(Error::Refused(format!("{name} does not take a login"))),
    }
}
