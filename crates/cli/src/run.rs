//! `evergreen run`: the engine in the foreground, one readable line per event.

use crate::out::tell;
use std::time::SystemTime;

use clap::Args;
use evergreen_core::clock::{from_unix_millis, rfc3339};
use evergreen_core::engine::{Engine, EngineOptions};
use evergreen_core::paths::Paths;
use evergreen_core::{demo, Error};

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Print events as JSON lines instead of text.
    #[arg(long)]
    json: bool,
    /// Run the demo even if a config file exists.
    #[arg(long)]
    demo: bool,
}

pub fn demo_renew(a: &demo::RenewArgs) -> anyhow::Result<i32> {
    Ok(a.run(SystemTime::now()))
}

fn init_logging() {
    use crate::service::LogStyle;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("EVERGREEN_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let json = std::env::var("EVERGREEN_LOG_FORMAT").is_ok_and(|v| v == "json");
    let style = LogStyle::of_stderr();
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(matches!(style, LogStyle::Terminal { colour: true }));
    if json {
        b.json().init();
    } else if style == LogStyle::Journal {
        b.event_format(crate::service::JournalLine).init();
    } else {
        b.init();
    }
}

pub fn run(args: &RunArgs, paths: Paths) -> anyhow::Result<i32> {
    init_logging();
    let mut opts = EngineOptions::new(paths.clone());
    let demo_mode = args.demo || !paths.config_file.exists();
    if demo_mode {
        let dir = paths.runtime_dir.join("demo");
        opts.demo = Some((dir.clone(), std::env::current_exe()?));
        if !args.json {
            tell!("{}", demo::BANNER);
            tell!("Demo certificates live in {}.", dir.display());
        }
    }
    let mut events = opts.bus.subscribe();
    let mut notes = opts.notifications.subscribe();
    crate::runtime()?.block_on(async move {
        let engine = match Engine::start(opts).await {
            Ok(e) => e,
            Err(e @ Error::AlreadyRunning { .. }) => {
                eprintln!("error: {e}");
                return Ok(3);
            }
            Err(e @ Error::Config(_)) => {
                eprintln!("{e}");
                eprintln!("Fix the file and run `evergreen config check` to confirm.");
                return Ok(2);
            }
            Err(e) => return Err(e.into()),
        };
        crate::service::ready(engine.handle().statuses().len());
        let watchdog = tokio::spawn(crate::service::watchdog(engine.handle().clone()));
        if !args.json {
            tell!(
                "Evergreen is running ({}). `evergreen status` in another terminal shows every credential; Ctrl-C stops.",
                if demo_mode { "demo".to_string() } else { paths.config_file.display().to_string() }
            );
        }
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        loop {
            tokio::select! {
                ev = events.recv() => match ev {
                    Ok(ev) if args.json => tell!("{}", serde_json::to_string(&ev)?),
                    Ok(ev) => tell!("{}  {ev}", rfc3339(from_unix_millis(ev.at))),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => break,
                },
                n = notes.recv() => if let Ok(n) = n {
                    if args.json {
                        tell!("{}", serde_json::json!({"notification": n}));
                    } else {
                        tell!("{}  notify: {} — {}", rfc3339(SystemTime::now()), n.title, n.body.replace('\n', " "));
                    }
                },
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
            }
        }
        crate::service::stopping();
        watchdog.abort();
        engine.shutdown().await;
        if !args.json {
            tell!("Evergreen stopped.");
        }
        Ok(0)
    })
}
