//! The serde types the UI sees. Most are the core's own (re-exported here so
//! the bindings are generated from one place); [`Snapshot`] is what the
//! dashboard renders and is pushed after every engine change.

use serde::{Deserialize, Serialize};

pub use evergreen_core::activity::LogLine;
pub use evergreen_core::config_edit::{CredentialForm, FieldSchema, FieldType, FormProblem, KindSchema, SaveResult};
pub use evergreen_core::discover::Found;
pub use evergreen_core::events::{Event, EventKind};
pub use evergreen_core::history::{Action, Outcome};
pub use evergreen_core::model::{
    CertDetails, CredentialStatus, DetailLabels, DetailRow, HardEnd, Health, HeartbeatCounts, Kind, LastResult,
    LoginPrompt, Next, NextAction, Offers, PauseOffer, RenewalCounts, Snapshot, State, Streak,
};
pub use evergreen_core::scheduler::RenewOutcome;
pub use evergreen_core::store::HistoryEntry;

#[cfg(feature = "bindings")]
use crate::error::{AppError, ErrorKind};

/// Payload of `evergreen://navigate`: show this credential (or the dashboard).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "bindings", derive(ts_rs::TS))]
pub struct Navigate {
    pub name: Option<String>,
}

/// Payload of `evergreen://login`: where a browser login of `name` waits for
/// the user, and a device login's code to enter there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "bindings", derive(ts_rs::TS))]
pub struct LoginShown {
    pub name: String,
    pub url: String,
    #[cfg_attr(feature = "bindings", ts(optional))]
    pub code: Option<String>,
}

/// Event names the UI listens to.
pub const SNAPSHOT_EVENT: &str = "evergreen://snapshot";
pub const NAVIGATE_EVENT: &str = "evergreen://navigate";
pub const LOGIN_EVENT: &str = "evergreen://login";

/// The TypeScript declarations of every type above, as `ui/src/bindings.ts` holds them.
#[cfg(feature = "bindings")]
pub fn typescript_bindings() -> String {
    use ts_rs::TS;
    let decls = [
        Kind::decl(),
        Health::decl(),
        State::decl(),
        DetailLabels::decl(),
        DetailRow::decl(),
        CertDetails::decl(),
        HardEnd::decl(),
        LoginPrompt::decl(),
        LastResult::decl(),
        RenewalCounts::decl(),
        HeartbeatCounts::decl(),
        Streak::decl(),
        Next::decl(),
        NextAction::decl(),
        PauseOffer::decl(),
        Offers::decl(),
        CredentialStatus::decl(),
        RenewOutcome::decl(),
        Action::decl(),
        Outcome::decl(),
        HistoryEntry::decl(),
        LogLine::decl(),
        Snapshot::decl(),
        Navigate::decl(),
        LoginShown::decl(),
        FieldType::decl(),
        FieldSchema::decl(),
        KindSchema::decl(),
        CredentialForm::decl(),
        FormProblem::decl(),
        SaveResult::decl(),
        Found::decl(),
        ErrorKind::decl(),
        AppError::decl(),
        EventKind::decl(),
        Event::decl(),
    ];
    let mut out = String::from(
        "// Generated from the Rust types by `make bindings` (src-tauri/src/models.rs); do not edit.\n\
         // Timestamps are Unix milliseconds: well inside a JS number, so 64-bit integers are `number` here.\n\n",
    );
    for d in decls {
        // ts-rs writes 64-bit integers as `bigint`; serde_json sends them as plain JSON numbers.
        out.push_str("export ");
        out.push_str(&d.replace("bigint", "number"));
        out.push_str("\n\n");
    }
    // The form's schema itself, for the browser preview (`?preview`), which
    // has no engine to ask: the field tables as the engine serves them.
    let kinds = serde_json::to_string_pretty(&evergreen_core::config_edit::kinds())
        .expect("the form schema is plain data and always serialises");
    out.push_str("/** Every kind's form schema, as the `kinds` command returns it. */\n");
    out.push_str(&format!("export const KIND_SCHEMAS: KindSchema[] = {kinds};\n\n"));
    // One status per state as the engine publishes it, with its words and
    // offers: what the UI's tests and the preview render, so neither has to
    // restate the engine's decisions.
    let samples =
        serde_json::to_string_pretty(&status_samples()).expect("statuses are plain data and always serialise");
    out.push_str("/** A status in each state, as the engine publishes it (words and offers decided). */\n");
    out.push_str(&format!(
        "export const STATUS_SAMPLES: CredentialStatus[] = {samples};\n"
    ));
    out
}

/// A credential in each state the engine can put one in, decided as it
/// decides them. The kinds are picked by their facts: a plain one, and one
/// that enrols (for the states a re-registration ends).
#[cfg(feature = "bindings")]
fn status_samples() -> Vec<CredentialStatus> {
    use evergreen_core::clock::unix_millis;
    use std::time::{Duration, SystemTime};
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let ms = unix_millis(t);
    let plain = Kind::all()
        .find(|k| k.facts().enrolment.is_none() && !k.facts().heartbeats)
        .expect("a kind that neither enrols nor beats");
    let enrols = Kind::all()
        .find(|k| k.facts().enrolment.is_some() && k.facts().heartbeats)
        .expect("a kind that enrols and beats");
    let reason = || "the server said so".to_string();
    let failing = |streak, offline| State::Failing {
        streak,
        next_retry_at: ms + 60_000,
        offline,
    };
    // (kind, state, paused by the user); then the states a watched-only
    // credential (nothing renews it) shows differently.
    let cases: Vec<(Kind, State, bool)> = vec![
        (plain, State::Healthy, false),
        (plain, State::Due, false),
        (plain, State::Renewing, false),
        (plain, failing(1, false), false),
        (plain, failing(3, false), false),
        (plain, failing(2, true), false),
        (plain, State::Expired, false),
        (enrols, State::Paused { reason: reason() }, false),
        (plain, State::Paused { reason: reason() }, true),
        (enrols, State::Retired { reason: reason() }, false),
        (plain, State::NotRenewable, false),
        (
            plain,
            State::Final {
                expires_at: ms + 3_600_000,
            },
            false,
        ),
        (
            plain,
            State::Capped {
                reason: reason(),
                next_try_at: ms + 3_600_000,
            },
            false,
        ),
        (plain, State::Disabled, false),
    ];
    let watched = [State::Healthy, State::Due, State::Expired];
    cases
        .into_iter()
        .map(|(kind, state, user_paused)| (kind, state, user_paused, true))
        .chain(watched.into_iter().map(|s| (plain, s, false, false)))
        .enumerate()
        .map(|(i, (kind, state, user_paused, can_renew))| {
            let mut s = CredentialStatus::new(format!("sample-{i}"), kind, t);
            s.state = state;
            s.can_renew = can_renew;
            s.user_paused = user_paused;
            s.decided()
        })
        .collect()
}
