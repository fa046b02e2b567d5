//! The tray process: it hosts the engine, the tray icon and the desktop
//! notifications, and opens the window (a process of its own, see
//! [`crate::launch`]) when asked. It never creates a webview, so it stays as
//! small as the desktop libraries it links.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use evergreen_core::engine::{Control, Engine, EngineOptions};
use evergreen_core::model::Snapshot;
use evergreen_core::paths::Paths;
use evergreen_sandbox::{Options as SandboxOptions, Sandbox};
use tauri::{AppHandle, Manager, RunEvent};

use crate::{launch, notify, tray};

/// Tauri-managed state of the tray process.
pub(crate) struct HostState {
    /// The running engine's controls; `None` when it could not start.
    pub control: Option<Control>,
    /// Kept to shut it down cleanly on quit.
    running: Mutex<Option<Engine>>,
    /// The demo's embedded control plane, kept alive while the app runs.
    _sandbox: Option<Sandbox>,
    config_file: PathBuf,
    config_problem: Option<String>,
}

impl HostState {
    pub fn snapshot(&self) -> Snapshot {
        match &self.control {
            Some(c) => c.snapshot(),
            None => Snapshot::without_engine(
                SystemTime::now(),
                &self.config_file,
                self.config_problem
                    .clone()
                    .unwrap_or_else(|| "the engine is not running".into()),
            ),
        }
    }
}

/// Brings the tray up to date.
pub(crate) fn refresh(app: &AppHandle) {
    let snap = app.state::<HostState>().snapshot();
    tray::update(app, &snap);
}

/// The demo's fleet credentials: a control plane (the sandbox) running in
/// this process on loopback, issuing certificates that live 90 s, so the
/// nixfleet, wrenn and certctl rows visibly renew and heartbeat.
fn demo_fleet(dir: &Path) -> Result<(Sandbox, Vec<evergreen_core::config::CredentialConfig>), String> {
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
fn start_engine(paths: &Paths, demo_exe: PathBuf) -> (Option<Engine>, Option<Sandbox>, Option<String>) {
    let mut opts = EngineOptions::new(paths.clone());
    let mut sandbox = None;
    if !paths.config_file.exists() {
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
        Ok(e) => (Some(e), sandbox, None),
        Err(e @ evergreen_core::Error::AlreadyRunning { .. }) => {
            // Launched from a menu, stderr goes nowhere: say it on the desktop too.
            eprintln!("error: {e}");
            notify::plain("Evergreen is already running", &e.to_string());
            std::process::exit(3);
        }
        Err(e) => {
            eprintln!("{e}");
            (None, None, Some(e.to_string()))
        }
    }
}

/// Runs the tray until the user quits; `hidden` starts without opening the
/// window (as start at login does).
pub fn run(hidden: bool) {
    crate::init_logging();
    let paths = crate::paths_or_exit();
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            launch::open(app, None);
        }))
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec!["--hidden"]),
        ))
        .setup(move |app| {
            // Only now, after the single-instance check has let this process
            // through, does the engine start (and take the engine lock).
            let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("evergreen-app"));
            let (engine, sandbox, config_problem) = start_engine(&paths, exe);
            let events = engine.as_ref().map(|e| e.handle().subscribe());
            let notes = engine.as_ref().map(|e| e.notifications());
            app.manage(HostState {
                control: engine.as_ref().map(|e| e.control().clone()),
                running: Mutex::new(engine),
                _sandbox: sandbox,
                config_file: paths.config_file.clone(),
                config_problem,
            });
            app.manage(launch::WindowProcess::default());
            tray::create(app.handle())?;
            tracing::info!("tray icon ready");
            if let Some(events) = events {
                tauri::async_runtime::spawn(follow_engine(app.handle().clone(), events));
            }
            if let Some(notes) = notes {
                notify::spawn(app.handle().clone(), notes);
            }
            if !hidden {
                launch::open(app.handle(), None);
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
        // The tray process has no window of its own; only Quit ends it.
        RunEvent::ExitRequested { code: None, api, .. } => api.prevent_exit(),
        RunEvent::Exit => {
            launch::close(app);
            let engine = app.state::<HostState>().running.lock().ok().and_then(|mut e| e.take());
            if let Some(engine) = engine {
                tauri::async_runtime::block_on(engine.shutdown());
            }
        }
        _ => {}
    });
}

/// Engine events → the tray. A burst of events (a reload, a resume) is read
/// whole before the tray is redrawn once.
async fn follow_engine(app: AppHandle, mut events: tokio::sync::broadcast::Receiver<evergreen_core::events::Event>) {
    use tokio::sync::broadcast::error::{RecvError, TryRecvError};
    // The tooltip's "next renewal in …" moves with time alone.
    let mut idle = tokio::time::interval(Duration::from_secs(30));
    idle.tick().await;
    loop {
        tokio::select! {
            ev = events.recv() => {
                if let Err(RecvError::Closed) = ev {
                    break;
                }
                while matches!(events.try_recv(), Ok(_) | Err(TryRecvError::Lagged(_))) {}
                refresh(&app);
            }
            _ = idle.tick() => refresh(&app),
        }
    }
}
