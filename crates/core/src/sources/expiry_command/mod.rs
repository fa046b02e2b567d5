//! Anything else that expires, told by a command.
//!
//! Tailscale's node key, a GitHub token, a VPN session: many credentials
//! have no file Evergreen can read, but a command can print when they end.
//! Evergreen runs it on a schedule, contained like a renew command (its
//! own process group, a timeout, bounded output, none of the config's
//! secrets in its environment), reads the expiry from a line or a JSON
//! field, and warns ahead. A `login_command` is offered as Log in.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde_json::Value;

use super::{Failure, FailureClass, Observation, RenewRequest, Renewed, Source};
use crate::clock::{from_unix_secs, parse_rfc3339};
use crate::command::{self, Extra};
use crate::kind::Kind;
use crate::model::{HardEnd, Lifetime};

mod def;
mod path;

pub use def::{ExpiryCommandSpec, KIND};

#[derive(Debug)]
pub struct ExpiryCommand {
    name: String,
    spec: ExpiryCommandSpec,
    /// The expiry last seen and when it was first seen: the lifetime's start
    /// when the config gives no `lifetime`.
    first_seen: Mutex<Option<(SystemTime, SystemTime)>>,
}

impl ExpiryCommand {
    pub fn new(name: &str, spec: ExpiryCommandSpec) -> Self {
        ExpiryCommand {
            name: name.to_string(),
            spec,
            first_seen: Mutex::new(None),
        }
    }

    fn shown(&self) -> String {
        self.spec.command.argv().join(" ")
    }

    /// The expiry in the command's output.
    fn expiry(&self, out: &str) -> Result<SystemTime, String> {
        match &self.spec.json_path {
            Some(p) => {
                let v: Value = serde_json::from_str(out)
                    .map_err(|e| format!("its output is not JSON ({e}), but json_path is set"))?;
                let found = p.find(&v).ok_or("its JSON has nothing at json_path")?;
                match found {
                    Value::String(s) => parse_time(s).ok_or_else(|| {
                        format!(
                            "the value at json_path, {:?}, is not a time",
                            crate::http::one_line(s, 60)
                        )
                    }),
                    Value::Number(n) => n
                        .as_u64()
                        .and_then(epoch)
                        .ok_or_else(|| format!("the number at json_path, {n}, is not a time")),
                    other => Err(format!("the value at json_path is {}, not a time", kind_of(other))),
                }
            }
            None => out
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .find_map(parse_time)
                .ok_or_else(|| {
                    "no line of its output is a time (RFC 3339, \"2026-12-31 10:00:00 UTC\" or Unix seconds)"
                        .to_string()
                }),
        }
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
    }
}

/// Unix seconds (or milliseconds, when it is that big).
fn epoch(n: u64) -> Option<SystemTime> {
    if n > 100_000_000_000 {
        from_unix_secs(n / 1000)
    } else {
        from_unix_secs(n)
    }
}

/// A time as commands print them: RFC 3339, `YYYY-MM-DD HH:MM:SS UTC` (or
/// with `+0000`), or Unix seconds.
pub(crate) fn parse_time(s: &str) -> Option<SystemTime> {
    let s = s.trim().trim_matches('"');
    if let Some(t) = parse_rfc3339(s) {
        return Some(t);
    }
    if !s.is_empty() && s.len() <= 13 && s.chars().all(|c| c.is_ascii_digit()) {
        return epoch(s.parse().ok()?);
    }
    // "2026-12-31 10:00:00 UTC", "2026-12-31 10:00:00 +0000".
    let (date, rest) = s.split_once([' ', 'T'])?;
    let (time, zone) = match rest.split_once(' ') {
        Some((t, z)) => (t, z.trim()),
        None => (rest, "Z"),
    };
    let zone = match zone {
        "UTC" | "GMT" | "Z" | "+0000" | "+00:00" => "Z".to_string(),
        z if z.len() == 5 && (z.starts_with('+') || z.starts_with('-')) => format!("{}:{}", &z[..3], &z[3..]),
        z => z.to_string(),
    };
    parse_rfc3339(&format!("{date}T{time}{zone}"))
}

#[async_trait]
impl Source for ExpiryCommand {
    fn kind(&self) -> Kind {
        KIND
    }

    fn can_renew(&self) -> bool {
        false
    }

    fn look_every(&self) -> Option<Duration> {
        Some(self.spec.every)
    }

    async fn observe(&self, now: SystemTime) -> Result<Observation, Failure> {
        self.observe_with(now, &[]).await
    }

    async fn observe_with(&self, now: SystemTime, withheld: &[String]) -> Result<Observation, Failure> {
        let out = command::run_with(
            &self.spec.command,
            &self.name,
            std::path::Path::new(""),
            self.spec.command_timeout,
            withheld,
            &Extra {
                stdout: true,
                ..Extra::default()
            },
        )
        .await;
        if !out.success {
            return Err(Failure {
                class: FailureClass::Transient,
                message: format!(
                    "the expiry command `{}` failed: {}; Evergreen runs it again later",
                    self.shown(),
                    out.summary
                ),
                stderr_tail: out.stderr_tail,
            });
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let not_after = self.expiry(&text).map_err(|why| {
            Failure::paused(format!(
                "the expiry command `{}` ran, but {why}; fix the command or json_path in the config",
                self.shown()
            ))
        })?;
        let not_before = match self.spec.lifetime {
            Some(l) => not_after.checked_sub(l).unwrap_or(SystemTime::UNIX_EPOCH),
            None => {
                let mut seen = self
                    .first_seen
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                match *seen {
                    Some((at, since)) if at == not_after => since,
                    _ => {
                        *seen = Some((not_after, now));
                        now
                    }
                }
            }
        };
        let then = match &self.spec.login_command {
            Some(argv) => format!("then log in again: `{}` (Log in runs it)", argv.join(" ")),
            None => "then it needs renewing by whatever issued it".to_string(),
        };
        Ok(Observation {
            hard_end: Some(HardEnd {
                at: crate::clock::unix_millis(not_after),
                what: "It expires".into(),
                then,
                needs_you: false,
            }),
            ..Observation::of(Lifetime {
                not_before: not_before.min(not_after),
                not_after,
            })
        })
    }

    async fn renew(&self, _req: RenewRequest) -> Result<Renewed, Failure> {
        Err(Failure::transient(match &self.spec.login_command {
            Some(argv) => format!(
                "Evergreen only watches it; `evergreen login {}` runs `{}`",
                self.name,
                argv.join(" ")
            ),
            None => "Evergreen only watches it: renew it with the tool that made it".to_string(),
        }))
    }
}

/// Output of any shape, as the expiry parsers see it.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for line in text.lines() {
        let _ = parse_time(line);
    }
    if let Ok(p) = path::JsonPath::parse(&text) {
        let _ = p.find(&Value::Null);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_forms_commands_print() {
        let want = parse_rfc3339("2026-12-31T10:00:00Z").unwrap();
        for s in [
            "2026-12-31T10:00:00Z",
            "2026-12-31T11:00:00+01:00",
            "2026-12-31 10:00:00 UTC",
            "2026-12-31 10:00:00 +0000",
            "2026-12-31 11:00:00 +0100",
            "\"2026-12-31T10:00:00Z\"",
            "1798711200",
            "1798711200000",
        ] {
            assert_eq!(parse_time(s), Some(want), "{s}");
        }
        for s in [
            "",
            "soon",
            "2026-13-45 99:00:00 UTC",
            "99999999999999999999",
            "2026-12-31",
        ] {
            assert_eq!(parse_time(s), None, "{s}");
        }
    }
}
