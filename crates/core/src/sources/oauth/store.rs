//! Where an OAuth credential's tokens live: the desktop keyring (the Secret
//! Service, over D-Bus) when one runs, else a 0600 file in a 0700 directory.
//! Either way the tokens are one JSON document, written whole, and every
//! refresh holds a lock (a file beside the token file), so the engine and
//! `evergreen token` never refresh at once: with rotating refresh tokens, two
//! refreshes of one token would cost the user their login.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use secret_service::{EncryptionType, SecretService};
use serde::{Deserialize, Serialize};

use crate::fsutil;

/// A talk with the keyring takes no longer than this (a locked one may
/// want a prompt nobody answers).
const KEYRING_WAIT: Duration = Duration::from_secs(5);

/// An access token and what renews it. Never formatted with its secrets.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Unix seconds.
    pub obtained_at: u64,
    pub expires_at: u64,
    #[serde(default)]
    pub scope: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tokens {{ obtained_at: {}, expires_at: {}, .. }}",
            self.obtained_at, self.expires_at
        )
    }
}

/// Where the tokens were found or put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    Keyring,
    File(PathBuf),
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Keyring => f.write_str("the desktop keyring"),
            Place::File(p) => write!(f, "{}", p.display()),
        }
    }
}

fn attributes(name: &str) -> HashMap<&str, &str> {
    HashMap::from([("application", "evergreen"), ("credential", name)])
}

async fn keyring() -> Option<SecretService<'static>> {
    tokio::time::timeout(KEYRING_WAIT, SecretService::connect(EncryptionType::Dh))
        .await
        .ok()?
        .ok()
}

async fn keyring_load(name: &str) -> Result<Option<SecretString>, String> {
    let Some(ss) = keyring().await else {
        return Ok(None);
    };
    let found = tokio::time::timeout(KEYRING_WAIT, async {
        let items = ss.search_items(attributes(name)).await?;
        let item = match (items.unlocked.into_iter().next(), items.locked.into_iter().next()) {
            (Some(i), _) => i,
            (None, Some(i)) => {
                i.unlock().await?;
                i
            }
            (None, None) => return Ok(None),
        };
        let bytes = item.get_secret().await?;
        Ok::<_, secret_service::Error>(Some(SecretString::from(String::from_utf8_lossy(&bytes).into_owned())))
    })
    .await
    .map_err(|_| "the desktop keyring did not answer within 5 s".to_string())?;
    found.map_err(|e| format!("the desktop keyring: {e}"))
}

async fn keyring_save(name: &str, json: &SecretString) -> Result<bool, String> {
    let Some(ss) = keyring().await else {
        return Ok(false);
    };
    tokio::time::timeout(KEYRING_WAIT, async {
        let coll = ss.get_default_collection().await?;
        if coll.is_locked().await? {
            coll.unlock().await?;
        }
        coll.create_item(
            &format!("Evergreen: {name}"),
            attributes(name),
            json.expose_secret().as_bytes(),
            true,
            "application/json",
        )
        .await?;
        Ok::<_, secret_service::Error>(())
    })
    .await
    .map_err(|_| "the desktop keyring did not answer within 5 s".to_string())?
    .map_err(|e| format!("the desktop keyring: {e}"))?;
    Ok(true)
}

/// The tokens of credential `name`: from the keyring (when wanted and
/// running), else from `file`. `None` when there are none yet.
pub(crate) async fn load(name: &str, use_keyring: bool, file: &Path) -> Result<Option<(Tokens, Place)>, String> {
    let parse = |text: &str, place: Place| {
        serde_json::from_str::<Tokens>(text)
            .map(|t| Some((t, place.clone())))
            .map_err(|e| format!("the tokens in {place} are not Evergreen's ({e}); log in again to replace them"))
    };
    if use_keyring {
        if let Some(json) = keyring_load(name).await? {
            return parse(json.expose_secret(), Place::Keyring);
        }
    }
    match std::fs::metadata(file) {
        Ok(meta) => {
            if let Some(problem) = fsutil::exposed_secret(&meta, "token file", file) {
                return Err(problem);
            }
            if meta.len() > 1 << 20 {
                return Err(format!("{} is larger than any token file", file.display()));
            }
            let text = std::fs::read_to_string(file).map_err(|e| format!("could not read {}: {e}", file.display()))?;
            let text = SecretString::from(text);
            parse(text.expose_secret(), Place::File(file.to_path_buf()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("could not read {}: {e}", file.display())),
    }
}

/// Keeps `tokens`: in the keyring when wanted and running (and then no
/// copy stays in the file), else in `file`. Says where.
pub(crate) async fn save(name: &str, use_keyring: bool, file: &Path, tokens: &Tokens) -> Result<Place, String> {
    let json = SecretString::from(serde_json::to_string(tokens).map_err(|e| e.to_string())?);
    if use_keyring && keyring_save(name, &json).await? {
        if file.exists() {
            let _ = std::fs::remove_file(file);
        }
        return Ok(Place::Keyring);
    }
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        fsutil::ensure_private_dir(dir).map_err(|e| e.to_string())?;
    }
    fsutil::atomic_write(file, json.expose_secret().as_bytes(), fsutil::SECRET_FILE_MODE).map_err(|e| e.to_string())?;
    Ok(Place::File(file.to_path_buf()))
}

/// Holds the refresh lock of the token file `file` until dropped.
pub(crate) struct Lock(#[allow(dead_code)] std::fs::File);

/// Takes the refresh lock (waits for another process's refresh to end).
pub(crate) async fn lock(file: &Path) -> Result<Lock, String> {
    let mut path = file.as_os_str().to_os_string();
    path.push(".lock");
    let path = PathBuf::from(path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fsutil::ensure_private_dir(dir).map_err(|e| e.to_string())?;
    }
    tokio::task::spawn_blocking(move || {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| format!("could not open the lock {}: {e}", path.display()))?;
        f.lock()
            .map_err(|e| format!("could not lock {}: {e}", path.display()))?;
        Ok(Lock(f))
    })
    .await
    .map_err(|e| e.to_string())?
}
