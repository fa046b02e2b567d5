//! `make bench`: the tray app beside the headless engine on the same
//! credentials: cold start to the tray icon, opening the window (a process of
//! its own) to its first snapshot, memory of the whole process tree with the
//! window open and after it was closed, CPU over 60 s idle, and the latency
//! from a renewal request to the window showing it.
//!
//! Run with `cargo bench -p evergreen-tests --bench app` (release binaries must
//! be built first; scripts/bench-app.sh does both). Prints one Markdown section.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant, SystemTime};

use evergreen_tests::desktop::{children_of, ended, processes, start_until, Desktop};
use evergreen_tests::env::Env;
use evergreen_tests::webdriver::Session;
use evergreen_tests::{app_bin, evergreen_bin};

const STARTS: usize = 5;
const IDLE: Duration = Duration::from_secs(60);
const LATENCY_RUNS: usize = 10;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// `pid` and every process below it.
fn tree(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let below = children_of(all[i]);
        all.extend(
            below
                .into_iter()
                .map(|(p, _)| p)
                .filter(|p| !all.contains(p))
                .collect::<Vec<_>>(),
        );
        i += 1;
    }
    all
}

/// The sum over `pids` of one "Key:  N kB" line of a /proc file, in MB.
fn proc_mb(pids: &[u32], file: &str, key: &str) -> f64 {
    pids.iter()
        .map(|p| {
            std::fs::read_to_string(format!("/proc/{p}/{file}"))
                .unwrap_or_default()
                .lines()
                .find_map(|l| {
                    l.strip_prefix(key)
                        .and_then(|v| v.trim().trim_end_matches(" kB").parse::<f64>().ok())
                })
                .unwrap_or(0.0)
        })
        .sum::<f64>()
        / 1024.0
}

fn rss_mb(pids: &[u32]) -> f64 {
    proc_mb(pids, "status", "VmRSS:")
}

/// Proportional set size: shared library pages divided among the processes
/// that map them, so a library every desktop program loads counts once.
fn pss_mb(pids: &[u32]) -> f64 {
    proc_mb(pids, "smaps_rollup", "Pss:")
}

/// CPU ticks (user + system) of the processes.
fn ticks(pids: &[u32]) -> u64 {
    pids.iter()
        .map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            let rest = stat.rsplit_once(')').map(|(_, r)| r.to_string()).unwrap_or_default();
            let f: Vec<&str> = rest.split_whitespace().collect();
            // After ')': state is field 3 of the man page, utime 14, stime 15.
            f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
                + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        })
        .sum()
}

/// Percent of one core used by `pid`'s tree over `secs`.
fn cpu_percent(pid: u32, span: Duration) -> f64 {
    let hz = 100.0; // CLK_TCK on Linux
    let t0 = ticks(&tree(pid));
    let s0 = Instant::now();
    std::thread::sleep(span);
    let t1 = ticks(&tree(pid));
    (t1.saturating_sub(t0)) as f64 / hz / s0.elapsed().as_secs_f64() * 100.0
}

fn stop(mut c: Child) {
    let _ = Command::new("kill").arg(c.id().to_string()).status();
    let t = Instant::now();
    while c.try_wait().ok().flatten().is_none() && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = c.kill();
    let _ = c.wait();
}

struct World {
    env: Env,
    /// No config file: the tray app runs its demo.
    demo: bool,
}

impl World {
    /// `n` watched certificates, renewed by a local command, a day long.
    fn certificates(n: usize) -> World {
        let env = Env::new();
        let mut cfg = String::new();
        for i in 0..n {
            let name = format!("web{i}");
            env.cert(&name, Duration::from_secs(60), Duration::from_secs(86_400));
            cfg.push_str(&env.renewing(&name, "86400s", ""));
        }
        env.write_config(&cfg);
        World { env, demo: false }
    }

    /// What `make run` shows a newcomer: the demo, with its short lifetimes.
    fn demo() -> World {
        World {
            env: Env::new(),
            demo: true,
        }
    }

    fn vars(&self) -> Vec<(&'static str, std::path::PathBuf)> {
        let d = self.env.dir.path();
        vec![
            ("EVERGREEN_CONFIG", self.env.config()),
            ("EVERGREEN_DATA_DIR", d.join("data")),
            ("EVERGREEN_RUNTIME_DIR", d.join("run")),
            ("HOME", d.to_path_buf()),
            ("EVERGREEN_LOG", "info".into()),
        ]
    }

    fn command(&self, desk: &Desktop, args: &[&str]) -> Command {
        let mut c = desk.command(app_bin().to_str().unwrap());
        for (k, v) in self.vars() {
            c.env(k, v);
        }
        c.args(args);
        c
    }
}

/// The window open and left alone, as a user leaves it on screen.
struct OpenWindow {
    /// A new window process to the page showing its first snapshot (median).
    first_snapshot_ms: f64,
    /// The window process and its WebKit processes.
    window_rss: f64,
    window_cpu: f64,
    credentials: usize,
}

/// Starts the tray hidden for `world`, counts the cards a window shows (over
/// WebDriver), then opens a window as a user would, with no automation
/// attached (a WebDriver session makes WebKit do work of its own), lets it
/// settle and measures it over IDLE; the tray is stopped again after.
fn open_window_idle(desk: &mut Desktop, rt: &tokio::runtime::Runtime, world: &World) -> OpenWindow {
    let (tray, _) = start_until(world.command(desk, &["--hidden"]), "tray icon ready");
    let mut opens = Vec::new();
    for _ in 0..3 {
        let (window, took) = start_until(world.command(desk, &["--window"]), "window showing its first snapshot");
        opens.push(took.as_secs_f64() * 1000.0);
        stop(window);
    }
    let vars = world.vars();
    let env: Vec<(&str, &Path)> = vars.iter().map(|(k, v)| (*k, v.as_path())).collect();
    let driver = desk.tauri_driver(&env);
    let credentials = rt.block_on(async {
        let s = Session::start(&driver, &app_bin(), &["--window"]).await;
        let first = if world.demo {
            "[data-testid=demo-banner]"
        } else {
            "[data-testid=credential]"
        };
        s.wait_for(first, Duration::from_secs(30)).await;
        let n = s.find_all("[data-testid=credential]").await.len();
        s.close().await;
        n
    });
    let (window, _) = start_until(world.command(desk, &["--window"]), "window showing its first snapshot");
    // Past the page's start-up work (fonts, the first layouts).
    std::thread::sleep(Duration::from_secs(10));
    let pids = tree(window.id());
    let window_rss = rss_mb(&pids);
    let window_cpu = cpu_percent(window.id(), IDLE);
    stop(window);
    stop(tray);
    OpenWindow {
        first_snapshot_ms: median(opens),
        window_rss,
        window_cpu,
        credentials,
    }
}

fn main() {
    let mut desk = Desktop::start();
    if std::env::args().any(|a| a == "--window-only") {
        // Only the open-window part (scripts/bench-app.sh --window-only).
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let open_idle = open_idle_scenarios(&mut desk, &rt);
        drop(desk);
        print_open_idle(&open_idle);
        return;
    }
    let world = World::certificates(5);
    let with_env = |mut c: Command| {
        for (k, v) in world.vars() {
            c.env(k, v);
        }
        c
    };

    // Cold start: the tray app (started hidden, as at login) to its tray icon,
    // and the headless engine to its first event.
    let (mut app_starts, mut cli_starts) = (Vec::new(), Vec::new());
    for _ in 0..STARTS {
        let mut cmd = with_env(desk.command(app_bin().to_str().unwrap()));
        cmd.arg("--hidden");
        let (child, took) = start_until(cmd, "tray icon ready");
        app_starts.push(took.as_secs_f64() * 1000.0);
        stop(child);
        let mut cmd = with_env(Command::new(evergreen_bin()));
        cmd.arg("run");
        let (child, took) = start_until(cmd, "engine started");
        cli_starts.push(took.as_secs_f64() * 1000.0);
        stop(child);
    }

    // The headless engine idle, for scale.
    let mut cmd = with_env(Command::new(evergreen_bin()));
    cmd.arg("run");
    let (cli, _) = start_until(cmd, "engine started");
    std::thread::sleep(Duration::from_secs(5));
    let cli_rss = rss_mb(&tree(cli.id()));
    let cli_pss = pss_mb(&tree(cli.id()));
    let cli_cpu = cpu_percent(cli.id(), IDLE);
    stop(cli);

    // Opening the window: a new `evergreen-app --window` process until the
    // page has asked for its first snapshot (the tray running, as the user has it).
    let mut cmd = with_env(desk.command(app_bin().to_str().unwrap()));
    cmd.arg("--hidden");
    let (tray, _) = start_until(cmd, "tray icon ready");
    let tray_pid = tray.id();
    std::thread::sleep(Duration::from_secs(5));
    let hidden_rss = rss_mb(&tree(tray_pid));
    let mut opens = Vec::new();
    for _ in 0..STARTS {
        let mut cmd = with_env(desk.command(app_bin().to_str().unwrap()));
        cmd.arg("--window");
        let (window, took) = start_until(cmd, "window showing its first snapshot");
        opens.push(took.as_secs_f64() * 1000.0);
        stop(window);
    }

    // The window open (over WebDriver), then closed.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let vars = world.vars();
    let env: Vec<(&str, &Path)> = vars.iter().map(|(k, v)| (*k, v.as_path())).collect();
    let driver = desk.tauri_driver(&env);
    let (open_rss, latencies, closed, closed_cpu) = rt.block_on(async {
        let s = Session::start(&driver, &app_bin(), &["--window"]).await;
        s.wait_for("[data-testid=credential][data-name=web0]", Duration::from_secs(30)).await;
        let window_pid = processes(&app_bin(), "--window", world.env.config().to_str().unwrap())[0];
        tokio::time::sleep(Duration::from_secs(5)).await;
        let mut open = tree(tray_pid);
        open.extend(tree(window_pid));
        let open_rss = rss_mb(&open);

        // Request → window: a MutationObserver stamps the first change of the card.
        let mut latencies = Vec::new();
        for i in 0..LATENCY_RUNS {
            let name = format!("web{}", i % 5);
            s.script(&format!(
                "window.__changed = null; const el = document.querySelector('[data-testid=credential][data-name={name}]'); \
                 const o = new MutationObserver(() => {{ if (window.__changed === null) window.__changed = Date.now(); o.disconnect(); }}); \
                 o.observe(el, {{subtree: true, attributes: true, characterData: true, childList: true}}); return true"
            ))
            .await;
            let t0 = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as f64;
            let out = with_env(Command::new(evergreen_bin())).args(["renew", &name]).output().unwrap();
            if !out.status.success() {
                let h = with_env(Command::new(evergreen_bin())).args(["history", &name]).output().unwrap();
                panic!(
                    "{}{}\nhistory:\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr),
                    String::from_utf8_lossy(&h.stdout)
                );
            }
            let start = Instant::now();
            loop {
                let v = s.script("return window.__changed").await;
                if let Some(t) = v.as_f64() {
                    latencies.push(t - t0);
                    break;
                }
                assert!(start.elapsed() < Duration::from_secs(10), "the window never showed the renewal");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }

        // Closed as its close button does; the process ends with it.
        assert_eq!(desk.close_windows_of(window_pid), 1, "the window is on the display");
        let start = Instant::now();
        while !ended(window_pid) {
            assert!(start.elapsed() < Duration::from_secs(10), "the window process outlived its window");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        s.close().await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        let closed = tree(tray_pid);
        let closed_cpu = cpu_percent(tray_pid, IDLE);
        ((open_rss), latencies, (rss_mb(&closed), pss_mb(&closed), closed.len()), closed_cpu)
    });
    let (closed_rss, closed_pss, closed_procs) = closed;
    stop(tray);

    let open_idle = open_idle_scenarios(&mut desk, &rt);
    drop(desk);

    let lat_median = median(latencies.clone());
    let lat_max = latencies.iter().cloned().fold(0.0, f64::max);
    let yes = |ok: bool| if ok { "yes" } else { "NO" };
    let (app_start, cli_start) = (median(app_starts), median(cli_starts));
    println!("Command: `scripts/bench-app.sh` (`cargo bench -p evergreen-tests --bench app` on release builds), under Xvfb with a private session bus; 5 x509 credentials.\n");
    println!("| what | Evergreen tray app | `evergreen run` (headless) | goal |");
    println!("|---|---|---|---|");
    println!(
        "| cold start to tray icon / first event (median of {STARTS}) | {app_start:.0} ms | {cli_start:.0} ms | < 1,500 ms: {} |",
        yes(app_start < 1500.0)
    );
    let open_ms = median(opens);
    println!(
        "| opening the window: a new window process to its first snapshot (median of {STARTS}) | {open_ms:.0} ms | — | — |"
    );
    println!("| RSS of the tray process tree before any window was opened | {hidden_rss:.1} MB | — | — |");
    println!("| RSS of both process trees (tray and window), window open | {open_rss:.1} MB | — | — |");
    println!(
        "| RSS of the process tree, window closed | {closed_rss:.1} MB | {cli_rss:.1} MB | < 120 MB: {} |",
        yes(closed_rss < 120.0)
    );
    println!(
        "| PSS of the process tree ({closed_procs} process{}), window closed | {closed_pss:.1} MB | {cli_pss:.1} MB | — |",
        if closed_procs == 1 { "" } else { "es" }
    );
    println!(
        "| CPU over {} s idle, window closed | {closed_cpu:.2} % | {cli_cpu:.2} % | < 1 %: {} |",
        IDLE.as_secs(),
        yes(closed_cpu < 1.0)
    );
    println!(
        "| renewal request (`evergreen renew`) to the window changing, median / max of {LATENCY_RUNS} | {lat_median:.0} / {lat_max:.0} ms | — | < 200 ms: {} |",
        yes(lat_median < 200.0)
    );
    print_open_idle(&open_idle);
    println!("\nThe latency includes starting the `evergreen` CLI and the renewal itself (a local command); the engine event to the UI is a part of it. The window is a process of its own (`evergreen-app --window`) that ends when it is closed, so \"window closed\" is the tray process alone.");
}

/// The window left open on screen: the demo a newcomer sees, and many credentials.
fn open_idle_scenarios(desk: &mut Desktop, rt: &tokio::runtime::Runtime) -> Vec<(&'static str, OpenWindow)> {
    let scenarios = [
        ("5 watched certificates", World::certificates(5)),
        ("the demo (`make run` without a config)", World::demo()),
        ("50 watched certificates", World::certificates(50)),
    ];
    // BENCH_ONLY=demo (a word of a scenario's name) measures only that one.
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    scenarios
        .iter()
        .filter(|(what, _)| what.contains(only.as_str()))
        .map(|(what, w)| (*what, open_window_idle(desk, rt, w)))
        .collect()
}

fn print_open_idle(open_idle: &[(&str, OpenWindow)]) {
    let yes = |ok: bool| if ok { "yes" } else { "NO" };
    println!("\nThe window left open and untouched for {} s, after 10 s to settle: CPU and RSS of the window process and the WebKit processes below it (the tray process apart); first snapshot: a new window process to the page showing its first snapshot, median of 3.\n", IDLE.as_secs());
    println!("| window open, idle | credentials on screen | CPU, window + WebKit | RSS, window + WebKit | first snapshot | goal: CPU < 2 % |");
    println!("|---|---|---|---|---|---|");
    for (what, o) in open_idle {
        println!(
            "| {what} | {} | {:.2} % | {:.1} MB | {:.0} ms | {} |",
            o.credentials,
            o.window_cpu,
            o.window_rss,
            o.first_snapshot_ms,
            yes(o.window_cpu < 2.0)
        );
    }
}
