//! [`CandleSlice`]: the borrowed column view the engine reads (no I/O, no Parquet).

use super::validate::{self, GapReport};

/// Borrowed struct-of-arrays view of candles, all columns the same length, `ts_ms` strictly
/// increasing (open time, UTC epoch milliseconds).
#[derive(Clone, Copy, Debug)]
pub struct CandleSlice<'a> {
    /// Open time of each candle, UTC epoch milliseconds.
    pub ts_ms: &'a [i64],
    /// Open prices.
    pub open: &'a [f64],
    /// High prices.
    pub high: &'a [f64],
    /// Low prices.
    pub low: &'a [f64],
    /// Close prices.
    pub close: &'a [f64],
    /// Mark-price OHLC aligned row by row with the candles, when the data has a mark path.
    pub mark: Option<MarkSlice<'a>>,
}

/// Borrowed mark-price OHLC columns, one row per candle of the [`CandleSlice`] they belong to.
#[derive(Clone, Copy, Debug)]
pub struct MarkSlice<'a> {
    /// Mark open prices.
    pub open: &'a [f64],
    /// Mark high prices.
    pub high: &'a [f64],
    /// Mark low prices.
    pub low: &'a [f64],
    /// Mark close prices.
    pub close: &'a [f64],
}

impl<'a> CandleSlice<'a> {
    /// The candles opening in `[start_ms, end_ms)`.
    pub fn between(&self, start_ms: i64, end_ms: i64) -> CandleSlice<'a> {
        let lo = self.ts_ms.partition_point(|&t| t < start_ms);
        let hi = self.ts_ms.partition_point(|&t| t < end_ms).max(lo);
        self.range(lo, hi)
    }

    /// The candles `from..to` (rows of the mark path too).
    ///
    /// # Panics
    /// If `from > to` or `to > self.len()`.
    pub fn range(&self, from: usize, to: usize) -> CandleSlice<'a> {
        CandleSlice {
            ts_ms: &self.ts_ms[from..to],
            open: &self.open[from..to],
            high: &self.high[from..to],
            low: &self.low[from..to],
            close: &self.close[from..to],
            mark: self.mark.map(|m| MarkSlice {
                open: &m.open[from..to],
                high: &m.high[from..to],
                low: &m.low[from..to],
                close: &m.close[from..to],
            }),
        }
    }

    /// Number of candles.
    pub fn len(&self) -> usize {
        self.ts_ms.len()
    }

    /// True when there are no candles.
    pub fn is_empty(&self) -> bool {
        self.ts_ms.is_empty()
    }

    /// Missing candles inside this slice, judged against its smallest step (see
    /// [`validate::find_gaps`]); [`GapReport::warning`] is the text to show the user.
    pub fn gaps(&self) -> GapReport {
        validate::find_gaps(self.ts_ms, validate::infer_interval(self.ts_ms))
    }
}
