//! `evergreen status [NAME…]` and `evergreen history`.

use crate::out::say;
use std::time::SystemTime;

use clap::Args;
use evergreen_core::clock::{from_unix_millis, relative, rfc3339};
use evergreen_core::ipc::{Reply, Request};
use evergreen_core::model::{CredentialStatus, Health};
use evergreen_core::paths::Paths;

use super::{ask, print_json, unexpected};
use crate::exit;
use crate::term::{bar, marks, Marks};

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Only these credentials (all when none are named).
    #[arg(value_name = "NAME")]
    names: Vec<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Only this credential.
    name: Option<String>,
    /// How many entries, newest first.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Print JSON instead of lines.
    #[arg(long)]
    json: bool,
}

fn describe(s: &CredentialStatus, now: SystemTime, m: Marks) -> (String, String, String) {
    let expires = match s.not_after {
        Some(na) => relative(from_unix_millis(na), now),
        None if s.problem.is_some() => "unreadable".to_string(),
        None => "-".into(),
    };
    let next = match &s.next_action {
        Some(a) => format!("{} {}", a.what.words(), relative(from_unix_millis(a.at), now)),
        None => "-".into(),
    };
    let last = match &s.last_result {
        Some(r) if r.ok => format!("{} {}", m.ok, relative(from_unix_millis(r.at), now)),
        Some(r) => format!("{} {}: {}", m.failed, relative(from_unix_millis(r.at), now), r.message),
        None => s.problem.clone().unwrap_or_else(|| "-".into()),
    };
    (expires, next, last)
}

/// Whether these credentials need someone to look (exit status 1).
pub(super) fn attention(creds: &[CredentialStatus]) -> bool {
    creds.iter().map(|c| c.state.health()).max().unwrap_or(Health::Healthy) >= Health::Stopped
}

/// The named credentials, in the order asked; an unknown name is an error that lists the known ones.
pub(super) fn pick(creds: Vec<CredentialStatus>, names: &[String]) -> anyhow::Result<Vec<CredentialStatus>> {
    if names.is_empty() {
        return Ok(creds);
    }
    names
        .iter()
        .map(|n| {
            creds.iter().find(|c| &c.name == n).cloned().ok_or_else(|| {
                let known: Vec<&str> = creds.iter().map(|c| c.name.as_str()).collect();
                anyhow::anyhow!(
                    "no credential named {n:?}; the engine has {}",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                )
            })
        })
        .collect()
}

pub fn status(args: &StatusArgs, paths: &Paths) -> anyhow::Result<i32> {
    let creds = match ask(paths, Request::Status)? {
        Reply::Status { credentials } => pick(credentials, &args.names)?,
        other => return Err(unexpected(other)),
    };
    if args.json {
        print_json(&creds)?;
    } else if creds.is_empty() {
        say!(
            "The engine holds no credentials. Add some to {} and it picks them up.",
            paths.config_file.display()
        );
    } else {
        let now = SystemTime::now();
        let m = marks();
        let w = creds.iter().map(|c| c.name.len()).max().unwrap_or(4).max(4);
        let k = creds.iter().map(|c| c.kind.as_str().len()).max().unwrap_or(4).max(4);
        let s = creds
            .iter()
            .map(|c| c.state_label.chars().count())
            .max()
            .unwrap_or(5)
            .max(5);
        say!(
            "{:<w$}  {:<k$}  {:<s$}  {:<15}  {:<14}  {:<26}  LAST RESULT",
            "NAME",
            "KIND",
            "STATE",
            "REMAINING",
            "EXPIRES",
            "NEXT"
        );
        for c in &creds {
            let (expires, next, last) = describe(c, now, m);
            say!(
                "{:<w$}  {:<k$}  {:<s$}  {:<15}  {:<14}  {:<26}  {}",
                c.name,
                c.kind.as_str(),
                c.state_label,
                bar(c.remaining_fraction, m),
                expires,
                next,
                last
            );
        }
        // The engine's own trouble, which no credential's line shows.
        if let Ok(Reply::Snapshot { snapshot }) = ask(paths, Request::Snapshot) {
            if let Some(problem) = snapshot.store_problem {
                say!("\nNote: {problem}. Renewals go on.");
            }
        }
    }
    Ok(if attention(&creds) { exit::ATTENTION } else { exit::FINE })
}

pub fn history(args: &HistoryArgs, paths: &Paths) -> anyhow::Result<i32> {
    let entries = match ask(
        paths,
        Request::History {
            name: args.name.clone(),
            limit: args.limit,
        },
    )? {
        Reply::History { entries } => entries,
        other => return Err(unexpected(other)),
    };
    if args.json {
        print_json(&entries)?;
        return Ok(exit::FINE);
    }
    for e in &entries {
        let dur = e.duration_ms.map(|d| format!(" ({d} ms)")).unwrap_or_default();
        say!(
            "{}  {:<16} {:<8} {:<8} {}{dur}",
            rfc3339(from_unix_millis(e.at)),
            e.credential,
            e.action,
            e.outcome,
            e.message
        );
    }
    if entries.is_empty() {
        say!("no history yet");
    }
    Ok(exit::FINE)
}
