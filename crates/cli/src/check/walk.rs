//! Which files are checked: the paths given, directories walked, each file once.

use super::*;

/// A file found on the command line or in a walk, not read yet.
#[derive(Debug)]
pub(super) struct Candidate {
    pub(super) path: PathBuf,
    /// Named on the command line: whatever is wrong with it is reported.
    pub(super) named: bool,
    /// Reached through a symlink; only used to pick among a file's names.
    pub(super) via_symlink: bool,
    /// (device, inode): the file's identity, however it was reached.
    pub(super) id: (u64, u64),
}

impl Candidate {
    pub(super) fn new(path: PathBuf, named: bool, via_symlink: bool, meta: &fs::Metadata) -> Self {
        Candidate {
            path,
            named,
            via_symlink,
            id: (meta.dev(), meta.ino()),
        }
    }

    /// Lower is the better name for the file (see the module doc).
    pub(super) fn rank(&self) -> (bool, bool, bool, &Path) {
        (
            !self.named,
            cert_extension(&self.path).is_none(),
            self.via_symlink,
            &self.path,
        )
    }
}

/// What checking one path came to.
#[derive(Debug)]
pub(super) enum Outcome {
    Cert(Box<Checked>),
    Failed(String),
    /// Not a certificate, and nothing says it should have been one.
    Skipped,
}

/// One row of the report: a certificate, or a path that could not be checked.
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) path: PathBuf,
    pub(super) result: Report,
}

#[derive(Debug)]
pub(super) enum Report {
    Cert(Box<Checked>),
    Failed(String),
}

impl Entry {
    pub(super) fn failed(path: &Path, reason: impl Into<String>) -> Self {
        Entry {
            path: path.to_path_buf(),
            result: Report::Failed(reason.into()),
        }
    }
}

/// A certificate file and how its leaf is doing at the time of the check.
#[derive(Debug)]
pub(super) struct Checked {
    pub(super) file: CertFile,
    pub(super) remaining: f64,
    pub(super) seconds_left: i64,
    pub(super) state: CertState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CertState {
    Ok,
    Due,
    Warn,
    Expired,
}

impl CertState {
    pub(super) fn name(self) -> &'static str {
        match self {
            CertState::Ok => "ok",
            CertState::Due => "due",
            CertState::Warn => "warn",
            CertState::Expired => "expired",
        }
    }
}

/// Expands the command line into files to read, and the paths that already
/// failed (missing, unlistable, special files).
pub(super) fn collect(paths: &[PathBuf]) -> (Vec<Candidate>, Vec<Entry>) {
    let mut files = Vec::new();
    let mut failed = Vec::new();
    for path in paths {
        match fs::metadata(path) {
            Ok(meta) if meta.is_dir() => walk(path, &mut files, &mut failed),
            Ok(meta) if meta.is_file() => {
                let via_symlink = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
                files.push(Candidate::new(path.clone(), true, via_symlink, &meta));
            }
            Ok(_) => failed.push(Entry::failed(
                path,
                "is not a regular file or a directory (a FIFO, socket or device); name a certificate file",
            )),
            Err(e) => failed.push(Entry::failed(path, stat_problem(path, &e))),
        }
    }
    (dedupe(files), failed)
}

/// Walks a directory tree without following symlinked directories.
pub(super) fn walk(root: &Path, files: &mut Vec<Candidate>, failed: &mut Vec<Entry>) {
    // An explicit stack: a deep tree must not overflow the thread's stack.
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        // A regular file's device is its directory's (only directories can be
        // mount points), and its inode is in the directory entry: no stat per file.
        let dev = fs::metadata(&dir).map(|m| m.dev()).unwrap_or(0);
        let listing = match fs::read_dir(&dir) {
            Ok(listing) => listing,
            Err(e) => {
                failed.push(Entry::failed(
                    &dir,
                    format!("cannot list this directory: {}", io_problem(&e)),
                ));
                continue;
            }
        };
        for entry in listing {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    failed.push(Entry::failed(
                        &dir,
                        format!("listing this directory failed part way: {}", io_problem(&e)),
                    ));
                    break;
                }
            };
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                dirs.push(path);
                continue;
            }
            if !kind.is_file() && !kind.is_symlink() {
                continue; // FIFOs, sockets, devices: reading them could block or never end
            }
            if kind.is_file() {
                files.push(Candidate {
                    path,
                    named: false,
                    via_symlink: false,
                    id: (dev, entry.ino()),
                });
                continue;
            }
            match fs::metadata(&path) {
                Ok(meta) if meta.is_file() => files.push(Candidate::new(path, false, kind.is_symlink(), &meta)),
                Ok(_) => {} // a symlinked directory or special file: not followed
                Err(e) if cert_extension(&path).is_some() => failed.push(Entry::failed(&path, stat_problem(&path, &e))),
                Err(_) => {}
            }
        }
    }
}

/// Keeps one candidate per file, under its best name.
pub(super) fn dedupe(mut files: Vec<Candidate>) -> Vec<Candidate> {
    files.sort_by(|a, b| a.id.cmp(&b.id).then_with(|| a.rank().cmp(&b.rank())));
    files.dedup_by(|later, first| later.id == first.id);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}
