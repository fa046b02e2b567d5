//! Waking at a wall-clock instant, also when it passed while the machine
//! slept, and hearing when the wall clock is set.
//!
//! tokio's timers run on the monotonic clock, which stops during suspend: a
//! renewal due at 09:00 on a laptop that slept from 08:00 to 12:00 would
//! wait for the rest of its monotonic sleep. A `timerfd` on `CLOCK_REALTIME`
//! armed with an absolute deadline fires as soon as the machine runs past
//! that instant, however it got there, and with `TFD_TIMER_CANCEL_ON_SET`
//! it also reports every step of the wall clock (an NTP step, a manual
//! change, a resume) so the scheduler re-plans at once. A once-a-second
//! look comparing the wall clock with the monotonic one catches the jumps
//! no kernel timer sees (a clock faked for one process, a paused VM whose
//! clock is set from outside) without waking the scheduler.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use rustix::time::{
    timerfd_create, timerfd_settime, Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec,
};
use tokio::io::unix::AsyncFd;

/// Why an alarm rang.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ring {
    /// The instant it was armed for has come.
    Due,
    /// The wall clock was set or jumped: every plan needs a new look.
    ClockSet,
}

/// A wall-clock alarm, as a [`crate::clock::Clock`] hands one out.
pub trait Alarm: Send {
    /// Rings at `at` (at once when `at` has passed), replacing any earlier arming.
    fn arm(&mut self, at: SystemTime);
    /// Waits for the next ring.
    fn ring(&mut self) -> Pin<Box<dyn Future<Output = Ring> + Send + '_>>;
}

/// A gap between the wall clock and the monotonic one beyond this, seen by
/// the once-a-second look, is a clock that was set.
const STEP: Duration = Duration::from_secs(2);

/// How often the clocks are compared.
const LOOK: Duration = Duration::from_secs(1);

/// The real alarm: a `timerfd` on `CLOCK_REALTIME`.
#[derive(Debug)]
pub struct TimerFd {
    fd: AsyncFd<rustix::fd::OwnedFd>,
    armed: Option<SystemTime>,
    /// The two clocks as last compared: kept across rings, so a step
    /// between two of them is still seen.
    looked: Looked,
}

impl TimerFd {
    pub fn new() -> io::Result<TimerFd> {
        let fd = timerfd_create(TimerfdClockId::Realtime, TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC)?;
        // `new` is deprecated because a type can hand out a descriptor it
        // then closes; an `OwnedFd` the `AsyncFd` owns cannot, so it is
        // sound here, and `register` would be the crate's only `unsafe`.
        #[allow(deprecated)]
        let fd = AsyncFd::new(fd)?;
        Ok(TimerFd {
            fd,
            armed: None,
            looked: Looked::now(),
        })
    }
}

/// Waits until the timer fires: `Due`, or `ClockSet` when the kernel
/// cancelled it because the wall clock was set.
async fn fired(fd: &AsyncFd<rustix::fd::OwnedFd>) -> io::Result<Ring> {
    loop {
        let mut ready = fd.readable().await?;
        let mut expirations = [0u8; 8];
        match ready.try_io(|fd| rustix::io::read(fd.get_ref(), &mut expirations).map_err(io::Error::from)) {
            Ok(Ok(_)) => return Ok(Ring::Due),
            Ok(Err(e)) if e.raw_os_error() == Some(rustix::io::Errno::CANCELED.raw_os_error()) => {
                return Ok(Ring::ClockSet)
            }
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => continue,
        }
    }
}

impl Alarm for TimerFd {
    fn arm(&mut self, at: SystemTime) {
        // Before the epoch (a clock set absurdly far back): the smallest
        // instant the timer takes, which has passed, so it fires at once
        // (a zero instant would disarm it instead).
        let since = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .max(Duration::from_nanos(1));
        let spec = Itimerspec {
            it_interval: Timespec { tv_sec: 0, tv_nsec: 0 },
            it_value: Timespec {
                tv_sec: since.as_secs().min(i64::MAX as u64) as i64,
                tv_nsec: since.subsec_nanos() as _,
            },
        };
        match timerfd_settime(
            &self.fd,
            TimerfdTimerFlags::ABSTIME | TimerfdTimerFlags::CANCEL_ON_SET,
            &spec,
        ) {
            Ok(_) => self.armed = Some(at),
            Err(e) => {
                tracing::warn!(
                    "could not arm the wall-clock timer ({e}); deadlines after a suspend wait for the drift check"
                );
                self.armed = None;
            }
        }
    }

    fn ring(&mut self) -> Pin<Box<dyn Future<Output = Ring> + Send + '_>> {
        let TimerFd { fd, armed, looked } = self;
        let armed = *armed;
        Box::pin(async move {
            let timer = async {
                match fired(fd).await {
                    // A timer the kernel fires before the process's own clock
                    // says so (the process's clock runs behind the kernel's)
                    // is left to the monotonic sleep beside it.
                    Ok(Ring::Due) if armed.is_some_and(|a| SystemTime::now() + STEP < a) => {
                        std::future::pending::<Ring>().await
                    }
                    Ok(ring) => ring,
                    Err(e) => {
                        tracing::warn!("the wall-clock timer failed ({e}); the drift check takes over");
                        std::future::pending::<Ring>().await
                    }
                }
            };
            tokio::select! {
                ring = timer => ring,
                () = looked.until_stepped() => Ring::ClockSet,
            }
        })
    }
}

/// The wall clock and the monotonic one, read together.
#[derive(Debug)]
struct Looked {
    wall: SystemTime,
    mono: tokio::time::Instant,
}

impl Looked {
    fn now() -> Looked {
        Looked {
            wall: SystemTime::now(),
            mono: tokio::time::Instant::now(),
        }
    }

    /// Returns once the wall clock has moved away from the monotonic one
    /// by more than [`STEP`] since the last look, looking once a second.
    async fn until_stepped(&mut self) {
        let mut look = tokio::time::interval(LOOK);
        look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            look.tick().await;
            let now = Looked::now();
            let mono = now.mono.duration_since(self.mono);
            let gap = match now.wall.duration_since(self.wall) {
                Ok(wall) => wall.abs_diff(mono),
                Err(back) => back.duration() + mono,
            };
            // Each look is the next one's reference, so slow drift between
            // the clocks never adds up to a step.
            *self = now;
            if gap > STEP {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rings `alarm` armed at `at` until it is due. A virtual machine whose
    /// host steps its clock now and then rings `ClockSet` in between, which
    /// is the alarm doing its job: the scheduler looks again and re-arms.
    async fn ring_until_due(alarm: &mut TimerFd, at: SystemTime) {
        for _ in 0..100 {
            alarm.arm(at);
            let ring = tokio::time::timeout(Duration::from_secs(5), alarm.ring()).await;
            match ring.expect("the alarm rang within 5 s") {
                Ring::Due => return,
                Ring::ClockSet => continue,
            }
        }
        panic!("the clock was set 100 times before a 300 ms alarm was due");
    }

    /// The real timer, on the real clock: armed a moment ahead, it rings
    /// `Due` at that instant, not before; armed in the past, at once.
    #[tokio::test]
    async fn the_timerfd_rings_at_its_wall_clock_instant() {
        let mut alarm = TimerFd::new().unwrap();
        let start = tokio::time::Instant::now();
        ring_until_due(&mut alarm, SystemTime::now() + Duration::from_millis(300)).await;
        assert!(start.elapsed() >= Duration::from_millis(250), "{:?}", start.elapsed());
        let past = tokio::time::Instant::now();
        ring_until_due(&mut alarm, SystemTime::now() - Duration::from_secs(3600)).await;
        assert!(past.elapsed() < Duration::from_secs(5));
    }
}
