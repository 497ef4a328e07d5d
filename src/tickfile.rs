//! Tick-stream CSV (`exchange_ts,last_price`, ISO-8601 UTC), as in the parity fixture.
//!
//! `exchange_ts` holds ISO-8601 UTC times or integer epoch **milliseconds**. Integers that
//! only make sense as epoch seconds (below 1e11, i.e. before 1973-03-03 as milliseconds)
//! or microseconds (1e14 and above, after the year 5138) are refused rather than misread;
//! a file of epoch seconds names its column `exchange_ts_s` instead.

use std::path::{Path, PathBuf};

use crate::engine::Tick;
use crate::time::{format_iso, nonexistent_day, parse_iso};

/// Integer `exchange_ts` values below this are refused as probable epoch seconds
/// (1e11 ms is 1973-03-03; 1e11 s is the year 5138).
pub const MIN_EPOCH_MS: i64 = 100_000_000_000;
/// Integer `exchange_ts` values from this on are refused as probable epoch microseconds
/// (1e14 ms is the year 5138).
pub const MAX_EPOCH_MS: i64 = 100_000_000_000_000;

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
    /// The file has a header but no tick lines.
    #[error(
        "no ticks in {path}: the file has a header but no data lines; add lines \
         `exchange_ts,last_price` (e.g. `2025-01-01T00:00:00,100000.0`)"
    )]
    Empty {
        /// File path.
        path: PathBuf,
    },
}

/// Reads ticks from a CSV with header `exchange_ts,last_price` (more columns are ignored);
/// a column `exchange_ts_s` in place of `exchange_ts` holds epoch seconds.
///
/// # Errors
/// [`TickFileError`] naming the file and line of the first problem: missing header
/// columns, bad timestamp (including epoch seconds or microseconds in a milliseconds
/// column), non-positive price, time going backwards, or no tick lines at all.
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
    let ms_col = cols.iter().position(|c| *c == "exchange_ts");
    let s_col = cols.iter().position(|c| *c == "exchange_ts_s");
    let px_col = cols.iter().position(|c| *c == "last_price");
    let (ts_col, seconds) = match (ms_col, s_col) {
        (Some(_), Some(_)) => {
            return Err(bad(
                1,
                "header names both exchange_ts and exchange_ts_s; keep one time column".into(),
            ))
        }
        (Some(c), None) => (Some(c), false),
        (None, Some(c)) => (Some(c), true),
        (None, None) => (None, false),
    };
    let (Some(ts_col), Some(px_col)) = (ts_col, px_col) else {
        return Err(bad(
            1,
            format!(
                "header must name exchange_ts (or exchange_ts_s for epoch seconds) and \
                 last_price (found {header:?})"
            ),
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
            Ok(v) if seconds => v
                .checked_mul(1000)
                .filter(|ms| (0..MAX_EPOCH_MS).contains(ms))
                .ok_or_else(|| {
                    bad(n, format!("exchange_ts_s {v} is not a plausible epoch time in seconds"))
                })?,
            Ok(v) => epoch_ms(v).map_err(|why| bad(n, why))?,
            Err(_) => parse_iso(ts).ok_or_else(|| {
                let why = nonexistent_day(ts).map_or(String::new(), |w| format!(": {w}"));
                bad(n, format!("bad timestamp {ts:?} (ISO-8601 UTC or epoch ms){why}"))
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
    if out.is_empty() {
        return Err(TickFileError::Empty { path: path.to_path_buf() });
    }
    Ok(out)
}

/// An integer `exchange_ts` as epoch ms, refusing values that are plausibly seconds or µs.
fn epoch_ms(v: i64) -> Result<i64, String> {
    if v < MIN_EPOCH_MS {
        let hint = v
            .checked_mul(1000)
            .map_or(String::new(), |ms| format!(" ({} as seconds)", format_iso(ms)));
        return Err(format!(
            "exchange_ts {v} is {} as epoch milliseconds; it looks like epoch seconds{hint}: \
             write milliseconds ({v}000), ISO-8601 UTC, or name the column exchange_ts_s",
            format_iso(v)
        ));
    }
    if v >= MAX_EPOCH_MS {
        return Err(format!(
            "exchange_ts {v} is after the year 5138 as epoch milliseconds; it looks like epoch \
             microseconds: divide by 1000 or write ISO-8601 UTC"
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("gridsweep-tickfile-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn err(name: &str, text: &str) -> String {
        read_ticks_csv(&file(name, text)).unwrap_err().to_string()
    }

    #[test]
    fn epoch_seconds_in_the_ms_column_are_refused() {
        // Regression: 1735689600 (2025-01-01 in seconds) was read as 1970-01-21T02:08:09.600.
        let e = err("s.csv", "exchange_ts,last_price\n1735689600,100\n1735689660,101\n");
        assert!(e.contains("s.csv:2"), "{e}");
        assert!(e.contains("exchange_ts 1735689600 is 1970-01-21T02:08:09.600"), "{e}");
        assert!(e.contains("epoch seconds (2025-01-01T00:00:00 as seconds)"), "{e}");
        assert!(e.contains("exchange_ts_s"), "{e}");
        // Microseconds (2025-01-01 in µs) are refused too.
        let e = err("us.csv", "exchange_ts,last_price\n1735689600000000,100\n");
        assert!(e.contains("us.csv:2") && e.contains("microseconds"), "{e}");
        // The smallest accepted ms value is 1e11 (1973-03-03T09:46:40).
        let t =
            read_ticks_csv(&file("edge.csv", "exchange_ts,last_price\n100000000000,1\n")).unwrap();
        assert_eq!(t[0].ts_ms, 100_000_000_000);
        assert!(err("edge2.csv", "exchange_ts,last_price\n99999999999,1\n").contains("seconds"));
    }

    #[test]
    fn a_seconds_column_is_read_as_seconds() {
        let p = file("sec.csv", "exchange_ts_s,last_price\n1735689600,100\n1735689660,101.5\n");
        let t = read_ticks_csv(&p).unwrap();
        // 2025-01-01T00:00:00Z = 1 735 689 600 s; one minute later = +60 000 ms.
        assert_eq!(
            t.iter().map(|t| t.ts_ms).collect::<Vec<_>>(),
            [1_735_689_600_000, 1_735_689_660_000]
        );
        assert_eq!(t[1].price, 101.5);
        let e = err("both.csv", "exchange_ts,exchange_ts_s,last_price\n1,1,1\n");
        assert!(e.contains("both.csv:1") && e.contains("keep one"), "{e}");
    }

    #[test]
    fn epoch_ms_and_iso_still_read() {
        let p =
            file("ms.csv", "exchange_ts,last_price\n1735689600000,100\n2025-01-01T00:01:00Z,99\n");
        let t = read_ticks_csv(&p).unwrap();
        assert_eq!(
            t.iter().map(|t| t.ts_ms).collect::<Vec<_>>(),
            [1_735_689_600_000, 1_735_689_660_000]
        );
    }

    #[test]
    fn a_header_only_file_is_refused() {
        // Regression: a file with only its header was a successful backtest of no ticks.
        let e = err("h.csv", "exchange_ts,last_price\n");
        assert!(e.starts_with("no ticks in ") && e.contains("h.csv"), "{e}");
        let e = err("h2.csv", "exchange_ts,last_price\n\n  \n");
        assert!(e.starts_with("no ticks in "), "{e}");
    }

    #[test]
    fn a_nonexistent_day_is_named() {
        let e = err("d.csv", "exchange_ts,last_price\n2026-02-30T00:00:00,1\n");
        assert!(e.contains("d.csv:2") && e.contains("day 30 does not exist in 2026-02"), "{e}");
    }
}
