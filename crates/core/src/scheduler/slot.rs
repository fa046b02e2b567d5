//! One credential as the scheduler keeps it: what it knows, what runs, and
//! why nothing does.

use super::*;

pub(super) struct Slot {
    pub(super) cfg: CredentialConfig,
    pub(super) source: Arc<dyn Source>,
    pub(super) gen: u64,
    pub(super) status: CredentialStatus,
    pub(super) lifetime: Option<Lifetime>,
    pub(super) observed_at: Option<SystemTime>,
    /// Jittered renewal deadline for the current lifetime.
    pub(super) deadline: Option<SystemTime>,
    /// Failed reads and renewals in a row.
    pub(super) retry: Retry,
    /// What runs for it now.
    pub(super) run: Run,
    /// Who waits for its next result (a manual renewal's caller): answered
    /// once the status shows that result.
    pub(super) waiters: Vec<oneshot::Sender<Result<RenewOutcome>>>,
    /// What was asked of it beyond its plan (a manual renewal, a look after
    /// a file changed), carried out next.
    pub(super) asked: Asked,
    /// What of its expiry was told already.
    pub(super) announced: Announced,
    /// Why nothing runs for it, if nothing does.
    pub(super) stop: Option<Stop>,
    /// Its heartbeats (fleet kinds; nothing planned for the others).
    pub(super) beat: Beats,
    /// The last renewal was capped by its issuer.
    pub(super) capped: Option<Capped>,
    /// Stale files of an earlier run were looked for.
    pub(super) tidied: bool,
    /// When the user was last told that it waits for them (stopped for a
    /// new login): a kind that reminds says so again after its interval.
    pub(super) told_at: Option<SystemTime>,
}

/// What was asked of a credential beyond its plan; a renewal asked for
/// includes the look before it, so the larger ask wins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Asked {
    #[default]
    Nothing,
    /// Look at it again (its files changed, the network came back).
    Look,
    /// Renew it now (Renew now, the control plane asked for it).
    Renew,
}

/// What of a credential's expiry was told already, so each is told once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Announced {
    /// The expiry band told for this not_after.
    pub(super) band: Option<(SystemTime, Duration)>,
    /// The not_after whose passing was told.
    pub(super) expired: Option<SystemTime>,
}

/// A credential's heartbeats, for the kinds that send them.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Beats {
    /// When the next one is due; none for a kind that does not beat, or
    /// while the control plane's verdict stops them.
    pub(super) next: Option<SystemTime>,
    /// Failed heartbeats in a row.
    pub(super) retry: Retry,
    /// When the control plane last took one (Unix ms).
    pub(super) last: Option<i64>,
    /// Taken and missed since the engine started (published with the
    /// status, never written to the store for their own sake).
    pub(super) counts: crate::model::HeartbeatCounts,
}

/// A run of failures in a row: how many, since when (Unix ms), and when the
/// next attempt is due. Renewals (with reads) and heartbeats each keep one;
/// it starts at the first failure and ends at the first success.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Retry {
    pub(super) failures: u32,
    pub(super) since: Option<i64>,
    pub(super) next_at: Option<SystemTime>,
    /// The last failure came while the machine had no network.
    pub(super) offline: bool,
}

impl Retry {
    /// A run carried over from the stored status (the same episode after a restart).
    pub(super) fn carried(streak: Option<Streak>) -> Retry {
        Retry {
            failures: streak.map_or(0, |k| k.failures),
            since: streak.map(|k| k.since),
            next_at: None,
            offline: false,
        }
    }

    pub(super) fn failing(&self) -> bool {
        self.failures > 0
    }

    pub(super) fn ready(&self, now: SystemTime) -> bool {
        self.next_at.is_none_or(|t| t <= now)
    }

    /// One more failure at `at` (Unix ms), tried again at `next_at`: the
    /// count so far and when the run began.
    pub(super) fn fail(&mut self, at: i64, next_at: Option<SystemTime>) -> (u32, i64) {
        self.failures += 1;
        self.next_at = next_at;
        (self.failures, *self.since.get_or_insert(at))
    }

    /// Ends the run; what it was (failures, since), if there was one.
    pub(super) fn end(&mut self) -> Option<(u32, i64)> {
        let run = std::mem::take(self);
        run.failing().then(|| (run.failures, run.since.unwrap_or_default()))
    }

    pub(super) fn as_streak(&self, now: SystemTime) -> Option<Streak> {
        self.failing().then(|| Streak {
            failures: self.failures,
            since: self.since.unwrap_or_else(|| unix_millis(now)),
        })
    }
}

/// Why nothing runs for a credential.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Stop {
    /// `enabled = false` in the config.
    Disabled,
    /// The user paused it; only the user resumes it, or the time they
    /// gave (`evergreen pause NAME --for 2h`).
    ByUser { until: Option<SystemTime> },
    /// The server's or the engine's verdict.
    Verdict(Verdict),
}

/// What the server (or the engine, reading the server's reply) decided: a
/// reason to stop that can only be one of these, never "healthy".
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Verdict {
    /// The server retired this identity; only a new registration helps.
    Retired { reason: String },
    /// Stopped until the user acts (a refresh refused, a token needed).
    Paused { reason: String },
    /// The server will not renew it any more.
    NotRenewable,
    /// Capped at its maximum lifetime: it expires for good at this instant (Unix ms).
    Final { expires_at: i64 },
    /// The server refused the credential itself (a dead token): shown as expired.
    Rejected,
}

impl Verdict {
    pub(super) fn state(&self) -> State {
        match self {
            Verdict::Retired { reason } => State::Retired { reason: reason.clone() },
            Verdict::Paused { reason } => State::Paused { reason: reason.clone() },
            Verdict::NotRenewable => State::NotRenewable,
            Verdict::Final { expires_at } => State::Final {
                expires_at: *expires_at,
            },
            Verdict::Rejected => State::Expired,
        }
    }
}

impl Stop {
    /// Stopped until the user logs in again (a dead token, a refused
    /// refresh), as opposed to by them or for good.
    pub(super) fn waits_for_login(&self) -> Option<&str> {
        match self {
            Stop::Verdict(Verdict::Paused { reason }) => Some(reason),
            Stop::Verdict(Verdict::Rejected) => Some(""),
            _ => None,
        }
    }

    pub(super) fn state(&self) -> State {
        match self {
            Stop::Disabled => State::Disabled,
            Stop::ByUser { .. } => State::Paused {
                reason: USER_PAUSE_REASON.into(),
            },
            Stop::Verdict(v) => v.state(),
        }
    }

    /// Final and not-renewable credentials still run out: their expiry and
    /// bands are watched, but nothing renews them.
    pub(super) fn runs_out(&self) -> bool {
        matches!(self, Stop::Verdict(Verdict::Final { .. } | Verdict::NotRenewable))
    }

    /// A new login or a fixed file may end it (the user's pause only the user ends).
    pub(super) fn ends_with_new_files(&self) -> bool {
        matches!(self, Stop::Verdict(v) if v.state().ends_with_new_files())
    }
}

impl Slot {
    /// Asks for `what` next, unless something larger was asked already.
    pub(super) fn ask(&mut self, what: Asked) {
        self.asked = self.asked.max(what);
    }

    pub(super) fn user_paused(&self) -> bool {
        matches!(self.stop, Some(Stop::ByUser { .. }))
    }

    /// When the user's pause ends on its own.
    pub(super) fn paused_until(&self) -> Option<SystemTime> {
        match self.stop {
            Some(Stop::ByUser { until }) => until,
            _ => None,
        }
    }

    /// Whether what this credential's renewals bring back is a certificate.
    pub(super) fn kind_issues_certificates(&self) -> bool {
        self.source.kind().facts().issues_certificates
    }
}

/// What runs for a credential. Orthogonal to why it is stopped: a job that
/// was running when the user paused it still finishes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum Run {
    /// Nothing: the next job is whatever [`Slot::next_op`] finds due.
    #[default]
    Idle,
    /// A job: which, and since when.
    Running { op: Op, since: SystemTime },
}

impl Run {
    pub(super) fn is_running(&self) -> bool {
        matches!(self, Run::Running { .. })
    }

    /// A renewal runs (not a look, not a heartbeat).
    pub(super) fn renewing(&self) -> bool {
        matches!(
            self,
            Run::Running {
                op: Op::Renew { .. },
                ..
            }
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Observe,
    Renew { manual: bool },
    Beat,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn a_run_counts_from_its_first_failure_and_ends_once() {
        let mut r = Retry::default();
        assert!(!r.failing() && r.ready(at(0)));
        assert_eq!(r.fail(1_000, Some(at(30))), (1, 1_000));
        assert_eq!(r.fail(31_000, Some(at(90))), (2, 1_000), "the run keeps its start");
        assert!(!r.ready(at(89)) && r.ready(at(90)));
        assert_eq!(r.as_streak(at(100)).map(|s| (s.failures, s.since)), Some((2, 1_000)));
        assert_eq!(r.end(), Some((2, 1_000)));
        assert_eq!(r, Retry::default(), "nothing of it is left");
        assert_eq!(r.end(), None, "an ended run ends no more");
        assert_eq!(r.fail(200_000, None), (1, 200_000), "a new run starts anew");
    }

    #[test]
    fn a_run_carried_over_a_restart_is_the_same_run() {
        let r = Retry::carried(Some(Streak {
            failures: 3,
            since: 5_000,
        }));
        assert_eq!((r.failures, r.since, r.next_at), (3, Some(5_000), None));
        assert!(r.ready(at(0)), "a carried run is tried at once");
        assert_eq!(Retry::carried(None), Retry::default());
    }

    #[test]
    fn only_a_verdict_ends_with_new_files_and_only_final_ones_run_out() {
        let paused = Stop::Verdict(Verdict::Paused { reason: "x".into() });
        assert!(paused.ends_with_new_files());
        assert!(
            !Stop::ByUser { until: None }.ends_with_new_files(),
            "the user's pause is the user's to end"
        );
        assert!(!Stop::Disabled.ends_with_new_files());
        assert!(Stop::Verdict(Verdict::Final { expires_at: 1 }).runs_out());
        assert!(Stop::Verdict(Verdict::NotRenewable).runs_out());
        assert!(!Stop::Verdict(Verdict::Retired { reason: "x".into() }).runs_out());
        assert_eq!(
            Stop::ByUser { until: None }.state(),
            State::Paused {
                reason: USER_PAUSE_REASON.into()
            }
        );
        assert_eq!(Stop::Disabled.state(), State::Disabled);
    }
}
