//! The global logger and what logs through it: [`debug!`](crate::debug),
//! warnings, errors, step timings. Where records go (file, stderr, syslog)
//! is `runoci::log`'s choice; it installs the logger with [`install`].
//!
//! The logger is global: the container's child
//! process inherits it across clone(), so set-up steps in the container
//! log to the same place. [`debug!`](crate::debug) costs one relaxed atomic
//! load when debug is off: its arguments are not formatted.

use slog::{o, Logger};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

static LOGGER: OnceLock<Logger> = OnceLock::new();
static DEBUG: AtomicBool = AtomicBool::new(false);
static SYSLOG: AtomicBool = AtomicBool::new(false);

/// Whether the global logger writes to syslog (then errors printed on
/// stderr should be logged too: nobody may be reading stderr).
pub fn is_syslog() -> bool {
    SYSLOG.load(Ordering::Relaxed)
}

/// Whether `--debug` is on (the hot-path check of [`debug!`](crate::debug)).
#[inline]
pub fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

/// The global logger ([`init`]'s); one that discards before `init`.
pub fn logger() -> &'static Logger {
    LOGGER.get_or_init(|| Logger::root(slog::Discard, o!()))
}

/// Log a debug record (use [`debug!`](crate::debug), which checks first).
pub fn emit_debug(args: std::fmt::Arguments) {
    slog::debug!(logger(), "{}", args);
}

/// Log a warning.
pub fn emit_warning(args: std::fmt::Arguments) {
    slog::warn!(logger(), "{}", args);
}

/// Log an error.
pub fn emit_error(args: std::fmt::Arguments) {
    slog::error!(logger(), "{}", args);
}

/// `debug!("mount {} on {}", a, b)`: formatted and logged only with `--debug`.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => {
        if $crate::log::debug_enabled() {
            $crate::log::emit_debug(format_args!($($arg)*));
        }
    };
}

/// A start time for a step, only when debug is on (no clock read otherwise).
#[inline]
pub fn timer() -> Option<Instant> {
    debug_enabled().then(Instant::now)
}

/// `" in 1.234ms"` for a [`timer`], or nothing.
pub fn elapsed(t: Option<Instant>) -> String {
    match t {
        Some(t) => format!(" in {:.3}ms", t.elapsed().as_secs_f64() * 1e3),
        None => String::new(),
    }
}

/// Install `logger` as the global one (the first call wins); `debug` turns
/// on [`debug!`](crate::debug), `syslog` says records go to syslog.
pub fn install(logger: Logger, debug: bool, syslog: bool) {
    if syslog {
        SYSLOG.store(true, Ordering::Relaxed);
    }
    DEBUG.store(debug, Ordering::Relaxed);
    let _ = LOGGER.set(logger);
}
