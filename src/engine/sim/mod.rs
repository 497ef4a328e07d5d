//! The per-tick simulation (docs/strategy.md, "Order of events in one tick"; docs/model.md).

use super::grid::Grid;
use super::margin::{Exposure, HedgeMargin, MarginModel, TierKeys};
use super::params::{Model, RunParams, WindDown};
use super::position::{Direction, Leg, LotSize, Side};
use super::risk::{self, LegRisk, Multipliers, NEUTRAL};
use super::sizing::Sizer;
use super::stop::{LimitMetric, LimitValues, Violation};
use super::{
    candle_prices, FillKind, FillRecord, Recorder, RunContext, RunError, Tick, TICK_OFFSETS_MS,
};
use crate::candles::CandleSlice;
use crate::instrument::Instrument;
use crate::metrics::accum::{FinalState, LiquidationRecord};
use crate::metrics::{Metrics, MetricsAccumulator};
use crate::tiers::TierTable;
use crate::time::{hour_of_day, HOUR_MS};

/// Funding times are multiples of 8 h since the epoch (00:00, 08:00, 16:00 UTC).
pub(super) const FUNDING_PERIOD_MS: i64 = 8 * HOUR_MS;

mod band;
mod book;
mod planner;
mod still;
mod survivors;

use book::{BookStats, Order, OrderBook, Planner};
use survivors::SurvivorMap;

const DIRS: [Direction; 2] = [Direction::Long, Direction::Short];
/// Empty survivor slot.
const NONE: u32 = u32::MAX;

/// Per-run constants derived from the parameters.
#[derive(Clone, Copy, Debug)]
struct Setup {
    model: Model,
    tick: f64,
    step_num: f64,
    step_den: f64,
    sizer: Sizer,
    maker: f64,
    taker: f64,
    leverage: f64,
    initial: f64,
    enable_risk: bool,
    early: f64,
    funding: bool,
    funding_rate: f64,
    wind_down: WindDown,
    hedge: HedgeMargin,
    inv_leverage: f64,
    /// Interval of the constant-rate funding clock (bybit model): the instrument's
    /// `fundingInterval` when known (a saved instrument), else 8 h.
    funding_period_ms: i64,
}

impl Setup {
    /// The bybit account rules of this run over `tiers`.
    #[inline]
    fn margin_model<'a>(&self, tiers: &'a TierTable) -> MarginModel<'a> {
        MarginModel { tiers, hedge: self.hedge, taker: self.taker, inv_leverage: self.inv_leverage }
    }

    /// Quantity of `lots` in base currency.
    #[inline]
    fn qty_of(&self, lots: i64) -> f64 {
        LotSize::qty(self, lots)
    }
}

impl LotSize for Setup {
    /// Quantity of `lots` in base currency, correctly rounded (`lots × mantissa / 10^scale`).
    #[inline]
    fn qty(&self, lots: i64) -> f64 {
        lots as f64 * self.step_num / self.step_den
    }
}

/// Which fast paths an engine takes, one switch per mechanism (docs/engine.md): any
/// combination gives the reference engine's results bit for bit, so a differential test
/// that enables one at a time names the one that broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FastPaths {
    /// Ticks and candles inside the quiet band only mark equity.
    pub quiet_band: bool,
    /// Runs of still candles inside the quiet band are accounted at once (needs `quiet_band`
    /// and a recorder that keeps no equity curve).
    pub still_stretches: bool,
    /// The survivor map is kept up to date instead of rebuilt on every plan.
    pub survivor_map: bool,
    /// The survivor map follows a one-level rebalance shift instead of a rebuild.
    pub survivor_shift: bool,
    /// Fills are found by walking the survivor map's slots instead of testing every order.
    pub fill_walk: bool,
    /// The planner finds open levels with bit-set words instead of level by level.
    pub open_level_bits: bool,
    /// A placement looks its level's slot up instead of scanning the orders.
    pub mapped_placement: bool,
}

impl FastPaths {
    /// Every fast path (the engine sweeps run).
    pub const ALL: FastPaths = FastPaths {
        quiet_band: true,
        still_stretches: true,
        survivor_map: true,
        survivor_shift: true,
        fill_walk: true,
        open_level_bits: true,
        mapped_placement: true,
    };
    /// None: the reference engine.
    pub const NONE: FastPaths = FastPaths {
        quiet_band: false,
        still_stretches: false,
        survivor_map: false,
        survivor_shift: false,
        fill_walk: false,
        open_level_bits: false,
        mapped_placement: false,
    };
    /// The switches by name, for tests that turn them on or off one at a time.
    pub const NAMES: [&'static str; 7] = [
        "quiet_band",
        "still_stretches",
        "survivor_map",
        "survivor_shift",
        "fill_walk",
        "open_level_bits",
        "mapped_placement",
    ];

    /// A copy with switch `name` set to `on` (unknown names change nothing).
    pub fn with(mut self, name: &str, on: bool) -> FastPaths {
        match name {
            "quiet_band" => self.quiet_band = on,
            "still_stretches" => self.still_stretches = on,
            "survivor_map" => self.survivor_map = on,
            "survivor_shift" => self.survivor_shift = on,
            "fill_walk" => self.fill_walk = on,
            "open_level_bits" => self.open_level_bits = on,
            "mapped_placement" => self.mapped_placement = on,
            _ => {}
        }
        self
    }
}

impl Default for FastPaths {
    fn default() -> Self {
        FastPaths::ALL
    }
}

/// How often each fast path was taken in the last run (to assert that tests exercise them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FastPathCounts {
    /// Ticks that took the quiet path (quiet candles count four).
    pub quiet_ticks: u64,
    /// Candles accounted in still stretches.
    pub still_candles: u64,
    /// Plans that found the survivor map current without a rebuild.
    pub survivor_map_kept: u64,
    /// Rebalance shifts the survivor map followed.
    pub survivor_shifts: u64,
    /// Ticks whose fills were found by the slot walk.
    pub fill_walks: u64,
    /// Plans whose open levels came from bit-set words.
    pub open_level_words: u64,
    /// Placements decided by a slot lookup.
    pub mapped_placements: u64,
}

/// Reusable simulation state: create once per thread, run many times. A clone is a
/// snapshot of a run in progress that can be continued ([`Engine::advance_candles`]).
#[derive(Clone, Debug, Default)]
pub struct Engine {
    grid: Grid,
    /// The resting orders and their aggregates.
    book: OrderBook,
    fills: Vec<Order>,
    /// Scratch: order indices of this tick's fills found through the survivor map.
    fill_indices: Vec<u32>,
    /// One order per level and direction, kept up to date (`ensure_survivors`).
    map: SurvivorMap,
    /// The ticker-event planner's state.
    planner: Planner,
    im_mm: (f64, f64),
    band: band::Band,
    fast: FastPaths,
    counts: FastPathCounts,
    /// Check the survivor map's invariants after every full tick (tests).
    check_invariants: bool,
    full_ticks: u64,
    still_candles: u64,
    legs: [Leg; 2],
    realized: f64,
    commission: f64,
    funding: f64,
    balance: f64,
    last_close: Option<f64>,
    mult: Multipliers,
    liq: [f64; 2],
    /// The liquidation prices `min_liq_distance_pct` measures against (below, above; 0 for
    /// none): the origin's pair estimate, or the bybit account's own rule.
    liq_px: [f64; 2],
    /// Tier indices of the bybit margins, valid for prices inside the quiet band.
    mkeys: TierKeys,
    /// The bybit margins (IM, MM) at the quiet band's top: a bound on every quiet mark's.
    band_top_margins: (f64, f64),
    /// Prices over which `mkeys` hold for the current positions (empty after a change).
    tier_window: (f64, f64),
    model: Model,
    /// Next constant-rate funding time (bybit model; `i64::MIN` before the first tick).
    next_funding_ms: i64,
    next_id: u64,
    last_funding_ts: Option<i64>,
    funding_idx: usize,
    orders_rejected: u64,
    rejection_events: u64,
    liquidated_at: Option<i64>,
    liquidation: Option<LiquidationRecord>,
    min_liq_dist: Option<f64>,
    last_price: f64,
    /// The previous tick's mark price (the last price when the run has no mark path).
    last_mark: f64,
    /// Liquidation, funding and margins follow a mark-price path (bybit model with mark data).
    mark_path: bool,
    accum: MetricsAccumulator,
    /// Where the run stopped on a limit.
    stopped: Option<Violation>,
}

/// A run over candles in progress ([`Engine::begin_candles`]): the per-run constants and
/// the time of the last tick; the rest of its state is the [`Engine`]'s.
#[derive(Clone, Copy, Debug)]
pub struct CandleRun {
    s: Setup,
    prev_ts: i64,
    ended: bool,
}

impl CandleRun {
    /// True when the run ended early (liquidation or a stop limit).
    pub fn ended(&self) -> bool {
        self.ended
    }
}

/// The engine fields a quiet candle changes.
#[derive(Clone, Copy, Debug)]
struct QuietState {
    accum: MetricsAccumulator,
    min_liq_dist: Option<f64>,
    balance: f64,
    last_price: f64,
    last_mark: f64,
    last_close: Option<f64>,
    im_mm: (f64, f64),
}

impl Engine {
    /// An engine with empty buffers that skips ticks which cannot change anything.
    pub fn new() -> Engine {
        Engine::default()
    }

    /// The straightforward reference engine: every tick takes the full path. Results are
    /// identical to [`Engine::new`]'s, bit for bit; it exists for differential tests.
    pub fn reference() -> Engine {
        Engine::with_fast_paths(FastPaths::NONE)
    }

    /// An engine taking exactly the fast paths `fast` switches on.
    pub fn with_fast_paths(fast: FastPaths) -> Engine {
        Engine { fast, ..Engine::default() }
    }

    /// This engine, checking the survivor map's invariants after every full tick and
    /// panicking with what broke (for tests; it costs a pass over the orders per tick).
    pub fn with_invariant_checks(mut self) -> Engine {
        self.check_invariants = true;
        self
    }

    /// How often each fast path was taken in the last run.
    pub fn fast_path_counts(&self) -> FastPathCounts {
        FastPathCounts { still_candles: self.still_candles, ..self.counts }
    }

    /// Ticks of the last run that took the full path (the rest only marked equity).
    pub fn full_ticks(&self) -> u64 {
        self.full_ticks
    }

    /// Candles of the last run accounted in still stretches (marks that changed only counters).
    pub fn still_candles(&self) -> u64 {
        self.still_candles
    }

    fn reset(&mut self, p: &RunParams) {
        self.clear_orders();
        self.fills.clear();
        self.planner.intents.clear();
        for d in 0..2 {
            self.map.slots[d].clear();
            self.map.off_grid[d].clear();
            self.map.dups[d].clear();
            self.planner.open_levels[d].clear();
        }
        self.planner.open_levels_ok = false;
        self.planner.rejected.clear();
        self.planner.rejected_open.clear();
        self.book.stats = BookStats::default();
        self.band = band::Band::EMPTY;
        self.full_ticks = 0;
        self.still_candles = 0;
        self.counts = FastPathCounts::default();
        self.legs = [Leg::default(); 2];
        self.realized = 0.0;
        self.commission = 0.0;
        self.funding = 0.0;
        self.balance = p.account.initial_balance;
        self.last_close = None;
        self.mult = NEUTRAL;
        self.liq = [0.0; 2];
        self.liq_px = [0.0; 2];
        self.mkeys = TierKeys::default();
        self.band_top_margins = (f64::INFINITY, f64::INFINITY);
        self.tier_window = (f64::INFINITY, f64::NEG_INFINITY);
        self.model = p.account.model;
        self.next_funding_ms = i64::MIN;
        self.next_id = 0;
        self.last_funding_ts = None;
        self.funding_idx = 0;
        self.orders_rejected = 0;
        self.rejection_events = 0;
        self.liquidated_at = None;
        self.liquidation = None;
        self.min_liq_dist = None;
        self.last_price = 0.0;
        self.last_mark = 0.0;
        self.mark_path = false;
        self.accum = MetricsAccumulator::new(p.account.initial_balance);
        self.stopped = None;
    }

    /// Runs one backtest over `ticks` and returns its metrics.
    ///
    /// # Errors
    /// [`RunError`] for invalid parameters, bad ticks, a grid that cannot be built, or the
    /// origin's zero-wallet crash. Liquidation is not an error.
    pub fn run<I, R>(
        &mut self,
        ticks: I,
        params: &RunParams,
        ctx: &RunContext<'_>,
        rec: &mut R,
    ) -> Result<Metrics, RunError>
    where
        I: IntoIterator<Item = Tick>,
        R: Recorder,
    {
        let s = self.begin(params, ctx)?;
        let mut prev_ts = i64::MIN;
        for t in ticks {
            if !self.step(&s, params, ctx, t, t.price, &mut prev_ts, rec)? {
                break;
            }
        }
        Ok(self.end(&s, prev_ts, rec))
    }

    /// Runs one backtest over 1-minute candles, each one four ticks (docs/strategy.md, "Candles become ticks"): the same
    /// result as `run(candle_ticks(candles), …)`, bit for bit, with a per-candle fast path
    /// for candles that lie wholly inside the quiet band.
    ///
    /// # Errors
    /// As [`Engine::run`].
    pub fn run_candles<R: Recorder>(
        &mut self,
        c: CandleSlice<'_>,
        params: &RunParams,
        ctx: &RunContext<'_>,
        rec: &mut R,
    ) -> Result<Metrics, RunError> {
        let mut run = self.begin_candles(params, ctx)?;
        self.advance_candles(&mut run, c, params, ctx, rec)?;
        Ok(self.finish_candles(&run, rec))
    }

    /// Starts a run over candles that [`Engine::advance_candles`] feeds piece by piece:
    /// `begin_candles`, then `advance_candles` over consecutive sub-slices, then
    /// [`Engine::finish_candles`] give [`Engine::run_candles`]'s result bit for bit.
    ///
    /// # Errors
    /// [`RunError::Params`] for invalid parameters.
    pub fn begin_candles(
        &mut self,
        params: &RunParams,
        ctx: &RunContext<'_>,
    ) -> Result<CandleRun, RunError> {
        let s = self.begin(params, ctx)?;
        Ok(CandleRun { s, prev_ts: i64::MIN, ended: false })
    }

    /// Continues `run` over the next candles `c` (a run that ended, by liquidation or a stop
    /// limit, ignores them).
    ///
    /// # Errors
    /// As [`Engine::run`].
    pub fn advance_candles<R: Recorder>(
        &mut self,
        run: &mut CandleRun,
        c: CandleSlice<'_>,
        params: &RunParams,
        ctx: &RunContext<'_>,
        rec: &mut R,
    ) -> Result<(), RunError> {
        if run.ended {
            return Ok(());
        }
        let s = run.s;
        let mut prev_ts = run.prev_ts;
        // The origin has no mark price: its rules read the last price.
        let mark = c.mark.filter(|_| s.model == Model::Bybit);
        self.mark_path = mark.is_some();
        // Still stretches skip the marks, so only when nobody records every one of them.
        let still_ok = self.fast.quiet_band && self.fast.still_stretches && !rec.wants_equity();
        let mut i = 0;
        'candles: while i < c.len() {
            let ts = c.ts_ms[i];
            let prices = candle_prices(c.open[i], c.high[i], c.low[i], c.close[i]);
            let marks = match mark {
                Some(m) => candle_prices(m.open[i], m.high[i], m.low[i], m.close[i]),
                None => prices,
            };
            i += 1;
            if self.fast.quiet_band
                && ts >= prev_ts
                && self.band.contains_candle(ts, &prices)
                && (mark.is_none() || self.band.contains_candle(ts, &marks))
            {
                self.counts.quiet_ticks += 4;
                if rec.limits().is_some() {
                    let saved = self.quiet_state();
                    let equity = self.quiet_candle(&s, ctx, ts, prices, marks);
                    if self.broken_limit(rec).is_some() {
                        // Some tick of the four broke a limit: replay them one by one.
                        self.restore_quiet_state(saved);
                        for k in 0..4 {
                            let t = Tick { ts_ms: ts + TICK_OFFSETS_MS[k], price: prices[k] };
                            prev_ts = t.ts_ms;
                            self.quiet_tick(&s, ctx, t, marks[k], rec);
                            if self.check_limits(t.ts_ms, rec) {
                                run.ended = true;
                                break 'candles;
                            }
                        }
                        continue;
                    }
                    for (dt, e) in TICK_OFFSETS_MS.into_iter().zip(equity) {
                        rec.on_equity(ts + dt, e);
                    }
                } else {
                    let equity = self.quiet_candle(&s, ctx, ts, prices, marks);
                    for (dt, e) in TICK_OFFSETS_MS.into_iter().zip(equity) {
                        rec.on_equity(ts + dt, e);
                    }
                }
                prev_ts = ts + TICK_OFFSETS_MS[3];
                if still_ok {
                    let band = self
                        .still_band(&s, ctx)
                        .until_at_most(rec.equity_needed_by().saturating_add(1));
                    let c = CandleSlice { mark, ..c };
                    let mut end = still::stretch_end(&band, c, i, prev_ts);
                    if let Some(b) =
                        rec.limits().and_then(|l| l.bound(LimitMetric::MaxDrawdownDuration))
                    {
                        // Every still mark extends the run below the peak: stop the stretch
                        // where one more candle could break the bound.
                        let room = (b.floor() as u64).saturating_sub(self.accum.run_below());
                        end = end.min(i.saturating_add(usize::try_from(room / 4).unwrap_or(0)));
                    }
                    if end > i {
                        self.account_still(&s, c, i, end, rec);
                        prev_ts = c.ts_ms[end - 1] + TICK_OFFSETS_MS[3];
                        i = end;
                    }
                }
                continue;
            }
            for k in 0..4 {
                let t = Tick { ts_ms: ts + TICK_OFFSETS_MS[k], price: prices[k] };
                if !self.step(&s, params, ctx, t, marks[k], &mut prev_ts, rec)? {
                    run.ended = true;
                    break 'candles;
                }
            }
        }
        run.prev_ts = prev_ts;
        Ok(())
    }

    /// Ends `run`: the wind-down, then the metrics.
    pub fn finish_candles<R: Recorder>(&mut self, run: &CandleRun, rec: &mut R) -> Metrics {
        self.end(&run.s, run.prev_ts, rec)
    }

    /// The metrics [`Engine::finish_candles`] would report now, without ending the run (the
    /// wind-down, when there is one, is done on a copy).
    pub fn peek_metrics(&self, run: &CandleRun) -> Metrics {
        if self.liquidated_at.is_some()
            || self.stopped.is_some()
            || run.s.wind_down != WindDown::CloseAll
            || self.last_price <= 0.0
        {
            return self.finish();
        }
        self.clone().end(&run.s, run.prev_ts, &mut super::NoRecorder)
    }

    /// Where the run stopped on a limit, when it did.
    pub fn stopped(&self) -> Option<Violation> {
        self.stopped
    }

    /// The current values of the limitable metrics.
    #[inline]
    fn limit_values(&self) -> LimitValues {
        let mut v = LimitValues {
            liquidated: self.liquidated_at.is_some(),
            min_liq_distance_pct: self.min_liq_dist,
            orders_rejected: self.orders_rejected,
            rejection_events: self.rejection_events,
            total_commission: self.commission,
            ..LimitValues::default()
        };
        self.accum.limit_values(&mut v);
        v
    }

    /// The first limit of `rec` the run breaks now.
    #[inline]
    fn broken_limit<R: Recorder>(&self, rec: &R) -> Option<Violation> {
        let l = rec.limits()?;
        let (metric, value) = l.first_broken(&self.limit_values())?;
        Some(Violation { metric, value, bound: l.bound(metric).unwrap_or(1.0), ts_ms: 0 })
    }

    /// True (and the stop recorded) when the run breaks a limit of `rec` at tick `ts`.
    #[inline]
    fn check_limits<R: Recorder>(&mut self, ts: i64, rec: &mut R) -> bool {
        let Some(mut v) = self.broken_limit(rec) else { return false };
        v.ts_ms = ts;
        self.stopped = Some(v);
        rec.on_stop(&v);
        true
    }

    /// What a quiet candle changes, to undo it.
    #[inline]
    fn quiet_state(&self) -> QuietState {
        QuietState {
            accum: self.accum,
            min_liq_dist: self.min_liq_dist,
            balance: self.balance,
            last_price: self.last_price,
            last_mark: self.last_mark,
            last_close: self.last_close,
            im_mm: self.im_mm,
        }
    }

    fn restore_quiet_state(&mut self, q: QuietState) {
        self.accum = q.accum;
        self.min_liq_dist = q.min_liq_dist;
        self.balance = q.balance;
        self.last_price = q.last_price;
        self.last_mark = q.last_mark;
        self.last_close = q.last_close;
        self.im_mm = q.im_mm;
    }

    /// Validates the parameters and resets the state for a new run.
    fn begin(&mut self, params: &RunParams, ctx: &RunContext<'_>) -> Result<Setup, RunError> {
        params.validate(ctx.tiers.max_leverage()).map_err(|errs| {
            RunError::Params(errs.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
        })?;
        let g = &params.grid;
        let a = &params.account;
        let s = Setup {
            model: a.model,
            tick: ctx.instrument.tick_size.to_f64(),
            step_num: ctx.instrument.qty_step.mantissa() as f64,
            step_den: 10f64.powi(ctx.instrument.qty_step.scale() as i32),
            sizer: Sizer::new(g.amount, ctx.instrument.qty_step, a.leverage, g.grid_count),
            maker: a.commission_rate,
            taker: a.taker_fee_rate,
            leverage: a.leverage,
            initial: a.initial_balance,
            enable_risk: g.enable_risk_multipliers,
            early: g.early_imbalance_multiplier,
            funding: a.enable_funding,
            funding_rate: a.funding_rate,
            wind_down: a.wind_down,
            hedge: a.hedge_margin,
            inv_leverage: 1.0 / a.leverage,
            funding_period_ms: funding_period_ms(ctx.instrument),
        };
        self.reset(params);
        self.grid.reset(
            s.tick,
            g.grid_count,
            g.grid_step,
            g.rebalance_threshold,
            s.model == Model::Origin,
        );
        Ok(s)
    }

    /// One tick of a run at mark price `mark`: validation, then the quiet path or the full
    /// one. Returns `false` when the run ends (liquidation).
    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn step<R: Recorder>(
        &mut self,
        s: &Setup,
        params: &RunParams,
        ctx: &RunContext<'_>,
        t: Tick,
        mark: f64,
        prev_ts: &mut i64,
        rec: &mut R,
    ) -> Result<bool, RunError> {
        if !(t.price.is_finite() && t.price > 0.0) {
            return Err(RunError::BadTick {
                ts_ms: t.ts_ms,
                reason: "price must be finite and > 0",
            });
        }
        if t.ts_ms < *prev_ts {
            return Err(RunError::BadTick { ts_ms: t.ts_ms, reason: "time goes backwards" });
        }
        *prev_ts = t.ts_ms;
        if self.fast.quiet_band && self.band.contains(t) && self.band.contains_price(mark) {
            self.counts.quiet_ticks += 1;
            self.quiet_tick(s, ctx, t, mark, rec);
            return Ok(!self.check_limits(t.ts_ms, rec));
        }
        self.full_ticks += 1;
        let alive = self.tick(s, params, ctx, t, mark, rec)?;
        if self.check_limits(t.ts_ms, rec) || !alive {
            return Ok(false);
        }
        if self.check_invariants {
            if let Some(broken) = self.map.invariant_violation(
                &self.book.orders,
                self.grid.levels(),
                self.grid.version(),
            ) {
                panic!("survivor map invariant broken at ts_ms {}: {broken}", t.ts_ms);
            }
        }
        if self.fast.quiet_band {
            self.band = self.compute_band(s, ctx, t, mark);
        }
        Ok(true)
    }

    /// Wind-down at the end of a run, then the metrics.
    fn end<R: Recorder>(&mut self, s: &Setup, last_ts: i64, rec: &mut R) -> Metrics {
        if self.stopped.is_some() {
            return self.finish();
        }
        if self.liquidated_at.is_none()
            && s.wind_down == WindDown::CloseAll
            && self.last_price > 0.0
        {
            let fee = if s.model == Model::Bybit { s.taker } else { s.maker };
            self.close_all(s, last_ts, self.last_price, fee, FillKind::WindDown, rec);
            // The curve's last point includes the wind-down fees (the metrics already do).
            rec.on_equity(last_ts, self.equity_at(s, self.last_price));
            // The wind-down's fees may break a commission limit.
            self.check_limits(last_ts, rec);
        }
        self.finish()
    }

    fn finish(&self) -> Metrics {
        let p = self.last_price;
        let unrealized = self.legs[0].unrealized(Direction::Long, p)
            + self.legs[1].unrealized(Direction::Short, p);
        self.accum.finish(&FinalState {
            realized: self.realized,
            unrealized,
            commission: self.commission,
            funding: self.funding,
            orders_rejected: self.orders_rejected,
            rejection_events: self.rejection_events,
            liquidation_ts_ms: self.liquidated_at,
            liquidation: self.liquidation,
            min_liq_distance_pct: self.min_liq_dist,
            liquidation_price_source: if self.mark_path {
                crate::metrics::PriceSource::Mark
            } else {
                crate::metrics::PriceSource::Last
            },
            long: (self.legs[0].size, self.legs[0].entry),
            short: (self.legs[1].size, self.legs[1].entry),
        })
    }

    /// Equity with unrealised PnL at `price`.
    #[inline]
    fn equity_at(&self, s: &Setup, price: f64) -> f64 {
        self.exposure(s).equity(price)
    }

    /// The positions as the margin rules see them; its equity is the engine's equity mark.
    #[inline]
    fn exposure(&self, s: &Setup) -> Exposure {
        let [l, sh] = self.legs;
        Exposure {
            base: s.initial + self.realized - self.commission + self.funding,
            long: if l.lots > 0 { l.size } else { 0.0 },
            long_entry: l.entry,
            short: if sh.lots > 0 { sh.size } else { 0.0 },
            short_entry: sh.entry,
        }
    }

    /// True when any leg is open.
    #[inline]
    fn in_market(&self) -> bool {
        self.legs[0].lots > 0 || self.legs[1].lots > 0
    }

    /// Σ initial and maintenance margin of both legs: at entry value in the origin model
    /// (its figures), at `price` with the fee to close in the bybit model.
    #[inline]
    fn margins(&self, s: &Setup, tiers: &TierTable, price: f64) -> (f64, f64) {
        if s.model == Model::Bybit {
            return s.margin_model(tiers).margins(&self.exposure(s), price);
        }
        let (mut im, mut mm) = (0.0, 0.0);
        for leg in &self.legs {
            let pv = leg.entry_value();
            if pv > 0.0 {
                im += tiers.initial_margin(pv).0;
                mm += tiers.maintenance_margin(pv).0;
            }
        }
        (im, mm)
    }

    /// The bybit margins at `price` with the quiet band's tiers (equal to
    /// [`Self::margins`] for prices inside the band).
    #[inline]
    fn margins_in_band(&self, s: &Setup, tiers: &TierTable, price: f64) -> (f64, f64) {
        let (m, x) = (s.margin_model(tiers), self.exposure(s));
        (m.im_with(&x, price, &self.mkeys), m.mm_with(&x, price, &self.mkeys))
    }

    /// Bybit funding: every payment due by `ts` (00:00, 08:00, 16:00 UTC, or the series'
    /// own times), at the last known mark price `p0`, each followed by the liquidation check
    /// (`p` is this tick's last price).
    /// Returns `false` when a payment liquidated the account; sets `paid` when any was made.
    #[allow(clippy::too_many_arguments)]
    fn bybit_funding<R: Recorder>(
        &mut self,
        s: &Setup,
        ctx: &RunContext<'_>,
        ts: i64,
        p0: f64,
        p: f64,
        paid: &mut bool,
        rec: &mut R,
    ) -> bool {
        if !s.funding {
            return true;
        }
        if self.next_funding_ms == i64::MIN {
            let period = s.funding_period_ms;
            self.next_funding_ms = ts.div_euclid(period) * period;
            if self.next_funding_ms < ts {
                self.next_funding_ms += period;
            }
        }
        loop {
            let rate = match ctx.funding_series {
                Some(series) => match series.get(self.funding_idx) {
                    Some(&(t, r)) if t <= ts => {
                        self.funding_idx += 1;
                        r
                    }
                    _ => break,
                },
                None if self.next_funding_ms <= ts => {
                    self.next_funding_ms += s.funding_period_ms;
                    s.funding_rate
                }
                None => break,
            };
            if p0 <= 0.0 || !self.in_market() {
                continue;
            }
            self.pay_funding(rate, p0);
            *paid = true;
            let m = s.margin_model(ctx.tiers);
            if m.cushion(&self.exposure(s), p0) <= 0.0 {
                self.liquidate(s, ctx, ts, p0, p, rec);
                return false;
            }
        }
        true
    }

    /// Pays (or receives) funding at `rate` on both legs valued at `price`.
    #[inline]
    fn pay_funding(&mut self, rate: f64, price: f64) {
        for d in DIRS {
            let leg = &self.legs[d.index()];
            if leg.lots > 0 {
                let f = leg.size * price * rate;
                self.funding += if d == Direction::Long { -f } else { f };
            }
        }
    }

    /// Bybit liquidation at `trigger` (equity reached the maintenance margin): the margins
    /// at the trigger are recorded, every position is closed at the account's bankruptcy
    /// price paying the taker fee, orders are cancelled and the run ends.
    fn liquidate<R: Recorder>(
        &mut self,
        s: &Setup,
        ctx: &RunContext<'_>,
        ts: i64,
        trigger: f64,
        tick_price: f64,
        rec: &mut R,
    ) {
        let m = s.margin_model(ctx.tiers);
        let x = self.exposure(s);
        let (im, mm) = m.margins(&x, trigger);
        self.accum.mark_margins_at(im, mm, x.equity(trigger));
        let bankruptcy = m.bankruptcy_price(&x).unwrap_or(trigger);
        self.close_all(s, ts, bankruptcy, s.taker, FillKind::Liquidation, rec);
        self.clear_orders();
        self.book.stats = BookStats::default();
        self.liquidated_at = Some(ts);
        self.liquidation = Some(LiquidationRecord { trigger, bankruptcy, tick_price });
        self.min_liq_dist = Some(self.min_liq_dist.map_or(0.0, |d| d.min(0.0)));
        let equity = self.equity_at(s, tick_price);
        self.balance = equity;
        self.accum.on_tick(ts, equity, 0.0, 0.0, false);
        rec.on_equity(ts, equity);
    }

    /// True when `q` lies strictly inside the account's liquidation prices (valid while the
    /// positions and cash are those they were computed for), with a relative margin: the
    /// cushion is concave and zero at those prices, so it is positive at `q`.
    #[inline]
    fn inside_liquidation_prices(&self, q: f64) -> bool {
        let [below, above] = self.liq_px;
        q > below * (1.0 + 1e-9) && (above == 0.0 || q < above * (1.0 - 1e-9))
    }

    /// Puts this tick's fills in the order the price path from `p0` meets them (nearest
    /// first; placement order among equal prices): a handful of orders, insertion sort.
    #[inline]
    fn sort_fills_by_path(&mut self, p0: f64) {
        let f = &mut self.fills;
        for i in 1..f.len() {
            let mut j = i;
            while j > 0 && (f[j].price - p0).abs() < (f[j - 1].price - p0).abs() {
                f.swap(j, j - 1);
                j -= 1;
            }
        }
    }

    /// The origin's funding rule: the first tick of a 00/08/16 UTC hour (or the series
    /// entries passed since the last tick).
    fn funding_due(&mut self, s: &Setup, ctx: &RunContext<'_>, ts: i64) -> Option<f64> {
        if !s.funding {
            return None;
        }
        if let Some(series) = ctx.funding_series {
            let mut rate = None;
            while self.funding_idx < series.len() && series[self.funding_idx].0 <= ts {
                *rate.get_or_insert(0.0) += series[self.funding_idx].1;
                self.funding_idx += 1;
            }
            return rate;
        }
        let hour = hour_of_day(ts);
        if hour != 0 && hour != 8 && hour != 16 {
            return None;
        }
        if let Some(last) = self.last_funding_ts {
            if ts - last < 7 * HOUR_MS && hour_of_day(last) == hour {
                return None;
            }
        }
        self.last_funding_ts = Some(ts);
        Some(s.funding_rate)
    }

    /// One tick at mark price `m`; returns `false` when the run ends (liquidation).
    fn tick<R: Recorder>(
        &mut self,
        s: &Setup,
        params: &RunParams,
        ctx: &RunContext<'_>,
        t: Tick,
        m: f64,
        rec: &mut R,
    ) -> Result<bool, RunError> {
        let (ts, p) = (t.ts_ms, t.price);
        // The previous tick's prices: where this tick's paths start (0 before the first).
        let (p0, m0) = (self.last_price, self.last_mark);
        self.last_price = p;
        self.last_mark = m;
        let bybit = s.model == Model::Bybit;
        // 1. Funding.
        let mut changed = false;
        if bybit {
            if !self.bybit_funding(s, ctx, ts, m0, p, &mut changed, rec) {
                return Ok(false);
            }
        } else if let Some(rate) = self.funding_due(s, ctx, ts) {
            self.pay_funding(rate, p);
        }
        // 2. Fills: in placement order (origin), or in the order the path from the previous
        // price meets them (bybit), each segment of the path checked for liquidation first.
        self.take_fills(p);
        if !self.fills.is_empty() {
            self.planner.rejected.clear();
            for i in 0..self.fills.len() {
                let o = self.fills[i];
                self.book_remove(s, &o);
            }
            if bybit && p0 > 0.0 {
                self.sort_fills_by_path(p0);
            }
        }
        let mut cur = if m0 > 0.0 { m0 } else { m };
        // Whether the segment's start must be checked: after funding, or after a fill that
        // may have lowered the cushion at its price (an open; a close lowers MM by at least
        // its fee when the maker fee is at most the taker fee used for the fee to close).
        let mut check_from = changed;
        for i in 0..self.fills.len() {
            let o = self.fills[i];
            if bybit {
                // Where the mark is when the last price reaches the order.
                let at = if self.mark_path { mark_at(o.price, p0, p, m0, m) } else { o.price };
                // Unchanged positions: the known liquidation prices answer for the segment.
                if changed || !self.inside_liquidation_prices(at) {
                    let mm = s.margin_model(ctx.tiers);
                    if let Some(pt) = mm.trigger_on(&self.exposure(s), cur, at, check_from) {
                        self.liquidate(s, ctx, ts, pt, p, rec);
                        return Ok(false);
                    }
                }
                let before = self.legs[o.dir.index()].lots;
                check_from = !(o.reduce_only && before >= o.lots && s.maker <= s.taker);
                cur = at;
                changed = true;
            }
            self.fill(s, params, ctx, ts, p, &o, rec)?;
        }
        // 3. Equity mark (and cross-margin liquidation in the bybit model).
        if bybit && self.in_market() {
            let mm = s.margin_model(ctx.tiers);
            let x = self.exposure(s);
            let known_safe = !changed && self.inside_liquidation_prices(m);
            if let Some(pt) = if known_safe { None } else { mm.trigger_on(&x, cur, m, check_from) }
            {
                self.liquidate(s, ctx, ts, pt, p, rec);
                return Ok(false);
            }
            if changed {
                self.tier_window = (f64::INFINITY, f64::NEG_INFINITY);
                let (below, above) = mm.liquidation_prices(&x, m);
                self.liq_px = [below, if above.is_finite() { above } else { 0.0 }];
            }
        } else if bybit && changed {
            self.liq_px = [0.0; 2];
        }
        let equity = self.equity_at(s, p);
        self.im_mm = self.margins(s, ctx.tiers, m);
        self.mark_equity(ts, m, equity, rec);
        // 4. Ticker event: grid build / bounds guard, then intents.
        self.last_close = Some(p);
        let built = if self.grid.is_empty() {
            self.grid.build(p)
        } else {
            let (lo, hi) = self.grid.bounds();
            if !(lo <= p && p <= hi) {
                self.grid.build(p)
            } else {
                Ok(())
            }
        };
        if let Err(e) = built {
            // Bybit: a price so low that the ladder's levels round onto one tick suspends
            // the grid (resting orders stay, none are placed) until a ladder can be built.
            if s.model == Model::Origin {
                return Err(e.into());
            }
            return Ok(true);
        }
        self.planner.intents.clear();
        self.planner.open_levels_ok = true;
        for d in DIRS {
            self.plan(d, p)?;
        }
        for i in 0..self.planner.intents.len() {
            let intent = self.planner.intents[i];
            self.execute(s, ctx, ts, intent, rec);
        }
        Ok(true)
    }

    /// Records the equity mark of a tick (after fills): balance, metrics, recorder, distance
    /// from the mark price `p` to the liquidation estimate. The quiet path does exactly this
    /// and nothing else.
    #[inline]
    fn mark_equity<R: Recorder>(&mut self, ts: i64, p: f64, equity: f64, rec: &mut R) {
        self.balance = equity;
        let in_market = self.in_market();
        self.accum.on_tick(ts, equity, self.im_mm.0, self.im_mm.1, in_market);
        rec.on_equity(ts, equity);
        self.track_liq_distance(p);
    }

    /// Which legs (long, short) are open with a liquidation estimate, so have a distance to
    /// it that the `min_liq_distance_pct` metric tracks.
    #[inline]
    fn liq_watched(&self) -> [bool; 2] {
        if self.model == Model::Bybit {
            let open = self.in_market();
            return [self.liq_px[0] > 0.0 && open, self.liq_px[1] > 0.0 && open];
        }
        [
            self.liq_px[0] > 0.0 && self.legs[0].lots > 0,
            self.liq_px[1] > 0.0 && self.legs[1].lots > 0,
        ]
    }

    #[inline]
    fn track_liq_distance(&mut self, p: f64) {
        let [long, short] = self.liq_watched();
        let mut d = f64::INFINITY;
        if long {
            d = d.min((p - self.liq_px[0]) / p * 100.0);
        }
        if short {
            d = d.min((self.liq_px[1] - p) / p * 100.0);
        }
        if d.is_finite() && self.min_liq_dist.is_none_or(|m| d < m) {
            self.min_liq_dist = Some(d);
        }
    }

    /// Processes one limit fill (docs/strategy.md, "Order of events in one tick", step 2).
    #[allow(clippy::too_many_arguments)]
    fn fill<R: Recorder>(
        &mut self,
        s: &Setup,
        params: &RunParams,
        ctx: &RunContext<'_>,
        ts: i64,
        p: f64,
        o: &Order,
        rec: &mut R,
    ) -> Result<(), RunError> {
        let qty = s.qty(o.lots);
        let fee = qty * o.price * s.maker;
        self.commission += fee;
        let leg = &mut self.legs[o.dir.index()];
        let r = leg.apply(o.dir, !o.reduce_only, o.lots, qty, o.price, s).realized;
        self.realized += r.unwrap_or(0.0);
        self.accum.on_fill(o.dir == Direction::Long, qty, o.price, r);
        rec.on_fill(&FillRecord {
            ts_ms: ts,
            side: o.side,
            direction: o.dir,
            price: o.price,
            qty,
            realized_pnl: r.unwrap_or(0.0),
            commission: fee,
            kind: FillKind::Limit,
        });
        // d. balance at the mark (bybit: the fill price, where the path is when the order
        // fills); e. pair liquidation estimate; f. risk multipliers.
        let mark = if s.model == Model::Bybit { o.price } else { p };
        self.balance = self.equity_at(s, mark);
        let (l, sh) = (self.legs[0], self.legs[1]);
        let (ll, sl) =
            risk::pair_liq_prices(ctx.tiers, (l.size, l.entry), (sh.size, sh.entry), self.balance);
        self.liq = [ll, sl];
        if s.model == Model::Origin {
            self.liq_px = self.liq;
        }
        if s.enable_risk {
            match risk::margin_ratios(self.balance, (l.size, l.entry), (sh.size, sh.entry)) {
                Ok((lm, sm)) => {
                    let long = LegRisk { size: l.size, entry: l.entry, liq: ll, margin: lm };
                    let short = LegRisk { size: sh.size, entry: sh.entry, liq: sl, margin: sm };
                    self.mult = risk::multipliers(&params.grid, &long, &short, mark, s.leverage);
                }
                Err(e) if s.model == Model::Origin => {
                    return Err(RunError::Wallet(format!(
                        "{e} — the origin backtester raises this error (model = \"origin\" keeps it for parity; model = \"bybit\" liquidates first)"
                    )))
                }
                // Bybit: unreachable after the liquidation check; neutral sizes if it happens.
                Err(_) => self.mult = NEUTRAL,
            }
        }
        // g. Grid update with the previous tick's close (bybit: a ladder that cannot be
        // built suspends the grid, as on a ticker event).
        if let Some(last_close) = self.last_close {
            match self.grid.update(o.price, last_close) {
                Err(e) if s.model == Model::Origin => return Err(e.into()),
                _ => {}
            }
        }
        Ok(())
    }

    /// Closes every open leg at `price` paying `fee_rate` (liquidation or wind-down).
    fn close_all<R: Recorder>(
        &mut self,
        s: &Setup,
        ts: i64,
        price: f64,
        fee_rate: f64,
        kind: FillKind,
        rec: &mut R,
    ) {
        for d in DIRS {
            let leg = &mut self.legs[d.index()];
            if leg.lots == 0 {
                continue;
            }
            let (lots, qty) = (leg.lots, leg.size);
            let fee = qty * price * fee_rate;
            let r = leg.apply(d, false, lots, qty, price, s).realized.unwrap_or(0.0);
            self.commission += fee;
            self.realized += r;
            self.accum.on_fill(d == Direction::Long, qty, price, Some(r));
            let side = if d == Direction::Long { Side::Sell } else { Side::Buy };
            rec.on_fill(&FillRecord {
                ts_ms: ts,
                side,
                direction: d,
                price,
                qty,
                realized_pnl: r,
                commission: fee,
                kind,
            });
        }
    }
}

/// The constant-rate funding interval for `instrument`: its `fundingInterval` (whole
/// minutes, from a saved instrument) when it divides a day, else Bybit's usual 8 h.
fn funding_period_ms(instrument: &Instrument) -> i64 {
    match instrument.funding_interval_min {
        Some(m) if m > 0 && 1440 % m == 0 => i64::from(m) * 60_000,
        _ => FUNDING_PERIOD_MS,
    }
}

/// The mark price when the last price, moving from `p0` to `p` while the mark moves from
/// `m0` to `m`, reaches `q`: both paths are straight lines over the tick's interval, so the
/// mark is at the same fraction of its way (the end for a tick that does not move).
#[inline]
fn mark_at(q: f64, p0: f64, p: f64, m0: f64, m: f64) -> f64 {
    if p0 <= 0.0 || m0 <= 0.0 || p == p0 {
        return m;
    }
    let f = ((q - p0) / (p - p0)).clamp(0.0, 1.0);
    m0 + f * (m - m0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::params::RunParams;
    use crate::instrument::Instrument;
    use crate::tiers::builtin::builtin_tiers;
    use crate::time::parse_iso;

    fn setup(p: &RunParams, inst: &Instrument) -> Setup {
        Setup {
            model: p.account.model,
            tick: inst.tick_size.to_f64(),
            step_num: inst.qty_step.mantissa() as f64,
            step_den: 10f64.powi(inst.qty_step.scale() as i32),
            sizer: Sizer::new(p.grid.amount, inst.qty_step, p.account.leverage, p.grid.grid_count),
            maker: p.account.commission_rate,
            taker: p.account.taker_fee_rate,
            leverage: p.account.leverage,
            initial: p.account.initial_balance,
            enable_risk: p.grid.enable_risk_multipliers,
            early: p.grid.early_imbalance_multiplier,
            funding: p.account.enable_funding,
            funding_rate: p.account.funding_rate,
            wind_down: p.account.wind_down,
            hedge: p.account.hedge_margin,
            inv_leverage: 1.0 / p.account.leverage,
            funding_period_ms: FUNDING_PERIOD_MS,
        }
    }

    /// The origin's funding-hour vectors (`test_engine.py`; docs/strategy.md, "Positions, fees and funding").
    #[test]
    fn funding_hours_follow_origin_vectors() {
        let p = RunParams::default();
        let inst = Instrument::resolve("BTCUSDT", None, None).unwrap();
        let tiers = builtin_tiers("BTCUSDT");
        let ctx = RunContext { instrument: &inst, tiers: &tiers, funding_series: None };
        let s = setup(&p, &inst);
        let t = |h: &str| parse_iso(&format!("2025-01-01T{h}")).unwrap();
        for (h, due) in [
            ("00:00:00", true),
            ("08:00:00", true),
            ("16:00:00", true),
            ("01:00:00", false),
            ("12:00:00", false),
        ] {
            let mut e = Engine::new();
            e.reset(&p);
            assert_eq!(e.funding_due(&s, &ctx, t(h)).is_some(), due, "{h}");
        }
        let mut e = Engine::new();
        e.reset(&p);
        assert!(e.funding_due(&s, &ctx, t("08:00:00")).is_some());
        assert!(e.funding_due(&s, &ctx, t("08:30:00")).is_none());
        assert!(e.funding_due(&s, &ctx, t("16:00:00")).is_some());
        // A series is applied at its own timestamps (the ones passed since the last tick).
        let series = [(t("03:00:00"), 0.001), (t("03:30:00"), -0.002)];
        let ctx = RunContext { funding_series: Some(&series), ..ctx };
        let mut e = Engine::new();
        e.reset(&p);
        assert_eq!(e.funding_due(&s, &ctx, t("02:59:00")), None);
        assert_eq!(e.funding_due(&s, &ctx, t("03:45:00")), Some(0.001 - 0.002));
        assert_eq!(e.funding_due(&s, &ctx, t("04:00:00")), None);
    }

    /// Bybit's order cost (docs/model.md): IM of position + orders at the price, the fee to
    /// close the position, and each opening order's fees to open and to close.
    #[test]
    fn order_cost_follows_bybits_formula() {
        let mut p = RunParams::default();
        p.account.leverage = 10.0;
        p.account.taker_fee_rate = 0.00055;
        let inst = Instrument::resolve("LTCUSDT", None, None).unwrap();
        let tiers = crate::tiers::TierTable::from_sorted(
            "LTCUSDT",
            vec![crate::tiers::Tier::new(
                None,
                crate::decimal::Dec::parse("0.01").unwrap(),
                crate::decimal::Dec::parse("0").unwrap(),
                crate::decimal::Dec::parse("0.02").unwrap(),
            )],
        );
        let s = setup(&p, &inst);
        let mut e = Engine::new();
        e.reset(&p);
        // Long 2 at 100, resting long buys worth 300, a new long buy of 100, price 110.
        e.legs[0].apply(Direction::Long, true, 20, 2.0, 100.0, &s);
        e.book.stats.open_notional = [300.0, 0.0];
        let got = e.im_with(&s, &tiers, Direction::Long, 100.0, 110.0);
        // Value 2 × 110 + 300 + 100 = 620 at max(2 %, 1/10) = 62; fee to close the position
        // 220 × 0.00055; orders 400 × 0.00055 × (1 + (1 − 1/10)) (open + close of a buy).
        let want = 62.0 + 220.0 * 0.00055 + 400.0 * 0.00055 * 1.9;
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
        // A short sell of 100 on a flat short book closes at price × (1 + 1/L).
        let got = e.im_with(&s, &tiers, Direction::Short, 100.0, 110.0);
        let want = 62.0 - 10.0 + 220.0 * 0.00055 + 300.0 * 0.00055 * 1.9 // the long side
            + 100.0 * 0.1 + 100.0 * 0.00055 * 2.1;
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    }

    /// Funding: long 0.1 @ 100000 pays 1 at rate 0.0001; a short receives it (docs/strategy.md, "Positions, fees and funding").
    #[test]
    fn funding_payment_signs() {
        let mut p = RunParams::default();
        p.account.model = Model::Origin;
        let inst = Instrument::resolve("BTCUSDT", None, None).unwrap();
        let tiers = builtin_tiers("BTCUSDT");
        let ctx = RunContext { instrument: &inst, tiers: &tiers, funding_series: None };
        let s = setup(&p, &inst);
        let mut e = Engine::new();
        e.reset(&p);
        e.grid.reset(s.tick, 50, 0.2, 0.3, true);
        e.legs[0].apply(Direction::Long, true, 100, 0.1, 100_000.0, &s);
        e.legs[1].apply(Direction::Short, true, 300, 0.3, 100_000.0, &s);
        let ts = parse_iso("2025-01-02T00:00:00").unwrap();
        e.tick(
            &s,
            &p,
            &ctx,
            Tick { ts_ms: ts, price: 100_000.0 },
            100_000.0,
            &mut crate::engine::NoRecorder,
        )
        .unwrap();
        assert!((e.funding - (-1.0 + 3.0)).abs() < 1e-9, "{}", e.funding);
    }
}
