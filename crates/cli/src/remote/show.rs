//! `evergreen show NAME`: what the window's detail view shows, in a terminal.

use crate::out::say;
use std::time::SystemTime;

use clap::Args;
use evergreen_core::clock::{from_unix_millis, relative, rfc3339};
use evergreen_core::config_edit::{files_of, read_form};
use evergreen_core::ipc::{Reply, Request};
use evergreen_core::model::CredentialStatus;
use evergreen_core::paths::Paths;
use evergreen_core::store::HistoryEntry;
use serde::Serialize;

use super::status::{attention, pick};
use super::{ask, print_json, snapshot, unexpected};
use crate::exit;
use crate::term::{bar, marks};

/// How many history entries `show` lists.
const RECENT: usize = 5;

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The credential's name, as `evergreen status` shows it.
    name: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct File {
    label: String,
    path: String,
}

#[derive(Serialize)]
struct Shown {
    #[serde(flatten)]
    status: CredentialStatus,
    /// The files its config names (empty for the demo, whose config is not a file).
    files: Vec<File>,
    /// The most recent history entries, newest first.
    recent: Vec<HistoryEntry>,
}

pub fn show(args: &ShowArgs, paths: &Paths) -> anyhow::Result<i32> {
    let snap = snapshot(paths)?;
    let status = pick(snap.credentials, std::slice::from_ref(&args.name))?.remove(0);
    let recent = match ask(
        paths,
        Request::History {
            name: Some(args.name.clone()),
            limit: RECENT,
        },
    )? {
        Reply::History { entries } => entries,
        other => return Err(unexpected(other)),
    };
    let files = if snap.demo {
        Vec::new()
    } else {
        // The config on disk may be mid-edit; the engine's view above stands either way.
        read_form(std::path::Path::new(&snap.config_path), &args.name)
            .map(|form| files_of(&form))
            .unwrap_or_default()
    }
    .into_iter()
    .map(|(label, path)| File { label, path })
    .collect();
    let code = if attention(std::slice::from_ref(&status)) {
        exit::ATTENTION
    } else {
        exit::FINE
    };
    let shown = Shown { status, files, recent };
    if args.json {
        print_json(&shown)?;
    } else {
        print_text(&shown);
    }
    Ok(code)
}

fn print_text(s: &Shown) {
    let now = SystemTime::now();
    let m = marks();
    let c = &s.status;
    let at = |ms: i64| {
        format!(
            "{} ({})",
            relative(from_unix_millis(ms), now),
            rfc3339(from_unix_millis(ms))
        )
    };
    let row = |label: &str, value: &str| say!("  {label:<14}{value}");
    say!("{} ({})", c.name, c.kind.as_str());
    row("State", &c.state_label);
    if let Some(p) = &c.problem {
        row("Problem", p);
    }
    row("Remaining", &bar(c.remaining_fraction, m));
    if let Some(nb) = c.not_before {
        row("Valid from", &rfc3339(from_unix_millis(nb)));
    }
    if let Some(na) = c.not_after {
        row("Expires", &at(na));
    }
    if let Some(why) = &c.offers.renew_refused {
        row("Renew now", &format!("not offered: {why}"));
    }
    if let Some(a) = &c.next_action {
        row(
            "Next",
            &format!("{} {}", a.what.words(), relative(from_unix_millis(a.at), now)),
        );
    }
    if let Some(r) = &c.last_result {
        let mark = if r.ok { m.ok } else { m.failed };
        row(
            "Last result",
            &format!("{mark} {}: {}", relative(from_unix_millis(r.at), now), r.message),
        );
    }
    if let Some(hb) = c.last_heartbeat {
        row("Heartbeat", &at(hb));
    }
    if let Some(end) = &c.hard_end {
        row("Hard end", &format!("{} {}, {}", end.what, at(end.at), end.then));
    }
    if let Some(d) = &c.details {
        let l = &d.labels;
        row(&l.subject, &d.subject);
        if !d.sans.is_empty() {
            row(&l.names, &d.sans.join(", "));
        }
        row(&l.issuer, &d.issuer);
        if !d.serial.is_empty() {
            row(&l.serial, &d.serial);
        }
        if !d.sha256.is_empty() {
            row(&l.fingerprint, &d.sha256);
        }
        for r in &d.more {
            match r.at {
                Some(t) => row(&r.label, &format!("{} {}", r.value, at(t))),
                None => row(&r.label, &r.value),
            }
        }
    }
    let n = &c.renewals;
    row(
        "Renewals",
        &format!(
            "{} succeeded, {} capped, {} failed, {} not renewable",
            n.success, n.capped, n.failure, n.not_renewable
        ),
    );
    if !s.files.is_empty() {
        say!("  Files");
        let w = s.files.iter().map(|f| f.label.len()).max().unwrap_or(0);
        for f in &s.files {
            say!("    {:<w$}  {}", f.label, f.path);
        }
    }
    if !s.recent.is_empty() {
        say!("  Recent (`evergreen history {}` shows more)", c.name);
        for e in &s.recent {
            say!(
                "    {}  {:<8} {:<8} {}",
                rfc3339(from_unix_millis(e.at)),
                e.action,
                e.outcome,
                e.message
            );
        }
    }
}
