//! Commands that talk to the running engine over its local socket. They work
//! the same whether the engine lives in the tray app, in `evergreen run` or
//! in the user service.

mod events;
mod metrics;
mod show;
mod status;
mod steer;

pub use events::{events, EventsArgs};
pub use metrics::{metrics, MetricsArgs};
pub use show::{show, ShowArgs};
pub use status::{history, status, HistoryArgs, StatusArgs};
pub use steer::{notifications, pause, renew, resume, NotificationsCmd, PauseArgs, RenewArgs, ResumeArgs};

use crate::out::say;
use evergreen_core::ipc::{Client, Reply, Request};
use evergreen_core::model::Snapshot;
use evergreen_core::paths::Paths;

/// One request, one reply.
fn ask(paths: &Paths, req: Request) -> anyhow::Result<Reply> {
    crate::runtime()?.block_on(async {
        let mut c = Client::connect(&paths.socket()).await?;
        Ok(c.request(&req).await?)
    })
}

fn snapshot(paths: &Paths) -> anyhow::Result<Snapshot> {
    match ask(paths, Request::Snapshot)? {
        Reply::Snapshot { snapshot } => Ok(*snapshot),
        other => Err(unexpected(other)),
    }
}

/// A refusal is the engine's own words; anything else is a version mismatch.
fn unexpected(r: Reply) -> anyhow::Error {
    match r {
        Reply::Error { message } => anyhow::Error::new(Refused(message)),
        other => anyhow::anyhow!(
            "unexpected reply from the engine: {other:?}; are the engine and this command the same Evergreen version?"
        ),
    }
}

/// The engine said no, in its own words.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Prints `value` as one pretty JSON document.
fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    say!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
