//! The local socket through which CLI commands reach the running engine.
//!
//! A Unix socket in the runtime directory (directory 0700, socket 0600), one
//! JSON request per line and one JSON reply per line. `evergreen status` and
//! `evergreen renew NAME` work the same whether the engine lives in the tray
//! app or in `evergreen run`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::error::{Error, Result};
use crate::fsutil::ensure_private_dir;
use crate::model::CredentialStatus;
use crate::scheduler::{Handle, RenewOutcome};
use crate::store::{HistoryEntry, Store};

/// Longest request line accepted; anything longer is not ours.
const MAX_REQUEST: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    Ping,
    Status,
    Renew { name: String },
    RenewAllDue,
    History { name: Option<String>, limit: usize },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Pong { pid: u32, version: String },
    Status { credentials: Vec<CredentialStatus> },
    Renewed { outcome: RenewOutcome },
    Started { names: Vec<String> },
    History { entries: Vec<HistoryEntry> },
    Error { message: String },
}

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

    pub async fn serve(listener: UnixListener, handle: Handle, store: std::sync::Arc<Store>) {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (handle, store) = (handle.clone(), store.clone());
            tokio::spawn(async move {
                if let Err(e) = connection(stream, handle, store).await {
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

async fn connection(stream: UnixStream, handle: Handle, store: std::sync::Arc<Store>) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut lines = BufReader::new(r.take(MAX_REQUEST as u64 * 16)).lines();
    while let Some(line) = lines.next_line().await? {
        let reply = if line.len() > MAX_REQUEST {
            Reply::Error {
                message: "request too long".into(),
            }
        } else {
            match serde_json::from_str::<Request>(&line) {
                Ok(req) => answer(req, &handle, &store).await,
                Err(e) => Reply::Error {
                    message: format!("malformed request: {e}"),
                },
            }
        };
        let mut out = serde_json::to_vec(&reply)
            .unwrap_or_else(|_| b"{\"reply\":\"error\",\"message\":\"encoding failed\"}".to_vec());
        out.push(b'\n');
        w.write_all(&out).await?;
    }
    Ok(())
}

async fn answer(req: Request, handle: &Handle, store: &Store) -> Reply {
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
    }
}

use tokio::io::AsyncReadExt as _;

/// A connection to the running engine.
pub struct Client {
    socket: PathBuf,
    lines: tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>,
    w: tokio::net::unix::OwnedWriteHalf,
}

impl Client {
    pub async fn connect(socket: &Path) -> Result<Client> {
        let stream = UnixStream::connect(socket).await.map_err(|e| Error::NotRunning {
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

    pub async fn request(&mut self, req: &Request) -> Result<Reply> {
        let lost = |e: std::io::Error| {
            Error::Ipc(format!(
                "lost the connection to the engine at {}: {e}",
                self.socket.display()
            ))
        };
        let mut line = serde_json::to_vec(req).map_err(|e| Error::Ipc(e.to_string()))?;
        line.push(b'\n');
        self.w.write_all(&line).await.map_err(lost)?;
        let reply = self.lines.next_line().await.map_err(lost)?.ok_or_else(|| {
            Error::Ipc(format!(
                "the engine at {} closed the connection without answering",
                self.socket.display()
            ))
        })?;
        serde_json::from_str(&reply).map_err(|e| {
            Error::Ipc(format!(
                "the engine sent a reply this version does not understand ({e}); are both the same Evergreen version?"
            ))
        })
    }
}
