//! Secrets kept in a file or an environment variable (a Vault token, a
//! certctl API key): one reader and one set of refusals, so every kind
//! refuses the same things in the same words. Each caller adds what the
//! user should do, and whether the credential pauses or retries.

use secrecy::SecretString;

use crate::config::TokenSource;

/// Why a secret could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretError {
    /// The file does not exist, or the variable is not set.
    Missing(String),
    /// It is there but cannot be used: unreadable, open to others, or not
    /// one word.
    Unusable(String),
}

impl SecretError {
    pub fn message(&self) -> &str {
        match self {
            SecretError::Missing(m) | SecretError::Unusable(m) => m,
        }
    }
}

/// Reads the secret `noun` (e.g. "token", "API key") from `source`, trimmed.
/// A file must not be readable or writable by others, and must hold exactly
/// one word.
pub fn read(source: &TokenSource, noun: &str) -> Result<SecretString, SecretError> {
    match source {
        TokenSource::File(path) => {
            let meta = std::fs::metadata(path).map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    SecretError::Missing(format!("the {noun} file {} does not exist", path.display()))
                } else {
                    SecretError::Unusable(format!("could not read the {noun} file {}: {e}", path.display()))
                }
            })?;
            if let Some(problem) = crate::fsutil::exposed_secret(&meta, &format!("{noun} file"), path) {
                return Err(SecretError::Unusable(problem));
            }
            let raw = std::fs::read_to_string(path).map_err(|e| {
                SecretError::Unusable(format!("could not read the {noun} file {}: {e}", path.display()))
            })?;
            let word = raw.trim();
            if word.is_empty() || word.contains(char::is_whitespace) {
                return Err(SecretError::Unusable(format!(
                    "the {noun} file {} does not hold one {noun} (it is empty or has several words)",
                    path.display()
                )));
            }
            Ok(SecretString::from(word.to_string()))
        }
        TokenSource::Env(var) => match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(SecretString::from(v.trim().to_string())),
            _ => Err(SecretError::Missing(format!(
                "the environment variable {var} is not set in Evergreen's environment"
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn one_private_word_is_a_secret_and_everything_else_is_refused_by_name() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("token");
        let src = TokenSource::File(f.clone());
        assert!(matches!(read(&src, "token"), Err(SecretError::Missing(m)) if m.contains("does not exist")));
        for (text, mode, ok) in [
            ("s.abc\n", 0o600, true),
            ("s.abc", 0o644, false),
            ("", 0o600, false),
            ("two words", 0o600, false),
        ] {
            std::fs::write(&f, text).unwrap();
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
            match read(&src, "token") {
                Ok(s) => {
                    assert!(ok, "{text:?} {mode:o} was taken");
                    assert_eq!(s.expose_secret(), "s.abc");
                }
                Err(e) => {
                    assert!(!ok, "{text:?} {mode:o}: {e:?}");
                    assert!(matches!(e, SecretError::Unusable(_)), "{e:?}");
                    assert!(e.message().contains(&f.display().to_string()), "{e:?}");
                }
            }
        }
        let unset = TokenSource::Env("EVERGREEN_TEST_SURELY_UNSET_VARIABLE".into());
        assert!(
            matches!(read(&unset, "API key"), Err(SecretError::Missing(m)) if m.contains("EVERGREEN_TEST_SURELY_UNSET_VARIABLE"))
        );
    }
}
