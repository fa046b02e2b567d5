//! The local socket through which other processes reach the running engine.
//!
//! A Unix socket in the runtime directory (directory 0700, socket 0600), one
//! JSON request per line and one JSON reply per line. `evergreen status` and
//! `evergreen renew NAME` work the same whether the engine lives in the tray
//! app or in `evergreen run`, and the tray app's window, a process of its own
//! so that closing it frees everything a webview holds, sees and steers the
//! engine through it too: `subscribe` turns a connection into a stream of
//! events and snapshots.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::activity::LogLine;
use crate::engine::Control;
use crate::error::{Error, Result};
use crate::events::{next_burst, Event};
use crate::fsutil::ensure_private_dir;
use crate::model::{CredentialStatus, Snapshot};
use crate::scheduler::RenewOutcome;
use crate::store::HistoryEntry;

/// Longest request line accepted; anything longer is not ours.
const MAX_REQUEST: usize = 64 * 1024;

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
    },
    PauseNotifications {
        minutes: u32,
    },
    ResumeNotifications,
    /// From now on this connection only streams `Event`s and `Snapshot`s: a
    /// snapshot at once, one after every burst of events, and one every 30 s
    /// (heartbeats and the passing of time change what a dashboard shows).
    Subscribe,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Pong { pid: u32, version: String },
    Status { credentials: Vec<CredentialStatus> },
    Renewed { outcome: RenewOutcome },
    Started { names: Vec<String> },
    History { entries: Vec<HistoryEntry> },
    Snapshot { snapshot: Box<Snapshot> },
    Lines { lines: Vec<LogLine> },
    Event { event: Box<Event> },
    Done,
    Error { message: String },
}

/// How often a subscriber gets a snapshot when nothing happens.
const IDLE_SNAPSHOT: std::time::Duration = std::time::Duration::from_secs(30);

/// Serves requests until the task is dropped.
pub struct Server {
    path: PathBuf,
}

impl Server {
    /// Binds the socket, replacing a stale one left by a dead engine (the
    /// engine lock guarantees no live engine owns it).
    pub fn bind(path: &Path) -> Result<(Server, UnixListener)> {
        if let Some(dir) = path.parent() {
            ensure_private_dir(dir)?;
        }
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path).map_err(|e| Error::io("listen on", path, e))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io("set permissions on", path, e))?;
        Ok((
            Server {
                path: path.to_path_buf(),
            },
            listener,
        ))
    }

    pub async fn serve(listener: UnixListener, control: Control) {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let control = control.clone();
            tokio::spawn(async move {
                if let Err(e) = connection(stream, control).await {
                    tracing::debug!("local socket client: {e}");
                }
            });
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn send(w: &mut tokio::net::unix::OwnedWriteHalf, reply: &Reply) -> std::io::Result<()> {
    let mut out =
        serde_json::to_vec(reply).unwrap_or_else(|_| b"{\"reply\":\"error\",\"message\":\"encoding failed\"}".to_vec());
    out.push(b'\n');
    w.write_all(&out).await
}

async fn connection(stream: UnixStream, control: Control) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut lines = BufReader::new(r.take(MAX_REQUEST as u64 * 16)).lines();
    while let Some(line) = lines.next_line().await? {
        let reply = if line.len() > MAX_REQUEST {
            Reply::Error {
                message: "request too long".into(),
            }
        } else {
            match serde_json::from_str::<Request>(&line) {
                Ok(Request::Subscribe) => return stream_to(lines, w, &control).await,
                Ok(req) => answer(req, &control).await,
                Err(e) => Reply::Error {
                    message: format!("malformed request: {e}"),
                },
            }
        };
        send(&mut w, &reply).await?;
    }
    Ok(())
}

/// Streams events and snapshots until the subscriber hangs up.
async fn stream_to<R: tokio::io::AsyncBufRead + Unpin>(
    mut lines: tokio::io::Lines<R>,
    mut w: tokio::net::unix::OwnedWriteHalf,
    control: &Control,
) -> std::io::Result<()> {
    let mut events = control.subscribe();
    let snapshot = |c: &Control| Reply::Snapshot {
        snapshot: Box::new(c.snapshot()),
    };
    send(&mut w, &snapshot(control)).await?;
    let mut idle = tokio::time::interval(IDLE_SNAPSHOT);
    idle.tick().await;
    loop {
        tokio::select! {
            burst = next_burst(&mut events) => {
                for event in burst.events {
                    send(&mut w, &Reply::Event { event: Box::new(event) }).await?;
                }
                // The engine stopped (it quits, or hands over to another): so does the stream.
                if burst.ended {
                    return Ok(());
                }
                send(&mut w, &snapshot(control)).await?;
            }
            _ = idle.tick() => send(&mut w, &snapshot(control)).await?,
            // Anything more from a subscriber is ignored; its end ends the stream.
            line = lines.next_line() => if line?.is_none() { return Ok(()) },
        }
    }
}

async fn answer(req: Request, control: &Control) -> Reply {
    let (handle, store) = (&control.handle, &control.store);
    let err = |e: Error| Reply::Error { message: e.to_string() };
    match req {
        Request::Ping => Reply::Pong {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        Request::Status => Reply::Status {
            credentials: handle.statuses(),
        },
        Request::Renew { name } => match handle.renew(&name).await {
            Ok(outcome) => Reply::Renewed { outcome },
            Err(e) => err(e),
        },
        Request::RenewAllDue => match handle.renew_all_due().await {
            Ok(names) => Reply::Started { names },
            Err(e) => err(e),
        },
        Request::History { name, limit } => match store.history(name.as_deref(), limit.min(10_000)) {
            Ok(entries) => Reply::History { entries },
            Err(e) => err(e),
        },
        Request::Snapshot => Reply::Snapshot {
            snapshot: Box::new(control.snapshot()),
        },
        Request::Activity { name } => Reply::Lines {
            lines: control.activity.lines(&name),
        },
        Request::SetPaused { name, paused } => match handle.set_paused(&name, paused).await {
            Ok(()) => Reply::Done,
            Err(e) => err(e),
        },
        Request::PauseNotifications { minutes } => match control.pause_notifications(minutes) {
            Ok(_) => Reply::Done,
            Err(e) => err(e),
        },
        Request::ResumeNotifications => match control.resume_notifications() {
            Ok(()) => Reply::Done,
            Err(e) => err(e),
        },
        Request::Subscribe => Reply::Error {
            message: "subscribe is answered by a stream".into(),
        },
    }
}

use tokio::io::AsyncReadExt as _;

/// How long a client waits for the engine to accept its connection.
const CONNECT_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a client waits for an answer: a question about state is
/// answered at once; a renewal may run a command or a slow server.
const ANSWER_PATIENCE: std::time::Duration = std::time::Duration::from_secs(15);
const RENEW_PATIENCE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// A connection to the running engine.
pub struct Client {
    socket: PathBuf,
    lines: tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>,
    w: tokio::net::unix::OwnedWriteHalf,
}

impl Client {
    pub async fn connect(socket: &Path) -> Result<Client> {
        let connect = tokio::time::timeout(CONNECT_PATIENCE, UnixStream::connect(socket))
            .await
            .map_err(|_| Error::NotRunning {
                socket: socket.to_path_buf(),
                reason: format!(
                    "it did not accept a connection within {} s (the engine may be stuck; its log says more)",
                    CONNECT_PATIENCE.as_secs()
                ),
            })?;
        let stream = connect.map_err(|e| Error::NotRunning {
            socket: socket.to_path_buf(),
            reason: match e.kind() {
                std::io::ErrorKind::NotFound => "no socket".into(),
                std::io::ErrorKind::ConnectionRefused => "nothing is listening".into(),
                _ => e.to_string(),
            },
        })?;
        let (r, w) = stream.into_split();
        Ok(Client {
            socket: socket.to_path_buf(),
            lines: BufReader::new(r).lines(),
            w,
        })
    }

    fn lost(&self, e: std::io::Error) -> Error {
        Error::Ipc(format!(
            "lost the connection to the engine at {}: {e}",
            self.socket.display()
        ))
    }

    /// Sends one request and waits for its answer, but not forever: an
    /// engine that does not answer in time is named, with what to do.
    pub async fn request(&mut self, req: &Request) -> Result<Reply> {
        let patience = match req {
            Request::Renew { .. } => RENEW_PATIENCE,
            _ => ANSWER_PATIENCE,
        };
        let socket = self.socket.clone();
        let answer = async {
            self.send(req).await?;
            self.next().await?.ok_or_else(|| {
                Error::Ipc(format!(
                    "the engine at {} closed the connection without answering",
                    socket.display()
                ))
            })
        };
        tokio::time::timeout(patience, answer).await.map_err(|_| {
            Error::Ipc(format!(
                "the engine at {} did not answer within {}; it may still be working on it: `evergreen status` shows where things stand, and the engine's log says more",
                socket.display(),
                crate::clock::short_duration(patience)
            ))
        })?
    }

    /// Turns this connection into a stream of events and snapshots; read it with [`Client::next`].
    pub async fn subscribe(&mut self) -> Result<()> {
        self.send(&Request::Subscribe).await
    }

    async fn send(&mut self, req: &Request) -> Result<()> {
        let mut line = serde_json::to_vec(req).map_err(|e| Error::Ipc(e.to_string()))?;
        line.push(b'\n');
        let r = self.w.write_all(&line).await;
        r.map_err(|e| self.lost(e))
    }

    /// The next reply, or `None` once the engine closed the connection.
    pub async fn next(&mut self) -> Result<Option<Reply>> {
        let line = self.lines.next_line().await;
        let Some(reply) = line.map_err(|e| self.lost(e))? else {
            return Ok(None);
        };
        serde_json::from_str(&reply).map(Some).map_err(|e| {
            Error::Ipc(format!(
                "the engine sent a reply this version does not understand ({e}); are both the same Evergreen version?"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_client_gives_up_on_an_engine_that_never_answers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("engine.sock");
        let listener = UnixListener::bind(&path).unwrap();
        // accepts, reads, never answers
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf).await;
        });
        let mut c = Client::connect(&path).await.unwrap();
        let e = c.request(&Request::Status).await.unwrap_err().to_string();
        assert!(e.contains("did not answer within 15s"), "{e}");
        assert!(e.contains("evergreen status"), "{e}");
        server.abort();
    }
}
