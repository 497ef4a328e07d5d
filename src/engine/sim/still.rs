//! The still band: inside the quiet band, the candles whose four equity marks change
//! nothing but counters (no new equity peak, no deeper drawdown, no new peak margin share,
//! no new minimum liquidation distance, the same hourly bucket). A stretch of them costs a
//! few comparisons per candle and is accounted at once, bit for bit as the per-candle path.
//!
//! Only runs whose recorder keeps no equity curve take it (the marks are not computed).

use super::band::Band;
use super::{Engine, Setup};
use crate::candles::CandleSlice;
use crate::engine::{Recorder, RunContext, TICK_OFFSETS_MS};

/// Relative margin kept inside every bound: equity rounding is about 1e-15 relative, so a
/// mark near a bound simply takes the per-candle path.
const MARGIN: f64 = 1e-9;

/// The index of the first candle from `from` on that is not inside `still` (`c.len()` when
/// all are); `prev_ts` is the last tick time before candle `from`, for the time-order check.
#[inline]
pub(super) fn stretch_end(
    still: &Band,
    c: CandleSlice<'_>,
    from: usize,
    mut prev_ts: i64,
) -> usize {
    let n = c.len();
    let (ts, open, high, low, close) =
        (&c.ts_ms[..n], &c.open[..n], &c.high[..n], &c.low[..n], &c.close[..n]);
    let mut i = from;
    if let Some(m) = c.mark {
        // Both paths inside: the band bounds equity at the last prices and margins and the
        // liquidation distance at the marks alike.
        let (mo, mh, ml, mc) = (&m.open[..n], &m.high[..n], &m.low[..n], &m.close[..n]);
        while i < n
            && ts[i] >= prev_ts
            && still.contains_candle(ts[i], &[open[i], high[i], low[i], close[i]])
            && still.contains_candle(ts[i], &[mo[i], mh[i], ml[i], mc[i]])
        {
            prev_ts = ts[i] + TICK_OFFSETS_MS[3];
            i += 1;
        }
        return i;
    }
    while i < n
        && ts[i] >= prev_ts
        && still.contains_candle(ts[i], &[open[i], high[i], low[i], close[i]])
    {
        prev_ts = ts[i] + TICK_OFFSETS_MS[3];
        i += 1;
    }
    i
}

impl Engine {
    /// The still band for the candles after a quiet one (the quiet band's state holds): a
    /// [`Band`] whose candles change only counters.
    #[allow(clippy::neg_cmp_op_on_partial_ord)] // a NaN must answer "empty"
    pub(super) fn still_band(&self, s: &Setup, ctx: &RunContext<'_>) -> Band {
        let (mut lo, mut hi, quiet_until) = self.band.limits();
        if !(0.0 < lo && lo <= hi && hi.is_finite()) {
            return Band::EMPTY;
        }
        // Bybit margins grow with the price: those at the band's top bound every mark's.
        let (im, mm) = if s.model == crate::engine::Model::Bybit && self.in_market() {
            self.margins_in_band(s, ctx.tiers, hi)
        } else {
            self.im_mm
        };
        let Some(w) = self.accum.still_window(im, mm) else {
            return Band::EMPTY;
        };
        let [long, short] = self.legs;
        // The liquidation distance `100 (p − L) / p` grows with p, `100 (S − p) / p` shrinks.
        let watch = self.liq_watched();
        if watch[0] || watch[1] {
            let Some(m) = self.min_liq_dist else { return Band::EMPTY };
            let (k_long, k_short) = (1.0 - m / 100.0, 1.0 + m / 100.0);
            if watch[0] {
                if !(k_long > 0.0) {
                    return Band::EMPTY;
                }
                lo = lo.max(self.liq_px[0] / k_long * (1.0 + MARGIN));
            }
            if watch[1] {
                if !(k_short > 0.0) {
                    return Band::EMPTY;
                }
                hi = hi.min(self.liq_px[1] / k_short * (1.0 - MARGIN));
            }
        }
        // Equity is `offset + slope · p` up to rounding bounded by `scale` · 1e-15.
        let mut offset = s.initial + self.realized - self.commission + self.funding;
        let mut slope = 0.0;
        let mut scale =
            s.initial.abs() + self.realized.abs() + self.commission.abs() + self.funding.abs();
        if long.lots > 0 {
            slope += long.size;
            offset -= long.entry * long.size;
            scale += long.size * (long.entry.abs() + hi);
        }
        if short.lots > 0 {
            slope -= short.size;
            offset += short.entry * short.size;
            scale += short.size * (short.entry.abs() + hi);
        }
        let margin = MARGIN * (scale + w.lo.abs() + w.hi.abs());
        let (e_lo, e_hi) = (w.lo + margin, w.hi - margin);
        if slope > 0.0 {
            lo = lo.max((e_lo - offset) / slope);
            hi = hi.min((e_hi - offset) / slope);
        } else if slope < 0.0 {
            lo = lo.max((e_hi - offset) / slope);
            hi = hi.min((e_lo - offset) / slope);
        } else if !(e_lo < offset && offset < e_hi) {
            return Band::EMPTY;
        }
        if !(lo <= hi && lo.is_finite() && hi.is_finite()) {
            return Band::EMPTY;
        }
        Band::new(lo, hi, quiet_until.min(w.until_ms))
    }

    /// Accounts the still candles `from..end` of `c`: what their quiet ticks would have done;
    /// the recorder gets the stretch's last mark.
    pub(super) fn account_still<R: Recorder>(
        &mut self,
        s: &Setup,
        c: CandleSlice<'_>,
        from: usize,
        end: usize,
        rec: &mut R,
    ) {
        let last = end - 1;
        let close = c.close[last];
        let equity = self.equity_at(s, close);
        let in_market = self.legs[0].lots > 0 || self.legs[1].lots > 0;
        let last_ts = c.ts_ms[last] + TICK_OFFSETS_MS[3];
        self.accum.on_still_candles((end - from) as u64, last_ts, equity, in_market);
        rec.on_equity(last_ts, equity);
        self.still_candles += (end - from) as u64;
        self.balance = equity;
        self.last_price = close;
        self.last_mark = c.mark.map_or(close, |m| m.close[last]);
        self.last_close = Some(close);
    }
}
