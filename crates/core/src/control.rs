//! What the faces of a running engine hold: a [`Control`] to look at it and
//! steer it. The local socket serves it and the tray uses it; the engine
//! builds it. Kept apart from `engine` so that the socket server depends on
//! this and not on the engine that starts it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::broadcast;

use crate::activity::Activity;
use crate::clock::{unix_millis, ClockHandle};
use crate::error::{Error, Result};
use crate::events::{Event, EventBus, EventKind};
use crate::model::Snapshot;
use crate::notify_policy::Notifier;
use crate::scheduler::Handle;
use crate::store::Store;

/// What the faces of a running engine (the local socket, the tray) use to
/// look at it and steer it; cheap to clone.
#[derive(Clone)]
pub struct Control {
    pub handle: Handle,
    pub store: Arc<Store>,
    pub notifier: Notifier,
    pub activity: Activity,
    pub(crate) bus: EventBus,
    pub(crate) clock: ClockHandle,
    pub(crate) demo: bool,
    pub(crate) config_file: PathBuf,
    /// Where the notifications the policy decides on go (a tray attached
    /// over the socket listens here).
    pub(crate) notifications: broadcast::Sender<crate::notify_policy::Notification>,
    /// The config running now (edits replace it).
    pub(crate) config: tokio::sync::watch::Receiver<Arc<crate::config::Config>>,
}

/// The longest notification pause a face may ask for: a week.
pub const MAX_NOTIFICATION_PAUSE_MINUTES: u32 = 7 * 24 * 60;

impl Control {
    /// Every credential's status and the engine's own facts.
    pub fn snapshot(&self) -> Snapshot {
        let mut s = Snapshot::of(
            self.handle.statuses(),
            self.clock.now(),
            self.notifier.paused_until(),
            self.demo,
            &self.config_file,
        );
        s.store_problem = self.store.problem();
        s
    }

    /// Silences desktop notifications for `minutes` (1 minute to a week).
    pub fn pause_notifications(&self, minutes: u32) -> Result<SystemTime> {
        if !(1..=MAX_NOTIFICATION_PAUSE_MINUTES).contains(&minutes) {
            return Err(Error::Refused(format!(
                "notifications can be paused for 1 to {MAX_NOTIFICATION_PAUSE_MINUTES} minutes, not {minutes}"
            )));
        }
        let now = self.clock.now();
        let until = self.notifier.pause(now, Duration::from_secs(u64::from(minutes) * 60))?;
        self.announce_pause(Some(unix_millis(until)));
        Ok(until)
    }

    pub fn resume_notifications(&self) -> Result<()> {
        self.notifier.resume()?;
        self.announce_pause(None);
        Ok(())
    }

    /// Other faces redraw on events; a pause changes no credential, so say it.
    fn announce_pause(&self, until: Option<i64>) {
        self.bus.send(Event {
            at: unix_millis(self.clock.now()),
            credential: None,
            kind: EventKind::NotificationsPaused { until },
        });
    }

    /// Events as they happen.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.handle.subscribe()
    }

    /// Events in bursts of whole batches, for faces that redraw.
    pub fn follow(&self) -> crate::events::Follower {
        self.handle.follow()
    }
}
