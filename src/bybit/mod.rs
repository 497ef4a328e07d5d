//! Bybit public market data (`net` feature): 1-minute klines (last and mark price), funding
//! history and instrument info, fetched page by page with a rate limiter, retries and
//! resume (docs/data.md).
//!
//! - [`client`]: one GET with limiter, timeout, backoff, `retCode` handling.
//! - [`envelope`]: the v5 response envelope, shared with the tier client.
//! - [`klines`], [`funding`], [`instrument`]: request windows, page parsing and validation.
//! - [`job`]: a whole fetch into a file, resumable from `<out>.fetch/`.

use std::path::PathBuf;
use std::time::Duration;

use crate::time::format_iso;

pub mod client;
pub mod envelope;
pub mod funding;
pub mod instrument;
#[cfg(feature = "parquet")]
pub mod job;
pub mod klines;

pub use client::{FetchConfig, MarketClient};

/// The current time, UTC epoch ms (the wall clock; tests pass their own `now`).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// One request window `[start_ms, end_ms)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window {
    /// First millisecond covered.
    pub start_ms: i64,
    /// First millisecond not covered.
    pub end_ms: i64,
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} .. {} UTC", format_iso(self.start_ms), format_iso(self.end_ms))
    }
}

/// Splits `[start, end)` into windows of `len_ms` aligned on `start`: window `i` covers
/// `[start + i·len, min(start + (i+1)·len, end))`, the same windows on every rerun.
pub fn windows(start_ms: i64, end_ms: i64, len_ms: i64) -> Vec<Window> {
    let len_ms = len_ms.max(1);
    let mut out = Vec::new();
    let mut a = start_ms;
    while a < end_ms {
        let b = a.saturating_add(len_ms).min(end_ms);
        out.push(Window { start_ms: a, end_ms: b });
        a = b;
    }
    out
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// No answer within the timeout (after retries).
    #[error("GET {url}: no answer within {timeout:?} (after retries); check the network or raise the timeout")]
    Timeout {
        /// The request.
        url: String,
        /// The per-request limit.
        timeout: Duration,
    },
    /// A transport error (DNS, connection refused, TLS).
    #[error("GET {url}: {message}")]
    Network {
        /// The request.
        url: String,
        /// The transport's message.
        message: String,
    },
    /// A non-2xx answer.
    #[error("GET {url}: HTTP {status}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    HttpStatus {
        /// The request.
        url: String,
        /// HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// A non-zero `retCode`.
    #[error("GET {url}: Bybit answered retCode {code} ({msg:?}){}", if *code == 10001 { "; 10001 is Bybit's parameter error, which it also gives for a symbol it does not list as a linear perpetual: check the symbol" } else { "" })]
    Api {
        /// The request.
        url: String,
        /// `retCode`.
        code: i64,
        /// `retMsg`.
        msg: String,
    },
    /// An answer that is not the documented envelope.
    #[error("GET {url}: unexpected answer: {reason}")]
    Malformed {
        /// The request.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A row of a page that is malformed or breaks a candle/funding rule.
    #[error("{at}: list[{index}] {field}: {reason}")]
    BadRow {
        /// The request: endpoint, window and query, e.g. `/v5/market/kline window
        /// 2026-02-01T00:00:00 .. 2026-02-01T16:40:00 UTC (category=linear&…)`.
        at: String,
        /// 0-based index in the page's `list`.
        index: usize,
        /// The field (`startTime`, `open`, …, or `row`).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// Bybit knows no such symbol, or has nothing for it in the window.
    #[error("{0}")]
    NoData(String),
    /// A bad command-line window.
    #[error("{0}")]
    BadWindow(String),
    /// A `<out>.fetch/` directory of another command.
    #[error(
        "{} holds a fetch of {found}, not of {wanted}: finish that one with its own command, \
         or delete the directory to start over",
        dir.display()
    )]
    OtherJob {
        /// The resume directory.
        dir: PathBuf,
        /// What it holds.
        found: String,
        /// What this command fetches.
        wanted: String,
    },
    /// Stopped by Ctrl-C between pages.
    #[error("interrupted after {saved} of {total} window(s); they are saved in {}", dir.display())]
    Interrupted {
        /// Windows saved so far.
        saved: usize,
        /// Windows in all.
        total: usize,
        /// Where.
        dir: PathBuf,
    },
    /// A file error.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The final file could not be written or is invalid.
    #[error("{0}")]
    Output(String),
}

/// The `at` of a [`FetchError::BadRow`]: endpoint, window and query.
pub fn request_at(endpoint: &str, w: Window, query: &str) -> String {
    format!("{endpoint} window {w} ({query})")
}

impl FetchError {
    /// An I/O error while doing `what` on `path`.
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        FetchError::Io { what, path: path.into(), source }
    }
}

/// Checks a command-line window: `start < end`, `start` before `now`, both whole minutes.
///
/// # Errors
/// [`FetchError::BadWindow`] saying what to change.
pub fn check_window(start_ms: i64, end_ms: i64, now_ms: i64) -> Result<(), FetchError> {
    let bad = |m: String| Err(FetchError::BadWindow(m));
    if start_ms >= end_ms {
        return bad(format!(
            "--start {} is not before --end {}: the window is [start, end); give an end after \
             the start",
            format_iso(start_ms),
            format_iso(end_ms)
        ));
    }
    if start_ms >= now_ms {
        return bad(format!(
            "--start {} is in the future (now is {} UTC): nothing to fetch yet",
            format_iso(start_ms),
            format_iso(now_ms)
        ));
    }
    for (flag, t) in [("--start", start_ms), ("--end", end_ms)] {
        if t.rem_euclid(60_000) != 0 {
            return bad(format!(
                "{flag} {} is not a whole minute; 1-minute candles start on whole minutes",
                format_iso(t)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_windows_are_aligned_on_start_and_cover_the_range() {
        let w = windows(0, 2500, 1000);
        assert_eq!(
            w,
            vec![
                Window { start_ms: 0, end_ms: 1000 },
                Window { start_ms: 1000, end_ms: 2000 },
                Window { start_ms: 2000, end_ms: 2500 }
            ]
        );
        assert!(windows(5, 5, 10).is_empty());
    }

    #[test]
    fn test_check_window() {
        assert!(check_window(0, 60_000, 120_000).is_ok());
        assert!(check_window(60_000, 60_000, 120_000).is_err());
        let e = check_window(180_000, 240_000, 120_000).unwrap_err();
        assert!(e.to_string().contains("in the future"), "{e}");
        assert!(check_window(1, 60_000, 120_000).is_err());
    }
}
