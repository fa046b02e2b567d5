//! Noticing that the machine slept.
//!
//! logind announces suspend and resume with `PrepareForSleep(bool)` on the
//! system bus. On resume the scheduler re-evaluates every credential at once.
//! Where there is no system bus (containers, CI), the clock's alarm (see
//! `clock/alarm.rs`) still catches the wake-up within about a second.

use std::time::SystemTime;

use futures_util::StreamExt;

use crate::clock::ClockHandle;
use crate::scheduler::Handle;

/// Follows logind until the bus goes away. Returns quietly when there is none.
pub async fn follow_logind(handle: Handle, clock: ClockHandle) {
    let run = async {
        let conn = zbus::Connection::system().await?;
        let proxy = zbus::Proxy::new(
            &conn,
            "org.freedesktop.login1",
            "/org/freedesktop/login1",
            "org.freedesktop.login1.Manager",
        )
        .await?;
        let mut signals = proxy.receive_signal("PrepareForSleep").await?;
        tracing::debug!("following logind suspend/resume signals");
        let mut slept_at: Option<SystemTime> = None;
        while let Some(msg) = signals.next().await {
            let Ok(going_to_sleep) = msg.body().deserialize::<bool>() else {
                continue;
            };
            if going_to_sleep {
                slept_at = Some(clock.now());
            } else {
                let slept = slept_at
                    .take()
                    .and_then(|t| clock.now().duration_since(t).ok())
                    .unwrap_or_default();
                handle.resumed(slept.as_secs(), "logind");
            }
        }
        Ok::<(), zbus::Error>(())
    };
    if let Err(e) = run.await {
        tracing::debug!("no logind suspend signals ({e}); relying on the wall-clock jump detector");
    }
}
