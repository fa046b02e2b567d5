//! Resume from suspend through logind, for real: on a private system bus
//! ([`evergreen_tests::bus`]) the test owns `org.freedesktop.login1` and
//! emits `PrepareForSleep`, and the real `evergreen run` hears it.

use std::time::Duration;

use evergreen_tests::bus::{prepare_for_sleep, PrivateBus};
use evergreen_tests::env::{wait_for, Env};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepare_for_sleep_from_logind_on_the_system_bus_reaches_the_engine() {
    let env = Env::new();
    let bus = PrivateBus::start(env.dir.path());
    let address = bus.address.clone();
    let login1 = bus.own("org.freedesktop.login1").await;

    env.cert("web", Duration::from_secs(3600), Duration::from_secs(86_400));
    env.write_config(&env.renewing("web", "24h", ""));
    let daemon = env.start_with(&[("DBUS_SYSTEM_BUS_ADDRESS", &address), ("EVERGREEN_LOG", "debug")]);
    // The positive marker: the engine listens for logind before anything is sent.
    wait_for("the engine to follow logind", Duration::from_secs(20), || {
        daemon.stderr().contains("following logind suspend/resume signals")
    });
    for going in [true, false] {
        prepare_for_sleep(&login1, going).await;
    }
    wait_for("a resume from logind", Duration::from_secs(20), || {
        daemon.has_event(|e| e["event"] == "resumed" && e["source"] == "logind")
    });
    // What the scheduler does with a resume is held on paused time
    // (`a_logind_resume_signal_renews_immediately`); this holds the bus path.
    assert_eq!(daemon.stop(), 0);
}
