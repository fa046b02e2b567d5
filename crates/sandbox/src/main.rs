//! `evergreen-sandbox`: the control plane as a process, for the demo and
//! benchmarks. Tests start the same server in-process.

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use evergreen_sandbox::{Options, Sandbox};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "A real HTTPS control plane (nixfleet, wrenn and certctl protocols) with an admin API, for Evergreen's tests and demo"
)]
struct Args {
    /// HTTPS port on 127.0.0.1 (0: any free port)
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Admin API port on 127.0.0.1, plain HTTP (0: any free port)
    #[arg(long, default_value_t = 0)]
    admin_port: u16,
    /// Lifetime of issued certificates, e.g. "10m"
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    cert_lifetime: Duration,
    /// Write the CA certificate here (clients need it as their ca_bundle)
    #[arg(long)]
    ca_out: Option<std::path::PathBuf>,
    /// Prepare DIR (CA, an SSH host key with its enrolled nixfleet
    /// certificate, a wrenn one-time token, a certctl agent and its API key)
    /// and print an Evergreen config that points at this sandbox
    #[arg(long, value_name = "DIR")]
    print_config: Option<std::path::PathBuf>,
    /// nixfleet's `--strict`: refuse (400) a request without the
    /// X-Nixfleet-Protocol header instead of serving it
    #[arg(long)]
    strict: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_writer(std::io::stderr).init();
    let args = Args::parse();
    let sb = Sandbox::start(Options {
        port: args.port,
        admin_port: args.admin_port,
        cert_lifetime: args.cert_lifetime,
    })
    .await?;
    sb.state.lock().nixfleet.strict = args.strict;
    if let Some(p) = &args.ca_out {
        std::fs::write(p, sb.ca_pem()).with_context(|| format!("writing the CA certificate to {}", p.display()))?;
    }
    if let Some(dir) = &args.print_config {
        print!("{}", evergreen_sandbox::demo_config(&sb, dir)?);
        eprintln!("evergreen-sandbox serving {} (admin {})", sb.url, sb.admin_url);
    } else {
        println!("evergreen-sandbox serving {} (admin {})", sb.url, sb.admin_url);
    }
    tokio::signal::ctrl_c().await?;
    Ok(())
}
