//! `evergreen metrics`: the running engine's Prometheus series, once, for
//! node-exporter's textfile collector (or a look by eye).

use std::io::Write as _;
use std::path::PathBuf;

use clap::Args;
use evergreen_core::ipc::{Reply, Request};
use evergreen_core::paths::Paths;

use super::{ask, unexpected};
use crate::exit;

#[derive(Args, Debug)]
pub struct MetricsArgs {
    /// Write them to this file instead of printing them, atomically (a
    /// collector never reads half a file): e.g. node-exporter's
    /// `--collector.textfile.directory`, as `evergreen.prom`.
    #[arg(long, value_name = "FILE")]
    textfile: Option<PathBuf>,
}

pub fn metrics(args: &MetricsArgs, paths: &Paths) -> anyhow::Result<i32> {
    let text = match ask(paths, Request::Metrics)? {
        Reply::Metrics { text } => text,
        other => return Err(unexpected(other)),
    };
    match &args.textfile {
        Some(file) => {
            if file.extension().is_none_or(|e| e != "prom") {
                anyhow::bail!(
                    "{}: node-exporter's textfile collector reads only files ending in .prom; name it e.g. evergreen.prom",
                    file.display()
                );
            }
            // Readable by the collector, which seldom runs as this user.
            evergreen_core::fsutil::atomic_write(file, text.as_bytes(), 0o644)?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            // A reader that stopped early (`| head`) is no error.
            if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    return Err(e.into());
                }
            }
        }
    }
    Ok(exit::FINE)
}
