//! A private D-Bus daemon standing in for the system bus: a test owns a
//! well-known name on it (logind's, NetworkManager's) and emits its signals,
//! and the real `evergreen run`, told the bus address the way any system-bus
//! client is (`DBUS_SYSTEM_BUS_ADDRESS`), hears them.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::env::wait_for;

/// The daemon, stopped on drop.
pub struct PrivateBus {
    child: Child,
    /// Its address, for `DBUS_SYSTEM_BUS_ADDRESS`.
    pub address: String,
}

impl PrivateBus {
    /// A bus listening on a socket in `dir`.
    pub fn start(dir: &Path) -> PrivateBus {
        let socket = dir.join("system_bus_socket");
        let child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile"])
            .arg(format!("--address=unix:path={}", socket.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon runs");
        wait_for("the bus socket", Duration::from_secs(10), || socket.exists());
        PrivateBus {
            child,
            address: format!("unix:path={}", socket.display()),
        }
    }

    /// A connection owning `name` on the bus.
    pub async fn own(&self, name: &str) -> zbus::Connection {
        zbus::connection::Builder::address(self.address.as_str())
            .unwrap()
            .name(name)
            .unwrap()
            .build()
            .await
            .unwrap()
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// logind's `PrepareForSleep(going)`, sent from a connection owning its name.
pub async fn prepare_for_sleep(login1: &zbus::Connection, going: bool) {
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
