//! File watching: credential files and the config file.
//!
//! Editors and renewal tools replace files by rename, so the watcher follows
//! the parent directories, not the files, and matches event paths by name.
//! Bursts (write, chmod, rename) are coalesced before anyone is told.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::error::{Error, Result};

/// How long a burst of file events is gathered before it is acted on.
pub const COALESCE: Duration = Duration::from_millis(150);

/// How often a directory that does not exist yet is tried again (a first
/// renewal creates `certs/` and `keys/` after the watch was set up).
pub const RETRY_MISSING: Duration = Duration::from_secs(2);

/// Watches a changing set of files; reports changed paths in batches.
pub struct FileWatcher {
    watcher: notify::RecommendedWatcher,
    dirs: BTreeSet<PathBuf>,
    /// Wanted files whose directory could not be watched yet.
    missing: BTreeSet<PathBuf>,
    rx: mpsc::UnboundedReceiver<PathBuf>,
}

impl FileWatcher {
    pub fn new() -> Result<FileWatcher> {
        let (tx, rx) = mpsc::unbounded_channel();
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(ev) = res {
                if ev.kind.is_access() {
                    return;
                }
                for p in ev.paths {
                    let _ = tx.send(p);
                }
            }
        })
        .map_err(|e| Error::io("watch files", PathBuf::from("."), std::io::Error::other(e.to_string())))?;
        Ok(FileWatcher {
            watcher,
            dirs: BTreeSet::new(),
            missing: BTreeSet::new(),
            rx,
        })
    }

    /// Watches exactly the directories holding `files`; those that do not
    /// exist yet are tried again by [`FileWatcher::changed`].
    pub fn set_files<'a>(&mut self, files: impl IntoIterator<Item = &'a Path>) {
        let files: BTreeSet<PathBuf> = files.into_iter().map(Path::to_path_buf).collect();
        let wanted: BTreeSet<PathBuf> = files.iter().filter_map(|f| f.parent().map(Path::to_path_buf)).collect();
        for d in self.dirs.difference(&wanted).cloned().collect::<Vec<_>>() {
            let _ = self.watcher.unwatch(&d);
            self.dirs.remove(&d);
        }
        self.missing = files;
        self.watch_missing();
    }

    /// Watches what it can of the missing files' directories; returns the
    /// files of the directories it could watch now.
    fn watch_missing(&mut self) -> BTreeSet<PathBuf> {
        let mut found = BTreeSet::new();
        for f in std::mem::take(&mut self.missing) {
            let Some(d) = f.parent().map(Path::to_path_buf) else {
                continue;
            };
            if self.dirs.contains(&d) {
                found.insert(f);
                continue;
            }
            match self.watcher.watch(&d, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.dirs.insert(d);
                    found.insert(f);
                }
                Err(e) => {
                    tracing::debug!("not watching {} yet: {e}", d.display());
                    self.missing.insert(f);
                }
            }
        }
        found
    }

    /// The next batch of changed paths. A directory that has come to be
    /// since counts as a change of its files: whatever was written there
    /// before it could be watched is looked at.
    pub async fn changed(&mut self) -> Option<BTreeSet<PathBuf>> {
        let first = loop {
            if self.missing.is_empty() {
                break self.rx.recv().await?;
            }
            tokio::select! {
                p = self.rx.recv() => break p?,
                _ = tokio::time::sleep(RETRY_MISSING) => {
                    let appeared = self.watch_missing();
                    if !appeared.is_empty() {
                        return Some(appeared);
                    }
                }
            }
        };
        let mut batch = BTreeSet::from([first]);
        let deadline = tokio::time::Instant::now() + COALESCE;
        while let Ok(Some(p)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            batch.insert(p);
        }
        Some(batch)
    }
}

/// Which credentials a batch of changed paths concerns.
pub fn affected(batch: &BTreeSet<PathBuf>, files: &BTreeMap<PathBuf, Vec<String>>) -> BTreeSet<String> {
    batch.iter().filter_map(|p| files.get(p)).flatten().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A credential whose directory a first renewal creates: once the
    /// directory is there, its file counts as changed (and is watched).
    #[tokio::test(start_paused = true)]
    async fn a_directory_made_after_the_watch_began_is_watched_and_its_files_looked_at() {
        let root = tempfile::tempdir().unwrap();
        let key = root.path().join("keys").join("ws.key");
        let mut w = FileWatcher::new().unwrap();
        w.set_files([key.as_path()]);
        std::fs::create_dir(root.path().join("keys")).unwrap();
        std::fs::write(&key, "written before the directory was watched").unwrap();
        let batch = tokio::time::timeout(Duration::from_secs(60), w.changed())
            .await
            .unwrap()
            .unwrap();
        assert!(batch.contains(&key), "{batch:?}");
        assert!(w.missing.is_empty());
    }
}
