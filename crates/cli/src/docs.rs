//! Shell completions and man pages, generated from the same clap
//! definitions that parse the command line, so they cannot drift from it.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use clap_complete::Shell;

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    shell: Shell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Where to write evergreen.1 and one page per command (evergreen-status.1, …).
    dir: PathBuf,
}

pub fn completions(args: &CompletionsArgs) -> anyhow::Result<i32> {
    let mut cmd = crate::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "evergreen", &mut script);
    crate::out::say!("{}", String::from_utf8_lossy(&script).trim_end());
    Ok(crate::exit::FINE)
}

pub fn man(args: &ManArgs) -> anyhow::Result<i32> {
    std::fs::create_dir_all(&args.dir).with_context(|| format!("cannot create {}", args.dir.display()))?;
    let cmd = crate::command();
    clap_mangen::generate_to(cmd, &args.dir)
        .with_context(|| format!("cannot write man pages into {}", args.dir.display()))?;
    Ok(crate::exit::FINE)
}
