//! The quiet band: after a full tick, the prices and times at which the next tick cannot
//! change anything but the equity mark (no funding, no fill, no rebuild, no placement, no
//! new rejection, no liquidation). Ticks inside it take [`Engine::quiet_tick`], which does
//! exactly what the full path does in that case, so results are identical bit for bit.
//!
//! Every bound is conservative: a tick near a threshold simply takes the full path.

use super::{Engine, Setup, DIRS, FUNDING_PERIOD_MS};
use crate::engine::grid::LevelSide;
use crate::engine::params::Model;
use crate::engine::position::{Direction, Side};
use crate::engine::{Recorder, RunContext, Tick, TICK_OFFSETS_MS};

/// Relative safety margin around the placement-filter thresholds.
const EPS: f64 = 1e-9;

/// Highest buy and lowest sell price among the live orders (−∞ and +∞ when none), from
/// their fill triggers (a tombstone's are ±∞). Only out-of-order ladders need it.
#[inline(never)] // a rare path, kept out of `compute_band`
fn order_extremes(triggers: &[[f64; 2]]) -> (f64, f64) {
    triggers.iter().fold((f64::NEG_INFINITY, f64::INFINITY), |(lo, hi), t| {
        (if t[0] > lo { t[0] } else { lo }, if t[1] < hi { t[1] } else { hi })
    })
}

/// Inclusive price band `[lo, hi]` valid for ticks before `until` (ms).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Band {
    lo: f64,
    hi: f64,
    until: i64,
}

impl Default for Band {
    fn default() -> Self {
        Band::EMPTY
    }
}

impl Band {
    /// A band no tick is in.
    pub(super) const EMPTY: Band =
        Band { lo: f64::INFINITY, hi: f64::NEG_INFINITY, until: i64::MIN };

    /// The band `[lo, hi]` for ticks before `until` (ms).
    #[inline]
    pub(super) fn new(lo: f64, hi: f64, until: i64) -> Band {
        Band { lo, hi, until }
    }

    /// This band for ticks before `until` at the latest.
    #[inline]
    pub(super) fn until_at_most(self, until: i64) -> Band {
        Band { until: self.until.min(until), ..self }
    }

    /// `(lo, hi, until)`.
    #[inline]
    pub(super) fn limits(&self) -> (f64, f64, i64) {
        (self.lo, self.hi, self.until)
    }

    #[inline]
    pub(super) fn contains(&self, t: Tick) -> bool {
        t.ts_ms < self.until && self.lo <= t.price && t.price <= self.hi
    }

    /// True when the price `q` is inside the band's prices (a mark price of a tick that
    /// [`Band::contains`]).
    #[inline]
    pub(super) fn contains_price(&self, q: f64) -> bool {
        self.lo <= q && q <= self.hi
    }

    /// True when all four ticks of the candle opening at `ts` (`prices`: its open, high, low
    /// and close in any order) are inside the band, and so also finite and positive: a band
    /// with `lo > 0` admits no other price.
    #[inline]
    pub(super) fn contains_candle(&self, ts: i64, prices: &[f64; 4]) -> bool {
        let inside = |p: f64| (self.lo <= p) & (p <= self.hi);
        (ts.saturating_add(TICK_OFFSETS_MS[3]) < self.until)
            & (self.lo > 0.0)
            & inside(prices[0])
            & inside(prices[1])
            & inside(prices[2])
            & inside(prices[3])
    }
}

impl Engine {
    /// The full path's work on a tick (at mark price `mark`) that changes nothing: the
    /// equity mark only.
    #[inline]
    pub(super) fn quiet_tick<R: Recorder>(
        &mut self,
        s: &Setup,
        ctx: &RunContext<'_>,
        t: Tick,
        mark: f64,
        rec: &mut R,
    ) {
        let (ts, p) = (t.ts_ms, t.price);
        self.last_price = p;
        self.last_mark = mark;
        if s.model == Model::Bybit {
            self.im_mm = self.margins_in_band(s, ctx.tiers, mark);
        }
        let equity = self.equity_at(s, p);
        self.mark_equity(ts, mark, equity, rec);
        self.last_close = Some(p);
    }

    /// [`Engine::quiet_tick`] for the four ticks of a candle inside the band (last prices
    /// `prices`, mark prices `marks`), the metrics updated for all four at once.
    #[inline]
    pub(super) fn quiet_candle(
        &mut self,
        s: &Setup,
        ctx: &RunContext<'_>,
        ts: i64,
        prices: [f64; 4],
        marks: [f64; 4],
    ) -> [f64; 4] {
        let equity = prices.map(|p| self.equity_at(s, p));
        let in_market = self.in_market();
        if s.model == Model::Bybit && in_market {
            // Margins at each mark (valued at the price), with the band's tiers. They grow
            // with the price (every operation is monotone), so those at the candle's top
            // bound all four: when even they cannot set a peak, no mark's can.
            // The band's top bounds them too, and is computed once per band.
            let low_equity = equity[0].min(equity[1]).min(equity[2]).min(equity[3]);
            let (im_band, mm_band) = self.band_top_margins;
            if self.accum.margins_may_set_a_peak(im_band, mm_band, low_equity) && {
                let top = marks[0].max(marks[1]).max(marks[2]).max(marks[3]);
                let (im_top, mm_top) = self.margins_in_band(s, ctx.tiers, top);
                self.accum.margins_may_set_a_peak(im_top, mm_top, low_equity)
            } {
                let margins = marks.map(|p| self.margins_in_band(s, ctx.tiers, p));
                self.accum.on_quiet_candle_priced(ts, &equity, &margins, in_market);
            } else {
                self.accum.on_quiet_candle(ts, &equity, 0.0, 0.0, in_market);
            }
        } else {
            self.accum.on_quiet_candle(ts, &equity, self.im_mm.0, self.im_mm.1, in_market);
        }
        let [long, short] = self.liq_watched();
        if (long || short) && self.liq_distance_may_drop(marks) {
            for p in marks {
                self.track_liq_distance(p);
            }
        }
        self.balance = equity[3];
        self.last_price = prices[3];
        self.last_mark = marks[3];
        self.last_close = Some(prices[3]);
        equity
    }

    /// False when no price of the candle can set a new minimum liquidation distance: the
    /// long distance `100 (p − L) / p` grows with `p` and the short one `100 (S − p) / p`
    /// shrinks, so the lowest and the highest price bound them. The margin (1e-9, relative)
    /// dwarfs the rounding of those expressions, so a near case takes the exact per-tick test.
    #[inline]
    #[allow(clippy::neg_cmp_op_on_partial_ord)] // NaN must answer "may drop"
    fn liq_distance_may_drop(&self, prices: [f64; 4]) -> bool {
        let Some(m) = self.min_liq_dist else { return true };
        let lo = prices[0].min(prices[1]).min(prices[2]).min(prices[3]);
        let hi = prices[0].max(prices[1]).max(prices[2]).max(prices[3]);
        let floor = m + 1e-9 * (1.0 + m.abs());
        let [long, short] = self.liq_watched();
        // Written so that a NaN anywhere answers "may drop" (the exact test then decides).
        (long && !((lo - self.liq_px[0]) / lo * 100.0 > floor))
            || (short && !((self.liq_px[1] - hi) / hi * 100.0 > floor))
    }

    /// First time after `ts` at which funding could be due.
    fn funding_until(&self, s: &Setup, ctx: &RunContext<'_>, ts: i64) -> i64 {
        if !s.funding {
            return i64::MAX;
        }
        match ctx.funding_series {
            Some(series) => series.get(self.funding_idx).map_or(i64::MAX, |e| e.0),
            None if s.model == Model::Bybit => self.next_funding_ms,
            None => (ts.div_euclid(FUNDING_PERIOD_MS) + 1) * FUNDING_PERIOD_MS,
        }
    }

    /// Computes the band after the full tick `t` (at mark price `mark`): its last prices
    /// fill nothing and its mark prices liquidate nothing, so a tick whose last and mark
    /// prices both lie in it is quiet.
    pub(super) fn compute_band(
        &mut self,
        s: &Setup,
        ctx: &RunContext<'_>,
        t: Tick,
        mark: f64,
    ) -> Band {
        if self.grid.is_empty() || self.liquidated_at.is_some() {
            return Band::EMPTY;
        }
        let until = self.funding_until(s, ctx, t.ts_ms);
        // The planner must have nothing to cancel (those intents do not depend on price).
        let levels = self.grid.levels().len();
        let book = self.book.stats;
        if book.count[0] > levels + 10 || book.count[1] > levels + 10 {
            return Band::EMPTY;
        }
        self.ensure_survivors();
        if self.map.dups.iter().chain(&self.map.off_grid).any(|v| !v.is_empty()) {
            return Band::EMPTY;
        }
        // No fill: strict cross, so a buy at L is safe for p ≥ L and a sell for p ≤ L.
        let (mut lo, mut hi) = self.grid.bounds();
        let (buy_max, sell_min) = if self.grid.is_sorted_unique() {
            self.slot_extremes()
        } else {
            order_extremes(&self.book.triggers)
        };
        lo = lo.max(buy_max);
        hi = hi.min(sell_min);
        if lo > hi || lo.is_nan() || hi.is_nan() {
            return Band::EMPTY;
        }
        for d in DIRS {
            // Levels without an order: a placement becomes possible past the filter threshold.
            let half = self.grid.grid_step() / 2.0;
            let buy_scale = (1.0 - EPS) / (1.0 - half / 100.0);
            let sell_scale = (1.0 + EPS) / (1.0 + half / 100.0);
            // Only levels the plan found without a matching order can be open now; the
            // rest kept their order through execution.
            let listed = if self.planner.open_levels_ok {
                self.planner.open_levels[d.index()].len()
            } else {
                levels
            };
            for k in 0..listed {
                let li = if self.planner.open_levels_ok {
                    self.planner.open_levels[d.index()][k] as usize
                } else {
                    k
                };
                let level = self.grid.levels()[li];
                let side = match level.side {
                    LevelSide::Buy => Side::Buy,
                    LevelSide::Sell => Side::Sell,
                    LevelSide::Wait => continue,
                };
                if let Some(o) = self.survivor(d, li) {
                    if o.side != side {
                        return Band::EMPTY; // a side-mismatch cancel is pending
                    }
                    continue;
                }
                // The close gate holds whatever the price (the common case: no position).
                let di = d.index();
                if side.closes(d) && self.legs[di].lots <= self.book.stats.pending_close[di] {
                    continue;
                }
                // BUY is eligible for p > L / (1 − g/200); SELL for p < L / (1 + g/200).
                // (Reciprocals: their rounding is far inside the EPS margin.)
                let threshold = match side {
                    Side::Buy => level.price * buy_scale,
                    Side::Sell => level.price * sell_scale,
                };
                let (a, b) = match side {
                    Side::Buy => (threshold.max(lo), hi),
                    Side::Sell => (lo, threshold.min(hi)),
                };
                if a > b || self.placement_fails_everywhere(s, ctx, d, side, level.price, a, b) {
                    continue;
                }
                match side {
                    Side::Buy => hi = hi.min(threshold),
                    Side::Sell => lo = lo.max(threshold),
                }
                if lo > hi {
                    return Band::EMPTY;
                }
            }
        }
        // Cross-margin liquidation (bybit): the band stays in the positions' margin tiers (so
        // quiet marks value margins with the same tiers) and equity stays above MM over it.
        if s.model == Model::Bybit && self.in_market() {
            let (m, x) = (s.margin_model(ctx.tiers), self.exposure(s));
            // The tiers' price window is kept until the positions change.
            let (w_lo, w_hi) = self.tier_window;
            if !(w_lo <= mark && mark <= w_hi) {
                self.tier_window = m.tier_band(&x, mark);
                self.mkeys = m.keys_at(&x, mark);
            }
            let (tier_lo, tier_hi) = self.tier_window;
            lo = lo.max(tier_lo);
            hi = hi.min(tier_hi);
            if lo > hi || lo.is_nan() || hi.is_nan() {
                return Band::EMPTY;
            }
            // Inside the account's own liquidation prices (known since the last change of
            // the positions), with a margin; the end-point check below confirms it.
            let [below, above] = self.liq_px;
            if below > 0.0 {
                lo = lo.max(below * (1.0 + 1e-9));
            }
            if above > 0.0 {
                hi = hi.min(above * (1.0 - 1e-9));
            }
            if lo > hi || lo.is_nan() || hi.is_nan() {
                return Band::EMPTY;
            }
            // An end strictly inside the liquidation prices (past their margin) is safe: the
            // cushion is concave and zero only there. An end on that margin is checked.
            let lo_known = below == 0.0 || lo > below * (1.0 + 1e-9);
            let hi_known = above == 0.0 || hi < above * (1.0 - 1e-9);
            let anchor = mark.clamp(lo, hi);
            let mut ok = false;
            for k in 0..60 {
                let safe = |end: f64, known: bool| (k == 0 && known) || m.cushion(&x, end) > 0.0;
                // The cushion is concave in the price: safe at both ends, safe between.
                if safe(lo, lo_known) && safe(hi, hi_known) {
                    ok = true;
                    break;
                }
                lo = anchor - (anchor - lo) / 2.0;
                hi = anchor + (hi - anchor) / 2.0;
            }
            if !ok {
                return Band::EMPTY;
            }
            self.band_top_margins = if hi.is_finite() {
                self.margins_in_band(s, ctx.tiers, hi)
            } else {
                (f64::INFINITY, f64::INFINITY)
            };
        }
        Band { lo, hi, until }
    }

    /// [`order_extremes`] from the survivor map, when every live order has a slot (a current
    /// map without duplicates or off-ladder orders) and the ladder ascends: the first buy
    /// slot from the top and the first sell slot from the bottom. (The trigger scan serves
    /// the origin's out-of-order ladders.)
    fn slot_extremes(&self) -> (f64, f64) {
        let levels = self.grid.levels();
        let (top_buy, bottom_sell) = self.map.extreme_levels();
        let buy_max = top_buy.map_or(f64::NEG_INFINITY, |li| levels[li].price);
        let sell_min = bottom_sell.map_or(f64::INFINITY, |li| levels[li].price);
        (buy_max, sell_min)
    }

    /// True when, for every price in `[a, b]`, placing `side` at `price` in `dir` would be
    /// dropped without changing any state (close gate, zero size, or a repeated rejection).
    #[allow(clippy::too_many_arguments)]
    fn placement_fails_everywhere(
        &self,
        s: &Setup,
        ctx: &RunContext<'_>,
        dir: Direction,
        side: Side,
        price: f64,
        a: f64,
        b: f64,
    ) -> bool {
        let pos = self.legs[dir.index()].lots;
        let pending = self.book.stats.pending_close[dir.index()];
        if side.closes(dir) && pos <= pending {
            return true;
        }
        let (ea, eb) = (self.equity_at(s, a), self.equity_at(s, b));
        let (e_min, e_max) = (ea.min(eb), ea.max(eb));
        // Sizes never shrink as equity grows, so the smallest size is at the lowest equity.
        let lots_min = self.resolved_lots(s, dir, side, price, e_min);
        if side.closes(dir) {
            return pos <= pending + lots_min;
        }
        let lots_max = self.resolved_lots(s, dir, side, price, e_max);
        if lots_max <= 0 {
            return true;
        }
        if s.model != Model::Bybit
            || !self.planner.rejected.contains(&(dir, price))
            || lots_min <= 0
        {
            return false;
        }
        // The order cost grows with the price, so its least is at the band's low end.
        self.im_with(s, ctx.tiers, dir, s.qty_of(lots_min) * price, a) > e_max
    }
}
