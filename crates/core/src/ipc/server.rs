//! The engine's end of the local socket.
//!
//! The directory (0700, the user's own) and the socket file (0600) keep other
//! users out on a well-behaved system; the peer's uid is checked as well, so a
//! loose directory or a process of another user holding an inherited
//! descriptor is still refused. A client of the user's own may not hold the
//! engine hostage either: connections are capped (descriptors the renewals
//! need stay free), a connection that says nothing is closed, a client that
//! does not read its replies is dropped, and a request line is cut off at
//! its limit while it is read, not after it was buffered whole.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::{Reply, Request};
use crate::control::Control;
use crate::error::{Error, Result};
use crate::fsutil::SECRET_DIR_MODE;

/// Longest request line accepted; anything longer is not ours.
const MAX_REQUEST: usize = 64 * 1024;

/// How often a subscriber gets a snapshot when nothing happens.
const IDLE_SNAPSHOT: Duration = Duration::from_secs(30);
/// Bursts of events this close together share one snapshot (a local renewal
/// starts and ends within a few milliseconds); each window redraw costs far
/// more than this wait.
const SETTLE_QUIET: Duration = Duration::from_millis(40);
/// However busy the engine, a subscriber sees a snapshot at least this often.
const SETTLE_MOST: Duration = Duration::from_millis(250);

/// What one client may hold of the engine.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once; one more is told so and closed.
    pub connections: usize,
    /// How long a connection may stay silent between requests (a subscriber
    /// is exempt: it listens).
    pub idle: Duration,
    /// How long one reply may take to be taken by its reader.
    pub write: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connections: 64,
            idle: Duration::from_secs(60),
            write: Duration::from_secs(10),
        }
    }
}

/// Serves requests until the task is dropped; removes the socket file when dropped.
pub struct Server {
    path: PathBuf,
}

impl Server {
    /// Binds the socket, replacing a stale one left by a dead engine (the
    /// engine lock guarantees no live engine owns it).
    pub fn bind(path: &Path) -> Result<(Server, UnixListener)> {
        if let Some(dir) = path.parent() {
            private_runtime_dir(dir)?;
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

    pub async fn serve(listener: UnixListener, control: Control, limits: Limits) {
        let me = rustix::process::geteuid().as_raw();
        let slots = Arc::new(Semaphore::new(limits.connections.max(1)));
        let mut refused = Throttle::default();
        let mut failing = Throttle::default();
        let mut pause = Duration::ZERO;
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => {
                    pause = Duration::ZERO;
                    stream
                }
                // Out of descriptors (EMFILE) and the like: retrying at once
                // would spin a core; wait a little longer each time.
                Err(e) => {
                    pause = (pause * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
                    if let Some(more) = failing.pass() {
                        tracing::warn!("local socket: cannot accept a connection: {e}{more}");
                    }
                    tokio::time::sleep(pause).await;
                    continue;
                }
            };
            match stream.peer_cred().map(|c| c.uid()) {
                Ok(uid) if uid == me => {}
                Ok(uid) => {
                    let _ = stream.try_write(&line(&Reply::Error {
                        message: format!(
                            "this engine belongs to uid {me}, not to you (uid {uid}); start your own with `evergreen run`"
                        ),
                    }));
                    if let Some(more) = refused.pass() {
                        tracing::warn!(
                            "local socket: refused a connection from uid {uid}; only uid {me} may steer this engine{more}"
                        );
                    }
                    continue;
                }
                Err(e) => {
                    tracing::debug!("local socket: cannot tell who connected ({e}); refused");
                    continue;
                }
            }
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                // A fresh socket's buffer takes one short line without blocking.
                let _ = stream.try_write(&line(&Reply::Error {
                    message: format!(
                        "the engine is serving {} connections already; close a client (an old `evergreen` or window) and try again",
                        limits.connections
                    ),
                }));
                continue;
            };
            let control = control.clone();
            tokio::spawn(async move {
                if let Err(e) = connection(stream, control, limits).await {
                    tracing::debug!("local socket client: {e}");
                }
                drop(slot);
            });
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The socket's directory: created 0700 if missing, and refused unless it is
/// the user's own (`EVERGREEN_RUNTIME_DIR` may name any directory).
fn private_runtime_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
    let meta = std::fs::metadata(dir).map_err(|e| Error::io("read", dir, e))?;
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(Error::Config(format!(
            "{} is owned by uid {}, not by you (uid {me}); the engine's socket lives there, so the directory must be yours: point EVERGREEN_RUNTIME_DIR at a directory of your own (or unset it)",
            dir.display(),
            meta.uid()
        )));
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(SECRET_DIR_MODE))
        .map_err(|e| Error::io("set permissions on", dir, e))
}

/// Lets a repeated warning through once a minute, with a count of the rest.
#[derive(Default)]
struct Throttle {
    last: Option<Instant>,
    hidden: u64,
}

impl Throttle {
    fn pass(&mut self) -> Option<String> {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(60))
        {
            self.hidden += 1;
            return None;
        }
        self.last = Some(now);
        let more = match std::mem::take(&mut self.hidden) {
            0 => String::new(),
            n => format!(" ({n} more like it in the last minute)"),
        };
        Some(more)
    }
}

fn line(reply: &Reply) -> Vec<u8> {
    let mut out =
        serde_json::to_vec(reply).unwrap_or_else(|_| b"{\"reply\":\"error\",\"message\":\"encoding failed\"}".to_vec());
    out.push(b'\n');
    out
}

async fn send(w: &mut OwnedWriteHalf, reply: &Reply, within: Duration) -> std::io::Result<()> {
    match tokio::time::timeout(within, w.write_all(&line(reply))).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the client did not read its reply",
        )),
    }
}

enum Read {
    Line,
    End,
    TooLong,
}

/// Reads one request line into `buf` (without its newline), never buffering
/// more than the limit.
async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R, buf: &mut Vec<u8>) -> std::io::Result<Read> {
    buf.clear();
    let n = (&mut *r).take(MAX_REQUEST as u64 + 1).read_until(b'\n', buf).await?;
    if n == 0 {
        return Ok(Read::End);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        return Ok(Read::Line);
    }
    Ok(if buf.len() > MAX_REQUEST {
        Read::TooLong
    } else {
        Read::Line
    })
}

fn too_long() -> Reply {
    Reply::Error {
        message: format!(
            "request longer than {} KiB; the connection is closed",
            MAX_REQUEST / 1024
        ),
    }
}

async fn connection(stream: UnixStream, control: Control, limits: Limits) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let mut buf = Vec::new();
    loop {
        let Ok(read) = tokio::time::timeout(limits.idle, read_line(&mut r, &mut buf)).await else {
            return Ok(());
        };
        let reply = match read? {
            Read::End => return Ok(()),
            Read::TooLong => return send(&mut w, &too_long(), limits.write).await,
            Read::Line => match serde_json::from_slice::<Request>(&buf) {
                Ok(Request::Subscribe) => return stream_to(r, w, &control, limits).await,
                Ok(Request::Notifications) => return notifications_to(r, w, &control, limits).await,
                Ok(req) => answer(req, &control).await,
                Err(e) => Reply::Error {
                    message: format!("malformed request: {e}"),
                },
            },
        };
        send(&mut w, &reply, limits.write).await?;
    }
}

/// Streams events and snapshots until the subscriber hangs up.
async fn stream_to<R: AsyncBufRead + Unpin>(
    mut r: R,
    mut w: OwnedWriteHalf,
    control: &Control,
    limits: Limits,
) -> std::io::Result<()> {
    let mut events = control.follow();
    let snapshot = |c: &Control| Reply::Snapshot {
        snapshot: Box::new(c.snapshot()),
    };
    send(&mut w, &snapshot(control), limits.write).await?;
    let mut idle = tokio::time::interval(IDLE_SNAPSHOT);
    idle.tick().await;
    let mut buf = Vec::new();
    loop {
        tokio::select! {
            burst = events.next_burst() => {
                let burst = events.settle(burst, SETTLE_QUIET, SETTLE_MOST).await;
                for event in burst.events {
                    send(&mut w, &Reply::Event { event: Box::new(event) }, limits.write).await?;
                }
                // The engine stopped (it quits, or hands over to another): so does the stream.
                if burst.ended {
                    return Ok(());
                }
                send(&mut w, &snapshot(control), limits.write).await?;
                idle.reset();
            }
            _ = idle.tick() => send(&mut w, &snapshot(control), limits.write).await?,
            // Anything more from a subscriber is ignored; its end ends the stream.
            read = read_line(&mut r, &mut buf) => match read? {
                Read::Line => {}
                Read::End | Read::TooLong => return Ok(()),
            },
        }
    }
}

/// Streams the notifications the engine decides on until the listener
/// hangs up or the engine stops. Each is decided once: a listener gets those
/// decided while it listens.
async fn notifications_to<R: AsyncBufRead + Unpin>(
    mut r: R,
    mut w: OwnedWriteHalf,
    control: &Control,
    limits: Limits,
) -> std::io::Result<()> {
    let mut notes = control.notifications.subscribe();
    send(&mut w, &Reply::Done, limits.write).await?;
    let mut buf = Vec::new();
    loop {
        tokio::select! {
            n = notes.recv() => match n {
                Ok(n) => send(&mut w, &Reply::Notification { notification: Box::new(n) }, limits.write).await?,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(k)) => tracing::warn!("a notification listener fell behind by {k}"),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
            },
            read = read_line(&mut r, &mut buf) => match read? {
                Read::Line => {}
                Read::End | Read::TooLong => return Ok(()),
            },
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
        // Off the runtime's threads: a read waits for the writes queued
        // before it, and a slow disk must not stall the scheduler's.
        Request::History { name, limit } => {
            let store = store.clone();
            match tokio::task::spawn_blocking(move || store.history(name.as_deref(), limit.min(10_000))).await {
                Ok(Ok(entries)) => Reply::History { entries },
                Ok(Err(e)) => err(e),
                Err(e) => Reply::Error {
                    message: format!("the history could not be read: {e}"),
                },
            }
        }
        Request::Metrics => {
            let control = control.clone();
            match tokio::task::spawn_blocking(move || control.metrics()).await {
                Ok(Ok(text)) => Reply::Metrics { text },
                Ok(Err(e)) => err(e),
                Err(e) => Reply::Error {
                    message: format!("the metrics could not be put together: {e}"),
                },
            }
        }
        Request::Snapshot => Reply::Snapshot {
            snapshot: Box::new(control.snapshot()),
        },
        Request::Activity { name } => Reply::Lines {
            lines: control.activity.lines(&name),
        },
        Request::SetPaused { name, paused, until } => match handle
            .pause_until(&name, paused, until.map(crate::clock::from_unix_millis))
            .await
        {
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
        Request::Subscribe | Request::Notifications => Reply::Error {
            message: "this request is answered by a stream".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_line_is_cut_off_at_the_limit_while_it_is_read() {
        // An endless line with no newline: the reader stops just past the limit.
        let endless = tokio::io::repeat(b'x');
        let mut r = BufReader::new(endless);
        let mut buf = Vec::new();
        let read = read_line(&mut r, &mut buf).await.unwrap();
        assert!(matches!(read, Read::TooLong));
        assert_eq!(buf.len(), MAX_REQUEST + 1);
    }

    #[tokio::test]
    async fn lines_and_the_end_are_told_apart() {
        let mut r = BufReader::new(&b"{\"op\":\"ping\"}\nlast"[..]);
        let mut buf = Vec::new();
        assert!(matches!(read_line(&mut r, &mut buf).await.unwrap(), Read::Line));
        assert_eq!(buf, b"{\"op\":\"ping\"}");
        assert!(matches!(read_line(&mut r, &mut buf).await.unwrap(), Read::Line));
        assert_eq!(buf, b"last");
        assert!(matches!(read_line(&mut r, &mut buf).await.unwrap(), Read::End));
    }

    #[tokio::test]
    async fn a_client_that_does_not_read_its_reply_is_let_go() {
        // A reply far larger than the socket's buffers, to a peer that never reads.
        let (ours, _theirs) = UnixStream::pair().unwrap();
        let (_r, mut w) = ours.into_split();
        let big = Reply::Error {
            message: "x".repeat(8 * 1024 * 1024),
        };
        let sent = tokio::time::timeout(Duration::from_secs(20), send(&mut w, &big, Duration::from_secs(1)))
            .await
            .expect("the write timeout ends the wait");
        let e = sent.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        assert!(e.to_string().contains("did not read its reply"), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_repeated_warning_passes_once_a_minute_with_a_count() {
        let mut t = Throttle::default();
        assert_eq!(t.pass().as_deref(), Some(""));
        assert_eq!(t.pass(), None);
        assert_eq!(t.pass(), None);
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(t.pass().as_deref(), Some(" (2 more like it in the last minute)"));
    }

    #[test]
    fn a_runtime_dir_of_another_user_is_refused() {
        let me = rustix::process::geteuid().as_raw();
        let dir = tempfile::tempdir().unwrap();
        let theirs = dir.path().join("run");
        std::fs::create_dir(&theirs).unwrap();
        // Only root can give a directory away (CI runs as root).
        if me == 0 {
            std::os::unix::fs::chown(&theirs, Some(65534), None).unwrap();
            let e = private_runtime_dir(&theirs).unwrap_err().to_string();
            assert!(e.contains("owned by uid 65534, not by you (uid 0)"), "{e}");
            assert!(e.contains("EVERGREEN_RUNTIME_DIR"), "{e}");
        }
        let mine = dir.path().join("mine");
        private_runtime_dir(&mine).unwrap();
        let mode = std::fs::metadata(&mine).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}
