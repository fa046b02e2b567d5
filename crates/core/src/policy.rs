//! When to renew: the renewal point of a lifetime and its jittered deadline.
//!
//! Default is step-ca's and cert-manager's: renew once two thirds of the
//! lifetime have elapsed (remaining < 1/3). A credential can instead name a
//! fraction (`renew_at_fraction`, strictly in (0, 1) as seed 000 demands) or an
//! absolute lead time (`renew_before = "72h"`).

use std::time::{Duration, SystemTime};

use rand::Rng;

use crate::backoff::jitter;
use crate::model::Lifetime;

/// The default renewal fraction: renew when less than a third is left.
pub const DEFAULT_RENEW_AT_FRACTION: f64 = 1.0 / 3.0;

/// When a credential becomes due.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RenewPolicy {
    /// Due when the remaining fraction drops below this value (strictly in (0, 1)).
    Fraction(f64),
    /// Due this long before not_after.
    Before(Duration),
}

impl Default for RenewPolicy {
    fn default() -> Self {
        RenewPolicy::Fraction(DEFAULT_RENEW_AT_FRACTION)
    }
}

impl RenewPolicy {
    /// The instant the credential becomes due.
    pub fn renewal_point(&self, l: &Lifetime) -> SystemTime {
        match *self {
            RenewPolicy::Fraction(f) => {
                let total = l.not_after.duration_since(l.not_before).unwrap_or_default();
                l.not_after - total.mul_f64(f.clamp(0.0, 1.0))
            }
            RenewPolicy::Before(lead) => l.not_after.checked_sub(lead).unwrap_or(l.not_before).max(l.not_before),
        }
    }

    pub fn is_due(&self, l: &Lifetime, now: SystemTime) -> bool {
        now >= self.renewal_point(l)
    }
}

/// The renewal deadline: the renewal point with the wait until it jittered by
/// `±jitter_frac`, never earlier than `now + min_wait` and never past expiry.
pub fn deadline(
    policy: &RenewPolicy,
    l: &Lifetime,
    now: SystemTime,
    jitter_frac: f64,
    min_wait: Duration,
    rng: &mut impl Rng,
) -> SystemTime {
    let point = policy.renewal_point(l);
    let wait = point.duration_since(now).unwrap_or_default();
    let mut wait = jitter(wait, jitter_frac, rng).max(min_wait);
    if let Ok(until_expiry) = l.not_after.duration_since(now) {
        // Leave a sliver before expiry so the renewal happens while still valid.
        let latest = until_expiry.saturating_sub(until_expiry / 100);
        if wait > latest && latest >= min_wait {
            wait = latest;
        }
    }
    now + wait
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    fn at(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(s)
    }
    fn life() -> Lifetime {
        Lifetime {
            not_before: at(0),
            not_after: at(9000),
        }
    }

    #[test]
    fn default_point_is_two_thirds_through() {
        assert_eq!(RenewPolicy::default().renewal_point(&life()), at(6000));
        assert!(!RenewPolicy::default().is_due(&life(), at(5999)));
        assert!(RenewPolicy::default().is_due(&life(), at(6000)));
    }

    #[test]
    fn fraction_and_lead_time_points() {
        assert_eq!(RenewPolicy::Fraction(0.5).renewal_point(&life()), at(4500));
        assert_eq!(
            RenewPolicy::Before(Duration::from_secs(1000)).renewal_point(&life()),
            at(8000)
        );
        // a lead time longer than the lifetime means due from the start
        assert_eq!(
            RenewPolicy::Before(Duration::from_secs(99_999)).renewal_point(&life()),
            at(0)
        );
    }

    #[test]
    fn jittered_deadline_stays_within_ten_percent_and_before_expiry() {
        let mut rng = StdRng::seed_from_u64(3);
        let now = at(1000);
        for _ in 0..1000 {
            let d = deadline(&RenewPolicy::default(), &life(), now, 0.1, Duration::ZERO, &mut rng);
            // wait is 5000 s, so ±500 s
            assert!(d >= at(5500) && d <= at(6500), "{d:?}");
        }
        // a policy whose point lies past expiry is pulled back before expiry
        let d = deadline(
            &RenewPolicy::Fraction(0.001),
            &life(),
            now,
            0.5,
            Duration::ZERO,
            &mut rng,
        );
        assert!(d < at(9000));
    }

    #[test]
    fn past_point_means_now_or_min_wait() {
        let mut rng = StdRng::seed_from_u64(3);
        let now = at(7000);
        assert_eq!(
            deadline(&RenewPolicy::default(), &life(), now, 0.1, Duration::ZERO, &mut rng),
            now
        );
        assert_eq!(
            deadline(
                &RenewPolicy::default(),
                &life(),
                now,
                0.1,
                Duration::from_secs(5),
                &mut rng
            ),
            at(7005)
        );
    }
}
