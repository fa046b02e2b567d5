//! One meaning per exit status, the same for every command, so scripts and
//! monitoring can tell "look at this" from "this did not work" from "nothing
//! is running". Each command's `--help` and the man page print [`HELP`].

use evergreen_core::Error;

/// Everything is fine.
pub const FINE: i32 = 0;
/// It worked, and something needs attention: a credential failing, expired
/// or stopped, or a renewal that failed.
pub const ATTENTION: i32 = 1;
/// It did not work: bad arguments, an unreadable file or config, a request
/// the engine refused.
pub const ERROR: i32 = 2;
/// No engine is running (or another one holds the socket).
pub const NO_ENGINE: i32 = 3;

pub const HELP: &str = "\
Exit status:
  0  fine
  1  attention needed: a credential is failing, expired or stopped, or a renewal failed
  2  error: bad arguments, an unreadable file or config, or a request the engine refused
  3  no engine is running (start one with `evergreen run`), or another engine holds the socket";

/// The exit status an error ends the command with.
pub fn of(e: &anyhow::Error) -> i32 {
    match e.downcast_ref::<Error>() {
        Some(Error::NotRunning { .. } | Error::AlreadyRunning { .. }) => NO_ENGINE,
        _ => ERROR,
    }
}
