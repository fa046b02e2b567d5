//! When to renew: the renewal point of a lifetime and its jittered deadline.
//!
//! Default is step-ca's and cert-manager's: renew once two thirds of the
//! lifetime have elapsed (remaining < 1/3). A credential can instead name a
//! fraction (`renew_at_fraction`, strictly in (0, 1) as nixfleet's
//! `renewal_threshold_fraction` is) or an
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
        RenewPolicy::DEFAULT
    }
}

impl RenewPolicy {
    /// When a third of the lifetime is left, as step-ca and cert-manager
    /// renew. A kind may have its own default (its `Facts::renew_at`).
    pub const DEFAULT: RenewPolicy = RenewPolicy::Fraction(DEFAULT_RENEW_AT_FRACTION);

    /// The policy of a credential of `kind` whose config sets none.
    pub fn default_for(kind: crate::model::Kind) -> RenewPolicy {
        kind.facts().renew_at
    }

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

/// The shortest wait after a capped renewal before the next automatic one:
/// at most four an hour, even for a CA that caps every certificate.
pub const CAPPED_FLOOR_MIN: Duration = Duration::from_secs(15 * 60);
/// The longest: a capped credential is still tried again well before it ends.
pub const CAPPED_FLOOR_MAX: Duration = Duration::from_secs(6 * 3600);

/// A renewal that worked, as [`capped`] judges it.
#[derive(Debug, Clone, Copy)]
pub struct Renewal<'a> {
    /// The lifetime it replaced, if one was known.
    pub old: Option<&'a Lifetime>,
    pub new: &'a Lifetime,
    /// When the issuer's own certificate expires, where known.
    pub issuer_not_after: Option<SystemTime>,
    /// How long the renewal took.
    pub took: Duration,
    /// Asked for by the user rather than planned.
    pub manual: bool,
}

/// Why a renewal that worked is *capped*: the issuer handed back a lifetime
/// that renewing again at once would not improve. `None` for an ordinary
/// renewal, including one whose new lifetime is shorter but fresh (a CA that
/// moved from 90-day to 6-day certificates): that one is accepted as it is.
///
/// - already past its renewal point (the CA backdated it, or capped it near
///   its own expiry): renewing again would loop;
/// - valid for less time than the renewal itself took;
/// - expires exactly when the one it replaced did, unless the user renewed a
///   credential that was not due yet (two renewals within a second share one
///   expiry): a CA that caps at a fixed instant makes every renewal land there,
///   and renewing at two thirds of a shrinking remainder never ends.
///
/// `noun` names what was issued ("certificate", "token").
pub fn capped(policy: &RenewPolicy, r: &Renewal, now: SystemTime, noun: &str) -> Option<String> {
    let Renewal {
        old,
        new,
        issuer_not_after,
        took,
        manual,
    } = *r;
    let until = crate::clock::rfc3339(new.not_after);
    let left = new.not_after.duration_since(now).unwrap_or_default();
    let what = if left <= took {
        format!("valid only until {until}, less than the renewal itself took")
    } else if policy.is_due(new, now) {
        format!("valid only until {until}, already past its renewal point")
    } else if old.is_some_and(|o| o.not_after == new.not_after && (!manual || policy.is_due(o, now))) {
        format!("valid until {until}, no later than the one it replaced")
    } else {
        return None;
    };
    let why = match issuer_not_after {
        // A second of slack: some CAs round the leaf's end down.
        Some(ca) if new.not_after + Duration::from_secs(1) >= ca => format!(
            "that is when the issuing CA's own certificate expires ({}), so only a new CA certificate helps",
            crate::clock::rfc3339(ca)
        ),
        _ => "the CA or its role caps the lifetime (a maximum TTL, or the CA's own expiry)".to_string(),
    };
    Some(format!("the issuer gave a {noun} {what}: {why}"))
}

/// How long to wait after a capped renewal before renewing automatically
/// again: a quarter of what is left, within [`CAPPED_FLOOR_MIN`] and
/// [`CAPPED_FLOOR_MAX`], and never less than the failure backoff's base.
pub fn capped_floor(new: &Lifetime, now: SystemTime, backoff_base: Duration) -> Duration {
    let left = new.not_after.duration_since(now).unwrap_or_default();
    (left / 4).clamp(CAPPED_FLOOR_MIN, CAPPED_FLOOR_MAX).max(backoff_base)
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

    fn cap(
        old: Option<Lifetime>,
        new: Lifetime,
        ca: Option<SystemTime>,
        now: SystemTime,
        manual: bool,
    ) -> Option<String> {
        let r = Renewal {
            old: old.as_ref(),
            new: &new,
            issuer_not_after: ca,
            took: Duration::from_secs(2),
            manual,
        };
        capped(&RenewPolicy::default(), &r, now, "certificate")
    }

    fn span(from: u64, to: u64) -> Lifetime {
        Lifetime {
            not_before: at(from),
            not_after: at(to),
        }
    }

    #[test]
    fn a_renewal_already_past_its_renewal_point_is_capped() {
        // valid from now - 10 h to now + 1 h
        let now = at(36_000);
        let why = cap(Some(span(0, 36_100)), span(0, 39_600), None, now, false).unwrap();
        assert!(why.contains("already past its renewal point"), "{why}");
        assert!(why.contains("caps the lifetime"), "{why}");
    }

    #[test]
    fn a_renewal_that_lives_shorter_than_it_took_is_capped() {
        let now = at(1_000);
        let why = cap(None, span(1_000, 1_001), None, now, true).unwrap();
        assert!(why.contains("less than the renewal itself took"), "{why}");
    }

    #[test]
    fn the_same_expiry_is_capped_and_the_issuers_expiry_is_named() {
        let now = at(6_500);
        let old = span(0, 9_000);
        // fresh (not due), but not a second later than before
        let new = span(6_500, 9_000);
        let why = cap(Some(old), new, Some(at(9_000)), now, false).unwrap();
        assert!(why.contains("no later than the one it replaced"), "{why}");
        assert!(why.contains("only a new CA certificate helps"), "{why}");
        // a manual renewal of a credential that was not due yet is not capped for that
        assert_eq!(cap(Some(old), new, None, at(1_000), true), None);
        // but a manual one of a due credential is
        assert!(cap(Some(old), new, None, now, true).is_some());
    }

    #[test]
    fn a_shorter_but_fresh_lifetime_is_accepted() {
        // a 90-day certificate at its renewal point replaced by a 6-day one
        let day = 86_400;
        let now = at(60 * day);
        let old = span(0, 90 * day);
        let new = span(60 * day, 66 * day);
        assert_eq!(cap(Some(old), new, Some(at(900 * day)), now, false), None);
        // and an ordinary renewal is not capped either
        assert_eq!(cap(Some(old), span(60 * day, 150 * day), None, now, false), None);
    }

    #[test]
    fn the_capped_floor_is_a_quarter_of_what_is_left_within_bounds() {
        let now = at(0);
        assert_eq!(
            capped_floor(&span(0, 3_600), now, Duration::from_secs(30)),
            CAPPED_FLOOR_MIN
        );
        assert_eq!(
            capped_floor(&span(0, 8 * 3_600), now, Duration::from_secs(30)),
            Duration::from_secs(2 * 3_600)
        );
        assert_eq!(
            capped_floor(&span(0, 365 * 86_400), now, Duration::from_secs(30)),
            CAPPED_FLOOR_MAX
        );
        // already expired: still the minimum, never zero
        assert_eq!(capped_floor(&span(0, 10), at(20), Duration::ZERO), CAPPED_FLOOR_MIN);
        // a backoff base above the floor wins
        assert_eq!(
            capped_floor(&span(0, 3_600), now, Duration::from_secs(3_600)),
            Duration::from_secs(3_600)
        );
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
