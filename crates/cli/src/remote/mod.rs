//! Commands that talk to the running engine over its local socket:
//! `status`, `renew`, `history`.

use std::time::SystemTime;

use clap::Args;
use evergreen_core::clock::{from_unix_millis, relative, rfc3339};
use evergreen_core::ipc::{Client, Reply, Request};
use evergreen_core::model::{CredentialStatus, Health};
use evergreen_core::paths::Paths;

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct RenewArgs {
    /// The credential's name, as `evergreen status` shows it.
    name: String,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Only this credential.
    name: Option<String>,
    /// How many entries, newest first.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    #[arg(long)]
    json: bool,
}

fn ask(paths: &Paths, req: Request) -> anyhow::Result<Reply> {
    crate::runtime()?.block_on(async {
        let mut c = Client::connect(&paths.socket()).await?;
        Ok(c.request(&req).await?)
    })
}

fn unexpected(r: Reply) -> anyhow::Error {
    match r {
        Reply::Error { message } => anyhow::anyhow!(message),
        other => anyhow::anyhow!("unexpected reply from the engine: {other:?}"),
    }
}

/// A ten-cell bar for the remaining fraction.
pub fn bar(fraction: Option<f64>) -> String {
    match fraction {
        Some(f) => {
            let filled = (f * 10.0).round() as usize;
            format!(
                "{}{} {:>3.0}%",
                "█".repeat(filled),
                "░".repeat(10 - filled.min(10)),
                f * 100.0
            )
        }
        None => format!("{:<10} {:>4}", "?", ""),
    }
}

fn describe(s: &CredentialStatus, now: SystemTime) -> (String, String, String) {
    let expires = match s.not_after {
        Some(na) => relative(from_unix_millis(na), now),
        None => s
            .problem
            .clone()
            .map(|_| "unreadable".to_string())
            .unwrap_or_else(|| "-".into()),
    };
    let next = match &s.next_action {
        Some(a) => format!("{} {}", a.what, relative(from_unix_millis(a.at), now)),
        None => "-".into(),
    };
    let last = match &s.last_result {
        Some(r) if r.ok => format!("ok {}", relative(from_unix_millis(r.at), now)),
        Some(r) => format!("FAILED {}: {}", relative(from_unix_millis(r.at), now), r.message),
        None => s.problem.clone().unwrap_or_else(|| "-".into()),
    };
    (expires, next, last)
}

pub fn status(args: &StatusArgs, paths: &Paths) -> anyhow::Result<i32> {
    let creds = match ask(paths, Request::Status)? {
        Reply::Status { credentials } => credentials,
        other => return Err(unexpected(other)),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&creds)?);
    } else if creds.is_empty() {
        println!(
            "The engine holds no credentials. Add some to {} and it picks them up.",
            paths.config_file.display()
        );
    } else {
        let now = SystemTime::now();
        let w = creds.iter().map(|c| c.name.len()).max().unwrap_or(4).max(4);
        let k = creds.iter().map(|c| c.kind.as_str().len()).max().unwrap_or(4).max(4);
        println!(
            "{:<w$}  {:<k$}  {:<13}  {:<15}  {:<14}  {:<26}  LAST RESULT",
            "NAME", "KIND", "STATE", "REMAINING", "EXPIRES", "NEXT"
        );
        for c in &creds {
            let (expires, next, last) = describe(c, now);
            println!(
                "{:<w$}  {:<k$}  {:<13}  {:<15}  {:<14}  {:<26}  {}",
                c.name,
                c.kind.as_str(),
                match c.state {
                    // Waiting for the network is no failure of the credential's.
                    evergreen_core::model::State::Failing { offline: true, .. } => "offline",
                    ref s => s.name(),
                },
                bar(c.remaining_fraction),
                expires,
                next,
                last
            );
        }
    }
    let worst = creds.iter().map(|c| c.state.health()).max().unwrap_or(Health::Healthy);
    Ok(if worst >= Health::Stopped { 1 } else { 0 })
}

pub fn renew(args: &RenewArgs, paths: &Paths) -> anyhow::Result<i32> {
    eprintln!("renewing {}…", args.name);
    match ask(
        paths,
        Request::Renew {
            name: args.name.clone(),
        },
    )? {
        Reply::Renewed { outcome } if outcome.ok => {
            println!(
                "✓ {}: {} ({} ms)",
                outcome.credential, outcome.message, outcome.duration_ms
            );
            Ok(0)
        }
        Reply::Renewed { outcome } => {
            println!("✗ {}: {}", outcome.credential, outcome.message);
            println!("  `evergreen history {}` shows earlier attempts.", outcome.credential);
            Ok(1)
        }
        other => Err(unexpected(other)),
    }
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
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(0);
    }
    for e in &entries {
        let dur = e.duration_ms.map(|d| format!(" ({d} ms)")).unwrap_or_default();
        println!(
            "{}  {:<16} {:<8} {:<8} {}{dur}",
            rfc3339(from_unix_millis(e.at)),
            e.credential,
            e.action,
            e.outcome,
            e.message
        );
    }
    if entries.is_empty() {
        println!("no history yet");
    }
    Ok(0)
}
