//! What checking a config needs from outside its text: the home directory,
//! the Vault address a shell exported, the hostname, the data directory and
//! the files the config names (CA bundles, an enrolled certificate).
//!
//! They are read once, at the edge, so validation is a pure function of the
//! text and these facts: a test hands in its own, with no process
//! environment to race on and no files to lay out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How validation reads a file the config names.
pub type ReadFile = Box<dyn Fn(&Path) -> std::io::Result<Vec<u8>> + Send + Sync>;

/// The facts validation reads instead of reaching for the process.
pub struct Surroundings {
    /// `$HOME`, for `~/` in paths.
    pub home: Option<PathBuf>,
    /// `BAO_ADDR`, else `VAULT_ADDR`: the address a Vault credential
    /// without `address` uses.
    pub vault_addr: Option<String>,
    /// This machine's hostname: a nixfleet machine's default name.
    pub hostname: Option<String>,
    /// Evergreen's data directory: certctl keys live under it by default.
    pub data_dir: Option<PathBuf>,
    /// Reads a file the config names.
    pub read: ReadFile,
}

impl Surroundings {
    /// The running process's: its environment, this machine, its files.
    pub fn of_process() -> Surroundings {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Surroundings {
            home: std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from),
            vault_addr: var("BAO_ADDR").or_else(|| var("VAULT_ADDR")),
            hostname: crate::host::hostname(),
            data_dir: crate::paths::Paths::from_env().ok().map(|p| p.data_dir),
            read: Box::new(|p| std::fs::read(p)),
        }
    }

    /// Fixed facts and an in-memory set of files: nothing outside is read.
    pub fn fixed(home: &Path, files: BTreeMap<PathBuf, Vec<u8>>) -> Surroundings {
        Surroundings {
            home: Some(home.to_path_buf()),
            vault_addr: None,
            hostname: None,
            data_dir: Some(home.join(".local/share/evergreen")),
            read: Box::new(move |p| {
                files
                    .get(p)
                    .cloned()
                    .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
            }),
        }
    }
}
