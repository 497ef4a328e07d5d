//! Tick-stream CSV (`exchange_ts,last_price`, ISO-8601 UTC), as in the parity fixture.

use std::path::{Path, PathBuf};

use crate::engine::Tick;
use crate::time::parse_iso;

/// Why a tick file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TickFileError {
    /// The file could not be read.
    #[error("cannot read tick file {path}: {source}")]
    Io {
        /// File path.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A line is malformed.
    #[error("{path}:{line}: {reason}")]
    Line {
        /// File path.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Reads ticks from a CSV with header `exchange_ts,last_price` (more columns are ignored).
///
/// # Errors
/// [`TickFileError`] naming the file and line of the first problem: missing header
/// columns, bad timestamp, non-positive price, time going backwards.
pub fn read_ticks_csv(path: &Path) -> Result<Vec<Tick>, TickFileError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| TickFileError::Io { path: path.to_path_buf(), source })?;
    let bad = |line: usize, reason: String| TickFileError::Line {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, h)| h).unwrap_or("");
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let ts_col = cols.iter().position(|c| *c == "exchange_ts");
    let px_col = cols.iter().position(|c| *c == "last_price");
    let (Some(ts_col), Some(px_col)) = (ts_col, px_col) else {
        return Err(bad(
            1,
            format!("header must name exchange_ts and last_price (found {header:?})"),
        ));
    };
    let mut out = Vec::new();
    let mut prev = i64::MIN;
    for (i, line) in lines {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let (Some(ts), Some(px)) = (f.get(ts_col), f.get(px_col)) else {
            return Err(bad(n, format!("expected {} columns, found {}", cols.len(), f.len())));
        };
        let ts_ms = match ts.parse::<i64>() {
            Ok(v) => v,
            Err(_) => parse_iso(ts).ok_or_else(|| {
                bad(n, format!("bad timestamp {ts:?} (ISO-8601 UTC or epoch ms)"))
            })?,
        };
        let price: f64 = px.parse().map_err(|_| bad(n, format!("bad price {px:?}")))?;
        if !(price.is_finite() && price > 0.0) {
            return Err(bad(n, format!("price must be finite and > 0 (was {px})")));
        }
        if ts_ms < prev {
            return Err(bad(n, format!("timestamp {ts} is earlier than the previous line")));
        }
        prev = ts_ms;
        out.push(Tick { ts_ms, price });
    }
    Ok(out)
}
