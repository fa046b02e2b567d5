//! The kinds that watch what other tools keep: a GPG subkey (real `gpg`,
//! a throwaway GNUPGHOME), an expiry a command prints (a status file read
//! with `cat`, as `tailscale status --json` would be), and a kubeconfig
//! user whose certificate file a renew command rewrites. The engine runs
//! in-process on the real clock; every wait is for an event.

use std::process::Command;
use std::time::{Duration, SystemTime};

use evergreen_core::clock::{from_unix_millis, rfc3339, unix_millis};
use evergreen_core::events::EventKind;
use evergreen_core::model::State;
use evergreen_tests::env::Env;
use evergreen_tests::machine::{gnupg_home, stop_gpg_agent, Machine};
use evergreen_tests::rig::{is, Rig};

fn observed_after(min_ms: i64) -> impl Fn(&evergreen_core::events::Event) -> bool {
    move |e| matches!(e.kind, EventKind::Observed { not_after, .. } if not_after > min_ms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gpg_subkey_is_watched_its_notice_says_the_command_and_an_extension_is_seen_at_once() {
    let home = tempfile::tempdir().unwrap();
    let mut m = Machine {
        home: home.path().to_path_buf(),
        expect: Vec::new(),
        secrets: Vec::new(),
    };
    gnupg_home(home.path());
    let (primary, sub) = m.gpg("seconds=150");
    let gnupg = home.path().join(".gnupg");
    let mut rig = Rig::start(|_| {
        format!(
            "notify_before = [\"120s\"]\n\n[[credential]]\nname = \"gpg\"\nkind = \"gpg_key\"\nfingerprint = \"{sub}\"\ngnupg_home = \"{}\"\n",
            gnupg.display()
        )
    })
    .await;
    rig.wait("the first look", Duration::from_secs(20), is("observed"))
        .await;
    let st = rig.status("gpg");
    assert_eq!(st.state, State::Healthy, "{st:?}");
    assert!(!st.can_renew);
    let d = st.details.clone().expect("details");
    assert_eq!(d.subject, "Alice Example <alice@example.org>");
    assert_eq!((d.issuer.as_str(), d.sha256.as_str()), (primary.as_str(), sub.as_str()));
    assert!(d.serial.starts_with("encrypt"), "{d:?}");
    let command = format!("gpg --quick-set-expire {primary} 1y {sub}");
    let end = st.hard_end.clone().expect("its expiry, with what extends it");
    assert!(end.then.contains(&command), "{end:?}");

    // Within 120 s of its end: the notice, with the command.
    let ev = rig
        .wait("the expiry notice", Duration::from_secs(60), is("expiry_approaching"))
        .await;
    let EventKind::ExpiryApproaching { advice, .. } = &ev.kind else {
        unreachable!()
    };
    assert!(advice.as_deref().is_some_and(|a| a.contains(&command)), "{advice:?}");
    let n = evergreen_core::notify_policy::decide(&ev).unwrap();
    assert!(n.body.contains(&command), "{n:?}");

    // The owner extends it: the keyring changes and the new date is read at once.
    let out = Command::new("gpg")
        .env("GNUPGHOME", &gnupg)
        .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
        .args(["--quick-set-expire", &primary, "1y", &sub])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let in_300d = unix_millis(SystemTime::now() + Duration::from_secs(300 * 86_400));
    rig.wait("the extension", Duration::from_secs(20), observed_after(in_300d))
        .await;
    assert_eq!(rig.status("gpg").state, State::Healthy);
    stop_gpg_agent(home.path());
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiry_command_is_run_on_its_schedule_its_json_read_and_its_login_command_run_by_evergreen_login() {
    let dir = tempfile::tempdir().unwrap();
    let status = dir.path().join("status.json");
    let write_expiry = |at: SystemTime| {
        // As `tailscale status --json` has it.
        std::fs::write(
            &status,
            format!(
                r#"{{"BackendState":"Running","Self":{{"HostName":"laptop","KeyExpiry":"{}"}}}}"#,
                rfc3339(at)
            ),
        )
        .unwrap();
    };
    let first = SystemTime::now() + Duration::from_secs(150 * 86_400);
    write_expiry(first);
    let later = rfc3339(SystemTime::now() + Duration::from_secs(170 * 86_400));
    let login = format!(
        r#"printf '{{"Self":{{"KeyExpiry":"%s"}}}}' {later} > {}"#,
        status.display()
    );
    let mut rig = Rig::start(|_| {
        format!(
            "[[credential]]\nname = \"tailnet\"\nkind = \"expiry_command\"\ncommand = [\"cat\", \"{}\"]\njson_path = \".Self.KeyExpiry\"\nlifetime = \"180d\"\nevery = \"10s\"\nlogin_command = [\"sh\", \"-c\", {login:?}]\n\n[[credential]]\nname = \"broken\"\nkind = \"expiry_command\"\ncommand = [\"echo\", \"no date here\"]\n",
            status.display()
        )
    })
    .await;
    rig.wait("the first look", Duration::from_secs(10), |e| {
        e.credential.as_deref() == Some("tailnet") && e.kind.name() == "observed"
    })
    .await;
    let st = rig.status("tailnet");
    assert_eq!(st.state, State::Healthy, "{st:?}");
    assert_eq!(st.not_after.map(|ms| ms / 1000), Some(unix_millis(first) / 1000));
    let full = st.not_after.unwrap() - st.not_before.unwrap();
    assert_eq!(full / 1000, 180 * 86_400, "the lifetime given draws the fraction");
    assert!(st.login.as_ref().is_some_and(|l| l.command.is_some()));
    rig.seen_or_wait("the unreadable one's first look", Duration::from_secs(10), |e| {
        e.credential.as_deref() == Some("broken") && e.kind.name() == "paused"
    })
    .await;
    let broken = rig.status("broken");
    assert!(
        matches!(broken.state, State::Paused { .. })
            && broken
                .problem
                .as_deref()
                .is_some_and(|p| p.contains("`echo no date here`") && p.contains("no line of its output is a time")),
        "{broken:?}"
    );

    // Something else changes the expiry: the next look (every 10 s) sees it.
    let second = SystemTime::now() + Duration::from_secs(160 * 86_400);
    write_expiry(second);
    rig.wait(
        "the next look",
        Duration::from_secs(25),
        observed_after(unix_millis(first)),
    )
    .await;
    assert_eq!(
        rig.status("tailnet").not_after.map(|ms| ms / 1000),
        Some(unix_millis(second) / 1000)
    );

    // `evergreen login` runs the login command in the terminal.
    let config = rig.path("config.toml");
    let out = evergreen_tests::evergreen([
        "--config".as_ref(),
        config.as_os_str(),
        "login".as_ref(),
        "tailnet".as_ref(),
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(std::fs::read_to_string(&status).unwrap().contains(&later));
    rig.wait(
        "the new expiry",
        Duration::from_secs(25),
        observed_after(unix_millis(second)),
    )
    .await;
    let at = from_unix_millis(rig.status("tailnet").not_after.unwrap());
    assert_eq!(rfc3339(at), later);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubeconfig_users_certificate_file_is_renewed_by_its_command_and_its_contexts_shown() {
    let env = Env::new();
    let cert = env.cert("kube", Duration::from_secs(50), Duration::from_secs(60));
    let kubeconfig = env.dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncontexts:\n- {{name: dev@prod, context: {{cluster: prod, user: dev}}}}\nusers:\n- name: dev\n  user:\n    client-certificate: {}\n    client-key: dev.key\n",
            cert.display()
        ),
    )
    .unwrap();
    let renew = format!(
        "[\"{}\", \"demo-renew\", \"--dir\", \"{}\", \"--name\", \"kube\", \"--lifetime\", \"1h\"]",
        evergreen_tests::evergreen_bin().display(),
        env.certs().display()
    );
    let mut rig = Rig::start(|_| {
        format!(
            "[[credential]]\nname = \"kube-dev\"\nkind = \"kubeconfig\"\npath = \"{}\"\nuser = \"dev\"\nrenew_command = {renew}\n",
            kubeconfig.display()
        )
    })
    .await;
    let first = rig
        .wait("the first look", Duration::from_secs(10), is("observed"))
        .await;
    let EventKind::Observed { not_after, .. } = first.kind else {
        unreachable!()
    };
    let d = rig.status("kube-dev").details.expect("details");
    assert!(d.subject.contains("kube"), "{d:?}");
    assert!(
        d.more.iter().any(|r| r.label == "Contexts" && r.value == "dev@prod"),
        "{d:?}"
    );
    // Ten seconds left of sixty: past its renewal point, so renewed by its command.
    let ev = rig
        .wait("the renewal", Duration::from_secs(20), is("renewal_succeeded"))
        .await;
    let EventKind::RenewalSucceeded { new_not_after, .. } = ev.kind else {
        unreachable!()
    };
    assert!(new_not_after > not_after + 1_800_000, "an hour's certificate now");
    assert_eq!(rig.status("kube-dev").state, State::Healthy);
    rig.stop().await;
}
