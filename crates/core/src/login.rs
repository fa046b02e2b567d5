//! Logging in when a credential needs its user: a password typed, a login in
//! a browser. What `evergreen login NAME` and the window's Log in do. What
//! the user types goes to the server and nowhere else: never to a file, a
//! log, an event or the store. The new token goes where the credential keeps
//! it, and the running engine picks it up from there at once.

use std::os::unix::process::CommandExt as _;
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
    /// A login program (`aws sso login`) run by the user: `attached` in
    /// this terminal (the CLI), else in a terminal window of its own.
    Command { attached: bool },
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Password { username, .. } => {
                write!(f, "Password {{ username: {username:?}, password: <redacted> }}")
            }
            Answer::Browser { .. } => f.write_str("Browser"),
            Answer::Command { attached } => write!(f, "Command {{ attached: {attached} }}"),
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

/// The terminal programs tried, in order, to run a login program in a
/// window of its own: the user's choice, then Debian's alternative, then
/// the common ones.
const TERMINALS: &[&str] = &[
    "x-terminal-emulator",
    "gnome-terminal",
    "konsole",
    "xfce4-terminal",
    "xterm",
];

/// Runs a login program (`argv`): in this terminal when `attached`, waiting
/// for it, else in a new terminal window, not waiting (the credential's
/// files change when it is done, and the engine looks again by itself).
pub async fn run_command(argv: &[String], attached: bool) -> std::result::Result<String, String> {
    use std::process::Stdio;
    let shown = argv.join(" ");
    let Some((program, args)) = argv.split_first() else {
        return Err("the login command is empty".into());
    };
    if attached {
        let status = tokio::process::Command::new(program)
            .args(args)
            .status()
            .await
            .map_err(|e| format!("could not start `{shown}`: {e}"))?;
        return if status.success() {
            Ok(format!("`{shown}` finished; Evergreen picks up the new login at once"))
        } else {
            Err(format!("`{shown}` failed ({status}); run it by hand to see why"))
        };
    }
    let user_choice = std::env::var("TERMINAL").ok().filter(|t| !t.trim().is_empty());
    for term in user_choice.iter().map(String::as_str).chain(TERMINALS.iter().copied()) {
        // gnome-terminal takes the command after `--`; the others after -e.
        let sep = if term.ends_with("gnome-terminal") { "--" } else { "-e" };
        let started = std::process::Command::new(term)
            .arg(sep)
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn();
        if started.is_ok() {
            return Ok(format!(
                "`{shown}` runs in a terminal window; Evergreen picks up the new login when it is done"
            ));
        }
    }
    Err(format!(
        "no terminal program was found to run it in; run `{shown}` in a terminal"
    ))
}

/// The login of a kind whose login is the program `argv`: run it as the
/// answer says (this terminal, or a window of its own). Any other answer
/// is refused with the command to use.
pub fn by_command(argv: Vec<String>, answer: Answer) -> crate::kind::LoginFuture {
    Box::pin(async move {
        match answer {
            Answer::Command { attached } => run_command(&argv, attached).await,
            _ => Err(format!("this login is `{}`; `evergreen login` runs it", argv.join(" "))),
        }
    })
}

/// What logging in to `name` asks of the user.
pub fn prompt(config_file: &Path, name: &str) -> Result<LoginPrompt> {
    let c = config::credential_named(config_file, name)?;
    c.spec.login_prompt().ok_or_else(|| {
        Error::Refused(format!(
            "{name} does not ask you to log in ({} credential); its settings name no way to log in",
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
