//! The Evergreen tray app: wiring only.
//!
//! It starts the engine (`evergreen-core`) from the user's config, or the demo
//! without one, and connects it to the desktop: engine events become Tauri
//! events for the window, the tray icon follows the worst state, and the
//! notification policy's decisions become desktop notifications. Every
//! decision about credentials is the engine's; this crate only shows them and
//! forwards what the user asks.

mod commands;
mod error;
pub mod models;
mod notify;
mod tray;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use evergreen_core::activity::Activity;
use evergreen_core::clock::unix_millis;
use evergreen_core::engine::{Engine, EngineOptions};
use evergreen_core::model::Health;
use evergreen_core::notify_policy::Notifier;
use evergreen_core::paths::Paths;
use evergreen_core::scheduler::Handle;
use evergreen_core::store::Store;
use evergreen_sandbox::{Options as SandboxOptions, Sandbox};
use tauri::{AppHandle, Emitter, Manager, RunEvent, WebviewUrl, WebviewWindowBuilder};

use crate::error::{AppError, Result};
use crate::models::{Navigate, Snapshot, ENGINE_EVENT, NAVIGATE_EVENT, SNAPSHOT_EVENT};

/// The running engine's parts the commands use.
pub(crate) struct EngineParts {
    pub handle: Handle,
    pub store: Arc<Store>,
    pub notifier: Notifier,
    pub activity: Activity,
}

/// Tauri-managed state.
pub(crate) struct AppState {
    engine: Option<EngineParts>,
    /// Kept to shut it down cleanly on quit.
    running: Mutex<Option<Engine>>,
    /// The demo's embedded control plane, kept alive while the app runs.
    _sandbox: Option<Sandbox>,
    paths: Paths,
    demo: bool,
    config_problem: Option<String>,
}

impl AppState {
    pub fn engine(&self) -> Result<&EngineParts> {
        self.engine.as_ref().ok_or_else(|| {
            AppError::new(
                "no_engine",
                self.config_problem
                    .clone()
                    .unwrap_or_else(|| "the engine is not running".into()),
            )
        })
    }

    /// The config file the form edits; the demo has none.
    pub fn config_file(&self) -> Result<&Path> {
        if self.demo && !self.paths.config_file.exists() {
            // Adding a credential in the demo creates the user's config; the
            // next start runs it instead of the demo.
            if let Some(dir) = self.paths.config_file.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| AppError::new("config", format!("could not create {}: {e}", dir.display())))?;
            }
        }
        Ok(&self.paths.config_file)
    }

    pub fn pause_notifications(&self, minutes: u32) -> Result<()> {
        let e = self.engine()?;
        let now = std::time::SystemTime::now();
        e.notifier.pause(now, Duration::from_secs(u64::from(minutes) * 60))?;
        Ok(())
    }

    pub fn snapshot(&self) -> Snapshot {
        let credentials = self.engine.as_ref().map(|e| e.handle.statuses()).unwrap_or_default();
        let worst = credentials
            .iter()
            .map(|c| c.state.health())
            .max()
            .unwrap_or(if self.config_problem.is_some() {
                Health::Failing
            } else {
                Health::Healthy
            });
        let paused = self
            .engine
            .as_ref()
            .and_then(|e| e.notifier.paused_until())
            .filter(|t| *t > std::time::SystemTime::now());
        Snapshot {
            credentials,
            now: unix_millis(std::time::SystemTime::now()),
            worst,
            notifications_paused_until: paused.map(unix_millis),
            demo: self.demo,
            config_path: self.paths.config_file.display().to_string(),
            config_problem: self.config_problem.clone(),
        }
    }
}

/// Pushes the current snapshot to the window and the tray.
pub(crate) fn push_snapshot(app: &AppHandle) {
    let snap = app.state::<AppState>().snapshot();
    tray::update(app, &snap);
    let _ = app.emit(SNAPSHOT_EVENT, &snap);
}

/// Shows the window (creating it if it was closed) and, optionally, one credential.
pub(crate) fn open_window(app: &AppHandle, credential: Option<String>) {
    let window = match app.get_webview_window("main") {
        Some(w) => w,
        None => match WebviewWindowBuilder::new(app, "main", WebviewUrl::App("index.html".into()))
            .title("Evergreen")
            .inner_size(800.0, 600.0)
            .min_inner_size(640.0, 480.0)
            .build()
        {
            Ok(w) => w,
            Err(e) => {
                tracing::error!("could not open the window: {e}");
                return;
            }
        },
    };
    let _ = window.show();
    let _ = window.unminimize();
    let _ = window.set_focus();
    if credential.is_some() {
        let _ = app.emit(NAVIGATE_EVENT, Navigate { name: credential });
    }
}

/// How the app was started.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Start in the tray without opening the window (start at login).
    pub hidden: bool,
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("EVERGREEN_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The demo's fleet credentials: a control plane (the sandbox) running in
/// this process on loopback, issuing certificates that live 90 s, so the
/// nixfleet, wrenn and certctl rows visibly renew and heartbeat.
fn demo_fleet(dir: &Path) -> std::result::Result<(Sandbox, Vec<evergreen_core::config::CredentialConfig>), String> {
    tauri::async_runtime::block_on(async {
        let sb = Sandbox::start(SandboxOptions {
            cert_lifetime: Duration::from_secs(90),
            ..SandboxOptions::default()
        })
        .await
        .map_err(|e| e.to_string())?;
        let text = evergreen_sandbox::demo_config(&sb, dir).map_err(|e| format!("{e:#}"))?;
        let cfg = evergreen_core::config::parse(&text, &dir.join("fleet.toml")).map_err(|e| e.to_string())?;
        Ok((sb, cfg.credentials))
    })
}

/// Starts the engine: the user's config, or the demo when there is none.
fn start_engine(paths: &Paths, demo_exe: PathBuf) -> (Option<Engine>, Option<Sandbox>, bool, Option<String>) {
    let mut opts = EngineOptions::new(paths.clone());
    let demo = !paths.config_file.exists();
    let mut sandbox = None;
    if demo {
        let dir = paths.runtime_dir.join("demo");
        match demo_fleet(&dir.join("fleet")) {
            Ok((sb, creds)) => {
                sandbox = Some(sb);
                opts.demo_extra = creds;
            }
            Err(e) => tracing::warn!("the demo runs without its fleet control plane: {e}"),
        }
        opts.demo = Some((dir, demo_exe));
        eprintln!("{}", evergreen_core::demo::BANNER);
    }
    match tauri::async_runtime::block_on(Engine::start(opts)) {
        Ok(e) => (Some(e), sandbox, demo, None),
        Err(e @ evergreen_core::Error::AlreadyRunning { .. }) => {
            // Launched from a menu, stderr goes nowhere: say it on the desktop too.
            eprintln!("error: {e}");
            notify::plain("Evergreen is already running", &e.to_string());
            std::process::exit(3);
        }
        Err(e) => {
            eprintln!("{e}");
            (None, None, demo, Some(e.to_string()))
        }
    }
}

/// Runs the tray app until the user quits.
pub fn run(options: Options) {
    init_logging();
    let paths = match Paths::from_env() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            open_window(app, None);
        }))
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec!["--hidden"]),
        ))
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
        ])
        .setup(move |app| {
            // Only now, after the single-instance check has let this process
            // through, does the engine start (and take the engine lock).
            let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("evergreen-app"));
            let (engine, sandbox, demo, config_problem) = start_engine(&paths, exe);
            let parts = engine.as_ref().map(|e| EngineParts {
                handle: e.handle().clone(),
                store: e.store().clone(),
                notifier: e.notifier().clone(),
                activity: e.activity().clone(),
            });
            let events = engine.as_ref().map(|e| e.handle().subscribe());
            let notes = engine.as_ref().map(|e| e.notifications());
            app.manage(AppState {
                engine: parts,
                running: Mutex::new(engine),
                _sandbox: sandbox,
                paths: paths.clone(),
                demo,
                config_problem,
            });
            tray::create(app.handle())?;
            tracing::info!("tray icon ready");
            push_snapshot(app.handle());
            if let Some(events) = events {
                tauri::async_runtime::spawn(forward_events(app.handle().clone(), events));
            }
            if let Some(notes) = notes {
                notify::spawn(app.handle().clone(), notes);
            }
            if !options.hidden {
                open_window(app.handle(), None);
            }
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: could not start the tray app: {e}");
            std::process::exit(1);
        }
    };
    app.run(|app, event| match event {
        // Closing the window keeps Evergreen in the tray; only Quit exits.
        RunEvent::ExitRequested { code: None, api, .. } => api.prevent_exit(),
        RunEvent::Exit => {
            let engine = app.state::<AppState>().running.lock().ok().and_then(|mut e| e.take());
            if let Some(engine) = engine {
                tauri::async_runtime::block_on(engine.shutdown());
            }
        }
        _ => {}
    });
}

/// Engine events → Tauri events. A burst of events (a reload, a resume)
/// becomes one snapshot, sent as soon as the burst has been read.
async fn forward_events(app: AppHandle, mut events: tokio::sync::broadcast::Receiver<models::Event>) {
    use tokio::sync::broadcast::error::{RecvError, TryRecvError};
    // Heartbeats change only a time; refresh the snapshot now and then for them.
    let mut idle = tokio::time::interval(Duration::from_secs(30));
    idle.tick().await;
    loop {
        tokio::select! {
            ev = events.recv() => {
                match ev {
                    Ok(ev) => { let _ = app.emit(ENGINE_EVENT, &ev); }
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => break,
                }
                loop {
                    match events.try_recv() {
                        Ok(ev) => { let _ = app.emit(ENGINE_EVENT, &ev); }
                        Err(TryRecvError::Lagged(_)) => {}
                        Err(_) => break,
                    }
                }
                push_snapshot(&app);
            }
            _ = idle.tick() => push_snapshot(&app),
        }
    }
}
