//! The demo: what `evergreen run` (and the tray app) show with no config.
//!
//! A temporary directory gets its own CA and a few certificates that live for
//! minutes, renewed by `evergreen demo-renew` through the ordinary
//! renew_command path, so a newcomer sees real renewals within a minute: one
//! that renews smoothly, one that fails every other attempt and recovers, and
//! one that Evergreen only watches.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::config::{CommandSpec, Config, CredentialConfig, EngineSettings};
use crate::error::{Error, Result};
use crate::fsutil::{atomic_write, ensure_private_dir, PUBLIC_FILE_MODE};
use crate::pki::Ca;
use crate::policy::RenewPolicy;
use crate::sources::x509_file::{X509FileSpec, KIND};

/// Printed wherever the demo runs, so nobody mistakes it for their own credentials.
pub const BANNER: &str =
    "DEMO MODE: no config file found, so Evergreen is keeping a few short-lived demo certificates alive. \
Nothing here touches your real credentials. Create a config (`evergreen config path` shows where) to manage your own.";

struct DemoCert {
    name: &'static str,
    lifetime: Duration,
    /// How much of the first certificate's life has already passed.
    aged: Duration,
    renews: bool,
    flaky: bool,
}

const CERTS: &[DemoCert] = &[
    DemoCert {
        name: "demo-web",
        lifetime: Duration::from_secs(90),
        aged: Duration::from_secs(45),
        renews: true,
        flaky: false,
    },
    DemoCert {
        name: "demo-api",
        lifetime: Duration::from_secs(180),
        aged: Duration::from_secs(60),
        renews: true,
        flaky: false,
    },
    DemoCert {
        name: "demo-flaky",
        lifetime: Duration::from_secs(120),
        aged: Duration::from_secs(60),
        renews: true,
        flaky: true,
    },
    DemoCert {
        name: "demo-watched",
        lifetime: Duration::from_secs(30 * 86_400),
        aged: Duration::from_secs(25 * 86_400),
        renews: false,
        flaky: false,
    },
];

fn ca_paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("demo-ca.pem"), dir.join("demo-ca.key"))
}

/// Creates the demo directory's CA and certificates; returns the config that keeps them alive.
pub fn prepare(dir: &Path, evergreen_exe: &Path, now: SystemTime) -> Result<Config> {
    ensure_private_dir(dir)?;
    let ca = Ca::new(
        "Evergreen Demo CA",
        now - Duration::from_secs(86_400 * 30),
        Duration::from_secs(86_400 * 365),
    )?;
    let (cp, kp) = ca_paths(dir);
    ca.save(&cp, &kp)?;
    let mut credentials = Vec::new();
    for c in CERTS {
        let path = dir.join(format!("{}.pem", c.name));
        write_pair(&ca, dir, c.name, now - c.aged, c.lifetime)?;
        let renew_command = c.renews.then(|| {
            let args = RenewArgs {
                dir: dir.to_path_buf(),
                name: c.name.into(),
                lifetime: c.lifetime,
                flaky: c.flaky,
            };
            CommandSpec::Argv(args.argv(evergreen_exe))
        });
        credentials.push(CredentialConfig {
            name: c.name.into(),
            enabled: true,
            policy: RenewPolicy::default(),
            jitter: None,
            kind: KIND,
            spec: Arc::new(X509FileSpec {
                path,
                renew_command,
                reload_command: None,
                command_timeout: Duration::from_secs(30),
            }),
        });
    }
    let mut engine = EngineSettings::default();
    // Short-lived demo certificates retry sooner than real ones would.
    engine.backoff.base = Duration::from_secs(10);
    engine.backoff.cap = Duration::from_secs(60);
    Ok(Config {
        engine,
        credentials,
        warnings: Vec::new(),
    })
}

/// Writes a new certificate and key for `name` as one pair: a write that
/// fails halfway (a full disk) leaves the old pair, never a new key beside
/// the old certificate.
fn write_pair(ca: &Ca, dir: &Path, name: &str, not_before: SystemTime, lifetime: Duration) -> Result<()> {
    let issued = ca.issue(&format!("{name}.demo.evergreen.invalid"), not_before, lifetime)?;
    crate::pair::Pair::new(&dir.join(format!("{name}.pem")), &dir.join(format!("{name}.key")))
        .commit(issued.cert_pem.as_bytes(), issued.key_pem.as_bytes())
}

/// The arguments of the demo's renew command: [`prepare`] writes them into
/// each demo credential's `renew_command`, and both binaries parse them
/// with this one definition.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct RenewArgs {
    /// The demo's directory.
    #[cfg_attr(feature = "clap", arg(long))]
    pub dir: PathBuf,
    /// The demo certificate to re-issue.
    #[cfg_attr(feature = "clap", arg(long))]
    pub name: String,
    /// Its lifetime, e.g. 90s.
    #[cfg_attr(feature = "clap", arg(long, value_parser = humantime::parse_duration))]
    pub lifetime: Duration,
    /// Fail every other attempt, as an unreachable CA would.
    #[cfg_attr(feature = "clap", arg(long))]
    pub flaky: bool,
}

impl RenewArgs {
    /// The command line that runs it with `exe`.
    pub fn argv(&self, exe: &Path) -> Vec<String> {
        let mut argv = vec![
            exe.display().to_string(),
            "demo-renew".into(),
            "--dir".into(),
            self.dir.display().to_string(),
            "--name".into(),
            self.name.clone(),
            "--lifetime".into(),
            format!("{}s", self.lifetime.as_secs()),
        ];
        if self.flaky {
            argv.push("--flaky".into());
        }
        argv
    }

    /// Re-issues the certificate as of `now`; the exit code to end with.
    pub fn run(&self, now: SystemTime) -> i32 {
        match reissue(&self.dir, &self.name, self.lifetime, self.flaky, now) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("{e}");
                1
            }
        }
    }
}

/// What `evergreen demo-renew` does: re-issue one demo certificate. With
/// `flaky`, every other attempt fails like an unreachable CA would.
pub fn reissue(dir: &Path, name: &str, lifetime: Duration, flaky: bool, now: SystemTime) -> Result<()> {
    if flaky {
        let counter = dir.join(format!(".{name}.attempts"));
        let n: u64 = std::fs::read_to_string(&counter)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
            + 1;
        atomic_write(&counter, n.to_string().as_bytes(), PUBLIC_FILE_MODE)?;
        if n % 2 == 1 {
            return Err(Error::Ipc(format!(
                "simulated outage: the demo CA refused attempt {n} for {name} (the next retry succeeds)"
            )));
        }
    }
    let (cp, kp) = ca_paths(dir);
    let ca = Ca::load(&cp, &kp)?;
    write_pair(&ca, dir, name, now, lifetime)
}
