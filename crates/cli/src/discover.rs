//! `evergreen discover`: what expires on this machine, found in the usual
//! places (read-only), and, with `--add`, written into the config through
//! the same validator as the window's form. The finding is the core's
//! (`evergreen_core::discover`).

use std::time::SystemTime;

use clap::Args;
use evergreen_core::clock::{from_unix_millis, relative, Clock as _, SystemClock};
use evergreen_core::discover::{self, Found, Places};
use evergreen_core::paths::Paths;

use crate::exit;
use crate::out::say;

#[derive(Args, Debug)]
pub struct DiscoverArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Add these findings (by the NAME the list shows) to the config.
    #[arg(long, value_name = "NAME", num_args = 1.., conflicts_with = "add_all")]
    add: Vec<String>,
    /// Add everything found that the config does not have yet.
    #[arg(long)]
    add_all: bool,
}

fn expires(f: &Found, now: SystemTime) -> String {
    match f.expires_at {
        Some(ms) => relative(from_unix_millis(ms), now),
        None => "ask the server".into(),
    }
}

fn table(found: &[Found], now: SystemTime) {
    let w = found.iter().map(|f| f.name.len()).max().unwrap_or(4).max(4);
    let k = found.iter().map(|f| f.kind.as_str().len()).max().unwrap_or(4).max(4);
    let e = found
        .iter()
        .map(|f| expires(f, now).chars().count())
        .max()
        .unwrap_or(7)
        .max(7);
    say!(
        "{:<w$}  {:<k$}  {:<e$}  {:<7}  WHERE / WHAT",
        "NAME",
        "KIND",
        "EXPIRES",
        "EVERGREEN"
    );
    for f in found {
        let does = match (&f.configured_as, f.renews) {
            (Some(_), _) => "added",
            (None, true) => "renews",
            (None, false) => "watches",
        };
        say!(
            "{:<w$}  {:<k$}  {:<e$}  {:<7}  {}",
            f.name,
            f.kind.as_str(),
            expires(f, now),
            does,
            f.place
        );
        say!("{:<w$}  {:<k$}  {:<e$}  {:<7}  {}", "", "", "", "", f.what);
        if let Some(n) = &f.note {
            say!("{:<w$}  {:<k$}  {:<e$}  {:<7}  note: {n}", "", "", "", "");
        }
    }
}

pub fn run(args: &DiscoverArgs, paths: &Paths) -> anyhow::Result<i32> {
    let found = discover::discover(&Places::of_this_user(), &paths.config_file);
    let names: Vec<String> = if args.add_all {
        found
            .iter()
            .filter(|f| f.configured_as.is_none())
            .map(|f| f.name.clone())
            .collect()
    } else {
        args.add.clone()
    };
    if names.is_empty() {
        if args.json {
            say!("{}", serde_json::to_string_pretty(&found)?);
        } else if found.is_empty() {
            say!("Nothing that expires was found in the usual places (docs/configuration.md lists them).");
        } else {
            table(&found, SystemClock.now());
            let new = found.iter().filter(|f| f.configured_as.is_none()).count();
            if new > 0 {
                say!(
                    "\nAdd one with `evergreen discover --add NAME`, or all {new} with `evergreen discover --add-all`."
                );
            }
        }
        return Ok(exit::FINE);
    }
    if args.json {
        anyhow::bail!("--json lists what was found; add without it");
    }
    let mut status = exit::FINE;
    for (name, result) in discover::add(&paths.config_file, &found, &names)? {
        if result.ok {
            say!("Added {name} to {}", paths.config_file.display());
        } else {
            status = exit::ATTENTION;
            for p in result.problems {
                say!("{name}: not added: {}", p.message);
            }
        }
    }
    if status == exit::FINE {
        say!("The running engine picks it up at once; `evergreen status` shows it.");
    }
    Ok(status)
}
