//! The one atomic-write helper, and private directories.
//!
//! A renewed certificate replaces the old one at the same path in a single
//! rename, so a reader (or a crash) sees either the old file or the new one,
//! never half of each: temp file in the same directory, fsync, rename, fsync
//! the directory.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::error::{Error, Result};

/// Mode for files that hold secrets (keys, tokens, credentials).
pub const SECRET_FILE_MODE: u32 = 0o600;
/// Mode for public files (certificates).
pub const PUBLIC_FILE_MODE: u32 = 0o644;
/// Mode for directories that hold secrets.
pub const SECRET_DIR_MODE: u32 = 0o700;

/// Atomically replaces `path` with `bytes`, created with `mode`.
pub fn atomic_write(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| Error::io("write", path, std::io::Error::other("path has no file name")))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{:08x}",
        file_name.to_string_lossy(),
        std::process::id(),
        rand::random::<u32>()
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(|e| Error::io("create", &tmp, e))?;
        // The umask may have narrowed the mode; set it exactly.
        f.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io("set permissions on", &tmp, e))?;
        f.write_all(bytes).map_err(|e| Error::io("write", &tmp, e))?;
        f.sync_all().map_err(|e| Error::io("sync", &tmp, e))?;
        fs::rename(&tmp, path).map_err(|e| Error::io("replace", path, e))?;
        if let Ok(d) = fs::File::open(dir) {
            // Durability of the rename itself; best effort on filesystems that refuse.
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Removes the temporary files [`atomic_write`] (and [`backup`]) leave beside
/// `path` when the process dies mid-write; some hold private keys. Called at
/// start, before any write, for every file Evergreen manages. Returns what
/// was removed.
pub fn clean_temps(path: &Path) -> Vec<std::path::PathBuf> {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Vec::new();
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let prefixes = [format!(".{name}.tmp-"), format!(".{name}.bak.tmp-")];
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if prefixes.iter().any(|p| n.starts_with(p.as_str())) && fs::remove_file(e.path()).is_ok() {
            removed.push(e.path());
        }
    }
    removed
}

/// Like [`clean_temps`] for every file of a directory Evergreen owns (a
/// key directory), including temporary files whose final file never came to be.
pub fn clean_temps_in(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if is_temp_name(&n) && fs::remove_file(e.path()).is_ok() {
            removed.push(e.path());
        }
    }
    removed
}

/// `.NAME.tmp-PID-XXXXXXXX`, as [`atomic_write`] names its temporary files.
fn is_temp_name(n: &str) -> bool {
    let Some(rest) = n.strip_prefix('.') else { return false };
    let Some((_, tail)) = rest.rsplit_once(".tmp-") else {
        return false;
    };
    let Some((pid, tag)) = tail.split_once('-') else {
        return false;
    };
    !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
        && tag.len() == 8
        && tag.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Secrets must be readable by their owner only: the problem with `meta`
/// (of the `what` at `path`) if others can read it, with the fix.
pub fn exposed_secret(meta: &fs::Metadata, what: &str, path: &Path) -> Option<String> {
    let mode = meta.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "the {what} {} can be read by other users (mode {mode:04o}); run `chmod 600 {}`",
            path.display(),
            path.display()
        )
    })
}

/// Keeps the current `path` as `<path>.bak` (written atomically with `mode`)
/// before it is replaced; nothing to do when `path` does not exist yet.
pub fn backup(path: &Path, mode: u32) -> Result<()> {
    match fs::read(path) {
        Ok(old) => {
            let mut bak = path.as_os_str().to_owned();
            bak.push(".bak");
            atomic_write(Path::new(&bak), &old, mode)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("read (to back up)", path, e)),
    }
}

/// Creates `dir` (and parents) if missing and makes it 0700.
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(SECRET_DIR_MODE))
        .map_err(|e| Error::io("set permissions on", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_with_exact_mode_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("key.pem");
        atomic_write(&p, b"one", SECRET_FILE_MODE).unwrap();
        atomic_write(&p, b"two", SECRET_FILE_MODE).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cert.pem");
        atomic_write(&p, b"good", PUBLIC_FILE_MODE).unwrap();
        // Writing into a directory that does not exist fails and touches nothing.
        let bad = dir.path().join("missing").join("cert.pem");
        assert!(atomic_write(&bad, b"bad", PUBLIC_FILE_MODE).is_err());
        assert_eq!(fs::read(&p).unwrap(), b"good");
    }

    #[test]
    fn a_secret_readable_by_others_is_named_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("token");
        atomic_write(&p, b"s", SECRET_FILE_MODE).unwrap();
        assert_eq!(exposed_secret(&fs::metadata(&p).unwrap(), "token file", &p), None);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        let msg = exposed_secret(&fs::metadata(&p).unwrap(), "token file", &p).unwrap();
        assert!(
            msg.contains("token file") && msg.contains("0644") && msg.contains("chmod 600"),
            "{msg}"
        );
    }

    #[test]
    fn stale_temporary_files_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ws.key");
        atomic_write(&p, b"key", SECRET_FILE_MODE).unwrap();
        for stale in [".ws.key.tmp-12-0000abcd", ".ws.key.bak.tmp-12-0000abcd"] {
            fs::write(dir.path().join(stale), b"half a key").unwrap();
        }
        fs::write(dir.path().join(".other.key.tmp-1-1"), b"not ours").unwrap();
        assert_eq!(clean_temps(&p).len(), 2);
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, vec![".other.key.tmp-1-1", "ws.key"]);
        // in a directory of Evergreen's own, every one of its temporary files goes
        fs::write(dir.path().join(".never-renamed.key.tmp-3-89abcdef"), b"k").unwrap();
        assert_eq!(clean_temps_in(dir.path()).len(), 1);
        assert!(
            dir.path().join(".other.key.tmp-1-1").exists(),
            "not a name atomic_write makes"
        );
    }

    #[test]
    fn private_dir_is_0700() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("a/b/keys");
        ensure_private_dir(&keys).unwrap();
        assert_eq!(fs::metadata(&keys).unwrap().permissions().mode() & 0o777, 0o700);
    }
}
