//! The local socket through which other processes reach the running engine.
//!
//! A Unix socket in the runtime directory (directory 0700, socket 0600), one
//! JSON request per line and one JSON reply per line. `evergreen status` and
//! `evergreen renew NAME` work the same whether the engine lives in the tray
//! app or in `evergreen run`, and the tray app's window, a process of its own
//! so that closing it frees everything a webview holds, sees and steers the
//! engine through it too: `subscribe` turns a connection into a stream of
//! events and snapshots.

//!
//! `server` holds the engine's side (who may connect, how much they may
//! hold, how long they may stay); `client` the side of the CLI and the window.

mod client;
mod server;

pub use client::Client;
pub use server::{Limits, Server};

use serde::{Deserialize, Serialize};

use crate::activity::LogLine;
use crate::events::Event;
use crate::model::{CredentialStatus, Snapshot};
use crate::scheduler::RenewOutcome;
use crate::store::HistoryEntry;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    Ping,
    Status,
    Renew {
        name: String,
    },
    RenewAllDue,
    History {
        name: Option<String>,
        limit: usize,
    },
    /// Everything a dashboard shows.
    Snapshot,
    /// Recent activity lines of one credential.
    Activity {
        name: String,
    },
    /// Pause or resume one credential's renewals.
    SetPaused {
        name: String,
        paused: bool,
        /// A pause that ends on its own (Unix ms).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<i64>,
    },
    PauseNotifications {
        minutes: u32,
    },
    ResumeNotifications,
    /// The Prometheus series, in the text exposition format.
    Metrics,
    /// From now on this connection only streams `Event`s and `Snapshot`s: a
    /// snapshot at once, one after every burst of events (bursts within 40 ms
    /// of each other count as one), and one after 30 s without any
    /// (heartbeats and the passing of time change what a dashboard shows).
    Subscribe,
    /// From now on this connection only streams the desktop notifications
    /// the engine decides on, one `Notification` each: how a tray shows them
    /// for an engine running elsewhere (the user service).
    Notifications,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Pong {
        pid: u32,
        version: String,
    },
    Status {
        credentials: Vec<CredentialStatus>,
    },
    Renewed {
        outcome: RenewOutcome,
    },
    Started {
        names: Vec<String>,
    },
    History {
        entries: Vec<HistoryEntry>,
    },
    Snapshot {
        snapshot: Box<Snapshot>,
    },
    Lines {
        lines: Vec<LogLine>,
    },
    Event {
        event: Box<Event>,
    },
    Metrics {
        text: String,
    },
    Notification {
        notification: Box<crate::notify_policy::Notification>,
    },
    Done,
    Error {
        message: String,
    },
}
