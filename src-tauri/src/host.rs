//! The tray process: it hosts the engine, the tray icon and the desktop
//! notifications, and opens the window (a process of its own, see
//! [`crate::launch`]) when asked. It never creates a webview, so it stays as
//! small as the desktop libraries it links.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use evergreen_core::engine::{Engine, EngineOptions};
use evergreen_core::events::Follower;
use evergreen_core::ipc::{Reply, Request};
use evergreen_core::paths::Paths;
use evergreen_sandbox::{Options as SandboxOptions, Sandbox};
use tauri::{AppHandle, Manager, RunEvent};

use crate::remote::Remote;
use crate::state::{AppExt, Current, HostState};
use crate::{launch, notify, tray};

/// The demo's fleet credentials: a control plane (the sandbox) running in
/// this process on loopback, issuing certificates that live 90 s, so the
/// nixfleet, wrenn and certctl rows visibly renew and heartbeat.
async fn demo_fleet(dir: &Path) -> Result<(Sandbox, Vec<evergreen_core::config::CredentialConfig>), String> {
    let sb = Sandbox::start(SandboxOptions {
        cert_lifetime: Duration::from_secs(90),
        ..SandboxOptions::default()
    })
    .await
    .map_err(|e| e.to_string())?;
    let text = evergreen_sandbox::demo_config(&sb, dir).map_err(|e| format!("{e:#}"))?;
    let cfg = evergreen_core::config::parse(&text, &dir.join("fleet.toml")).map_err(|e| e.to_string())?;
    Ok((sb, cfg.credentials))
}

/// The engine another process runs for this user (the user service,
/// `evergreen run`), if one answers: one engine per user, so the tray
/// attaches to it rather than starting its own.
async fn attach_to_running(paths: &Paths) -> Option<Current> {
    let remote = Arc::new(Remote::new(paths, None));
    match remote.call(Request::Ping).await {
        Ok(Reply::Pong { pid, .. }) => {
            tracing::info!("attached to the engine already running (pid {pid})");
            Some(Current {
                service: Some((remote, None)),
                ..Current::default()
            })
        }
        _ => None,
    }
}

/// Starts the engine (the user's config, or the demo when there is none),
/// or attaches to the one already running.
async fn start_engine(paths: &Paths, demo_exe: PathBuf) -> Current {
    if let Some(running) = attach_to_running(paths).await {
        return running;
    }
    let mut opts = EngineOptions::new(paths.clone());
    let notes = opts.notifications.subscribe();
    let mut sandbox = None;
    let demo = !paths.config_file.exists();
    if demo {
        let dir = paths.runtime_dir.join("demo");
        match demo_fleet(&dir.join("fleet")).await {
            Ok((sb, creds)) => {
                sandbox = Some(sb);
                opts.demo_extra = creds;
            }
            Err(e) => tracing::warn!("the demo runs without its fleet control plane: {e}"),
        }
        opts.demo = Some((dir, demo_exe));
        eprintln!("{}", evergreen_core::demo::BANNER);
    }
    match Engine::start(opts).await {
        Ok(e) => Current {
            engine: Some(e),
            service: None,
            _sandbox: sandbox,
            problem: None,
            demo,
            notes: Some(notes),
        },
        Err(e @ evergreen_core::Error::AlreadyRunning { .. }) => {
            // One started between the look above and now.
            if let Some(running) = attach_to_running(paths).await {
                return running;
            }
            // Launched from a menu, stderr goes nowhere: say it on the desktop too.
            eprintln!("error: {e}");
            notify::plain("Evergreen is already running", &e.to_string());
            std::process::exit(3);
        }
        Err(e) => {
            eprintln!("{e}");
            Current {
                problem: Some(e.to_string()),
                ..Current::default()
            }
        }
    }
}

/// Connects the running engine to the tray and the notifications.
fn attach(app: &AppHandle) {
    let state = app.host();
    let mut cur = state.write();
    let notes = cur.notes.take();
    if let Some(e) = &cur.engine {
        tauri::async_runtime::spawn(follow_engine(app.clone(), e.handle().follow()));
        notify::spawn(app.clone(), notes.unwrap_or_else(|| e.notifications()));
    } else if let Some((remote, _)) = &cur.service {
        tauri::async_runtime::spawn(follow_service(app.clone(), remote.clone()));
    }
}

/// The service's engine → the tray and the desktop: its snapshots into the
/// tray, its notifications onto the desktop, until it stops. Then the tray
/// runs an engine of its own, or attaches again to one that came back
/// (systemd restarting the service).
async fn follow_service(app: AppHandle, remote: Arc<Remote>) {
    let notes = {
        let (app, remote) = (app.clone(), remote.clone());
        tauri::async_runtime::spawn(async move {
            let Ok(mut c) = remote.notifications().await else {
                return;
            };
            while let Ok(Some(reply)) = c.next().await {
                if let Reply::Notification { notification } = reply {
                    notify::show(&app, *notification);
                }
            }
        })
    };
    if let Ok(mut c) = remote.subscribe().await {
        while let Ok(Some(reply)) = c.next().await {
            if let Reply::Snapshot { snapshot } = reply {
                if let Some((_, last)) = app.host().write().service.as_mut() {
                    *last = Some(*snapshot);
                }
                tray::refresh(&app);
            }
        }
    }
    notes.abort();
    tracing::info!("the engine the tray was attached to has stopped");
    app.host().write().service = None;
    tray::refresh(&app);
    let paths = crate::paths_or_exit();
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("evergreen-app"));
        let next = start_engine(&paths, exe).await;
        let provisional = next.demo || next.problem.is_some();
        let running = next.engine.is_some() || next.service.is_some();
        *app.host().write() = next;
        attach(&app);
        tray::refresh(&app);
        if provisional {
            tauri::async_runtime::spawn(adopt_config(app.clone(), paths.clone()));
        }
        if running {
            return;
        }
    }
}

/// While the demo runs or the config is broken, waits for a config that
/// loads, then hands over to an engine running it: adding a first
/// credential ends the demo, fixing the config starts the engine, no restart
/// needed. (Polled: the config's directory may not even exist yet.)
async fn adopt_config(app: AppHandle, paths: Paths) {
    let stamp = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.modified().ok(), m.len()));
    let mut seen = stamp(&paths.config_file);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now = stamp(&paths.config_file);
        if now.is_none() || now == seen {
            continue;
        }
        seen = now;
        if evergreen_core::config::load(&paths.config_file).is_err() {
            // The window shows the file's own error; the tray keeps what it runs.
            continue;
        }
        let state = app.host();
        let old = state.write().engine.take();
        if let Some(old) = old {
            old.shutdown().await;
        }
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("evergreen-app"));
        let next = start_engine(&paths, exe).await;
        let running = next.engine.is_some();
        *state.write() = next;
        tracing::info!("now running the config at {}", paths.config_file.display());
        attach(&app);
        tray::refresh(&app);
        if running {
            return;
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
            let current = tauri::async_runtime::block_on(start_engine(&paths, exe));
            let provisional = current.demo || current.problem.is_some();
            app.manage(HostState::new(current, paths.config_file.clone()));
            app.manage(launch::WindowProcess::default());
            tray::create(app.handle())?;
            tracing::info!("tray icon ready");
            attach(app.handle());
            if provisional {
                tauri::async_runtime::spawn(adopt_config(app.handle().clone(), paths.clone()));
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
            let engine = app.host().write().engine.take();
            if let Some(engine) = engine {
                tauri::async_runtime::block_on(engine.shutdown());
            }
        }
        _ => {}
    });
}

/// Engine events → the tray, redrawn once per burst, until the engine stops
/// (the next engine gets its own follower).
async fn follow_engine(app: AppHandle, mut events: Follower) {
    // The tooltip's "next renewal in …" moves with time alone.
    let mut idle = tokio::time::interval(Duration::from_secs(30));
    idle.tick().await;
    loop {
        tokio::select! {
            burst = events.next_burst() => {
                if burst.ended {
                    return;
                }
                tray::refresh(&app);
            }
            _ = idle.tick() => tray::refresh(&app),
        }
    }
}
