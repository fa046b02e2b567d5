//! Reading MIT Kerberos FILE credential caches (format versions 3 and 4),
//! for the ticket-granting ticket's times, flags and names. Only reading:
//! renewing is `kinit`'s job. `klist`'s output is not parsed, as it is
//! formatted for the locale.
//!
//! The layout (MIT's "ccache_file_format"): a 16-bit version; in version
//! 4 a header of tagged fields; the default principal; then credentials to
//! the end of the file, each a client and a server principal, a keyblock,
//! four 32-bit times (auth, start, end, renew-till), a skey byte, 32-bit
//! ticket flags, addresses, authorization data, the ticket and a second
//! ticket. Every integer is big-endian in versions 3 and 4. Entries whose
//! server realm is `X-CACHECONF:` are configuration, not credentials.

use std::time::{Duration, SystemTime};

/// A cache larger than this is not a credential cache.
pub(crate) const MAX_FILE: u64 = 4 * 1024 * 1024;
/// The ticket may be renewed (`TKT_FLG_RENEWABLE`).
const RENEWABLE: u32 = 0x0080_0000;

/// A principal: its components and realm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Principal {
    pub realm: String,
    pub components: Vec<String>,
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.components.join("/"), self.realm)
    }
}

/// The ticket-granting ticket of a cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tgt {
    pub client: Principal,
    pub server: Principal,
    pub auth: SystemTime,
    pub start: SystemTime,
    pub end: SystemTime,
    /// When renewals end; `None` when the ticket is not renewable.
    pub renew_till: Option<SystemTime>,
    pub flags: u32,
}

impl Tgt {
    /// The ticket's flags in words, as `klist -f` names them.
    pub fn flag_words(&self) -> String {
        const NAMES: &[(u32, &str)] = &[
            (0x4000_0000, "forwardable"),
            (0x2000_0000, "forwarded"),
            (0x1000_0000, "proxiable"),
            (0x0100_0000, "postdated"),
            (0x0080_0000, "renewable"),
            (0x0040_0000, "initial"),
            (0x0020_0000, "pre-authenticated"),
        ];
        let w: Vec<&str> = NAMES
            .iter()
            .filter(|(b, _)| self.flags & b != 0)
            .map(|(_, n)| *n)
            .collect();
        if w.is_empty() {
            "none".into()
        } else {
            w.join(", ")
        }
    }
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if self.b.len() < n {
            return Err(format!("it ends inside {what}"));
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16, String> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn data(&mut self, what: &str) -> Result<&'a [u8], String> {
        let n = self.u32(what)? as usize;
        self.take(n, what)
    }
    fn text(&mut self, what: &str) -> Result<String, String> {
        Ok(String::from_utf8_lossy(self.data(what)?).into_owned())
    }
    fn principal(&mut self, what: &str) -> Result<Principal, String> {
        let _name_type = self.u32(what)?;
        let n = self.u32(what)? as usize;
        if n > 64 {
            return Err(format!("{what} has {n} components, more than any principal"));
        }
        let realm = self.text(what)?;
        let components = (0..n).map(|_| self.text(what)).collect::<Result<_, _>>()?;
        Ok(Principal { realm, components })
    }
}

fn time(secs: u32) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(secs))
}

/// The ticket-granting ticket in `bytes` (a FILE cache): the default
/// principal's `krbtgt/REALM@REALM` of its own realm, else any `krbtgt`.
pub(crate) fn tgt(bytes: &[u8]) -> Result<Tgt, String> {
    let mut r = Reader { b: bytes };
    let version = r.u16("the version")?;
    match version {
        0x0504 => {
            let len = r.u16("the header")? as usize;
            r.take(len, "the header")?;
        }
        0x0503 => {}
        0x0501 | 0x0502 => {
            return Err(format!(
                "it is a version {} cache, in the machine's byte order, which Evergreen does not read; let kinit write a new one",
                version & 0xff
            ))
        }
        v => return Err(format!("it does not start like a Kerberos credential cache (version 0x{v:04x})")),
    }
    let default = r.principal("the default principal")?;
    let mut found: Option<Tgt> = None;
    while !r.b.is_empty() {
        let client = r.principal("a credential's client")?;
        let server = r.principal("a credential's server")?;
        let _enctype = r.u16("a key")?;
        r.data("a key")?;
        let (auth, start, end, till) = (
            r.u32("the times")?,
            r.u32("the times")?,
            r.u32("the times")?,
            r.u32("the times")?,
        );
        let _skey = r.u8("a credential")?;
        let flags = r.u32("the flags")?;
        for what in ["the addresses", "the authorization data"] {
            let n = r.u32(what)?;
            if n > 1024 {
                return Err(format!("{what} count {n} is absurd"));
            }
            for _ in 0..n {
                r.u16(what)?;
                r.data(what)?;
            }
        }
        r.data("a ticket")?;
        r.data("a second ticket")?;
        if server.realm == "X-CACHECONF:" {
            continue;
        }
        let is_tgt = server.components.first().map(String::as_str) == Some("krbtgt");
        if !is_tgt {
            continue;
        }
        let own = client == default && server.components.get(1) == Some(&server.realm) && server.realm == client.realm;
        let t = Tgt {
            client,
            server,
            auth: time(auth),
            start: time(if start == 0 { auth } else { start }),
            end: time(end),
            renew_till: (flags & RENEWABLE != 0 && till != 0).then(|| time(till)),
            flags,
        };
        // A newer ticket for the same service (written after a renewal) wins.
        let better = match &found {
            None => true,
            Some(f) => own && (f.client != default || t.end >= f.end),
        };
        if better {
            found = Some(t);
        }
    }
    found.ok_or_else(|| format!("it holds no ticket-granting ticket for {default}; log in with `kinit {default}`"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn data(out: &mut Vec<u8>, d: &[u8]) {
        out.extend_from_slice(&(d.len() as u32).to_be_bytes());
        out.extend_from_slice(d);
    }

    fn principal(out: &mut Vec<u8>, realm: &str, comps: &[&str]) {
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(&(comps.len() as u32).to_be_bytes());
        data(out, realm.as_bytes());
        for c in comps {
            data(out, c.as_bytes());
        }
    }

    /// A version 4 cache holding a config entry and a TGT with these times.
    pub(crate) fn cache(start: u32, end: u32, till: u32, flags: u32) -> Vec<u8> {
        let mut b = vec![0x05, 0x04];
        // header: one tag (KDC offset), 8 bytes of data
        b.extend_from_slice(&12u16.to_be_bytes());
        b.extend_from_slice(&1u16.to_be_bytes());
        b.extend_from_slice(&8u16.to_be_bytes());
        b.extend_from_slice(&[0; 8]);
        principal(&mut b, "EXAMPLE.TEST", &["alice"]);
        let cred = |b: &mut Vec<u8>, server: (&str, &[&str]), end: u32| {
            principal(b, "EXAMPLE.TEST", &["alice"]);
            principal(b, server.0, server.1);
            b.extend_from_slice(&18u16.to_be_bytes());
            data(b, &[7; 32]);
            for t in [start, start, end, till] {
                b.extend_from_slice(&t.to_be_bytes());
            }
            b.push(0);
            b.extend_from_slice(&flags.to_be_bytes());
            b.extend_from_slice(&0u32.to_be_bytes());
            b.extend_from_slice(&0u32.to_be_bytes());
            data(b, b"ticket");
            data(b, b"");
        };
        cred(
            &mut b,
            (
                "X-CACHECONF:",
                &["krb5_ccache_conf_data", "pa_type", "krbtgt/EXAMPLE.TEST@EXAMPLE.TEST"],
            ),
            0,
        );
        cred(&mut b, ("EXAMPLE.TEST", &["krbtgt", "EXAMPLE.TEST"]), end);
        b
    }

    #[test]
    fn the_tgt_and_its_times_are_read_and_config_entries_skipped() {
        let t = tgt(&cache(1_800_000_000, 1_800_036_000, 1_800_604_800, 0x40e0_0000)).unwrap();
        assert_eq!(t.client.to_string(), "alice@EXAMPLE.TEST");
        assert_eq!(t.server.to_string(), "krbtgt/EXAMPLE.TEST@EXAMPLE.TEST");
        assert_eq!(t.start, time(1_800_000_000));
        assert_eq!(t.end, time(1_800_036_000));
        assert_eq!(t.renew_till, Some(time(1_800_604_800)));
        assert_eq!(t.flag_words(), "forwardable, renewable, initial, pre-authenticated");
        // Not renewable: no renew-till, whatever the field says.
        let t = tgt(&cache(1_800_000_000, 1_800_036_000, 1_800_604_800, 0x4040_0000)).unwrap();
        assert_eq!(t.renew_till, None);
    }

    #[test]
    fn a_cache_written_by_mit_kinit_is_read() {
        // `kinit -l 10h -r 7d alice` against a KDC of realm SEED.TEST.
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/fleet/krb5cc-v4.bin");
        let t = tgt(&std::fs::read(path).unwrap()).unwrap();
        assert_eq!(t.client.to_string(), "alice@SEED.TEST");
        assert_eq!(t.server.to_string(), "krbtgt/SEED.TEST@SEED.TEST");
        assert_eq!(t.end.duration_since(t.start).unwrap(), Duration::from_secs(10 * 3600));
        assert_eq!(
            t.renew_till.unwrap().duration_since(t.start).unwrap(),
            Duration::from_secs(7 * 86_400)
        );
        assert!(
            t.flag_words().contains("renewable") && t.flag_words().contains("initial"),
            "{}",
            t.flag_words()
        );
    }

    #[test]
    fn a_cut_or_foreign_file_is_an_error_never_a_panic() {
        let good = cache(1, 2, 3, RENEWABLE);
        for n in 0..good.len() {
            assert!(tgt(&good[..n]).is_err(), "cut at {n}");
        }
        assert!(tgt(b"-----BEGIN CERTIFICATE-----")
            .unwrap_err()
            .contains("does not start like"));
        assert!(tgt(&[0x05, 0x01, 0, 0]).unwrap_err().contains("version 1"));
        // A huge announced length is refused, not allocated.
        let mut huge = good.clone();
        huge.truncate(16);
        huge.extend_from_slice(&[0xff; 8]);
        assert!(tgt(&huge).is_err());
    }
}
