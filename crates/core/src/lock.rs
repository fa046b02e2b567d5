//! Exactly one engine per user.
//!
//! The tray app and `evergreen run` both host the engine; whichever starts
//! first holds an exclusive lock on a file in the data directory, and a second
//! one is refused with a message naming the first (pid and socket). The OS
//! drops the lock when the holder dies, even by kill -9.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::Path;

use crate::error::{Error, Result};
use crate::fsutil::ensure_private_dir;
use crate::paths::Paths;

/// Held for as long as the engine runs.
#[derive(Debug)]
pub struct EngineLock {
    _file: File,
}

pub fn acquire(paths: &Paths) -> Result<EngineLock> {
    ensure_private_dir(&paths.data_dir)?;
    let path = paths.lock_file();
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io("open lock file", &path, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let mut lines = holder.lines();
            let pid = lines.next().unwrap_or("unknown").to_string();
            let socket = lines.next().map(Into::into).unwrap_or_else(|| paths.socket());
            return Err(Error::AlreadyRunning { pid, socket });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("lock", &path, e)),
    }
    write_holder(&mut file, &path, &paths.socket())?;
    Ok(EngineLock { _file: file })
}

fn write_holder(file: &mut File, path: &Path, socket: &Path) -> Result<()> {
    let text = format!("{}\n{}\n", std::process::id(), socket.display());
    file.set_len(0).map_err(|e| Error::io("write lock file", path, e))?;
    file.rewind().map_err(|e| Error::io("write lock file", path, e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| Error::io("write lock file", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_engine_is_refused_with_the_first_ones_pid_and_socket() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        let first = acquire(&paths).unwrap();
        let err = acquire(&paths).unwrap_err().to_string();
        assert!(err.contains(&format!("pid {}", std::process::id())), "{err}");
        assert!(err.contains("evergreen.sock"), "{err}");
        drop(first);
        acquire(&paths).expect("free again once the first is gone");
    }
}
