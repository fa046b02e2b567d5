//! Wall-clock time, injected.
//!
//! Deadlines in Evergreen are wall-clock instants (`SystemTime`): a laptop that
//! sleeps for eight hours must wake up knowing eight hours have passed, which
//! tokio's monotonic clock does not tell it. The engine never calls
//! `SystemTime::now()` directly; it asks a [`Clock`], so tests can move the wall
//! clock by hand while tokio's own time is paused.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// A source of wall-clock time.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    fn now(&self) -> SystemTime;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A wall clock for tests: it follows tokio's (possibly paused) monotonic clock
/// and can additionally be jumped, as a suspend/resume or an NTP step would.
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<Mutex<ManualInner>>,
}

#[derive(Debug)]
struct ManualInner {
    base: SystemTime,
    anchor: tokio::time::Instant,
    jumped: Duration,
}

impl ManualClock {
    /// A clock reading `start` now, advancing with tokio's clock.
    pub fn new(start: SystemTime) -> Self {
        ManualClock {
            inner: Arc::new(Mutex::new(ManualInner {
                base: start,
                anchor: tokio::time::Instant::now(),
                jumped: Duration::ZERO,
            })),
        }
    }

    /// Move the wall clock forward without moving tokio's clock: what a
    /// suspend looks like to a process.
    pub fn jump(&self, by: Duration) {
        self.lock().jumped += by;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ManualInner> {
        // A poisoned clock only means a test panicked elsewhere; the value is still good.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        let g = self.lock();
        g.base + g.anchor.elapsed() + g.jumped
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
