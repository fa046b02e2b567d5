//! The IAM Identity Center sessions of the user's AWS config
//! (`$AWS_CONFIG_FILE`, else `~/.aws/config`) that have a cached token.
//! Only the cache's dates and start URL are read, never its tokens.

use std::path::PathBuf;

use super::files::{self, Cached};
use crate::discover::{read_small, Found, Places};

/// Each `[sso-session]` with a token in the cache.
pub(crate) fn discover(places: &Places) -> Vec<Found> {
    let config = places
        .var("AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| places.home(".aws/config"));
    let Some(text) = read_small(&config) else {
        return Vec::new();
    };
    let cache_dir = places.home(".aws/sso/cache");
    files::sessions(&text)
        .into_iter()
        .filter_map(|s| {
            let file = files::cache_file(&cache_dir, &s.name);
            let cached = Cached::parse(read_small(&file)?.as_bytes()).ok()?;
            let mut f = Found::new(
                super::KIND,
                &format!("aws-{}", s.name),
                places.show(&file),
                format!("sso-session {} ({})", s.name, cached.start_url().unwrap_or(&s.start_url)),
            )
            .with("session", s.name.clone())
            .expiring(cached.expires_at())
            .noting(
                "the expiry is the access token's; the session's own end is not written on this machine (Evergreen refreshes the token until IAM Identity Center refuses)",
            );
            if places.var("AWS_CONFIG_FILE").is_some() {
                f = f.with("config_file", places.show(&config));
            }
            f.renews = cached.refresh_grant().is_some();
            Some(f)
        })
        .collect()
}
