//! Where the user's Kerberos ticket is: `$KRB5CCNAME`, else MIT's default
//! file. Only the cache's ticket times and principal are read.

use crate::discover::{Found, Places};

/// The ticket-granting ticket of the user's cache, if there is one.
pub(crate) fn discover(places: &Places) -> Vec<Found> {
    let name = places
        .var("KRB5CCNAME")
        .map(str::to_string)
        .unwrap_or_else(|| format!("FILE:/tmp/krb5cc_{}", places.uid));
    let Ok(kind) = super::cache_kind(&name) else {
        return Vec::new();
    };
    let file = match kind {
        super::CacheKind::File(p) => p,
        super::CacheKind::Dir(d) => {
            let Some(primary) = crate::discover::read_small(&d.join("primary")) else {
                return Vec::new();
            };
            let primary = primary.trim().to_string();
            if primary.is_empty() || primary.contains('/') {
                return Vec::new();
            }
            d.join(primary)
        }
    };
    let Ok(bytes) = crate::fsutil::read_bounded(&file, crate::discover::MAX_FILE) else {
        return Vec::new();
    };
    let Ok(tgt) = super::ccache::tgt(&bytes) else {
        return Vec::new();
    };
    let user = tgt
        .client
        .components
        .first()
        .cloned()
        .unwrap_or_else(|| "ticket".into());
    let mut f = Found::new(
        super::KIND,
        &format!("kerberos-{user}"),
        places.show(&file),
        tgt.client.to_string(),
    )
    .with("cache", name)
    .expiring(Some(tgt.end));
    f.renews = tgt.renew_till.is_some();
    f = match tgt.renew_till {
        Some(till) => f.noting(format!("renewable with kinit -R until {}", crate::clock::rfc3339(till))),
        None => f.noting("not renewable: a new ticket needs your password (or a keytab)"),
    };
    vec![f]
}
