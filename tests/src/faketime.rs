//! A wall clock the test moves under a real process: libfaketime (Debian's
//! `faketime`) preloaded, reading its offset from a file on every call. The
//! monotonic clock is left alone, which is what a suspend looks like to a
//! process: hours pass on the wall and none on the monotonic clock.

use std::path::{Path, PathBuf};

/// The offset file, and the environment that puts a process under it.
pub struct FakeClock {
    offset: PathBuf,
    lib: PathBuf,
}

impl FakeClock {
    /// A clock at the real time (offset `+0`), its file in `dir`.
    pub fn new(dir: &Path) -> FakeClock {
        let lib = std::fs::read_dir("/usr/lib")
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("faketime/libfaketime.so.1"))
            .find(|p| p.exists())
            .expect("libfaketime is installed (Debian package faketime; `make test` installs it)");
        let clock = FakeClock {
            offset: dir.join("faketime-offset"),
            lib,
        };
        clock.set("+0");
        clock
    }

    /// Moves the wall clock to `offset` from the real time (`+4h`, `-1h`).
    pub fn set(&self, offset: &str) {
        std::fs::write(&self.offset, offset).unwrap();
    }

    /// The environment variables a process runs under this clock with.
    pub fn vars(&self) -> [(&'static str, String); 4] {
        [
            ("LD_PRELOAD", self.lib.display().to_string()),
            ("FAKETIME_TIMESTAMP_FILE", self.offset.display().to_string()),
            ("FAKETIME_NO_CACHE", "1".into()),
            ("FAKETIME_DONT_FAKE_MONOTONIC", "1".into()),
        ]
    }
}
