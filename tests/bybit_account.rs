//! The bybit account model (docs/model.md): no price path makes a run fail, liquidation
//! closes at the account's bankruptcy price so no account ends below zero, and hand-derived
//! scenarios (a drift and a gap through the liquidation price, both legs open, a funding
//! payment that liquidates, a tier boundary) give the values the formulas give.

use gridsweep::candles::{CandleSlice, MarkSlice};
use gridsweep::decimal::Dec;
use gridsweep::engine::{
    Amount, Engine, FillKind, FillRecord, Model, Recorder, RunContext, RunParams, Tick, VecRecorder,
};
use gridsweep::instrument::Instrument;
use gridsweep::metrics::PriceSource;
use gridsweep::tiers::{Tier, TierTable};
use proptest::prelude::*;

fn ltc() -> Instrument {
    Instrument::resolve("LTCUSDT", None, None).unwrap()
}

fn d(s: &str) -> Dec {
    Dec::parse(s).unwrap()
}

/// One tier: MMR 1 %, IMR 2 % (50x), no deduction.
fn flat_table() -> TierTable {
    TierTable::from_sorted("LTCUSDT", vec![Tier::new(None, d("0.01"), d("0"), d("0.02"))])
}

/// A run with a small grid, no risk rules and no funding unless a test turns them on.
fn params(amount: &str, leverage: f64) -> RunParams {
    let mut p = RunParams::default();
    p.account.model = Model::Bybit;
    p.account.leverage = leverage;
    p.account.enable_funding = false;
    p.account.taker_fee_rate = 0.0005;
    p.account.commission_rate = 0.0;
    p.grid.grid_count = 4;
    p.grid.grid_step = 1.0;
    p.grid.amount = Amount::parse(amount).unwrap();
    p.grid.enable_risk_multipliers = false;
    p
}

/// The position after the recorded fills (size, entry) per direction, and the cash
/// (initial + realised − fees), replayed independently of the engine.
fn replay(initial: f64, fills: &[FillRecord]) -> ([(f64, f64); 2], f64) {
    let mut book = [(0.0f64, 0.0f64); 2];
    let mut cash = initial;
    for f in fills.iter().filter(|f| f.kind == FillKind::Limit) {
        let dir = f.direction as usize;
        cash += f.realized_pnl - f.commission;
        let opening = (dir == 0) == (f.side as u8 == 0);
        let (size, entry) = book[dir];
        book[dir] = if opening {
            (size + f.qty, (size * entry + f.qty * f.price) / (size + f.qty))
        } else {
            let left = (size - f.qty).max(0.0);
            (left, if left > 0.0 { entry } else { 0.0 })
        };
    }
    (book, cash)
}

fn ticks(prices: &[(i64, f64)]) -> Vec<Tick> {
    prices.iter().map(|&(ts_ms, price)| Tick { ts_ms, price }).collect()
}

/// A long built by the grid on the way down from 100, then a fall to `last`: the run is
/// liquidated at the price where equity = MM (1 % of value + 0.05 % fee to close) and closed
/// where equity after the 0.05 % taker fee is zero.
fn long_through_liquidation(last: f64, steps: usize) -> (gridsweep::metrics::Metrics, VecRecorder) {
    let t0 = 1_769_904_000_000i64;
    // 100, then down to 95 in small steps (the buys below 100 fill), then on to `last`.
    let mut path = vec![(t0, 100.0)];
    for k in 1..=50 {
        path.push((t0 + 15_000 * k, 100.0 - 0.1 * k as f64));
    }
    let from = 95.0;
    for k in 1..=steps {
        let p = from + (last - from) * k as f64 / steps as f64;
        path.push((t0 + 15_000 * (50 + k as i64), p));
    }
    let table = flat_table();
    let inst = ltc();
    let ctx = RunContext { instrument: &inst, tiers: &table, funding_series: None };
    let mut p = params("5000", 50.0);
    p.account.initial_balance = 1000.0;
    let mut rec = VecRecorder::default();
    let m = Engine::new().run(ticks(&path), &p, &ctx, &mut rec).unwrap();
    (m, rec)
}

fn check_long_liquidation(m: &gridsweep::metrics::Metrics, rec: &VecRecorder) {
    assert!(m.liquidated, "the run must be liquidated");
    let ([(size, entry), (short, _)], cash) = replay(1000.0, &rec.fills);
    assert!(size > 0.0 && short == 0.0, "a long only: {size} {short}");
    // equity(p) = cash + (p − entry)·size = 0.01·size·p + 0.0005·size·p at the trigger.
    let trigger = (entry * size - cash) / (size - 0.0105 * size);
    let t = m.liquidation_trigger_price.unwrap();
    assert!((t - trigger).abs() < 1e-9 * trigger, "trigger {t} vs {trigger}");
    // Bankruptcy: cash + (p − entry)·size − 0.0005·size·p = 0.
    let bankruptcy = (entry * size - cash) / (size - 0.0005 * size);
    let b = m.bankruptcy_price.unwrap();
    assert!((b - bankruptcy).abs() < 1e-9 * bankruptcy, "bankruptcy {b} vs {bankruptcy}");
    let close = rec.fills.iter().find(|f| f.kind == FillKind::Liquidation).unwrap();
    assert_eq!(close.price, b);
    assert!((close.commission - 0.0005 * size * b).abs() < 1e-9);
    assert!(m.final_balance >= 0.0 && m.final_balance < 1e-6, "{}", m.final_balance);
    // MM over equity at the trigger is 100 %: the peak share includes the liquidating tick.
    assert!(m.peak_mmr_pct >= 100.0 * (1.0 - 1e-9), "{}", m.peak_mmr_pct);
    assert_eq!(m.min_liq_distance_pct, Some(0.0));
}

/// A long built on flat candles from 100 down to 95, then one candle whose last price stays
/// at 95 while its mark price dips to `mark_low` and comes back (mark ticks 95, `mark_low`,
/// 95, 95), then flat candles at 95. Returns the metrics and the fills.
fn long_under_a_mark_dip(
    mark_low: f64,
    with_mark: bool,
) -> (gridsweep::metrics::Metrics, VecRecorder) {
    let t0 = 1_769_904_000_000i64;
    let mut prices: Vec<f64> = (0..=50).map(|k| 100.0 - 0.1 * k as f64).collect();
    prices.extend([95.0; 6]);
    let n = prices.len();
    let ts: Vec<i64> = (0..n as i64).map(|i| t0 + 60_000 * i).collect();
    let (o, h, l, c) = (prices.clone(), prices.clone(), prices.clone(), prices.clone());
    let mut mark_low_col = prices.clone();
    mark_low_col[52] = mark_low; // the candle after the first flat one at 95
    let mark = with_mark.then(|| MarkSlice { open: &o, high: &h, low: &mark_low_col, close: &c });
    let slice = CandleSlice { ts_ms: &ts, open: &o, high: &h, low: &l, close: &c, mark };
    let table = flat_table();
    let inst = ltc();
    let ctx = RunContext { instrument: &inst, tiers: &table, funding_series: None };
    let mut p = params("5000", 50.0);
    p.account.initial_balance = 1000.0;
    let mut rec = VecRecorder::default();
    let m = Engine::new().run_candles(slice, &p, &ctx, &mut rec).unwrap();
    let mut r2 = VecRecorder::default();
    let mr = Engine::reference().run_candles(slice, &p, &ctx, &mut r2).unwrap();
    assert_eq!(format!("{:?}", m.fields()), format!("{:?}", mr.fields()), "fast = reference");
    (m, rec)
}

#[test]
fn a_mark_price_dip_liquidates_where_the_last_price_never_moved() {
    // Without mark prices the flat last price at 95 liquidates nothing.
    let (plain, _) = long_under_a_mark_dip(60.0, false);
    assert!(!plain.liquidated);
    assert_eq!(plain.liquidation_price_source, PriceSource::Last);
    // The long's trigger from its fills (equity = MM + fee to close, see
    // check_long_liquidation): a mark dip just above it liquidates nothing, one just below
    // it liquidates.
    let (_, plain_rec) = long_under_a_mark_dip(60.0, false);
    let before_dip: Vec<FillRecord> = plain_rec
        .fills
        .iter()
        .filter(|f| f.ts_ms < 1_769_904_000_000 + 52 * 60_000)
        .copied()
        .collect();
    let ([(size, entry), _], cash) = replay(1000.0, &before_dip);
    let trigger = (entry * size - cash) / (size - 0.0105 * size);
    assert!(trigger > 60.0 && trigger < 95.0, "{trigger}");
    let (shallow, _) = long_under_a_mark_dip(trigger * 1.0001, true);
    assert!(!shallow.liquidated);
    assert_eq!(shallow.liquidation_price_source, PriceSource::Mark);
    let (deep, _) = long_under_a_mark_dip(trigger * 0.9999, true);
    assert!(deep.liquidated);
    // A mark dip to 60: liquidated where the mark meets equity = MM (the long's own
    // formula, at the mark), closed at the bankruptcy price, while the last price is 95.
    let (m, rec) = long_under_a_mark_dip(60.0, true);
    check_long_liquidation(&m, &rec);
    assert_eq!(m.liquidation_price_source, PriceSource::Mark);
    assert_eq!(m.liquidation_tick_price, Some(95.0), "the last price of the liquidating tick");
    assert_eq!(m.liquidation_ts_ms, Some(1_769_904_000_000 + 52 * 60_000 + 15_000));
    assert!(m.liquidation_trigger_price.unwrap() > 60.0);
    assert!(m.liquidation_trigger_price.unwrap() < 95.0);
}

#[test]
fn a_long_drifting_down_is_liquidated_at_its_trigger_and_closed_at_bankruptcy() {
    let (m, rec) = long_through_liquidation(60.0, 4000);
    check_long_liquidation(&m, &rec);
    // The drift passes the trigger by at most one small step.
    let tick = m.liquidation_tick_price.unwrap();
    assert!(tick <= m.liquidation_trigger_price.unwrap());
    assert!(m.liquidation_trigger_price.unwrap() - tick < 0.02);
}

#[test]
fn a_gap_far_past_the_bankruptcy_price_ends_at_zero_not_below() {
    // One tick from 95 straight to 20: the trader's loss stops at the bankruptcy price.
    let (m, rec) = long_through_liquidation(20.0, 1);
    check_long_liquidation(&m, &rec);
    assert_eq!(m.liquidation_tick_price, Some(20.0));
    assert!(m.bankruptcy_price.unwrap() > 20.0);
    // Orders resting between the trigger and the gap's low did not fill.
    let last_fill = rec.fills.iter().rfind(|f| f.kind == FillKind::Limit).unwrap();
    assert!(last_fill.price > m.liquidation_trigger_price.unwrap());
}

#[test]
fn funding_that_exhausts_the_margin_liquidates_at_the_last_price() {
    // Long built on the way down to 95, then a funding payment of 30 % at the next funding
    // time (no tick in that hour): the payment leaves equity below MM at the last price 95.
    let t0 = 1_769_904_000_000i64; // 2026-02-01T00:00:00Z, a funding time
    let mut path = vec![(t0 + 60_000, 100.0)];
    for k in 1..=50 {
        path.push((t0 + 60_000 + 15_000 * k, 100.0 - 0.1 * k as f64));
    }
    // The next tick comes 9 hours later: the 08:00 funding falls in the gap.
    let late = t0 + 9 * 3_600_000;
    path.push((late, 95.0));
    let series = [(t0 + 8 * 3_600_000, 0.3)];
    let table = flat_table();
    let inst = ltc();
    let ctx = RunContext { instrument: &inst, tiers: &table, funding_series: Some(&series) };
    let mut p = params("5000", 50.0);
    p.account.initial_balance = 1000.0;
    p.account.enable_funding = true;
    let mut rec = VecRecorder::default();
    let m = Engine::new().run(ticks(&path), &p, &ctx, &mut rec).unwrap();
    let before: Vec<_> = rec.fills.iter().filter(|f| f.ts_ms < late).copied().collect();
    let ([(size, _), _], _) = replay(1000.0, &before);
    assert!(size > 0.0);
    // The long pays size × last price × rate at the funding time, at the last price 95.
    let expected = -(size * 95.0 * 0.3);
    assert!((m.total_funding - expected).abs() < 1e-9, "{} vs {expected}", m.total_funding);
    assert!(m.liquidated);
    assert_eq!(m.liquidation_ts_ms, Some(late));
    assert_eq!(m.liquidation_trigger_price, Some(95.0));
    assert!(m.final_balance >= 0.0);
}

#[test]
fn both_legs_open_liquidate_on_the_combined_margin() {
    // Hedged pair built by the grid around 100 (buys below, sells above), then a rally:
    // the short loses faster than the long gains once the long is smaller.
    let t0 = 1_769_904_000_000i64;
    let mut path = vec![(t0, 100.0)];
    let mut k = 0;
    for p in [99.5, 98.9, 98.5, 100.0, 101.2, 102.5, 101.0] {
        k += 1;
        path.push((t0 + 15_000 * k, p));
    }
    for j in 1..=3000 {
        path.push((t0 + 15_000 * (k + j), 101.0 + 0.05 * j as f64));
    }
    let table = flat_table();
    let inst = ltc();
    let ctx = RunContext { instrument: &inst, tiers: &table, funding_series: None };
    let mut p = params("3000", 50.0);
    p.account.initial_balance = 1000.0;
    let mut rec = VecRecorder::default();
    let m = Engine::new().run(ticks(&path), &p, &ctx, &mut rec).unwrap();
    assert!(m.liquidated);
    let liq_ts = m.liquidation_ts_ms.unwrap();
    let before: Vec<_> = rec.fills.iter().filter(|f| f.kind == FillKind::Limit).copied().collect();
    let ([(l, le), (s, se)], cash) = replay(1000.0, &before);
    assert!(l > 0.0 && s > l, "short-heavy pair: long {l}, short {s}");
    assert!(rec.fills.iter().filter(|f| f.kind == FillKind::Liquidation).count() == 2);
    // Combined rule: cash + (p − le)·l + (se − p)·s = 0.01·(l + s)·p + 0.0005·(l + s)·p.
    let c = cash - le * l + se * s;
    let trigger = c / (0.0105 * (l + s) - (l - s));
    let t = m.liquidation_trigger_price.unwrap();
    assert!((t - trigger).abs() < 1e-9 * trigger, "trigger {t} vs {trigger}");
    let bankruptcy = c / (0.0005 * (l + s) - (l - s));
    assert!((m.bankruptcy_price.unwrap() - bankruptcy).abs() < 1e-9 * bankruptcy);
    assert!(m.final_balance >= 0.0 && m.final_balance < 1e-6);
    assert!(liq_ts > t0);
}

#[test]
fn a_position_crossing_a_tier_boundary_uses_the_higher_rate() {
    // Tiers: up to 1,000 USDT at MMR 1 %, above at 5 % with deduction 40 (the recurrence:
    // 1,000 × (5 % − 1 %)). A short of about 3,000 USDT sits in tier 2 on the way up.
    let table = TierTable::from_sorted(
        "LTCUSDT",
        vec![
            Tier::new(Some(d("1000")), d("0.01"), d("0"), d("0.02")),
            Tier::new(None, d("0.05"), d("40"), d("0.1")),
        ],
    );
    let t0 = 1_769_904_000_000i64;
    let mut path = vec![(t0, 100.0)];
    for k in 1..=3000 {
        path.push((t0 + 15_000 * k, 100.0 + 0.05 * k as f64));
    }
    let inst = ltc();
    let ctx = RunContext { instrument: &inst, tiers: &table, funding_series: None };
    let mut p = params("3000", 10.0);
    p.account.initial_balance = 1000.0;
    let mut rec = VecRecorder::default();
    let m = Engine::new().run(ticks(&path), &p, &ctx, &mut rec).unwrap();
    assert!(m.liquidated);
    let ([(l, _), (s, se)], cash) = replay(1000.0, &rec.fills);
    assert_eq!(l, 0.0);
    // Tier 2: cash + (se − p)·s = (0.05·s·p − 40) + 0.0005·s·p.
    let trigger = (cash + se * s + 40.0) / (0.0505 * s + s);
    assert!(s * trigger > 1000.0, "tier 2 at the trigger");
    let t = m.liquidation_trigger_price.unwrap();
    assert!((t - trigger).abs() < 1e-9 * trigger, "trigger {t} vs {trigger}");
}

#[test]
fn rejected_orders_are_counted_once_per_level() {
    // 10 USDT of equity cannot carry 3,000-USDT orders at 1x: every opening order is refused.
    let t0 = 1_769_904_000_000i64;
    let path: Vec<_> =
        (0..400).map(|k| (t0 + 15_000 * k, 100.0 + if k % 2 == 0 { 0.0 } else { 0.3 })).collect();
    let table = flat_table();
    let inst = ltc();
    let ctx = RunContext { instrument: &inst, tiers: &table, funding_series: None };
    let mut p = params("3000", 1.0);
    p.account.initial_balance = 10.0;
    let m = Engine::new().run(ticks(&path), &p, &ctx, &mut NoFills).unwrap();
    assert_eq!(m.total_trades, 0);
    // Two levels per side, long buys and short sells: four distinct orders refused, each
    // once however often the price comes back.
    assert_eq!(m.orders_rejected, 4, "{m:?}");
    assert!(m.rejection_events >= m.orders_rejected);
}

struct NoFills;
impl Recorder for NoFills {
    fn wants_equity(&self) -> bool {
        false
    }
}

/// Candles with gaps of up to ±30 % and flash crashes.
fn wild_candles(start: f64, steps: &[(i16, u8, u8, i16, bool)]) -> (Vec<i64>, [Vec<f64>; 4]) {
    let mut ts = Vec::new();
    let (mut o, mut h, mut l, mut c) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut px = start;
    let mut t = 1_769_904_000_000i64;
    for &(gap, up, down, close, crash) in steps {
        t += 60_000;
        let open = (px * (1.0 + f64::from(gap) / 1000.0 * 0.3)).max(0.05);
        let high = open * (1.0 + f64::from(up) / 2550.0);
        let low =
            (open * (1.0 - f64::from(down) / 2550.0 - if crash { 0.6 } else { 0.0 })).max(0.01);
        let cl = (low + (high - low) * (f64::from(close) + 1000.0) / 2000.0).clamp(low, high);
        let r = |x: f64| (x * 100.0).round().max(1.0) / 100.0;
        let (open, high, low, cl) = (r(open), r(high), r(low), r(cl));
        let high = high.max(open).max(cl);
        let low = low.min(open).min(cl);
        ts.push(t);
        o.push(open);
        h.push(high);
        l.push(low);
        c.push(cl);
        px = cl;
    }
    (ts, [o, h, l, c])
}

/// Cases of the property below: 96, or `PROPTEST_CASES` when set; a value that is not a
/// positive integer fails (0 cases would pass without running anything, and a typo would
/// silently run the default).
fn cases() -> u32 {
    match std::env::var("PROPTEST_CASES") {
        Err(std::env::VarError::NotPresent) => 96,
        v => v.ok().and_then(|s| s.parse().ok()).filter(|n| *n > 0).unwrap_or_else(|| {
            panic!("PROPTEST_CASES must be a positive integer, e.g. PROPTEST_CASES=500")
        }),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// No bybit run errors on any price path; every liquidated run ends at or above zero,
    /// closed at its bankruptcy price; the fast engine equals the reference engine.
    #[test]
    fn prop_no_price_path_fails_a_bybit_run(
        steps in prop::collection::vec((-1000i16..1000, 0u8..255, 0u8..255, -1000i16..1000,
                                        prop::bool::weighted(0.02)), 20..400),
        start in 5.0f64..500.0,
        lev in prop_oneof![Just(1.0), Just(10.0), Just(25.0), Just(50.0)],
        amount in prop_oneof![Just("x0.05"), Just("x0.1"), Just("x0.3"), Just("500"), Just("grid_bot:2000")],
        count in 4u32..40,
        step in 0.1f64..3.0,
        risk in any::<bool>(),
        funding in prop_oneof![Just(0.0), Just(0.0001), Just(0.01)],
        per_leg in any::<bool>(),
        mark_mode in 0u8..3,
        mark_bias in -0.02f64..0.02,
        mark_wicks in 0.0f64..2.0,
    ) {
        let (ts, [o, h, l, c]) = wild_candles(start, &steps);
        // A mark path: none, the last prices themselves, or the candles shifted by a bias
        // with their wicks scaled.
        let marks = mark_candles(&[&o, &h, &l, &c], mark_bias, mark_wicks);
        let mark = match mark_mode {
            0 => None,
            1 => Some(MarkSlice { open: &o, high: &h, low: &l, close: &c }),
            _ => Some(MarkSlice { open: &marks[0], high: &marks[1], low: &marks[2], close: &marks[3] }),
        };
        let slice = CandleSlice { ts_ms: &ts, open: &o, high: &h, low: &l, close: &c, mark };
        let inst = ltc();
        let tiers = gridsweep::tiers::snapshot::snapshot_tiers("LTCUSDT").unwrap().0;
        let ctx = RunContext { instrument: &inst, tiers: &tiers, funding_series: None };
        let mut p = RunParams::default();
        p.account.model = Model::Bybit;
        p.account.leverage = lev;
        p.account.funding_rate = funding;
        if per_leg {
            p.account.hedge_margin = gridsweep::engine::HedgeMargin::PerLeg;
        }
        p.grid.grid_count = count;
        p.grid.grid_step = step;
        p.grid.amount = Amount::parse(amount).unwrap();
        p.grid.enable_risk_multipliers = risk;
        let mut rec = VecRecorder::default();
        let m = Engine::new().run_candles(slice, &p, &ctx, &mut rec);
        prop_assert!(m.is_ok(), "bybit run failed: {:?}", m.err());
        let m = m.unwrap();
        prop_assert!(m.final_balance >= 0.0 || !m.liquidated, "liquidated below zero: {}", m.final_balance);
        if m.liquidated {
            prop_assert!(m.final_balance < 1e-6 * p.account.initial_balance, "{}", m.final_balance);
            let b = m.bankruptcy_price.unwrap();
            let liq: Vec<_> = rec.fills.iter().filter(|f| f.kind == FillKind::Liquidation).collect();
            prop_assert!(!liq.is_empty(), "liquidated without a liquidation fill");
            prop_assert!(liq.iter().all(|f| f.price == b));
        }
        let mut r2 = VecRecorder::default();
        let mr = Engine::reference().run_candles(slice, &p, &ctx, &mut r2).unwrap();
        prop_assert_eq!(format!("{:?}", m.fields()), format!("{:?}", mr.fields()));
        prop_assert_eq!(&rec.fills, &r2.fills);
        prop_assert_eq!(m.liquidation_price_source, if mark_mode > 0 { PriceSource::Mark } else { PriceSource::Last });
        if mark_mode == 1 {
            // A mark path equal to the last prices changes nothing but the reported source.
            let plain = CandleSlice { mark: None, ..slice };
            let mut r3 = VecRecorder::default();
            let m0 = Engine::new().run_candles(plain, &p, &ctx, &mut r3).unwrap();
            let m1 = gridsweep::metrics::Metrics { liquidation_price_source: PriceSource::Last, ..m };
            prop_assert_eq!(format!("{:?}", m0.fields()), format!("{:?}", m1.fields()));
            prop_assert_eq!(&rec.fills, &r3.fills);
        }
    }
}

/// Mark candles from last-price candles: open and close shifted by `bias` (relative), wicks
/// scaled by `wicks`, lows kept above half the body.
fn mark_candles(last: &[&Vec<f64>; 4], bias: f64, wicks: f64) -> [Vec<f64>; 4] {
    let [o, h, l, c] = last;
    let mut out: [Vec<f64>; 4] = Default::default();
    for i in 0..o.len() {
        let (mo, mc) = (o[i] * (1.0 + bias), c[i] * (1.0 + bias));
        let top = mo.max(mc) + (h[i] - o[i].max(c[i])) * wicks;
        let body_low = mo.min(mc);
        let bottom = (body_low - (o[i].min(c[i]) - l[i]) * wicks).max(0.5 * body_low);
        for (col, v) in out.iter_mut().zip([mo, top, bottom, mc]) {
            col.push(v);
        }
    }
    out
}
