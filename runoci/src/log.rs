//! Logging: slog to stderr (human-readable, slog-term) by default; to a
//! file in text or JSON lines (`{"level","msg","time"}`, as engines parse
//! runc's `--log`) when asked; `--debug` for step detail.

use slog::{o, Drain, Logger};
use std::io::Write;
use std::sync::Mutex;

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
    pub file: Option<std::path::PathBuf>,
    pub format: LogFormat,
    pub debug: bool,
}

/// Build the logger. A log file that cannot be opened falls back to stderr.
pub fn init(cfg: &LogConfig) -> Logger {
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
            return match cfg.format {
                LogFormat::Json => {
                    let d = JsonDrain { out: Mutex::new(f) }.filter_level(level).fuse();
                    Logger::root(d, o!())
                }
                LogFormat::Text => {
                    let dec = slog_term::PlainSyncDecorator::new(f);
                    let d = slog_term::FullFormat::new(dec)
                        .build()
                        .filter_level(level)
                        .fuse();
                    Logger::root(d, o!())
                }
            };
        }
    }
    let dec = slog_term::PlainSyncDecorator::new(std::io::stderr());
    let d = slog_term::FullFormat::new(dec)
        .build()
        .filter_level(level)
        .fuse();
    Logger::root(d, o!())
}
