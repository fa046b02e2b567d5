//! Running a credential's renew and reload commands.
//!
//! Any tool that can renew a certificate (`step ca renew`, `certbot renew`, a
//! site script) can be Evergreen's renewer. Commands run without a shell by
//! default, with a timeout, with `EVERGREEN_CREDENTIAL` and
//! `EVERGREEN_CERT_PATH` set, and the tail of stderr is kept for the UI.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use crate::config::CommandSpec;

/// How much of stderr is kept.
pub const STDERR_TAIL_BYTES: usize = 2048;

/// What happened when a command ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    pub success: bool,
    /// "exited with status 1", "timed out after 2m", "could not start: …".
    pub summary: String,
    pub stderr_tail: Option<String>,
}

/// Runs the reload command after a successful renewal, if there is one.
/// Returns the note for the renewal's result: empty when all went well.
pub async fn reload(spec: Option<&CommandSpec>, name: &str, cert_path: &Path, timeout: Duration) -> String {
    let Some(spec) = spec else { return String::new() };
    let r = run(spec, name, cert_path, timeout).await;
    if r.success {
        return String::new();
    }
    let mut note = format!("but the reload command failed: {}", r.summary);
    if let Some(t) = r.stderr_tail {
        note.push_str(&format!(" ({})", t.lines().last().unwrap_or_default()));
    }
    note
}

/// Runs `spec` for credential `name`, killing it after `timeout`.
pub async fn run(spec: &CommandSpec, name: &str, cert_path: &Path, timeout: Duration) -> CommandOutcome {
    let argv = spec.argv();
    let program = &argv[0];
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(&argv[1..])
        .env("EVERGREEN_CREDENTIAL", name)
        .env("EVERGREEN_CERT_PATH", cert_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let hint = if e.kind() == std::io::ErrorKind::NotFound {
                "; is it installed and on PATH?"
            } else {
                ""
            };
            return CommandOutcome {
                success: false,
                summary: format!("could not start `{program}`: {e}{hint}"),
                stderr_tail: None,
            };
        }
    };
    let mut stderr = child.stderr.take();
    let read_stderr = async move {
        let mut buf = Vec::new();
        if let Some(s) = stderr.as_mut() {
            // Read everything (so the child never blocks on a full pipe) but keep only the tail.
            let mut chunk = [0u8; 4096];
            loop {
                match s.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        buf.extend_from_slice(&chunk[..n]);
                        if buf.len() > STDERR_TAIL_BYTES * 2 {
                            buf.drain(..buf.len() - STDERR_TAIL_BYTES);
                        }
                    }
                }
            }
        }
        buf
    };
    let waited = tokio::time::timeout(timeout, async { tokio::join!(child.wait(), read_stderr) }).await;
    match waited {
        Ok((status, buf)) => {
            let tail = tail_text(&buf);
            match status {
                Ok(s) if s.success() => CommandOutcome {
                    success: true,
                    summary: "exited 0".into(),
                    stderr_tail: tail,
                },
                Ok(s) => CommandOutcome {
                    success: false,
                    summary: match s.code() {
                        Some(c) => format!("`{program}` exited with status {c}"),
                        None => format!("`{program}` was killed by a signal"),
                    },
                    stderr_tail: tail,
                },
                Err(e) => CommandOutcome {
                    success: false,
                    summary: format!("waiting for `{program}` failed: {e}"),
                    stderr_tail: tail,
                },
            }
        }
        Err(_) => {
            let _ = child.kill().await;
            CommandOutcome {
                success: false,
                summary: format!(
                    "`{program}` timed out after {}; raise command_timeout if it needs longer",
                    crate::clock::short_duration(timeout)
                ),
                stderr_tail: None,
            }
        }
    }
}

fn tail_text(buf: &[u8]) -> Option<String> {
    let start = buf.len().saturating_sub(STDERR_TAIL_BYTES);
    let s = String::from_utf8_lossy(&buf[start..]).trim().to_string();
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(s: &str) -> CommandSpec {
        CommandSpec::Shell(s.into())
    }

    #[tokio::test]
    async fn success_failure_env_and_stderr_tail() {
        let p = Path::new("/tmp/x.pem");
        let ok = run(
            &sh("test \"$EVERGREEN_CREDENTIAL\" = web && test \"$EVERGREEN_CERT_PATH\" = /tmp/x.pem"),
            "web",
            p,
            Duration::from_secs(10),
        )
        .await;
        assert!(ok.success, "{ok:?}");
        let bad = run(&sh("echo boom >&2; exit 3"), "web", p, Duration::from_secs(10)).await;
        assert!(!bad.success);
        assert!(bad.summary.contains("status 3"), "{bad:?}");
        assert_eq!(bad.stderr_tail.as_deref(), Some("boom"));
    }

    #[tokio::test]
    async fn stderr_keeps_only_the_tail() {
        let out = run(
            &sh("i=0; while [ $i -lt 2000 ]; do echo line$i >&2; i=$((i+1)); done; exit 1"),
            "x",
            Path::new("/x"),
            Duration::from_secs(20),
        )
        .await;
        let tail = out.stderr_tail.unwrap();
        assert!(tail.len() <= STDERR_TAIL_BYTES);
        assert!(tail.ends_with("line1999"), "{tail}");
    }

    // Paused time: the runtime jumps straight to the timeout instead of waiting it out.
    #[tokio::test(start_paused = true)]
    async fn missing_program_and_timeout_are_named() {
        let out = run(
            &CommandSpec::Argv(vec!["evergreen-no-such-program".into()]),
            "x",
            Path::new("/x"),
            Duration::from_secs(5),
        )
        .await;
        assert!(
            !out.success && out.summary.contains("evergreen-no-such-program") && out.summary.contains("PATH"),
            "{out:?}"
        );
        let out = run(
            &CommandSpec::Argv(vec!["sleep".into(), "30".into()]),
            "x",
            Path::new("/x"),
            Duration::from_secs(120),
        )
        .await;
        assert!(!out.success && out.summary.contains("timed out"), "{out:?}");
    }
}
