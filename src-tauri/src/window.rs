//! The window process (`evergreen-app --window`): the web UI in a webview,
//! its commands answered over the engine's local socket, the engine's
//! events and snapshots streamed into it. It ends when its window closes.

use std::io::BufRead;
use std::time::Duration;

use evergreen_core::ipc::Reply;
use tauri::{AppHandle, Emitter, Manager, WebviewUrl, WebviewWindowBuilder};

use crate::commands;
use crate::models::{Navigate, NAVIGATE_EVENT, SNAPSHOT_EVENT};
use crate::remote::Remote;

const WINDOW: &str = "main";

/// How the window process was started.
#[derive(Debug, Default, Clone)]
pub struct WindowOptions {
    /// Open this credential's detail view first.
    pub show: Option<String>,
    /// Started by the tray: take `show` lines from stdin, and close when it ends.
    pub attached: bool,
}

/// Runs the window until it is closed.
pub fn run(options: WindowOptions) {
    crate::init_logging();
    let paths = crate::paths_or_exit();
    let remote = Remote::new(&paths, options.show.clone());
    let app = tauri::Builder::default()
        .manage(remote)
        // Size and position kept across openings (the window is a process
        // of its own, so this is what "remembers" means here).
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .invoke_handler(tauri::generate_handler![
            commands::snapshot,
            commands::renew,
            commands::renew_all_due,
            commands::history,
            commands::log_lines,
            commands::set_paused,
            commands::pause_notifications,
            commands::resume_notifications,
            commands::kinds,
            commands::credential_form,
            commands::save_credential,
            commands::delete_credential,
            commands::register,
            commands::login,
            commands::discover,
            commands::add_found,
        ])
        .setup(move |app| {
            let window = WebviewWindowBuilder::new(app, WINDOW, WebviewUrl::App("index.html".into()))
                .title("Evergreen")
                .inner_size(800.0, 600.0)
                .min_inner_size(640.0, 480.0)
                .build()?;
            lighten(&window);
            tauri::async_runtime::spawn(follow_engine(app.handle().clone()));
            if options.attached {
                let app = app.handle().clone();
                std::thread::spawn(move || follow_tray(app));
            }
            Ok(())
        })
        .build(tauri::generate_context!());
    match app {
        // Closing the last window ends the process (Tauri's default).
        Ok(app) => app.run(|_, _| {}),
        Err(e) => {
            eprintln!("error: could not open the Evergreen window: {e}");
            std::process::exit(1);
        }
    }
}

/// WebKit settings for a small local page: no GPU compositing (a dashboard
/// of text and bars draws faster on the CPU than through a GL context,
/// which under software GL costs a core per animation frame), and the
/// document-viewer cache model (one page, nothing to cache for later).
fn lighten(window: &tauri::WebviewWindow) {
    #[cfg(target_os = "linux")]
    let _ = window.with_webview(|wv| {
        use webkit2gtk::{CacheModel, HardwareAccelerationPolicy, SettingsExt, WebContextExt, WebViewExt};
        let view = wv.inner();
        if let Some(settings) = WebViewExt::settings(&view) {
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
        }
        if let Some(context) = view.context() {
            context.set_cache_model(CacheModel::DocumentViewer);
        }
    });
    #[cfg(not(target_os = "linux"))]
    let _ = window;
}

/// Shows the window and, optionally, one credential.
pub(crate) fn show(app: &AppHandle, credential: Option<String>) {
    if let Some(w) = app.get_webview_window(WINDOW) {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
    if credential.is_some() {
        let _ = app.emit(NAVIGATE_EVENT, Navigate { name: credential });
    }
}

/// The tray's requests on stdin; its end means the tray quit.
fn follow_tray(app: AppHandle) {
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        if let Some(rest) = line.strip_prefix("show") {
            let name = rest.trim();
            show(&app, (!name.is_empty()).then(|| name.to_string()));
            tracing::info!("brought the window forward at the tray's request");
        }
    }
    app.exit(0);
}

/// The engine's stream → Tauri events. Reconnects when the engine goes away
/// (the tray hands over from the demo to the user's config, or is quit and
/// started again), and says why only when it stays away.
async fn follow_engine(app: AppHandle) {
    const RETRY: Duration = Duration::from_millis(250);
    // About two seconds without an engine before the window says so.
    const PATIENCE: u32 = 8;
    let mut misses = 0;
    loop {
        let remote = app.state::<Remote>();
        match remote.subscribe().await {
            Ok(mut stream) => {
                misses = 0;
                loop {
                    match stream.next().await {
                        Ok(Some(Reply::Snapshot { snapshot })) => {
                            let _ = app.emit(SNAPSHOT_EVENT, &*snapshot);
                        }
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!("{e}");
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                misses += 1;
                if misses == PATIENCE {
                    let _ = app.emit(SNAPSHOT_EVENT, remote.without_engine(e.to_string()));
                }
            }
        }
        tokio::time::sleep(if misses >= PATIENCE {
            Duration::from_secs(2)
        } else {
            RETRY
        })
        .await;
    }
}
