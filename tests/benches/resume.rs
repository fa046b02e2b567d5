//! `make bench`: wake-up to renewal with logind. The release `evergreen run`
//! runs under libfaketime with a private system bus on which this bench owns
//! `org.freedesktop.login1`; it sends `PrepareForSleep(true)`, moves the
//! engine's wall clock 5 h ahead (its monotonic clock stays, as in a real
//! suspend), sends `PrepareForSleep(false)` and times, on the monotonic
//! clock, until the engine's `renewal_started` event.
//!
//! Run with `cargo bench -p evergreen-tests --bench resume` (the release
//! binary must be built first; scripts/bench-resume.sh does both). Prints the
//! median of five runs in seconds.

use std::time::{Duration, Instant};

use evergreen_tests::bus::{prepare_for_sleep, PrivateBus};
use evergreen_tests::env::{wait_for, Env};
use evergreen_tests::faketime::FakeClock;

const RUNS: usize = 5;

async fn once() -> f64 {
    let env = Env::new();
    let bus = PrivateBus::start(env.dir.path());
    let login1 = bus.own("org.freedesktop.login1").await;
    env.cert("web", Duration::ZERO, Duration::from_secs(6 * 3600));
    env.write_config(&env.renewing("web", "6h", ""));
    let clock = FakeClock::new(env.dir.path());
    let faked = clock.vars();
    let mut vars: Vec<(&str, &str)> = faked.iter().map(|(k, v)| (*k, v.as_str())).collect();
    vars.push(("DBUS_SYSTEM_BUS_ADDRESS", &bus.address));
    vars.push(("EVERGREEN_LOG", "debug"));
    let daemon = env.start_with(&vars);
    wait_for("the engine to follow logind", Duration::from_secs(20), || {
        daemon.stderr().contains("following logind suspend/resume signals")
    });
    wait_for("the first look", Duration::from_secs(20), || {
        daemon.has_event(|e| e["event"] == "observed")
    });
    prepare_for_sleep(&login1, true).await;
    // Past the renewal point of a fresh 6 h certificate (4 h, ±10 % jitter).
    clock.set("+5h");
    prepare_for_sleep(&login1, false).await;
    let woke = Instant::now();
    wait_for("the renewal after the wake-up", Duration::from_secs(30), || {
        daemon.has_event(|e| e["event"] == "renewal_started")
    });
    let took = woke.elapsed().as_secs_f64();
    daemon.stop();
    took
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        runs.push(once().await);
    }
    runs.sort_by(|a, b| a.total_cmp(b));
    println!("{:.2}", runs[RUNS / 2]);
}
