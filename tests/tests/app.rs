//! The tray app end to end: the real `evergreen-app` binary, its tray process
//! hosting the engine and its window process in a real window (Xvfb), driven
//! over WebDriver (tauri-driver + WebKitWebDriver), talking to a real control
//! plane (the sandbox, over TLS), with a real notification server on a
//! private session bus whose `Notify` calls are recorded.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use evergreen_sandbox::faults::{Fault, FaultKind};
use evergreen_sandbox::{Options, Sandbox};
use evergreen_tests::desktop::{children_of, ended, poll, processes, start_logged, Desktop, Log};
use evergreen_tests::tray::Tray;
use evergreen_tests::webdriver::Session;
use evergreen_tests::{app_bin, evergreen_bin};

const NIX: &str = "sandbox-nixfleet";
const WRENN: &str = "sandbox-wrenn";
const RENEW: &str = "POST /v1/agent/renew";

fn card(name: &str) -> String {
    format!("[data-testid=credential][data-name=\"{name}\"]")
}

async fn card_state(s: &Session, name: &str) -> Option<String> {
    let el = s.find_all(&card(name)).await.into_iter().next()?;
    s.attribute(&el, "data-state").await
}

async fn wait_state(s: &Session, name: &str, want: &str, timeout: Duration) {
    let start = Instant::now();
    loop {
        let st = card_state(s, name).await;
        if st.as_deref() == Some(want) {
            return;
        }
        assert!(
            start.elapsed() < timeout,
            "{name} stayed {st:?}, expected {want} within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The last-result line of a card and, after a tab, when it finished (its
/// title): "Renewed just now" reads the same for two renewals a few
/// seconds apart, the finishing time does not.
async fn last_result(s: &Session, name: &str) -> String {
    let el = s
        .wait_for(
            &format!("{} [data-testid=last-result]", card(name)),
            Duration::from_secs(10),
        )
        .await;
    let finished = s.attribute(&el, "title").await.unwrap_or_default();
    format!("{}\t{finished}", s.text(&el).await)
}

async fn wait_last_result_change(s: &Session, name: &str, before: &str, timeout: Duration) -> String {
    let start = Instant::now();
    loop {
        let now = last_result(s, name).await;
        if now != before && !now.trim().is_empty() {
            return now;
        }
        assert!(start.elapsed() < timeout, "the last result of {name} stayed {before:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The control plane answers the next renewal with a 503; Renew now on the
/// nixfleet card asks for that renewal.
async fn renew_into_a_503(s: &Session, sb: &Sandbox) {
    sb.state.lock().add_fault(Fault {
        path_prefix: "/v1/agent/renew".into(),
        count: 1,
        kind: FaultKind::Status {
            status: 503,
            body: String::new(),
            content_type: None,
        },
    });
    let button = s
        .wait_for(&format!("{} [data-testid=renew]", card(NIX)), Duration::from_secs(5))
        .await;
    s.click(&button).await;
}

/// A user's files on the test desktop: config, data and runtime directories,
/// and how to start the app and the CLI on them.
struct Home {
    dir: PathBuf,
    config: PathBuf,
    data: PathBuf,
    run: PathBuf,
    xdg_config: PathBuf,
}

impl Home {
    fn new(desk: &Desktop) -> Home {
        let dir = desk.dir.path().join("home");
        std::fs::create_dir_all(&dir).unwrap();
        Home {
            xdg_config: dir.join(".config"),
            config: dir.join("config.toml"),
            data: dir.join("data"),
            run: dir.join("run"),
            dir,
        }
    }

    /// A home whose config runs the sandbox's fleet credentials.
    fn with_sandbox(desk: &Desktop, sb: &Sandbox) -> Home {
        let home = Home::new(desk);
        let text = evergreen_sandbox::demo_config(sb, &home.dir.join("sandbox")).unwrap();
        std::fs::write(&home.config, text).unwrap();
        home
    }

    fn env(&self) -> [(&'static str, &Path); 5] {
        [
            ("EVERGREEN_CONFIG", &self.config),
            ("EVERGREEN_DATA_DIR", &self.data),
            ("EVERGREEN_RUNTIME_DIR", &self.run),
            ("HOME", &self.dir),
            ("XDG_CONFIG_HOME", &self.xdg_config),
        ]
    }

    /// Starts the app as at login (`--hidden`: the tray process, which hosts
    /// the engine) and returns its pid once its tray icon is up.
    fn start_tray(&self, desk: &mut Desktop) -> u32 {
        self.start_tray_logged(desk).0
    }

    /// [`Home::start_tray`], with the log of the tray and of the windows it opens.
    fn start_tray_logged(&self, desk: &mut Desktop) -> (u32, Log) {
        let mut cmd = desk.command(app_bin().to_str().unwrap());
        cmd.arg("--hidden").env("EVERGREEN_LOG", "info");
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        let (child, _, log) = start_logged(cmd, "tray icon ready");
        let pid = child.id();
        desk.keep(child);
        (pid, log)
    }

    /// Opens a window process (`evergreen-app --window ARGS…`) over WebDriver.
    async fn open_window(&self, desk: &mut Desktop, args: &[&str]) -> Session {
        let driver = desk.tauri_driver(&self.env());
        let mut all = vec!["--window"];
        all.extend_from_slice(args);
        Session::start(&driver, &app_bin(), &all).await
    }

    /// The app as a user has it: the tray, and its window open.
    async fn open_app(&self, desk: &mut Desktop) -> (u32, Session) {
        let tray = self.start_tray(desk);
        (tray, self.open_window(desk, &[]).await)
    }

    /// Launches `evergreen-app` again, as from the menu, and waits for it to
    /// hand over to the running app and exit cleanly.
    async fn launch_again(&self, desk: &Desktop) {
        let mut second = desk.command(app_bin().to_str().unwrap());
        for (k, v) in self.env() {
            second.env(k, v);
        }
        let mut second = second
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let code = poll("a second launch kept running", Duration::from_secs(20), || {
            second.try_wait().unwrap()
        })
        .await;
        assert!(code.success(), "the second launch exits cleanly: {code:?}");
    }

    /// A config of one credential, `web`: due (20 of its 30 days gone) and
    /// renewed by a command that always fails, retried after `base` up to `max`.
    fn failing_web(&self, base: &str, max: &str) {
        let now = std::time::SystemTime::now();
        let day = Duration::from_secs(86_400);
        let ca = evergreen_core::pki::Ca::new("Test CA", now - 30 * day, 365 * day).unwrap();
        let cert = self.dir.join("web.pem");
        std::fs::write(&cert, ca.issue("web", now - 20 * day, 30 * day).unwrap().cert_pem).unwrap();
        std::fs::write(
            &self.config,
            format!(
                "[engine]\nretry_base = \"{base}\"\nretry_max = \"{max}\"\n\n[[credential]]\nname = \"web\"\nkind = \"x509_file\"\npath = \"{}\"\nrenew_command = [\"false\"]\n",
                cert.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&self.config, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    }

    /// `evergreen ARGS…` talking to the app's engine.
    fn cli(&self, args: &[&str]) -> std::process::Output {
        let mut c = std::process::Command::new(evergreen_bin());
        c.args(args);
        for (k, v) in self.env() {
            c.env(k, v);
        }
        c.output().unwrap()
    }
}

/// One window at a time: two WebKit instances on two cores only slow each other down.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The test desktop is ready when `Desktop::start` returns: a notification
/// sent at that moment is recorded. (It was not always: the recorder,
/// `dbus-monitor`, was started without waiting for it to become a monitor of
/// the bus, or even for the bus to accept connections, so on a loaded
/// machine the first notifications of a test, or all of them, went by
/// unseen.) No window: it runs beside the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_sent_the_moment_the_desktop_is_up_is_recorded() {
    for round in 0..10 {
        let desk = Desktop::start();
        let summary = format!("probe {round}");
        desk.send_notification(&summary).await;
        desk.wait_notification(Duration::from_secs(10), |n| n.summary == summary);
    }
}

fn artifacts() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../.artifacts/e2e")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_shows_renews_fails_notifies_and_recovers() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut desk = Desktop::start();
    let sb = Sandbox::start(Options::default()).await.unwrap();
    let home = Home::with_sandbox(&desk, &sb);
    // This test fails the same credential several times within minutes and
    // expects each failure after a resume told: a flap window of a second
    // (the default is an hour, held by notify_policy's own test).
    let text = std::fs::read_to_string(&home.config).unwrap();
    std::fs::write(&home.config, format!("[engine]\nnotify_flap_window = \"1s\"\n\n{text}")).unwrap();
    let config = home.config.clone();
    let (_, s) = home.open_app(&mut desk).await;

    // Every credential is shown with its fraction and state.
    for name in [NIX, WRENN] {
        s.wait_for(&card(name), Duration::from_secs(30)).await;
    }
    wait_state(&s, NIX, "healthy", Duration::from_secs(30)).await;
    wait_state(&s, WRENN, "healthy", Duration::from_secs(30)).await;
    let fraction = s
        .wait_for(&format!("{} [data-testid=fraction]", card(NIX)), Duration::from_secs(5))
        .await;
    let fraction = s.text(&fraction).await;
    assert!(fraction.ends_with('%'), "fraction shown as a percentage: {fraction:?}");
    let state_words = s
        .wait_for(&format!("{} [data-testid=state]", card(NIX)), Duration::from_secs(5))
        .await;
    assert!(!s.text(&state_words).await.is_empty());
    s.screenshot(&artifacts().join("dashboard.png")).await;

    // Renew now: a real renewal against the control plane, shown as the last result.
    let renews_before = sb.state.lock().count(RENEW);
    let before = last_result(&s, NIX).await;
    let button = s
        .wait_for(&format!("{} [data-testid=renew]", card(NIX)), Duration::from_secs(5))
        .await;
    s.click(&button).await;
    let after = wait_last_result_change(&s, NIX, &before, Duration::from_secs(30)).await;
    assert_eq!(
        sb.state.lock().count(RENEW),
        renews_before + 1,
        "one renewal reached the server"
    );
    wait_state(&s, NIX, "healthy", Duration::from_secs(10)).await;

    // A failure injected into the server: the failure state, and exactly one notification.
    sb.state.lock().add_fault(Fault {
        path_prefix: "/v1/agent/renew".into(),
        count: 1,
        kind: FaultKind::Status {
            status: 500,
            body: "<html><body>Internal Server Error</body></html>".into(),
            content_type: Some("text/html".into()),
        },
    });
    let button = s
        .wait_for(&format!("{} [data-testid=renew]", card(NIX)), Duration::from_secs(5))
        .await;
    s.click(&button).await;
    wait_state(&s, NIX, "failing", Duration::from_secs(30)).await;
    let failed = desk.wait_notification(Duration::from_secs(15), |n| {
        n.summary == format!("{NIX}: renewal failed")
    });
    assert_eq!(failed.app_name, "Evergreen");
    assert!(
        failed.body.contains("500"),
        "the reason is in the notification: {failed:?}"
    );
    assert!(
        failed.actions.iter().any(|a| a == "renew_now"),
        "a Renew now action: {failed:?}"
    );
    let failed_text = wait_last_result_change(&s, NIX, &after, Duration::from_secs(10)).await;
    s.screenshot(&artifacts().join("failing.png")).await;
    assert!(
        !failed_text.contains("<html>"),
        "an HTML error page is summarized, not pasted: {failed_text}"
    );

    // Recovery, asked for from the command line: `evergreen renew` reaches the running app.
    let out = home.cli(&["renew", NIX]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "evergreen renew: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_state(&s, NIX, "healthy", Duration::from_secs(30)).await;
    desk.wait_notification(Duration::from_secs(15), |n| {
        n.summary == format!("{NIX}: renewed again")
    });

    let failures = desk
        .notifications()
        .into_iter()
        .filter(|n| n.summary.starts_with(NIX) && n.summary.contains("failed"))
        .count();
    assert_eq!(
        failures,
        1,
        "exactly one failure notification: {:#?}",
        desk.notifications()
    );
    let secretish = desk
        .notifications()
        .into_iter()
        .any(|n| n.body.contains("BEGIN") || n.body.contains("PRIVATE"));
    assert!(!secretish, "no key material in notifications");

    // The detail view: the certificate's facts and the history of what just happened.
    let open = s
        .wait_for(&format!("{} [data-testid=open]", card(NIX)), Duration::from_secs(5))
        .await;
    s.click(&open).await;
    let detail = s.wait_for("[data-testid=detail]", Duration::from_secs(10)).await;
    let start = Instant::now();
    while s.find_all("[data-testid=history] li").await.len() < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the history shows the renewals"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = s.text(&detail).await;
    assert!(text.contains("SHA-256") && text.contains("sandbox-machine"), "{text}");
    s.screenshot(&artifacts().join("detail.png")).await;
    let back = s.wait_for("[data-testid=back]", Duration::from_secs(5)).await;
    s.click(&back).await;

    // Notifications paused from the window: a failure shows there, not on the desktop.
    let pause = s
        .wait_for("[data-testid=pause-notifications]", Duration::from_secs(10))
        .await;
    s.click(&pause).await;
    s.wait_for("[data-testid=notifications-paused]", Duration::from_secs(10))
        .await;
    let seen = desk.notifications().len();
    renew_into_a_503(&s, &sb).await;
    wait_state(&s, NIX, "failing", Duration::from_secs(30)).await;
    let button = s
        .wait_for(&format!("{} [data-testid=renew]", card(NIX)), Duration::from_secs(5))
        .await;
    s.click(&button).await;
    wait_state(&s, NIX, "healthy", Duration::from_secs(30)).await;
    // The proof that the quiet was not mere lateness: resumed, the next
    // failure is announced, and a notification held back by mistake would
    // have come before it on the same way out.
    let resume = s
        .wait_for("[data-testid=resume-notifications]", Duration::from_secs(5))
        .await;
    s.click(&resume).await;
    s.wait_for("[data-testid=pause-notifications]", Duration::from_secs(10))
        .await;
    renew_into_a_503(&s, &sb).await;
    poll("a failure notification once resumed", Duration::from_secs(15), || {
        desk.notifications()[seen..]
            .iter()
            .any(|n| n.summary.starts_with(NIX) && n.summary.contains("failed"))
            .then_some(())
    })
    .await;
    let since_pause: Vec<String> = desk.notifications()[seen..].iter().map(|n| n.summary.clone()).collect();
    assert_eq!(
        since_pause,
        [format!("{NIX}: renewal failed")],
        "paused notifications stay quiet, and resumed ones speak"
    );
    // The notification goes out as the failure is recorded; the card shows
    // it a moment later. A click before that joins the renewal still in
    // flight (one renewal at a time) and changes nothing.
    wait_state(&s, NIX, "failing", Duration::from_secs(30)).await;
    let button = s
        .wait_for(&format!("{} [data-testid=renew]", card(NIX)), Duration::from_secs(5))
        .await;
    s.click(&button).await;
    wait_state(&s, NIX, "healthy", Duration::from_secs(30)).await;

    // Adding a credential through the form: the engine's validation error is
    // shown on its field and nothing is written; once fixed, it is saved and
    // the running engine picks it up.
    let original = std::fs::read_to_string(&config).unwrap();
    let add = s.wait_for("[data-testid=add-credential]", Duration::from_secs(5)).await;
    s.click(&add).await;
    let form = "[data-testid=credential-form]";
    s.wait_for(form, Duration::from_secs(10)).await;
    let kind = s
        .script("const k = document.querySelector('[data-testid=credential-form] select[name=kind]'); k.value = 'x509_file'; k.dispatchEvent(new Event('change', {bubbles: true})); return k.value")
        .await;
    assert_eq!(kind, "x509_file");
    let field = |key: &str| format!("{form} [name={key}]");
    let name = s.wait_for(&field("name"), Duration::from_secs(5)).await;
    s.send_keys(&name, "web-added").await;
    let path = s.wait_for(&field("path"), Duration::from_secs(5)).await;
    let watched = home.dir.join("sandbox/nixfleet.pem");
    s.send_keys(&path, watched.to_str().unwrap()).await;
    let fraction = s.wait_for(&field("renew_at_fraction"), Duration::from_secs(5)).await;
    s.send_keys(&fraction, "1.5").await;
    let save = s.wait_for("[data-testid=save]", Duration::from_secs(5)).await;
    s.click(&save).await;
    s.wait_for(
        &format!("{form} [name=renew_at_fraction][aria-invalid=true]"),
        Duration::from_secs(10),
    )
    .await;
    let errors = s
        .script("return Array.from(document.querySelectorAll('[data-testid=credential-form] .error')).map(e => e.textContent).join(' | ')")
        .await;
    assert!(
        errors.as_str().unwrap_or_default().contains("between 0 and 1"),
        "{errors}"
    );
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        original,
        "a form with a mistake writes nothing"
    );
    // Erased as a user would: backspaces fire the input events the form listens to.
    s.send_keys(&fraction, "\u{E003}\u{E003}\u{E003}").await;
    s.click(&save).await;
    s.wait_for(&card("web-added"), Duration::from_secs(30)).await;
    let saved = std::fs::read_to_string(&config).unwrap();
    assert!(
        saved.contains("web-added") && saved.contains(NIX) && saved.contains(WRENN),
        "{saved}"
    );
    wait_state(&s, "web-added", "healthy", Duration::from_secs(20)).await;
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_config_is_shown_never_replaced_by_the_demo_and_picked_up_once_fixed() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut desk = Desktop::start();
    let home = Home::new(&desk);
    let config = home.config.clone();
    let broken =
        "[[credential]]\nname = \"web\"\nkind = \"x509_file\"\npath = \"/certs/web.pem\"\nrenew_at_fraction = 2\n";
    std::fs::write(&config, broken).unwrap();
    let (_, s) = home.open_app(&mut desk).await;
    let problem = s
        .wait_for("[data-testid=config-problem]", Duration::from_secs(30))
        .await;
    let text = s.text(&problem).await;
    assert!(
        text.contains("config.toml") && text.contains(":5:") && text.contains("renew_at_fraction"),
        "{text}"
    );
    assert!(
        s.find_all("[data-testid=demo-banner]").await.is_empty(),
        "a broken config is not the demo"
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), broken);

    // Fixed while the app runs: the engine starts on it, no restart needed.
    std::fs::write(&config, broken.replace("= 2", "= 0.5")).unwrap();
    s.wait_for(&card("web"), Duration::from_secs(30)).await;
    let start = Instant::now();
    while !s.find_all("[data-testid=config-problem]").await.is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the config problem stayed shown"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A script injected into the page calls the IPC itself: a field that
    // runs a program is refused by name, and the file stays as it was.
    let before = std::fs::read_to_string(&config).unwrap();
    let reply = s
        .script(
            r#"return window.__TAURI_INTERNALS__.invoke("save_credential", {
                original: null,
                form: { name: "evil", kind: "x509_file",
                        values: { path: "/tmp/evil.pem", renew_command: "sh\n-c\ntouch /tmp/evergreen-pwned" } }
            });"#,
        )
        .await;
    assert_eq!(reply["ok"], false, "{reply}");
    assert!(
        reply["problems"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("runs a program, so the window cannot set or change it")),
        "{reply}"
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);

    // The page's other fences, as a script that got in meets them.
    let fences = s
        .script_async(
            r#"const done = arguments[arguments.length - 1];
            const out = {};
            out.frozen = Object.isFrozen(Object.prototype);
            try { out.eval = String(eval("1 + 1")); } catch (e) { out.eval = "blocked"; }
            const tauri = window.__TAURI_INTERNALS__;
            const refused = (p) => p.then(() => "allowed", (e) => "refused: " + String(e));
            Promise.all([
              refused(fetch("http://127.0.0.1:9/steal")),
              refused(tauri.invoke("plugin:autostart|enable")),
              refused(tauri.invoke("plugin:webview|create_webview_window", { options: { label: "x", url: "https://example.com" } })),
              refused(tauri.invoke("plugin:window|close")),
            ]).then(([remote, autostart, webview, close]) => {
              Object.assign(out, { remote, autostart, webview, close });
              done(out);
            });"#,
        )
        .await;
    assert_eq!(fences["frozen"], true, "{fences}");
    assert_eq!(fences["eval"], "blocked", "the CSP lets eval run: {fences}");
    assert!(
        fences["remote"].as_str().unwrap_or("").starts_with("refused"),
        "{fences}"
    );
    for cmd in ["autostart", "webview", "close"] {
        let r = fences[cmd].as_str().unwrap_or("");
        assert!(r.starts_with("refused") && r.contains("not allowed"), "{cmd}: {fences}");
    }
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_config_a_labelled_demo_renews_within_a_minute() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut desk = Desktop::start();
    let home = Home::new(&desk);
    let config = home.config.clone();
    let (tray, log) = home.start_tray_logged(&mut desk);
    let s = home.open_window(&mut desk, &[]).await;
    let banner = s.wait_for("[data-testid=demo-banner]", Duration::from_secs(30)).await;
    assert!(s.text(&banner).await.to_lowercase().contains("demo"));
    // The demo certificates and the fleet kinds against the embedded control plane.
    for name in [
        "demo-web",
        "demo-flaky",
        "demo-watched",
        "sandbox-nixfleet",
        "sandbox-wrenn",
        "sandbox-certctl",
    ] {
        s.wait_for(&card(name), Duration::from_secs(30)).await;
    }
    // demo-web starts half-way through a 90 s life: it renews by itself within a minute.
    let before = last_result(&s, "demo-web").await;
    let after = wait_last_result_change(&s, "demo-web", &before, Duration::from_secs(60)).await;
    assert!(after.starts_with("Renewed"), "{after}");
    wait_state(&s, "sandbox-wrenn", "healthy", Duration::from_secs(30)).await;
    // The flaky one shows a failure, its retry and the recovery; the fleet
    // agents are all kept alive against the control plane in the app.
    poll(
        "demo-flaky failing once and renewing, and every fleet agent healthy",
        Duration::from_secs(150),
        || {
            let out = home.cli(&["status", "--json"]);
            let all: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
            let of = |n: &str| all.as_array()?.iter().find(|c| c["name"] == n).cloned();
            let flaky = of("demo-flaky")?;
            let counts = &flaky["renewals"];
            let fleet_ok = ["sandbox-nixfleet", "sandbox-wrenn", "sandbox-certctl"]
                .iter()
                .all(|n| of(n).is_some_and(|c| c["state"] == "healthy"));
            (counts["failure"].as_u64()? >= 1 && counts["success"].as_u64()? >= 1 && fleet_ok).then_some(())
        },
    )
    .await;
    s.screenshot(&artifacts().join("demo.png")).await;
    assert!(!config.exists(), "the demo never writes the user's config");

    // Closing the window ends its process and everything WebKit held; the
    // tray keeps the engine running, and the CLI still reaches it.
    let windows = processes(&app_bin(), "--window", home.config.to_str().unwrap());
    assert_eq!(windows.len(), 1, "one window process");
    // The user makes it larger and moves it before closing it: the next
    // window opens so, there.
    s.set_window_size(1000, 720).await;
    s.set_window_position(140, 60).await;
    let start = Instant::now();
    while (s.window_size().await, s.window_position().await) != ((1000, 720), (140, 60)) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the window kept {:?} at {:?}",
            s.window_size().await,
            s.window_position().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(desk.close_windows_of(windows[0]), 1, "its window is on the display");
    poll(
        "the window process outlived its window",
        Duration::from_secs(10),
        || ended(windows[0]).then_some(()),
    )
    .await;
    s.close().await;
    let out = home.cli(&["status"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("demo-web"),
        "after closing the window: {stdout}"
    );

    // A window opened for one credential (as a notification's Open does) shows its detail.
    let s = home.open_window(&mut desk, &["--show", "demo-web"]).await;
    // The window asks for its remembered geometry as it is created; the X
    // server applies it a moment later (seen once: the first read still
    // gave the default 800×600). Wait for it to be applied, no longer.
    let start = Instant::now();
    while (s.window_size().await, s.window_position().await) != ((1000, 720), (140, 60)) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the window did not remember its size and position: it has {:?} at {:?}",
            s.window_size().await,
            s.window_position().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let detail = s.wait_for("[data-testid=detail]", Duration::from_secs(30)).await;
    assert!(s.text(&detail).await.contains("demo-web"));

    // The user's first config ends the demo: the tray hands over to an engine
    // running it, and the open window follows without a restart.
    std::fs::write(
        &config,
        format!(
            "[[credential]]\nname = \"web\"\nkind = \"x509_file\"\npath = \"{}\"\n",
            home.dir.join("web.pem").display()
        ),
    )
    .unwrap();
    let back = s.wait_for("[data-testid=back]", Duration::from_secs(5)).await;
    s.click(&back).await;
    s.wait_for(&card("web"), Duration::from_secs(30)).await;
    let start = Instant::now();
    while !(s.find_all("[data-testid=demo-banner]").await.is_empty() && s.find_all(&card("demo-web")).await.is_empty())
    {
        assert!(start.elapsed() < Duration::from_secs(10), "the demo stayed on screen");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = String::from_utf8_lossy(&home.cli(&["status"]).stdout).to_string();
    assert!(status.contains("web") && !status.contains("demo-web"), "{status}");
    s.close().await;

    // A second launch hands over to the running app and exits; the tray
    // opens the window, as a process of its own.
    assert!(
        children_of(tray).iter().all(|(_, cmd)| !cmd.contains("--window")),
        "no window process before it was asked for: {:?}",
        children_of(tray)
    );
    // Nor a webview of its own: WebKit's web and network processes would be its children.
    assert!(
        children_of(tray).iter().all(|(_, cmd)| !cmd.contains("WebKit")),
        "the tray process made a webview: {:?}",
        children_of(tray)
    );
    home.launch_again(&desk).await;
    let window = poll("the tray opened no window process", Duration::from_secs(10), || {
        children_of(tray)
            .into_iter()
            .find(|(_, cmd)| cmd.contains("--window"))
            .map(|(pid, _)| pid)
    })
    .await;

    // Another launch brings that window forward instead of opening a second one.
    let forward = "brought the window forward at the tray's request";
    let shown = log.count(forward);
    home.launch_again(&desk).await;
    poll("the open window to come forward", Duration::from_secs(10), || {
        (log.count(forward) > shown).then_some(())
    })
    .await;
    let windows: Vec<u32> = children_of(tray)
        .into_iter()
        .filter(|(p, cmd)| cmd.contains("--window") && !ended(*p))
        .map(|(p, _)| p)
        .collect();
    assert_eq!(windows, vec![window], "still the one window");

    // Quitting the tray closes its window too.
    assert!(std::process::Command::new("kill")
        .arg(tray.to_string())
        .status()
        .unwrap()
        .success());
    poll("the window process outlived the tray", Duration::from_secs(10), || {
        ended(window).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_run_lists_what_is_on_the_machine_and_adds_only_what_is_picked() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut desk = Desktop::start();
    let home = Home::new(&desk);
    let machine = evergreen_tests::machine::Machine::prepare(&home.dir);
    let (_tray, _log) = home.start_tray_logged(&mut desk);
    let s = home.open_window(&mut desk, &[]).await;
    // No config: the window opens on what was found, not on the demo.
    s.wait_for("[data-testid=found-item]", Duration::from_secs(30)).await;
    let items = s.find_all("[data-testid=found-item]").await;
    let mut texts = Vec::new();
    for i in &items {
        texts.push(s.text(i).await);
    }
    let all = texts.join("\n");
    for e in &machine.expect {
        assert!(all.contains(&e.mark), "{} is listed:\n{all}", e.mark);
    }
    for secret in &machine.secrets {
        assert!(!all.contains(secret.as_str()), "the list shows a secret ({secret})");
    }
    assert!(!home.config.exists(), "nothing is added on its own");
    s.screenshot(&artifacts().join("first-run.png")).await;

    // One Add: that one, and only it, goes into the config; the demo ends.
    let add = s
        .wait_for(
            "[data-testid=found-item][data-name=kube-admin] [data-testid=found-add]",
            Duration::from_secs(5),
        )
        .await;
    s.click(&add).await;
    poll("the config with kube-admin", Duration::from_secs(20), || {
        std::fs::read_to_string(&home.config)
            .ok()
            .filter(|t| t.contains("name = \"kube-admin\""))
    })
    .await;
    let config = std::fs::read_to_string(&home.config).unwrap();
    assert_eq!(config.matches("[[credential]]").count(), 1, "{config}");
    let added = s
        .wait_for(
            "[data-testid=found-item][data-name=kube-admin] [data-testid=found-add]:disabled",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(s.text(&added).await.trim(), "Added");
    let done = s.wait_for("[data-testid=found-close]", Duration::from_secs(5)).await;
    s.click(&done).await;
    s.wait_for(&card("kube-admin"), Duration::from_secs(30)).await;
    assert!(
        s.find_all("[data-testid=demo-banner]").await.is_empty(),
        "the demo has ended"
    );
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_aws_session_is_told_with_a_log_in_that_runs_aws_sso_login_in_a_terminal() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = evergreen_tests::sso_oidc::SsoOidc::start("RT-SECRET-0", 3600).await;
    server.end_session();
    let mut desk = Desktop::start();
    let home = Home::new(&desk);
    let aws = home.dir.join(".aws");
    std::fs::create_dir_all(aws.join("sso/cache")).unwrap();
    std::fs::write(
        aws.join("config"),
        "[sso-session work]\nsso_start_url = https://work.awsapps.com/start\nsso_region = eu-west-1\n",
    )
    .unwrap();
    let in_30m = std::time::SystemTime::now() + Duration::from_secs(1800);
    std::fs::write(
        aws.join(format!("sso/cache/{}.json", evergreen_tests::machine::sha1_hex("work"))),
        evergreen_tests::machine::aws_cache(
            in_30m.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
            "AT-SECRET-0",
            "RT-SECRET-0",
        ),
    )
    .unwrap();
    std::fs::write(
        &home.config,
        format!(
            "[[credential]]\nname = \"aws\"\nkind = \"aws_sso\"\nsession = \"work\"\nendpoint_url = \"{}\"\n",
            server.url
        ),
    )
    .unwrap();
    std::fs::set_permissions(&home.config, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    // The user's terminal ($TERMINAL): here one that writes down what it was asked to run.
    let term = home.dir.join("terminal");
    let ran = home.dir.join("terminal.ran");
    std::fs::write(&term, format!("#!/bin/sh\nprintf '%s\\n' \"$@\" > {}\n", ran.display())).unwrap();
    std::fs::set_permissions(&term, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut tray = desk.command(app_bin().to_str().unwrap());
    tray.arg("--hidden").env("EVERGREEN_LOG", "info").env("TERMINAL", &term);
    for (k, v) in home.env() {
        tray.env(k, v);
    }
    let (child, _, _log) = start_logged(tray, "tray icon ready");
    desk.keep(child);

    // The refresh is refused: the session has ended.
    let out = home.cli(&["renew", "aws"]);
    assert!(!out.status.success(), "{out:?}");
    let n = desk.wait_notification(Duration::from_secs(20), |n| {
        n.summary == "aws was rejected by the server"
    });
    assert!(n.body.contains("`aws sso login --sso-session work`"), "{n:?}");
    assert!(n.actions.iter().any(|a| a == "log_in"), "{n:?}");
    desk.invoke_action("Log in");
    let args = poll("the terminal to be asked", Duration::from_secs(20), || {
        std::fs::read_to_string(&ran).ok().filter(|t| !t.is_empty())
    })
    .await;
    assert_eq!(
        args.lines().collect::<Vec<_>>(),
        ["-e", "aws", "sso", "login", "--sso-session", "work"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tray_icon_and_menu_follow_the_engine_and_act_on_it() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut desk = Desktop::start();
    let sb = Sandbox::start(Options::default()).await.unwrap();
    let home = Home::with_sandbox(&desk, &sb);
    // A failure waits an hour for its retry: whatever renews sooner is the menu's doing.
    let config = std::fs::read_to_string(&home.config).unwrap();
    std::fs::write(
        &home.config,
        format!("[engine]\nretry_base = \"1h\"\nretry_max = \"1h\"\n\n{config}"),
    )
    .unwrap();
    let (tray_pid, log) = home.start_tray_logged(&mut desk);
    let tray = Tray::find(&desk.bus, Duration::from_secs(20)).await;
    let icons = Path::new(env!("CARGO_MANIFEST_DIR")).join("../icons");
    let entry = |name: &str, state: &str| format!("{name} — {state}");
    let long = Duration::from_secs(30);
    // The credential's own entry (the summary line may start with its name too).
    let nix_entry = format!("{NIX} — ");
    let nix_entry = nix_entry.as_str();

    // The summary first, one entry per credential with its state, then the actions.
    let menu = tray
        .wait_menu("both credentials healthy", long, |m| {
            m.find(&entry(NIX, "healthy")).is_some() && m.find(&entry(WRENN, "healthy")).is_some()
        })
        .await;
    tray.wait_icon(&icons.join("tray-healthy.png"), long).await;
    let labels = menu.labels();
    assert!(
        labels[0].starts_with("3 credentials"),
        "the summary comes first: {labels:?}"
    );
    for want in [
        "Open Evergreen",
        "Renew all due",
        "Pause notifications for 1 hour",
        "Start at login",
        "Quit Evergreen",
    ] {
        assert!(labels.iter().any(|l| l == want), "{want:?} in {labels:?}");
    }
    let nix = menu.find(nix_entry).unwrap().labels();
    assert_eq!(nix, ["Renew now", "Pause", "Details…"]);

    // Renew now from the menu, against a failing server: the entry and the icon turn to failing.
    sb.state.lock().add_fault(Fault {
        path_prefix: "/v1/agent/renew".into(),
        count: 1,
        kind: FaultKind::Status {
            status: 500,
            body: String::new(),
            content_type: None,
        },
    });
    let renews = sb.state.lock().count(RENEW);
    tray.click(Some(nix_entry), "Renew now").await;
    let menu = tray
        .wait_menu("the failure", long, |m| m.find(&entry(NIX, "failing")).is_some())
        .await;
    assert_eq!(
        sb.state.lock().count(RENEW),
        renews + 1,
        "one renewal reached the server"
    );
    assert!(
        menu.labels()[0].contains(NIX) && menu.labels()[0].contains("failing"),
        "{:?}",
        menu.labels()
    );
    tray.wait_icon(&icons.join("tray-failing.png"), long).await;
    // Renew all due: the failing one is due again and renewed, once.
    let renews = sb.state.lock().count(RENEW);
    tray.click(None, "Renew all due").await;
    tray.wait_menu("the recovery", long, |m| m.find(&entry(NIX, "healthy")).is_some())
        .await;
    assert_eq!(
        sb.state.lock().count(RENEW),
        renews + 1,
        "Renew all due renewed it once"
    );
    tray.wait_icon(&icons.join("tray-healthy.png"), long).await;

    // Pause and resume one credential.
    tray.click(Some(nix_entry), "Pause").await;
    tray.wait_menu("the pause", long, |m| {
        m.find(nix_entry)
            .is_some_and(|n| n.labels().iter().any(|l| l == "Resume"))
    })
    .await;
    tray.wait_icon(&icons.join("tray-stopped.png"), long).await;
    let status = String::from_utf8_lossy(&home.cli(&["status"]).stdout).to_string();
    assert!(status.contains("paused"), "{status}");
    tray.click(Some(nix_entry), "Resume").await;
    tray.wait_menu("the resumption", long, |m| m.find(&entry(NIX, "healthy")).is_some())
        .await;

    // Notifications paused for an hour, and back on.
    tray.click(None, "Pause notifications").await;
    tray.wait_menu("notifications paused", long, |m| {
        m.find("Resume notifications").is_some()
    })
    .await;
    tray.click(None, "Resume notifications").await;
    tray.wait_menu("notifications on", long, |m| m.find("Pause notifications").is_some())
        .await;

    // Start at login: an autostart entry that starts in the tray only; off again removes it.
    let autostart = home.xdg_config.join("autostart");
    let entries = || -> Vec<String> {
        std::fs::read_dir(&autostart)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "desktop"))
                    .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(entries().is_empty());
    tray.click(None, "Start at login").await;
    let desktop_entry = poll("no autostart entry was written", long, || entries().pop()).await;
    assert!(
        desktop_entry.contains("evergreen-app") && desktop_entry.contains("--hidden"),
        "{desktop_entry}"
    );
    tray.click(None, "Start at login").await;
    poll("the autostart entry stayed", long, || {
        entries().is_empty().then_some(())
    })
    .await;

    // Details… starts the window process on that credential; Open then
    // brings the same window forward; Quit ends the tray and its window.
    let windows = || -> Vec<(u32, String)> {
        children_of(tray_pid)
            .into_iter()
            .filter(|(p, cmd)| cmd.contains("--window") && !ended(*p))
            .collect()
    };
    assert!(windows().is_empty(), "no window before one was asked for");
    tray.click(Some(nix_entry), "Details…").await;
    let (window, cmd) = poll("Details… started no window", long, || windows().into_iter().next()).await;
    assert!(cmd.contains(&format!("--show {NIX}")), "{cmd}");
    let forward = "brought the window forward at the tray's request";
    let shown = log.count(forward);
    tray.click(None, "Open Evergreen").await;
    poll("the open window to come forward", long, || {
        (log.count(forward) > shown).then_some(())
    })
    .await;
    assert_eq!(
        windows().into_iter().map(|(p, _)| p).collect::<Vec<_>>(),
        vec![window],
        "Open reuses the open window"
    );
    tray.click(None, "Quit Evergreen").await;
    poll("Quit left the tray or its window running", long, || {
        (ended(tray_pid) && ended(window)).then_some(())
    })
    .await;
    let out = home.cli(&["status"]);
    assert!(!out.status.success(), "the engine went with the tray");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_still_failing_after_a_restart_is_not_announced_again() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut desk = Desktop::start();
    let home = Home::new(&desk);
    home.failing_web("1s", "2s");
    let failures = || -> u64 {
        let out = home.cli(&["status", "--json"]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .ok()
            .and_then(|v| v[0]["failure_streak"]["failures"].as_u64())
            .unwrap_or(0)
    };
    let summaries = |desk: &Desktop| -> Vec<String> {
        desk.notifications()
            .into_iter()
            .map(|n| n.summary)
            .filter(|s| s.starts_with("web: renewal failed"))
            .collect()
    };
    let mut seen = 0;
    for start in 0..3 {
        let tray = home.start_tray(&mut desk);
        // The positive marker: this start has failed twice more itself.
        poll("two more failed renewals", Duration::from_secs(40), || {
            (failures() >= seen + 2).then_some(())
        })
        .await;
        seen = failures();
        if start == 0 {
            desk.wait_notification(Duration::from_secs(15), |n| {
                n.summary == "web: renewal failed 3 times in a row"
            });
        }
        std::process::Command::new("kill")
            .args(["-TERM", &tray.to_string()])
            .status()
            .unwrap();
        poll("the tray to stop", Duration::from_secs(20), || {
            ended(tray).then_some(())
        })
        .await;
    }
    assert!(seen >= 6, "{seen} failures");
    assert_eq!(
        summaries(&desk),
        ["web: renewal failed", "web: renewal failed 3 times in a row"],
        "each once across three starts"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notifications_renew_now_renews_and_its_click_opens_the_window() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut desk = Desktop::start();
    let home = Home::new(&desk);
    // Fails, and waits an hour before it tries again by itself.
    home.failing_web("1h", "1h");
    let attempts = || -> usize {
        let out = home.cli(&["history", "web", "--json"]);
        let n = serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .ok()
            .and_then(|v| {
                v.as_array()
                    .map(|a| a.iter().filter(|e| e["action"] == "renew").count())
            })
            .unwrap_or(0);
        // Shown with a failure: what the history said meanwhile.
        eprintln!(
            "history: {n} renewal(s): {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        n
    };
    let tray = home.start_tray(&mut desk);
    desk.wait_notification(Duration::from_secs(20), |n| n.summary == "web: renewal failed");
    poll("the first attempt in the history", Duration::from_secs(10), || {
        (attempts() == 1).then_some(())
    })
    .await;
    desk.invoke_action("Renew now");
    poll("the renewal Renew now asked for", Duration::from_secs(20), || {
        (attempts() == 2).then_some(())
    })
    .await;
    assert!(desk.menu_offered().contains("Renew now"), "{}", desk.menu_offered());
    // An action closes its notification. The third failure in a row brings
    // the next one; a click on it (its default action) opens the window.
    let out = home.cli(&["renew", "web"]);
    assert!(!out.status.success());
    desk.wait_notification(Duration::from_secs(20), |n| {
        n.summary == "web: renewal failed 3 times in a row"
    });
    assert!(processes(&app_bin(), "--window", "").is_empty(), "no window yet");
    let window = || children_of(tray).iter().any(|(_, cmd)| cmd.contains("--window"));
    let start = Instant::now();
    while !window() {
        // dunst may not have drawn it yet: click again until it takes it.
        assert!(start.elapsed() < Duration::from_secs(30), "the click opened no window");
        desk.click_notification();
        for _ in 0..20 {
            if window() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_credential_is_told_once_per_window() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut desk = Desktop::start();
    let home = Home::new(&desk);
    // A nine-second certificate whose renew command fails every other time:
    // a failure and a recovery every few seconds.
    let now = std::time::SystemTime::now();
    let ca =
        evergreen_core::pki::Ca::new("Test CA", now - Duration::from_secs(3600), Duration::from_secs(86_400)).unwrap();
    let certs = home.dir.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    ca.save(&certs.join("demo-ca.pem"), &certs.join("demo-ca.key")).unwrap();
    let cert = certs.join("web.pem");
    std::fs::write(
        &cert,
        ca.issue("web", now - Duration::from_secs(5), Duration::from_secs(9))
            .unwrap()
            .cert_pem,
    )
    .unwrap();
    let marker = home.dir.join("renewed-last-time");
    std::fs::write(
        &home.config,
        format!(
            "[engine]\nretry_base = \"1s\"\nretry_max = \"1s\"\n\n[[credential]]\nname = \"web\"\nkind = \"x509_file\"\npath = \"{}\"\nshell = true\nrenew_command = \"if [ -e {m} ]; then rm {m}; exit 1; fi; touch {m}; exec {} demo-renew --dir {} --name web --lifetime 9s\"\n",
            cert.display(),
            evergreen_bin().display(),
            certs.display(),
            m = marker.display(),
        ),
    )
    .unwrap();
    std::fs::set_permissions(&home.config, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    home.start_tray(&mut desk);
    let failed_runs = || -> u64 {
        let out = home.cli(&["status", "--json"]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .ok()
            .and_then(|v| v[0]["renewals"]["failure"].as_u64())
            .unwrap_or(0)
    };
    // The positive marker: it has failed and recovered four times.
    poll(
        "four failures, each followed by a recovery",
        Duration::from_secs(90),
        || (failed_runs() >= 4).then_some(()),
    )
    .await;
    desk.wait_notification(Duration::from_secs(15), |n| n.summary == "web: renewed again");
    let told: Vec<String> = desk
        .notifications()
        .into_iter()
        .map(|n| n.summary)
        .filter(|s| s.starts_with("web"))
        .collect();
    assert_eq!(
        told,
        ["web: renewal failed", "web: renewed again"],
        "one of each within the hour, through the notification server"
    );
}

/// Many credentials: the dashboard turns into a compact list, most urgent
/// first, with a filter box, and at 800×600 at least 15 of them fit without
/// scrolling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_credentials_fit_as_a_list_at_800_by_600() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut desk = Desktop::start();
    let home = Home::new(&desk);
    let config: String = (0..16)
        .map(|i| {
            format!(
                "[[credential]]\nname = \"host-{i:02}\"\nkind = \"x509_file\"\npath = \"/nonexistent/c{i}.pem\"\n\n"
            )
        })
        .collect();
    std::fs::write(&home.config, config).unwrap();
    let (_, s) = home.open_app(&mut desk).await;
    s.wait_for("[data-testid=list]", Duration::from_secs(30)).await;
    s.wait_for("[data-testid=filter]", Duration::from_secs(5)).await;
    s.set_window_size(800, 600).await;
    let start = Instant::now();
    let fits = loop {
        let v = s
            .script(
                "const rows = [...document.querySelectorAll('[data-testid=credential]')]; \
                 return [window.innerWidth, window.innerHeight, rows.length, \
                 rows.filter(r => r.getBoundingClientRect().bottom <= window.innerHeight).length]",
            )
            .await;
        let n = |i: usize| v[i].as_f64().unwrap_or(0.0);
        if n(0) <= 800.0 && n(1) <= 600.0 && n(2) == 16.0 {
            break n(3);
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the window did not become 800×600: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    s.screenshot(&artifacts().join("many.png")).await;
    assert!(fits >= 15.0, "only {fits} of 16 rows fit at 800×600 without scrolling");
    s.close().await;
}

/// The views a user looks at, at 800×600 in the light theme and in the dark
/// one (GTK's `Adwaita:dark`, which WebKit reports as
/// `prefers-color-scheme: dark`): the cards, the list, a failing card and the
/// detail view, saved to `.artifacts/e2e/{light,dark}-*.png` for a person to
/// look at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_views_at_800_by_600_in_light_and_dark() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut desk = Desktop::start();
    let home = Home::new(&desk);
    let now = std::time::SystemTime::now();
    let day = Duration::from_secs(86_400);
    let ca = evergreen_core::pki::Ca::new("Example CA", now - 60 * day, 365 * day).unwrap();
    // (name, days since issue, days valid, renewed by)
    let certs = [
        ("web", 25, 30, Some("false")),
        ("api", 2, 30, Some("true")),
        ("mail", 40, 90, None),
        ("old-vpn", 40, 30, None),
    ];
    let mut config = String::from("[engine]\nretry_base = \"1h\"\nretry_max = \"2h\"\n");
    for (name, age, valid, command) in certs {
        let path = home.dir.join(format!("{name}.pem"));
        let pem = ca
            .issue(&format!("{name}.example.org"), now - age * day, valid * day)
            .unwrap();
        std::fs::write(&path, pem.cert_pem).unwrap();
        config += &format!(
            "\n[[credential]]\nname = \"{name}\"\nkind = \"x509_file\"\npath = \"{}\"\n",
            path.display()
        );
        if let Some(c) = command {
            config += &format!("renew_command = [\"{c}\"]\n");
        }
    }
    std::fs::write(&home.config, config).unwrap();
    std::fs::set_permissions(&home.config, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    home.start_tray(&mut desk);

    for (theme, gtk_theme) in [("light", "Adwaita"), ("dark", "Adwaita:dark")] {
        let mut env = home.env().to_vec();
        env.push(("GTK_THEME", Path::new(gtk_theme)));
        let driver = desk.tauri_driver(&env);
        let s = Session::start(&driver, &app_bin(), &["--window"]).await;
        s.set_window_size(800, 600).await;
        wait_state(&s, "web", "failing", Duration::from_secs(30)).await;
        wait_state(&s, "old-vpn", "expired", Duration::from_secs(10)).await;
        let start = Instant::now();
        loop {
            let v = s.script("return [window.innerWidth, window.innerHeight]").await;
            if v[0].as_f64().unwrap_or(0.0) <= 800.0 && v[1].as_f64().unwrap_or(0.0) <= 600.0 {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the window did not become 800×600: {v}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let dark = s
            .script("return matchMedia('(prefers-color-scheme: dark)').matches")
            .await;
        assert_eq!(
            dark.as_bool(),
            Some(theme == "dark"),
            "the page's colour scheme under {gtk_theme}"
        );
        let background = s.script("return getComputedStyle(document.body).backgroundColor").await;
        let channels: Vec<f64> = background
            .as_str()
            .unwrap_or_default()
            .trim_start_matches("rgba(")
            .trim_start_matches("rgb(")
            .trim_end_matches(')')
            .split(',')
            .take(3)
            .filter_map(|c| c.trim().parse().ok())
            .collect();
        let light = channels.iter().sum::<f64>() / 3.0;
        assert_eq!(channels.len(), 3, "a background colour: {background}");
        assert_eq!(light < 128.0, theme == "dark", "the {theme} background is {background}");

        let shot = |view: &str| artifacts().join(format!("{theme}-{view}.png"));
        let cards = s.wait_for("[data-testid=view-cards]", Duration::from_secs(5)).await;
        s.click(&cards).await;
        s.wait_for(&card("web"), Duration::from_secs(5)).await;
        s.screenshot(&shot("cards")).await;
        let list = s.wait_for("[data-testid=view-list]", Duration::from_secs(5)).await;
        s.click(&list).await;
        s.wait_for("[data-testid=list]", Duration::from_secs(5)).await;
        s.screenshot(&shot("list")).await;
        let open = s
            .wait_for(&format!("{} [data-testid=open]", card("web")), Duration::from_secs(5))
            .await;
        s.click(&open).await;
        s.wait_for("[data-testid=detail]", Duration::from_secs(10)).await;
        s.wait_for("[data-testid=history] li", Duration::from_secs(10)).await;
        s.screenshot(&shot("detail")).await;
        // The next window starts on the cards again.
        let back = s.wait_for("[data-testid=back]", Duration::from_secs(5)).await;
        s.click(&back).await;
        let cards = s.wait_for("[data-testid=view-cards]", Duration::from_secs(5)).await;
        s.click(&cards).await;
        let failing = s.wait_for(&card("web"), Duration::from_secs(5)).await;
        s.element_screenshot(&failing, &shot("failing-card")).await;
        s.close().await;
    }
}

/// The engine as the user service runs it (`evergreen run`), and the tray
/// app started after it: the tray attaches instead of refusing, its menu
/// shows the service's credentials, the service's notifications reach the
/// desktop through it and their Renew now reaches the service; once the
/// service stops, the tray runs an engine of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tray_attaches_to_the_engine_of_the_user_service() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut desk = Desktop::start();
    let home = Home::new(&desk);
    home.failing_web("1h", "2h");
    let failing = std::fs::read_to_string(&home.config).unwrap();
    std::fs::write(&home.config, format!("{failing}enabled = false\n")).unwrap();

    let mut service = desk.command(evergreen_bin().to_str().unwrap());
    service.arg("run").env("EVERGREEN_LOG", "info");
    for (k, v) in home.env() {
        service.env(k, v);
    }
    let (child, _, service_log) = start_logged(service, "engine started");
    let service_pid = child.id();
    desk.keep(child);

    let (tray_pid, log) = home.start_tray_logged(&mut desk);
    poll("the tray to attach", Duration::from_secs(10), || {
        log.text()
            .contains("attached to the engine already running")
            .then_some(())
    })
    .await;
    assert!(!ended(tray_pid), "the tray refused the running engine:\n{}", log.text());
    let tray = Tray::find(&desk.bus, Duration::from_secs(20)).await;
    tray.wait_menu("the service's credential", Duration::from_secs(20), |m| {
        m.find("web — disabled").is_some()
    })
    .await;

    // An edit the service picks up: its failure is told on the desktop by the tray.
    std::fs::write(&home.config, &failing).unwrap();
    let failed = desk.wait_notification(Duration::from_secs(20), |n| n.summary == "web: renewal failed");
    assert!(failed.actions.iter().any(|a| a == "renew_now"), "{failed:?}");
    tray.wait_menu("the failure in the menu", Duration::from_secs(20), |m| {
        m.find("web — failing").is_some()
    })
    .await;

    // Its Renew now reaches the service: one more attempt in the service's history.
    let attempts = || {
        let out = home.cli(&["history", "web", "--json"]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .ok()
            .and_then(|v| {
                v.as_array()
                    .map(|a| a.iter().filter(|e| e["action"] == "renew").count())
            })
            .unwrap_or(0)
    };
    let before = attempts();
    assert!(before >= 1, "{}", service_log.text());
    desk.invoke_action("Renew now");
    poll(
        "the renewal asked from the notification",
        Duration::from_secs(20),
        || (attempts() > before).then_some(()),
    )
    .await;

    // The service stops: the tray runs the same config itself.
    std::process::Command::new("kill")
        .args(["-TERM", &service_pid.to_string()])
        .status()
        .unwrap();
    poll("the tray to notice", Duration::from_secs(20), || {
        log.text().contains("has stopped").then_some(())
    })
    .await;
    poll("the tray's own engine", Duration::from_secs(20), || {
        (home.cli(&["status"]).status.code() == Some(1)).then_some(())
    })
    .await;
    assert!(!ended(tray_pid));
    tray.wait_menu("the tray's own engine", Duration::from_secs(20), |m| {
        m.find("web — failing").is_some()
    })
    .await;
}
