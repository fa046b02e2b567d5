//! Reading each file and judging its certificates against the clock.

use super::*;

/// Reads and parses every candidate on a pool of scoped threads, one per core.
pub(super) fn check_all(files: Vec<Candidate>, now: SystemTime, warn: Option<Duration>) -> Vec<(PathBuf, Outcome)> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, files.len().max(1));
    let next = AtomicUsize::new(0);
    let mut outcomes: Vec<(usize, Outcome)> = Vec::with_capacity(files.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let start = next.fetch_add(BATCH, Ordering::Relaxed);
                        if start >= files.len() {
                            return done;
                        }
                        for (i, file) in files.iter().enumerate().skip(start).take(BATCH) {
                            done.push((i, check_file(file, now, warn)));
                        }
                    }
                })
            })
            .collect();
        for handle in handles {
            // check_file catches parser panics, so a worker only dies on a bug in this
            // module; carry that panic on rather than print a partial report.
            outcomes.extend(handle.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
    });
    outcomes.sort_unstable_by_key(|(i, _)| *i);
    files
        .into_iter()
        .zip(outcomes)
        .map(|(file, (_, outcome))| (file.path, outcome))
        .collect()
}

/// Reads one file and decides whether it is reported (see the module doc).
pub(super) fn check_file(c: &Candidate, now: SystemTime, warn: Option<Duration>) -> Outcome {
    let ext = cert_extension(&c.path);
    let must_report = c.named || ext.is_some();
    // Read with a cap instead of a stat first: one syscall less per file, and
    // a file that grows while it is read cannot get past the limit.
    let limit = if must_report { u64::MAX } else { SNIFF_LIMIT + 1 };
    let mut bytes = Vec::with_capacity(4096);
    let read = fs::File::open(&c.path).and_then(|f| f.take(limit).read_to_end(&mut bytes));
    match read {
        Ok(_) if bytes.len() as u64 > SNIFF_LIMIT && !must_report => return Outcome::Skipped,
        Ok(_) => {}
        Err(e) if must_report => return Outcome::Failed(format!("cannot read it: {}", io_problem(&e))),
        Err(_) => return Outcome::Skipped,
    }
    // x509::read_file would read the file again: the bytes are needed here first to
    // decide whether a failure is worth reporting. A parser panic on hostile input
    // costs that one file, not the whole run.
    let parsed = catch_unwind(AssertUnwindSafe(|| x509::parse(&bytes))).unwrap_or_else(|_| {
        Err("the certificate parser crashed on this file; this is a bug in Evergreen, please report it".into())
    });
    match parsed {
        Ok(file) => Outcome::Cert(Box::new(assess(file, now, warn))),
        Err(reason) => {
            let report = c.named
                || has_certificate_block(&bytes)
                || match ext {
                    // .pem holding only keys, CSRs or CRLs: PEM, just not a certificate
                    Some("pem") => !contains(&bytes, b"-----BEGIN "),
                    Some(_) => true,
                    None => false,
                };
            if report {
                Outcome::Failed(reason)
            } else {
                Outcome::Skipped
            }
        }
    }
}

pub(super) fn assess(file: CertFile, now: SystemTime, warn: Option<Duration>) -> Checked {
    let life = file.leaf().lifetime;
    let state = if life.is_expired(now) {
        CertState::Expired
    } else if RenewPolicy::default().is_due(&life, now) {
        CertState::Due
    } else if warn.is_some_and(|w| life.not_after.duration_since(now).is_ok_and(|left| left <= w)) {
        CertState::Warn
    } else {
        CertState::Ok
    };
    Checked {
        remaining: life.remaining_fraction(now),
        seconds_left: clock::unix_secs(life.not_after) - clock::unix_secs(now),
        state,
        file,
    }
}

/// The certificate extension of `path`, lower-cased, if it has one.
pub(super) fn cert_extension(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?;
    CERT_EXTENSIONS.into_iter().find(|c| ext.eq_ignore_ascii_case(c))
}

pub(super) fn has_certificate_block(bytes: &[u8]) -> bool {
    contains(bytes, b"-----BEGIN CERTIFICATE-----") || contains(bytes, b"-----BEGIN TRUSTED CERTIFICATE-----")
}

pub(super) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Why a path could not be looked at, and what to do about it.
pub(super) fn stat_problem(path: &Path, e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::NotFound {
        if fs::symlink_metadata(path).is_ok() {
            "is a symlink to something that does not exist; fix or remove the link".into()
        } else {
            "does not exist; check the path".into()
        }
    } else {
        io_problem(e)
    }
}

pub(super) fn io_problem(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::PermissionDenied => {
            "permission denied; run as a user who can read it, or fix its permissions".into()
        }
        _ => e.to_string(),
    }
}
