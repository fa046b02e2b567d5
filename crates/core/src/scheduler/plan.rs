//! What to start now, and when to wake next.

use super::*;

impl Scheduler {
    /// Starts whatever jobs are due and refreshes every status.
    pub(super) fn tick(&mut self) {
        // History the database refused waits in memory; it goes in as soon
        // as the database takes it, not only at the next change.
        self.deps.store.retry();
        let now = self.now();
        self.tell_long_offline(now);
        self.remind(now);
        let over: Vec<String> = self
            .slots
            .iter()
            .filter(|(_, s)| s.paused_until().is_some_and(|t| t <= now))
            .map(|(n, _)| n.clone())
            .collect();
        for name in over {
            // The pause the user gave a length to is over: as if they resumed it.
            if let Err(e) = self.set_paused(&name, false, None) {
                tracing::warn!("{name}: could not end its pause: {e}");
            }
        }
        let names: Vec<String> = self.slots.keys().cloned().collect();
        for name in names {
            self.plan(&name, now);
            self.refresh(&name, now);
        }
    }

    pub(super) fn plan(&mut self, name: &str, now: SystemTime) {
        let busy = self.busy.contains_key(name);
        let Some(slot) = self.slots.get_mut(name) else { return };
        if slot.run.is_running() || busy {
            return;
        }
        if slot.stop.is_some() {
            // Nothing runs for a stopped credential; a request left standing
            // would make `next_wake` say "now" forever and spin the loop.
            slot.asked = Asked::Nothing;
            return;
        }
        let Some(op) = slot.next_op(now) else { return };
        slot.asked = Asked::Nothing;
        slot.run = Run::Running { op, since: now };
        let job = Job {
            name: name.to_string(),
            op,
            tidy: !std::mem::replace(&mut slot.tidied, true),
            source: slot.source.clone(),
            gen: slot.gen,
            current: slot.lifetime,
            now,
            withheld: self.withheld.clone(),
        };
        if let Op::Renew { manual } = op {
            self.emit(Some(name), EventKind::RenewalStarted { manual });
        }
        self.busy.insert(name.to_string(), job.gen);
        job.spawn(self.done_tx.clone());
    }

    /// Says again, after the kind's interval, that a credential waits for
    /// its user to log in (pizauth's reminders): once is easy to miss.
    fn remind(&mut self, now: SystemTime) {
        let mut due = Vec::new();
        for (name, slot) in &mut self.slots {
            let (Some(reason), Some(every), Some(told)) = (
                slot.stop.as_ref().and_then(Stop::waits_for_login),
                slot.source.remind_every(),
                slot.told_at,
            ) else {
                continue;
            };
            if now >= told + every {
                slot.told_at = Some(now);
                let reason = match reason {
                    "" => slot
                        .status
                        .last_result
                        .as_ref()
                        .map(|r| r.message.clone())
                        .unwrap_or_default(),
                    r => r.to_string(),
                };
                due.push((name.clone(), reason, unix_millis(told)));
            }
        }
        for (name, reason, since) in due {
            self.emit(Some(&name), EventKind::StillWaitsForYou { reason, since });
        }
    }

    /// The earliest instant anything needs to happen.
    pub(super) fn next_wake(&self, now: SystemTime) -> Option<SystemTime> {
        let mut best: Option<SystemTime> = None;
        let mut consider = |t: SystemTime| best = Some(best.map_or(t, |b| b.min(t)));
        for (name, slot) in &self.slots {
            // A credential with a job running waits for it: its end wakes the
            // loop, and a request standing until then must not read as "now"
            // (that would spin the loop instead of sleeping).
            if slot.run.is_running() || self.busy.contains_key(name) {
                continue;
            }
            if slot.asked != Asked::Nothing {
                consider(now);
            }
            // Final and not-renewable credentials still run out: wake for
            // their expiry and bands, but never to renew.
            // A pause's end wakes the loop once; past it, tick ends the pause.
            if let Some(t) = slot.paused_until().filter(|t| *t > now) {
                consider(t);
            }
            if let (Some(_), Some(every), Some(told)) = (
                slot.stop.as_ref().and_then(Stop::waits_for_login),
                slot.source.remind_every(),
                slot.told_at,
            ) {
                consider((told + every).max(now));
            }
            let runs_out = slot.stop.as_ref().is_some_and(Stop::runs_out);
            if slot.stop.is_some() && !runs_out {
                continue;
            }
            if let Some(t) = slot.retry.next_at {
                consider(t);
            }
            if let Some(t) = slot.beat.next {
                consider(t);
            }
            let Some(l) = slot.lifetime else { continue };
            if !slot.retry.failing() && slot.source.can_renew() && !runs_out {
                if let Some(d) = slot.deadline {
                    consider(d);
                }
            }
            if let (Some(every), Some(o)) = (slot.source.look_every(), slot.observed_at) {
                consider((o + every).max(now));
            }
            // State flips (healthy → due → expired) and expiry bands.
            for t in [slot.cfg.policy.renewal_point(&l), l.not_after] {
                if t > now {
                    consider(t);
                }
            }
            for band in &self.settings.notify_before {
                if let Some(t) = l.not_after.checked_sub(*band) {
                    if t > now {
                        consider(t);
                    }
                }
            }
        }
        // The notice's moment; once past, any later tick tells it (a wake
        // that stood at "now" would spin the loop).
        if let Some((since, false)) = self.offline_since {
            let at = since + self.settings.offline_notice;
            if at > now {
                consider(at);
            }
        }
        best
    }

    /// Once per spell without network, when it has lasted
    /// `notify_offline_after` and something waits for it: say so.
    fn tell_long_offline(&mut self, now: SystemTime) {
        let Some((since, false)) = self.offline_since else {
            return;
        };
        if now < since + self.settings.offline_notice {
            return;
        }
        let waiting = self
            .slots
            .values()
            .filter(|s| s.retry.offline || s.beat.retry.offline)
            .count();
        if waiting == 0 {
            return;
        }
        self.offline_since = Some((since, true));
        self.emit(
            None,
            EventKind::StillOffline {
                since: unix_millis(since),
                waiting,
            },
        );
    }

    pub(super) fn request_renew(&mut self, name: &str, reply: oneshot::Sender<Result<RenewOutcome>>) {
        let Some(slot) = self.slots.get_mut(name) else {
            let _ = reply.send(Err(Error::UnknownCredential { name: name.to_string() }));
            return;
        };
        let refuse = |msg: String| RenewOutcome {
            credential: name.to_string(),
            ok: false,
            message: msg,
            not_after: None,
            duration_ms: 0,
            recorded_at: None,
        };
        if let Some(why) = slot.renew_refused() {
            let _ = reply.send(Ok(refuse(format!("{name} was not renewed: {why}"))));
            return;
        }
        slot.waiters.push(reply);
        if !slot.run.renewing() {
            slot.ask(Asked::Renew);
        }
    }
}

impl Slot {
    /// Why a renewal asked for now is refused, if it is: what Renew now is
    /// answered, and what the faces say instead of offering it.
    pub(super) fn renew_refused(&self) -> Option<String> {
        if let Some(stop) = &self.stop {
            let why = match &stop.state() {
                State::Disabled => "it is disabled in the config; set enabled = true to renew it".to_string(),
                State::Retired { reason } => format!("it was retired ({reason}); it needs a new registration"),
                State::Paused { reason } => format!("it is paused ({reason})"),
                State::NotRenewable => "the server will not renew it any more; it needs a new login".to_string(),
                State::Final { expires_at } => format!(
                    "it reached its maximum lifetime and expires for good at {}; only a new login helps",
                    crate::clock::rfc3339(crate::clock::from_unix_millis(*expires_at))
                ),
                State::Expired => "the server rejected it (expired or revoked); it needs a new login".to_string(),
                other => format!("it is {other}"),
            };
            return Some(why);
        }
        if !self.source.can_renew() {
            return Some(
                "Evergreen only watches it: nothing in its settings renews it (a renew_command would); add one in the config (`evergreen config path` shows where)"
                    .to_string(),
            );
        }
        None
    }

    /// What this credential should do now, if anything: a request first,
    /// then a first renewal (or read), a heartbeat that is due, a retry
    /// that is due, and a renewal at its deadline.
    pub(super) fn next_op(&self, now: SystemTime) -> Option<Op> {
        let retry_ready = self.retry.ready(now);
        let can_renew = self.source.can_renew();
        let renew_or_read = if can_renew {
            Op::Renew { manual: false }
        } else {
            Op::Observe
        };
        if self.asked == Asked::Renew {
            Some(Op::Renew { manual: true })
        } else if self.asked == Asked::Look {
            Some(Op::Observe)
        } else if self.lifetime.is_none() && retry_ready {
            // Nothing readable yet: renew if we can (the command may create the file), else re-read.
            Some(renew_or_read)
        } else if self.beat.next.is_some_and(|t| t <= now) {
            // Heartbeats go on while a retry waits, even with nothing readable
            // yet (a certctl agent heartbeats before its first certificate).
            Some(Op::Beat)
        } else if self.lifetime.is_none() {
            None
        } else if self.retry.failing() && retry_ready {
            Some(renew_or_read)
        } else if !self.retry.failing()
            && self
                .source
                .look_every()
                .zip(self.observed_at)
                .is_some_and(|(every, o)| o + every <= now)
        {
            // Nothing announces a change to it: look again on its schedule.
            Some(Op::Observe)
        } else if can_renew && !self.retry.failing() && self.deadline.is_some_and(|d| d <= now) {
            // Look at the file once more before renewing: someone may have renewed it already.
            if self.observed_at.is_some_and(|o| o >= self.deadline.unwrap_or(o)) {
                Some(Op::Renew { manual: false })
            } else {
                Some(Op::Observe)
            }
        } else {
            None
        }
    }
}

/// One job for one credential, with what it needs from the slot.
struct Job {
    name: String,
    op: Op,
    /// Whether to tidy what an earlier run left half-written first.
    tidy: bool,
    source: Arc<dyn Source>,
    gen: u64,
    current: Option<Lifetime>,
    now: SystemTime,
    withheld: Arc<[String]>,
}

impl Job {
    /// Runs the job in a task of its own, so that a panic in it (a bug, an
    /// absurd value) ends as this credential's failure: the scheduler hears
    /// back either way and nobody waits forever.
    fn spawn(self, tx: mpsc::UnboundedSender<Done>) {
        let Job {
            name,
            op,
            tidy,
            source,
            gen,
            current,
            now,
            withheld,
        } = self;
        tokio::spawn(async move {
            let job = tokio::spawn(async move {
                if tidy {
                    for p in source.tidy() {
                        tracing::info!("removed {}, left half-written by an earlier run", p.display());
                    }
                }
                match op {
                    Op::Observe => JobResult::Observed(source.observe_with(now, &withheld).await),
                    Op::Renew { manual } => JobResult::Renewed(
                        source
                            .renew(RenewRequest {
                                current,
                                manual,
                                now,
                                withheld,
                            })
                            .await,
                    ),
                    Op::Beat => JobResult::Beat(source.beat(now).await),
                }
            });
            let result = match job.await {
                Ok(r) => r,
                Err(e) => {
                    let panic: Box<dyn std::any::Any + Send> = if e.is_panic() {
                        e.into_panic()
                    } else {
                        Box::new("the job was cancelled")
                    };
                    let f = |doing: &str| Failure::internal(&name, doing, panic.as_ref());
                    match op {
                        Op::Observe => JobResult::Observed(Err(f("reading"))),
                        Op::Renew { .. } => JobResult::Renewed(Err(f("renewing"))),
                        Op::Beat => JobResult::Beat(Err(f("sending a heartbeat for"))),
                    }
                }
            };
            let _ = tx.send(Done { name, gen, result });
        });
    }
}

#[cfg(test)]
mod tests {
    //! What to do next, decided from the slot alone.

    use super::super::testing::{at, slot};
    use super::*;

    #[test]
    fn a_due_credential_is_looked_at_once_more_then_renewed() {
        let mut s = slot();
        assert_eq!(s.next_op(at(599)), None, "not due yet");
        assert_eq!(
            s.next_op(at(600)),
            Some(Op::Observe),
            "last looked at before its deadline"
        );
        s.observed_at = Some(at(600));
        assert_eq!(s.next_op(at(600)), Some(Op::Renew { manual: false }));
    }

    #[test]
    fn a_request_comes_first_and_a_failure_waits_for_its_retry() {
        let mut s = slot();
        s.ask(Asked::Look);
        assert_eq!(s.next_op(at(10)), Some(Op::Observe));
        s.ask(Asked::Renew);
        assert_eq!(
            s.next_op(at(10)),
            Some(Op::Renew { manual: true }),
            "Renew now beats a read"
        );
        let mut s = slot();
        s.observed_at = Some(at(600));
        s.retry.fail(unix_millis(at(600)), Some(at(630)));
        assert_eq!(s.next_op(at(629)), None, "a failing credential waits out its backoff");
        assert_eq!(s.next_op(at(630)), Some(Op::Renew { manual: false }));
    }

    #[test]
    fn with_nothing_readable_it_renews_at_once_and_heartbeats_go_on() {
        let mut s = slot();
        s.lifetime = None;
        assert_eq!(s.next_op(at(1)), Some(Op::Renew { manual: false }));
        s.retry.fail(unix_millis(at(1)), Some(at(60)));
        assert_eq!(s.next_op(at(2)), None);
        s.beat.next = Some(at(2));
        assert_eq!(
            s.next_op(at(2)),
            Some(Op::Beat),
            "a heartbeat does not wait for the retry"
        );
    }
}
