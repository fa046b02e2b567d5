//! The one atomic-write helper, and private directories.
//!
//! A renewed certificate replaces the old one at the same path in a single
//! rename, so a reader (or a crash) sees either the old file or the new one,
//! never half of each: temp file in the same directory, fsync, rename, fsync
//! the directory.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Mode for files that hold secrets (keys, tokens, credentials).
pub const SECRET_FILE_MODE: u32 = 0o600;
/// Mode for public files (certificates).
pub const PUBLIC_FILE_MODE: u32 = 0o644;
/// Mode for directories that hold secrets.
pub const SECRET_DIR_MODE: u32 = 0o700;

/// Reads a whole file that should be small, refusing (without reading on)
/// one larger than `max` bytes.
pub fn read_bounded(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    fs::File::open(path)?.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("it is larger than {} KiB", max / 1024),
        ));
    }
    Ok(bytes)
}

/// Atomically replaces `path` with `bytes`.
///
/// A new file gets `mode`. A file that exists keeps what the user set up:
/// a symlink is written through to the file it points at (the link stays),
/// and the file keeps its mode and group (and, written by root, its owner),
/// except that a secret (a `mode` with no group or other bits) keeps its
/// mode only when it is no wider than 0640: a key shared with a service's
/// group stays shared, a key others could read is narrowed to 0600.
pub fn atomic_write(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let path = &resolve_links(path)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| Error::io("write", path, std::io::Error::other("path has no file name")))?;
    let keep = Keep::of(fs::metadata(path).ok().as_ref(), mode);
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{:08x}",
        file_name.to_string_lossy(),
        std::process::id(),
        rand::random::<u32>()
    ));
    let result = (|| {
        write_new(&tmp, bytes, keep)?;
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

/// The file a chain of symlinks at `path` ends in (`path` itself when it is
/// no link); a link may point at a file that does not exist yet.
fn resolve_links(path: &Path) -> Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::read_link(&p).map_err(|e| Error::io("read link", &p, e))?;
                p = match p.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(Error::io(
        "write",
        path,
        std::io::Error::other("too many levels of symbolic links"),
    ))
}

/// The mode and ownership a file written in place of another gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keep {
    pub mode: u32,
    /// The owner (kept only by root) and group of the file replaced.
    pub owner: Option<(Option<u32>, u32)>,
}

impl Keep {
    /// What a file written with `mode` in place of one with `existing`
    /// metadata keeps (see [`atomic_write`]).
    pub fn of(existing: Option<&fs::Metadata>, mode: u32) -> Keep {
        let Some(m) = existing else {
            return Keep { mode, owner: None };
        };
        let old = m.permissions().mode() & 0o777;
        let secret = mode & 0o077 == 0;
        let mode = if !secret || (old & 0o137 == 0 && old & 0o600 == 0o600) {
            old
        } else {
            mode
        };
        let root = rustix::process::geteuid().is_root();
        Keep {
            mode,
            owner: Some((root.then_some(m.uid()), m.gid())),
        }
    }
}

/// Creates `path` (which must not exist) with `bytes` and `keep`'s mode and
/// owner, synced to disk.
pub fn write_new(path: &Path, bytes: &[u8], keep: Keep) -> Result<()> {
    let f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(keep.mode & 0o700)
        .open(path)
        .map_err(|e| Error::io("create", path, e))?;
    // Where the group cannot be kept (not one of the user's), its bits
    // would go to the wrong group: they are dropped, the rest kept.
    let kept = keep
        .owner
        .is_none_or(|(uid, gid)| std::os::unix::fs::fchown(&f, uid, Some(gid)).is_ok());
    let mode = if kept { keep.mode } else { keep.mode & !0o070 };
    // The umask may have narrowed the mode; set it exactly, after the owner.
    f.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io("set permissions on", path, e))?;
    finish(f, path, bytes)
}

fn finish(mut f: fs::File, path: &Path, bytes: &[u8]) -> Result<()> {
    f.write_all(bytes).map_err(|e| Error::io("write", path, e))?;
    f.sync_all().map_err(|e| Error::io("sync", path, e))
}

/// Removes the temporary files [`atomic_write`] (and [`backup`]) leave beside
/// `path` when the process dies mid-write; some hold private keys. Called at
/// start, before any write, for every file Evergreen manages. Returns what
/// was removed.
pub fn clean_temps(path: &Path) -> Vec<PathBuf> {
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
pub fn clean_temps_in(dir: &Path) -> Vec<PathBuf> {
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

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_symlinked_target_is_written_through_and_stays_a_link() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("real")).unwrap();
        let real = dir.path().join("real/web.pem");
        fs::write(&real, b"old").unwrap();
        let link = dir.path().join("web.pem");
        std::os::unix::fs::symlink("real/web.pem", &link).unwrap();
        atomic_write(&link, b"new", PUBLIC_FILE_MODE).unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(fs::read(&real).unwrap(), b"new");
        // A link to a file not there yet creates the file it names.
        let dangling = dir.path().join("next.pem");
        std::os::unix::fs::symlink("real/next.pem", &dangling).unwrap();
        atomic_write(&dangling, b"first", PUBLIC_FILE_MODE).unwrap();
        assert_eq!(fs::read(dir.path().join("real/next.pem")).unwrap(), b"first");
        // A loop is an error that names the path, not a hang.
        let a = dir.path().join("a");
        std::os::unix::fs::symlink("b", &a).unwrap();
        std::os::unix::fs::symlink("a", dir.path().join("b")).unwrap();
        let e = atomic_write(&a, b"x", PUBLIC_FILE_MODE).unwrap_err().to_string();
        assert!(e.contains("too many levels of symbolic links"), "{e}");
    }

    #[test]
    fn a_key_keeps_a_group_read_mode_and_its_group_but_never_more() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("web.key");
        fs::write(&key, b"old").unwrap();
        fs::set_permissions(&key, fs::Permissions::from_mode(0o640)).unwrap();
        // A group of the user's own (root may give any: CI runs as root).
        let gid = if rustix::process::geteuid().is_root() {
            65534
        } else {
            rustix::process::getegid().as_raw()
        };
        std::os::unix::fs::chown(&key, None, Some(gid)).unwrap();
        atomic_write(&key, b"new", SECRET_FILE_MODE).unwrap();
        assert_eq!(mode(&key), 0o640);
        assert_eq!(fs::metadata(&key).unwrap().gid(), gid);
        // Readable by others: narrowed to the owner.
        fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
        atomic_write(&key, b"newer", SECRET_FILE_MODE).unwrap();
        assert_eq!(mode(&key), 0o600);
        // A certificate keeps whatever mode it had.
        let cert = dir.path().join("web.pem");
        fs::write(&cert, b"old").unwrap();
        fs::set_permissions(&cert, fs::Permissions::from_mode(0o664)).unwrap();
        atomic_write(&cert, b"new", PUBLIC_FILE_MODE).unwrap();
        assert_eq!(mode(&cert), 0o664);
    }

    #[test]
    fn a_reader_sees_the_old_file_or_the_new_one_never_part_of_one_or_none() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cert.pem");
        let size = 256 * 1024;
        atomic_write(&p, &vec![b'a'; size], PUBLIC_FILE_MODE).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (p, stop) = (p.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut reads = 0u32;
                while !stop.load(Ordering::SeqCst) {
                    let b = fs::read(&p).map_err(|e| format!("the file was missing: {e}"))?;
                    let whole = b.len() == size && (b.iter().all(|&c| c == b'a') || b.iter().all(|&c| c == b'b'));
                    if !whole {
                        return Err(format!("read {} bytes of a mix", b.len()));
                    }
                    reads += 1;
                }
                Ok(reads)
            })
        };
        for i in 0..300 {
            let c = if i % 2 == 0 { b'b' } else { b'a' };
            atomic_write(&p, &vec![c; size], PUBLIC_FILE_MODE).unwrap();
        }
        stop.store(true, Ordering::SeqCst);
        let reads = reader.join().unwrap().unwrap();
        assert!(reads > 0);
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
