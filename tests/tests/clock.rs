//! The wall clock moving under a running engine, without logind: the real
//! `evergreen run` under libfaketime (Debian's `faketime`), whose offset the
//! test changes while the engine runs. The monotonic clock is left alone,
//! which is what a suspend looks like to a process: hours pass on the wall
//! and none on the monotonic clock.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use evergreen_tests::env::{wait_for, Daemon, Env};

/// libfaketime, wherever the machine's multiarch directory is.
fn libfaketime() -> PathBuf {
    std::fs::read_dir("/usr/lib")
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("faketime/libfaketime.so.1"))
        .find(|p| p.exists())
        .expect("libfaketime is installed (Debian package faketime; `make test` installs it)")
}

fn renewals_started(d: &Daemon) -> usize {
    d.events().iter().filter(|e| e["event"] == "renewal_started").count()
}

#[test]
fn a_wall_clock_jump_renews_within_seconds_and_a_step_back_renews_nothing() {
    let env = Env::new();
    // Six hours, one gone: due at two thirds, three hours from now.
    env.cert("web", Duration::from_secs(3600), Duration::from_secs(6 * 3600));
    env.write_config(&env.renewing("web", "6h", ""));
    let offset = env.dir.path().join("faketime-offset");
    std::fs::write(&offset, "+0").unwrap();
    let lib = libfaketime();
    let daemon = env.start_with(&[
        ("LD_PRELOAD", lib.to_str().unwrap()),
        ("FAKETIME_TIMESTAMP_FILE", offset.to_str().unwrap()),
        ("FAKETIME_NO_CACHE", "1"),
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
        ("EVERGREEN_LOG", "info"),
    ]);
    wait_for("the first look", Duration::from_secs(20), || {
        daemon.has_event(|e| e["event"] == "observed")
    });
    assert_eq!(renewals_started(&daemon), 0, "not due yet");

    // Four hours pass on the wall clock and none on the monotonic one.
    std::fs::write(&offset, "+4h").unwrap();
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
    std::fs::write(&offset, "+3h").unwrap();
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
