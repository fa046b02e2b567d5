//! Running as a systemd user service (`evergreen.service`, `Type=notify`):
//! READY=1 once the engine's socket answers, STOPPING=1 on the way out, and
//! WATCHDOG=1 only while the scheduler still completes its passes, so a
//! wedged engine is restarted. Logs go to the journal with their priority
//! when `JOURNAL_STREAM` says stderr is it. Outside systemd each of these
//! does nothing.

use std::io::IsTerminal as _;
use std::time::Duration;

use evergreen_core::scheduler::Handle;
use sd_notify::NotifyState;

/// Tells systemd the engine is up; the socket was bound before this.
pub fn ready(credentials: usize) {
    let status = format!(
        "keeping {credentials} credential{} renewed",
        if credentials == 1 { "" } else { "s" }
    );
    if let Err(e) = sd_notify::notify(&[NotifyState::Ready, NotifyState::Status(&status)]) {
        tracing::warn!("could not tell systemd the engine is ready: {e}");
    }
}

pub fn stopping() {
    let _ = sd_notify::notify(&[NotifyState::Stopping]);
}

/// Pings systemd's watchdog at half its interval, each time after the
/// scheduler has made a full pass: a scheduler that stops answering stops
/// the pings, and systemd restarts the service.
pub async fn watchdog(handle: Handle) {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return;
    };
    let every = (interval / 2).max(Duration::from_millis(100));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match tokio::time::timeout(every, handle.settle()).await {
            Ok(Ok(())) => {
                let _ = sd_notify::notify(&[NotifyState::Watchdog]);
            }
            Ok(Err(_)) => return,
            Err(_) => {
                tracing::error!("the scheduler did not answer within {every:?}; systemd's watchdog is not pinged")
            }
        }
    }
}

/// How the engine's log is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStyle {
    /// A terminal: colour, unless `NO_COLOR` is set.
    Terminal { colour: bool },
    /// A file or pipe: plain text, no escape codes.
    Plain,
    /// journald's stream: a `<N>` priority prefix per line and no time (the
    /// journal keeps both itself).
    Journal,
}

impl LogStyle {
    pub fn of_stderr() -> LogStyle {
        let stderr = std::io::stderr();
        let journal = std::env::var("JOURNAL_STREAM").ok();
        let stat = std::fs::metadata("/proc/self/fd/2").ok();
        LogStyle::choose(
            journal.as_deref(),
            stat.as_ref().map(|m| {
                use std::os::unix::fs::MetadataExt as _;
                (m.dev(), m.ino())
            }),
            stderr.is_terminal(),
            std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        )
    }

    /// `journal_stream` is `JOURNAL_STREAM` ("DEVICE:INODE"), which counts
    /// only while stderr is still that stream (not redirected since).
    pub fn choose(
        journal_stream: Option<&str>,
        stderr: Option<(u64, u64)>,
        terminal: bool,
        no_colour: bool,
    ) -> LogStyle {
        let journal = journal_stream
            .and_then(|v| v.split_once(':'))
            .and_then(|(d, i)| Some((d.parse::<u64>().ok()?, i.parse::<u64>().ok()?)));
        if journal.is_some() && journal == stderr {
            LogStyle::Journal
        } else if terminal {
            LogStyle::Terminal { colour: !no_colour }
        } else {
            LogStyle::Plain
        }
    }
}

/// The syslog priority prefix journald reads off each line (sd-daemon(3)).
pub struct JournalLine;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for JournalLine
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut w: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let priority = match *event.metadata().level() {
            tracing::Level::ERROR => 3,
            tracing::Level::WARN => 4,
            tracing::Level::INFO => 6,
            _ => 7,
        };
        write!(w, "<{priority}>")?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_is_used_only_while_stderr_is_still_its_stream() {
        let stream = Some((64, 1234));
        assert_eq!(
            LogStyle::choose(Some("64:1234"), stream, false, false),
            LogStyle::Journal
        );
        // Redirected since systemd started it (`evergreen run 2>file`).
        assert_eq!(
            LogStyle::choose(Some("64:1234"), Some((64, 99)), false, false),
            LogStyle::Plain
        );
        assert_eq!(
            LogStyle::choose(Some("nonsense"), stream, true, false),
            LogStyle::Terminal { colour: true }
        );
        assert_eq!(
            LogStyle::choose(None, stream, true, true),
            LogStyle::Terminal { colour: false }
        );
        assert_eq!(LogStyle::choose(None, stream, false, false), LogStyle::Plain);
    }
}
