//! Knowing when the network is there, from the kernel's own announcements.
//!
//! A renewal tried at resume before Wi-Fi is back fails, and its backoff
//! would make it wait even after the network returned. The kernel announces
//! every change of links, addresses and routes to a netlink socket's
//! multicast groups (`NETLINK_ROUTE`); Evergreen listens, and after each
//! burst of changes looks at the routing tables for any route off the
//! machine. The scheduler hears the answer: coming online (or a change while
//! online, such as a VPN joining) re-tries what is failing at once, and a
//! failure while offline is shown as "offline" and does not notify.
//!
//! Where NetworkManager runs, its own verdict (`StateChanged` on the system
//! bus) counts too: a machine whose routes are up but whose Wi-Fi has not
//! finished connecting, or that NetworkManager reports disconnected, is
//! offline.

use std::io;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;

use rustix::fd::OwnedFd;
use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{AddressFamily, RecvFlags, SocketFlags, SocketType};
use tokio::io::unix::AsyncFd;

use crate::scheduler::Handle;

/// The `NETLINK_ROUTE` multicast groups of links, IPv4 and IPv6 addresses
/// and routes (`RTMGRP_LINK`, `RTMGRP_IPV4_IFADDR`, `RTMGRP_IPV4_ROUTE`,
/// `RTMGRP_IPV6_IFADDR`, `RTMGRP_IPV6_ROUTE`).
const GROUPS: u32 = 0x1 | 0x10 | 0x40 | 0x100 | 0x400;

/// Changes come in bursts (a link, then its addresses, then its routes):
/// the tables are read once this long after the last one.
const SETTLE: Duration = Duration::from_millis(300);

/// Whether this machine has a route off itself: any IPv4 route, or an IPv6
/// route that is not link-local or multicast, on an interface other than
/// loopback. Read from `/proc/net`, which shows the caller's own network
/// namespace. Unknown (the files unreadable) counts as online, so nothing
/// is ever held back on a guess.
pub fn online() -> bool {
    let v4 = std::fs::read_to_string("/proc/net/route");
    let v6 = std::fs::read_to_string("/proc/net/ipv6_route");
    if v4.is_err() && v6.is_err() {
        return true;
    }
    v4.is_ok_and(|t| has_v4_route(&t)) || v6.is_ok_and(|t| has_v6_route(&t))
}

/// `/proc/net/route`: a header, then `Iface Destination Gateway Flags …`.
fn has_v4_route(table: &str) -> bool {
    table.lines().skip(1).any(|l| {
        let mut f = l.split_whitespace();
        let iface = f.next().unwrap_or("lo");
        let flags = f.nth(2).and_then(|x| u32::from_str_radix(x, 16).ok()).unwrap_or(0);
        // RTF_UP
        iface != "lo" && flags & 0x1 != 0
    })
}

/// `/proc/net/ipv6_route`: `dest plen src splen next metric refs use flags iface`.
fn has_v6_route(table: &str) -> bool {
    table.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let (Some(dest), Some(iface)) = (f.first(), f.get(9)) else {
            return false;
        };
        let local = dest.starts_with("fe80") || dest.starts_with("ff");
        *iface != "lo" && !local
    })
}

/// A netlink socket on the route groups, non-blocking.
fn route_socket() -> io::Result<AsyncFd<OwnedFd>> {
    let fd = rustix::net::socket_with(
        AddressFamily::NETLINK,
        SocketType::RAW,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    rustix::net::bind(&fd, &SocketAddrNetlink::new(0, GROUPS))?;
    // `new` is deprecated because a type can hand out a descriptor it then
    // closes; an `OwnedFd` the `AsyncFd` owns cannot, so it is sound here.
    #[allow(deprecated)]
    let fd = AsyncFd::new(fd)?;
    Ok(fd)
}

/// Reads every message waiting (their content does not matter: any change
/// means "look again"). An overrun socket (`ENOBUFS`) lost some, which is a
/// change too.
async fn changed(sock: &AsyncFd<OwnedFd>) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut ready = sock.readable().await?;
    loop {
        match ready.try_io(|s| rustix::net::recv(s.get_ref(), &mut buf, RecvFlags::empty()).map_err(io::Error::from)) {
            Ok(Ok(_)) => continue,
            Ok(Err(e)) if e.raw_os_error() == Some(rustix::io::Errno::NOBUFS.raw_os_error()) => continue,
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => return Ok(()),
        }
    }
}

/// Whether a NetworkManager state (`NMState`) means a network to use:
/// connected locally, to a site or globally (50, 60, 70). Unknown (0) is
/// no verdict.
fn nm_online(state: u32) -> Option<bool> {
    (state != 0).then_some(state >= 50)
}

/// NetworkManager's state as it changes, where it runs; returns quietly
/// where it does not.
async fn follow_network_manager(tx: mpsc::UnboundedSender<bool>) {
    let run = async {
        let conn = zbus::Connection::system().await?;
        let proxy = zbus::Proxy::new(
            &conn,
            "org.freedesktop.NetworkManager",
            "/org/freedesktop/NetworkManager",
            "org.freedesktop.NetworkManager",
        )
        .await?;
        let mut signals = proxy.receive_signal("StateChanged").await?;
        tracing::debug!("following NetworkManager's state");
        // Bounded: a bus peer that owns the name but never answers must
        // not keep the signals from being heard.
        let state = tokio::time::timeout(Duration::from_secs(5), proxy.get_property::<u32>("State")).await;
        if let Some(online) = state.ok().and_then(|s| s.ok()).and_then(nm_online) {
            let _ = tx.send(online);
        }
        while let Some(msg) = signals.next().await {
            if let Some(online) = msg.body().deserialize::<u32>().ok().and_then(nm_online) {
                if tx.send(online).is_err() {
                    break;
                }
            }
        }
        Ok::<(), zbus::Error>(())
    };
    if let Err(e) = run.await {
        tracing::debug!("no NetworkManager state ({e}); the kernel's routes alone tell");
    }
}

/// Tells the scheduler where the network stands now and after every burst
/// of changes (the kernel's, and NetworkManager's where it runs), until the
/// engine stops.
pub(crate) async fn follow(handle: Handle) {
    let sock = match route_socket() {
        Ok(s) => {
            tracing::debug!("watching network changes (netlink routes)");
            Some(s)
        }
        Err(e) => {
            tracing::warn!("not watching the kernel's network changes ({e})");
            None
        }
    };
    let (nm_tx, mut nm_rx) = mpsc::unbounded_channel();
    let nm_task = tokio::spawn(follow_network_manager(nm_tx));
    let mut nm: Option<bool> = None;
    let mut nm_open = true;
    let verdict = |nm: Option<bool>| online() && nm.unwrap_or(true);
    // The first look is a report of where things stand, not a change.
    let mut last = verdict(nm);
    if handle.network_stands(last).is_ok() {
        loop {
            let kernel = async {
                match &sock {
                    Some(s) => changed(s).await,
                    None => std::future::pending().await,
                }
            };
            let routes_changed;
            tokio::select! {
                r = kernel => {
                    routes_changed = true;
                    if let Err(e) = r {
                        tracing::warn!("stopped watching the network ({e}); failures wait out their backoff");
                        break;
                    }
                    // Let the burst finish.
                    if let Some(s) = &sock {
                        while let Ok(Ok(())) = tokio::time::timeout(SETTLE, changed(s)).await {}
                    }
                }
                state = nm_rx.recv(), if nm_open => {
                    routes_changed = false;
                    match state {
                        Some(online) => nm = Some(online),
                        // NetworkManager is gone (or was never there): routes alone.
                        None if sock.is_none() => break,
                        None => {
                            nm_open = false;
                            nm = None;
                        }
                    }
                },
            }
            // NetworkManager restates its state: news only when the verdict moved.
            let now = verdict(nm);
            let sent = if routes_changed || now != last {
                handle.network(now)
            } else {
                handle.network_stands(now)
            };
            last = now;
            if sent.is_err() {
                break;
            }
        }
    }
    nm_task.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_off_the_machine_count_and_loopback_and_link_local_do_not() {
        let v4_header = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";
        assert!(!has_v4_route(v4_header), "no routes");
        let lan = format!("{v4_header}eth0\t00004D0A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n");
        assert!(has_v4_route(&lan));
        let down = format!("{v4_header}eth0\t00004D0A\t00000000\t0000\t0\t0\t0\t00FFFFFF\t0\t0\t0\n");
        assert!(!has_v4_route(&down), "a route that is not up");
        let link_local = "fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n";
        assert!(!has_v6_route(link_local));
        let lo = "00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo\n";
        assert!(!has_v6_route(lo));
        let global = "20010db8000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     wlan0\n";
        assert!(has_v6_route(global));
    }

    #[test]
    fn network_managers_states_map_to_online_and_offline() {
        assert_eq!(nm_online(0), None, "unknown is no verdict");
        for offline in [10, 20, 30, 40] {
            assert_eq!(nm_online(offline), Some(false), "{offline}");
        }
        for online in [50, 60, 70] {
            assert_eq!(nm_online(online), Some(true), "{online}");
        }
    }
}
