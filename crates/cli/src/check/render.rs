//! The report: a table for people, JSON for scripts, and the exit code.

use super::*;

pub(super) fn exit_code(entries: &[Entry]) -> i32 {
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
pub(super) struct JsonEntry<'a> {
    pub(super) path: Cow<'a, str>,
    pub(super) ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) error: Option<&'a str>,
    pub(super) subject: Option<&'a str>,
    pub(super) issuer: Option<&'a str>,
    pub(super) serial: Option<&'a str>,
    sha256: Option<&'a str>,
    pub(super) sans: Option<&'a [String]>,
    pub(super) not_before: Option<String>,
    pub(super) not_after: Option<String>,
    pub(super) remaining_fraction: Option<f64>,
    pub(super) seconds_left: Option<i64>,
    pub(super) chain_len: Option<usize>,
    pub(super) state: &'static str,
}

impl<'a> JsonEntry<'a> {
    pub(super) fn new(entry: &'a Entry) -> Self {
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

pub(super) fn write_json(out: &mut impl Write, entries: &[Entry]) -> io::Result<()> {
    let items: Vec<JsonEntry<'_>> = entries.iter().map(JsonEntry::new).collect();
    serde_json::to_writer_pretty(&mut *out, &items)?;
    out.write_all(b"\n")
}

pub(super) const HEADERS: [&str; 8] = [
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
pub(super) const RIGHT_ALIGNED: [bool; 8] = [false, false, false, true, false, true, false, false];
pub(super) const SUBJECT_WIDTH: usize = 40;
pub(super) const ISSUER_WIDTH: usize = 30;

pub(super) fn write_table(
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
    if !rows.is_empty() || failures > 0 {
        writeln!(out)?;
    }
    let tally = Tally::of(entries, failures, skipped);
    writeln!(out, "{}", tally.summary(warn))?;
    tally.write_hints(out)
}

/// How many certificates are in each state, and how many files were not.
struct Tally {
    ok: usize,
    due: usize,
    warned: usize,
    expired: usize,
    failures: usize,
    skipped: usize,
}

impl Tally {
    fn of(entries: &[Entry], failures: usize, skipped: usize) -> Tally {
        let count = |s: CertState| {
            entries
                .iter()
                .filter(|e| matches!(&e.result, Report::Cert(c) if c.state == s))
                .count()
        };
        Tally {
            ok: count(CertState::Ok),
            due: count(CertState::Due),
            warned: count(CertState::Warn),
            expired: count(CertState::Expired),
            failures,
            skipped,
        }
    }

    /// "3 certificates: 1 ok, 1 due for renewal, 1 expired; 1 unreadable file".
    fn summary(&self, warn: Option<Duration>) -> String {
        let certs = self.ok + self.due + self.warned + self.expired;
        let mut summary = if certs == 0 {
            "no certificates found".to_string()
        } else {
            let mut parts = vec![format!("{} ok", self.ok)];
            if self.due > 0 {
                parts.push(format!("{} due for renewal", self.due));
            }
            if self.warned > 0 {
                let within = warn.map_or_else(String::new, clock::short_duration);
                parts.push(format!("{} within {within}", self.warned));
            }
            if self.expired > 0 {
                parts.push(format!("{} expired", self.expired));
            }
            format!("{}: {}", plural(certs, "certificate", "certificates"), parts.join(", "))
        };
        if self.failures > 0 {
            summary += &format!("; {} unreadable", plural(self.failures, "file", "files"));
        }
        if self.skipped > 0 {
            summary += &format!(
                " ({} skipped: not certificates)",
                plural(self.skipped, "other file", "other files")
            );
        }
        summary
    }

    /// The next step for what needs attention.
    fn write_hints(&self, out: &mut impl Write) -> io::Result<()> {
        let attention = self.due + self.warned + self.expired;
        if attention > 0 {
            let them = if attention == 1 { "it" } else { "them" };
            writeln!(
                out,
                "hint: renew {them}, or let Evergreen do it: add {them} to the config (`evergreen config path` shows where it is)"
            )?;
        }
        if self.failures > 0 {
            writeln!(
                out,
                "hint: fix or replace the {} marked error above; each line says what is wrong",
                if self.failures == 1 { "file" } else { "files" }
            )?;
        }
        Ok(())
    }
}

pub(super) fn table_row(path: &Path, c: &Checked, now: SystemTime) -> [String; 8] {
    let leaf = c.file.leaf();
    let subject = leaf.subject_cn.as_deref().unwrap_or(&leaf.details.subject);
    let issuer = leaf.issuer_cn.as_deref().unwrap_or(&leaf.details.issuer);
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

pub(super) fn write_row(out: &mut impl Write, cells: &[impl AsRef<str>], widths: &[usize]) -> io::Result<()> {
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

pub(super) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// "87%", and "<1%" rather than a misleading "0%" for a sliver of life left.
pub(super) fn percent(fraction: f64) -> String {
    if fraction > 0.0 && fraction < 0.005 {
        "<1%".into()
    } else {
        format!("{:.0}%", fraction * 100.0)
    }
}

pub(super) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// RFC 3339 in UTC. Not `clock::rfc3339`: humantime panics before 1970, and
/// certificates from 1950–1969 are valid X.509 (UTCTime), if unusual.
pub(super) fn rfc3339(t: SystemTime) -> String {
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
