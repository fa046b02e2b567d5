//! SSH certificates against a real OpenBao SSH engine, a real sshd and a
//! real ssh-agent, and a certificate another tool writes, only watched.
//!
//! The engine runs in-process on the real clock (the certificates' TTLs are
//! real seconds); every wait is for an event, a login or the agent's list.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use evergreen_core::model::State;
use evergreen_tests::bao::Bao;
use evergreen_tests::rig::{is, Rig};
use evergreen_tests::ssh::{user, Agent, Identity, Sshd};

fn ssh_cred(bao: &Bao, token: &Path, keys: &Path, agent: &Path, who: &str) -> String {
    format!(
        "[[credential]]\nname = \"ssh\"\nkind = \"ssh_cert\"\naddress = \"{}\"\ntoken_file = \"{}\"\nrole = \"dev\"\nprincipals = [\"{who}\"]\nttl = \"15s\"\nextensions = [\"permit-pty\"]\nkey_path = \"{}\"\nagent_socket = \"{}\"\n",
        bao.addr,
        token.display(),
        keys.join("id_ed25519").display(),
        agent.display()
    )
}

/// The certificate's key type and blob: what `ssh-add -L` lists of it.
/// One user's SSH setup against a fresh OpenBao: its SSH engine (CA key
/// `ca`, 60 s certificates), a running ssh-agent, a key directory, a token
/// file and the credential's config. Dropping it stops the server.
struct Setup {
    who: String,
    _bao: Bao,
    ca: String,
    agent: Agent,
    _keys: tempfile::TempDir,
    keydir: std::path::PathBuf,
    key: std::path::PathBuf,
    token: String,
    config: String,
}

fn setup() -> Setup {
    let who = user();
    let bao = Bao::dev();
    let ca = bao.ssh_engine(&who, "60s");
    let agent = Agent::start();
    let keys = tempfile::tempdir().unwrap();
    let keydir = keys.path().join("ssh");
    let token_file = keys.path().join("token");
    let token = bao.ssh_token_file(&token_file, "1h");
    let config = ssh_cred(&bao, &token_file, &keydir, &agent.socket, &who);
    Setup {
        key: keydir.join("id_ed25519"),
        who,
        _bao: bao,
        ca,
        agent,
        _keys: keys,
        keydir,
        token,
        config,
    }
}

fn blob(line: &str) -> String {
    line.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

fn cert_line(keys: &Path) -> String {
    blob(&std::fs::read_to_string(keys.join("id_ed25519-cert.pub")).unwrap())
}

fn valid_before(keys: &Path) -> SystemTime {
    let c = ssh_key::Certificate::read_file(&keys.join("id_ed25519-cert.pub")).unwrap();
    c.valid_before_time()
}

/// Logs in with the key until sshd refuses it (the certificate expired),
/// bounded; each try is a real login.
fn refused_within(sshd: &Sshd, who: &str, key: &Path, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let (ok, said) = sshd.login(who, Identity::Key(key));
        if !ok {
            return said;
        }
        assert!(Instant::now() < deadline, "the login still worked after {limit:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_certificate_logs_in_across_renewals_and_a_restart_after_expiry() {
    let Setup {
        who,
        _bao,
        ca,
        agent,
        _keys,
        keydir,
        key,
        token,
        config,
    } = setup();
    let sshd = Sshd::trusting(&ca);

    let mut rig = Rig::start(|_| config.clone()).await;
    rig.wait(
        "the first certificate",
        Duration::from_secs(30),
        is("renewal_succeeded"),
    )
    .await;
    // The key was made here, 0600 in a 0700 directory, and logs in.
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(&keydir), 0o700);
    let key_bytes = std::fs::read(&key).unwrap();
    let (ok, said) = sshd.login(&who, Identity::Key(&key));
    assert!(ok, "the first certificate logs in: {said}");
    assert_eq!(
        agent.list(),
        [cert_line(&keydir)],
        "the agent holds exactly the certificate"
    );
    let st = rig.status("ssh");
    let d = st.details.as_ref().expect("details");
    assert_eq!(
        (d.labels.title.as_str(), d.labels.subject.as_str()),
        ("SSH certificate", "Key ID")
    );
    assert_eq!(d.sans, std::slice::from_ref(&who));
    assert!(
        d.more.iter().any(|r| r.label == "ssh-agent" && r.at.is_some()),
        "{:?}",
        d.more
    );

    // Several renewals: the same key, a new certificate each time, still logging in.
    let mut seen = vec![cert_line(&keydir)];
    for i in 1..=3 {
        rig.wait(
            &format!("renewal {i}"),
            Duration::from_secs(30),
            is("renewal_succeeded"),
        )
        .await;
        let now = cert_line(&keydir);
        assert!(!seen.contains(&now), "renewal {i} wrote a new certificate");
        seen.push(now.clone());
        assert_eq!(std::fs::read(&key).unwrap(), key_bytes, "the key stays the same");
        let (ok, said) = sshd.login(&who, Identity::Key(&key));
        assert!(ok, "after renewal {i}: {said}");
        assert_eq!(agent.list(), [now], "the agent holds only the current certificate");
        let (ok, said) = sshd.login(&who, Identity::Agent(&agent.socket));
        assert!(ok, "through the agent after renewal {i}: {said}");
    }
    assert_eq!(rig.status("ssh").state, State::Healthy);
    rig.assert_never_shows(&token);
    rig.stop().await;

    // Stopped past its expiry: the login is refused.
    let said = refused_within(&sshd, &who, &key, Duration::from_secs(40));
    assert!(
        SystemTime::now() >= valid_before(&keydir),
        "refused before it expired: {said}"
    );

    // Started again: it renews at once and the login works again, same key;
    // the agent holds the new certificate and not the expired one.
    let mut rig = Rig::start(|_| config.clone()).await;
    rig.wait(
        "a renewal after the restart",
        Duration::from_secs(30),
        is("renewal_succeeded"),
    )
    .await;
    let (ok, said) = sshd.login(&who, Identity::Key(&key));
    assert!(ok, "after the restart: {said}");
    assert_eq!(std::fs::read(&key).unwrap(), key_bytes);
    assert_eq!(agent.list(), [cert_line(&keydir)]);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_expired_while_evergreen_was_away_leaves_the_agent() {
    // The agent's own timer runs on a clock a sleep stops: model that with a
    // certificate added without a lifetime, as `ssh-add` does.
    let Setup {
        _bao,
        agent,
        _keys,
        keydir,
        key,
        config,
        ..
    } = setup();
    let config = config.replace("ttl = \"15s\"", "ttl = \"6s\"");
    let mut rig = Rig::start(|_| config.clone()).await;
    rig.wait(
        "the first certificate",
        Duration::from_secs(30),
        is("renewal_succeeded"),
    )
    .await;
    rig.stop().await;
    let old = cert_line(&keydir);
    // Put it in again with no lifetime, as a user's `ssh-add` would.
    let out = Command::new("ssh-add")
        .arg(&key)
        .env("SSH_AUTH_SOCK", &agent.socket)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(agent.list().contains(&old), "{:?}", agent.list());
    let expiry = valid_before(&keydir);
    // Wait for the expiry by the agent's own list: the certificate stays
    // there after it ended, which is the point.
    while SystemTime::now() < expiry {
        assert!(agent.list().contains(&old));
        std::thread::sleep(Duration::from_millis(250));
    }
    let mut rig = Rig::start(|_| config.clone()).await;
    rig.wait(
        "a renewal after the restart",
        Duration::from_secs(30),
        is("renewal_succeeded"),
    )
    .await;
    let held = agent.list();
    assert!(!held.contains(&old), "the expired certificate is gone: {held:?}");
    assert!(held.contains(&cert_line(&keydir)), "the new one is there: {held:?}");
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_another_tool_writes_is_watched_and_renewed_by_its_command() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let keygen = |args: &[&str]| {
        let out = Command::new("ssh-keygen").args(args).current_dir(d).output().unwrap();
        assert!(
            out.status.success(),
            "ssh-keygen {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    keygen(&["-q", "-t", "ed25519", "-N", "", "-f", "ca"]);
    keygen(&["-q", "-t", "ed25519", "-N", "", "-f", "id_tool"]);
    keygen(&[
        "-q",
        "-s",
        "ca",
        "-I",
        "tool@ws",
        "-n",
        "alice,ops",
        "-V",
        "-1m:+1h",
        "id_tool.pub",
    ]);
    let renew = format!(
        "cd {} && ssh-keygen -q -s ca -I tool@ws -n alice,ops -V -1m:+2h id_tool.pub",
        d.display()
    );
    let mut rig = Rig::start(|_| {
        format!(
            "[[credential]]\nname = \"tool\"\nkind = \"ssh_cert\"\npath = \"{}\"\nrenew_command = {renew:?}\nshell = true\n",
            d.join("id_tool-cert.pub").display()
        )
    })
    .await;
    rig.wait("the first look", Duration::from_secs(20), is("observed"))
        .await;
    let st = rig.status("tool");
    assert_eq!(st.state, State::Healthy, "{st:?}");
    let d1 = st.details.clone().expect("details");
    assert_eq!((d1.subject.as_str(), d1.labels.subject.as_str()), ("tool@ws", "Key ID"));
    assert_eq!(d1.sans, ["alice", "ops"]);
    assert!(
        !d1.more.iter().any(|r| r.label == "ssh-agent"),
        "a watched one is not put into the agent"
    );
    let first_end = st.not_after.unwrap();
    let out = rig.engine().handle().renew("tool").await.unwrap();
    assert!(out.ok, "{out:?}");
    let st = rig.status("tool");
    assert!(st.not_after.unwrap() > first_end + 3_000_000, "{st:?}");
    rig.stop().await;
}
