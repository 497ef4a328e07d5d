//! Candle validation: per-row price rules, strict time order, and gap (missing candle)
//! reporting. Pure functions over columns; callers attach the file and row.

use super::error::Problem;
use crate::time::format_iso;

/// One minute in milliseconds: the candle interval gridsweep expects.
pub const MINUTE_MS: i64 = 60_000;

/// How many gaps a [`GapReport`] lists individually.
pub const GAPS_LISTED: usize = 5;

/// Checks one row's prices and volume: finite, prices > 0, volume >= 0,
/// `high >= max(open, close)` and `low <= min(open, close)`.
///
/// # Errors
/// The first rule the row breaks.
#[inline]
pub fn check_row(open: f64, high: f64, low: f64, close: f64, volume: f64) -> Result<(), Problem> {
    // Fast path: one branch for the overwhelmingly common valid row. NaN fails every `>`.
    let ok = open > 0.0
        && close > 0.0
        && low > 0.0
        && high < f64::INFINITY
        && (0.0..f64::INFINITY).contains(&volume)
        && high >= open.max(close)
        && low <= open.min(close);
    if ok {
        return Ok(());
    }
    for (column, value) in
        [("open", open), ("high", high), ("low", low), ("close", close), ("volume", volume)]
    {
        if !value.is_finite() {
            return Err(Problem::NonFinite { column, value });
        }
        if column != "volume" && value <= 0.0 {
            return Err(Problem::NonPositivePrice { column, value });
        }
    }
    if volume < 0.0 {
        return Err(Problem::NegativeVolume { value: volume });
    }
    if high < open.max(close) {
        return Err(Problem::HighBelowBody { high, open, close });
    }
    Err(Problem::LowAboveBody { low, open, close })
}

/// Index of the first row whose timestamp is not after its predecessor's, with the problem.
pub fn check_order(ts_ms: &[i64]) -> Option<(usize, Problem)> {
    let i = ts_ms.windows(2).position(|w| w[1] <= w[0])? + 1;
    let (prev_ms, t) = (ts_ms[i - 1], ts_ms[i]);
    let problem = if prev_ms == t {
        Problem::Duplicate { ts_ms: t, other: super::error::Loc::Row(i as u64) }
    } else {
        Problem::NotIncreasing { prev_ms, ts_ms: t }
    };
    Some((i, problem))
}

/// A run of missing candles between two present ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gap {
    /// Open time of the candle before the gap.
    pub after_ms: i64,
    /// Open time of the candle after the gap.
    pub next_ms: i64,
    /// Candles missing in between.
    pub missing: u64,
}

impl std::fmt::Display for Gap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} missing after {} (next {})",
            self.missing,
            format_iso(self.after_ms),
            format_iso(self.next_ms)
        )
    }
}

/// Missing candles in a time-sorted series (not an error: exchanges have outages).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GapReport {
    /// The expected step between candles, milliseconds.
    pub interval_ms: i64,
    /// Number of gaps.
    pub gaps: u64,
    /// Total candles missing over all gaps.
    pub missing: u64,
    /// The first [`GAPS_LISTED`] gaps.
    pub first: Vec<Gap>,
    /// The gap with the most candles missing (the earliest of equals), if any.
    pub largest: Option<Gap>,
}

impl GapReport {
    /// True when no candle is missing.
    pub fn is_empty(&self) -> bool {
        self.gaps == 0
    }

    /// The one-line warning for a caller to print (after `warning: `) when candles are
    /// missing: how many, in how many gaps, and the largest gap with its timestamps; `None`
    /// when nothing is missing.
    pub fn warning(&self) -> Option<String> {
        let largest = self.largest?;
        Some(format!(
            "{} candle(s) of {} missing in {} gap(s), the largest {largest}; fix the data or \
             choose a window without gaps",
            self.missing,
            interval_label(self.interval_ms),
            self.gaps,
        ))
    }
}

impl std::fmt::Display for GapReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.gaps == 0 {
            return write!(f, "no gaps");
        }
        write!(f, "{} gap(s), {} candle(s) missing", self.gaps, self.missing)?;
        if let Some(g) = self.largest.filter(|_| self.gaps > 1) {
            write!(f, "; largest {g}")?;
        }
        for g in &self.first {
            write!(f, "\n  {g}")?;
        }
        if self.gaps as usize > self.first.len() {
            write!(f, "\n  … and {} more", self.gaps as usize - self.first.len())?;
        }
        Ok(())
    }
}

/// Finds gaps, i.e. steps longer than `interval_ms`, in strictly increasing `ts_ms`.
pub fn find_gaps(ts_ms: &[i64], interval_ms: i64) -> GapReport {
    let interval_ms = interval_ms.max(1);
    let mut report = GapReport { interval_ms, ..GapReport::default() };
    for w in ts_ms.windows(2) {
        let step = w[1] - w[0];
        if step > interval_ms {
            let missing = ((step - 1) / interval_ms) as u64;
            report.gaps += 1;
            report.missing += missing;
            let gap = Gap { after_ms: w[0], next_ms: w[1], missing };
            if report.first.len() < GAPS_LISTED {
                report.first.push(gap);
            }
            if report.largest.is_none_or(|l| missing > l.missing) {
                report.largest = Some(gap);
            }
        }
    }
    report
}

/// The candle interval of a strictly increasing series: its smallest step, or one minute when
/// there are fewer than two candles.
pub fn infer_interval(ts_ms: &[i64]) -> i64 {
    ts_ms.windows(2).map(|w| w[1] - w[0]).filter(|&d| d > 0).min().unwrap_or(MINUTE_MS)
}

/// Human text for an interval: `1m`, `1h`, `1d` or `N ms`.
pub fn interval_label(interval_ms: i64) -> String {
    match interval_ms {
        ms if ms % 86_400_000 == 0 => format!("{}d", ms / 86_400_000),
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms => format!("{ms} ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_check_row_accepts_valid_and_flat_candles() {
        assert!(check_row(10.0, 11.0, 9.0, 10.5, 1.0).is_ok());
        assert!(check_row(10.0, 10.0, 10.0, 10.0, 0.0).is_ok());
    }

    #[test]
    fn test_check_row_names_each_rule() {
        assert!(matches!(check_row(10.0, 9.5, 9.0, 9.2, 1.0), Err(Problem::HighBelowBody { .. })));
        assert!(matches!(
            check_row(10.0, 11.0, 10.5, 10.2, 1.0),
            Err(Problem::LowAboveBody { .. })
        ));
        assert!(matches!(
            check_row(0.0, 11.0, 9.0, 10.0, 1.0),
            Err(Problem::NonPositivePrice { column: "open", .. })
        ));
        assert!(matches!(
            check_row(10.0, f64::NAN, 9.0, 10.0, 1.0),
            Err(Problem::NonFinite { column: "high", .. })
        ));
        assert!(matches!(
            check_row(10.0, f64::INFINITY, 9.0, 10.0, 1.0),
            Err(Problem::NonFinite { column: "high", .. })
        ));
        assert!(matches!(
            check_row(10.0, 11.0, 9.0, 10.0, -1.0),
            Err(Problem::NegativeVolume { .. })
        ));
        assert!(matches!(
            check_row(10.0, 11.0, -9.0, 10.0, 1.0),
            Err(Problem::NonPositivePrice { column: "low", .. })
        ));
    }

    #[test]
    fn test_check_order_finds_duplicates_and_reversals() {
        assert_eq!(check_order(&[1, 2, 3]), None);
        assert!(matches!(check_order(&[1, 2, 2]), Some((2, Problem::Duplicate { ts_ms: 2, .. }))));
        assert!(matches!(check_order(&[1, 3, 2]), Some((2, Problem::NotIncreasing { .. }))));
    }

    #[test]
    fn test_find_gaps_counts_missing_minutes() {
        let ts = [0, 60_000, 240_000, 300_000, 420_000];
        let r = find_gaps(&ts, MINUTE_MS);
        assert_eq!((r.gaps, r.missing), (2, 3));
        assert_eq!(r.first[0], Gap { after_ms: 60_000, next_ms: 240_000, missing: 2 });
        assert_eq!(r.largest, Some(r.first[0]));
        // Of equal gaps the earliest is the largest.
        let r = find_gaps(&[0, 180_000, 360_000], MINUTE_MS);
        assert_eq!(r.largest, Some(Gap { after_ms: 0, next_ms: 180_000, missing: 2 }));
        assert!(r
            .to_string()
            .starts_with("2 gap(s), 4 candle(s) missing; largest 2 missing after"));
        assert_eq!(find_gaps(&[0, 60_000], MINUTE_MS).warning(), None);
        assert!(find_gaps(&[0, 60_000], MINUTE_MS).is_empty());
    }

    #[test]
    fn test_infer_interval_and_label() {
        assert_eq!(infer_interval(&[0, 3_600_000, 7_200_000]), 3_600_000);
        assert_eq!(infer_interval(&[5]), MINUTE_MS);
        assert_eq!(interval_label(60_000), "1m");
        assert_eq!(interval_label(3_600_000), "1h");
        assert_eq!(interval_label(1500), "1500 ms");
    }
}
