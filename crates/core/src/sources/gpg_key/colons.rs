//! GnuPG's machine-readable key listing (`gpg --with-colons`): one record
//! per line, fields split by ':'. Only the public facts of a key are read:
//! its fingerprint, dates, capabilities and the primary user ID.

use std::time::{Duration, SystemTime};

/// One key (a primary key or a subkey) of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key {
    pub fingerprint: String,
    /// The primary key's fingerprint (its own, for a primary key).
    pub primary: String,
    pub subkey: bool,
    /// Validity: 'e' expired, 'r' revoked, 'u' ultimate…
    pub validity: char,
    pub algo: String,
    pub bits: String,
    pub created: SystemTime,
    pub expires: Option<SystemTime>,
    /// Usage: s sign, c certify, e encrypt, a authenticate.
    pub usage: String,
    /// The primary key's first user ID.
    pub uid: String,
}

/// The largest listing read: thousands of keys fit.
pub(crate) const MAX_LISTING: usize = 256 * 1024;

/// A date field: seconds since the epoch, or empty for none.
fn date(field: &str) -> Option<SystemTime> {
    let secs: u64 = field.trim().parse().ok()?;
    (secs > 0 && secs < 1 << 40).then(|| SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// The keys of a `--with-colons` listing, primary keys and subkeys alike.
pub(crate) fn parse(text: &str) -> Vec<Key> {
    let mut keys: Vec<Key> = Vec::new();
    let mut primary = String::new();
    let mut pending: Option<Key> = None;
    let mut first_uid_of: Option<usize> = None;
    for line in text.lines().take(100_000) {
        let f: Vec<&str> = line.split(':').collect();
        let get = |i: usize| f.get(i).copied().unwrap_or("");
        match get(0) {
            "sec" | "pub" | "ssb" | "sub" => {
                let subkey = matches!(get(0), "ssb" | "sub");
                let Some(created) = date(get(5)) else {
                    pending = None;
                    continue;
                };
                pending = Some(Key {
                    fingerprint: String::new(),
                    primary: if subkey { primary.clone() } else { String::new() },
                    subkey,
                    validity: get(1).chars().next().unwrap_or('-'),
                    algo: get(3).to_string(),
                    bits: get(2).to_string(),
                    created,
                    expires: date(get(6)),
                    usage: get(11).chars().filter(|c| c.is_ascii_lowercase()).collect(),
                    uid: String::new(),
                });
            }
            "fpr" => {
                let Some(mut k) = pending.take() else { continue };
                let fpr = get(9).to_ascii_uppercase();
                if fpr.is_empty() || !fpr.chars().all(|c| c.is_ascii_hexdigit()) {
                    continue;
                }
                if !k.subkey {
                    primary = fpr.clone();
                    k.primary = fpr.clone();
                    first_uid_of = Some(keys.len());
                }
                k.fingerprint = fpr;
                keys.push(k);
            }
            "uid" => {
                if let Some(i) = first_uid_of.take() {
                    let uid = unescape(get(9));
                    for k in keys.iter_mut().skip(i) {
                        k.uid = uid.clone();
                    }
                }
            }
            _ => {}
        }
    }
    // Subkeys listed before the uid record get it too.
    let uids: Vec<(String, String)> = keys
        .iter()
        .filter(|k| !k.subkey)
        .map(|k| (k.fingerprint.clone(), k.uid.clone()))
        .collect();
    for k in keys.iter_mut().filter(|k| k.subkey && k.uid.is_empty()) {
        if let Some((_, u)) = uids.iter().find(|(f, _)| *f == k.primary) {
            k.uid = u.clone();
        }
    }
    keys
}

/// GnuPG escapes ':' and control characters in user IDs as `\xHH`.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("\\x") {
        out.push_str(&rest[..i]);
        let hex = rest.get(i + 2..i + 4).and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(b) if b.is_ascii() && !b.is_ascii_control() => {
                out.push(b as char);
                rest = &rest[i + 4..];
            }
            _ => {
                out.push(' ');
                rest = rest.get(i + 4..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    out.chars().take(200).collect()
}

impl Key {
    /// "sign, certify" for its usage letters.
    pub(crate) fn usage_words(&self) -> String {
        let words: Vec<&str> = self
            .usage
            .chars()
            .filter_map(|c| match c {
                's' => Some("sign"),
                'c' => Some("certify"),
                'e' => Some("encrypt"),
                'a' => Some("authenticate"),
                _ => None,
            })
            .collect();
        words.join(", ")
    }

    /// What extends it: `gpg --quick-set-expire PRIMARY WHEN [SUBKEY]`.
    pub(crate) fn extend_command(&self, by: &str) -> String {
        if self.subkey {
            format!("gpg --quick-set-expire {} {by} {}", self.primary, self.fingerprint)
        } else {
            format!("gpg --quick-set-expire {} {by}", self.fingerprint)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = "\
sec:u:255:22:AAAAAAAAAAAAAAAA:1765000000:1796536000::u:::scESC:::+:::ed25519:::0:
fpr:::::::::0123456789ABCDEF0123456789ABCDEF01234567:
grp:::::::::FFFF:
uid:u::::1765000000::HASH::Alice Example <alice@example.org>::::::::::0:
ssb:u:255:18:BBBBBBBBBBBBBBBB:1765000000:1765172800:::::e:::+:::cv25519::
fpr:::::::::89ABCDEF0123456789ABCDEF0123456789ABCDEF:
ssb:u:255:22:CCCCCCCCCCCCCCCC:1765000000::::::s:::+:::ed25519::
fpr:::::::::FEDCBA9876543210FEDCBA9876543210FEDCBA98:
";

    #[test]
    fn keys_and_subkeys_with_their_dates_and_user_id() {
        let keys = parse(LISTING);
        assert_eq!(keys.len(), 3);
        let (p, enc, sig) = (&keys[0], &keys[1], &keys[2]);
        assert!(!p.subkey && enc.subkey && sig.subkey);
        assert_eq!(p.primary, p.fingerprint);
        assert_eq!(enc.primary, p.fingerprint);
        assert_eq!(
            enc.expires,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_765_172_800))
        );
        assert_eq!(sig.expires, None, "an empty field is no expiry");
        assert_eq!(enc.uid, "Alice Example <alice@example.org>");
        assert_eq!(p.usage_words(), "sign, certify");
        assert_eq!(
            enc.extend_command("1y"),
            "gpg --quick-set-expire 0123456789ABCDEF0123456789ABCDEF01234567 1y 89ABCDEF0123456789ABCDEF0123456789ABCDEF"
        );
    }

    #[test]
    fn garbage_is_skipped_not_a_panic() {
        for junk in [
            "",
            ":::::",
            "sec:u",
            "fpr:::::::::zz:",
            "sec:u:1:1:X:notanumber:",
            "uid:\\x",
            "uid:::::::::\\xZZ\\x",
        ] {
            let _ = parse(junk);
        }
        assert_eq!(unescape("a\\x3ab"), "a:b");
    }
}
