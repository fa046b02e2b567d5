//! A finished job's result, taken in: lifetimes, retries, verdicts, events and history.

use super::*;

impl Scheduler {
    /// Refuses a lifetime no real credential can have before the scheduler
    /// computes with it: it becomes a failure of that one credential.
    pub(super) fn checked(name: &str, result: JobResult) -> JobResult {
        let bad = |o: &Observation| {
            o.lifetime.check().err().map(|why| {
                Failure::transient(format!(
                    "{name}: Evergreen refused what it read, because {why}; check the server or the file"
                ))
            })
        };
        let mut result = match result {
            JobResult::Observed(Ok(o)) => JobResult::Observed(bad(&o).map_or(Ok(o), Err)),
            JobResult::Renewed(Ok(r)) => JobResult::Renewed(bad(&r.observation).map_or(Ok(r), Err)),
            JobResult::Beat(Ok(b)) => match b.observation.as_ref().and_then(bad) {
                Some(f) => JobResult::Beat(Err(f)),
                None => JobResult::Beat(Ok(b)),
            },
            other => other,
        };
        // An issuer's expiry out of range is only a hint: drop it.
        let obs = match &mut result {
            JobResult::Observed(Ok(o)) => Some(o),
            JobResult::Renewed(Ok(r)) => Some(&mut r.observation),
            JobResult::Beat(Ok(b)) => b.observation.as_mut(),
            _ => None,
        };
        if let Some(o) = obs {
            let sane = |t: SystemTime| {
                Lifetime {
                    not_before: t,
                    not_after: t,
                }
                .check()
                .is_ok()
            };
            o.issuer_not_after = o.issuer_not_after.filter(|t| sane(*t));
        }
        result
    }

    pub(super) fn finished(&mut self, done: Done) {
        let now = self.now();
        if self.busy.get(&done.name) == Some(&done.gen) {
            self.busy.remove(&done.name);
        }
        let name = done.name;
        // Out of the map while its result is taken in, so the scheduler's
        // other parts (rng, store, events) stay at hand.
        let Some(mut slot) = self.slots.remove(&name) else {
            return;
        };
        if slot.gen != done.gen {
            // A job of the config before a reload: its result speaks of the
            // old settings, but it may have changed the files. Look again.
            slot.ask(Asked::Look);
            self.slots.insert(name, slot);
            return;
        }
        let mut fx = Apply {
            settings: &self.settings,
            online: self.online,
            rng: &mut self.rng,
            effects: Vec::new(),
            answer: None,
        };
        fx.take_in(&mut slot, &name, Self::checked(&name, done.result), now);
        let (effects, outcome) = (fx.effects, fx.answer);
        self.carry_out(&name, effects, now);
        self.slots.insert(name.clone(), slot);
        self.refresh(&name, now);
        self.flush();
        if let (Some(o), Some(slot)) = (outcome, self.slots.get_mut(&name)) {
            Self::reply(slot, &o);
        }
    }

    /// Does what taking a result in asked for, in order.
    /// Announces, records and stores what taking a result in asked for.
    /// Its events bear `now`, the instant the result was taken in and its
    /// retry planned from, not the moment they are sent: the history
    /// written between them syncs to disk, which takes a while on a busy
    /// machine, and a failure's "retry in 1 s" must read as 1 s from it.
    fn carry_out(&mut self, name: &str, effects: Vec<Effect>, now: SystemTime) {
        for e in effects {
            match e {
                Effect::Event(kind) => self.emit_at(now, Some(name), kind),
                Effect::History {
                    action,
                    outcome,
                    message,
                    duration_ms,
                    old,
                    new,
                } => self.history(name, action, outcome, &message, duration_ms, (old, new)),
                Effect::StoreCapped(c) => self.store_capped(name, c.as_ref()),
            }
        }
    }
}

/// What taking a job's result in asks the scheduler to do: announce,
/// record, store. The transition itself ([`Apply::take_in`]) only changes
/// the slot and lists these, so it is tested without a runtime.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Effect {
    Event(EventKind),
    History {
        action: Action,
        outcome: Outcome,
        message: String,
        duration_ms: Option<u64>,
        old: Option<SystemTime>,
        new: Option<SystemTime>,
    },
    StoreCapped(Option<Capped>),
}

/// A result being taken in: the settings and randomness it may use, and
/// the effects it asks for.
pub(super) struct Apply<'a> {
    pub(super) settings: &'a EngineSettings,
    /// Whether the machine has a network: a failure without one waits for
    /// it quietly.
    pub(super) online: bool,
    pub(super) rng: &'a mut StdRng,
    pub(super) effects: Vec<Effect>,
    /// What the credential's waiters are answered, once the status shows it.
    pub(super) answer: Option<RenewOutcome>,
}

impl Apply<'_> {
    fn event(&mut self, kind: EventKind) {
        self.effects.push(Effect::Event(kind));
    }

    fn history(
        &mut self,
        action: Action,
        outcome: Outcome,
        message: &str,
        duration_ms: Option<u64>,
        (old, new): (Option<SystemTime>, Option<SystemTime>),
    ) {
        self.effects.push(Effect::History {
            action,
            outcome,
            message: message.to_string(),
            duration_ms,
            old,
            new,
        });
    }

    fn store_capped(&mut self, capped: Option<&Capped>) {
        self.effects.push(Effect::StoreCapped(capped.cloned()));
    }

    /// Takes in what was read: a new lifetime gets its (jittered) deadline.
    /// Returns whether the lifetime changed.
    pub(super) fn set_lifetime(&mut self, slot: &mut Slot, obs: &Observation, now: SystemTime) -> bool {
        slot.observed_at = Some(now);
        slot.status.details = obs.details.clone();
        if obs.hard_end != slot.status.hard_end {
            if let Some(end) = obs.hard_end.as_ref().filter(|e| e.needs_you) {
                self.event(EventKind::HardEndAhead {
                    at: end.at,
                    what: end.what.clone(),
                    then: end.then.clone(),
                });
            }
            slot.status.hard_end = obs.hard_end.clone();
        }
        let changed = slot.lifetime.map(|l| l.not_after) != Some(obs.lifetime.not_after)
            || slot.lifetime.map(|l| l.not_before) != Some(obs.lifetime.not_before);
        if changed {
            slot.lifetime = Some(obs.lifetime);
            let jitter = slot.cfg.jitter.unwrap_or(self.settings.jitter);
            slot.deadline = Some(policy::deadline(
                &slot.cfg.policy,
                &obs.lifetime,
                now,
                jitter,
                slot.source.min_wait(),
                &mut self.rng,
            ));
            slot.announced.band = None;
        }
        // A capped renewal's floor holds for as long as the lifetime it
        // capped is the one in place; a new one (renewed outside Evergreen,
        // or by a renewal that was not capped) ends it.
        if let Some(c) = slot.capped.clone() {
            if c.not_after == unix_millis(obs.lifetime.not_after) {
                let until = crate::clock::from_unix_millis(c.until);
                slot.deadline = slot.deadline.map(|d| d.max(until)).or(Some(until));
            } else {
                slot.capped = None;
                self.store_capped(None);
            }
        }
        changed
    }

    /// A finished job's result, taken into its slot.
    pub(super) fn take_in(&mut self, slot: &mut Slot, name: &str, result: JobResult, now: SystemTime) {
        let (op, started) = match std::mem::take(&mut slot.run) {
            Run::Running { op, since } => (op, since),
            Run::Idle => (Op::Observe, now),
        };
        let manual = matches!(op, Op::Renew { manual: true });
        let duration_ms = now.duration_since(started).unwrap_or_default().as_millis() as u64;
        match result {
            JobResult::Observed(Ok(obs)) => self.observed(slot, name, &obs, now),
            JobResult::Observed(Err(f)) if f.class == FailureClass::Absent && slot.source.can_renew() => {
                // Not issued yet: plan() renews at once, and that is no failure.
                slot.status.problem = Some(f.message);
                slot.lifetime = None;
            }
            JobResult::Observed(Err(f)) => {
                slot.status.problem = Some(f.message.clone());
                if slot.lifetime.is_none() || !slot.source.can_renew() {
                    self.fail(slot, name, f, now, duration_ms, false);
                } else if slot.deadline.is_some_and(|d| d <= now) && !slot.retry.failing() {
                    // The look before a due renewal failed: renew anyway. If the
                    // server is down, that fails and the backoff takes over.
                    slot.observed_at = Some(now);
                    self.event(EventKind::ReadFailed { message: f.message });
                } else {
                    // Keep the last good lifetime; look again with backoff.
                    let delay = self.settings.backoff.delay(1, &mut self.rng);
                    slot.retry.next_at = Some(now + delay);
                    self.event(EventKind::ReadFailed { message: f.message });
                }
            }
            JobResult::Renewed(Ok(renewed)) => self.renewed(slot, name, renewed, now, duration_ms, manual),
            JobResult::Renewed(Err(f)) => self.fail(slot, name, f, now, duration_ms, true),
            JobResult::Beat(r) => self.beaten(slot, name, r, now, duration_ms),
        }
    }

    pub(super) fn observed(&mut self, slot: &mut Slot, name: &str, obs: &Observation, now: SystemTime) {
        let old = slot.lifetime;
        let changed = self.set_lifetime(slot, obs, now);
        slot.status.problem = None;
        if changed {
            let remaining = obs.lifetime.remaining_fraction(now);
            let fresh = !slot.cfg.policy.is_due(&obs.lifetime, now);
            let recovered = slot.retry.failing() && (fresh || !slot.source.can_renew());
            // The first read after read failures ends them; a run that
            // holds a failed renewal (one carried over a restart, too)
            // ends only with a fresh credential or a renewal that works.
            let reads_only = slot
                .status
                .last_result
                .as_ref()
                .is_none_or(|r| r.ok || slot.retry.since.is_some_and(|since| r.at < since));
            let run = slot.retry;
            if recovered || (slot.retry.failing() && old.is_none() && reads_only) {
                slot.retry.end();
            }
            self.event(EventKind::Observed {
                not_after: unix_millis(obs.lifetime.not_after),
                remaining_fraction: remaining,
            });
            if recovered {
                self.event(EventKind::Recovered {
                    after_failures: run.failures,
                    since: run.since.unwrap_or_default(),
                });
            }
            if old.is_some() {
                self.history(
                    Action::Observe,
                    Outcome::Changed,
                    "its lifetime changed outside Evergreen",
                    None,
                    (old.map(|l| l.not_after), Some(obs.lifetime.not_after)),
                );
            }
        } else if slot.retry.failing() && !slot.source.can_renew() {
            // A read that works again after read failures.
            if let Some((after_failures, since)) = slot.retry.end() {
                self.event(EventKind::Recovered { after_failures, since });
            }
        }
        self.limit(slot, name, obs.limit.as_ref());
    }

    pub(super) fn renewed(
        &mut self,
        slot: &mut Slot,
        name: &str,
        renewed: Renewed,
        now: SystemTime,
        duration_ms: u64,
        manual: bool,
    ) {
        let old = slot.lifetime;
        let run = slot.retry.end();
        slot.status.problem = None;
        let new_after = renewed.observation.lifetime.not_after;
        let capped = self.capped(slot, &renewed, now, duration_ms, manual);
        let was_capped = slot.capped.is_some();
        slot.capped = capped.clone();
        if capped.is_some() || was_capped {
            self.store_capped(capped.as_ref());
        }
        self.set_lifetime(slot, &renewed.observation, now);
        let mut msg = match &capped {
            Some(c) => format!(
                "renewed, but capped: {}; Evergreen renews it again at {} at the earliest (Renew now tries at once)",
                c.reason,
                crate::clock::rfc3339(crate::clock::from_unix_millis(c.until))
            ),
            None => format!("renewed; valid until {}", crate::clock::rfc3339(new_after)),
        };
        let note = (!renewed.note.is_empty()).then(|| renewed.note.clone());
        if let Some(note) = &note {
            msg = format!("{msg}, {note}");
        }
        slot.status.last_renewed_at = Some(unix_millis(now));
        if capped.is_some() {
            slot.status.renewals.capped += 1;
        } else {
            slot.status.renewals.success += 1;
        }
        let result = LastResult {
            at: unix_millis(now),
            ok: true,
            message: msg.clone(),
            duration_ms,
            stderr_tail: None,
            note,
        };
        record(self, slot, name, result, Some(new_after), true);
        let outcome = if capped.is_some() {
            Outcome::Capped
        } else {
            Outcome::Success
        };
        self.history(
            Action::Renew,
            outcome,
            &msg,
            Some(duration_ms),
            (old.map(|l| l.not_after), Some(new_after)),
        );
        self.event(EventKind::RenewalSucceeded {
            old_not_after: old.map(|l| unix_millis(l.not_after)),
            new_not_after: unix_millis(new_after),
            duration_ms,
            message: renewed.note,
        });
        if let Some(c) = capped {
            tracing::warn!("{name}: {msg}");
            self.event(EventKind::Capped {
                reason: c.reason,
                not_after: c.not_after,
                next_try_at: c.until,
                since: c.since,
            });
        }
        if let Some((after_failures, since)) = run {
            self.event(EventKind::Recovered { after_failures, since });
        }
        self.limit(slot, name, renewed.observation.limit.as_ref());
    }

    /// Whether a renewal came back capped (too short to be worth having,
    /// by the policy), and so until when the next one waits.
    fn capped(
        &mut self,
        slot: &Slot,
        renewed: &Renewed,
        now: SystemTime,
        duration_ms: u64,
        manual: bool,
    ) -> Option<Capped> {
        // A limit (a token at its maximum TTL) is the server saying
        // so itself, and stops renewals on its own.
        if renewed.observation.limit.is_some() {
            return None;
        }
        let new = renewed.observation.lifetime;
        let noun = if slot.kind_issues_certificates() {
            "certificate"
        } else {
            "credential"
        };
        let r = policy::Renewal {
            old: slot.lifetime.as_ref(),
            new: &new,
            issuer_not_after: renewed.observation.issuer_not_after,
            took: Duration::from_millis(duration_ms),
            manual,
        };
        let reason = policy::capped(&slot.cfg.policy, &r, now, noun)?;
        let until = now + policy::capped_floor(&new, now, self.settings.backoff.base);
        Some(Capped {
            not_after: unix_millis(new.not_after),
            until: unix_millis(until),
            since: slot.capped.as_ref().map_or(unix_millis(now), |c| c.since),
            reason,
        })
    }

    pub(super) fn beaten(
        &mut self,
        slot: &mut Slot,
        name: &str,
        r: std::result::Result<Beat, Failure>,
        now: SystemTime,
        duration_ms: u64,
    ) {
        let Some(hb) = slot.source.heartbeat() else { return };
        slot.beat.next = slot.source.next_beat(now, false);
        match r {
            Ok(beat) => {
                slot.beat.counts.success += 1;
                slot.beat.last = Some(unix_millis(now));
                if beat.renew {
                    slot.ask(Asked::Renew);
                }
                if let Some((after_failures, since)) = slot.beat.retry.end() {
                    self.event(EventKind::Recovered { after_failures, since });
                }
                if let Some(obs) = beat.observation {
                    let old = slot.lifetime.map(|l| l.not_after);
                    if self.set_lifetime(slot, &obs, now) {
                        self.history(
                            Action::Refresh,
                            Outcome::Success,
                            "the control plane refused the old token; refreshed and swapped in",
                            Some(duration_ms),
                            (old, Some(obs.lifetime.not_after)),
                        );
                        self.event(EventKind::Observed {
                            not_after: unix_millis(obs.lifetime.not_after),
                            remaining_fraction: obs.lifetime.remaining_fraction(now),
                        });
                    }
                }
            }
            // Nothing to beat for yet (not registered): not the control plane's failure.
            Err(f) if f.class == FailureClass::Absent => {}
            Err(f) if f.class == FailureClass::Transient => {
                slot.beat.counts.failure += 1;
                let (streak, _) = slot.beat.retry.fail(unix_millis(now), None);
                slot.beat.retry.offline = !self.online;
                self.event(EventKind::HeartbeatFailed {
                    message: f.message.clone(),
                    streak,
                });
                // Without a network the control plane is not unreachable
                // through any fault of its own: no pause, no notice.
                if hb.pause_after == Some(streak) && self.online {
                    let reason = format!(
                        "the control plane was unreachable for {streak} heartbeats in a row ({}); heartbeats go on and the next one that works ends the pause",
                        f.message
                    );
                    self.history(
                        Action::Heartbeat,
                        Outcome::Paused,
                        &reason,
                        Some(duration_ms),
                        (None, None),
                    );
                    self.event(EventKind::Paused { reason });
                }
            }
            Err(f) => {
                slot.beat.counts.failure += 1;
                slot.beat.next = None;
                self.fail(slot, name, f, now, duration_ms, false);
            }
        }
    }

    /// The server said the current lifetime cannot be extended: stop renewing,
    /// keep watching it run out.
    pub(super) fn limit(&mut self, slot: &mut Slot, name: &str, limit: Option<&Limit>) {
        let Some(limit) = limit else { return };
        let Some(l) = slot.lifetime else { return };
        let (verdict, event, message) = match limit {
            Limit::Final => {
                let at = unix_millis(l.not_after);
                (
                    Verdict::Final { expires_at: at },
                    EventKind::Final { expires_at: at },
                    format!(
                        "it reached its maximum lifetime: it expires for good at {} and only a new login helps",
                        crate::clock::rfc3339(l.not_after)
                    ),
                )
            }
            Limit::NotRenewable { reason } => (
                Verdict::NotRenewable,
                EventKind::NotRenewable { reason: reason.clone() },
                reason.clone(),
            ),
        };
        let stop = Stop::Verdict(verdict);
        if slot.stop.as_ref() == Some(&stop) {
            return;
        }
        if matches!(limit, Limit::NotRenewable { .. }) {
            slot.status.renewals.not_renewable += 1;
        }
        let outcome = stop.state();
        slot.stop = Some(stop);
        slot.retry.end();
        tracing::warn!("{name}: {message}");
        self.history(
            Action::Observe,
            Outcome::of_verdict(&outcome),
            &message,
            None,
            (Some(l.not_after), None),
        );
        self.event(event);
    }

    pub(super) fn fail(
        &mut self,
        slot: &mut Slot,
        name: &str,
        f: Failure,
        now: SystemTime,
        duration_ms: u64,
        renewal: bool,
    ) {
        let not_after = slot.lifetime.map(|l| l.not_after);
        let offline = !self.online && f.class == FailureClass::Transient;
        let f = if offline {
            Failure {
                message: format!("offline: waiting for the network ({})", f.message),
                ..f
            }
        } else {
            f
        };
        match f.class {
            FailureClass::NotRenewable => slot.status.renewals.not_renewable += 1,
            _ if renewal => slot.status.renewals.failure += 1,
            _ => {}
        }
        let result = LastResult {
            at: unix_millis(now),
            ok: false,
            message: f.message.clone(),
            duration_ms,
            stderr_tail: f.stderr_tail.clone(),
            note: None,
        };
        record(self, slot, name, result, not_after, renewal);
        let action = if renewal { Action::Renew } else { Action::Observe };
        if let Some((verdict, event)) = verdict(&f) {
            self.history(
                action,
                Outcome::of_verdict(&verdict.state()),
                &f.message,
                Some(duration_ms),
                (not_after, None),
            );
            slot.stop = Some(Stop::Verdict(verdict));
            slot.retry.next_at = None;
            slot.told_at = Some(now);
            self.event(event);
            return;
        }
        let delay = self.settings.backoff.delay(slot.retry.failures + 1, &mut self.rng);
        let (streak, since) = slot.retry.fail(unix_millis(now), Some(now + delay));
        slot.retry.offline = offline;
        self.history(
            action,
            Outcome::Failure,
            &f.message,
            Some(duration_ms),
            (not_after, None),
        );
        self.event(EventKind::RenewalFailed {
            message: f.message,
            streak,
            since,
            next_retry_at: Some(unix_millis(now + delay)),
            offline,
        });
    }
}

/// The state and the event a failure that is a verdict stops its
/// credential with; `None` for one that is retried.
fn verdict(f: &Failure) -> Option<(Verdict, EventKind)> {
    let reason = f.message.clone();
    Some(match f.class {
        FailureClass::Transient | FailureClass::Absent => return None,
        FailureClass::Retired => (
            Verdict::Retired { reason: reason.clone() },
            EventKind::Retired { reason },
        ),
        FailureClass::Paused => (Verdict::Paused { reason: reason.clone() }, EventKind::Paused { reason }),
        FailureClass::NotRenewable => (Verdict::NotRenewable, EventKind::NotRenewable { reason }),
        FailureClass::Rejected => (Verdict::Rejected, EventKind::Rejected { reason }),
    })
}

/// A job's result: what a caller of a manual renewal is answered, and, for
/// a renewal, what its card shows as the last result.
fn record(
    fx: &mut Apply<'_>,
    slot: &mut Slot,
    name: &str,
    result: LastResult,
    not_after: Option<SystemTime>,
    renewal: bool,
) {
    fx.answer = Some(RenewOutcome {
        credential: name.to_string(),
        ok: result.ok,
        message: result.message.clone(),
        not_after: not_after.map(unix_millis),
        duration_ms: result.duration_ms,
        recorded_at: renewal.then_some(result.at),
    });
    if renewal {
        slot.status.last_result = Some(result);
    }
}

#[cfg(test)]
mod tests {
    //! The transition alone: a slot, a result, the effects. No runtime, no
    //! store, no clock but the instants passed in.

    use super::super::testing::{at, slot};
    use super::*;
    use rand::SeedableRng;

    /// Takes in one renewal result at `now`, started a second before.
    fn renewal(slot: &mut Slot, r: std::result::Result<Renewed, Failure>, now: SystemTime) -> Vec<Effect> {
        answered(slot, r, now).0
    }

    /// [`renewal`], and what its caller is answered.
    fn answered(
        slot: &mut Slot,
        r: std::result::Result<Renewed, Failure>,
        now: SystemTime,
    ) -> (Vec<Effect>, Option<RenewOutcome>) {
        let settings = EngineSettings::default();
        let mut rng = StdRng::seed_from_u64(1);
        let mut fx = Apply {
            settings: &settings,
            online: true,
            rng: &mut rng,
            effects: Vec::new(),
            answer: None,
        };
        slot.run = Run::Running {
            op: Op::Renew { manual: false },
            since: now - Duration::from_secs(1),
        };
        fx.take_in(slot, "web", JobResult::Renewed(r), now);
        (fx.effects, fx.answer)
    }

    fn events(fx: &[Effect]) -> Vec<&'static str> {
        fx.iter()
            .filter_map(|e| match e {
                Effect::Event(k) => Some(k.name()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn failures_make_one_run_and_a_success_ends_it_with_one_recovery() {
        let mut s = slot();
        for (n, t) in [(1u32, 600), (2, 640), (3, 730)] {
            let (fx, answer) = answered(&mut s, Err(Failure::transient("CA down")), at(t));
            assert_eq!(events(&fx), ["renewal_failed"], "{fx:?}");
            let Some(Effect::Event(EventKind::RenewalFailed { streak, since, .. })) = fx.last() else {
                panic!("{fx:?}")
            };
            assert_eq!(
                (*streak, *since),
                (n, crate::clock::unix_millis(at(600))),
                "one run, from its first failure"
            );
            assert!(matches!(
                fx.first(),
                Some(Effect::History {
                    action: Action::Renew,
                    outcome: Outcome::Failure,
                    ..
                })
            ));
            assert!(
                s.retry.next_at.is_some_and(|r| r > at(t)),
                "a retry is planned after the failure"
            );
            assert!(answer.is_some_and(|o| !o.ok), "the caller is answered with the failure");
        }
        let renewed = Renewed {
            observation: Observation::of(Lifetime {
                not_before: at(800),
                not_after: at(1700),
            }),
            note: String::new(),
        };
        let fx = renewal(&mut s, Ok(renewed), at(800));
        assert_eq!(events(&fx), ["renewal_succeeded", "recovered"], "{fx:?}");
        assert!(fx.contains(&Effect::Event(EventKind::Recovered {
            after_failures: 3,
            since: crate::clock::unix_millis(at(600)),
        })));
        assert_eq!(s.retry, Retry::default(), "the run is over");
        assert_eq!(
            s.deadline,
            Some(at(800 + 600)),
            "the next renewal two thirds into the new lifetime"
        );
        assert_eq!(s.status.renewals.success, 1);
        assert_eq!(s.status.renewals.failure, 3);
    }

    #[test]
    fn a_success_keeps_the_sources_note_apart_and_says_when_it_was_recorded() {
        let mut s = slot();
        let renewed = Renewed {
            observation: Observation::of(Lifetime {
                not_before: at(800),
                not_after: at(1700),
            }),
            note: "reload command failed: exit 1".into(),
        };
        let (_, answer) = answered(&mut s, Ok(renewed), at(800));
        let last = s.status.last_result.clone().expect("a last result");
        assert!(last.ok);
        assert_eq!(last.note.as_deref(), Some("reload command failed: exit 1"));
        assert!(
            last.message.starts_with("renewed; valid until") && last.message.ends_with("reload command failed: exit 1"),
            "the log's line keeps the whole story: {}",
            last.message
        );
        let outcome = answer.expect("an answer");
        assert_eq!(
            outcome.recorded_at,
            Some(last.at),
            "the caller can tell a later result from this one"
        );

        let plain = Renewed {
            observation: Observation::of(Lifetime {
                not_before: at(900),
                not_after: at(1800),
            }),
            note: String::new(),
        };
        renewal(&mut s, Ok(plain), at(900));
        assert_eq!(s.status.last_result.as_ref().and_then(|r| r.note.clone()), None);
    }

    #[test]
    fn a_verdict_stops_the_slot_without_a_retry() {
        let mut s = slot();
        let fx = renewal(
            &mut s,
            Err(Failure::new(FailureClass::Retired, "the control plane retired it")),
            at(600),
        );
        assert_eq!(events(&fx), ["retired"], "{fx:?}");
        assert!(
            matches!(&s.stop, Some(Stop::Verdict(Verdict::Retired { .. }))),
            "{:?}",
            s.stop
        );
        assert_eq!(s.retry.next_at, None, "nothing is tried again");
    }
}
