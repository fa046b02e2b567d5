//! Thin IPC: each command checks its input and calls the engine. No renewal
//! logic lives here.

use tauri::{AppHandle, State};

use crate::error::{AppError, Result};
use crate::models::*;
use crate::AppState;

/// Names come from the webview, which is not trusted: the config's own rule.
fn check_name(name: &str) -> Result<()> {
    if evergreen_core::config::valid_name(name) {
        Ok(())
    } else {
        Err(AppError::invalid(format!("{name:?} is not a credential name")))
    }
}

#[tauri::command]
pub fn snapshot(state: State<'_, AppState>) -> Snapshot {
    state.snapshot()
}

#[tauri::command]
pub async fn renew(state: State<'_, AppState>, name: String) -> Result<RenewOutcome> {
    check_name(&name)?;
    Ok(state.engine()?.handle.renew(&name).await?)
}

#[tauri::command]
pub async fn renew_all_due(state: State<'_, AppState>) -> Result<Vec<String>> {
    Ok(state.engine()?.handle.renew_all_due().await?)
}

#[tauri::command]
pub fn history(state: State<'_, AppState>, name: String, limit: usize) -> Result<Vec<HistoryEntry>> {
    check_name(&name)?;
    Ok(state.engine()?.store.history(Some(&name), limit.clamp(1, 1000))?)
}

#[tauri::command]
pub fn log_lines(state: State<'_, AppState>, name: String) -> Result<Vec<LogLine>> {
    check_name(&name)?;
    Ok(state.engine()?.activity.lines(&name))
}

#[tauri::command]
pub async fn set_paused(app: AppHandle, state: State<'_, AppState>, name: String, paused: bool) -> Result<()> {
    check_name(&name)?;
    state.engine()?.handle.set_paused(&name, paused).await?;
    crate::push_snapshot(&app);
    Ok(())
}

#[tauri::command]
pub fn pause_notifications(app: AppHandle, state: State<'_, AppState>, minutes: u32) -> Result<()> {
    if !(1..=7 * 24 * 60).contains(&minutes) {
        return Err(AppError::invalid("pause notifications for 1 minute to 7 days"));
    }
    state.pause_notifications(minutes)?;
    crate::push_snapshot(&app);
    Ok(())
}

#[tauri::command]
pub fn resume_notifications(app: AppHandle, state: State<'_, AppState>) -> Result<()> {
    state.engine()?.notifier.resume()?;
    crate::push_snapshot(&app);
    Ok(())
}

#[tauri::command]
pub fn kinds() -> Vec<KindSchema> {
    evergreen_core::config_edit::kinds()
}

#[tauri::command]
pub fn credential_form(state: State<'_, AppState>, name: String) -> Result<CredentialForm> {
    check_name(&name)?;
    Ok(evergreen_core::config_edit::read_form(state.config_file()?, &name)?)
}

#[tauri::command]
pub fn save_credential(
    state: State<'_, AppState>,
    original: Option<String>,
    form: CredentialForm,
) -> Result<SaveResult> {
    if let Some(o) = &original {
        check_name(o)?;
    }
    // The engine notices the file change itself and applies it.
    Ok(evergreen_core::config_edit::save(
        state.config_file()?,
        original.as_deref(),
        &form,
    )?)
}

#[tauri::command]
pub fn delete_credential(state: State<'_, AppState>, name: String) -> Result<()> {
    check_name(&name)?;
    Ok(evergreen_core::config_edit::delete(state.config_file()?, &name)?)
}

#[tauri::command]
pub fn register(state: State<'_, AppState>, name: String, token: String) -> Result<()> {
    check_name(&name)?;
    evergreen_core::register::save_token(state.config_file()?, &name, &token.into())?;
    Ok(())
}
