//! The `evergreen` command's reach: everything the window can do, with the
//! same exit statuses everywhere, JSON on every command that prints, plain
//! ASCII outside UTF-8, and completions and man pages from the same
//! definitions. Against a real `evergreen run` on its own directories.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use evergreen_tests::env::{wait_for, Daemon, Env};
use serde_json::Value;

fn json(r: &evergreen_tests::Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {r:?}"))
}

/// An engine keeping one certificate, "web", healthy for an hour.
fn engine_with_web() -> (Env, Daemon) {
    let env = Env::new();
    env.cert("web", Duration::from_secs(60), Duration::from_secs(3600));
    env.write_config(&env.renewing("web", "1h", ""));
    let d = env.start();
    wait_for("web observed", Duration::from_secs(10), || {
        env.status_of("web")["state"] == "healthy"
    });
    (env, d)
}

#[test]
fn show_pause_resume_renew_due_and_notifications_reach_the_engine() {
    let (env, d) = engine_with_web();

    // show: what the detail view shows, with the renewal in its recent history.
    assert_eq!(env.run(&["renew", "web"]).code, 0);
    let r = env.run(&["show", "web"]);
    assert_eq!(r.code, 0, "{r:?}");
    for want in [
        "web (x509_file)",
        "Subject",
        "CN=web",
        "Serial",
        "SHA-256",
        "Files",
        "web.pem",
        "Recent",
    ] {
        assert!(r.stdout.contains(want), "{want:?} missing: {}", r.stdout);
    }
    let j = json(&env.run(&["show", "web", "--json"]));
    assert_eq!(j["name"], "web");
    assert!(j["details"]["sha256"].as_str().is_some_and(|s| s.len() > 60), "{j}");
    assert!(j["files"][0]["path"].as_str().unwrap().ends_with("web.pem"), "{j}");
    let r = env.run(&["show", "nope"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("no credential named \"nope\"") && r.stderr.contains("web"),
        "{r:?}"
    );

    // status NAME…: only those, in that order.
    let j = json(&env.run(&["status", "web", "--json"]));
    assert_eq!(j.as_array().unwrap().len(), 1);
    assert_eq!(j[0]["name"], "web");

    // pause --for, then resume.
    let r = env.run(&["pause", "web", "--for", "2h", "--json"]);
    assert_eq!(r.code, 0, "{r:?}");
    let until = json(&r)["until"].as_i64().unwrap();
    wait_for("web paused", Duration::from_secs(10), || {
        env.status_of("web")["user_paused"] == true
    });
    assert_eq!(env.status_of("web")["paused_until"].as_i64(), Some(until));
    let r = env.run(&["pause", "web", "--for", "0s"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("--for"), "{r:?}");
    let r = env.run(&["resume", "web"]);
    assert_eq!((r.code, r.stdout.contains("Resumed web")), (0, true), "{r:?}");
    wait_for("web resumed", Duration::from_secs(10), || {
        env.status_of("web")["user_paused"] == false
    });

    // renew --all-due: nothing is due (which ones are is the scheduler's own test).
    let j = json(&env.run(&["renew", "--all-due", "--json"]));
    assert_eq!(j["started"], serde_json::json!([]), "{j}");
    let r = env.run(&["renew", "--all-due"]);
    assert!(r.stdout.contains("Nothing is due"), "{r:?}");
    let r = env.run(&["renew"]);
    assert_eq!(r.code, 2, "a name or --all-due: {r:?}");

    // notifications pause --for / resume.
    let r = env.run(&["notifications", "pause", "--for", "1h"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("Notifications paused until"), "{r:?}");
    let r = env.run(&["notifications", "resume", "--json"]);
    assert_eq!(json(&r)["done"], "notifications resumed");
    assert_eq!(d.stop(), 0);
}

#[test]
fn events_follow_the_engine_until_it_stops_and_no_engine_is_status_3() {
    let env = Env::new();
    env.cert("web", Duration::from_secs(60), Duration::from_secs(3600));
    env.write_config(&env.renewing("web", "1h", ""));
    for args in [
        &["status"][..],
        &["show", "web"],
        &["events"],
        &["pause", "web"],
        &["notifications", "resume"],
    ] {
        let r = env.run(args);
        assert_eq!(r.code, 3, "{args:?} without an engine: {r:?}");
        assert!(r.stderr.contains("evergreen run"), "{r:?}");
    }
    let d = env.start();
    wait_for("web observed", Duration::from_secs(10), || {
        env.status_of("web")["state"] == "healthy"
    });
    let mut follower = env
        .cmd()
        .args(["events", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follower.stdout.take().unwrap()).lines();
    // The stream is live once it says so; a renewal then shows up as events.
    let mut said = String::new();
    BufReader::new(follower.stderr.take().unwrap())
        .read_line(&mut said)
        .unwrap();
    assert!(said.contains("Following the engine's events"), "{said}");
    assert_eq!(env.run(&["renew", "web"]).code, 0);
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let e: Value = serde_json::from_str(&line.unwrap()).unwrap();
        seen.push(e["event"].as_str().unwrap_or_default().to_string());
        if e["event"] == "renewal_succeeded" {
            break;
        }
    }
    assert!(seen.contains(&"renewal_started".to_string()), "{seen:?}");
    assert_eq!(d.stop(), 0);
    // The engine's end ends the stream, with status 3.
    let code = follower.wait().unwrap().code();
    assert_eq!(code, Some(3));
}

#[test]
fn status_is_ascii_outside_utf8_and_every_help_names_the_exit_statuses() {
    let (env, d) = engine_with_web();
    let run_in = |lang: &str| {
        let out = env
            .cmd()
            .args(["status"])
            .env_remove("LC_ALL")
            .env_remove("LC_CTYPE")
            .env("LANG", lang)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let c = run_in("C");
    assert!(c.is_ascii() && c.contains("#########"), "{c}");
    let utf8 = run_in("C.UTF-8");
    assert!(utf8.contains('█'), "{utf8}");
    assert_eq!(d.stop(), 0);

    for cmd in [
        "status", "show", "pause", "resume", "renew", "events", "register", "check",
    ] {
        let r = env.run(&[cmd, "--help"]);
        assert_eq!(r.code, 0, "{r:?}");
        assert!(
            r.stdout.contains("Exit status:") && r.stdout.contains("3  no engine"),
            "{cmd} --help: {}",
            r.stdout
        );
    }
}

#[test]
fn completions_and_man_pages_come_from_the_command_line_itself() {
    let env = Env::new();
    for (shell, want) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef evergreen"),
        ("fish", "complete -c evergreen"),
    ] {
        let r = env.run(&["completions", shell]);
        assert_eq!(r.code, 0, "{r:?}");
        assert!(
            r.stdout.contains(want),
            "{shell}: {}",
            &r.stdout[..200.min(r.stdout.len())]
        );
        for sub in ["show", "pause", "notifications", "events"] {
            assert!(r.stdout.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    let r = env.run(&["completions", "tcsh"]);
    assert_eq!(r.code, 2, "{r:?}");

    let dir = tempfile::tempdir().unwrap();
    let r = env.run(&["man", dir.path().to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    let page = std::fs::read_to_string(dir.path().join("evergreen.1")).unwrap();
    assert!(page.contains(".TH evergreen 1"), "{}", &page[..200]);
    let pause = std::fs::read_to_string(dir.path().join("evergreen-pause.1")).unwrap();
    assert!(pause.contains("Exit status") && pause.contains("\\-\\-for"), "{pause}");
    // Where man is installed, it renders the page.
    if let Ok(out) = std::process::Command::new("man")
        .arg("-l")
        .arg(dir.path().join("evergreen-status.1"))
        .env("MANPAGER", "cat")
        .output()
    {
        if out.status.success() {
            assert!(String::from_utf8_lossy(&out.stdout).contains("evergreen-status"));
        }
    }
}

/// A pipe whose reader has already gone, as `evergreen … | head -0` leaves one.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer
}

#[test]
fn a_reader_that_goes_away_ends_a_command_quietly_and_never_stops_the_engine() {
    let (env, _engine) = engine_with_web();
    for args in [
        &["status"][..],
        &["show", "web"],
        &["history"],
        &["completions", "bash"],
    ] {
        let out = env.cmd().args(args).stdout(closed_pipe()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "evergreen {args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "evergreen {args:?}: {stderr}");
    }

    // The engine itself, its stdout gone from the start: it keeps renewing.
    let env = Env::new();
    env.cert(
        "web",
        Duration::from_secs(29 * 86_400),
        Duration::from_secs(30 * 86_400),
    );
    env.write_config(&env.renewing("web", "30d", ""));
    let err = env.dir.path().join("engine.err");
    let mut engine = env
        .cmd()
        .arg("run")
        .stdout(closed_pipe())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    wait_for("the renewal", Duration::from_secs(20), || {
        env.run(&["status", "--json"]).code < 2 && env.status_of("web")["renewals"]["success"].as_u64() >= Some(1)
    });
    assert!(
        engine.try_wait().unwrap().is_none(),
        "{}",
        std::fs::read_to_string(&err).unwrap()
    );
    let _ = engine.kill();
    let _ = engine.wait();
    assert!(!std::fs::read_to_string(&err).unwrap().contains("panicked"));
}

/// `evergreen login` asks only credentials that log in with their user; the
/// others are refused with what does, and a closed standard error (a reader
/// gone) ends it with its status, not a panic.
#[test]
fn login_refuses_a_credential_that_does_not_ask_and_survives_a_closed_stderr() {
    let env = Env::new();
    env.cert("web", Duration::from_secs(60), Duration::from_secs(3600));
    env.write_config(&env.renewing("web", "1h", ""));
    let r = env.run(&["login", "web"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("web does not ask you to log in") && r.stderr.contains("its settings name no way to log in"),
        "{r:?}"
    );
    let mut child = env
        .cmd()
        .args(["login", "web"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    assert_eq!(child.wait().unwrap().code(), Some(2));
}
