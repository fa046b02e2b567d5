//! `fleet-bench`: the fleet benchmarks of `make bench` (`scripts/bench-fleet.sh`).
//!
//! Why it exists: the fleet kinds promise things only a measurement shows —
//! that a fleet started at once does not heartbeat in lockstep, that a
//! renewal on loopback is quick, and that the control plane the tests and the
//! demo use keeps up. Each benchmark starts its own in-process sandbox on
//! 127.0.0.1 and is bounded in count and time; nothing leaves the machine.
//!
//! - herd: N certctl agents (default 1,000; the real engine scheduler and the
//!   real certctl source over real TLS 1.3) start at the same instant, with
//!   heartbeats every 10 s and polls every 5 s (certctl's own 60 s and 30 s
//!   scaled down 6×); heartbeat arrivals per one-second bucket over 30 s,
//!   peak / mean (goal ≤ 2).
//! - renewal: one nixfleet renewal round trip on loopback (mTLS handshake
//!   with the current certificate, CSR signed by the SSH host key, checks,
//!   atomic rewrite with `.bak`), repeated; the median (goal < 50 ms).
//! - throughput: the sandbox's certctl heartbeat endpoint under 32 concurrent
//!   requests on kept-alive TLS 1.3 connections; requests per second
//!   (goal ≥ 2,000) and how many handshakes that took.
//!
//! `--quick` runs small versions (for a smoke test); `--markdown` prints the
//! section `docs/benchmarks.md` keeps.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use clap::Parser;
use evergreen_core::clock::SystemClock;
use evergreen_core::config::{Config, CredentialConfig, EngineSettings, TokenSource};
use evergreen_core::events::EventBus;
use evergreen_core::fsutil::{atomic_write, ensure_private_dir, SECRET_FILE_MODE};
use evergreen_core::http::{self, ClientOptions};
use evergreen_core::policy::RenewPolicy;
use evergreen_core::scheduler::{self, SchedulerDeps};
use evergreen_core::sources::certctl::{self, CertctlSpec, CertctlTarget};
use evergreen_core::sources::nixfleet::Nixfleet;
use evergreen_core::sources::nixfleet::{NixfleetKey, NixfleetSpec};
use evergreen_core::sources::{RenewRequest, Source};
use evergreen_core::store::Store;
use evergreen_sandbox::{Options, Sandbox};

/// The fleet benchmarks of `make bench`, all on 127.0.0.1.
#[derive(clap::Parser)]
#[command(version)]
struct Args {
    /// Small versions of each benchmark, for a smoke test.
    #[arg(long)]
    quick: bool,
    /// Also print the section docs/benchmarks.md keeps.
    #[arg(long)]
    markdown: bool,
}

struct Sizes {
    agents: usize,
    herd_secs: u64,
    renewals: usize,
    heartbeats: u64,
    throughput_limit: Duration,
}

impl Sizes {
    const QUICK: Sizes = Sizes {
        agents: 100,
        herd_secs: 12,
        renewals: 10,
        heartbeats: 2_000,
        throughput_limit: Duration::from_secs(5),
    };
    const FULL: Sizes = Sizes {
        agents: 1_000,
        herd_secs: 30,
        renewals: 50,
        heartbeats: 20_000,
        throughput_limit: Duration::from_secs(20),
    };
}

struct Herd {
    agents: usize,
    secs: u64,
    beats: u64,
    peak: u64,
    mean: f64,
    polls: u64,
    first_second: u64,
}

impl Herd {
    /// The busiest second against the average one: 1 is a perfectly even
    /// spread, N a fleet heartbeating in lockstep.
    fn ratio(&self) -> f64 {
        self.peak as f64 / self.mean
    }
}

struct Renewals {
    n: usize,
    median_ms: f64,
    p90_ms: f64,
    max_ms: f64,
}

struct Throughput {
    requests: u64,
    secs: f64,
    per_sec: f64,
    handshakes: u64,
    concurrency: usize,
}

const CONCURRENCY: usize = 32;

fn sandbox_options() -> Options {
    Options {
        cert_lifetime: Duration::from_secs(3600),
        ..Options::default()
    }
}

/// N agents, one scheduler, all started at the same instant.
async fn herd(n: usize, secs: u64, dir: &Path) -> anyhow::Result<Herd> {
    let sb = Sandbox::start(sandbox_options()).await?;
    ensure_private_dir(dir)?;
    std::fs::write(dir.join("ca.pem"), sb.ca_pem())?;
    let now = SystemTime::now();
    let leaf = sb.state.ca.issue("herd.bench", now, Duration::from_secs(30 * 86_400))?;
    std::fs::write(dir.join("herd.pem"), &leaf.cert_pem)?;
    let mut credentials = Vec::with_capacity(n);
    for i in 0..n {
        let (id, key) = sb.state.lock().certctl.create();
        let key_file = dir.join(format!("agent-{i}.key"));
        atomic_write(&key_file, key.as_bytes(), SECRET_FILE_MODE)?;
        credentials.push(CredentialConfig {
            name: format!("agent-{i}"),
            enabled: true,
            policy: RenewPolicy::default(),
            jitter: None,
            kind: certctl::KIND,
            spec: Arc::new(CertctlSpec {
                url: sb.url.clone(),
                agent_id: id,
                api_key: TokenSource::File(key_file),
                ca_bundle: Some(dir.join("ca.pem")),
                key_dir: dir.join("keys"),
                targets: [(
                    "t-herd".to_string(),
                    CertctlTarget {
                        cert_path: dir.join("herd.pem"),
                        key_path: dir.join("herd.key"),
                    },
                )]
                .into(),
                discovery_dirs: Vec::new(),
                heartbeat_interval: Duration::from_secs(10),
                poll_interval: Duration::from_secs(5),
                discovery_interval: Duration::from_secs(6 * 3600),
            }),
        });
    }
    let store = Arc::new(Store::open_in_memory()?);
    let deps = SchedulerDeps::new(Arc::new(SystemClock), store, EventBus::default());
    let t0 = sb.state.started.elapsed().as_millis() as u64;
    let (handle, join) = scheduler::spawn(
        Config {
            engine: EngineSettings::default(),
            credentials,
            warnings: Vec::new(),
        },
        deps,
    );
    tokio::time::sleep(Duration::from_secs(secs)).await;
    handle.shutdown();
    let _ = tokio::time::timeout(Duration::from_secs(10), join).await;
    let g = sb.state.lock();
    let mut buckets = vec![0u64; secs as usize];
    let mut polls = 0;
    for s in &g.seen {
        let Some(at) = s.at_ms.checked_sub(t0) else { continue };
        let b = (at / 1000) as usize;
        if b >= buckets.len() {
            continue;
        }
        if s.endpoint.ends_with("/heartbeat") {
            buckets[b] += 1;
        } else if s.endpoint.ends_with("/work") {
            polls += 1;
        }
    }
    let beats: u64 = buckets.iter().sum();
    let peak = buckets.iter().copied().max().unwrap_or(0);
    Ok(Herd {
        agents: n,
        secs,
        beats,
        peak,
        mean: beats as f64 / secs as f64,
        polls,
        first_second: buckets[0],
    })
}

/// Nixfleet renewals on loopback, each one timed.
async fn renewals(n: usize, dir: &Path) -> anyhow::Result<Renewals> {
    let sb = Sandbox::start(sandbox_options()).await?;
    // The demo's preparation: CA, SSH host key, an enrolled certificate.
    evergreen_sandbox::demo_config(&sb, dir)?;
    let source = Nixfleet::new(
        "bench",
        NixfleetSpec {
            url: sb.url.clone(),
            cert_path: dir.join("nixfleet.pem"),
            key: NixfleetKey::SshHost(dir.join("ssh_host_ed25519_key")),
            machine_id: "sandbox-machine".into(),
            ca_bundle: Some(dir.join("ca.pem")),
            enrollment_token_file: dir.join("nixfleet.pem.token"),
        },
    );
    let renew = || {
        source.renew(RenewRequest {
            current: None,
            manual: true,
            now: std::time::SystemTime::now(),
            withheld: Arc::from(Vec::new()),
        })
    };
    renew()
        .await
        .map_err(|f| anyhow::anyhow!(f.message))
        .context("warm-up renewal")?;
    let mut ms = Vec::with_capacity(n);
    for i in 0..n {
        let start = Instant::now();
        renew()
            .await
            .map_err(|f| anyhow::anyhow!(f.message))
            .with_context(|| format!("renewal {i}"))?;
        ms.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    Ok(Renewals {
        n,
        median_ms: at(0.5),
        p90_ms: at(0.9),
        max_ms: ms[ms.len() - 1],
    })
}

/// Heartbeats against the sandbox, `CONCURRENCY` at a time on kept-alive connections.
async fn throughput(total: u64, limit: Duration, dir: &Path) -> anyhow::Result<Throughput> {
    let sb = Sandbox::start(sandbox_options()).await?;
    ensure_private_dir(dir)?;
    std::fs::write(dir.join("ca.pem"), sb.ca_pem())?;
    let (id, key) = sb.state.lock().certctl.create();
    // The one client builder, as the agents use it: TLS 1.3, the sandbox CA.
    let client = http::client(&ClientOptions {
        ca_bundle: Some(dir.join("ca.pem")),
        tls13_only: true,
        ..ClientOptions::default()
    })?;
    let url = format!("{}/api/v1/agents/{id}/heartbeat", sb.url);
    let body = serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"), "hostname": "bench", "os": "linux",
        "architecture": "amd64", "ip_address": "127.0.0.1",
    });
    let sent = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + limit;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (client, url, key, body) = (client.clone(), url.clone(), key.clone(), body.clone());
        let (sent, failed) = (sent.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            while sent.fetch_add(1, Ordering::Relaxed) < total && Instant::now() < deadline {
                let ok = match client.post(&url).bearer_auth(&key).json(&body).send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if !ok {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let secs = start.elapsed().as_secs_f64();
    let failed = failed.load(Ordering::Relaxed);
    anyhow::ensure!(failed == 0, "{failed} heartbeats failed");
    let requests = sb.state.lock().certctl.agents[&id].heartbeats;
    Ok(Throughput {
        requests,
        secs,
        per_sec: requests as f64 / secs,
        handshakes: sb.state.handshakes.load(Ordering::Relaxed),
        concurrency: CONCURRENCY,
    })
}

fn yes(ok: bool) -> &'static str {
    if ok {
        "yes"
    } else {
        "NO"
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let sizes = if args.quick { Sizes::QUICK } else { Sizes::FULL };
    let work = tempfile_dir()?;
    eprintln!("herd: {} agents for {} s …", sizes.agents, sizes.herd_secs);
    let h = herd(sizes.agents, sizes.herd_secs, &work.join("herd")).await?;
    println!(
        "herd: {} agents, {} heartbeats in {} s ({} polls): peak {} / mean {:.1} per second = {:.2}× (goal ≤ 2: {}); first second {}",
        h.agents,
        h.beats,
        h.secs,
        h.polls,
        h.peak,
        h.mean,
        h.ratio(),
        yes(h.ratio() <= 2.0),
        h.first_second
    );
    eprintln!("renewal: {} nixfleet renewals …", sizes.renewals);
    let r = renewals(sizes.renewals, &work.join("nixfleet")).await?;
    println!(
        "renewal: {} nixfleet round trips on loopback: median {:.1} ms (goal < 50: {}), p90 {:.1} ms, max {:.1} ms",
        r.n,
        r.median_ms,
        yes(r.median_ms < 50.0),
        r.p90_ms,
        r.max_ms
    );
    eprintln!("throughput: up to {} heartbeats …", sizes.heartbeats);
    let t = throughput(sizes.heartbeats, sizes.throughput_limit, &work.join("throughput")).await?;
    println!(
        "throughput: {} heartbeats in {:.2} s on {} concurrent requests = {:.0}/s (goal ≥ 2,000: {}); {} TLS handshakes",
        t.requests,
        t.secs,
        t.concurrency,
        t.per_sec,
        yes(t.per_sec >= 2000.0),
        t.handshakes
    );
    let _ = std::fs::remove_dir_all(&work);
    if args.markdown {
        println!("\n| benchmark | result | goal |\n|---|---|---|");
        for row in markdown_rows(&h, &r, &t) {
            println!("{row}");
        }
    }
    Ok(())
}

/// The fleet section of docs/benchmarks.md, one row per benchmark.
fn markdown_rows(h: &Herd, r: &Renewals, t: &Throughput) -> [String; 3] {
    [
        format!(
            "| herd: {} agents started at once, heartbeat arrivals per second over {} s | peak {} / mean {:.1} = **{:.2}×** | ≤ 2× ({}) |",
            h.agents,
            h.secs,
            h.peak,
            h.mean,
            h.ratio(),
            yes(h.ratio() <= 2.0)
        ),
        format!(
            "| one nixfleet renewal round trip on loopback ({} runs) | median **{:.1} ms** (p90 {:.1}, max {:.1}) | < 50 ms ({}) |",
            r.n,
            r.median_ms,
            r.p90_ms,
            r.max_ms,
            yes(r.median_ms < 50.0)
        ),
        format!(
            "| sandbox heartbeat throughput, {} concurrent requests | **{:.0}/s** ({} in {:.2} s, {} TLS handshakes) | ≥ 2,000/s ({}) |",
            t.concurrency,
            t.per_sec,
            t.requests,
            t.secs,
            t.handshakes,
            yes(t.per_sec >= 2000.0)
        ),
    ]
}

/// A private scratch directory under the system temp dir.
fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!("evergreen-fleet-bench-{}", std::process::id()));
    ensure_private_dir(&d)?;
    Ok(d)
}
