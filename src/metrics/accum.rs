//! Streaming metrics: updated per fill and per tick, no stored equity curve.

use super::Metrics;
use crate::time::HOUR_MS;

/// Hours in a year (365.25 days), the Sharpe/Sortino annualisation factor.
const HOURS_PER_YEAR: f64 = 365.25 * 24.0;
/// Milliseconds in a year of 365.25 days.
const YEAR_MS: f64 = 365.25 * 86_400_000.0;

/// Hourly-bucket return statistics (last equity per bucket, no forward fill).
#[derive(Clone, Copy, Debug, Default)]
struct HourlyReturns {
    start_ms: Option<i64>,
    bucket: i64,
    bucket_end_ms: i64,
    bucket_last: f64,
    prev_close: Option<f64>,
    n: u64,
    mean: f64,
    m2: f64,
    downside_sq: f64,
}

impl HourlyReturns {
    #[inline]
    fn push(&mut self, ts_ms: i64, equity: f64) {
        if ts_ms >= self.bucket_end_ms || self.start_ms.is_none() {
            let start = *self.start_ms.get_or_insert(ts_ms);
            let b = (ts_ms - start).div_euclid(HOUR_MS);
            if b != self.bucket {
                self.close_bucket();
                self.bucket = b;
            }
            self.bucket_end_ms = start + (b + 1) * HOUR_MS;
        }
        self.bucket_last = equity;
    }

    fn close_bucket(&mut self) {
        if self.start_ms.is_none() {
            return;
        }
        let v = self.bucket_last;
        if let Some(p) = self.prev_close {
            if p != 0.0 {
                let r = (v - p) / p;
                self.n += 1;
                let d = r - self.mean;
                self.mean += d / self.n as f64;
                self.m2 += d * (r - self.mean);
                if r < 0.0 {
                    self.downside_sq += r * r;
                }
            }
        }
        self.prev_close = Some(v);
    }

    fn finish(mut self) -> (f64, f64) {
        self.close_bucket();
        if self.n < 2 {
            return (0.0, 0.0);
        }
        let std = (self.m2 / (self.n - 1) as f64).sqrt();
        let sharpe = if std > 0.0 { self.mean / std * HOURS_PER_YEAR.sqrt() } else { 0.0 };
        let dd = (self.downside_sq / self.n as f64).sqrt();
        let sortino = if dd > 0.0 { self.mean / dd * HOURS_PER_YEAR.sqrt() } else { 0.0 };
        (sharpe, sortino)
    }
}

/// Accumulates every metric of a run as fills and ticks stream by.
#[derive(Clone, Copy, Debug, Default)]
pub struct MetricsAccumulator {
    initial: f64,
    trades: u64,
    wins: u64,
    losses: u64,
    closes: u64,
    sum_wins: f64,
    sum_losses: f64,
    long_trades: u64,
    short_trades: u64,
    long_pnl: f64,
    short_pnl: f64,
    volume: f64,
    peak: f64,
    max_dd: f64,
    max_dd_pct: f64,
    run_below: u64,
    max_run_below: u64,
    peak_im: f64,
    peak_mm: f64,
    peak_imr_pct: f64,
    peak_mmr_pct: f64,
    ticks: u64,
    ticks_in_market: u64,
    first_ts: Option<i64>,
    last_ts: Option<i64>,
    hourly: HourlyReturns,
}

/// Equity marks strictly between `lo` and `hi` at times before `until_ms` change only the
/// counters of a [`MetricsAccumulator`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StillWindow {
    /// Exclusive lower equity bound.
    pub lo: f64,
    /// Exclusive upper equity bound (the peak).
    pub hi: f64,
    /// Marks must come before this time (the end of the current hourly bucket).
    pub until_ms: i64,
}

/// The prices of a bybit liquidation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LiquidationRecord {
    /// Where equity reached the maintenance margin.
    pub trigger: f64,
    /// Where every position was closed (the account's equity after the taker fee is zero).
    pub bankruptcy: f64,
    /// The price of the tick on which it happened (past the trigger on a gap).
    pub tick_price: f64,
}

/// End-of-run figures the engine supplies to [`MetricsAccumulator::finish`].
#[derive(Clone, Copy, Debug, Default)]
pub struct FinalState {
    /// Σ realised PnL.
    pub realized: f64,
    /// Unrealised PnL at the last price.
    pub unrealized: f64,
    /// Σ fees.
    pub commission: f64,
    /// Σ funding received.
    pub funding: f64,
    /// Distinct opening orders refused for lack of margin.
    pub orders_rejected: u64,
    /// Every refusal (a level refused again after a book change counts again).
    pub rejection_events: u64,
    /// Where the bybit account was liquidated, when it was.
    pub liquidation: Option<LiquidationRecord>,
    /// Liquidation time, when liquidated.
    pub liquidation_ts_ms: Option<i64>,
    /// Smallest % distance to the estimated liquidation price.
    pub min_liq_distance_pct: Option<f64>,
    /// The price path liquidation and margins followed.
    pub liquidation_price_source: super::PriceSource,
    /// Final long size and entry.
    pub long: (f64, f64),
    /// Final short size and entry.
    pub short: (f64, f64),
}

impl MetricsAccumulator {
    /// A fresh accumulator for a run starting with `initial_balance`.
    pub fn new(initial_balance: f64) -> Self {
        MetricsAccumulator { initial: initial_balance, peak: initial_balance, ..Default::default() }
    }

    /// Records a fill. `realized` is `Some` for a closing fill on a non-empty position.
    #[inline]
    pub fn on_fill(&mut self, long_book: bool, qty: f64, price: f64, realized: Option<f64>) {
        self.trades += 1;
        self.volume += qty * price;
        if long_book {
            self.long_trades += 1;
        } else {
            self.short_trades += 1;
        }
        if let Some(r) = realized {
            self.closes += 1;
            if long_book {
                self.long_pnl += r;
            } else {
                self.short_pnl += r;
            }
            if r > 0.0 {
                self.wins += 1;
                self.sum_wins += r;
            } else if r < 0.0 {
                self.losses += 1;
                self.sum_losses += r;
            }
        }
    }

    /// Records the equity mark of one tick with the margin in use.
    #[inline]
    pub fn on_tick(&mut self, ts_ms: i64, equity: f64, im: f64, mm: f64, in_market: bool) {
        if self.first_ts.is_none() {
            self.first_ts = Some(ts_ms);
        }
        self.last_ts = Some(ts_ms);
        self.ticks += 1;
        self.ticks_in_market += u64::from(in_market);
        self.mark_drawdown(equity);
        self.mark_margins(im, mm, equity);
        self.hourly.push(ts_ms, equity);
    }

    /// Records the four equity marks of a candle at `ts`, `ts` + 15 s, + 30 s and + 45 s with
    /// unchanged margins: the same state as four calls of [`MetricsAccumulator::on_tick`].
    #[inline]
    pub fn on_quiet_candle(
        &mut self,
        ts: i64,
        equity: &[f64; 4],
        im: f64,
        mm: f64,
        in_market: bool,
    ) {
        let last_ts = ts + 45_000;
        if self.first_ts.is_none() || last_ts >= self.hourly.bucket_end_ms {
            for (k, &e) in equity.iter().enumerate() {
                self.on_tick(ts + 15_000 * k as i64, e, im, mm, in_market);
            }
            return;
        }
        self.on_quiet_candle_counts(ts, equity, in_market);
        // x / e is monotone in e, so the largest margin ratio of the four is at the smallest
        // positive equity (0 when there is none: no ratio, as per tick).
        let lowest =
            equity.iter().fold(f64::INFINITY, |m, &e| if e > 0.0 && e < m { e } else { m });
        self.mark_margins(im, mm, if lowest.is_finite() { lowest } else { 0.0 });
    }

    /// [`MetricsAccumulator::on_quiet_candle`] with margins valued at each mark's price
    /// (`margins[k]` = (IM, MM) of mark k): the same state as four calls of
    /// [`MetricsAccumulator::on_tick`].
    #[inline]
    pub fn on_quiet_candle_priced(
        &mut self,
        ts: i64,
        equity: &[f64; 4],
        margins: &[(f64, f64); 4],
        in_market: bool,
    ) {
        let last_ts = ts + 45_000;
        if self.first_ts.is_none() || last_ts >= self.hourly.bucket_end_ms {
            for k in 0..4 {
                let (im, mm) = margins[k];
                self.on_tick(ts + 15_000 * k as i64, equity[k], im, mm, in_market);
            }
            return;
        }
        self.on_quiet_candle_counts(ts, equity, in_market);
        for k in 0..4 {
            self.mark_margins(margins[k].0, margins[k].1, equity[k]);
        }
    }

    /// The margin-free part of a quiet candle inside one hourly bucket: ticks, time in
    /// market, drawdown and time below the peak, the hour's last mark.
    #[inline]
    fn on_quiet_candle_counts(&mut self, ts: i64, equity: &[f64; 4], in_market: bool) {
        self.last_ts = Some(ts + 45_000);
        self.ticks += 4;
        self.ticks_in_market += 4 * u64::from(in_market);
        if equity.iter().all(|&e| e < self.peak) {
            // No new peak (and no NaN): the deepest mark gives the largest drawdown and
            // drawdown %, both monotone in the equity, and every mark extends the run below.
            let deepest = equity.iter().fold(f64::INFINITY, |m, &e| if e < m { e } else { m });
            self.record_drawdown(self.peak - deepest);
            self.run_below += 4;
            self.max_run_below = self.max_run_below.max(self.run_below);
        } else {
            for &e in equity {
                self.mark_drawdown(e);
            }
        }
        self.hourly.bucket_last = equity[3];
    }

    /// False when margins at most `im` and `mm` at an equity of at least `low_equity` (> 0)
    /// cannot change the margin peaks or peak shares (`mark_margins` would do nothing).
    #[inline]
    #[allow(clippy::neg_cmp_op_on_partial_ord)] // a NaN must answer "may"
    pub fn margins_may_set_a_peak(&self, im: f64, mm: f64, low_equity: f64) -> bool {
        !(low_equity > 0.0
            && im <= self.peak_im
            && mm <= self.peak_mm
            && im * 100.0 < self.peak_imr_pct * low_equity * (1.0 - 1e-12)
            && mm * 100.0 < self.peak_mmr_pct * low_equity * (1.0 - 1e-12))
    }

    /// Records margins `im` and `mm` in use at an account equity of `equity` (the bybit
    /// liquidation trigger), without an equity mark.
    #[inline]
    pub fn mark_margins_at(&mut self, im: f64, mm: f64, equity: f64) {
        self.mark_margins(im, mm, equity);
    }

    /// The equity marks that change nothing but the counters (ticks, time in market, time
    /// below the peak, the hour's last mark), given margins `im` and `mm`: `None` when no
    /// mark can (before the first tick, with no drawdown yet, or margins above their peaks).
    /// Bounds are exact; a caller comparing rounded equities keeps a margin inside them.
    #[allow(clippy::neg_cmp_op_on_partial_ord)] // a NaN must answer "empty"
    pub fn still_window(&self, im: f64, mm: f64) -> Option<StillWindow> {
        if self.first_ts.is_none() || !(self.peak > 0.0) || im > self.peak_im || mm > self.peak_mm {
            return None;
        }
        // Below the peak (`mark_drawdown` then only counts), no deeper drawdown than the
        // maximum, and short of the multiply test `record_drawdown` divides after.
        let room = self.max_dd.min(self.max_dd_pct * self.peak * (1.0 - 1e-12) / 100.0);
        let mut lo = self.peak - room;
        // Short of `mark_margins`' multiply tests (a zero margin never sets a new peak share).
        for (margin, peak_pct) in [(im, self.peak_imr_pct), (mm, self.peak_mmr_pct)] {
            if margin > 0.0 {
                if !(peak_pct > 0.0) {
                    return None;
                }
                lo = lo.max(margin * 100.0 / (peak_pct * (1.0 - 1e-12)));
            }
        }
        (lo < self.peak && lo.is_finite()).then_some(StillWindow {
            lo,
            hi: self.peak,
            until_ms: self.hourly.bucket_end_ms,
        })
    }

    /// Records `n` candles' marks that all lay strictly inside [`Self::still_window`], the
    /// last at `last_ts_ms` with equity `last_equity`: the same state as `4 n` calls of
    /// [`MetricsAccumulator::on_tick`].
    #[inline]
    pub fn on_still_candles(&mut self, n: u64, last_ts_ms: i64, last_equity: f64, in_market: bool) {
        self.last_ts = Some(last_ts_ms);
        self.ticks += 4 * n;
        self.ticks_in_market += 4 * n * u64::from(in_market);
        self.run_below += 4 * n;
        self.max_run_below = self.max_run_below.max(self.run_below);
        self.hourly.bucket_last = last_equity;
    }

    /// Peak, drawdown and time below the peak for one equity mark.
    #[inline]
    fn mark_drawdown(&mut self, equity: f64) {
        if equity >= self.peak {
            self.peak = equity;
        }
        self.record_drawdown(self.peak - equity);
        if equity < self.peak {
            self.run_below += 1;
            self.max_run_below = self.max_run_below.max(self.run_below);
        } else {
            self.run_below = 0;
        }
    }

    /// Maximum drawdown, absolute and in % of the current peak.
    #[inline]
    fn record_drawdown(&mut self, dd: f64) {
        if dd > self.max_dd {
            self.max_dd = dd;
        }
        // Divide only when a new maximum is possible (the multiply test is conservative).
        if self.peak > 0.0 && dd * 100.0 >= self.max_dd_pct * self.peak * (1.0 - 1e-12) {
            let pct = dd / self.peak * 100.0;
            if pct > self.max_dd_pct {
                self.max_dd_pct = pct;
            }
        }
    }

    /// Peak margins in use, and their peak share of a positive `equity`.
    #[inline]
    fn mark_margins(&mut self, im: f64, mm: f64, equity: f64) {
        if im > self.peak_im {
            self.peak_im = im;
        }
        if mm > self.peak_mm {
            self.peak_mm = mm;
        }
        if equity > 0.0 {
            if im * 100.0 >= self.peak_imr_pct * equity * (1.0 - 1e-12) {
                let a = im / equity * 100.0;
                if a > self.peak_imr_pct {
                    self.peak_imr_pct = a;
                }
            }
            if mm * 100.0 >= self.peak_mmr_pct * equity * (1.0 - 1e-12) {
                let b = mm / equity * 100.0;
                if b > self.peak_mmr_pct {
                    self.peak_mmr_pct = b;
                }
            }
        }
    }

    /// The running drawdown and margin peaks into `v` (the stop limits' view).
    #[inline]
    pub fn limit_values(&self, v: &mut crate::engine::stop::LimitValues) {
        v.max_drawdown_pct = self.max_dd_pct;
        v.max_drawdown = self.max_dd;
        v.max_drawdown_duration = self.max_run_below;
        v.peak_imr_pct = self.peak_imr_pct;
        v.peak_mmr_pct = self.peak_mmr_pct;
        v.peak_im = self.peak_im;
        v.peak_mm = self.peak_mm;
    }

    /// Consecutive ticks below the peak up to now.
    #[inline]
    pub fn run_below(&self) -> u64 {
        self.run_below
    }

    /// Σ wins and Σ losses so far (for tests and reports).
    pub fn win_loss_sums(&self) -> (f64, f64) {
        (self.sum_wins, self.sum_losses)
    }

    /// Completes the metrics with the run's final state.
    pub fn finish(&self, f: &FinalState) -> Metrics {
        let mut final_balance = self.initial + f.realized + f.unrealized - f.commission + f.funding;
        // A liquidation closes at the bankruptcy price, where equity after the fee is zero;
        // only its rounding residue (far below a cent) can fall under zero.
        if f.liquidation.is_some() && final_balance < 0.0 && -final_balance < 1e-9 * self.initial {
            final_balance = 0.0;
        }
        let net = final_balance - self.initial;
        let return_pct = net / self.initial * 100.0;
        let (sharpe, sortino) = self.hourly.finish();
        let span_ms = match (self.first_ts, self.last_ts) {
            (Some(a), Some(b)) => (b - a) as f64,
            _ => 0.0,
        };
        // Arithmetic annualisation: compounding a short window's return explodes.
        let annual_return_pct =
            if span_ms > 0.0 { return_pct * (YEAR_MS / span_ms) } else { return_pct };
        let calmar = (self.max_dd_pct > 0.0 && annual_return_pct.is_finite())
            .then(|| annual_return_pct / self.max_dd_pct);
        Metrics {
            total_trades: self.trades,
            winning_trades: self.wins,
            losing_trades: self.losses,
            win_rate: if self.closes > 0 { self.wins as f64 / self.closes as f64 } else { 0.0 },
            avg_win: if self.wins > 0 { self.sum_wins / self.wins as f64 } else { 0.0 },
            avg_loss: if self.losses > 0 { self.sum_losses / self.losses as f64 } else { 0.0 },
            total_realized_pnl: f.realized,
            total_unrealized_pnl: f.unrealized,
            total_commission: f.commission,
            total_funding: f.funding,
            initial_balance: self.initial,
            final_balance,
            net_pnl: net,
            return_pct,
            max_drawdown: self.max_dd,
            max_drawdown_pct: self.max_dd_pct,
            max_drawdown_duration: self.max_run_below,
            sharpe_ratio: sharpe,
            sortino_ratio: sortino,
            calmar_ratio: calmar,
            profit_factor: (self.sum_losses < 0.0).then(|| self.sum_wins / -self.sum_losses),
            total_volume: self.volume,
            turnover: self.volume / self.initial,
            long_trades: self.long_trades,
            short_trades: self.short_trades,
            long_pnl: self.long_pnl,
            short_pnl: self.short_pnl,
            peak_im: self.peak_im,
            peak_mm: self.peak_mm,
            peak_imr_pct: self.peak_imr_pct,
            peak_mmr_pct: self.peak_mmr_pct,
            round_trips: self.closes,
            time_in_market_pct: if self.ticks > 0 {
                self.ticks_in_market as f64 / self.ticks as f64 * 100.0
            } else {
                0.0
            },
            orders_rejected: f.orders_rejected,
            rejection_events: f.rejection_events,
            liquidation_trigger_price: f.liquidation.map(|l| l.trigger),
            bankruptcy_price: f.liquidation.map(|l| l.bankruptcy),
            liquidation_tick_price: f.liquidation.map(|l| l.tick_price),
            liquidated: f.liquidation_ts_ms.is_some(),
            liquidation_ts_ms: f.liquidation_ts_ms,
            min_liq_distance_pct: f.min_liq_distance_pct,
            liquidation_price_source: f.liquidation_price_source,
            final_long_size: f.long.0,
            final_long_entry: f.long.1,
            final_short_size: f.short.0,
            final_short_entry: f.short.1,
            ticks: self.ticks,
            first_ts_ms: self.first_ts,
            last_ts_ms: self.last_ts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawdown_peak_starts_at_initial_balance() {
        // Origin test_session: equity 10000, then +500 (peak 10500), then +300: max_dd 200.
        let mut a = MetricsAccumulator::new(10_000.0);
        a.on_tick(0, 10_000.0, 0.0, 0.0, false);
        a.on_tick(60_000, 10_500.0, 0.0, 0.0, false);
        a.on_tick(120_000, 10_300.0, 0.0, 0.0, false);
        let m = a.finish(&FinalState { realized: 300.0, ..Default::default() });
        assert_eq!(m.max_drawdown, 200.0);
        assert!((m.max_drawdown_pct - 200.0 / 10_500.0 * 100.0).abs() < 1e-12);
        assert_eq!(m.max_drawdown_duration, 1);
        assert_eq!(m.return_pct, 3.0);
    }

    #[test]
    fn equity_and_win_rate_follow_fixed_definitions() {
        // Origin test_session: realised 100, commission 10, funding −5, unrealised 50 → 10135.
        let a = MetricsAccumulator::new(10_000.0);
        let m = a.finish(&FinalState {
            realized: 100.0,
            commission: 10.0,
            funding: -5.0,
            unrealized: 50.0,
            ..Default::default()
        });
        assert_eq!(m.final_balance, 10_135.0);
        // Trades +200/−100 → PF 2; one opening fill does not dilute the win rate.
        let mut a = MetricsAccumulator::new(10_000.0);
        a.on_fill(true, 1.0, 100.0, None);
        a.on_fill(true, 1.0, 300.0, Some(200.0));
        a.on_fill(false, 1.0, 100.0, Some(-100.0));
        let m = a.finish(&FinalState::default());
        assert_eq!(m.profit_factor, Some(2.0));
        assert_eq!(m.win_rate, 0.5);
        assert_eq!(m.total_trades, 3);
        assert_eq!(m.round_trips, 2);
        assert_eq!(m.total_volume, 500.0);
        // No losses: profit factor undefined (+∞, null).
        let mut a = MetricsAccumulator::new(10_000.0);
        a.on_fill(true, 1.0, 100.0, Some(5.0));
        assert_eq!(a.finish(&FinalState::default()).profit_factor, None);
    }

    #[test]
    fn calmar_is_annualised_return_over_drawdown_pct() {
        // One day, +1 % with a 2 % drawdown on the way: 365.25 % a year / 2 % = 182.625.
        let mut a = MetricsAccumulator::new(100.0);
        a.on_tick(0, 100.0, 0.0, 0.0, false);
        a.on_tick(3_600_000, 98.0, 0.0, 0.0, false);
        a.on_tick(86_400_000, 101.0, 0.0, 0.0, false);
        let m = a.finish(&FinalState { realized: 1.0, ..Default::default() });
        assert!((m.calmar_ratio.unwrap() - 182.625).abs() < 1e-9, "{:?}", m.calmar_ratio);
        // No drawdown: undefined.
        let mut a = MetricsAccumulator::new(100.0);
        a.on_tick(0, 100.0, 0.0, 0.0, false);
        assert_eq!(a.finish(&FinalState::default()).calmar_ratio, None);
    }

    #[test]
    fn margin_peaks_follow_origin_session_vector() {
        // The origin's session vector (docs/metrics.md): update_equity(..., IM 500, MM 50) on equity 10000.
        let mut a = MetricsAccumulator::new(10_000.0);
        a.on_tick(0, 10_000.0, 500.0, 50.0, true);
        a.on_tick(60_000, 10_000.0, 100.0, 10.0, true);
        let m = a.finish(&FinalState::default());
        assert_eq!((m.peak_im, m.peak_mm), (500.0, 50.0));
        assert!((m.peak_imr_pct - 5.0).abs() < 1e-12 && (m.peak_mmr_pct - 0.5).abs() < 1e-12);
        assert_eq!(m.time_in_market_pct, 100.0);
        // Percentages are evaluated only while equity is positive.
        let mut a = MetricsAccumulator::new(100.0);
        a.on_tick(0, -5.0, 500.0, 50.0, true);
        assert_eq!(a.finish(&FinalState::default()).peak_imr_pct, 0.0);
    }

    #[test]
    fn hourly_sharpe_matches_hand_calculation() {
        // Bucket closes 100, 110, 99 → returns 0.1, −0.1: mean 0, Sharpe 0.
        // Closes 100, 110, 121, 127.05 → returns 0.1, 0.1, 0.05.
        let mut a = MetricsAccumulator::new(100.0);
        for (h, v) in [(0, 100.0), (1, 110.0), (2, 121.0), (3, 127.05)] {
            a.on_tick(h * HOUR_MS + 5, v - 1.0, 0.0, 0.0, false); // overwritten within the bucket
            a.on_tick(h * HOUR_MS + 10, v, 0.0, 0.0, false);
        }
        let m = a.finish(&FinalState::default());
        let r = [0.1f64, 0.1, 0.05];
        let mean = r.iter().sum::<f64>() / 3.0;
        let sd = (r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
        assert!((m.sharpe_ratio - mean / sd * HOURS_PER_YEAR.sqrt()).abs() < 1e-9);
        assert_eq!(m.sortino_ratio, 0.0); // no negative return
    }

    proptest::proptest! {
        /// Four marks at once leave exactly the state of four single marks.
        #[test]
        fn quiet_candle_equals_four_ticks(
            marks in proptest::collection::vec(
                (proptest::array::uniform4(-50i32..50), 0u8..3, proptest::bool::ANY),
                1..200,
            ),
            start in 0i64..3_600_000,
        ) {
            let (mut one, mut four) = (MetricsAccumulator::new(100.0), MetricsAccumulator::new(100.0));
            let mut ts = 1_769_904_000_000 + start;
            for (m, margin, in_market) in marks {
                let eq = m.map(|x| 100.0 + f64::from(x) * 0.37);
                let (im, mm) = (f64::from(margin) * 3.1, f64::from(margin) * 1.3);
                for (k, &e) in eq.iter().enumerate() {
                    one.on_tick(ts + 15_000 * k as i64, e, im, mm, in_market);
                }
                four.on_quiet_candle(ts, &eq, im, mm, in_market);
                proptest::prop_assert_eq!(format!("{one:?}"), format!("{four:?}"));
                ts += 60_000 + i64::from(margin) * 25_000; // hour edges fall inside candles too
            }
        }

        /// Marks inside the still window, accounted at once, leave the state of single marks;
        /// the window is empty before any drawdown and never reaches the peak.
        #[test]
        fn still_candles_equal_single_marks(
            marks in proptest::collection::vec(
                (proptest::array::uniform4(-50i32..50), 0u8..3, proptest::bool::ANY),
                1..120,
            ),
            probes in proptest::collection::vec((0.0f64..1.0, 1u64..6), 1..20),
        ) {
            let (mut one, mut batch) = (MetricsAccumulator::new(100.0), MetricsAccumulator::new(100.0));
            let mut ts = 1_769_904_000_000;
            let (im, mm) = (2.0, 0.7);
            for (m, margin, in_market) in marks {
                let eq = m.map(|x| 100.0 + f64::from(x) * 0.37);
                let (a, b) = (f64::from(margin) * 3.1, f64::from(margin) * 1.3);
                one.on_quiet_candle(ts, &eq, a.max(im), b.max(mm), in_market);
                batch.on_quiet_candle(ts, &eq, a.max(im), b.max(mm), in_market);
                ts += 60_000;
            }
            if one.max_dd == 0.0 {
                proptest::prop_assert!(one.still_window(im, mm).is_none());
            }
            let Some(w) = one.still_window(im, mm) else { return Ok(()) };
            proptest::prop_assert!(w.lo < w.hi && w.hi == one.peak);
            for (f, n) in probes {
                let e = w.lo + (w.hi - w.lo) * (0.001 + 0.998 * f);
                let mut last = ts;
                for _ in 0..n {
                    if ts + 45_000 >= w.until_ms {
                        return Ok(());
                    }
                    for k in 0..4 {
                        one.on_tick(ts + 15_000 * k, e, im, mm, true);
                    }
                    last = ts + 45_000;
                    ts += 60_000;
                }
                batch.on_still_candles(n, last, e, true);
                proptest::prop_assert_eq!(format!("{one:?}"), format!("{batch:?}"));
            }
        }
    }
}
