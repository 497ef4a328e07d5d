//! Property tests of the engine: the fast engine equals the reference engine bit for bit,
//! and the accounting invariants hold on random candle series and random parameters.

use gridsweep::candles::CandleSlice;
use gridsweep::engine::grid::{round_tick, Grid, LevelSide};
use gridsweep::engine::{
    candle_ticks, Amount, Engine, FastPaths, FillRecord, Model, Recorder, RunContext, RunError,
    RunParams,
};
use gridsweep::instrument::Instrument;
use gridsweep::tiers::builtin::builtin_tiers;
use proptest::prelude::*;

mod engine_common;
use engine_common::{candles, cases, ltc, metric_fields, params, steps, Log};

/// True when the ladder around `price` (§1.3: `count / 2` levels each side, each the
/// previous one times 1 ∓ step %, rounded to the tick) has two levels on one tick.
fn ladder_has_duplicate(price: f64, tick: f64, count: u32, step: f64) -> bool {
    let s = step / 100.0;
    let (mut lo, mut hi) = (price, price);
    let mut levels = vec![round_tick(price, tick)];
    for _ in 0..count / 2 {
        lo = round_tick(lo * (1.0 - s), tick);
        hi = round_tick(hi * (1.0 + s), tick);
        levels.push(lo);
        levels.push(hi);
    }
    levels.sort_by(f64::total_cmp);
    levels.windows(2).any(|w| w[0] == w[1])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(96), ..ProptestConfig::default() })]

    /// Fast engine ≡ reference engine: same fills, same equity marks, same metrics, bit for bit.
    #[test]
    fn prop_fast_engine_equals_reference(p in params(), st in steps(), start in 20.0f64..200.0) {
        let (ts, [o, h, l, c]) = candles(start, &st);
        let slice = CandleSlice { ts_ms: &ts, open: &o, high: &h, low: &l, close: &c, mark: None };
        let inst = ltc();
        let tiers = builtin_tiers("LTCUSDT");
        let ctx = RunContext { instrument: &inst, tiers: &tiers, funding_series: None };
        let (mut a, mut b, mut r) = (Log::default(), Log::default(), Log::default());
        let mut q = Log { skip_marks: true, ..Log::default() };
        // The fast engine on candles (per-candle quiet path), on candles without an equity
        // curve (still stretches too), and on their ticks.
        // (The survivor map's invariants are checked after every full tick.)
        let ra = Engine::new().with_invariant_checks().run_candles(slice, &p, &ctx, &mut a);
        let rq = Engine::new().run_candles(slice, &p, &ctx, &mut q);
        let rb = Engine::new().run(candle_ticks(slice), &p, &ctx, &mut b);
        let rr = Engine::reference().run(candle_ticks(slice), &p, &ctx, &mut r);
        for (fast, log) in [(ra, &a), (rq, &q), (rb, &b)] {
            match (fast, &rr) {
                (Ok(ma), Ok(mb)) => prop_assert_eq!(metric_fields(&ma), metric_fields(mb)),
                (Err(ea), Err(eb)) => prop_assert_eq!(&ea, eb),
                (x, y) => prop_assert!(false, "fast {:?} vs reference {:?}", x, y),
            }
            prop_assert_eq!(&log.fills, &r.fills);
            if !log.skip_marks {
                prop_assert_eq!(&log.equity, &r.equity);
            }
        }
    }

    /// Each fast path alone, and all but each one, give the reference engine's results bit
    /// for bit: a failure names the mechanism (`FastPaths::NAMES`).
    #[test]
    fn prop_each_fast_path_is_exact_on_its_own(p in params(), st in steps(), start in 20.0f64..200.0) {
        let (ts, [o, h, l, c]) = candles(start, &st);
        let slice = CandleSlice { ts_ms: &ts, open: &o, high: &h, low: &l, close: &c, mark: None };
        let inst = ltc();
        let tiers = builtin_tiers("LTCUSDT");
        let ctx = RunContext { instrument: &inst, tiers: &tiers, funding_series: None };
        let mut r = Log { skip_marks: true, ..Log::default() };
        let rr = Engine::reference().run_candles(slice, &p, &ctx, &mut r).map(|m| metric_fields(&m));
        for name in FastPaths::NAMES {
            for (label, fast) in [("alone", FastPaths::NONE.with(name, true)), ("all but", FastPaths::ALL.with(name, false))] {
                let mut q = Log { skip_marks: true, ..Log::default() };
                let rq = Engine::with_fast_paths(fast).run_candles(slice, &p, &ctx, &mut q).map(|m| metric_fields(&m));
                prop_assert_eq!(&rq, &rr, "fast path {} {}: metrics differ", label, name);
                prop_assert_eq!(&q.fills, &r.fills, "fast path {} {}: fills differ", label, name);
            }
        }
    }

    /// Equity = balance + unrealised at every tick: the recorded marks rebuild from the fills.
    #[test]
    fn prop_equity_is_cash_plus_unrealised(p in params(), st in steps(), start in 20.0f64..200.0) {
        let mut p = p;
        p.account.enable_funding = false; // funding has no fill record; checked by unit tests
        let (ts, [o, h, l, c]) = candles(start, &st);
        let slice = CandleSlice { ts_ms: &ts, open: &o, high: &h, low: &l, close: &c, mark: None };
        let inst = ltc();
        let tiers = builtin_tiers("LTCUSDT");
        let ctx = RunContext { instrument: &inst, tiers: &tiers, funding_series: None };
        #[derive(Default)]
        struct Check { fills: Vec<FillRecord>, marks: Vec<(i64, f64)> }
        impl Recorder for Check {
            fn on_fill(&mut self, f: &FillRecord) { self.fills.push(*f); }
            fn on_equity(&mut self, ts: i64, e: f64) {
                // The wind-down mark after the last tick replaces that tick's mark.
                match self.marks.last_mut() {
                    Some(last) if last.0 == ts => last.1 = e,
                    _ => self.marks.push((ts, e)),
                }
            }
        }
        let mut rec = Check::default();
        // Wind-down closes are in the last mark (it replaces the last tick's).
        // A run may fail only in the origin model with the origin's wallet error (its risk
        // rules meet a non-positive wallet with a position open; the bybit model liquidates
        // first), or with a ladder that has two levels on one tick. The marks recorded up to that failure are still checked below; any other
        // failure fails the property.
        let m = match Engine::new().run(candle_ticks(slice), &p, &ctx, &mut rec) {
            Ok(m) => Some(m),
            Err(RunError::Wallet(_)) if p.account.model == Model::Origin => None,
            // A rebuild after a deep fall may put two levels on one tick (§1.3): legitimate
            // only when the ladder at the reported price really has a duplicate.
            Err(RunError::Grid(e)) if ladder_has_duplicate(e.price, e.tick, p.grid.grid_count, e.step) => None,
            Err(e) => {
                return Err(TestCaseError::fail(format!("{:?} run failed: {e:?}", p.account.model)))
            }
        };
        // Replay fills into independent books; compare each mark with cash + unrealised.
        let prices: Vec<(i64, f64)> = candle_ticks(slice).map(|t| (t.ts_ms, t.price)).collect();
        let (mut cash, mut fi) = (p.account.initial_balance, 0usize);
        let mut book = [(0.0f64, 0.0f64); 2]; // (size, entry) long, short
        for (k, &(ts, eq)) in rec.marks.iter().enumerate() {
            while fi < rec.fills.len() && rec.fills[fi].ts_ms <= ts {
                let f = rec.fills[fi];
                let d = f.direction as usize;
                cash += f.realized_pnl - f.commission;
                let opening = (d == 0) == (f.side as u8 == 0);
                let (size, entry) = book[d];
                if opening {
                    book[d] = (size + f.qty, (size * entry + f.qty * f.price) / (size + f.qty));
                } else if size > 0.0 {
                    let left = (size - f.qty).max(0.0);
                    book[d] = if left <= 1e-12 { (0.0, 0.0) } else { (left, entry) };
                }
                fi += 1;
            }
            let px = prices.iter().find(|x| x.0 == ts).unwrap().1;
            let unreal = book[0].0 * (px - book[0].1) + book[1].0 * (book[1].1 - px);
            let want = cash + unreal;
            prop_assert!((want - eq).abs() <= 1e-6 * want.abs().max(1.0), "tick {} ({}): marked {} vs cash+unrealised {}", k, ts, eq, want);
        }
        if let Some(m) = m {
            let total = m.final_balance;
            prop_assert!((total - (m.initial_balance + m.total_realized_pnl + m.total_unrealized_pnl - m.total_commission + m.total_funding)).abs() < 1e-9 * total.abs().max(1.0));
        }
    }

    /// The ladder stays sorted and unique through builds and fill updates (bybit model; the
    /// origin model keeps the origin's degenerate 0-price level, see the grid unit tests).
    #[test]
    fn prop_grid_sorted_and_unique(count in 4u32..120, step in 0.05f64..3.0, start in 1.0f64..100_000.0,
                                   moves in prop::collection::vec((-0.05f64..0.05, -0.05f64..0.05), 1..80)) {
        let tick = if start > 1000.0 { 0.1 } else { 0.0001 };
        let mut g = Grid::default();
        g.reset(tick, count, step, 0.3, false);
        // The start ladder always builds: its levels are at least ~4.8 ticks apart here.
        prop_assert_eq!(g.build(start), Ok(()));
        let mut last = start;
        for (f, c) in moves {
            let fill = last * (1.0 + f);
            let close = last * (1.0 + c);
            if let Err(e) = g.update(fill, close) {
                // A rebuild fails only when the price fell so far that two levels round to
                // one tick: rebuild that ladder here and check it has a duplicate. The grid
                // is cleared by the error, so the walk ends.
                prop_assert_eq!((e.tick, e.step, e.price), (tick, step, close));
                prop_assert!(ladder_has_duplicate(close, tick, count, step), "unexpected {}", e);
                break;
            }
            last = close;
            let lv = g.levels();
            prop_assert_eq!(lv.len() as u32, 2 * (count / 2) + 1);
            for w in lv.windows(2) {
                prop_assert!(w[0].price < w[1].price, "not sorted/unique: {} {}", w[0].price, w[1].price);
            }
            prop_assert!(lv.iter().any(|l| l.side != LevelSide::Wait) || lv.len() <= 1);
        }
    }

    /// Maintenance margin is monotone (and continuous across tiers) in position value.
    #[test]
    fn prop_mm_monotone_in_position_value(a in 0.0f64..400_000_000.0, b in 0.0f64..400_000_000.0,
                                          sym in prop_oneof![Just("BTCUSDT"), Just("ETHUSDT"), Just("XRPUSDT")]) {
        let t = builtin_tiers(sym);
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(t.maintenance_margin(lo).0 <= t.maintenance_margin(hi).0 + 1e-6);
    }
}

/// On the shipped month every fast path is taken (so the differential tests above test them).
#[test]
fn every_fast_path_runs_on_the_real_month() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/LTCUSDT-1m-2026-02.parquet");
    let candles = gridsweep::candles::Candles::open_parquet(&[path]).unwrap();
    let inst = Instrument::resolve("LTCUSDT", None, None).unwrap();
    let tiers = builtin_tiers("LTCUSDT");
    let ctx = RunContext { instrument: &inst, tiers: &tiers, funding_series: None };
    for model in [Model::Bybit, Model::Origin] {
        let mut p = RunParams::default();
        p.account.model = model;
        p.grid.grid_count = 50;
        p.grid.grid_step = 0.3;
        p.grid.amount = Amount::parse("x0.002").unwrap();
        let mut e = Engine::new().with_invariant_checks();
        e.run_candles(candles.slice(), &p, &ctx, &mut Log { skip_marks: true, ..Log::default() })
            .unwrap();
        let c = e.fast_path_counts();
        let all = [
            ("quiet_band", c.quiet_ticks),
            ("still_stretches", c.still_candles),
            ("survivor_map", c.survivor_map_kept),
            ("survivor_shift", c.survivor_shifts),
            ("fill_walk", c.fill_walks),
            ("open_level_bits", c.open_level_words),
            ("mapped_placement", c.mapped_placements),
        ];
        for (name, n) in all {
            assert!(n > 0, "{model:?}: fast path {name} never ran ({c:?})");
        }
        // The reference engine takes none.
        let mut r = Engine::reference();
        r.run_candles(candles.slice(), &p, &ctx, &mut Log::default()).unwrap();
        assert_eq!(r.fast_path_counts(), gridsweep::engine::FastPathCounts::default());
    }
}

/// On the shipped month, runs without an equity curve take still stretches for most quiet
/// candles, and their metrics and fills still equal the reference engine's bit for bit.
#[test]
fn still_stretches_on_real_candles_equal_reference() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/LTCUSDT-1m-2026-02.parquet");
    let candles = gridsweep::candles::Candles::open_parquet(&[path]).unwrap();
    let slice = candles.slice();
    let inst = Instrument::resolve("LTCUSDT", None, None).unwrap();
    let tiers = builtin_tiers("LTCUSDT");
    let ctx = RunContext { instrument: &inst, tiers: &tiers, funding_series: None };
    for (model, step, amount, lev) in [
        (Model::Bybit, 0.3, "x0.002", 10.0),
        (Model::Origin, 0.3, "x0.002", 10.0),
        (Model::Bybit, 0.15, "x0.05", 25.0),
    ] {
        let mut p = RunParams::default();
        p.account.model = model;
        p.account.leverage = lev;
        p.grid.grid_count = 50;
        p.grid.grid_step = step;
        p.grid.amount = Amount::parse(amount).unwrap();
        let mut q = Log { skip_marks: true, ..Log::default() };
        let mut r = Log::default();
        let mut fast = Engine::new();
        let mq = fast.run_candles(slice, &p, &ctx, &mut q).unwrap();
        let mr = Engine::reference().run_candles(slice, &p, &ctx, &mut r).unwrap();
        assert_eq!(metric_fields(&mq), metric_fields(&mr), "{model:?} {step} {amount}");
        assert_eq!(q.fills, r.fills);
        let still = fast.still_candles();
        // The aggressive bybit run holds large positions whose margin, valued at the price,
        // keeps setting new peaks, so fewer of its candles are still (about 2,200 of 40,000).
        let least = if lev > 10.0 { slice.len() as u64 / 40 } else { slice.len() as u64 / 4 };
        assert!(still > least, "{model:?} {step}: only {still} still candles");
        assert!(still < slice.len() as u64, "fill candles are never still");
    }
}
