//! `evergreen run` as systemd runs it (`Type=notify`): the notifications it
//! sends over `NOTIFY_SOCKET` (READY=1 once its socket answers, WATCHDOG=1
//! while it works, STOPPING=1 on SIGTERM), and its log: no escape codes off
//! a terminal, journald's priority prefixes on the journal's stream; and the
//! unit itself, checked by `systemd-analyze verify`.

use std::os::unix::fs::MetadataExt as _;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use evergreen_tests::env::{wait_for, Env};

/// The next datagram systemd would have received, within `limit`.
fn next(sock: &UnixDatagram, limit: Duration) -> String {
    sock.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).expect("a notification within the limit");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn ready_after_the_socket_answers_a_watchdog_while_it_runs_and_stopping_at_the_end() {
    let env = Env::new();
    env.cert("web", Duration::from_secs(86_400), Duration::from_secs(30 * 86_400));
    env.write_config(&env.renewing("web", "30d", ""));
    let path = env.dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    let mut engine = env
        .cmd()
        .args(["run"])
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "400000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let ready = next(&sock, Duration::from_secs(20));
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready:?}");
    assert!(ready.contains("STATUS=keeping 1 credential renewed"), "{ready:?}");
    // At READY=1 the socket already answers.
    let status = env.run(&["status", "--json"]);
    assert!(status.code < 2, "not answering at READY=1: {status:?}");

    // Watchdog pings at half of WATCHDOG_USEC, each after a scheduler pass.
    let start = Instant::now();
    let mut pings = 0;
    while pings < 3 {
        if next(&sock, Duration::from_secs(2)).lines().any(|l| l == "WATCHDOG=1") {
            pings += 1;
        }
    }
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "three pings took {:?}",
        start.elapsed()
    );

    Command::new("kill")
        .args(["-TERM", &engine.id().to_string()])
        .status()
        .unwrap();
    let start = Instant::now();
    loop {
        let m = next(&sock, Duration::from_secs(10));
        if m.lines().any(|l| l == "STOPPING=1") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no STOPPING=1");
    }
    assert_eq!(engine.wait().unwrap().code(), Some(0));
}

#[test]
fn the_renew_command_does_not_inherit_what_systemd_told_the_engine() {
    let env = Env::new();
    let out = env.dir.path().join("child-env");
    env.cert(
        "web",
        Duration::from_secs(29 * 86_400),
        Duration::from_secs(30 * 86_400),
    );
    env.write_config(&format!(
        "[[credential]]\nname = \"web\"\nkind = \"x509_file\"\npath = \"{}\"\nrenew_command = [\"sh\", \"-c\", \"env > {}\"]\n",
        env.certs().join("web.pem").display(),
        out.display()
    ));
    let sock = UnixDatagram::bind(env.dir.path().join("notify.sock")).unwrap();
    let mut engine = env
        .cmd()
        .args(["run"])
        .env("NOTIFY_SOCKET", env.dir.path().join("notify.sock"))
        .env("JOURNAL_STREAM", "1:2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(next(&sock, Duration::from_secs(20)).contains("READY=1"));
    wait_for("the renew command", Duration::from_secs(20), || {
        std::fs::read_to_string(&out).is_ok_and(|t| t.contains("EVERGREEN_CREDENTIAL=web"))
    });
    let child = std::fs::read_to_string(&out).unwrap();
    let _ = engine.kill();
    let _ = engine.wait();
    for var in ["NOTIFY_SOCKET", "JOURNAL_STREAM"] {
        assert!(
            !child.contains(&format!("{var}=")),
            "{var} reached the renew command:\n{child}"
        );
    }
}

/// Starts `evergreen run` with stderr to a file, as a service's log, and
/// returns that log once the engine has said something.
fn log_of(env: &Env, journal: bool) -> String {
    let log = env.dir.path().join(format!("engine-{journal}.log"));
    let file = std::fs::File::create(&log).unwrap();
    let meta = file.metadata().unwrap();
    let mut cmd = env.cmd();
    cmd.args(["run"])
        .env("EVERGREEN_LOG", "info")
        .stdout(Stdio::null())
        .stderr(file);
    if journal {
        cmd.env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()));
    }
    let mut engine = cmd.spawn().unwrap();
    wait_for("the engine's log", Duration::from_secs(20), || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("engine started") && t.contains("web:"))
    });
    let _ = engine.kill();
    let _ = engine.wait();
    std::fs::read_to_string(&log).unwrap()
}

#[test]
fn the_log_has_no_escape_codes_off_a_terminal_and_priorities_on_the_journal() {
    let env = Env::new();
    env.cert(
        "web",
        Duration::from_secs(29 * 86_400),
        Duration::from_secs(30 * 86_400),
    );
    env.write_config(&env.renewing("web", "30d", ""));

    let plain = log_of(&env, false);
    assert!(!plain.contains('\u{1b}'), "escape codes in a log file:\n{plain:?}");
    assert!(plain.lines().any(|l| l.contains(" INFO ")), "{plain}");

    let journal = log_of(&env, true);
    assert!(!journal.contains('\u{1b}'), "{journal:?}");
    let lines: Vec<&str> = journal.lines().collect();
    assert!(!lines.is_empty());
    for l in &lines {
        assert!(
            l.starts_with("<6>") || l.starts_with("<4>") || l.starts_with("<3>") || l.starts_with("<7>"),
            "a journal line without its priority: {l:?}"
        );
        // The journal keeps the time and the level itself.
        assert!(!l[3..].starts_with("20") && !l.contains(" INFO "), "{l:?}");
    }
}
