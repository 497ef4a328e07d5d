//! The candle layer's error type: every variant names the file and, where there is one, the
//! row and column at fault.

use std::fmt;
use std::path::PathBuf;

/// Where in an input file a problem sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loc {
    /// 1-based line number of a text (CSV) file, counting the header line.
    Line(u64),
    /// 1-based data row of a Parquet file.
    Row(u64),
    /// 0-based index into a JSON `list` array, in the file's own order.
    ListIndex(u64),
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loc::Line(n) => write!(f, "line {n}"),
            Loc::Row(n) => write!(f, "row {n}"),
            Loc::ListIndex(i) => write!(f, "list[{i}]"),
        }
    }
}

/// What is wrong with one candle row.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// A row has a different number of fields than expected.
    #[error("expected {expected} comma-separated fields, found {found}")]
    ColumnCount {
        /// Fields the file's first row has (or the format needs).
        expected: usize,
        /// Fields this row has.
        found: usize,
    },
    /// A JSON kline entry is not an array of `[startTime, open, high, low, close, volume,
    /// …]` strings.
    #[error("expected an array of at least {expected} values [startTime, open, high, low, close, volume, …], found {found}")]
    JsonFieldCount {
        /// Values the entry needs.
        expected: usize,
        /// What the entry has (0 when it is not an array).
        found: usize,
    },
    /// A field is not a number.
    #[error("column `{column}`: {text:?} is not a valid number")]
    BadNumber {
        /// Column name.
        column: &'static str,
        /// The offending text (cut to 40 characters).
        text: String,
    },
    /// A timestamp is not after the previous row's.
    #[error("timestamp {ts_ms} ({}) is not after the previous row's {prev_ms} ({}); rows must be in strictly increasing time order", crate::time::format_iso(*ts_ms), crate::time::format_iso(*prev_ms))]
    NotIncreasing {
        /// The previous row's open time.
        prev_ms: i64,
        /// This row's open time.
        ts_ms: i64,
    },
    /// The same timestamp appears twice.
    #[error("duplicate timestamp {ts_ms} ({}), also at {other}", crate::time::format_iso(*ts_ms))]
    Duplicate {
        /// The repeated open time.
        ts_ms: i64,
        /// The other place it occurs.
        other: Loc,
    },
    /// A price or volume is NaN or infinite.
    #[error("column `{column}` is not finite ({value})")]
    NonFinite {
        /// Column name.
        column: &'static str,
        /// The value read.
        value: f64,
    },
    /// A price is zero or negative.
    #[error("column `{column}` must be > 0 (was {value})")]
    NonPositivePrice {
        /// Column name.
        column: &'static str,
        /// The value read.
        value: f64,
    },
    /// Volume is negative.
    #[error("column `volume` must be >= 0 (was {value})")]
    NegativeVolume {
        /// The value read.
        value: f64,
    },
    /// `high < max(open, close)`.
    #[error("high {high} is below max(open {open}, close {close})")]
    HighBelowBody {
        /// High price.
        high: f64,
        /// Open price.
        open: f64,
        /// Close price.
        close: f64,
    },
    /// `low > min(open, close)`.
    #[error("low {low} is above min(open {open}, close {close})")]
    LowAboveBody {
        /// Low price.
        low: f64,
        /// Open price.
        open: f64,
        /// Close price.
        close: f64,
    },
    /// A Parquet column holds a null.
    #[error("column `{column}` is null")]
    Null {
        /// Column name.
        column: &'static str,
    },
}

/// Errors from importing, reading or validating candles.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CandleError {
    /// No input files were given.
    #[error("no candle files given")]
    NoInput,
    /// The file could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A candle of the run's window has no mark-price candle at its open time.
    #[error("{}: no mark-price candle at {} (ts_ms {ts_ms}), the first of {missing} of the window's {total} candles without one{}; fetch the mark prices for the whole window (`gridsweep fetch klines SYMBOL --price mark …`) or narrow `start`/`end`", files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "), crate::time::format_iso(*ts_ms), covers.map(|(a, b)| format!(" (the mark candles cover {} .. {})", crate::time::format_iso(a), crate::time::format_iso(b))).unwrap_or_default())]
    MarkMissing {
        /// The mark-price files.
        files: Vec<PathBuf>,
        /// Open time of the first candle without a mark.
        ts_ms: i64,
        /// How many candles of the window lack one.
        missing: usize,
        /// Candles in the window.
        total: usize,
        /// First and last open time of the mark candles.
        covers: Option<(i64, i64)>,
    },
    /// The file does not exist.
    #[error("{}: no such file{}", path.display(), looked_in.as_ref().map(|d| format!(" (a relative path: looked for in {})", d.display())).unwrap_or_default())]
    NotFound {
        /// The path as given.
        path: PathBuf,
        /// For a relative path, the absolute directory it was looked up in.
        looked_in: Option<PathBuf>,
    },
    /// The file is of another kind (CSV, JSON, zip), not Parquet.
    #[error("{}: this is {what}, not a Parquet candle file; {fix}", path.display())]
    NotParquet {
        /// The file.
        path: PathBuf,
        /// What it looks like, e.g. `a CSV file`.
        what: &'static str,
        /// How to get a candle file from it.
        fix: String,
    },
    /// The file's footer or pages contradict its size or each other.
    #[error("{}: corrupt or truncated Parquet file: {detail}; re-create it (e.g. with `gridsweep import`) or copy it again", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What does not add up.
        detail: String,
    },
    /// The file was truncated or rewritten while it was being read.
    #[error("{}: the file changed while it was being read (size or modification time differ from when it was opened); wait until whatever writes it has finished, then run again (to replace a candle file safely, write a new file and rename it over the old one)", path.display())]
    Changed {
        /// The file.
        path: PathBuf,
    },
    /// The Parquet library rejected the file.
    #[cfg(feature = "parquet")]
    #[error("{}: not a readable Parquet candle file: {source}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The Parquet error.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// The JSON text is not a Bybit kline response.
    #[error("{}: {message}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// What is wrong, as a sentence.
        message: String,
    },
    /// A required Parquet column is absent.
    #[error("{}: column `{column}` is missing; a candle file needs ts_ms (Int64) and open, high, low, close, volume (Float64)", path.display())]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The missing column.
        column: &'static str,
    },
    /// A Parquet column has the wrong type.
    #[error("{}: column `{column}` has type {found}, expected {expected}", path.display())]
    ColumnType {
        /// The file.
        path: PathBuf,
        /// The column.
        column: &'static str,
        /// The type required.
        expected: &'static str,
        /// The type found.
        found: String,
    },
    /// One row is invalid.
    #[error("{}, {loc}: {problem}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Where in the file.
        loc: Loc,
        /// What is wrong.
        problem: Problem,
    },
    /// The file holds no candles.
    #[error("{}: contains no candles", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// Two input files cover overlapping times.
    #[error("{} and {} overlap: {} starts at {} but {} runs until {}; remove one or trim them", first.display(), second.display(), second.display(), crate::time::format_iso(*second_start_ms), first.display(), crate::time::format_iso(*first_end_ms))]
    Overlap {
        /// The file that starts earlier.
        first: PathBuf,
        /// The file that starts later, before `first` ends.
        second: PathBuf,
        /// Last open time in `first`.
        first_end_ms: i64,
        /// First open time in `second`.
        second_start_ms: i64,
    },
    /// Input files name different symbols.
    #[error("{} is {second_symbol} but {} is {first_symbol}; combine files of one symbol only (or pass --symbol)", second.display(), first.display())]
    SymbolMismatch {
        /// A file.
        first: PathBuf,
        /// Its symbol.
        first_symbol: String,
        /// Another file.
        second: PathBuf,
        /// Its different symbol.
        second_symbol: String,
    },
    /// Columns handed to [`crate::candles::Candles::try_new`] differ in length.
    #[error("candle columns differ in length ({detail})")]
    Ragged {
        /// The lengths seen.
        detail: String,
    },
}

impl CandleError {
    /// Builds an [`CandleError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CandleError::Io { path: path.into(), source }
    }

    /// Builds an [`CandleError::Invalid`] for `path` at `loc`.
    pub fn invalid(path: impl Into<PathBuf>, loc: Loc, problem: Problem) -> Self {
        CandleError::Invalid { path: path.into(), loc, problem }
    }
}
