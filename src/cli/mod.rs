//! Command-line interface: argument definitions and dispatch.

/// Prints one line on stderr like `eprintln!`, but a closed or full stderr is ignored
/// instead of panicking (`gridsweep sweep … 2>&1 | head -1` must not crash the sweep).
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod backtest_cmd;
pub mod fetch_cmd;
pub mod import_cmd;
pub mod report_cmd;
pub mod show_cmd;
pub mod sweep_cmd;
pub mod tiers_cmd;
pub mod validate_cmd;
pub mod walk_forward_out;

use std::path::Path;

use gridsweep::output::check_format;
use gridsweep::output::guard::{Kind, Output};

/// The files `backtest` and `show` write (`--trades`, `--equity`, `--report`) for
/// [`guard::check`](gridsweep::output::guard::check), the trades and equity formats checked
/// first.
///
/// # Errors
/// A `--trades` or `--equity` path that is neither `.csv` nor `.parquet`.
pub(crate) fn run_outputs<'a>(
    trades: Option<&'a Path>,
    equity: Option<&'a Path>,
    report: Option<&'a Path>,
) -> anyhow::Result<Vec<Output<'a>>> {
    let mut outputs = Vec::new();
    for (flag, path, kind) in
        [("--trades", trades, Kind::Trades), ("--equity", equity, Kind::Equity)]
    {
        if let Some(path) = path {
            check_format(path)?;
            outputs.push(Output { flag, path, kind });
        }
    }
    if let Some(path) = report {
        outputs.push(Output { flag: "--report", path, kind: Kind::Report });
    }
    Ok(outputs)
}

/// Writes `log` records to stderr as `level: message` (`warning:` for warnings).
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            let text = cli_wording(&r.args().to_string()).into_owned();
            // `warning:` like the CLI's own warnings (log's name for the level is `WARN`).
            let level = match r.level() {
                log::Level::Warn => "warning".to_string(),
                l => l.as_str().to_ascii_lowercase(),
            };
            errln!("{level}: {text}");
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

/// Origin wording (kept verbatim by the library for parity) that means nothing on the command
/// line, and what the CLI says instead.
const CLI_WORDING: &[(&str, &str)] = &[
    (
        "Provide a BybitRestClient for live data.",
        "Pass --base-url URL (or --testnet) to fetch live tiers, or run `gridsweep tiers \
         refresh SYMBOL` to fill the cache.",
    ),
    (
        "connect a BybitRestClient to fetch current tiers.",
        "run `gridsweep tiers refresh SYMBOL` (or pass --base-url URL) to fetch current tiers.",
    ),
    (" in feature 0028", ""),
];

/// `message` in the CLI's language: origin references (`BybitRestClient`, feature numbers)
/// replaced by the options and commands a user can act on.
pub fn cli_wording(message: &str) -> std::borrow::Cow<'_, str> {
    let mut out = std::borrow::Cow::Borrowed(message);
    for (from, to) in CLI_WORDING {
        if out.contains(from) {
            out = std::borrow::Cow::Owned(out.replace(from, to));
        }
    }
    out
}

/// The text `main` prints for a fatal error: the error and its causes joined by `: `, each
/// cause left out when the text before it already says it (errors that display their
/// source and also return it from `source()` would otherwise repeat it).
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
    }
    cli_wording(&text).into_owned()
}

/// Stdout for a command's results. When the reader has gone away (`| head -1`), the rest of
/// the output is dropped and the command ends as it would have (same files written, same
/// exit status) instead of panicking; other write errors are returned.
pub fn stdout() -> Stdout {
    Stdout { inner: std::io::stdout().lock(), closed: false }
}

/// See [`stdout()`].
#[derive(Debug)]
pub struct Stdout {
    inner: std::io::StdoutLock<'static>,
    closed: bool,
}

impl std::io::Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        match self.inner.write(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(buf.len())
            }
            other => other,
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        match self.inner.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

/// True when a closed stdout (`| head`) is anywhere in `e`'s chain: the command then ends
/// quietly, like any Unix filter whose reader went away.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot write out.csv: {source}")]
    struct Wraps {
        source: std::io::Error,
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::from_raw_os_error(28);
        let io_text = io.to_string();
        let e = anyhow::Error::new(Wraps { source: io }).context("backtest failed");
        let text = error_text(&e);
        assert_eq!(text, format!("backtest failed: cannot write out.csv: {io_text}"));
        assert_eq!(text.matches("os error 28").count(), 1, "{text}");
        // A cause that adds something is kept.
        let e = anyhow::anyhow!("disk full").context("cannot save");
        assert_eq!(error_text(&e), "cannot save: disk full");
    }

    #[test]
    fn origin_wording_becomes_cli_wording() {
        let t = cli_wording("No rest_client configured. Provide a BybitRestClient for live data.");
        assert!(!t.contains("BybitRestClient") && t.contains("--base-url"), "{t}");
        let t = cli_wording(
            "'long_koef' was renamed to 'early_imbalance_multiplier' in feature 0028; rename it",
        );
        assert!(!t.contains("0028"), "{t}");
    }

    #[test]
    fn broken_pipe_is_found_anywhere_in_the_chain() {
        let e = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            .context("cannot print");
        assert!(is_broken_pipe(&e));
        assert!(!is_broken_pipe(&anyhow::anyhow!("x")));
    }
}
