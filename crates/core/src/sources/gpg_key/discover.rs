//! The user's GPG keys and subkeys that have an expiry date, from gpg's own
//! listing (public facts only; no secret key is read or exported).

use std::path::PathBuf;

use crate::discover::{run_quietly, Found, Places};

/// Every secret key and subkey with an expiry, each a gpg_key to watch.
pub(crate) fn discover(places: &Places) -> Vec<Found> {
    let home = places
        .var("GNUPGHOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| places.home(".gnupg"));
    if !home.is_dir() {
        return Vec::new();
    }
    let Some(text) = run_quietly(&super::listing_argv(None), &[("GNUPGHOME", home.as_os_str())], places) else {
        return Vec::new();
    };
    let set_home = places.var("GNUPGHOME").is_some();
    super::colons::parse(&text)
        .into_iter()
        .filter(|k| k.expires.is_some() && k.validity != 'r')
        .map(|k| {
            let short = &k.fingerprint[k.fingerprint.len().saturating_sub(8)..];
            let role = if k.subkey {
                format!("{} subkey", k.usage_words())
            } else {
                "primary key".to_string()
            };
            let mut f = Found::new(
                super::KIND,
                &format!("gpg-{}", short.to_ascii_lowercase()),
                places.show(&home),
                format!("{} ({role})", k.uid),
            )
            .with("fingerprint", k.fingerprint.clone())
            .expiring(k.expires)
            .noting(format!("extend it with `{}`", k.extend_command("1y")));
            if set_home {
                f = f.with("gnupg_home", places.show(&home));
            }
            f
        })
        .collect()
}
