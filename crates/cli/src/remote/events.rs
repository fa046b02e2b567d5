//! `evergreen events`: the engine's stream as it happens, until Ctrl-C.

use std::io::Write as _;

use clap::Args;
use evergreen_core::clock::{from_unix_millis, rfc3339};
use evergreen_core::ipc::{Client, Reply};
use evergreen_core::paths::Paths;

use crate::exit;

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// One JSON object per line instead of text.
    #[arg(long)]
    json: bool,
}

pub fn events(args: &EventsArgs, paths: &Paths) -> anyhow::Result<i32> {
    crate::runtime()?.block_on(async {
        let mut c = Client::connect(&paths.socket()).await?;
        c.subscribe().await?;
        let mut live = false;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        loop {
            tokio::select! {
                next = c.next() => match next? {
                    Some(Reply::Event { event }) => {
                        let line = if args.json {
                            serde_json::to_string(&event)?
                        } else {
                            format!("{}  {event}", rfc3339(from_unix_millis(event.at)))
                        };
                        // A reader that went away (`evergreen events | head`) ends the command quietly.
                        if writeln!(std::io::stdout(), "{line}").is_err() {
                            return Ok(exit::FINE);
                        }
                    }
                    // Snapshots are for windows; a line per event is what a terminal
                    // follows. The first one says the stream is live.
                    Some(_) if !live => {
                        live = true;
                        let _ = writeln!(std::io::stderr(), "Following the engine's events; Ctrl-C stops.");
                    }
                    Some(_) => {}
                    None => {
                        let _ = writeln!(std::io::stderr(), "The engine stopped; `evergreen run` starts one.");
                        return Ok(exit::NO_ENGINE);
                    }
                },
                _ = tokio::signal::ctrl_c() => return Ok(exit::FINE),
                _ = term.recv() => return Ok(exit::FINE),
            }
        }
    })
}
