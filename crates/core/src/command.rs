//! Running a credential's renew and reload commands.
//!
//! Any tool that can renew a certificate (`step ca renew`, `certbot renew`, a
//! site script) can be Evergreen's renewer. Commands run without a shell by
//! default, with a timeout, with `EVERGREEN_CREDENTIAL` and
//! `EVERGREEN_CERT_PATH` set, and the tail of stderr is kept for the UI.
//!
//! A command is contained: it runs in a process group of its own, and when
//! it outlives its timeout the whole group gets SIGTERM, then SIGKILL after
//! [`KILL_GRACE`], so nothing it started keeps running. The timeout measures
//! the command's own exit, not the closing of its stderr (a background
//! grandchild may hold that open). The variables Evergreen reads secrets
//! from (a Vault token's `token_env`, certctl's `api_key_env`) are removed
//! from its environment: a renew script never sees a token it was not given.

use std::path::Path;
use std::process::Stdio;
use std::sync::PoisonError;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use crate::config::CommandSpec;

/// How much of stderr is kept.
pub const STDERR_TAIL_BYTES: usize = 2048;

/// How long a timed-out command's group has between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// How long stderr is still read after the command exited (what a
/// background grandchild writes later is not the command's).
const STDERR_AFTER_EXIT: Duration = Duration::from_millis(500);

/// What happened when a command ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    pub success: bool,
    /// "exited with status 1", "timed out after 2m", "could not start: …".
    pub summary: String,
    pub stderr_tail: Option<String>,
    /// The head of what it printed, when [`Extra::stdout`] asked for it.
    pub stdout: Vec<u8>,
}

/// Runs the reload command after a successful renewal, if there is one.
/// Returns the note for the renewal's result: empty when all went well.
pub async fn reload(
    spec: Option<&CommandSpec>,
    name: &str,
    cert_path: &Path,
    timeout: Duration,
    withheld: &[String],
) -> String {
    let Some(spec) = spec else { return String::new() };
    let r = run(spec, name, cert_path, timeout, withheld).await;
    if r.success {
        return String::new();
    }
    let mut note = format!("but the reload command failed: {}", r.summary);
    if let Some(t) = r.stderr_tail {
        note.push_str(&format!(" ({})", t.lines().last().unwrap_or_default()));
    }
    note
}

/// What systemd hands the service's main process only.
const SERVICE_ENV: [&str; 6] = [
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "JOURNAL_STREAM",
    "LISTEN_FDS",
    "LISTEN_PID",
];

/// Runs `spec` for credential `name`, killing it after `timeout`. The
/// variables in `withheld` (the ones the config reads secrets from) are
/// not passed on.
/// What a renew command that worked left behind.
#[derive(Debug)]
pub struct Ran {
    pub stderr_tail: Option<String>,
    /// The file's bytes differ from before the command: two renewals within
    /// a second share one expiry, so the bytes, not the expiry, tell.
    pub changed: bool,
}

/// Runs a credential's renew command, which writes `path`: a failure names
/// the command's last words; success says whether the file changed.
pub async fn renew_file(
    spec: &CommandSpec,
    name: &str,
    path: &Path,
    timeout: Duration,
    withheld: &[String],
) -> Result<Ran, crate::sources::Failure> {
    let before = std::fs::read(path).ok();
    let out = run(spec, name, path, timeout, withheld).await;
    if !out.success {
        let reason = out
            .stderr_tail
            .as_deref()
            .and_then(|t| t.lines().last())
            .map(|l| format!(": {l}"))
            .unwrap_or_default();
        return Err(crate::sources::Failure {
            class: crate::sources::FailureClass::Transient,
            message: format!("renew command failed: {}{reason}", out.summary),
            stderr_tail: out.stderr_tail,
        });
    }
    Ok(Ran {
        changed: before.is_none() || std::fs::read(path).ok() != before,
        stderr_tail: out.stderr_tail,
    })
}

pub async fn run(
    spec: &CommandSpec,
    name: &str,
    cert_path: &Path,
    timeout: Duration,
    withheld: &[String],
) -> CommandOutcome {
    run_with(spec, name, cert_path, timeout, withheld, &Extra::default()).await
}

/// What a command Evergreen runs for itself (`kinit`) gets beyond a user's
/// command: variables of its own, and standard input (a password typed for
/// it, written once and closed; never kept).
#[derive(Default)]
pub struct Extra<'a> {
    pub env: &'a [(&'a str, &'a std::ffi::OsStr)],
    pub stdin: Option<&'a [u8]>,
    /// Keep what it prints (at most [`STDOUT_MAX`] bytes; the rest is read
    /// and dropped, so a chatty command never blocks on a full pipe).
    pub stdout: bool,
}

/// How much of a command's output is kept when it is asked for.
pub const STDOUT_MAX: usize = 256 * 1024;

/// [`run`], with [`Extra`].
pub async fn run_with(
    spec: &CommandSpec,
    name: &str,
    cert_path: &Path,
    timeout: Duration,
    withheld: &[String],
    extra: &Extra<'_>,
) -> CommandOutcome {
    let argv = spec.argv();
    let program = &argv[0];
    let mut cmd = tokio::process::Command::new(program);
    for secret in withheld {
        cmd.env_remove(secret);
    }
    // Addressed to the engine by systemd, not to what it runs: a command
    // would speak for the service, and its stderr is our pipe, not the journal.
    for ours in SERVICE_ENV {
        cmd.env_remove(ours);
    }
    for (k, v) in extra.env {
        cmd.env(k, v);
    }
    cmd.args(&argv[1..])
        .env("EVERGREEN_CREDENTIAL", name)
        .env("EVERGREEN_CERT_PATH", cert_path)
        .stdin(if extra.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(if extra.stdout { Stdio::piped() } else { Stdio::null() })
        .stderr(Stdio::piped())
        .process_group(0)
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
                stdout: Vec::new(),
            };
        }
    };
    if let (Some(input), Some(mut pipe)) = (extra.stdin, child.stdin.take()) {
        use tokio::io::AsyncWriteExt;
        // A command that exits without reading it closes the pipe: fine.
        let _ = pipe.write_all(input).await;
        drop(pipe);
    }
    let group = child.id().and_then(|id| rustix::process::Pid::from_raw(id as i32));
    let tail_buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = tokio::spawn(read_all(child.stderr.take(), tail_buf.clone(), tail));
    let head_buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let out_reader = tokio::spawn(read_all(child.stdout.take(), head_buf.clone(), head));
    let Ok(status) = tokio::time::timeout(timeout, child.wait()).await else {
        stop_group(&mut child, group).await;
        return CommandOutcome {
            success: false,
            summary: format!(
                "`{program}` timed out after {}; raise command_timeout if it needs longer",
                crate::clock::short_duration(timeout)
            ),
            stderr_tail: None,
            stdout: Vec::new(),
        };
    };
    // What it wrote before exiting; a grandchild still holding the pipe
    // does not make the command wait.
    let _ = tokio::time::timeout(STDERR_AFTER_EXIT, reader).await;
    let _ = tokio::time::timeout(STDERR_AFTER_EXIT, out_reader).await;
    let stdout = std::mem::take(&mut *head_buf.lock().unwrap_or_else(PoisonError::into_inner));
    let stderr_tail = tail_text(&tail_buf.lock().unwrap_or_else(PoisonError::into_inner));
    let (success, summary) = match status {
        Ok(s) if s.success() => (true, "exited 0".to_string()),
        Ok(s) => match s.code() {
            Some(c) => (false, format!("`{program}` exited with status {c}")),
            None => (false, format!("`{program}` was killed by a signal")),
        },
        Err(e) => (false, format!("waiting for `{program}` failed: {e}")),
    };
    CommandOutcome {
        success,
        summary,
        stderr_tail,
        stdout,
    }
}

/// Reads all of a pipe (so the child never blocks on a full one), keeping
/// what `keep` adds of each chunk.
async fn read_all<R: tokio::io::AsyncRead + Unpin>(
    pipe: Option<R>,
    kept: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    keep: fn(&mut Vec<u8>, &[u8]),
) {
    let Some(mut s) = pipe else { return };
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => keep(&mut kept.lock().unwrap_or_else(PoisonError::into_inner), &chunk[..n]),
        }
    }
}

/// Keeps the tail of stderr.
fn tail(buf: &mut Vec<u8>, chunk: &[u8]) {
    buf.extend_from_slice(chunk);
    if buf.len() > STDERR_TAIL_BYTES * 2 {
        let cut = buf.len() - STDERR_TAIL_BYTES;
        buf.drain(..cut);
    }
}

/// Keeps the first [`STDOUT_MAX`] bytes of stdout.
fn head(buf: &mut Vec<u8>, chunk: &[u8]) {
    let room = STDOUT_MAX.saturating_sub(buf.len()).min(chunk.len());
    buf.extend_from_slice(&chunk[..room]);
}

/// Ends a command that ran out of time: the whole group, politely first,
/// so a script's children go too.
async fn stop_group(child: &mut tokio::process::Child, group: Option<rustix::process::Pid>) {
    if let Some(pg) = group {
        let _ = rustix::process::kill_process_group(pg, rustix::process::Signal::TERM);
    }
    if tokio::time::timeout(KILL_GRACE, child.wait()).await.is_err() {
        let _ = child.kill().await;
    }
    if let Some(pg) = group {
        let _ = rustix::process::kill_process_group(pg, rustix::process::Signal::KILL);
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
            &[],
        )
        .await;
        assert!(ok.success, "{ok:?}");
        let bad = run(&sh("echo boom >&2; exit 3"), "web", p, Duration::from_secs(10), &[]).await;
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
            &[],
        )
        .await;
        let tail = out.stderr_tail.unwrap();
        assert!(tail.len() <= STDERR_TAIL_BYTES);
        assert!(tail.ends_with("line1999"), "{tail}");
    }

    /// Whether `pid` still runs (a zombie waiting to be reaped does not).
    fn running(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit(')').next().map(|r| r.trim_start().starts_with('Z')))
            .is_some_and(|zombie| !zombie)
    }

    #[tokio::test]
    async fn a_timed_out_command_takes_everything_it_started_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        let script = format!(
            "echo $$ > {p}; sleep 300 & echo $! >> {p}; sleep 300",
            p = pids.display()
        );
        let out = run(&sh(&script), "x", Path::new("/x"), Duration::from_secs(1), &[]).await;
        assert!(!out.success && out.summary.contains("timed out"), "{out:?}");
        let pids: Vec<u32> = std::fs::read_to_string(&pids)
            .unwrap()
            .lines()
            .map(|l| l.trim().parse().unwrap())
            .collect();
        assert_eq!(pids.len(), 2);
        // Signals are delivered at once but acted on when the process runs next.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while pids.iter().any(|p| running(*p)) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        for pid in pids {
            assert!(!running(pid), "process {pid} of the timed-out command still runs");
        }
    }

    #[tokio::test]
    async fn a_command_that_exits_is_done_though_a_grandchild_holds_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let pid = dir.path().join("pid");
        let script = format!("echo started >&2; sleep 300 & echo $! > {}; exit 0", pid.display());
        let out = run(&sh(&script), "x", Path::new("/x"), Duration::from_secs(5), &[]).await;
        let left: u32 = std::fs::read_to_string(&pid).unwrap().trim().parse().unwrap();
        let _ = std::process::Command::new("kill").arg(left.to_string()).status();
        assert!(out.success, "{out:?}");
        assert_eq!(out.stderr_tail.as_deref(), Some("started"));
    }

    #[tokio::test]
    async fn the_variables_secrets_come_from_are_not_passed_on() {
        // HOME stands in for a token_env variable: it is set in any test run.
        let withheld = ["HOME".to_string()];
        let out = run(
            &sh("test -z \"$HOME\""),
            "x",
            Path::new("/x"),
            Duration::from_secs(10),
            &withheld,
        )
        .await;
        assert!(out.success, "the command saw a secret variable: {out:?}");
        let again = run(
            &sh("test -n \"$HOME\""),
            "x",
            Path::new("/x"),
            Duration::from_secs(10),
            &[],
        )
        .await;
        assert!(again.success, "{again:?}");
    }

    #[tokio::test]
    async fn an_argv_reaches_its_program_word_for_word_with_no_shell_between() {
        let dir = tempfile::tempdir().unwrap();
        let odd = "a;b $(touch pwned) `touch pwned2` *";
        let spec = CommandSpec::Argv(vec!["touch".into(), dir.path().join(odd).display().to_string()]);
        let out = run(&spec, "x", Path::new("/x"), Duration::from_secs(10), &[]).await;
        assert!(out.success, "{out:?}");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [odd], "one file, named exactly as given");
    }

    // Paused time: the runtime jumps straight to the timeout instead of waiting it out.
    #[tokio::test(start_paused = true)]
    async fn missing_program_and_timeout_are_named() {
        let out = run(
            &CommandSpec::Argv(vec!["evergreen-no-such-program".into()]),
            "x",
            Path::new("/x"),
            Duration::from_secs(5),
            &[],
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
            &[],
        )
        .await;
        assert!(!out.success && out.summary.contains("timed out"), "{out:?}");
    }
}
