//! Command-line interface: argument definitions and dispatch.

pub mod backtest_cmd;
pub mod import_cmd;
pub mod sweep_cmd;
pub mod tiers_cmd;

/// Writes `log` records to stderr as `level: message`.
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            eprintln!("{}: {}", r.level().as_str().to_ascii_lowercase(), r.args());
        }
    }
    fn flush(&self) {}
}

static LOGGER: StderrLogger = StderrLogger;

/// Sends library log messages to stderr; level from `GRIDSWEEP_LOG` (error, warn, info,
/// debug, trace; default warn).
pub fn init_logging() {
    let level = std::env::var("GRIDSWEEP_LOG")
        .ok()
        .and_then(|v| v.parse::<log::LevelFilter>().ok())
        .unwrap_or(log::LevelFilter::Warn);
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}
