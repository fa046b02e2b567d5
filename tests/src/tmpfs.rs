//! A small tmpfs a test mounts, fills up, frees and remounts read-only: the
//! machine's own faults, for real rather than as mocked errors. Mounting
//! needs root (CI runs as root); elsewhere [`Tmpfs::mount`] says why not,
//! and the test prints that it skips.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A mounted tmpfs, unmounted on drop.
pub struct Tmpfs {
    pub dir: PathBuf,
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Tmpfs {
    /// A tmpfs of `kib` KiB at `dir` (created if missing).
    pub fn mount(dir: &Path, kib: u32) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        let dir_s = dir.to_string_lossy().into_owned();
        run(
            "mount",
            &["-t", "tmpfs", "-o", &format!("size={kib}k,mode=0700"), "tmpfs", &dir_s],
        )?;
        Ok(Tmpfs { dir: dir.to_path_buf() })
    }

    fn filler(&self) -> PathBuf {
        self.dir.join(".filler")
    }

    /// Fills it to the last byte: a write of anything more fails with
    /// "No space left on device".
    pub fn fill(&self) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.filler())
            .expect("the filler file opens");
        let chunk = vec![0u8; 4096];
        while f.write_all(&chunk).and_then(|()| f.flush()).is_ok() {}
        for _ in 0..4096 {
            if f.write_all(&[0]).and_then(|()| f.flush()).is_err() {
                break;
            }
        }
        let probe = self.dir.join(".probe");
        let full = std::fs::write(&probe, [0u8; 64]).is_err();
        let _ = std::fs::remove_file(&probe);
        assert!(full, "{} is not full after filling it", self.dir.display());
    }

    /// Gives the space back.
    pub fn free(&self) {
        std::fs::remove_file(self.filler()).expect("the filler file is removed");
    }

    /// Remounts it read-only, or writable again.
    pub fn read_only(&self, ro: bool) {
        let dir = self.dir.to_string_lossy().into_owned();
        run("mount", &["-o", if ro { "remount,ro" } else { "remount,rw" }, &dir]).expect("the tmpfs remounts");
    }

    /// Every path under it, but the filler: what a failed write left.
    pub fn files(&self) -> Vec<String> {
        let mut found = Vec::new();
        let mut stack = vec![self.dir.clone()];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else { continue };
            for e in entries.flatten() {
                let p = e.path();
                if p == self.filler() {
                    continue;
                }
                if p.is_dir() && !p.is_symlink() {
                    stack.push(p.clone());
                }
                found.push(p.strip_prefix(&self.dir).unwrap_or(&p).display().to_string());
            }
        }
        found.sort();
        found
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazily: a process that still has a file open there must not keep
        // the mount (and the test's temporary directory) alive.
        let _ = run("umount", &["-l", &self.dir.to_string_lossy()]);
    }
}
