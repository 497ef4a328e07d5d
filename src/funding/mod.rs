//! Funding-rate series: the event list a backtest charges funding from, its Parquet file
//! format, and importers for exchange dumps ([`import`]).
//!
//! A series is a list of `(ts_ms, rate)` settlement events, strictly ascending in time, every
//! rate finite with `|rate| < 1` (Bybit caps linear rates at about ±0.00375 per interval; a
//! rate of 1 or more is surely a percent or unit mistake). The file format
//! (`write_funding_parquet`/`read_funding_parquet`, `parquet` feature) has two non-null
//! columns `ts_ms` Int64 and `rate` Float64 and key-value metadata `gridsweep.kind = funding`,
//! `gridsweep.source`, `gridsweep.rows`, `gridsweep.first_ts_ms`, `gridsweep.last_ts_ms` plus
//! whatever provenance the writer adds (`gridsweep.symbol`, `gridsweep.endpoint`, …). Whether
//! the events cover a backtest's candle window is the config's business, not this module's.

use std::path::{Path, PathBuf};

use crate::time::format_iso;

pub mod import;

/// Metadata key naming the kind of a gridsweep file (`funding` for funding files).
pub const META_KIND: &str = "gridsweep.kind";
/// The [`META_KIND`] value of a funding file.
pub const KIND_FUNDING: &str = "funding";
/// Column names of a funding file, in order.
pub const FUNDING_COLUMNS: [&str; 2] = ["ts_ms", "rate"];
/// Largest |rate| accepted (exclusive).
pub const MAX_ABS_RATE: f64 = 1.0;

/// A funding-rate series: settlement events `(ts_ms, rate)` and where they came from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FundingSeries {
    /// `(settlement time in UTC epoch ms, rate as a fraction: 0.0001 = 0.01 %)`, ascending.
    pub events: Vec<(i64, f64)>,
    /// Free text: where the events came from (format and file names, or the endpoint).
    pub source: String,
}

/// Why a funding series or file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FundingError {
    /// The file cannot be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The Parquet layer failed.
    #[error("{}: {message}; is it a funding file written by `gridsweep import` or `gridsweep fetch funding`?", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The Parquet error's text.
        message: String,
    },
    /// The file is not a funding file (missing column, wrong type).
    #[error("{}: not a funding file: {why}; make one with `gridsweep import --out FILE.parquet FUNDING.csv` or `gridsweep fetch funding`", path.display())]
    NotFunding {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The footer claims more than the file can hold.
    #[error("{}: corrupt funding file: {detail}; fetch or import it again", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Which claim does not add up.
        detail: String,
    },
    /// No events at all.
    #[error("{}: no funding events; a funding file needs at least one (check the window and the symbol it was made for)", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// An event is earlier than the one before it.
    #[error(
        "{}: row {row} at {} UTC ({ts_ms} ms) is earlier than row {} at {} UTC ({prev_ms} ms); \
         funding events must be sorted by time: re-import the file with `gridsweep import`, \
         which sorts",
        path.display(), format_iso(*ts_ms), row - 1, format_iso(*prev_ms)
    )]
    Unsorted {
        /// The file.
        path: PathBuf,
        /// 1-based row.
        row: usize,
        /// The previous row's time.
        prev_ms: i64,
        /// This row's time.
        ts_ms: i64,
    },
    /// Two events at one time.
    #[error(
        "{}: rows {} and {row} are both at {} UTC ({ts_ms} ms); keep one funding event per \
         settlement time",
        path.display(), row - 1, format_iso(*ts_ms)
    )]
    Duplicate {
        /// The file.
        path: PathBuf,
        /// 1-based row of the second one.
        row: usize,
        /// The time.
        ts_ms: i64,
    },
    /// A rate that is NaN or infinite.
    #[error("{}: row {row} at {} UTC has rate {rate}, not a finite number; fix or drop that row", path.display(), format_iso(*ts_ms))]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// 1-based row.
        row: usize,
        /// The time.
        ts_ms: i64,
        /// The rate.
        rate: f64,
    },
    /// A rate of 1 (100 %) or more per interval.
    #[error(
        "{}: row {row} at {} UTC has rate {rate}, i.e. {}% per interval; rates are fractions \
         (0.0001 = 0.01 %) and Bybit caps them near ±0.00375: if the file holds percents, \
         divide by 100",
        path.display(), format_iso(*ts_ms), rate * 100.0
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// 1-based row.
        row: usize,
        /// The time.
        ts_ms: i64,
        /// The rate.
        rate: f64,
    },
    /// A malformed row or value in an input dump.
    #[error("{}, {loc}: {reason}", path.display())]
    Invalid {
        /// The input file.
        path: PathBuf,
        /// Where: `line 3`, `list[2]`, `line 5, field last_funding_rate`.
        loc: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// Two inputs give different rates for one settlement time.
    #[error(
        "funding at {} UTC ({ts_ms} ms) is {rate_a} in {} ({loc_a}) but {rate_b} in {} \
         ({loc_b}); the inputs disagree: drop one of them",
        format_iso(*ts_ms), path_a.display(), path_b.display()
    )]
    Conflict {
        /// The time.
        ts_ms: i64,
        /// The first input.
        path_a: PathBuf,
        /// Where in it.
        loc_a: String,
        /// Its rate.
        rate_a: f64,
        /// The second input.
        path_b: PathBuf,
        /// Where in it.
        loc_b: String,
        /// Its rate.
        rate_b: f64,
    },
    /// Inputs naming different symbols.
    #[error("{} is {a} but {} is {b}; import one symbol at a time, or pass --symbol to say which it is", path_a.display(), path_b.display())]
    SymbolMismatch {
        /// One input.
        path_a: PathBuf,
        /// Its symbol.
        a: String,
        /// Another input.
        path_b: PathBuf,
        /// Its symbol.
        b: String,
    },
}

impl FundingError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        FundingError::Io { path: path.into(), source }
    }
}

impl FundingSeries {
    /// Checks the series: at least one event, strictly ascending times, finite rates with
    /// `|rate| < 1`. `path` names the file in messages; rows are 1-based.
    ///
    /// # Errors
    /// [`FundingError::Empty`], [`FundingError::Unsorted`], [`FundingError::Duplicate`],
    /// [`FundingError::NonFinite`] or [`FundingError::TooLarge`] for the first bad row.
    pub fn validate(&self, path: &Path) -> Result<(), FundingError> {
        let path = || path.to_path_buf();
        if self.events.is_empty() {
            return Err(FundingError::Empty { path: path() });
        }
        for (i, &(ts_ms, rate)) in self.events.iter().enumerate() {
            let row = i + 1;
            if i > 0 {
                let prev_ms = self.events[i - 1].0;
                if ts_ms == prev_ms {
                    return Err(FundingError::Duplicate { path: path(), row, ts_ms });
                }
                if ts_ms < prev_ms {
                    return Err(FundingError::Unsorted { path: path(), row, prev_ms, ts_ms });
                }
            }
            if !rate.is_finite() {
                return Err(FundingError::NonFinite { path: path(), row, ts_ms, rate });
            }
            if rate.abs() >= MAX_ABS_RATE {
                return Err(FundingError::TooLarge { path: path(), row, ts_ms, rate });
            }
        }
        Ok(())
    }

    /// First and last event times, if any.
    pub fn span(&self) -> Option<(i64, i64)> {
        Some((self.events.first()?.0, self.events.last()?.0))
    }
}

#[cfg(feature = "parquet")]
mod parquet_file;
#[cfg(feature = "parquet")]
pub use parquet_file::{read_funding_parquet, read_funding_symbol, write_funding_parquet};

#[cfg(test)]
mod tests {
    use super::*;

    fn s(events: &[(i64, f64)]) -> FundingSeries {
        FundingSeries { events: events.to_vec(), source: "test".into() }
    }

    #[test]
    fn test_validate_names_rows_and_times() {
        let p = Path::new("f.parquet");
        assert!(s(&[(0, 0.0001), (28_800_000, -0.0002)]).validate(p).is_ok());
        let e = s(&[]).validate(p).unwrap_err();
        assert!(matches!(e, FundingError::Empty { .. }), "{e}");
        let e = s(&[(28_800_000, 0.0), (0, 0.0)]).validate(p).unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.parquet: row 2 at 1970-01-01T00:00:00 UTC (0 ms) is earlier than row 1 at \
             1970-01-01T08:00:00 UTC (28800000 ms); funding events must be sorted by time: \
             re-import the file with `gridsweep import`, which sorts"
        );
        let e = s(&[(0, 0.0), (0, 0.0)]).validate(p).unwrap_err();
        assert!(e.to_string().contains("rows 1 and 2 are both at 1970-01-01T00:00:00 UTC"), "{e}");
        let e = s(&[(0, f64::NAN)]).validate(p).unwrap_err();
        assert!(matches!(e, FundingError::NonFinite { row: 1, .. }), "{e}");
        let e = s(&[(0, 0.0), (1, -1.0)]).validate(p).unwrap_err();
        assert!(matches!(e, FundingError::TooLarge { row: 2, .. }), "{e}");
        assert!(e.to_string().contains("divide by 100"), "{e}");
        assert!(s(&[(0, 0.99)]).validate(p).is_ok());
    }
}
