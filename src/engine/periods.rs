//! [`PeriodRecorder`]: a run's equity at the end of every period (`[record] period` of a
//! sweep), the input of the selection statistics (PBO, deflated Sharpe, walk-forward).

use super::{FillRecord, Recorder};

/// The equity at each period end: the equity of the run's last mark at or before it.
///
/// Periods end at every multiple of `period_ms` (UTC epoch, so `1d` ends at 00:00 UTC) after
/// the window's start, and at the window's end if that is not a multiple (a last, partial
/// period). A period without a mark of its own keeps the equity before it; a liquidated run
/// keeps its final equity to the window's end. Reuse one recorder per thread: [`reset`]
/// clears it without freeing its buffer.
///
/// [`reset`]: PeriodRecorder::reset
#[derive(Clone, Debug, Default)]
pub struct PeriodRecorder {
    period_ms: i64,
    next_end: i64,
    window_end: i64,
    last: f64,
    /// `(period_end_ms, equity)` in time order.
    pub ends: Vec<(i64, f64)>,
}

/// The period ends of the window `[start_ms, end_ms)` for periods of `period_ms`: every
/// multiple of `period_ms` in `(start_ms, end_ms]`, then `end_ms` when it is not one.
pub fn period_ends(start_ms: i64, end_ms: i64, period_ms: i64) -> impl Iterator<Item = i64> {
    let first = (start_ms.div_euclid(period_ms) + 1).saturating_mul(period_ms);
    let whole = (first..=end_ms).step_by(usize::try_from(period_ms).unwrap_or(usize::MAX));
    let partial = (end_ms.rem_euclid(period_ms) != 0 && end_ms > start_ms).then_some(end_ms);
    whole.chain(partial)
}

impl PeriodRecorder {
    /// A recorder for the window `[start_ms, end_ms)` with periods of `period_ms` (> 0),
    /// starting at `initial_balance`.
    pub fn new(period_ms: i64, start_ms: i64, end_ms: i64, initial_balance: f64) -> Self {
        let mut r = PeriodRecorder::default();
        r.reset(period_ms, start_ms, end_ms, initial_balance);
        r
    }

    /// Prepares for a new run (keeps the buffer).
    pub fn reset(&mut self, period_ms: i64, start_ms: i64, end_ms: i64, initial_balance: f64) {
        assert!(period_ms > 0, "a period is longer than 0 ms");
        self.period_ms = period_ms;
        self.window_end = end_ms;
        self.next_end = period_ends(start_ms, end_ms, period_ms).next().unwrap_or(i64::MAX);
        self.last = initial_balance;
        self.ends.clear();
    }

    /// Emits the periods left after the run's last mark (call once, after the run).
    pub fn finish(&mut self) {
        while self.next_end <= self.window_end {
            self.close_period();
        }
    }

    fn close_period(&mut self) {
        self.ends.push((self.next_end, self.last));
        // Ends are multiples of the period until the window's end (the last one).
        self.next_end = if self.next_end >= self.window_end {
            i64::MAX
        } else {
            self.next_end.saturating_add(self.period_ms).min(self.window_end)
        };
    }
}

impl Recorder for PeriodRecorder {
    #[inline]
    fn on_fill(&mut self, _fill: &FillRecord) {}
    #[inline]
    fn on_equity(&mut self, ts_ms: i64, equity: f64) {
        while ts_ms > self.next_end {
            self.close_period();
        }
        self.last = equity;
    }
    #[inline]
    fn wants_equity(&self) -> bool {
        false
    }
    #[inline]
    fn equity_needed_by(&self) -> i64 {
        self.next_end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    #[test]
    fn period_ends_are_utc_multiples_then_the_window_end() {
        let ends: Vec<i64> = period_ends(0, 3 * 24 * H, 24 * H).collect();
        assert_eq!(ends, [24 * H, 48 * H, 72 * H]);
        // A window from 06:00 to 2 days 12:00: the first day is partial, so is the last.
        let ends: Vec<i64> = period_ends(6 * H, 60 * H, 24 * H).collect();
        assert_eq!(ends, [24 * H, 48 * H, 60 * H]);
        assert_eq!(period_ends(5 * H, 5 * H, H).count(), 0);
    }

    #[test]
    fn each_period_keeps_its_last_mark_at_or_before_its_end() {
        let mut r = PeriodRecorder::new(4 * H, 0, 12 * H, 1000.0);
        // Marks: 1 h → 1010, 4 h exactly → 1020 (at the end: belongs to the first period),
        // 4 h 15 s → 1030; nothing in (4 h, 8 h] after that; 11 h → 990.
        for (ts, e) in [(H, 1010.0), (4 * H, 1020.0), (4 * H + 15_000, 1030.0), (11 * H, 990.0)] {
            r.on_equity(ts, e);
        }
        r.finish();
        assert_eq!(r.ends, [(4 * H, 1020.0), (8 * H, 1030.0), (12 * H, 990.0)]);
        // A run that ends early (liquidated at 2 h at 0): the rest of the window keeps 0.
        r.reset(4 * H, 0, 12 * H, 1000.0);
        r.on_equity(2 * H, 0.0);
        r.finish();
        assert_eq!(r.ends, [(4 * H, 0.0), (8 * H, 0.0), (12 * H, 0.0)]);
        // Partial last period.
        r.reset(4 * H, 0, 10 * H, 1000.0);
        r.on_equity(9 * H, 1.0);
        r.finish();
        assert_eq!(r.ends, [(4 * H, 1000.0), (8 * H, 1000.0), (10 * H, 1.0)]);
    }
}
