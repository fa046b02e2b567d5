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
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Renew {
                name: name.to_string(),
                reply,
            })
            .map_err(|_| Error::EngineStopped)?;
        rx.await.map_err(|_| Error::EngineStopped)?
    }

    /// Starts a renewal of every credential that is due or failing; returns their names.
    pub async fn renew_all_due(&self) -> Result<Vec<String>> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::RenewAllDue { reply })
            .map_err(|_| Error::EngineStopped)?;
        rx.await.map_err(|_| Error::EngineStopped)
    }

    /// Applies a validated config; returns (added, removed, changed).
    pub async fn apply(&self, config: Config) -> Result<(usize, usize, usize)> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Apply {
                config: Box::new(config),
                reply,
            })
            .map_err(|_| Error::EngineStopped)?;
        rx.await.map_err(|_| Error::EngineStopped)
    }

    /// Looks at one credential (or all) again, e.g. because its file changed.
    pub fn reevaluate(&self, name: Option<String>) {
        let _ = self.tx.send(Cmd::Reevaluate { name, resumed: None });
    }

    /// Where the network stands (after each change): coming online re-tries
    /// what is failing at once; a failure while offline is shown as offline
    /// and does not notify. `Err` once the scheduler has stopped.
    pub fn network(&self, online: bool) -> Result<()> {
        self.tx.send(Cmd::Network { online }).map_err(|_| Error::EngineStopped)
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
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::SetPaused {
                name: name.to_string(),
                paused,
                until,
                reply,
            })
            .map_err(|_| Error::EngineStopped)?;
        rx.await.map_err(|_| Error::EngineStopped)?
    }

    /// Returns once the scheduler has made a full pass after this call:
    /// whatever was due by now has started and said so on the bus. The
    /// witness for "nothing happened": what has not happened after it was
    /// not merely late on a busy machine.
    pub async fn settle(&self) -> Result<()> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Cmd::Settle { reply }).map_err(|_| Error::EngineStopped)?;
        rx.await.map_err(|_| Error::EngineStopped)
    }

    pub fn shutdown(&self) {
        let _ = self.tx.send(Cmd::Shutdown);
    }
}
