//! The history store: one SQLite file per user.
//!
//! The engine is the only writer, but the file must outlive the engine: the
//! last known status of every credential is shown before the first check of a
//! new run, the history explains last night's failure, and a notification sent
//! before a restart must not be sent again after it. So every write is durable
//! once written (WAL with `synchronous=FULL`: a `kill -9`, or a power cut,
//! loses nothing written), the history is bounded by
//! [`Store::prune`], and the schema is versioned so an older file is upgraded
//! in place and a newer one is refused rather than misread.
//!
//! A status or history row the database cannot take (the disk is full, the
//! filesystem went read-only) is not lost: it waits in memory, in order, and
//! is written once the database takes writes again ([`Store::problem`] says
//! why it waits meanwhile). Renewals never wait for it.
//!
//! The engine's store writes statuses and history rows on a thread of its
//! own ([`Store::write_in_background`]): each is an fsync, and the scheduler
//! must not wait for a slow disk. The queue is bounded; a write that finds
//! it full is dropped and logged with what it was. A read first waits for
//! the writes queued before it, so a face never reads older history than
//! the events it was sent, and a stopping engine waits for the queue too;
//! only a `kill -9` can catch writes in it (what the last milliseconds did).

use std::collections::VecDeque;
use std::fs::{self, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::clock::unix_millis;
use crate::error::{Error, Result};
use crate::fsutil::{ensure_private_dir, SECRET_FILE_MODE};
use crate::history::{Action, Outcome};
use crate::model::CredentialStatus;

/// Schema steps; `PRAGMA user_version` counts how many have been applied.
/// Append only: a released step is never edited, a change is a new step.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "CREATE TABLE status (
         name       TEXT PRIMARY KEY NOT NULL,
         kind       TEXT NOT NULL,
         state      TEXT NOT NULL,
         updated_at INTEGER NOT NULL,
         json       TEXT NOT NULL
     );
     -- AUTOINCREMENT so an id is never reused after prune: a face that
     -- remembers the last id it showed never mistakes a new row for an old one.
     CREATE TABLE history (
         id            INTEGER PRIMARY KEY AUTOINCREMENT,
         at            INTEGER NOT NULL,
         credential    TEXT NOT NULL,
         action        TEXT NOT NULL,
         outcome       TEXT NOT NULL,
         message       TEXT NOT NULL,
         duration_ms   INTEGER,
         old_not_after INTEGER,
         new_not_after INTEGER
     );
     CREATE INDEX history_credential_at ON history (credential, at);
     CREATE INDEX history_at ON history (at);
     CREATE TABLE notified (
         key TEXT PRIMARY KEY NOT NULL,
         at  INTEGER NOT NULL
     );
     CREATE TABLE meta (
         key   TEXT PRIMARY KEY NOT NULL,
         value TEXT NOT NULL
     );",
];

/// How long a call waits for another connection's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How many refused writes wait in memory at most; past it the oldest go
/// (and how many went is logged).
const BACKLOG_MAX: usize = 10_000;

/// How many writes wait for the writer thread at most. A credential's
/// renewal makes a handful; the queue fills only when the disk stalls for
/// long, and then a write is dropped (and named in the log) rather than
/// holding up renewals.
const QUEUE_MAX: usize = 4096;

/// The history store. Cheap to share behind an `Arc`; calls are serialized.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    backlog: Mutex<Backlog>,
    /// Set once writes go through the writer thread.
    queue: OnceLock<Queue>,
}

/// The writer thread's queue, and how far it got.
#[derive(Debug)]
struct Queue {
    tx: SyncSender<Pending>,
    /// Writes sent and writes done, so a read can wait for those before it.
    progress: Mutex<(u64, u64)>,
    moved: Condvar,
}

/// Writes the database refused, waiting in order for it to take them.
#[derive(Debug, Default)]
struct Backlog {
    writes: VecDeque<Pending>,
    /// Why they wait: the last refusal, in words.
    problem: Option<String>,
    /// Writes dropped because the backlog was full, since it last emptied.
    dropped: u64,
}

#[derive(Debug)]
enum Pending {
    Status(Box<CredentialStatus>),
    History(Box<HistoryEntry>),
    /// Nothing to write: the writer tries what waits in memory again.
    Nudge,
}

impl std::fmt::Display for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pending::Status(s) => write!(f, "the status of {} ({})", s.name, s.state),
            Pending::History(e) => write!(
                f,
                "a history row of {}: {} {} at {} ({})",
                e.credential,
                e.action.as_str(),
                e.outcome.as_str(),
                crate::clock::rfc3339(crate::clock::from_unix_millis(e.at)),
                e.message
            ),
            Pending::Nudge => f.write_str("nothing"),
        }
    }
}

/// One line of a credential's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HistoryEntry {
    /// Assigned by the store; ignored by [`Store::append_history`].
    pub id: i64,
    /// Unix milliseconds.
    pub at: i64,
    pub credential: String,
    pub action: Action,
    pub outcome: Outcome,
    pub message: String,
    pub duration_ms: Option<u64>,
    /// Unix ms.
    pub old_not_after: Option<i64>,
    /// Unix ms.
    pub new_not_after: Option<i64>,
}

impl Store {
    /// Opens (creating if missing) the database at `path`.
    ///
    /// The parent directory is made 0700 and the file 0600: the history names
    /// hosts and certificate subjects, which is nobody else's business.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            ensure_private_dir(dir)?;
        }
        // Create the file ourselves so it never exists with SQLite's default
        // 0644, not even for a moment; SQLite gives its -wal and -shm files
        // the mode of the database file.
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(SECRET_FILE_MODE)
            .open(path)
            .map_err(|e| Error::io("create", path, e))?;
        fs::set_permissions(path, fs::Permissions::from_mode(SECRET_FILE_MODE))
            .map_err(|e| Error::io("set permissions on", path, e))?;

        // No SQLITE_OPEN_URI: a path is a path, even if it starts with "file:".
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| store_err(path, "open the database", e))?;
        Self::setup(conn, path.to_path_buf(), true)
    }

    /// Opens the store at `path`, or, when that file cannot be used (not a
    /// database, damaged, locked, from a newer Evergreen), moves it aside and
    /// starts a fresh one beside it; when not even that works, a store in
    /// memory. Renewals matter more than their history: the engine never
    /// refuses to start over its bookkeeping. The message, when there is one,
    /// says what happened and where the old file went.
    pub fn open_or_recover(path: &Path, now: SystemTime) -> Result<(Store, Option<String>)> {
        let e = match Store::open(path) {
            Ok(s) => return Ok((s, None)),
            Err(e) => e,
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let aside = path.with_file_name(format!("{name}.broken-{}", unix_millis(now) / 1000));
        let moved = fs::rename(path, &aside);
        for suffix in ["-wal", "-shm"] {
            let mut from = path.as_os_str().to_owned();
            from.push(suffix);
            let mut to = aside.as_os_str().to_owned();
            to.push(suffix);
            let _ = fs::rename(&from, &to);
        }
        let what = match &moved {
            Ok(()) => format!("it was moved to {}", aside.display()),
            Err(m) => format!("it could not be moved aside either ({m})"),
        };
        match moved.map_err(|m| Error::io("move aside", path, m)).and_then(|_| Store::open(path)) {
            Ok(s) => Ok((
                s,
                Some(format!(
                    "{e}; {what} and a new history store started, so renewals go on (the old history stays in that file)"
                )),
            )),
            Err(e2) => Ok((
                Store::open_in_memory()?,
                Some(format!(
                    "{e}; {what}, and no new store could be made ({e2}): Evergreen keeps renewing, with its history in memory until it restarts"
                )),
            )),
        }
    }

    /// A private database that lives as long as the `Store`, for tests and
    /// for running without a state directory.
    pub fn open_in_memory() -> Result<Store> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|e| store_err(&path, "open the database", e))?;
        Self::setup(conn, path, false)
    }

    fn setup(mut conn: Connection, path: PathBuf, on_disk: bool) -> Result<Store> {
        let open_err = |e| store_err(&path, "open the database", e);
        // Before anything that locks: switching to WAL needs the write lock,
        // which a second process may hold for a moment.
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        if on_disk {
            // This is also the first read of the file, so a file that is not a
            // database fails here, before anything has been written to it.
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
                .map_err(open_err)?;
            if !mode.eq_ignore_ascii_case("wal") {
                // Some network filesystems cannot do WAL; the rollback journal
                // with synchronous=FULL is just as durable, only slower.
                tracing::warn!(
                    path = %path.display(),
                    journal_mode = %mode,
                    "history store is not in WAL mode"
                );
            }
        }
        conn.pragma_update(None, "synchronous", "FULL").map_err(open_err)?;
        if on_disk {
            // A damaged page would fail some later write, one at a time and
            // forever; found now, the file is moved aside at start instead.
            let check: String = conn
                .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
                .map_err(open_err)?;
            if check != "ok" {
                return Err(Error::Store {
                    path: path.clone(),
                    message: format!("the database is damaged ({check})"),
                });
            }
        }
        migrate(&mut conn, &path)?;
        Ok(Store {
            conn: Mutex::new(conn),
            path,
            backlog: Mutex::new(Backlog::default()),
            queue: OnceLock::new(),
        })
    }

    /// Where the database lives (":memory:" for an in-memory store).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records the current status of a credential, replacing the previous
    /// one. When the database cannot take it, it waits in memory (see the
    /// module's doc) and this still succeeds.
    pub fn put_status(&self, s: &CredentialStatus) -> Result<()> {
        self.write(Pending::Status(Box::new(s.clone()))).map(|_| ())
    }

    fn write_status(&self, s: &CredentialStatus) -> Result<(), Refused> {
        let op = || format!("save the status of {:?}", s.name);
        let json = serde_json::to_string(s).map_err(|e| Refused::for_good(self.msg_err(&op(), e)))?;
        self.lock()
            .prepare_cached(
                "INSERT INTO status (name, kind, state, updated_at, json)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (name) DO UPDATE SET
                     kind = excluded.kind,
                     state = excluded.state,
                     updated_at = excluded.updated_at,
                     json = excluded.json",
            )
            .and_then(|mut st| st.execute(params![s.name, s.kind.as_str(), s.state.name(), s.updated_at, json]))
            .map_err(|e| self.refused(&op(), e))?;
        Ok(())
    }

    fn refused(&self, op: &str, e: rusqlite::Error) -> Refused {
        Refused {
            heals: heals(&e),
            error: self.err(op, e),
        }
    }

    /// From now on statuses and history rows are written on a thread of
    /// the store's own, in the order they came; a read waits for what was
    /// queued before it. The thread ends with the store.
    pub fn write_in_background(self: &Arc<Self>) -> std::io::Result<()> {
        let (tx, rx) = mpsc::sync_channel::<Pending>(QUEUE_MAX);
        let queue = Queue {
            tx,
            progress: Mutex::new((0, 0)),
            moved: Condvar::new(),
        };
        if self.queue.set(queue).is_err() {
            return Ok(());
        }
        let store = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("evergreen-store".into())
            .spawn(move || {
                while let Ok(w) = rx.recv() {
                    let Some(store) = store.upgrade() else { break };
                    let what = w.to_string();
                    if let Err(e) = store.write_here(w) {
                        tracing::error!("lost {what}: {e}");
                    }
                    if let Some(q) = store.queue.get() {
                        q.progress.lock().unwrap_or_else(PoisonError::into_inner).1 += 1;
                        q.moved.notify_all();
                    }
                }
            })?;
        Ok(())
    }

    /// Waits until every write queued so far is written (or waits in
    /// memory for the database): what a read, or a stopping engine, needs.
    pub fn flush(&self) {
        let Some(q) = self.queue.get() else { return };
        let mut p = q.progress.lock().unwrap_or_else(PoisonError::into_inner);
        let target = p.0;
        // `.0` may go down again: a write counted before it found the queue
        // full is taken back, and waiting for it would be waiting for ever.
        while p.1 < target.min(p.0) {
            p = q.moved.wait(p).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Writes `w`: through the writer thread when there is one, else here.
    /// Returns the history row's id, or 0 when it was queued or waits.
    fn write(&self, w: Pending) -> Result<i64> {
        let Some(q) = self.queue.get() else {
            return self.write_here(w);
        };
        q.progress.lock().unwrap_or_else(PoisonError::into_inner).0 += 1;
        let refused = match q.tx.try_send(w) {
            Ok(()) => return Ok(0),
            Err(TrySendError::Full(w)) => {
                tracing::error!(
                    "lost {w}: the store's writer is {QUEUE_MAX} writes behind (the disk holding {} answers slowly)",
                    self.path.display()
                );
                None
            }
            Err(TrySendError::Disconnected(w)) => Some(w),
        };
        q.progress.lock().unwrap_or_else(PoisonError::into_inner).0 -= 1;
        match refused {
            Some(w) => self.write_here(w),
            None => Ok(0),
        }
    }

    /// Writes `w` after everything waiting before it; when the database
    /// refuses, `w` waits too. Returns the history row's id, or 0 when it
    /// waits.
    fn write_here(&self, w: Pending) -> Result<i64> {
        let mut backlog = self.backlog.lock().unwrap_or_else(PoisonError::into_inner);
        if !backlog.writes.is_empty() {
            self.drain(&mut backlog);
        }
        if matches!(w, Pending::Nudge) {
            return Ok(0);
        }
        if backlog.writes.is_empty() {
            match self.write_now(&w) {
                Ok(id) => return Ok(id),
                Err(Refused { error, heals: false }) => return Err(error),
                Err(Refused { error, .. }) => {
                    tracing::error!(
                        "history is not being saved: {error}; Evergreen keeps it in memory and writes it once the database takes it"
                    );
                    backlog.problem = Some(error.to_string());
                }
            }
        }
        if let (Pending::Status(new), Some(i)) = (
            &w,
            backlog
                .writes
                .iter()
                .position(|p| matches!((p, &w), (Pending::Status(old), Pending::Status(new)) if old.name == new.name)),
        ) {
            // Only a credential's latest status matters: it takes the place
            // of the one waiting, so the history keeps its order.
            backlog.writes[i] = Pending::Status(new.clone());
            return Ok(0);
        }
        if backlog.writes.len() >= BACKLOG_MAX {
            backlog.writes.pop_front();
            backlog.dropped += 1;
            if backlog.dropped == 1 || backlog.dropped.is_power_of_two() {
                tracing::error!(
                    "the history backlog is full ({BACKLOG_MAX} writes): {} of the oldest were dropped",
                    backlog.dropped
                );
            }
        }
        backlog.writes.push_back(w);
        Ok(0)
    }

    fn write_now(&self, w: &Pending) -> Result<i64, Refused> {
        match w {
            Pending::Status(s) => self.write_status(s).map(|()| 0),
            Pending::History(e) => self.write_history(e),
            Pending::Nudge => Ok(0),
        }
    }

    /// Writes what waits, in order, until the database refuses again.
    fn drain(&self, backlog: &mut Backlog) {
        let before = backlog.writes.len();
        while let Some(w) = backlog.writes.front() {
            match self.write_now(w) {
                Ok(_) => {
                    backlog.writes.pop_front();
                }
                Err(Refused { error, heals: true }) => {
                    backlog.problem = Some(error.to_string());
                    return;
                }
                Err(Refused { error: e, .. }) => {
                    // This one write cannot be stored at all (it is not the
                    // disk's doing): say so, and let the rest through.
                    tracing::error!("dropped a history write that the database refuses: {e}");
                    backlog.writes.pop_front();
                }
            }
        }
        tracing::info!(
            "history is being saved again: {before} waiting writes were written{}",
            if backlog.dropped > 0 {
                format!(", {} older ones had to be dropped", backlog.dropped)
            } else {
                String::new()
            }
        );
        backlog.problem = None;
        backlog.dropped = 0;
    }

    /// Writes what waits in memory, if anything does and the database takes
    /// it now. The engine calls it now and then, so a backlog does not wait
    /// for the next change.
    pub fn retry(&self) {
        if let Some(q) = self.queue.get() {
            let waiting = !self
                .backlog
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .writes
                .is_empty();
            if waiting {
                // The writer tries; nothing here waits for the disk. A full
                // queue tries anyway, soon.
                q.progress.lock().unwrap_or_else(PoisonError::into_inner).0 += 1;
                if q.tx.try_send(Pending::Nudge).is_err() {
                    q.progress.lock().unwrap_or_else(PoisonError::into_inner).0 -= 1;
                }
            }
            return;
        }
        let mut backlog = self.backlog.lock().unwrap_or_else(PoisonError::into_inner);
        if !backlog.writes.is_empty() {
            self.drain(&mut backlog);
        }
    }

    /// Why writes wait in memory, when they do: "history is not being
    /// saved: …" with the cause and what to do.
    pub fn problem(&self) -> Option<String> {
        let backlog = self.backlog.lock().unwrap_or_else(PoisonError::into_inner);
        let waiting = backlog.writes.len();
        backlog
            .problem
            .as_ref()
            .filter(|_| waiting > 0)
            .map(|p| format!("history is not being saved ({waiting} changes wait in memory): {p}"))
    }

    /// The last recorded status of every credential, ordered by name.
    pub fn statuses(&self) -> Result<Vec<CredentialStatus>> {
        self.flush();
        let op = "read the credential statuses";
        let rows: Vec<(String, String)> = self
            .lock()
            .prepare_cached("SELECT name, json FROM status ORDER BY name")
            .and_then(|mut st| {
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(|e| self.err(op, e))?;
        rows.into_iter()
            .map(|(name, json)| self.decode_status(&name, &json))
            .collect()
    }

    /// The last recorded status of `name`, if there is one.
    pub fn status(&self, name: &str) -> Result<Option<CredentialStatus>> {
        self.flush();
        let json: Option<String> = self
            .lock()
            .prepare_cached("SELECT json FROM status WHERE name = ?1")
            .and_then(|mut st| st.query_row([name], |r| r.get(0)).optional())
            .map_err(|e| self.err(&format!("read the status of {name:?}"), e))?;
        json.map(|j| self.decode_status(name, &j)).transpose()
    }

    /// Forgets the status of `name` (a credential removed from the config).
    /// Its history stays until [`Store::prune`] ages it out.
    pub fn remove_status(&self, name: &str) -> Result<()> {
        // After any status of it still queued, which would bring it back.
        self.flush();
        self.lock()
            .execute("DELETE FROM status WHERE name = ?1", [name])
            .map_err(|e| self.err(&format!("remove the status of {name:?}"), e))?;
        Ok(())
    }

    /// Appends one history row (its `id` is ignored) and returns the new
    /// id; 0 when the database cannot take it now and it waits in memory.
    pub fn append_history(&self, e: &HistoryEntry) -> Result<i64> {
        self.write(Pending::History(Box::new(e.clone())))
    }

    fn write_history(&self, e: &HistoryEntry) -> Result<i64, Refused> {
        let conn = self.lock();
        conn.prepare_cached(
            "INSERT INTO history
                 (at, credential, action, outcome, message, duration_ms, old_not_after, new_not_after)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .and_then(|mut st| {
            st.execute(params![
                e.at,
                e.credential,
                e.action.as_str(),
                e.outcome.as_str(),
                e.message,
                // SQLite integers are signed; no real duration comes near the limit.
                e.duration_ms.map(|d| i64::try_from(d).unwrap_or(i64::MAX)),
                e.old_not_after,
                e.new_not_after,
            ])
        })
        .map_err(|err| self.refused(&format!("record history for {:?}", e.credential), err))?;
        Ok(conn.last_insert_rowid())
    }

    /// Up to `limit` history rows, newest first; `credential: None` means all
    /// credentials.
    pub fn history(&self, credential: Option<&str>, limit: usize) -> Result<Vec<HistoryEntry>> {
        self.flush();
        const COLUMNS: &str = "SELECT id, at, credential, action, outcome, message,
                                      duration_ms, old_not_after, new_not_after
                               FROM history";
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let conn = self.lock();
        let rows = match credential {
            Some(c) => conn
                .prepare_cached(&format!(
                    "{COLUMNS} WHERE credential = ?1 ORDER BY at DESC, id DESC LIMIT ?2"
                ))
                .and_then(|mut st| {
                    st.query_map(params![c, limit], history_row)?
                        .collect::<rusqlite::Result<_>>()
                }),
            None => conn
                .prepare_cached(&format!("{COLUMNS} ORDER BY at DESC, id DESC LIMIT ?1"))
                .and_then(|mut st| st.query_map([limit], history_row)?.collect::<rusqlite::Result<_>>()),
        };
        rows.map_err(|e| self.err("read the history", e))
    }

    /// Bounded retention: deletes history rows older than `max_age` before
    /// `now`, and every row of a credential beyond its newest
    /// `keep_per_credential` (so 0 deletes them all). Returns rows deleted.
    pub fn prune(&self, now: SystemTime, max_age: Duration, keep_per_credential: usize) -> Result<usize> {
        self.flush();
        let op = "prune the history";
        let age_ms = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
        let cutoff = unix_millis(now).saturating_sub(age_ms);
        let keep = i64::try_from(keep_per_credential).unwrap_or(i64::MAX);
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(op, e))?;
        let by_age = tx
            .execute("DELETE FROM history WHERE at < ?1", [cutoff])
            .map_err(|e| self.err(op, e))?;
        // "Newest" uses the same order as `history`, so what is kept is
        // exactly what `history(Some(c), keep)` would have shown.
        let by_count = tx
            .execute(
                "DELETE FROM history WHERE id IN (
                     SELECT id FROM (
                         SELECT id, row_number() OVER (
                             PARTITION BY credential ORDER BY at DESC, id DESC
                         ) AS n
                         FROM history
                     ) WHERE n > ?1
                 )",
                [keep],
            )
            .map_err(|e| self.err(op, e))?;
        tx.commit().map_err(|e| self.err(op, e))?;
        Ok(by_age + by_count)
    }

    /// Notification dedupe: records `key` as sent at `at_ms`. Returns true if
    /// it was not recorded before (the caller should notify), false if it was.
    /// The check and the record are one statement, so two callers racing on
    /// the same key cannot both get true.
    pub fn mark_notified(&self, key: &str, at_ms: i64) -> Result<bool> {
        let inserted = self
            .lock()
            .execute(
                "INSERT OR IGNORE INTO notified (key, at) VALUES (?1, ?2)",
                params![key, at_ms],
            )
            .map_err(|e| self.err(&format!("record notification {key:?}"), e))?;
        Ok(inserted == 1)
    }

    /// When the latest notification whose key starts with `prefix` was
    /// delivered (Unix ms), if one was.
    pub fn last_notified(&self, prefix: &str) -> Result<Option<i64>> {
        self.lock()
            .query_row(
                "SELECT max(at) FROM notified WHERE substr(key, 1, length(?1)) = ?1",
                [prefix],
                |r| r.get(0),
            )
            .map_err(|e| self.err(&format!("look up notifications {prefix:?}"), e))
    }

    /// Whether `key` has been recorded by [`Store::mark_notified`].
    pub fn was_notified(&self, key: &str) -> Result<bool> {
        self.lock()
            .query_row("SELECT EXISTS (SELECT 1 FROM notified WHERE key = ?1)", [key], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(&format!("look up notification {key:?}"), e))
    }

    /// A value from the engine's bookkeeping table.
    pub fn get_meta(&self, key: &str) -> Result<Option<String>> {
        self.lock()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(&format!("read setting {key:?}"), e))
    }

    /// Sets a value in the engine's bookkeeping table.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.lock()
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .map_err(|e| self.err(&format!("save setting {key:?}"), e))?;
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while the lock was held leaves the connection usable: an
        // open transaction was rolled back when its guard dropped in the unwind.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn decode_status(&self, name: &str, json: &str) -> Result<CredentialStatus> {
        serde_json::from_str(json).map_err(|e| self.msg_err(&format!("read the stored status of {name:?}"), e))
    }

    fn err(&self, op: &str, e: rusqlite::Error) -> Error {
        store_err(&self.path, op, e)
    }

    fn msg_err(&self, op: &str, e: impl std::fmt::Display) -> Error {
        Error::Store {
            path: self.path.clone(),
            message: format!("could not {op}: {e}"),
        }
    }
}

/// Applies the missing [`MIGRATIONS`], each in its own transaction.
fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let op = "upgrade the database schema";
    loop {
        // IMMEDIATE takes the write lock before reading the version, so two
        // processes opening a fresh file at once cannot both apply a step.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| store_err(path, op, e))?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| store_err(path, op, e))?;
        let step = match usize::try_from(version) {
            Ok(v) if v <= MIGRATIONS.len() => v,
            Ok(_) => {
                return Err(Error::Store {
                    path: path.to_path_buf(),
                    message: format!(
                        "the database was written by a newer Evergreen (schema version \
                         {version}, this build knows up to {}); upgrade Evergreen, or move the \
                         file aside to start a fresh history",
                        MIGRATIONS.len()
                    ),
                })
            }
            Err(_) => {
                return Err(Error::Store {
                    path: path.to_path_buf(),
                    message: format!(
                        "the file is not an Evergreen database (schema version {version}); move \
                         it aside and Evergreen will start a fresh one"
                    ),
                })
            }
        };
        let Some(sql) = MIGRATIONS.get(step) else {
            // Up to date; dropping the untouched transaction just releases the lock.
            return Ok(());
        };
        tx.execute_batch(sql).map_err(|e| store_err(path, op, e))?;
        tx.pragma_update(None, "user_version", version + 1)
            .map_err(|e| store_err(path, op, e))?;
        tx.commit().map_err(|e| store_err(path, op, e))?;
    }
}

fn history_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<HistoryEntry> {
    Ok(HistoryEntry {
        id: r.get(0)?,
        at: r.get(1)?,
        credential: r.get(2)?,
        action: Action::parse(&r.get::<_, String>(3)?),
        outcome: Outcome::parse(&r.get::<_, String>(4)?),
        message: r.get(5)?,
        duration_ms: r.get::<_, Option<i64>>(6)?.map(|d| u64::try_from(d).unwrap_or(0)),
        old_not_after: r.get(7)?,
        new_not_after: r.get(8)?,
    })
}

/// The error for a failed SQLite call: what we were doing, what SQLite said,
/// and for the failures a person can fix, what to do.
/// A write the database refused, and whether the refusal heals by itself
/// (the disk or the filesystem refused it: the write waits) or not.
struct Refused {
    error: Error,
    heals: bool,
}

impl Refused {
    fn for_good(error: Error) -> Refused {
        Refused { error, heals: false }
    }
}

/// Whether SQLite refused for the machine's sake: a full disk, a read-only
/// or vanished filesystem, an I/O error, a lock held too long.
fn heals(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(
            ErrorCode::DiskFull
                | ErrorCode::ReadOnly
                | ErrorCode::SystemIoFailure
                | ErrorCode::CannotOpen
                | ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::PermissionDenied
        )
    )
}

fn store_err(path: &Path, op: &str, e: rusqlite::Error) -> Error {
    let hint = match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => {
            "; the file is not an Evergreen database; move it aside and Evergreen will start a \
             fresh one"
        }
        Some(ErrorCode::DatabaseCorrupt) => {
            "; the database is damaged; move it (and the -wal and -shm files next to it) aside \
             and Evergreen will start a fresh one"
        }
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            "; another process kept the database locked; check for a stuck `evergreen` process"
        }
        Some(ErrorCode::ReadOnly | ErrorCode::PermissionDenied | ErrorCode::CannotOpen) => {
            "; check that the file and its directory are yours and writable"
        }
        Some(ErrorCode::DiskFull) => "; the disk holding it is full: free some space, and Evergreen writes it then",
        Some(ErrorCode::SystemIoFailure) => "; the disk reported an I/O error (a read-only or vanished filesystem?)",
        _ => "",
    };
    Error::Store {
        path: path.to_path_buf(),
        message: format!("could not {op}: {e}{hint}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::from_unix_millis;
    use crate::model::{LastResult, State};
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    fn entry(id: i64, at: i64, credential: &str) -> HistoryEntry {
        HistoryEntry {
            id,
            at,
            credential: credential.into(),
            action: Action::Renew,
            outcome: Outcome::Success,
            message: format!("{credential} at {at}"),
            duration_ms: Some(1234),
            old_not_after: Some(at + 1000),
            new_not_after: Some(at + 2000),
        }
    }

    #[test]
    fn the_writer_thread_writes_in_order_and_a_read_sees_what_came_before_it() {
        let store = Arc::new(Store::open_in_memory().unwrap());
        store.write_in_background().unwrap();
        for at in 0..50 {
            assert_eq!(
                store.append_history(&entry(0, at, "a")).unwrap(),
                0,
                "queued, not written here"
            );
        }
        let mut web = CredentialStatus::new("web", crate::kind::roles::plain(), from_unix_millis(5));
        store.put_status(&web).unwrap();
        web.state = State::Healthy;
        store.put_status(&web).unwrap();
        // A read waits for the writes before it: all of them, in order.
        let h = store.history(Some("a"), 100).unwrap();
        assert_eq!(h.len(), 50);
        assert!(h.windows(2).all(|w| w[0].id > w[1].id && w[0].at > w[1].at), "in order");
        assert_eq!(store.status("web").unwrap().map(|s| s.state), Some(State::Healthy));
    }

    #[test]
    fn a_stalled_disk_holds_up_no_writer_and_what_does_not_fit_is_dropped_by_name() {
        let store = Arc::new(Store::open_in_memory().unwrap());
        store.write_in_background().unwrap();
        // The disk stalls: the writer's next write waits for the connection.
        let stalled = store.lock();
        let (done_tx, done) = std::sync::mpsc::channel();
        let writer = store.clone();
        std::thread::spawn(move || {
            for at in 0..(QUEUE_MAX as i64 + 10) {
                writer.append_history(&entry(0, at, "a")).unwrap();
            }
            done_tx.send(()).unwrap();
        });
        // Readiness, not timing: the writes return while the disk is stalled
        // (a write that waited for it would never send this).
        done.recv_timeout(Duration::from_secs(60))
            .expect("writes returned while the disk was stalled");
        drop(stalled);
        let written = store.history(None, 100_000).unwrap().len();
        assert!(
            (QUEUE_MAX..=QUEUE_MAX + 1).contains(&written),
            "the queue's worth (and the one the writer held) is written, the rest dropped: {written}"
        );
    }

    fn ids(entries: &[HistoryEntry]) -> Vec<i64> {
        entries.iter().map(|e| e.id).collect()
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    fn store_message(r: Result<Store>) -> (PathBuf, String) {
        match r {
            Err(Error::Store { path, message }) => (path, message),
            Err(other) => panic!("expected Error::Store, got {other:?}"),
            Ok(_) => panic!("expected Error::Store, got a Store"),
        }
    }

    #[test]
    fn store_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Store>();
    }

    #[test]
    fn status_round_trips_and_is_removed() {
        let store = Store::open_in_memory().unwrap();
        let now = from_unix_millis(1_700_000_000_000);
        let mut web = CredentialStatus::new("web", crate::kind::roles::plain(), now);
        web.state = State::Failing {
            streak: 3,
            next_retry_at: 1_700_000_060_000,
            offline: false,
        };
        web.not_before = Some(1_600_000_000_000);
        web.not_after = Some(1_800_000_000_000);
        web.can_renew = true;
        web.last_result = Some(LastResult {
            at: 1_699_999_999_000,
            ok: false,
            message: "renew command exited 1".into(),
            duration_ms: 800,
            stderr_tail: Some("connection refused".into()),
            note: None,
        });
        let vpn = CredentialStatus::new("vpn", crate::kind::roles::plain(), now);

        store.put_status(&web).unwrap();
        store.put_status(&vpn).unwrap();
        assert_eq!(store.status("web").unwrap(), Some(web.clone()));
        assert_eq!(store.status("nope").unwrap(), None);
        // Ordered by name, not by insertion.
        assert_eq!(store.statuses().unwrap(), vec![vpn.clone(), web.clone()]);

        // Upsert replaces, including the indexed columns.
        web.state = State::Healthy;
        web.updated_at += 1;
        store.put_status(&web).unwrap();
        assert_eq!(store.status("web").unwrap(), Some(web.clone()));
        let (state, updated_at): (String, i64) = store
            .lock()
            .query_row("SELECT state, updated_at FROM status WHERE name = 'web'", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((state.as_str(), updated_at), ("healthy", web.updated_at));
        assert_eq!(store.statuses().unwrap().len(), 2);

        store.remove_status("web").unwrap();
        assert_eq!(store.status("web").unwrap(), None);
        assert_eq!(store.statuses().unwrap(), vec![vpn]);
        // Removing what is not there is not an error.
        store.remove_status("web").unwrap();
    }

    #[test]
    fn history_is_newest_first_limited_and_filtered() {
        let store = Store::open_in_memory().unwrap();
        let a1 = store.append_history(&entry(999, 1000, "a")).unwrap();
        let b1 = store.append_history(&entry(0, 2000, "b")).unwrap();
        let a2 = store.append_history(&entry(0, 3000, "a")).unwrap();
        // Same instant as a2: the later append counts as newer.
        let a3 = store.append_history(&entry(0, 3000, "a")).unwrap();
        // Appended last but happened earliest: order is by `at`, not by insertion.
        let b0 = store.append_history(&entry(0, 500, "b")).unwrap();
        assert_ne!(a1, 999, "the caller's id is ignored");

        let all = store.history(None, 100).unwrap();
        assert_eq!(ids(&all), vec![a3, a2, b1, a1, b0]);
        assert_eq!(all[2], entry(b1, 2000, "b"), "every field round-trips");

        assert_eq!(ids(&store.history(None, 2).unwrap()), vec![a3, a2]);
        assert_eq!(ids(&store.history(Some("a"), 100).unwrap()), vec![a3, a2, a1]);
        assert_eq!(ids(&store.history(Some("b"), 1).unwrap()), vec![b1]);
        assert!(store.history(Some("c"), 100).unwrap().is_empty());
        assert!(store.history(None, 0).unwrap().is_empty());
    }

    #[test]
    fn history_keeps_empty_optionals() {
        let store = Store::open_in_memory().unwrap();
        let mut e = entry(0, 1, "a");
        e.duration_ms = None;
        e.old_not_after = None;
        e.new_not_after = None;
        e.id = store.append_history(&e).unwrap();
        assert_eq!(store.history(None, 1).unwrap(), vec![e]);
    }

    #[test]
    fn prune_by_age_keeps_the_boundary() {
        let store = Store::open_in_memory().unwrap();
        store.append_history(&entry(0, 1000, "a")).unwrap();
        store.append_history(&entry(0, 2000, "b")).unwrap();
        let edge = store.append_history(&entry(0, 2500, "a")).unwrap();
        let new = store.append_history(&entry(0, 9000, "b")).unwrap();

        let deleted = store
            .prune(from_unix_millis(10_000), Duration::from_millis(7500), 100)
            .unwrap();
        assert_eq!(deleted, 2);
        assert_eq!(ids(&store.history(None, 100).unwrap()), vec![new, edge]);
        // Nothing left to prune.
        assert_eq!(
            store
                .prune(from_unix_millis(10_000), Duration::from_millis(7500), 100)
                .unwrap(),
            0
        );
    }

    #[test]
    fn prune_by_count_keeps_the_newest_of_each_credential() {
        let store = Store::open_in_memory().unwrap();
        let a: Vec<i64> = (1..=5)
            .map(|i| store.append_history(&entry(0, i * 100, "a")).unwrap())
            .collect();
        let b: Vec<i64> = (1..=2)
            .map(|i| store.append_history(&entry(0, i * 100, "b")).unwrap())
            .collect();
        // A tie on `at` with a[4]: the later append is the newer one.
        let a_tie = store.append_history(&entry(0, 500, "a")).unwrap();

        let now = from_unix_millis(1000);
        let deleted = store.prune(now, Duration::from_secs(3600), 3).unwrap();
        assert_eq!(deleted, 3);
        assert_eq!(ids(&store.history(Some("a"), 100).unwrap()), vec![a_tie, a[4], a[3]]);
        assert_eq!(ids(&store.history(Some("b"), 100).unwrap()), vec![b[1], b[0]]);

        // Age and count together, counted once each.
        let deleted = store.prune(now, Duration::from_millis(550), 1).unwrap();
        // Age removes a[3] (400) and b[1] (200) and b[0] (100); count then removes a[4].
        assert_eq!(deleted, 4);
        assert_eq!(ids(&store.history(None, 100).unwrap()), vec![a_tie]);

        assert_eq!(store.prune(now, Duration::from_secs(3600), 0).unwrap(), 1);
        assert!(store.history(None, 100).unwrap().is_empty());
    }

    #[test]
    fn mark_notified_is_once_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        {
            let store = Store::open(&path).unwrap();
            assert!(!store.was_notified("web:expiring:1700").unwrap());
            assert!(store.mark_notified("web:expiring:1700", 1).unwrap());
            assert!(!store.mark_notified("web:expiring:1700", 2).unwrap());
            assert!(store.was_notified("web:expiring:1700").unwrap());
            assert!(!store.was_notified("web:expired:1700").unwrap());
        }
        let store = Store::open(&path).unwrap();
        assert!(store.was_notified("web:expiring:1700").unwrap());
        assert!(!store.mark_notified("web:expiring:1700", 3).unwrap());
        assert!(store.mark_notified("web:expired:1700", 3).unwrap());
        // The first sending time is the one kept.
        let at: i64 = store
            .lock()
            .query_row("SELECT at FROM notified WHERE key = 'web:expiring:1700'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(at, 1);
    }

    #[test]
    fn meta_is_set_replaced_and_read() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(store.get_meta("notifications_paused_until").unwrap(), None);
        store.set_meta("notifications_paused_until", "100").unwrap();
        store.set_meta("notifications_paused_until", "200").unwrap();
        store.set_meta("other", "x").unwrap();
        assert_eq!(
            store.get_meta("notifications_paused_until").unwrap().as_deref(),
            Some("200")
        );
        assert_eq!(store.get_meta("other").unwrap().as_deref(), Some("x"));
    }

    #[test]
    fn open_sets_durability_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("history.db")).unwrap();
        let conn = store.lock();
        let journal: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        let synchronous: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        let busy: i64 = conn.query_row("PRAGMA busy_timeout", [], |r| r.get(0)).unwrap();
        assert_eq!(journal, "wal");
        assert_eq!(synchronous, 2, "synchronous must be FULL");
        assert_eq!(busy, 5000);
    }

    #[test]
    fn migrations_are_idempotent_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let id = {
            let store = Store::open(&path).unwrap();
            store.set_meta("k", "v").unwrap();
            store.append_history(&entry(0, 1, "a")).unwrap()
        };
        for _ in 0..2 {
            let store = Store::open(&path).unwrap();
            assert_eq!(store.get_meta("k").unwrap().as_deref(), Some("v"));
            assert_eq!(ids(&store.history(None, 10).unwrap()), vec![id]);
            let conn = store.lock();
            let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
            assert_eq!(version, MIGRATIONS.len() as i64);
            let mut indexes: Vec<String> = conn
                .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'history' AND sql IS NOT NULL ORDER BY name")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            indexes.sort();
            assert_eq!(indexes, vec!["history_at", "history_credential_at"]);
        }
    }

    #[test]
    fn newer_schema_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        drop(Store::open(&path).unwrap());
        let newer = MIGRATIONS.len() as i64 + 1;
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", newer)
            .unwrap();

        let (err_path, message) = store_message(Store::open(&path));
        assert_eq!(err_path, path);
        assert!(message.contains("written by a newer Evergreen"), "{message}");
        assert!(message.contains(&format!("schema version {newer}")), "{message}");
        let version: i64 = Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, newer);
    }

    #[test]
    fn garbage_file_is_refused_with_advice_and_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let garbage: Vec<u8> = (0..8192).map(|_| rand::random::<u8>()).collect();
        fs::write(&path, &garbage).unwrap();

        let (err_path, message) = store_message(Store::open(&path));
        assert_eq!(err_path, path);
        assert!(message.contains("not an Evergreen database"), "{message}");
        assert!(message.contains("move it aside"), "{message}");
        assert_eq!(fs::read(&path).unwrap(), garbage);
    }

    #[test]
    fn a_store_that_can_be_neither_opened_nor_moved_aside_runs_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("evergreen.db");
        let now = from_unix_millis(1_900_000_000_000);
        // A directory where the file should be, and the name it would be
        // moved to taken by another one that is not empty: both steps fail.
        fs::create_dir_all(path.join("x")).unwrap();
        fs::create_dir_all(dir.path().join("evergreen.db.broken-1900000000/y")).unwrap();
        let (store, problem) = Store::open_or_recover(&path, now).unwrap();
        let problem = problem.unwrap();
        assert!(problem.contains("could not be moved aside either"), "{problem}");
        assert!(
            problem.contains("Evergreen keeps renewing, with its history in memory"),
            "{problem}"
        );
        // And it works as a store.
        store.append_history(&entry(0, 7, "web")).unwrap();
        assert_eq!(store.history(None, 10).unwrap().len(), 1);
        assert!(path.join("x").exists(), "nothing of what was there was removed");
    }

    #[test]
    fn an_unusable_store_is_moved_aside_and_a_fresh_one_works() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("evergreen.db");
        let garbage: Vec<u8> = (0..8192).map(|_| rand::random::<u8>()).collect();
        fs::write(&path, &garbage).unwrap();
        let now = from_unix_millis(1_900_000_000_000);
        let (store, problem) = Store::open_or_recover(&path, now).unwrap();
        let problem = problem.expect("the problem is reported");
        let aside = dir.path().join("evergreen.db.broken-1900000000");
        assert!(problem.contains("not an Evergreen database"), "{problem}");
        assert!(problem.contains(&aside.display().to_string()), "{problem}");
        assert_eq!(fs::read(&aside).unwrap(), garbage, "the old file is kept as it was");
        store.append_history(&entry(0, 1, "a")).unwrap();
        assert_eq!(store.history(None, 10).unwrap().len(), 1);
        assert_eq!(mode(&path), 0o600);
        // and a good store is simply opened
        drop(store);
        let (again, none) = Store::open_or_recover(&path, now).unwrap();
        assert!(none.is_none());
        assert_eq!(again.history(None, 10).unwrap().len(), 1);
    }

    #[test]
    fn a_damaged_page_is_found_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("evergreen.db");
        {
            let s = Store::open(&path).unwrap();
            for i in 0..500 {
                s.append_history(&entry(0, i, "web")).unwrap();
            }
            s.lock().execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
        }
        // scribble over a page in the middle, keeping the header intact
        let mut bytes = fs::read(&path).unwrap();
        assert!(bytes.len() > 3 * 4096, "{}", bytes.len());
        for b in &mut bytes[2 * 4096..3 * 4096] {
            *b = 0xA5;
        }
        fs::write(&path, &bytes).unwrap();
        let (store, problem) = Store::open_or_recover(&path, from_unix_millis(0)).unwrap();
        assert!(problem.is_some_and(|p| p.contains("moved to")));
        assert!(store.history(None, 10).unwrap().is_empty(), "a fresh store");
    }

    #[test]
    fn file_is_0600_and_new_parent_dir_0700() {
        let dir = tempfile::tempdir().unwrap();
        let parent = dir.path().join("state/evergreen");
        let path = parent.join("history.db");
        let store = Store::open(&path).unwrap();
        store.append_history(&entry(0, 1, "a")).unwrap();
        assert_eq!(store.path(), path);
        assert_eq!(mode(&parent), 0o700);
        assert_eq!(mode(&path), 0o600);
        // The WAL holds the same data as the file, so it gets the same mode.
        let wal = parent.join("history.db-wal");
        assert!(wal.exists());
        assert_eq!(mode(&wal), 0o600);
        drop(store);

        // An existing file that was too open is narrowed.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        drop(Store::open(&path).unwrap());
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn writes_survive_drop_without_close() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let status = CredentialStatus::new("web", crate::kind::roles::plain(), from_unix_millis(5));
        let id = {
            let store = Store::open(&path).unwrap();
            store.put_status(&status).unwrap();
            store.append_history(&entry(0, 7, "web")).unwrap()
        };
        let store = Store::open(&path).unwrap();
        assert_eq!(store.status("web").unwrap(), Some(status));
        assert_eq!(ids(&store.history(Some("web"), 10).unwrap()), vec![id]);
    }

    #[test]
    fn poisoned_lock_is_recovered() {
        let store = Store::open_in_memory().unwrap();
        let poisoned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _guard = store.lock();
            panic!("poison the store lock on purpose");
        }));
        assert!(poisoned.is_err());
        assert!(store.conn.is_poisoned());
        store.set_meta("k", "v").unwrap();
        assert_eq!(store.get_meta("k").unwrap().as_deref(), Some("v"));
    }

    const KILL_CHILD_DB: &str = "EVERGREEN_STORE_TEST_KILL_CHILD_DB";
    const KILL_CHILD_READY: &str = "evergreen-store-child-ready";

    /// The victim of `reported_writes_survive_kill_9`, which runs it in a
    /// process of its own (`--ignored`); not a test by itself.
    #[test]
    #[ignore = "the child process of reported_writes_survive_kill_9"]
    fn kill_9_child() {
        let path = std::env::var_os(KILL_CHILD_DB).expect("run by reported_writes_survive_kill_9");
        let store = Store::open(Path::new(&path)).unwrap();
        let status = CredentialStatus::new("web", crate::kind::roles::plain(), from_unix_millis(5));
        store.put_status(&status).unwrap();
        store.append_history(&entry(0, 7, "web")).unwrap();
        store.mark_notified("web:expiring", 7).unwrap();
        println!("{KILL_CHILD_READY}");
        // Wait to be killed; the parent never writes, so this only returns
        // (and fails) if the parent died first.
        let _ = std::io::stdin().read_line(&mut String::new());
        panic!("the kill -9 test parent went away");
    }

    #[test]
    fn reported_writes_survive_kill_9() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "store::tests::kill_9_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(KILL_CHILD_DB, &path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        // Read in a thread, so a child that hangs before its writes fails the
        // test after a deadline instead of blocking it for ever.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let ready = stdout
                .lines()
                .map_while(|l| l.ok())
                .any(|l| l.contains(KILL_CHILD_READY));
            let _ = tx.send(ready);
        });
        let ready = rx.recv_timeout(std::time::Duration::from_secs(60)).unwrap_or(false);
        if !ready {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "child never reported its writes: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        child.kill().unwrap(); // SIGKILL: no destructors, no close, no checkpoint.
        child.wait().unwrap();

        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.status("web").unwrap(),
            Some(CredentialStatus::new(
                "web",
                crate::kind::roles::plain(),
                from_unix_millis(5)
            ))
        );
        let history = store.history(None, 10).unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].message, "web at 7");
        assert!(store.was_notified("web:expiring").unwrap());
    }
}
