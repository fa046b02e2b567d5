//! The wall clock moving under a running engine, without logind: the real
//! `evergreen run` under a [`FakeClock`] the test moves while it runs.

use std::time::{Duration, Instant};

use evergreen_tests::env::{wait_for, Daemon, Env};
use evergreen_tests::faketime::FakeClock;

fn renewals_started(d: &Daemon) -> usize {
    d.events().iter().filter(|e| e["event"] == "renewal_started").count()
}

#[test]
fn a_wall_clock_jump_renews_within_seconds_and_a_step_back_renews_nothing() {
    let env = Env::new();
    // Six hours, one gone: due at two thirds, three hours from now.
    env.cert("web", Duration::from_secs(3600), Duration::from_secs(6 * 3600));
    env.write_config(&env.renewing("web", "6h", ""));
    let clock = FakeClock::new(env.dir.path());
    let mut vars: Vec<(&str, &str)> = Vec::new();
    let faked = clock.vars();
    vars.extend(faked.iter().map(|(k, v)| (*k, v.as_str())));
    vars.push(("EVERGREEN_LOG", "info"));
    let daemon = env.start_with(&vars);
    wait_for("the first look", Duration::from_secs(20), || {
        daemon.has_event(|e| e["event"] == "observed")
    });
    assert_eq!(renewals_started(&daemon), 0, "not due yet");

    // Four hours pass on the wall clock and none on the monotonic one.
    clock.set("+4h");
    let jumped = Instant::now();
    // Without the alarm the drift check took up to a minute (56 s seen).
    wait_for("the renewal after the jump", Duration::from_secs(10), || {
        renewals_started(&daemon) == 1
    });
    let took = jumped.elapsed();
    wait_for("the renewal to succeed", Duration::from_secs(20), || {
        daemon.has_event(|e| e["event"] == "renewal_succeeded")
    });
    assert!(
        daemon.has_event(|e| e["event"] == "resumed"),
        "the jump is a resume: {:?}",
        daemon.events()
    );

    // Set back an hour: the engine plans again and renews nothing.
    let log_before = daemon.stderr().matches("the wall clock was set").count();
    clock.set("+3h");
    wait_for(
        "the engine to notice the clock set back",
        Duration::from_secs(10),
        || daemon.stderr().matches("the wall clock was set").count() > log_before,
    );
    assert_eq!(renewals_started(&daemon), 1, "a clock set back renews nothing");
    assert_eq!(env.status_of("web")["state"], "healthy", "{:?}", env.status_of("web"));
    eprintln!("renewal started {took:?} after the wall clock jumped 4 h");
    assert_eq!(daemon.stop(), 0);
}
