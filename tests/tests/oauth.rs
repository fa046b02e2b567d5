//! OAuth credentials against a real OpenID Connect provider (npm
//! `oidc-provider`, `evergreen_tests::oidc`) issuing short access tokens:
//! the device-grant login through `evergreen login`, refreshes with rotated
//! refresh tokens, `evergreen token` accepted by the provider's userinfo
//! endpoint, a revoked refresh token ending in "a new login is needed" said
//! again and again, and the tokens in a real desktop keyring
//! (gnome-keyring on a private session bus) or a 0600 file.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use evergreen_core::events::EventKind;
use evergreen_core::model::State;
use evergreen_tests::oidc::{login_through, Oidc};
use evergreen_tests::rig::{is, Rig};

fn provider() -> Oidc {
    Oidc::start(serde_json::json!([{
        "client_id": "cli",
        // A native client: a loopback redirect may use any port (RFC 8252).
        "application_type": "native",
        "token_endpoint_auth_method": "none",
        "grant_types": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token", "authorization_code"],
        "response_types": ["code"],
        "redirect_uris": ["http://127.0.0.1/callback"],
    }]))
}

fn cred(p: &Oidc, token_file: &Path, extra: &str) -> String {
    format!(
        "[[credential]]\nname = \"mail\"\nkind = \"oauth\"\nissuer = \"{}\"\nclient_id = \"cli\"\nscopes = [\"openid\", \"offline_access\"]\ntoken_file = \"{}\"\n{extra}\n",
        p.issuer,
        token_file.display()
    )
}

/// `evergreen login mail --no-browser` with `env`, the scripted browser
/// entering the device code it prints; what it printed.
async fn device_login(config: &Path, env: &[(&str, &str)]) -> String {
    let mut cli = Command::new(evergreen_tests::evergreen_bin());
    cli.arg("--config").arg(config).args(["login", "mail", "--no-browser"]);
    for (k, v) in env {
        cli.env(k, v);
    }
    let done = login_through(cli, "alice").await;
    assert!(done.url.contains("/device?user_code="), "{}", done.url);
    assert_eq!(done.back, "", "the device login ends at the provider's success page");
    assert!(
        done.ok && done.stdout.contains("logged in"),
        "{}\n{}",
        done.stdout,
        done.stderr
    );
    done.stdout
}

fn refresh_token_in(file: &Path) -> String {
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    v["refresh_token"].as_str().unwrap().to_string()
}

/// The provider's userinfo endpoint answers `token` with alice's claims.
async fn userinfo_accepts(p: &Oidc, token: &str) -> bool {
    let r = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{}/me", p.issuer))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    r.status().is_success() && r.text().await.unwrap().contains("\"sub\":\"alice\"")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_login_then_rotating_refreshes_a_token_for_scripts_and_a_revoked_grant_keeps_reminding() {
    let p = provider();
    let keys = tempfile::tempdir().unwrap();
    let token_file = keys.path().join("tokens/mail.json");
    let mut rig = Rig::start(|_| {
        cred(
            &p,
            &token_file,
            "keyring = false\nnotify_every = \"3s\"\nrenew_at_fraction = 0.5",
        )
    })
    .await;
    // No tokens yet: it waits for its user, and says how.
    let paused = rig.wait("the first look", Duration::from_secs(10), is("paused")).await;
    assert!(paused.to_string().contains("`evergreen login mail`"), "{paused}");
    device_login(&rig.path("config.toml"), &[]).await;
    assert_eq!(
        std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    rig.wait("the tokens", Duration::from_secs(20), is("observed")).await;
    assert_eq!(rig.status("mail").state, State::Healthy);

    // Refreshed at half the access token's 10 s, a new refresh token each time.
    let mut seen = vec![refresh_token_in(&token_file)];
    for i in 1..=3 {
        rig.wait(
            &format!("refresh {i}"),
            Duration::from_secs(20),
            is("renewal_succeeded"),
        )
        .await;
        let now = refresh_token_in(&token_file);
        assert!(!seen.contains(&now), "refresh {i} rotated the refresh token");
        seen.push(now);
    }

    // `evergreen token` prints an access token the provider accepts.
    let config = rig.path("config.toml");
    let out = evergreen_tests::evergreen([
        "--config".as_ref(),
        config.as_os_str(),
        "token".as_ref(),
        "mail".as_ref(),
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let access = out.stdout.trim().to_string();
    assert!(userinfo_accepts(&p, &access).await, "userinfo refused the token");

    // The grant revoked at the provider: the next refresh is refused, and
    // the credential waits for a login, saying so again every 3 s.
    let refresh = refresh_token_in(&token_file);
    let revoked = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{}/token/revocation", p.issuer))
        .form(&[
            ("token", refresh.as_str()),
            ("token_type_hint", "refresh_token"),
            ("client_id", "cli"),
        ])
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success(), "{revoked:?}");
    let rejected = rig
        .wait("the refused refresh", Duration::from_secs(20), is("rejected"))
        .await;
    assert!(
        rejected.to_string().contains("invalid_grant") && rejected.to_string().contains("`evergreen login mail`"),
        "{rejected}"
    );
    assert_eq!(rig.status("mail").state, State::Expired);
    for i in 1..=2 {
        rig.wait(
            &format!("reminder {i}"),
            Duration::from_secs(10),
            is("still_waits_for_you"),
        )
        .await;
    }
    let out = evergreen_tests::evergreen([
        "--config".as_ref(),
        config.as_os_str(),
        "token".as_ref(),
        "mail".as_ref(),
    ]);
    assert!(out.code == 0 || out.stderr.contains("log in"), "{out:?}");
    for secret in seen.iter().chain([&access]) {
        rig.assert_never_shows(secret);
    }
    assert_eq!(rig.count(|k| matches!(k, EventKind::Final { .. })), 0);
    rig.stop().await;
}

/// A real Secret Service: gnome-keyring-daemon on a private session bus,
/// its login keyring unlocked with a password on standard input.
struct Keyring {
    _bus: std::process::Child,
    daemon: std::process::Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl Keyring {
    async fn start() -> Keyring {
        let dir = tempfile::tempdir().unwrap();
        let address = format!("unix:path={}", dir.path().join("bus").display());
        let bus = evergreen_tests::bus::daemon(&address);
        for d in ["home", "run"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
            std::fs::set_permissions(dir.path().join(d), std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        let mut daemon = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("HOME", dir.path().join("home"))
            .env("XDG_RUNTIME_DIR", dir.path().join("run"))
            .env_remove("XDG_DATA_HOME")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon runs (Debian's gnome-keyring; make test installs it)");
        {
            use std::io::Write;
            let mut stdin = daemon.stdin.take().unwrap();
            stdin.write_all(b"keyring-password").unwrap();
        }
        // Ready when it owns the Secret Service's name on the bus.
        let conn = zbus::connection::Builder::address(address.as_str())
            .unwrap()
            .build()
            .await
            .unwrap();
        let dbus = zbus::fdo::DBusProxy::new(&conn).await.unwrap();
        let name = zbus::names::BusName::try_from("org.freedesktop.secrets").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !dbus.name_has_owner(name.clone()).await.unwrap() {
            assert!(
                std::time::Instant::now() < deadline,
                "gnome-keyring-daemon did not take the Secret Service's name"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Keyring {
            _bus: bus,
            daemon,
            address,
            _dir: dir,
        }
    }

    /// `secret-tool search` for Evergreen's item of credential `name`.
    fn holds(&self, name: &str) -> bool {
        let out = Command::new("secret-tool")
            .args(["search", "application", "evergreen", "credential", name])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("label = Evergreen: ")
            || String::from_utf8_lossy(&out.stderr).contains("label = Evergreen: ")
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        let _ = self._bus.kill();
        let _ = self._bus.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_go_to_the_desktop_keyring_when_one_runs_and_to_a_0600_file_when_none_does() {
    let p = provider();
    let keyring = Keyring::start().await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("tokens/mail.json");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, cred(&p, &token_file, "")).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let with_keyring = [("DBUS_SESSION_BUS_ADDRESS", keyring.address.as_str())];
    let said = device_login(&config, &with_keyring).await;
    assert!(said.contains("kept in the desktop keyring"), "{said}");
    assert!(keyring.holds("mail"), "the keyring has the tokens");
    assert!(!token_file.exists(), "and no file has them");
    let token = |env: &[(&str, &str)]| {
        let mut c = Command::new(evergreen_tests::evergreen_bin());
        c.arg("--config").arg(&config).args(["token", "mail"]);
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, access, err) = token(&with_keyring);
    assert_eq!(code, Some(0), "{err}");
    assert!(userinfo_accepts(&p, &access).await);

    // No Secret Service: the login keeps the tokens in the file, 0600.
    let without = [("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/evergreen-test-bus")];
    let said = device_login(&config, &without).await;
    assert!(said.contains(&format!("kept in {}", token_file.display())), "{said}");
    assert_eq!(
        std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let (code, access, err) = token(&without);
    assert_eq!(code, Some(0), "{err}");
    assert!(userinfo_accepts(&p, &access).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_login_uses_the_code_grant_with_pkce_on_a_loopback_redirect() {
    let p = provider();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("mail.json");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, cred(&p, &token_file, "keyring = false\nflow = \"browser\"")).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    // No login yet: `evergreen token` says what to do, and exits 1.
    let none = evergreen_tests::evergreen([
        "--config".as_ref(),
        config.as_os_str(),
        "token".as_ref(),
        "mail".as_ref(),
    ]);
    assert!(
        none.code == 1 && none.stdout.is_empty() && none.stderr.contains("`evergreen login mail`"),
        "{none:?}"
    );
    let mut cli = Command::new(evergreen_tests::evergreen_bin());
    cli.arg("--config").arg(&config).args(["login", "mail", "--no-browser"]);
    let done = login_through(cli, "alice").await;
    assert!(
        done.url.contains("code_challenge_method=S256") && done.url.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A"),
        "{}",
        done.url
    );
    assert!(
        done.back.starts_with("http://127.0.0.1:") && done.back.contains("/callback?code="),
        "{}",
        done.back
    );
    assert!(done.ok, "{}\n{}", done.stdout, done.stderr);
    let out = evergreen_tests::evergreen([
        "--config".as_ref(),
        config.as_os_str(),
        "token".as_ref(),
        "mail".as_ref(),
    ]);
    assert!(userinfo_accepts(&p, out.stdout.trim()).await, "{out:?}");
}
