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
    // A proxy in the environment is not used for loopback: nothing reaches it.
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    proxy.set_nonblocking(true).unwrap();
    let daemon = env.start_with(&[("HTTP_PROXY", &proxy_url), ("ALL_PROXY", &proxy_url)]);
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
    assert!(
        proxy.accept().is_err(),
        "a request to a loopback server went through HTTP_PROXY"
    );
    assert_eq!(daemon.stop(), 0);
}

fn mode(p: &std::path::Path) -> u32 {
    std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions()) & 0o777
}

/// CPU time (user + system) the process has used, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn renewals(env: &Env, name: &str) -> usize {
    let h = env.run(&["history", name, "--json"]);
    serde_json::from_str::<serde_json::Value>(&h.stdout)
        .map(|v| {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter(|e| e["action"] == "renew" && e["outcome"] == "success")
                        .count()
                })
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

#[test]
fn the_socket_is_the_users_alone_and_another_uid_is_refused_by_name() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let env = Env::new();
    env.cert("web", Duration::from_secs(3600), Duration::from_secs(86_400));
    env.write_config(&env.renewing("web", "24h", ""));
    let daemon = env.start();
    let run = env.dir.path().join("run");
    let socket = run.join("evergreen.sock");
    assert_eq!(mode(&run), 0o700);
    assert_eq!(mode(&socket), 0o600);
    if rustix::process::geteuid().as_raw() != 0 {
        panic!("this test drops to uid 65534 (nobody), which needs root; CI runs as root");
    }
    // A careless setup opens the directory and the socket to everyone: the
    // peer's uid is still checked.
    for (p, m) in [
        (env.dir.path(), 0o755),
        (run.as_path(), 0o755),
        (socket.as_path(), 0o666),
    ] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    }
    // nobody may not walk a build tree under a private home: give it a link
    // of its own (the same file, so no disk space), or a copy where the
    // temporary directory is on another file system.
    let exe = env.dir.path().join("evergreen");
    if std::fs::hard_link(evergreen_tests::evergreen_bin(), &exe).is_err() {
        std::fs::copy(evergreen_tests::evergreen_bin(), &exe)
            .unwrap_or_else(|e| panic!("copying the evergreen binary to {}: {e}", exe.display()));
    }
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = env
        .cmd()
        .get_envs()
        .fold(std::process::Command::new(&exe), |mut c, (k, v)| {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
            c
        })
        .args(["status"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("this engine belongs to uid 0, not to you (uid 65534)"),
        "{said}"
    );
    wait_for("the refusal in the engine's log", Duration::from_secs(10), || {
        daemon
            .stderr()
            .contains("refused a connection from uid 65534; only uid 0 may steer this engine")
    });
    // The owner is served as before.
    assert_eq!(env.run(&["status"]).code, 0);
    assert_eq!(daemon.stop(), 0);
}

#[test]
fn two_thousand_idle_connections_neither_wedge_the_engine_nor_stop_its_renewals() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    // The test holds 2,000 descriptors; the engine must not need to.
    let mut lim = getrlimit(Resource::Nofile);
    lim.current = lim.maximum;
    setrlimit(Resource::Nofile, lim).unwrap();
    let env = Env::new();
    // Renewed every few seconds: 6 s certificates renewed at two thirds.
    env.cert("short", Duration::ZERO, Duration::from_secs(6));
    env.write_config(&env.renewing("short", "6s", ""));
    let daemon = env.start();
    let pid = daemon.child.id();
    let socket = env.dir.path().join("run/evergreen.sock");
    let mut held = Vec::new();
    for _ in 0..2000 {
        held.push(std::os::unix::net::UnixStream::connect(&socket).expect("connect"));
    }
    let (ticks, before) = (cpu_ticks(pid), renewals(&env, "short"));
    // `evergreen history` itself is refused while the engine is full; count
    // renewals from the engine's event stream instead.
    let renewed = || {
        daemon
            .events()
            .iter()
            .filter(|e| e["event"] == "renewal_succeeded" && e["credential"] == "short")
            .count()
    };
    let seen = renewed();
    wait_for(
        "two renewals while 2,000 clients hang on",
        Duration::from_secs(30),
        || renewed() >= seen + 2,
    );
    // A new client is told why, at once, rather than left waiting.
    let busy = env.run(&["status"]);
    assert_ne!(busy.code, 0, "{busy:?}");
    assert!(
        busy.stderr.contains("the engine is serving 64 connections already"),
        "{busy:?}"
    );
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count();
    assert!(fds < 64 + 48, "the engine holds {fds} descriptors");
    // Idle: well under a tenth of a core over the time the clients hung on.
    let used = cpu_ticks(pid) - ticks;
    assert!(used < 100, "the engine used {used} ticks of CPU while clients idled");
    drop(held);
    wait_for("the engine to serve again", Duration::from_secs(10), || {
        env.run(&["status"]).code == 0
    });
    assert!(renewals(&env, "short") >= before + 2);
    assert_eq!(daemon.stop(), 0);
}

#[tokio::test]
async fn a_connection_that_says_nothing_is_closed_and_frees_its_place() {
    use evergreen_core::engine::{Engine, EngineOptions};
    use evergreen_core::ipc::{Client, Limits, Reply, Request};
    use tokio::io::AsyncReadExt;
    let env = Env::new();
    env.write_config("");
    let mut opts = EngineOptions::new(evergreen_core::paths::Paths::under(env.dir.path()));
    opts.follow_logind = false;
    opts.listen = Some(Limits {
        connections: 1,
        idle: Duration::from_secs(1),
        write: Duration::from_secs(1),
    });
    let engine = Engine::start(opts).await.unwrap();
    let socket = engine.paths().socket();
    let mut silent = tokio::net::UnixStream::connect(&socket).await.unwrap();
    // The one place is taken: the next client is told so.
    let mut c = Client::connect(&socket).await.unwrap();
    match c.request(&Request::Ping).await.unwrap() {
        Reply::Error { message } => assert!(message.contains("serving 1 connections already"), "{message}"),
        other => panic!("{other:?}"),
    }
    // The silent one is closed once its idle time is up, and its place is free.
    let mut buf = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(20), silent.read_to_end(&mut buf))
        .await
        .expect("the engine closes a silent connection")
        .unwrap();
    assert_eq!(n, 0);
    let mut c = Client::connect(&socket).await.unwrap();
    assert!(matches!(c.request(&Request::Ping).await.unwrap(), Reply::Pong { .. }));
    engine.shutdown().await;
}

#[test]
fn the_tray_app_is_built_without_the_control_planes_admin_api() {
    // The demo's control plane runs inside the app; its admin API (a remote
    // control for tests) must not: it is a cargo feature the app leaves off.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "tree",
            "--offline",
            "-p",
            "evergreen-app",
            "-e",
            "features",
            "-i",
            "evergreen-sandbox",
        ])
        .current_dir(&root)
        .output()
        .unwrap();
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(tree.contains("evergreen-sandbox v"), "{tree}");
    assert!(!tree.contains("evergreen-sandbox feature"), "{tree}");
}

#[test]
fn a_renew_command_never_sees_the_variables_secrets_are_read_from() {
    let env = Env::new();
    let d = env.dir.path();
    // Due now (20 of 30 days gone): its renew command runs at once and
    // writes down the environment it was given.
    env.cert(
        "web",
        Duration::from_secs(20 * 86_400),
        Duration::from_secs(30 * 86_400),
    );
    let seen = d.join("env.txt");
    env.write_config(&format!(
        "[[credential]]\nname = \"web\"\nkind = \"x509_file\"\npath = \"{}\"\nrenew_command = [\"sh\", \"-c\", \"env > {}\"]\n\n\
         [[credential]]\nname = \"vault\"\nkind = \"vault_token\"\naddress = \"http://127.0.0.1:9\"\ntoken_env = \"EVG_TEST_VAULT_TOKEN\"\n\n\
         [[credential]]\nname = \"cc\"\nkind = \"certctl\"\nurl = \"https://127.0.0.1:9\"\nagent_id = \"a-1\"\napi_key_env = \"EVG_TEST_CERTCTL_KEY\"\nkey_dir = \"{}\"\ntargets = [\"t=/nonexistent/t.pem\"]\n",
        env.certs().join("web.pem").display(),
        seen.display(),
        d.join("keys").display(),
    ));
    let daemon = env.start_with(&[
        ("EVG_TEST_VAULT_TOKEN", "s.vault-secret-token"),
        ("EVG_TEST_CERTCTL_KEY", "cc-secret-api-key"),
        ("EVG_TEST_HARMLESS", "kept"),
    ]);
    wait_for("the renew command to run", Duration::from_secs(20), || {
        std::fs::read_to_string(&seen).is_ok_and(|s| s.contains("EVERGREEN_CREDENTIAL=web"))
    });
    let vars = std::fs::read_to_string(&seen).unwrap();
    assert!(vars.contains("EVG_TEST_HARMLESS=kept"), "{vars}");
    assert!(vars.contains("EVERGREEN_CERT_PATH="), "{vars}");
    for secret in [
        "EVG_TEST_VAULT_TOKEN",
        "EVG_TEST_CERTCTL_KEY",
        "vault-secret-token",
        "cc-secret-api-key",
    ] {
        assert!(!vars.contains(secret), "{secret} reached the renew command");
    }
    assert_eq!(daemon.stop(), 0);
}

#[test]
fn out_of_descriptors_the_socket_backs_off_instead_of_spinning_and_recovers() {
    let env = Env::new();
    env.cert("web", Duration::from_secs(3600), Duration::from_secs(86_400));
    env.write_config(&env.renewing("web", "24h", ""));
    // An engine allowed few descriptors, so clients can exhaust them.
    let mut cmd = std::process::Command::new("prlimit");
    cmd.args(["--nofile=64", "--"])
        .arg(evergreen_tests::evergreen_bin())
        .args(["run", "--json"]);
    for (k, v) in env.cmd().get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let err = env.dir.path().join("engine.err");
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    wait_for("the engine to answer", Duration::from_secs(20), || {
        env.run(&["status"]).code == 0
    });
    let socket = env.dir.path().join("run/evergreen.sock");
    let mut held = Vec::new();
    for _ in 0..200 {
        if let Ok(s) = std::os::unix::net::UnixStream::connect(&socket) {
            held.push(s);
        }
    }
    wait_for("the engine to say it cannot accept", Duration::from_secs(20), || {
        std::fs::read_to_string(&err).is_ok_and(|l| l.contains("cannot accept a connection"))
    });
    // Out of descriptors with clients still queued: backing off, not spinning.
    let ticks = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(3));
    let used = cpu_ticks(pid) - ticks;
    assert!(used < 60, "the engine used {used} ticks in 3 s out of descriptors");
    drop(held);
    wait_for("the engine to serve again", Duration::from_secs(30), || {
        env.run(&["status"]).code == 0
    });
    let _ = child.kill();
    let _ = child.wait();
}
