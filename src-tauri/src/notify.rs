//! Delivers the engine's notification decisions as desktop notifications
//! (freedesktop, over D-Bus). What deserves one, and that it is sent once,
//! is the core's policy; this only shows it and answers its buttons.

use evergreen_core::notify_policy::{Notification, NotifyAction, Urgency};
use tauri::AppHandle;
use tokio::sync::broadcast;

use crate::state::AppExt;

pub fn spawn(app: AppHandle, mut rx: broadcast::Receiver<Notification>) {
    tauri::async_runtime::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(n) => show(&app, n),
                Err(broadcast::error::RecvError::Lagged(k)) => tracing::warn!("{k} notifications were dropped"),
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    });
}

/// A one-off notification outside the policy (the app itself could not start).
pub fn plain(title: &str, body: &str) {
    if let Err(e) = notify_rust::Notification::new()
        .appname("Evergreen")
        .summary(title)
        .body(body)
        .show()
    {
        tracing::warn!("could not show a notification: {e}");
    }
}

fn action_id(a: NotifyAction) -> (&'static str, &'static str) {
    match a {
        NotifyAction::RenewNow => ("renew_now", "Renew now"),
        NotifyAction::Open => ("open", "Open"),
        NotifyAction::LogIn => ("log_in", "Log in"),
    }
}

/// A login program (`aws sso login`) runs in a terminal window; any other
/// login is the window's Log in form.
fn log_in(app: &AppHandle, credential: Option<String>) {
    use evergreen_core::login;
    let config = app.host().config_file.clone();
    let by_command = credential
        .as_deref()
        .and_then(|n| login::prompt(&config, n).ok())
        .is_some_and(|p| p.command.is_some());
    match credential.clone().filter(|_| by_command) {
        Some(name) => {
            tauri::async_runtime::spawn(async move {
                match login::log_in(&config, &name, login::Answer::Command { attached: false }).await {
                    Ok(said) => tracing::info!("{name}: {said}"),
                    Err(e) => plain(&format!("{name}: log in"), &e.to_string()),
                }
            });
        }
        None => crate::launch::open(app, credential),
    }
}

/// Shows one notification (on a thread of its own: waiting for a button blocks).
pub fn show(app: &AppHandle, n: Notification) {
    let app = app.clone();
    std::thread::spawn(move || deliver(&app, n));
}

fn deliver(app: &AppHandle, n: Notification) {
    let caps = notify_rust::get_capabilities().unwrap_or_default();
    let with_actions = caps.iter().any(|c| c == "actions");
    let mut note = notify_rust::Notification::new();
    note.appname("Evergreen")
        .summary(&n.title)
        .body(&n.body)
        .icon(match n.urgency {
            Urgency::Critical => "dialog-error",
            Urgency::Normal => "dialog-warning",
            Urgency::Low => "dialog-information",
        })
        .urgency(match n.urgency {
            Urgency::Low => notify_rust::Urgency::Low,
            Urgency::Normal => notify_rust::Urgency::Normal,
            Urgency::Critical => notify_rust::Urgency::Critical,
        });
    if with_actions {
        note.action("default", "Open");
        for a in &n.actions {
            let (id, label) = action_id(*a);
            note.action(id, label);
        }
    }
    let shown = match note.show() {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!("could not show a notification ({}): {e}", n.title);
            return;
        }
    };
    if !with_actions {
        return;
    }
    let credential = n.credential.clone();
    shown.wait_for_action(|action| match action {
        "renew_now" => {
            if let (Some(name), Some(steer)) = (credential.clone(), app.steer()) {
                tauri::async_runtime::spawn(async move {
                    let _ = steer.renew(&name).await;
                });
            }
        }
        "log_in" => log_in(app, credential.clone()),
        "open" | "default" => crate::launch::open(app, credential.clone()),
        _ => {}
    });
}
