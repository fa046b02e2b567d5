//! The handle every face holds, and the commands it sends the scheduler.

use super::*;
use std::time::SystemTime;

pub(super) enum Cmd {
    Renew {
        name: String,
        reply: oneshot::Sender<Result<RenewOutcome>>,
    },
    RenewAllDue {
        reply: oneshot::Sender<Vec<String>>,
    },
    Apply {
        config: Box<Config>,
        reply: oneshot::Sender<(usize, usize, usize)>,
    },
    Reevaluate {
        name: Option<String>,
        resumed: Option<(u64, String)>,
    },
    SetPaused {
        name: String,
        paused: bool,
        until: Option<SystemTime>,
        reply: oneshot::Sender<Result<()>>,
    },
    Settle {
        reply: oneshot::Sender<()>,
    },
    Network {
        online: bool,
        /// The routes changed (not a mere report of where things stand).
        changed: bool,
    },
    Shutdown,
}

/// A cheap, cloneable handle every face uses to talk to the scheduler.
#[derive(Clone)]
pub struct Handle {
    pub(super) tx: mpsc::UnboundedSender<Cmd>,
    pub(super) statuses: Arc<RwLock<BTreeMap<String, CredentialStatus>>>,
    pub(super) clock: ClockHandle,
    pub(super) bus: EventBus,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

impl Handle {
    /// Every credential's status, with the remaining fraction as of now.
    pub fn statuses(&self) -> Vec<CredentialStatus> {
        let now = self.clock.now();
        let map = self.statuses.read().unwrap_or_else(|p| p.into_inner());
        map.values()
            .cloned()
            .map(|mut s| {
                s.remaining_fraction = s.remaining_at(now);
                s
            })
            .collect()
    }

    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.bus.subscribe()
    }

    /// Events in bursts of whole batches, for faces that redraw.
    pub fn follow(&self) -> crate::events::Follower {
        self.bus.follow()
    }

    pub fn bus(&self) -> &EventBus {
        &self.bus
    }

    /// Renews `name` now and waits for the result. A request while a renewal
    /// of the same credential runs joins that renewal.
    pub async fn renew(&self, name: &str) -> Result<RenewOutcome> {
        let name = name.to_string();
        self.ask(|reply| Cmd::Renew { name, reply }).await?
    }

    /// Starts a renewal of every credential that is due or failing; returns their names.
    pub async fn renew_all_due(&self) -> Result<Vec<String>> {
        self.ask(|reply| Cmd::RenewAllDue { reply }).await
    }

    /// Applies a validated config; returns (added, removed, changed).
    pub async fn apply(&self, config: Config) -> Result<(usize, usize, usize)> {
        let config = Box::new(config);
        self.ask(|reply| Cmd::Apply { config, reply }).await
    }

    /// Looks at one credential (or all) again, e.g. because its file changed.
    pub fn reevaluate(&self, name: Option<String>) {
        let _ = self.tx.send(Cmd::Reevaluate { name, resumed: None });
    }

    /// The network changed, and where it stands now: coming online, or a
    /// change while online (a VPN joining), re-tries what is failing at
    /// once; a failure while offline is shown as offline and does not
    /// notify. `Err` once the scheduler has stopped.
    pub fn network(&self, online: bool) -> Result<()> {
        self.tx
            .send(Cmd::Network { online, changed: true })
            .map_err(|_| Error::EngineStopped)
    }

    /// Where the network stands, nothing having changed (the watch's first
    /// look, a network manager restating its state): only coming online
    /// re-tries what is failing.
    pub fn network_stands(&self, online: bool) -> Result<()> {
        self.tx
            .send(Cmd::Network { online, changed: false })
            .map_err(|_| Error::EngineStopped)
    }

    /// The machine woke from suspend: look at everything again now.
    pub fn resumed(&self, slept_secs: u64, source: &str) {
        let _ = self.tx.send(Cmd::Reevaluate {
            name: None,
            resumed: Some((slept_secs, source.to_string())),
        });
    }

    /// Pauses (no renewals, no heartbeats) or resumes one credential at the
    /// user's request; the pause survives a restart. Resuming only ends a
    /// pause the user made: a pause the server caused needs what its reason says.
    pub async fn set_paused(&self, name: &str, paused: bool) -> Result<()> {
        self.pause_until(name, paused, None).await
    }

    /// Pauses (or resumes) `name`; a pause with `until` ends on its own then.
    pub async fn pause_until(&self, name: &str, paused: bool, until: Option<SystemTime>) -> Result<()> {
        let name = name.to_string();
        self.ask(|reply| Cmd::SetPaused {
            name,
            paused,
            until,
            reply,
        })
        .await?
    }

    /// Returns once the scheduler has made a full pass after this call:
    /// whatever was due by now has started and said so on the bus. The
    /// witness for "nothing happened": what has not happened after it was
    /// not merely late on a busy machine.
    pub async fn settle(&self) -> Result<()> {
        self.ask(|reply| Cmd::Settle { reply }).await
    }

    /// Sends the command `make` builds around a reply's sender, and waits for
    /// the reply. The scheduler stopping ends the wait with
    /// [`Error::EngineStopped`], also when the command was sent in the very
    /// instant it stopped reading: a channel whose receiver is dropped while
    /// a send is under way keeps that message, and the reply's sender in
    /// it, until the last sender is gone, so waiting for the reply alone
    /// could last as long as this handle.
    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Cmd) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).map_err(|_| Error::EngineStopped)?;
        tokio::select! {
            // A reply sent just before the scheduler stopped still counts.
            biased;
            r = rx => r.map_err(|_| Error::EngineStopped),
            () = self.tx.closed() => Err(Error::EngineStopped),
        }
    }

    pub fn shutdown(&self) {
        let _ = self.tx.send(Cmd::Shutdown);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scheduler stopped reading with the command still queued (what a
    /// send racing the receiver's drop leaves behind): the wait ends,
    /// instead of lasting as long as the handle.
    #[tokio::test(start_paused = true)]
    async fn a_command_left_in_a_closed_channel_ends_the_wait() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let handle = Handle {
            tx,
            statuses: Arc::default(),
            clock: Arc::new(crate::clock::SystemClock),
            bus: EventBus::new(16),
        };
        let asked = tokio::spawn({
            let h = handle.clone();
            async move { h.settle().await }
        });
        // The command arrives; the scheduler stops reading but keeps it.
        let queued = loop {
            if !rx.is_empty() {
                break rx.len();
            }
            tokio::task::yield_now().await;
        };
        assert_eq!(queued, 1);
        rx.close();
        let waited = tokio::time::timeout(std::time::Duration::from_secs(10), asked).await;
        assert!(
            matches!(waited, Ok(Ok(Err(Error::EngineStopped)))),
            "the wait went on: {waited:?}"
        );
        drop(rx);
    }
}
