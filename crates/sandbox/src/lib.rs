//! evergreen-sandbox: a real HTTPS control plane for the fleet protocols.
//!
//! Evergreen's fleet credential kinds (nixfleet, wrenn, certctl) are tested,
//! demonstrated and benchmarked against this server instead of mocks: real
//! TLS 1.3 with certificates from its own CA, real HTTP, real state. Beside
//! the three protocols it serves an admin API on plain loopback HTTP to
//! create, retire and delete agents and hosts, set certificate lifetimes,
//! inject faults and read what every endpoint saw (see `docs/protocols.md`).
//!
//! Tests use it in-process through [`Sandbox::start`]; the
//! `evergreen-sandbox` binary runs the same thing for `make bench`.
//!
//! ```no_run
//! # async fn test() -> anyhow::Result<()> {
//! let sb = evergreen_sandbox::Sandbox::start(evergreen_sandbox::Options::default()).await?;
//! // An agent's config points at `sb.url` and trusts the sandbox's CA.
//! println!("control plane at {}", sb.url);
//! # Ok(())
//! # }
//! ```
//!
//! The admin API is the cargo feature `admin` (on by default). The tray
//! app's demo runs the control plane in its own process without it: nothing
//! on a port can steer the demo, and the shipped app carries no test-only code.

#[cfg(feature = "admin")]
pub mod admin;
pub mod certctl;
pub mod faults;
pub mod nixfleet;
pub mod tls;
pub mod wrenn;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use evergreen_core::pki::Ca;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower::ServiceExt;

use crate::faults::{Fault, FaultKind, Seen};
use crate::tls::PeerCert;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("sandbox TLS setup failed: {0}")]
    Tls(String),
    #[error("sandbox could not listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// How to start a sandbox.
#[derive(Debug, Clone)]
pub struct Options {
    /// The HTTPS port; 0 picks a free one.
    pub port: u16,
    /// The admin port (plain HTTP, loopback only); 0 picks a free one.
    #[cfg(feature = "admin")]
    pub admin_port: u16,
    /// Lifetime of the certificates it issues.
    pub cert_lifetime: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            port: 0,
            #[cfg(feature = "admin")]
            admin_port: 0,
            cert_lifetime: Duration::from_secs(3600),
        }
    }
}

/// Everything the endpoints share.
pub struct SharedState {
    pub ca: Ca,
    pub started: Instant,
    /// TLS handshakes completed on the API port (a client that reuses its
    /// connections makes few).
    pub handshakes: std::sync::atomic::AtomicU64,
    inner: Mutex<Inner>,
}

pub type Shared = Arc<SharedState>;

impl SharedState {
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Mutable state behind one lock: requests are small and quick.
#[derive(Default)]
pub struct Inner {
    pub cert_lifetime: Duration,
    pub counts: BTreeMap<String, u64>,
    pub seen: Vec<Seen>,
    faults: VecDeque<Fault>,
    pub nixfleet: nixfleet::Machines,
    pub wrenn: wrenn::Hosts,
    pub certctl: certctl::Agents,
}

impl Inner {
    fn record(&mut self, s: Seen) {
        *self.counts.entry(s.endpoint.clone()).or_default() += 1;
        // Bounded: a benchmark sends millions of requests.
        if self.seen.len() < 100_000 {
            self.seen.push(s);
        }
    }

    pub fn add_fault(&mut self, f: Fault) {
        if f.count > 0 {
            self.faults.push_back(f);
        }
    }

    fn take_fault(&mut self, path: &str) -> Option<FaultKind> {
        let i = self.faults.iter().position(|f| path.starts_with(&f.path_prefix))?;
        let f = &mut self.faults[i];
        let kind = f.kind.clone();
        f.count -= 1;
        if f.count == 0 {
            self.faults.remove(i);
        }
        Some(kind)
    }

    /// Requests seen for an endpoint (`"POST /v1/agent/renew"`).
    pub fn count(&self, endpoint: &str) -> u64 {
        self.counts.get(endpoint).copied().unwrap_or(0)
    }
}

/// A running sandbox.
pub struct Sandbox {
    /// `https://127.0.0.1:PORT`
    pub url: String,
    /// `http://127.0.0.1:PORT`
    #[cfg(feature = "admin")]
    pub admin_url: String,
    pub state: Shared,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Sandbox {
    pub async fn start(opts: Options) -> Result<Sandbox, Error> {
        let now = SystemTime::now();
        let ca = Ca::new(
            "Evergreen Sandbox CA",
            now - Duration::from_secs(3600),
            Duration::from_secs(365 * 86_400),
        )
        .map_err(|e| Error::Tls(e.to_string()))?;
        let acceptor = tls::acceptor(&ca)?;
        let state: Shared = Arc::new(SharedState {
            ca,
            started: Instant::now(),
            handshakes: Default::default(),
            inner: Mutex::new(Inner {
                cert_lifetime: opts.cert_lifetime,
                ..Inner::default()
            }),
        });
        let api = Router::new()
            .merge(nixfleet::routes())
            .merge(wrenn::routes())
            .merge(certctl::routes())
            .layer(axum::middleware::from_fn_with_state(state.clone(), faults::layer))
            .with_state(state.clone());
        let bind = |port: u16| async move {
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            TcpListener::bind(addr)
                .await
                .map_err(|source| Error::Listen { addr, source })
        };
        let listener = bind(opts.port).await?;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(opts.port);
        #[allow(unused_mut)]
        let mut tasks = vec![tokio::spawn(serve_tls(listener, acceptor, api, state.clone()))];
        #[cfg(feature = "admin")]
        let admin_url = {
            let admin_listener = bind(opts.admin_port).await?;
            let admin_port = admin_listener.local_addr().map(|a| a.port()).unwrap_or(opts.admin_port);
            let admin = admin::routes().with_state(state.clone());
            tasks.push(tokio::spawn(async move {
                let _ = axum::serve(admin_listener, admin).await;
            }));
            format!("http://127.0.0.1:{admin_port}")
        };
        Ok(Sandbox {
            url: format!("https://127.0.0.1:{port}"),
            #[cfg(feature = "admin")]
            admin_url,
            state,
            tasks,
        })
    }

    /// The CA certificate (PEM) clients must trust.
    pub fn ca_pem(&self) -> String {
        self.state.ca.cert_pem()
    }
}

/// Prepares `dir` for an Evergreen that talks to `sb` — the CA, an SSH host
/// key (0600) with its first nixfleet certificate, a wrenn one-time token, a
/// certctl agent (its API key 0600, and a certificate waiting for its CSR) —
/// and returns the config text for it.
pub fn demo_config(sb: &Sandbox, dir: &std::path::Path) -> anyhow::Result<String> {
    use anyhow::Context;
    use evergreen_core::fsutil::{atomic_write, ensure_private_dir, PUBLIC_FILE_MODE, SECRET_FILE_MODE};
    use evergreen_core::sources::nixfleet::{csr, host_key};
    ensure_private_dir(dir).with_context(|| format!("preparing {}", dir.display()))?;
    let machine = "sandbox-machine";
    atomic_write(&dir.join("ca.pem"), sb.ca_pem().as_bytes(), PUBLIC_FILE_MODE)?;
    let ssh = ssh_key::PrivateKey::random(&mut ssh_key::rand_core::OsRng, ssh_key::Algorithm::Ed25519)
        .context("generating an ed25519 host key")?;
    let pem = ssh
        .to_openssh(ssh_key::LineEnding::LF)
        .context("encoding the host key")?;
    atomic_write(&dir.join("ssh_host_ed25519_key"), pem.as_bytes(), SECRET_FILE_MODE)?;
    let key = host_key(&dir.join("ssh_host_ed25519_key")).map_err(anyhow::Error::msg)?;
    let lifetime = sb.state.lock().cert_lifetime;
    let cert = nixfleet::issue(
        &sb.state,
        machine,
        &csr(&key, machine).map_err(anyhow::Error::msg)?,
        lifetime,
    )
    .map_err(anyhow::Error::msg)?;
    atomic_write(&dir.join("nixfleet.pem"), cert.as_bytes(), PUBLIC_FILE_MODE)?;
    let token = sb.state.lock().wrenn.new_token();
    atomic_write(&dir.join("wrenn.json.token"), token.as_bytes(), SECRET_FILE_MODE)?;
    let (agent, api_key) = sb.state.lock().certctl.create();
    atomic_write(&dir.join("certctl.key"), api_key.as_bytes(), SECRET_FILE_MODE)?;
    sb.state
        .lock()
        .certctl
        .request(
            &agent,
            "mc-demo",
            "t-demo",
            "demo.sandbox.test",
            &["demo.sandbox.test".into()],
        )
        .map_err(anyhow::Error::msg)?;
    let d = dir.display();
    Ok(format!(
        r#"# Evergreen config for the sandbox at {url}.
[[credential]]
name = "sandbox-nixfleet"
kind = "nixfleet"
url = "{url}"
path = "{d}/nixfleet.pem"
ssh_host_key = "{d}/ssh_host_ed25519_key"
machine_id = "{machine}"
ca_bundle = "{d}/ca.pem"

[[credential]]
name = "sandbox-wrenn"
kind = "wrenn"
url = "{url}"
credentials_file = "{d}/wrenn.json"
host_address = "127.0.0.1:9000"
ca_bundle = "{d}/ca.pem"

[[credential]]
name = "sandbox-certctl"
kind = "certctl"
url = "{url}"
agent_id = "{agent}"
api_key_file = "{d}/certctl.key"
ca_bundle = "{d}/ca.pem"
key_dir = "{d}/certctl-keys"
targets = ["t-demo={d}/certctl-demo.pem"]
discovery_dirs = ["{d}"]
"#,
        url = sb.url,
    ))
}

async fn serve_tls(listener: TcpListener, acceptor: tokio_rustls::TlsAcceptor, app: Router, state: Shared) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            state.handshakes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let peer = PeerCert(
                stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| c.to_vec()),
            );
            let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(peer.clone());
                app.clone().oneshot(req.map(axum::body::Body::new))
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
