//! `evergreen login NAME`: log in to a credential that asks its user (a
//! Vault token with `auth = "userpass"`, `"ldap"` or `"oidc"`). The password
//! is read from the terminal without echo (or, with `--password-stdin`, from
//! standard input), goes to the server, and is then forgotten. The new
//! token goes to the credential's token file, where the running engine
//! picks it up at once. The work is the core's (`evergreen_core::login`).

use std::io::{BufRead, IsTerminal, Read, Write};

use anyhow::Context as _;
use clap::Args;
use evergreen_core::login::{self, Answer};
use evergreen_core::paths::Paths;
use secrecy::SecretString;

use crate::out::say;

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// The credential, as named in the config.
    pub name: String,
    /// Log in as this user (userpass, ldap) instead of the config's username.
    #[arg(long)]
    pub username: Option<String>,
    /// Read the password from standard input (its first line) instead of
    /// asking at the terminal.
    #[arg(long)]
    pub password_stdin: bool,
    /// Print the browser login's address (oidc) without opening a browser.
    #[arg(long)]
    pub no_browser: bool,
}

/// A line to the user on standard error; a reader that went away (a closed
/// pipe) does not stop the login.
fn tell(text: &str) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(text.as_bytes()).and_then(|_| e.flush());
}

/// A line typed at the terminal with echo off, restored however it ends.
fn read_hidden(prompt: &str) -> anyhow::Result<String> {
    use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions};
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .context("cannot open the terminal to ask for the password; use --password-stdin")?;
    let before = tcgetattr(&tty).context("cannot read the terminal's settings")?;
    let mut quiet = before.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    quiet.local_modes.insert(LocalModes::ECHONL);
    tell(prompt);
    tcsetattr(&tty, OptionalActions::Now, &quiet).context("cannot turn the terminal's echo off")?;
    let mut line = String::new();
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    let _ = tcsetattr(&tty, OptionalActions::Now, &before);
    read.context("cannot read the password")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn read_visible(prompt: &str) -> anyhow::Result<String> {
    tell(prompt);
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the user name")?;
    Ok(line.trim().to_string())
}

pub fn run(args: &LoginArgs, paths: &Paths) -> anyhow::Result<i32> {
    let prompt = match login::prompt(&paths.config_file, &args.name) {
        Ok(p) => p,
        Err(evergreen_core::Error::Refused(msg)) => {
            tell(&format!("error: {msg}\n"));
            return Ok(2);
        }
        Err(e) => return Err(e.into()),
    };
    let answer = if let Some(argv) = &prompt.command {
        tell(&format!("Running `{}`…\n", argv.join(" ")));
        Answer::Command { attached: true }
    } else if prompt.browser {
        let no_browser = args.no_browser;
        Answer::Browser {
            open: Box::new(move |url: &str, code: Option<&str>| {
                tell(&format!(
                    "Log in at this address (it opens in your browser):\n\n  {url}\n\n"
                ));
                if let Some(code) = code {
                    tell(&format!("The code to enter there, if it asks: {code}\n"));
                }
                if !no_browser {
                    login::open_browser(url);
                }
                tell("Waiting for the browser…\n");
            }),
        }
    } else {
        let username = match args.username.clone().or(prompt.username.clone()) {
            Some(u) => Some(u),
            None if args.password_stdin => {
                anyhow::bail!("no user name: give --username, or set username in the config")
            }
            None => Some(read_visible(&format!(
                "{} user name for {}: ",
                prompt.method, args.name
            ))?),
        };
        let password = if args.password_stdin || !std::io::stdin().is_terminal() {
            let mut text = String::new();
            std::io::stdin()
                .lock()
                .take(64 * 1024)
                .read_to_string(&mut text)
                .context("cannot read the password from standard input")?;
            text.lines().next().unwrap_or_default().to_string()
        } else {
            read_hidden(&format!(
                "Password for {} ({}): ",
                username.as_deref().unwrap_or_default(),
                prompt.method
            ))?
        };
        if password.is_empty() {
            anyhow::bail!("the password is empty; nothing was sent");
        }
        Answer::Password {
            username,
            password: SecretString::from(password),
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    match rt.block_on(login::log_in(&paths.config_file, &args.name, answer)) {
        Ok(msg) => {
            say!("{}: {msg}", args.name);
            Ok(0)
        }
        Err(evergreen_core::Error::Refused(msg)) => {
            tell(&format!("error: {}: {msg}\n", args.name));
            Ok(1)
        }
        Err(e) => Err(e.into()),
    }
}
