//! Recent activity per credential: the last lines `evergreen run` would have
//! printed about it, kept in memory for the detail view.
//!
//! The history store keeps outcomes for months; this keeps the running
//! commentary (state changes, heartbeats, read failures) for the current run,
//! bounded per credential so it never grows.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::events::{Event, EventKind};

/// How many lines are kept per credential.
pub const LINES_PER_CREDENTIAL: usize = 200;

/// One line of activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LogLine {
    /// Unix milliseconds.
    pub at: i64,
    /// "info", "warn" or "error".
    pub level: String,
    pub message: String,
}

/// A bounded, shared log of recent lines per credential.
#[derive(Debug, Clone, Default)]
pub struct Activity {
    lines: Arc<Mutex<BTreeMap<String, VecDeque<LogLine>>>>,
}

impl Activity {
    /// Records an event about a credential; engine-wide events are ignored.
    pub fn record(&self, ev: &Event) {
        let Some(name) = &ev.credential else { return };
        if let EventKind::CredentialRemoved = ev.kind {
            self.lines.lock().unwrap_or_else(|p| p.into_inner()).remove(name);
            return;
        }
        let level = match &ev.kind {
            EventKind::RenewalFailed { .. }
            | EventKind::ReadFailed { .. }
            | EventKind::Expired { .. }
            | EventKind::Rejected { .. }
            | EventKind::Retired { .. } => "error",
            EventKind::HeartbeatFailed { .. }
            | EventKind::ExpiryApproaching { .. }
            | EventKind::HardEndAhead { .. }
            | EventKind::StillWaitsForYou { .. }
            | EventKind::Paused { .. }
            | EventKind::NotRenewable { .. }
            | EventKind::Final { .. }
            | EventKind::Capped { .. } => "warn",
            _ => "info",
        };
        // The line without the "name: " prefix the engine log puts first.
        let full = ev.to_string();
        let message = full.strip_prefix(&format!("{name}: ")).unwrap_or(&full).to_string();
        let mut map = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let q = map.entry(name.clone()).or_default();
        if q.len() == LINES_PER_CREDENTIAL {
            q.pop_front();
        }
        q.push_back(LogLine {
            at: ev.at,
            level: level.into(),
            message,
        });
    }

    /// The credential's recent lines, oldest first.
    pub fn lines(&self, name: &str) -> Vec<LogLine> {
        let map = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        map.get(name).map(|q| q.iter().cloned().collect()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(name: &str, at: i64, kind: EventKind) -> Event {
        Event {
            at,
            credential: Some(name.into()),
            kind,
        }
    }

    #[test]
    fn keeps_lines_per_credential_bounded_and_leveled() {
        let a = Activity::default();
        for i in 0..(LINES_PER_CREDENTIAL as i64 + 5) {
            a.record(&ev("web", i, EventKind::RenewalStarted { manual: false }));
        }
        a.record(&ev(
            "web",
            1_000,
            EventKind::RenewalFailed {
                message: "connection refused".into(),
                streak: 1,
                since: 1_000,
                next_retry_at: None,
                offline: false,
            },
        ));
        a.record(&ev("db", 7, EventKind::CredentialAdded));
        a.record(&Event {
            at: 8,
            credential: None,
            kind: EventKind::Started { credentials: 2 },
        });
        let web = a.lines("web");
        assert_eq!(web.len(), LINES_PER_CREDENTIAL);
        assert_eq!(web[0].at, 6, "the oldest lines are dropped first");
        let last = web.last().unwrap();
        assert_eq!(last.level, "error");
        assert!(
            last.message
                .starts_with("renewal failed (1 in a row): connection refused"),
            "{}",
            last.message
        );
        assert_eq!(a.lines("db").len(), 1);
        a.record(&ev("db", 9, EventKind::CredentialRemoved));
        assert!(a.lines("db").is_empty());
    }
}
