//! A private desktop for end-to-end tests of the tray app: an Xvfb display, a
//! session D-Bus of its own, a real notification server (dunst), a
//! `dbus-monitor` that records every `Notify` call and a StatusNotifier
//! watcher that tray icons register with, plus `tauri-driver` to drive the
//! real app window over WebDriver.
//!
//! Nothing here touches the user's display or bus; every process is killed
//! when the [`Desktop`] is dropped. Waiting is polling for a bounded time.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One captured `org.freedesktop.Notifications.Notify` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    pub app_name: String,
    pub summary: String,
    pub body: String,
    pub actions: Vec<String>,
}

pub struct Desktop {
    pub dir: tempfile::TempDir,
    pub display: String,
    pub bus: String,
    children: Vec<Child>,
    notes: Arc<Mutex<Vec<Notify>>>,
}

impl Drop for Desktop {
    fn drop(&mut self) {
        for c in self.children.iter_mut().rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Whether every program the desktop needs is installed (`make test` installs them).
pub fn missing_tools() -> Vec<&'static str> {
    [
        "Xvfb",
        "dbus-daemon",
        "dbus-monitor",
        "dunst",
        "status-notifier-watcher",
        "tauri-driver",
        "WebKitWebDriver",
    ]
    .into_iter()
    .filter(|t| !on_path(t))
    .collect()
}

fn on_path(tool: &str) -> bool {
    let extra = home_cargo_bin();
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).chain(extra).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}

fn home_cargo_bin() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|c| c.join("bin"))
}

/// A free loopback TCP port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < timeout, "{what} did not come up within {timeout:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Desktop {
    pub fn start() -> Desktop {
        let missing = missing_tools();
        assert!(
            missing.is_empty(),
            "the desktop end-to-end tests need {}; `make test` installs them (scripts/install-deps.sh)",
            missing.join(", ")
        );
        let dir = tempfile::tempdir().unwrap();
        let mut d = Desktop {
            dir,
            display: String::new(),
            bus: String::new(),
            children: Vec::new(),
            notes: Arc::new(Mutex::new(Vec::new())),
        };
        d.start_x();
        d.start_bus();
        // dunst's context menu picks through a script: the line naming the
        // label `invoke_action` wrote down, as a user picks from the menu.
        let pick = d.dir.path().join("pick.sh");
        std::fs::write(
            &pick,
            format!(
                "#!/bin/sh\ntee -a {menu} | grep -m1 -F -- \"$(cat {want})\"\n",
                menu = d.dir.path().join("menu.log").display(),
                want = d.dir.path().join("pick").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&pick, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let conf = d.dir.path().join("dunstrc");
        std::fs::write(&conf, format!("[global]\n    dmenu = {}\n", pick.display())).unwrap();
        // The notification server, and the watcher tray icons register with.
        for (program, args) in [
            ("dunst", vec!["-conf".to_string(), conf.display().to_string()]),
            ("status-notifier-watcher", vec![]),
        ] {
            let child = d
                .command(program)
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("{program} starts: {e}"));
            d.children.push(child);
        }
        // The notification server and the tray host are up once they own their names on our bus.
        for name in ["org.freedesktop.Notifications", "org.kde.StatusNotifierWatcher"] {
            wait_for(name, Duration::from_secs(10), || {
                d.command("dbus-send")
                    .args([
                        "--session",
                        "--print-reply",
                        "--dest=org.freedesktop.DBus",
                        "/org/freedesktop/DBus",
                        "org.freedesktop.DBus.NameHasOwner",
                        &format!("string:{name}"),
                    ])
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"))
                    .unwrap_or(false)
            });
        }
        // Last, so that nothing else it waits for can hide a recorder that
        // is not recording yet.
        d.start_monitor();
        d
    }

    /// A private X server. Xvfb picks a free display itself and writes its
    /// number once it accepts clients (`-displayfd`): no two tests can pick
    /// the same display, as they could when each looked for a free number
    /// and started a server on it (the second server failed, and its test
    /// used, and at its end killed, the first one's).
    fn start_x(&mut self) {
        let mut child = Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb starts");
        match crate::first_line(&mut child, Duration::from_secs(20)) {
            Some(n) if n.parse::<u32>().is_ok() => {
                self.display = format!(":{n}");
                self.children.push(child);
            }
            other => panic!("Xvfb did not report a display within 20 s (it printed {other:?})"),
        }
    }

    fn start_bus(&mut self) {
        self.bus = format!("unix:path={}", self.dir.path().join("bus").display());
        let child = crate::bus::daemon(&self.bus);
        self.children.push(child);
    }

    fn start_monitor(&mut self) {
        let mut child = self
            .command("dbus-monitor")
            .args(["--session", "interface=org.freedesktop.Notifications,member=Notify"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-monitor starts");
        let out = child.stdout.take().unwrap();
        let notes = self.notes.clone();
        let (ready, monitoring) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut ready = Some(ready);
            let mut current: Option<Vec<String>> = None;
            let mut in_actions = false;
            let mut actions = Vec::new();
            // A string with newlines spans several lines of dbus-monitor's output.
            let mut partial: Option<String> = None;
            for raw in BufReader::new(out).lines().map_while(Result::ok) {
                let joined;
                let t = if let Some(mut p) = partial.take() {
                    p.push('\n');
                    p.push_str(&raw);
                    if !raw.ends_with('"') {
                        partial = Some(p);
                        continue;
                    }
                    joined = p;
                    joined.as_str()
                } else {
                    let t = raw.trim();
                    if t.starts_with("string \"") && (t.len() == "string \"".len() || !t.ends_with('"')) {
                        partial = Some(t.to_string());
                        continue;
                    }
                    t
                };
                // The bus takes a monitor's unique name away once it has
                // become one (BecomeMonitor): from that signal on, every
                // Notify call is seen. Before it, one can be missed.
                if t.starts_with("signal") && t.contains("member=NameLost") {
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                    continue;
                }
                if t.starts_with("method call") && t.contains("member=Notify") {
                    current = Some(Vec::new());
                    actions.clear();
                    in_actions = false;
                    continue;
                }
                let Some(strings) = current.as_mut() else { continue };
                if t.starts_with("array [") && strings.len() == 4 {
                    in_actions = true;
                    continue;
                }
                if in_actions {
                    if t.starts_with(']') {
                        in_actions = false;
                        // app_name, icon, summary, body
                        let n = Notify {
                            app_name: strings[0].clone(),
                            summary: strings[2].clone(),
                            body: strings[3].clone(),
                            actions: std::mem::take(&mut actions),
                        };
                        notes.lock().unwrap().push(n);
                        current = None;
                    } else if let Some(s) = string_arg(t) {
                        actions.push(s);
                    }
                    continue;
                }
                if let Some(s) = string_arg(t) {
                    strings.push(s);
                }
            }
        });
        let became = monitoring.recv_timeout(Duration::from_secs(20));
        if became.is_err() {
            let _ = child.kill();
            let status = child.wait();
            panic!("dbus-monitor did not become a monitor of the test bus within 20 s (it ended: {status:?})");
        }
        self.children.push(child);
    }

    /// A command that runs on this desktop (display and bus set).
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("DISPLAY", &self.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .env_remove("WAYLAND_DISPLAY")
            .env("XDG_RUNTIME_DIR", self.dir.path());
        if let Some(bin) = home_cargo_bin() {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let paths: Vec<PathBuf> = std::env::split_paths(&path).chain(Some(bin)).collect();
            c.env("PATH", std::env::join_paths(paths).unwrap());
        }
        c
    }

    /// Starts `tauri-driver` on a free port, with extra environment for the app it launches.
    ///
    /// tauri-driver binds its ports itself, so a port picked free may be
    /// taken by the time it binds (it then exits): pick again and retry, and
    /// trust the port only while our driver is the one still running.
    pub fn tauri_driver(&mut self, env: &[(&str, &Path)]) -> String {
        for _ in 0..5 {
            let port = free_port();
            let native = free_port();
            let mut cmd = self.command("tauri-driver");
            cmd.args(["--port", &port.to_string(), "--native-port", &native.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            for (k, v) in env {
                cmd.env(k, v);
            }
            let mut child = cmd.spawn().expect("tauri-driver starts");
            let start = Instant::now();
            let up = loop {
                if child.try_wait().unwrap().is_some() {
                    break false;
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    // Connected, but to ours only if ours still runs.
                    break child.try_wait().unwrap().is_none();
                }
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "tauri-driver did not come up within 20 s"
                );
                std::thread::sleep(Duration::from_millis(50));
            };
            if up {
                self.children.push(child);
                return format!("http://127.0.0.1:{port}");
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("tauri-driver exited at start five times (its ports were taken each time?)");
    }

    /// Picks `label` (an action's label, e.g. "Renew now") from the context
    /// menu of the newest notification, as a user does in dunst's menu.
    pub fn invoke_action(&self, label: &str) {
        std::fs::write(self.dir.path().join("pick"), label).unwrap();
        let out = self.command("dunstctl").arg("context").output().unwrap();
        assert!(
            out.status.success(),
            "dunstctl context: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Invokes the default action of the newest notification (a click on it).
    pub fn click_notification(&self) {
        let out = self.command("dunstctl").args(["action", "0"]).output().unwrap();
        assert!(
            out.status.success(),
            "dunstctl action: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// What dunst's context menu offered so far.
    pub fn menu_offered(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("menu.log")).unwrap_or_default()
    }

    /// Keeps `child` running until the desktop is dropped.
    pub fn keep(&mut self, child: Child) {
        self.children.push(child);
    }

    /// Asks every shown window of process `pid` to close, as a window
    /// manager does when the user clicks its close button
    /// (`WM_DELETE_WINDOW`). Returns how many windows were asked.
    pub fn close_windows_of(&self, pid: u32) -> usize {
        use x11rb::connection::Connection;
        use x11rb::protocol::xproto::{
            AtomEnum, ClientMessageEvent, ConnectionExt as _, EventMask, MapState, CLIENT_MESSAGE_EVENT,
        };
        let (conn, screen) = x11rb::connect(Some(&self.display)).expect("the test display accepts connections");
        let root = conn.setup().roots[screen].root;
        let atom = |name: &[u8]| conn.intern_atom(false, name).unwrap().reply().unwrap().atom;
        let (net_wm_pid, protocols, delete) = (atom(b"_NET_WM_PID"), atom(b"WM_PROTOCOLS"), atom(b"WM_DELETE_WINDOW"));
        let mut asked = 0;
        for w in conn.query_tree(root).unwrap().reply().unwrap().children {
            let owner = conn
                .get_property(false, w, net_wm_pid, AtomEnum::CARDINAL, 0, 1)
                .unwrap()
                .reply()
                .ok()
                .and_then(|p| p.value32().and_then(|mut v| v.next()));
            let shown = conn
                .get_window_attributes(w)
                .unwrap()
                .reply()
                .is_ok_and(|a| a.map_state == MapState::VIEWABLE);
            if owner == Some(pid) && shown {
                let ev = ClientMessageEvent {
                    response_type: CLIENT_MESSAGE_EVENT,
                    format: 32,
                    sequence: 0,
                    window: w,
                    type_: protocols,
                    data: [delete, x11rb::CURRENT_TIME, 0, 0, 0].into(),
                };
                conn.send_event(false, w, EventMask::NO_EVENT, ev).unwrap();
                asked += 1;
            }
        }
        conn.flush().unwrap();
        asked
    }

    /// Sends a notification as any program on this desktop does (a `Notify`
    /// call to the notification server over the session bus).
    pub async fn send_notification(&self, summary: &str) {
        let conn = zbus::connection::Builder::address(self.bus.as_str())
            .expect("the test bus's address")
            .build()
            .await
            .expect("the test bus accepts a connection");
        let hints: std::collections::HashMap<&str, zbus::zvariant::Value<'_>> = std::collections::HashMap::new();
        conn.call_method(
            Some("org.freedesktop.Notifications"),
            "/org/freedesktop/Notifications",
            Some("org.freedesktop.Notifications"),
            "Notify",
            &("probe", 0u32, "", summary, "", Vec::<&str>::new(), hints, 1000i32),
        )
        .await
        .expect("the notification server answers Notify");
    }

    /// Every Notify call seen so far.
    pub fn notifications(&self) -> Vec<Notify> {
        self.notes.lock().unwrap().clone()
    }

    /// Waits until some notification matches, and returns it.
    pub fn wait_notification(&self, timeout: Duration, pred: impl Fn(&Notify) -> bool) -> Notify {
        let start = Instant::now();
        loop {
            if let Some(n) = self.notifications().into_iter().find(|n| pred(n)) {
                return n;
            }
            assert!(
                start.elapsed() < timeout,
                "no matching notification within {timeout:?}; saw: {:#?}",
                self.notifications()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Polls `f` every 100 ms until it gives a value, failing the test with
/// `what` after `timeout`.
pub async fn poll<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "{what} (waited {timeout:?})");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A process's stderr, every line kept as it comes (read to the end in a
/// thread of its own, so the process never blocks on a full pipe).
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    /// How many lines so far contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        let lines = self.0.lock().unwrap_or_else(|p| p.into_inner());
        lines.iter().filter(|l| l.contains(needle)).count()
    }

    pub fn text(&self) -> String {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).join("\n")
    }
}

/// Starts `cmd` and returns it with the time until a line of its stderr
/// contains `ready` (its stderr is read to the end, so it never blocks).
pub fn start_until(cmd: Command, ready: &str) -> (Child, Duration) {
    let (child, took, _) = start_logged(cmd, ready);
    (child, took)
}

/// [`start_until`], keeping every line of stderr in a [`Log`].
pub fn start_logged(mut cmd: Command, ready: &str) -> (Child, Duration, Log) {
    let t0 = Instant::now();
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let err = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let wanted = ready.to_string();
    let log = Log::default();
    let kept = log.clone();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let is_ready = !sent && line.contains(&wanted);
            kept.0.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            if is_ready {
                let _ = tx.send(Ok(t0.elapsed()));
                sent = true;
            }
        }
        if !sent {
            let _ = tx.send(Err(kept.text()));
        }
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(took)) => (child, took, log),
        Ok(Err(stderr)) => {
            let status = child.wait();
            panic!("the process ended ({status:?}) before it said {ready:?}; its stderr:\n{stderr}")
        }
        Err(_) => panic!("the process did not say {ready:?} within 60 s"),
    }
}

/// Whether process `pid` has ended (exited, even if not yet reaped).
pub fn ended(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|s| s.lines().any(|l| l.starts_with("State:") && l.contains("zombie")))
        .unwrap_or(true)
}

/// The running processes of `exe` whose command line has `arg` and whose
/// environment has `env` (to tell one test's processes from another's).
pub fn processes(exe: &Path, arg: &str, env: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e == exe)
                && std::fs::read(format!("/proc/{p}/cmdline"))
                    .is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == arg.as_bytes()))
                && std::fs::read_to_string(format!("/proc/{p}/environ")).is_ok_and(|e| e.contains(env))
                && !ended(*p)
        })
        .collect()
}

/// The processes whose parent is `parent`, with their command lines.
pub fn children_of(parent: u32) -> Vec<(u32, String)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            // The fields after the command name, which is in parentheses.
            let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
            rest.split_whitespace().nth(1).and_then(|s| s.parse::<u32>().ok()) == Some(parent)
        })
        .map(|p| {
            let cmdline = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            (p, String::from_utf8_lossy(&cmdline).replace('\0', " "))
        })
        .collect()
}

/// The value of a `string "…"` line of dbus-monitor's output.
fn string_arg(t: &str) -> Option<String> {
    let rest = t.strip_prefix("string \"")?;
    Some(rest.strip_suffix('"').unwrap_or(rest).to_string())
}
