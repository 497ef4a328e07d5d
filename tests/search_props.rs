//! Property tests of the search hooks in the engine: stop limits stop a run exactly (at the
//! first tick that breaks one, the same in the fast and the reference engine, and never a run
//! whose final metrics keep them), and a run advanced piece by piece, its state cloned in
//! between, equals one uninterrupted run bit for bit.

use gridsweep::candles::CandleSlice;
use gridsweep::decimal::Dec;
use gridsweep::engine::{
    candle_ticks, Amount, Engine, FillRecord, LimitMetric, LimitValues, Model, Recorder,
    RunContext, RunParams, StopLimits, Violation, WindDown,
};
use gridsweep::instrument::Instrument;
use gridsweep::tiers::builtin::builtin_tiers;
use proptest::prelude::*;

#[derive(Default, PartialEq, Debug)]
struct Log {
    fills: Vec<(i64, u8, u8, u64, u64, u64, u64)>,
    equity: Vec<(i64, u64)>,
    /// Keep no equity curve (lets the engine take its still stretches).
    skip_marks: bool,
}

impl Recorder for Log {
    fn on_fill(&mut self, f: &FillRecord) {
        self.fills.push((
            f.ts_ms,
            f.side as u8,
            f.direction as u8,
            f.price.to_bits(),
            f.qty.to_bits(),
            f.realized_pnl.to_bits(),
            f.commission.to_bits(),
        ));
    }
    fn on_equity(&mut self, ts: i64, e: f64) {
        if !self.skip_marks {
            self.equity.push((ts, e.to_bits()));
        }
    }
    fn wants_equity(&self) -> bool {
        !self.skip_marks
    }
}

/// Every metric, bit for bit, as comparable strings.
fn metric_fields(m: &gridsweep::metrics::Metrics) -> Vec<String> {
    m.fields().iter().map(|(n, v)| format!("{n}={v:?}")).collect()
}

/// A random walk of candles on a 0.01 tick around `start`.
fn candles(start: f64, steps: &[(i16, u8, u8, i16)]) -> (Vec<i64>, [Vec<f64>; 4]) {
    let mut ts = Vec::new();
    let (mut o, mut h, mut l, mut c) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut px = (start * 100.0).round() as i64;
    let mut t = 1_769_904_000_000i64;
    for (i, &(d, up, down, close)) in steps.iter().enumerate() {
        // Mostly 1-minute steps, with some off-minute ones and hour-long gaps, so hour
        // buckets and funding times also fall inside candles.
        t += match i % 13 {
            0 if i > 0 => 3_600_000 + 20_000,
            7 => 80_000,
            _ => 60_000,
        };
        let open = px.max(200);
        let close_px = (open + i64::from(close)).max(100);
        let high = open.max(close_px) + i64::from(up);
        let low = (open.min(close_px) - i64::from(down)).max(50);
        ts.push(t);
        o.push(open as f64 / 100.0);
        h.push(high as f64 / 100.0);
        l.push(low as f64 / 100.0);
        c.push(close_px as f64 / 100.0);
        px = close_px + i64::from(d);
    }
    (ts, [o, h, l, c])
}

/// The case count: `PROPTEST_CASES` when set (CI may raise it), else `default`.
fn cases(default: u32) -> u32 {
    match std::env::var("PROPTEST_CASES") {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("PROPTEST_CASES={v:?} is not a number")),
        Err(_) => default,
    }
}

/// Every parameter of the registry, varied (`src/config/fields.rs`): the strategy's and the
/// account's, the bybit model's hedge rule and the grid-bot sizing included.
fn params() -> impl Strategy<Value = RunParams> {
    (params_core(), params_rest()).prop_map(|(mut p, rest)| {
        let (fees, thresholds, low_margin_variant, rebalance, funding_rate, per_leg) = rest;
        p.account.commission_rate = fees.0;
        p.account.taker_fee_rate = fees.1;
        p.grid.min_liq_ratio = thresholds.0;
        p.grid.max_liq_ratio = thresholds.1;
        p.grid.min_total_margin = thresholds.2;
        p.grid.increase_same_position_on_low_margin = low_margin_variant;
        p.grid.rebalance_threshold = rebalance;
        p.account.funding_rate = funding_rate;
        if per_leg {
            p.account.hedge_margin = gridsweep::engine::HedgeMargin::PerLeg;
        }
        p
    })
}

type Rest = ((f64, f64), (f64, f64, f64), bool, f64, f64, bool);

/// The parameters the core strategy below leaves at their defaults.
fn params_rest() -> impl Strategy<Value = Rest> {
    (
        prop_oneof![Just((0.0002, 0.00055)), Just((0.0, 0.0)), Just((0.001, 0.0005))],
        prop_oneof![Just((0.8, 1.2, 0.15)), Just((0.9, 1.1, 1.0)), Just((0.5, 2.0, 0.05))],
        any::<bool>(),
        prop_oneof![Just(0.3), Just(0.1), Just(0.6)],
        prop_oneof![Just(0.0005), Just(0.0001), Just(-0.0003)],
        any::<bool>(),
    )
}

fn params_core() -> impl Strategy<Value = RunParams> {
    (
        prop_oneof![Just(Model::Origin), Just(Model::Bybit)],
        prop_oneof![6u32..60, 60u32..150], // one bit-set word and several
        prop_oneof![Just(0.1), Just(0.2), Just(0.35), Just(0.5), Just(1.0)],
        prop_oneof![
            Just("x0.001"),
            Just("x0.01"),
            Just("x0.05"),
            Just("100"),
            Just("7.5"),
            Just("grid_bot:500")
        ],
        any::<bool>(),
        prop_oneof![Just(1.0), Just(1.5), Just(3.0)],
        prop_oneof![Just(1.0), Just(5.0), Just(25.0), Just(50.0)],
        prop_oneof![Just(500.0), Just(10_000.0)],
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(model, count, step, amount, risk, early, lev, bal, funding, close_all)| {
            let mut p = RunParams::default();
            p.account.model = model;
            p.grid.grid_count = count;
            p.grid.grid_step = step;
            p.grid.amount = Amount::parse(amount).unwrap();
            p.grid.enable_risk_multipliers = risk;
            p.grid.early_imbalance_multiplier = early;
            p.account.leverage = lev;
            p.account.initial_balance = bal;
            p.account.enable_funding = funding;
            p.account.wind_down = if close_all { WindDown::CloseAll } else { WindDown::LeaveOpen };
            p
        })
}

fn steps() -> impl Strategy<Value = Vec<(i16, u8, u8, i16)>> {
    prop::collection::vec((-40i16..40, 0u8..60, 0u8..60, -60i16..60), 50..600)
}

fn ltc() -> Instrument {
    Instrument::resolve(
        "LTCUSDT",
        Some(Dec::parse("0.01").unwrap()),
        Some(Dec::parse("0.1").unwrap()),
    )
    .unwrap()
}

/// A [`Log`] that hands stop limits to the engine and keeps the stop.
#[derive(Default, Debug)]
struct Limited {
    log: Log,
    limits: StopLimits,
    stop: Option<Violation>,
}

impl Recorder for Limited {
    fn on_fill(&mut self, f: &FillRecord) {
        self.log.on_fill(f);
    }
    fn on_equity(&mut self, ts: i64, e: f64) {
        self.log.on_equity(ts, e);
    }
    fn wants_equity(&self) -> bool {
        self.log.wants_equity()
    }
    fn limits(&self) -> Option<StopLimits> {
        Some(self.limits)
    }
    fn on_stop(&mut self, v: &Violation) {
        assert!(self.stop.is_none(), "a run stops once");
        self.stop = Some(*v);
    }
}

/// Limits around a run's final values: each a share `f` of the final value (so some break
/// and some hold), `f` in hundredths; `which` picks the metrics bounded.
fn limits_around(m: &LimitValues, f: &[u8; 6], which: u8) -> StopLimits {
    let mut l = StopLimits::default();
    let k = |i: usize| f64::from(f[i]) / 100.0;
    if which & 1 != 0 {
        l.set(LimitMetric::MaxDrawdownPct, m.max_drawdown_pct * k(0));
    }
    if which & 2 != 0 {
        l.set(
            LimitMetric::MinLiqDistancePct,
            m.min_liq_distance_pct.unwrap_or(5.0) / k(1).max(0.01),
        );
    }
    if which & 4 != 0 {
        l.set(LimitMetric::MaxDrawdownDuration, (m.max_drawdown_duration as f64 * k(2)).floor());
    }
    if which & 8 != 0 {
        l.set(LimitMetric::PeakImrPct, m.peak_imr_pct * k(3));
    }
    if which & 16 != 0 {
        l.set(LimitMetric::TotalCommission, m.total_commission * k(4));
    }
    if which & 32 != 0 {
        l.set(LimitMetric::OrdersRejected, (m.orders_rejected as f64 * k(5)).floor());
    }
    if which & 64 != 0 {
        l.no_liquidation = true;
    }
    l
}

fn nonneg_fees(mut p: RunParams) -> RunParams {
    p.account.commission_rate = p.account.commission_rate.abs();
    p.account.taker_fee_rate = p.account.taker_fee_rate.abs();
    p
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(64), ..ProptestConfig::default() })]

    /// Exactness of stop limits: a run stops iff its unconstrained final metrics break a
    /// limit; a run that does not stop is bit-identical to the unconstrained one; a run that
    /// stops does so at the same tick, with the same metrics and fills, in the fast engine
    /// (with and without still stretches) and the reference engine, its metrics break the
    /// limit and those of the ticks before it do not.
    #[test]
    fn prop_stop_limits_are_exact(
        p in params(), st in steps(), start in 20.0f64..200.0,
        f in proptest::array::uniform6(20u8..140), which in 1u8..128,
    ) {
        let p = nonneg_fees(p);
        let (ts, [o, h, l, c]) = candles(start, &st);
        let slice = CandleSlice { ts_ms: &ts, open: &o, high: &h, low: &l, close: &c, mark: None };
        let inst = ltc();
        let tiers = builtin_tiers("LTCUSDT");
        let ctx = RunContext { instrument: &inst, tiers: &tiers, funding_series: None };
        let mut free = Log { skip_marks: true, ..Log::default() };
        let Ok(m) = Engine::new().run_candles(slice, &p, &ctx, &mut free) else { return Ok(()) };
        let limits = limits_around(&LimitValues::of(&m), &f, which);
        let expect_stop = limits.first_broken(&LimitValues::of(&m));
        let mut runs = Vec::new();
        for (label, skip) in [("fast, still", true), ("fast, marks", false)] {
            let mut rec = Limited { limits, log: Log { skip_marks: skip, ..Log::default() }, stop: None };
            let mut e = Engine::new().with_invariant_checks();
            let r = e.run_candles(slice, &p, &ctx, &mut rec).unwrap();
            prop_assert_eq!(e.stopped(), rec.stop);
            runs.push((label, r, rec));
        }
        let mut rec = Limited { limits, log: Log { skip_marks: true, ..Log::default() }, stop: None };
        let r = Engine::reference().run(candle_ticks(slice), &p, &ctx, &mut rec).unwrap();
        runs.push(("reference, ticks", r, rec));
        let (_, ref_m, ref_rec) = runs.pop().unwrap();
        prop_assert_eq!(ref_rec.stop.is_some(), expect_stop.is_some(), "stop iff the final metrics break a limit");
        for (label, r, rec) in &runs {
            prop_assert_eq!(metric_fields(r), metric_fields(&ref_m), "{}: metrics", label);
            prop_assert_eq!(&rec.log.fills, &ref_rec.log.fills, "{}: fills", label);
            prop_assert_eq!(rec.stop, ref_rec.stop, "{}: stop", label);
        }
        match ref_rec.stop {
            None => {
                prop_assert_eq!(metric_fields(&ref_m), metric_fields(&m));
                prop_assert_eq!(&ref_rec.log.fills, &free.fills);
            }
            Some(v) => {
                prop_assert!(limits.first_broken(&LimitValues::of(&ref_m)).is_some());
                prop_assert_eq!(ref_m.last_ts_ms, Some(v.ts_ms));
                // The run over the ticks before the stop breaks nothing (without a
                // wind-down, whose fees the stopped run does not pay).
                let mut q = p;
                q.account.wind_down = WindDown::LeaveOpen;
                if v.ts_ms > ts[0] && p.account.wind_down == WindDown::LeaveOpen {
                    let before = candle_ticks(slice).take_while(|t| t.ts_ms < v.ts_ms);
                    let mb = Engine::reference().run(before, &q, &ctx, &mut Log::default()).unwrap();
                    prop_assert_eq!(limits.first_broken(&LimitValues::of(&mb)), None);
                }
            }
        }
    }

    /// A run advanced over consecutive pieces of its candles, its engine cloned between them
    /// (the state a halving rung keeps), equals one uninterrupted run bit for bit: fills,
    /// equity marks and metrics, in the fast and the reference engine; the metrics peeked at
    /// a cut equal those of a run over the candles up to it.
    #[test]
    fn prop_rung_continuation_equals_one_run(
        p in params(), st in steps(), start in 20.0f64..200.0,
        cuts in proptest::collection::vec(0.0f64..1.0, 1..4), marks in any::<bool>(),
    ) {
        let (ts, [o, h, l, c]) = candles(start, &st);
        let slice = CandleSlice { ts_ms: &ts, open: &o, high: &h, low: &l, close: &c, mark: None };
        let inst = ltc();
        let tiers = builtin_tiers("LTCUSDT");
        let ctx = RunContext { instrument: &inst, tiers: &tiers, funding_series: None };
        let mut at: Vec<usize> = cuts.iter().map(|x| (x * ts.len() as f64) as usize).collect();
        at.push(ts.len());
        at.sort_unstable();
        for reference in [false, true] {
            let fresh = || if reference { Engine::reference() } else { Engine::new() };
            let mut whole = Log { skip_marks: !marks, ..Log::default() };
            let Ok(mw) = fresh().run_candles(slice, &p, &ctx, &mut whole) else { return Ok(()) };
            let mut pieces = Log { skip_marks: !marks, ..Log::default() };
            let mut scratch = fresh();
            let mut run = scratch.begin_candles(&p, &ctx).unwrap();
            let mut state = scratch.clone();
            let mut from = 0;
            for &to in &at {
                let piece = slice.range(from, to);
                state.advance_candles(&mut run, piece, &p, &ctx, &mut pieces).unwrap();
                // The state survives as a clone; the old one is dropped.
                state = state.clone();
                if to < ts.len() && to > 0 && !run.ended() {
                    let prefix = slice.range(0, to);
                    let mp = fresh().run_candles(prefix, &p, &ctx, &mut Log { skip_marks: true, ..Log::default() }).unwrap();
                    prop_assert_eq!(metric_fields(&state.peek_metrics(&run)), metric_fields(&mp), "peek at {}", to);
                }
                from = to;
            }
            let mp = state.finish_candles(&run, &mut pieces);
            prop_assert_eq!(metric_fields(&mp), metric_fields(&mw), "reference {}", reference);
            prop_assert_eq!(&pieces.fills, &whole.fills);
            prop_assert_eq!(&pieces.equity, &whole.equity);
        }
    }
}
