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

/// Watches a changing set of files; reports changed paths in batches.
pub struct FileWatcher {
    watcher: notify::RecommendedWatcher,
    dirs: BTreeSet<PathBuf>,
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
            rx,
        })
    }

    /// Watches exactly the directories holding `files` (missing directories are skipped).
    pub fn set_files<'a>(&mut self, files: impl IntoIterator<Item = &'a Path>) {
        let wanted: BTreeSet<PathBuf> = files
            .into_iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .collect();
        for d in self.dirs.difference(&wanted).cloned().collect::<Vec<_>>() {
            let _ = self.watcher.unwatch(&d);
            self.dirs.remove(&d);
        }
        for d in wanted {
            if self.dirs.contains(&d) {
                continue;
            }
            match self.watcher.watch(&d, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.dirs.insert(d);
                }
                Err(e) => tracing::debug!("not watching {}: {e}", d.display()),
            }
        }
    }

    /// The next batch of changed paths.
    pub async fn changed(&mut self) -> Option<BTreeSet<PathBuf>> {
        let first = self.rx.recv().await?;
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
