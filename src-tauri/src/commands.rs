//! Thin IPC: each command checks its input and passes it on, to the engine
//! over its local socket or, for the config form, to the core's config
//! editor. No renewal logic lives here.

use evergreen_core::ipc::{Reply, Request};
use tauri::{AppHandle, Emitter, State};

use crate::error::{AppError, ErrorKind, Result};
use crate::models::*;
use crate::remote::{unexpected, Remote};

/// Names come from the webview, which is not trusted: the config's own rule.
fn check_name(name: &str) -> Result<()> {
    if evergreen_core::config::valid_name(name) {
        Ok(())
    } else {
        Err(AppError::invalid(format!("{name:?} is not a credential name")))
    }
}

#[tauri::command]
pub async fn snapshot(app: AppHandle, remote: State<'_, Remote>) -> Result<Snapshot> {
    let snap = remote.snapshot().await;
    if !remote.greeted.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::info!("window showing its first snapshot");
        // The page asks for its first snapshot once it listens: now it can
        // be told which credential it was opened for.
        let first = remote.show_first.lock().ok().and_then(|mut s| s.take());
        if first.is_some() {
            let _ = app.emit(NAVIGATE_EVENT, Navigate { name: first });
        }
    }
    Ok(snap)
}

#[tauri::command]
pub async fn renew(remote: State<'_, Remote>, name: String) -> Result<RenewOutcome> {
    check_name(&name)?;
    match remote.call(Request::Renew { name }).await? {
        Reply::Renewed { outcome } => Ok(outcome),
        other => Err(unexpected(other)),
    }
}

#[tauri::command]
pub async fn renew_all_due(remote: State<'_, Remote>) -> Result<Vec<String>> {
    match remote.call(Request::RenewAllDue).await? {
        Reply::Started { names } => Ok(names),
        other => Err(unexpected(other)),
    }
}

#[tauri::command]
pub async fn history(remote: State<'_, Remote>, name: String, limit: usize) -> Result<Vec<HistoryEntry>> {
    check_name(&name)?;
    let req = Request::History {
        name: Some(name),
        limit: limit.clamp(1, 1000),
    };
    match remote.call(req).await? {
        Reply::History { entries } => Ok(entries),
        other => Err(unexpected(other)),
    }
}

#[tauri::command]
pub async fn log_lines(remote: State<'_, Remote>, name: String) -> Result<Vec<LogLine>> {
    check_name(&name)?;
    match remote.call(Request::Activity { name }).await? {
        Reply::Lines { lines } => Ok(lines),
        other => Err(unexpected(other)),
    }
}

#[tauri::command]
pub async fn set_paused(remote: State<'_, Remote>, name: String, paused: bool) -> Result<()> {
    check_name(&name)?;
    remote
        .act(Request::SetPaused {
            name,
            paused,
            until: None,
        })
        .await
}

#[tauri::command]
pub async fn pause_notifications(remote: State<'_, Remote>, minutes: u32) -> Result<()> {
    remote.act(Request::PauseNotifications { minutes }).await
}

#[tauri::command]
pub async fn resume_notifications(remote: State<'_, Remote>) -> Result<()> {
    remote.act(Request::ResumeNotifications).await
}

#[tauri::command]
pub fn kinds() -> Vec<KindSchema> {
    evergreen_core::config_edit::kinds()
}

#[tauri::command]
pub fn credential_form(remote: State<'_, Remote>, name: String) -> Result<CredentialForm> {
    check_name(&name)?;
    Ok(evergreen_core::config_edit::read_form(&remote.config_file, &name)?)
}

#[tauri::command]
pub fn save_credential(
    remote: State<'_, Remote>,
    original: Option<String>,
    form: CredentialForm,
) -> Result<SaveResult> {
    if let Some(o) = &original {
        check_name(o)?;
    }
    // Adding a credential in the demo creates the user's config (the next
    // start runs it instead of the demo). The engine notices the file change
    // itself and applies it.
    if let Some(dir) = remote.config_file.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| AppError::new(ErrorKind::Config, format!("could not create {}: {e}", dir.display())))?;
    }
    Ok(evergreen_core::config_edit::save(
        &remote.config_file,
        original.as_deref(),
        &form,
    )?)
}

#[tauri::command]
pub fn delete_credential(remote: State<'_, Remote>, name: String) -> Result<()> {
    check_name(&name)?;
    Ok(evergreen_core::config_edit::delete(&remote.config_file, &name)?)
}

#[tauri::command]
pub fn register(remote: State<'_, Remote>, name: String, token: String) -> Result<()> {
    check_name(&name)?;
    evergreen_core::register::save_token(&remote.config_file, &name, &token.into())?;
    Ok(())
}

/// Logs a credential in that asks its user: with the password typed in the
/// window, or (no password) in the browser, which is opened for them; a
/// device login's code is shown in the window and in a notification.
#[tauri::command]
pub async fn login(
    app: AppHandle,
    remote: State<'_, Remote>,
    name: String,
    username: Option<String>,
    password: Option<String>,
) -> Result<String> {
    use evergreen_core::login::Answer;
    check_name(&name)?;
    let by_command = evergreen_core::login::prompt(&remote.config_file, &name)
        .map(|p| p.command.is_some())
        .unwrap_or(false);
    let answer = match password {
        None if by_command => Answer::Command { attached: false },
        Some(p) => Answer::Password {
            username: username.filter(|u| !u.trim().is_empty()),
            password: p.into(),
        },
        None => {
            let who = name.clone();
            Answer::Browser {
                open: Box::new(move |url: &str, code: Option<&str>| {
                    evergreen_core::login::open_browser(url);
                    let shown = LoginShown {
                        name: who.clone(),
                        url: url.to_string(),
                        code: code.map(str::to_string),
                    };
                    let _ = app.emit(LOGIN_EVENT, shown);
                    if let Some(code) = code {
                        let (title, body) = (format!("{who}: log in"), format!("Enter the code {code} at {url}"));
                        std::thread::spawn(move || crate::notify::plain(&title, &body));
                    }
                }),
            }
        }
    };
    Ok(evergreen_core::login::log_in(&remote.config_file, &name, answer).await?)
}

/// What expires on this machine (read-only; the window's first run lists it).
#[tauri::command]
pub async fn discover(remote: State<'_, Remote>) -> Result<Vec<Found>> {
    let config = remote.config_file.clone();
    tauri::async_runtime::spawn_blocking(move || {
        evergreen_core::discover::discover(&evergreen_core::discover::Places::of_this_user(), &config)
    })
    .await
    .map_err(|e| AppError::new(ErrorKind::Config, format!("looking for credentials failed: {e}")))
}

/// Adds what the user picked from [`discover`]'s list to the config, through
/// the settings form's validator; the engine picks the file up by itself.
#[tauri::command]
pub async fn add_found(remote: State<'_, Remote>, names: Vec<String>) -> Result<Vec<SaveResult>> {
    for n in &names {
        check_name(n)?;
    }
    let config = remote.config_file.clone();
    let added = tauri::async_runtime::spawn_blocking(move || {
        let found = evergreen_core::discover::discover(&evergreen_core::discover::Places::of_this_user(), &config);
        evergreen_core::discover::add(&config, &found, &names)
    })
    .await
    .map_err(|e| AppError::new(ErrorKind::Config, format!("adding failed: {e}")))??;
    Ok(added.into_iter().map(|(_, r)| r).collect())
}
