//! Standard output that a reader may stop reading (`evergreen status |
//! head -1`): a one-shot command ends quietly, as one killed by SIGPIPE
//! would, instead of panicking; the engine (`evergreen run`) stops printing
//! and goes on renewing.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether standard output has gone (its reader closed it).
static GONE: AtomicBool = AtomicBool::new(false);

/// One line, for a command that ends when nobody reads it any more.
pub fn line(args: std::fmt::Arguments<'_>) {
    if !try_line(args) {
        std::process::exit(crate::exit::FINE);
    }
}

/// One line, unless standard output has gone; whether it was written. The
/// first failure is logged once; later lines are dropped without a word.
pub fn try_line(args: std::fmt::Arguments<'_>) -> bool {
    if GONE.load(Ordering::Relaxed) {
        return false;
    }
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{args}").and_then(|_| out.flush()) {
        Ok(()) => true,
        Err(e) => {
            GONE.store(true, Ordering::Relaxed);
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                tracing::warn!("standard output cannot be written any more ({e}); events are no longer printed");
            }
            false
        }
    }
}

/// `println!` for one-shot commands: see [`line`].
macro_rules! say {
    () => { $crate::out::line(format_args!("")) };
    ($($arg:tt)*) => { $crate::out::line(format_args!($($arg)*)) };
}

/// `println!` for the engine's own output: see [`try_line`].
macro_rules! tell {
    ($($arg:tt)*) => {{
        let _ = $crate::out::try_line(format_args!($($arg)*));
    }};
}

pub(crate) use {say, tell};
