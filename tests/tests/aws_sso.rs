//! An AWS IAM Identity Center session kept fresh against a CreateToken
//! endpoint on loopback (`evergreen_tests::sso_oidc`: PyPI's moto does not
//! serve SSO-OIDC), and the cache it rewrites read by the real consumer,
//! botocore (PyPI), exactly as the AWS CLI and SDKs read it.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use evergreen_core::events::EventKind;
use evergreen_core::model::State;
use evergreen_tests::machine::{aws_cache, sha1_hex};
use evergreen_tests::rig::{is, Rig};
use evergreen_tests::sso_oidc::SsoOidc;
use serde_json::Value;

const CONFIG: &str = "[profile dev]\nsso_session = work\nsso_account_id = 111122223333\nsso_role_name = Dev\nregion = eu-west-1\n\n[sso-session work]\nsso_start_url = https://work.awsapps.com/start\nsso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n";

/// What botocore's SSO token provider reads from `home` (refreshing it at
/// `endpoint`, as it does within 15 minutes of its end): the token and its
/// expiry (Unix seconds), or its error.
fn botocore_reads(home: &Path, endpoint: &str) -> Result<(String, i64), String> {
    let script = "\
import botocore.session
from botocore.tokens import SSOTokenProvider
t = SSOTokenProvider(botocore.session.Session(profile='dev')).load_token().get_frozen_token()
print(t.token)
print(int(t.expiration.timestamp()))
";
    let out = Command::new("python3")
        .args(["-c", script])
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join(".aws/config"))
        .env_remove("AWS_PROFILE")
        // Nothing may reach the real AWS.
        .env("AWS_ENDPOINT_URL_SSO_OIDC", endpoint)
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let mut lines = text.lines();
    Ok((
        lines.next().unwrap().to_string(),
        lines.next().unwrap().parse().unwrap(),
    ))
}

fn read_cache(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_refreshed_as_botocore_does_its_cache_read_by_botocore_and_an_ended_one_says_aws_sso_login() {
    let server = SsoOidc::start("RT-SECRET-0", 3600).await;
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    std::fs::create_dir_all(h.join(".aws/sso/cache")).unwrap();
    std::fs::write(h.join(".aws/config"), CONFIG).unwrap();
    let cache = h.join(format!(".aws/sso/cache/{}.json", sha1_hex("work")));
    let now = || {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    std::fs::write(&cache, aws_cache(now() + 1800, "AT-SECRET-0", "RT-SECRET-0")).unwrap();
    let before = read_cache(&cache);
    assert_eq!(
        botocore_reads(h, &server.url).unwrap().0,
        "AT-SECRET-0",
        "botocore reads the cache as `aws sso login` left it"
    );

    let mut rig = Rig::start(|_| {
        format!(
            "[[credential]]\nname = \"aws\"\nkind = \"aws_sso\"\nsession = \"work\"\nconfig_file = \"{}\"\ncache_dir = \"{}\"\nendpoint_url = \"{}\"\n",
            h.join(".aws/config").display(),
            h.join(".aws/sso/cache").display(),
            server.url
        )
    })
    .await;
    rig.wait("the first look", Duration::from_secs(10), is("observed"))
        .await;
    let st = rig.status("aws");
    assert_eq!(st.state, State::Healthy, "{st:?}");
    let d = st.details.clone().expect("details");
    assert_eq!(d.issuer, "https://work.awsapps.com/start");
    assert!(
        d.more
            .iter()
            .any(|r| r.label == "Session ends" && r.value.contains("not written on this machine")),
        "{d:?}"
    );
    let end = st.hard_end.clone().expect("the client registration's end");
    assert!(end.what.contains("registration"), "{end:?}");

    // Refreshed: the refresh_token grant, the cache rewritten as botocore writes it.
    for n in 1..=2u32 {
        let out = rig.engine().handle().renew("aws").await.unwrap();
        assert!(out.ok, "{out:?}");
        let sent = server.requests();
        let last = sent.last().unwrap();
        assert_eq!(last["grantType"], "refresh_token");
        assert_eq!(last["clientId"], "client-id-1");
        assert_eq!(last["clientSecret"], "AWS-CLIENT-SECRET");
        assert_eq!(
            last["refreshToken"],
            format!("RT-SECRET-{}", n - 1),
            "the rotated refresh token was kept and is the one spent"
        );
        let c = read_cache(&cache);
        assert_eq!(c["accessToken"], format!("AT-SECRET-{n}"));
        assert_eq!(c["refreshToken"], format!("RT-SECRET-{n}"));
        for kept in [
            "startUrl",
            "region",
            "clientId",
            "clientSecret",
            "registrationExpiresAt",
        ] {
            assert_eq!(c[kept], before[kept], "{kept} is kept as it was");
        }
        let at = c["expiresAt"].as_str().unwrap();
        assert!(
            at.len() == 20 && at.ends_with('Z') && at.as_bytes()[10] == b'T',
            "botocore's own format, %Y-%m-%dT%H:%M:%SZ: {at}"
        );
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&cache).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);
        // botocore, as every AWS tool, reads the new token and its expiry.
        let (token, expires) = botocore_reads(h, &server.url).unwrap();
        assert_eq!(token, format!("AT-SECRET-{n}"));
        let ours = rig.status("aws").not_after.unwrap() / 1000;
        assert_eq!(expires, ours, "botocore and Evergreen agree on the expiry");
        assert!((ours - now() as i64 - 3600).abs() <= 5, "{ours}");
    }

    // botocore refreshes too, within 15 minutes of the end: it spends the
    // refresh token Evergreen kept, and Evergreen reads what botocore wrote
    // and spends botocore's next one. Neither strands the other.
    server.seen.lock().unwrap().expires_in = 600;
    assert!(rig.engine().handle().renew("aws").await.unwrap().ok);
    let short = rig.status("aws").not_after.unwrap();
    server.seen.lock().unwrap().expires_in = 3600;
    let (token, _) = botocore_reads(h, &server.url).unwrap();
    assert_eq!(token, "AT-SECRET-4", "botocore refreshed");
    assert_eq!(server.requests().last().unwrap()["refreshToken"], "RT-SECRET-3");
    rig.wait(
        "botocore's token read",
        Duration::from_secs(10),
        |e| matches!(e.kind, EventKind::Observed { not_after, .. } if not_after > short + 1_000_000),
    )
    .await;
    assert!(rig.engine().handle().renew("aws").await.unwrap().ok);
    assert_eq!(server.requests().last().unwrap()["refreshToken"], "RT-SECRET-4");
    assert_eq!(read_cache(&cache)["accessToken"], "AT-SECRET-5");

    // The session ends: the refresh is refused, and what to do is said.
    server.end_session();
    let out = rig.engine().handle().renew("aws").await.unwrap();
    assert!(!out.ok, "{out:?}");
    let ev = rig.wait("the refusal", Duration::from_secs(10), is("rejected")).await;
    let EventKind::Rejected { reason } = &ev.kind else {
        unreachable!()
    };
    assert!(
        reason.contains("has ended") && reason.contains("`aws sso login --sso-session work`"),
        "{reason}"
    );
    let n = evergreen_core::notify_policy::decide(&ev).expect("a notification");
    assert!(
        n.actions.contains(&evergreen_core::notify_policy::NotifyAction::LogIn),
        "{n:?}"
    );
    let st = rig.status("aws");
    assert_eq!(
        st.login.as_ref().and_then(|l| l.command.clone()).unwrap().join(" "),
        "aws sso login --sso-session work"
    );
    assert_eq!(
        read_cache(&cache)["accessToken"],
        "AT-SECRET-5",
        "a refused refresh changes nothing"
    );
    for secret in ["AT-SECRET-", "RT-SECRET-", "AWS-CLIENT-SECRET"] {
        rig.assert_never_shows(secret);
    }
    rig.stop().await;
}
