//! Discovery: the certificates found in the configured directories,
//! described as certctl's own agent describes them (never a key).

use super::*;

/// Discovery stops after this many entries, and skips files larger than
/// 1 MiB and directories deeper than 32.
const SCAN_MAX_ENTRIES: usize = 10_000;
const SCAN_MAX_FILE: u64 = 1024 * 1024;
const SCAN_MAX_DEPTH: usize = 32;

impl Certctl {
    /// Scans the discovery directories and reports what it found: the
    /// number of certificates, or `None` when there was nothing to report.
    /// Like upstream's agent (`cmd/agent/main.go`), an empty scan is not
    /// sent: certctl's server answers a report with no certificates and no
    /// errors with a 500.
    pub(super) async fn discover(&self) -> Result<Option<usize>, Failure> {
        let started = Instant::now();
        let (certificates, errors) = scan(&self.spec.discovery_dirs);
        let found = certificates.len();
        if certificates.is_empty() && errors.is_empty() {
            return Ok(None);
        }
        let report = json!({
            "agent_id": self.spec.agent_id,
            "directories": self.spec.discovery_dirs,
            "certificates": certificates,
            "errors": errors,
            "scan_duration_ms": started.elapsed().as_millis() as u64,
        });
        let path = self.agent_path("/discoveries");
        let r = self.wire.call(Method::POST, &path, Some(&report)).await?;
        match r.status {
            200..=299 => Ok(Some(found)),
            410 => Err(self.retired("discovery report", &r)),
            _ => Err(Failure::transient(format!(
                "discovery report: {}",
                self.refused(&path, &r)
            ))),
        }
    }
}

/// Walks `dirs` (no symlinks followed, bounded) and describes every
/// certificate found; private keys are never read into the report.
pub(super) fn scan(dirs: &[PathBuf]) -> (Vec<Value>, Vec<String>) {
    let mut certs = Vec::new();
    let mut errors = Vec::new();
    let mut seen = 0usize;
    let mut stack: Vec<(PathBuf, usize)> = dirs.iter().rev().map(|d| (d.clone(), 0)).collect();
    while let Some((dir, depth)) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                errors.push(format!("cannot read {}: {e}", dir.display()));
                continue;
            }
        };
        let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        names.sort();
        for path in names {
            seen += 1;
            if seen > SCAN_MAX_ENTRIES {
                errors.push(format!("stopped after {SCAN_MAX_ENTRIES} entries"));
                return (certs, errors);
            }
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                if depth < SCAN_MAX_DEPTH {
                    stack.push((path, depth + 1));
                }
                continue;
            }
            if !meta.is_file() || meta.len() > SCAN_MAX_FILE {
                continue;
            }
            let ext = path
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            if ext.is_empty() || ext == "key" {
                continue;
            }
            certs.extend(describe(&path, &ext));
        }
    }
    (certs, errors)
}

/// The certificates of one file, as certctl's agent reports them
/// (`certToEntry` in `cmd/agent/main.go`): a hex SHA-256 of the DER, the
/// bare DNS names of the SAN extension, the serial as lower-case hex without
/// leading zeros, the DNs as Go prints them (most specific first, `,`
/// between RDNs), the key's algorithm and size, whether it is a CA, and its
/// PEM. Never a key: only CERTIFICATE blocks are read.
pub(super) fn describe(path: &Path, ext: &str) -> Vec<Value> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let (format, ders): (&str, Vec<Vec<u8>>) = if ext == "der" {
        ("DER", vec![bytes])
    } else {
        let blocks = x509_parser::pem::Pem::iter_from_buffer(&bytes)
            .map_while(Result::ok)
            .filter(|p| p.label == "CERTIFICATE")
            .map(|p| p.contents)
            .collect();
        ("PEM", blocks)
    };
    ders.iter()
        .filter_map(|der| {
            let (_, c) = x509_parser::parse_x509_certificate(der).ok()?;
            let cn = c
                .subject()
                .iter_common_name()
                .next()
                .and_then(|a| a.as_str().ok())
                .unwrap_or("")
                .to_string();
            let sans: Vec<String> = match c.subject_alternative_name() {
                Ok(Some(ext)) => ext
                    .value
                    .general_names
                    .iter()
                    .filter_map(|n| match n {
                        x509_parser::extensions::GeneralName::DNSName(d) => Some(d.to_string()),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let (key_algorithm, key_size) = key_info(&c);
            let is_ca = matches!(c.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
            let lifetime = crate::model::Lifetime {
                not_before: crate::clock::from_unix_millis(c.validity().not_before.timestamp() * 1000),
                not_after: crate::clock::from_unix_millis(c.validity().not_after.timestamp() * 1000),
            };
            Some(json!({
                "fingerprint_sha256": hex::encode(<sha2::Sha256 as sha2::Digest>::digest(der)),
                "common_name": cn,
                "sans": sans,
                "serial_number": format!("{:x}", c.tbs_certificate.serial),
                "issuer_dn": go_dn(c.issuer()),
                "subject_dn": go_dn(c.subject()),
                "not_before": rfc3339(lifetime.not_before),
                "not_after": rfc3339(lifetime.not_after),
                "key_algorithm": key_algorithm,
                "key_size": key_size,
                "is_ca": is_ca,
                "pem_data": crate::x509::pem_of(der),
                "source_path": path.display().to_string(),
                "source_format": format,
            }))
        })
        .collect()
}

/// Go's names and sizes for a certificate's key (`certKeyInfo`).
pub(super) fn key_info(c: &x509_parser::certificate::X509Certificate) -> (String, usize) {
    use x509_parser::public_key::PublicKey;
    match c.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) => ("RSA".into(), rsa.key_size()),
        Ok(PublicKey::EC(ec)) => ("ECDSA".into(), ec.key_size()),
        _ if c.public_key().algorithm.algorithm.to_id_string() == "1.3.101.112" => ("Ed25519".into(), 256),
        _ => (c.public_key().algorithm.algorithm.to_id_string(), 0),
    }
}

/// A distinguished name as Go's `pkix.Name.String()` prints it: the RDNs in
/// reverse order, `,` between them, `+` inside one, RFC 4514 escapes.
pub(super) fn go_dn(name: &x509_parser::x509::X509Name) -> String {
    let short = |oid: &str| match oid {
        "2.5.4.3" => Some("CN"),
        "2.5.4.6" => Some("C"),
        "2.5.4.10" => Some("O"),
        "2.5.4.11" => Some("OU"),
        "2.5.4.7" => Some("L"),
        "2.5.4.8" => Some("ST"),
        "2.5.4.9" => Some("STREET"),
        "2.5.4.17" => Some("POSTALCODE"),
        "2.5.4.5" => Some("SERIALNUMBER"),
        _ => None,
    };
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|a| {
                    let oid = a.attr_type().to_id_string();
                    match (short(&oid), a.as_str()) {
                        (Some(t), Ok(v)) => format!("{t}={}", escape_dn_value(v)),
                        _ => format!("{oid}=#{}", hex::encode(a.attr_value().as_bytes())),
                    }
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

pub(super) fn escape_dn_value(v: &str) -> String {
    let mut out = String::new();
    let last = v.chars().count().saturating_sub(1);
    for (i, ch) in v.chars().enumerate() {
        let special = matches!(ch, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (ch == '#' || ch == ' '))
            || (i == last && ch == ' ');
        if special {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}
