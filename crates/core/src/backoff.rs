//! The one backoff and jitter policy.
//!
//! Every retry and every periodic tick in Evergreen goes through here, so a
//! fleet of workstations never renews, heartbeats or retries in lockstep
//! (certctl's SCALE-006 lesson) and a failing server is not hammered.

use std::time::Duration;

use rand::Rng;

/// How the delay grows with the failure streak.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Growth {
    /// `base × factor^(streak−1)`: nixfleet's 30 s error backoff, doubled per failure.
    Exponential { factor: u32 },
    /// `base × streak`: certctl's `consecutive_failures × poll_interval`.
    Linear,
}

/// A capped, jittered backoff.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub base: Duration,
    pub growth: Growth,
    pub cap: Duration,
    /// Symmetric jitter as a fraction of the delay, in [0, 1).
    pub jitter: f64,
}

impl Default for Backoff {
    /// Base 30 s (nixfleet's agent's error backoff), ×2 per failure, capped at 5 min, ±10 %.
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(30),
            growth: Growth::Exponential { factor: 2 },
            cap: Duration::from_secs(300),
            jitter: 0.1,
        }
    }
}

impl Backoff {
    /// The un-jittered delay after `streak` consecutive failures (streak ≥ 1).
    pub fn nominal(&self, streak: u32) -> Duration {
        let n = streak.max(1);
        let d = match self.growth {
            Growth::Exponential { factor } => {
                let mult = (factor.max(1) as u64).saturating_pow(n - 1);
                self.base.saturating_mul(u32::try_from(mult).unwrap_or(u32::MAX))
            }
            Growth::Linear => self.base.saturating_mul(n),
        };
        d.min(self.cap)
    }

    /// The jittered delay, never above the cap.
    pub fn delay(&self, streak: u32, rng: &mut impl Rng) -> Duration {
        jitter(self.nominal(streak), self.jitter, rng).min(self.cap)
    }
}

/// `d` scaled by a uniform factor in `[1 − frac, 1 + frac]`.
pub fn jitter(d: Duration, frac: f64, rng: &mut impl Rng) -> Duration {
    let frac = frac.clamp(0.0, 0.99);
    if frac == 0.0 || d.is_zero() {
        return d;
    }
    let f: f64 = rng.gen_range(1.0 - frac..=1.0 + frac);
    d.mul_f64(f)
}

/// A uniform delay in `[0, interval)`: certctl's startup jitter.
pub fn startup_jitter(interval: Duration, rng: &mut impl Rng) -> Duration {
    if interval.is_zero() {
        return Duration::ZERO;
    }
    interval.mul_f64(rng.gen_range(0.0..1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn exponential_sequence_doubles_from_30s_and_caps_at_5min() {
        let b = Backoff::default();
        let secs: Vec<u64> = (1..=7).map(|s| b.nominal(s).as_secs()).collect();
        assert_eq!(secs, vec![30, 60, 120, 240, 300, 300, 300]);
        assert_eq!(b.nominal(u32::MAX), Duration::from_secs(300));
    }

    #[test]
    fn linear_sequence_is_streak_times_base_capped() {
        let b = Backoff {
            base: Duration::from_secs(30),
            growth: Growth::Linear,
            cap: Duration::from_secs(300),
            jitter: 0.0,
        };
        let secs: Vec<u64> = (1..=12).map(|s| b.nominal(s).as_secs()).collect();
        assert_eq!(secs, vec![30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 300, 300]);
    }

    #[test]
    fn jittered_delays_stay_in_bounds_and_spread() {
        let b = Backoff::default();
        let mut rng = StdRng::seed_from_u64(7);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            let d = b.delay(2, &mut rng);
            assert!(d >= Duration::from_secs(54) && d <= Duration::from_secs(66), "{d:?}");
            seen.insert(d.as_millis() / 1000);
            // at the cap, jitter never pushes above it
            assert!(b.delay(10, &mut rng) <= Duration::from_secs(300));
        }
        assert!(seen.len() > 8, "jitter should spread delays, saw {seen:?}");
    }

    #[test]
    fn startup_jitter_is_within_zero_and_interval() {
        let mut rng = StdRng::seed_from_u64(1);
        let i = Duration::from_secs(60);
        for _ in 0..1000 {
            assert!(startup_jitter(i, &mut rng) < i);
        }
        assert_eq!(startup_jitter(Duration::ZERO, &mut rng), Duration::ZERO);
    }
}
