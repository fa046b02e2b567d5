//! The agent's own timing: heartbeat, poll and discovery ticks with jitter, and its backoff.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Task {
    Heartbeat,
    Poll,
    Discovery,
}

/// When the heartbeat, the poll and the discovery scan are next due. The
/// scheduler asks it through [`Source::next_beat`] with its (injected) clock,
/// so the timing runs on paused time in tests.
#[derive(Debug)]
pub(super) struct Plan {
    pub(super) heartbeat: Duration,
    pub(super) poll: Duration,
    pub(super) discovery: Option<Duration>,
    pub(super) next_heartbeat: SystemTime,
    pub(super) next_poll: SystemTime,
    pub(super) next_discovery: Option<SystemTime>,
    pub(super) started: bool,
    /// certctl's consecutive_failures: heartbeats and polls that failed in a row.
    pub(super) failures: u32,
    /// What the next beat does, and what the last one did.
    pub(super) due: Vec<Task>,
    pub(super) done: Vec<Task>,
    pub(super) rng: StdRng,
}

impl Plan {
    pub(super) fn new(spec: &CertctlSpec, rng: StdRng) -> Plan {
        Plan {
            heartbeat: spec.heartbeat_interval,
            poll: spec.poll_interval,
            discovery: (!spec.discovery_dirs.is_empty()).then_some(spec.discovery_interval),
            next_heartbeat: SystemTime::UNIX_EPOCH,
            next_poll: SystemTime::UNIX_EPOCH,
            next_discovery: None,
            started: false,
            failures: 0,
            due: Vec::new(),
            done: Vec::new(),
            rng,
        }
    }

    /// consecutive_failures × poll interval, capped at 5 minutes, ±10 %.
    pub(super) fn backoff(&self) -> Backoff {
        Backoff {
            base: self.poll,
            growth: Growth::Linear,
            cap: POLL_BACKOFF_CAP.max(self.poll),
            jitter: TICK_JITTER,
        }
    }

    /// Startup jitter in [0, interval), drawn independently for the
    /// heartbeat and the poll; the first scan goes with the first poll.
    pub(super) fn start(&mut self, now: SystemTime) {
        self.next_heartbeat = now + backoff::startup_jitter(self.heartbeat, &mut self.rng);
        self.next_poll = now + backoff::startup_jitter(self.poll, &mut self.rng);
        self.next_discovery = self.discovery.map(|_| self.next_poll);
        self.started = true;
        self.done.clear();
    }

    /// Plans again whatever the last beat did, from `now`.
    pub(super) fn after(&mut self, now: SystemTime) {
        for t in std::mem::take(&mut self.done) {
            match t {
                Task::Heartbeat => {
                    self.next_heartbeat = now + backoff::jitter(self.heartbeat, TICK_JITTER, &mut self.rng);
                }
                Task::Poll => {
                    let wait = if self.failures > 0 {
                        self.backoff().delay(self.failures, &mut self.rng)
                    } else {
                        backoff::jitter(self.poll, TICK_JITTER, &mut self.rng)
                    };
                    self.next_poll = now + wait;
                }
                Task::Discovery => {
                    self.next_discovery = self
                        .discovery
                        .map(|d| now + backoff::jitter(d, TICK_JITTER, &mut self.rng));
                }
            }
        }
    }

    /// The next instant something is due, remembering what.
    pub(super) fn next(&mut self) -> SystemTime {
        let all = [
            (Task::Heartbeat, Some(self.next_heartbeat)),
            (Task::Poll, Some(self.next_poll)),
            (Task::Discovery, self.next_discovery),
        ];
        let at = all.iter().filter_map(|(_, t)| *t).min().unwrap_or(self.next_heartbeat);
        self.due = all
            .iter()
            .filter(|(_, t)| t.is_some_and(|t| t <= at))
            .map(|(k, _)| *k)
            .collect();
        at
    }
}
