//! Resume from suspend through logind, for real: a private D-Bus daemon
//! stands in for the system bus, a test process owns `org.freedesktop.login1`
//! on it and emits `PrepareForSleep`, and the real `evergreen run` (told the
//! bus address the way any system-bus client is, `DBUS_SYSTEM_BUS_ADDRESS`)
//! hears it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use evergreen_tests::env::{wait_for, Env};

struct Bus(Child);

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepare_for_sleep_from_logind_on_the_system_bus_reaches_the_engine() {
    let env = Env::new();
    let socket = env.dir.path().join("system_bus_socket");
    let _bus = Bus(Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--nopidfile"])
        .arg(format!("--address=unix:path={}", socket.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-daemon runs"));
    wait_for("the bus socket", Duration::from_secs(10), || socket.exists());
    let address = format!("unix:path={}", socket.display());
    let login1 = zbus::connection::Builder::address(address.as_str())
        .unwrap()
        .name("org.freedesktop.login1")
        .unwrap()
        .build()
        .await
        .unwrap();

    env.cert("web", Duration::from_secs(3600), Duration::from_secs(86_400));
    env.write_config(&env.renewing("web", "24h", ""));
    let daemon = env.start_with(&[("DBUS_SYSTEM_BUS_ADDRESS", &address), ("EVERGREEN_LOG", "debug")]);
    // The positive marker: the engine listens for logind before anything is sent.
    wait_for("the engine to follow logind", Duration::from_secs(20), || {
        daemon.stderr().contains("following logind suspend/resume signals")
    });
    for going in [true, false] {
        login1
            .emit_signal(
                None::<()>,
                "/org/freedesktop/login1",
                "org.freedesktop.login1.Manager",
                "PrepareForSleep",
                &(going,),
            )
            .await
            .unwrap();
    }
    wait_for("a resume from logind", Duration::from_secs(20), || {
        daemon.has_event(|e| e["event"] == "resumed" && e["source"] == "logind")
    });
    // What the scheduler does with a resume is held on paused time
    // (`a_logind_resume_signal_renews_immediately`); this holds the bus path.
    assert_eq!(daemon.stop(), 0);
}
