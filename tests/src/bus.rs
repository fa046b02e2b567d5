//! A private D-Bus daemon standing in for the system bus: a test owns a
//! well-known name on it (logind's, NetworkManager's) and emits its signals,
//! and the real `evergreen run`, told the bus address the way any system-bus
//! client is (`DBUS_SYSTEM_BUS_ADDRESS`), hears them.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The daemon, stopped on drop.
pub struct PrivateBus {
    child: Child,
    /// Its address, for `DBUS_SYSTEM_BUS_ADDRESS`.
    pub address: String,
}

impl PrivateBus {
    /// A bus listening on a socket in `dir`.
    pub fn start(dir: &Path) -> PrivateBus {
        let address = format!("unix:path={}", dir.join("system_bus_socket").display());
        PrivateBus {
            child: daemon(&address),
            address,
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

/// A `dbus-daemon` listening at `address`, returned once it accepts
/// connections: it prints its address only after it listens
/// (`--print-address`). The socket file alone is no such sign: it exists
/// from `bind`, before `listen`, and a client connecting in between is
/// refused.
pub fn daemon(address: &str) -> Child {
    let mut child = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
        .arg(format!("--address={address}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-daemon runs");
    match crate::first_line(&mut child, Duration::from_secs(20)) {
        Some(line) if line.starts_with("unix:") => child,
        other => panic!("dbus-daemon at {address} did not listen within 20 s (it printed {other:?})"),
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
