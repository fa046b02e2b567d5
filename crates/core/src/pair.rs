//! A private key and its certificate that change together or not at all.
//!
//! Writing the key and then the certificate, each with its own atomic rename,
//! leaves an instant in which a crash (or `kill -9`) leaves a new key beside
//! the old certificate: the service that uses the pair fails at its next
//! reload while the certificate alone looks healthy. So a pair Evergreen
//! writes lives in one generation directory beside the certificate, and both
//! configured paths are symlinks through one `live` link to it:
//!
//! ```text
//! tls/web.pem -> .web.pem.pair/live/cert.pem
//! tls/web.key -> .web.pem.pair/live/key.pem
//! tls/.web.pem.pair/live -> g000042
//! tls/.web.pem.pair/g000042/{cert.pem,key.pem}
//! tls/.web.pem.pair/g000041/…            (the previous pair, kept as the backup)
//! ```
//!
//! A new pair is written in full into a new generation directory and synced;
//! then a single rename of `live` switches both paths at once. A crash before
//! the rename leaves the old pair in place, one after it the new pair; no
//! instant shows one of each. Files that were plain files before are first
//! copied into a generation of their own, so the switch to symlinks never
//! pairs an old file with a new one either. [`tidy`] removes what a crash left
//! half-written.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fsutil::{self, PUBLIC_FILE_MODE, SECRET_FILE_MODE};

/// Generation directories may be traversed by services that read the
/// certificate (the key file itself stays 0600), but not listed.
const PAIR_DIR_MODE: u32 = 0o711;
const CERT_NAME: &str = "cert.pem";
const KEY_NAME: &str = "key.pem";
const LIVE: &str = "live";

/// Where one pair's generations live.
#[derive(Debug, Clone)]
pub struct Pair {
    cert: PathBuf,
    key: PathBuf,
    store: PathBuf,
}

impl Pair {
    pub fn new(cert: &Path, key: &Path) -> Pair {
        let dir = parent(cert);
        let name = cert
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Pair {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            store: dir.join(format!(".{name}.pair")),
        }
    }

    /// The directory holding the generations.
    pub fn store(&self) -> &Path {
        &self.store
    }

    /// What the configured certificate path points at once linked.
    fn cert_target(&self) -> PathBuf {
        PathBuf::from(self.store.file_name().unwrap_or_default())
            .join(LIVE)
            .join(CERT_NAME)
    }

    /// What the configured key path points at: relative when it sits beside
    /// the certificate, else absolute.
    fn key_target(&self) -> Result<PathBuf> {
        if parent(&self.key) == parent(&self.cert) {
            return Ok(PathBuf::from(self.store.file_name().unwrap_or_default())
                .join(LIVE)
                .join(KEY_NAME));
        }
        let dir = fs::canonicalize(parent(&self.cert)).map_err(|e| Error::io("resolve", parent(&self.cert), e))?;
        Ok(dir
            .join(self.store.file_name().unwrap_or_default())
            .join(LIVE)
            .join(KEY_NAME))
    }

    fn linked(&self, path: &Path, target: &Path) -> bool {
        fs::read_link(path).is_ok_and(|t| t == target)
    }

    /// Replaces the pair with `cert_pem` and `key_pem`, both at once. A
    /// write that fails (a full disk, a read-only filesystem) leaves the old
    /// pair in place and nothing half-written: what it started is removed
    /// at once, and what an earlier failure could not remove goes first.
    pub fn commit(&self, cert_pem: &[u8], key_pem: &[u8]) -> Result<()> {
        if self.store.exists() {
            self.tidy();
        }
        let result = self.commit_new(cert_pem, key_pem);
        if result.is_err() {
            let removed = self.tidy();
            if !removed.is_empty() {
                tracing::debug!(
                    "removed what a failed write of {} began: {removed:?}",
                    self.cert.display()
                );
            }
        }
        result
    }

    fn commit_new(&self, cert_pem: &[u8], key_pem: &[u8]) -> Result<()> {
        for p in [&self.cert, &self.key] {
            let d = parent(p);
            if !d.exists() {
                fs::create_dir_all(d).map_err(|e| Error::io("create directory", d, e))?;
            }
        }
        if !self.store.exists() {
            fs::create_dir(&self.store).map_err(|e| Error::io("create directory", &self.store, e))?;
        }
        fs::set_permissions(&self.store, fs::Permissions::from_mode(PAIR_DIR_MODE))
            .map_err(|e| Error::io("set permissions on", &self.store, e))?;
        let (cert_target, key_target) = (self.cert_target(), self.key_target()?);
        let linked = self.linked(&self.cert, &cert_target) && self.linked(&self.key, &key_target);
        // Keep the modes (and group) the user gave the files (a key's only
        // when no wider than owner read-write plus group read).
        let key_keep = fsutil::Keep::of(fs::metadata(&self.key).ok().as_ref(), SECRET_FILE_MODE);
        let cert_keep = fsutil::Keep::of(fs::metadata(&self.cert).ok().as_ref(), PUBLIC_FILE_MODE);
        let mut next = self.generations()?.into_iter().max().unwrap_or(0) + 1;
        let old_cert = fs::read(&self.cert).ok();
        let old_key = fs::read(&self.key).ok();
        if !linked {
            if let (Some(c), Some(k)) = (&old_cert, &old_key) {
                // Plain files (or someone else's links) become ours without
                // ever pairing an old file with a new one: the old pair first
                // moves into a generation, and only then is anything new.
                self.write_generation(next, c, k, cert_keep, key_keep)?;
                self.switch(next)?;
                self.link(&self.key, &key_target)?;
                self.link(&self.cert, &cert_target)?;
                next += 1;
            }
        }
        self.write_generation(next, cert_pem, key_pem, cert_keep, key_keep)?;
        self.switch(next)?;
        if !self.linked(&self.cert, &cert_target) || !self.linked(&self.key, &key_target) {
            // At most one of the two paths exists here, so linking the one
            // that exists first never shows a new file beside an old one.
            let (first, second) = if self.cert.exists() {
                ((&self.cert, &cert_target), (&self.key, &key_target))
            } else {
                ((&self.key, &key_target), (&self.cert, &cert_target))
            };
            self.link(first.0, first.1)?;
            self.link(second.0, second.1)?;
        }
        self.prune(next);
        Ok(())
    }

    /// The previous pair (certificate, key), kept as the backup: the
    /// generation just before the live one, if there is one.
    pub fn backup(&self) -> Option<(PathBuf, PathBuf)> {
        let live = self.live()?;
        let prev = self.generations().ok()?.into_iter().filter(|n| *n < live).max()?;
        let dir = self.store.join(generation_name(prev));
        Some((dir.join(CERT_NAME), dir.join(KEY_NAME)))
    }

    /// The generation numbers present.
    fn generations(&self) -> Result<Vec<u64>> {
        let entries = match fs::read_dir(&self.store) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("read directory", &self.store, e)),
        };
        Ok(entries
            .flatten()
            .filter_map(|e| generation_number(&e.file_name().to_string_lossy()))
            .collect())
    }

    /// The generation `live` points at.
    fn live(&self) -> Option<u64> {
        let t = fs::read_link(self.store.join(LIVE)).ok()?;
        generation_number(&t.to_string_lossy())
    }

    fn write_generation(
        &self,
        n: u64,
        cert: &[u8],
        key: &[u8],
        cert_keep: fsutil::Keep,
        key_keep: fsutil::Keep,
    ) -> Result<()> {
        let dir = self.store.join(generation_name(n));
        // A directory of this number can only be one a crash left unfinished.
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(|e| Error::io("remove", &dir, e))?;
        }
        fs::create_dir(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(PAIR_DIR_MODE))
            .map_err(|e| Error::io("set permissions on", &dir, e))?;
        fsutil::write_new(&dir.join(KEY_NAME), key, key_keep)?;
        fsutil::write_new(&dir.join(CERT_NAME), cert, cert_keep)?;
        sync_dir(&dir);
        Ok(())
    }

    /// Points `live` at generation `n` in one rename.
    fn switch(&self, n: u64) -> Result<()> {
        let tmp = self.store.join(temp_name(LIVE));
        std::os::unix::fs::symlink(generation_name(n), &tmp).map_err(|e| Error::io("create link", &tmp, e))?;
        if let Err(e) = fs::rename(&tmp, self.store.join(LIVE)) {
            let _ = fs::remove_file(&tmp);
            return Err(Error::io("replace", self.store.join(LIVE), e));
        }
        sync_dir(&self.store);
        Ok(())
    }

    /// Makes `path` a symlink to `target` in one rename.
    fn link(&self, path: &Path, target: &Path) -> Result<()> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = parent(path).join(format!(".{name}{}", temp_suffix()));
        std::os::unix::fs::symlink(target, &tmp).map_err(|e| Error::io("create link", &tmp, e))?;
        if let Err(e) = fs::rename(&tmp, path) {
            let _ = fs::remove_file(&tmp);
            return Err(Error::io("replace", path, e));
        }
        sync_dir(parent(path));
        Ok(())
    }

    /// Keeps the live generation and the one before it (the backup).
    fn prune(&self, live: u64) {
        let mut older: Vec<u64> = self.generations().unwrap_or_default();
        older.retain(|n| *n < live);
        older.sort_unstable();
        let keep = older.last().copied();
        for n in older.into_iter().filter(|n| Some(*n) != keep) {
            let _ = fs::remove_dir_all(self.store.join(generation_name(n)));
        }
    }

    /// Removes what a crash left behind: generations written after the live
    /// one (never switched to), half-made links, and the atomic-write
    /// temporary files next to both paths. Returns what was removed.
    pub fn tidy(&self) -> Vec<PathBuf> {
        let mut removed = fsutil::clean_temps(&self.cert);
        removed.extend(fsutil::clean_temps(&self.key));
        let Ok(entries) = fs::read_dir(&self.store) else {
            return removed;
        };
        let live = self.live();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let stale = match generation_number(&name) {
                Some(n) => live.is_none_or(|l| n > l),
                None => name.starts_with(&format!("{LIVE}.tmp-")),
            };
            if stale {
                let p = e.path();
                let gone = if p.is_dir() && !p.is_symlink() {
                    fs::remove_dir_all(&p)
                } else {
                    fs::remove_file(&p)
                };
                if gone.is_ok() {
                    removed.push(p);
                }
            }
        }
        // A certificate alone rewritten through the link (sign mode keeps its
        // key) leaves its temporary file inside the live generation.
        if let Some(l) = live {
            removed.extend(fsutil::clean_temps_in(&self.store.join(generation_name(l))));
        }
        removed
    }
}

/// Whether the private key in `key_pem` belongs to the certificate `cert_der`:
/// `None` when the key is not a PKCS#8 key Evergreen can read (so it cannot
/// tell), else the answer.
pub fn key_matches(cert_der: &[u8], key_pem: &str) -> Option<bool> {
    let key = rcgen::KeyPair::from_pem(key_pem).ok()?;
    crate::csr::carries_key(cert_der, &key).ok()
}

/// Reads the certificate and key at their paths and says what is wrong with
/// the pair, if anything Evergreen can see: `None` when they match, when the
/// key is missing, or when its format cannot be checked.
pub fn mismatch(cert_path: &Path, cert_der: &[u8], key_path: &Path) -> Option<String> {
    let key = fs::read_to_string(key_path).ok()?;
    match key_matches(cert_der, &key) {
        Some(false) => Some(format!(
            "the private key {} does not belong to the certificate {}",
            key_path.display(),
            cert_path.display()
        )),
        _ => None,
    }
}

fn parent(p: &Path) -> &Path {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

fn generation_name(n: u64) -> String {
    format!("g{n:06}")
}

fn generation_number(name: &str) -> Option<u64> {
    let digits = name.strip_prefix('g')?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

fn temp_suffix() -> String {
    format!(".tmp-{}-{:08x}", std::process::id(), rand::random::<u32>())
}

fn temp_name(base: &str) -> String {
    format!("{base}{}", temp_suffix())
}

fn sync_dir(dir: &Path) {
    // Durability of the entries themselves; best effort where refused.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair_pems() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["a.test".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn der(pem: &str) -> Vec<u8> {
        crate::x509::parse(pem.as_bytes()).unwrap().der_leaf
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_commit_switches_both_paths_and_keeps_one_backup() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = (dir.path().join("web.pem"), dir.path().join("web.key"));
        let p = Pair::new(&c, &k);
        let mut last = None;
        for _ in 0..3 {
            let (cert, key) = pair_pems();
            p.commit(cert.as_bytes(), key.as_bytes()).unwrap();
            assert_eq!(fs::read_to_string(&c).unwrap(), cert);
            assert_eq!(fs::read_to_string(&k).unwrap(), key);
            assert_eq!(mismatch(&c, &der(&cert), &k), None);
            last = Some(cert);
        }
        assert_eq!(fs::metadata(&k).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(&c).unwrap().permissions().mode() & 0o777, 0o644);
        // the live generation and one backup, nothing else
        assert_eq!(names(p.store()), vec!["g000002", "g000003", "live"]);
        assert_eq!(names(dir.path()), vec![".web.pem.pair", "web.key", "web.pem"]);
        assert!(last.is_some());
    }

    #[test]
    fn plain_files_become_links_without_ever_pairing_old_and_new() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = (dir.path().join("web.pem"), dir.path().join("web.key"));
        let (old_cert, old_key) = pair_pems();
        fs::write(&c, &old_cert).unwrap();
        fs::write(&k, &old_key).unwrap();
        fs::set_permissions(&k, fs::Permissions::from_mode(0o640)).unwrap();
        let (cert, key) = pair_pems();
        Pair::new(&c, &k).commit(cert.as_bytes(), key.as_bytes()).unwrap();
        assert!(fs::symlink_metadata(&c).unwrap().file_type().is_symlink());
        assert_eq!(fs::read_to_string(&c).unwrap(), cert);
        assert_eq!(fs::read_to_string(&k).unwrap(), key);
        // a key the user shared with a group keeps that mode
        assert_eq!(fs::metadata(&k).unwrap().permissions().mode() & 0o777, 0o640);
        // the old pair is the backup generation, whole
        let (bc, bk) = Pair::new(&c, &k).backup().unwrap();
        assert_eq!(fs::read_to_string(bc).unwrap(), old_cert);
        assert_eq!(fs::read_to_string(bk).unwrap(), old_key);
    }

    #[test]
    fn a_key_in_another_directory_is_linked_by_absolute_path() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = (dir.path().join("certs/web.pem"), dir.path().join("private/web.key"));
        let (cert, key) = pair_pems();
        Pair::new(&c, &k).commit(cert.as_bytes(), key.as_bytes()).unwrap();
        assert_eq!(fs::read_to_string(&k).unwrap(), key);
        assert!(fs::read_link(&k).unwrap().is_absolute());
    }

    #[test]
    fn tidy_removes_what_a_crash_left_and_keeps_the_live_pair() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = (dir.path().join("web.pem"), dir.path().join("web.key"));
        let p = Pair::new(&c, &k);
        let (cert, key) = pair_pems();
        p.commit(cert.as_bytes(), key.as_bytes()).unwrap();
        // a crash mid-write: a generation never switched to, a half-made
        // link, and an atomic-write temporary file of the key
        fs::create_dir(p.store().join("g000009")).unwrap();
        fs::write(p.store().join("g000009").join(KEY_NAME), "half").unwrap();
        std::os::unix::fs::symlink("g000009", p.store().join("live.tmp-1-0")).unwrap();
        fs::write(dir.path().join(".web.key.tmp-77-deadbeef"), "secret").unwrap();
        // and a certificate rewritten alone through the link, cut short
        fs::write(
            p.store().join("g000001").join(format!(".{CERT_NAME}.tmp-78-0000beef")),
            "half",
        )
        .unwrap();
        let removed = p.tidy();
        assert_eq!(removed.len(), 4, "{removed:?}");
        assert_eq!(names(&p.store().join("g000001")), vec![CERT_NAME, KEY_NAME]);
        assert_eq!(names(p.store()), vec!["g000001", "live"]);
        assert_eq!(names(dir.path()), vec![".web.pem.pair", "web.key", "web.pem"]);
        assert_eq!(fs::read_to_string(&k).unwrap(), key);
    }

    #[test]
    fn a_key_of_another_certificate_is_a_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = pair_pems();
        let (_, other_key) = pair_pems();
        let k = dir.path().join("k.pem");
        fs::write(&k, &other_key).unwrap();
        let why = mismatch(Path::new("c.pem"), &der(&cert), &k).unwrap();
        assert!(why.contains("does not belong to the certificate c.pem"), "{why}");
        assert_eq!(key_matches(&der(&cert), "not a key"), None);
    }
}
