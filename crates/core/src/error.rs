//! The one error type of evergreen-core.
//!
//! Every message names the thing (credential, file, URL), says what was wrong
//! and, where there is one, what to do next. No variant ever carries a secret.

use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Result with the core's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file is wrong; the message already names file, line,
    /// column, field and the fix.
    #[error("{0}")]
    Config(String),

    /// A certificate file could not be used.
    #[error("{path}: {reason}")]
    Certificate { path: PathBuf, reason: String },

    /// A file operation failed. `hint` says what the machine's state means
    /// and what to do (a full disk, a read-only filesystem, a file this
    /// user may not write), or is empty.
    #[error("could not {action} {path}: {source}{hint}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
        hint: String,
    },

    /// The history store failed.
    #[error("history store {path}: {message}")]
    Store { path: PathBuf, message: String },

    /// Another engine already runs for this user.
    #[error("another Evergreen engine is already running (pid {pid}, socket {socket}); stop it first, or talk to it with `evergreen status`")]
    AlreadyRunning { pid: String, socket: PathBuf },

    /// The running engine could not be reached.
    #[error("no Evergreen engine is running (socket {socket}: {reason}); start one with `evergreen run`")]
    NotRunning { socket: PathBuf, reason: String },

    /// The engine was asked about a credential it does not hold.
    #[error("no credential named {name:?}; `evergreen status` lists them")]
    UnknownCredential { name: String },

    /// A request over the local socket was malformed or refused.
    #[error("{0}")]
    Ipc(String),

    /// The engine will not do what was asked; the message says why and what to do.
    #[error("{0}")]
    Refused(String),

    /// The engine has shut down.
    #[error("the Evergreen engine has stopped")]
    EngineStopped,
}

impl Error {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        let hint = machine_fault(action, &path, &source)
            .map(|f| f.advice(&path))
            .unwrap_or_default();
        Error::Io {
            action,
            path,
            source,
            hint,
        }
    }

    /// The fault of the machine itself behind this error, if it is one: a
    /// failure that heals when the machine does, so it is retried, never a
    /// stop that waits for a person.
    pub fn machine_fault(&self) -> Option<MachineFault> {
        match self {
            Error::Io {
                action, path, source, ..
            } => machine_fault(action, path, source),
            _ => None,
        }
    }

    pub(crate) fn cert(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Certificate {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// A failed file operation that is the machine's doing, not the
/// credential's or its server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineFault {
    /// No space left (ENOSPC).
    DiskFull,
    /// The user's disk quota is used up (EDQUOT).
    QuotaExceeded,
    /// The filesystem is mounted read-only (EROFS).
    ReadOnly,
    /// The disk reported an I/O error (EIO).
    Disk,
    /// This user may not write there (EACCES, EPERM).
    Permission,
    /// A directory on the way vanished (a mount went away, ENOENT).
    Vanished,
}

// Linux's numbers for the faults that have no stable `ErrorKind` of their own.
const EIO: i32 = 5;
const ENOSPC: i32 = 28;
const EROFS: i32 = 30;
const EDQUOT: i32 = 122;

/// What `e`, met doing `action` on `path`, says about the machine. A
/// missing directory is the machine's only while writing: reading a file
/// whose directory does not exist is a path to fix, not a fault to wait out.
pub fn machine_fault(action: &str, path: &Path, e: &std::io::Error) -> Option<MachineFault> {
    let reading = action.starts_with("read") || action == "parse" || action == "open lock file";
    match (e.raw_os_error(), e.kind()) {
        (Some(ENOSPC), _) => Some(MachineFault::DiskFull),
        (Some(EDQUOT), _) => Some(MachineFault::QuotaExceeded),
        (Some(EROFS), _) => Some(MachineFault::ReadOnly),
        (Some(EIO), _) => Some(MachineFault::Disk),
        (_, ErrorKind::PermissionDenied) if !reading => Some(MachineFault::Permission),
        (_, ErrorKind::NotFound)
            if !reading && path.parent().is_some_and(|d| !d.as_os_str().is_empty() && !d.exists()) =>
        {
            Some(MachineFault::Vanished)
        }
        _ => None,
    }
}

impl MachineFault {
    /// What it means and what to do, as the end of a sentence about `path`.
    pub fn advice(self, path: &Path) -> String {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        match self {
            MachineFault::DiskFull => format!(
                "; the disk holding {} is full: free some space, and Evergreen tries again by itself",
                dir.display()
            ),
            MachineFault::QuotaExceeded => format!(
                "; your disk quota on {} is used up: free some space, and Evergreen tries again by itself",
                dir.display()
            ),
            MachineFault::ReadOnly => format!(
                "; {} is on a read-only filesystem: once it is writable again (`mount -o remount,rw`), Evergreen tries again by itself",
                dir.display()
            ),
            MachineFault::Disk => format!(
                "; the disk holding {} reported an I/O error: check it (`dmesg`); Evergreen tries again by itself",
                dir.display()
            ),
            MachineFault::Permission => {
                // The file if it exists, else the directory it goes in.
                let (what, meta) = match std::fs::symlink_metadata(path) {
                    Ok(m) => (path, Some(m)),
                    Err(_) => (dir, std::fs::metadata(dir).ok()),
                };
                let owner = meta
                    .map(|m| format!(" (owner uid {}, mode {:o})", m.uid(), m.permissions().mode() & 0o7777))
                    .unwrap_or_default();
                let uid = rustix::process::geteuid().as_raw();
                format!(
                    "; this user (uid {uid}) may not write {}{owner}: give it back (`sudo chown {uid} {}`), and Evergreen tries again by itself",
                    what.display(),
                    what.display()
                )
            }
            MachineFault::Vanished => format!(
                "; the directory {} is gone (a disk or mount that went away?): once it is back, Evergreen tries again by itself",
                dir.display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_a_read_only_filesystem_and_a_locked_file_say_what_to_do() {
        let e = |raw: i32| std::io::Error::from_raw_os_error(raw);
        let p = Path::new("/var/lib/ws/certs/ws.pem");
        let full = Error::io("write", p, e(28));
        assert_eq!(full.machine_fault(), Some(MachineFault::DiskFull));
        assert!(
            full.to_string()
                .contains("the disk holding /var/lib/ws/certs is full: free some space"),
            "{full}"
        );
        assert_eq!(
            Error::io("write", p, e(122)).machine_fault(),
            Some(MachineFault::QuotaExceeded)
        );
        let ro = Error::io("write", p, e(30));
        assert_eq!(ro.machine_fault(), Some(MachineFault::ReadOnly));
        assert!(ro.to_string().contains("read-only filesystem"), "{ro}");
        assert_eq!(Error::io("write", p, e(EIO)).machine_fault(), Some(MachineFault::Disk));
        let denied = Error::io("write", Path::new("/"), e(13));
        assert_eq!(denied.machine_fault(), Some(MachineFault::Permission));
        assert!(
            denied.to_string().contains("may not write /") && denied.to_string().contains("mode"),
            "{denied}"
        );
        assert_eq!(
            Error::io("write", p, e(2)).machine_fault(),
            Some(MachineFault::Vanished)
        );
        assert_eq!(
            Error::io("read certificate", p, e(2)).machine_fault(),
            None,
            "a path to fix"
        );
        // Not the machine's: no advice, and no retry promised.
        let other = Error::io("parse", p, std::io::Error::other("not PEM"));
        assert_eq!(other.machine_fault(), None);
        assert_eq!(other.to_string(), "could not parse /var/lib/ws/certs/ws.pem: not PEM");
    }
}
