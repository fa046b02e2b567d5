//! evergreen-core: the whole Evergreen engine, with no GUI.
//!
//! Evergreen keeps a workstation's short-lived credentials (certificates,
//! tokens, fleet registrations) from expiring unnoticed. This crate holds all
//! of its logic; the `evergreen` CLI, the tray app and the tests are thin
//! faces over the same [`engine::Engine`] API and the same event stream.
//!
//! A face in a few lines: start the engine on the user's directories (it
//! takes the one-engine lock, loads the config, and renews from then on),
//! look at every credential, and stop it.
//!
//! ```no_run
//! use evergreen_core::engine::{Engine, EngineOptions};
//! use evergreen_core::paths::Paths;
//!
//! # async fn face() -> evergreen_core::Result<()> {
//! let engine = Engine::start(EngineOptions::new(Paths::from_env()?)).await?;
//! for status in engine.handle().statuses() {
//!     println!("{}: {}", status.name, status.state);
//! }
//! let outcome = engine.handle().renew("web").await?;
//! println!("{}", outcome.message);
//! engine.shutdown().await;
//! # Ok(())
//! # }
//! ```

pub mod activity;
pub mod backoff;
pub mod clock;
pub(crate) mod command;
pub mod config;
pub mod config_edit;
pub(crate) mod control;
pub(crate) mod csr;
pub mod demo;
pub mod discover;
pub mod engine;
pub(crate) mod error;
pub mod events;
pub mod fsutil;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod history;
pub(crate) mod host;
pub mod http;
pub mod ipc;
pub mod kind;
pub(crate) mod lock;
pub mod login;
pub mod loopback;
pub mod metrics;
pub mod model;
pub mod network;
pub mod notify_policy;
pub mod pair;
pub mod paths;
pub mod pki;
pub mod policy;
pub mod register;
pub mod scheduler;
pub(crate) mod secret;
pub(crate) mod sleep;
pub mod sources;
pub mod store;
pub(crate) mod watch;
pub mod x509;

pub use error::{Error, Result};
