//! The Evergreen tray app: wiring only.
//!
//! It runs as two processes so that a closed window costs nothing:
//!
//! - the **tray** process ([`host`]) starts the engine (`evergreen-core`) from
//!   the user's config, or the demo without one, and connects it to the
//!   desktop: the tray icon follows the worst state and the notification
//!   policy's decisions become desktop notifications. It never creates a
//!   webview.
//! - the **window** process ([`window`]), `evergreen-app --window`, is
//!   started when the user opens Evergreen and ends when the window closes,
//!   taking WebKit and everything it holds with it. It sees and steers the
//!   engine over the engine's local socket, the same way `evergreen status`
//!   does.
//!
//! Every decision about credentials is the engine's; this crate only shows
//! them and forwards what the user asks.

mod commands;
mod error;
mod host;
mod launch;
pub mod models;
mod notify;
mod remote;
mod state;
mod tray;
mod window;

pub use host::run as run_tray;
pub use window::{run as run_window, WindowOptions};

/// Logs go to stderr, filtered by `EVERGREEN_LOG` (warnings by default).
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("EVERGREEN_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The user's directories, or exit with what is wrong.
fn paths_or_exit() -> evergreen_core::paths::Paths {
    match evergreen_core::paths::Paths::from_env() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
