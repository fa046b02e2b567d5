//! The certctl agent's timing on paused tokio time with an
//! injected wall clock: the real scheduler and the real certctl source, with
//! only the wire scripted, so every request's instant is exact. No test
//! sleeps for real; the HTTPS behaviour is tested against the sandbox in
//! `tests/tests/certctl.rs`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use evergreen_core::clock::{ClockHandle, ManualClock};
use evergreen_core::config::{Config, CredentialConfig, EngineSettings, TokenSource};
use evergreen_core::events::{EventBus, EventKind};
use evergreen_core::model::State;
use evergreen_core::pki::Ca;
use evergreen_core::policy::RenewPolicy;
use evergreen_core::scheduler::{self, Handle, SchedulerDeps};
use evergreen_core::sources::certctl::{Certctl, CertctlSpec, CertctlTarget, Reply, Wire};
use evergreen_core::sources::{Failure, Source};
use evergreen_core::store::Store;
use reqwest::Method;
use serde_json::{json, Value};

const T0: u64 = 1_900_000_000;

fn t(s: f64) -> SystemTime {
    let base = SystemTime::UNIX_EPOCH + Duration::from_secs(T0);
    if s >= 0.0 {
        base + Duration::from_secs_f64(s)
    } else {
        base - Duration::from_secs_f64(-s)
    }
}

fn secs(at: SystemTime) -> f64 {
    at.duration_since(t(0.0)).unwrap().as_secs_f64()
}

#[derive(Debug, Clone)]
struct Call {
    at: SystemTime,
    agent: String,
    what: String,
    status: u16,
    /// Consecutive failed requests of this agent, this one included.
    streak: u32,
}

#[derive(Debug, Default)]
struct Control {
    calls: Vec<Call>,
    /// Every request fails with a 500.
    fail: bool,
    /// agent → the endpoint that answers 410 Gone.
    gone: HashMap<String, String>,
    streak: HashMap<String, u32>,
    /// Jobs the next poll hands out (once).
    jobs: Vec<Value>,
    /// certificate id → (PEM, seconds the fetch takes).
    certs: HashMap<String, (String, u64)>,
    /// (job id, status) as reported, in order.
    reports: Vec<(String, String)>,
}

/// The control plane, scripted: it records when each request arrived.
#[derive(Debug, Clone)]
struct Fake {
    clock: ClockHandle,
    c: Arc<Mutex<Control>>,
}

#[async_trait]
impl Wire for Fake {
    async fn call(&self, _method: Method, path: &str, body: Option<&Value>) -> Result<Reply, Failure> {
        let parts: Vec<&str> = path.split('/').collect();
        let (agent, what) = (parts[4].to_string(), parts[5].to_string());
        if what == "certificates" {
            let served = self.c.lock().unwrap().certs.get(parts[6]).cloned();
            let (pem, takes) = served.expect("a certificate the script serves");
            tokio::time::sleep(Duration::from_secs(takes)).await;
            return Ok(Reply {
                status: 200,
                content_type: "application/json".into(),
                body: json!({ "certificate_pem": pem }).to_string().into_bytes(),
            });
        }
        let mut c = self.c.lock().unwrap();
        if what == "jobs" {
            let status = body.and_then(|b| b["status"].as_str()).unwrap_or_default();
            c.reports.push((parts[6].to_string(), status.to_string()));
        }
        let status = if c.gone.get(&agent) == Some(&what) {
            410
        } else if c.fail {
            500
        } else if what == "discoveries" {
            202
        } else {
            200
        };
        let streak = c.streak.entry(agent.clone()).or_default();
        *streak = if status < 300 { 0 } else { *streak + 1 };
        let streak = *streak;
        c.calls.push(Call {
            at: self.clock.now(),
            agent,
            what: what.clone(),
            status,
            streak,
        });
        let body = match (status, what.as_str()) {
            (200, "work") => {
                let jobs = std::mem::take(&mut c.jobs);
                json!({ "count": jobs.len(), "jobs": jobs })
            }
            (200, _) | (202, _) => json!({ "status": "ok" }),
            _ => json!({ "error": "scripted failure" }),
        };
        Ok(Reply {
            status,
            content_type: "application/json".into(),
            body: body.to_string().into_bytes(),
        })
    }
}

struct Rig {
    handle: Handle,
    c: Arc<Mutex<Control>>,
    events: tokio::sync::broadcast::Receiver<evergreen_core::events::Event>,
    dir: tempfile::TempDir,
    ca: Ca,
}

impl Rig {
    fn calls(&self, agent: &str, what: &str) -> Vec<Call> {
        self.c
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| c.agent == agent && c.what == what)
            .cloned()
            .collect()
    }

    fn state(&self, name: &str) -> State {
        self.handle
            .statuses()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap()
            .state
    }

    fn events(&mut self) -> Vec<EventKind> {
        let mut v = Vec::new();
        while let Ok(e) = self.events.try_recv() {
            v.push(e.kind);
        }
        v
    }
}

/// `agents` certctl credentials (named after their agent ids), each with a
/// deployed certificate valid for 30 days, on one scheduler.
fn rig(agents: &[&str], discovery: bool) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("Timing CA", t(-3600.0), Duration::from_secs(365 * 86_400)).unwrap();
    let leaf = ca
        .issue("edge.test", t(-3600.0), Duration::from_secs(30 * 86_400))
        .unwrap();
    std::fs::write(dir.path().join("edge.pem"), &leaf.cert_pem).unwrap();
    std::fs::create_dir_all(dir.path().join("scan")).unwrap();
    std::fs::write(dir.path().join("scan/found.pem"), &leaf.cert_pem).unwrap();
    let clock = ManualClock::new(t(0.0));
    let handle_clock: ClockHandle = Arc::new(clock);
    let c = Arc::new(Mutex::new(Control::default()));
    let fake = Fake {
        clock: handle_clock.clone(),
        c: c.clone(),
    };
    let creds = agents
        .iter()
        .map(|name| CredentialConfig {
            name: name.to_string(),
            enabled: true,
            policy: RenewPolicy::default(),
            jitter: Some(0.0),
            kind: evergreen_core::sources::certctl::KIND,
            spec: Arc::new(CertctlSpec {
                url: "https://127.0.0.1:1".into(),
                agent_id: name.to_string(),
                api_key: TokenSource::Env("UNUSED_IN_THIS_TEST".into()),
                ca_bundle: None,
                key_dir: dir.path().join("keys"),
                targets: [(
                    "t-edge".to_string(),
                    CertctlTarget {
                        cert_path: dir.path().join("edge.pem"),
                        key_path: dir.path().join("edge.key"),
                    },
                )]
                .into(),
                discovery_dirs: if discovery {
                    vec![dir.path().join("scan")]
                } else {
                    Vec::new()
                },
                heartbeat_interval: Duration::from_secs(60),
                poll_interval: Duration::from_secs(30),
                discovery_interval: Duration::from_secs(6 * 3600),
            }),
        })
        .collect();
    let store = Arc::new(Store::open_in_memory().unwrap());
    let bus = EventBus::default();
    let events = bus.subscribe();
    let mut deps = SchedulerDeps::new(handle_clock, store, bus);
    deps.seed = Some(7);
    let seeds = Arc::new(Mutex::new(0u64));
    deps.sources = Arc::new(move |cfg: &CredentialConfig| {
        let spec = cfg.spec_as::<CertctlSpec>().expect("a certctl spec");
        let mut n = seeds.lock().unwrap();
        *n += 1;
        Arc::new(Certctl::with_wire(&cfg.name, spec.clone(), Arc::new(fake.clone()), *n)) as Arc<dyn Source>
    });
    let (handle, _join) = scheduler::spawn(
        Config {
            engine: EngineSettings::default(),
            credentials: creds,
            warnings: Vec::new(),
        },
        deps,
    );
    Rig {
        handle,
        c,
        events,
        dir,
        ca,
    }
}

async fn advance(secs: u64) {
    tokio::time::sleep(Duration::from_secs(secs)).await;
}

fn gaps(calls: &[Call]) -> Vec<f64> {
    calls.windows(2).map(|w| secs(w[1].at) - secs(w[0].at)).collect()
}

#[tokio::test(start_paused = true)]
async fn first_heartbeat_and_poll_wait_a_startup_jitter_then_tick_every_interval_within_ten_percent() {
    let names: Vec<String> = (0..40).map(|i| format!("agent-{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let r = rig(&refs, false);
    advance(15 * 60).await;
    let mut first_beats = Vec::new();
    for a in &refs {
        let hb = r.calls(a, "heartbeat");
        let polls = r.calls(a, "work");
        let (h0, p0) = (secs(hb[0].at), secs(polls[0].at));
        assert!((0.0..60.0).contains(&h0), "{a}: first heartbeat at {h0}");
        assert!((0.0..30.0).contains(&p0), "{a}: first poll at {p0}");
        first_beats.push(h0);
        for g in gaps(&hb) {
            assert!((54.0..=66.0).contains(&g), "{a}: heartbeat gap {g}");
        }
        for g in gaps(&polls) {
            assert!((27.0..=33.0).contains(&g), "{a}: poll gap {g}");
        }
        assert!(hb.len() >= 13 && polls.len() >= 27, "{a}: {} {}", hb.len(), polls.len());
        assert_eq!(r.state(a), State::Healthy);
    }
    // A fleet that starts at the same instant does not beat in lockstep.
    let mut seconds: Vec<u64> = first_beats.iter().map(|s| *s as u64).collect();
    seconds.sort();
    seconds.dedup();
    assert!(seconds.len() >= 20, "first heartbeats bunched: {first_beats:?}");
    let spread = first_beats.iter().cloned().fold(0.0, f64::max) - first_beats.iter().cloned().fold(60.0, f64::min);
    assert!(spread > 40.0, "spread {spread}");
}

#[tokio::test(start_paused = true)]
async fn failures_back_off_by_consecutive_failures_times_the_poll_interval_capped_at_five_minutes() {
    let mut r = rig(&["edge"], false);
    advance(120).await;
    r.events();
    r.c.lock().unwrap().fail = true;
    let failing_from = 120.0;
    advance(40 * 60).await;
    let state = r.state("edge");
    let State::Failing {
        streak, next_retry_at, ..
    } = state
    else {
        panic!("expected failing, got {state:?}")
    };
    assert!(streak > 5, "{streak}");
    assert!(next_retry_at > evergreen_core::clock::unix_millis(t(40.0 * 60.0)));
    let st = r.handle.statuses().remove(0);
    assert!(st.next_action.is_some(), "the next poll is shown: {st:?}");
    let polls: Vec<Call> = r
        .calls("edge", "work")
        .into_iter()
        .filter(|c| secs(c.at) > failing_from)
        .collect();
    let mut longest: f64 = 0.0;
    // After 1, 2, 3 … failures: 30 s, 60 s, 90 s … up to 5 min, as certctl's agent waits.
    const NOMINAL: [f64; 10] = [30.0, 60.0, 90.0, 120.0, 150.0, 180.0, 210.0, 240.0, 270.0, 300.0];
    for w in polls.windows(2) {
        let gap = secs(w[1].at) - secs(w[0].at);
        let nominal = NOMINAL[(w[0].streak as usize).clamp(1, NOMINAL.len()) - 1];
        assert!(
            gap >= nominal * 0.9 - 1e-3 && gap <= (nominal * 1.1).min(300.0) + 1e-3,
            "after {} failures the next poll came {gap} s later (nominal {nominal})",
            w[0].streak
        );
        longest = longest.max(gap);
    }
    assert!(longest >= 270.0, "the backoff reached its cap: {longest}");
    let ev = r.events();
    assert!(
        ev.iter().any(|e| matches!(e, EventKind::HeartbeatFailed { .. })),
        "{ev:?}"
    );
    assert!(ev
        .iter()
        .any(|e| matches!(e, EventKind::StateChanged { to, .. } if to == "failing")));
    // Heartbeats keep their own interval; they never back off.
    for g in gaps(&r.calls("edge", "heartbeat")) {
        assert!((54.0..=66.0).contains(&g), "heartbeat gap {g}");
    }
    // The control plane answers again: the next poll (at most 5 min away) works.
    r.c.lock().unwrap().fail = false;
    let back = 42.0 * 60.0;
    advance(10 * 60).await;
    assert_eq!(r.state("edge"), State::Healthy);
    let ev = r.events();
    assert!(ev.iter().any(|e| matches!(e, EventKind::Recovered { .. })), "{ev:?}");
    let polls: Vec<Call> = r
        .calls("edge", "work")
        .into_iter()
        .filter(|c| secs(c.at) > back && c.status == 200)
        .collect();
    assert!(polls.len() >= 8, "{polls:?}");
    for g in gaps(&polls[1..]) {
        assert!((27.0..=33.0).contains(&g), "poll gap after recovery {g}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_410_on_the_heartbeat_or_the_poll_retires_for_good_and_nothing_is_sent_again() {
    let mut r = rig(&["hb-gone", "poll-gone"], false);
    advance(90).await;
    {
        let mut c = r.c.lock().unwrap();
        c.gone.insert("hb-gone".into(), "heartbeat".into());
        c.gone.insert("poll-gone".into(), "work".into());
    }
    advance(120).await;
    for (agent, what) in [("hb-gone", "heartbeat"), ("poll-gone", "work")] {
        let State::Retired { reason } = r.state(agent) else {
            panic!("{agent}: {:?}", r.state(agent))
        };
        assert!(reason.contains("410") && reason.contains(agent), "{reason}");
        let calls: Vec<Call> =
            r.c.lock()
                .unwrap()
                .calls
                .iter()
                .filter(|c| c.agent == agent)
                .cloned()
                .collect();
        let last = calls.last().unwrap();
        assert_eq!(
            (last.what.as_str(), last.status),
            (what, 410),
            "{agent}: the 410 was the last request"
        );
    }
    let before = r.c.lock().unwrap().calls.len();
    advance(3600).await;
    assert_eq!(r.c.lock().unwrap().calls.len(), before, "a retired agent sent requests");
    let ev = r.events();
    assert_eq!(
        ev.iter().filter(|e| matches!(e, EventKind::Retired { .. })).count(),
        2,
        "{ev:?}"
    );
    let out = r.handle.renew("poll-gone").await.unwrap();
    assert!(!out.ok && out.message.contains("retired"), "{out:?}");
    assert_eq!(
        r.c.lock().unwrap().calls.len(),
        before,
        "a manual renew of a retired agent sent a request"
    );
}

#[tokio::test(start_paused = true)]
async fn discovery_goes_with_the_first_poll_then_every_six_hours() {
    let r = rig(&["scan"], true);
    advance(14 * 3600).await;
    let scans = r.calls("scan", "discoveries");
    let first_poll = r.calls("scan", "work")[0].at;
    assert_eq!(scans[0].at, first_poll, "the first scan goes with the first poll");
    assert_eq!(
        scans.len(),
        3,
        "{:?}",
        scans.iter().map(|c| secs(c.at)).collect::<Vec<_>>()
    );
    for g in gaps(&scans) {
        assert!((0.9 * 21_600.0..=1.1 * 21_600.0).contains(&g), "scan gap {g}");
    }
    assert_eq!(r.state("scan"), State::Healthy);
}

#[test]
fn the_scheduler_clock_is_the_only_clock_the_timing_reads() {
    // The plan is driven by the instants the scheduler passes in: a source
    // asked at two different clocks plans relative to each.
    let spec = CertctlSpec {
        url: "https://127.0.0.1:1".into(),
        agent_id: "a".into(),
        api_key: TokenSource::Env("X".into()),
        ca_bundle: None,
        key_dir: PathBuf::from("/unused"),
        targets: Default::default(),
        discovery_dirs: Vec::new(),
        heartbeat_interval: Duration::from_secs(60),
        poll_interval: Duration::from_secs(30),
        discovery_interval: Duration::from_secs(3600),
    };
    let wire = Arc::new(Fake {
        clock: Arc::new(ManualClock::new(t(0.0))),
        c: Default::default(),
    });
    for start in [t(0.0), t(1_000_000.0)] {
        let s = Certctl::with_wire("a", spec.clone(), wire.clone(), 1);
        let first = s.next_beat(start, true).unwrap();
        let d = first.duration_since(start).unwrap();
        assert!(d < Duration::from_secs(60), "{d:?}");
    }
}

/// Two deployments to one target in one poll run one after the other, in the
/// order the control plane handed them out: the target ends with the later
/// one, whichever certificate arrives first.
#[tokio::test(start_paused = true)]
async fn deployments_to_one_target_run_in_the_order_handed_out() {
    use std::os::unix::fs::PermissionsExt;
    let r = rig(&["edge"], false);
    let keys = r.dir.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut issued = Vec::new();
    for (id, takes) in [("mc-1", 5), ("mc-2", 0)] {
        let leaf = r.ca.issue(id, t(-60.0), Duration::from_secs(30 * 86_400)).unwrap();
        let key = keys.join(format!("{id}.key"));
        std::fs::write(&key, &leaf.key_pem).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        r.c.lock()
            .unwrap()
            .certs
            .insert(id.into(), (leaf.cert_pem.clone(), takes));
        issued.push(leaf);
    }
    // The first one's certificate is slow to fetch.
    r.c.lock().unwrap().jobs = ["mc-1", "mc-2"]
        .iter()
        .enumerate()
        .map(|(i, id)| {
            json!({ "id": format!("job-{}", i + 1), "type": "Deployment", "certificate_id": id,
                    "target_id": "t-edge", "status": "Pending" })
        })
        .collect();
    advance(120).await;
    let reports = r.c.lock().unwrap().reports.clone();
    let done: Vec<&str> = reports
        .iter()
        .filter(|(_, s)| s == "Completed")
        .map(|(j, _)| j.as_str())
        .collect();
    assert_eq!(done.len(), 2, "{reports:?}");
    let deployed = std::fs::read_to_string(r.dir.path().join("edge.pem")).unwrap();
    let cn = |pem: &str| {
        evergreen_core::x509::parse_reply(pem)
            .unwrap()
            .file
            .leaf()
            .details
            .subject
            .clone()
    };
    assert_eq!(
        cn(&deployed),
        cn(&issued[1].cert_pem),
        "the target holds the deployment handed out last"
    );
    let key = std::fs::read_to_string(r.dir.path().join("edge.key")).unwrap();
    assert!(key == issued[1].key_pem, "the target's key is the last deployment's");
}
