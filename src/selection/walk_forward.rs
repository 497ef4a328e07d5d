//! Walk-forward window arithmetic: the (train, test) folds that tile a data window.
//!
//! Rolling: fold i trains on `[start + i·step, start + i·step + train)` and tests on the
//! `test` that follows. Anchored: every train window starts at `start` and grows by `step`
//! per fold (`[start, start + train + i·step)`). Folds are kept while their test window ends
//! at or before the data's end; the first fold that does not fit is dropped and reported, with
//! the data left after the last test window. Window edges are `start` plus whole multiples of
//! the durations, and `start` must lie on a UTC boundary of gcd(train, test, step, 1 day) (a
//! day for day-sized windows, 4 h for "4h" ones), so every edge is a UTC boundary too.

use serde::{Deserialize, Serialize};

use super::SelectionError;
use crate::time::{format_iso, DAY_MS};

/// A half-open time window `[start_ms, end_ms)`, UTC epoch milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// First millisecond.
    pub start_ms: i64,
    /// One past the last millisecond.
    pub end_ms: i64,
}

/// One fold: train, then test right after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fold {
    /// The in-sample window.
    pub train: Window,
    /// The out-of-sample window (starts where `train` ends).
    pub test: Window,
}

/// The folds of a data window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Folds {
    /// Full folds in time order.
    pub folds: Vec<Fold>,
    /// The next fold, whose test window runs past the data's end: dropped.
    pub dropped: Option<Fold>,
    /// Milliseconds of data after the last full fold's test window (not tested).
    pub untested_tail_ms: i64,
}

/// The folds of `[start_ms, end_ms)` for `train_ms`, `test_ms`, `step_ms` (none: `test_ms`) and
/// `anchored` (module docs).
///
/// # Errors
/// [`SelectionError::Window`] when a duration is not positive, the data window is empty, the
/// test window or train + test is longer than the data, or `start_ms` is not on the UTC
/// boundary the durations need.
pub fn folds(
    start_ms: i64,
    end_ms: i64,
    train_ms: i64,
    test_ms: i64,
    step_ms: Option<i64>,
    anchored: bool,
) -> Result<Folds, SelectionError> {
    let step_ms = step_ms.unwrap_or(test_ms);
    for (name, v) in [("train", train_ms), ("test", test_ms), ("step", step_ms)] {
        if v <= 0 {
            return Err(SelectionError::Window(format!(
                "walk_forward.{name} must be a positive duration (was {v} ms)"
            )));
        }
    }
    if end_ms <= start_ms {
        return Err(SelectionError::Window(format!(
            "the data window is empty ({} to {})",
            format_iso(start_ms),
            format_iso(end_ms)
        )));
    }
    let data = end_ms - start_ms;
    if test_ms > data {
        return Err(SelectionError::Window(format!(
            "walk_forward.test ({}) is longer than the data ({})",
            format_duration(test_ms),
            format_duration(data)
        )));
    }
    if train_ms.saturating_add(test_ms) > data {
        return Err(SelectionError::Window(format!(
            "walk_forward.train + test ({} + {}) is longer than the data ({}); shorten them or add data",
            format_duration(train_ms),
            format_duration(test_ms),
            format_duration(data)
        )));
    }
    let unit = gcd(gcd(gcd(train_ms, test_ms), step_ms), DAY_MS);
    if start_ms.rem_euclid(unit) != 0 {
        return Err(SelectionError::Window(format!(
            "the data starts at {}, not on a UTC {} boundary; start it at {}",
            format_iso(start_ms),
            format_duration(unit),
            format_iso(start_ms - start_ms.rem_euclid(unit) + unit)
        )));
    }
    let fold = |i: i64| -> Option<Fold> {
        let train = if anchored {
            Window {
                start_ms,
                end_ms: start_ms.checked_add(train_ms.checked_add(i.checked_mul(step_ms)?)?)?,
            }
        } else {
            let s = start_ms.checked_add(i.checked_mul(step_ms)?)?;
            Window { start_ms: s, end_ms: s.checked_add(train_ms)? }
        };
        Some(Fold {
            train,
            test: Window { start_ms: train.end_ms, end_ms: train.end_ms.checked_add(test_ms)? },
        })
    };
    let mut out = Vec::new();
    let mut dropped = None;
    for i in 0.. {
        match fold(i) {
            Some(f) if f.test.end_ms <= end_ms => out.push(f),
            Some(f) if f.test.start_ms < end_ms => {
                dropped = Some(f);
                break;
            }
            _ => break,
        }
    }
    let last_end = out.last().map_or(start_ms, |f| f.test.end_ms);
    Ok(Folds { folds: out, dropped, untested_tail_ms: end_ms - last_end })
}

/// Milliseconds of a duration such as `"30m"`, `"1h"`, `"4h"`, `"1d"`, `"14d"` or `"2w"` (a
/// positive whole number and one unit: m, h, d or w; UTC days have no leap seconds).
///
/// # Errors
/// [`SelectionError::Window`] for anything else.
pub fn parse_duration_ms(s: &str) -> Result<i64, SelectionError> {
    let bad = || {
        SelectionError::Window(format!(
            "`{s}` is not a duration; write a positive whole number and a unit: \"30m\", \"4h\", \"1d\", \"2w\""
        ))
    };
    let t = s.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let unit_ms = match unit {
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => DAY_MS,
        "w" => 7 * DAY_MS,
        _ => return Err(bad()),
    };
    let n: i64 = num.parse().map_err(|_| bad())?;
    if n == 0 {
        return Err(bad());
    }
    n.checked_mul(unit_ms).ok_or_else(bad)
}

/// "14d", "4h", "90m", "1d 2h" style text of a duration in ms (whole minutes shown).
fn format_duration(ms: i64) -> String {
    let (d, h, m) = (ms / DAY_MS, ms % DAY_MS / 3_600_000, ms % 3_600_000 / 60_000);
    let mut parts = Vec::new();
    if d > 0 {
        parts.push(format!("{d}d"));
    }
    if h > 0 {
        parts.push(format!("{h}h"));
    }
    if m > 0 || parts.is_empty() {
        parts.push(format!("{m}m"));
    }
    parts.join(" ")
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a.abs()
    } else {
        gcd(b, a % b)
    }
}

/// How a fold's combination is chosen from its in-sample values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Select {
    /// The highest in-sample objective (ties: lowest `run_id`).
    #[default]
    Best,
    /// The highest plateau median of the in-sample objective over the run and its box
    /// neighbours on the sweep grid ([`super::plateau`]; ties: the higher plateau minimum, then
    /// the lowest `run_id`).
    Plateau,
}

impl Select {
    /// `"best"` or `"plateau"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Select::Best => "best",
            Select::Plateau => "plateau",
        }
    }

    /// The other method (each is reported against the other).
    pub fn other(self) -> Select {
        match self {
            Select::Best => Select::Plateau,
            Select::Plateau => Select::Best,
        }
    }
}

/// The run chosen from `values` (one per grid point, higher is better, NaN: no value) by
/// `select` on a grid of `axis_sizes`; `None` when no run has a value.
///
/// # Errors
/// [`SelectionError::Shape`] when `values` does not hold one value per grid point.
pub fn choose(
    values: &[f64],
    select: Select,
    axis_sizes: &[usize],
) -> Result<Option<usize>, SelectionError> {
    let key = |i: usize| (values[i], 0.0);
    match select {
        Select::Best => Ok(argmax_by(values.len(), |i| (!values[i].is_nan()).then(|| key(i)))),
        Select::Plateau => {
            let scores = super::plateau::plateau_scores(
                axis_sizes,
                values,
                super::plateau::Neighbourhood::Box,
            )?;
            Ok(argmax_by(values.len(), |i| match (scores[i].median, scores[i].min) {
                (Some(med), Some(min)) => Some((med, min)),
                _ => None,
            }))
        }
    }
}

/// The index with the largest key (lexicographic; ties: the lowest index).
fn argmax_by(n: usize, key: impl Fn(usize) -> Option<(f64, f64)>) -> Option<usize> {
    let mut best: Option<(usize, (f64, f64))> = None;
    for i in 0..n {
        if let Some(k) = key(i) {
            let better = match best {
                None => true,
                Some((_, b)) => k.0 > b.0 || (k.0 == b.0 && k.1 > b.1),
            };
            if better {
                best = Some((i, k));
            }
        }
    }
    best.map(|b| b.0)
}

/// The rank of `values[i]` among the values that are not NaN, 1 = the highest, ties sharing
/// the average of their ranks; and how many values were ranked. `None` when `values[i]` is NaN.
pub fn rank_from_top(values: &[f64], i: usize) -> Option<(f64, usize)> {
    let v = values[i];
    if v.is_nan() {
        return None;
    }
    let (mut above, mut equal, mut n) = (0usize, 0usize, 0usize);
    for &x in values.iter().filter(|x| !x.is_nan()) {
        n += 1;
        if x > v {
            above += 1;
        } else if x == v {
            equal += 1;
        }
    }
    // Ranks above+1 ..= above+equal, averaged.
    Some((above as f64 + (equal as f64 + 1.0) / 2.0, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: i64 = DAY_MS;
    /// 2026-02-01T00:00:00Z.
    const FEB1: i64 = 1_769_904_000_000;

    fn w(a: i64, b: i64) -> Window {
        Window { start_ms: FEB1 + a * D, end_ms: FEB1 + b * D }
    }

    #[test]
    fn test_rolling_folds_by_hand() {
        // 30 days, train 14d, test 7d, step 7d (the default):
        //   fold 0 train [0, 14) test [14, 21); fold 1 train [7, 21) test [21, 28);
        //   fold 2 would test [28, 35) past day 30: dropped; days 28–30 untested.
        let f = folds(FEB1, FEB1 + 30 * D, 14 * D, 7 * D, None, false).unwrap();
        assert_eq!(
            f.folds,
            vec![
                Fold { train: w(0, 14), test: w(14, 21) },
                Fold { train: w(7, 21), test: w(21, 28) }
            ]
        );
        assert_eq!(f.dropped, Some(Fold { train: w(14, 28), test: w(28, 35) }));
        assert_eq!(f.untested_tail_ms, 2 * D);
        // 28 days tile exactly: nothing dropped.
        let f = folds(FEB1, FEB1 + 28 * D, 14 * D, 7 * D, Some(7 * D), false).unwrap();
        assert_eq!(f.folds.len(), 2);
        assert_eq!((f.dropped, f.untested_tail_ms), (None, 0));
        // Step 3d, test 7d (overlapping tests), 28 days: tests end at 21, 24, 27; fold 3 would
        // end at 30.
        let f = folds(FEB1, FEB1 + 28 * D, 14 * D, 7 * D, Some(3 * D), false).unwrap();
        let ends: Vec<i64> = f.folds.iter().map(|x| (x.test.end_ms - FEB1) / D).collect();
        assert_eq!(ends, vec![21, 24, 27]);
        assert_eq!(f.dropped.unwrap().test, w(23, 30));
        assert_eq!(f.untested_tail_ms, D);
    }

    #[test]
    fn test_anchored_folds_by_hand() {
        // 30 days, train 14d anchored, test 7d: train [0, 14) then [0, 21); tests as rolling.
        let f = folds(FEB1, FEB1 + 30 * D, 14 * D, 7 * D, None, true).unwrap();
        assert_eq!(
            f.folds,
            vec![
                Fold { train: w(0, 14), test: w(14, 21) },
                Fold { train: w(0, 21), test: w(21, 28) }
            ]
        );
        assert_eq!(f.dropped, Some(Fold { train: w(0, 28), test: w(28, 35) }));
        // Hours: 4h train, 1h test, 2 days of data: 44 anchored folds (tests from 4h to 48h).
        let h = 3_600_000;
        let f = folds(FEB1, FEB1 + 2 * D, 4 * h, h, None, true).unwrap();
        assert_eq!(f.folds.len(), 44);
        assert_eq!(f.folds[43].train, Window { start_ms: FEB1, end_ms: FEB1 + 47 * h });
        assert_eq!((f.dropped, f.untested_tail_ms), (None, 0));
    }

    #[test]
    fn test_fold_errors() {
        let e = |r: Result<Folds, SelectionError>| match r {
            Err(SelectionError::Window(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(e(folds(FEB1, FEB1 + 30 * D, 0, 7 * D, None, false))
            .contains("walk_forward.train must be a positive"));
        assert!(
            e(folds(FEB1, FEB1 + 30 * D, D, 7 * D, Some(0), false)).contains("walk_forward.step")
        );
        assert!(e(folds(FEB1, FEB1 + 5 * D, D, 7 * D, None, false))
            .contains("test (7d) is longer than the data (5d)"));
        assert!(e(folds(FEB1, FEB1 + 20 * D, 14 * D, 7 * D, None, false))
            .contains("train + test (14d + 7d)"));
        assert!(e(folds(FEB1, FEB1, D, D, None, false)).contains("empty"));
        // 1d windows need a midnight start; 4h windows a 4-hour boundary.
        let m = e(folds(FEB1 + 3_600_000, FEB1 + 30 * D, 14 * D, 7 * D, None, false));
        assert!(m.contains("not on a UTC 1d boundary; start it at 2026-02-02"), "{m}");
        assert!(folds(
            FEB1 + 4 * 3_600_000,
            FEB1 + 30 * D,
            4 * 3_600_000,
            4 * 3_600_000,
            None,
            false
        )
        .is_ok());
    }

    #[test]
    fn test_parse_duration() {
        assert_eq!(parse_duration_ms("1h"), Ok(3_600_000));
        assert_eq!(parse_duration_ms("4h"), Ok(4 * 3_600_000));
        assert_eq!(parse_duration_ms("1d"), Ok(D));
        assert_eq!(parse_duration_ms("7d"), Ok(7 * D));
        assert_eq!(parse_duration_ms("14d"), Ok(14 * D));
        assert_eq!(parse_duration_ms("30m"), Ok(1_800_000));
        assert_eq!(parse_duration_ms("2w"), Ok(14 * D));
        for bad in ["", "d", "0d", "1.5d", "-1d", "1y", "7 d", "99999999999999999999d"] {
            assert!(parse_duration_ms(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn best_is_the_highest_value_lowest_index_on_ties_and_skips_nan() {
        let v = [1.0, f64::NAN, 3.0, 3.0, -2.0];
        assert_eq!(choose(&v, Select::Best, &[5]).unwrap(), Some(2));
        assert_eq!(choose(&[f64::NAN, f64::NAN], Select::Best, &[2]).unwrap(), None);
    }

    #[test]
    fn plateau_prefers_a_robust_region_to_a_lone_spike() {
        // 1 × 9 grid: a spike of 10 among zeros, and a shoulder 4, 5, 4. Box neighbours on
        // one axis: index 2 → {0, 10, 0}: median 0; 5 → {0, 4, 5}: median 4, min 0;
        // 6 → {4, 5, 4}: median 4, min 4; 7 → {5, 4, 0}: median 4, min 0; the edge 8 → {4, 0}:
        // median 2. Index 6 wins on the higher minimum.
        let v = [0.0, 0.0, 10.0, 0.0, 0.0, 4.0, 5.0, 4.0, 0.0];
        assert_eq!(choose(&v, Select::Best, &[9]).unwrap(), Some(2));
        assert_eq!(choose(&v, Select::Plateau, &[9]).unwrap(), Some(6));
        // Two axes (3 × 3, last axis fastest): the centre's box is the whole grid.
        let g = [1.0, 1.0, 1.0, 1.0, 9.0, 1.0, 8.0, 8.0, 1.0];
        // Index 4: all nine values, median 1; index 7 (row 2, col 1): {1, 9, 1, 8, 8, 1}
        // sorted 1,1,1,8,8,9: median 4.5; index 6: {1, 9, 8, 8}: median 8.
        assert_eq!(choose(&g, Select::Plateau, &[3, 3]).unwrap(), Some(6));
    }

    #[test]
    fn rank_from_top_averages_ties_and_ignores_nan() {
        let v = [5.0, 7.0, 5.0, f64::NAN, 1.0];
        assert_eq!(rank_from_top(&v, 1), Some((1.0, 4)));
        // Two values of 5 share ranks 2 and 3.
        assert_eq!(rank_from_top(&v, 0), Some((2.5, 4)));
        assert_eq!(rank_from_top(&v, 4), Some((4.0, 4)));
        assert_eq!(rank_from_top(&v, 3), None);
    }
}
