//! `make bench`: the tray app beside the headless engine on the same
//! credentials: cold start to the tray icon, memory of the whole process tree
//! with the window open and after it was closed, CPU over 60 s idle, and the
//! latency from a renewal request to the window showing it.
//!
//! Run with `cargo bench -p evergreen-tests --bench app` (release binaries must
//! be built first; scripts/bench-app.sh does both). Prints one Markdown section.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use evergreen_tests::desktop::Desktop;
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
        let parent = all[i];
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for e in dir.flatten() {
                let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
                    continue;
                };
                let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
                // The fields after the command name, which is in parentheses.
                let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
                let ppid: u32 = rest.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
                if ppid == parent && !all.contains(&p) {
                    all.push(p);
                }
            }
        }
        i += 1;
    }
    all
}

fn rss_mb(pids: &[u32]) -> f64 {
    pids.iter()
        .map(|p| {
            std::fs::read_to_string(format!("/proc/{p}/status"))
                .unwrap_or_default()
                .lines()
                .find_map(|l| {
                    l.strip_prefix("VmRSS:")
                        .and_then(|v| v.trim().trim_end_matches(" kB").parse::<f64>().ok())
                })
                .unwrap_or(0.0)
        })
        .sum::<f64>()
        / 1024.0
}

/// Proportional set size: shared library pages divided among the processes
/// that map them, so a library every desktop program loads counts once.
fn pss_mb(pids: &[u32]) -> f64 {
    pids.iter()
        .map(|p| {
            std::fs::read_to_string(format!("/proc/{p}/smaps_rollup"))
                .unwrap_or_default()
                .lines()
                .find_map(|l| {
                    l.strip_prefix("Pss:")
                        .and_then(|v| v.trim().trim_end_matches(" kB").parse::<f64>().ok())
                })
                .unwrap_or(0.0)
        })
        .sum::<f64>()
        / 1024.0
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

/// Starts `cmd` and returns it with the time until a stderr line contains `ready`.
fn start_until(mut cmd: Command, ready: &str) -> (Child, Duration) {
    let t0 = Instant::now();
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let err = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let ready = ready.to_string();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if !sent && line.contains(&ready) {
                let _ = tx.send(t0.elapsed());
                sent = true;
            }
        }
    });
    let took = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the process reported it was ready");
    (child, took)
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
}

impl World {
    fn new() -> World {
        let env = Env::new();
        let mut cfg = String::new();
        for i in 0..5 {
            let name = format!("web{i}");
            env.cert(&name, Duration::from_secs(60), Duration::from_secs(86_400));
            cfg.push_str(&env.renewing(&name, "86400s", ""));
        }
        env.write_config(&cfg);
        World { env }
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
}

fn main() {
    let mut desk = Desktop::start();
    let world = World::new();
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

    // The app with its window open, then closed.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let vars = world.vars();
    let env: Vec<(&str, &Path)> = vars.iter().map(|(k, v)| (*k, v.as_path())).collect();
    let driver = desk.tauri_driver(&env);
    let (open_rss, latencies, closed_rss, closed_cpu, app_pid) = rt.block_on(async {
        let s = Session::start(&driver, &app_bin()).await;
        s.wait_for("[data-testid=credential][data-name=web0]", Duration::from_secs(30)).await;
        let app_pid = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
            .find(|p| {
                std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e == app_bin())
                    && std::fs::read_to_string(format!("/proc/{p}/environ"))
                        .is_ok_and(|env| env.contains(world.env.config().to_str().unwrap()))
            })
            .expect("the app process");
        tokio::time::sleep(Duration::from_secs(5)).await;
        let open_rss = rss_mb(&tree(app_pid));

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

        s.close_window().await;
        while s.window_count().await > 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
        let closed_rss = rss_mb(&tree(app_pid));
        let closed_pss = pss_mb(&tree(app_pid));
        let closed_procs = tree(app_pid).len();
        let closed_cpu = cpu_percent(app_pid, IDLE);
        s.close().await;
        (open_rss, latencies, (closed_rss, closed_pss, closed_procs), closed_cpu, app_pid)
    });
    let (closed_rss, closed_pss, closed_procs) = closed_rss;
    let _ = app_pid;
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
    println!("| RSS of the process tree, window open | {open_rss:.1} MB | — | — |");
    println!(
        "| RSS of the process tree, window closed | {closed_rss:.1} MB | {cli_rss:.1} MB | < 120 MB: {} |",
        yes(closed_rss < 120.0)
    );
    println!(
        "| PSS of the process tree ({closed_procs} processes), window closed | {closed_pss:.1} MB | {cli_pss:.1} MB | — |"
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
    println!("\nThe latency includes starting the `evergreen` CLI and the renewal itself (a local command); the engine event to the UI is a part of it.");
}
