//! [`Candles`]: owned, validated candle columns, decoded once and shared read-only by every
//! run (`Arc<Candles>`), with time-window slicing and a content fingerprint.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use super::error::{CandleError, Loc};
use super::validate::{self, GapReport};
use super::{CandleSlice, MarkSlice};

/// Owned struct-of-arrays candles: equal-length columns, `ts_ms` strictly increasing, every
/// row passing [`validate::check_row`].
#[derive(Debug, Default)]
pub struct Candles {
    ts_ms: Vec<i64>,
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
    symbol: Option<String>,
    mark: Option<Box<MarkColumns>>,
    fingerprint: OnceLock<String>,
}

/// Mark-price OHLC columns aligned row by row with a [`Candles`]' rows.
#[derive(Debug, Default)]
struct MarkColumns {
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
}

/// The six columns of a candle table, owned, not yet validated.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Columns {
    /// Open time, UTC epoch milliseconds.
    pub ts_ms: Vec<i64>,
    /// Open prices.
    pub open: Vec<f64>,
    /// High prices.
    pub high: Vec<f64>,
    /// Low prices.
    pub low: Vec<f64>,
    /// Close prices.
    pub close: Vec<f64>,
    /// Volumes (base currency).
    pub volume: Vec<f64>,
}

impl Columns {
    /// Empty columns with room for `n` rows.
    pub fn with_capacity(n: usize) -> Self {
        Columns {
            ts_ms: Vec::with_capacity(n),
            open: Vec::with_capacity(n),
            high: Vec::with_capacity(n),
            low: Vec::with_capacity(n),
            close: Vec::with_capacity(n),
            volume: Vec::with_capacity(n),
        }
    }

    /// Number of rows (length of `ts_ms`).
    pub fn len(&self) -> usize {
        self.ts_ms.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.ts_ms.is_empty()
    }

    /// Appends one row.
    #[inline]
    pub fn push(&mut self, ts_ms: i64, open: f64, high: f64, low: f64, close: f64, volume: f64) {
        self.ts_ms.push(ts_ms);
        self.open.push(open);
        self.high.push(high);
        self.low.push(low);
        self.close.push(close);
        self.volume.push(volume);
    }

    /// Appends all rows of `other`.
    pub fn append(&mut self, other: &Columns) {
        self.ts_ms.extend_from_slice(&other.ts_ms);
        self.open.extend_from_slice(&other.open);
        self.high.extend_from_slice(&other.high);
        self.low.extend_from_slice(&other.low);
        self.close.extend_from_slice(&other.close);
        self.volume.extend_from_slice(&other.volume);
    }

    fn lengths(&self) -> [usize; 6] {
        [
            self.ts_ms.len(),
            self.open.len(),
            self.high.len(),
            self.low.len(),
            self.close.len(),
            self.volume.len(),
        ]
    }

    /// Branch-free check of every row rule and of strictly increasing times, over chunks of
    /// rows in parallel; `true` when [`Columns::validate`] will find nothing.
    fn all_rows_valid(&self) -> bool {
        use rayon::prelude::*;
        const CHUNK: usize = 1 << 16;
        let n = self.len();
        (0..n.div_ceil(CHUNK)).into_par_iter().all(|c| {
            let (a, b) = (c * CHUNK, ((c + 1) * CHUNK).min(n));
            let mut ok = true;
            for i in a..b {
                let (o, h, l, cl, v) =
                    (self.open[i], self.high[i], self.low[i], self.close[i], self.volume[i]);
                ok &= (o > 0.0)
                    & (cl > 0.0)
                    & (l > 0.0)
                    & (h < f64::INFINITY)
                    & (0.0..f64::INFINITY).contains(&v)
                    & (h >= o.max(cl))
                    & (l <= o.min(cl));
            }
            for i in a.max(1)..b {
                ok &= self.ts_ms[i] > self.ts_ms[i - 1];
            }
            ok
        })
    }

    /// Checks equal lengths, strict time order and every row's prices, naming `path` and the
    /// location `loc(i)` of 0-based row `i` on failure.
    ///
    /// # Errors
    /// [`CandleError::Ragged`] or the first [`CandleError::Invalid`] row.
    pub fn validate(&self, path: &Path, loc: impl Fn(usize) -> Loc) -> Result<(), CandleError> {
        let lens = self.lengths();
        if lens.iter().any(|&l| l != lens[0]) {
            return Err(CandleError::Ragged { detail: format!("{lens:?}") });
        }
        if self.all_rows_valid() {
            return Ok(());
        }
        // Something is wrong: find the first problem, row by row, for an exact message.
        for i in 0..self.len() {
            if let Err(problem) = validate::check_row(
                self.open[i],
                self.high[i],
                self.low[i],
                self.close[i],
                self.volume[i],
            ) {
                return Err(CandleError::invalid(path, loc(i), problem));
            }
        }
        if let Some((i, mut problem)) = validate::check_order(&self.ts_ms) {
            if let super::error::Problem::Duplicate { other, .. } = &mut problem {
                *other = loc(i - 1);
            }
            return Err(CandleError::invalid(path, loc(i), problem));
        }
        Ok(())
    }
}

impl Candles {
    /// Validates `cols` (see [`Columns::validate`]) and takes ownership of them.
    ///
    /// # Errors
    /// The first invalid row, reported against `path` with 1-based [`Loc::Row`] numbers.
    pub fn try_new(
        cols: Columns,
        symbol: Option<String>,
        path: &Path,
    ) -> Result<Candles, CandleError> {
        cols.validate(path, |i| Loc::Row(i as u64 + 1))?;
        Ok(Candles::from_validated(cols, symbol))
    }

    /// Wraps columns the caller has already validated.
    pub(crate) fn from_validated(cols: Columns, symbol: Option<String>) -> Candles {
        let Columns { ts_ms, open, high, low, close, volume } = cols;
        Candles {
            ts_ms,
            open,
            high,
            low,
            close,
            volume,
            symbol,
            mark: None,
            fingerprint: OnceLock::new(),
        }
    }

    /// These candles restricted to `[start_ms, end_ms)` with the mark-price path of `mark`
    /// (candles of the mark price, e.g. from `gridsweep fetch klines --price mark`) attached
    /// row by row by open time; `files` names the mark files in errors. Mark candles at
    /// times without a candle are not used.
    ///
    /// # Errors
    /// [`CandleError::MarkMissing`] naming the first candle of the window without a mark
    /// candle and how many lack one.
    pub fn with_mark(
        self,
        mark: &Candles,
        start_ms: Option<i64>,
        end_ms: Option<i64>,
        files: &[PathBuf],
    ) -> Result<Candles, CandleError> {
        let lo = start_ms.map_or(0, |s| self.ts_ms.partition_point(|&t| t < s));
        let hi = end_ms.map_or(self.len(), |e| self.ts_ms.partition_point(|&t| t < e)).max(lo);
        let mut cols = MarkColumns::default();
        let (mut j, mut missing, mut first_missing) = (0, 0usize, None);
        for &t in &self.ts_ms[lo..hi] {
            j += mark.ts_ms[j..].partition_point(|&m| m < t);
            if mark.ts_ms.get(j) == Some(&t) {
                cols.open.push(mark.open[j]);
                cols.high.push(mark.high[j]);
                cols.low.push(mark.low[j]);
                cols.close.push(mark.close[j]);
            } else {
                missing += 1;
                first_missing.get_or_insert(t);
            }
        }
        if let Some(ts_ms) = first_missing {
            return Err(CandleError::MarkMissing {
                files: files.to_vec(),
                ts_ms,
                missing,
                total: hi - lo,
                covers: mark.first_ts_ms().zip(mark.last_ts_ms()),
            });
        }
        let Candles { ts_ms, open, high, low, close, volume, symbol, .. } = self;
        Ok(Candles {
            ts_ms: ts_ms[lo..hi].to_vec(),
            open: open[lo..hi].to_vec(),
            high: high[lo..hi].to_vec(),
            low: low[lo..hi].to_vec(),
            close: close[lo..hi].to_vec(),
            volume: volume[lo..hi].to_vec(),
            symbol,
            mark: Some(Box::new(cols)),
            fingerprint: OnceLock::new(),
        })
    }

    /// True when a mark-price path is attached ([`Candles::with_mark`]).
    pub fn has_mark(&self) -> bool {
        self.mark.is_some()
    }

    /// Opens and concatenates Parquet candle files (see [`super::parquet_io::read_parquet`]),
    /// in time order whatever the argument order.
    ///
    /// # Errors
    /// Any file's read or validation error; [`CandleError::Overlap`] when two files share a
    /// time range; [`CandleError::SymbolMismatch`] when their symbols differ;
    /// [`CandleError::NoInput`] for an empty list.
    #[cfg(feature = "parquet")]
    pub fn open_parquet<P: AsRef<Path>>(paths: &[P]) -> Result<Candles, CandleError> {
        let mut parts = Vec::with_capacity(paths.len());
        for p in paths {
            let p = p.as_ref();
            parts.push((p.to_path_buf(), super::parquet_io::read_parquet(p)?));
        }
        if parts.len() == 1 {
            let (_, c) = parts.pop().expect("one part");
            return Ok(c);
        }
        let parts: Vec<(PathBuf, Columns, Option<String>)> = parts
            .into_iter()
            .map(|(p, c)| {
                let symbol = c.symbol.clone();
                (p, c.into_columns(), symbol)
            })
            .collect();
        let (cols, symbol) = concat_parts(parts)?;
        Ok(Candles::from_validated(cols, symbol))
    }

    /// Gives the columns back.
    pub fn into_columns(self) -> Columns {
        let Candles { ts_ms, open, high, low, close, volume, .. } = self;
        Columns { ts_ms, open, high, low, close, volume }
    }

    /// Number of candles.
    pub fn len(&self) -> usize {
        self.ts_ms.len()
    }

    /// True when there are no candles.
    pub fn is_empty(&self) -> bool {
        self.ts_ms.is_empty()
    }

    /// The symbol recorded in the file metadata, if any.
    pub fn symbol(&self) -> Option<&str> {
        self.symbol.as_deref()
    }

    /// Open times, UTC epoch milliseconds.
    pub fn ts_ms(&self) -> &[i64] {
        &self.ts_ms
    }

    /// Open prices.
    pub fn open(&self) -> &[f64] {
        &self.open
    }

    /// High prices.
    pub fn high(&self) -> &[f64] {
        &self.high
    }

    /// Low prices.
    pub fn low(&self) -> &[f64] {
        &self.low
    }

    /// Close prices.
    pub fn close(&self) -> &[f64] {
        &self.close
    }

    /// Volumes (base currency).
    pub fn volume(&self) -> &[f64] {
        &self.volume
    }

    /// First open time, if any.
    pub fn first_ts_ms(&self) -> Option<i64> {
        self.ts_ms.first().copied()
    }

    /// Last open time, if any.
    pub fn last_ts_ms(&self) -> Option<i64> {
        self.ts_ms.last().copied()
    }

    /// All candles as a borrowed slice for the engine.
    pub fn slice(&self) -> CandleSlice<'_> {
        CandleSlice {
            ts_ms: &self.ts_ms,
            open: &self.open,
            high: &self.high,
            low: &self.low,
            close: &self.close,
            mark: self.mark.as_deref().map(|m| MarkSlice {
                open: &m.open,
                high: &m.high,
                low: &m.low,
                close: &m.close,
            }),
        }
    }

    /// Candles with open time in the half-open window `[start_ms, end_ms)`; `None` leaves that
    /// side open. Binary search, no copy; an empty or inverted window gives an empty slice.
    pub fn window(&self, start_ms: Option<i64>, end_ms: Option<i64>) -> CandleSlice<'_> {
        self.slice().between(start_ms.unwrap_or(i64::MIN), end_ms.unwrap_or(i64::MAX))
    }

    /// Missing candles, judged against the smallest step in the data.
    pub fn gaps(&self) -> GapReport {
        validate::find_gaps(&self.ts_ms, validate::infer_interval(&self.ts_ms))
    }

    /// SHA-256 (lower-case hex) of the decoded columns, for result metadata: identical on
    /// every platform for identical candles, whatever files or format they came from.
    ///
    /// Hashes the tag `gridsweep-candles-v1`, the row count (u64 LE), then each column in
    /// the order ts_ms, open, high, low, close, volume as little-endian 8-byte values
    /// (floats by their IEEE-754 bits); with a mark path, then the tag `mark` and its open,
    /// high, low and close columns the same way. Computed once, on first call.
    pub fn fingerprint(&self) -> &str {
        self.fingerprint.get_or_init(|| {
            let mut h = Sha256::new();
            h.update(b"gridsweep-candles-v1\0");
            h.update((self.len() as u64).to_le_bytes());
            hash_le(&mut h, self.ts_ms.iter().map(|v| v.to_le_bytes()));
            for col in [&self.open, &self.high, &self.low, &self.close, &self.volume] {
                hash_le(&mut h, col.iter().map(|v| v.to_bits().to_le_bytes()));
            }
            if let Some(m) = &self.mark {
                h.update(b"mark\0");
                for col in [&m.open, &m.high, &m.low, &m.close] {
                    hash_le(&mut h, col.iter().map(|v| v.to_bits().to_le_bytes()));
                }
            }
            h.finalize().iter().map(|b| format!("{b:02x}")).collect()
        })
    }
}

/// Feeds 8-byte little-endian values to `h` through a buffer (one `update` per 64 KiB).
fn hash_le(h: &mut Sha256, values: impl Iterator<Item = [u8; 8]>) {
    let mut buf = Vec::with_capacity(1 << 16);
    for v in values {
        buf.extend_from_slice(&v);
        if buf.len() == buf.capacity() {
            h.update(&buf);
            buf.clear();
        }
    }
    h.update(&buf);
}

/// Opens Parquet candle files: shorthand for [`Candles::open_parquet`].
///
/// # Errors
/// As [`Candles::open_parquet`].
#[cfg(feature = "parquet")]
pub fn open<P: AsRef<Path>>(paths: &[P]) -> Result<Candles, CandleError> {
    Candles::open_parquet(paths)
}

/// Concatenates individually valid parts in time order: sorts them by first timestamp and
/// refuses overlaps and differing symbols, naming both files.
pub(crate) fn concat_parts(
    mut parts: Vec<(PathBuf, Columns, Option<String>)>,
) -> Result<(Columns, Option<String>), CandleError> {
    if parts.is_empty() {
        return Err(CandleError::NoInput);
    }
    for (path, cols, _) in &parts {
        if cols.is_empty() {
            return Err(CandleError::Empty { path: path.clone() });
        }
    }
    parts.sort_by_key(|(_, c, _)| c.ts_ms[0]);
    let mut symbol: Option<(PathBuf, String)> = None;
    for (path, _, s) in &parts {
        if let Some(s) = s {
            match &symbol {
                None => symbol = Some((path.clone(), s.clone())),
                Some((p0, s0)) if s0 != s => {
                    return Err(CandleError::SymbolMismatch {
                        first: p0.clone(),
                        first_symbol: s0.clone(),
                        second: path.clone(),
                        second_symbol: s.clone(),
                    })
                }
                Some(_) => {}
            }
        }
    }
    for w in parts.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let (a_end, b_start) = (*a.1.ts_ms.last().expect("non-empty"), b.1.ts_ms[0]);
        if b_start <= a_end {
            return Err(CandleError::Overlap {
                first: a.0.clone(),
                second: b.0.clone(),
                first_end_ms: a_end,
                second_start_ms: b_start,
            });
        }
    }
    let total = parts.iter().map(|(_, c, _)| c.len()).sum();
    let mut out = Columns::with_capacity(total);
    for (_, c, _) in &parts {
        out.append(c);
    }
    Ok((out, symbol.map(|(_, s)| s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(ts: &[i64]) -> Columns {
        let mut c = Columns::with_capacity(ts.len());
        for (i, &t) in ts.iter().enumerate() {
            let p = 100.0 + i as f64;
            c.push(t, p, p + 1.0, p - 1.0, p + 0.5, 2.0);
        }
        c
    }

    #[test]
    fn test_window_is_half_open() {
        let c =
            Candles::try_new(cols(&[0, 60_000, 120_000, 180_000]), None, Path::new("t")).unwrap();
        assert_eq!(c.window(Some(60_000), Some(180_000)).ts_ms, &[60_000, 120_000]);
        assert_eq!(c.window(Some(1), None).ts_ms, &[60_000, 120_000, 180_000]);
        assert_eq!(c.window(None, Some(0)).len(), 0);
        assert_eq!(c.window(Some(500_000), Some(0)).len(), 0);
        assert_eq!(c.slice().len(), 4);
    }

    #[test]
    fn test_with_mark_aligns_by_time_and_names_the_first_missing_candle() {
        let c = |ts: &[i64]| Candles::try_new(cols(ts), None, Path::new("t")).unwrap();
        let last = c(&[0, 60_000, 120_000, 180_000]);
        let fp = last.fingerprint().to_string();
        // Mark candles at other times too (0.5 min apart is not a candle time): unused.
        let mark = c(&[-60_000, 0, 30_000, 60_000, 120_000, 180_000, 240_000]);
        let files = [PathBuf::from("mark.parquet")];
        let w = last.with_mark(&mark, Some(60_000), Some(180_000), &files).unwrap();
        assert!(w.has_mark());
        let s = w.slice();
        assert_eq!(s.ts_ms, &[60_000, 120_000]);
        let m = s.mark.unwrap();
        // cols() gives row i the open 100 + i: mark rows 3 and 4 hold 60_000 and 120_000.
        assert_eq!(m.open, &[103.0, 104.0]);
        assert_eq!(m.high, &[104.0, 105.0]);
        assert_eq!(m.low, &[102.0, 103.0]);
        assert_eq!(m.close, &[103.5, 104.5]);
        assert_eq!(s.open, &[101.0, 102.0], "last prices stay");
        assert_ne!(w.fingerprint(), fp, "the mark path is part of the data's identity");
        let sub = w.window(Some(120_000), None);
        assert_eq!(sub.mark.unwrap().open, &[104.0], "windows keep rows aligned");
        // A window candle without a mark candle: named, with the count.
        let sparse = c(&[0, 120_000]);
        let e = c(&[0, 60_000, 120_000, 180_000])
            .with_mark(&sparse, None, None, &files)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("mark.parquet: no mark-price candle at 1970-01-01T00:01:00 (ts_ms 60000), the first of 2 of the window's 4 candles without one (the mark candles cover 1970-01-01T00:00:00 .. 1970-01-01T00:02:00)"), "{e}");
    }

    #[test]
    fn test_try_new_rejects_unsorted_with_row() {
        let err = Candles::try_new(cols(&[0, 120_000, 60_000]), None, Path::new("x.parquet"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.parquet, row 3"), "{err}");
        let err = Candles::try_new(cols(&[0, 0]), None, Path::new("x.parquet")).unwrap_err();
        assert!(err.to_string().contains("row 2: duplicate timestamp 0"), "{err}");
        assert!(err.to_string().contains("also at row 1"), "{err}");
    }

    #[test]
    fn test_concat_orders_files_and_refuses_overlap() {
        let parts = vec![
            (PathBuf::from("b"), cols(&[120_000, 180_000]), None),
            (PathBuf::from("a"), cols(&[0, 60_000]), Some("X".to_string())),
        ];
        let (c, s) = concat_parts(parts).unwrap();
        assert_eq!(c.ts_ms, vec![0, 60_000, 120_000, 180_000]);
        assert_eq!(s.as_deref(), Some("X"));
        let parts = vec![
            (PathBuf::from("b"), cols(&[60_000, 180_000]), None),
            (PathBuf::from("a"), cols(&[0, 60_000]), None),
        ];
        let err = concat_parts(parts).unwrap_err().to_string();
        assert!(err.starts_with("a and b overlap"), "{err}");
    }

    #[test]
    fn test_fingerprint_depends_on_values_only() {
        let a = Candles::try_new(cols(&[0, 60_000]), None, Path::new("a")).unwrap();
        let b = Candles::try_new(cols(&[0, 60_000]), Some("S".into()), Path::new("b")).unwrap();
        let c = Candles::try_new(cols(&[0, 120_000]), None, Path::new("c")).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert_eq!(a.fingerprint().len(), 64);
    }
}
