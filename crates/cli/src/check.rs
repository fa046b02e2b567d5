//! `evergreen check PATH…`: read certificate files and say which need action.
//!
//! This is the command to run before trusting Evergreen with anything, and the
//! one a cron job or a CI step runs: it reads every certificate it is pointed
//! at, shows how much of each lifetime is left, and says through its exit code
//! whether something needs doing. It only reads; it never talks to the engine.
//!
//! # Which files are checked
//!
//! - A file named on the command line is always reported: if it is not a
//!   certificate, that is an error for it. A path that does not exist, or is a
//!   FIFO, socket or device, is an error too.
//! - A directory is walked recursively with `std::fs`. Symlinks to files are
//!   followed; symlinks to directories are not, which is how loops and
//!   duplicate trees are avoided (name such a directory explicitly to check it).
//! - Inside a directory a file is reported when it holds a certificate (a PEM
//!   `CERTIFICATE` block, even a damaged one, or parseable DER), or when its
//!   name ends in a certificate extension (`.pem .crt .cer .der .cert`, any
//!   case): then whatever is wrong with it is an error. Any other file is
//!   skipped silently, because certificate directories also hold keys, CSRs,
//!   READMEs and scripts. One refinement: `.pem` is PEM's generic extension, so
//!   a `.pem` file that is PEM but holds no certificate (certbot's
//!   `privkey.pem`, a CSR) is skipped too; named explicitly it is an error.
//! - A file without a certificate extension larger than 4 MiB is skipped
//!   after its first 4 MiB: no certificate is that big, and a walk must not
//!   read whole disk images.
//! - A file reached under several names (symlinks such as the hash links in
//!   `/etc/ssl/certs`, hard links, a path given twice) is checked once, under
//!   the name given on the command line, else one with a certificate
//!   extension, else one that is not a symlink, else the first in sort order.
//!
//! # Output
//!
//! Rows are sorted by path, whatever order the worker threads finish in. The
//! table, the `error: PATH: reason` lines for files that could not be checked,
//! the summary and the hint all go to stdout, so one report stays in one stream
//! and in order; stderr is left for failures of the command itself. `--json`
//! prints only a JSON array, errors included as objects with `ok: false`:
//! `ok` says whether the file could be read as a certificate, `state` how the
//! certificate is doing (`ok`, `due`, `warn`, `expired`, or `error`).
//!
//! # Exit code
//!
//! 0 when all is fine; 1 when a certificate is due for renewal (less than a
//! third of its lifetime left, Evergreen's default policy) or expires within
//! `--warn`; 2 when one has expired or a path could not be checked. 2 wins.

use std::borrow::Cow;
use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{DirEntryExt, MetadataExt};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use evergreen_core::clock;
use evergreen_core::policy::RenewPolicy;
use evergreen_core::x509::{self, CertFile};
use serde::Serialize;

/// Check certificate files: how long each has left and whether it needs renewing.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Exit status: 0 all fine; 1 a certificate is due for renewal or expires within --warn; 2 a certificate has expired or a path could not be checked."
)]
pub struct CheckArgs {
    /// Certificate files (PEM, leaf first, or DER) or directories to search recursively.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Print a JSON array (one object per file) instead of a table.
    #[arg(long)]
    json: bool,

    /// Also flag certificates that expire within this time, e.g. 30d or 12h.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    warn: Option<Duration>,
}

/// Files without a certificate extension above this size are not even read.
const SNIFF_LIMIT: u64 = 4 << 20;

/// Files a worker claims at a time: enough to keep the shared counter cold.
const BATCH: usize = 16;

const CERT_EXTENSIONS: [&str; 5] = ["pem", "crt", "cer", "der", "cert"];

/// Runs the command; the `Ok` value is the process exit code.
pub fn run(args: &CheckArgs) -> anyhow::Result<i32> {
    let now = SystemTime::now();
    let (files, failed) = collect(&args.paths);
    let mut skipped = 0;
    let mut entries: Vec<Entry> = failed;
    for (path, outcome) in check_all(files, now, args.warn) {
        match outcome {
            Outcome::Cert(c) => entries.push(Entry {
                path,
                result: Report::Cert(c),
            }),
            Outcome::Failed(reason) => entries.push(Entry {
                path,
                result: Report::Failed(reason),
            }),
            Outcome::Skipped => skipped += 1,
        }
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    // A path given twice, or a directory given inside another one, fails twice.
    entries.dedup_by(|later, first| later.path == first.path);

    let code = exit_code(&entries);
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let written = if args.json {
        write_json(&mut out, &entries)
    } else {
        write_table(&mut out, &entries, skipped, args.warn, now)
    }
    .and_then(|()| out.flush());
    match written {
        Ok(()) => Ok(code),
        // `evergreen check DIR | head` is not a failure of the check.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(code),
        Err(e) => Err(e).context("could not write the report to stdout"),
    }
}

/// A file found on the command line or in a walk, not read yet.
#[derive(Debug)]
struct Candidate {
    path: PathBuf,
    /// Named on the command line: whatever is wrong with it is reported.
    named: bool,
    /// Reached through a symlink; only used to pick among a file's names.
    via_symlink: bool,
    /// (device, inode): the file's identity, however it was reached.
    id: (u64, u64),
}

impl Candidate {
    fn new(path: PathBuf, named: bool, via_symlink: bool, meta: &fs::Metadata) -> Self {
        Candidate {
            path,
            named,
            via_symlink,
            id: (meta.dev(), meta.ino()),
        }
    }

    /// Lower is the better name for the file (see the module doc).
    fn rank(&self) -> (bool, bool, bool, &Path) {
        (
            !self.named,
            cert_extension(&self.path).is_none(),
            self.via_symlink,
            &self.path,
        )
    }
}

/// What checking one path came to.
#[derive(Debug)]
enum Outcome {
    Cert(Box<Checked>),
    Failed(String),
    /// Not a certificate, and nothing says it should have been one.
    Skipped,
}

/// One row of the report: a certificate, or a path that could not be checked.
#[derive(Debug)]
struct Entry {
    path: PathBuf,
    result: Report,
}

#[derive(Debug)]
enum Report {
    Cert(Box<Checked>),
    Failed(String),
}

impl Entry {
    fn failed(path: &Path, reason: impl Into<String>) -> Self {
        Entry {
            path: path.to_path_buf(),
            result: Report::Failed(reason.into()),
        }
    }
}

/// A certificate file and how its leaf is doing at the time of the check.
#[derive(Debug)]
struct Checked {
    file: CertFile,
    remaining: f64,
    seconds_left: i64,
    state: CertState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CertState {
    Ok,
    Due,
    Warn,
    Expired,
}

impl CertState {
    fn name(self) -> &'static str {
        match self {
            CertState::Ok => "ok",
            CertState::Due => "due",
            CertState::Warn => "warn",
            CertState::Expired => "expired",
        }
    }
}

/// Expands the command line into files to read, and the paths that already
/// failed (missing, unlistable, special files).
fn collect(paths: &[PathBuf]) -> (Vec<Candidate>, Vec<Entry>) {
    let mut files = Vec::new();
    let mut failed = Vec::new();
    for path in paths {
        match fs::metadata(path) {
            Ok(meta) if meta.is_dir() => walk(path, &mut files, &mut failed),
            Ok(meta) if meta.is_file() => {
                let via_symlink = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
                files.push(Candidate::new(path.clone(), true, via_symlink, &meta));
            }
            Ok(_) => failed.push(Entry::failed(
                path,
                "is not a regular file or a directory (a FIFO, socket or device); name a certificate file",
            )),
            Err(e) => failed.push(Entry::failed(path, stat_problem(path, &e))),
        }
    }
    (dedupe(files), failed)
}

/// Walks a directory tree without following symlinked directories.
fn walk(root: &Path, files: &mut Vec<Candidate>, failed: &mut Vec<Entry>) {
    // An explicit stack: a deep tree must not overflow the thread's stack.
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        // A regular file's device is its directory's (only directories can be
        // mount points), and its inode is in the directory entry: no stat per file.
        let dev = fs::metadata(&dir).map(|m| m.dev()).unwrap_or(0);
        let listing = match fs::read_dir(&dir) {
            Ok(listing) => listing,
            Err(e) => {
                failed.push(Entry::failed(
                    &dir,
                    format!("cannot list this directory: {}", io_problem(&e)),
                ));
                continue;
            }
        };
        for entry in listing {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    failed.push(Entry::failed(
                        &dir,
                        format!("listing this directory failed part way: {}", io_problem(&e)),
                    ));
                    break;
                }
            };
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                dirs.push(path);
                continue;
            }
            if !kind.is_file() && !kind.is_symlink() {
                continue; // FIFOs, sockets, devices: reading them could block or never end
            }
            if kind.is_file() {
                files.push(Candidate {
                    path,
                    named: false,
                    via_symlink: false,
                    id: (dev, entry.ino()),
                });
                continue;
            }
            match fs::metadata(&path) {
                Ok(meta) if meta.is_file() => files.push(Candidate::new(path, false, kind.is_symlink(), &meta)),
                Ok(_) => {} // a symlinked directory or special file: not followed
                Err(e) if cert_extension(&path).is_some() => failed.push(Entry::failed(&path, stat_problem(&path, &e))),
                Err(_) => {}
            }
        }
    }
}

/// Keeps one candidate per file, under its best name.
fn dedupe(mut files: Vec<Candidate>) -> Vec<Candidate> {
    files.sort_by(|a, b| a.id.cmp(&b.id).then_with(|| a.rank().cmp(&b.rank())));
    files.dedup_by(|later, first| later.id == first.id);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// Reads and parses every candidate on a pool of scoped threads, one per core.
fn check_all(files: Vec<Candidate>, now: SystemTime, warn: Option<Duration>) -> Vec<(PathBuf, Outcome)> {
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
fn check_file(c: &Candidate, now: SystemTime, warn: Option<Duration>) -> Outcome {
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

fn assess(file: CertFile, now: SystemTime, warn: Option<Duration>) -> Checked {
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
fn cert_extension(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?;
    CERT_EXTENSIONS.into_iter().find(|c| ext.eq_ignore_ascii_case(c))
}

fn has_certificate_block(bytes: &[u8]) -> bool {
    contains(bytes, b"-----BEGIN CERTIFICATE-----") || contains(bytes, b"-----BEGIN TRUSTED CERTIFICATE-----")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Why a path could not be looked at, and what to do about it.
fn stat_problem(path: &Path, e: &io::Error) -> String {
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

fn io_problem(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::PermissionDenied => {
            "permission denied; run as a user who can read it, or fix its permissions".into()
        }
        _ => e.to_string(),
    }
}

fn exit_code(entries: &[Entry]) -> i32 {
    let mut code = 0;
    for e in entries {
        match &e.result {
            Report::Failed(_) => return 2,
            Report::Cert(c) if c.state == CertState::Expired => return 2,
            Report::Cert(c) if c.state != CertState::Ok => code = 1,
            Report::Cert(_) => {}
        }
    }
    code
}

/// One element of `--json`'s array. The field names are an interface: every
/// key is always present (null when unknown) except `error`, present only when
/// `ok` is false.
#[derive(Serialize)]
struct JsonEntry<'a> {
    path: Cow<'a, str>,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    subject: Option<&'a str>,
    issuer: Option<&'a str>,
    serial: Option<&'a str>,
    sha256: Option<&'a str>,
    sans: Option<&'a [String]>,
    not_before: Option<String>,
    not_after: Option<String>,
    remaining_fraction: Option<f64>,
    seconds_left: Option<i64>,
    chain_len: Option<usize>,
    state: &'static str,
}

impl<'a> JsonEntry<'a> {
    fn new(entry: &'a Entry) -> Self {
        let path = entry.path.to_string_lossy();
        match &entry.result {
            Report::Cert(c) => {
                let leaf = c.file.leaf();
                JsonEntry {
                    path,
                    ok: true,
                    error: None,
                    subject: Some(&leaf.details.subject),
                    issuer: Some(&leaf.details.issuer),
                    serial: Some(&leaf.details.serial),
                    sha256: Some(&leaf.details.sha256),
                    sans: Some(&leaf.details.sans),
                    not_before: Some(rfc3339(leaf.lifetime.not_before)),
                    not_after: Some(rfc3339(leaf.lifetime.not_after)),
                    remaining_fraction: Some(c.remaining),
                    seconds_left: Some(c.seconds_left),
                    chain_len: Some(c.file.certs.len()),
                    state: c.state.name(),
                }
            }
            Report::Failed(reason) => JsonEntry {
                path,
                ok: false,
                error: Some(reason),
                subject: None,
                issuer: None,
                serial: None,
                sha256: None,
                sans: None,
                not_before: None,
                not_after: None,
                remaining_fraction: None,
                seconds_left: None,
                chain_len: None,
                state: "error",
            },
        }
    }
}

fn write_json(out: &mut impl Write, entries: &[Entry]) -> io::Result<()> {
    let items: Vec<JsonEntry<'_>> = entries.iter().map(JsonEntry::new).collect();
    serde_json::to_writer_pretty(&mut *out, &items)?;
    out.write_all(b"\n")
}

const HEADERS: [&str; 8] = [
    "PATH",
    "SUBJECT",
    "ISSUER",
    "CHAIN",
    "NOT AFTER",
    "REMAINING",
    "TIME LEFT",
    "STATE",
];
/// Columns printed flush right: the numbers.
const RIGHT_ALIGNED: [bool; 8] = [false, false, false, true, false, true, false, false];
const SUBJECT_WIDTH: usize = 40;
const ISSUER_WIDTH: usize = 30;

fn write_table(
    out: &mut impl Write,
    entries: &[Entry],
    skipped: usize,
    warn: Option<Duration>,
    now: SystemTime,
) -> io::Result<()> {
    let rows: Vec<[String; 8]> = entries
        .iter()
        .filter_map(|e| match &e.result {
            Report::Cert(c) => Some(table_row(&e.path, c, now)),
            Report::Failed(_) => None,
        })
        .collect();
    if !rows.is_empty() {
        let mut widths = HEADERS.map(|h| h.chars().count());
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        write_row(out, &HEADERS, &widths)?;
        for row in &rows {
            write_row(out, row, &widths)?;
        }
    }

    let mut failures = 0;
    for e in entries {
        if let Report::Failed(reason) = &e.result {
            failures += 1;
            writeln!(out, "error: {}: {reason}", e.path.display())?;
        }
    }

    let count = |s: CertState| {
        entries
            .iter()
            .filter(|e| matches!(&e.result, Report::Cert(c) if c.state == s))
            .count()
    };
    let (ok, due, warned, expired) = (
        count(CertState::Ok),
        count(CertState::Due),
        count(CertState::Warn),
        count(CertState::Expired),
    );
    if !rows.is_empty() || failures > 0 {
        writeln!(out)?;
    }
    let mut summary = if rows.is_empty() {
        "no certificates found".to_string()
    } else {
        let mut parts = vec![format!("{ok} ok")];
        if due > 0 {
            parts.push(format!("{due} due for renewal"));
        }
        if warned > 0 {
            let within = warn.map_or_else(String::new, clock::short_duration);
            parts.push(format!("{warned} within {within}"));
        }
        if expired > 0 {
            parts.push(format!("{expired} expired"));
        }
        format!(
            "{}: {}",
            plural(rows.len(), "certificate", "certificates"),
            parts.join(", ")
        )
    };
    if failures > 0 {
        summary += &format!("; {} unreadable", plural(failures, "file", "files"));
    }
    if skipped > 0 {
        summary += &format!(
            " ({} skipped: not certificates)",
            plural(skipped, "other file", "other files")
        );
    }
    writeln!(out, "{summary}")?;

    let attention = due + warned + expired;
    if attention > 0 {
        let them = if attention == 1 { "it" } else { "them" };
        writeln!(
            out,
            "hint: renew {them}, or let Evergreen do it: add {them} to the config (`evergreen config path` shows where it is)"
        )?;
    }
    if failures > 0 {
        writeln!(
            out,
            "hint: fix or replace the {} marked error above; each line says what is wrong",
            if failures == 1 { "file" } else { "files" }
        )?;
    }
    Ok(())
}

fn table_row(path: &Path, c: &Checked, now: SystemTime) -> [String; 8] {
    let leaf = c.file.leaf();
    let subject = common_name(&leaf.details.subject).unwrap_or(&leaf.details.subject);
    let issuer = common_name(&leaf.details.issuer).unwrap_or(&leaf.details.issuer);
    let not_after = leaf.lifetime.not_after;
    let time_left = if c.state == CertState::Expired {
        format!("expired {}", clock::relative(not_after, now))
    } else {
        clock::relative(not_after, now)
    };
    [
        path.display().to_string(),
        truncate(subject, SUBJECT_WIDTH),
        truncate(issuer, ISSUER_WIDTH),
        c.file.certs.len().to_string(),
        rfc3339(not_after),
        percent(c.remaining),
        time_left,
        c.state.name().to_string(),
    ]
}

fn write_row(out: &mut impl Write, cells: &[impl AsRef<str>], widths: &[usize]) -> io::Result<()> {
    let last = cells.len() - 1;
    for (i, cell) in cells.iter().enumerate() {
        let cell = cell.as_ref();
        let pad = widths[i].saturating_sub(cell.chars().count());
        if RIGHT_ALIGNED[i] {
            write!(out, "{:pad$}{cell}", "")?;
        } else if i == last {
            write!(out, "{cell}")?;
        } else {
            write!(out, "{cell}{:pad$}", "")?;
        }
        if i < last {
            out.write_all(b"  ")?;
        }
    }
    out.write_all(b"\n")
}

/// The last CN of a distinguished name as x509-parser prints it ("C=US, O=X, CN=y").
/// A CN holding ", CN=" would fool this; it only picks what the table shows.
fn common_name(dn: &str) -> Option<&str> {
    dn.rsplit(", ")
        .find_map(|rdn| rdn.strip_prefix("CN="))
        .filter(|cn| !cn.is_empty())
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// "87%", and "<1%" rather than a misleading "0%" for a sliver of life left.
fn percent(fraction: f64) -> String {
    if fraction > 0.0 && fraction < 0.005 {
        "<1%".into()
    } else {
        format!("{:.0}%", fraction * 100.0)
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// RFC 3339 in UTC. Not `clock::rfc3339`: humantime panics before 1970, and
/// certificates from 1950–1969 are valid X.509 (UTCTime), if unusual.
fn rfc3339(t: SystemTime) -> String {
    let secs = clock::unix_secs(t);
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(d) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute(),
            d.second()
        ),
        Err(_) => format!("@{secs}"),
    }
}
