//! Hostile servers against the real `evergreen run`: whatever a server
//! sends, the engine's memory stays bounded and the credential fails by name.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

use evergreen_tests::bao::write_secret;
use evergreen_tests::env::{wait_for, Env};

/// A Vault stand-in that answers every request with a body that never ends
/// (chunked, up to 512 MiB), as a broken or hostile server might.
fn endless_vault() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming().take(50) {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut r = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                while r.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
                if conn.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let chunk = [b"10000\r\n".to_vec(), vec![b' '; 0x10000], b"\r\n".to_vec()].concat();
                for _ in 0..(512 * 16) {
                    if conn.write_all(&chunk).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// The largest resident size the process has had (`VmHWM`), in MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb / 1024.0
}

#[test]
fn an_endless_reply_is_cut_off_and_memory_stays_bounded() {
    let env = Env::new();
    let addr = endless_vault();
    write_secret(&env.dir.path().join("token"), "tok-endless");
    env.write_config(&format!(
        "[[credential]]\nname = \"vault\"\nkind = \"vault_token\"\naddress = \"{addr}\"\ntoken_file = \"{}\"\n",
        env.dir.path().join("token").display()
    ));
    let daemon = env.start();
    wait_for(
        "the endless reply to fail the credential",
        Duration::from_secs(30),
        || {
            env.status().iter().any(|s| {
                s["name"] == "vault"
                    && s["problem"]
                        .as_str()
                        .is_some_and(|p| p.contains("larger than 1024 KiB"))
            })
        },
    );
    // And a renewal asked for by hand meets the same end, at once.
    let renew = env.run(&["renew", "vault"]);
    assert!(
        format!("{}{}", renew.stdout, renew.stderr).contains("larger than 1024 KiB"),
        "{renew:?}"
    );
    let peak = peak_rss_mib(daemon.child.id());
    assert!(
        peak < 64.0,
        "the engine's peak RSS was {peak:.1} MiB reading an endless reply"
    );
    assert_eq!(daemon.stop(), 0);
}
