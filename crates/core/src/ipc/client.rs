//! The CLI's and the window's end of the local socket: patient, but never forever.

use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use super::{Reply, Request};
use crate::error::{Error, Result};

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
            if let Err(e) = self.send(req).await {
                // An engine that refuses a connection (not ours, or too many)
                // says why before it closes: that is the better answer.
                if let Ok(Some(reply @ Reply::Error { .. })) = self.next().await {
                    return Ok(reply);
                }
                return Err(e);
            }
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

    /// Turns this connection into a stream of the engine's notifications
    /// (each a [`Reply::Notification`]); read it with [`Client::next`].
    pub async fn notifications(&mut self) -> Result<()> {
        match self.request(&Request::Notifications).await? {
            Reply::Done => Ok(()),
            Reply::Error { message } => Err(Error::Refused(message)),
            other => Err(Error::Ipc(format!(
                "unexpected reply to a notification stream: {other:?}"
            ))),
        }
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
    use std::time::Duration;
    use tokio::io::AsyncReadExt as _;
    use tokio::net::UnixListener;

    /// An engine that accepts, reads and never answers; its socket's directory
    /// and its task (abort it when done).
    fn silent_engine() -> (tempfile::TempDir, PathBuf, tokio::task::JoinHandle<()>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("engine.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf).await;
        });
        (dir, path, server)
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_gives_up_on_an_engine_that_never_answers() {
        let (_dir, path, server) = silent_engine();
        let mut c = Client::connect(&path).await.unwrap();
        let e = c.request(&Request::Status).await.unwrap_err().to_string();
        assert!(e.contains("did not answer within 15s"), "{e}");
        assert!(e.contains("evergreen status"), "{e}");
        server.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_renewal_is_waited_for_up_to_fifteen_minutes() {
        let (_dir, path, server) = silent_engine();
        let mut c = Client::connect(&path).await.unwrap();
        let asked = tokio::time::Instant::now();
        let e = c
            .request(&Request::Renew { name: "web".into() })
            .await
            .unwrap_err()
            .to_string();
        // A renew command or a slow server may take minutes: not cut at 15 s.
        assert_eq!(asked.elapsed(), Duration::from_secs(15 * 60));
        assert!(e.contains("did not answer within 15m;"), "{e}");
        server.abort();
    }
}
