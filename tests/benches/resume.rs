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

use std::path::PathBuf;
use std::time::{Duration, Instant};

use evergreen_tests::bus::PrivateBus;
use evergreen_tests::env::{wait_for, Env};

const RUNS: usize = 5;

fn libfaketime() -> PathBuf {
    std::fs::read_dir("/usr/lib")
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("faketime/libfaketime.so.1"))
        .find(|p| p.exists())
        .expect("libfaketime is installed (Debian package faketime)")
}

async fn once() -> f64 {
    let env = Env::new();
    let bus = PrivateBus::start(env.dir.path());
    let login1 = bus.own("org.freedesktop.login1").await;
    env.cert("web", Duration::ZERO, Duration::from_secs(6 * 3600));
    env.write_config(&env.renewing("web", "6h", ""));
    let offset = env.dir.path().join("faketime-offset");
    std::fs::write(&offset, "+0").unwrap();
    let lib = libfaketime();
    let daemon = env.start_with(&[
        ("LD_PRELOAD", lib.to_str().unwrap()),
        ("FAKETIME_TIMESTAMP_FILE", offset.to_str().unwrap()),
        ("FAKETIME_NO_CACHE", "1"),
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
        ("DBUS_SYSTEM_BUS_ADDRESS", &bus.address),
        ("EVERGREEN_LOG", "debug"),
    ]);
    wait_for("the engine to follow logind", Duration::from_secs(20), || {
        daemon.stderr().contains("following logind suspend/resume signals")
    });
    wait_for("the first look", Duration::from_secs(20), || {
        daemon.has_event(|e| e["event"] == "observed")
    });
    let sleep = |going: bool| {
        let login1 = login1.clone();
        async move {
            login1
                .emit_signal(
                    None::<()>,
                    "/org/freedesktop/login1",
                    "org.freedesktop.login1.Manager",
                    "PrepareForSleep",
                    &(going,),
                )
                .await
                .unwrap()
        }
    };
    sleep(true).await;
    // Past the renewal point of a fresh 6 h certificate (4 h, ±10 % jitter).
    std::fs::write(&offset, "+5h").unwrap();
    sleep(false).await;
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
