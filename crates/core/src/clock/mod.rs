//! Wall-clock time, injected.
//!
//! Deadlines in Evergreen are wall-clock instants (`SystemTime`): a laptop that
//! sleeps for eight hours must wake up knowing eight hours have passed, which
//! tokio's monotonic clock does not tell it. The engine never calls
//! `SystemTime::now()` directly; it asks a [`Clock`], so tests can move the wall
//! clock by hand while tokio's own time is paused.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

mod alarm;

pub use alarm::{Alarm, Ring, TimerFd};

/// A source of wall-clock time.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    fn now(&self) -> SystemTime;

    /// An alarm at wall-clock instants of this clock that also rings when
    /// the clock is set or jumps; `None` when it has none, and the
    /// scheduler's drift check alone notices jumps.
    fn alarm(&self) -> Option<Box<dyn Alarm>> {
        None
    }
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn alarm(&self) -> Option<Box<dyn Alarm>> {
        match TimerFd::new() {
            Ok(t) => Some(Box::new(t)),
            Err(e) => {
                tracing::warn!(
                    "no wall-clock timer ({e}); a deadline passed during a suspend waits for the drift check"
                );
                None
            }
        }
    }
}

/// A wall clock for tests: it follows tokio's (possibly paused) monotonic clock
/// and can additionally be jumped, as a suspend/resume or an NTP step would.
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<Mutex<ManualInner>>,
    /// Counts jumps, so its alarms ring at each one as a real clock's
    /// timer does when the clock is set.
    jumps: Arc<tokio::sync::watch::Sender<u64>>,
}

#[derive(Debug)]
struct ManualInner {
    base: SystemTime,
    anchor: tokio::time::Instant,
    jumped: Duration,
    set_back: Duration,
}

impl ManualClock {
    /// A clock reading `start` now, advancing with tokio's clock.
    pub fn new(start: SystemTime) -> Self {
        ManualClock {
            inner: Arc::new(Mutex::new(ManualInner {
                base: start,
                anchor: tokio::time::Instant::now(),
                jumped: Duration::ZERO,
                set_back: Duration::ZERO,
            })),
            jumps: Arc::new(tokio::sync::watch::Sender::new(0)),
        }
    }

    /// Move the wall clock forward without moving tokio's clock: what a
    /// suspend looks like to a process.
    pub fn jump(&self, by: Duration) {
        self.lock().jumped += by;
        self.jumps.send_modify(|n| *n += 1);
    }

    /// Set the wall clock back, as an NTP step or a user can.
    pub fn set_back(&self, by: Duration) {
        self.lock().set_back += by;
        self.jumps.send_modify(|n| *n += 1);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ManualInner> {
        // A poisoned clock only means a test panicked elsewhere; the value is still good.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        let g = self.lock();
        g.base + g.anchor.elapsed() + g.jumped - g.set_back
    }

    fn alarm(&self) -> Option<Box<dyn Alarm>> {
        Some(Box::new(ManualAlarm {
            clock: self.clone(),
            at: None,
            jumps: self.jumps.subscribe(),
        }))
    }
}

/// A [`ManualClock`]'s alarm: tokio's (paused) time up to the instant, and a
/// ring at every jump.
struct ManualAlarm {
    clock: ManualClock,
    at: Option<SystemTime>,
    jumps: tokio::sync::watch::Receiver<u64>,
}

impl Alarm for ManualAlarm {
    fn arm(&mut self, at: SystemTime) {
        self.at = Some(at);
    }

    fn ring(&mut self) -> Pin<Box<dyn Future<Output = Ring> + Send + '_>> {
        let wait = self
            .at
            .map(|at| at.duration_since(self.clock.now()).unwrap_or_default());
        Box::pin(async move {
            let due = async {
                match wait {
                    Some(w) => tokio::time::sleep(w).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = due => Ring::Due,
                changed = self.jumps.changed() => match changed {
                    Ok(()) => Ring::ClockSet,
                    // The clock is gone with its last handle: nothing rings again.
                    Err(_) => std::future::pending().await,
                },
            }
        })
    }
}

/// Shared handle to a clock.
pub type ClockHandle = Arc<dyn Clock>;

/// Seconds since the Unix epoch (negative before it), the form the store and
/// the wire use.
pub fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// Milliseconds since the Unix epoch.
pub fn unix_millis(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// The inverse of [`unix_millis`].
pub fn from_unix_millis(ms: i64) -> SystemTime {
    if ms >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        SystemTime::UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

/// `secs` after 1970 as a time, if a credential could have it (up to the end
/// of the year 9999): what a server sends as seconds goes through here, so an
/// absurd value is an error of that credential, never an overflow.
pub fn from_unix_secs(secs: u64) -> Option<SystemTime> {
    (secs <= crate::model::LATEST_TIME_SECS).then(|| SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// RFC 3339 in UTC, second precision, for people.
/// Total: a time RFC 3339 cannot show (before 1970, after 9999, as an absurd
/// server reply can make) is described instead of panicking.
pub fn rfc3339(t: SystemTime) -> String {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) if d.as_secs() <= crate::model::LATEST_TIME_SECS => humantime::format_rfc3339_seconds(t).to_string(),
        Ok(d) => format!("{} s after 1970 (past the year 9999)", d.as_secs()),
        Err(e) => format!("{} s before 1970", e.duration().as_secs()),
    }
}

/// Parses an RFC 3339 timestamp with any offset and fraction, as servers send them.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let t = time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339).ok()?;
    let nanos = t.unix_timestamp_nanos();
    let (secs, sub) = (nanos.div_euclid(1_000_000_000), nanos.rem_euclid(1_000_000_000));
    let base = if secs >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs as u64))?
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs() as u64))?
    };
    base.checked_add(Duration::from_nanos(sub as u64))
}

/// "3h 12m", "2d 4h", "45s": a short human duration, two units at most.
pub fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, mins, secs) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60, s % 60);
    if days > 0 {
        if hours > 0 {
            format!("{days}d {hours}h")
        } else {
            format!("{days}d")
        }
    } else if hours > 0 {
        if mins > 0 {
            format!("{hours}h {mins}m")
        } else {
            format!("{hours}h")
        }
    } else if mins > 0 {
        if secs > 0 {
            format!("{mins}m {secs}s")
        } else {
            format!("{mins}m")
        }
    } else {
        format!("{secs}s")
    }
}

/// Signed distance from `now` to `t`, for people: "in 3h 12m" or "2d ago".
pub fn relative(t: SystemTime, now: SystemTime) -> String {
    match t.duration_since(now) {
        Ok(d) => format!("in {}", short_duration(d)),
        Err(e) => format!("{} ago", short_duration(e.duration())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_durations_read_well() {
        assert_eq!(short_duration(Duration::from_secs(45)), "45s");
        assert_eq!(short_duration(Duration::from_secs(3 * 3600 + 12 * 60)), "3h 12m");
        assert_eq!(short_duration(Duration::from_secs(2 * 86_400)), "2d");
        assert_eq!(short_duration(Duration::from_secs(90)), "1m 30s");
    }

    #[test]
    fn unix_millis_round_trips_both_sides_of_the_epoch() {
        for ms in [-1_500_i64, 0, 1_700_000_000_123] {
            assert_eq!(unix_millis(from_unix_millis(ms)), ms);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn manual_clock_follows_tokio_time_and_jumps() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let clock = ManualClock::new(start);
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(clock.now(), start + Duration::from_secs(10));
        clock.jump(Duration::from_secs(8 * 3600));
        assert_eq!(clock.now(), start + Duration::from_secs(10 + 8 * 3600));
    }
}
