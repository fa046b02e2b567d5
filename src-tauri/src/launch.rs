//! Opens the window from the tray process: `evergreen-app --window
//! --attached`, a child process that lives only while its window is open.
//!
//! The tray talks to it over the child's stdin: a line `show` (or `show
//! NAME`, to open one credential) brings the window forward; the end of stdin
//! (the tray quit) closes it. Closing the window ends the child, and with it
//! WebKit and all the memory a webview holds.

use std::io::Write;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::Mutex;

use tauri::{AppHandle, Manager};

/// The open window's process, if any: its number (so a late exit of an old
/// one does not forget a new one) and the pipe to it.
#[derive(Default)]
pub(crate) struct WindowProcess(Mutex<Option<(u32, ChildStdin)>>);

/// Shows the window, starting its process if none is running, and
/// optionally one credential.
pub(crate) fn open(app: &AppHandle, credential: Option<String>) {
    let state = app.state::<WindowProcess>();
    let mut slot = state.0.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, stdin)) = slot.as_mut() {
        let line = format!("show {}\n", credential.as_deref().unwrap_or_default());
        if stdin.write_all(line.as_bytes()).and_then(|()| stdin.flush()).is_ok() {
            return;
        }
        // It was closing just now; start a new one.
        *slot = None;
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            tracing::error!("could not open the window: cannot find this program: {e}");
            return;
        }
    };
    let mut cmd = Command::new(exe);
    cmd.args(["--window", "--attached"]).stdin(Stdio::piped());
    if let Some(name) = &credential {
        cmd.args(["--show", name]);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("could not open the window: {e}");
            return;
        }
    };
    let pid = child.id();
    let Some(stdin) = child.stdin.take() else { return };
    *slot = Some((pid, stdin));
    let app = app.clone();
    // Reaps the child when the window closes, so no zombie stays behind.
    std::thread::spawn(move || {
        let _ = child.wait();
        let state = app.state::<WindowProcess>();
        let mut slot = state.0.lock().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().is_some_and(|(p, _)| *p == pid) {
            *slot = None;
        }
    });
}

/// Closes the window's process (its stdin ends), as the tray quits.
pub(crate) fn close(app: &AppHandle) {
    if let Some(state) = app.try_state::<WindowProcess>() {
        state.0.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}
