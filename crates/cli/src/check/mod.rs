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

mod assess;
mod render;
mod walk;

use assess::*;
use render::*;
use walk::*;

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
