//! Property tests of the search hooks in the engine: stop limits stop a run exactly (at the
//! first tick that breaks one, the same in the fast and the reference engine, and never a run
//! whose final metrics keep them), and a run advanced piece by piece, its state cloned in
//! between, equals one uninterrupted run bit for bit.

use gridsweep::candles::CandleSlice;
use gridsweep::engine::{
    candle_ticks, Engine, FillRecord, LimitMetric, LimitValues, Recorder, RunContext, RunParams,
    StopLimits, Violation, WindDown,
};
use gridsweep::tiers::builtin::builtin_tiers;
use proptest::prelude::*;

mod engine_common;
use engine_common::{candles, cases, ltc, metric_fields, params, steps, Log};

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
