//! Logging: slog to a file in text or JSON lines (`{"level","msg","time"}`,
//! as engines parse runc's `--log`) when asked; to stderr (human-readable,
//! slog-term) when it is a terminal or `-l/--log_dir` redirected it; else
//! to syslog (`/dev/log`, RFC 3164), as run_oci does. `--debug` logs each
//! step (namespaces, mounts, hooks with timings).
//!
//! The logger is global ([`init`] installs it in `runoci_core::log`, where
//! `debug!` and the rest log through it): the container's child process
//! inherits it across clone(), so set-up steps in the container log to the
//! same place.

use slog::{o, Drain, Logger};
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::sync::Mutex;

pub use runoci_core::log::{
    debug_enabled, elapsed, emit_debug, emit_error, emit_warning, is_syslog, logger, timer,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// JSON lines, one object per record.
struct JsonDrain<W: Write> {
    out: Mutex<W>,
}

impl<W: Write> Drain for JsonDrain<W> {
    type Ok = ();
    type Err = slog::Never;
    fn log(&self, record: &slog::Record, _: &slog::OwnedKVList) -> Result<(), slog::Never> {
        let level = match record.level() {
            slog::Level::Critical | slog::Level::Error => "error",
            slog::Level::Warning => "warning",
            slog::Level::Info => "info",
            _ => "debug",
        };
        let line = serde_json::json!({
            "level": level,
            "msg": record.msg().to_string(),
            "time": rfc3339_now(),
        });
        if let Ok(mut w) = self.out.lock() {
            let _ = writeln!(w, "{line}");
        }
        Ok(())
    }
}

pub fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs(), now.subsec_nanos())
}

/// UTC RFC 3339 from seconds since the epoch (civil-from-days algorithm).
pub fn rfc3339(secs: u64, nanos: u32) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        nanos
    )
}

pub struct LogConfig {
    /// runc's `--log FILE`.
    pub file: Option<std::path::PathBuf>,
    pub format: LogFormat,
    pub debug: bool,
    /// run_oci's `-l/--log_dir` was given: stderr goes to its file.
    pub log_dir: bool,
}

/// Where records go when no `--log` file is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    Stderr,
    Syslog,
}

/// stderr when it is a terminal or `--log_dir` sends it to a file; syslog
/// otherwise (a service manager or script started us), as run_oci does.
pub fn default_sink(log_dir: bool, stderr_is_tty: bool) -> Sink {
    if log_dir || stderr_is_tty {
        Sink::Stderr
    } else {
        Sink::Syslog
    }
}

/// Build the logger and install it as the global one ([`logger`]). A log
/// file that cannot be opened, or a missing `/dev/log`, falls back to
/// stderr.
pub fn init(cfg: &LogConfig) -> Logger {
    let (l, syslog) = build(cfg);
    runoci_core::log::install(l.clone(), cfg.debug, syslog);
    l
}

/// The logger, and whether it writes to syslog.
fn build(cfg: &LogConfig) -> (Logger, bool) {
    let level = if cfg.debug {
        slog::Level::Debug
    } else {
        slog::Level::Warning
    };
    if let Some(path) = &cfg.file {
        if let Ok(f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let logger = match cfg.format {
                LogFormat::Json => {
                    let d = JsonDrain { out: Mutex::new(f) }.filter_level(level).fuse();
                    Logger::root(d, o!())
                }
                LogFormat::Text => {
                    let dec = slog_term::PlainSyncDecorator::new(f);
                    let d = slog_term::FullFormat::new(dec)
                        .build()
                        .filter_level(level)
                        .ignore_res();
                    Logger::root(d, o!())
                }
            };
            return (logger, false);
        }
    }
    let tty = nix::unistd::isatty(2).unwrap_or(false);
    if default_sink(cfg.log_dir, tty) == Sink::Syslog {
        if let Some(d) = SyslogDrain::connect(SYSLOG_PATH) {
            return (Logger::root(d.filter_level(level).fuse(), o!()), true);
        }
    }
    let dec = slog_term::PlainSyncDecorator::new(std::io::stderr());
    let d = slog_term::FullFormat::new(dec)
        .build()
        .filter_level(level)
        .ignore_res();
    (Logger::root(d, o!()), false)
}

/// The local syslog socket.
pub const SYSLOG_PATH: &str = "/dev/log";

/// LOG_DAEMON.
const FACILITY_DAEMON: u8 = 3;

/// RFC 3164 datagrams to a syslog socket: `<PRI>runoci[PID]: msg`.
pub struct SyslogDrain {
    sock: UnixDatagram,
}

impl SyslogDrain {
    /// Connects to `path`; `None` when there is no syslog there.
    pub fn connect(path: impl AsRef<std::path::Path>) -> Option<SyslogDrain> {
        let sock = UnixDatagram::unbound().ok()?;
        sock.connect(path).ok()?;
        Some(SyslogDrain { sock })
    }
}

/// `<PRI>runoci[PID]: msg` with PRI = facility * 8 + severity (RFC 3164;
/// the receiving syslogd adds the time stamp and host name).
pub fn syslog_line(level: slog::Level, pid: u32, msg: &str) -> String {
    let severity = match level {
        slog::Level::Critical => 2,
        slog::Level::Error => 3,
        slog::Level::Warning => 4,
        slog::Level::Info => 6,
        slog::Level::Debug | slog::Level::Trace => 7,
    };
    let pri = FACILITY_DAEMON * 8 + severity;
    format!("<{pri}>runoci[{pid}]: {msg}")
}

impl Drain for SyslogDrain {
    type Ok = ();
    type Err = slog::Never;
    fn log(&self, record: &slog::Record, _: &slog::OwnedKVList) -> Result<(), slog::Never> {
        let line = syslog_line(
            record.level(),
            std::process::id(),
            &record.msg().to_string(),
        );
        // A full or vanished syslog must not stop the runtime.
        let _ = self.sock.send(line.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_line_is_rfc3164() {
        assert_eq!(
            syslog_line(slog::Level::Error, 42, "container x: boom"),
            "<27>runoci[42]: container x: boom"
        );
        assert_eq!(syslog_line(slog::Level::Debug, 1, "m"), "<31>runoci[1]: m");
    }

    #[test]
    fn sink_choice() {
        assert_eq!(default_sink(false, true), Sink::Stderr);
        assert_eq!(default_sink(true, false), Sink::Stderr);
        assert_eq!(default_sink(false, false), Sink::Syslog);
    }

    #[test]
    fn syslog_drain_sends_datagrams() {
        let dir = std::env::temp_dir().join(format!("runoci-syslog-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("log");
        let _ = std::fs::remove_file(&path);
        let server = UnixDatagram::bind(&path).expect("bind");
        let drain = SyslogDrain::connect(&path).expect("connect");
        let log = Logger::root(drain.fuse(), o!());
        slog::warn!(log, "hello {}", 7);
        let mut buf = [0u8; 256];
        let n = server.recv(&mut buf).expect("recv");
        let got = String::from_utf8_lossy(&buf[..n]).to_string();
        assert_eq!(got, format!("<28>runoci[{}]: hello 7", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(SyslogDrain::connect(dir.join("missing")).is_none());
    }
}
