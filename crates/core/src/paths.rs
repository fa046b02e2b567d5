//! Where Evergreen keeps its files.
//!
//! The platform directories (`directories`): on Linux the config is
//! `~/.config/evergreen/config.toml`, the store `~/.local/share/evergreen/`,
//! the socket `$XDG_RUNTIME_DIR/evergreen/`. `EVERGREEN_CONFIG`,
//! `EVERGREEN_DATA_DIR` and `EVERGREEN_RUNTIME_DIR` override them, so tests
//! and side-by-side instances never touch a user's real files.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub config_file: PathBuf,
    pub data_dir: PathBuf,
    pub runtime_dir: PathBuf,
}

impl Paths {
    /// The user's paths, with environment overrides applied.
    pub fn from_env() -> Result<Paths> {
        let dirs = directories::ProjectDirs::from("", "", "evergreen");
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        let need = |what: &str| {
            Error::Config(format!(
                "cannot find the user's {what} directory (is HOME set?); set EVERGREEN_CONFIG, EVERGREEN_DATA_DIR and EVERGREEN_RUNTIME_DIR"
            ))
        };
        let config_file = match var("EVERGREEN_CONFIG") {
            Some(p) => p,
            None => dirs
                .as_ref()
                .ok_or_else(|| need("config"))?
                .config_dir()
                .join("config.toml"),
        };
        let data_dir = match var("EVERGREEN_DATA_DIR") {
            Some(p) => p,
            None => dirs.as_ref().ok_or_else(|| need("data"))?.data_dir().to_path_buf(),
        };
        let runtime_dir = match var("EVERGREEN_RUNTIME_DIR") {
            Some(p) => p,
            None => match dirs.as_ref().and_then(|d| d.runtime_dir()) {
                Some(r) => r.to_path_buf(),
                None => data_dir.join("run"),
            },
        };
        Ok(Paths {
            config_file,
            data_dir,
            runtime_dir,
        })
    }

    /// Everything under one directory (tests, the demo).
    pub fn under(dir: &Path) -> Paths {
        Paths {
            config_file: dir.join("config.toml"),
            data_dir: dir.join("data"),
            runtime_dir: dir.join("run"),
        }
    }

    pub fn store_file(&self) -> PathBuf {
        self.data_dir.join("evergreen.db")
    }

    /// The demo's own store: the demo never reads or changes the user's.
    pub fn demo_store_file(&self) -> PathBuf {
        self.data_dir.join("demo").join("evergreen.db")
    }

    pub fn lock_file(&self) -> PathBuf {
        self.data_dir.join("engine.lock")
    }

    pub fn socket(&self) -> PathBuf {
        self.runtime_dir.join("evergreen.sock")
    }
}
