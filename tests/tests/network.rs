//! The network going away and coming back under a running engine, for real:
//! `evergreen run` runs in a network namespace the test makes, joined to the
//! test's own by a veth pair, and renews through it; the test takes the link
//! down and up. Making namespaces needs root (CI runs as root); without it
//! the test says so and skips.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use evergreen_tests::bus::PrivateBus;
use evergreen_tests::env::{rand_suffix, wait_for, Daemon, Env};
use evergreen_tests::evergreen_bin;

/// A network namespace with one veth link to ours, removed on drop.
struct Netns {
    name: String,
    outside: String,
    inside: String,
    subnet: u8,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Netns {
    fn new() -> Result<Netns, String> {
        let n = rand_suffix() % 200;
        let ns = Netns {
            name: format!("evergreen-{n}"),
            outside: format!("egv{n}o"),
            inside: format!("egv{n}i"),
            subnet: 20 + n as u8 % 200,
        };
        ip(&["netns", "add", &ns.name])?;
        ip(&["link", "add", &ns.outside, "type", "veth", "peer", "name", &ns.inside])?;
        ip(&["link", "set", &ns.inside, "netns", &ns.name])?;
        ip(&["addr", "add", &format!("{}/24", ns.host()), "dev", &ns.outside])?;
        ip(&["link", "set", &ns.outside, "up"])?;
        ns.exec(&[
            "ip",
            "addr",
            "add",
            &format!("10.77.{}.2/24", ns.subnet),
            "dev",
            &ns.inside,
        ])?;
        ns.exec(&["ip", "link", "set", "lo", "up"])?;
        ns.link(true)?;
        Ok(ns)
    }

    /// Our end of the link: where the server listens.
    fn host(&self) -> String {
        format!("10.77.{}.1", self.subnet)
    }

    fn exec(&self, cmd: &[&str]) -> Result<(), String> {
        let mut args = vec!["netns", "exec", self.name.as_str()];
        args.extend_from_slice(cmd);
        ip(&args)
    }

    fn link(&self, up: bool) -> Result<(), String> {
        self.exec(&["ip", "link", "set", &self.inside, if up { "up" } else { "down" }])
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.outside]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}

fn count(d: &Daemon, event: &str) -> usize {
    d.events().iter().filter(|e| e["event"] == event).count()
}

#[test]
fn offline_the_renewal_waits_quietly_and_starts_when_the_link_comes_back() {
    let ns = match Netns::new() {
        Ok(ns) => ns,
        Err(why) => {
            eprintln!("SKIPPED: cannot make a network namespace here ({why}); this test needs root, as in CI");
            return;
        }
    };
    // The "server" the renewal needs: a listener on our end of the link.
    let server = TcpListener::bind((ns.host().as_str(), 0)).unwrap();
    let port = server.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in server.incoming() {
            drop(conn);
        }
    });
    let env = Env::new();
    // A minute-long certificate, 35 s old: due at 40 s, in 5 s.
    env.cert("web", Duration::from_secs(35), Duration::from_secs(60));
    let reach = format!(
        "python3 -c 'import socket; socket.create_connection((\"{}\", {port}), 2).close()'",
        ns.host()
    );
    env.write_config(&format!(
        "[[credential]]\nname = \"web\"\nkind = \"x509_file\"\npath = \"{}\"\nshell = true\nrenew_command = \"{} && {} demo-renew --dir {} --name web --lifetime 60s\"\n",
        env.certs().join("web.pem").display(),
        reach.replace('"', "\\\""),
        evergreen_bin().display(),
        env.certs().display()
    ));
    let daemon = env.spawn_in(
        &["ip", "netns", "exec", &ns.name],
        &["run", "--json"],
        &[("EVERGREEN_LOG", "debug")],
    );
    wait_for("the first look", Duration::from_secs(20), || {
        daemon.has_event(|e| e["event"] == "observed")
    });
    assert!(
        daemon.stderr().contains("watching network changes"),
        "{}",
        daemon.stderr()
    );

    ns.link(false).unwrap();
    wait_for("the engine to see the network go", Duration::from_secs(10), || {
        daemon.has_event(|e| e["event"] == "network" && e["online"] == false)
    });
    wait_for("the due renewal to fail offline", Duration::from_secs(20), || {
        daemon.has_event(|e| e["event"] == "renewal_failed" && e["offline"] == true)
    });
    let st = env.status_of("web");
    assert_eq!(st["state"], "failing", "{st}");
    assert_eq!(st["offline"], true, "{st}");
    assert!(
        !daemon.events().iter().any(|e| e.get("notification").is_some()),
        "offline is no news: {:?}",
        daemon.events()
    );
    let tries = count(&daemon, "renewal_started");

    ns.link(true).unwrap();
    let up = Instant::now();
    // The backoff would wait 30 s.
    wait_for("the renewal once the link is back", Duration::from_secs(10), || {
        count(&daemon, "renewal_started") > tries
    });
    let took = up.elapsed();
    wait_for("the renewal to succeed", Duration::from_secs(20), || {
        daemon.has_event(|e| e["event"] == "renewal_succeeded")
    });
    eprintln!("renewal started {took:?} after the link came up");
    assert_eq!(daemon.stop(), 0);
}

/// NetworkManager's verdict counts where it runs: on a private system bus
/// ([`evergreen_tests::bus`]) the test owns `org.freedesktop.NetworkManager`
/// and emits `StateChanged`, and the real `evergreen run` hears it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_managers_state_changes_reach_the_engine() {
    let env = Env::new();
    let bus = PrivateBus::start(env.dir.path());
    let address = bus.address.clone();
    let nm = bus.own("org.freedesktop.NetworkManager").await;
    env.cert("web", Duration::from_secs(3600), Duration::from_secs(86_400));
    env.write_config(&env.renewing("web", "24h", ""));
    let daemon = env.start_with(&[("DBUS_SYSTEM_BUS_ADDRESS", &address), ("EVERGREEN_LOG", "debug")]);
    wait_for("the engine to follow NetworkManager", Duration::from_secs(20), || {
        daemon.stderr().contains("following NetworkManager's state")
    });
    let state = |s: u32| {
        let nm = nm.clone();
        async move {
            nm.emit_signal(
                None::<()>,
                "/org/freedesktop/NetworkManager",
                "org.freedesktop.NetworkManager",
                "StateChanged",
                &(s,),
            )
            .await
            .unwrap()
        }
    };
    // NM_STATE_DISCONNECTED, then NM_STATE_CONNECTED_GLOBAL.
    state(20).await;
    wait_for("offline, as NetworkManager says", Duration::from_secs(10), || {
        daemon.has_event(|e| e["event"] == "network" && e["online"] == false)
    });
    state(70).await;
    wait_for("online again", Duration::from_secs(10), || {
        daemon.has_event(|e| e["event"] == "network" && e["online"] == true)
    });
    assert_eq!(daemon.stop(), 0);
}
