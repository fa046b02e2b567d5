//! Commands that ask the engine to do something: `renew`, `pause`, `resume`,
//! `notifications pause|resume`.

use crate::out::say;
use std::time::{Duration, SystemTime};

use clap::{Args, Subcommand};
use evergreen_core::clock::{rfc3339, unix_millis};
use evergreen_core::ipc::{Reply, Request};
use evergreen_core::paths::Paths;

use super::{ask, print_json, unexpected};
use crate::exit;
use crate::term::marks;

#[derive(Args, Debug)]
pub struct RenewArgs {
    /// The credential's name, as `evergreen status` shows it.
    #[arg(required_unless_present = "all_due", conflicts_with = "all_due")]
    name: Option<String>,
    /// Renew every credential that is due now, instead of one (returns once they have started).
    #[arg(long)]
    all_due: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct PauseArgs {
    /// The credential's name, as `evergreen status` shows it.
    name: String,
    /// Resume on its own after this long (`90m`, `2h`, `1d`); without it, until `evergreen resume`.
    #[arg(long = "for", value_name = "DURATION", value_parser = pause_length)]
    for_: Option<Duration>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct ResumeArgs {
    /// The credential's name, as `evergreen status` shows it.
    name: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
pub enum NotificationsCmd {
    /// Hold back desktop notifications for a while (renewals go on).
    Pause {
        /// How long (`30m`, `1h`, `8h`; at most a day).
        #[arg(long = "for", value_name = "DURATION", default_value = "1h", value_parser = pause_length)]
        for_: Duration,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show desktop notifications again.
    Resume {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// The longest pause `--for` takes: a longer one is a pause until resumed.
const LONGEST_PAUSE: Duration = Duration::from_secs(366 * 86_400);

fn pause_length(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (write it like 90m, 2h or 1d)"))?;
    if d.is_zero() || d > LONGEST_PAUSE {
        return Err("a pause lasts from 1s to 366d; leave out --for to pause until `evergreen resume`".into());
    }
    Ok(d)
}

/// What a steering command did, for `--json`.
#[derive(serde::Serialize)]
struct Done<'a> {
    credential: Option<&'a str>,
    done: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    until: Option<i64>,
}

pub fn renew(args: &RenewArgs, paths: &Paths) -> anyhow::Result<i32> {
    let m = marks();
    let Some(name) = args.name.as_deref().filter(|_| !args.all_due) else {
        let names = match ask(paths, Request::RenewAllDue)? {
            Reply::Started { names } => names,
            other => return Err(unexpected(other)),
        };
        if args.json {
            print_json(&serde_json::json!({ "started": names }))?;
        } else if names.is_empty() {
            say!("Nothing is due; `evergreen status` shows when each renews.");
        } else {
            say!(
                "Renewing {}; `evergreen events` follows them, `evergreen status` shows the results.",
                names.join(", ")
            );
        }
        return Ok(exit::FINE);
    };
    if !args.json {
        eprintln!("renewing {name}{}", m.ellipsis);
    }
    match ask(paths, Request::Renew { name: name.to_string() })? {
        Reply::Renewed { outcome } => {
            let code = if outcome.ok { exit::FINE } else { exit::ATTENTION };
            if args.json {
                print_json(&outcome)?;
            } else if outcome.ok {
                say!(
                    "{} {}: {} ({} ms)",
                    m.ok,
                    outcome.credential,
                    outcome.message,
                    outcome.duration_ms
                );
            } else {
                say!("{} {}: {}", m.failed, outcome.credential, outcome.message);
                say!("  `evergreen history {}` shows earlier attempts.", outcome.credential);
            }
            Ok(code)
        }
        other => Err(unexpected(other)),
    }
}

pub fn pause(args: &PauseArgs, paths: &Paths) -> anyhow::Result<i32> {
    let until = args.for_.map(|d| unix_millis(SystemTime::now() + d));
    done(
        ask(
            paths,
            Request::SetPaused {
                name: args.name.clone(),
                paused: true,
                until,
            },
        )?,
        Done {
            credential: Some(&args.name),
            done: "paused",
            until,
        },
        args.json,
        &match until {
            Some(u) => format!(
                "Paused {} until {}: no renewals or heartbeats until then (`evergreen resume {}` ends it sooner).",
                args.name,
                rfc3339(evergreen_core::clock::from_unix_millis(u)),
                args.name
            ),
            None => format!(
                "Paused {}: no renewals or heartbeats until `evergreen resume {}`.",
                args.name, args.name
            ),
        },
    )
}

pub fn resume(args: &ResumeArgs, paths: &Paths) -> anyhow::Result<i32> {
    done(
        ask(
            paths,
            Request::SetPaused {
                name: args.name.clone(),
                paused: false,
                until: None,
            },
        )?,
        Done {
            credential: Some(&args.name),
            done: "resumed",
            until: None,
        },
        args.json,
        &format!("Resumed {}; `evergreen status {}` shows it.", args.name, args.name),
    )
}

pub fn notifications(cmd: &NotificationsCmd, paths: &Paths) -> anyhow::Result<i32> {
    match cmd {
        NotificationsCmd::Pause { for_, json } => {
            // Whole minutes, rounded up: "for 90s" holds them back for two.
            let minutes = u32::try_from(for_.as_secs().div_ceil(60).max(1)).unwrap_or(u32::MAX);
            let until = unix_millis(SystemTime::now() + Duration::from_secs(u64::from(minutes) * 60));
            done(
                ask(paths, Request::PauseNotifications { minutes })?,
                Done {
                    credential: None,
                    done: "notifications paused",
                    until: Some(until),
                },
                *json,
                &format!(
                    "Notifications paused until {} (renewals go on); `evergreen notifications resume` ends it sooner.",
                    rfc3339(evergreen_core::clock::from_unix_millis(until))
                ),
            )
        }
        NotificationsCmd::Resume { json } => done(
            ask(paths, Request::ResumeNotifications)?,
            Done {
                credential: None,
                done: "notifications resumed",
                until: None,
            },
            *json,
            "Notifications resumed.",
        ),
    }
}

fn done(reply: Reply, what: Done<'_>, json: bool, text: &str) -> anyhow::Result<i32> {
    match reply {
        Reply::Done if json => print_json(&what)?,
        Reply::Done => say!("{text}"),
        other => return Err(unexpected(other)),
    }
    Ok(exit::FINE)
}
