//! A slot's state as the faces see it: derived, announced, stored.

use super::*;

impl Scheduler {
    /// The state a slot is in at `now`.
    pub(super) fn derive_state(slot: &Slot, now: SystemTime) -> State {
        if let Some(stop) = &slot.stop {
            if stop.runs_out() && slot.lifetime.is_some_and(|l| l.is_expired(now)) {
                return State::Expired;
            }
            return stop.state();
        }
        if slot.run.renewing() {
            return State::Renewing;
        }
        if let Some(n) = slot.source.heartbeat().and_then(|h| h.pause_after) {
            if slot.beat.retry.failures >= n {
                return State::Paused {
                    reason: format!(
                        "control plane unreachable ({} heartbeats failed in a row)",
                        slot.beat.retry.failures
                    ),
                };
            }
        }
        if slot.lifetime.is_some_and(|l| l.is_expired(now)) {
            return State::Expired;
        }
        if slot.retry.failing() {
            return State::Failing {
                streak: slot.retry.failures,
                next_retry_at: slot.retry.next_at.map(unix_millis).unwrap_or_default(),
                offline: slot.retry.offline,
            };
        }
        if let Some(c) = &slot.capped {
            return State::Capped {
                reason: c.reason.clone(),
                next_try_at: c.until,
            };
        }
        // Heartbeats that never pause (certctl) show their failures as failing.
        if slot.beat.retry.failing() && slot.source.heartbeat().is_some_and(|h| h.pause_after.is_none()) {
            return State::Failing {
                streak: slot.beat.retry.failures,
                next_retry_at: slot.beat.next.map(unix_millis).unwrap_or_default(),
                offline: slot.beat.retry.offline,
            };
        }
        match slot.lifetime {
            Some(l) if !slot.cfg.policy.is_due(&l, now) => State::Healthy,
            _ => State::Due,
        }
    }

    /// Updates the visible status, announces state changes and expiry bands, persists.
    pub(super) fn refresh(&mut self, name: &str, now: SystemTime) {
        let thresholds = self.settings.notify_before.clone();
        let Some(slot) = self.slots.get_mut(name) else { return };
        let state = Self::derive_state(slot, now);
        let mut events = Vec::new();
        if let Some(l) = slot.lifetime {
            let total = l.not_after.duration_since(l.not_before).unwrap_or_default();
            let worrying = slot.stop.is_some() || slot.retry.failing() || !slot.source.can_renew();
            if l.is_expired(now) {
                if slot.announced.expired != Some(l.not_after) {
                    slot.announced.expired = Some(l.not_after);
                    events.push(EventKind::Expired {
                        not_after: unix_millis(l.not_after),
                    });
                }
            } else if worrying {
                let left = l.not_after.duration_since(now).unwrap_or_default();
                let band = thresholds.iter().copied().filter(|t| left <= *t && total > *t).min();
                if let Some(band) = band {
                    let already = slot
                        .announced
                        .band
                        .is_some_and(|(na, b)| na == l.not_after && b <= band);
                    if !already {
                        slot.announced.band = Some((l.not_after, band));
                        // A watched credential whose own expiry is its hard
                        // end says what extends it.
                        let advice = slot
                            .status
                            .hard_end
                            .as_ref()
                            .filter(|e| e.at == unix_millis(l.not_after))
                            .map(|e| e.then.clone());
                        events.push(EventKind::ExpiryApproaching {
                            threshold_secs: band.as_secs(),
                            not_after: unix_millis(l.not_after),
                            advice,
                            login: slot.cfg.spec.login_prompt().is_some(),
                        });
                    }
                }
            }
        }
        let old_state = slot.status.state.clone();
        let mut st = slot.status.clone();
        st.state = state.clone();
        st.can_renew = slot.source.can_renew();
        st.login = slot.cfg.spec.login_prompt();
        if let Some(l) = slot.lifetime {
            st.not_before = Some(unix_millis(l.not_before));
            st.not_after = Some(unix_millis(l.not_after));
            st.remaining_fraction = Some(l.remaining_fraction(now));
        }
        st.renew_at = slot.deadline.filter(|_| st.can_renew).map(unix_millis);
        st.last_heartbeat = slot.beat.last.or(st.last_heartbeat);
        st.heartbeats = slot.beat.counts;
        st.next_action = Self::next_action(slot, &state);
        st.user_paused = slot.user_paused();
        st.paused_until = slot.paused_until().map(unix_millis);
        st.failure_streak = slot.retry.as_streak(now);
        st.decide();
        // What the engine would answer a renewal asked for now: a face never
        // offers one the engine refuses.
        if let Some(why) = slot.renew_refused() {
            st.offers.renew = false;
            st.offers.renew_helps = false;
            st.offers.renew_refused = Some(why);
        }
        // Only a change other than the fraction ticking down is worth a write.
        // (A heartbeat's time is shown at once but not worth a write either.)
        let mut cmp = st.clone();
        cmp.remaining_fraction = slot.status.remaining_fraction;
        cmp.last_heartbeat = slot.status.last_heartbeat;
        cmp.heartbeats = slot.status.heartbeats;
        cmp.updated_at = slot.status.updated_at;
        let changed = cmp != slot.status;
        let beat_changed = st.last_heartbeat != slot.status.last_heartbeat || st.heartbeats != slot.status.heartbeats;
        if changed {
            st.updated_at = unix_millis(now);
        }
        slot.status = st.clone();
        if changed {
            if let Err(e) = self.deps.store.put_status(&st) {
                tracing::error!("could not store the status of {name}: {e}");
            }
        }
        if changed || beat_changed {
            self.statuses
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(name.to_string(), st);
        }
        if old_state.name() != state.name() {
            events.insert(
                0,
                EventKind::StateChanged {
                    from: old_state.name().into(),
                    to: state.name().into(),
                },
            );
        }
        for e in events {
            self.emit(Some(name), e);
        }
    }

    pub(super) fn next_action(slot: &Slot, state: &State) -> Option<NextAction> {
        let at = |t: SystemTime, what: Next| {
            Some(NextAction {
                at: unix_millis(t),
                what,
            })
        };
        match state {
            State::Renewing => match slot.run {
                Run::Running { since, .. } => at(since, Next::RenewingNow),
                Run::Idle => None,
            },
            State::Failing { .. } => at(
                slot.retry.next_at.or(slot.beat.next)?,
                if slot.source.can_renew() {
                    Next::RetryRenewal
                } else {
                    Next::ReadAgain
                },
            ),
            State::Healthy | State::Due | State::Expired if slot.source.can_renew() => at(slot.deadline?, Next::Renew),
            State::Healthy | State::Due => at(slot.lifetime?.not_after, Next::ExpiresUnlessRenewedByHand),
            State::Final { .. } => at(slot.lifetime?.not_after, Next::ExpiresForGood),
            State::Capped { next_try_at, .. } => at(crate::clock::from_unix_millis(*next_try_at), Next::RenewAgain),
            State::Paused { .. } if slot.stop.is_none() => at(slot.beat.next?, Next::Heartbeat),
            State::NotRenewable => at(slot.lifetime?.not_after, Next::ExpiresNotRenewable),
            _ => None,
        }
    }
}
