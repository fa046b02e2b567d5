//! Shared helpers for the workspace integration tests.
//!
//! The tests drive the real `evergreen` binary. Cargo builds a package's
//! binaries only for that package's own tests, so `cargo build -p
//! evergreen-cli` must run before `cargo test -p evergreen-tests` (`make test`
//! does both); [`evergreen_bin`] fails with that advice when it is missing.

pub mod bao;
pub mod bus;
pub mod desktop;
pub mod env;
pub mod faketime;
pub mod kdc;
pub mod machine;
pub mod oidc;
pub mod prometheus;
pub mod rig;
pub mod ssh;
pub mod sso_oidc;
pub mod tmpfs;
pub mod tray;
pub mod webdriver;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

/// The `evergreen` binary of the target directory and profile this test was built in.
///
/// Found next to the test executable (`target/<profile>/deps/NAME-HASH` →
/// `target/<profile>/evergreen`), so `CARGO_TARGET_DIR`, `--release` and
/// `--target` all work without configuration.
pub fn evergreen_bin() -> PathBuf {
    workspace_bin("evergreen", "evergreen-cli")
}

/// The tray app binary (`evergreen-app`), found like [`evergreen_bin`].
pub fn app_bin() -> PathBuf {
    workspace_bin("evergreen-app", "evergreen-app")
}

fn workspace_bin(name: &str, package: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's own path is readable");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test executables live in target/<profile>/deps");
    let bin = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "the {name} binary is not built: {} is missing; run `cargo build -p {package}` (with the same \
         profile) before these tests, as `make test` does",
        bin.display()
    );
    bin
}

/// What a run of the binary produced.
#[derive(Debug)]
pub struct Run {
    /// The exit code; -1 when a signal killed it.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `evergreen ARGS…` to completion and checks that it did not panic.
pub fn evergreen<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = Command::new(evergreen_bin())
        .args(args)
        .output()
        .expect("the evergreen binary runs");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!run.stderr.contains("panicked"), "evergreen panicked:\n{}", run.stderr);
    run
}

/// The first line `child` prints on its (piped) stdout, within `limit`: how
/// servers that say when they are ready say it (`dbus-daemon
/// --print-address`, `Xvfb -displayfd`). `None` when it printed nothing in
/// time or ended first; the child is then killed.
pub fn first_line(child: &mut Child, limit: Duration) -> Option<String> {
    let out = child.stdout.take().expect("the child's stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    match rx.recv_timeout(limit) {
        Ok(line) if !line.is_empty() => Some(line.trim().to_string()),
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            None
        }
    }
}

/// [`evergreen`] with `input` on standard input.
pub fn evergreen_with_input<I, S>(args: I, input: &str) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    use std::io::Write;
    let mut child = Command::new(evergreen_bin())
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the evergreen binary runs");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .expect("write to evergreen");
    let out = child.wait_with_output().expect("evergreen ends");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!run.stderr.contains("panicked"), "evergreen panicked:\n{}", run.stderr);
    run
}
