//! Scheduler behaviour on paused tokio time with an injected wall clock.
//!
//! The source here is scripted in memory so each test controls exactly when
//! renewals succeed or fail; everything else (scheduler, store, events) is the
//! real engine. No test sleeps for real.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use evergreen_core::backoff::Backoff;
use evergreen_core::clock::{ClockHandle, ManualClock};
use evergreen_core::config::{Config, CredentialConfig, EngineSettings};
use evergreen_core::events::{EventBus, EventKind};
use evergreen_core::model::{Kind, Lifetime, State};
use evergreen_core::policy::RenewPolicy;
use evergreen_core::scheduler::{self, Handle, SchedulerDeps};
use evergreen_core::sources::x509_file::{self, X509FileSpec};
use evergreen_core::sources::{
    Beat, Failure, FailureClass, Heartbeat, Limit, Observation, RenewRequest, Renewed, Source,
};
use evergreen_core::store::Store;

const T0: u64 = 1_900_000_000;

#[derive(Debug, Default)]
struct Script {
    lifetime: Option<Lifetime>,
    issue_for: Duration,
    renew_takes: Duration,
    fail_next: u32,
    fail_class: Option<FailureClass>,
    can_renew: bool,
    renewals_at: Vec<SystemTime>,
    attempts_at: Vec<SystemTime>,
    limit: Option<Limit>,
    beat_every: Option<Duration>,
    beat_fail_next: u32,
    beats_at: Vec<SystemTime>,
    /// How far before "now" each issued lifetime starts (a CA that backdates).
    backdate: Duration,
    /// Renewals that panic before anything else.
    panic_next: u32,
    /// Jobs running right now, and the most that ever ran at once.
    in_flight: u32,
    max_in_flight: u32,
    /// What every look and renewal says of the hard end.
    hard_end: Option<evergreen_core::model::HardEnd>,
}

/// Counts a job as running for as long as it lives, panics included.
struct Running(Arc<Mutex<Script>>);

impl Running {
    fn start(s: &Arc<Mutex<Script>>) -> Running {
        let mut g = s.lock().unwrap();
        g.in_flight += 1;
        g.max_in_flight = g.max_in_flight.max(g.in_flight);
        Running(s.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(mut g) = self.0.lock() {
            g.in_flight -= 1;
        }
    }
}

#[derive(Debug, Clone)]
struct Scripted {
    clock: ClockHandle,
    s: Arc<Mutex<Script>>,
}

#[async_trait]
impl Source for Scripted {
    fn kind(&self) -> Kind {
        evergreen_core::sources::x509_file::KIND
    }
    fn can_renew(&self) -> bool {
        self.s.lock().unwrap().can_renew
    }
    fn heartbeat(&self) -> Option<Heartbeat> {
        self.s.lock().unwrap().beat_every.map(|every| Heartbeat {
            every,
            pause_after: Some(3),
        })
    }
    async fn beat(&self, _now: SystemTime) -> Result<Beat, Failure> {
        let mut s = self.s.lock().unwrap();
        s.beats_at.push(self.clock.now());
        if s.beat_fail_next > 0 {
            s.beat_fail_next -= 1;
            return Err(Failure::transient("control plane unreachable"));
        }
        Ok(Beat::default())
    }
    async fn observe(&self, _now: SystemTime) -> Result<Observation, Failure> {
        let _running = Running::start(&self.s);
        let l = self.s.lock().unwrap().lifetime;
        let limit = self.s.lock().unwrap().limit.clone();
        let end = self.s.lock().unwrap().hard_end.clone();
        l.map(|lifetime| Observation {
            limit,
            ..Observation::of(lifetime).ending(end)
        })
        .ok_or_else(|| Failure::transient("nothing there"))
    }
    async fn renew(&self, _req: RenewRequest) -> Result<Renewed, Failure> {
        let _running = Running::start(&self.s);
        let panics = {
            let mut s = self.s.lock().unwrap();
            let p = s.panic_next > 0;
            s.panic_next = s.panic_next.saturating_sub(1);
            p
        };
        if panics {
            // What an absurd server value did before every time value was checked.
            let _ = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::MAX);
        }
        let takes = self.s.lock().unwrap().renew_takes;
        tokio::time::sleep(takes).await;
        let now = self.clock.now();
        let mut s = self.s.lock().unwrap();
        s.attempts_at.push(now);
        if s.fail_next > 0 {
            s.fail_next -= 1;
            return Err(Failure {
                class: s.fail_class.unwrap_or(FailureClass::Transient),
                message: "server said no".into(),
                stderr_tail: None,
            });
        }
        let lifetime = Lifetime {
            not_before: now - s.backdate,
            not_after: now + s.issue_for,
        };
        s.lifetime = Some(lifetime);
        s.renewals_at.push(now);
        Ok(Renewed {
            observation: Observation {
                limit: s.limit.clone(),
                ..Observation::of(lifetime).ending(s.hard_end.clone())
            },
            note: String::new(),
        })
    }
}

struct Rig {
    clock: ManualClock,
    handle: Handle,
    script: Arc<Mutex<Script>>,
    events: tokio::sync::broadcast::Receiver<evergreen_core::events::Event>,
    store: Arc<Store>,
}

fn t(s: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(T0 + s)
}

fn cred(name: &str, policy: RenewPolicy, jitter: f64) -> CredentialConfig {
    CredentialConfig {
        name: name.into(),
        enabled: true,
        policy,
        jitter: Some(jitter),
        kind: x509_file::KIND,
        spec: Arc::new(X509FileSpec {
            path: PathBuf::from("/unused"),
            renew_command: None,
            reload_command: None,
            command_timeout: Duration::from_secs(1),
        }),
    }
}

fn settings() -> EngineSettings {
    EngineSettings {
        jitter: 0.0,
        backoff: Backoff {
            jitter: 0.0,
            ..Backoff::default()
        },
        ..EngineSettings::default()
    }
}

fn rig(script: Script, creds: Vec<CredentialConfig>, engine: EngineSettings, seed: u64) -> Rig {
    let store = Arc::new(Store::open_in_memory().unwrap());
    rig_on(script, creds, engine, seed, store, t(0))
}

/// A scheduler on a given store, its wall clock starting at `start`: a restart.
fn rig_on(
    script: Script,
    creds: Vec<CredentialConfig>,
    engine: EngineSettings,
    seed: u64,
    store: Arc<Store>,
    start: SystemTime,
) -> Rig {
    let clock = ManualClock::new(start);
    let script = Arc::new(Mutex::new(script));
    let bus = EventBus::default();
    let events = bus.subscribe();
    let handle_clock: ClockHandle = Arc::new(clock.clone());
    let src = Scripted {
        clock: handle_clock.clone(),
        s: script.clone(),
    };
    let mut deps = SchedulerDeps::new(handle_clock, store.clone(), bus);
    deps.seed = Some(seed);
    deps.sources = Arc::new(move |_cfg: &CredentialConfig| Arc::new(src.clone()) as Arc<dyn Source>);
    let (handle, _join) = scheduler::spawn(
        Config {
            engine,
            credentials: creds,
            warnings: Vec::new(),
        },
        deps,
    );
    Rig {
        clock,
        handle,
        script,
        events,
        store,
    }
}

/// A second scheduler on `r`'s store, clock and script: the engine started again.
fn restarted(r: &Rig, creds: Vec<CredentialConfig>) -> Handle {
    let clock: ClockHandle = Arc::new(r.clock.clone());
    let src = Scripted {
        clock: clock.clone(),
        s: r.script.clone(),
    };
    let mut deps = SchedulerDeps::new(clock, r.store.clone(), EventBus::default());
    deps.sources = Arc::new(move |_cfg: &CredentialConfig| Arc::new(src.clone()) as Arc<dyn Source>);
    scheduler::spawn(
        Config {
            engine: settings(),
            credentials: creds,
            warnings: Vec::new(),
        },
        deps,
    )
    .0
}

fn life(from: u64, to: u64) -> Option<Lifetime> {
    Some(Lifetime {
        not_before: t(from),
        not_after: t(to),
    })
}

fn renewable(lifetime: Option<Lifetime>, issue_for: u64) -> Script {
    Script {
        lifetime,
        issue_for: Duration::from_secs(issue_for),
        can_renew: true,
        ..Script::default()
    }
}

async fn advance(secs: u64) {
    tokio::time::sleep(Duration::from_secs(secs)).await;
}

fn drain(r: &mut Rig) -> Vec<EventKind> {
    let mut v = Vec::new();
    while let Ok(e) = r.events.try_recv() {
        v.push(e.kind);
    }
    v
}

#[tokio::test(start_paused = true)]
async fn renews_when_two_thirds_of_the_lifetime_have_elapsed() {
    let r = rig(
        renewable(life(0, 900), 900),
        vec![cred("a", RenewPolicy::default(), 0.0)],
        settings(),
        1,
    );
    advance(599).await;
    assert!(
        r.script.lock().unwrap().renewals_at.is_empty(),
        "renewed before the renewal point"
    );
    advance(2).await;
    assert_eq!(r.script.lock().unwrap().renewals_at, vec![t(600)]);
    // and again two thirds into the new certificate
    advance(600).await;
    assert_eq!(r.script.lock().unwrap().renewals_at, vec![t(600), t(1200)]);
    let st = &r.handle.statuses()[0];
    assert_eq!(st.state, State::Healthy);
    assert!(st.last_result.as_ref().unwrap().ok);
    assert_eq!(
        r.store
            .history(Some("a"), 10)
            .unwrap()
            .iter()
            .filter(|h| h.action == "renew" && h.outcome == "success")
            .count(),
        2
    );
}

#[tokio::test(start_paused = true)]
async fn renew_at_fraction_and_renew_before_are_honoured() {
    let r = rig(
        renewable(life(0, 1000), 1000),
        vec![cred("a", RenewPolicy::Fraction(0.5), 0.0)],
        settings(),
        1,
    );
    advance(501).await;
    assert_eq!(r.script.lock().unwrap().renewals_at, vec![t(500)]);
    let r = rig(
        renewable(life(0, 1000), 1000),
        vec![cred("b", RenewPolicy::Before(Duration::from_secs(100)), 0.0)],
        settings(),
        1,
    );
    advance(901).await;
    assert_eq!(r.script.lock().unwrap().renewals_at, vec![t(900)]);
}

#[tokio::test(start_paused = true)]
async fn jittered_deadlines_stay_within_ten_percent_of_the_wait() {
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..40 {
        let r = rig(
            renewable(life(0, 3000), 3000),
            vec![cred("a", RenewPolicy::default(), 0.1)],
            settings(),
            seed,
        );
        advance(2201).await;
        let at = r.script.lock().unwrap().renewals_at[0];
        // the point is at 2000 s; ±10 % of the 2000 s wait
        assert!(
            at >= t(1800) && at <= t(2200),
            "seed {seed}: renewed at {:?}",
            at.duration_since(t(0))
        );
        seen.insert(at);
        r.handle.shutdown();
    }
    assert!(
        seen.len() > 20,
        "jitter should spread renewals, got {} distinct instants",
        seen.len()
    );
}

#[tokio::test(start_paused = true)]
async fn failures_back_off_30s_doubling_to_a_5_minute_cap_then_recover() {
    // due two thirds into a 90 s certificate, at 60 s
    let mut s = renewable(life(0, 90), 100_000);
    s.fail_next = 7;
    let mut r = rig(s, vec![cred("a", RenewPolicy::default(), 0.0)], settings(), 1);
    advance(61).await;
    assert!(matches!(r.handle.statuses()[0].state, State::Failing { streak: 1, .. }));
    advance(30 + 60 + 120 + 240 + 300 + 300 + 300).await;
    let at = r.script.lock().unwrap().attempts_at.clone();
    let gaps: Vec<u64> = at
        .windows(2)
        .map(|w| w[1].duration_since(w[0]).unwrap().as_secs())
        .collect();
    assert_eq!(gaps, vec![30, 60, 120, 240, 300, 300, 300]);
    assert_eq!(
        r.script.lock().unwrap().renewals_at.len(),
        1,
        "the eighth attempt succeeds"
    );
    let kinds = drain(&mut r);
    let fails: Vec<u32> = kinds
        .iter()
        .filter_map(|k| match k {
            EventKind::RenewalFailed { streak, .. } => Some(*streak),
            _ => None,
        })
        .collect();
    assert_eq!(fails, (1..=7).collect::<Vec<_>>());
    assert!(kinds
        .iter()
        .any(|k| matches!(k, EventKind::Recovered { after_failures: 7, .. })));
    assert_eq!(r.handle.statuses()[0].state, State::Healthy);
}

#[tokio::test(start_paused = true)]
async fn manual_renew_is_single_flight() {
    let mut s = renewable(life(0, 100_000), 100_000);
    s.renew_takes = Duration::from_secs(10);
    let r = rig(s, vec![cred("a", RenewPolicy::default(), 0.0)], settings(), 1);
    advance(1).await;
    let (a, b) = tokio::join!(r.handle.renew("a"), async {
        advance(3).await;
        r.handle.renew("a").await
    });
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.ok && b.ok);
    assert_eq!(a, b, "the second request joins the first and gets the same result");
    assert_eq!(r.script.lock().unwrap().attempts_at.len(), 1);
    // after it finished, a new request is a new renewal
    let c = r.handle.renew("a").await.unwrap();
    assert!(c.ok);
    assert_eq!(r.script.lock().unwrap().attempts_at.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn manual_renew_reports_unknown_and_unrenewable_credentials() {
    let mut s = renewable(life(0, 1000), 1000);
    s.can_renew = false;
    let r = rig(s, vec![cred("a", RenewPolicy::default(), 0.0)], settings(), 1);
    advance(1).await;
    let err = r.handle.renew("nope").await.unwrap_err().to_string();
    assert!(err.contains("no credential named \"nope\""), "{err}");
    let out = r.handle.renew("a").await.unwrap();
    assert!(!out.ok && out.message.contains("renew_command"), "{out:?}");
    assert!(r.script.lock().unwrap().attempts_at.is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_eight_hour_suspend_renews_the_due_credential_at_once() {
    // 3 h certificate, due after 2 h. The machine sleeps 8 h: tokio's clock does not move.
    let mut r = rig(
        renewable(life(0, 3 * 3600), 3 * 3600),
        vec![cred("a", RenewPolicy::default(), 0.0)],
        settings(),
        1,
    );
    // Mid-way between two drift checks (one a minute), so only the alarm is quick.
    advance(30).await;
    let mono = tokio::time::Instant::now();
    r.clock.jump(Duration::from_secs(8 * 3600));
    // The clock's alarm rings at the jump, without logind's help: the
    // renewal starts within 2 s (the drift check alone took up to 60 s).
    while r.script.lock().unwrap().renewals_at.is_empty() {
        advance(1).await;
    }
    assert!(
        mono.elapsed() < Duration::from_secs(2),
        "renewed {:?} after waking",
        mono.elapsed()
    );
    let kinds = drain(&mut r);
    assert!(
        kinds
            .iter()
            .any(|k| matches!(k, EventKind::Resumed { slept_secs, .. } if *slept_secs >= 8 * 3600 - 120)),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|k| matches!(k, EventKind::Expired { .. })),
        "it had expired during the sleep: {kinds:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_clock_set_back_renews_neither_early_nor_late() {
    // 3 h certificate, due after 2 h (jitter 0). At 30 min the clock is
    // set back an hour: the deadline is a wall-clock instant, so the
    // renewal comes when the wall clock reaches it, once, 2.5 h later.
    let mut r = rig(
        renewable(life(0, 3 * 3600), 3 * 3600),
        vec![cred("a", RenewPolicy::default(), 0.0)],
        settings(),
        1,
    );
    advance(30 * 60).await;
    r.clock.set_back(Duration::from_secs(3600));
    r.handle.settle().await.unwrap();
    advance(2 * 3600 + 29 * 60).await;
    assert!(
        r.script.lock().unwrap().renewals_at.is_empty(),
        "nothing is renewed before the wall clock reaches the deadline"
    );
    advance(2 * 60).await;
    assert_eq!(
        r.script.lock().unwrap().renewals_at.len(),
        1,
        "renewed once, at the deadline"
    );
    let kinds = drain(&mut r);
    assert!(
        !kinds.iter().any(|k| matches!(k, EventKind::Resumed { .. })),
        "a clock set back is no resume: {kinds:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_logind_resume_signal_renews_immediately() {
    let r = rig(
        renewable(life(0, 3 * 3600), 3 * 3600),
        vec![cred("a", RenewPolicy::default(), 0.0)],
        settings(),
        1,
    );
    advance(1).await;
    r.clock.jump(Duration::from_secs(8 * 3600));
    r.handle.resumed(8 * 3600, "logind");
    advance(1).await;
    assert_eq!(r.script.lock().unwrap().renewals_at.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_retired_credential_is_terminal_and_never_retried() {
    let mut s = renewable(life(0, 100), 100);
    s.fail_next = 1;
    s.fail_class = Some(FailureClass::Retired);
    let mut r = rig(s, vec![cred("a", RenewPolicy::default(), 0.0)], settings(), 1);
    advance(3600).await;
    assert_eq!(r.script.lock().unwrap().attempts_at.len(), 1);
    assert!(matches!(r.handle.statuses()[0].state, State::Retired { .. }));
    assert!(drain(&mut r).iter().any(|k| matches!(k, EventKind::Retired { .. })));
    let out = r.handle.renew("a").await.unwrap();
    assert!(!out.ok && out.message.contains("retired"));
}

/// What the faces offer is what the engine would do: a credential the
/// server rejected shows as expired, and an expired one is offered Renew now,
/// but not this one (the engine refuses it), and the status says why.
#[tokio::test(start_paused = true)]
async fn renew_now_is_offered_exactly_when_the_engine_would_renew_and_says_why_not() {
    let mut s = renewable(life(0, 100), 100);
    s.fail_next = 1;
    s.fail_class = Some(FailureClass::Rejected);
    let r = rig(s, vec![cred("a", RenewPolicy::default(), 0.0)], settings(), 1);
    advance(3600).await;
    let st = r.handle.statuses()[0].clone();
    assert_eq!(st.state, State::Expired);
    assert!(!st.offers.renew && !st.offers.renew_helps, "{:?}", st.offers);
    let why = st.offers.renew_refused.clone().expect("why it is not offered");
    let out = r.handle.renew("a").await.unwrap();
    assert!(!out.ok && out.message.ends_with(&why), "{} / {why}", out.message);
    // A healthy one is offered, with nothing to explain.
    let r = rig(
        renewable(life(0, 9000), 9000),
        vec![cred("b", RenewPolicy::default(), 0.0)],
        settings(),
        1,
    );
    advance(1).await;
    let st = r.handle.statuses()[0].clone();
    assert!(st.offers.renew && st.offers.renew_refused.is_none(), "{:?}", st.offers);
}

#[tokio::test(start_paused = true)]
async fn watch_only_credentials_announce_each_expiry_band_once_then_expire() {
    let day = 86_400;
    let mut s = renewable(life(0, 30 * day), 0);
    s.can_renew = false;
    let mut r = rig(s, vec![cred("a", RenewPolicy::default(), 0.0)], settings(), 1);
    advance(30 * day + 10).await;
    let bands: Vec<u64> = drain(&mut r)
        .into_iter()
        .filter_map(|k| match k {
            EventKind::ExpiryApproaching { threshold_secs, .. } => Some(threshold_secs),
            EventKind::Expired { .. } => Some(0),
            _ => None,
        })
        .collect();
    assert_eq!(bands, vec![7 * day, day, 3600, 0]);
    assert_eq!(r.handle.statuses()[0].state, State::Expired);
}

#[tokio::test(start_paused = true)]
async fn config_changes_add_remove_and_keep_unchanged_credentials() {
    let r = rig(
        renewable(life(0, 9000), 9000),
        vec![
            cred("a", RenewPolicy::default(), 0.0),
            cred("b", RenewPolicy::default(), 0.0),
        ],
        settings(),
        1,
    );
    advance(1).await;
    let (added, removed, changed) = r
        .handle
        .apply(Config {
            engine: settings(),
            credentials: vec![
                cred("a", RenewPolicy::default(), 0.0),
                cred("c", RenewPolicy::Fraction(0.5), 0.0),
            ],
            warnings: Vec::new(),
        })
        .await
        .unwrap();
    assert_eq!((added, removed, changed), (1, 1, 0));
    advance(1).await;
    let names: Vec<String> = r.handle.statuses().into_iter().map(|s| s.name).collect();
    assert_eq!(names, vec!["a", "c"]);
    assert!(r.store.status("b").unwrap().is_none());
}

#[tokio::test(start_paused = true)]
async fn idle_means_no_work_between_deadlines() {
    let r = rig(
        renewable(life(0, 30 * 86_400), 30 * 86_400),
        vec![cred("a", RenewPolicy::default(), 0.0)],
        settings(),
        1,
    );
    advance(1).await;
    let before = r.store.history(None, 100).unwrap().len();
    advance(10 * 86_400).await;
    assert!(r.script.lock().unwrap().attempts_at.is_empty());
    assert_eq!(r.store.history(None, 100).unwrap().len(), before);
}

#[tokio::test(start_paused = true)]
async fn heartbeats_go_out_at_start_and_every_interval_and_three_lost_ones_pause_until_one_works() {
    let mut r = rig(
        Script {
            beat_every: Some(Duration::from_secs(30)),
            ..renewable(life(0, 86_400), 86_400)
        },
        vec![cred("host", RenewPolicy::default(), 0.0)],
        settings(),
        1,
    );
    advance(1).await;
    assert_eq!(r.script.lock().unwrap().beats_at, vec![t(0)], "an immediate heartbeat");
    advance(60).await;
    assert_eq!(r.script.lock().unwrap().beats_at, vec![t(0), t(30), t(60)]);
    r.script.lock().unwrap().beat_fail_next = 3;
    advance(60).await; // t=90, t=120 fail
    assert!(matches!(r.handle.statuses()[0].state, State::Healthy));
    advance(30).await; // t=150: the third in a row
    assert!(
        matches!(r.handle.statuses()[0].state, State::Paused { .. }),
        "{:?}",
        r.handle.statuses()[0].state
    );
    let ev = drain(&mut r);
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, EventKind::HeartbeatFailed { .. }))
            .count(),
        3
    );
    assert_eq!(ev.iter().filter(|e| matches!(e, EventKind::Paused { .. })).count(), 1);
    // Heartbeats go on at the same interval (no backoff), and the next one recovers.
    advance(30).await;
    assert_eq!(r.script.lock().unwrap().beats_at.last(), Some(&t(180)));
    assert_eq!(r.handle.statuses()[0].state, State::Healthy);
    let ev = drain(&mut r);
    assert!(
        ev.iter()
            .any(|e| matches!(e, EventKind::Recovered { after_failures: 3, .. })),
        "{ev:?}"
    );
    assert_eq!(
        r.handle.statuses()[0].last_heartbeat,
        Some(evergreen_core::clock::unix_millis(t(180)))
    );
}

#[tokio::test(start_paused = true)]
async fn a_credential_found_final_is_never_renewed_and_expires_on_time() {
    let mut r = rig(
        renewable(life(0, 900), 900),
        vec![cred("tok", RenewPolicy::Fraction(0.5), 0.0)],
        settings(),
        1,
    );
    advance(1).await;
    assert_eq!(r.handle.statuses()[0].state, State::Healthy);
    // From now on the server says this lifetime is capped (a max TTL reached).
    r.script.lock().unwrap().limit = Some(Limit::Final);
    advance(450).await;
    // The look before the renewal at 450 s saw it: final, and no renewal.
    assert!(r.script.lock().unwrap().attempts_at.is_empty());
    let expires_at = evergreen_core::clock::unix_millis(t(900));
    assert_eq!(r.handle.statuses()[0].state, State::Final { expires_at });
    let out = r.handle.renew("tok").await.unwrap();
    assert!(!out.ok && out.message.contains("maximum lifetime"), "{out:?}");
    advance(450).await;
    assert!(r.script.lock().unwrap().attempts_at.is_empty(), "renewed after final");
    assert_eq!(r.handle.statuses()[0].state, State::Expired);
    let ev = drain(&mut r);
    assert_eq!(ev.iter().filter(|e| matches!(e, EventKind::Final { .. })).count(), 1);
    assert!(ev.iter().any(|e| matches!(e, EventKind::Expired { .. })), "{ev:?}");
}

#[tokio::test(start_paused = true)]
async fn a_user_pause_stops_renewals_survives_a_restart_and_resume_catches_up() {
    let r = rig(
        renewable(life(0, 900), 900),
        vec![cred("a", RenewPolicy::default(), 0.0)],
        settings(),
        1,
    );
    advance(1).await;
    r.handle.set_paused("a", true).await.unwrap();
    advance(1).await;
    assert_eq!(
        r.handle.statuses()[0].state,
        State::Paused {
            reason: scheduler::USER_PAUSE_REASON.into()
        }
    );
    // Past the renewal point (600 s): nothing happens while paused, and a manual renew is refused.
    advance(700).await;
    assert!(r.script.lock().unwrap().attempts_at.is_empty(), "renewed while paused");
    let out = r.handle.renew("a").await.unwrap();
    assert!(!out.ok && out.message.contains("paused"), "{out:?}");
    assert!(matches!(
        r.handle.set_paused("nope", true).await,
        Err(evergreen_core::Error::UnknownCredential { .. })
    ));

    // A second engine on the same store starts paused too.
    let again = restarted(&r, vec![cred("a", RenewPolicy::default(), 0.0)]);
    advance(1).await;
    assert_eq!(again.statuses()[0].state.name(), "paused");
    again.shutdown();

    // Resuming looks again and renews the overdue credential at once.
    r.handle.set_paused("a", false).await.unwrap();
    advance(2).await;
    assert_eq!(
        r.script.lock().unwrap().renewals_at.len(),
        1,
        "renewed right after resuming"
    );
    assert_eq!(r.handle.statuses()[0].state, State::Healthy);
    let h = r.store.history(Some("a"), 20).unwrap();
    assert!(h.iter().any(|e| e.outcome == "paused") && h.iter().any(|e| e.outcome == "resumed"));
}

#[tokio::test(start_paused = true)]
async fn a_pause_for_a_while_ends_on_its_own_even_across_a_restart_and_renews_what_fell_due() {
    let r = rig(
        renewable(life(0, 900), 900),
        vec![cred("a", RenewPolicy::default(), 0.0)],
        settings(),
        1,
    );
    advance(1).await;
    // Paused from 1 s until 1000 s, past the renewal point (600 s).
    r.handle.pause_until("a", true, Some(t(1000))).await.unwrap();
    advance(1).await;
    let st = &r.handle.statuses()[0];
    assert_eq!(st.state.name(), "paused");
    assert_eq!(st.paused_until, Some(evergreen_core::clock::unix_millis(t(1000))));
    assert!(
        r.handle.pause_until("a", true, Some(t(1))).await.is_err(),
        "a pause that ended already is refused"
    );

    // A restart on the same store keeps the pause and its end.
    let again = restarted(&r, vec![cred("a", RenewPolicy::default(), 0.0)]);
    advance(1).await;
    assert_eq!(again.statuses()[0].paused_until, st.paused_until);
    again.shutdown();

    advance(900).await;
    assert!(r.script.lock().unwrap().renewals_at.is_empty(), "renewed while paused");
    // At 1000 s the pause is over: no one resumed it, and the overdue renewal runs.
    advance(100).await;
    let renewals = r.script.lock().unwrap().renewals_at.clone();
    assert_eq!(renewals.len(), 1, "renewed once the pause ended");
    assert!(renewals[0] >= t(1000) && renewals[0] <= t(1002), "{renewals:?}");
    let st = &r.handle.statuses()[0];
    assert_eq!(
        (st.state.name(), st.paused_until, st.user_paused),
        ("healthy", None, false)
    );
    let h = r.store.history(Some("a"), 20).unwrap();
    assert!(
        h.iter().any(|e| e.message.contains("paused by the user until")),
        "{h:?}"
    );
    assert!(h.iter().any(|e| e.outcome == "resumed"), "{h:?}");
}

#[tokio::test(start_paused = true)]
async fn a_capped_renewal_is_not_retried_before_its_floor() {
    // A CA that backdates each certificate by 10 h and lets it live 1 h more:
    // every one is past its renewal point the moment it is issued.
    let mut s = renewable(life(0, 90), 3600);
    s.backdate = Duration::from_secs(10 * 3600);
    let mut r = rig(s, vec![cred("a", RenewPolicy::default(), 0.0)], settings(), 1);
    advance(61).await;
    assert_eq!(r.script.lock().unwrap().renewals_at, vec![t(60)]);
    let st = r.handle.statuses().remove(0);
    let State::Capped { reason, next_try_at } = &st.state else {
        panic!("expected capped, got {:?}", st.state)
    };
    assert_eq!(*next_try_at, evergreen_core::clock::unix_millis(t(60 + 900)));
    assert!(reason.contains("already past its renewal point"), "{reason}");
    assert!(st.last_result.as_ref().unwrap().message.contains("renewed, but capped"));
    assert_eq!(
        st.next_action.as_ref().unwrap().what,
        evergreen_core::model::Next::RenewAgain
    );
    // not one more request before the floor
    advance(900 - 3).await;
    assert_eq!(
        r.script.lock().unwrap().renewals_at.len(),
        1,
        "renewed before the capped floor"
    );
    // then one every 15 minutes at most, not one every few seconds
    advance(3 + 3 * 900).await;
    let at = r.script.lock().unwrap().renewals_at.clone();
    let gaps: Vec<u64> = at
        .windows(2)
        .map(|w| w[1].duration_since(w[0]).unwrap().as_secs())
        .collect();
    assert_eq!(gaps, vec![900, 900, 900, 900]);
    let history = r.store.history(Some("a"), 20).unwrap();
    assert_eq!(history.iter().filter(|h| h.outcome == "capped").count(), 5);
    // counted as capped, not as full renewals (evergreen_renewals_total's result)
    let counts = r.handle.statuses().remove(0).renewals;
    assert_eq!((counts.capped, counts.success), (5, 0), "{counts:?}");
    assert!(r.handle.statuses().remove(0).last_renewed_at.is_some());
    // one episode: every Capped event names the same start, so it notifies once
    let since: std::collections::BTreeSet<i64> = drain(&mut r)
        .into_iter()
        .filter_map(|k| match k {
            EventKind::Capped { since, .. } => Some(since),
            _ => None,
        })
        .collect();
    assert_eq!(since.len(), 1, "{since:?}");
    // the user can still ask, and is answered at once
    let out = r.handle.renew("a").await.unwrap();
    assert!(out.ok && out.message.contains("capped"), "{}", out.message);
}

#[tokio::test(start_paused = true)]
async fn a_capped_floor_survives_a_restart() {
    let mut s = renewable(life(0, 90), 3600);
    s.backdate = Duration::from_secs(10 * 3600);
    let r = rig(s, vec![cred("a", RenewPolicy::default(), 0.0)], settings(), 1);
    advance(61).await;
    assert!(matches!(r.handle.statuses()[0].state, State::Capped { .. }));
    // a second scheduler on the same store and the same (capped) certificate
    let lifetime = r.script.lock().unwrap().lifetime;
    r.handle.shutdown();
    let mut s2 = renewable(lifetime, 3600);
    s2.backdate = Duration::from_secs(10 * 3600);
    let r2 = rig_on(
        s2,
        vec![cred("a", RenewPolicy::default(), 0.0)],
        settings(),
        1,
        r.store.clone(),
        t(61),
    );
    advance(60).await;
    assert!(
        r2.script.lock().unwrap().renewals_at.is_empty(),
        "a restart bought the capping CA another request"
    );
    assert!(matches!(r2.handle.statuses()[0].state, State::Capped { .. }));
}

#[tokio::test(start_paused = true)]
async fn a_panicking_renewal_is_a_failure_and_the_next_try_still_runs() {
    let mut s = renewable(life(0, 100_000), 100_000);
    s.panic_next = 1;
    let r = rig(s, vec![cred("a", RenewPolicy::default(), 0.0)], settings(), 1);
    advance(1).await;
    // the manual renew that panics is answered, not left waiting (on paused
    // time, a wedge makes the runtime idle and the timeout fires at once)
    let out = tokio::time::timeout(Duration::from_secs(3600), r.handle.renew("a"))
        .await
        .expect("a renewal that panicked left its waiter hanging")
        .unwrap();
    assert!(!out.ok);
    assert!(
        out.message.contains("internal error while renewing a") && out.message.contains("this is a bug"),
        "{}",
        out.message
    );
    let st = r.handle.statuses().remove(0);
    assert_eq!(
        st.state,
        State::Failing {
            streak: 1,
            next_retry_at: evergreen_core::clock::unix_millis(t(31)),
            offline: false,
        }
    );
    // the retry after the backoff runs, and works
    advance(31).await;
    assert_eq!(r.script.lock().unwrap().renewals_at, vec![t(31)]);
    assert_eq!(r.handle.statuses()[0].state, State::Healthy);
}

#[tokio::test(start_paused = true)]
async fn a_config_reload_during_a_renewal_never_runs_a_second_job_beside_it() {
    let mut s = renewable(life(0, 90), 100_000);
    s.renew_takes = Duration::from_secs(60);
    let r = rig(s, vec![cred("a", RenewPolicy::default(), 0.0)], settings(), 1);
    advance(61).await;
    assert_eq!(r.script.lock().unwrap().in_flight, 1, "the renewal due at 60 s runs");
    let (_, _, changed) = r
        .handle
        .apply(Config {
            engine: settings(),
            credentials: vec![cred("a", RenewPolicy::Fraction(0.5), 0.0)],
            warnings: Vec::new(),
        })
        .await
        .unwrap();
    assert_eq!(changed, 1);
    advance(120).await;
    let s = r.script.lock().unwrap();
    assert_eq!(s.max_in_flight, 1, "two jobs ran at once for one credential");
    assert_eq!(s.attempts_at, vec![t(120)], "the reloaded credential renewed again");
    drop(s);
    // after the old job, the new settings look at what it wrote
    assert_eq!(r.handle.statuses()[0].state, State::Healthy);
}

#[tokio::test(start_paused = true)]
async fn every_credential_has_a_status_the_moment_the_scheduler_is_spawned() {
    // No await between spawn and the question: a client that asks at once
    // (the socket is served right after) sees every credential, not some.
    let r = rig(
        renewable(life(0, 900), 900),
        vec![
            cred("a", RenewPolicy::default(), 0.0),
            cred("b", RenewPolicy::default(), 0.0),
        ],
        settings(),
        1,
    );
    let names: Vec<String> = r.handle.statuses().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["a", "b"]);
}

#[tokio::test(start_paused = true)]
async fn a_failure_streak_keeps_its_identity_across_restarts_so_it_is_announced_once() {
    use evergreen_core::clock::Clock;
    use evergreen_core::notify_policy::Notifier;
    let failing = |lifetime| {
        let mut s = renewable(lifetime, 100_000);
        s.fail_next = 1000;
        s
    };
    let creds = || vec![cred("a", RenewPolicy::default(), 0.0)];
    // Failures only: no expiry bands in the way.
    let quiet = || EngineSettings {
        notify_before: Vec::new(),
        ..settings()
    };
    let mut r = rig(failing(life(0, 900)), creds(), quiet(), 1);
    let notifier = Notifier::new(r.store.clone());
    let mut sent: Vec<String> = Vec::new();
    let told = |r: &mut Rig, sent: &mut Vec<String>| {
        while let Ok(e) = r.events.try_recv() {
            if let Some(n) = notifier.consider(&e) {
                sent.push(n.title);
            }
        }
    };
    advance(601).await;
    told(&mut r, &mut sent);
    // Stopped and started twice while it keeps failing: one failure each time.
    for _ in 0..2 {
        let (lifetime, now) = (r.script.lock().unwrap().lifetime, r.clock.now());
        r.handle.shutdown();
        r = rig_on(failing(lifetime), creds(), quiet(), 1, r.store.clone(), now);
        advance(1).await;
        told(&mut r, &mut sent);
        assert_eq!(r.script.lock().unwrap().attempts_at.len(), 1, "one try per start");
    }
    assert!(matches!(r.handle.statuses()[0].state, State::Failing { streak: 3, .. }));
    assert_eq!(sent, ["a: renewal failed", "a: renewal failed 3 times in a row"]);
    // It works again: told once. A new run of failures later is a new episode.
    r.script.lock().unwrap().fail_next = 0;
    advance(301).await;
    told(&mut r, &mut sent);
    r.script.lock().unwrap().fail_next = 1;
    advance(70_000).await;
    told(&mut r, &mut sent);
    assert_eq!(
        sent,
        [
            "a: renewal failed",
            "a: renewal failed 3 times in a row",
            "a: renewed again",
            "a: renewal failed",
            "a: renewed again"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_manual_renew_during_a_scheduled_renewal_joins_it() {
    let mut s = renewable(life(0, 90), 100_000);
    s.renew_takes = Duration::from_secs(20);
    let r = rig(s, vec![cred("a", RenewPolicy::default(), 0.0)], settings(), 1);
    advance(65).await;
    assert_eq!(r.script.lock().unwrap().in_flight, 1, "the renewal due at 60 s runs");
    let out = r.handle.renew("a").await.unwrap();
    assert!(out.ok, "{out:?}");
    let s = r.script.lock().unwrap();
    assert_eq!(s.attempts_at, vec![t(80)], "the request joined the running renewal");
    assert_eq!(s.max_in_flight, 1);
}

#[tokio::test(start_paused = true)]
async fn heartbeats_go_on_while_a_failed_renewal_waits_for_its_retry() {
    let s = Script {
        beat_every: Some(Duration::from_secs(10)),
        fail_next: 1,
        ..renewable(life(0, 90), 100_000)
    };
    let r = rig(s, vec![cred("host", RenewPolicy::default(), 0.0)], settings(), 1);
    advance(61).await;
    assert!(matches!(r.handle.statuses()[0].state, State::Failing { streak: 1, .. }));
    // The retry waits 30 s; the heartbeats do not.
    advance(28).await;
    {
        let s = r.script.lock().unwrap();
        assert_eq!(s.attempts_at, vec![t(60)], "no retry before its time");
        assert!(
            s.beats_at.contains(&t(70)) && s.beats_at.contains(&t(80)),
            "{:?}",
            s.beats_at
        );
    }
    advance(2).await;
    assert_eq!(r.script.lock().unwrap().attempts_at, vec![t(60), t(90)]);
    assert_eq!(r.handle.statuses()[0].state, State::Healthy);
}

#[tokio::test(start_paused = true)]
async fn renew_all_due_renews_exactly_the_credentials_that_are_due() {
    // At 61 s "a" is past its renewal point and failing (so due again); "b"
    // renews only when a tenth is left (81 s).
    let mut s = renewable(life(0, 90), 100_000);
    s.fail_next = 1;
    let r = rig(
        s,
        vec![
            cred("a", RenewPolicy::default(), 0.0),
            cred("b", RenewPolicy::Fraction(0.1), 0.0),
        ],
        settings(),
        1,
    );
    advance(61).await;
    let before = r.script.lock().unwrap().attempts_at.len();
    let started = r.handle.renew_all_due().await.unwrap();
    assert_eq!(started, ["a"]);
    advance(1).await;
    assert_eq!(r.script.lock().unwrap().attempts_at.len(), before + 1);
}

#[tokio::test(start_paused = true)]
async fn renewals_go_on_when_every_store_write_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evergreen.db");
    let store = Arc::new(Store::open(&path).unwrap());
    // Another hand makes every write fail from now on (a full disk, a broken file).
    let other = rusqlite::Connection::open(&path).unwrap();
    for table in ["status", "history", "notified", "meta"] {
        for op in ["INSERT", "UPDATE"] {
            other
                .execute_batch(&format!(
                    "CREATE TRIGGER no_{op}_{table} BEFORE {op} ON {table} BEGIN SELECT RAISE(FAIL, 'the disk says no'); END;"
                ))
                .unwrap();
        }
    }
    drop(other);
    assert!(store.set_meta("k", "v").is_err(), "writes fail");
    let r = rig_on(
        renewable(life(0, 90), 900),
        vec![cred("a", RenewPolicy::default(), 0.0)],
        settings(),
        1,
        store,
        t(0),
    );
    advance(61).await;
    assert_eq!(r.script.lock().unwrap().renewals_at, vec![t(60)]);
    assert_eq!(r.handle.statuses()[0].state, State::Healthy);
    // And the next one, on the new lifetime, too.
    advance(601).await;
    assert_eq!(r.script.lock().unwrap().renewals_at, vec![t(60), t(660)]);
}

/// `settle` is the witness the "nothing happened" checks lean on: when it
/// returns, the scheduler has acted on whatever was due (here: the renewal
/// point has passed, so the credential is due and its pre-renewal look has
/// started) and said so, even if the scheduler
/// was still asleep on its timer (here the wall clock moves past the renewal
/// point while tokio's clock stands still, by less than counts as a wake-up).
/// On two threads, as the tests against real servers run, so an early answer
/// would be seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settle_returns_after_everything_due_has_started() {
    for round in 0..50 {
        let mut r = rig(
            renewable(life(0, 30), 30),
            vec![cred("a", RenewPolicy::default(), 0.0)],
            settings(),
            round,
        );
        // The first look, and the plan it makes: renew at 20 s.
        loop {
            let e = tokio::time::timeout(Duration::from_secs(10), r.events.recv()).await;
            if matches!(e.unwrap().unwrap().kind, EventKind::Observed { .. }) {
                break;
            }
        }
        r.handle.settle().await.unwrap();
        drain(&mut r);
        assert!(r.script.lock().unwrap().renewals_at.is_empty());
        r.clock.jump(Duration::from_secs(21));
        r.handle.settle().await.unwrap();
        let seen = drain(&mut r);
        assert!(
            seen.iter()
                .any(|k| matches!(k, EventKind::StateChanged { to, .. } if to == "due")),
            "round {round}: settled before the scheduler acted on the renewal point: {seen:?}"
        );
        r.handle.shutdown();
        assert!(r.handle.settle().await.is_err(), "a stopped engine says so");
    }
}

#[tokio::test(start_paused = true)]
async fn offline_failures_wait_quietly_and_the_network_coming_back_retries_at_once() {
    use evergreen_core::notify_policy::Notifier;
    // Due at 200 s; the first try fails while the machine has no network.
    let mut s = renewable(life(0, 300), 300);
    s.fail_next = 1;
    let mut r = rig(s, vec![cred("a", RenewPolicy::default(), 0.0)], settings(), 1);
    r.handle.network(false).unwrap();
    advance(201).await;
    assert_eq!(r.script.lock().unwrap().attempts_at.len(), 1);
    let state = r.handle.statuses().remove(0).state;
    assert!(matches!(state, State::Failing { offline: true, .. }), "{state:?}");
    let notifier = Notifier::new(r.store.clone());
    let mut told = Vec::new();
    let mut kinds = Vec::new();
    let mut lines = Vec::new();
    while let Ok(e) = r.events.try_recv() {
        told.extend(notifier.consider(&e).map(|n| n.title));
        lines.push(e.to_string());
        kinds.push(e.kind);
    }
    assert!(
        kinds
            .iter()
            .any(|k| matches!(k, EventKind::RenewalFailed { offline: true, .. })),
        "{kinds:?}"
    );
    assert!(told.is_empty(), "offline is no news: {told:?}");
    let said = lines.iter().find(|l| l.contains("waiting for the network")).unwrap();
    assert_eq!(
        said.matches("offline: waiting for the network").count(),
        1,
        "said once: {said}"
    );
    // The backoff would wait 30 s; the network is back after 5.
    advance(5).await;
    let back = tokio::time::Instant::now();
    r.handle.network(true).unwrap();
    while r.script.lock().unwrap().renewals_at.is_empty() {
        advance(1).await;
    }
    assert!(
        back.elapsed() < Duration::from_secs(2),
        "renewed {:?} after",
        back.elapsed()
    );
    assert_eq!(r.script.lock().unwrap().attempts_at.len(), 2);
    let kinds = drain(&mut r);
    assert!(
        kinds.iter().any(|k| matches!(k, EventKind::Network { online: true })),
        "{kinds:?}"
    );
}

/// The network watch's first look (or a manager restating its state) is
/// no change: a renewal that has just failed waits out its backoff instead
/// of being tried again within a second (seen as two attempts 56 ms apart
/// at an engine's start, when the first look came after the first failure).
/// A change of the routes while online does re-try it.
#[tokio::test(start_paused = true)]
async fn a_report_of_the_same_network_retries_nothing_and_a_change_does() {
    let mut s = renewable(life(0, 300), 300);
    s.fail_next = 10;
    let r = rig(s, vec![cred("a", RenewPolicy::default(), 0.0)], settings(), 1);
    advance(201).await;
    assert_eq!(r.script.lock().unwrap().attempts_at.len(), 1);
    r.handle.network_stands(true).unwrap();
    advance(5).await;
    assert_eq!(
        r.script.lock().unwrap().attempts_at.len(),
        1,
        "the backoff (30 s) holds: nothing changed"
    );
    r.handle.network(true).unwrap();
    advance(2).await;
    assert_eq!(
        r.script.lock().unwrap().attempts_at.len(),
        2,
        "a change while online tries again at once"
    );
}

#[tokio::test(start_paused = true)]
async fn a_long_spell_without_network_is_told_once() {
    use evergreen_core::notify_policy::Notifier;
    let mut s = renewable(life(0, 300), 300);
    s.fail_next = 1000;
    let quiet = EngineSettings {
        offline_notice: Duration::from_secs(600),
        notify_before: Vec::new(),
        ..settings()
    };
    let mut r = rig(s, vec![cred("a", RenewPolicy::default(), 0.0)], quiet, 1);
    r.handle.network(false).unwrap();
    advance(599).await;
    assert!(!drain(&mut r)
        .iter()
        .any(|k| matches!(k, EventKind::StillOffline { .. })));
    let notifier = Notifier::new(r.store.clone());
    let mut told = Vec::new();
    advance(3 * 3600).await;
    while let Ok(e) = r.events.try_recv() {
        if matches!(e.kind, EventKind::StillOffline { .. }) {
            told.extend(notifier.consider(&e).map(|n| (n.title, n.body)));
        }
    }
    assert_eq!(told.len(), 1, "once per spell: {told:?}");
    assert_eq!(told[0].0, "Evergreen has no network");
    assert!(told[0].1.contains("1 credential(s) wait"), "{}", told[0].1);
}

#[tokio::test(start_paused = true)]
async fn a_hard_end_only_the_user_can_move_is_said_once_when_first_known() {
    use evergreen_core::model::HardEnd;
    let end = |at: u64, needs_you: bool| HardEnd {
        at: evergreen_core::clock::unix_millis(t(at)),
        what: "The issuing CA's certificate expires".into(),
        then: "a new CA certificate is needed".into(),
        needs_you,
    };
    let mut r = rig(
        Script {
            hard_end: Some(end(5000, true)),
            ..renewable(life(0, 900), 900)
        },
        vec![cred("a", RenewPolicy::default(), 0.0)],
        settings(),
        1,
    );
    // The first look and two renewals see the same end: one event.
    advance(1300).await;
    assert_eq!(r.script.lock().unwrap().renewals_at.len(), 2);
    let ahead = |v: &[EventKind]| v.iter().filter(|k| matches!(k, EventKind::HardEndAhead { .. })).count();
    assert_eq!(ahead(&drain(&mut r)), 1);
    assert_eq!(r.handle.statuses()[0].hard_end, Some(end(5000, true)));
    // A new end is said again; one Evergreen moves itself (a login it makes) is not.
    r.script.lock().unwrap().hard_end = Some(end(9000, true));
    advance(600).await;
    assert_eq!(ahead(&drain(&mut r)), 1);
    r.script.lock().unwrap().hard_end = Some(end(9500, false));
    advance(600).await;
    assert_eq!(ahead(&drain(&mut r)), 0);
    assert_eq!(r.handle.statuses()[0].hard_end, Some(end(9500, false)));
}
